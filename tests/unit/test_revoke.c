/*
 * Unit tests for the revocation snapshot (nano_revoke): the writer's
 * lines read back by the parser, dead entries dropped, the user cut-off,
 * every malformed file refused whole, and limits.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nano_revoke.h"

#define NOW      1700000000LL
#define LATER    (NOW + 3600)
#define HEADER   NANO_REVOKE_MAGIC "\ngenerated 1699999990\n"
#define BUFCAP   (1024 * 1024)

static char  text[BUFCAP];
static char  err[512];


/* ---- helpers ---------------------------------------------------------- */

static nano_revoke_t *
parse(const char *s)
{
    err[0] = '\0';
    return nano_revoke_parse(s, strlen(s), NOW, err, sizeof(err));
}

/* The parser refuses s, and its message holds expect. */
static void
refused(const char *s, const char *expect)
{
    nano_revoke_t  *rv;

    rv = parse(s);
    if (rv != NULL) {
        nano_revoke_free(rv);
        fail_msg("accepted: \"%s\"", s);
    }
    if (strstr(err, expect) == NULL) {
        fail_msg("\"%s\": message \"%s\" does not hold \"%s\"", s, err,
                 expect);
    }
}

static nano_claims_t
token(const char *sub, const char *jti, int has_iat, long long iat)
{
    nano_claims_t  c;

    memset(&c, 0, sizeof(c));
    c.sub.data = sub;
    c.sub.len = strlen(sub);
    if (jti) {
        c.jti.data = jti;
        c.jti.len = strlen(jti);
    }
    c.iat = iat;
    c.has_iat = has_iat ? 1 : 0;
    c.exp = LATER;
    return c;
}

static int
session_revoked(const nano_revoke_t *rv, const char *jti)
{
    nano_claims_t  c;

    c = token("someone", jti, 1, NOW);
    return nano_revoke_check(rv, &c);
}

static int
user_revoked(const nano_revoke_t *rv, const char *sub, int has_iat,
    long long iat)
{
    nano_claims_t  c;

    c = token(sub, "not-listed", has_iat, iat);
    return nano_revoke_check(rv, &c);
}

/* A formatter's result: a line was written. */
static void
add(int len)
{
    assert_true(len > 0);
}


/* ---- writer ----------------------------------------------------------- */

static void
test_format_lines(void **state)
{
    char  out[NANO_REVOKE_LINE_MAX + 1];

    (void) state;
    assert_int_equal(nano_revoke_format_header(out, sizeof(out), 1700000000),
                     strlen(NANO_REVOKE_MAGIC "\ngenerated 1700000000\n"));
    assert_string_equal(out, NANO_REVOKE_MAGIC "\ngenerated 1700000000\n");

    assert_int_equal(nano_revoke_format_session(out, sizeof(out), "abc", 5),
                     8);
    assert_string_equal(out, "s 5 abc\n");

    nano_revoke_format_user(out, sizeof(out), "with space%\n\x01\x7f\xff~!",
                            1700000001);
    assert_string_equal(out, "u 1700000001 with%20space%25%0A%01%7F%FF~!\n");

    nano_revoke_format_session(out, sizeof(out), "caf\xc3\xa9", 0);
    assert_string_equal(out, "s 0 caf%C3%A9\n");
}

static void
test_format_refusals(void **state)
{
    char  out[NANO_REVOKE_LINE_MAX + 1], id[NANO_REVOKE_ID_MAX + 2];

    (void) state;
    assert_int_equal(nano_revoke_format_session(out, sizeof(out), "", 1), -1);
    assert_int_equal(nano_revoke_format_session(out, sizeof(out), NULL, 1),
                     -1);
    assert_int_equal(nano_revoke_format_session(out, sizeof(out), "a", -1),
                     -1);
    assert_int_equal(nano_revoke_format_header(out, sizeof(out), -1), -1);

    memset(id, 'x', sizeof(id));
    id[NANO_REVOKE_ID_MAX + 1] = '\0';
    assert_int_equal(nano_revoke_format_user(out, sizeof(out), id, 1), -1);

    /* 255 bytes that all need %XX still fit NANO_REVOKE_LINE_MAX */
    memset(id, ' ', NANO_REVOKE_ID_MAX);
    id[NANO_REVOKE_ID_MAX] = '\0';
    assert_int_equal(nano_revoke_format_user(out, sizeof(out), id,
                                             99999999999999999LL),
                     2 + 17 + 1 + 3 * NANO_REVOKE_ID_MAX + 1);

    /* exactly enough room, and one byte less ("s 5 abc\n" + NUL) */
    assert_int_equal(nano_revoke_format_session(out, 9, "abc", 5), 8);
    assert_int_equal(nano_revoke_format_session(out, 8, "abc", 5), -1);
    assert_int_equal(nano_revoke_format_session(out, 10, "a b", 5), -1);
    assert_int_equal(nano_revoke_format_session(out, 11, "a b", 5), 10);
    assert_int_equal(nano_revoke_format_header(out, 10, 1), -1);
}


