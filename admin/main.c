/*
 * nano-admin: dispatch, usage and the database connection.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

static const struct {
    const char    *group;
    const char    *verb;
    admin_cmd_fn   fn;
    int            needs_db;
} admin_commands[] = {
    { "users",    "list",   admin_users_list,      1 },
    { "users",    "show",   admin_users_show,      1 },
    { "credits",  "grant",  admin_credits_grant,   1 },
    { "sessions", "revoke", admin_sessions_revoke, 1 },
    { "usage",    NULL,     admin_usage,           1 },
    { "modules",  NULL,     admin_modules,         0 },
};

static void
admin_usage_text(FILE *f)
{
    fputs("usage: nano-admin <command>\n"
          "\n"
          "  users list [--limit N]                 newest first (N: 1-10000,"
          " 50)\n"
          "  users show <email>                     one user: balance,"
          " sign-in methods,\n"
          "                                         sessions, generations\n"
          "  credits grant <email> <n> --reason <text>\n"
          "                                         adds n credits (a"
          " negative n corrects,\n"
          "                                         never below zero) with a"
          " \"grant\"\n"
          "                                         ledger row\n"
          "  sessions revoke <email>                ends every session of"
          " the user\n"
          "                                         (gateways honour it"
          " within 2 s)\n"
          "  usage [--since YYYY-MM-DD]             generations and credits"
          " per module\n"
          "                                         (default: the last 30"
          " days)\n"
          "  modules                                the module registry as"
          " the backends\n"
          "                                         read it (no database):"
          " name, kind,\n"
          "                                         provider, path, title,"
          " tab-separated\n"
          "\n"
          "environment: DATABASE_URL; NANO_SIGNUP_CREDITS (credits grant"
          " opens a V1\n"
          "user's account with it, 100); NANO_MODULES_FILE (modules; else"
          " modules.conf,\n"
          "then /etc/nano/modules.conf)\n"
          "\n"
          "exit status: 0 done, 1 database or registry error, 2 bad usage,\n"
          "             3 no such user\n", f);
}

int
admin_db_error(nano_db_t *db, nano_db_status_t st, const char *what)
{
    const char  *msg = db != NULL ? nano_db_last_error(db) : NULL;

    if (st == NANO_DB_INVALID) {
        fprintf(stderr, "nano-admin: %s: a value is not valid UTF-8\n", what);
        return ADMIN_USAGE;
    }
    fprintf(stderr, "nano-admin: %s: %s\n", what,
            st == NANO_DB_UNAVAILABLE ? "the database cannot be reached"
            : msg != NULL && *msg ? msg : "the database failed");
    return ADMIN_FAILED;
}

int
admin_parse_ll(const char *s, long long min, long long max, long long *out)
{
    char       *end;
    long long   v;

    if (s == NULL || *s == '\0' || strchr(" \t\n+", *s) != NULL) {
        return -1;
    }
    v = strtoll(s, &end, 10);
    if (*end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

int
main(int argc, char **argv)
{
    const char  *url = getenv("DATABASE_URL");
    nano_db_t   *db;
    char         err[256];
    size_t       i;
    int          rc, used;

    if (argc < 2 || strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)
    {
        admin_usage_text(argc < 2 ? stderr : stdout);
        return argc < 2 ? ADMIN_USAGE : ADMIN_OK;
    }
    for (i = 0; i < sizeof(admin_commands) / sizeof(admin_commands[0]); i++)
    {
        if (strcmp(argv[1], admin_commands[i].group) != 0) {
            continue;
        }
        if (admin_commands[i].verb == NULL) {
            used = 2;
            break;
        }
        if (argc >= 3 && strcmp(argv[2], admin_commands[i].verb) == 0) {
            used = 3;
            break;
        }
    }
    if (i == sizeof(admin_commands) / sizeof(admin_commands[0])) {
        fprintf(stderr, "nano-admin: unknown command");
        for (i = 1; i < (size_t) argc && i < 3; i++) {
            fprintf(stderr, " %s", argv[i]);
        }
        fputs("\n\n", stderr);
        admin_usage_text(stderr);
        return ADMIN_USAGE;
    }
    if (!admin_commands[i].needs_db) {
        return admin_commands[i].fn(NULL, argc - used, argv + used);
    }
    if (url == NULL || *url == '\0') {
        fputs("nano-admin: DATABASE_URL is not set\n", stderr);
        return ADMIN_USAGE;
    }
    /* the URL's password is never echoed: nano_db_new's messages omit it */
    db = nano_db_new(url, err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "nano-admin: %s\n", err);
        return ADMIN_USAGE;
    }
    rc = admin_commands[i].fn(db, argc - used, argv + used);
    nano_db_free(db);
    return rc;
}
