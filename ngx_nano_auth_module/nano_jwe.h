/*
 * NextAuth v4's encrypted session token: a compact JWE with alg "dir" and
 * enc "A256GCM", whose key is HKDF-SHA256 of the secret (empty salt, info
 * "NextAuth.js Generated Encryption Key", 32 bytes), as next-auth's
 * encode() and decode() (src/jwt/index.ts) derive it.  Plain C on OpenSSL
 * EVP, no nginx types: the gateway reads it, the platform reads and
 * writes it.
 *
 * The token is header.key.iv.ciphertext.tag, base64url: the encrypted
 * key is empty (dir), the IV 12 bytes, the tag 16, and the additional
 * authenticated data is the header exactly as it was sent.
 */

#ifndef NANO_JWE_H
#define NANO_JWE_H

#include <stddef.h>

#include "nano_token.h"

#define NANO_JWE_KEY_LEN   32
#define NANO_JWE_IV_LEN    12
#define NANO_JWE_TAG_LEN   16
#define NANO_JWE_LEEWAY    15     /* next-auth's decode(): clockTolerance */
#define NANO_JWE_INFO      "NextAuth.js Generated Encryption Key"

/*
 * A reusable AES-256-GCM context, so that a verification allocates
 * nothing; not to be shared between threads.  Returns NULL when out of
 * memory.  nano_jwe_ctx_free accepts NULL.
 */
nano_jwe_ctx_t *nano_jwe_ctx_new(void);
void nano_jwe_ctx_free(nano_jwe_ctx_t *ctx);

/* next-auth v4's key derivation; key receives NANO_JWE_KEY_LEN bytes.
 * Returns 0 or -1. */
int nano_jwe_derive_key(const unsigned char *secret, size_t len,
    unsigned char *key);

/*
 * Opens a compact JWE (exactly four dots): header alg "dir", enc
 * "A256GCM", no zip, no crit; the tag checked with the key its kid names
 * or, without one, each key in turn.  As nano_token_open: no clock
 * checks, claims decoded into scratch (at least len + 1 bytes), zeroed on
 * refusal.  jwe may be NULL (a context is made for the call).
 */
nano_token_reason_t nano_jwe_open(const nano_keyring_t *kr,
    nano_jwe_ctx_t *jwe, const char *token, size_t len, char *scratch,
    size_t scratch_len, nano_claims_t *claims);

/*
 * Encrypts len bytes of claims JSON under the keyring's first key, with
 * the header {"alg":"dir","enc":"A256GCM"} (and that key's "kid" when it
 * has one) and a random IV.  Returns a new NUL-terminated token the
 * caller frees with free(), or NULL.
 */
char *nano_jwe_seal(const nano_keyring_t *kr, const char *json, size_t len);

#endif /* NANO_JWE_H */
