/*
 * Google sign-in over OpenID Connect, as NextAuth v4's Google provider
 * (authorization code, scope "openid email profile", PKCE S256, state)
 * plus a nonce; the ID token verified here (nano_idtoken) and the profile
 * read from its claims.  The discovery document and the JWKS are cached
 * per process.
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_idtoken.h"
#include "nano_log.h"
#include "oauth.h"

#define PLATFORM_GOOGLE_CACHE_SECONDS   3600   /* discovery and keys */
#define PLATFORM_GOOGLE_REFETCH_SECONDS 10     /* an unknown kid refetches
                                                  the keys at most this
                                                  often */

/* What discovery says; every string owned. */
typedef struct {
    char  *issuer;
    char  *authorization;
    char  *token;
    char  *jwks_uri;
} platform_google_meta_t;

static pthread_mutex_t          platform_google_lock =
    PTHREAD_MUTEX_INITIALIZER;
static platform_google_meta_t   platform_google_meta;
static long long                platform_google_meta_at;
static nano_jwks_t             *platform_google_keys;
static long long                platform_google_keys_at;

static void
platform_google_meta_cleanup(platform_google_meta_t *m)
{
    free(m->issuer);
    free(m->authorization);
    free(m->token);
    free(m->jwks_uri);
    memset(m, 0, sizeof(*m));
}

/* Copies src into dst (freshly zeroed); 0 or -1. */
static int
platform_google_meta_copy(platform_google_meta_t *dst,
    const platform_google_meta_t *src)
{
    dst->issuer = strdup(src->issuer);
    dst->authorization = strdup(src->authorization);
    dst->token = strdup(src->token);
    dst->jwks_uri = strdup(src->jwks_uri);
    if (dst->issuer == NULL || dst->authorization == NULL
        || dst->token == NULL || dst->jwks_uri == NULL)
    {
        platform_google_meta_cleanup(dst);
        return -1;
    }
    return 0;
}

void
platform_oauth_google_cleanup(void)
{
    pthread_mutex_lock(&platform_google_lock);
    platform_google_meta_cleanup(&platform_google_meta);
    platform_google_meta_at = 0;
    nano_jwks_release(platform_google_keys);
    platform_google_keys = NULL;
    platform_google_keys_at = 0;
    pthread_mutex_unlock(&platform_google_lock);
}

/* 1 when two issuers are the same apart from a trailing '/'. */
static int
platform_google_same_issuer(const char *a, const char *b)
{
    size_t  la = strlen(a), lb = strlen(b);

    while (la > 0 && a[la - 1] == '/') {
        la--;
    }
    while (lb > 0 && b[lb - 1] == '/') {
        lb--;
    }
    return la == lb && strncmp(a, b, la) == 0;
}

/* Fetches and checks the discovery document into m; 0 or -1 (logged). */
static int
platform_google_discover(const platform_oauth_provider_t *p,
    platform_google_meta_t *m)
{
    static const char *const  headers[] = { "Accept: application/json", NULL };
    const char               *iss = NULL, *auth = NULL, *token = NULL;
    const char               *jwks = NULL;
    nano_buf_t                url;
    json_t                   *doc = NULL;
    long                      status;
    int                       rc = -1;

    nano_buf_init(&url);
    nano_buf_printf(&url, "%s/.well-known/openid-configuration", p->base);
    if (url.failed
        || platform_oauth_fetch("Google discovery", "GET", url.data, headers,
                                NULL, NULL, &doc, &status) != 0)
    {
        goto out;
    }
    if (json_unpack(doc, "{s:s, s:s, s:s, s:s}", "issuer", &iss,
                    "authorization_endpoint", &auth, "token_endpoint", &token,
                    "jwks_uri", &jwks) != 0)
    {
        nano_log_error("Google discovery: issuer, authorization_endpoint,"
                       " token_endpoint or jwks_uri missing");
        goto out;
    }
    /* OpenID Discovery 4.3: the document speaks for the issuer we asked */
    if (!platform_google_same_issuer(iss, p->base)) {
        nano_log_error("Google discovery: its issuer \"%.200s\" is not"
                       " GOOGLE_ISSUER", iss);
        goto out;
    }
    if (!platform_oauth_url_ok(auth) || !platform_oauth_url_ok(token)
        || !platform_oauth_url_ok(jwks))
    {
        nano_log_error("Google discovery: an endpoint is not https");
        goto out;
    }
    const platform_google_meta_t  found = {
        (char *) iss, (char *) auth, (char *) token, (char *) jwks,
    };
    rc = platform_google_meta_copy(m, &found);
out:
    json_decref(doc);
    nano_buf_cleanup(&url);
    return rc;
}