/* ---- round trip ------------------------------------------------------- */

static void
test_round_trip(void **state)
{
    size_t          i, n;
    nano_revoke_t  *rv;
    static const char *ids[] = {
        "plain", "with space", "100%", "new\nline",
        "caf\xc3\xa9 \xf0\x9f\x8d\x8c",
        "%41", "\x01\x7f\xfe", "tab\there", "\"quoted\";=,", "u",
    };

    (void) state;
    n = (size_t) nano_revoke_format_header(text, BUFCAP, 1699999990);
    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        add(nano_revoke_format_session(text + n, BUFCAP - n, ids[i], LATER));
        n += strlen(text + n);
        add(nano_revoke_format_user(text + n, BUFCAP - n, ids[i], NOW));
        n += strlen(text + n);
    }

    rv = parse(text);
    assert_non_null(rv);
    assert_int_equal(nano_revoke_count(rv), 2 * (sizeof(ids) / sizeof(ids[0])));
    assert_int_equal(nano_revoke_generated(rv), 1699999990);

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        assert_true(session_revoked(rv, ids[i]));
        assert_true(user_revoked(rv, ids[i], 1, NOW - 1));
        assert_false(user_revoked(rv, ids[i], 1, NOW));
    }

    /* the encoded form is not the id, and near misses are not it */
    assert_false(session_revoked(rv, "with%20space"));
    assert_false(session_revoked(rv, "100%25"));
    assert_false(session_revoked(rv, "A"));
    assert_false(session_revoked(rv, "plai"));
    assert_false(session_revoked(rv, "plainx"));
    assert_false(session_revoked(rv, "Plain"));
    assert_false(user_revoked(rv, "nobody", 1, NOW - 1));

    nano_revoke_free(rv);
}

static void
test_header_only_is_empty(void **state)
{
    nano_revoke_t  *rv;
    nano_claims_t   c;

    (void) state;
    rv = parse(HEADER);
    assert_non_null(rv);
    assert_int_equal(nano_revoke_count(rv), 0);
    assert_int_equal(nano_revoke_generated(rv), 1699999990);
    c = token("u1", "s1", 0, 0);
    assert_false(nano_revoke_check(rv, &c));
    nano_revoke_free(rv);

    rv = parse(NANO_REVOKE_MAGIC "\ngenerated 0\n");
    assert_non_null(rv);
    assert_int_equal(nano_revoke_generated(rv), 0);
    nano_revoke_free(rv);
}

static void
test_null_snapshot(void **state)
{
    nano_claims_t  c;

    (void) state;
    c = token("u1", "s1", 0, 0);
    assert_false(nano_revoke_check(NULL, &c));
    assert_int_equal(nano_revoke_count(NULL), 0);
    assert_int_equal(nano_revoke_generated(NULL), 0);
    nano_revoke_free(NULL);
}


/* ---- what an entry revokes -------------------------------------------- */

static void
test_session_entry(void **state)
{
    nano_revoke_t  *rv;
    nano_claims_t   c;

    (void) state;
    rv = parse(HEADER "s 1700003600 sess-1\n");
    assert_non_null(rv);
    assert_true(session_revoked(rv, "sess-1"));
    assert_false(session_revoked(rv, "sess-2"));

    /* a token without jti is never a listed session */
    c = token("sess-1", NULL, 1, NOW);
    assert_false(nano_revoke_check(rv, &c));

    /* a listed session is revoked whoever the user and whatever its iat */
    c = token("anyone", "sess-1", 0, 0);
    assert_true(nano_revoke_check(rv, &c));
    nano_revoke_free(rv);
}

