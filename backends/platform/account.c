/*
 * /api/account/...: sign out everywhere, change the password (or set a
 * first one after a fresh OAuth sign-in), delete the account (with the
 * password, or after a fresh OAuth sign-in).  Each needs a live session
 * (checked in the database, not only the cookie), a same-site request
 * and a JSON body (docs/SESSIONS.md, docs/PLATFORM.md).
 */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nano_clock.h"
#include "nano_cutoff.h"
#include "nano_email.h"
#include "nano_file.h"
#include "nano_gen.h"
#include "nano_log.h"
#include "nano_password.h"
#include "nano_registry.h"
#include "nano_server.h"
#include "platform.h"

/* threads removing deleted users' folders at once (per process), and
 * deleted users waiting for one */
#define PLATFORM_REMOVERS         4
#define PLATFORM_REMOVALS_QUEUED  1000

int
platform_account_session(nano_req_t *req, nano_res_t *res, int change,
    nano_db_t **db, platform_session_t *ps)
{
    nano_db_status_t  st;

    if (change && nano_req_cross_site(req)) {
        nano_log_warn("%s %s: cross-site request refused", req->method,
                      req->path);
        return nano_res_error(res, 403, "cross_site",
                              "account changes are only accepted from this"
                              " site");
    }
    *db = nano_server_db(req);
    switch (platform_session_check(req, *db, ps, &st)) {
    case PLATFORM_SESSION_LIVE:
        return 0;
    case PLATFORM_SESSION_ERROR:
        return nano_server_db_error(res, *db, st);
    case PLATFORM_SESSION_DEAD:
        platform_session_drop(req, res, ps);
        /* fall through */
    default:
        return nano_res_error(res, 401, "unauthorized",
                              "sign in to change your account");
    }
}

int
platform_account_begin(nano_req_t *req, nano_res_t *res, nano_db_t **db,
    platform_session_t *ps, nano_form_t *f)
{
    unsigned  flags = 0;
    int       status;

    if (nano_req_cross_site(req)) {
        return platform_account_session(req, res, 1, db, ps);
    }
    if (!nano_req_is_content_type(req, "application/json")) {
        return nano_res_error(res, 415, "unsupported_media_type",
                              "send application/json in UTF-8");
    }
    status = nano_req_fields(req, res, f, &flags);
    if (status != 0) {
        return status;
    }
    return platform_account_session(req, res, 0, db, ps);
}

/*
 * A deleted user's files: <media>/<module>/<user> of every module folder
 * there, not only the registry's: a module taken out of the registry
 * leaves its users' files behind, and they go with the account too.
 * The number of files removed is added to *files (may be NULL).  -1
 * when the media folder cannot be listed (errno set): under the
 * packages it is root's 2751, and each module removes its own folder of
 * the user (nano_jobs_remove_user).
 */
static int
platform_account_remove_folders(const char *media, const char *user_id,
    size_t *files)
{
    DIR            *d;
    struct dirent  *e;
    char            dir[PATH_MAX];

    if ((d = opendir(media)) == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0
            && snprintf(dir, sizeof(dir), "%s/%s/%s", media, e->d_name,
                        user_id) < (int) sizeof(dir))
        {
            /* under the packages each module's folder is its own user's:
             * the module removes it (nano_jobs_remove_user) */
            (void) nano_file_remove_tree(dir, 4, files);
        }
    }
    closedir(d);
    return 0;
}

/* A deleted user whose folders wait for a remover thread. */
typedef struct platform_remover_s  platform_remover_t;

struct platform_remover_s {
    char                *media;
    char                *user_id;
    platform_remover_t  *next;
};

/*
 * The remover threads and the users waiting for one, under one lock: a
 * thread that finds the queue empty ends in the same step, so a user
 * queued meanwhile never waits for a thread that is gone.
 */
static pthread_mutex_t      platform_removal_lock = PTHREAD_MUTEX_INITIALIZER;
static int                  platform_removers;
static platform_remover_t  *platform_removal_first;
static platform_remover_t  *platform_removal_last;
static size_t               platform_removals_queued;

static void
platform_remover_free(platform_remover_t *r)
{
    free(r->media);
    free(r->user_id);
    free(r);
}

