/*
 * nano-admin: the operator's command line on a host of the platform.
 * It talks to PostgreSQL only (DATABASE_URL, as the backends read it);
 * what it changes, the platform and the gateways see as they see their
 * own changes (the ledger, "SessionCutoff" and its NOTIFY).
 */

#ifndef ADMIN_H
#define ADMIN_H

#include "nano_db.h"

/* Exit statuses: what a script calling nano-admin can tell apart. */
#define ADMIN_OK         0
#define ADMIN_FAILED     1    /* the database (or the registry) failed */
#define ADMIN_USAGE      2    /* a bad command line */
#define ADMIN_NOT_FOUND  3    /* no such user */

/* One command: argv starts after the command's own words. */
typedef int (*admin_cmd_fn)(nano_db_t *db, int argc, char **argv);

/* users.c */
int admin_users_list(nano_db_t *db, int argc, char **argv);
int admin_users_show(nano_db_t *db, int argc, char **argv);

/*
 * The id of the user with email (normalised as sign-in does), in id
 * (size at least 64).  ADMIN_OK, ADMIN_NOT_FOUND (said on stderr), or
 * ADMIN_FAILED / ADMIN_USAGE for a bad address.
 */
int admin_user_id(nano_db_t *db, const char *email, char *id, size_t size);

/* credits.c */
int admin_credits_grant(nano_db_t *db, int argc, char **argv);

/* sessions.c */
int admin_sessions_revoke(nano_db_t *db, int argc, char **argv);

/* usage.c */
int admin_usage(nano_db_t *db, int argc, char **argv);

/* modules.c (db is NULL: it needs none) */
int admin_modules(nano_db_t *db, int argc, char **argv);

/* table.c: prints a result as aligned columns under its column names. */
void admin_print_table(const PGresult *r);

/* Prints "nano-admin: <what>: <the database's message>" and returns
 * ADMIN_FAILED (or ADMIN_USAGE for a value the database refused). */
int admin_db_error(nano_db_t *db, nano_db_status_t st, const char *what);

/* Reads a whole number in [min, max] from s; -1 when it is not one. */
int admin_parse_ll(const char *s, long long min, long long max,
    long long *out);

#endif /* ADMIN_H */
