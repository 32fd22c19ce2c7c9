/*
 * Unit tests for what the providers share (nano_provider) and for
 * nano_base64: the table, auth headers, URLs, message cleaning and
 * scrubbing, status mapping, Retry-After, backoff and the retry rule.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "nano_base64.h"
#include "nano_client.h"
#include "nano_provider.h"
#include "nano_provider_call.h"
#include "nano_utf8.h"

static void
test_table(void **state)
{
    const nano_provider_info_t  *i;

    (void) state;
    i = nano_provider_info(NANO_PROVIDER_GEMINI);
    assert_string_equal(i->key_env, "GEMINI_API_KEY");
    assert_string_equal(i->base_env, "GEMINI_BASE_URL");
    assert_string_equal(i->default_base,
                        "https://generativelanguage.googleapis.com");
    assert_int_equal(i->auth, NANO_PROVIDER_AUTH_GOOG);
    i = nano_provider_info(NANO_PROVIDER_XAI);
    assert_string_equal(i->default_base, "https://api.x.ai/v1");
    i = nano_provider_info(NANO_PROVIDER_WAN);
    assert_string_equal(i->key_env, "DASHSCOPE_API_KEY");
    assert_null(nano_provider_info(NANO_PROVIDER_COUNT));
    assert_null(nano_provider_info((nano_provider_t) -1));
    assert_int_equal(nano_provider_by_name("ark"), NANO_PROVIDER_ARK);
    assert_int_equal(nano_provider_by_name("wan"), NANO_PROVIDER_WAN);
    assert_int_equal(nano_provider_by_name("offline"), -1);
    assert_int_equal(nano_provider_by_name(NULL), -1);
}

static void
test_auth_header_and_url(void **state)
{
    char   buf[64];
    char  *u;

    (void) state;
    assert_int_equal(nano_provider_auth_header(NANO_PROVIDER_GEMINI, "k1",
                                               buf, sizeof(buf)), 0);
    assert_string_equal(buf, "x-goog-api-key: k1");
    assert_int_equal(nano_provider_auth_header(NANO_PROVIDER_OPENAI, "sk-1",
                                               buf, sizeof(buf)), 0);
    assert_string_equal(buf, "Authorization: Bearer sk-1");
    assert_int_equal(nano_provider_auth_header(NANO_PROVIDER_OPENAI,
                                               "a\r\nX: y", buf, sizeof(buf)),
                     -1);
    assert_int_equal(nano_provider_auth_header(NANO_PROVIDER_OPENAI, "", buf,
                                               sizeof(buf)), -1);
    /* no key has a blank: one copied with a space or tab in it (or
     * around it) failed every call, refunded (found by the config
     * probe) */
    assert_int_equal(nano_provider_auth_header(NANO_PROVIDER_OPENAI,
                                               "sk-1 ", buf, sizeof(buf)),
                     -1);
    assert_int_equal(nano_provider_auth_header(NANO_PROVIDER_GEMINI,
                                               "k\t1", buf, sizeof(buf)),
                     -1);
    assert_int_equal(nano_provider_auth_header(NANO_PROVIDER_OPENAI,
        "0123456789012345678901234567890123456789012345678901234567890",
        buf, sizeof(buf)), -1);
    assert_string_equal(buf, "");
    u = nano_provider_url("http://127.0.0.1:9/v1//", NULL,
                          "/chat/completions");
    assert_string_equal(u, "http://127.0.0.1:9/v1/chat/completions");
    free(u);
    assert_null(nano_provider_url("///", NULL, "/x"));
    assert_null(nano_provider_url(NULL, NULL, "/x"));
}

/* A base copied from the provider's docs, with the API root our paths
 * carry, gives the same URL as the bare origin. */
