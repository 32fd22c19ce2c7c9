/*
 * What the platform's OAuth files share: a provider (Google over OpenID
 * Connect, GitHub over OAuth 2, as NextAuth v4 configures them), the
 * profile a sign-in ends with, and the outbound JSON calls.
 */

#ifndef PLATFORM_OAUTH_H
#define PLATFORM_OAUTH_H

#include <jansson.h>

#include "nano_http.h"
#include "platform.h"

#define PLATFORM_OAUTH_URL_MAX    2048    /* bytes of an image URL */
#define PLATFORM_OAUTH_EXPIRES_MAX  (10LL * 365 * 86400)  /* expires_in, s */
#define PLATFORM_OAUTH_LEEWAY     60      /* seconds of clock skew */

/* A signed-in provider account; every string owned, NULL when absent. */
typedef struct {
    char       *id;               /* providerAccountId */
    char       *email;            /* normalised; only an address the
                                     provider says is verified */
    char       *name;
    char       *image;
    /* the token response, kept in "Account" as NextAuth does */
    char       *access_token;
    char       *refresh_token;
    char       *token_type;
    char       *scope;
    char       *id_token;
    char       *session_state;
    long long   expires_at;       /* unix seconds, 0 when none */
} platform_oauth_profile_t;

typedef struct platform_oauth_provider_s  platform_oauth_provider_t;

struct platform_oauth_provider_s {
    const char  *id;              /* "google": the provider in "Account" */
    const char  *name;            /* "Google" */
    const char  *env;             /* "GOOGLE": its variables' prefix */
    const char  *base_env;        /* GOOGLE_ISSUER, GITHUB_BASE_URL */
    const char  *base_default;
    const char  *api_env;         /* GITHUB_API_URL, or NULL */
    const char  *api_default;
    int          pkce;            /* sends a PKCE S256 challenge */
    int          nonce;           /* OpenID: sends and checks a nonce */

    /*
     * The authorization URL for redirect_uri, state, challenge and nonce
     * (NULL when the provider takes none); a new string, or NULL with the
     * reason logged.
     */
    char  *(*authorize)(const platform_oauth_provider_t *p,
                        const char *redirect_uri, const char *state,
                        const char *challenge, const char *nonce);

    /*
     * Exchanges code for tokens and reads the account's profile into out
     * (freshly initialised).  0, or -1 with the reason logged.
     */
    int    (*profile)(const platform_oauth_provider_t *p, const char *code,
                      const char *redirect_uri, const char *verifier,
                      const char *nonce, platform_oauth_profile_t *out);

    /* From the environment at start (platform_oauth_configure). */
    int          configured;
    char        *client_id;
    char        *client_secret;
    char        *base;            /* issuer or base URL, no trailing '/' */
    char        *api;
};

/* oauth_google.c, oauth_github.c */
extern platform_oauth_provider_t  platform_oauth_google;
extern platform_oauth_provider_t  platform_oauth_github;

/* Frees what the cache of an OpenID provider holds (at stop). */
void platform_oauth_google_cleanup(void);

void platform_oauth_profile_init(platform_oauth_profile_t *p);
void platform_oauth_profile_cleanup(platform_oauth_profile_t *p);

/*
 * One outbound call to a provider: method GET or POST (form body, may be
 * NULL), the header lines given (NULL-ended, borrowed), an Authorization
 * line holding a secret (wiped after; may be NULL).  On a 2xx answer
 * whose body is JSON, *json is a new reference (object or array) and 0
 * is returned; otherwise -1, with *status the HTTP status (0 when none)
 * and the reason logged under what (never the URL's query or a secret).
 * A 4xx JSON body is still handed back in *json for its "error".
 */
int platform_oauth_fetch(const char *what, const char *method,
    const char *url, const char *const *headers, const char *auth,
    const char *body, json_t **json, long *status);

/* 1 when url is https, or http on a loopback host (local tests). */
int platform_oauth_url_ok(const char *url);

/* A copy of a provider's text fit for an image's URL: NULL when it is
 * empty, longer than max bytes, not UTF-8 or holds a control character.
 * Names take platform_name_from_provider. */
char *platform_oauth_text(const char *s, size_t max);

/* A token answer's "expires_in" as unix seconds from now: 0 (none) when
 * it is missing, not a positive integer or past ten years, as a huge one
 * made the sum overflow and a negative one an expiry in the past. */
long long platform_oauth_expires_at(json_t *tokens, long long now);

/* The normalised email, or NULL when the address is not one we accept. */
char *platform_oauth_email(const char *raw);

/* A non-empty string member of a provider's JSON answer as a new
 * string, or NULL. */
char *platform_oauth_member(json_t *o, const char *name);

/* Appends the token request's form for an authorization code (RFC 6749
 * 4.1.3): grant_type, code and redirect_uri, URL-encoded.  b's failed
 * flag says when memory ran out. */
void platform_oauth_code_body(nano_buf_t *b, const char *code,
    const char *redirect_uri);

/* "Authorization: Basic base64(urlencode(id):urlencode(secret))", RFC
 * 6749 2.3.1 (client_secret_basic); a new string or NULL. */
char *platform_oauth_basic_auth(const platform_oauth_provider_t *p);

/* accounts.c: the "Account" table, and where a callback's account goes. */

/* What a finished callback did. */
typedef enum {
    PLATFORM_OAUTH_SIGNED_IN = 0,  /* a session for the account's user */
    PLATFORM_OAUTH_LINKED,         /* added to the signed-in user */
    PLATFORM_OAUTH_NOT_LINKED,     /* OAuthAccountNotLinked */
    PLATFORM_OAUTH_NO_EMAIL,       /* a new user needs a verified email */
    PLATFORM_OAUTH_LINK_LOST       /* the link's session is gone */
} platform_oauth_outcome_t;

/*
 * As NextAuth's callback handler with its Prisma adapter: the account's
 * row signs its user in; a link (link_user, from the sealed state: the
 * user who started it) adds the row to that user, who must still be
 * signed in here; an email of an existing user is OAuthAccountNotLinked;
 * otherwise a new user with the row, signed in.  Sessions start through
 * platform_session_start_as (method: the provider).  *outcome says
 * which.
 */
nano_db_status_t platform_oauth_finish(nano_req_t *req, nano_res_t *res,
    nano_db_t *db, const platform_oauth_provider_t *p,
    const platform_oauth_profile_t *profile, const char *link_user,
    platform_oauth_outcome_t *outcome);

/* A user's connected accounts, [{"provider","providerAccountId"}] (a
 * new reference), or NULL with *st. */
json_t *platform_account_rows(nano_db_t *db, const char *user_id,
    nano_db_status_t *st);

typedef enum {
    PLATFORM_UNLINK_DONE = 0,
    PLATFORM_UNLINK_NOT_LINKED,    /* no row of that provider */
    PLATFORM_UNLINK_LAST_METHOD    /* no password and no other connection
                                      of a configured provider */
} platform_unlink_t;

/* Removes the user's rows of provider, unless that would leave the
 * account no way to sign in; *result says which, in one transaction. */
nano_db_status_t platform_account_unlink_rows(nano_db_t *db,
    const char *user_id, const char *provider, platform_unlink_t *result);

/* oauth.c */

/* The configured provider called id, or NULL. */
const platform_oauth_provider_t *platform_oauth_find(const char *id);

/* [{"id","name"}] of the configured providers (a new reference). */
json_t *platform_oauth_configured_json(void);

#endif /* PLATFORM_OAUTH_H */
