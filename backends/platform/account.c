/*
 * /api/account/...: sign out everywhere, change the password (or set a
 * first one after a fresh OAuth sign-in), delete the account (with the
 * password, or after a fresh OAuth sign-in).  Each needs a live session
 * (checked in the database, not only the cookie), a same-site request
 * and a JSON body (docs/SESSIONS.md, docs/PLATFORM.md).
 */

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nano_cutoff.h"
#include "nano_log.h"
#include "nano_password.h"
#include "nano_registry.h"
#include "nano_server.h"
#include "platform.h"

/*
 * The checks every account call starts with.  Returns 0 with a live
 * session in ps, the body's fields in f and the connection in *db, or
 * the status it answered.
 */
static int
platform_account_begin(nano_req_t *req, nano_res_t *res, nano_db_t **db,
    platform_session_t *ps, nano_form_t *f)
{
    unsigned          flags = 0;
    int               status;

    if (nano_req_cross_site(req)) {
        nano_log_warn("%s %s: cross-site request refused", req->method,
                      req->path);
        return nano_res_error(res, 403, "cross_site",
                              "account changes are only accepted from this"
                              " site");
    }
    if (!nano_req_is_content_type(req, "application/json")) {
        return nano_res_error(res, 415, "unsupported_media_type",
                              "send application/json");
    }
    status = nano_req_fields(req, res, f, &flags);
    if (status != 0) {
        return status;
    }
    return platform_account_session(req, res, db, ps);
}

int
platform_account_session(nano_req_t *req, nano_res_t *res, nano_db_t **db,
    platform_session_t *ps)
{
    nano_db_status_t  st;

    *db = nano_server_db(req);
    switch (platform_session_check(req, *db, ps, &st)) {
    case PLATFORM_SESSION_LIVE:
        return 0;
    case PLATFORM_SESSION_ERROR:
        return nano_server_db_error(res, *db, st);
    case PLATFORM_SESSION_DEAD:
        nano_session_clear(req, res);
        /* fall through */
    default:
        return nano_res_error(res, 401, "unauthorized",
                              "sign in to change your account");
    }
}

/* Removes path and everything below it (the media tree is shallow). */
static void
platform_account_remove_tree(const char *path, int depth)
{
    DIR            *d;
    struct dirent  *e;
    char            sub[PATH_MAX];

    if (depth > 4 || (d = opendir(path)) == NULL) {
        unlink(path);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0
            || snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name)
               >= (int) sizeof(sub))
        {
            continue;
        }
        if (e->d_type == DT_DIR) {
            platform_account_remove_tree(sub, depth + 1);
        } else {
            unlink(sub);
        }
    }
    closedir(d);
    rmdir(path);
}

/* A deleted user's files: <media>/<module>/<user> of every module. */
static void
platform_account_remove_media(const char *user_id)
{
    const nano_registry_module_t  *m;
    const char                    *media = getenv("NANO_MEDIA_DIR");
    char                           dir[PATH_MAX];
    size_t                         i, n;

    if (media == NULL || media[0] == '\0' || strchr(user_id, '/') != NULL
        || strcmp(user_id, "..") == 0 || strcmp(user_id, ".") == 0)
    {
        return;
    }
    m = nano_registry_modules(&n);
    for (i = 0; i < n; i++) {
        if (snprintf(dir, sizeof(dir), "%s/%s/%s", media, m[i].name,
                     user_id) < (int) sizeof(dir))
        {
            platform_account_remove_tree(dir, 0);
        }
    }
}

/*
 * Checks password against the user's hash on the bcrypt pool.  Returns
 * 0 when it matches, else the status it answered (403 wrong_password,
 * 429 when the pool is saturated).
 */
static int
platform_account_password_ok(nano_req_t *req, nano_res_t *res,
    const platform_user_t *user, const char *password)
{
    switch (nano_password_check(password, user->password)) {
    case NANO_PASSWORD_OK:
        return 0;
    case NANO_PASSWORD_BUSY:
        return platform_busy(req, res, 1);
    case NANO_PASSWORD_MISMATCH:
        nano_log_info("user %s: wrong password for an account change",
                      user->id);
        return nano_res_error(res, 403, "wrong_password",
                              "the password is not correct");
    default:
        return nano_res_error(res, 500, "internal",
                              "cannot check the password");
    }
}

/*
 * For a change made without a password: 0 when the session is a fresh
 * OAuth sign-in (docs/PLATFORM.md), else the status answered (403
 * reauth_required with what to do, or the database's).
 */
static int
platform_account_fresh(nano_res_t *res, nano_db_t *db,
    const platform_session_t *ps, const char *what)
{
    nano_db_status_t  st;
    char              message[256];
    int               fresh = 0;

    st = platform_session_fresh_oauth(db, ps, &fresh);
    if (st != NANO_DB_OK) {
        return nano_server_db_error(res, db, st);
    }
    if (fresh) {
        return 0;
    }
    nano_log_info("user %s: %s without a password refused: no fresh OAuth"
                  " sign-in", ps->user.id, what);
    snprintf(message, sizeof(message), "to %s without a password, sign in"
             " again with a connected account (Google or GitHub) and do it"
             " within 10 minutes", what);
    return nano_res_error(res, 403, "reauth_required", message);
}

