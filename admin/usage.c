/*
 * nano-admin usage: per module, since a day: generations by outcome,
 * the people who made them and the credits spent (debits less refunds).
 */

#include <stdio.h>
#include <string.h>

#include "admin.h"

/* YYYY-MM-DD, checked by shape here and as a date by PostgreSQL. */
static int
admin_day_ok(const char *s)
{
    int  i;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return 0;
    }
    for (i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
            return 0;
        }
    }
    return 1;
}

int
admin_usage(nano_db_t *db, int argc, char **argv)
{
    /* one pass over each table, on the createdAt of its rows */
    static const char   sql[] =
        "WITH since AS (SELECT coalesce($1::date,"
        " ((now() AT TIME ZONE 'utc') - interval '30 days')::date)"
        " ::timestamp AS t),"
        " g AS (SELECT \"module\", count(*) AS generations,"
        " count(*) FILTER (WHERE \"status\" = 'succeeded') AS succeeded,"
        " count(*) FILTER (WHERE \"status\" = 'failed') AS failed,"
        " count(DISTINCT \"userId\") AS users FROM \"Generation\", since"
        " WHERE \"createdAt\" >= since.t GROUP BY \"module\"),"
        " l AS (SELECT \"module\", -sum(\"delta\") AS credits"
        " FROM \"CreditLedger\", since WHERE \"createdAt\" >= since.t"
        " AND \"reason\" IN ('debit', 'refund') AND \"module\" IS NOT NULL"
        " GROUP BY \"module\")"
        " SELECT coalesce(g.\"module\", l.\"module\") AS module,"
        " coalesce(g.generations, 0) AS generations,"
        " coalesce(g.succeeded, 0) AS succeeded,"
        " coalesce(g.failed, 0) AS failed, coalesce(g.users, 0) AS users,"
        " coalesce(l.credits, 0) AS credits_spent"
        " FROM g FULL JOIN l ON l.\"module\" = g.\"module\""
        " ORDER BY credits_spent DESC, module";
    const char         *params[1] = { NULL };
    nano_db_status_t    st;
    PGresult           *r;

    if (argc == 2 && strcmp(argv[0], "--since") == 0) {
        if (!admin_day_ok(argv[1])) {
            fprintf(stderr, "nano-admin: --since takes a day as"
                    " YYYY-MM-DD\n");
            return ADMIN_USAGE;
        }
        params[0] = argv[1];
    } else if (argc != 0) {
        fputs("usage: nano-admin usage [--since YYYY-MM-DD]\n", stderr);
        return ADMIN_USAGE;
    }
    r = nano_db_exec(db, sql, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        if (st == NANO_DB_FAILED
            && strcmp(nano_db_last_sqlstate(db) ? nano_db_last_sqlstate(db)
                                                : "", "22008") == 0)
        {
            fprintf(stderr, "nano-admin: %s is not a date\n", params[0]);
            return ADMIN_USAGE;
        }
        return admin_db_error(db, st, "reading usage");
    }
    printf("since %s (UTC)\n", params[0] != NULL ? params[0]
                                                 : "30 days ago");
    if (PQntuples(r) == 0) {
        puts("no generations");
    } else {
        admin_print_table(r);
    }
    PQclear(r);
    return ADMIN_OK;
}