static void
test_user_cutoff(void **state)
{
    nano_revoke_t  *rv;

    (void) state;
    rv = parse(HEADER "u 1700000000 user-1\n");
    assert_non_null(rv);

    assert_true(user_revoked(rv, "user-1", 1, NOW - 1));     /* before */
    assert_false(user_revoked(rv, "user-1", 1, NOW));        /* equal */
    assert_false(user_revoked(rv, "user-1", 1, NOW + 1));    /* after */
    assert_true(user_revoked(rv, "user-1", 0, 0));           /* no iat */
    assert_true(user_revoked(rv, "user-1", 0, NOW + 100));   /* no iat */
    assert_false(user_revoked(rv, "user-2", 0, 0));
    assert_false(user_revoked(rv, "user-", 1, 0));
    nano_revoke_free(rv);
}

static void
test_dead_entries_dropped(void **state)
{
    nano_revoke_t  *rv;

    (void) state;
    rv = parse(HEADER
               "s 1699999999 dead-session\n"           /* before now */
               "s 1700000000 edge-session\n"           /* at now: kept */
               "s 1700003600 live-session\n"
               "u 1697407999 dead-user\n"              /* now - 30 d - 1 */
               "u 1697408000 edge-user\n"              /* now - 30 d */
               "u 1700000000 live-user\n");
    assert_non_null(rv);
    assert_int_equal(nano_revoke_count(rv), 4);
    assert_false(session_revoked(rv, "dead-session"));
    assert_true(session_revoked(rv, "edge-session"));
    assert_true(session_revoked(rv, "live-session"));
    assert_false(user_revoked(rv, "dead-user", 0, 0));
    assert_true(user_revoked(rv, "edge-user", 0, 0));
    assert_true(user_revoked(rv, "live-user", 0, 0));
    nano_revoke_free(rv);

    /* all dead: an empty snapshot, not an error */
    rv = parse(HEADER "s 1 a\nu 2 b\n");
    assert_non_null(rv);
    assert_int_equal(nano_revoke_count(rv), 0);
    nano_revoke_free(rv);
}

static void
test_duplicates_keep_the_stronger(void **state)
{
    nano_revoke_t  *rv;

    (void) state;
    /* the later cut-off wins, in either order */
    rv = parse(HEADER "u 1699999000 u1\nu 1700000000 u1\n"
                      "u 1700000000 u2\nu 1699999000 u2\n");
    assert_non_null(rv);
    assert_int_equal(nano_revoke_count(rv), 2);
    assert_true(user_revoked(rv, "u1", 1, 1699999500));
    assert_true(user_revoked(rv, "u2", 1, 1699999500));
    nano_revoke_free(rv);

    /* one id written twice, once encoded: one entry */
    rv = parse(HEADER "s 1700003600 a%20b\ns 1700007200 a%20b\n"
                      "s 1700003600 %41\ns 1700003600 A\n");
    assert_non_null(rv);
    assert_int_equal(nano_revoke_count(rv), 2);
    assert_true(session_revoked(rv, "a b"));
    assert_true(session_revoked(rv, "A"));
    nano_revoke_free(rv);

    /* a dead duplicate does not hide a live one */
    rv = parse(HEADER "s 1 x\ns 1700003600 x\n");
    assert_non_null(rv);
    assert_int_equal(nano_revoke_count(rv), 1);
    assert_true(session_revoked(rv, "x"));
    nano_revoke_free(rv);
}

static void
test_many_entries(void **state)
{
    size_t          i, n;
    char            id[32];
    nano_revoke_t  *rv;

    (void) state;
    n = (size_t) nano_revoke_format_header(text, BUFCAP, NOW);
    for (i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "%08zx-session", i);
        add(nano_revoke_format_session(text + n, BUFCAP - n, id, LATER));
        n += strlen(text + n);
        snprintf(id, sizeof(id), "user-%zu", i);
        add(nano_revoke_format_user(text + n, BUFCAP - n, id, NOW));
        n += strlen(text + n);
    }

    rv = parse(text);
    assert_non_null(rv);
    assert_int_equal(nano_revoke_count(rv), 20000);

    for (i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "%08zx-session", i);
        assert_true(session_revoked(rv, id));
        snprintf(id, sizeof(id), "%08zx-other", i);
        assert_false(session_revoked(rv, id));
        snprintf(id, sizeof(id), "user-%zu", i);
        assert_true(user_revoked(rv, id, 1, NOW - 1));
        assert_false(user_revoked(rv, id, 1, NOW));
    }
    nano_revoke_free(rv);
}


