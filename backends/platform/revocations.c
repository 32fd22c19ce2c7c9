/*
 * The revocation publisher: keeps the snapshot file every gateway worker
 * reads (nano_revoke.h, docs/SESSIONS.md) in step with the database.  A
 * thread of its own with its own connection LISTENs on nano_revocations
 * and also polls once a second; it rewrites the file, atomically, when
 * the live entries changed, and every 30 s regardless so that its mtime
 * tells an operator the publisher is alive.  Once a minute it deletes
 * rows whose tokens have expired anyway, and Stripe events and
 * idempotency keys nothing reads any more.  It also removes the avatar
 * of a user deleted by anyone (NOTIFY nano_user_deleted, sql/023).
 * Without NANO_REVOCATION_FILE it does all but the snapshot.
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "nano_buf.h"
#include "nano_gen.h"
#include "nano_log.h"
#include "nano_revoke.h"
#include "platform.h"

#define PLATFORM_REVOKE_CHANNEL    "nano_revocations"
#define PLATFORM_REVOKE_POLL_MS    1000
#define PLATFORM_REVOKE_REFRESH    30      /* seconds: rewrite unchanged */
#define PLATFORM_REVOKE_CLEAN      60      /* seconds between clean-ups */
#define PLATFORM_REVOKE_LOG_EVERY  30      /* seconds between repeated errors */
#define PLATFORM_REVOKE_AVATARS    3600    /* seconds between avatar sweeps */

static struct {
    pthread_t      thread;
    int            running;
    atomic_int     stopping;
    char          *path;
    char          *url;
    char          *media;
} platform_revoke;

/* The live entries, sorted so that equal content hashes equally; $1 is
 * now - NANO_REVOKE_GRACE, so a token a gateway still takes within its
 * leeway still finds its entry. */
static const char  platform_revoke_sql[] =
    "SELECT 's', \"id\", \"expires\" FROM \"RevokedSession\""
    " WHERE \"expires\" > $1"
    " UNION ALL"
    " SELECT 'u', \"userId\", \"notBefore\" FROM \"SessionCutoff\""
    " WHERE \"notBefore\" + $2 > $1"
    " ORDER BY 1, 2";

/*
 * Appends every live entry to body and hashes them into md.  Returns
 * NANO_DB_OK or the failure.
 */
static nano_db_status_t
platform_revoke_entries(nano_db_t *db, long long now, nano_buf_t *body,
    unsigned char *md)
{
    const char         *params[2];
    char                at[24], age[24], line[NANO_REVOKE_LINE_MAX + 1];
    nano_db_status_t    st;
    PGresult           *r;
    long long           when;
    int                 i, n, len;

    snprintf(at, sizeof(at), "%lld", now - NANO_REVOKE_GRACE);
    snprintf(age, sizeof(age), "%d", NANO_TOKEN_MAX_AGE);
    params[0] = at;
    params[1] = age;
    r = nano_db_exec(db, platform_revoke_sql, 2, params, PGRES_TUPLES_OK,
                     &st);
    if (r == NULL) {
        return st;
    }
    n = PQntuples(r);
    for (i = 0; i < n; i++) {
        when = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        len = PQgetvalue(r, i, 0)[0] == 's'
              ? nano_revoke_format_session(line, sizeof(line),
                                           PQgetvalue(r, i, 1), when)
              : nano_revoke_format_user(line, sizeof(line),
                                        PQgetvalue(r, i, 1), when);
        if (len < 0) {
            /* the database still refuses it; only the gateway cannot */
            nano_log_warn("revocations: an id longer than %d bytes cannot"
                          " be published", NANO_REVOKE_ID_MAX);
            continue;
        }
        nano_buf_append(body, line, (size_t) len);
    }
    PQclear(r);
    SHA256((const unsigned char *) (body->data ? body->data : ""), body->len,
           md);
    return body->failed ? NANO_DB_FAILED : NANO_DB_OK;
}

