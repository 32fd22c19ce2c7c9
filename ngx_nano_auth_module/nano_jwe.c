/*
 * NextAuth v4's JWE session token (nano_jwe.h): the key derivation, and
 * opening and sealing compact tokens with AES-256-GCM through EVP.  A
 * context keeps its cipher between calls, so opening a token allocates
 * nothing: only the key and IV are set anew.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "nano_jose.h"
#include "nano_jwe.h"

/* base64url lengths of the IV and the tag */
#define NANO_JWE_IV_B64    16
#define NANO_JWE_TAG_B64   22

struct nano_jwe_ctx_s {
    EVP_CIPHER_CTX  *cipher;
};


static int nano_jwe_gcm_open(nano_jwe_ctx_t *ctx, const unsigned char *key,
    const unsigned char *iv, const char *aad, size_t aad_len,
    unsigned char *buf, size_t len, const unsigned char *tag);
static size_t nano_jwe_json_escape(const char *in, size_t len, char *out);


nano_jwe_ctx_t *
nano_jwe_ctx_new(void)
{
    nano_jwe_ctx_t  *ctx;

    ctx = calloc(1, sizeof(nano_jwe_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->cipher = EVP_CIPHER_CTX_new();

    /* the cipher is fetched once here; each use only sets key and IV */
    if (ctx->cipher == NULL
        || EVP_DecryptInit_ex(ctx->cipher, EVP_aes_256_gcm(), NULL, NULL,
                              NULL) != 1)
    {
        nano_jwe_ctx_free(ctx);
        return NULL;
    }

    return ctx;
}


void
nano_jwe_ctx_free(nano_jwe_ctx_t *ctx)
{
    if (ctx == NULL) {
        return;
    }

    EVP_CIPHER_CTX_free(ctx->cipher);
    free(ctx);
}


int
nano_jwe_derive_key(const unsigned char *secret, size_t len,
    unsigned char *key)
{
    int            rc;
    size_t         out;
    EVP_PKEY_CTX  *pctx;

    rc = -1;
    out = NANO_JWE_KEY_LEN;

    pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    if (pctx == NULL) {
        return -1;
    }

    /* no salt set: RFC 5869's default, HashLen zero bytes, which is what
       an empty salt means to next-auth's @panva/hkdf as well */
    if (EVP_PKEY_derive_init(pctx) == 1
        && EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) == 1
        && EVP_PKEY_CTX_set1_hkdf_key(pctx, secret, (int) len) == 1
        && EVP_PKEY_CTX_add1_hkdf_info(pctx,
                                       (const unsigned char *) NANO_JWE_INFO,
                                       sizeof(NANO_JWE_INFO) - 1) == 1
        && EVP_PKEY_derive(pctx, key, &out) == 1
        && out == NANO_JWE_KEY_LEN)
    {
        rc = 0;
    }

    EVP_PKEY_CTX_free(pctx);
    return rc;
}


nano_token_reason_t
nano_jwe_open(const nano_keyring_t *kr, nano_jwe_ctx_t *jwe,
    const char *token, size_t len, char *scratch, size_t scratch_len,
    nano_claims_t *claims)
{
    size_t               i, first, last, hlen;
    ssize_t              n;
    const char          *p, *end, *part[5];
    nano_jwe_ctx_t      *ctx;
    unsigned char        iv[NANO_JWE_IV_LEN + 2], tag[NANO_JWE_TAG_LEN + 2];
    nano_token_reason_t  reason;
    nano_jose_header_t   h;

    ctx = NULL;
    memset(claims, 0, sizeof(nano_claims_t));

    if (kr == NULL || len > NANO_TOKEN_MAX_LEN || scratch_len < len + 1) {
        return NANO_TOKEN_REASON_MALFORMED;
    }

    /* header, encrypted key, IV, ciphertext, tag */
    p = token;
    end = token + len;

    for (i = 0; i < 5; i++) {
        part[i] = p;
        if (i < 4) {
            p = memchr(p, '.', end - p);
            if (p == NULL) {
                return NANO_TOKEN_REASON_MALFORMED;
            }
            p++;
        }
    }

    if (memchr(part[4], '.', end - part[4]) != NULL) {
        return NANO_TOKEN_REASON_MALFORMED;
    }

    hlen = part[1] - 1 - part[0];

    /* dir: no encrypted key; a 96-bit IV and a 128-bit tag */
    if (hlen == 0
        || part[2] - 1 != part[1]
        || part[3] - 1 - part[2] != NANO_JWE_IV_B64
        || part[4] - 1 == part[3]
        || end - part[4] != NANO_JWE_TAG_B64)
    {
        return NANO_TOKEN_REASON_MALFORMED;
    }

    if (nano_jose_b64url_decode(part[2], NANO_JWE_IV_B64, iv, sizeof(iv))
        != NANO_JWE_IV_LEN
        || nano_jose_b64url_decode(part[4], NANO_JWE_TAG_B64, tag,
                                   sizeof(tag))
           != NANO_JWE_TAG_LEN)
    {
        return NANO_TOKEN_REASON_MALFORMED;
    }

    n = nano_jose_b64url_decode(part[0], hlen, (unsigned char *) scratch,
                                scratch_len);
    if (n < 0 || nano_jose_header(scratch, n, &h) != 0) {
        return NANO_TOKEN_REASON_MALFORMED;
    }

    if (h.alg.data == NULL || h.alg.len != 3
        || memcmp(h.alg.data, "dir", 3) != 0
        || h.enc.data == NULL || h.enc.len != 7
        || memcmp(h.enc.data, "A256GCM", 7) != 0
        || h.zip || h.crit)
    {
        return NANO_TOKEN_REASON_UNSUPPORTED;
    }

    if (nano_keyring_candidates(kr, &h.kid, &first, &last) != 0) {
        return NANO_TOKEN_REASON_UNKNOWN_KID;
    }

    if (jwe == NULL) {
        ctx = nano_jwe_ctx_new();
        if (ctx == NULL) {
            return NANO_TOKEN_REASON_MALFORMED;
        }
        jwe = ctx;
    }

    reason = NANO_TOKEN_REASON_BAD_SIGNATURE;

    /* decrypted in place, so each key starts from the decoded text */
    for (i = first; i < last; i++) {
        n = nano_jose_b64url_decode(part[3], part[4] - 1 - part[3],
                                    (unsigned char *) scratch,
                                    scratch_len - 1);
        if (n < 0) {
            reason = NANO_TOKEN_REASON_MALFORMED;
            break;
        }

        if (nano_jwe_gcm_open(jwe, nano_keyring_jwe_key(kr, i), iv,
                              part[0], hlen, (unsigned char *) scratch, n,
                              tag)
            == 0)
        {
            reason = NANO_TOKEN_REASON_OK;
            break;
        }
    }

    nano_jwe_ctx_free(ctx);

    if (reason != NANO_TOKEN_REASON_OK) {
        /* no unauthenticated plaintext stays behind */
        OPENSSL_cleanse(scratch, scratch_len);
        return reason;
    }

    if (nano_jose_claims(scratch, n, claims) != 0 || claims->sub.len == 0) {
        memset(claims, 0, sizeof(nano_claims_t));
        return NANO_TOKEN_REASON_BAD_CLAIMS;
    }

    return NANO_TOKEN_REASON_OK;
}


char *
nano_jwe_seal(const nano_keyring_t *kr, const char *json, size_t len)
{
    int                   outl, ok;
    char                 *token, *p, header[64 + 6 * NANO_KID_MAX_LEN];
    size_t                hlen, kid_len, cap;
    const char           *kid;
    EVP_CIPHER_CTX       *c;
    unsigned char        *ct;
    unsigned char         iv[NANO_JWE_IV_LEN], tag[NANO_JWE_TAG_LEN];

    if (kr == NULL || nano_keyring_count(kr) == 0 || len > INT_MAX / 2) {
        return NULL;
    }

    p = header;
    p += sprintf(p, "{\"alg\":\"dir\",\"enc\":\"A256GCM\"");

    kid = nano_keyring_kid(kr, 0, &kid_len);
    if (kid) {
        p += sprintf(p, ",\"kid\":\"");
        p += nano_jwe_json_escape(kid, kid_len, p);
        *p++ = '"';
    }

    *p++ = '}';
    hlen = p - header;

    cap = (hlen + 2) / 3 * 4 + 2 + (NANO_JWE_IV_LEN + 2) / 3 * 4 + 1
          + (len + 2) / 3 * 4 + 1 + (NANO_JWE_TAG_LEN + 2) / 3 * 4 + 1;

    token = malloc(cap);
    ct = malloc(len ? len : 1);
    c = EVP_CIPHER_CTX_new();
    ok = 0;

    if (token == NULL || ct == NULL || c == NULL
        || RAND_bytes(iv, sizeof(iv)) != 1)
    {
        goto out;
    }

    /* the additional data is the encoded header, as the token carries it */
    p = token;
    p += nano_jose_b64url_encode((unsigned char *) header, hlen, p);

    if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL,
                           nano_keyring_jwe_key(kr, 0), iv) != 1
        || EVP_EncryptUpdate(c, NULL, &outl, (unsigned char *) token,
                             (int) (p - token)) != 1
        || EVP_EncryptUpdate(c, ct, &outl, (const unsigned char *) json,
                             (int) len) != 1
        || (size_t) outl != len
        || EVP_EncryptFinal_ex(c, ct + outl, &outl) != 1
        || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, NANO_JWE_TAG_LEN,
                               tag) != 1)
    {
        goto out;
    }

    *p++ = '.';
    *p++ = '.';
    p += nano_jose_b64url_encode(iv, sizeof(iv), p);
    *p++ = '.';
    p += nano_jose_b64url_encode(ct, len, p);
    *p++ = '.';
    nano_jose_b64url_encode(tag, sizeof(tag), p);

    ok = 1;

