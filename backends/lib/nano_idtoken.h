/*
 * OpenID Connect ID tokens (OIDC Core 3.1.3.7): an RS256 compact JWS
 * checked against the provider's JWKS, its issuer, audience, times and
 * nonce, and the profile claims a sign-in reads from it.
 */

#ifndef NANO_IDTOKEN_H
#define NANO_IDTOKEN_H

#include "nano_jwks.h"

#define NANO_IDTOKEN_MAX_LEN   16384     /* longest token we look at */
#define NANO_IDTOKEN_SUB_MAX   255       /* OIDC: sub is at most 255 ASCII */

typedef enum {
    NANO_IDTOKEN_OK = 0,
    NANO_IDTOKEN_MALFORMED,   /* not three base64url parts of JSON objects */
    NANO_IDTOKEN_ALG,         /* alg other than RS256 (pinned), or crit */
    NANO_IDTOKEN_NO_KEY,      /* no key of the set has its kid: the caller
                                 may fetch the set again, once */
    NANO_IDTOKEN_SIGNATURE,
    NANO_IDTOKEN_ISSUER,
    NANO_IDTOKEN_AUDIENCE,    /* aud lacks the client id, or azp is another */
    NANO_IDTOKEN_EXPIRED,
    NANO_IDTOKEN_NOT_YET,     /* iat missing, or iat or nbf in the future */
    NANO_IDTOKEN_NONCE,       /* the nonce sent is missing or differs */
    NANO_IDTOKEN_SUBJECT,     /* sub missing, empty, too long or odd */
    NANO_IDTOKEN_NOMEM
} nano_idtoken_status_t;

/* What the token must match; borrowed. */
typedef struct {
    const char  *issuer;      /* exactly the discovery document's issuer */
    const char  *client_id;
    const char  *nonce;       /* the one sent; NULL when none was */
    long long    now;
    long long    leeway;      /* seconds of clock skew forgiven */
} nano_idtoken_check_t;

/* The profile claims; every string owned, NULL when absent.  A string
 * claim that is empty or holds a control character counts as absent
 * (it would end up in a session token, a header or a page). */
typedef struct {
    char  *sub;
    char  *email;
    int    email_verified;    /* true, or the string "true" */
    char  *name;
    char  *picture;
} nano_idtoken_claims_t;

void nano_idtoken_claims_init(nano_idtoken_claims_t *c);

/* Accepts NULL and may run twice. */
void nano_idtoken_claims_cleanup(nano_idtoken_claims_t *c);

/*
 * Verifies token: a header whose alg is exactly RS256 (no crit), a
 * signature by the key of keys named by its kid, then iss == issuer, aud
 * (a string, or an array of strings) holding client_id, azp (required
 * with several audiences) == client_id, exp + leeway >= now, iat <= now
 * + leeway, nbf (when present) <= now + leeway, nonce == check->nonce
 * (constant time) when one was sent, and a sub.  Fills claims (freshly
 * initialised) only on NANO_IDTOKEN_OK.
 */
nano_idtoken_status_t nano_idtoken_verify(const char *token,
    const nano_jwks_t *keys, const nano_idtoken_check_t *check,
    nano_idtoken_claims_t *claims);

/* A short lower-case name for logs: "ok", "bad_signature", ... */
const char *nano_idtoken_status_name(nano_idtoken_status_t st);

#endif /* NANO_IDTOKEN_H */