/* ---- refusals --------------------------------------------------------- */

static void
test_refuse_wrong_magic(void **state)
{
    (void) state;
    refused("", "not a revocation snapshot");
    refused("\n", "not a revocation snapshot");
    refused("nano-revocations 2\ngenerated 1\n", "not a revocation snapshot");
    refused("nano-revocations 1 \ngenerated 1\n", "not a revocation snapshot");
    refused(" nano-revocations 1\ngenerated 1\n", "not a revocation snapshot");
    refused("NANO-REVOCATIONS 1\ngenerated 1\n", "not a revocation snapshot");
    refused("nano-revocations 1", "not a revocation snapshot");
    refused("s 1700003600 a\n", "not a revocation snapshot");
}

static void
test_refuse_bad_generated(void **state)
{
    static const char  *bad[] = {
        NANO_REVOKE_MAGIC "\n",
        NANO_REVOKE_MAGIC "\ngenerated 1",            /* no newline */
        NANO_REVOKE_MAGIC "\ngenerated \n",
        NANO_REVOKE_MAGIC "\ngenerated\n",
        NANO_REVOKE_MAGIC "\ngenerated -1\n",
        NANO_REVOKE_MAGIC "\ngenerated +1\n",
        NANO_REVOKE_MAGIC "\ngenerated 01\n",
        NANO_REVOKE_MAGIC "\ngenerated 1 \n",
        NANO_REVOKE_MAGIC "\ngenerated  1\n",
        NANO_REVOKE_MAGIC "\ngenerated 1.5\n",
        NANO_REVOKE_MAGIC "\ngenerated 99999999999999999999\n",
        NANO_REVOKE_MAGIC "\ngenerated 1\r\n",
        NANO_REVOKE_MAGIC "\nGenerated 1\n",
        NANO_REVOKE_MAGIC "\ns 1700003600 a\n",
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        refused(bad[i], "line 2 is not \"generated <unix seconds>\"");
    }
}

static void
test_refuse_malformed_lines(void **state)
{
    size_t  i;
    static const struct {
        const char  *line;
        const char  *why;
    } bad[] = {
        { "\n", "line 3: not \"s <expires>" },
        { "x 1700003600 a\n", "line 3: not \"s <expires>" },
        { "S 1700003600 a\n", "line 3: not \"s" },
        { "s\n", "line 3: not" },
        { "s  1700003600 a\n", "line 3: the number" },
        { "s 1700003600  a\n", "line 3: a byte outside 0x21-0x7e" },
        { "s 1700003600 a \n", "line 3: a byte outside" },
        { "s 1700003600 a b\n", "line 3: a byte outside" },
        { "s 1700003600\n", "line 3: the number" },
        { "s 1700003600 \n", "line 3: an empty id" },
        { "s -1 a\n", "line 3: the number" },
        { "s 01700003600 a\n", "line 3: the number" },
        { "s 17000036x0 a\n", "line 3: the number" },
        { "s 99999999999999999999 a\n", "line 3: the number" },
        { "s\t1700003600 a\n", "line 3: not" },
        { "s 1700003600 a\r\n", "line 3: a CR before the newline" },
        { "s 1700003600 caf\xc3\xa9\n", "line 3: a byte outside" },
        { "s 1700003600 a\x7f\n", "line 3: a byte outside" },
        { "s 1700003600 a%\n", "line 3: a '%' not followed" },
        { "s 1700003600 a%4\n", "line 3: a '%' not followed" },
        { "s 1700003600 a%4G\n", "line 3: a '%' not followed" },
        { "s 1700003600 a%%41\n", "line 3: a '%' not followed" },
        { "s 1700003600 a%00b\n", "line 3: a NUL byte" },
    };

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, BUFCAP, HEADER "s 1700003600 good\n%s", bad[i].line);
        /* the bad line is line 4 here */
        refused(text, "line 4: ");
        snprintf(text, BUFCAP, HEADER "%s", bad[i].line);
        refused(text, bad[i].why);
    }

    /* a bad line among good ones, even a dead one, refuses the file */
    refused(HEADER "s 1 dead\ns 1 dead bad\n", "line 4: ");
    refused(HEADER "s 1700003600 a\nu 1700000000 b\nbogus\n", "line 5: ");

    /* a NUL byte inside a line */
    snprintf(text, BUFCAP, HEADER "s 1700003600 a");
    memcpy(text + strlen(text), "\0b\n", 4);
    assert_null(nano_revoke_parse(text, sizeof(HEADER) - 1 + 17, NOW, err,
                                  sizeof(err)));
    assert_non_null(strstr(err, "line 3: a byte outside"));
}

