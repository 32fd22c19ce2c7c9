/*
 * Unit tests for the Server-Sent Events parser (nano_sse): one stream
 * fed whole, byte by byte and split at every position gives the same
 * events; line ends, comments, multi-line data, event names, the size
 * limit, a callback that stops, a cut event.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_buf.h"
#include "nano_sse.h"

/* Collects events as "name=data|" into a buffer. */
typedef struct {
    nano_buf_t  out;
    int         stop_after;    /* > 0: stop after that many events */
    int         seen;
} collect_t;

static int
collect(void *ctx, const char *event, const char *data, size_t len)
{
    collect_t  *c = ctx;

    assert_int_equal(strlen(data), len);
    nano_buf_printf(&c->out, "%s=%s|", event, data);
    c->seen++;
    return c->stop_after > 0 && c->seen >= c->stop_after ? 7 : 0;
}

/* Feeds s in pieces cut at a and b (a <= b) and returns the events. */
static char *
feed3(const char *s, size_t a, size_t b, size_t max, int *rc, int *pending)
{
    nano_sse_t  p;
    collect_t   c;
    size_t      n = strlen(s);

    memset(&c, 0, sizeof(c));
    nano_buf_init(&c.out);
    nano_buf_puts(&c.out, "");
    nano_sse_init(&p, max);
    *rc = nano_sse_feed(&p, s, a, collect, &c);
    if (*rc == 0) {
        *rc = nano_sse_feed(&p, s + a, b - a, collect, &c);
    }
    if (*rc == 0) {
        *rc = nano_sse_feed(&p, s + b, n - b, collect, &c);
    }
    *pending = nano_sse_pending(&p);
    nano_sse_cleanup(&p);
    nano_sse_cleanup(&p);
    return nano_buf_steal(&c.out);
}

/* Every split into two and three pieces gives expect. */
static void
check_all_splits(const char *stream, const char *expect)
{
    size_t  n = strlen(stream), a, b;
    char   *got;
    int     rc, pending;

    for (a = 0; a <= n; a++) {
        for (b = a; b <= n; b += (n > 80 ? 7 : 1)) {
            got = feed3(stream, a, b, 0, &rc, &pending);
            if (strcmp(got, expect) != 0) {
                fail_msg("split at %zu/%zu: got \"%s\", want \"%s\"", a, b,
                         got, expect);
            }
            assert_int_equal(rc, NANO_SSE_OK);
            free(got);
        }
    }
}

static void
test_basic_lf(void **state)
{
    (void) state;
    check_all_splits("data: one\n\ndata: two\n\n",
                     "message=one|message=two|");
}

static void
test_crlf_and_cr(void **state)
{
    (void) state;
    check_all_splits("data: a\r\n\r\ndata: b\r\rdata: c\n\n",
                     "message=a|message=b|message=c|");
    /* "\r\n" split between reads is one line end, not two */
    check_all_splits("data: x\r\ndata: y\r\n\r\n", "message=x\ny|");
}

static void
test_comments_fields_names(void **state)
{
    (void) state;
    check_all_splits(": ping\n\n: another comment\nevent: delta\n"
                     "id: 7\nretry: 1000\nunknown: x\ndata: {\"a\":1}\n\n",
                     "delta={\"a\":1}|");
    /* the event name is reset after each event */
    check_all_splits("event: e1\ndata: 1\n\ndata: 2\n\n",
                     "e1=1|message=2|");
}

static void
test_multiline_and_spaces(void **state)
{
    (void) state;
    /* one leading space is removed, not more; "data" alone is empty */
    check_all_splits("data:  two spaces\ndata:none\ndata\n\n",
                     "message= two spaces\nnone\n|");
    /* a blank line without data dispatches nothing */
    check_all_splits("\n\n\nevent: x\n\n", "");
    check_all_splits("data: [DONE]\n\n", "message=[DONE]|");
}

/* A UTF-8 byte order mark is dropped at the stream's start only, split
 * between reads or not; one later in the stream is part of the line. */
static void
test_bom(void **state)
{
    (void) state;
    check_all_splits("\xEF\xBB\xBF" "data: one\n\ndata: two\n\n",
                     "message=one|message=two|");
    check_all_splits("\xEF\xBB\xBF" ": comment\ndata: x\n\n", "message=x|");
    check_all_splits("data: a\n\n\xEF\xBB\xBF" "data: b\n\n", "message=a|");
}

static void
test_openai_stream(void **state)
{
    (void) state;
    check_all_splits(
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
        ": keep-alive\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\r\n\r\n"
        "data: [DONE]\n\n",
        "message={\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}|"
        "message={\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}|"
        "message=[DONE]|");
}

static void
test_pending_at_end(void **state)
{
    char  *got;
    int    rc, pending;

    (void) state;
    got = feed3("data: complete\n\ndata: cut", 5, 20, 0, &rc, &pending);
    assert_string_equal(got, "message=complete|");
    assert_int_equal(pending, 1);
    free(got);
    got = feed3("data: half\n", 3, 6, 0, &rc, &pending);
    assert_string_equal(got, "");
    assert_int_equal(pending, 1);
    free(got);
    got = feed3("data: whole\n\n", 3, 6, 0, &rc, &pending);
    assert_int_equal(pending, 0);
    free(got);
}

static void
test_too_large(void **state)
{
    char  *got;
    int    rc, pending;
    char   big[200];

    (void) state;
    /* an event's data over the limit */
    got = feed3("data: 0123456789\ndata: 0123456789\n\n", 4, 30, 16, &rc,
                &pending);
    assert_int_equal(rc, NANO_SSE_TOO_LARGE);
    assert_string_equal(got, "");
    free(got);
    /* a line without an end over the limit */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    got = feed3(big, 50, 100, 64, &rc, &pending);
    assert_int_equal(rc, NANO_SSE_TOO_LARGE);
    free(got);
    /* exactly the limit is fine */
    got = feed3("data: 0123456789abcdef\n\n", 1, 2, 16, &rc, &pending);
    assert_int_equal(rc, NANO_SSE_OK);
    assert_string_equal(got, "message=0123456789abcdef|");
    free(got);
    assert_string_equal(nano_sse_strerror(NANO_SSE_TOO_LARGE),
                        "an event in the stream is larger than allowed");
}

static void
test_callback_stops(void **state)
{
    nano_sse_t  p;
    collect_t   c;
    const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";

    (void) state;
    memset(&c, 0, sizeof(c));
    nano_buf_init(&c.out);
    c.stop_after = 2;
    nano_sse_init(&p, 0);
    assert_int_equal(nano_sse_feed(&p, s, strlen(s), collect, &c), 7);
    assert_string_equal(c.out.data, "message=1|message=2|");
    /* sticky */
    assert_int_equal(nano_sse_feed(&p, "data: 4\n\n", 9, collect, &c), 7);
    assert_int_equal(c.seen, 2);
    nano_sse_cleanup(&p);
    nano_buf_cleanup(&c.out);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_basic_lf),
        cmocka_unit_test(test_crlf_and_cr),
        cmocka_unit_test(test_comments_fields_names),
        cmocka_unit_test(test_multiline_and_spaces),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_openai_stream),
        cmocka_unit_test(test_pending_at_end),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_callback_stops),
    };

    return cmocka_run_group_tests_name("sse", tests, NULL, NULL);
}