static int
platform_account_ok(nano_res_t *res)
{
    return nano_res_json(res, 200, json_pack("{s:b}", "ok", 1));
}

/* The answer once every session of the user is dead: this browser's
 * cookie goes too. */
static int
platform_account_signed_out(nano_req_t *req, nano_res_t *res)
{
    if (nano_session_clear(req, res) != 0) {
        return nano_res_error(res, 500, "internal",
                              "cannot clear the session");
    }
    return platform_account_ok(res);
}

int
platform_account_signout_all(nano_req_t *req, nano_res_t *res)
{
    platform_session_t   ps;
    nano_form_t          f;
    nano_db_status_t     st;
    nano_db_t           *db = NULL;
    long long            not_before;
    int                  status;

    platform_session_init(&ps);
    nano_form_init(&f);
    status = platform_account_begin(req, res, &db, &ps, &f);
    if (status != 0) {
        goto out;
    }
    st = nano_cutoff_user(db, ps.user.id, NULL, &not_before);
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    nano_log_info("user %s signed out everywhere", ps.user.id);
    status = platform_account_signed_out(req, res);
out:
    nano_form_cleanup(&f);
    platform_session_cleanup(&ps);
    return status;
}

int
platform_account_password(nano_req_t *req, nano_res_t *res)
{
    platform_session_t       ps;
    nano_form_t              f;
    nano_db_status_t         st;
    nano_db_t               *db = NULL;
    nano_password_result_t   pr;
    const char              *current, *fresh, *why;
    char                    *hash = NULL;
    int                      status, issued;

    platform_session_init(&ps);
    nano_form_init(&f);
    status = platform_account_begin(req, res, &db, &ps, &f);
    if (status != 0) {
        goto out;
    }
    current = nano_form_get(&f, "currentPassword");
    fresh = nano_form_get(&f, "newPassword");
    /* a user with no password (OAuth only) sets a first one without */
    if (fresh == NULL || (current == NULL && ps.user.password != NULL)) {
        status = nano_res_error(res, 400, "invalid_field",
                                "currentPassword and newPassword are"
                                " required strings");
        goto out;
    }
    if ((why = nano_password_problem(fresh)) != NULL) {
        status = nano_res_error(res, 400, "invalid_password", why);
        goto out;
    }
    status = current != NULL
             ? platform_account_password_ok(req, res, &ps.user, current)
             : platform_account_fresh(res, db, &ps, "set a first password");
    if (status != 0) {
        goto out;
    }
    pr = nano_password_make(fresh, &hash);
    if (pr != NANO_PASSWORD_OK) {
        status = pr == NANO_PASSWORD_BUSY
                 ? platform_busy(req, res, 1)
                 : nano_res_error(res, 500, "internal",
                                  "cannot hash the password");
        goto out;
    }

    /* the new hash and the end of every other session, or neither */
    st = nano_db_begin(db);
    if (st == NANO_DB_OK) {
        st = platform_user_set_password(db, ps.user.id, hash);
    }
    if (st == NANO_DB_OK) {
        st = nano_cutoff_user(db, ps.user.id, ps.token.claims.jti.data,
                              &ps.user.not_before);
    }
    st = nano_db_finish(db, st);
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }

    /* this browser stays signed in: same session, iat after the cut-off */
    st = platform_session_start(req, res, db, &ps.user,
                                ps.token.claims.jti.len > 0
                                ? ps.token.claims.jti.data : NULL, &issued);
    if (st != NANO_DB_OK || !issued) {
        nano_log_error("user %s: password changed, but the session could"
                       " not be re-issued", ps.user.id);
    }
    nano_log_info("user %s changed the password", ps.user.id);
    status = platform_account_ok(res);
out:
    free(hash);
    nano_form_cleanup(&f);
    platform_session_cleanup(&ps);
    return status;
}

int
platform_account_delete(nano_req_t *req, nano_res_t *res)
{
    platform_session_t   ps;
    nano_form_t          f;
    nano_db_status_t     st;
    nano_db_t           *db = NULL;
    const char          *password;
    long long            not_before;
    int                  status;

    platform_session_init(&ps);
    nano_form_init(&f);
    status = platform_account_begin(req, res, &db, &ps, &f);
    if (status != 0) {
        goto out;
    }
    /* the password, or a fresh OAuth sign-in instead of one */
    password = nano_form_get(&f, "password");
    status = password != NULL
             ? platform_account_password_ok(req, res, &ps.user, password)
             : platform_account_fresh(res, db, &ps, "delete the account");
    if (status != 0) {
        goto out;
    }

    /* the cut-off outlives the user: it is what kills its tokens */
    st = nano_db_begin(db);
    if (st == NANO_DB_OK) {
        st = platform_user_delete(db, ps.user.id);
    }
    if (st == NANO_DB_OK) {
        st = nano_cutoff_user(db, ps.user.id, NULL, &not_before);
    }
    if (st == NANO_DB_OK && ps.user.email != NULL) {
        st = platform_throttle_clear(db, ps.user.email);
    }
    st = nano_db_finish(db, st);
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    platform_account_remove_media(ps.user.id);
    nano_log_info("user %s deleted the account", ps.user.id);
    status = platform_account_signed_out(req, res);
out:
    nano_form_cleanup(&f);
    platform_session_cleanup(&ps);
    return status;
}
