/*
 * Unit tests for the deployment's other origins and the session cookie's
 * Domain (nano_site, phase 2): what NANO_ORIGINS and NANO_COOKIE_DOMAIN
 * accept, every refusal with its reason, and callbackUrls on a subdomain.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nano_callback.h"
#include "nano_site.h"

#define APP      "https://example.app"
#define SEEDREAM "https://seedream.example.app"

static void
test_empty(void **state)
{
    nano_site_t  site;
    char         err[256] = "";

    (void) state;
    assert_int_equal(nano_site_parse(&site, APP, NULL, NULL, err,
                                     sizeof(err)), 0);
    assert_int_equal(site.norigins, 0);
    assert_string_equal(site.cookie_domain, "");
    assert_int_equal(nano_site_parse(&site, APP, " , ", "", err,
                                     sizeof(err)), 0);
    assert_int_equal(site.norigins, 0);
    assert_true(nano_site_allows(&site, APP, APP));
    assert_false(nano_site_allows(&site, APP, SEEDREAM));
    assert_string_equal(nano_site_callback_origin(&site, APP, SEEDREAM "/x"),
                        APP);
}

static void
test_origins_and_domain(void **state)
{
    nano_site_t  site;
    char         err[256] = "";

    (void) state;
    assert_int_equal(nano_site_parse(&site, APP,
                         "https://Seedream.Example.App/, https://qwen.example.app"
                         "  https://seedream.example.app https://x.example.app:8443",
                         ".Example.App", err, sizeof(err)), 0);
    assert_string_equal(site.cookie_domain, "example.app");
    assert_int_equal(site.norigins, 3);          /* the repeat counted once */
    assert_string_equal(site.origins[0], SEEDREAM);
    assert_string_equal(site.origins[2], "https://x.example.app:8443");
    assert_true(nano_site_allows(&site, APP, SEEDREAM));
    assert_true(nano_site_allows(&site, APP, "https://qwen.example.app"));
    assert_false(nano_site_allows(&site, APP, "https://evil.app"));
    assert_false(nano_site_allows(&site, APP, "http://seedream.example.app"));
    assert_false(nano_site_allows(&site, APP, "https://x.example.app"));

    assert_string_equal(nano_site_callback_origin(&site, APP,
                            SEEDREAM "/seedream/?a=1"), SEEDREAM);
    assert_string_equal(nano_site_callback_origin(&site, APP,
                            "HTTPS://SEEDREAM.example.app/"), SEEDREAM);
    assert_string_equal(nano_site_callback_origin(&site, APP,
                            "https://evil.app/"), APP);
    assert_string_equal(nano_site_callback_origin(&site, APP, "/relative"),
                        APP);
    assert_string_equal(nano_site_callback_origin(&site, APP, NULL), APP);
}

/* A callbackUrl on a listed subdomain is kept; elsewhere, and refused
 * on a listed subdomain, it is the primary origin. */
static void
test_callback_resolve(void **state)
{
    nano_site_t   site;
    char          err[256] = "";
    char         *url;
    const char   *given[][2] = {
        { SEEDREAM "/seedream/", SEEDREAM "/seedream/" },
        { "/billing", APP "/billing" },
        { "https://evil.app/seedream/", APP },
        { "https://seedream.example.app.evil.app/", APP },
        { "https://seedream.example.app@evil.app/", APP },
        { "//seedream.example.app/", APP },
        { "http://seedream.example.app/", APP },
        /* on the subdomain but refused: the platform, not the
         * subdomain's root */
        { SEEDREAM "/seedream/\\x", APP },
        { SEEDREAM "/seedream/\n", APP },
    };
    size_t        i;

    (void) state;
    assert_int_equal(nano_site_parse(&site, APP, SEEDREAM, "example.app",
                                     err, sizeof(err)), 0);
    for (i = 0; i < sizeof(given) / sizeof(given[0]); i++) {
        url = nano_site_callback_resolve(&site, APP, given[i][0]);
        assert_non_null(url);
        assert_string_equal(url, given[i][1]);
        free(url);
    }
}