static void *
platform_account_remove_thread(void *arg)
{
    platform_remover_t  *r = arg;
    size_t               files;
    long long            t0;

    while (r != NULL) {
        files = 0;
        t0 = nano_clock_ms();
        if (platform_account_remove_folders(r->media, r->user_id, &files)
            == 0)
        {
            nano_log_info("removed the %zu files of deleted user %s in"
                          " %lld ms", files, r->user_id,
                          nano_clock_ms() - t0);
        } else {
            /* it said "removed the 0 files", as if there were none */
            nano_log_info("deleted user %s: the media folder %s cannot be"
                          " listed here (%s); each module removes its own"
                          " folder of the user", r->user_id, r->media,
                          strerror(errno));
        }
        platform_remover_free(r);

        pthread_mutex_lock(&platform_removal_lock);
        r = platform_removal_first;
        if (r != NULL) {
            platform_removal_first = r->next;
            if (platform_removal_first == NULL) {
                platform_removal_last = NULL;
            }
            platform_removals_queued--;
        } else {
            platform_removers--;
        }
        pthread_mutex_unlock(&platform_removal_lock);
    }
    return NULL;
}

/*
 * Removes user_id's folders off the caller's thread: on a detached
 * thread of its own, or, when PLATFORM_REMOVERS run already and queue
 * is set, on the first of them to end its own (at most
 * PLATFORM_REMOVALS_QUEUED wait).  0, or -1 when it is left to the
 * sweeps: no thread, or the queue full or not wanted.
 */
static int
platform_account_remove_later(const char *media, const char *user_id,
    int queue)
{
    platform_remover_t  *r;
    pthread_attr_t       attr;
    pthread_t            t;
    int                  rc = -1;

    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->media = strdup(media)) == NULL
        || (r->user_id = strdup(user_id)) == NULL)
    {
        if (r != NULL) {
            platform_remover_free(r);
        }
        return -1;
    }

    pthread_mutex_lock(&platform_removal_lock);
    if (platform_removers >= PLATFORM_REMOVERS) {
        if (queue && platform_removals_queued < PLATFORM_REMOVALS_QUEUED) {
            if (platform_removal_last != NULL) {
                platform_removal_last->next = r;
            } else {
                platform_removal_first = r;
            }
            platform_removal_last = r;
            platform_removals_queued++;
            rc = 0;
        }
        pthread_mutex_unlock(&platform_removal_lock);
        if (rc != 0) {
            platform_remover_free(r);
        }
        return rc;
    }
    platform_removers++;
    pthread_mutex_unlock(&platform_removal_lock);

    if ((rc = pthread_attr_init(&attr)) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&t, &attr, platform_account_remove_thread, r);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        platform_remover_free(r);
        pthread_mutex_lock(&platform_removal_lock);
        platform_removers--;
        pthread_mutex_unlock(&platform_removal_lock);
        return -1;
    }
    return 0;
}

/*
 * The avatar goes at once (it is served to every signed-in user); the
 * folders after the answer, off the request: a heavy account's 100,000
 * generations' folders take minutes on a busy disk, and removed inside
 * the request they kept the committed deletion's answer (and the
 * cleared cookie) past nginx's fastcgi_read_timeout, a 504 (found by the
 * deletion probe; from the fifth deletion at once on, until the
 * endsserver probe).  At most PLATFORM_REMOVERS threads run at once, and
 * PLATFORM_REMOVALS_QUEUED users wait for one.  Whatever is left (no
 * thread, a full queue, a stop half way) the sweeps remove: each
 * registered module's of its folder (nano_sweep.h; each running module
 * also removes its own at the deletion's NOTIFY), and
 * platform_account_sweep_folders' of a folder no module owns.
 */
static void
platform_account_remove_media(const char *media, const char *user_id)
{
    if (media == NULL || media[0] == '\0' || !nano_file_name_ok(user_id)) {
        return;
    }
    platform_avatar_remove(media, user_id);
    if (platform_account_remove_later(media, user_id, 1) != 0) {
        nano_log_warn("user %s's files are left to the media sweeps (%d"
                      " removals of deleted users' files run and %d wait"
                      " already, or no thread)", user_id, PLATFORM_REMOVERS,
                      PLATFORM_REMOVALS_QUEUED);
    }
}

/* A user the database no longer has, with a folder left under a folder
 * no module owns: its folders go on a remover thread (never on the
 * caller's, the revocation publisher's); with none free, the next
 * sweep's (queued, the same user could wait twice). */
