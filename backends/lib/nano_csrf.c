/*
 * NextAuth-compatible CSRF tokens.
 */

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nano_csrf.h"
#include "nano_hex.h"
#include "nano_rand.h"

const char *
nano_csrf_cookie_name(int https)
{
    return https ? NANO_CSRF_COOKIE_HTTPS : NANO_CSRF_COOKIE;
}

static int
nano_csrf_is_hex(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* hex(sha256(token + secret)) into out (NANO_CSRF_HASH_LEN + 1 bytes). */
static int
nano_csrf_hash(const char *token, const unsigned char *secret,
    size_t secret_len, char *out)
{
    unsigned char      md[EVP_MAX_MD_SIZE];
    unsigned int       mdlen = 0;
    EVP_MD_CTX        *ctx;
    int                rc = -1;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return -1;
    }
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1
        || EVP_DigestUpdate(ctx, token, NANO_CSRF_TOKEN_LEN) != 1
        || EVP_DigestUpdate(ctx, secret, secret_len) != 1
        || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1
        || mdlen * 2 != NANO_CSRF_HASH_LEN)
    {
        goto out;
    }
    nano_hex_encode(out, md, mdlen);
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

int
nano_csrf_cookie_value(const char *token, const unsigned char *secret,
    size_t secret_len, char *out)
{
    if (secret == NULL || secret_len == 0
        || strlen(token) != NANO_CSRF_TOKEN_LEN
        || !nano_csrf_is_hex(token, NANO_CSRF_TOKEN_LEN))
    {
        return -1;
    }
    memcpy(out, token, NANO_CSRF_TOKEN_LEN);
    out[NANO_CSRF_TOKEN_LEN] = '|';
    return nano_csrf_hash(token, secret, secret_len,
                          out + NANO_CSRF_TOKEN_LEN + 1);
}

int
nano_csrf_new(const unsigned char *secret, size_t secret_len, char *token,
    char *cookie)
{
    if (nano_rand_hex(token, NANO_CSRF_TOKEN_LEN / 2) != 0) {
        return -1;
    }
    return nano_csrf_cookie_value(token, secret, secret_len, cookie);
}

nano_csrf_status_t
nano_csrf_read_cookie(const char *value, size_t len,
    const unsigned char *secret, size_t secret_len, char *token)
{
    char         expected[NANO_CSRF_HASH_LEN + 1];
    const char  *hash;
    size_t       sep;

    if (value == NULL || len == 0) {
        return NANO_CSRF_NO_COOKIE;
    }
    if (secret == NULL || secret_len == 0 || len <= NANO_CSRF_TOKEN_LEN) {
        return NANO_CSRF_MALFORMED;
    }
    /* The separator: '|' as set by us, "%7C" as cookie.serialize sets it.
     * The value is a slice of the Cookie header, not a C string: "%7C"
     * is compared only when all of it lies within len. */
    if (value[NANO_CSRF_TOKEN_LEN] == '|') {
        sep = 1;
    } else if (len >= NANO_CSRF_TOKEN_LEN + 3
               && strncasecmp(value + NANO_CSRF_TOKEN_LEN, "%7C", 3) == 0)
    {
        sep = 3;
    } else {
        return NANO_CSRF_MALFORMED;
    }
    hash = value + NANO_CSRF_TOKEN_LEN + sep;
    if (len != NANO_CSRF_TOKEN_LEN + sep + NANO_CSRF_HASH_LEN
        || !nano_csrf_is_hex(value, NANO_CSRF_TOKEN_LEN)
        || !nano_csrf_is_hex(hash, NANO_CSRF_HASH_LEN))
    {
        return NANO_CSRF_MALFORMED;
    }

    memcpy(token, value, NANO_CSRF_TOKEN_LEN);
    token[NANO_CSRF_TOKEN_LEN] = '\0';
    if (nano_csrf_hash(token, secret, secret_len, expected) != 0
        || CRYPTO_memcmp(expected, hash, NANO_CSRF_HASH_LEN) != 0)
    {
        token[0] = '\0';
        return NANO_CSRF_BAD_HASH;
    }
    return NANO_CSRF_OK;
}

nano_csrf_status_t
nano_csrf_verify(const char *cookie, size_t cookie_len, const char *submitted,
    const unsigned char *secret, size_t secret_len)
{
    char                token[NANO_CSRF_TOKEN_LEN + 1];
    nano_csrf_status_t  st;

    st = nano_csrf_read_cookie(cookie, cookie_len, secret, secret_len, token);
    if (st != NANO_CSRF_OK) {
        return st;
    }
    if (submitted == NULL || submitted[0] == '\0') {
        return NANO_CSRF_NO_TOKEN;
    }
    /* The length is no secret (always 64); the content is. */
    if (strlen(submitted) != NANO_CSRF_TOKEN_LEN
        || CRYPTO_memcmp(token, submitted, NANO_CSRF_TOKEN_LEN) != 0)
    {
        return NANO_CSRF_MISMATCH;
    }
    return NANO_CSRF_OK;
}

const char *
nano_csrf_status_name(nano_csrf_status_t status)
{
    switch (status) {
    case NANO_CSRF_OK:         return "ok";
    case NANO_CSRF_NO_COOKIE:  return "no_cookie";
    case NANO_CSRF_MALFORMED:  return "malformed";
    case NANO_CSRF_BAD_HASH:   return "bad_hash";
    case NANO_CSRF_NO_TOKEN:   return "no_token";
    case NANO_CSRF_MISMATCH:   return "mismatch";
    }
    return "unknown";
}
