/*
 * Unit tests for email normalisation and the checks on a new address
 * (nano_email): trimming, NFC, ASCII lower-casing, and the refusal of
 * invisible, unassigned and private-use characters.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nano_email.h"

static void
norm_is(const char *raw, const char *expect)
{
    char  *n = nano_email_normalise(raw);

    assert_non_null(n);
    assert_string_equal(n, expect);
    free(n);
}

static void
test_normalise_trims_and_lowers(void **state)
{
    (void) state;
    norm_is("  Ann@Example.COM\t", "ann@example.com");
    norm_is("", "");
    norm_is("   ", "");
}

static void
test_normalise_nfc(void **state)
{
    (void) state;
    /* e + U+0301 COMBINING ACUTE becomes U+00E9 */
    norm_is("Re\xcc\x81my@example.com", "r\xc3\xa9my@example.com");
    /* already composed stays */
    norm_is("r\xc3\xa9my@example.com", "r\xc3\xa9my@example.com");
}

static void
test_normalise_unicode_case(void **state)
{
    (void) state;
    /* non-ASCII capitals too: one address, one account, one lock */
    norm_is("\xc3\x89MY@example.com", "\xc3\xa9my@example.com");
    norm_is("maxX@B\xc3\x9c" "CHER.DE", "maxx@b\xc3\xbc" "cher.de");
    /* decomposed capitals fold and compose: U + U+0308 is u-umlaut */
    norm_is("max@BU\xcc\x88" "CHER.de", "max@b\xc3\xbc" "cher.de");
    /* U+0130 folds as Unicode says (i + U+0307), not to a plain i, so it
     * finds no account of "alice" */
    norm_is("al\xc4\xb0" "ce@x.com", "ali\xcc\x87" "ce@x.com");
}

static void
test_normalise_refuses_bad_utf8(void **state)
{
    (void) state;
    assert_null(nano_email_normalise("a\xff@x.com"));
    assert_null(nano_email_normalise("\xc0\xaf@x.com"));
    assert_null(nano_email_normalise("\xed\xa0\x80@x.com"));
}

static void
test_problem_accepts(void **state)
{
    (void) state;
    assert_null(nano_email_problem("ann@example.com"));
    assert_null(nano_email_problem("r\xc3\xa9my@example.com"));
    assert_null(nano_email_problem("\xe7\x94\xa8\xe6\x88\xb7@example.cn"));
}

static void
test_problem_hidden_characters(void **state)
{
    (void) state;
    /* U+200B zero width space (Cf) */
    assert_non_null(nano_email_problem("an\xe2\x80\x8bn@example.com"));
    /* U+00A0 no-break space (Zs) */
    assert_non_null(nano_email_problem("an\xc2\xa0n@example.com"));
    /* U+00AD soft hyphen (Cf) */
    assert_non_null(nano_email_problem("an\xc2\xadn@example.com"));
    /* U+E000 private use (Co) */
    assert_non_null(nano_email_problem("an\xee\x80\x80n@example.com"));
    /* U+0378 unassigned (Cn) */
    assert_non_null(nano_email_problem("an\xcd\xb8n@example.com"));
    /* U+0085 next line (Cc), U+2028 line separator (Zl) */
    assert_non_null(nano_email_problem("an\xc2\x85n@example.com"));
    assert_non_null(nano_email_problem("an\xe2\x80\xa8n@example.com"));
    /* U+FEFF byte order mark (Cf) */
    assert_non_null(nano_email_problem("\xef\xbb\xbf" "ann@example.com"));
}

static void
test_problem_compat_characters(void **state)
{
    (void) state;
    /* U+FF4D full-width m in the domain, and in the local part */
    assert_non_null(nano_email_problem("x@exa\xef\xbd\x8dple.com"));
    assert_non_null(nano_email_problem("\xef\xbd\x8e" "ann@example.com"));
    /* U+3002 ideographic, U+FF0E fullwidth, U+FF61 halfwidth dots */
    assert_non_null(nano_email_problem("x@example.com\xe3\x80\x82"));
    assert_non_null(nano_email_problem("x@example\xe3\x80\x82" "com"));
    assert_non_null(nano_email_problem("x@example\xef\xbc\x8e" "com"));
    assert_non_null(nano_email_problem("x@example\xef\xbd\xa1" "com"));
    /* U+FB01 the ligature fi */
    assert_non_null(nano_email_problem("\xef\xac\x81n@example.com"));
    /* NFKC-stable letters of any script still pass */
    assert_null(nano_email_problem("\xe7\x94\xa8\xe6\x88\xb7@"
                                   "\xe4\xbe\x8b\xe5\xad\x90.cn"));
    assert_null(nano_email_problem("\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd"
                                   "@example.ru"));
}

static void
test_problem_syntax(void **state)
{
    char  big[300];

    (void) state;
    assert_non_null(nano_email_problem(""));
    assert_non_null(nano_email_problem("ann"));
    assert_non_null(nano_email_problem("ann@@example.com"));
    assert_non_null(nano_email_problem("@example.com"));
    assert_non_null(nano_email_problem("ann@example"));
    assert_non_null(nano_email_problem("ann@.example.com"));
    assert_non_null(nano_email_problem("ann@example..com"));
    assert_non_null(nano_email_problem("an n@example.com"));
    assert_non_null(nano_email_problem("<ann>@example.com"));
    assert_non_null(nano_email_problem("a\xff@example.com"));
    memset(big, 'a', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    big[10] = '@';
    assert_non_null(nano_email_problem(big));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalise_trims_and_lowers),
        cmocka_unit_test(test_normalise_nfc),
        cmocka_unit_test(test_normalise_unicode_case),
        cmocka_unit_test(test_normalise_refuses_bad_utf8),
        cmocka_unit_test(test_problem_accepts),
        cmocka_unit_test(test_problem_hidden_characters),
        cmocka_unit_test(test_problem_compat_characters),
        cmocka_unit_test(test_problem_syntax),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
