/*
 * The start's schema check (nano_schema.h).
 */

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "nano_db.h"
#include "nano_log.h"
#include "nano_schema.h"
#include "nano_server.h"

#define NANO_SCHEMA_WAIT_MS  1000

int
nano_schema_migration_name(const char *name, unsigned long *number)
{
    const char  *p = name;
    size_t       digits = 0;

    while (*p >= '0' && *p <= '9') {
        p++;
        digits++;
    }
    if (digits < 3 || *p++ != '_' || strcmp(p, ".sql") == 0) {
        return 0;
    }
    for (; *p != '\0' && *p != '.'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_'))
        {
            return 0;
        }
    }
    if (strcmp(p, ".sql") != 0) {
        return 0;
    }
    *number = strtoul(name, NULL, 10);
    return 1;
}

/* The newest migration of <root>/sql into last, in nano-migrate's order;
 * 0, or -1 when there is none. */
static int
nano_schema_last(const char *root, char *last, size_t cap)
{
    char             dir[PATH_MAX];
    DIR             *d;
    struct dirent   *e;
    unsigned long    number, newest = 0;

    last[0] = '\0';
    if (snprintf(dir, sizeof(dir), "%s/sql", root) >= (int) sizeof(dir)
        || (d = opendir(dir)) == NULL)
    {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (nano_schema_migration_name(e->d_name, &number)
            && strlen(e->d_name) < cap
            && (last[0] == '\0' || number > newest
                || (number == newest && strcmp(e->d_name, last) > 0)))
        {
            newest = number;
            snprintf(last, cap, "%s", e->d_name);
        }
    }
    closedir(d);
    return last[0] != '\0' ? 0 : -1;
}

void
nano_schema_check(const char *root)
{
    static const char   sql[] =
        "SELECT count(*) FROM \"_nano_migrations\" WHERE \"name\" = $1";
    const char         *params[1];
    char                last[NAME_MAX + 1];
    nano_db_status_t    st;
    nano_db_t          *db;
    PGresult           *r;

    if (root == NULL || nano_schema_last(root, last, sizeof(last)) != 0
        || (db = nano_server_db_get(NANO_SCHEMA_WAIT_MS)) == NULL)
    {
        return;
    }
    params[0] = last;
    r = nano_db_exec(db, sql, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        nano_log_warn("cannot tell whether the database has migration %s"
                      " (%s): run nano-migrate --apply if it is not there",
                      last, nano_db_last_error(db));
    } else if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "0") == 0) {
        nano_log_warn("the database lacks migration %s, which this build"
                      " needs: run nano-migrate --apply (docs/OPERATIONS.md);"
                      " until then what needs it answers 500", last);
    }
    PQclear(r);
    nano_server_db_put(db);
}