static void
test_refuse_truncated_and_crlf(void **state)
{
    (void) state;
    /* the last line must end with "\n": a file cut short is refused */
    refused(HEADER "s 1700003600 a", "line 3 does not end with a newline");
    refused(HEADER "s 1700003600 a\ns 1700003600 b",
            "line 4 does not end with a newline");
    /* CRLF files are refused (line ends are "\n" only) */
    refused(NANO_REVOKE_MAGIC "\r\ngenerated 1\r\n", "not a revocation");
    refused(HEADER "s 1700003600 a\r\n", "a CR before the newline");
}

static void
test_id_lengths(void **state)
{
    char            line[NANO_REVOKE_LINE_MAX + 1], id[NANO_REVOKE_ID_MAX + 2];
    nano_revoke_t  *rv;

    (void) state;
    /* 255 decoded bytes, every one encoded: accepted */
    memset(id, '\n', NANO_REVOKE_ID_MAX);
    id[NANO_REVOKE_ID_MAX] = '\0';
    nano_revoke_format_session(line, sizeof(line), id, LATER);
    snprintf(text, BUFCAP, HEADER "%s", line);
    rv = parse(text);
    assert_non_null(rv);
    assert_true(session_revoked(rv, id));
    nano_revoke_free(rv);

    /* 256 bytes: refused */
    memset(id, 'a', NANO_REVOKE_ID_MAX + 1);
    id[NANO_REVOKE_ID_MAX + 1] = '\0';
    snprintf(text, BUFCAP, HEADER "s 1700003600 %s\n", id);
    refused(text, "an id longer than 255 bytes");
    snprintf(text, BUFCAP, HEADER "s 1700003600 %%41%s\n", id + 1);
    refused(text, "an id longer than 255 bytes");
}

static void
test_limits(void **state)
{
    char           *big;
    size_t          i, n, line;
    nano_revoke_t  *rv;

    (void) state;
    /* the size is checked before a byte is read */
    rv = nano_revoke_parse(HEADER, (size_t) NANO_REVOKE_FILE_MAX + 1, NOW,
                           err, sizeof(err));
    assert_null(rv);
    assert_string_equal(err, "larger than 67108864 bytes");

    /* NANO_REVOKE_ENTRIES_MAX entries pass, one more is refused */
    line = sizeof("s 1 a\n") - 1;
    big = malloc(sizeof(HEADER) + (NANO_REVOKE_ENTRIES_MAX + 1) * line);
    assert_non_null(big);
    n = sizeof(HEADER) - 1;
    memcpy(big, HEADER, n);
    for (i = 0; i < NANO_REVOKE_ENTRIES_MAX; i++, n += line) {
        memcpy(big + n, "s 1 a\n", line);
    }
    rv = nano_revoke_parse(big, n, NOW, err, sizeof(err));
    assert_non_null(rv);
    assert_int_equal(nano_revoke_count(rv), 0);
    nano_revoke_free(rv);

    memcpy(big + n, "s 1 a\n", line);
    rv = nano_revoke_parse(big, n + line, NOW, err, sizeof(err));
    assert_null(rv);
    assert_string_equal(err, "more than 1000000 entries");
    free(big);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_lines),
        cmocka_unit_test(test_format_refusals),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_header_only_is_empty),
        cmocka_unit_test(test_null_snapshot),
        cmocka_unit_test(test_session_entry),
        cmocka_unit_test(test_user_cutoff),
        cmocka_unit_test(test_dead_entries_dropped),
        cmocka_unit_test(test_duplicates_keep_the_stronger),
        cmocka_unit_test(test_many_entries),
        cmocka_unit_test(test_refuse_wrong_magic),
        cmocka_unit_test(test_refuse_bad_generated),
        cmocka_unit_test(test_refuse_malformed_lines),
        cmocka_unit_test(test_refuse_truncated_and_crlf),
        cmocka_unit_test(test_id_lengths),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