static void
platform_account_folder_gone(const void *media, const char *user_id)
{
    if (nano_file_name_ok(user_id)
        && platform_account_remove_later(media, user_id, 0) == 0)
    {
        nano_log_info("removing the files left of deleted user %s",
                      user_id);
    }
}

/*
 * The registered modules' folders are their own sweeps' (nano_sweep.h),
 * which remove a deleted user's files after their grace; a folder no
 * module owns any more (one taken out of the registry) has none, and
 * what a stopped platform's removal thread left there stayed for good.
 * avatars/ and tmp/ are no module's; an entry that is no user id
 * (lost+found's) is left alone.
 */
void
platform_account_sweep_folders(nano_db_t *db, const char *media)
{
    char            folder[PATH_MAX], *ids[PLATFORM_AVATAR_SWEEP_BATCH];
    struct dirent  *e, *u;
    size_t          n;
    DIR            *d, *f;

    if (media == NULL || media[0] == '\0' || (d = opendir(media)) == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "tmp") == 0
            || strcmp(e->d_name, PLATFORM_AVATAR_DIR) == 0
            || nano_registry_find(e->d_name) != NULL
            || snprintf(folder, sizeof(folder), "%s/%s", media, e->d_name)
               >= (int) sizeof(folder)
            || (f = opendir(folder)) == NULL)
        {
            continue;
        }
        n = 0;
        while ((u = readdir(f)) != NULL) {
            if (platform_user_id_ok(u->d_name)
                && (ids[n] = strdup(u->d_name)) != NULL
                && ++n == PLATFORM_AVATAR_SWEEP_BATCH)
            {
                platform_users_gone(db, ids, n, platform_account_folder_gone,
                                    media);
                n = 0;
            }
        }
        closedir(f);
        if (n > 0) {
            platform_users_gone(db, ids, n, platform_account_folder_gone,
                                media);
        }
    }
    closedir(d);
}

/*
 * Checks password against the user's hash on the bcrypt pool, counted
 * against the account's sign-in lock (docs/SESSIONS.md).  Returns 0 when
 * it matches, else the status it answered (403 wrong_password, 429 when
 * the account is locked or the pool is saturated).
 */
static int
platform_account_password_ok(nano_req_t *req, nano_res_t *res,
    nano_db_t *db, const platform_user_t *user, const char *password)
{
    nano_db_status_t  st;
    long long         wait = 0;
    char             *key;
    int               status;

    /* the sign-in lock's count, one per account: a stolen session guessed
     * here with only nginx's per-address limit (found by a probe) */
    key = user->email != NULL ? nano_email_normalise(user->email)
                              : strdup(user->id);
    if (key == NULL) {
        return nano_res_error(res, 500, "internal", "out of memory");
    }
    st = platform_throttle_attempt(db, key, &wait);
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    if (wait > 0) {
        nano_log_warn("user %s: account change throttled", user->id);
        status = platform_rate_limited(req, res, 1, wait);
        goto out;
    }
    /* the connection goes back to the pool while bcrypt runs: the
     * caller takes it again (nano_server_db) */
    switch (platform_password_check(req, password, user->password)) {
    case NANO_PASSWORD_OK:
        db = nano_server_db(req);
        st = db != NULL ? platform_throttle_clear(db, key)
                        : NANO_DB_UNAVAILABLE;
        status = st == NANO_DB_OK ? 0 : nano_server_db_error(res, db, st);
        break;
    case NANO_PASSWORD_BUSY:
        status = platform_busy(req, res, 1);
        break;
    case NANO_PASSWORD_MISMATCH:
        nano_log_info("user %s: wrong password for an account change",
                      user->id);
        status = nano_res_error(res, 403, "wrong_password",
                                "the password is not correct");
        break;
    default:
        status = nano_res_error(res, 500, "internal",
                                "cannot check the password");
        break;
    }
out:
    free(key);
    return status;
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
    /* one with a password was told of Google and GitHub, configured or
     * not, and never of its password (found by the contract probe) */
    snprintf(message, sizeof(message), ps->user.password != NULL
             ? "to %s, give your password (or sign in again with a"
               " connected account and do it within 10 minutes)"
             : "to %s without a password, sign in again with a connected"
               " account and do it within 10 minutes", what);
    return nano_res_error(res, 403, "reauth_required", message);
}

