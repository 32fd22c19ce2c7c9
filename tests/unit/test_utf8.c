/*
 * Unit tests for the shared strict UTF-8 validator (nano_utf8).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nano_utf8.h"

static long
count(const char *s)
{
    return nano_utf8_count(s, strlen(s));
}

static void
test_ascii_and_multibyte(void **state)
{
    (void) state;
    assert_int_equal(count(""), 0);
    assert_int_equal(count("abc"), 3);
    assert_int_equal(count("caf\xc3\xa9"), 4);                 /* é */
    assert_int_equal(count("\xe2\x82\xac"), 1);                /* € */
    assert_int_equal(count("\xf0\x9f\x8d\x8c"), 1);            /* 🍌 */
    assert_int_equal(count("\xf4\x8f\xbf\xbf"), 1);            /* U+10FFFF */
    assert_int_equal(count("\xed\x9f\xbf"), 1);                /* U+D7FF */
    assert_int_equal(count("\xee\x80\x80"), 1);                /* U+E000 */
    assert_true(nano_utf8_valid("na\xc3\xafve"));
}

static void
test_invalid_bytes(void **state)
{
    (void) state;
    assert_int_equal(count("a\xff" "b"), -1);
    assert_int_equal(count("\x80"), -1);                       /* stray */
    assert_int_equal(count("\xc3"), -1);                       /* cut */
    assert_int_equal(count("\xe2\x82"), -1);
    assert_int_equal(count("\xc3\x28"), -1);                   /* bad cont */
    assert_int_equal(count("\xf5\x80\x80\x80"), -1);           /* > F4 */
    assert_false(nano_utf8_valid("a%ff@x.com" "\xff"));
}

static void
test_overlong_forms(void **state)
{
    (void) state;
    assert_int_equal(count("\xc0\xaf"), -1);                   /* '/' */
    assert_int_equal(count("\xc1\xbf"), -1);
    assert_int_equal(count("\xe0\x80\xaf"), -1);
    assert_int_equal(count("\xe0\x9f\xbf"), -1);
    assert_int_equal(count("\xf0\x80\x80\xaf"), -1);
    assert_int_equal(count("\xf0\x8f\xbf\xbf"), -1);
}

static void
test_surrogates_and_range(void **state)
{
    (void) state;
    assert_int_equal(count("\xed\xa0\x80"), -1);               /* U+D800 */
    assert_int_equal(count("\xed\xbf\xbf"), -1);               /* U+DFFF */
    assert_int_equal(count("\xed\xa0\xbd\xed\xb2\xa9"), -1);   /* CESU-8 */
    assert_int_equal(count("\xf4\x90\x80\x80"), -1);           /* 0x110000 */
}

static void
test_seq_lengths(void **state)
{
    (void) state;
    assert_int_equal(nano_utf8_seq((const unsigned char *) "a", 1), 1);
    assert_int_equal(nano_utf8_seq((const unsigned char *) "\xc3\xa9", 2), 2);
    /* only len bytes may be read */
    assert_int_equal(nano_utf8_seq((const unsigned char *) "\xc3\xa9", 1), 0);
    assert_int_equal(nano_utf8_seq((const unsigned char *) "\xe2\x82\xac",
                                   3), 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_and_multibyte),
        cmocka_unit_test(test_invalid_bytes),
        cmocka_unit_test(test_overlong_forms),
        cmocka_unit_test(test_surrogates_and_range),
        cmocka_unit_test(test_seq_lengths),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