/* Writes header + body to path through a temporary file and rename(2),
 * so a reader sees the old file or the new one, never half of one. */
static int
platform_revoke_write(const char *path, long long now, const nano_buf_t *body)
{
    char     tmp[4096], header[64];
    FILE    *f;
    int      len, ok;

    len = nano_revoke_format_header(header, sizeof(header), now);
    if (len < 0
        || snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long) getpid())
           >= (int) sizeof(tmp))
    {
        errno = ENAMETOOLONG;
        return -1;
    }
    f = fopen(tmp, "w");
    if (f == NULL) {
        return -1;
    }
    ok = fwrite(header, 1, (size_t) len, f) == (size_t) len
         && (body->len == 0
             || fwrite(body->data, 1, body->len, f) == body->len)
         && fchmod(fileno(f), 0644) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Deletes rows whose tokens have expired anyway: the tables, and with
 * them the file, stay bounded.  By the database's clock, not this
 * host's: the rows are every host's, and a host whose clock ran ahead
 * deleted revocations whose tokens the others still take (found by the
 * hosts probe: a platform 700 s ahead un-revoked a signed-out cookie on
 * every host).  Also the rows of other tables that nothing reads any
 * more and nothing else deletes: Stripe events past the 30 days in which
 * Stripe may still send them again, idempotency keys past their 24 hours
 * (a keyed admission deletes only its own user's, in its module), each
 * by an index of 024 (found by the retention probe: both tables grew for
 * good).  docs/OPERATIONS.md, "What the database keeps". */
static void
platform_revoke_clean(nano_db_t *db)
{
#define PLATFORM_REVOKE_DB_AT  "(extract(epoch FROM now())::bigint - $1)"
#define PLATFORM_REVOKE_DB_UTC "(now() AT TIME ZONE 'utc')"
    static const struct {
        const char  *sql;
        int          nparams;
    } clean[] = {
        { "DELETE FROM \"RevokedSession\" WHERE \"expires\" < "
          PLATFORM_REVOKE_DB_AT, 1 },
        { "DELETE FROM \"SessionCutoff\" WHERE \"notBefore\" + $2 < "
          PLATFORM_REVOKE_DB_AT, 2 },
        { "DELETE FROM \"AuthSession\" WHERE \"expires\" < "
          PLATFORM_REVOKE_DB_AT, 1 },
        /* the columns alone on the left: 024's index is read */
        { "DELETE FROM \"SignInThrottle\" WHERE \"windowStart\" < "
          PLATFORM_REVOKE_DB_AT " - 900 AND \"lockedUntil\" < "
          PLATFORM_REVOKE_DB_AT " - 86400", 1 },
        { "DELETE FROM \"StripeEvent\" WHERE \"receivedAt\" < "
          PLATFORM_REVOKE_DB_UTC " - interval '30 days'", 0 },
        /* 016's expiry: a key this old is no longer looked at */
        { "DELETE FROM \"GenerationKey\" WHERE \"createdAt\" < "
          PLATFORM_REVOKE_DB_UTC " - interval '24 hours'", 0 },
    };
#undef PLATFORM_REVOKE_DB_AT
#undef PLATFORM_REVOKE_DB_UTC
    const char               *params[2];
    char                      grace[24], age[24];
    nano_db_status_t          st;
    size_t                    i;

    /* the rows outlive their entries' grace, never the other way */
    snprintf(grace, sizeof(grace), "%d", 2 * NANO_REVOKE_GRACE);
    snprintf(age, sizeof(age), "%d", NANO_TOKEN_MAX_AGE);
    params[0] = grace;
    params[1] = age;
    for (i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
        PQclear(nano_db_exec(db, clean[i].sql, clean[i].nparams,
                             clean[i].nparams > 0 ? params : NULL,
                             PGRES_COMMAND_OK, &st));
        if (st != NANO_DB_OK) {
            nano_log_warn("revocations: clean-up failed: %s",
                          nano_db_last_error(db));
            return;
        }
    }
}

/* A deleted user's avatar goes at its deletion's commit, whoever deleted
 * the row: V1's app or SQL by hand left it on disk for good, served to
 * every signed-in user (found by the retention probe); the modules
 * remove their own folders of the user on the same notification. */
static void
platform_revoke_user_deleted(void *arg, const char *channel,
    const char *user_id)
{
    (void) arg;
    if (strcmp(channel, NANO_GEN_USER_DELETED) == 0) {
        platform_avatar_remove(platform_revoke.media, user_id);
    }
}

static void *
platform_revoke_thread(void *arg)
{
    nano_db_t         *db;
    nano_buf_t         body;
    nano_db_status_t   st;
    unsigned char      md[SHA256_DIGEST_LENGTH], last[SHA256_DIGEST_LENGTH];
    long long          now, written = 0, cleaned = 0, complained = 0;
    long long          swept = 0;
    int                listening = 0, have_last = 0, woke;
    unsigned           listened = 0;
    char               err[256];

    (void) arg;
    db = nano_db_new(platform_revoke.url, err, sizeof(err));
    if (db == NULL) {
        nano_log_error("revocations: DATABASE_URL: %s", err);
        return NULL;
    }

    while (!atomic_load(&platform_revoke.stopping)) {
        now = (long long) time(NULL);
        /* a connection nano_db opened again inside a statement has
         * forgotten the LISTEN: a sign-out would wait for the poll */
        if (!listening || nano_db_connection(db) != listened) {
            listening = nano_db_listen(db, PLATFORM_REVOKE_CHANNEL)
                        == NANO_DB_OK
                        && nano_db_listen(db, NANO_GEN_USER_DELETED)
                           == NANO_DB_OK;
            listened = nano_db_connection(db);
        }

        /* without a snapshot to publish, the clean-up's own statements
         * find out whether the database is up */
        st = NANO_DB_OK;
        if (platform_revoke.path != NULL) {
            nano_buf_init(&body);
            st = platform_revoke_entries(db, now, &body, md);
            if (st == NANO_DB_OK
                && (!have_last || memcmp(md, last, sizeof(md)) != 0
                    || now - written >= PLATFORM_REVOKE_REFRESH))
            {
                if (platform_revoke_write(platform_revoke.path, now, &body)
                    == 0)
                {
                    memcpy(last, md, sizeof(md));
                    have_last = 1;
                    written = now;
                } else if (now - complained >= PLATFORM_REVOKE_LOG_EVERY) {
                    nano_log_error("revocations: cannot write %s: %s",
                                   platform_revoke.path, strerror(errno));
                    complained = now;
                }
            } else if (st != NANO_DB_OK
                       && now - complained >= PLATFORM_REVOKE_LOG_EVERY)
            {
                nano_log_warn("revocations: cannot read the database (%s);"
                              " the gateways keep the last snapshot",
                              nano_db_last_error(db));
                complained = now;
            }
            nano_buf_cleanup(&body);
        }

        if (st == NANO_DB_OK && now - cleaned >= PLATFORM_REVOKE_CLEAN) {
            platform_revoke_clean(db);
            cleaned = now;
        }
        /* the avatars whose deletion's NOTIFY no platform heard, and
         * the folders a stopped deletion left under a removed module */
        if (st == NANO_DB_OK && now - swept >= PLATFORM_REVOKE_AVATARS) {
            platform_avatar_sweep(db, platform_revoke.media);
            platform_account_sweep_folders(db, platform_revoke.media);
            swept = now;
        }

        /* a notification, or a second: whichever comes first */
        woke = listening ? nano_db_wait_on(db, PLATFORM_REVOKE_POLL_MS,
                                           PLATFORM_REVOKE_CHANNEL, NULL,
                                           platform_revoke_user_deleted,
                                           NULL)
                         : -1;
        if (woke < 0) {
            listening = 0;
            if (!atomic_load(&platform_revoke.stopping)) {
                usleep(PLATFORM_REVOKE_POLL_MS * 1000);
            }
        }
    }

    nano_db_free(db);
    return NULL;
}

/* 0 when the folder of path (absolute) can take a new file; -1 logged. */
static int
platform_revoke_dir_ok(const char *path)
{
    const char  *slash = strrchr(path, '/');
    char         dir[4096];
    int          len = (int) (slash - path);
    struct stat  st;

    /* the folder itself (/run/nano, or /run/nano/) passed the check
     * below, and then no snapshot could be renamed over it */
    if (slash[1] == '\0' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        nano_log_error("NANO_REVOCATION_FILE %.200s is a folder: name the"
                       " file in it (e.g. %.200s%srevocations)", path, path,
                       slash[1] == '\0' ? "" : "/");
        return -1;
    }
    if (len >= (int) sizeof(dir)) {
        nano_log_error("NANO_REVOCATION_FILE is too long");
        return -1;
    }
    snprintf(dir, sizeof(dir), "%.*s", len, path);
    if (dir[0] == '\0') {
        strcpy(dir, "/");
    }
    if (access(dir, W_OK | X_OK) != 0) {
        nano_log_error("NANO_REVOCATION_FILE %.200s: cannot write in %.200s:"
                       " %s", path, dir, strerror(errno));
        return -1;
    }
    return 0;
}

int
platform_revocations_start(const nano_config_t *config)
{
    const char  *path = getenv("NANO_REVOCATION_FILE");
    const char  *url = getenv("DATABASE_URL");

    if (path != NULL && path[0] == '\0') {
        path = NULL;
    }
    if (path == NULL) {
        nano_log_warn("NANO_REVOCATION_FILE is not set: gateways will not"
                      " learn of sign-outs until the tokens expire");
        /* the clean-ups and the avatars of deleted users still need the
         * thread: without it such a platform deleted nothing, ever */
        if (url == NULL || url[0] == '\0') {
            return 0;
        }
    } else if (path[0] != '/') {
        nano_log_error("NANO_REVOCATION_FILE must be an absolute path");
        return -1;
    }
    /* the snapshot is written beside itself and renamed over it: a folder
     * that cannot take it left every sign-out unknown to the gateways,
     * with an error in the log at each write */
    if (path != NULL && platform_revoke_dir_ok(path) != 0) {
        return -1;
    }
    if (url == NULL || url[0] == '\0') {
        nano_log_error("NANO_REVOCATION_FILE needs DATABASE_URL");
        return -1;
    }
    platform_revoke.path = path != NULL ? strdup(path) : NULL;
    platform_revoke.url = strdup(url);
    platform_revoke.media = config->media_dir != NULL
                            ? strdup(config->media_dir) : NULL;
    if ((path != NULL && platform_revoke.path == NULL)
        || platform_revoke.url == NULL
        || (config->media_dir != NULL && platform_revoke.media == NULL))
    {
        goto failed;
    }
    atomic_store(&platform_revoke.stopping, 0);
    if (pthread_create(&platform_revoke.thread, NULL, platform_revoke_thread,
                       NULL) != 0)
    {
        goto failed;
    }
    platform_revoke.running = 1;
    if (path != NULL) {
        nano_log_info("revocations: publishing to %s", path);
    } else {
        nano_log_info("revocations: publishing nothing; cleaning up");
    }
    return 0;

failed:
    nano_log_error("revocations: cannot start the publisher");
    platform_revocations_stop();
    return -1;
}

void
platform_revocations_stop(void)
{
    if (platform_revoke.running) {
        atomic_store(&platform_revoke.stopping, 1);
        pthread_join(platform_revoke.thread, NULL);
        platform_revoke.running = 0;
    }
    free(platform_revoke.path);
    free(platform_revoke.media);
    if (platform_revoke.url != NULL) {
        /* DATABASE_URL may hold a password */
        explicit_bzero(platform_revoke.url, strlen(platform_revoke.url));
        free(platform_revoke.url);
    }
    platform_revoke.path = NULL;
    platform_revoke.url = NULL;
    platform_revoke.media = NULL;
}