/* 200 {"ok":true}. */
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
    long long                issued;
    int                      status, live = 0;

    platform_session_init(&ps);
    nano_form_init(&f);
    status = platform_account_begin(req, res, &db, &ps, &f);
    if (status != 0) {
        goto out;
    }
    current = nano_form_get(&f, "currentPassword");
    fresh = nano_form_get(&f, "newPassword");
    /* a user with no password (OAuth only) sets a first one without;
     * the refusal names the field missing, as every invalid_field does */
    if (fresh == NULL || (current == NULL && ps.user.password != NULL)) {
        status = nano_res_field_error(res, fresh == NULL ? "newPassword"
                                                         : "currentPassword",
                                      "currentPassword and newPassword are"
                                      " required strings");
        goto out;
    }
    if ((why = nano_password_problem(fresh)) != NULL) {
        status = nano_res_error(res, 400, "invalid_password", why);
        goto out;
    }
    status = current != NULL
             ? platform_account_password_ok(req, res, db, &ps.user, current)
             : platform_account_fresh(res, db, &ps, "set a first password");
    if (status != 0) {
        goto out;
    }
    pr = platform_password_make(req, fresh, &hash);
    if (pr != NANO_PASSWORD_OK) {
        status = pr == NANO_PASSWORD_BUSY
                 ? platform_busy(req, res, 1)
                 : nano_res_error(res, 500, "internal",
                                  "cannot hash the password");
        goto out;
    }
    db = nano_server_db(req);
    if (db == NULL) {
        status = nano_server_db_error(res, NULL, NANO_DB_UNAVAILABLE);
        goto out;
    }

    /* the new hash and the end of every other session, or neither; and
     * only while this session still lives: two changes at once from two
     * sessions run one after another, and the second finds itself
     * ended by the first */
    st = nano_db_begin(db);
    if (st == NANO_DB_OK) {
        st = platform_session_recheck(db, &ps, 1, &live);
    }
    if (st == NANO_DB_OK && !live) {
        nano_db_rollback(db);
        status = platform_session_ended(req, res, &ps);
        goto out;
    }
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

/* What nano_db_tx runs for a deletion: safe to run again from the start
 * (a job of the user that was admitted meanwhile may end with a refund
 * and deadlock with it: platform_user_delete). */
static nano_db_status_t
platform_account_delete_tx(nano_db_t *db, void *arg)
{
    const platform_user_t  *user = arg;
    nano_db_status_t        st;
    char                   *key;

    /* the cut-off outlives the user: it is what kills its tokens */
    st = platform_user_delete(db, user->id);
    if (st == NANO_DB_OK) {
        st = nano_cutoff_user_deleted(db, user->id);
    }
    /* the throttle's key is the normalised email, as the sign-in counts
     * it: V1's mixed-case one left its row (and a lock) to whoever
     * registers that email next (noticed by the races probe) */
    if (st == NANO_DB_OK && user->email != NULL) {
        key = nano_email_normalise(user->email);
        st = key != NULL ? platform_throttle_clear(db, key) : NANO_DB_FAILED;
        free(key);
    }
    return st;
}

int
platform_account_delete(nano_req_t *req, nano_res_t *res)
{
    platform_session_t   ps;
    nano_form_t          f;
    nano_db_status_t     st;
    nano_db_t           *db = NULL;
    const char          *password;
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
             ? platform_account_password_ok(req, res, db, &ps.user, password)
             : platform_account_fresh(res, db, &ps, "delete the account");
    if (status != 0) {
        goto out;
    }

    /* given back while a password was checked */
    db = nano_server_db(req);
    st = db != NULL ? nano_db_tx(db, platform_account_delete_tx, &ps.user)
                    : NANO_DB_UNAVAILABLE;
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    platform_account_remove_media(req->config->media_dir, ps.user.id);
    nano_log_info("user %s deleted the account", ps.user.id);
    status = platform_account_signed_out(req, res);
out:
    nano_form_cleanup(&f);
    platform_session_cleanup(&ps);
    return status;
}

