/*
 * nano-admin users list | show: who is there, and how they stand.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "nano_email.h"

/* The columns hold UTC: said with a Z, as an operator elsewhere read the
 * bare time as local (found by the failures probe). */
#define ADMIN_TIME(col)  "to_char(" col ", 'YYYY-MM-DD HH24:MI\"Z\"')"

int
admin_user_id(nano_db_t *db, const char *email, char *id, size_t size)
{
    /* the platform's own lookup: lower() on both sides, exact first */
    static const char   sql[] =
        "SELECT \"id\" FROM \"User\" WHERE lower(\"email\") = lower($1)"
        " ORDER BY (\"email\" = $1) DESC, \"id\" LIMIT 1";
    const char         *params[1];
    nano_db_status_t    st;
    PGresult           *r;
    char               *norm;
    int                 rc = ADMIN_OK;

    norm = nano_email_normalise(email);
    if (norm == NULL || *norm == '\0') {
        fprintf(stderr, "nano-admin: \"%s\" is not an email address\n",
                norm == NULL ? "(not UTF-8)" : email);
        free(norm);
        return ADMIN_USAGE;
    }
    params[0] = norm;
    r = nano_db_exec(db, sql, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        rc = admin_db_error(db, st, "finding the user");
    } else if (PQntuples(r) == 0) {
        fprintf(stderr, "nano-admin: no user has the email %s\n", norm);
        rc = ADMIN_NOT_FOUND;
    } else {
        snprintf(id, size, "%s", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    free(norm);
    return rc;
}

int
admin_users_list(nano_db_t *db, int argc, char **argv)
{
    static const char   sql[] =
        "SELECT u.\"id\", u.\"email\", u.\"name\", "
        ADMIN_TIME("u.\"createdAt\"") " AS created,"
        " coalesce(c.\"balance\"::text, '-') AS balance,"
        " concat_ws(',', CASE WHEN u.\"password\" IS NOT NULL"
        " THEN 'password' END, (SELECT string_agg(a.\"provider\", ','"
        " ORDER BY a.\"provider\") FROM \"Account\" a"
        " WHERE a.\"userId\" = u.\"id\")) AS sign_in"
        " FROM \"User\" u LEFT JOIN \"CreditAccount\" c"
        " ON c.\"userId\" = u.\"id\""
        " ORDER BY u.\"createdAt\" DESC NULLS LAST, u.\"id\" LIMIT $1";
    const char         *params[1];
    nano_db_status_t    st;
    PGresult           *r;
    long long           limit = 50, shown, total;
    char                lim[24];

    if (argc == 2 && strcmp(argv[0], "--limit") == 0) {
        if (admin_parse_ll(argv[1], 1, 10000, &limit) != 0) {
            fprintf(stderr, "nano-admin: --limit takes a number from 1 to"
                    " 10000\n");
            return ADMIN_USAGE;
        }
    } else if (argc != 0) {
        fputs("usage: nano-admin users list [--limit N]\n", stderr);
        return ADMIN_USAGE;
    }
    snprintf(lim, sizeof(lim), "%lld", limit);
    params[0] = lim;
    r = nano_db_exec(db, sql, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return admin_db_error(db, st, "listing users");
    }
    admin_print_table(r);
    shown = PQntuples(r);
    PQclear(r);
    /* the newest 50 of 3000 looked like every user there is (found by
     * the pagination probe); on stderr, so the table stays one to read
     * with awk */
    r = nano_db_exec(db, "SELECT count(*) FROM \"User\"", 0, NULL,
                     PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return admin_db_error(db, st, "counting users");
    }
    total = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    if (total > shown) {
        fprintf(stderr, "nano-admin: %lld more users not shown (--limit N,"
                " at most 10000)\n", total - shown);
    }
    return ADMIN_OK;
}

/* Runs one query about the user and prints it under a heading. */
static int
admin_show_part(nano_db_t *db, const char *heading, const char *sql,
    const char *id)
{
    const char         *params[1] = { id };
    nano_db_status_t    st;
    PGresult           *r;

    r = nano_db_exec(db, sql, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return admin_db_error(db, st, heading);
    }
    printf("\n%s:\n", heading);
    if (PQntuples(r) == 0) {
        puts("  (none)");
    } else {
        admin_print_table(r);
    }
    PQclear(r);
    return ADMIN_OK;
}

/*
 * Under a part cut at its first `shown` rows: how many more the user has
 * (count_sql, $1 the user).  Left unsaid, an operator read the 20
 * sessions shown as all of them (found by the pagination probe).
 */
static int
admin_show_more(nano_db_t *db, const char *count_sql, const char *id,
    long long shown)
{
    const char         *params[1] = { id };
    nano_db_status_t    st;
    PGresult           *r;
    long long           total;

    r = nano_db_exec(db, count_sql, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return admin_db_error(db, st, "counting");
    }
    total = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    if (total > shown) {
        printf("  (%lld more not shown)\n", total - shown);
    }
    return ADMIN_OK;
}

/* Rows of the cut parts of users show. */
#define ADMIN_SHOW_SESSIONS  20
#define ADMIN_SHOW_LEDGER    10
#define ADMIN_STR(n)         ADMIN_STR_(n)
#define ADMIN_STR_(n)        #n

int
admin_users_show(nano_db_t *db, int argc, char **argv)
{
    static const char   profile[] =
        "SELECT u.\"id\", u.\"email\", u.\"name\","
        ADMIN_TIME("u.\"createdAt\"") " AS created,"
        ADMIN_TIME("u.\"emailVerified\"") " AS email_verified,"
        " CASE WHEN u.\"password\" IS NULL THEN 'no' ELSE 'yes' END"
        " AS password, coalesce(c.\"balance\"::text, '-') AS balance,"
        " to_char(to_timestamp(k.\"notBefore\") AT TIME ZONE 'utc',"
        " 'YYYY-MM-DD HH24:MI:SS\"Z\"') AS sessions_cut_off"
        " FROM \"User\" u"
        " LEFT JOIN \"CreditAccount\" c ON c.\"userId\" = u.\"id\""
        " LEFT JOIN \"SessionCutoff\" k ON k.\"userId\" = u.\"id\""
        " WHERE u.\"id\" = $1";
    static const char   accounts[] =
        "SELECT \"provider\", \"providerAccountId\" AS account, \"type\""
        " FROM \"Account\" WHERE \"userId\" = $1 ORDER BY \"provider\"";
    static const char   sessions[] =
        "SELECT \"id\", " ADMIN_TIME("\"createdAt\"") " AS created, "
        ADMIN_TIME("\"lastSeenAt\"") " AS last_seen, \"ipAddress\" AS ip,"
        " \"userAgent\" AS user_agent FROM \"AuthSession\""
        " WHERE \"userId\" = $1 ORDER BY \"lastSeenAt\" DESC, \"id\""
        " LIMIT " ADMIN_STR(ADMIN_SHOW_SESSIONS);
    static const char   sessions_count[] =
        "SELECT count(*) FROM \"AuthSession\" WHERE \"userId\" = $1";
    static const char   generations[] =
        "SELECT \"module\", count(*) AS total,"
        " count(*) FILTER (WHERE \"status\" = 'succeeded') AS succeeded,"
        " count(*) FILTER (WHERE \"status\" = 'failed') AS failed,"
        " count(*) FILTER (WHERE \"status\" IN ('queued', 'running'))"
        " AS pending, " ADMIN_TIME("max(\"createdAt\")") " AS latest"
        " FROM \"Generation\" WHERE \"userId\" = $1"
        " GROUP BY \"module\" ORDER BY \"module\"";
    static const char   ledger[] =
        "SELECT " ADMIN_TIME("\"createdAt\"") " AS at, \"delta\", \"reason\","
        " \"module\", \"note\" FROM \"CreditLedger\" WHERE \"userId\" = $1"
        " ORDER BY \"id\" DESC LIMIT " ADMIN_STR(ADMIN_SHOW_LEDGER);
    static const char   ledger_count[] =
        "SELECT count(*) FROM \"CreditLedger\" WHERE \"userId\" = $1";
    char                id[64];
    int                 rc;

    if (argc != 1) {
        fputs("usage: nano-admin users show <email>\n", stderr);
        return ADMIN_USAGE;
    }
    if ((rc = admin_user_id(db, argv[0], id, sizeof(id))) != ADMIN_OK) {
        return rc;
    }
    if ((rc = admin_show_part(db, "user", profile, id)) != ADMIN_OK
        || (rc = admin_show_part(db, "sign-in accounts (OAuth)", accounts,
                                 id)) != ADMIN_OK
        || (rc = admin_show_part(db, "sessions", sessions, id)) != ADMIN_OK
        || (rc = admin_show_more(db, sessions_count, id,
                                 ADMIN_SHOW_SESSIONS)) != ADMIN_OK
        || (rc = admin_show_part(db, "generations", generations, id))
           != ADMIN_OK
        || (rc = admin_show_part(db, "latest credit changes", ledger, id))
           != ADMIN_OK
        || (rc = admin_show_more(db, ledger_count, id, ADMIN_SHOW_LEDGER))
           != ADMIN_OK)
    {
        return rc;
    }
    return ADMIN_OK;
}
