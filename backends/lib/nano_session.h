/*
 * The platform's session cookie: NextAuth's next-auth.session-token
 * (__Secure- prefixed over https) holding our HS256 JWT; reading it
 * (plain or chunked), issuing it and clearing it.
 */

#ifndef NANO_SESSION_H
#define NANO_SESSION_H

#include "nano_http.h"
#include "nano_token.h"

#define NANO_SESSION_LEEWAY  60     /* seconds of clock skew we forgive */

typedef struct {
    nano_token_status_t  status;    /* OK: claims are valid */
    int                  present;   /* the request carried a session cookie */
    nano_claims_t        claims;    /* strings point into buf */
    char                *buf;       /* owned */
} nano_session_t;

/* The fields of a user that go into the token; all borrowed. */
typedef struct {
    const char  *id;
    const char  *email;
    const char  *name;
    const char  *picture;           /* may be NULL */
} nano_session_user_t;

/* The session cookie's name for the scheme of NEXTAUTH_URL. */
const char *nano_session_cookie_name(int https);

void nano_session_init(nano_session_t *s);

/* Frees the buffers; accepts NULL and may run twice. */
void nano_session_cleanup(nano_session_t *s);

/*
 * Reads the session cookie by the one rule the gateway follows too
 * (nano_cookie_session_token: the scheme's name only, plain or chunked,
 * every Cookie param read as one) and verifies it with the configured
 * keyring at now.  A conflict or a malformed cookie is present but
 * NANO_TOKEN_INVALID.  Revocation is the caller's to check (platform's
 * database).  Returns s->status.
 */
nano_token_status_t nano_session_read(const nano_req_t *req, long long now,
    nano_session_t *s);

/*
 * Issues a session for user, an HS256 JWS or, with
 * NANO_SESSION_FORMAT=jwe, NextAuth v4's JWE (nano_token_encrypt): iat
 * as given (now, or a user's cut-off when that is later), exp = iat +
 * 30 days, jti = jti when given (a renewal keeps the session id) or a
 * new random id.  Adds
 * the Set-Cookie header(s), chunked when the token is longer than a
 * cookie may be, and clears stale chunks the request carried.  Stores
 * exp in *exp when not NULL.  Returns 0 or -1.
 */
int nano_session_issue(const nano_req_t *req, nano_res_t *res,
    const nano_session_user_t *user, const char *jti, long long now,
    long long *exp);

/* Clears the session cookie and every chunk of it the request carried,
 * under both names.  Returns 0 or -1. */
int nano_session_clear(const nano_req_t *req, nano_res_t *res);

#endif /* NANO_SESSION_H */
