/*
 * Unit tests for nano_gen_jsonb_refused: which of jansson's failures on
 * a jsonb column's text end a claimed row ("unreadable", refunded) and
 * which are a want of memory that passes (the row is left to its
 * lease).  Memory runs out through jansson's own json_set_alloc_funcs.
 */

#include <stdio.h>

#include "unit_table.h"

#include "nano_gen.h"

typedef struct {
    const char  *name;
    const char  *text;
    int          code;        /* enum json_error_code */
} refused_row_t;

/* what jansson refuses in text PostgreSQL writes: every read fails */
static const refused_row_t  rows[] = {
    { "a real past double", "{\"prompt\":\"a cat\",\"x\":1e400}",
      json_error_numeric_overflow },
    { "jsonb's own text of 1e400 (an integer of 401 digits)", NULL,
      json_error_numeric_overflow },
    { "an integer past 64 bits", "[1, 123456789012345678901234567890]",
      json_error_numeric_overflow },
    { "a negative one", "{\"seed\":-99999999999999999999}",
      json_error_numeric_overflow },
    { "nesting past 2048", NULL, json_error_stack_overflow },
    { "not UTF-8 (a SQL_ASCII database)", "{\"prompt\":\"caf\xe9\"}",
      json_error_invalid_utf8 },
};

/* rows whose text is NULL are made here: a new string */
static char *
row_text(const refused_row_t *r)
{
    char    *t;
    size_t   i;

    if (r->text != NULL) {
        return strdup(r->text);
    }
    if (r->code == json_error_numeric_overflow) {
        t = malloc(402);
        assert_non_null(t);
        t[0] = '1';
        memset(t + 1, '0', 400);
        t[401] = '\0';
        return t;
    }
    t = malloc(2 * 2049 + 1);
    assert_non_null(t);
    for (i = 0; i < 2049; i++) {
        t[i] = '[';
        t[2049 + i] = ']';
    }
    t[2 * 2049] = '\0';
    return t;
}

static void
refused_row(void **state)
{
    const refused_row_t  *r = *state;
    json_error_t          err;
    json_t               *j;
    char                 *text = row_text(r);

    j = json_loads(text, JSON_DECODE_ANY, &err);
    assert_null(j);
    assert_int_equal(json_error_code(&err), r->code);
    assert_int_equal(nano_gen_jsonb_refused(&err), 1);
    free(text);
}

/* ---- out of memory ------------------------------------------------------ */

static long  budget;          /* allocations left before malloc fails */

static void *
budget_malloc(size_t n)
{
    return budget-- > 0 ? malloc(n) : NULL;
}

/* Each column's text, as PostgreSQL writes it, read with memory running
 * out at every allocation in turn: never a refusal, until it reads. */
static void
test_out_of_memory(void **state)
{
    static const char *const  texts[] = {
        "{\"seed\": 42, \"size\": \"1K\", \"prompt\": \"a cat on a mat, in"
        " the style of a very long prompt\", \"inputImage\": {\"file\":"
        " \"nano-banana/u1/inputs/0-0123456789abcdef.png\", \"mime\":"
        " \"image/png\"}}",
        "[{\"file\": \"nano-banana/u1/5d0c/0-0123456789abcdef.png\","
        " \"mime\": \"image/png\", \"bytes\": 123456, \"width\": 1024,"
        " \"height\": 1024}]",
        "{\"code\": \"canceled\", \"message\": \"canceled before it"
        " started\"}",
        "{\"x\": 1.5e300, \"n\": [true, false, null, -1, \"\\u00e9\\n\"]}",
    };
    json_error_t  err;
    json_t       *j;
    size_t        k;
    long          n, silent = 0, syntax = 0;

    (void) state;
    for (k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
        for (n = 0;; n++) {
            json_set_alloc_funcs(budget_malloc, free);
            budget = n;
            j = json_loads(texts[k], JSON_DECODE_ANY, &err);
            json_set_alloc_funcs(malloc, free);
            if (j != NULL) {
                break;
            }
            assert_int_equal(nano_gen_jsonb_refused(&err), 0);
            silent += err.text[0] == '\0';
            syntax += err.text[0] != '\0';
        }
        assert_true(n > 0);
        json_decref(j);
    }
    /* jansson 2.14 fails both ways */
    assert_true(silent > 0);
    assert_true(syntax > 0);
}

/* A jansson that says json_error_out_of_memory (its error setter keeps
 * the code in the text's last byte, as json_error_code reads it). */
static void
test_out_of_memory_code(void **state)
{
    json_error_t  err;

    (void) state;
    memset(&err, 0, sizeof(err));
    snprintf(err.text, sizeof(err.text), "%s", "out of memory");
    err.text[JSON_ERROR_TEXT_LENGTH - 1] = (char) json_error_out_of_memory;
    assert_int_equal(json_error_code(&err), json_error_out_of_memory);
    assert_int_equal(nano_gen_jsonb_refused(&err), 0);
}

int
main(void)
{
    static const struct CMUnitTest  extra[] = {
        UNIT_TEST("out of memory at every allocation", test_out_of_memory),
        UNIT_TEST("json_error_out_of_memory", test_out_of_memory_code),
    };

    return unit_run_table("gen jsonb", rows, sizeof(rows) / sizeof(rows[0]),
                          sizeof(rows[0]), refused_row, extra,
                          sizeof(extra) / sizeof(extra[0]));
}
