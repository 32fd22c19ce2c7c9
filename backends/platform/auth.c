/*
 * /api/auth/...: NextAuth v4's REST API for the credentials provider
 * (the OAuth providers' routes are in oauth.c).
 * The behaviour (status codes, redirects, json=true, cookies) follows
 * next-auth/core so that V1 clients and next-auth/react keep working.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nano_csrf.h"
#include "nano_email.h"
#include "nano_log.h"
#include "nano_page.h"
#include "nano_password.h"
#include "nano_server.h"
#include "platform.h"

/* Sign-in errors shown on the sign-in page, not the error page:
 * NextAuth's, and ours for a throttled sign-in and for a link that needs
 * a fresh sign-in. */
static const char *const  platform_signin_errors[] = {
    "Signin", "OAuthSignin", "OAuthCallback", "OAuthCreateAccount",
    "EmailCreateAccount", "Callback", "OAuthAccountNotLinked", "EmailSignin",
    "CredentialsSignin", "SessionRequired", "RateLimited", "ReauthRequired",
    "ServiceUnavailable",
};

int
platform_auth_csrf(nano_req_t *req, nano_res_t *res)
{
    char  token[NANO_CSRF_TOKEN_LEN + 1];

    if (platform_csrf_token(req, res, token) != 0) {
        return nano_res_error(res, 500, "internal", "cannot make a token");
    }
    return nano_res_json(res, 200, json_pack("{s:s}", "csrfToken", token));
}

int
platform_auth_providers(nano_req_t *req, nano_res_t *res)
{
    const char  *o = req->config->origin;
    char         signin[NANO_ORIGIN_MAX + 64], callback[NANO_ORIGIN_MAX + 64];

    json_t      *all;

    snprintf(signin, sizeof(signin), "%s/api/auth/signin/credentials", o);
    snprintf(callback, sizeof(callback), "%s/api/auth/callback/credentials",
             o);
    all = json_pack("{s:{s:s, s:s, s:s, s:s, s:s}}",
                    "credentials",
                    "id", "credentials",
                    "name", "Credentials",
                    "type", "credentials",
                    "signinUrl", signin,
                    "callbackUrl", callback);
    /* and the OAuth providers that are configured */
    if (all != NULL && platform_oauth_providers_json(all, o) != 0) {
        json_decref(all);
        all = NULL;
    }
    return nano_res_json(res, 200, all);
}

/* A user's field as a JSON string, or null. */
static json_t *
platform_json_str(const char *v)
{
    return v != NULL ? json_string(v) : json_null();
}

