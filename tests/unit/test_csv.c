/*
 * Unit tests for CSV cells (nano_csv): RFC 4180 quoting and formula
 * neutralising, exact output.
 */

#include "unit_table.h"

#include "nano_csv.h"

typedef struct {
    const char  *name;
    const char  *in;
    const char  *out;
} csv_row_t;

static const csv_row_t  rows[] = {
    { "plain", "debit", "debit" },
    { "empty", "", "" },
    { "null", NULL, "" },
    { "comma", "a,b", "\"a,b\"" },
    { "quote", "say \"hi\"", "\"say \"\"hi\"\"\"" },
    { "newline", "a\nb", "\"a\nb\"" },
    { "cr", "a\rb", "\"a\rb\"" },
    { "equals", "=HYPERLINK(\"http://x\")",
      "\"'=HYPERLINK(\"\"http://x\"\")\"" },
    { "plus", "+1+1", "\"'+1+1\"" },
    { "minus", "-2+3+cmd|' /C calc'!A0", "\"'-2+3+cmd|' /C calc'!A0\"" },
    { "at", "@SUM(A1)", "\"'@SUM(A1)\"" },
    { "tab", "\t=1", "\"'\t=1\"" },
    { "leading cr", "\r=1", "\"'\r=1\"" },
    { "inner equals", "a=b", "a=b" },
    { "utf8", "caf\xc3\xa9", "caf\xc3\xa9" },
    { "apostrophe", "'quoted", "'quoted" },
};

static void
csv_row(void **state)
{
    const csv_row_t  *r = *state;
    nano_buf_t        b;

    nano_buf_init(&b);
    assert_int_equal(nano_csv_cell(&b, r->in), 0);
    assert_string_equal(b.data != NULL ? b.data : "", r->out);
    nano_buf_cleanup(&b);
}

static void
test_cells_in_a_row(void **state)
{
    nano_buf_t  b;

    (void) state;
    nano_buf_init(&b);
    nano_csv_cell(&b, "2026-01-01T00:00:00.000Z");
    nano_buf_puts(&b, ",-4,");
    nano_csv_cell(&b, "=evil");
    nano_buf_puts(&b, ",");
    nano_csv_cell(&b, NULL);
    assert_string_equal(b.data, "2026-01-01T00:00:00.000Z,-4,\"'=evil\",");
    nano_buf_cleanup(&b);
}

int
main(void)
{
    const struct CMUnitTest  extra[] = {
        cmocka_unit_test(test_cells_in_a_row),
    };

    return unit_run_table("csv", rows, sizeof(rows) / sizeof(rows[0]),
                          sizeof(rows[0]), csv_row, extra,
                          sizeof(extra) / sizeof(extra[0]));
}
