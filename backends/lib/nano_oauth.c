/*
 * OAuth 2 sign-in helpers: random values, PKCE S256, sealed cookies.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "nano_base64.h"
#include "nano_buf.h"
#include "nano_oauth.h"
#include "nano_rand.h"
#include "nano_token.h"

/* Sets the mac's input apart from every other HMAC under the secret
 * (session tokens start "eyJ", CSRF hashes are plain SHA-256). */
#define NANO_OAUTH_LABEL  "nano-oauth-cookie-v1"

/* Writes n bytes (32) as base64url into out (NANO_OAUTH_RANDOM_LEN + 1
 * bytes); 0 or -1. */
static int
nano_oauth_b64url32(const unsigned char *raw, size_t n, char *out)
{
    char  *enc = nano_base64url_encode(raw, n);
    int    rc = -1;

    if (enc != NULL && strlen(enc) == NANO_OAUTH_RANDOM_LEN) {
        memcpy(out, enc, NANO_OAUTH_RANDOM_LEN + 1);
        rc = 0;
    }
    free(enc);
    return rc;
}

int
nano_oauth_random(char *out)
{
    unsigned char   raw[32];
    int             rc;

    if (nano_rand_bytes(raw, sizeof(raw)) != 0) {
        return -1;
    }
    rc = nano_oauth_b64url32(raw, sizeof(raw), out);
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

int
nano_oauth_challenge(const char *verifier, char *out)
{
    unsigned char   md[SHA256_DIGEST_LENGTH];

    if (verifier == NULL
        || SHA256((const unsigned char *) verifier, strlen(verifier), md)
           == NULL)
    {
        return -1;
    }
    return nano_oauth_b64url32(md, sizeof(md), out);
}

/* The mac of "<label>\n<purpose>\n<expires>.<encoded value>", base64url,
 * a new string (caller frees) or NULL. */
static char *
nano_oauth_mac(const unsigned char *key, size_t keylen, const char *purpose,
    const char *signed_part, size_t len)
{
    unsigned char   md[EVP_MAX_MD_SIZE];
    unsigned int    mdlen = 0;
    nano_buf_t      msg;
    char           *out = NULL;

    nano_buf_init(&msg);
    nano_buf_printf(&msg, "%s\n%s\n", NANO_OAUTH_LABEL, purpose);
    nano_buf_append(&msg, signed_part, len);
    if (!msg.failed && key != NULL && keylen > 0
        && HMAC(EVP_sha256(), key, (int) keylen,
                (const unsigned char *) msg.data, msg.len, md, &mdlen)
           != NULL)
    {
        out = nano_base64url_encode(md, mdlen);
    }
    nano_buf_cleanup(&msg);
    return out;
}

char *
nano_oauth_seal(const unsigned char *key, size_t keylen, const char *purpose,
    const char *value, long long expires)
{
    nano_buf_t   b;
    char        *enc = NULL, *mac = NULL;
    size_t       vlen = strlen(value);

    if (vlen > NANO_OAUTH_VALUE_MAX
        || (enc = nano_base64url_encode((const unsigned char *) value, vlen))
           == NULL)
    {
        return NULL;
    }
    nano_buf_init(&b);
    nano_buf_printf(&b, "%lld.%s", expires, enc);
    mac = b.failed ? NULL : nano_oauth_mac(key, keylen, purpose, b.data,
                                           b.len);
    free(enc);
    if (mac == NULL) {
        nano_buf_cleanup(&b);
        return NULL;
    }
    nano_buf_printf(&b, ".%s", mac);
    free(mac);
    return nano_buf_steal(&b);
}

nano_oauth_status_t
nano_oauth_open(const unsigned char *key, size_t keylen, const char *purpose,
    const char *sealed, size_t len, long long now, char **value)
{
    const char          *dot1, *dot2, *end = sealed + len;
    char                *mac = NULL, *num = NULL, *out = NULL, *stop;
    nano_oauth_status_t  st = NANO_OAUTH_MALFORMED;
    long long            expires;
    size_t               mlen;
    ssize_t              n;

    *value = NULL;
    if (sealed == NULL || len == 0 || len > NANO_OAUTH_SEALED_MAX
        || memchr(sealed, '\0', len) != NULL
        || (dot1 = memchr(sealed, '.', len)) == NULL
        || (dot2 = memchr(dot1 + 1, '.', (size_t) (end - dot1 - 1))) == NULL
        || memchr(dot2 + 1, '.', (size_t) (end - dot2 - 1)) != NULL)
    {
        return NANO_OAUTH_MALFORMED;
    }

    mac = nano_oauth_mac(key, keylen, purpose, sealed,
                         (size_t) (dot2 - sealed));
    if (mac == NULL) {
        return NANO_OAUTH_NOMEM;
    }
    mlen = (size_t) (end - dot2 - 1);
    if (mlen != strlen(mac) || CRYPTO_memcmp(mac, dot2 + 1, mlen) != 0) {
        st = NANO_OAUTH_BAD_MAC;
        goto out;
    }

    /* genuine from here: what follows only reads our own writing */
    num = strndup(sealed, (size_t) (dot1 - sealed));
    out = malloc((size_t) (dot2 - dot1));
    if (num == NULL || out == NULL) {
        st = NANO_OAUTH_NOMEM;
        goto out;
    }
    errno = 0;
    expires = strtoll(num, &stop, 10);
    n = nano_b64url_decode(dot1 + 1, (size_t) (dot2 - dot1 - 1),
                           (unsigned char *) out, (size_t) (dot2 - dot1 - 1));
    if (errno != 0 || *stop != '\0' || num[0] == '\0' || n < 0) {
        goto out;
    }
    if (expires < now) {
        st = NANO_OAUTH_EXPIRED;
        goto out;
    }
    out[n] = '\0';
    *value = out;
    out = NULL;
    st = NANO_OAUTH_OK;
out:
    free(out);
    free(num);
    free(mac);
    return st;
}

const char *
nano_oauth_status_name(nano_oauth_status_t st)
{
    static const char *const  names[] = {
        "ok", "malformed", "bad_mac", "expired", "out_of_memory",
    };

    return (size_t) st < sizeof(names) / sizeof(names[0]) ? names[st]
                                                          : "unknown";
}

int
nano_oauth_equal(const char *a, const char *b)
{
    size_t  len;

    if (a == NULL || b == NULL) {
        return 0;
    }
    len = strlen(a);
    return len == strlen(b) && CRYPTO_memcmp(a, b, len) == 0;
}
