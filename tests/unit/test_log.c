/*
 * Unit tests for nano_log: what reaches stderr is one line of strict
 * UTF-8, cut at a character's edge, whatever request data a message
 * carried.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "nano_log.h"
#include "nano_utf8.h"

/* Puts a pipe in stderr's place: fds is the pipe, the old stderr's copy
 * is returned. */
static int
stderr_to_pipe(int fds[2])
{
    int  saved;

    assert_int_equal(pipe(fds), 0);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
    return saved;
}

/* Gives stderr back and reads what went into the pipe into buf (NUL
 * ended); its byte count, more than 0. */
static ssize_t
stderr_back(int fds[2], int saved, char *buf, size_t cap)
{
    ssize_t  n;

    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(fds[1]);
    n = read(fds[0], buf, cap - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    return n;
}

/* Logs msg through nano_log_info into a pipe standing for stderr and
 * returns the message part of the line (after "test info: "), newline
 * stripped, in a static buffer; *whole is the line's byte count. */
static const char *
logged(const char *msg, size_t *whole)
{
    static char  buf[8192];
    int          fds[2], saved;
    ssize_t      n;
    char        *p;

    saved = stderr_to_pipe(fds);
    nano_log_info("%s", msg);
    n = stderr_back(fds, saved, buf, sizeof(buf));
    if (whole != NULL) {
        *whole = (size_t) n;
    }
    assert_int_equal(buf[n - 1], '\n');
    buf[n - 1] = '\0';
    p = strstr(buf, " test info: ");
    assert_non_null(p);
    return p + strlen(" test info: ");
}

static void
test_plain_and_multibyte_kept(void **state)
{
    (void) state;
    nano_log_init("test");
    assert_string_equal(logged("caf\xc3\xa9 \xf0\x9f\x8d\x8c ok", NULL),
                        "caf\xc3\xa9 \xf0\x9f\x8d\x8c ok");
}

/* Controls, C1 controls (U+0085 is a line break to some readers) and
 * bytes that are not UTF-8 each become '?': the line stays UTF-8. */
static void
test_controls_and_bad_bytes(void **state)
{
    (void) state;
    nano_log_init("test");
    assert_string_equal(logged("a\nb\rc\x1b[31md\x7f" "e", NULL),
                        "a?b?c?[31md?e");
    assert_string_equal(logged("x\xc2\x85y\xc2\x9bz", NULL), "x?y?z");
    assert_string_equal(logged("p\xffq\xc0\xafr\xed\xa0\x80s\xe2\x82", NULL),
                        "p?q??r???s??");
}

/* A message past the line's 2048 bytes is cut before the character it
 * would split, never inside it. */
static void
test_cut_at_a_character(void **state)
{
    char     msg[4096];
    size_t   i, whole;
    const char *out;

    (void) state;
    nano_log_init("test");
    for (int shift = 0; shift < 4; shift++) {
        memset(msg, 'a', (size_t) shift);
        for (i = (size_t) shift; i + 4 < sizeof(msg); i += 4) {
            memcpy(msg + i, "\xf0\x9f\x8d\x8c", 4);
        }
        msg[i] = '\0';
        out = logged(msg, &whole);
        assert_true(whole <= 2048);
        assert_true(nano_utf8_valid(out));
        assert_true(strlen(out) > 1900);
    }
}

/* A request's context ends every line its thread logs, whole even when
 * the message is cut, with its controls replaced as the message's; and
 * once cleared, lines end with the message again. */
static void
test_context(void **state)
{
    char         msg[4096];
    size_t       whole;
    const char  *out;

    (void) state;
    nano_log_init("test");
    nano_log_context("req=ab12 user=u1 POST /m/api/x\ny");
    assert_string_equal(logged("database error", NULL),
                        "database error [req=ab12 user=u1 POST /m/api/x?y]");
    memset(msg, 'a', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    out = logged(msg, &whole);
    assert_true(whole <= 2048);
    assert_true(strlen(out) > 1900);
    assert_non_null(strstr(out, "aaa [req=ab12 user=u1 POST /m/api/x?y]"));
    nano_log_context(NULL);
    assert_string_equal(logged("done", NULL), "done");
}

/* Logs one line at level with stderr on a pipe, nano_log_init run with
 * JOURNAL_STREAM naming that pipe (same) or another file; the line. */
static const char *
logged_journal(nano_log_level_t level, int same)
{
    static char  buf[4096];
    struct stat  st;
    char         v[64];
    int          fds[2], saved;

    saved = stderr_to_pipe(fds);
    assert_int_equal(fstat(same ? STDERR_FILENO : saved, &st), 0);
    snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long) st.st_dev,
             (unsigned long long) st.st_ino);
    setenv("JOURNAL_STREAM", v, 1);
    nano_log_init("test");
    nano_log(level, "x");
    unsetenv("JOURNAL_STREAM");
    nano_log_init("test");
    stderr_back(fds, saved, buf, sizeof(buf));
    return buf;
}

/* On the journal's own stream (StandardError=journal) a line begins with
 * its syslog priority, which journald reads (SyslogLevelPrefix=): an
 * error is priority 3, a warning 4, info 6.  Elsewhere (a file, make
 * run's logs, a child whose stderr went elsewhere) nothing is added. */
static void
test_journal_priority(void **state)
{
    (void) state;
    assert_true(strncmp(logged_journal(NANO_LOG_ERROR, 1), "<3>20", 5) == 0);
    assert_true(strncmp(logged_journal(NANO_LOG_WARN, 1), "<4>20", 5) == 0);
    assert_true(strncmp(logged_journal(NANO_LOG_INFO, 1), "<6>20", 5) == 0);
    assert_true(strncmp(logged_journal(NANO_LOG_ERROR, 0), "20", 2) == 0);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_plain_and_multibyte_kept),
        cmocka_unit_test(test_controls_and_bad_bytes),
        cmocka_unit_test(test_cut_at_a_character),
        cmocka_unit_test(test_context),
        cmocka_unit_test(test_journal_priority),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