/* The session endpoint's answer for a live session. */
static int
platform_session_json(nano_res_t *res, const char *name, const char *email,
    const char *image, long long exp)
{
    char       iso[32];
    time_t     t = (time_t) exp;
    struct tm  tm;

    gmtime_r(&t, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    return nano_res_json(res, 200,
                         json_pack("{s:{s:o, s:o, s:o}, s:s}",
                                   "user",
                                   "name", platform_json_str(name),
                                   "email", platform_json_str(email),
                                   "image", platform_json_str(image),
                                   "expires", iso));
}

/* A claim as a C string, or NULL when the token has none. */
static const char *
platform_claim(const nano_str_t *s)
{
    return s->len > 0 ? s->data : NULL;
}

/*
 * The session endpoint: the session if the database still knows it as
 * live, re-issued when renew (an update) or when it is a day old; {}
 * and the cookie cleared otherwise.  With the database out of reach,
 * a read or an update answers from the token the gateway admitted (its
 * signature, expiry and revocation snapshot checked), nothing
 * re-issued, as NextAuth's JWT sessions never ask a database: a 503
 * there made next-auth/react's useSession({required: true}) send every
 * open page to the sign-in page during a database restart, while the
 * gateway went on admitting the same cookie (found by the nextauth
 * probe), and made update() answer null where NextAuth's answers the
 * session (found by the authedges probe).
 */
static int
platform_session_answer(nano_req_t *req, nano_res_t *res, int renew)
{
    platform_session_t         ps;
    platform_session_state_t   state;
    nano_db_status_t           st;
    nano_db_t                 *db;
    long long                  now = (long long) time(NULL), exp;
    long long                  issued;
    int                        status;

    platform_session_init(&ps);
    db = nano_server_db(req);
    state = platform_session_check(req, db, &ps, &st);
    if (state == PLATFORM_SESSION_ERROR && st == NANO_DB_UNAVAILABLE
        && strcmp(nano_req_param_str(req, "NANO_USER_ID"),
                  ps.token.claims.sub.data) == 0)
    {
        status = platform_session_json(res,
                                       platform_claim(&ps.token.claims.name),
                                       platform_claim(&ps.token.claims.email),
                                       platform_claim(
                                           &ps.token.claims.picture),
                                       ps.token.claims.exp);
        goto out;
    }
    if (state == PLATFORM_SESSION_ERROR) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    if (state != PLATFORM_SESSION_LIVE) {
        /* NextAuth drops a cookie it cannot use. */
        if (ps.token.present) {
            platform_session_drop(req, res, &ps);
        }
        if (state == PLATFORM_SESSION_DEAD) {
            nano_log_info("session of user %s refused: revoked or gone",
                          ps.token.claims.sub.data);
        }
        status = nano_res_json(res, 200, json_object());
        goto out;
    }

    exp = ps.token.claims.exp;
    if (renew || !ps.token.claims.has_iat
        || now - ps.token.claims.iat >= nano_session_update_age())
    {
        /* same session id, a fresh lifetime, the user as stored now */
        st = platform_session_start(req, res, db, &ps.user,
                                    ps.token.claims.jti.len > 0
                                    ? ps.token.claims.jti.data : NULL,
                                    &issued);
        if (!issued) {
            nano_log_error("cannot renew a session; keeping the old cookie");
        } else {
            exp = issued;
        }
    } else {
        st = platform_session_touch(req, db, &ps);
    }
    if (st != NANO_DB_OK) {
        /* bookkeeping only: the session itself was checked */
        nano_log_warn("cannot record a session's use: %s",
                      nano_db_last_error(db));
    }

    status = platform_session_json(res, ps.user.name, ps.user.email,
                                   ps.user.image, exp);
out:
    platform_session_cleanup(&ps);
    return status;
}

int
platform_auth_session(nano_req_t *req, nano_res_t *res)
{
    return platform_session_answer(req, res, 0);
}

/* useSession().update(): a POST with the CSRF token in its body. */
int
platform_auth_session_update(nano_req_t *req, nano_res_t *res)
{
    nano_form_t  f;
    unsigned     flags = 0;
    int          status;

    nano_form_init(&f);
    if (nano_req_fields(req, res, &f, &flags) != 0
        || !platform_csrf_ok(req, nano_form_get(&f, "csrfToken")))
    {
        /* NextAuth answers an unverified update with 400 {} */
        status = nano_res_json(res, 400, json_object());
        goto out;
    }
    status = platform_session_answer(req, res, 1);
out:
    nano_form_cleanup(&f);
    return status;
}

/* The sign-in page's message for a NextAuth error code, or NULL. */
static const char *
platform_signin_message(const char *error)
{
    if (error == NULL || error[0] == '\0') {
        return NULL;
    }
    if (strcmp(error, "CredentialsSignin") == 0) {
        return "Sign in failed. Check that your email and password are"
               " correct.";
    }
    if (strcmp(error, "SessionRequired") == 0) {
        return "Please sign in to open this page.";
    }
    if (strcmp(error, "ReauthRequired") == 0) {
        return "To connect another account, sign in again first: a link"
               " needs a sign-in from the last 10 minutes.";
    }
    if (strcmp(error, "RateLimited") == 0) {
        return "Too many sign-in attempts. Wait a minute, then try again.";
    }
    if (strcmp(error, "ServiceUnavailable") == 0) {
        return "Signing in is unavailable for a moment. Try again soon.";
    }
    if (strcmp(error, "CrossSite") == 0) {
        return "A sign-in sent from another site or another address of this"
               " one was refused. Sign in here.";
    }
    if (strcmp(error, "OAuthAccountNotLinked") == 0) {
        return "An account with this email address already exists. Sign in"
               " the way you did before, then connect this account in"
               " Settings.";
    }
    if (strcmp(error, "OAuthCreateAccount") == 0) {
        return "Could not create an account: the provider gave no verified"
               " email address. Try another way to sign in.";
    }
    if (strcmp(error, "OAuthSignin") == 0) {
        return "Could not reach the sign-in provider. Try again in a"
               " moment.";
    }
    if (strcmp(error, "OAuthCallback") == 0) {
        return "The sign-in with the provider could not be completed. Try"
               " again.";
    }
    return "Unable to sign in.";
}

/* Renders the sign-in page with status and message. */
static int
platform_signin_render(nano_req_t *req, nano_res_t *res, int status,
    const char *message)
{
    char   token[NANO_CSRF_TOKEN_LEN + 1];
    char  *callback = NULL, *signup = NULL, *providers = NULL;

    callback = platform_query_callback(req, res);
    if (callback == NULL || platform_csrf_token(req, res, token) != 0
        || (signup = platform_link_with_callback("/signup", callback)) == NULL
        || (providers = platform_oauth_signin_buttons(token, callback))
           == NULL)
    {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }

    const nano_page_var_t  vars[] = {
        { "csrf_token",   token,     0 },
        { "callback_url", callback,  0 },
        { "error",        message,   0 },
        { "signup_url",   signup,    0 },
        { "providers",    providers, 1 },
    };
    status = nano_page_render(req, res, status, "signin.html", NULL, vars,
                              sizeof(vars) / sizeof(vars[0]));
out:
    free(providers);
    free(signup);
    free(callback);
    return status;
}

int
platform_signin_form(nano_req_t *req, nano_res_t *res, int status,
    const char *error)
{
    return platform_signin_render(req, res, status,
                                  platform_signin_message(error));
}

int
platform_auth_signin_page(nano_req_t *req, nano_res_t *res)
{
    nano_form_t   q;
    const char   *csrf, *message;
    int           status;

    nano_form_init(&q);
    nano_req_query(req, &q);
    csrf = nano_form_get(&q, "csrf");
    message = csrf != NULL && strcmp(csrf, "true") == 0
              ? "Your sign-in form expired. Please try again."
              : platform_signin_message(nano_form_get(&q, "error"));
    status = platform_signin_render(req, res, 200, message);
    nano_form_cleanup(&q);
    return status;
}

int
platform_auth_signout_page(nano_req_t *req, nano_res_t *res)
{
    nano_form_t      q;
    const char      *csrf, *error, *message = NULL;
    char             token[NANO_CSRF_TOKEN_LEN + 1];
    char            *callback = NULL;
    int              status;

    nano_form_init(&q);
    nano_req_query(req, &q);

    callback = platform_query_callback(req, res);
    if (callback == NULL || platform_csrf_token(req, res, token) != 0) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    csrf = nano_form_get(&q, "csrf");
    error = nano_form_get(&q, "error");
    if (csrf != NULL && strcmp(csrf, "true") == 0) {
        message = "Your sign-out form expired. Please try again.";
    } else if (error != NULL && strcmp(error, "CrossSite") == 0) {
        message = "A sign-out sent from another site or another address of"
                  " this one was refused, and you are still signed in. Sign"
                  " out here.";
    } else if (error != NULL && strcmp(error, "ServiceUnavailable") == 0) {
        message = "Signing out is unavailable for a moment, and you are"
                  " still signed in. Try again soon.";
    } else if (error != NULL && error[0] != '\0') {
        message = "Could not sign out, and you are still signed in. Try"
                  " again.";
    }

    const nano_page_var_t  vars[] = {
        { "csrf_token",   token,    0 },
        { "callback_url", callback, 0 },
        { "error",        message,  0 },
    };
    status = nano_page_render(req, res, 200, "signout.html",
                              nano_page_user(req), vars,
                              sizeof(vars) / sizeof(vars[0]));
out:
    free(callback);
    nano_form_cleanup(&q);
    return status;
}

int
platform_auth_error_page(nano_req_t *req, nano_res_t *res)
{
    nano_form_t   q;
    nano_buf_t    path;
    const char   *error, *heading, *message;
    char         *url;
    size_t        i;
    int           status = 200;

    nano_form_init(&q);
    nano_buf_init(&path);
    nano_req_query(req, &q);
    error = nano_form_get(&q, "error");
    if (error == NULL || error[0] == '\0') {
        error = "Default";
    }

    for (i = 0; i < sizeof(platform_signin_errors) / sizeof(char *); i++) {
        if (strcmp(error, platform_signin_errors[i]) == 0) {
            nano_buf_puts(&path, "/api/auth/signin?error=");
            nano_buf_urlencode(&path, error);
            url = path.failed ? NULL : platform_url(req, path.data);
            status = platform_redirect(res, url, 0, 302);
            free(url);
            goto out;
        }
    }

    if (strcasecmp(error, "Configuration") == 0) {
        status = 500;
        heading = "Server error";
        message = "There is a problem with the server configuration.";
    } else if (strcasecmp(error, "AccessDenied") == 0) {
        /* the provider's error=access_denied: consent was not given */
        status = 403;
        heading = "Access denied";
        message = "The sign-in was cancelled, or the provider did not"
                  " grant access. You can try again.";
    } else if (strcasecmp(error, "Verification") == 0) {
        status = 403;
        heading = "Unable to sign in";
        message = "The sign-in link is no longer valid.";
    } else {
        heading = "Error";
        message = "Something went wrong while signing in.";
    }

    const nano_page_var_t  vars[] = {
        { "heading", heading, 0 },
        { "message", message, 0 },
    };
    status = nano_page_render(req, res, status, "error.html", NULL, vars,
                              sizeof(vars) / sizeof(vars[0]));
out:
    nano_buf_cleanup(&path);
    nano_form_cleanup(&q);
    return status;
}

/* Reads a POST's fields (form or JSON) and NextAuth's json flag; a JSON
 * body asks for JSON answers too.  Answers 4xx itself (returns the
 * status) or returns 0. */
static int
platform_post_fields(nano_req_t *req, nano_res_t *res, nano_form_t *f,
    int *json)
{
    const char  *j;
    unsigned     flags = 0;
    int          status;

    status = nano_req_fields(req, res, f, &flags);
    if (status != 0) {
        return status;
    }
    j = nano_form_get(f, "json");
    *json = (flags & NANO_FIELDS_JSON) || (j != NULL && strcmp(j, "true") == 0);
    return 0;
}

/*
 * A cross-site sign-in or sign-out form.  A person who opened the site under
 * another name of the machine (127.0.0.1 or its IP where make run printed
 * localhost) and posted the form got bare JSON; a browser's navigation is
 * sent to the form at the site's own address instead, saying why.  The
 * refusal stands either way; scripts still get 403 JSON.
 */
static int
platform_cross_site_refused(nano_req_t *req, nano_res_t *res,
    const char *page, const char *message)
{
    char  *url;
    int    status;

    if (!nano_req_wants_page(req)) {
        return nano_res_error(res, 403, "cross_site", message);
    }
    url = platform_url(req, page);
    status = platform_redirect(res, url, 0, 302);
    free(url);
    return status;
}

int
platform_signin_begin(nano_req_t *req, nano_res_t *res, nano_form_t *f,
    int *json, char **callback)
{
    char  *url;
    int    status;

    *callback = NULL;
    if (nano_req_cross_site(req)) {
        nano_log_warn("cross-site sign-in refused");
        return platform_cross_site_refused(req, res,
            "/api/auth/signin?error=CrossSite",
            "sign-in is only accepted from this site");
    }
    status = platform_post_fields(req, res, f, json);
    if (status != 0) {
        return status;
    }
    *callback = platform_callback(req, res, nano_form_get(f, "callbackUrl"));
    if (*callback == NULL) {
        return nano_res_error(res, 500, "internal", "out of memory");
    }
    if (!platform_csrf_ok(req, nano_form_get(f, "csrfToken"))) {
        url = platform_url(req, "/api/auth/signin?csrf=true");
        status = platform_redirect(res, url, *json, 200);
        free(url);
        return status;
    }
    return 0;
}

/*
 * A sign-in that could not be checked: the database out of reach or
 * busy (503), or a failure of ours (500), whose JSON error res already
 * holds.  next-auth/react's signIn() reads the answer's url with
 * new URL(data.url), so an answer without one threw "Invalid URL" out
 * of it; NextAuth, whose authorize() threw, answers with the error
 * page's URL.  So JSON gets a url as well (ServiceUnavailable, else
 * NextAuth's generic Signin), and the sign-in page's own form post gets
 * that page again with the status and a message, as a throttled one.
 */
/* The JSON error res holds, with "url": the origin and path added. */
static int
platform_error_url(nano_req_t *req, nano_res_t *res, int status,
    const char *path)
{
    json_t  *body;
    char    *url;

    body = json_loadb(res->body.data != NULL ? res->body.data : "",
                      res->body.len, 0, NULL);
    url = platform_url(req, path);
    if (json_is_object(body) && url != NULL
        && json_object_set_new(body, "url", json_string(url)) == 0)
    {
        status = nano_res_json(res, status, body);
        body = NULL;
    }
    json_decref(body);
    free(url);
    return status;
}

static int
platform_signin_unchecked(nano_req_t *req, nano_res_t *res, int json,
    int status)
{
    if (status < 500) {
        return status;
    }
    if (!json) {
        return platform_signin_form(req, res, status, status == 503
                                    ? "ServiceUnavailable" : "Signin");
    }
    return platform_error_url(req, res, status, status == 503
                              ? "/api/auth/error?error=ServiceUnavailable"
                              : "/api/auth/error?error=Signin");
}

/* A refused sign-in, as NextAuth answers it. */
static int
platform_signin_refused(nano_req_t *req, nano_res_t *res, int json)
{
    char  *url;
    int    status;

    url = platform_url(req, "/api/auth/error?error=CredentialsSignin"
                            "&provider=credentials");
    status = platform_redirect(res, url, json, 401);
    free(url);
    return status;
}

int
platform_auth_callback_credentials(nano_req_t *req, nano_res_t *res)
{
    platform_user_t          user, current;
    nano_form_t              f;
    nano_db_status_t         st;
    nano_db_t               *db = NULL;
    nano_password_result_t   pr;
    const char              *password;
    char                    *email = NULL, *callback = NULL;
    long long                wait;
    long long                issued;
    int                      status, json = 0, found = 0;

    platform_user_init(&user);
    platform_user_init(&current);
    nano_form_init(&f);

    status = platform_signin_begin(req, res, &f, &json, &callback);
    if (status != 0) {
        goto out;
    }

    /* a flood must cost nothing but this answer: no database work for
     * an attempt that could not be checked anyway */
    if (nano_password_saturated()) {
        status = platform_busy(req, res, json);
        goto out;
    }

    /* a field that was not UTF-8 is absent: the sign-in just fails */
    email = nano_email_normalise(nano_form_get(&f, "email")
                                 ? nano_form_get(&f, "email") : "");
    password = nano_form_get(&f, "password");
    if (email != NULL && email[0] != '\0' && password != NULL
        && password[0] != '\0'
        && strlen(password) <= NANO_PASSWORD_SIGNIN_MAX)
    {
        db = nano_server_db(req);
        st = db != NULL ? platform_throttle_attempt(db, email, &wait)
                        : NANO_DB_UNAVAILABLE;
        if (st == NANO_DB_OK && wait > 0) {
            nano_log_warn("sign-in throttled for an account");
            status = platform_rate_limited(req, res, json, wait);
            goto out;
        }
        if (st == NANO_DB_OK) {
            st = platform_user_find(db, email, &user, &found);
        }
        if (st != NANO_DB_OK) {
            status = platform_signin_unchecked(req, res, json,
                         nano_server_db_error(res, db, st));
            goto out;
        }
    }

    /* Always one bcrypt run, found or not (see nano_password_verify),
     * with no database connection held meanwhile */
    pr = platform_password_check(req, password, found ? user.password
                                                      : NULL);
    if (pr == NANO_PASSWORD_BUSY) {
        status = platform_busy(req, res, json);
        goto out;
    }
    if (pr != NANO_PASSWORD_OK || !found) {
        nano_log_info("sign-in refused for an unknown user or wrong password");
        status = platform_signin_refused(req, res, json);
        goto out;
    }

    /* bcrypt took its time, with the row read before it: the session is
     * made from the row as it is now, locked until it is recorded.  A
     * password change committed meanwhile refuses the sign-in: the
     * password checked is no longer the account's, and a session issued
     * a second after the change's cut-off outlived the change by 30 days.
     * A change that comes after the lock waits for it, and its cut-off
     * then lies after this session's iat. */
    db = nano_server_db(req);
    st = db != NULL ? nano_db_begin(db) : NANO_DB_UNAVAILABLE;
    if (st == NANO_DB_OK) {
        st = platform_user_get_locked(db, user.id, &current, &found);
    }
    if (st == NANO_DB_OK
        && (!found || current.password == NULL
            || strcmp(current.password, user.password) != 0))
    {
        nano_db_rollback(db);
        nano_log_info("sign-in refused: the password changed while it was"
                      " checked");
        status = platform_signin_refused(req, res, json);
        goto out;
    }
    if (st == NANO_DB_OK) {
        st = platform_throttle_clear(db, email);
    }
    if (st == NANO_DB_OK) {
        st = platform_session_start_as(req, res, db, &current, NULL,
                                       "credentials", &issued);
    }
    st = nano_db_finish(db, st);
    if (st != NANO_DB_OK) {
        status = platform_signin_unchecked(req, res, json,
                     nano_server_db_error(res, db, st));
        goto out;
    }
    if (!issued) {
        status = platform_signin_unchecked(req, res, json,
                     nano_res_error(res, 500, "internal",
                                    "cannot issue a session"));
        goto out;
    }
    nano_log_info("user %s signed in", user.id);
    status = platform_redirect(res, callback, json, 200);

out:
    free(callback);
    free(email);
    nano_form_cleanup(&f);
    platform_user_cleanup(&user);
    platform_user_cleanup(&current);
    return status;
}

/* POST /api/auth/signin/<provider>: for credentials NextAuth only sends
 * the browser to the sign-in page (after the CSRF check). */
int
platform_auth_signin_provider(nano_req_t *req, nano_res_t *res)
{
    nano_form_t   f;
    const char   *given;
    char         *url;
    int           status, json = 0, ok;

    nano_form_init(&f);
    status = platform_post_fields(req, res, &f, &json);
    if (status != 0) {
        goto out;
    }
    ok = platform_csrf_ok(req, nano_form_get(&f, "csrfToken"));
    /* NextAuth keeps a posted callbackUrl in its callback-url cookie,
     * which the sign-in page it sends the browser to posts on; without
     * it that page went back to an older cookie's page */
    given = nano_form_get(&f, "callbackUrl");
    if (ok && given != NULL && given[0] != '\0') {
        free(platform_callback(req, res, given));
    }
    url = platform_url(req, ok ? "/api/auth/signin"
                               : "/api/auth/signin?csrf=true");
    status = platform_redirect(res, url, json, 200);
    free(url);
out:
    nano_form_cleanup(&f);
    return status;
}

int
platform_auth_signout(nano_req_t *req, nano_res_t *res)
{
    platform_session_t   ps;
    nano_form_t          f;
    nano_db_status_t     st;
    nano_db_t           *db;
    const nano_claims_t *c;
    const char          *path;
    char                *url = NULL;
    int                  status, json = 0;

    nano_form_init(&f);
    platform_session_init(&ps);
    /* NextAuth checks only the token here; the rule of every other POST
     * of ours keeps another site from signing a user out */
    if (nano_req_cross_site(req)) {
        nano_log_warn("cross-site sign-out refused");
        status = platform_cross_site_refused(req, res,
            "/api/auth/signout?error=CrossSite",
            "sign-out is only accepted from this site");
        goto out;
    }
    status = platform_post_fields(req, res, &f, &json);
    if (status != 0) {
        goto out;
    }
    if (!platform_csrf_ok(req, nano_form_get(&f, "csrfToken"))) {
        url = platform_url(req, "/api/auth/signout?csrf=true");
        status = platform_redirect(res, url, json, 200);
        goto out;
    }

    /* a copied cookie must die with this one: revoke its session id */
    c = &ps.token.claims;
    if (nano_session_read(req, (long long) time(NULL), &ps.token)
        == NANO_TOKEN_OK && c->jti.len > 0)
    {
        db = nano_server_db(req);
        st = db != NULL ? platform_session_revoke(db, c->jti.data,
                                                  c->sub.data)
                        : NANO_DB_UNAVAILABLE;
        if (st != NANO_DB_OK) {
            /* keep the cookie: signed out here but alive elsewhere
             * would be worse than a retry.  But say so: signOut() goes
             * to the answer's url, else to its callbackUrl, where the
             * person stood still signed in and told nothing (and the
             * sign-out page's form showed the JSON) */
            status = nano_server_db_error(res, db, st);
            path = status == 503
                   ? "/api/auth/signout?error=ServiceUnavailable"
                   : "/api/auth/signout?error=Signout";
            if (status < 500) {
                goto out;
            }
            if (json) {
                status = platform_error_url(req, res, status, path);
            } else {
                url = platform_url(req, path);
                status = platform_redirect(res, url, 0, 200);
            }
            goto out;
        }
        nano_log_info("user %s signed out", c->sub.data);
    }
    if (nano_session_clear(req, res) != 0) {
        status = nano_res_error(res, 500, "internal",
                                "cannot clear the session");
        goto out;
    }
    /* the callbackUrl posted, else NextAuth's callback-url cookie */
    url = platform_callback(req, res, nano_form_get(&f, "callbackUrl"));
    status = platform_redirect(res, url, json, 200);
out:
    free(url);
    platform_session_cleanup(&ps);
    nano_form_cleanup(&f);
    return status;
}

/* next-auth/react reports client errors here; NextAuth answers {}. */
int
platform_auth_log(nano_req_t *req, nano_res_t *res)
{
    (void) req;
    return nano_res_json(res, 200, json_object());
}
