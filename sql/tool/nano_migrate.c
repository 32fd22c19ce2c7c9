/*
 * nano-migrate: shows and applies sql/'s numbered migrations, each linted
 * first and run in its own transaction, recorded in "_nano_migrations".
 */

#include "nano_dburl.h"
#include "nano_schema.h"
#include "sql_lint.h"

#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

/* Key of the session advisory lock two runners would race for. */
#define MIGRATE_LOCK_A  "1852796513"    /* 'nano' */
#define MIGRATE_LOCK_B  "1835625331"    /* 'migr' */

/* A migration waits this long for a table lock, then rolls back and
 * tries again after the pause, this many times in all: V1's queries on
 * that table queue behind the waiting request, so each wait stalls them
 * for at most MIGRATE_LOCK_WAIT, and a pause lets them through. */
#define MIGRATE_LOCK_WAIT   "2s"
#define MIGRATE_LOCK_PAUSE  3           /* seconds */
#define MIGRATE_LOCK_TRIES  10

/* A concurrent index build still running after this many seconds says
 * which sessions it waits for, then again every MIGRATE_WATCH_AGAIN. */
#define MIGRATE_WATCH_FIRST  5
#define MIGRATE_WATCH_AGAIN  30

/* Tables the V1 baseline creates; all present = a V1 database. */
static const char *const v1_tables[] = {
    "Account", "Session", "User", "VerificationToken", NULL
};

/*
 * Migrations revised after release, with the checksum databases recorded
 * for the earlier text, which is accepted as applied: only where both
 * versions leave the database the same (002 and 008 built their indexes
 * with a plain CREATE INDEX, which holds V1's writes for the whole
 * build; 002 now builds it CONCURRENTLY, 008's moved to 026, which finds
 * it built).  Any other change to an applied file is still refused.
 */
static const struct {
    const char *name;
    const char *was;        /* the checksum recorded for the earlier text */
    const char *now;        /* the revised file's */
} revised[] = {
    { "002_user_email_lower_idx.sql",
      "5e1d8e7f91569f554c2ace91505bac991a3eb47a05649af3b17529974481e390",
      "75880c76ac56798802d44e8c2158b8385a46e197d7276fd088aa8516a333bd7c" },
    { "008_oauth.sql",
      "2b36a47099c36ead38fa5a6a2b139fa43904f71424aff5edb2d2b87988c4e008",
      "89658a45968744f6a1303499c3237b288daa2908210a492ffc126d656d0690e5" },
    { NULL, NULL, NULL }
};

typedef enum {
    MIG_PENDING,        /* to run */
    MIG_APPLIED,        /* recorded, checksum matches */
    MIG_PRESENT,        /* the baseline on a V1 database: record only */
    MIG_CHANGED         /* recorded with another checksum: refuse */
} mig_state_t;

typedef struct {
    char          *name;        /* file name, e.g. 001_user_created_at.sql */
    char          *path;        /* dir/name */
    unsigned long  number;
    char          *sql;
    size_t         len;
    char           checksum[65];
    mig_state_t    state;
    int            notx;        /* NANO_SQL_NO_TRANSACTION: no BEGIN */
    int            revised;     /* applied as its earlier version */
} migration_t;

typedef struct {
    migration_t *m;
    size_t       n;
} mig_list_t;

