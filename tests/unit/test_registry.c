/*
 * Unit tests for the module registry (nano_registry, modules.conf): what
 * a line is read as, and every refusal with the line it names.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nano_registry.h"

static int
parse(const char *text, char *err, size_t errlen)
{
    err[0] = '\0';
    return nano_registry_parse(text, strlen(text), "modules.conf", err,
                               errlen);
}

static void
test_lines(void **state)
{
    const nano_registry_module_t  *m;
    size_t                         n;
    char                           err[256];

    (void) state;
    assert_int_equal(parse("# name kind provider title\n"
                           "\n"
                           "nano-banana  image  gemini  Nano Banana  \n"
                           "wan-2.5\tvideo\twan\tWan 2.5 # a comment\r\n"
                           "q.en text offline Q\n", err, sizeof(err)), 0);
    m = nano_registry_modules(&n);
    assert_int_equal(n, 3);
    assert_string_equal(m[0].title, "Nano Banana");
    assert_string_equal(m[0].path, "/nano-banana");
    assert_string_equal(m[1].name, "wan-2.5");
    assert_string_equal(m[1].title, "Wan 2.5");
    assert_string_equal(m[2].provider, "offline");
    assert_non_null(nano_registry_find("q.en"));
    nano_registry_cleanup();
}

/* A registry saved with CRLF line ends (an editor on Windows): a blank
 * line was "\r", read as a name, and refused; the scripts listed it. */
static void
test_crlf(void **state)
{
    const nano_registry_module_t  *m;
    size_t                         n;
    char                           err[256];

    (void) state;
    assert_int_equal(parse("# name kind provider title\r\n"
                           "\r\n"
                           "qwen text dashscope Qwen\r\n"
                           "  \r\n"
                           "grok\ttext\txai\tGrok\r\n", err, sizeof(err)), 0);
    m = nano_registry_modules(&n);
    assert_int_equal(n, 2);
    assert_string_equal(m[0].title, "Qwen");
    assert_string_equal(m[1].name, "grok");
    assert_string_equal(m[1].title, "Grok");
    nano_registry_cleanup();
    /* a line of name, kind and provider only is still short */
    assert_int_equal(parse("x text offline\r\n", err, sizeof(err)), -1);
    assert_string_equal(err, "modules.conf:1: expected \"name kind provider"
                             " title\"");
}

/* A NUL byte ended the text for the parser, which dropped every line
 * after it in silence, while the scripts still started those modules. */
static void
test_nul(void **state)
{
    static const char  text[] = "qwen text dashscope Qwen\n"
                                "x text offline T\0junk\n"
                                "grok text xai Grok\n";
    char               err[256];

    (void) state;
    assert_int_equal(nano_registry_parse(text, sizeof(text) - 1,
                                         "modules.conf", err, sizeof(err)),
                     -1);
    assert_string_equal(err, "modules.conf:2: a NUL byte");
}

/* NANO_REGISTRY_MAX modules fit; the 64th was refused as "more than 63",
 * one short of the room there is. */
static void
test_count(void **state)
{
    char    text[NANO_REGISTRY_MAX * 32 + 64], err[256];
    size_t  i, len = 0, n;

    (void) state;
    for (i = 0; i < NANO_REGISTRY_MAX; i++) {
        len += (size_t) snprintf(text + len, sizeof(text) - len,
                                 "m%zu text offline T\n", i);
    }
    assert_int_equal(parse(text, err, sizeof(err)), 0);
    nano_registry_modules(&n);
    assert_int_equal(n, NANO_REGISTRY_MAX);
    nano_registry_cleanup();
    snprintf(text + len, sizeof(text) - len,
             "# one more\nlast text offline T\n");
    assert_int_equal(parse(text, err, sizeof(err)), -1);
    assert_string_equal(err, "modules.conf:66: more than 64 modules");
}

/* An installed module runs as the system user nano-<name>, and useradd
 * takes 32 bytes at most: a name of 28 to 40 bytes served under make run
 * and failed nano-setup (the package's postinst) on install. */
static void
test_name_length(void **state)
{
    char  text[128], err[256];

    (void) state;
    snprintf(text, sizeof(text), "%s text offline T\n",
             "abcdefghijklmnopqrstuvwxy-7");
    assert_int_equal(parse(text, err, sizeof(err)), 0);
    nano_registry_cleanup();
    snprintf(text, sizeof(text), "%s text offline T\n",
             "abcdefghijklmnopqrstuvwxy-28");
    assert_int_equal(parse(text, err, sizeof(err)), -1);
    assert_string_equal(err, "modules.conf:1: \"abcdefghijklmnopqrstuvwxy-28\""
                             " is not a module name (a-z, 0-9, '-', '.';"
                             " starting with a letter or digit; at most 27"
                             " bytes)");
}

