/*
 * /api/auth/...: NextAuth v4's REST API for the credentials provider.
 * The behaviour (status codes, redirects, json=true, cookies) follows
 * next-auth/core so that V1 clients and next-auth/react keep working.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_csrf.h"
#include "nano_log.h"
#include "nano_page.h"
#include "nano_password.h"
#include "nano_server.h"
#include "platform.h"

#define PLATFORM_PASSWORD_MAX  200     /* bytes; longer never matches */

/* Sign-in errors NextAuth shows on the sign-in page, not the error page. */
static const char *const  platform_signin_errors[] = {
    "Signin", "OAuthSignin", "OAuthCallback", "OAuthCreateAccount",
    "EmailCreateAccount", "Callback", "OAuthAccountNotLinked", "EmailSignin",
    "CredentialsSignin", "SessionRequired",
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

    snprintf(signin, sizeof(signin), "%s/api/auth/signin/credentials", o);
    snprintf(callback, sizeof(callback), "%s/api/auth/callback/credentials",
             o);
    return nano_res_json(res, 200,
                         json_pack("{s:{s:s, s:s, s:s, s:s, s:s}}",
                                   "credentials",
                                   "id", "credentials",
                                   "name", "Credentials",
                                   "type", "credentials",
                                   "signinUrl", signin,
                                   "callbackUrl", callback));
}

/* A claim as a JSON string, or null when absent. */
static json_t *
platform_claim(const nano_str_t *s)
{
    return s->len > 0 ? json_stringn(s->data, s->len) : json_null();
}

