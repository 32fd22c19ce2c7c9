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

/* NANO_SESSION_MAX_AGE (NextAuth's session.maxAge), in seconds: it may
 * only shorten NANO_TOKEN_MAX_AGE, which the revocations, the cut-offs,
 * sql/020's trigger and the gateway keep their state for.  The least is
 * five minutes: the gateway forgives NANO_SESSION_LEEWAY past exp, and a
 * session much shorter would be mostly that leeway. */
#define NANO_SESSION_MAX_AGE_MIN      NANO_TOKEN_MIN_AGE
/* The renewal (NextAuth's updateAge) comes after this part of the
 * lifetime: 24 hours of 30 days, 10 s of the least, 300 s. */
#define NANO_SESSION_UPDATE_PART      30

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

/*
 * Reads NANO_SESSION_MAX_AGE (plain digits, NANO_SESSION_MAX_AGE_MIN to
 * NANO_TOKEN_MAX_AGE; unset or empty: NANO_TOKEN_MAX_AGE), once, at the
 * platform's start, before any thread issues a session.  Returns 0, or
 * -1 with a message naming the variable in err.
 */
int nano_session_configure(char *err, size_t errlen);

/* The lifetime of a session token issued now, in seconds. */
long long nano_session_max_age(void);

/* How old a token is when /api/auth/session renews it (NextAuth's
 * updateAge): the lifetime / NANO_SESSION_UPDATE_PART. */
long long nano_session_update_age(void);

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
 * nano_session_max_age(), jti = jti when given (a renewal keeps the
 * session id) or a new random id.  Adds the Set-Cookie header(s),
 * chunked when the token is longer than a cookie may be, and clears
 * stale chunks the request carried.  Stores exp in *exp when not NULL.
 * Returns 0 or -1.
 */
int nano_session_issue(const nano_req_t *req, nano_res_t *res,
    const nano_session_user_t *user, const char *jti, long long now,
    long long *exp);

/* Clears the session cookie and every chunk of it the request carried,
 * under both names.  Returns 0 or -1. */
int nano_session_clear(const nano_req_t *req, nano_res_t *res);

#endif /* NANO_SESSION_H */