static void
test_url_roots(void **state)
{
    static const struct {
        nano_provider_t  p;
        const char      *base;
        const char      *path;
        const char      *url;
    } cases[] = {
        { NANO_PROVIDER_ARK, "https://ark.example/api/v3",
          "/api/v3/images/generations",
          "https://ark.example/api/v3/images/generations" },
        { NANO_PROVIDER_ARK, "https://ark.example/api/v3/",
          "/api/v3/images/generations",
          "https://ark.example/api/v3/images/generations" },
        { NANO_PROVIDER_ARK, "https://ark.example",
          "/api/v3/images/generations",
          "https://ark.example/api/v3/images/generations" },
        /* only a whole root at the end */
        { NANO_PROVIDER_ARK, "https://ark.example/proxy/api/v3x",
          "/api/v3/images/generations",
          "https://ark.example/proxy/api/v3x/api/v3/images/generations" },
        { NANO_PROVIDER_ARK, "https://ark.example/prefix/api/v3",
          "/api/v3/images/generations",
          "https://ark.example/prefix/api/v3/images/generations" },
        { NANO_PROVIDER_GEMINI, "https://g.example/v1beta",
          "/v1beta/models/m:generateContent",
          "https://g.example/v1beta/models/m:generateContent" },
        /* one DashScope base serves chat and video: either root goes */
        { NANO_PROVIDER_DASHSCOPE, "https://d.example/compatible-mode/v1",
          "/compatible-mode/v1/chat/completions",
          "https://d.example/compatible-mode/v1/chat/completions" },
        { NANO_PROVIDER_WAN, "https://d.example/compatible-mode/v1",
          "/api/v1/tasks/t1", "https://d.example/api/v1/tasks/t1" },
        { NANO_PROVIDER_WAN, "https://d.example/api/v1/",
          "/api/v1/tasks/t1", "https://d.example/api/v1/tasks/t1" },
        /* OpenAI-style bases keep their /v1: the paths do not carry it */
        { NANO_PROVIDER_OPENAI, "https://api.openai.com/v1",
          "/chat/completions", "https://api.openai.com/v1/chat/completions" },
        { NANO_PROVIDER_XAI, "http://127.0.0.1:9/xai/v1", "/chat/completions",
          "http://127.0.0.1:9/xai/v1/chat/completions" },
    };
    size_t  i;
    char   *u;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        u = nano_provider_url(cases[i].base,
                              nano_provider_info(cases[i].p)->roots,
                              cases[i].path);
        assert_non_null(u);
        assert_string_equal(u, cases[i].url);
        free(u);
    }
    /* a base that is only a root is not emptied into a relative URL */
    u = nano_provider_url("/api/v3", nano_provider_info(NANO_PROVIDER_ARK)
                                         ->roots, "/x");
    assert_string_equal(u, "/api/v3/x");
    free(u);
}

static void
test_clean_message(void **state)
{
    char  out[200], small[8];
    char  long_msg[400];

    (void) state;
    nano_provider_clean_message("  Line one.\r\n\tLine\x01two.  ", out,
                                sizeof(out));
    assert_string_equal(out, "Line one. Line two");
    nano_provider_clean_message("key sk-ABCDEFGHIJKLMNOPQRSTUVWXYZ01 x", out,
                                sizeof(out));
    assert_string_equal(out, "key \xe2\x80\xa6 x");
    nano_provider_clean_message(NULL, out, sizeof(out));
    assert_string_equal(out, "");
    /* at most 160 bytes, never half a UTF-8 character */
    memset(long_msg, 0, sizeof(long_msg));
    for (size_t i = 0; i < 100; i++) {
        memcpy(long_msg + 2 * i, "\xc3\xa9", 2);   /* é */
    }
    nano_provider_clean_message(long_msg, out, sizeof(out));
    assert_true(strlen(out) <= 160);
    assert_int_equal(strlen(out) % 2, 0);
    nano_provider_clean_message("abcdefghijkl", small, sizeof(small));
    assert_string_equal(small, "");      /* a word that does not fit */
    nano_provider_clean_message("ab cdefghijkl", small, sizeof(small));
    assert_string_equal(small, "ab");
}