static void die_msg(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Prints "nano-migrate: <message>" on stderr. */
static void
die_msg(const char *fmt, ...)
{
    va_list ap;

    fputs("nano-migrate: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void
usage(FILE *f)
{
    fputs("usage: nano-migrate [--apply] [--dir DIR] [--database-url URL]\n"
          "       nano-migrate lint FILE...\n"
          "Shows the migration plan for DATABASE_URL (or --database-url);\n"
          "applies it only with --apply.  DIR defaults to sql.\n", f);
}

/* First line of a libpq message, without its trailing newline. */
static const char *
first_line(const char *msg, char *buf, size_t len)
{
    size_t n = strcspn(msg ? msg : "", "\n");

    if (n >= len) {
        n = len - 1;
    }
    memcpy(buf, msg ? msg : "", n);
    buf[n] = '\0';
    return buf;
}

static void
mig_list_free(mig_list_t *list)
{
    size_t i;

    for (i = 0; i < list->n; i++) {
        free(list->m[i].name);
        free(list->m[i].path);
        free(list->m[i].sql);
    }
    free(list->m);
    list->m = NULL;
    list->n = 0;
}

static int
sha256_hex(const char *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int  mdlen = 0, i;

    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL)) {
        return -1;
    }
    for (i = 0; i < mdlen && i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    return 0;
}

static int
cmp_migration(const void *a, const void *b)
{
    const migration_t *x = a, *y = b;

    if (x->number != y->number) {
        return x->number < y->number ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

/* Reads every NNN_name.sql in dir, sorted by number (two with one
 * number by name: pending_twins refuses them when that order would
 * decide anything). */
static int
load_migrations(const char *dir, mig_list_t *list)
{
    DIR           *d;
    struct dirent *de;
    migration_t   *m, *grown;
    unsigned long  number;
    size_t         cap = 0;
    int            rc = -1;

    d = opendir(dir);
    if (d == NULL) {
        die_msg("%s: cannot open directory: %s", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);

        if (!nano_schema_migration_name(de->d_name, &number)) {
            if (nl > 4 && strcmp(de->d_name + nl - 4, ".sql") == 0) {
                die_msg("%s/%s: ignored: not named NNN_name.sql", dir,
                        de->d_name);
            }
            continue;
        }
        if (list->n == cap) {
            cap = cap ? cap * 2 : 16;
            grown = realloc(list->m, cap * sizeof(*grown));
            if (grown == NULL) {
                die_msg("out of memory");
                goto out;
            }
            list->m = grown;
        }
        m = &list->m[list->n];
        memset(m, 0, sizeof(*m));
        m->number = number;
        m->name = strdup(de->d_name);
        if (m->name == NULL
            || asprintf(&m->path, "%s/%s", dir, de->d_name) < 0)
        {
            m->path = NULL;
            list->n++;
            die_msg("out of memory");
            goto out;
        }
        list->n++;
        m->sql = nano_sql_read_file(m->path, &m->len, stderr);
        if (m->sql == NULL) {
            goto out;
        }
        if (memchr(m->sql, '\0', m->len) != NULL) {
            die_msg("%s: contains a NUL byte", m->path);
            goto out;
        }
        if (sha256_hex(m->sql, m->len, m->checksum) != 0) {
            die_msg("%s: cannot compute its checksum", m->path);
            goto out;
        }
        m->notx = nano_sql_no_transaction(m->sql, m->len);
    }
    /* a wrong --dir read as "everything applied is unknown, nothing to
     * do", exit 0 (found by the admin probe) */
    if (list->n == 0) {
        die_msg("%s: no migration in it (files named NNN_name.sql): not"
                " the sql/ folder", dir);
        goto out;
    }
    qsort(list->m, list->n, sizeof(*list->m), cmp_migration);
    rc = 0;
out:
    closedir(d);
    return rc;
}

static void
ignore_notice(void *arg, const char *message)
{
    (void) arg;
    (void) message;
}

/* Runs a statement whose only interest is success (BEGIN, SET, ...). */
static int
exec_ok(PGconn *conn, const char *sql, int nparams,
    const char *const *params, const char *what)
{
    PGresult *res;
    char      line[512];
    int       rc = 0;

    res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK
        && PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        die_msg("%s failed: %s", what,
                first_line(PQresultErrorMessage(res), line, sizeof(line)));
        rc = -1;
    }
    PQclear(res);
    return rc;
}

/* 1 when the relation named exactly name resolves on the search path,
 * 0 when not, -1 on error. */
static int
relation_exists(PGconn *conn, const char *name)
{
    const char *params[1];
    PGresult   *res;
    char        quoted[256], line[512];
    int         rc = -1;

    snprintf(quoted, sizeof(quoted), "\"%s\"", name);
    params[0] = quoted;
    res = PQexecParams(conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL,
                       params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        die_msg("cannot inspect the database: %s",
                first_line(PQresultErrorMessage(res), line, sizeof(line)));
        goto out;
    }
    rc = PQgetvalue(res, 0, 0)[0] == 't';
out:
    PQclear(res);
    return rc;
}

/*
 * With no V1 table on the search path the baseline would create empty
 * ones there.  When V1's "User" lives in another schema of the database
 * (a URL without V1's ?schema=), that is a second, empty user table next
 * to the live one: refused, naming the schema.  Returns 0 when there is
 * none, -1 when refused or on error.
 */
static int
v1_elsewhere(PGconn *conn)
{
    PGresult *res;
    char      line[512];
    int       rc = -1;

    res = PQexecParams(conn, "SELECT string_agg(quote_ident(n.nspname), ', '"
                       " ORDER BY n.nspname) FROM pg_class c"
                       " JOIN pg_namespace n ON n.oid = c.relnamespace"
                       " WHERE c.relname = 'User' AND c.relkind IN ('r', 'p')"
                       " AND n.nspname NOT LIKE 'pg\\_%'"
                       " AND n.nspname <> 'information_schema'", 0, NULL,
                       NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        die_msg("cannot inspect the database: %s",
                first_line(PQresultErrorMessage(res), line, sizeof(line)));
    } else if (!PQgetisnull(res, 0, 0)) {
        die_msg("no V1 table on the search path, but \"User\" exists in "
                "schema %s: refusing to create a second, empty one (point "
                "?schema= in DATABASE_URL at V1's schema)",
                PQgetvalue(res, 0, 0));
    } else {
        rc = 0;
    }
    PQclear(res);
    return rc;
}

/* 1 when m is a file revised after release (revised[]) and sum is what
 * databases recorded for its earlier text. */
static int
was_revised(const migration_t *m, const char *sum)
{
    size_t i;

    for (i = 0; revised[i].name != NULL; i++) {
        if (strcmp(revised[i].name, m->name) == 0
            && strcmp(revised[i].was, sum) == 0
            && strcmp(revised[i].now, m->checksum) == 0)
        {
            return 1;
        }
    }
    return 0;
}

/*
 * Sorts every file into applied / present / changed / pending from the
 * record table and, for the baseline, from V1's tables; counts changed
 * files in *changed and prints why.  Returns 0, or -1 on error.
 */
static int
read_state(PGconn *conn, mig_list_t *list, int *unknown_records,
    int *changed)
{
    PGresult *res = NULL;
    char      line[512];
    int       have_table, v1_found = 0, v1_count = 0, rc = -1, r, i;
    size_t    k;

    for (k = 0; k < list->n; k++) {
        list->m[k].state = MIG_PENDING;
    }
    *unknown_records = 0;
    *changed = 0;
    have_table = relation_exists(conn, "_nano_migrations");
    if (have_table < 0) {
        goto out;
    }
    if (have_table) {
        res = PQexecParams(conn, "SELECT name, checksum FROM "
                           "\"_nano_migrations\" ORDER BY name", 0, NULL,
                           NULL, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            die_msg("cannot read \"_nano_migrations\": %s",
                    first_line(PQresultErrorMessage(res), line,
                               sizeof(line)));
            goto out;
        }
        for (i = 0; i < PQntuples(res); i++) {
            const char *name = PQgetvalue(res, i, 0);
            const char *sum = PQgetvalue(res, i, 1);

            for (k = 0; k < list->n; k++) {
                if (strcmp(list->m[k].name, name) == 0) {
                    break;
                }
            }
            if (k == list->n) {
                printf("  unknown  %s  (recorded in the database, no such "
                       "file)\n", name);
                (*unknown_records)++;
                continue;
            }
            list->m[k].revised = was_revised(&list->m[k], sum);
            if (strcmp(list->m[k].checksum, sum) != 0
                && !list->m[k].revised)
            {
                list->m[k].state = MIG_CHANGED;
                die_msg("%s was changed after it was applied (recorded "
                        "checksum %.12s, file now %.12s); add a new "
                        "migration instead", list->m[k].path, sum,
                        list->m[k].checksum);
                (*changed)++;
            } else {
                list->m[k].state = MIG_APPLIED;
            }
        }
    }
    for (i = 0; v1_tables[i] != NULL; i++) {
        r = relation_exists(conn, v1_tables[i]);
        if (r < 0) {
            goto out;
        }
        v1_count++;
        v1_found += r;
    }
    if (list->n > 0 && list->m[0].number == 0
        && list->m[0].state == MIG_PENDING && v1_found > 0)
    {
        if (v1_found != v1_count) {
            die_msg("the database holds only part of the V1 schema (%d of "
                    "%d tables): refusing to guess; fix it by hand",
                    v1_found, v1_count);
            goto out;
        }
        list->m[0].state = MIG_PRESENT;
    }
    if (list->n > 0 && list->m[0].number == 0
        && list->m[0].state == MIG_PENDING && v1_found == 0
        && v1_elsewhere(conn) != 0)
    {
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

/*
 * Two files with one number that are both still to run: their order
 * would be a coin toss.  One of them already applied is no such thing: a
 * site's own migration (a module's price, docs/OPERATIONS.md) took a
 * number that a later release of sql/ uses too, and that release must
 * still apply its own.  Returns the number of such pairs.
 */
static int
pending_twins(const mig_list_t *list)
{
    size_t i;
    int    n = 0;

    for (i = 1; i < list->n; i++) {
        if (list->m[i].number == list->m[i - 1].number
            && list->m[i].state == MIG_PENDING
            && list->m[i - 1].state == MIG_PENDING)
        {
            die_msg("%s and %s have the same number and neither is "
                    "applied: their order is not defined; renumber one",
                    list->m[i - 1].path, list->m[i].path);
            n++;
        }
    }
    return n;
}

/* Lints what will run; the baseline found present is not run. */
static int
lint_pending(const mig_list_t *list)
{
    size_t k;
    int    n, total = 0;

    for (k = 0; k < list->n; k++) {
        if (list->m[k].state != MIG_PENDING) {
            continue;
        }
        n = nano_sql_lint_file(list->m[k].path, stderr);
        if (n != 0) {
            total += n > 0 ? n : 1;
        }
    }
    if (total) {
        die_msg("refusing the plan: %d lint finding%s (migrations must be "
                "additive)", total, total == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

/* The plan's first line, before read_state's "unknown" lines. */
static void
print_database(PGconn *conn)
{
    PGresult *res;

    res = PQexecParams(conn, "SELECT current_schema()", 0, NULL, NULL, NULL,
                       NULL, 0);
    printf("database \"%s\" on %s port %s, schema \"%s\"\n", PQdb(conn),
           PQhost(conn), PQport(conn),
           PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
           ? PQgetvalue(res, 0, 0) : "?");
    PQclear(res);
}

/*
 * The platform's text is UTF-8 and PostgreSQL has to know it: on
 * SQL_ASCII (what initdb picks under the C locale, as a Debian cluster
 * made without a locale gets) left() and the like count bytes, so the
 * dashboard cut a prompt inside a character and its recent activity
 * came back empty, and jsonb refuses a "\u00e9" escape; another
 * encoding refuses or converts what it cannot hold.  Refused before
 * anything is applied, naming the way out.  Returns 0, or -1.
 */
static int
check_encoding(PGconn *conn)
{
    const char *enc = PQparameterStatus(conn, "server_encoding");

    if (enc != NULL && strcmp(enc, "UTF8") == 0) {
        return 0;
    }
    die_msg("the database's encoding is %s, not UTF8: the platform keeps "
            "UTF-8 text, which it would cut inside characters; create the "
            "database with createdb -E UTF8 --lc-ctype=C.UTF-8 -T template0 "
            "(a V1 database: pg_dump it and restore it into such a one)",
            enc != NULL ? enc : "unknown");
    return -1;
}

static void
print_plan(const mig_list_t *list, int unknown, int *pending, int *present)
{
    size_t    k;
    int       applied = 0, changed = 0;

    *pending = *present = 0;
    for (k = 0; k < list->n; k++) {
        switch (list->m[k].state) {
        case MIG_APPLIED:
            printf("  applied  %s%s\n", list->m[k].name, list->m[k].revised
                   ? "  (its earlier version, which left the same)" : "");
            applied++;
            break;
        case MIG_PRESENT:
            printf("  present  %s  (V1 schema found: will be recorded, "
                   "not run)\n", list->m[k].name);
            (*present)++;
            break;
        case MIG_CHANGED:
            printf("  CHANGED  %s  (checksum differs from the applied "
                   "file)\n", list->m[k].name);
            changed++;
            break;
        case MIG_PENDING:
            printf("  pending  %s\n", list->m[k].name);
            (*pending)++;
            break;
        }
    }
    if (changed) {
        return;                     /* the refusal follows */
    }
    if (unknown) {
        /* an older sql/ than the database's: what it applied stays */
        printf("%d applied migration%s %s no file here (a newer release "
               "applied %s; nothing of %s is undone)\n", unknown,
               unknown == 1 ? "" : "s", unknown == 1 ? "has" : "have",
               unknown == 1 ? "it" : "them", unknown == 1 ? "it" : "them");
    }
    if (*pending == 0 && *present == 0) {
        printf("plan: nothing to do (%d applied)\n", applied);
    } else {
        printf("plan: %d to apply, %d to record\n", *pending, *present);
    }
}

/* Line number in sql of the 1-based character position pos. */
static unsigned
line_of(const char *sql, const char *pos)
{
    long     chars = pos ? strtol(pos, NULL, 10) : 0;
    unsigned line = 1;

    for (; chars > 1 && *sql; sql++) {
        /* position counts characters: skip UTF-8 continuation bytes */
        if (((unsigned char) *sql & 0xC0) != 0x80) {
            chars--;
        }
        line += *sql == '\n';
    }
    return line;
}

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static PGresult *exec_watched(PGconn *conn, const migration_t *m,
    const char *sql, const char *doing);

/*
 * A CREATE INDEX CONCURRENTLY that failed or was interrupted (a runner
 * killed, a deadlock) leaves its index behind, INVALID: never used, but
 * kept up to date by every write, and IF NOT EXISTS would take it for
 * built.  Dropped CONCURRENTLY (a plain DROP INDEX would take V1's table
 * ACCESS EXCLUSIVE) so that the statement builds it again.  Returns 0,
 * or -1.
 *
 * An index lives in its table's schema, and the statement names its
 * table unqualified: so the one looked for is on a table its bare name
 * finds on the search path, wherever that is.  Under the default
 * "$user", public with a schema named after the role, current_schema()
 * is that schema while V1's tables are in public, and an INVALID index
 * of "User" was never found there: left as it was, taken for built.
 */
static int
drop_invalid(PGconn *conn, const migration_t *m, const char *name)
{
    const char *params[1] = { name };
    PGresult   *res, *drop = NULL;
    char        line[512];
    int         rc = -1;

    res = PQexecParams(conn, "SELECT format('DROP INDEX CONCURRENTLY IF "
                       "EXISTS %I.%I', n.nspname, c.relname) FROM pg_index i"
                       " JOIN pg_class c ON c.oid = i.indexrelid"
                       " JOIN pg_namespace n ON n.oid = c.relnamespace"
                       " JOIN pg_class t ON t.oid = i.indrelid"
                       " WHERE c.relname = $1 AND NOT i.indisvalid"
                       " AND to_regclass(format('%I', t.relname)) = t.oid"
                       " ORDER BY array_position(current_schemas(false),"
                       " n.nspname) LIMIT 1", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        die_msg("%s: cannot inspect index \"%s\": %s", m->path, name,
                first_line(PQresultErrorMessage(res), line, sizeof(line)));
        goto out;
    }
    if (PQntuples(res) == 0) {
        rc = 0;
        goto out;
    }
    die_msg("%s: index \"%s\" is INVALID (an earlier build failed or was "
            "interrupted): dropping it to build it again", m->path, name);
    /* it too waits for every older transaction */
    drop = exec_watched(conn, m, PQgetvalue(res, 0, 0),
                        "dropping the invalid index");
    if (PQresultStatus(drop) != PGRES_COMMAND_OK) {
        die_msg("%s: dropping the invalid index \"%s\": %s", m->path, name,
                first_line(drop != NULL ? PQresultErrorMessage(drop)
                           : PQerrorMessage(conn), line, sizeof(line)));
        goto out;
    }
    rc = 0;
out:
    PQclear(drop);
    PQclear(res);
    return rc;
}

/*
 * A second session like conn's (its parameters, PQconninfo), to look at
 * conn's while conn is busy.  NULL when it cannot connect.
 */
static PGconn *
watch_connect(PGconn *conn)
{
    PQconninfoOption *opt, *o;
    const char      **kw = NULL, **val = NULL;
    PGconn           *w = NULL;
    size_t            n = 0;

    opt = PQconninfo(conn);
    if (opt == NULL) {
        return NULL;
    }
    for (o = opt; o->keyword != NULL; o++) {
        n++;
    }
    kw = calloc(n + 2, sizeof(*kw));
    val = calloc(n + 2, sizeof(*val));
    if (kw == NULL || val == NULL) {
        goto out;
    }
    n = 0;
    for (o = opt; o->keyword != NULL; o++) {
        if (o->val != NULL && strcmp(o->keyword, "application_name") != 0
            && strcmp(o->keyword, "fallback_application_name") != 0)
        {
            kw[n] = o->keyword;
            val[n++] = o->val;
        }
    }
    kw[n] = "application_name";
    val[n] = "nano-migrate watch";
    w = PQconnectdbParams(kw, val, 0);
    if (PQstatus(w) != CONNECTION_OK) {
        PQfinish(w);
        w = NULL;
    }
out:
    free(kw);
    free(val);
    PQconninfoFree(opt);
    return w;
}

/*
 * Says which sessions conn's statement waits for (pg_blocking_pids): a
 * concurrent build waits for every transaction older than it, a V1
 * session left idle in one for as long as it stays, and the operator
 * otherwise sees a runner that says nothing (found by the review probe).
 */
static void
say_blockers(PGconn **watch, PGconn *conn, const migration_t *m,
    const char *doing, long long waited)
{
    const char *params[1];
    PGresult   *res;
    char        pid[32], line[512];
    int         i, n;

    if (*watch == NULL && (*watch = watch_connect(conn)) == NULL) {
        die_msg("%s: still %s after %lld s (cannot look at what it "
                "waits for)", m->path, doing, waited);
        return;
    }
    snprintf(pid, sizeof(pid), "%d", PQbackendPID(conn));
    params[0] = pid;
    res = PQexecParams(*watch, "SELECT a.pid, a.state,"
                       " coalesce(extract(epoch FROM now() - a.xact_start)"
                       "::bigint, 0), coalesce(a.usename, ''),"
                       " coalesce(a.application_name, ''),"
                       " coalesce(host(a.client_addr), 'local'),"
                       " left(regexp_replace(coalesce(a.query, ''),"
                       " '\\s+', ' ', 'g'), 80)"
                       " FROM pg_stat_activity a"
                       " WHERE a.pid = ANY (pg_blocking_pids($1::int))"
                       " ORDER BY a.xact_start, a.pid", 1, NULL, params,
                       NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        die_msg("%s: still %s after %lld s (cannot look at what it "
                "waits for: %s)", m->path, doing, waited,
                first_line(PQresultErrorMessage(res), line, sizeof(line)));
        PQclear(res);
        return;
    }
    n = PQntuples(res);
    if (n == 0) {
        die_msg("%s: still %s after %lld s, waiting for no other "
                "session", m->path, doing, waited);
    } else {
        die_msg("%s: still %s after %lld s, waiting for %d older "
                "transaction%s to end (they hold nothing V1 waits for; "
                "SELECT pg_terminate_backend(pid) ends one):", m->path,
                doing, waited, n, n == 1 ? "" : "s");
    }
    for (i = 0; i < n; i++) {
        die_msg("  pid %s, %s, in its transaction for %s s (user %s, "
                "application %s, client %s): %s", PQgetvalue(res, i, 0),
                PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
                PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
    }
    PQclear(res);
}

/*
 * PQexec of sql, saying every so often what it waits for (a
 * no-transaction file's concurrent build: no lock_timeout ends its
 * wait).  Returns the last result, an error one if any.
 */
static PGresult *
exec_watched(PGconn *conn, const migration_t *m, const char *sql,
    const char *doing)
{
    PGconn         *watch = NULL;
    PGresult       *res = NULL, *r;
    struct timeval  tv;
    fd_set          rd;
    long long       start = now_ms(), next, left;
    int             fd, ready;

    if (!PQsendQuery(conn, sql)) {
        return PQexec(conn, sql);   /* the same error, as a result */
    }
    next = start + MIGRATE_WATCH_FIRST * 1000LL;
    while (PQconsumeInput(conn) && PQisBusy(conn)) {
        fd = PQsocket(conn);
        left = next - now_ms();
        if (left < 0) {
            left = 0;
        }
        FD_ZERO(&rd);
        FD_SET(fd, &rd);
        tv.tv_sec = left / 1000;
        tv.tv_usec = (left % 1000) * 1000;
        ready = select(fd + 1, &rd, NULL, NULL, &tv);
        if (ready < 0 && errno != EINTR) {
            break;
        }
        if (ready == 0) {
            say_blockers(&watch, conn, m, doing, (now_ms() - start) / 1000);
            next = now_ms() + MIGRATE_WATCH_AGAIN * 1000LL;
        }
    }
    PQfinish(watch);
    while ((r = PQgetResult(conn)) != NULL) {
        if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR) {
            PQclear(r);
            continue;
        }
        PQclear(res);
        res = r;
    }
    return res;
}

/*
 * Runs a migration's statements one by one, so that a failure names the
 * line of the statement (and, for syntax errors, of the spot) that broke.
 * Migration files are the one place that runs SQL text without
 * parameters: they are scripts, reviewed and linted.  Returns 0, -1, or
 * -2 without a word when quiet_lock is set and a statement gave up
 * waiting for a lock (lock_timeout: SQLSTATE 55P03).
 */
static int
run_script(PGconn *conn, const migration_t *m, int quiet_lock)
{
    nano_sql_stmt_t *st = NULL;
    PGresult        *res = NULL;
    char            *text = NULL, line[512], index[256];
    const char      *pos, *msg;
    int              n, i, rc = -1;

    n = nano_sql_statements(m->sql, m->len, NULL, 0);
    if (n < 0) {
        die_msg("%s: cannot be split into statements (unterminated string "
                "or comment?)", m->path);
        goto out;
    }
    st = calloc((size_t) n + 1, sizeof(*st));
    if (st == NULL) {
        die_msg("out of memory");
        goto out;
    }
    nano_sql_statements(m->sql, m->len, st, (size_t) n);
    for (i = 0; i < n; i++) {
        free(text);
        text = strndup(m->sql + st[i].offset, st[i].len);
        if (text == NULL) {
            die_msg("out of memory");
            goto out;
        }
        if (m->notx
            && nano_sql_index_name(text, st[i].len, index, sizeof(index))
            && drop_invalid(conn, m, index) != 0)
        {
            goto out;
        }
        res = m->notx ? exec_watched(conn, m, text, "building")
                      : PQexec(conn, text);
        if (PQresultStatus(res) != PGRES_COMMAND_OK
            && PQresultStatus(res) != PGRES_TUPLES_OK)
        {
            msg = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            if (quiet_lock && msg != NULL && strcmp(msg, "55P03") == 0) {
                rc = -2;
                goto out;
            }
            pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
            msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            die_msg("%s:%u: failed: %s; %s and later migrations were not "
                    "run", m->path, st[i].line + line_of(text, pos) - 1,
                    first_line(msg ? msg : PQerrorMessage(conn), line,
                               sizeof(line)),
                    m->notx ? "the statements before it stay (each commits"
                    " on its own; a half-built index is built again on the"
                    " next run)" : "nothing of it was applied");
            goto out;
        }
        PQclear(res);
        res = NULL;
    }
    rc = 0;
out:
    PQclear(res);
    free(text);
    free(st);
    return rc;
}

/*
 * Runs one migration (or, for the baseline on a V1 database, only its
 * record) and records it in the same transaction.  A lock request that
 * waits makes every later query on that table (V1's) wait behind it, so
 * a migration waits at most MIGRATE_LOCK_WAIT, rolls back, lets them
 * through for MIGRATE_LOCK_PAUSE and tries again.
 *
 * A no-transaction migration (CREATE INDEX CONCURRENTLY only) runs each
 * statement on its own and is recorded after the last.  Its lock, SHARE
 * UPDATE EXCLUSIVE, is one V1's reads and writes never wait for, even
 * queued; the build waits in turn for every transaction older than it,
 * which stalls nobody but the runner: no lock_timeout there, which would
 * only fail the build and leave its index INVALID.
 */
static int
apply_one(PGconn *conn, const migration_t *m)
{
    const char *params[2] = { m->name, m->checksum };
    PGresult   *res = NULL;
    long long   start = now_ms();
    int         rc = -1, tries = 0, ran;

    if (m->notx) {
        if (exec_ok(conn, "SET lock_timeout = 0", 0, NULL,
                    "SET lock_timeout") != 0
            || run_script(conn, m, 0) != 0
            || exec_ok(conn, "RESET lock_timeout", 0, NULL,
                       "RESET lock_timeout") != 0)
        {
            goto out;
        }
        if (exec_ok(conn, "INSERT INTO \"_nano_migrations\" (name, checksum)"
                    " VALUES ($1, $2)", 2, params,
                    "recording the migration") != 0)
        {
            die_msg("%s: built, not recorded; the next run finds it built",
                    m->path);
            goto out;
        }
        printf("applied  %s  (%lld ms, no transaction)\n", m->name,
               now_ms() - start);
        return 0;
    }
again:
    tries++;
    if (exec_ok(conn, "BEGIN", 0, NULL, "BEGIN") != 0
        || exec_ok(conn, "SET LOCAL lock_timeout = '" MIGRATE_LOCK_WAIT "'",
                   0, NULL, "SET lock_timeout") != 0)
    {
        goto out;
    }
    ran = m->state == MIG_PENDING
          ? run_script(conn, m, tries < MIGRATE_LOCK_TRIES) : 0;
    if (ran == -2) {
        res = PQexecParams(conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
        PQclear(res);
        res = NULL;
        die_msg("%s: waited " MIGRATE_LOCK_WAIT " for a lock; trying again "
                "in %d s (attempt %d of %d)", m->path, MIGRATE_LOCK_PAUSE,
                tries + 1, MIGRATE_LOCK_TRIES);
        sleep(MIGRATE_LOCK_PAUSE);
        goto again;
    }
    if (ran != 0) {
        goto out;
    }
    if (exec_ok(conn, "INSERT INTO \"_nano_migrations\" (name, checksum) "
                "VALUES ($1, $2)", 2, params, "recording the migration") != 0
        || exec_ok(conn, "COMMIT", 0, NULL, "COMMIT") != 0)
    {
        die_msg("%s: not applied", m->path);
        goto out;
    }
    if (m->state == MIG_PENDING) {
        printf("applied  %s  (%lld ms)\n", m->name, now_ms() - start);
    } else {
        printf("recorded %s  (V1 schema already present)\n", m->name);
    }
    rc = 0;
out:
    PQclear(res);
    if (rc != 0 && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        res = PQexecParams(conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
        PQclear(res);
    }
    return rc;
}

/*
 * A session lock, held until exit: a second runner waits, then finds the
 * work done.  It waits by asking again each second, idle in between: a
 * session blocked in pg_advisory_lock() holds a snapshot, which a CREATE
 * INDEX CONCURRENTLY of the first runner waits for, while the second
 * waits for the first's lock: a deadlock PostgreSQL ended by failing the
 * second runner.
 */
static int
take_lock(PGconn *conn)
{
    PGresult *res;
    char      line[512];
    int       got, said = 0;

    for (;;) {
        res = PQexecParams(conn, "SELECT pg_try_advisory_lock("
                           MIGRATE_LOCK_A ", " MIGRATE_LOCK_B ")", 0, NULL,
                           NULL, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            die_msg("cannot take the migration lock: %s",
                    first_line(PQresultErrorMessage(res), line,
                               sizeof(line)));
            PQclear(res);
            return -1;
        }
        got = PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (got) {
            return 0;
        }
        if (!said) {
            die_msg("another nano-migrate is running; waiting for it");
            said = 1;
        }
        sleep(1);
    }
}

static int
migrate(const char *dir, const char *url, int apply)
{
    /* the migrations are UTF-8 whatever PGCLIENTENCODING says */
    const char *const kw[] = { "connect_timeout", "fallback_application_name",
                               "dbname", "client_encoding", NULL };
    const char       *val[] = { "10", "nano-migrate", NULL, "UTF8", NULL };
    mig_list_t        list = { NULL, 0 };
    PGconn           *conn = NULL;
    PGresult         *res = NULL;
    char             *uri = NULL, err[256], line[512];
    size_t            k;
    int               rc = 1, pending, present, unknown, changed, done = 0;

    if (url == NULL || *url == '\0') {
        die_msg("DATABASE_URL is not set (or pass --database-url)");
        goto out;
    }
    uri = nano_dburl_to_libpq(url, err, sizeof(err));
    if (uri == NULL) {
        die_msg("%s", err);
        goto out;
    }
    if (load_migrations(dir, &list) != 0) {
        goto out;
    }
    val[2] = uri;
    conn = PQconnectdbParams(kw, val, 1);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        die_msg("cannot connect: %s", conn ? first_line(PQerrorMessage(conn),
                line, sizeof(line)) : "out of memory");
        goto out;
    }
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    /* A runner stopped mid-statement (Ctrl-C, kill, its host gone) would
     * otherwise leave the statement running, an index build on "User"
     * say, with its locks held against V1 until it ends: PostgreSQL
     * notices a lost client only when it next talks to it.  Checked each
     * second, its transaction rolls back at once (PostgreSQL 14+). */
    if (apply && PQserverVersion(conn) >= 140000
        && exec_ok(conn, "SET client_connection_check_interval = '1s'", 0,
                   NULL, "SET client_connection_check_interval") != 0)
    {
        goto out;
    }
    if (apply && take_lock(conn) != 0) {
        goto out;
    }
    res = PQexecParams(conn, "SELECT current_schema() IS NOT NULL", 0, NULL,
                       NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1
        || PQgetvalue(res, 0, 0)[0] != 't')
    {
        die_msg("no schema on the search path exists (check ?schema= in "
                "DATABASE_URL)");
        goto out;
    }
    print_database(conn);
    if (check_encoding(conn) != 0) {
        goto out;
    }
    if (read_state(conn, &list, &unknown, &changed) != 0) {
        goto out;
    }
    print_plan(&list, unknown, &pending, &present);
    if (changed) {
        die_msg("refusing the plan: %d applied migration%s changed", changed,
                changed == 1 ? " was" : "s were");
        goto out;
    }
    if (pending_twins(&list) != 0 || lint_pending(&list) != 0) {
        goto out;
    }
    if (!apply) {
        if (pending || present) {
            printf("run with --apply to apply it\n");
        }
        rc = 0;
        goto out;
    }
    if (pending || present) {
        if (exec_ok(conn, "CREATE TABLE IF NOT EXISTS \"_nano_migrations\" ("
                    "name TEXT PRIMARY KEY, checksum TEXT NOT NULL, "
                    "applied_at TIMESTAMP(3) NOT NULL "
                    "DEFAULT CURRENT_TIMESTAMP)", 0, NULL,
                    "creating \"_nano_migrations\"") != 0)
        {
            goto out;
        }
    }
    for (k = 0; k < list.n; k++) {
        if (list.m[k].state != MIG_PENDING
            && list.m[k].state != MIG_PRESENT)
        {
            continue;
        }
        if (apply_one(conn, &list.m[k]) != 0) {
            goto out;
        }
        done++;
    }
    if (done) {
        printf("done: %d applied, %d recorded\n", pending, present);
    }
    rc = 0;
out:
    PQclear(res);
    if (conn != NULL) {
        PQfinish(conn);
    }
    if (uri != NULL) {
        explicit_bzero(uri, strlen(uri));
        free(uri);
    }
    mig_list_free(&list);
    return rc;
}

static int
lint_files(int argc, char **argv)
{
    int i, n, total = 0, bad = 0;

    if (argc == 0) {
        usage(stderr);
        return 2;
    }
    for (i = 0; i < argc; i++) {
        n = nano_sql_lint_file(argv[i], stdout);
        if (n < 0) {
            bad++;
        } else {
            total += n;
        }
    }
    if (total || bad) {
        die_msg("%d finding%s%s", total, total == 1 ? "" : "s",
                bad ? ", and files that could not be read" : "");
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    const char *dir = "sql", *url = getenv("DATABASE_URL");
    int         i, apply = 0;

    /* The plan (stdout) and refusals (stderr) interleave in order. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "lint") == 0) {
        return lint_files(argc - 2, argv + 2);
    }
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--apply") == 0) {
            apply = 1;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--database-url") == 0 && i + 1 < argc) {
            url = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0
                   || strcmp(argv[i], "-h") == 0)
        {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    return migrate(dir, url, apply);
}
