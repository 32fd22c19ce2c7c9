/*
 * The V1 "User" table, as NextAuth's Prisma adapter and V1 made it.
 */

#include <stdlib.h>
#include <string.h>

#include "nano_credits.h"
#include "nano_log.h"
#include "platform.h"

void
platform_user_init(platform_user_t *u)
{
    memset(u, 0, sizeof(*u));
}

void
platform_user_cleanup(platform_user_t *u)
{
    if (u == NULL) {
        return;
    }
    free(u->id);
    free(u->email);
    free(u->name);
    free(u->image);
    if (u->password != NULL) {
        explicit_bzero(u->password, strlen(u->password));
        free(u->password);
    }
    platform_user_init(u);
}

/* A column of row 0 as a new string; *out stays NULL for SQL NULL.
 * Returns -1 when out of memory or the column is missing. */
static int
platform_user_column(PGresult *r, const char *name, char **out)
{
    int  col = PQfnumber(r, name);

    *out = NULL;
    if (col < 0) {
        return -1;
    }
    if (PQgetisnull(r, 0, col)) {
        return 0;
    }
    *out = strdup(PQgetvalue(r, 0, col));
    return *out != NULL ? 0 : -1;
}

/* The columns platform_user_read takes, for every lookup. */
#define PLATFORM_USER_COLUMNS                                                 \
    "SELECT u.\"id\", u.\"email\", u.\"name\", u.\"image\","             \
    " u.\"password\", (SELECT c.\"notBefore\" FROM \"SessionCutoff\" c"   \
    " WHERE c.\"userId\" = u.\"id\") AS not_before FROM \"User\" u"

/* Runs a lookup of at most one user and reads its row into u, and the
 * session columns into *sess when asked for. */
