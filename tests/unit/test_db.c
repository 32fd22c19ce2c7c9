/*
 * Unit tests for text[] literals (nano_db_array_add), the runner's held
 * jobs and its "submitting" mark: exact output, every element quoted,
 * '"' and '\' escaped, so that no text can become two elements or a NULL.
 * And a parameter that is not UTF-8: never sent, and its refusal names a
 * field as every invalid_field does.
 */

#include "unit_table.h"

#include <jansson.h>

#include "nano_db.h"
#include "nano_server.h"

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

/* Nothing listens on port 1: the parameter is refused before any
 * connection is tried. */
static void
invalid_parameter_named(void **state)
{
    static const char *const  params[] = { "a\xff" "b" };
    nano_db_status_t          st = NANO_DB_OK;
    nano_res_t                res;
    nano_db_t                *db;
    json_t                   *body;
    char                      err[256];

    (void) state;
    db = nano_db_new("postgresql://u@127.0.0.1:1/d", err, sizeof(err));
    assert_non_null(db);
    assert_null(nano_db_exec(db, "SELECT $1", 1, params, PGRES_TUPLES_OK,
                             &st));
    assert_int_equal(st, NANO_DB_INVALID);

    nano_res_init(&res);
    assert_int_equal(nano_server_db_error(&res, db, st), 400);
    body = json_loadb(res.body.data, res.body.len, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "error")),
                        "invalid_field");
    assert_string_equal(json_string_value(json_object_get(body, "field")),
                        "request");
    assert_non_null(json_string_value(json_object_get(body, "message")));
    json_decref(body);
    nano_res_cleanup(&res);
    nano_db_free(db);
}

int
main(void)
{
    static const struct CMUnitTest  extra[] = {
        cmocka_unit_test(invalid_parameter_named),
    };

    return unit_run_table("db array", rows, sizeof(rows) / sizeof(rows[0]),
                          sizeof(rows[0]), array_row, extra,
                          sizeof(extra) / sizeof(extra[0]));
}
