/*
 * Unit tests for the DATABASE_URL translation (nano_dburl_to_libpq): exact
 * output URIs, exact error texts, and that libpq reads the output back.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_table.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "nano_dburl.h"

typedef struct {
    const char *name;
    const char *in;
    const char *out;    /* expected URI, or NULL for an error */
    const char *err;    /* expected error text when out is NULL */
} dburl_case_t;

#define NO_SCHEME "DATABASE_URL must start with postgresql:// or postgres://"
#define BAD_PCT   "DATABASE_URL has a bad percent-encoding"
#define SP(x)     "options=-c%20search_path%3D%22" x "%22"

static const dburl_case_t cases[] = {
    { "plain", "postgresql://u:p@h:5432/db",
      "postgresql://u:p@h:5432/db", NULL },
    { "postgres scheme", "postgres://u:p@h/db", "postgresql://u:p@h/db",
      NULL },
    { "scheme case-insensitive", "POSTGRES://h/db", "postgresql://h/db",
      NULL },
    { "no database", "postgresql://u@h", "postgresql://u@h", NULL },
    { "empty authority", "postgresql:///db", "postgresql:///db", NULL },
    { "percent-encoded password kept",
      "postgresql://app:p%40ss%3Aw%2Frd%25@h/db",
      "postgresql://app:p%40ss%3Aw%2Frd%25@h/db", NULL },
    { "several hosts", "postgresql://u@h1:5432,h2:5433/db?"
      "target_session_attrs=read-write",
      "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write",
      NULL },
    { "ipv6 host", "postgresql://u@[::1]:5432/db",
      "postgresql://u@[::1]:5432/db", NULL },
    { "schema public", "postgresql://u@h/db?schema=public",
      "postgresql://u@h/db?" SP("public"), NULL },
    { "schema keeps case", "postgresql://u@h/db?schema=MySchema",
      "postgresql://u@h/db?" SP("MySchema"), NULL },
    { "schema with %20", "postgresql://u@h/db?schema=My%20Schema",
      "postgresql://u@h/db?" SP("My%5C%20Schema"), NULL },
    { "schema with + is a space", "postgresql://u@h/db?schema=My+Schema",
      "postgresql://u@h/db?" SP("My%5C%20Schema"), NULL },
    { "schema with a double quote", "postgresql://u@h/db?schema=a%22b",
      "postgresql://u@h/db?" SP("a%22%22b"), NULL },
    { "schema with a backslash", "postgresql://u@h/db?schema=a%5Cb",
      "postgresql://u@h/db?" SP("a%5C%5Cb"), NULL },
    { "schema with comma and semicolon",
      "postgresql://u@h/db?schema=a,b;c",
      "postgresql://u@h/db?" SP("a%2Cb%3Bc"), NULL },
    { "schema utf-8", "postgresql://u@h/db?schema=%C3%A9t%C3%A9",
      "postgresql://u@h/db?" SP("%C3%A9t%C3%A9"), NULL },
    { "empty schema ignored", "postgresql://u@h/db?schema=",
      "postgresql://u@h/db", NULL },
    { "last schema wins", "postgresql://u@h/db?schema=a&schema=b",
      "postgresql://u@h/db?" SP("b"), NULL },
    { "prisma-only options dropped",
      "postgresql://u@h/db?connection_limit=5&pool_timeout=10"
      "&socket_timeout=3&pgbouncer=true&statement_cache_size=0"
      "&sslaccept=strict&sslidentity=id.p12&sslpassword=pw"
      "&max_connection_lifetime=5",
      "postgresql://u@h/db", NULL },
    { "libpq options kept in order",
      "postgresql://u@h/db?sslmode=require&connect_timeout=5"
      "&application_name=v1%20app",
      "postgresql://u@h/db?sslmode=require&connect_timeout=5"
      "&application_name=v1%20app", NULL },
    { "mixed options and schema",
      "postgresql://u:p@h:5432/db?schema=s&connection_limit=1"
      "&sslmode=disable&pgbouncer=true",
      "postgresql://u:p@h:5432/db?sslmode=disable&" SP("s"), NULL },
    { "prisma sslcert is the server CA",
      "postgresql://u@h/db?sslmode=require&sslcert=../ca.pem",
      "postgresql://u@h/db?sslmode=require&sslrootcert=../ca.pem", NULL },
    { "libpq-style sslcert with sslkey kept",
      "postgresql://u@h/db?sslcert=c.pem&sslkey=k.pem",
      "postgresql://u@h/db?sslcert=c.pem&sslkey=k.pem", NULL },
    { "libpq-style sslcert with sslrootcert kept",
      "postgresql://u@h/db?sslrootcert=ca.pem&sslcert=c.pem",
      "postgresql://u@h/db?sslrootcert=ca.pem&sslcert=c.pem", NULL },
    { "socket directory as host param",
      "postgresql://u@localhost/db?host=%2Fvar%2Frun%2Fpostgresql",
      "postgresql://u@localhost/db?host=%2Fvar%2Frun%2Fpostgresql", NULL },
    { "user options merged with schema",
      "postgresql://u@h/db?options=-c%20statement_timeout%3D5000&schema=s",
      "postgresql://u@h/db?options=-c%20statement_timeout%3D5000%20-c%20"
      "search_path%3D%22s%22", NULL },
    { "unknown parameter dropped", "postgresql://u@h/db?foo=bar&sslmode="
      "prefer", "postgresql://u@h/db?sslmode=prefer", NULL },
    { "encoded parameter name", "postgresql://u@h/db?%73chema=x",
      "postgresql://u@h/db?" SP("x"), NULL },
    { "empty parameters skipped", "postgresql://u@h/db?&&schema=x&",
      "postgresql://u@h/db?" SP("x"), NULL },
    { "bare question mark", "postgresql://u@h/db?", "postgresql://u@h/db",
      NULL },
    { "fragment dropped", "postgresql://u@h/db?schema=x#frag",
      "postgresql://u@h/db?" SP("x"), NULL },

    { "empty", "", NULL, "DATABASE_URL is empty" },
    { "no scheme", "localhost:5432/db", NULL, NO_SCHEME },
    { "other scheme", "mysql://u:secretpw@h/db", NULL, NO_SCHEME },
    { "one slash", "postgresql:/h/db", NULL, NO_SCHEME },
    { "file name", "file:./dev.db", NULL, NO_SCHEME },
    { "bad escape in password", "postgresql://u:secret%zzpw@h/db", NULL,
      BAD_PCT },
    { "short escape at the end", "postgresql://u:secretpw@h/db%4", NULL,
      BAD_PCT },
    { "lone percent", "postgresql://u:secretpw@h/db?schema=%", NULL,
      BAD_PCT },
    { "bad escape in a dropped param",
      "postgresql://u:secretpw@h/db?pool_timeout=%G1", NULL, BAD_PCT },
    { "raw newline", "postgresql://u:secretpw@h/db\nx", NULL,
      "DATABASE_URL contains a control character" },
    { "raw tab", "postgresql://u:secret\tpw@h/db", NULL,
      "DATABASE_URL contains a control character" },
    { "control char in schema", "postgresql://u:secretpw@h/db?schema=a%0Ab",
      NULL, "schema in DATABASE_URL contains a control character" },
    { "NUL in schema", "postgresql://u:secretpw@h/db?schema=a%00b", NULL,
      "schema in DATABASE_URL contains a control character" },
    { "control char in options",
      "postgresql://u:secretpw@h/db?options=-c%0Ax=1", NULL,
      "options in DATABASE_URL contains a control character" },
    { "DEL in schema", "postgresql://u:secretpw@h/db?schema=%7F", NULL,
      "schema in DATABASE_URL contains a control character" },
};

