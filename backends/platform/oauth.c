/*
 * OAuth / OpenID Connect sign-in as NextAuth v4 runs it: the providers'
 * configuration, /api/auth/signin/<provider> (a page, and the POST that
 * sends the browser to the provider with state, PKCE and nonce in
 * short-lived sealed cookies) and /api/auth/callback/<provider>.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_jose.h"
#include "nano_base64.h"
#include "nano_callback.h"
#include "nano_client.h"
#include "nano_config.h"
#include "nano_csrf.h"
#include "nano_email.h"
#include "nano_log.h"
#include "nano_oauth.h"
#include "nano_page.h"
#include "nano_server.h"
#include "nano_utf8.h"
#include "oauth.h"

#define PLATFORM_OAUTH_SECRET_MAX   4096    /* bytes of a secret file */
#define PLATFORM_OAUTH_BODY_MAX     (256 * 1024)
#define PLATFORM_OAUTH_CONNECT_MS   5000
#define PLATFORM_OAUTH_TIMEOUT_MS   15000

static platform_oauth_provider_t *const  platform_oauth_all[] = {
    &platform_oauth_google,
    &platform_oauth_github,
};

#define PLATFORM_OAUTH_NPROVIDERS                                             \
    (sizeof(platform_oauth_all) / sizeof(platform_oauth_all[0]))

/* The three cookies of a sign-in in flight, as NextAuth names them. */
enum { PLATFORM_OAUTH_STATE = 0, PLATFORM_OAUTH_PKCE, PLATFORM_OAUTH_NONCE };

static const char *const  platform_oauth_cookies[2][3] = {
    { "next-auth.state", "next-auth.pkce.code_verifier", "next-auth.nonce" },
    { "__Secure-next-auth.state", "__Secure-next-auth.pkce.code_verifier",
      "__Secure-next-auth.nonce" },
};

static const char *const  platform_oauth_purposes[3] = {
    "state", "pkce", "nonce",
};

/* ---- configuration --------------------------------------------------- */

/* 0 when v holds no blank or control character (no client id or
 * secret does: one copied with its newline failed every sign-in at the
 * provider), else -1 logged, naming var and never the value. */
static int
platform_oauth_plain(const char *var, const char *v)
{
    if (!nano_config_plain(v)) {
        nano_log_error("%s holds a blank or a control character", var);
        return -1;
    }
    return 0;
}

/* A variable's value, or the first line of the file <name>_FILE names;
 * a new string, NULL when neither is set (or -1 on a bad value or
 * file). */
static int
platform_oauth_secret(const char *name, char **out)
{
    const char  *v = getenv(name);
    char         file_var[64], buf[PLATFORM_OAUTH_SECRET_MAX + 1];
    FILE        *f;
    size_t       n;
    int          err;

    *out = NULL;
    if (v != NULL && v[0] != '\0') {
        if (platform_oauth_plain(name, v) != 0) {
            return -1;
        }
        *out = strdup(v);
        return *out != NULL ? 0 : -1;
    }
    snprintf(file_var, sizeof(file_var), "%s_FILE", name);
    v = getenv(file_var);
    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    f = fopen(v, "r");
    if (f == NULL) {
        nano_log_error("%s: cannot read the file it names: %s", file_var,
                       strerror(errno));
        return -1;
    }
    /* a folder opens, and its read fails: not "empty" */
    n = fread(buf, 1, sizeof(buf) - 1, f);
    err = ferror(f) ? errno : 0;
    fclose(f);
    if (err != 0) {
        explicit_bzero(buf, sizeof(buf));
        nano_log_error("%s: cannot read the file it names: %s", file_var,
                       strerror(err));
        return -1;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (platform_oauth_plain(file_var, buf) != 0) {
        explicit_bzero(buf, sizeof(buf));
        return -1;
    }
    if (buf[0] != '\0') {
        *out = strdup(buf);
    }
    explicit_bzero(buf, sizeof(buf));
    if (*out == NULL) {
        nano_log_error("%s: the file it names is empty", file_var);
        return -1;
    }
    return 0;
}

int
platform_oauth_url_ok(const char *url)
{
    static const char *const  loopback[] = {
        "http://127.0.0.1", "http://localhost", "http://[::1]",
    };
    char                      origin[NANO_ORIGIN_MAX];
    const char               *rest;
    size_t                    i, n;

    if (url == NULL || nano_callback_origin(url, origin, sizeof(origin),
                                            &rest) != 0)
    {
        return 0;
    }
    if (strncmp(origin, "https://", 8) == 0) {
        return 1;
    }
    for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        n = strlen(loopback[i]);
        if (strncmp(origin, loopback[i], n) == 0
            && (origin[n] == '\0' || origin[n] == ':'))
        {
            return 1;
        }
    }
    return 0;
}