/* An ISO 8601 UTC rendering of a TIMESTAMP(3) column. */
#define PLATFORM_ISO(col)                                                     \
    "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The sessions' columns: id, created, seen, ipAddress, userAgent, and
 * the cursor's time (created_raw), of the user $1's sessions still live:
 * not expired, and when NANO_SESSION_MAX_AGE is shorter than 30 days
 * used within it ($2 seconds, platform_account_sessions_bound; NULL:
 * no bound): a row keeps the 30-day "expires" of a token issued before
 * the lifetime was shortened, which the gateway and the platform no
 * longer take. */
#define PLATFORM_SESSION_COLUMNS                                              \
    "SELECT \"id\", " PLATFORM_ISO("\"createdAt\"") " AS created, "          \
    PLATFORM_ISO("\"lastSeenAt\"") " AS seen, \"ipAddress\","                \
    " \"userAgent\", to_char(\"createdAt\", 'YYYY-MM-DD HH24:MI:SS.US')"      \
    " AS created_raw FROM \"AuthSession\" WHERE \"userId\" = $1"              \
    " AND \"expires\" > extract(epoch FROM now())"                           \
    " AND ($2::integer IS NULL OR \"lastSeenAt\" >"                         \
    " (now() AT TIME ZONE 'utc') - $2::integer * interval '1 second')"

const char *
platform_account_sessions_bound(char *buf, size_t len)
{
    /* The 30 days bound every row's "expires" already. */
    if (nano_session_max_age() >= NANO_TOKEN_MAX_AGE) {
        return NULL;
    }
    /* A session's last token was issued at most PLATFORM_SEEN_EVERY
     * after its row's "lastSeenAt" (a renewal that lowers no "expires"
     * touches the row only that often), and the leeway covers another
     * host's clock: never a live session hidden. */
    snprintf(buf, len, "%lld", nano_session_max_age()
             + atoll(PLATFORM_SEEN_EVERY) + NANO_SESSION_LEEWAY);
    return buf;
}

/* Rows 0..n-1 of r (columns as PLATFORM_SESSION_COLUMNS) as session
 * objects, the one with id current marked: a new array, or NULL. */