out:

    EVP_CIPHER_CTX_free(c);
    if (ct) {
        OPENSSL_clear_free(ct, len ? len : 1);
    }

    if (!ok) {
        free(token);
        return NULL;
    }

    return token;
}


/* Decrypts len bytes of buf in place; 0 when the tag matches, else -1. */
static int
nano_jwe_gcm_open(nano_jwe_ctx_t *ctx, const unsigned char *key,
    const unsigned char *iv, const char *aad, size_t aad_len,
    unsigned char *buf, size_t len, const unsigned char *tag)
{
    int  outl, fin;

    if (len > INT_MAX || aad_len > INT_MAX) {
        return -1;
    }

    if (EVP_DecryptInit_ex(ctx->cipher, NULL, NULL, key, iv) != 1
        || EVP_DecryptUpdate(ctx->cipher, NULL, &outl,
                             (const unsigned char *) aad, (int) aad_len)
           != 1
        || EVP_DecryptUpdate(ctx->cipher, buf, &outl, buf, (int) len) != 1
        || EVP_CIPHER_CTX_ctrl(ctx->cipher, EVP_CTRL_GCM_SET_TAG,
                               NANO_JWE_TAG_LEN, (void *) tag) != 1)
    {
        return -1;
    }

    /* the tag is checked here, in constant time, by OpenSSL */
    fin = 0;
    if (EVP_DecryptFinal_ex(ctx->cipher, buf + outl, &fin) != 1) {
        return -1;
    }

    return 0;
}


/* A kid (printable ASCII) as the inside of a JSON string; at most six
 * bytes out for each byte in. */
static size_t
nano_jwe_json_escape(const char *in, size_t len, char *out)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (in[i] == '"' || in[i] == '\\') {
            out[n++] = '\\';
        }
        out[n++] = in[i];
    }

    return n;
}