/* A copy of the discovery metadata, fetched when not cached or stale. */
static int
platform_google_metadata(const platform_oauth_provider_t *p,
    platform_google_meta_t *m)
{
    platform_google_meta_t  fresh = { 0 };
    long long               now = (long long) time(NULL);
    int                     rc = -1;

    pthread_mutex_lock(&platform_google_lock);
    if (platform_google_meta.issuer != NULL
        && now - platform_google_meta_at < PLATFORM_GOOGLE_CACHE_SECONDS)
    {
        rc = platform_google_meta_copy(m, &platform_google_meta);
    }
    pthread_mutex_unlock(&platform_google_lock);
    if (rc == 0) {
        return 0;
    }

    /* outside the lock: other sign-ins wait for no network */
    if (platform_google_discover(p, &fresh) != 0) {
        return -1;
    }
    pthread_mutex_lock(&platform_google_lock);
    platform_google_meta_cleanup(&platform_google_meta);
    platform_google_meta = fresh;
    platform_google_meta_at = now;
    rc = platform_google_meta_copy(m, &platform_google_meta);
    pthread_mutex_unlock(&platform_google_lock);
    return rc;
}

/*
 * A reference to the signing keys (release it), fetched when not cached,
 * stale, or when refresh asks (an unknown kid: keys rotate) and the last
 * fetch is older than PLATFORM_GOOGLE_REFETCH_SECONDS.  NULL (logged)
 * when none can be had.
 */
static nano_jwks_t *
platform_google_jwks(const char *jwks_uri, int refresh)
{
    static const char *const  headers[] = { "Accept: application/json", NULL };
    nano_jwks_t              *set = NULL;
    json_t                   *doc = NULL;
    long long                 now = (long long) time(NULL), age;
    long                      status;
    char                     *text = NULL, err[128];

    pthread_mutex_lock(&platform_google_lock);
    age = now - platform_google_keys_at;
    if (platform_google_keys != NULL
        && (refresh ? age < PLATFORM_GOOGLE_REFETCH_SECONDS
                    : age < PLATFORM_GOOGLE_CACHE_SECONDS))
    {
        set = nano_jwks_retain(platform_google_keys);
    }
    pthread_mutex_unlock(&platform_google_lock);
    if (set != NULL) {
        return set;
    }

    if (platform_oauth_fetch("Google JWKS", "GET", jwks_uri, headers, NULL,
                             NULL, &doc, &status) != 0
        || (text = json_dumps(doc, JSON_COMPACT)) == NULL)
    {
        goto out;
    }
    set = nano_jwks_parse(text, strlen(text), err, sizeof(err));
    if (set == NULL) {
        nano_log_error("Google JWKS refused: %s", err);
        goto out;
    }
    pthread_mutex_lock(&platform_google_lock);
    nano_jwks_release(platform_google_keys);
    platform_google_keys = nano_jwks_retain(set);
    platform_google_keys_at = now;
    pthread_mutex_unlock(&platform_google_lock);
out:
    free(text);
    json_decref(doc);
    return set;
}

static char *
platform_google_authorize(const platform_oauth_provider_t *p,
    const char *redirect_uri, const char *state, const char *challenge,
    const char *nonce)
{
    platform_google_meta_t  m = { 0 };
    nano_buf_t              b;

    if (platform_google_metadata(p, &m) != 0) {
        return NULL;
    }
    nano_buf_init(&b);
    nano_buf_puts(&b, m.authorization);
    nano_buf_puts(&b, strchr(m.authorization, '?') != NULL ? "&" : "?");
    nano_buf_puts(&b, "client_id=");
    nano_buf_urlencode(&b, p->client_id);
    nano_buf_puts(&b, "&scope=openid%20email%20profile&response_type=code"
                  "&redirect_uri=");
    nano_buf_urlencode(&b, redirect_uri);
    nano_buf_puts(&b, "&state=");
    nano_buf_urlencode(&b, state);
    nano_buf_puts(&b, "&code_challenge=");
    nano_buf_urlencode(&b, challenge);
    nano_buf_puts(&b, "&code_challenge_method=S256&nonce=");
    nano_buf_urlencode(&b, nonce);
    platform_google_meta_cleanup(&m);
    return nano_buf_steal(&b);
}

