/*
 * JSON Web Key Sets (RFC 7517) as OpenID providers publish them at their
 * jwks_uri: the RSA keys that can verify RS256 signatures, built as
 * OpenSSL 3 EVP_PKEYs from their n and e and found by kid.
 */

#ifndef NANO_JWKS_H
#define NANO_JWKS_H

#include <stddef.h>

#include <openssl/evp.h>

#define NANO_JWKS_MAX_KEYS   32         /* keys of one set we look at */
#define NANO_JWKS_MIN_BITS   2048       /* smaller RSA keys are left out */
#define NANO_JWKS_MAX_BITS   8192       /* larger ones too */
#define NANO_JWKS_KID_MAX    256        /* bytes of a kid */

typedef struct nano_jwks_s  nano_jwks_t;

/*
 * Parses a JWKS document (len bytes of JSON).  A key that cannot verify
 * RS256 is left out: kty other than RSA, "use" other than "sig", "alg"
 * other than RS256, a modulus outside NANO_JWKS_MIN_BITS ..
 * NANO_JWKS_MAX_BITS, an even or tiny exponent, n or e not strict
 * base64url.  Refused whole: JSON that is not {"keys": [...]}, the same
 * kid twice, no usable key.  Returns a new set (one reference: release
 * it with nano_jwks_release) or NULL with the reason in err.
 */
nano_jwks_t *nano_jwks_parse(const char *json, size_t len, char *err,
    size_t errlen);

/* Takes another reference, so a cache may replace a set that a request
 * still verifies with.  Returns set. */
nano_jwks_t *nano_jwks_retain(nano_jwks_t *set);

/* Drops a reference; the last frees the set.  Accepts NULL. */
void nano_jwks_release(nano_jwks_t *set);

/* The number of usable keys. */
size_t nano_jwks_count(const nano_jwks_t *set);

/*
 * The key whose kid is kid, borrowed from set (valid while the caller
 * holds a reference), or NULL.  A NULL kid finds the only key of a set
 * of one, as a token without kid may use it.
 */
EVP_PKEY *nano_jwks_find(const nano_jwks_t *set, const char *kid);

/*
 * An RSA public key from its big-endian modulus and exponent (caller
 * frees with EVP_PKEY_free), or NULL when they make no usable key (the
 * sizes above, an even exponent or one below 3) or out of memory.
 */
EVP_PKEY *nano_jwks_rsa_key(const unsigned char *n, size_t nlen,
    const unsigned char *e, size_t elen);

/* 1 when sig is a valid RS256 signature (RSASSA-PKCS1-v1_5 with SHA-256)
 * of the len bytes of msg by key; 0 otherwise. */
int nano_jwks_verify_rs256(EVP_PKEY *key, const char *msg, size_t len,
    const unsigned char *sig, size_t siglen);

#endif /* NANO_JWKS_H */