json_t *
platform_account_session_rows(PGresult *r, int n, const char *current)
{
    json_t      *out;
    const char  *id;
    int          i;

    out = json_array();
    for (i = 0; out != NULL && i < n; i++) {
        id = PQgetvalue(r, i, 0);
        if (json_array_append_new(out,
                json_pack("{s:s, s:b, s:s, s:s, s:s?, s:s?}",
                          "id", id,
                          "current", current != NULL
                                     && strcmp(current, id) == 0,
                          "createdAt", PQgetvalue(r, i, 1),
                          "lastSeenAt", PQgetvalue(r, i, 2),
                          "ipAddress", PQgetisnull(r, i, 3)
                                       ? NULL : PQgetvalue(r, i, 3),
                          "userAgent", PQgetisnull(r, i, 4)
                                       ? NULL : PQgetvalue(r, i, 4))) != 0)
        {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

/* A user's live sessions as the database keeps them ("AuthSession"
 * rows not yet expired; revoked and cut-off ones lose their rows), most
 * recently used first: the export reads them through a cursor. */
const char  platform_account_sessions_sql[] =
    PLATFORM_SESSION_COLUMNS " ORDER BY \"lastSeenAt\" DESC, \"id\"";

/*
 * A page of them, newest sign-in first: the time a session began never
 * changes, where the last use moves a session up while a client pages.
 * The cursor is "<createdAt>|<id>" of the page's last row.
 */
static nano_db_status_t
platform_account_session_page(nano_db_t *db, const char *user_id,
    const char *current, int limit, const char *cursor, json_t **items,
    char **next)
{
    static const char   sql[] =
        PLATFORM_SESSION_COLUMNS
        " AND ($3::timestamp IS NULL"
        " OR (\"createdAt\", \"id\") < ($3::timestamp, $4))"
        " ORDER BY \"createdAt\" DESC, \"id\" DESC LIMIT $5";
    const char         *params[5] = { user_id, NULL, NULL, NULL, NULL };
    const char         *bar;
    char                at[40], lim[16], bound[24];
    nano_db_status_t    st;
    PGresult           *r;
    size_t              len;
    int                 n, shown;

    *items = NULL;
    *next = NULL;
    if (cursor != NULL) {
        bar = strchr(cursor, '|');
        if (bar == NULL || bar == cursor || (size_t) (bar - cursor)
            >= sizeof(at) || bar[1] == '\0')
        {
            return NANO_DB_INVALID;
        }
        memcpy(at, cursor, (size_t) (bar - cursor));
        at[bar - cursor] = '\0';
        if (!nano_gen_cursor_time_ok(at)) {
            return NANO_DB_INVALID;
        }
        params[2] = at;
        params[3] = bar + 1;
    }
    params[1] = platform_account_sessions_bound(bound, sizeof(bound));
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    params[4] = lim;
    r = nano_db_exec(db, sql, 5, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    n = PQntuples(r);
    shown = n > limit ? limit : n;
    *items = platform_account_session_rows(r, shown, current);
    if (*items != NULL && n > limit) {
        len = strlen(PQgetvalue(r, shown - 1, 5))
              + strlen(PQgetvalue(r, shown - 1, 0)) + 2;
        if ((*next = malloc(len)) == NULL) {
            json_decref(*items);
            *items = NULL;
        } else {
            snprintf(*next, len, "%s|%s", PQgetvalue(r, shown - 1, 5),
                     PQgetvalue(r, shown - 1, 0));
        }
    }
    PQclear(r);
    return *items != NULL ? NANO_DB_OK : NANO_DB_FAILED;
}

/*
 * GET /api/account/sessions?limit=&cursor=: a page of the sessions,
 * as the history and the ledger are paged.  The whole list had no bound:
 * a script signing in (10 a minute pass nginx) leaves a row per sign-in
 * for 30 days, and 20,000 of them were an 8 MB answer built in the
 * platform's memory, and as many rows on the settings page (found by
 * the deletion probe).
 */
int
platform_account_sessions(nano_req_t *req, nano_res_t *res)
{
    platform_session_t   ps;
    nano_db_status_t     st = NANO_DB_OK;
    nano_db_t           *db = NULL;
    nano_form_t          q;
    const char          *cursor;
    json_t              *items = NULL;
    char                *next = NULL;
    long                 limit = 50;
    int                  status;

    platform_session_init(&ps);
    nano_form_init(&q);
    status = platform_account_session(req, res, 0, &db, &ps);
    if (status == 0) {
        status = nano_req_page(req, res, &q, 50, 100, &limit, &cursor);
    }
    if (status != 0) {
        goto out;
    }
    st = platform_account_session_page(db, ps.user.id,
                                       ps.token.claims.jti.len > 0
                                       ? ps.token.claims.jti.data : NULL,
                                       (int) limit, cursor, &items, &next);
    status = nano_server_page(res, db, st, "sessions", &items, next);
out:
    json_decref(items);
    free(next);
    nano_form_cleanup(&q);
    platform_session_cleanup(&ps);
    return status;
}

/* DELETE /api/account/sessions/{id}: signs that session out, as its own
 * sign-out would (its id revoked until any copy of its token expires);
 * only the user's own, 404 for any other id.  This browser's own session
 * too, whose cookie then goes. */
int
platform_account_session_delete(nano_req_t *req, nano_res_t *res)
{
    static const char    sql[] =
        "SELECT 1 FROM \"AuthSession\" WHERE \"id\" = $1"
        " AND \"userId\" = $2";
    platform_session_t   ps;
    nano_db_status_t     st;
    nano_db_t           *db = NULL;
    const char          *id = nano_req_path_param(req, "id");
    const char          *params[2];
    PGresult            *r = NULL;
    int                  status, own;

    platform_session_init(&ps);
    status = platform_account_session(req, res, 1, &db, &ps);
    if (status != 0) {
        goto out;
    }
    params[0] = id;
    params[1] = ps.user.id;
    r = nano_db_exec(db, sql, 2, params, PGRES_TUPLES_OK, &st);
    if (r == NULL && st != NANO_DB_INVALID) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    if (r == NULL || PQntuples(r) != 1) {
        status = nano_res_error(res, 404, "not_found",
                                "you have no such session");
        goto out;
    }
    st = platform_session_revoke(db, id, ps.user.id);
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    own = ps.token.claims.jti.len > 0
          && strcmp(ps.token.claims.jti.data, id) == 0;
    nano_log_info("user %s signed out session %s%s", ps.user.id, id,
                  own ? " (this one)" : "");
    status = own ? platform_account_signed_out(req, res)
                 : platform_account_ok(res);
out:
    PQclear(r);
    platform_session_cleanup(&ps);
    return status;
}