/* Verifies the ID token against the keys, once more with fresh keys
 * when its kid is unknown. */
static nano_idtoken_status_t
platform_google_verify(const char *id_token, const char *jwks_uri,
    const nano_idtoken_check_t *check, nano_idtoken_claims_t *claims)
{
    nano_idtoken_status_t   st;
    nano_jwks_t            *keys;

    keys = platform_google_jwks(jwks_uri, 0);
    if (keys == NULL) {
        return NANO_IDTOKEN_NO_KEY;
    }
    st = nano_idtoken_verify(id_token, keys, check, claims);
    nano_jwks_release(keys);
    if (st == NANO_IDTOKEN_NO_KEY) {
        keys = platform_google_jwks(jwks_uri, 1);
        if (keys != NULL) {
            st = nano_idtoken_verify(id_token, keys, check, claims);
            nano_jwks_release(keys);
        }
    }
    return st;
}

static int
platform_google_profile(const platform_oauth_provider_t *p, const char *code,
    const char *redirect_uri, const char *verifier, const char *nonce,
    platform_oauth_profile_t *out)
{
    static const char *const  headers[] = {
        "Content-Type: application/x-www-form-urlencoded",
        "Accept: application/json", NULL,
    };
    platform_google_meta_t    m = { 0 };
    nano_idtoken_claims_t     claims;
    nano_idtoken_status_t     st;
    nano_buf_t                body;
    json_t                   *tokens = NULL;
    char                     *auth = NULL;
    long long                 now;
    long                      status;
    int                       rc = -1;

    nano_buf_init(&body);
    nano_idtoken_claims_init(&claims);
    if (platform_google_metadata(p, &m) != 0) {
        goto out;
    }
    platform_oauth_code_body(&body, code, redirect_uri);
    nano_buf_puts(&body, "&code_verifier=");
    nano_buf_urlencode(&body, verifier);
    auth = platform_oauth_basic_auth(p);
    if (body.failed || auth == NULL
        || platform_oauth_fetch("Google token", "POST", m.token, headers,
                                auth, body.data, &tokens, &status) != 0)
    {
        goto out;
    }

    out->id_token = platform_oauth_member(tokens, "id_token");
    if (out->id_token == NULL) {
        nano_log_error("Google token: the answer has no id_token");
        goto out;
    }
    now = (long long) time(NULL);
    const nano_idtoken_check_t  check = {
        .issuer = m.issuer, .client_id = p->client_id, .nonce = nonce,
        .now = now, .leeway = PLATFORM_OAUTH_LEEWAY,
    };
    st = platform_google_verify(out->id_token, m.jwks_uri, &check, &claims);
    if (st != NANO_IDTOKEN_OK) {
        nano_log_warn("Google ID token refused: %s",
                      nano_idtoken_status_name(st));
        goto out;
    }

    /* NextAuth's Google profile: sub, email, name, picture */
    out->id = claims.sub;
    claims.sub = NULL;
    out->email = claims.email_verified ? platform_oauth_email(claims.email)
                                       : NULL;
    out->name = platform_name_from_provider(claims.name);
    if (claims.picture != NULL && strncmp(claims.picture, "https://", 8) == 0)
    {
        out->image = platform_oauth_text(claims.picture,
                                         PLATFORM_OAUTH_URL_MAX);
    }
    out->access_token = platform_oauth_member(tokens, "access_token");
    out->refresh_token = platform_oauth_member(tokens, "refresh_token");
    out->token_type = platform_oauth_member(tokens, "token_type");
    out->scope = platform_oauth_member(tokens, "scope");
    out->expires_at = platform_oauth_expires_at(tokens, now);
    rc = 0;
out:
    if (auth != NULL) {
        explicit_bzero(auth, strlen(auth));
    }
    free(auth);
    nano_idtoken_claims_cleanup(&claims);
    json_decref(tokens);
    nano_buf_cleanup(&body);
    platform_google_meta_cleanup(&m);
    return rc;
}

platform_oauth_provider_t  platform_oauth_google = {
    .id = "google",
    .name = "Google",
    .env = "GOOGLE",
    .base_env = "GOOGLE_ISSUER",
    .base_default = "https://accounts.google.com",
    .pkce = 1,
    .nonce = 1,
    .authorize = platform_google_authorize,
    .profile = platform_google_profile,
};
