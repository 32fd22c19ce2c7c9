/*
 * Unit tests for the plain numbers of form values (nano_form_digits),
 * which the page limits and generate's seeds and sizes share: digits
 * only, leading zeros taken, a maximum that no overflow can slip past;
 * a setting's whole value in base 8 or 10 (nano_form_number); and the
 * count of a key's pairs (a page's limit given twice).
 */

#include "unit_table.h"

#include <limits.h>
#include <string.h>

#include "nano_form.h"

typedef struct {
    const char  *name;
    const char  *in;
    long long    max;
    int          rc;
    long long    n;         /* when rc is 0 */
    const char  *rest;      /* where *p is left: in itself after a -1 */
} digits_row_t;

static const digits_row_t  rows[] = {
    { "one digit", "7", 10, 0, 7, "" },
    { "zero", "0", 10, 0, 0, "" },
    { "leading zeros", "007", 10, 0, 7, "" },
    { "zeros only", "000", 10, 0, 0, "" },
    { "stops at a non-digit", "512x768", 4096, 0, 512, "x768" },
    { "stops at a high byte", "5\xc3\xa9", 10, 0, 5, "\xc3\xa9" },
    { "the maximum itself", "100", 100, 0, 100, "" },
    { "the maximum with zeros", "0100", 100, 0, 100, "" },
    { "one over", "101", 100, -1, 0, "101" },
    { "over early, digits after", "1000000", 100, -1, 0, "1000000" },
    { "empty", "", 100, -1, 0, "" },
    { "a plus sign", "+2", 100, -1, 0, "+2" },
    { "a minus sign", "-2", 100, -1, 0, "-2" },
    { "a leading blank", " 2", 100, -1, 0, " 2" },
    { "a letter", "x2", 100, -1, 0, "x2" },
    { "max 0 takes 0", "00", 0, 0, 0, "" },
    { "max 0 refuses 5", "5", 0, -1, 0, "5" },
    { "max 9 refuses 10", "10", 9, -1, 0, "10" },
    { "a negative max refuses all", "0", -1, -1, 0, "0" },
    { "seed maximum", "2147483647", 2147483647LL, 0, 2147483647LL, "" },
    { "seed maximum + 1", "2147483648", 2147483647LL, -1, 0, "2147483648" },
    { "LLONG_MAX", "9223372036854775807", LLONG_MAX, 0, LLONG_MAX, "" },
    { "LLONG_MAX + 1, no overflow", "9223372036854775808", LLONG_MAX, -1, 0,
      "9223372036854775808" },
    { "far past LLONG_MAX", "99999999999999999999999", LLONG_MAX, -1, 0,
      "99999999999999999999999" },
};

static void
digits_row(void **state)
{
    const digits_row_t  *r = *state;
    const char          *p = r->in;
    long long            n = -42;

    assert_int_equal(nano_form_digits(&p, r->max, &n), r->rc);
    if (r->rc == 0) {
        assert_true(n == r->n);
    }
    assert_string_equal(p, r->rest);
    if (r->rc != 0) {
        assert_ptr_equal(p, r->in);
    }
}

/* A setting's whole value (nano_form_number): strtol took a leading
 * blank or sign and refused a trailing blank (found by an earlier
 * probe). */
static void
whole_numbers(void **state)
{
    static const char *const  refused[] = {
        "", " 4", "+4", "-4", "4 ", "\t4", "4\n", "0x10", "4x", "1e3",
        "-0", " ", NULL
    };
    long long                 n = -42;
    size_t                    i;

    (void) state;
    assert_int_equal(nano_form_number("4", 10, 256, &n), 0);
    assert_true(n == 4);
    assert_int_equal(nano_form_number("0256", 10, 256, &n), 0);
    assert_true(n == 256);
    assert_int_equal(nano_form_number("257", 10, 256, &n), -1);
    for (i = 0; refused[i] != NULL; i++) {
        assert_int_equal(nano_form_number(refused[i], 10, 256, &n), -1);
        assert_int_equal(nano_form_number(refused[i], 8, 0777, &n), -1);
    }
    /* octal: a socket mode */
    assert_int_equal(nano_form_number("0660", 8, 0777, &n), 0);
    assert_true(n == 0660);
    assert_int_equal(nano_form_number("777", 8, 0777, &n), 0);
    assert_true(n == 0777);
    assert_int_equal(nano_form_number("1777", 8, 0777, &n), -1);
    assert_int_equal(nano_form_number("0668", 8, 0777, &n), -1);
    assert_int_equal(nano_form_number("0", 8, 0777, &n), 0);
    assert_true(n == 0);
    /* bases other than 8 and 10 are refused, not guessed */
    assert_int_equal(nano_form_number("10", 16, 100, &n), -1);
}

static void
count_pairs(void **state)
{
    nano_form_t  f;

    (void) state;
    nano_form_init(&f);
    assert_int_equal(nano_form_count(&f, "a"), 0);
    assert_int_equal(nano_form_parse(&f, "a=1&b=2&a=3&ab=4&A=5&a",
                                     strlen("a=1&b=2&a=3&ab=4&A=5&a")),
                     NANO_FORM_OK);
    assert_int_equal(nano_form_count(&f, "a"), 3);
    assert_int_equal(nano_form_count(&f, "b"), 1);
    assert_int_equal(nano_form_count(&f, "ab"), 1);
    assert_int_equal(nano_form_count(&f, "c"), 0);
    nano_form_cleanup(&f);
}

int
main(void)
{
    static const struct CMUnitTest  extra[] = {
        cmocka_unit_test(whole_numbers),
        cmocka_unit_test(count_pairs),
    };

    return unit_run_table("form digits", rows, sizeof(rows) / sizeof(rows[0]),
                          sizeof(rows[0]), digits_row, extra,
                          sizeof(extra) / sizeof(extra[0]));
}
