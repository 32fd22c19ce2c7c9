#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nano_cutoff.h"
#include "nano_session.h"
#include "nano_token.h"

/*
 * The cut-off is ahead seconds past now by this host's clock or the
 * database's, whichever is later: tokens issued on other hosts are cut
 * too when this host's clock runs behind (a sign-out everywhere on a
 * host 40 s slow left the sessions of the last 40 s alive everywhere,
 * found by the hosts probe).  A session issued after it still passes:
 * its iat is at least the cut-off it reads (platform_session_start_as).
 * The database's clock counts up to the tokens' leeway ahead of this
 * host's, no further: a session this host issues with that iat must
 * still pass its own check.
 */
static nano_db_status_t
nano_cutoff_write(nano_db_t *db, const char *user_id, const char *keep_jti,
    long long ahead, long long *not_before)
{
    /* GREATEST: a clock that stepped back never revives sessions.  One
     * statement: the cut-off and the rows go together or not at all,
     * whether or not the caller is in a transaction */
    static const char   sql[] =
        "WITH cut AS (INSERT INTO \"SessionCutoff\" (\"userId\", \"notBefore\")"
        " VALUES ($1, GREATEST($2::bigint,"
        " LEAST(extract(epoch FROM now())::bigint + $3::bigint,"
        " $2::bigint + $4::bigint)))"
        " ON CONFLICT (\"userId\") DO UPDATE SET"
        " \"notBefore\" = GREATEST(\"SessionCutoff\".\"notBefore\","
        " EXCLUDED.\"notBefore\"), \"updatedAt\" = (now() AT TIME ZONE 'utc')"
        " RETURNING \"notBefore\"),"
        " gone AS (DELETE FROM \"AuthSession\" WHERE \"userId\" = $1"
        " AND \"id\" IS DISTINCT FROM $5)"
        " SELECT \"notBefore\" FROM cut";
    const char         *params[5];
    char                nb[24], ah[24], lw[24];
    nano_db_status_t    st;
    PGresult           *r;

    snprintf(nb, sizeof(nb), "%lld", (long long) time(NULL) + ahead);
    snprintf(ah, sizeof(ah), "%lld", ahead);
    snprintf(lw, sizeof(lw), "%d", NANO_SESSION_LEEWAY - 1);
    params[0] = user_id;
    params[1] = nb;
    params[2] = ah;
    params[3] = lw;
    params[4] = keep_jti;
    r = nano_db_exec(db, sql, 5, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    *not_before = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
                                    : strtoll(nb, NULL, 10);
    PQclear(r);
    return NANO_DB_OK;
}

/* The user's row locked, then the cut-off written: see nano_cutoff_user. */
static nano_db_status_t
nano_cutoff_user_locked(nano_db_t *db, const char *user_id,
    const char *keep_jti, long long *not_before)
{
    static const char   lock[] =
        "SELECT 1 FROM \"User\" WHERE \"id\" = $1 FOR NO KEY UPDATE";
    const char         *params[1] = { user_id };
    nano_db_status_t    st;
    int                 found;

    st = nano_db_exec_found(db, lock, 1, params, &found);
    return st == NANO_DB_OK
           ? nano_cutoff_write(db, user_id, keep_jti, 1, not_before) : st;
}

/*
 * A sign-in makes its session's "AuthSession" row in a transaction that
 * holds the user's row FOR SHARE (platform_user_get_locked).  The cut
 * statement deletes the rows its snapshot sees, so a sign-in still under
 * way kept its row: a dead session listed in settings for 30 days (found
 * by the authedges probe).  The user's row is locked first, in the
 * caller's transaction or one of its own: a sign-in under way ends
 * before the cut statement starts, which then sees its row; one that
 * comes later waits for the cut-off and issues its token after it.
 */
nano_db_status_t
nano_cutoff_user(nano_db_t *db, const char *user_id, const char *keep_jti,
    long long *not_before)
{
    nano_db_status_t  st;

    if (nano_db_in_tx(db)) {
        return nano_cutoff_user_locked(db, user_id, keep_jti, not_before);
    }
    st = nano_db_begin(db);
    if (st == NANO_DB_OK) {
        st = nano_cutoff_user_locked(db, user_id, keep_jti, not_before);
    }
    return nano_db_finish(db, st);
}

nano_db_status_t
nano_cutoff_user_deleted(nano_db_t *db, const char *user_id)
{
    long long  nb;

    /* past every token a session re-issued in this second could carry
     * (its iat is at most the last cut-off), and past any that a
     * request still in flight could be given: the id never signs in
     * again.  It matters until then plus one token lifetime. */
    return nano_cutoff_write(db, user_id, NULL, NANO_TOKEN_MAX_AGE + 1, &nb);
}