static void
test_refusals(void **state)
{
    nano_site_t  site;
    char         err[256];
    size_t       i;
    const struct {
        const char  *origins, *domain, *reason;
    } bad[] = {
        { "seedream.example.app", NULL, "is not an origin" },
        { "https://seedream.example.app/path", NULL, "is not an origin" },
        { "https://seedream.example.app?x", NULL, "is not an origin" },
        { "ftp://seedream.example.app", NULL, "is not an origin" },
        { "http://seedream.example.app", NULL, "another scheme" },
        { "https://user@seedream.example.app", NULL, "is not an origin" },
        { NULL, "app", "not a domain name" },
        { NULL, "127.0.0.1", "not a domain name" },
        { NULL, "exa mple.app", "not a domain name" },
        { NULL, "-example.app", "not a domain name" },
        { NULL, "example-.app", "not a domain name" },
        { NULL, "example..app", "not a domain name" },
        { NULL, "example.app.", "not a domain name" },
        { NULL, "other.app", "does not cover" },
        { NULL, "ample.app", "does not cover" },
        { "https://seedream.other.app", "example.app", "outside" },
    };

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(nano_site_parse(&site, APP, bad[i].origins,
                                         bad[i].domain, err, sizeof(err)),
                         -1);
        if (strstr(err, bad[i].reason) == NULL) {
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].reason);
        }
    }
}

static void
test_too_many(void **state)
{
    nano_site_t  site;
    char         list[64 * 40], err[256] = "";
    size_t       i, off = 0;

    (void) state;
    for (i = 0; i <= NANO_SITE_ORIGINS_MAX; i++) {
        off += (size_t) snprintf(list + off, sizeof(list) - off,
                                 "https://m%zu.example.app ", i);
    }
    assert_int_equal(nano_site_parse(&site, APP, list, NULL, err,
                                     sizeof(err)), -1);
    assert_non_null(strstr(err, "more than"));
}

/*
 * The platform's own check: an origin on another host than NEXTAUTH_URL's
 * is reached by the session cookie only under NANO_COOKIE_DOMAIN.
 * Without it, signing in there came back signed out, over and over, and
 * nothing said why (found by the phase2 probe).  Another port of the same
 * host is fine: cookies do not tell ports apart.
 */
static void
test_cookie_reaches(void **state)
{
    nano_site_t  site;
    char         err[256] = "";

    (void) state;
    assert_int_equal(nano_site_parse(&site, APP, SEEDREAM, NULL, err,
                                     sizeof(err)), 0);
    assert_int_equal(nano_site_cookie_reaches(&site, APP, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, SEEDREAM));
    assert_non_null(strstr(err, "NANO_COOKIE_DOMAIN"));

    assert_int_equal(nano_site_parse(&site, APP, SEEDREAM, "example.app", err,
                                     sizeof(err)), 0);
    assert_int_equal(nano_site_cookie_reaches(&site, APP, err, sizeof(err)),
                     0);
    assert_int_equal(nano_site_parse(&site, APP,
                                     "https://EXAMPLE.app:8443", NULL, err,
                                     sizeof(err)), 0);
    assert_int_equal(nano_site_cookie_reaches(&site, APP, err, sizeof(err)),
                     0);
    assert_int_equal(nano_site_parse(&site, APP, NULL, NULL, err,
                                     sizeof(err)), 0);
    assert_int_equal(nano_site_cookie_reaches(&site, APP, err, sizeof(err)),
                     0);
    /* an address and a name on it are two hosts too */
    assert_int_equal(nano_site_parse(&site, "http://127.0.0.1:8080",
                                     "http://localhost:8080", NULL, err,
                                     sizeof(err)), 0);
    assert_int_equal(nano_site_cookie_reaches(&site, "http://127.0.0.1:8080",
                                              err, sizeof(err)), -1);
}

/*
 * NANO_COOKIE_DOMAIN against the Public Suffix List: "co.uk" or
 * "github.io" passed every other check (two labels, covering
 * NEXTAUTH_URL's host), and browsers refuse a cookie for it, so every
 * sign-in came back signed out (found by the authedges probe).  A list
 * of the file's own shapes: comments, both sections, a wildcard with its
 * exception, a rule past ASCII, CRLF, a line longer than the buffer.
 */
