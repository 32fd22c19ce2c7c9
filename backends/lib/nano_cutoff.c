#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nano_cutoff.h"
#include "nano_token.h"

static nano_db_status_t
nano_cutoff_write(nano_db_t *db, const char *user_id, const char *keep_jti,
    long long at, long long *not_before)
{
    /* GREATEST: a clock that stepped back never revives sessions.  One
     * statement: the cut-off and the rows go together or not at all,
     * whether or not the caller is in a transaction */
    static const char   sql[] =
        "WITH cut AS (INSERT INTO \"SessionCutoff\" (\"userId\", \"notBefore\")"
        " VALUES ($1, $2) ON CONFLICT (\"userId\") DO UPDATE SET"
        " \"notBefore\" = GREATEST(\"SessionCutoff\".\"notBefore\","
        " EXCLUDED.\"notBefore\"), \"updatedAt\" = (now() AT TIME ZONE 'utc')"
        " RETURNING \"notBefore\"),"
        " gone AS (DELETE FROM \"AuthSession\" WHERE \"userId\" = $1"
        " AND \"id\" IS DISTINCT FROM $3)"
        " SELECT \"notBefore\" FROM cut";
    const char         *params[3];
    char                nb[24];
    nano_db_status_t    st;
    PGresult           *r;

    snprintf(nb, sizeof(nb), "%lld", at);
    params[0] = user_id;
    params[1] = nb;
    params[2] = keep_jti;
    r = nano_db_exec(db, sql, 3, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    *not_before = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
                                    : at;
    PQclear(r);
    return NANO_DB_OK;
}

nano_db_status_t
nano_cutoff_user(nano_db_t *db, const char *user_id, const char *keep_jti,
    long long *not_before)
{
    return nano_cutoff_write(db, user_id, keep_jti, (long long) time(NULL) + 1,
                             not_before);
}

nano_db_status_t
nano_cutoff_user_deleted(nano_db_t *db, const char *user_id)
{
    long long  nb;

    /* past every token a session re-issued in this second could carry
     * (its iat is at most the last cut-off), and past any that a
     * request still in flight could be given: the id never signs in
     * again.  It matters until then plus one token lifetime. */
    return nano_cutoff_write(db, user_id, NULL,
                             (long long) time(NULL) + NANO_TOKEN_MAX_AGE + 1,
                             &nb);
}