static void
test_case(void **state)
{
    const dburl_case_t *c = *state;
    char                err[256] = "";
    char               *out;

    out = nano_dburl_to_libpq(c->in, err, sizeof(err));
    if (c->out != NULL) {
        assert_non_null(out);
        assert_string_equal(out, c->out);
        assert_string_equal(err, "");
    } else {
        assert_null(out);
        assert_string_equal(err, c->err);
        assert_null(strstr(err, "secret"));
    }
    free(out);
}

static void
test_null_url(void **state)
{
    char err[64] = "";

    (void) state;
    assert_null(nano_dburl_to_libpq(NULL, err, sizeof(err)));
    assert_string_equal(err, "DATABASE_URL is empty");
}

static void
test_small_error_buffer(void **state)
{
    char err[8];

    (void) state;
    memset(err, 'x', sizeof(err));
    assert_null(nano_dburl_to_libpq("nope", err, sizeof(err)));
    assert_string_equal(err, "DATABAS");
    assert_null(nano_dburl_to_libpq("nope", NULL, 0));
}

/* What libpq makes of an output URI: the value of keyword, or NULL. */
static char *
libpq_value(const char *uri, const char *keyword)
{
    PQconninfoOption *opts, *o;
    char             *errmsg = NULL, *val = NULL;

    opts = PQconninfoParse(uri, &errmsg);
    assert_non_null(opts);
    for (o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, keyword) == 0 && o->val != NULL) {
            val = strdup(o->val);
        }
    }
    PQconninfoFree(opts);
    return val;
}