int
platform_auth_session(nano_req_t *req, nano_res_t *res)
{
    nano_session_t        s;
    nano_session_user_t   user;
    long long             now = (long long) time(NULL), exp;
    char                  iso[32];
    time_t                t;
    struct tm             tm;
    int                   status;

    nano_session_init(&s);
    if (nano_session_read(req, now, &s) != NANO_TOKEN_OK) {
        /* NextAuth drops a cookie it cannot use. */
        if (s.present) {
            nano_session_clear(req, res);
        }
        status = nano_res_json(res, 200, json_object());
        goto out;
    }

    exp = s.claims.exp;
    if (!s.claims.has_iat || now - s.claims.iat >= NANO_TOKEN_UPDATE_AGE) {
        /* Renew: same user, same session id, a fresh 30 days. */
        user.id = s.claims.sub.data;
        user.email = s.claims.email.data;
        user.name = s.claims.name.data;
        user.picture = s.claims.picture.data;
        if (nano_session_issue(req, res, &user, s.claims.jti.data, now, &exp)
            != 0)
        {
            nano_log_error("cannot renew a session; keeping the old cookie");
            exp = s.claims.exp;
        }
    }

    t = (time_t) exp;
    gmtime_r(&t, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    status = nano_res_json(res, 200,
                           json_pack("{s:{s:o, s:o, s:o}, s:s}",
                                     "user",
                                     "name", platform_claim(&s.claims.name),
                                     "email", platform_claim(&s.claims.email),
                                     "image",
                                     platform_claim(&s.claims.picture),
                                     "expires", iso));
out:
    nano_session_cleanup(&s);
    return status;
}

/* The sign-in page's message for ?error= / ?csrf=true, or NULL. */
static const char *
platform_signin_message(const nano_form_t *q)
{
    const char  *error = nano_form_get(q, "error");
    const char  *csrf = nano_form_get(q, "csrf");

    if (csrf != NULL && strcmp(csrf, "true") == 0) {
        return "Your sign-in form expired. Please try again.";
    }
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
    return "Unable to sign in.";
}

int
platform_auth_signin_page(nano_req_t *req, nano_res_t *res)
{
    nano_form_t   q;
    char          token[NANO_CSRF_TOKEN_LEN + 1];
    char         *callback = NULL, *signup = NULL;
    int           status;

    nano_form_init(&q);
    nano_req_query(req, &q);

    callback = platform_query_callback(req, res);
    if (callback == NULL || platform_csrf_token(req, res, token) != 0
        || (signup = platform_link_with_callback("/signup", callback)) == NULL)
    {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }

    const nano_page_var_t  vars[] = {
        { "csrf_token",   token,                     0 },
        { "callback_url", callback,                  0 },
        { "error",        platform_signin_message(&q), 0 },
        { "signup_url",   signup,                    0 },
    };
    status = nano_page_render(req, res, 200, "signin.html", NULL, vars,
                              sizeof(vars) / sizeof(vars[0]));
out:
    free(signup);
    free(callback);
    nano_form_cleanup(&q);
    return status;
}

int
platform_auth_signout_page(nano_req_t *req, nano_res_t *res)
{
    nano_session_t   s;
    nano_form_t      q;
    const char      *csrf;
    char             token[NANO_CSRF_TOKEN_LEN + 1];
    char            *callback = NULL;
    int              status;

    nano_session_init(&s);
    nano_form_init(&q);
    nano_req_query(req, &q);
    nano_session_read(req, (long long) time(NULL), &s);

    callback = platform_query_callback(req, res);
    if (callback == NULL || platform_csrf_token(req, res, token) != 0) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    csrf = nano_form_get(&q, "csrf");

    const nano_page_var_t  vars[] = {
        { "csrf_token",   token,    0 },
        { "callback_url", callback, 0 },
        { "error", csrf != NULL && strcmp(csrf, "true") == 0
                   ? "Your sign-out form expired. Please try again." : NULL,
          0 },
    };
    status = nano_page_render(req, res, 200, "signout.html",
                              platform_session_name(&s), vars,
                              sizeof(vars) / sizeof(vars[0]));
out:
    free(callback);
    nano_form_cleanup(&q);
    nano_session_cleanup(&s);
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

    if (strcmp(error, "Configuration") == 0) {
        status = 500;
        heading = "Server error";
        message = "There is a problem with the server configuration.";
    } else if (strcmp(error, "AccessDenied") == 0) {
        status = 403;
        heading = "Access denied";
        message = "You do not have permission to sign in.";
    } else if (strcmp(error, "Verification") == 0) {
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

/* Parses a POSTed form; answers 415/400 itself (returns the status) or
 * returns 0. */
static int
platform_post_form(nano_req_t *req, nano_res_t *res, nano_form_t *form,
    int *json)
{
    const char  *j;

    if (!nano_req_is_content_type(req, "application/x-www-form-urlencoded")) {
        return nano_res_error(res, 415, "unsupported_media_type",
                              "send application/x-www-form-urlencoded");
    }
    switch (nano_req_form(req, form)) {
    case NANO_FORM_OK:
        break;
    case NANO_FORM_NOMEM:
        return nano_res_error(res, 500, "internal", "out of memory");
    default:
        return nano_res_error(res, 400, "bad_request", "malformed form body");
    }
    j = nano_form_get(form, "json");
    *json = j != NULL && strcmp(j, "true") == 0;
    return 0;
}

int
platform_auth_callback_credentials(nano_req_t *req, nano_res_t *res)
{
    platform_user_t      user;
    nano_session_user_t  su;
    nano_form_t          form;
    nano_db_status_t     st;
    nano_db_t           *db;
    const char          *password;
    char                *email = NULL, *url = NULL, *callback = NULL;
    int                  status, json = 0, found = 0, ok;

    platform_user_init(&user);
    nano_form_init(&form);

    status = platform_post_form(req, res, &form, &json);
    if (status != 0) {
        goto out;
    }
    callback = platform_callback(req, res,
                                 nano_form_get(&form, "callbackUrl"));
    if (callback == NULL) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    if (!platform_csrf_ok(req, nano_form_get(&form, "csrfToken"))) {
        url = platform_url(req, "/api/auth/signin?csrf=true");
        status = platform_redirect(res, url, json, 200);
        goto out;
    }

    email = strdup(nano_form_get(&form, "email") ? nano_form_get(&form, "email")
                                                 : "");
    password = nano_form_get(&form, "password");
    if (email == NULL) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    platform_email_normalise(email);

    if (email[0] != '\0' && password != NULL && password[0] != '\0'
        && strlen(password) <= PLATFORM_PASSWORD_MAX)
    {
        db = nano_server_db(req);
        st = db != NULL ? platform_user_find(db, email, &user, &found)
                        : NANO_DB_UNAVAILABLE;
        if (st != NANO_DB_OK) {
            status = platform_db_error(res, db, st);
            goto out;
        }
    }
    /* Always one bcrypt run, found or not (see nano_password_verify). */
    ok = nano_password_verify(password, found ? user.password : NULL)
         && found;

    if (!ok) {
        nano_log_info("sign-in refused for an unknown user or wrong password");
        url = platform_url(req, "/api/auth/error?error=CredentialsSignin"
                                "&provider=credentials");
        status = platform_redirect(res, url, json, 401);
        goto out;
    }

    su.id = user.id;
    su.email = user.email;
    su.name = user.name;
    su.picture = user.image;
    if (nano_session_issue(req, res, &su, NULL, (long long) time(NULL), NULL)
        != 0)
    {
        status = nano_res_error(res, 500, "internal",
                                "cannot issue a session");
        goto out;
    }
    nano_log_info("user %s signed in", user.id);
    status = platform_redirect(res, callback, json, 200);

out:
    free(callback);
    free(url);
    free(email);
    nano_form_cleanup(&form);
    platform_user_cleanup(&user);
    return status;
}

int
platform_auth_signout(nano_req_t *req, nano_res_t *res)
{
    nano_form_t   form;
    char         *url = NULL;
    int           status, json = 0;

    nano_form_init(&form);
    status = platform_post_form(req, res, &form, &json);
    if (status != 0) {
        goto out;
    }
    if (!platform_csrf_ok(req, nano_form_get(&form, "csrfToken"))) {
        url = platform_url(req, "/api/auth/signout?csrf=true");
        status = platform_redirect(res, url, json, 200);
        goto out;
    }
    if (nano_session_clear(req, res) != 0) {
        status = nano_res_error(res, 500, "internal",
                                "cannot clear the session");
        goto out;
    }
    url = nano_callback_resolve(nano_form_get(&form, "callbackUrl"),
                                req->config->origin);
    status = platform_redirect(res, url, json, 200);
out:
    free(url);
    nano_form_cleanup(&form);
    return status;
}