static void
test_public_suffix(void **state)
{
    static const char  list[] =
        "// ===BEGIN ICANN DOMAINS===\n"
        "uk\n"
        "co.uk\n"
        "// ck : https://en.wikipedia.org/wiki/.ck\n"
        "*.ck\n"
        "!www.ck\n"
        "\xe5\x85\xac\xe5\x8f\xb8.cn\n"
        "\xe5\x85\xac\xe5\x8f\xb8.\xe9\xa6\x99\xe6\xb8\xaf\n"
        "\xe9\xa6\x99\xe6\xb8\xaf\n"
        "*.\xe5\x85\xac\xe5\x8f\xb8\n"
        "!www.\xe5\x85\xac\xe5\x8f\xb8\n"
        "// ===BEGIN PRIVATE DOMAINS===\n"
        "github.io\r\n"
        "blogspot.com   extra words\n";
    char          path[] = "/tmp/test_site_psl_XXXXXX", err[512] = "";
    char          longline[512];
    nano_site_t   site;
    FILE         *f;
    int           fd;
    size_t        i;
    const struct {
        const char  *domain;
        int          suffix;
    } cases[] = {
        { "co.uk", 1 }, { "CO.UK", 1 }, { "example.co.uk", 0 },
        { "github.io", 1 }, { "me.github.io", 0 }, { "blogspot.com", 1 },
        { "foo.ck", 1 }, { "www.ck", 0 }, { "a.foo.ck", 0 },
        { "example.app", 0 }, { "o.uk", 0 }, { "tail.example", 0 },
        /* a rule written in Unicode names the punycode a domain has
         * (NANO_COOKIE_DOMAIN is ASCII): xn--55qx5d.cn passed as no
         * suffix (found by the endsserver probe) */
        { "xn--55qx5d.cn", 1 }, { "XN--55QX5D.CN", 1 },
        { "example.xn--55qx5d.cn", 0 }, { "xn--55qx5d.hk", 0 },
        { "xn--55qx5d.xn--j6w193g", 1 }, { "xn--j6w193g", 1 },
        { "foo.xn--55qx5d", 1 }, { "www.xn--55qx5d", 0 },
        { "xn--zz.cn", 0 }, { "xn--.cn", 0 },
    };

    (void) state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(list, f);
    /* a comment of 511 bytes and more: its tail, read alone, would be
     * the rule "tail.example" (the reader's buffer is 512 bytes) */
    memset(longline, 'x', 511);
    memcpy(longline, "// ", 3);
    longline[511] = '\0';
    fputs(longline, f);
    fputs("tail.example\n", f);
    fclose(f);

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (nano_site_public_suffix(path, cases[i].domain)
            != cases[i].suffix)
        {
            fail_msg("%s: expected %d", cases[i].domain, cases[i].suffix);
        }
    }
    assert_int_equal(nano_site_public_suffix("/nonexistent/psl.dat",
                                             "co.uk"), -1);

    /* the platform's check at start, with its message */
    assert_int_equal(nano_site_parse(&site, "https://app.example.co.uk",
                                     "https://seedream.example.co.uk",
                                     "co.uk", err, sizeof(err)), 0);
    assert_int_equal(nano_site_cookie_domain_check(&site, path, err,
                                                   sizeof(err)), -1);
    assert_non_null(strstr(err, "\"co.uk\" is a public suffix"));
    assert_int_equal(nano_site_parse(&site, "https://app.example.co.uk",
                                     "https://seedream.example.co.uk",
                                     "example.co.uk", err, sizeof(err)), 0);
    assert_int_equal(nano_site_cookie_domain_check(&site, path, err,
                                                   sizeof(err)), 0);
    assert_int_equal(nano_site_parse(&site, "https://app.xn--55qx5d.cn",
                                     NULL, "xn--55qx5d.cn", err,
                                     sizeof(err)), 0);
    assert_int_equal(nano_site_cookie_domain_check(&site, path, err,
                                                   sizeof(err)), -1);
    assert_non_null(strstr(err, "\"xn--55qx5d.cn\" is a public suffix"));
    /* Debian's list itself, when installed (scripts/deps.sh) */
    if (access(NANO_SITE_PSL_FILE, R_OK) == 0) {
        assert_int_equal(nano_site_public_suffix(NANO_SITE_PSL_FILE,
                                                 "xn--55qx5d.cn"), 1);
        assert_int_equal(nano_site_public_suffix(NANO_SITE_PSL_FILE,
                                                 "example.xn--55qx5d.cn"),
                         0);
    }
    /* no file: only nano_site_parse's checks hold */
    assert_int_equal(nano_site_parse(&site, "https://app.example.co.uk",
                                     NULL, "co.uk", err, sizeof(err)), 0);
    assert_int_equal(nano_site_cookie_domain_check(&site,
                                                   "/nonexistent/psl.dat",
                                                   err, sizeof(err)), 0);
    /* no Domain at all */
    assert_int_equal(nano_site_parse(&site, APP, NULL, NULL, err,
                                     sizeof(err)), 0);
    assert_int_equal(nano_site_cookie_domain_check(&site, path, err,
                                                   sizeof(err)), 0);
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_origins_and_domain),
        cmocka_unit_test(test_callback_resolve),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_cookie_reaches),
        cmocka_unit_test(test_public_suffix),
    };

    return cmocka_run_group_tests_name("site", tests, NULL, NULL);
}