/* A base URL from its variable or default, without a trailing '/'; a
 * new string, or NULL (logged) when it is not https (or loopback http). */
static char *
platform_oauth_base(const char *var, const char *def)
{
    const char  *v = getenv(var);
    char        *out, shown[256];
    size_t       len;

    if (v == NULL || v[0] == '\0') {
        v = def;
    }
    if (!platform_oauth_url_ok(v) || strchr(v, '?') != NULL
        || strchr(v, '#') != NULL || strlen(v) > 512)
    {
        /* named as the log may show it: no user or password */
        nano_url_redact(v, shown, sizeof(shown));
        nano_log_error("%s \"%.200s\" is not an https URL (http only on a"
                       " loopback address, no user)", var, shown);
        return NULL;
    }
    out = strdup(v);
    if (out != NULL) {
        len = strlen(out);
        while (len > 0 && out[len - 1] == '/') {
            out[--len] = '\0';
        }
    }
    return out;
}

static void
platform_oauth_unconfigure(platform_oauth_provider_t *p)
{
    if (p->client_secret != NULL) {
        explicit_bzero(p->client_secret, strlen(p->client_secret));
    }
    free(p->client_id);
    free(p->client_secret);
    free(p->base);
    free(p->api);
    p->client_id = NULL;
    p->client_secret = NULL;
    p->base = NULL;
    p->api = NULL;
    p->configured = 0;
}

int
platform_oauth_configure(void)
{
    platform_oauth_provider_t  *p;
    char                        var[64];
    size_t                      i;

    /* thread-safe since libcurl 7.84, and counted: the module apps and
     * other platform parts may call it too */
    if (nano_client_global_init() != 0) {
        nano_log_error("cannot initialise libcurl");
        return -1;
    }
    for (i = 0; i < PLATFORM_OAUTH_NPROVIDERS; i++) {
        p = platform_oauth_all[i];
        snprintf(var, sizeof(var), "%s_CLIENT_ID", p->env);
        if (platform_oauth_secret(var, &p->client_id) != 0) {
            goto fail;
        }
        snprintf(var, sizeof(var), "%s_CLIENT_SECRET", p->env);
        if (platform_oauth_secret(var, &p->client_secret) != 0) {
            goto fail;
        }
        if (p->client_id == NULL && p->client_secret == NULL) {
            continue;
        }
        if (p->client_id == NULL || p->client_secret == NULL) {
            nano_log_error("%s sign-in needs both %s_CLIENT_ID and"
                           " %s_CLIENT_SECRET (or %s_CLIENT_SECRET_FILE)",
                           p->name, p->env, p->env, p->env);
            goto fail;
        }
        p->base = platform_oauth_base(p->base_env, p->base_default);
        if (p->base == NULL) {
            goto fail;
        }
        if (p->api_env != NULL) {
            p->api = platform_oauth_base(p->api_env, p->api_default);
            if (p->api == NULL) {
                goto fail;
            }
        }
        p->configured = 1;
        nano_log_info("%s sign-in is configured (%s)", p->name, p->base);
    }
    return 0;

fail:
    platform_oauth_cleanup();
    return -1;
}

void
platform_oauth_cleanup(void)
{
    size_t  i;

    for (i = 0; i < PLATFORM_OAUTH_NPROVIDERS; i++) {
        platform_oauth_unconfigure(platform_oauth_all[i]);
    }
    platform_oauth_google_cleanup();
}

const platform_oauth_provider_t *
platform_oauth_find(const char *id)
{
    size_t  i;

    for (i = 0; id != NULL && i < PLATFORM_OAUTH_NPROVIDERS; i++) {
        if (platform_oauth_all[i]->configured
            && strcmp(platform_oauth_all[i]->id, id) == 0)
        {
            return platform_oauth_all[i];
        }
    }
    return NULL;
}

