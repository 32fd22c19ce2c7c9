/*
 * Unit tests for the packs file (nano_packs): the repo's packs.conf,
 * comments and spacing, and every refusal with the line it names.
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

#include "nano_packs.h"

static int
parse(const char *text, nano_pack_t *packs, size_t *n, char *err)
{
    return nano_packs_parse(text, strlen(text), "packs.conf", packs,
                            NANO_PACKS_MAX, n, err, 256);
}

/* Expects text to be refused with exactly message. */
static void
refused(const char *text, const char *message)
{
    nano_pack_t  packs[NANO_PACKS_MAX];
    size_t       n = 99;
    char         err[256] = "";

    if (parse(text, packs, &n, err) != -1) {
        fail_msg("accepted: %s", text);
    }
    assert_string_equal(err, message);
    assert_int_equal(n, 0);
}

static void
test_parse(void **state)
{
    nano_pack_t  p[NANO_PACKS_MAX];
    size_t       n;
    char         err[256] = "";

    (void) state;
    assert_int_equal(parse("# packs\n"
                           "\n"
                           "starter 100 499 usd Starter: 100 credits\n"
                           "  big_1\t5000  \t 99999999 EUR   Big   pack  \r\n"
                           "yen 10 500 jpy Ten # a comment\n"
                           "x-2 1 1 gbp \xc3\xa9t\xc3\xa9\n",
                           p, &n, err), 0);
    assert_string_equal(err, "");
    assert_int_equal(n, 4);
    assert_string_equal(p[0].id, "starter");
    assert_int_equal(p[0].credits, 100);
    assert_int_equal(p[0].price, 499);
    assert_string_equal(p[0].currency, "usd");
    assert_string_equal(p[0].label, "Starter: 100 credits");
    assert_string_equal(p[1].id, "big_1");
    assert_int_equal(p[1].credits, 5000);
    assert_int_equal(p[1].price, 99999999);
    assert_string_equal(p[1].currency, "eur");
    assert_string_equal(p[1].label, "Big   pack");
    assert_string_equal(p[2].label, "Ten");
    assert_string_equal(p[2].currency, "jpy");
    assert_string_equal(p[3].label, "\xc3\xa9t\xc3\xa9");
    /* nothing at all is no packs, not an error */
    assert_int_equal(parse("# none yet\n\n", p, &n, err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(parse("", p, &n, err), 0);
    assert_int_equal(n, 0);
}

/* A file saved with CRLF line ends (an editor on Windows) reads as the
 * same file with LF: its blank lines and the ends of its last fields
 * too. */
static void
test_crlf(void **state)
{
    nano_pack_t  p[NANO_PACKS_MAX];
    size_t       n;
    char         err[256] = "";

    (void) state;
    assert_int_equal(parse("# packs\r\n"
                           "\r\n"
                           "  \t\r\n"
                           "starter 100 499 usd Starter: 100 credits\r\n"
                           "yen 10 500 jpy Ten # a comment\r\n"
                           "\r\n",
                           p, &n, err), 0);
    assert_string_equal(err, "");
    assert_int_equal(n, 2);
    assert_string_equal(p[0].label, "Starter: 100 credits");
    assert_string_equal(p[1].label, "Ten");
    /* a CR anywhere else is still a control character of the label */
    refused("a 1 1 usd La\rbel\r\n", "packs.conf:1: the label must be"
            " UTF-8 text without control characters, at most 100 bytes");
}

static void
test_refusals(void **state)
{
    (void) state;
    refused("a 1 1 usd A\nb 1 1\n",
            "packs.conf:2: expected \"id credits price currency label\"");
    refused("a 1 1 usd\n",
            "packs.conf:1: expected \"id credits price currency label\"");
    refused("a 1 1 usd   # label in a comment\n",
            "packs.conf:1: expected \"id credits price currency label\"");
    refused("Big 1 1 usd A\n",
            "packs.conf:1: \"Big\" is not a pack id (a-z, 0-9, '-', '_',"
            " starting with a letter or digit; at most 32 bytes)");
    refused("-a 1 1 usd A\n",
            "packs.conf:1: \"-a\" is not a pack id (a-z, 0-9, '-', '_',"
            " starting with a letter or digit; at most 32 bytes)");
    refused("a23456789012345678901234567890123 1 1 usd A\n",
            "packs.conf:1: \"a23456789012345678901234567890123\" is not a"
            " pack id (a-z, 0-9, '-', '_', starting with a letter or digit;"
            " at most 32 bytes)");
    refused("a 1 1 usd A\n\na 2 2 usd B\n",
            "packs.conf:3: pack \"a\" is listed twice");
    refused("a 0 1 usd A\n",
            "packs.conf:1: credits \"0\" is not a whole number from 1 to"
            " 100000000");
    refused("a -5 1 usd A\n",
            "packs.conf:1: credits \"-5\" is not a whole number from 1 to"
            " 100000000");
    refused("a 1.5 1 usd A\n",
            "packs.conf:1: credits \"1.5\" is not a whole number from 1 to"
            " 100000000");
    refused("a 100000001 1 usd A\n",
            "packs.conf:1: credits \"100000001\" is not a whole number from 1"
            " to 100000000");
    refused("a 1 4.99 usd A\n",
            "packs.conf:1: price \"4.99\" is not a whole number from 1 to"
            " 99999999 in the currency's minor unit (499 for 4.99)");
    refused("a 1 100000000 usd A\n",
            "packs.conf:1: price \"100000000\" is not a whole number from 1 to"
            " 99999999 in the currency's minor unit (499 for 4.99)");
    refused("a 1 99999999999999 usd A\n",
            "packs.conf:1: price \"99999999999999\" is not a whole number from"
            " 1 to 99999999 in the currency's minor unit (499 for 4.99)");
    refused("a 1 1 us A\n",
            "packs.conf:1: currency \"us\" is not a three-letter ISO 4217 code"
            " (usd, eur)");
    refused("a 1 1 usdt A\n",
            "packs.conf:1: currency \"usdt\" is not a three-letter ISO 4217"
            " code (usd, eur)");
    refused("a 1 1 u5d A\n",
            "packs.conf:1: currency \"u5d\" is not a three-letter ISO 4217"
            " code (usd, eur)");
    refused("a 1 1 usd \xff\xfe\n",
            "packs.conf:1: the label must be UTF-8 text without control"
            " characters, at most 100 bytes");
    refused("a 1 1 usd A\x01" "B\n",
            "packs.conf:1: the label must be UTF-8 text without control"
            " characters, at most 100 bytes");
    refused("a 1 1 usd 12345678901234567890123456789012345678901234567890"
            "123456789012345678901234567890123456789012345678901\n",
            "packs.conf:1: the label must be UTF-8 text without control"
            " characters, at most 100 bytes");
}

static void
test_nul_and_too_many(void **state)
{
    nano_pack_t  p[NANO_PACKS_MAX];
    size_t       n;
    char         err[256], text[4096];
    int          i, at = 0;

    (void) state;
    assert_int_equal(nano_packs_parse("a 1 1 usd A\0B\n", 14, "f", p,
                                      NANO_PACKS_MAX, &n, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "f: holds a NUL byte: not a text file");
    for (i = 0; i <= NANO_PACKS_MAX; i++) {
        at += snprintf(text + at, sizeof(text) - (size_t) at,
                       "p%d 1 1 usd P\n", i);
    }
    assert_int_equal(parse(text, p, &n, err), -1);
    assert_string_equal(err, "packs.conf:33: more than 32 packs");
}

static void
test_load(void **state)
{
    const nano_pack_t  *all;
    const char         *path = NULL;
    char                err[256] = "", file[] = "/tmp/nano-packs-XXXXXX";
    size_t              n;
    FILE               *f;
    int                 fd;

    (void) state;
    /* the repo's own file */
    setenv("NANO_PACKS_FILE", "packs.conf", 1);
    assert_int_equal(nano_packs_load(&path, err, sizeof(err)), 0);
    all = nano_packs_all(&n);
    assert_true(n >= 1);
    assert_non_null(nano_packs_find(all[0].id));
    assert_null(nano_packs_find("no-such-pack"));

    /* a malformed file names itself and the line */
    fd = mkstemp(file);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("ok 1 1 usd Fine\nbad 1 1 dollars Nope\n", f);
    fclose(f);
    setenv("NANO_PACKS_FILE", file, 1);
    assert_int_equal(nano_packs_load(&path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: currency \"dollars\""));
    assert_non_null(strstr(err, file));
    /* what was loaded before stays */
    nano_packs_all(&n);
    assert_true(n >= 1);
    unlink(file);

    /* a named file that is missing is an error */
    assert_int_equal(nano_packs_load(&path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "NANO_PACKS_FILE"));
    assert_non_null(strstr(err, "No such file"));
    unsetenv("NANO_PACKS_FILE");
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_nul_and_too_many),
        cmocka_unit_test(test_load),
    };

    return cmocka_run_group_tests_name("packs", tests, NULL, NULL);
}
