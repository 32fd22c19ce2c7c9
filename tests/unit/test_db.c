/*
 * Unit tests for text[] literals (nano_db_array_add), the runner's held
 * jobs and its "submitting" mark: exact output, every element quoted,
 * '"' and '\' escaped, so that no text can become two elements or a NULL.
 */

#include "unit_table.h"

#include "nano_db.h"

#define ELEMENTS_MAX  4

typedef struct {
    const char  *name;
    const char  *in[ELEMENTS_MAX + 1];    /* NULL-ended */
    const char  *out;
} array_row_t;

static const array_row_t  rows[] = {
    { "empty", { NULL }, "{}" },
    { "one uuid", { "0b6c4a1e-2f3d-4c5b-8a9e-1f2d3c4b5a69", NULL },
      "{\"0b6c4a1e-2f3d-4c5b-8a9e-1f2d3c4b5a69\"}" },
    { "many", { "a", "b", "c", NULL }, "{\"a\",\"b\",\"c\"}" },
    { "an empty string", { "", NULL }, "{\"\"}" },
    { "NULL is text", { "NULL", NULL }, "{\"NULL\"}" },
    { "a double quote", { "a\"b", NULL }, "{\"a\\\"b\"}" },
    { "a backslash", { "a\\b", NULL }, "{\"a\\\\b\"}" },
    { "a trailing backslash", { "x\\", NULL }, "{\"x\\\\\"}" },
    { "quotes only", { "\"\"", NULL }, "{\"\\\"\\\"\"}" },
    { "both, then plain", { "\\\"", "id", NULL }, "{\"\\\\\\\"\",\"id\"}" },
    { "separators stay inside", { "a,b", "{c}", " d ", NULL },
      "{\"a,b\",\"{c}\",\" d \"}" },
    { "utf-8", { "caf\xc3\xa9", NULL }, "{\"caf\xc3\xa9\"}" },
};

static void
array_row(void **state)
{
    const array_row_t  *r = *state;
    nano_buf_t          b;
    size_t              n = 0, i;

    nano_buf_init(&b);
    nano_buf_puts(&b, "{");
    for (i = 0; r->in[i] != NULL; i++) {
        nano_db_array_add(&b, r->in[i], &n);
    }
    assert_int_equal(nano_buf_puts(&b, "}"), 0);
    assert_string_equal(b.data, r->out);
    assert_int_equal(n, i);
    nano_buf_cleanup(&b);
}

int
main(void)
{
    return unit_run_table("db array", rows, sizeof(rows) / sizeof(rows[0]),
                          sizeof(rows[0]), array_row, NULL, 0);
}
