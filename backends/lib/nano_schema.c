/*
 * The start's schema check (nano_schema.h).
 */

#include <libpq-fe.h>

#include "nano_db.h"
#include "nano_log.h"
#include "nano_schema.h"
#include "nano_server.h"

#ifndef NANO_SCHEMA_LAST
#define NANO_SCHEMA_LAST  ""
#endif

#define NANO_SCHEMA_WAIT_MS  1000

void
nano_schema_check(void)
{
    static const char   sql[] =
        "SELECT count(*) FROM \"_nano_migrations\" WHERE \"name\" = $1";
    const char         *params[1] = { NANO_SCHEMA_LAST };
    nano_db_status_t    st;
    nano_db_t          *db;
    PGresult           *r;

    if (NANO_SCHEMA_LAST[0] == '\0'
        || (db = nano_server_db_get(NANO_SCHEMA_WAIT_MS)) == NULL)
    {
        return;
    }
    r = nano_db_exec(db, sql, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        nano_log_warn("cannot tell whether the database has migration %s"
                      " (%s): run nano-migrate --apply if it is not there",
                      NANO_SCHEMA_LAST, nano_db_last_error(db));
    } else if (PQntuples(r) != 1 || PQgetvalue(r, 0, 0)[0] == '0') {
        nano_log_warn("the database lacks migration %s, which this build"
                      " needs: run nano-migrate --apply (docs/OPERATIONS.md);"
                      " until then what needs it answers 500",
                      NANO_SCHEMA_LAST);
    }
    PQclear(r);
    nano_server_db_put(db);
}