int
platform_oauth_providers_json(json_t *obj, const char *origin)
{
    const platform_oauth_provider_t  *p;
    char                              signin[NANO_ORIGIN_MAX + 64];
    char                              callback[NANO_ORIGIN_MAX + 64];
    size_t                            i;

    for (i = 0; i < PLATFORM_OAUTH_NPROVIDERS; i++) {
        p = platform_oauth_all[i];
        if (!p->configured) {
            continue;
        }
        snprintf(signin, sizeof(signin), "%s/api/auth/signin/%s", origin,
                 p->id);
        snprintf(callback, sizeof(callback), "%s/api/auth/callback/%s",
                 origin, p->id);
        if (json_object_set_new(obj, p->id,
                                json_pack("{s:s, s:s, s:s, s:s, s:s}",
                                          "id", p->id, "name", p->name,
                                          "type", "oauth",
                                          "signinUrl", signin,
                                          "callbackUrl", callback)) != 0)
        {
            return -1;
        }
    }
    return 0;
}

json_t *
platform_oauth_configured_json(void)
{
    json_t  *a = json_array();
    size_t   i;

    for (i = 0; a != NULL && i < PLATFORM_OAUTH_NPROVIDERS; i++) {
        if (platform_oauth_all[i]->configured
            && json_array_append_new(a, json_pack("{s:s, s:s}", "id",
                                                  platform_oauth_all[i]->id,
                                                  "name",
                                                  platform_oauth_all[i]->name))
               != 0)
        {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* ---- what the provider files share ----------------------------------- */

void
platform_oauth_profile_init(platform_oauth_profile_t *p)
{
    memset(p, 0, sizeof(*p));
}

void
platform_oauth_profile_cleanup(platform_oauth_profile_t *p)
{
    char  **secrets[] = { &p->access_token, &p->refresh_token, &p->id_token };
    size_t  i;

    if (p == NULL) {
        return;
    }
    for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        if (*secrets[i] != NULL) {
            explicit_bzero(*secrets[i], strlen(*secrets[i]));
        }
    }
    free(p->id);
    free(p->email);
    free(p->name);
    free(p->image);
    free(p->access_token);
    free(p->refresh_token);
    free(p->token_type);
    free(p->scope);
    free(p->id_token);
    free(p->session_state);
    platform_oauth_profile_init(p);
}

int
platform_oauth_fetch(const char *what, const char *method, const char *url,
    const char *const *headers, const char *auth, const char *body,
    json_t **json, long *status)
{
    nano_client_call_t   call;
    nano_client_res_t    r;
    json_t              *j = NULL;
    json_t              *err;
    size_t               i;
    int                  rc = -1;

    *json = NULL;
    *status = 0;
    nano_client_call_init(&call, method);
    nano_client_res_init(&r);
    if (nano_client_call_url(&call, url, "") != 0) {
        nano_log_error("%s: the URL is too long", what);
        goto out;
    }
    for (i = 0; headers != NULL && headers[i] != NULL; i++) {
        nano_client_call_header(&call, headers[i]);
    }
    if (auth != NULL
        && nano_client_call_auth(&call, "Authorization", "", auth) != 0)
    {
        goto out;
    }
    if (body != NULL) {
        call.body = body;
        call.body_len = strlen(body);
    }
    call.connect_ms = PLATFORM_OAUTH_CONNECT_MS;
    call.timeout_ms = PLATFORM_OAUTH_TIMEOUT_MS;
    call.body_max = PLATFORM_OAUTH_BODY_MAX;

    if (nano_client_do(&call, &r) != 0 || r.code != CURLE_OK) {
        nano_log_error("%s: %s", what, nano_client_why(&r));
        goto out;
    }
    *status = r.status;
    if (r.body.data != NULL) {
        j = json_loadb(r.body.data, r.body.len, 0, NULL);
    }
    if (j != NULL && !json_is_object(j) && !json_is_array(j)) {
        json_decref(j);
        j = NULL;
    }
    if (r.status >= 200 && r.status < 300 && j != NULL) {
        rc = 0;
    } else {
        /* OAuth's {"error": "invalid_grant"}, GitHub's {"message": …} */
        err = json_object_get(j, "error");
        if (!json_is_string(err)) {
            err = json_object_get(j, "message");
        }
        nano_log_error("%s: HTTP %ld%s%.80s", what, r.status,
                       json_is_string(err) ? ": " : "",
                       json_is_string(err) ? json_string_value(err)
                       : j == NULL ? " (not JSON)" : "");
    }
    *json = j;
out:
    nano_client_call_cleanup(&call);
    nano_client_res_cleanup(&r);
    return rc;
}

long long
platform_oauth_expires_at(json_t *tokens, long long now)
{
    json_t  *v = json_object_get(tokens, "expires_in");

    if (!json_is_integer(v) || json_integer_value(v) <= 0
        || json_integer_value(v) >= PLATFORM_OAUTH_EXPIRES_MAX)
    {
        return 0;
    }
    return now + (long long) json_integer_value(v);
}

char *
platform_oauth_text(const char *s, size_t max)
{
    nano_str_t   str;
    char        *out;

    if (s == NULL || !nano_utf8_valid(s)) {
        return NULL;
    }
    str.data = s;
    str.len = strlen(s);
    if (nano_jose_has_control(&str) || str.len > max) {
        return NULL;
    }
    out = strdup(s);
    if (out == NULL) {
        return NULL;
    }
    platform_trim(out);
    if (out[0] == '\0') {
        free(out);
        return NULL;
    }
    return out;
}

char *
platform_oauth_email(const char *raw)
{
    char  *email;

    if (raw == NULL) {
        return NULL;
    }
    email = nano_email_normalise(raw);
    if (email != NULL && nano_email_problem(email) != NULL) {
        free(email);
        email = NULL;
    }
    return email;
}

char *
platform_oauth_member(json_t *o, const char *name)
{
    json_t  *v = json_object_get(o, name);

    return json_is_string(v) && json_string_length(v) > 0
           ? strdup(json_string_value(v)) : NULL;
}

void
platform_oauth_code_body(nano_buf_t *b, const char *code,
    const char *redirect_uri)
{
    nano_buf_puts(b, "grant_type=authorization_code&code=");
    nano_buf_urlencode(b, code);
    nano_buf_puts(b, "&redirect_uri=");
    nano_buf_urlencode(b, redirect_uri);
}

char *
platform_oauth_basic_auth(const platform_oauth_provider_t *p)
{
    nano_buf_t   pair, out;
    char        *enc;

    nano_buf_init(&pair);
    nano_buf_urlencode(&pair, p->client_id);
    nano_buf_puts(&pair, ":");
    nano_buf_urlencode(&pair, p->client_secret);
    enc = pair.failed ? NULL
                      : nano_base64_encode((const unsigned char *) pair.data,
                                           pair.len);
    if (pair.data != NULL) {
        explicit_bzero(pair.data, pair.len);
    }
    nano_buf_cleanup(&pair);
    if (enc == NULL) {
        return NULL;
    }
    nano_buf_init(&out);
    nano_buf_printf(&out, "Basic %s", enc);
    explicit_bzero(enc, strlen(enc));
    free(enc);
    return nano_buf_steal(&out);
}

/* ---- pages ------------------------------------------------------------ */

/* One provider's sign-in form, as NextAuth's page has it. */
static void
platform_oauth_button(nano_buf_t *b, const platform_oauth_provider_t *p,
    const char *csrf, const char *callback, int link)
{
    nano_buf_printf(b, "<form class=\"nb-form nb-oauth\" method=\"post\""
                    " action=\"/api/auth/signin/%s\">\n"
                    "    <input type=\"hidden\" name=\"csrfToken\" value=\"",
                    p->id);
    nano_buf_html(b, csrf);
    nano_buf_puts(b, "\">\n    <input type=\"hidden\" name=\"callbackUrl\""
                  " value=\"");
    nano_buf_html(b, callback);
    nano_buf_puts(b, "\">\n");
    if (link) {
        nano_buf_puts(b, "    <input type=\"hidden\" name=\"link\""
                      " value=\"1\">\n");
    }
    /* not "Sign in with …": the credentials form's button is "Sign in" */
    nano_buf_printf(b, "    <button class=\"nb-button nb-button-%s\""
                    " type=\"submit\">%s %s</button>\n  </form>\n",
                    p->id, link ? "Link" : "Continue with", p->name);
}

char *
platform_oauth_signin_buttons(const char *csrf, const char *callback)
{
    nano_buf_t  b;
    size_t      i;

    nano_buf_init(&b);
    for (i = 0; i < PLATFORM_OAUTH_NPROVIDERS; i++) {
        if (platform_oauth_all[i]->configured) {
            if (b.len == 0) {
                nano_buf_puts(&b, "<p class=\"nb-oauth-or\">or</p>\n  ");
            }
            platform_oauth_button(&b, platform_oauth_all[i], csrf, callback,
                                  0);
        }
    }
    return nano_buf_steal(&b);
}

/* 1 when a form or query asks for a link ("1" or "true"). */
static int
platform_oauth_wants_link(const nano_form_t *f)
{
    const char  *v = nano_form_get(f, "link");

    return v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static int
platform_oauth_not_found(nano_res_t *res)
{
    return nano_res_error(res, 404, "not_found",
                          "no such sign-in provider is configured");
}

/* GET /api/auth/signin/<provider>: a page whose form posts to the
 * provider's sign-in with the CSRF token (?link=1: links it instead). */
int
platform_oauth_signin_page(nano_req_t *req, nano_res_t *res)
{
    const platform_oauth_provider_t  *p;
    nano_form_t                       q;
    nano_buf_t                        b, heading;
    char                              token[NANO_CSRF_TOKEN_LEN + 1];
    char                             *callback = NULL, *form = NULL;
    int                               status, link;

    nano_form_init(&q);
    nano_buf_init(&b);
    nano_buf_init(&heading);
    p = platform_oauth_find(nano_req_path_param(req, "provider"));
    if (p == NULL) {
        status = platform_oauth_not_found(res);
        goto out;
    }
    nano_req_query(req, &q);
    link = platform_oauth_wants_link(&q);
    callback = platform_query_callback(req, res);
    if (callback == NULL || platform_csrf_token(req, res, token) != 0) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    platform_oauth_button(&b, p, token, callback, link);
    nano_buf_printf(&heading, link ? "Link your %s account"
                                   : "Sign in with %s", p->name);
    form = nano_buf_steal(&b);
    if (form == NULL || heading.failed) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }

    const nano_page_var_t  vars[] = {
        { "heading", heading.data, 0 },
        { "form",    form,         1 },
    };
    status = nano_page_render(req, res, 200, "oauth.html",
                              nano_page_user(req), vars,
                              sizeof(vars) / sizeof(vars[0]));
out:
    free(form);
    free(callback);
    nano_buf_cleanup(&heading);
    nano_buf_cleanup(&b);
    nano_form_cleanup(&q);
    return status;
}

/* ---- the sign-in POST -------------------------------------------------- */

/* Sets one sealed cookie of a sign-in in flight; 0 or -1. */
static int
platform_oauth_set_cookie(const nano_req_t *req, nano_res_t *res,
    const platform_oauth_provider_t *p, int which, const char *value,
    long long now)
{
    const unsigned char  *key;
    size_t                klen;
    char                  purpose[64];
    char                 *sealed;
    int                   rc;

    key = nano_config_secret(req->config, &klen);
    snprintf(purpose, sizeof(purpose), "%s/%s",
             platform_oauth_purposes[which], p->id);
    sealed = nano_oauth_seal(key, klen, purpose, value,
                             now + NANO_OAUTH_MAX_AGE);
    if (sealed == NULL) {
        return -1;
    }
    rc = nano_res_cookie(res, platform_oauth_cookies[req->config->https != 0]
                                                   [which],
                         sealed, now + NANO_OAUTH_MAX_AGE,
                         req->config->https);
    free(sealed);
    return rc;
}

/* An error redirect as NextAuth answers it: /api/auth/error?error=code,
 * or {"url": …} for json. */
static int
platform_oauth_error(nano_req_t *req, nano_res_t *res, const char *code,
    int json)
{
    char  path[96], *url;
    int   status;

    snprintf(path, sizeof(path), "/api/auth/error?error=%s", code);
    url = platform_url(req, path);
    status = platform_redirect(res, url, json, 200);
    free(url);
    return status;
}

/* The state cookie's content: the state and, for a link, the user who
 * started it (so a link cannot be asked for by anyone else). */
static char *
platform_oauth_state_value(const char *state, const char *link_user)
{
    json_t  *v = json_pack("{s:s, s:s*}", "state", state, "link", link_user);
    char    *out = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;

    json_decref(v);
    return out;
}

/* Where a link without a fresh sign-in goes: the sign-in page saying
 * so, then back to this provider's link page (and on to callback). */
static char *
platform_oauth_reauth_url(const nano_req_t *req,
    const platform_oauth_provider_t *p, const char *callback)
{
    nano_buf_t   link, b;
    char        *url = NULL;

    nano_buf_init(&link);
    nano_buf_init(&b);
    nano_buf_printf(&link, "/api/auth/signin/%s?link=1&callbackUrl=", p->id);
    nano_buf_urlencode(&link, callback);
    nano_buf_puts(&b, "/api/auth/signin?error=ReauthRequired&callbackUrl=");
    if (!link.failed) {
        nano_buf_urlencode(&b, link.data);
    }
    if (!link.failed && !b.failed) {
        url = platform_url(req, b.data);
    }
    nano_buf_cleanup(&b);
    nano_buf_cleanup(&link);
    return url;
}

/* POST /api/auth/signin/<provider>: CSRF as the credentials sign-in,
 * then the redirect to the provider (or {"url"} for json=true). */
int
platform_oauth_signin(nano_req_t *req, nano_res_t *res)
{
    const platform_oauth_provider_t  *p;
    platform_session_t                ps;
    platform_session_state_t          sstate;
    nano_form_t                       f, q;
    nano_db_status_t                  st;
    const char                       *link_user = NULL;
    char                              state[NANO_OAUTH_RANDOM_LEN + 1];
    char                              verifier[NANO_OAUTH_RANDOM_LEN + 1];
    char                              challenge[NANO_OAUTH_RANDOM_LEN + 1];
    char                              nonce[NANO_OAUTH_RANDOM_LEN + 1];
    char                             *callback = NULL, *url = NULL;
    char                             *redirect_uri = NULL, *sv = NULL;
    char                              path[64];
    long long                         now = (long long) time(NULL);
    int                               status, json = 0, fresh = 0;

    nano_form_init(&f);
    nano_form_init(&q);
    platform_session_init(&ps);
    p = platform_oauth_find(nano_req_path_param(req, "provider"));
    if (p == NULL) {
        status = platform_oauth_not_found(res);
        goto out;
    }
    /* checked exactly as the credentials sign-in */
    status = platform_signin_begin(req, res, &f, &json, &callback);
    if (status != 0) {
        goto out;
    }
    nano_req_query(req, &q);

    /* a link belongs to the user signed in now, sealed into the state */
    if (platform_oauth_wants_link(&f) || platform_oauth_wants_link(&q)) {
        sstate = platform_session_check(req, nano_server_db(req), &ps, &st);
        if (sstate == PLATFORM_SESSION_ERROR) {
            status = nano_server_db_error(res, nano_server_db(req), st);
            goto out;
        }
        if (sstate != PLATFORM_SESSION_LIVE) {
            url = platform_url(req, "/api/auth/signin?error=SessionRequired");
            status = platform_redirect(res, url, json, 401);
            goto out;
        }
        /* a link adds a way in that outlives a password change and a
         * sign-out everywhere, and makes fresh OAuth sign-ins (which
         * may delete the account): a stolen cookie alone must not make
         * one, so the session must have signed in just now */
        st = platform_session_fresh_signin(nano_server_db(req), &ps, &fresh);
        if (st != NANO_DB_OK) {
            status = nano_server_db_error(res, nano_server_db(req), st);
            goto out;
        }
        if (!fresh) {
            nano_log_info("%s link refused for user %s: no sign-in within"
                          " " PLATFORM_FRESH_SECONDS " s", p->id, ps.user.id);
            url = platform_oauth_reauth_url(req, p, callback);
            status = platform_redirect(res, url, json, 403);
            goto out;
        }
        link_user = ps.user.id;
    }

    snprintf(path, sizeof(path), "/api/auth/callback/%s", p->id);
    redirect_uri = platform_url(req, path);
    if (redirect_uri == NULL || nano_oauth_random(state) != 0
        || nano_oauth_random(verifier) != 0
        || nano_oauth_challenge(verifier, challenge) != 0
        || nano_oauth_random(nonce) != 0
        || (sv = platform_oauth_state_value(state, link_user)) == NULL)
    {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }

    /* Google's endpoint comes from its discovery document */
    url = p->authorize(p, redirect_uri, state, p->pkce ? challenge : NULL,
                       p->nonce ? nonce : NULL);
    if (url == NULL) {
        status = platform_oauth_error(req, res, "OAuthSignin", json);
        goto out;
    }
    if (platform_oauth_set_cookie(req, res, p, PLATFORM_OAUTH_STATE, sv, now)
        != 0
        || (p->pkce && platform_oauth_set_cookie(req, res, p,
                                                 PLATFORM_OAUTH_PKCE,
                                                 verifier, now) != 0)
        || (p->nonce && platform_oauth_set_cookie(req, res, p,
                                                  PLATFORM_OAUTH_NONCE,
                                                  nonce, now) != 0))
    {
        status = nano_res_error(res, 500, "internal", "cannot set cookies");
        goto out;
    }
    nano_log_info("%s sign-in started%s", p->id,
                  link_user != NULL ? " (a link)" : "");
    status = platform_redirect(res, url, json, 200);
out:
    explicit_bzero(verifier, sizeof(verifier));
    free(sv);
    free(redirect_uri);
    free(url);
    free(callback);
    platform_session_cleanup(&ps);
    nano_form_cleanup(&q);
    nano_form_cleanup(&f);
    return status;
}

/* ---- the callback ------------------------------------------------------- */

/* Opens the sealed cookie which of provider p; a new string, or NULL
 * when absent, forged, for another provider or expired (logged). */
static char *
platform_oauth_cookie(const nano_req_t *req, const platform_oauth_provider_t *p,
    int which, long long now)
{
    const unsigned char  *key;
    nano_oauth_status_t   st;
    nano_str_t            v;
    size_t                klen;
    char                  purpose[64];
    char                 *value = NULL;
    const char           *name;

    name = platform_oauth_cookies[req->config->https != 0][which];
    if (nano_req_cookie(req, name, &v) != NANO_COOKIE_FOUND) {
        nano_log_warn("%s callback: no %s cookie", p->id, name);
        return NULL;
    }
    key = nano_config_secret(req->config, &klen);
    snprintf(purpose, sizeof(purpose), "%s/%s",
             platform_oauth_purposes[which], p->id);
    st = nano_oauth_open(key, klen, purpose, v.data, v.len, now, &value);
    if (st != NANO_OAUTH_OK) {
        nano_log_warn("%s callback: %s cookie refused (%s)", p->id, name,
                      nano_oauth_status_name(st));
    }
    return value;
}

/* The state cookie's state and link user (new strings); 0 or -1. */
static int
platform_oauth_read_state(const char *value, char **state, char **link_user)
{
    json_t      *v = json_loads(value, 0, NULL);
    const char  *s = NULL, *l = NULL;
    int          rc = -1;

    *state = NULL;
    *link_user = NULL;
    if (json_unpack(v, "{s:s, s?:s}", "state", &s, "link", &l) == 0) {
        *state = strdup(s);
        *link_user = l != NULL ? strdup(l) : NULL;
        rc = *state != NULL && (l == NULL || *link_user != NULL) ? 0 : -1;
    }
    json_decref(v);
    return rc;
}

/* Ends a sign-in in flight: its cookies go, whatever the outcome (as
 * NextAuth deletes them once used). */
static void
platform_oauth_clear_cookies(const nano_req_t *req, nano_res_t *res)
{
    int  which;

    for (which = 0; which < 3; which++) {
        nano_res_cookie(res, platform_oauth_cookies[req->config->https != 0]
                                                   [which],
                        "", -1, req->config->https);
    }
}

/* GET /api/auth/callback/<provider>?code&state (or ?error). */
int
platform_oauth_callback(nano_req_t *req, nano_res_t *res)
{
    const platform_oauth_provider_t  *p;
    platform_oauth_profile_t          profile;
    platform_oauth_outcome_t          outcome = PLATFORM_OAUTH_SIGNED_IN;
    nano_form_t                       q;
    nano_db_status_t                  st;
    nano_db_t                        *db;
    const char                       *code, *given, *error, *why = NULL;
    char                             *sealed_state = NULL, *verifier = NULL;
    char                             *nonce = NULL, *state = NULL;
    char                             *link_user = NULL, *redirect_uri = NULL;
    char                             *url = NULL, path[64];
    long long                         now = (long long) time(NULL);
    int                               status;

    nano_form_init(&q);
    platform_oauth_profile_init(&profile);
    p = platform_oauth_find(nano_req_path_param(req, "provider"));
    if (p == NULL) {
        status = platform_oauth_not_found(res);
        goto out;
    }
    platform_oauth_clear_cookies(req, res);
    nano_req_query(req, &q);
    error = nano_form_get(&q, "error");
    code = nano_form_get(&q, "code");
    given = nano_form_get(&q, "state");

    if (error != NULL) {
        nano_log_info("%s callback: the provider answered error=%.40s",
                      p->id, error);
        status = platform_oauth_error(req, res,
                                      strcmp(error, "access_denied") == 0
                                      ? "AccessDenied" : "OAuthCallback", 0);
        goto out;
    }
    sealed_state = platform_oauth_cookie(req, p, PLATFORM_OAUTH_STATE, now);
    if (sealed_state == NULL
        || platform_oauth_read_state(sealed_state, &state, &link_user) != 0)
    {
        why = "no valid state cookie";
    } else if (given == NULL || !nano_oauth_equal(given, state)) {
        why = "the state differs from the cookie's";
    } else if (code == NULL || code[0] == '\0') {
        why = "no code";
    } else if (p->pkce && (verifier = platform_oauth_cookie(
                               req, p, PLATFORM_OAUTH_PKCE, now)) == NULL) {
        why = "no valid PKCE cookie";
    } else if (p->nonce && (nonce = platform_oauth_cookie(
                                req, p, PLATFORM_OAUTH_NONCE, now)) == NULL) {
        why = "no valid nonce cookie";
    }
    if (why != NULL) {
        nano_log_warn("%s callback refused: %s", p->id, why);
        status = platform_oauth_error(req, res, "OAuthCallback", 0);
        goto out;
    }

    snprintf(path, sizeof(path), "/api/auth/callback/%s", p->id);
    redirect_uri = platform_url(req, path);
    if (redirect_uri == NULL
        || p->profile(p, code, redirect_uri, verifier, nonce, &profile) != 0)
    {
        status = platform_oauth_error(req, res, "OAuthCallback", 0);
        goto out;
    }

    db = nano_server_db(req);
    st = db != NULL ? platform_oauth_finish(req, res, db, p, &profile,
                                            link_user, &outcome)
                    : NANO_DB_UNAVAILABLE;
    if (st != NANO_DB_OK) {
        /* a browser came back from the provider: NextAuth sends a
         * failed callback to its error page, where our 503 JSON was
         * shown as text (nano_server_db_error logs and picks the
         * status) */
        status = nano_server_db_error(res, db, st);
        status = platform_oauth_error(req, res, status == 503
                                      ? "ServiceUnavailable" : "Callback",
                                      0);
        goto out;
    }
    switch (outcome) {
    case PLATFORM_OAUTH_NOT_LINKED:
        status = platform_oauth_error(req, res, "OAuthAccountNotLinked", 0);
        goto out;
    case PLATFORM_OAUTH_NO_EMAIL:
        status = platform_oauth_error(req, res, "OAuthCreateAccount", 0);
        goto out;
    case PLATFORM_OAUTH_LINK_LOST:
        url = platform_url(req, "/api/auth/signin?error=SessionRequired");
        status = platform_redirect(res, url, 0, 200);
        goto out;
    default:
        break;
    }
    /* where the sign-in began: NextAuth's callback-url cookie */
    url = platform_callback(req, res, NULL);
    status = platform_redirect(res, url, 0, 200);
out:
    free(url);
    free(redirect_uri);
    free(link_user);
    free(state);
    if (verifier != NULL) {
        explicit_bzero(verifier, strlen(verifier));
    }
    free(verifier);
    free(nonce);
    free(sealed_state);
    platform_oauth_profile_cleanup(&profile);
    nano_form_cleanup(&q);
    return status;
}