static nano_db_status_t
platform_user_read(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, platform_user_t *u, int *found,
    platform_session_row_t *sess)
{
    nano_db_status_t    st = NANO_DB_OK;
    PGresult           *r;
    char               *nb = NULL;
    int                 col;

    *found = 0;
    r = nano_db_exec(db, sql, nparams, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    if (PQntuples(r) == 1) {
        if (platform_user_column(r, "id", &u->id) != 0
            || platform_user_column(r, "email", &u->email) != 0
            || platform_user_column(r, "name", &u->name) != 0
            || platform_user_column(r, "image", &u->image) != 0
            || platform_user_column(r, "password", &u->password) != 0
            || platform_user_column(r, "not_before", &nb) != 0
            || u->id == NULL)
        {
            platform_user_cleanup(u);
            st = NANO_DB_FAILED;
            goto out;
        }
        u->not_before = nb != NULL ? strtoll(nb, NULL, 10) : 0;
        if (sess != NULL) {
            col = PQfnumber(r, "revoked");
            sess->revoked = col >= 0 && PQgetvalue(r, 0, col)[0] == 't';
            col = PQfnumber(r, "seen");
            sess->seen = col >= 0 && PQgetvalue(r, 0, col)[0] == 't';
            col = PQfnumber(r, "kept");
            sess->kept = col >= 0 && PQgetvalue(r, 0, col)[0] == 't';
        }
        *found = 1;
    }
out:
    free(nb);
    PQclear(r);
    return st;
}

nano_db_status_t
platform_user_find(nano_db_t *db, const char *email, platform_user_t *u,
    int *found)
{
    /* V1 may hold mixed-case emails (its unique index is case-sensitive);
     * lower() on both sides matches them with the server's own idea of
     * case, and an exact match wins over a case-insensitive one. */
    static const char  sql[] = PLATFORM_USER_COLUMNS
        " WHERE lower(u.\"email\") = lower($1)"
        " ORDER BY (u.\"email\" = $1) DESC, u.\"id\" LIMIT 1";

    const char         *params[1] = { email };

    return platform_user_read(db, sql, 1, params, u, found, NULL);
}

nano_db_status_t
platform_user_get(nano_db_t *db, const char *id, platform_user_t *u,
    int *found)
{
    static const char  sql[] = PLATFORM_USER_COLUMNS
        " WHERE u.\"id\" = $1";
    const char         *params[1] = { id };

    return platform_user_read(db, sql, 1, params, u, found, NULL);
}

nano_db_status_t
platform_user_get_locked(nano_db_t *db, const char *id, platform_user_t *u,
    int *found)
{
    /* FOR SHARE: a password change (FOR UPDATE in its session re-check,
     * then UPDATE), a deletion and a cut-off (nano_cutoff_user) wait for
     * this transaction's end, while sign-ins of one account still run
     * side by side.  The row is read after the lock, by a statement of
     * its own: read in the locking statement, the cut-off was the one
     * from before a "sign out everywhere" this waited for, and the new
     * session's token was dead at once (found by the authedges probe) */
    static const char  sql[] =
        "SELECT 1 FROM \"User\" WHERE \"id\" = $1 FOR SHARE";
    const char         *params[1] = { id };
    nano_db_status_t    st;

    st = nano_db_exec_found(db, sql, 1, params, found);
    if (st != NANO_DB_OK || !*found) {
        return st;
    }
    return platform_user_get(db, id, u, found);
}

nano_db_status_t
platform_user_get_session(nano_db_t *db, const char *id, const char *jti,
    platform_user_t *u, int *found, platform_session_row_t *sess)
{
    /* one round trip: /api/auth/session asks on every call */
    static const char  sql[] =
        "SELECT u.\"id\", u.\"email\", u.\"name\", u.\"image\","
        " u.\"password\", (SELECT c.\"notBefore\" FROM \"SessionCutoff\" c"
        " WHERE c.\"userId\" = u.\"id\") AS not_before,"
        " EXISTS (SELECT 1 FROM \"RevokedSession\" r WHERE r.\"id\" = $2)"
        " AS revoked,"
        " EXISTS (SELECT 1 FROM \"AuthSession\" s WHERE s.\"id\" = $2"
        " AND s.\"lastSeenAt\" >= (now() AT TIME ZONE 'utc')"
        " - interval '" PLATFORM_SEEN_EVERY " seconds') AS seen,"
        " EXISTS (SELECT 1 FROM \"AuthSession\" s WHERE s.\"id\" = $2"
        " AND s.\"userId\" = u.\"id\") AS kept"
        " FROM \"User\" u WHERE u.\"id\" = $1";
    const char         *params[2] = { id, jti };

    memset(sess, 0, sizeof(*sess));
    return platform_user_read(db, sql, 2, params, u, found, sess);
}

/* Sets one of the user's own columns (the statement names it). */
static nano_db_status_t
platform_user_set(nano_db_t *db, const char *sql, const char *id,
    const char *value)
{
    const char         *params[2] = { id, value };
    nano_db_status_t    st;

    PQclear(nano_db_exec(db, sql, 2, params, PGRES_COMMAND_OK, &st));
    return st;
}

nano_db_status_t
platform_user_set_name(nano_db_t *db, const char *id, const char *name)
{
    return platform_user_set(db, "UPDATE \"User\" SET \"name\" = $2"
                             " WHERE \"id\" = $1", id, name);
}

nano_db_status_t
platform_user_set_image(nano_db_t *db, const char *id, const char *image)
{
    return platform_user_set(db, "UPDATE \"User\" SET \"image\" = $2"
                             " WHERE \"id\" = $1", id, image);
}

nano_db_status_t
platform_user_lock(nano_db_t *db, const char *id, int *found)
{
    static const char   sql[] =
        "SELECT 1 FROM \"User\" WHERE \"id\" = $1 FOR UPDATE";
    const char         *params[1] = { id };

    return nano_db_exec_found(db, sql, 1, params, found);
}

nano_db_status_t
platform_user_set_password(nano_db_t *db, const char *id, const char *hash)
{
    /* the caller ends the other sessions itself, keeping this one: the
     * trigger of sql/022 (a change by V1 or by hand ends them all) is
     * told so for this transaction, in the same statement */
    return platform_user_set(db, "UPDATE \"User\" SET \"password\" = $2"
                             " WHERE \"id\" = $1 AND set_config("
                             "'nano.password_change', 'platform', true)"
                             " = 'platform'", id, hash);
}

nano_db_status_t
platform_user_delete(nano_db_t *db, const char *id)
{
    /* "Account" and "Session" go by V1's ON DELETE CASCADE too; the
     * connected accounts are named here so that they go with the user
     * on a database whose foreign key is missing.  V2's own rows carry
     * no foreign key and go here.  The cut-off stays: it is what kills
     * the deleted user's tokens; the ledger stays too, its amounts kept
     * for accounting under an anonymous id. */
    static const char         jobs[] =
        "SELECT 1 FROM \"Generation\" WHERE \"userId\" = $1"
        " AND \"status\" IN ('queued', 'running') FOR UPDATE";
    static const char         lock[] =
        "SELECT 1 FROM \"CreditAccount\" WHERE \"userId\" = $1 FOR UPDATE";
    static const char *const  sql[] = {
        "DELETE FROM \"Account\" WHERE \"userId\" = $1",
        "DELETE FROM \"AuthSession\" WHERE \"userId\" = $1",
        "DELETE FROM \"Generation\" WHERE \"userId\" = $1",
        "DELETE FROM \"User\" WHERE \"id\" = $1",
    };
    const char               *params[1] = { id };
    nano_db_status_t          st;
    size_t                    i;
    int                       found;

    /* the generations a job's end or a cancel may refund first, as
     * those take them: the row, then the account.  Taken the other way
     * round, a refund at that moment was a deadlock, and PostgreSQL's
     * victim could be this deletion (a 500; found by a probe).  Then the
     * lock every admission takes: one waiting for it then finds no
     * account and no user, and one before it has its generation deleted
     * below (a job of it that ends before the DELETE is the caller's
     * nano_db_tx retry) */
    st = nano_db_exec_found(db, jobs, 1, params, &found);
    if (st == NANO_DB_OK) {
        st = nano_db_exec_found(db, lock, 1, params, &found);
    }
    for (i = 0; i < sizeof(sql) / sizeof(sql[0]) && st == NANO_DB_OK; i++) {
        PQclear(nano_db_exec(db, sql[i], 1, params, PGRES_COMMAND_OK, &st));
    }
    return st == NANO_DB_OK ? nano_credits_forget_user(db, id) : st;
}

nano_db_status_t
platform_user_create(nano_db_t *db, const char *id, const char *email,
    const char *name, const char *hash, int *created)
{
    /* One statement: the unique index settles same-case races (a 23505
     * arrives as NANO_DB_CONFLICT); the NOT EXISTS covers V1 rows that
     * differ only in case. */
    static const char   sql[] =
        "INSERT INTO \"User\" (\"id\", \"email\", \"name\", \"password\")"
        " SELECT $1, $2, $3, $4 WHERE NOT EXISTS"
        " (SELECT 1 FROM \"User\" WHERE lower(\"email\") = lower($2))"
        " RETURNING \"id\"";
    const char         *params[4] = { id, email, name, hash };
    nano_db_status_t    st = NANO_DB_OK;
    PGresult           *r;

    *created = 0;
    r = nano_db_exec(db, sql, 4, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st == NANO_DB_CONFLICT ? NANO_DB_OK : st;
    }
    *created = PQntuples(r) == 1;
    PQclear(r);
    return NANO_DB_OK;
}