static void
test_clean_code(void **state)
{
    char  out[NANO_PROVIDER_CODE_MAX], small[6];

    (void) state;
    /* a long code stays whole: operators look it up */
    nano_provider_clean_code("OutputImageSensitiveContentDetected", out,
                             sizeof(out));
    assert_string_equal(out, "OutputImageSensitiveContentDetected");
    nano_provider_clean_code("Throttling.RateQuota", out, sizeof(out));
    assert_string_equal(out, "Throttling.RateQuota");
    nano_provider_clean_code("a\r\nb c\x1b\xc3\xa9", out, sizeof(out));
    assert_string_equal(out, "a??b?c??\?");
    nano_provider_clean_code("abcdefgh", small, sizeof(small));
    assert_string_equal(small, "abcde");
    nano_provider_clean_code(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

/* Whatever a format puts into a message, it leaves as one line of strict
 * UTF-8, even when cut at the buffer's end inside a character. */
static void
test_error_plain_text(void **state)
{
    nano_provider_error_t  e;
    char                   longer[400];

    (void) state;
    memset(&e, 0, sizeof(e));
    assert_int_equal(nano_provider_error_set(&e, NANO_PERR_BAD_RESPONSE, 0,
                                             "said %s", "\x01" "bad\r\n\xff"
                                             "\xe2\x82 caf\xc3\xa9"), -1);
    assert_string_equal(e.message, "said  bad  ??? caf\xc3\xa9");
    /* 254 ASCII bytes, then a 3-byte character the buffer cuts */
    memset(longer, 'a', 254);
    memcpy(longer + 254, "\xe2\x82\xac", 4);
    nano_provider_error_set(&e, NANO_PERR_BAD_RESPONSE, 0, "%s", longer);
    assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
    assert_true(nano_utf8_valid(e.message));
    assert_int_equal(e.message[254], '?');
}

static void
test_scrub(void **state)
{
    nano_provider_error_t  e;

    (void) state;
    nano_provider_error_set(&e, NANO_PERR_BAD_REQUEST, 0,
                            "bad key supersecretkey and supersecretkey!");
    nano_provider_error_scrub(&e, "supersecretkey");
    assert_string_equal(e.message, "bad key [key] and [key]!");
    nano_provider_error_scrub(&e, "short");     /* < 8: left alone */
    nano_provider_error_scrub(NULL, "x");
    nano_provider_error_init(&e);
    assert_string_equal(e.code, "");
}

static void
test_status_mapping(void **state)
{
    nano_provider_error_t  e;

    (void) state;
    nano_provider_error_from_status(&e, NANO_PROVIDER_ARK, 401, "ignored");
    assert_string_equal(e.code, "provider_auth");
    assert_string_equal(e.message,
        "Ark refused the API key (HTTP 401); check ARK_API_KEY");
    nano_provider_error_from_status(&e, NANO_PROVIDER_ARK, 418, "teapot");
    assert_string_equal(e.code, "bad_request");
    assert_string_equal(e.message,
                        "Ark refused the request (HTTP 418): teapot");
    nano_provider_error_from_status(&e, NANO_PROVIDER_ARK, 302, NULL);
    assert_string_equal(e.code, "bad_response");
    assert_string_equal(e.message,
                        "Ark answered with an unexpected HTTP status 302");
    nano_provider_error_auth(&e, NANO_PROVIDER_XAI, 0);
    assert_string_equal(e.message,
                        "xAI refused the API key; check XAI_API_KEY");
    nano_provider_error_timeout(&e, NANO_PROVIDER_GEMINI, 0);
    assert_string_equal(e.code, "timeout");
    assert_string_equal(e.message, "Gemini did not answer in time");
    assert_int_equal(e.retryable, 1);
    nano_provider_error_timeout(&e, NANO_PROVIDER_OPENAI, 1);
    assert_string_equal(e.message,
                        "OpenAI stopped answering in the middle of its answer");
    assert_int_equal(e.retryable, 0);
    /* the Retry-After header fills in when the body says nothing */
    nano_provider_error_from_http(NANO_PROVIDER_OPENAI, 429, "7", "", 0, &e);
    assert_int_equal(e.retry_after_ms, 7000);
    assert_string_equal(e.message,
                        "OpenAI's rate limit or quota was reached (HTTP 429)");
}

static void
test_retry_after(void **state)
{
    /* 2015-10-21 07:28:00 UTC */
    const long long  now = 1445412480;

    (void) state;
    assert_int_equal(nano_provider_retry_after_ms("22", now), 22000);
    assert_int_equal(nano_provider_retry_after_ms(" 1.5 ", now), 1500);
    assert_int_equal(nano_provider_retry_after_ms("0", now), 0);
    assert_int_equal(nano_provider_retry_after_ms("-3", now), 0);
    assert_int_equal(nano_provider_retry_after_ms("3s", now), 0);
    assert_int_equal(nano_provider_retry_after_ms(NULL, now), 0);
    assert_int_equal(nano_provider_retry_after_ms("100000", now), 3600000);

    /* an HTTP-date, in each of the three forms, read against now */
    assert_int_equal(nano_provider_retry_after_ms(
        "Wed, 21 Oct 2015 07:28:09 GMT", now), 9000);
    assert_int_equal(nano_provider_retry_after_ms(
        "Wednesday, 21-Oct-15 07:28:30 GMT", now), 30000);
    assert_int_equal(nano_provider_retry_after_ms(
        "Wed Oct 21 07:29:00 2015", now), 60000);
    assert_int_equal(nano_provider_retry_after_ms(
        " Wed, 21 Oct 2015 07:28:09 GMT ", now), 9000);
    /* now or past: no wait; a day ahead: capped at an hour */
    assert_int_equal(nano_provider_retry_after_ms(
        "Wed, 21 Oct 2015 07:28:00 GMT", now), 0);
    assert_int_equal(nano_provider_retry_after_ms(
        "Tue, 20 Oct 2015 07:28:00 GMT", now), 0);
    assert_int_equal(nano_provider_retry_after_ms(
        "Thu, 22 Oct 2015 07:28:00 GMT", now), 3600000);

    /* not dates */
    assert_int_equal(nano_provider_retry_after_ms(
        "Wed, 21 Foo 2015 07:28:09 GMT", now), 0);
    assert_int_equal(nano_provider_retry_after_ms(
        "Wed, 21 Oct 2015 07:28:09 UTC", now), 0);
    assert_int_equal(nano_provider_retry_after_ms(
        "Wed, 21 Oct 2015 07:28:09 GMT+1", now), 0);
    assert_int_equal(nano_provider_retry_after_ms(
        "Wed, 21 Oct 2015 25:28:09 GMT", now), 0);
    assert_int_equal(nano_provider_retry_after_ms(
        "Wed, 32 Oct 2015 07:28:09 GMT", now), 0);
    assert_int_equal(nano_provider_retry_after_ms(
        "Wed, 21 ct 2015 07:28:09 GMT", now), 0);
    assert_int_equal(nano_provider_retry_after_ms(
        "Wed, 21 Oct -015 07:28:09 GMT", now), 0);
    assert_int_equal(nano_provider_retry_after_ms("Wed,", now), 0);
    assert_int_equal(nano_provider_retry_after_ms("", now), 0);
    assert_int_equal(nano_provider_retry_after_ms("soon", now), 0);
}

/* Numbers a provider wrote as JSON reals: whole ones read, others and
 * those past a long's range the default (a cast would be undefined). */
static void
test_json_long(void **state)
{
    json_t  *o;

    (void) state;
    o = json_loads("{\"a\":7,\"b\":7.0,\"c\":7.5,\"d\":1e95,"
                   "\"e\":-1e95,\"f\":9.2233720368547758e18,"
                   "\"g\":-9.2233720368547758e18,\"h\":\"7\"}", 0, NULL);
    assert_non_null(o);
    assert_int_equal(nano_provider_json_long(o, "a", -1), 7);
    assert_int_equal(nano_provider_json_long(o, "b", -1), 7);
    assert_int_equal(nano_provider_json_long(o, "c", -1), -1);
    assert_int_equal(nano_provider_json_long(o, "d", -1), -1);
    assert_int_equal(nano_provider_json_long(o, "e", -1), -1);
    assert_int_equal(nano_provider_json_long(o, "f", -1), -1);   /* 2^63 */
    assert_true(nano_provider_json_long(o, "g", -1) < -9e18);   /* -2^63 */
    assert_int_equal(nano_provider_json_long(o, "h", -1), -1);
    assert_int_equal(nano_provider_json_long(o, "none", -1), -1);
    assert_int_equal(nano_provider_json_long(NULL, "a", -1), -1);
    json_decref(o);
}

static void
test_backoff_and_retry(void **state)
{
    nano_provider_error_t  e;

    (void) state;
    assert_int_equal(nano_provider_backoff_ms(0, 500, 8000, 0, 0), 500);
    assert_int_equal(nano_provider_backoff_ms(1, 500, 8000, 0, 0), 1000);
    assert_int_equal(nano_provider_backoff_ms(5, 500, 8000, 0, 0), 8000);
    assert_int_equal(nano_provider_backoff_ms(0, 500, 8000, 0xffffffffu, 0),
                     375);
    /* Retry-After wins when longer, capped at 60 s */
    assert_int_equal(nano_provider_backoff_ms(0, 500, 8000, 0, 22000), 22000);
    assert_int_equal(nano_provider_backoff_ms(0, 500, 8000, 0, 900000),
                     60000);
    assert_int_equal(nano_provider_backoff_ms(3, 500, 8000, 0, 100), 4000);
    nano_provider_error_set(&e, NANO_PERR_QUOTA, 1, "x");
    assert_true(nano_provider_should_retry(&e, 0, 0));
    assert_true(nano_provider_should_retry(&e, 1, 0));
    assert_false(nano_provider_should_retry(&e, 2, 0));
    assert_false(nano_provider_should_retry(&e, 0, 1));   /* output came */
    e.retryable = 0;
    assert_false(nano_provider_should_retry(&e, 0, 0));
    assert_false(nano_provider_should_retry(NULL, 0, 0));
}

static void
test_base64(void **state)
{
    unsigned char  all[256], *d;
    char          *s;
    size_t         n, i;

    (void) state;
    for (i = 0; i < sizeof(all); i++) {
        all[i] = (unsigned char) i;
    }
    s = nano_base64_encode((const unsigned char *) "hello", 5);
    assert_string_equal(s, "aGVsbG8=");
    free(s);
    s = nano_base64_encode((const unsigned char *) "", 0);
    assert_string_equal(s, "");
    free(s);
    for (n = 0; n <= sizeof(all); n += 1) {
        s = nano_base64_encode(all, n);
        assert_int_equal(strlen(s), nano_base64_encoded_len(n));
        d = nano_base64_decode(s, strlen(s), 0, &i);
        assert_non_null(d);
        assert_int_equal(i, n);
        assert_memory_equal(d, all, n);
        free(d);
        free(s);
    }
    d = nano_base64_decode("aGVs\nbG8", 8, 0, &n);      /* no padding, LF */
    assert_int_equal(n, 5);
    assert_memory_equal(d, "hello", 5);
    free(d);
    assert_null(nano_base64_decode("aGVsbG8=x", 9, 0, &n));  /* after pad */
    assert_int_equal(n, 0);
    assert_null(nano_base64_decode("aGVsb", 5, 0, &n));      /* 4n + 1 */
    assert_null(nano_base64_decode("aG-s", 4, 0, &n));       /* base64url */
    assert_null(nano_base64_decode("aGVsbG8===", 10, 0, &n));
    assert_null(nano_base64_decode("aGVsbG8=", 8, 4, &n));   /* over max */
    assert_int_equal(n, 1);
    d = nano_base64_decode("aGVsbG8=", 8, 5, &n);
    assert_int_equal(n, 5);
    free(d);
}

/* A call that timed out is asked again only when its request never went
 * out whole: the provider may still be working on one that did, and a
 * second POST would charge twice. */
static void
test_timeout_retry_rule(void **state)
{
    nano_provider_error_t  e;
    nano_client_res_t      r;

    (void) state;
    nano_client_res_init(&r);
    r.timed_out = 1;
    r.code = CURLE_OPERATION_TIMEDOUT;
    nano_provider_call_error(NANO_PROVIDER_OPENAI, &r, &e);
    assert_string_equal(e.code, "timeout");
    assert_int_equal(e.retryable, 1);
    r.sent = 1;
    nano_provider_call_error(NANO_PROVIDER_OPENAI, &r, &e);
    assert_string_equal(e.code, "timeout");
    assert_string_equal(e.message, "OpenAI did not answer in time");
    assert_int_equal(e.retryable, 0);
    assert_false(nano_provider_should_retry(&e, 0, 0));
    r.received = 1;
    nano_provider_call_error(NANO_PROVIDER_OPENAI, &r, &e);
    assert_int_equal(e.retryable, 0);
    nano_client_res_cleanup(&r);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_auth_header_and_url),
        cmocka_unit_test(test_url_roots),
        cmocka_unit_test(test_clean_message),
        cmocka_unit_test(test_clean_code),
        cmocka_unit_test(test_error_plain_text),
        cmocka_unit_test(test_scrub),
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_json_long),
        cmocka_unit_test(test_backoff_and_retry),
        cmocka_unit_test(test_timeout_retry_rule),
        cmocka_unit_test(test_base64),
    };

    return cmocka_run_group_tests_name("provider", tests, NULL, NULL);
}
