/*
 * NextAuth v4's double-submit CSRF protection.  The cookie
 * next-auth.csrf-token (__Host-next-auth.csrf-token over https) holds
 * "token|sha256hex(token + secret)"; a POST must carry the same token in
 * its csrfToken field.
 */

#ifndef NANO_CSRF_H
#define NANO_CSRF_H

#include <stddef.h>

#define NANO_CSRF_COOKIE         "next-auth.csrf-token"
#define NANO_CSRF_COOKIE_HTTPS   "__Host-next-auth.csrf-token"
#define NANO_CSRF_TOKEN_LEN      64        /* hex of 32 random bytes */
#define NANO_CSRF_HASH_LEN       64        /* hex of a SHA-256 */
/* "token|hash" plus the NUL */
#define NANO_CSRF_COOKIE_SIZE                                               \
    (NANO_CSRF_TOKEN_LEN + 1 + NANO_CSRF_HASH_LEN + 1)

typedef enum {
    NANO_CSRF_OK = 0,
    NANO_CSRF_NO_COOKIE,       /* no cookie value */
    NANO_CSRF_MALFORMED,       /* no '|', wrong lengths, not hex */
    NANO_CSRF_BAD_HASH,        /* the hash does not match our secret */
    NANO_CSRF_NO_TOKEN,        /* the request carried no csrfToken */
    NANO_CSRF_MISMATCH         /* csrfToken differs from the cookie's */
} nano_csrf_status_t;

/* The cookie name for the scheme of NEXTAUTH_URL. */
const char *nano_csrf_cookie_name(int https);

/*
 * Writes the cookie value "token|sha256hex(token + secret)" for a token
 * of NANO_CSRF_TOKEN_LEN hex digits into out (NANO_CSRF_COOKIE_SIZE
 * bytes).  Returns 0, or -1 on a bad token or a hashing failure.
 */
int nano_csrf_cookie_value(const char *token, const unsigned char *secret,
    size_t secret_len, char *out);

/*
 * Makes a new random token (NANO_CSRF_TOKEN_LEN + 1 bytes) and its
 * cookie value (NANO_CSRF_COOKIE_SIZE bytes).  Returns 0 or -1.
 */
int nano_csrf_new(const unsigned char *secret, size_t secret_len,
    char *token, char *cookie);

/*
 * Authenticates a cookie value (len bytes; '|' may arrive URL-encoded as
 * %7C, as NextAuth writes it).  On NANO_CSRF_OK the token is copied into
 * token (NANO_CSRF_TOKEN_LEN + 1 bytes).  The hash is compared in
 * constant time.
 */
nano_csrf_status_t nano_csrf_read_cookie(const char *value, size_t len,
    const unsigned char *secret, size_t secret_len, char *token);

/*
 * Checks a POST: the cookie must be genuine and submitted (the csrfToken
 * field, may be NULL) must equal its token, compared in constant time.
 */
nano_csrf_status_t nano_csrf_verify(const char *cookie, size_t cookie_len,
    const char *submitted, const unsigned char *secret, size_t secret_len);

/* A short name for logs: "ok", "no_cookie", "malformed", ... */
const char *nano_csrf_status_name(nano_csrf_status_t status);

#endif /* NANO_CSRF_H */
