/*
 * Test helpers for RS256: RSA keys made with OpenSSL, their JWK (n and e
 * in base64url), and compact JWS tokens signed with them, so the JWKS
 * and ID token tests check our code against OpenSSL's own signatures.
 */

#ifndef RSA_JWT_H
#define RSA_JWT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "nano_base64.h"
#include "nano_buf.h"

/* A new RSA key of bits (caller frees with EVP_PKEY_free). */
static inline EVP_PKEY *
rsa_new(unsigned bits)
{
    return EVP_RSA_gen(bits);
}

/* base64url of a key's big-endian parameter (caller frees). */
static inline char *
rsa_param_b64url(EVP_PKEY *key, const char *name)
{
    BIGNUM          *bn = NULL;
    unsigned char   *buf;
    char            *out;
    int              len;

    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
        return NULL;
    }
    len = BN_num_bytes(bn);
    buf = malloc((size_t) len);
    BN_bn2bin(bn, buf);
    out = nano_base64url_encode(buf, (size_t) len);
    free(buf);
    BN_free(bn);
    return out;
}

/* {"kty":"RSA","kid":kid,"use":"sig","alg":"RS256","n":…,"e":…} with
 * extra members (",\"x\":1" or "") before the closing brace (caller
 * frees). */
static inline char *
rsa_jwk(EVP_PKEY *key, const char *kid, const char *extra)
{
    nano_buf_t   b;
    char        *n = rsa_param_b64url(key, OSSL_PKEY_PARAM_RSA_N);
    char        *e = rsa_param_b64url(key, OSSL_PKEY_PARAM_RSA_E);

    nano_buf_init(&b);
    nano_buf_printf(&b, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\","
                    "\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"%s}", kid, n,
                    e, extra);
    free(n);
    free(e);
    return nano_buf_steal(&b);
}

/* base64url(header).base64url(payload).base64url(RS256 signature by key)
 * (caller frees); a NULL key leaves the signature empty. */
static inline char *
rsa_jwt(EVP_PKEY *key, const char *header, const char *payload)
{
    nano_buf_t      b;
    EVP_MD_CTX     *md;
    unsigned char   sig[1024];
    size_t          siglen = sizeof(sig);
    char           *h, *p, *s;

    h = nano_base64url_encode((const unsigned char *) header, strlen(header));
    p = nano_base64url_encode((const unsigned char *) payload,
                              strlen(payload));
    nano_buf_init(&b);
    nano_buf_printf(&b, "%s.%s", h, p);
    free(h);
    free(p);
    if (key != NULL) {
        md = EVP_MD_CTX_new();
        if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1
            || EVP_DigestSign(md, sig, &siglen,
                              (const unsigned char *) b.data, b.len) != 1)
        {
            siglen = 0;
        }
        EVP_MD_CTX_free(md);
        s = nano_base64url_encode(sig, siglen);
        nano_buf_printf(&b, ".%s", s);
        free(s);
    } else {
        nano_buf_puts(&b, ".");
    }
    return nano_buf_steal(&b);
}

#endif /* RSA_JWT_H */
