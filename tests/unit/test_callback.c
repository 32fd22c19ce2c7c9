/*
 * Unit tests for callbackUrl validation (nano_callback): which URLs the
 * platform redirects to, exactly, and every refusal falling back to the
 * origin.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "nano_callback.h"

#define ORIGIN  "http://localhost:8080"

typedef struct {
    const char            *url;
    nano_callback_kind_t   kind;
    const char            *resolved;     /* nano_callback_resolve's answer */
} callback_case_t;

static const callback_case_t  cases[] = {
    /* accepted: relative */
    { "/", NANO_CALLBACK_RELATIVE, ORIGIN "/" },
    { "/qwen/", NANO_CALLBACK_RELATIVE, ORIGIN "/qwen/" },
    { "/qwen/chat?x=1&y=%2F#top", NANO_CALLBACK_RELATIVE,
      ORIGIN "/qwen/chat?x=1&y=%2F#top" },
    { "/a%2F%2Fb", NANO_CALLBACK_RELATIVE, ORIGIN "/a%2F%2Fb" },
    { "/a\\b", NANO_CALLBACK_RELATIVE, ORIGIN "/a\\b" },
    { "/100%", NANO_CALLBACK_RELATIVE, ORIGIN "/100%" },
    /* text past ASCII percent-encoded, as a browser would: a Location
     * header is ASCII */
    { "/qwen/?q=\xe6\x97\xa5\xe6\x9c\xac", NANO_CALLBACK_RELATIVE,
      ORIGIN "/qwen/?q=%E6%97%A5%E6%9C%AC" },
    { "/caf\xc3\xa9 au lait?\"x\"<y>", NANO_CALLBACK_RELATIVE,
      ORIGIN "/caf%C3%A9%20au%20lait?%22x%22%3Cy%3E" },
    { ORIGIN "/caf\xc3\xa9", NANO_CALLBACK_ABSOLUTE, ORIGIN "/caf%C3%A9" },
    { "/qwen/?q=%E6%97%A5", NANO_CALLBACK_RELATIVE,
      ORIGIN "/qwen/?q=%E6%97%A5" },
    /* accepted: same origin, kept as written */
    { ORIGIN, NANO_CALLBACK_ABSOLUTE, ORIGIN },
    { ORIGIN "/", NANO_CALLBACK_ABSOLUTE, ORIGIN "/" },
    { ORIGIN "/seedream?x=1", NANO_CALLBACK_ABSOLUTE, ORIGIN "/seedream?x=1" },
    { ORIGIN "?x", NANO_CALLBACK_ABSOLUTE, ORIGIN "?x" },
    { "HTTP://LocalHost:8080/qwen", NANO_CALLBACK_ABSOLUTE,
      "HTTP://LocalHost:8080/qwen" },
    /* refused: another host through "//" or "/\", also once decoded */
    { "//evil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    { "//evil.com/qwen", NANO_CALLBACK_REFUSED, ORIGIN },
    { "/\\evil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    { "///evil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    { "/%2Fevil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    { "/%2f%2fevil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    { "/%5Cevil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    { "/%252F%252Fevil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    { "%2F%2Fevil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    /* refused: other origins */
    { "http://evil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    { "http://evil.com/qwen", NANO_CALLBACK_REFUSED, ORIGIN },
    { "https://localhost:8080/", NANO_CALLBACK_REFUSED, ORIGIN },
    { "http://localhost/", NANO_CALLBACK_REFUSED, ORIGIN },
    { "http://localhost:80801/", NANO_CALLBACK_REFUSED, ORIGIN },
    { "http://localhost:8081/", NANO_CALLBACK_REFUSED, ORIGIN },
    { "http://localhost:8080.evil.com/", NANO_CALLBACK_REFUSED, ORIGIN },
    { "http://localhost:8080@evil.com/", NANO_CALLBACK_REFUSED, ORIGIN },
    { "http://evil.com@localhost:8080/", NANO_CALLBACK_REFUSED, ORIGIN },
    { "http://localhost:8080\\@evil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    { "http://localhost:8080/a\\b", NANO_CALLBACK_REFUSED, ORIGIN },
    { "http:/localhost:8080/", NANO_CALLBACK_REFUSED, ORIGIN },
    { "http:localhost:8080/", NANO_CALLBACK_REFUSED, ORIGIN },
    /* refused: other schemes and non-URLs */
    { "javascript:alert(1)", NANO_CALLBACK_REFUSED, ORIGIN },
    { "JavaScript://%0aalert(1)", NANO_CALLBACK_REFUSED, ORIGIN },
    { "data:text/html,<script>alert(1)</script>", NANO_CALLBACK_REFUSED,
      ORIGIN },
    { "ftp://localhost:8080/", NANO_CALLBACK_REFUSED, ORIGIN },
    { "qwen", NANO_CALLBACK_REFUSED, ORIGIN },
    { "", NANO_CALLBACK_REFUSED, ORIGIN },
    { " /qwen", NANO_CALLBACK_REFUSED, ORIGIN },
    /* refused: control characters, raw or encoded */
    { "/qwen\n", NANO_CALLBACK_REFUSED, ORIGIN },
    { "/\t/evil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    { "/qwen\r\nSet-Cookie: x=1", NANO_CALLBACK_REFUSED, ORIGIN },
    { "/qwen%0d%0aSet-Cookie:%20x=1", NANO_CALLBACK_REFUSED, ORIGIN },
    { "/%09/evil.com", NANO_CALLBACK_REFUSED, ORIGIN },
    { "/qwen%00", NANO_CALLBACK_REFUSED, ORIGIN },
    { "/qwen\x7f", NANO_CALLBACK_REFUSED, ORIGIN },
    { ORIGIN "/\n", NANO_CALLBACK_REFUSED, ORIGIN },
};

static void
test_cases(void **state)
{
    size_t   i;
    char    *got;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (nano_callback_check(cases[i].url, ORIGIN) != cases[i].kind) {
            fail_msg("case %zu \"%s\": kind %d, expected %d", i, cases[i].url,
                     nano_callback_check(cases[i].url, ORIGIN),
                     cases[i].kind);
        }
        got = nano_callback_resolve(cases[i].url, ORIGIN);
        assert_non_null(got);
        if (strcmp(got, cases[i].resolved) != 0) {
            fail_msg("case %zu \"%s\": resolved \"%s\", expected \"%s\"", i,
                     cases[i].url, got, cases[i].resolved);
        }
        free(got);
    }
}

static void
test_null_and_long(void **state)
{
    char  *got, *url;

    (void) state;
    assert_int_equal(nano_callback_check(NULL, ORIGIN),
                     NANO_CALLBACK_REFUSED);
    got = nano_callback_resolve(NULL, ORIGIN);
    assert_string_equal(got, ORIGIN);
    free(got);

    url = malloc(NANO_CALLBACK_MAX + 2);
    assert_non_null(url);
    memset(url, 'a', NANO_CALLBACK_MAX + 1);
    url[0] = '/';
    url[NANO_CALLBACK_MAX] = '\0';                 /* exactly the limit */
    assert_int_equal(nano_callback_check(url, ORIGIN),
                     NANO_CALLBACK_RELATIVE);
    url[NANO_CALLBACK_MAX] = 'a';
    url[NANO_CALLBACK_MAX + 1] = '\0';             /* one over */
    assert_int_equal(nano_callback_check(url, ORIGIN),
                     NANO_CALLBACK_REFUSED);
    /* a path that long alone has nothing to keep: the origin */
    got = nano_callback_resolve(url, ORIGIN);
    assert_string_equal(got, ORIGIN);
    free(got);
    free(url);
}

/* A callbackUrl over the limit keeps its path when that alone is
 * accepted: a module page with a long query came back to the root. */
static void
test_long_keeps_path(void **state)
{
    const struct {
        const char  *head, *want;
    } cases[] = {
        { "/qwen/chat?q=", ORIGIN "/qwen/chat" },
        { "/qwen/chat#", ORIGIN "/qwen/chat" },
        { ORIGIN "/seedream/?prompt=", ORIGIN "/seedream/" },
        { ORIGIN "?x=", ORIGIN },
        /* the path is checked as any callbackUrl is */
        { "//evil.com/?q=", ORIGIN },
        { "/%2F%2Fevil.com?q=", ORIGIN },
        { "/\\evil.com#", ORIGIN },
        { "http://evil.com/qwen/?q=", ORIGIN },
        { "/qwen\n?q=", ORIGIN },
        { "?q=", ORIGIN },
    };
    size_t   i, n;
    char    *url, *got;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = strlen(cases[i].head);
        url = malloc(n + NANO_CALLBACK_MAX + 1);
        assert_non_null(url);
        memcpy(url, cases[i].head, n);
        memset(url + n, 'a', NANO_CALLBACK_MAX);
        url[n + NANO_CALLBACK_MAX] = '\0';
        assert_int_equal(nano_callback_check(url, ORIGIN),
                         NANO_CALLBACK_REFUSED);
        got = nano_callback_resolve(url, ORIGIN);
        assert_non_null(got);
        if (strcmp(got, cases[i].want) != 0) {
            fail_msg("case %zu \"%s...\": \"%s\", expected \"%s\"", i,
                     cases[i].head, got, cases[i].want);
        }
        free(got);
        free(url);
    }
}

static void
test_https_origin(void **state)
{
    const char  *o = "https://nano.example.com";

    (void) state;
    assert_int_equal(nano_callback_check("https://nano.example.com/qwen", o),
                     NANO_CALLBACK_ABSOLUTE);
    /* the default port is the same origin */
    assert_int_equal(nano_callback_check("https://nano.example.com:443/", o),
                     NANO_CALLBACK_ABSOLUTE);
    assert_int_equal(nano_callback_check("http://nano.example.com/qwen", o),
                     NANO_CALLBACK_REFUSED);
    assert_int_equal(nano_callback_check("https://evil.example.com/", o),
                     NANO_CALLBACK_REFUSED);
    assert_int_equal(nano_callback_check("https://nano.example.com.evil/", o),
                     NANO_CALLBACK_REFUSED);
}

typedef struct {
    const char  *url;
    const char  *origin;      /* NULL: refused */
    const char  *rest;
} origin_case_t;

static const origin_case_t  origins[] = {
    { "http://localhost:8080", "http://localhost:8080", "" },
    { "http://Localhost:8080/path?q", "http://localhost:8080", "/path?q" },
    { "HTTPS://Example.COM:443/x", "https://example.com", "/x" },
    { "http://example.com:80/", "http://example.com", "/" },
    { "https://example.com:80/", "https://example.com:80", "/" },
    { "http://127.0.0.1:3000#f", "http://127.0.0.1:3000", "#f" },
    { "http://[::1]:8080/", "http://[::1]:8080", "/" },
    { "http://[::1]/", "http://[::1]", "/" },
    { "ftp://example.com", NULL, NULL },
    { "http://", NULL, NULL },
    { "http:///x", NULL, NULL },
    { "http://:8080/", NULL, NULL },
    { "http://a:", NULL, NULL },
    { "http://a:0", NULL, NULL },
    { "http://a:65536", NULL, NULL },
    { "http://a:123456", NULL, NULL },
    { "http://a:8o", NULL, NULL },
    { "http://u:p@a/", NULL, NULL },
    { "http://a b/", NULL, NULL },
    { "http://a%2eb/", NULL, NULL },
    { "http://a:1:2/", NULL, NULL },
    { "http://[::1/", NULL, NULL },
    { "http://[]/", NULL, NULL },
    { "null", NULL, NULL },
};

static void
test_origins(void **state)
{
    char         out[NANO_ORIGIN_MAX];
    const char  *rest;
    size_t       i;
    int          rc;

    (void) state;
    for (i = 0; i < sizeof(origins) / sizeof(origins[0]); i++) {
        rest = NULL;
        rc = nano_callback_origin(origins[i].url, out, sizeof(out), &rest);
        if (origins[i].origin == NULL) {
            if (rc != -1) {
                fail_msg("\"%s\" accepted as \"%s\"", origins[i].url, out);
            }
            continue;
        }
        if (rc != 0) {
            fail_msg("\"%s\" refused", origins[i].url);
        }
        assert_string_equal(out, origins[i].origin);
        assert_string_equal(rest, origins[i].rest);
    }
    /* too small an output buffer */
    assert_int_equal(nano_callback_origin("http://localhost:8080", out, 10,
                                          NULL), -1);
}

/* A URL refused at start is named in the log: the user and password
 * of one such as https://u:token@proxy/v1 were logged with it (found
 * by the config probe). */
static void
test_redact(void **state)
{
    static const struct {
        const char  *url;
        const char  *out;
    } urls[] = {
        { "https://u:s3cret@proxy.example/v1",
          "https://***@proxy.example/v1" },
        { "https://s3cret@h", "https://***@h" },
        { "https://a@b:s3cret@h:8443/x?q", "https://***@h:8443/x?q" },
        { "u:s3cret@h/v1", "***@h/v1" },
        { "https://h/a@b", "https://h/a@b" },
        { "https://h?x=a@b", "https://h?x=a@b" },
        { "https://h#a@b", "https://h#a@b" },
        { "generativelanguage.googleapis.com",
          "generativelanguage.googleapis.com" },
        { "", "" },
    };
    char    out[128];
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        nano_url_redact(urls[i].url, out, sizeof(out));
        assert_string_equal(out, urls[i].out);
    }
    nano_url_redact(NULL, out, sizeof(out));
    assert_string_equal(out, "");
    /* cut to the buffer, never past it */
    nano_url_redact("https://u:s3cret@proxy.example/v1", out, 12);
    assert_string_equal(out, "https://***");
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_null_and_long),
        cmocka_unit_test(test_long_keeps_path),
        cmocka_unit_test(test_https_origin),
        cmocka_unit_test(test_origins),
    };

    return cmocka_run_group_tests_name("callback", tests, NULL, NULL);
}