static void
test_refusals(void **state)
{
    static const struct {
        const char  *text;
        const char  *err;
    } rows[] = {
        { "x text offline\n",
          "modules.conf:1: expected \"name kind provider title\"" },
        { "x text offline #T\n",
          "modules.conf:1: expected \"name kind provider title\"" },
        { "X text offline T\n",
          "modules.conf:1: \"X\" is not a module name (a-z, 0-9, '-', '.';"
          " starting with a letter or digit; at most 27 bytes)" },
        { "api text offline T\n", "modules.conf:1: \"api\" is reserved" },
        /* the platform's pages: a module there would take them over */
        { "settings text offline T\n",
          "modules.conf:1: \"settings\" is reserved" },
        { "signup text offline T\n",
          "modules.conf:1: \"signup\" is reserved" },
        { "billing text offline T\n",
          "modules.conf:1: \"billing\" is reserved" },
        /* the tools' binaries beside nano-<name> in build/bin and
         * /usr/lib/nano/bin, and /etc/nano/common.env beside <name>.env */
        { "admin text offline T\n", "modules.conf:1: \"admin\" is reserved" },
        { "migrate text offline T\n",
          "modules.conf:1: \"migrate\" is reserved" },
        { "token text offline T\n", "modules.conf:1: \"token\" is reserved" },
        { "offline text offline T\n",
          "modules.conf:1: \"offline\" is reserved" },
        { "provider text offline T\n",
          "modules.conf:1: \"provider\" is reserved" },
        { "testapp text offline T\n",
          "modules.conf:1: \"testapp\" is reserved" },
        { "common text offline T\n",
          "modules.conf:1: \"common\" is reserved" },
        /* the media root's own folders beside one per module: the
         * uploads in flight of every app, the platform's avatars */
        { "tmp image offline T\n", "modules.conf:1: \"tmp\" is reserved" },
        { "avatars image offline T\n",
          "modules.conf:1: \"avatars\" is reserved" },
        /* installed, its user nano-media is the group nano-media of
         * nginx (nano-upload: of every app): useradd refused it (exit 9)
         * and nano-setup stopped there, the later apps without users */
        { "media image offline T\n",
          "modules.conf:1: \"media\" is reserved" },
        { "upload image offline T\n",
          "modules.conf:1: \"upload\" is reserved" },
        /* the Makefile's own targets: `make <app>` builds an app, and
         * `make deps` built "deps" before installing what it needs */
        { "deps text offline T\n", "modules.conf:1: \"deps\" is reserved" },
        { "clean text offline T\n",
          "modules.conf:1: \"clean\" is reserved" },
        { "new-module text offline T\n",
          "modules.conf:1: \"new-module\" is reserved" },
        { "install-platform text offline T\n",
          "modules.conf:1: \"install-platform\" is reserved" },
        { "x audio offline T\n",
          "modules.conf:1: kind \"audio\" is not image, text or video" },
        { "x text nope T\n", "modules.conf:1: unknown provider \"nope\"" },
        { "x text offline T\n\nx image offline U\n",
          "modules.conf:3: \"x\" is listed twice" },
        /* one nginx upstream, nano_wan_2_5, for both */
        { "wan-2.5 video wan W\nwan-2-5 video offline W\n",
          "modules.conf:2: \"wan-2-5\" and \"wan-2.5\" would share one nginx"
          " upstream ('-' and '.' are both '_' there)" },
        { "a.b text offline T\na-b text offline U\n",
          "modules.conf:2: \"a-b\" and \"a.b\" would share one nginx"
          " upstream ('-' and '.' are both '_' there)" },
    };
    char    err[256];
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_int_equal(parse(rows[i].text, err, sizeof(err)), -1);
        assert_string_equal(err, rows[i].err);
    }
    /* names alike but for their length or a letter are two upstreams */
    assert_int_equal(parse("a-b text offline T\na-bc text offline U\n"
                           "a.c text offline V\nab text offline W\n",
                           err, sizeof(err)), 0);
    nano_registry_cleanup();
}

static void
test_title_length(void **state)
{
    char  text[256], err[256];

    (void) state;
    snprintf(text, sizeof(text), "x text offline %080d\n", 0);
    assert_int_equal(parse(text, err, sizeof(err)), 0);
    nano_registry_cleanup();
    snprintf(text, sizeof(text), "x text offline %081d\n", 0);
    assert_int_equal(parse(text, err, sizeof(err)), -1);
    assert_string_equal(err, "modules.conf:1: the title is longer than 80"
                             " bytes");
}

/* A title goes into the JSON of /api/dashboard and /<m>/api/models:
 * Latin-1 there made both 500 for everyone. */
static void
test_title_utf8(void **state)
{
    const nano_registry_module_t  *m;
    size_t                         n;
    char                           err[256];

    (void) state;
    assert_int_equal(parse("x text offline Caf\xc3\xa9 \xe2\x9c\x93\n", err,
                           sizeof(err)), 0);
    m = nano_registry_modules(&n);
    assert_int_equal(n, 1);
    assert_string_equal(m[0].title, "Caf\xc3\xa9 \xe2\x9c\x93");
    nano_registry_cleanup();
    assert_int_equal(parse("x text offline T\ny text offline Caf\xe9\n", err,
                           sizeof(err)), -1);
    assert_string_equal(err, "modules.conf:2: the title is not UTF-8");
    assert_int_equal(parse("x text offline \xc0\xaf\n", err, sizeof(err)),
                     -1);
    assert_string_equal(err, "modules.conf:1: the title is not UTF-8");
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_name_length),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_title_length),
        cmocka_unit_test(test_title_utf8),
    };

    return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
