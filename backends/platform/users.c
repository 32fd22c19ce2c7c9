/*
 * The V1 "User" table, as NextAuth's Prisma adapter and V1 made it.
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

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

char *
platform_email_normalise(char *email)
{
    char  *p;

    for (p = platform_trim(email); *p != '\0'; p++) {
        *p = (char) tolower((unsigned char) *p);
    }
    return email;
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

nano_db_status_t
platform_user_find(nano_db_t *db, const char *email, platform_user_t *u,
    int *found)
{
    /* V1 may hold mixed-case emails (its unique index is case-sensitive);
     * an exact match wins over a case-insensitive one. */
    static const char   sql[] =
        "SELECT \"id\", \"email\", \"name\", \"image\", \"password\""
        " FROM \"User\" WHERE lower(\"email\") = $1"
        " ORDER BY (\"email\" = $1) DESC, \"id\" LIMIT 1";
    const char         *params[1] = { email };
    nano_db_status_t    st = NANO_DB_OK;
    PGresult           *r;

    *found = 0;
    r = nano_db_exec(db, sql, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    if (PQntuples(r) == 1) {
        if (platform_user_column(r, "id", &u->id) != 0
            || platform_user_column(r, "email", &u->email) != 0
            || platform_user_column(r, "name", &u->name) != 0
            || platform_user_column(r, "image", &u->image) != 0
            || platform_user_column(r, "password", &u->password) != 0
            || u->id == NULL)
        {
            platform_user_cleanup(u);
            st = NANO_DB_FAILED;
            goto out;
        }
        *found = 1;
    }
out:
    PQclear(r);
    return st;
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
        " (SELECT 1 FROM \"User\" WHERE lower(\"email\") = $2)"
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

int
platform_db_error(nano_res_t *res, nano_db_t *db, nano_db_status_t st)
{
    if (db == NULL || st == NANO_DB_UNAVAILABLE) {
        /* nano_db logs the outage itself, once. */
        return nano_res_error(res, 503, "database_unavailable",
                              "the database is unavailable; try again soon");
    }
    nano_log_error("database error %s: %s", nano_db_last_sqlstate(db),
                   nano_db_last_error(db));
    return nano_res_error(res, 500, "internal", "database error");
}
