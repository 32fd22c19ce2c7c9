/*
 * OAuth 2 sign-in helpers: random state, nonce and PKCE code verifiers,
 * the S256 code challenge (RFC 7636), and the short-lived signed cookie
 * values that carry them from the redirect to the provider back to the
 * callback (NextAuth's next-auth.state, next-auth.pkce.code_verifier and
 * next-auth.nonce).
 */

#ifndef NANO_OAUTH_H
#define NANO_OAUTH_H

#include <stddef.h>

#define NANO_OAUTH_RANDOM_LEN   43     /* base64url of 32 random bytes */
#define NANO_OAUTH_MAX_AGE      900    /* seconds: NextAuth's 15 minutes */
#define NANO_OAUTH_VALUE_MAX    1024   /* bytes a sealed value may carry */
#define NANO_OAUTH_SEALED_MAX   2048   /* bytes of a sealed cookie value */

typedef enum {
    NANO_OAUTH_OK = 0,
    NANO_OAUTH_MALFORMED,      /* not "<expires>.<value>.<mac>" */
    NANO_OAUTH_BAD_MAC,        /* another key, purpose or value */
    NANO_OAUTH_EXPIRED,
    NANO_OAUTH_NOMEM
} nano_oauth_status_t;

/*
 * Writes 32 random bytes as base64url (NANO_OAUTH_RANDOM_LEN characters
 * and a NUL) into out: a state, a nonce, or a PKCE code verifier (43 to
 * 128 unreserved characters).  Returns 0 or -1.
 */
int nano_oauth_random(char *out);

/* Writes the S256 code challenge of verifier, base64url(SHA-256(verifier))
 * (NANO_OAUTH_RANDOM_LEN characters and a NUL), into out.  0 or -1. */
int nano_oauth_challenge(const char *verifier, char *out);

/*
 * Seals value (at most NANO_OAUTH_VALUE_MAX bytes) for a cookie:
 * "<expires>.<base64url value>.<base64url mac>", the mac an HMAC-SHA256
 * under key over a label of its own, purpose (the cookie's role and
 * provider, e.g. "state/google": a value sealed for one purpose opens for
 * no other), expires and the value.  A new string (caller frees), or
 * NULL.
 */
char *nano_oauth_seal(const unsigned char *key, size_t keylen,
    const char *purpose, const char *value, long long expires);

/*
 * Opens len bytes of a sealed value for purpose: the mac compared in
 * constant time, then expires >= now.  On NANO_OAUTH_OK *value is a new
 * string (caller frees); NULL otherwise.
 */
nano_oauth_status_t nano_oauth_open(const unsigned char *key, size_t keylen,
    const char *purpose, const char *sealed, size_t len, long long now,
    char **value);

/* A short name for logs: "ok", "malformed", "bad_mac", ... */
const char *nano_oauth_status_name(nano_oauth_status_t st);

/* 1 when a and b are equal strings; the bytes are compared in constant
 * time (the lengths are not secret). */
int nano_oauth_equal(const char *a, const char *b);

#endif /* NANO_OAUTH_H */