static void
test_libpq_reads_output(void **state)
{
    static const char *const want[][2] = {
        { "password", "p@ss:w/rd%" }, { "user", "app" },
        { "host", "db.example" }, { "port", "6432" }, { "dbname", "v1" },
        { "sslmode", "require" }, { "sslrootcert", "ca.pem" },
        { "options", "-c search_path=\"My\\ \"\"Schema\"\"\"" },
        { "pool_timeout", NULL }
    };
    char   err[128];
    char  *out, *v;
    size_t i;

    (void) state;
    out = nano_dburl_to_libpq("postgres://app:p%40ss%3Aw%2Frd%25@db.example"
        ":6432/v1?schema=My%20%22Schema%22&connection_limit=5&pgbouncer=true"
        "&sslmode=require&sslcert=ca.pem&pool_timeout=3", err, sizeof(err));
    assert_non_null(out);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        v = libpq_value(out, want[i][0]);
        if (want[i][1] == NULL) {
            assert_null(v);
        } else {
            assert_non_null(v);
            assert_string_equal(v, want[i][1]);
        }
        free(v);
    }
    free(out);
}

/* Prisma's pgbouncer=true, and only it, is found (the pool warns). */
static void
test_pgbouncer_flag(void **state)
{
    (void) state;
    assert_true(nano_dburl_pgbouncer("postgresql://u@h/db?pgbouncer=true"));
    assert_true(nano_dburl_pgbouncer("postgresql://u@h:6432/db?schema=s"
                                     "&pgbouncer=true&connection_limit=1"));
    assert_false(nano_dburl_pgbouncer("postgresql://u@h/db?pgbouncer=false"));
    assert_false(nano_dburl_pgbouncer("postgresql://u@h/db?pgbouncer=truth"));
    assert_false(nano_dburl_pgbouncer("postgresql://u@h/db?pgbouncer=true=1"));
    assert_false(nano_dburl_pgbouncer("postgresql://u@h/db?xpgbouncer=true"));
    assert_false(nano_dburl_pgbouncer("postgresql://u@h/db#?pgbouncer=true"));
    assert_false(nano_dburl_pgbouncer("postgresql://pgbouncer=true@h/db"));
    assert_false(nano_dburl_pgbouncer("postgresql://u@h/db"));
    assert_false(nano_dburl_pgbouncer(NULL));
}

/* A URL that passes the translation and that libpq cannot read: libpq's
 * message quotes the whole URI, password and all, and every backend
 * logged it at each connection attempt (every 2 s), nano-admin and
 * nano-migrate at once (found by the config probe).  It is refused
 * here, with libpq's reason and the password masked. */
static void
test_libpq_refusal_hides_password(void **state)
{
    static const char *const  bad[] = {
        "postgresql://nano:secretpw@[::1/db",
        "postgres://nano:secretpw@[::1",
        "postgresql://nano:secretpw@[::1?schema=public",
    };
    char                      err[512];
    char                     *out;
    size_t                    i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        out = nano_dburl_to_libpq(bad[i], err, sizeof(err));
        assert_null(out);
        assert_true(strncmp(err, "DATABASE_URL is not a URL libpq can"
                            " read: ", 42) == 0);
        assert_null(strstr(err, "secret"));
        assert_null(strchr(err, '\n'));
    }
    /* libpq's reason stays, with the URI it quotes masked */
    out = nano_dburl_to_libpq(bad[0], err, sizeof(err));
    assert_null(out);
    assert_non_null(strstr(err, "IPv6"));
    assert_non_null(strstr(err, "postgresql://nano:***@[::1/db"));
    /* a user without a password has nothing to hide */
    assert_null(nano_dburl_to_libpq("postgresql://nano@[::1/db", err,
                                    sizeof(err)));
    assert_non_null(strstr(err, "postgresql://nano@[::1/db"));
}

int
main(void)
{
    static const struct CMUnitTest  extra[] = {
        UNIT_TEST("libpq's refusal hides the password",
                  test_libpq_refusal_hides_password),
        UNIT_TEST("pgbouncer=true", test_pgbouncer_flag),
        UNIT_TEST("NULL url", test_null_url),
        UNIT_TEST("small error buffer", test_small_error_buffer),
        UNIT_TEST("libpq reads the output", test_libpq_reads_output),
    };

    return unit_run_table("dburl", cases, sizeof(cases) / sizeof(cases[0]),
                          sizeof(cases[0]), test_case, extra,
                          sizeof(extra) / sizeof(extra[0]));
}
