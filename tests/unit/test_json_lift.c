/*
 * Unit tests for JSON whose long plain strings stay in the caller's
 * buffer (nano_json_lift): which values are lifted (named members' long
 * printable ASCII strings without escapes, at any depth) and which are
 * not (short, escaped, non-ASCII, DEL, other keys, keys, array items,
 * the root, no keys, any document spelling \u0001); refusals equal to
 * json_loadb's; whitespace around the colon; and a differential run of
 * pseudo-random documents against json_loadb, tree for tree.
 */

#include "unit_table.h"

#include <stdint.h>
#include <stdio.h>

#include "nano_buf.h"
#include "nano_json_lift.h"

#include "json_lift_equal.h"

#define DOC_SPANS  16

static const char *const  keys[] = { "data", "b64_json", NULL };

static const char  b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- building documents ------------------------------------------------ */

/* A document being written, and where its long strings went. */
typedef struct {
    nano_buf_t  text;
    size_t      off[DOC_SPANS];
    size_t      len[DOC_SPANS];
    size_t      n;
} doc_t;

static void
doc_init(doc_t *d)
{
    memset(d, 0, sizeof(*d));
    nano_buf_init(&d->text);
}

static void
doc_put(doc_t *d, const char *s)
{
    assert_int_equal(nano_buf_puts(&d->text, s), 0);
}

/* Appends n bytes of base64 text (the pattern varies with seed). */
static void
doc_b64(doc_t *d, size_t n, unsigned seed)
{
    size_t  i;
    char    c;

    for (i = 0; i < n; i++) {
        c = b64_alphabet[(i * 7 + seed * 13 + i / 64) % 64];
        assert_int_equal(nano_buf_append(&d->text, &c, 1), 0);
    }
}

/* Appends n bytes of base64 text and notes their offset and length. */
static void
doc_span(doc_t *d, size_t n, unsigned seed)
{
    assert_true(d->n < DOC_SPANS);
    d->off[d->n] = d->text.len;
    d->len[d->n] = n;
    d->n++;
    doc_b64(d, n, seed);
}

/* The same n bytes of base64 text doc_b64 writes, NUL-terminated. */
static char *
b64_copy(size_t n, unsigned seed)
{
    doc_t   d;
    char   *s;

    doc_init(&d);
    doc_b64(&d, n, seed);
    s = nano_buf_steal(&d.text);
    assert_non_null(s);
    return s;
}

static void
doc_cleanup(doc_t *d)
{
    nano_buf_cleanup(&d->text);
}

/* ---- checks ------------------------------------------------------------ */

static json_t *
load(nano_json_lift_t *l, const doc_t *d, const char *const *names,
    size_t flags)
{
    json_error_t  err;

    return nano_json_lift_load(l, d->text.data, d->text.len, names, flags,
                               &err);
}

/* v resolves to span k of d: a pointer into the document itself. */
static void
assert_span(const nano_json_lift_t *l, const json_t *v, const doc_t *d,
    size_t k)
{
    const char  *p;
    size_t       len = 0;

    p = nano_json_lift_str(l, v, &len);
    assert_ptr_equal(p, d->text.data + d->off[k]);
    assert_int_equal(len, d->len[k]);
}

/* d's "data" is its only lifted value, span 0; d is cleaned up. */
static void
assert_lifts_data_alone(doc_t *d)
{
    nano_json_lift_t  l;
    json_t           *root;

    root = load(&l, d, keys, 0);
    assert_non_null(root);
    assert_int_equal(l.n, 1);
    assert_span(&l, json_object_get(root, "data"), d, 0);
    json_decref(root);
    nano_json_lift_free(&l);
    doc_cleanup(d);
}

/* v reads as the n bytes at s, from jansson's own copy (not lifted). */
static void
assert_reads(const nano_json_lift_t *l, const json_t *v, const char *s,
    size_t n)
{
    const char  *p;
    size_t       len = 99;

    p = nano_json_lift_str(l, v, &len);
    assert_non_null(p);
    assert_ptr_equal(p, json_string_value(v));
    assert_int_equal(len, n);
    assert_memory_equal(p, s, n);
}

/* Both parsers refuse the document. */
static void
assert_both_refuse(const doc_t *d, size_t flags)
{
    nano_json_lift_t  l;
    json_error_t      err, lift_err;
    json_t           *plain, *lifted;

    plain = json_loadb(d->text.data, d->text.len, flags, &err);
    assert_null(plain);
    lifted = nano_json_lift_load(&l, d->text.data, d->text.len, keys,
                                 flags, &lift_err);
    assert_null(lifted);
    assert_true(lift_err.text[0] != '\0');
    nano_json_lift_free(&l);
}

/* ---- lifted ------------------------------------------------------------ */

static void
test_lifts_named_long_value(void **state)
{
    nano_json_lift_t  l;
    doc_t             d;
    json_t           *root;

    (void) state;
    doc_init(&d);
    doc_put(&d, "{\"created\":1700000000,\"data\":\"");
    doc_span(&d, 6000, 1);
    doc_put(&d, "\",\"note\":\"hi \\u00e9\",\"b64\":\"QUJD\"}");

    root = load(&l, &d, keys, 0);
    assert_non_null(root);
    assert_int_equal(l.n, 1);
    assert_ptr_equal(l.buf, d.text.data);
    assert_int_equal(l.off[0], d.off[0]);
    assert_int_equal(l.len[0], 6000);
    assert_span(&l, json_object_get(root, "data"), &d, 0);
    /* the stand-in is what jansson holds */
    assert_int_equal(json_string_value(json_object_get(root, "data"))[0],
                     0x01);

    assert_reads(&l, json_object_get(root, "note"), "hi \xc3\xa9", 5);
    assert_reads(&l, json_object_get(root, "b64"), "QUJD", 4);
    assert_int_equal(json_integer_value(json_object_get(root, "created")),
                     1700000000);
    assert_int_equal(json_object_size(root), 4);

    json_decref(root);
    nano_json_lift_free(&l);
    doc_cleanup(&d);
}

static void
test_lifts_several_at_depths(void **state)
{
    nano_json_lift_t  l;
    doc_t             d;
    json_t           *root, *items, *v;

    (void) state;
    doc_init(&d);
    doc_put(&d, "{\"data\":\"");
    doc_span(&d, 5000, 1);                              /* 0: depth 1 */
    doc_put(&d, "\",\"items\":[{\"data\":\"");
    doc_span(&d, 4096, 2);                              /* 1: depth 3 */
    doc_put(&d, "\",\"i\":0},{\"b64_json\":\"");
    doc_span(&d, 7001, 3);                              /* 2: depth 3 */
    doc_put(&d, "\",\"x\":{\"data\":\"");
    doc_span(&d, 4200, 4);                              /* 3: depth 4 */
    doc_put(&d, "\"}}],\"deep\":[[[{\"b64_json\":\"");
    doc_span(&d, 4500, 5);                              /* 4: depth 5 */
    doc_put(&d, "\",\"data\":\"short\"}]]]}");

    root = load(&l, &d, keys, JSON_REJECT_DUPLICATES);
    assert_non_null(root);
    assert_int_equal(l.n, 5);

    assert_span(&l, json_object_get(root, "data"), &d, 0);
    items = json_object_get(root, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_span(&l, json_object_get(json_array_get(items, 0), "data"), &d,
                1);
    assert_int_equal(json_integer_value(
        json_object_get(json_array_get(items, 0), "i")), 0);
    v = json_array_get(items, 1);
    assert_span(&l, json_object_get(v, "b64_json"), &d, 2);
    assert_span(&l, json_object_get(json_object_get(v, "x"), "data"), &d, 3);

    v = json_array_get(json_array_get(json_array_get(
        json_object_get(root, "deep"), 0), 0), 0);
    assert_span(&l, json_object_get(v, "b64_json"), &d, 4);
    assert_reads(&l, json_object_get(v, "data"), "short", 5);

    json_decref(root);
    nano_json_lift_free(&l);
    doc_cleanup(&d);
}

static void
test_lifts_from_the_minimum(void **state)
{
    nano_json_lift_t  l;
    doc_t             d;
    json_t           *root;
    char             *text;

    (void) state;
    /* one byte short: parsed as usual */
    doc_init(&d);
    doc_put(&d, "{\"data\":\"");
    doc_b64(&d, NANO_JSON_LIFT_MIN - 1, 7);
    doc_put(&d, "\"}");
    root = load(&l, &d, keys, 0);
    assert_non_null(root);
    assert_int_equal(l.n, 0);
    text = b64_copy(NANO_JSON_LIFT_MIN - 1, 7);
    assert_reads(&l, json_object_get(root, "data"), text,
                 NANO_JSON_LIFT_MIN - 1);
    free(text);
    json_decref(root);
    nano_json_lift_free(&l);
    doc_cleanup(&d);

    /* exactly the minimum: lifted */
    doc_init(&d);
    doc_put(&d, "{\"data\":\"");
    doc_span(&d, NANO_JSON_LIFT_MIN, 7);
    doc_put(&d, "\"}");
    assert_lifts_data_alone(&d);
}

/*
 * The scan looks at eight bytes to a step: a byte that must stop it, at
 * every place in a step, and a value's end at every place, give what
 * json_loadb gives; only a value without such a byte is lifted.
 */
static void
test_scan_stops_at_every_offset(void **state)
{
    static const struct {
        const char  *bytes;
        int          valid;      /* JSON as it is */
    } stops[] = {
        { "\\/", 1 }, { "\\\"", 1 }, { "\x1f", 0 }, { "\x7f", 1 },
        { "\xc3\xa9", 1 }, { "\xff", 0 },
    };
    nano_json_lift_t  l;
    json_error_t      err;
    doc_t             d;
    json_t           *root, *plain;
    size_t            at, k;

    (void) state;
    for (at = 0; at < 17; at++) {
        /* the closing quote after MIN + at bytes */
        doc_init(&d);
        doc_put(&d, "{\"data\":\"");
        doc_span(&d, NANO_JSON_LIFT_MIN + at, (unsigned) at);
        doc_put(&d, "\",\"x\":1}");
        assert_lifts_data_alone(&d);

        for (k = 0; k < sizeof(stops) / sizeof(stops[0]); k++) {
            doc_init(&d);
            doc_put(&d, "{\"data\":\"");
            doc_b64(&d, NANO_JSON_LIFT_MIN + at, (unsigned) k);
            doc_put(&d, stops[k].bytes);
            doc_b64(&d, 20, (unsigned) k);
            doc_put(&d, "\"}");
            plain = json_loadb(d.text.data, d.text.len, 0, &err);
            root = load(&l, &d, keys, 0);
            assert_int_equal(l.n, 0);
            if (stops[k].valid) {
                assert_non_null(plain);
                assert_non_null(root);
                assert_true(json_lift_equal(&l, root, plain));
            } else {
                assert_null(plain);
                assert_null(root);
            }
            json_decref(root);
            json_decref(plain);
            nano_json_lift_free(&l);
            doc_cleanup(&d);
        }
    }
}

static void
test_lifts_with_space_around_colon(void **state)
{
    static const char  *const before[] = { " : ", "\n:\t", "\r\n\t:\r\n ",
                                           ":", "\t\t:" };
    doc_t               d;
    size_t              i;

    (void) state;
    for (i = 0; i < sizeof(before) / sizeof(before[0]); i++) {
        doc_init(&d);
        doc_put(&d, "\n{ \"x\" :1 ,\r\n\t\"data\"");
        doc_put(&d, before[i]);
        doc_put(&d, "\"");
        doc_span(&d, 4100 + i, (unsigned) i);
        doc_put(&d, "\" \n}\n");
        assert_lifts_data_alone(&d);
    }
}

/* An escaped backslash before "u0001" is not U+0001. */
static void
test_lifts_past_escaped_backslash(void **state)
{
    nano_json_lift_t  l;
    doc_t             d;
    json_t           *root;

    (void) state;
    doc_init(&d);
    doc_put(&d, "{\"note\":\"\\\\u0001\",\"data\":\"");
    doc_span(&d, 5000, 3);
    doc_put(&d, "\",\"k\\\\u0001\":\"\\\\\\\\u0001\"}");
    root = load(&l, &d, keys, 0);
    assert_non_null(root);
    assert_int_equal(l.n, 1);
    assert_span(&l, json_object_get(root, "data"), &d, 0);
    assert_reads(&l, json_object_get(root, "note"), "\\u0001", 6);
    assert_reads(&l, json_object_get(root, "k\\u0001"), "\\\\u0001", 7);
    json_decref(root);
    nano_json_lift_free(&l);
    doc_cleanup(&d);
}

/* With duplicates allowed the last one wins, lifted or not. */
static void
test_duplicate_keys(void **state)
{
    nano_json_lift_t  l;
    doc_t             d;
    json_t           *root;

    (void) state;
    doc_init(&d);
    doc_put(&d, "{\"data\":\"");
    doc_span(&d, 4200, 1);
    doc_put(&d, "\",\"data\":\"");
    doc_span(&d, 4300, 2);
    doc_put(&d, "\"}");
    root = load(&l, &d, keys, 0);
    assert_non_null(root);
    assert_int_equal(l.n, 2);
    assert_int_equal(json_object_size(root), 1);
    assert_span(&l, json_object_get(root, "data"), &d, 1);
    json_decref(root);
    nano_json_lift_free(&l);

    assert_both_refuse(&d, JSON_REJECT_DUPLICATES);
    doc_cleanup(&d);
}

/* ---- not lifted -------------------------------------------------------- */

/* {"<key>":<open>"<head><4500 bytes><tail>"<close>} with keys names:
 * nothing is lifted, and the value reads as expect (n bytes). */
static void
check_not_lifted(const char *const *names, const char *key,
    const char *open, const char *head, const char *tail,
    const char *close, size_t flags, const char *expect_head,
    const char *expect_tail)
{
    nano_json_lift_t  l;
    doc_t             d;
    json_t           *root, *v;
    char             *body;
    nano_buf_t        expect;

    doc_init(&d);
    if (key != NULL) {
        doc_put(&d, "{\"");
        doc_put(&d, key);
        doc_put(&d, "\":");
    }
    doc_put(&d, open);
    doc_put(&d, "\"");
    doc_put(&d, head);
    doc_b64(&d, 4500, 9);
    doc_put(&d, tail);
    doc_put(&d, "\"");
    doc_put(&d, close);
    if (key != NULL) {
        doc_put(&d, "}");
    }

    root = load(&l, &d, names, flags);
    assert_non_null(root);
    assert_int_equal(l.n, 0);
    v = key != NULL ? json_object_get(root, key) : root;
    if (json_is_array(v)) {
        v = json_array_get(v, 0);
    }
    assert_non_null(v);

    body = b64_copy(4500, 9);
    nano_buf_init(&expect);
    nano_buf_puts(&expect, expect_head);
    nano_buf_puts(&expect, body);
    nano_buf_puts(&expect, expect_tail);
    assert_false(expect.failed);
    assert_reads(&l, v, expect.data, expect.len);

    nano_buf_cleanup(&expect);
    free(body);
    json_decref(root);
    nano_json_lift_free(&l);
    doc_cleanup(&d);
}

static void
test_not_lifted_with_escapes(void **state)
{
    (void) state;
    check_not_lifted(keys, "data", "", "", "\\n", "", 0, "", "\n");
    check_not_lifted(keys, "data", "", "a\\/b", "", "", 0, "a/b", "");
    check_not_lifted(keys, "data", "", "", "\\u0041", "", 0, "", "A");
    check_not_lifted(keys, "b64_json", "", "\\\"", "", "", 0, "\"", "");
}

static void
test_not_lifted_outside_printable_ascii(void **state)
{
    (void) state;
    check_not_lifted(keys, "data", "", "\xc3\xa9", "", "", 0, "\xc3\xa9",
                     "");
    check_not_lifted(keys, "data", "", "", "\xf0\x9f\x8d\x8c", "", 0, "",
                     "\xf0\x9f\x8d\x8c");
    check_not_lifted(keys, "data", "", "", "\x7f", "", 0, "", "\x7f");
}

static void
test_not_lifted_elsewhere(void **state)
{
    static const char  *const other[] = { "image", NULL };

    (void) state;
    /* a key not named */
    check_not_lifted(keys, "image", "", "", "", "", 0, "", "");
    check_not_lifted(keys, "Data", "", "", "", "", 0, "", "");
    check_not_lifted(other, "data", "", "", "", "", 0, "", "");
    /* no keys, or none */
    check_not_lifted(NULL, "data", "", "", "", "", 0, "", "");
    check_not_lifted(other + 1, "data", "", "", "", "", 0, "", "");
    /* the named member's value is an array holding the string */
    check_not_lifted(keys, "data", "[", "", "", "]", 0, "", "");
    check_not_lifted(keys, "data", " [ ", "", "", " ] ", 0, "", "");
    /* the root itself, alone or in an array */
    check_not_lifted(keys, NULL, "", "", "", "", JSON_DECODE_ANY, "", "");
    check_not_lifted(keys, NULL, "[", "", "", "]", 0, "", "");
}

static void
test_not_lifted_as_key(void **state)
{
    const char         *names[2];
    nano_json_lift_t    l;
    doc_t               d;
    json_t             *root, *inner;
    char               *text;
    const char         *key;
    void               *iter;

    (void) state;
    text = b64_copy(4500, 4);

    /* a long key, right after a named one, and as the named key */
    names[0] = text;
    names[1] = NULL;
    doc_init(&d);
    doc_put(&d, "{\"data\":{\"");
    doc_b64(&d, 4500, 4);
    doc_put(&d, "\":\"v\"},\"");
    doc_b64(&d, 4500, 4);
    doc_put(&d, "\" : 1}");

    root = load(&l, &d, keys, 0);
    assert_non_null(root);
    assert_int_equal(l.n, 0);
    inner = json_object_get(root, "data");
    assert_int_equal(json_object_size(inner), 1);
    iter = json_object_iter(inner);
    key = json_object_iter_key(iter);
    assert_int_equal(strlen(key), 4500);
    assert_memory_equal(key, text, 4500);
    assert_reads(&l, json_object_get(inner, text), "v", 1);
    assert_int_equal(json_integer_value(json_object_get(root, text)), 1);
    json_decref(root);
    nano_json_lift_free(&l);

    /* the long key named: its value (1) is not a string */
    root = load(&l, &d, names, 0);
    assert_non_null(root);
    assert_int_equal(l.n, 0);
    json_decref(root);
    nano_json_lift_free(&l);

    free(text);
    doc_cleanup(&d);
}

/* A document spelling \u0001 anywhere keeps every string in jansson. */
static void
test_u0001_lifts_nothing(void **state)
{
    static const char  *const spots[][2] = {
        { "\"note\":\"\\u0001\",", "" },          /* before, in a value */
        { "\"\\u0001\":1,", "" },                 /* in a key */
        { "", ",\"tail\":[\"x\\u0001y\"]" },      /* after the value */
        { "\"s\":\"\\u00010\",", "" },            /* a stand-in's look */
    };
    nano_json_lift_t    l;
    doc_t               d;
    json_t             *root, *v;
    const char         *p;
    size_t              i, len;
    char               *text;

    (void) state;
    text = b64_copy(5000, 6);
    for (i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
        doc_init(&d);
        doc_put(&d, "{");
        doc_put(&d, spots[i][0]);
        doc_put(&d, "\"data\":\"");
        doc_b64(&d, 5000, 6);
        doc_put(&d, "\"");
        doc_put(&d, spots[i][1]);
        doc_put(&d, "}");

        root = load(&l, &d, keys, 0);
        assert_non_null(root);
        assert_int_equal(l.n, 0);
        v = json_object_get(root, "data");
        assert_reads(&l, v, text, 5000);
        p = nano_json_lift_str(&l, v, &len);
        assert_true(p < d.text.data || p >= d.text.data + d.text.len);
        json_decref(root);
        nano_json_lift_free(&l);
        doc_cleanup(&d);
    }
    free(text);

    /* "\u00010" is U+0001 then '0', next to a long named value */
    doc_init(&d);
    doc_put(&d, "{\"data\":\"");
    doc_b64(&d, 4096, 1);
    doc_put(&d, "\",\"s\":\"\\u00010\",\"t\":[\"\\u00011\"]}");
    root = load(&l, &d, keys, 0);
    assert_non_null(root);
    assert_int_equal(l.n, 0);
    assert_reads(&l, json_object_get(root, "s"), "\x01" "0", 2);
    assert_reads(&l, json_array_get(json_object_get(root, "t"), 0),
                 "\x01" "1", 2);
    json_decref(root);
    nano_json_lift_free(&l);
    doc_cleanup(&d);
}

/* ---- refused as json_loadb refuses ------------------------------------- */

/* Documents both parsers refuse: before, 5000 bytes of base64, after. */
typedef struct {
    const char  *name;
    const char  *before;
    const char  *after;
    size_t       flags;
} refusal_row_t;

static const refusal_row_t  refusal_rows[] = {
    { "the long value not closed", "{\"data\":\"", "", 0 },
    { "a later string not closed", "{\"data\":\"", "\",\"x\":\"abc", 0 },
    { "garbage after the root", "{\"data\":\"", "\"} x", 0 },
    { "a second root", "{\"data\":\"", "\"}{\"data\":\"AAAA\"}", 0 },
    { "the object not closed", "{\"data\":\"", "\"", 0 },
    { "two colons", "{\"data\"::\"", "\"}", 0 },
    { "no colon", "{\"data\" \"", "\"}", 0 },
    { "invalid UTF-8 before", "{\"x\":\"\xff\",\"data\":\"", "\"}", 0 },
    { "invalid UTF-8 after", "{\"data\":\"",
      "\",\"x\":\"\xc3(\",\"y\":\"\xed\xa0\x80\"}", 0 },
    { "a lone surrogate", "{\"data\":\"", "\",\"x\":\"\\ud800\"}", 0 },
    { "\\u0000", "{\"data\":\"", "\",\"x\":\"\\u0000\"}", 0 },
    { "duplicate keys, the long one first", "{\"data\":\"",
      "\",\"x\":{},\"data\":1}", JSON_REJECT_DUPLICATES },
};

static void
test_refusal_row(void **state)
{
    const refusal_row_t  *row = *state;
    doc_t                 d;

    doc_init(&d);
    doc_put(&d, row->before);
    doc_b64(&d, 5000, 1);
    doc_put(&d, row->after);
    assert_both_refuse(&d, row->flags);
    doc_cleanup(&d);
}

/* A raw control byte in the long value: not lifted, and refused. */
static void
test_refuses_control_byte(void **state)
{
    static const char   controls[] = { '\t', '\n', '\x01', '\x1f' };
    nano_json_lift_t    l;
    json_error_t        err;
    doc_t               d;
    size_t              i;

    (void) state;
    for (i = 0; i < sizeof(controls); i++) {
        doc_init(&d);
        doc_put(&d, "{\"data\":\"");
        doc_b64(&d, 2500, 1);
        assert_int_equal(nano_buf_append(&d.text, &controls[i], 1), 0);
        doc_b64(&d, 2500, 2);
        doc_put(&d, "\"}");
        assert_both_refuse(&d, 0);
        assert_null(nano_json_lift_load(&l, d.text.data, d.text.len, keys,
                                        0, &err));
        assert_int_equal(l.n, 0);
        nano_json_lift_free(&l);
        doc_cleanup(&d);
    }
}

static void
test_refuses_empty(void **state)
{
    nano_json_lift_t  l;
    json_error_t      err;

    (void) state;
    assert_null(json_loadb("", 0, 0, &err));
    assert_null(nano_json_lift_load(&l, "", 0, keys, 0, &err));
    assert_int_equal(l.n, 0);
    nano_json_lift_free(&l);

    assert_null(json_loadb(NULL, 0, 0, &err));
    assert_null(nano_json_lift_load(&l, NULL, 0, keys, 0, &err));
    assert_int_equal(l.n, 0);
    nano_json_lift_free(&l);

    assert_null(nano_json_lift_load(&l, "  \n", 3, keys, JSON_DECODE_ANY,
                                    &err));
    nano_json_lift_free(&l);
}

/* ---- the small API ----------------------------------------------------- */

static void
test_free_twice_and_non_strings(void **state)
{
    nano_json_lift_t  l;
    doc_t             d;
    json_t           *root, *num;
    const char       *p;
    size_t            len;

    (void) state;
    doc_init(&d);
    doc_put(&d, "{\"n\":3,\"a\":[],\"z\":null,\"data\":\"");
    doc_span(&d, 4096, 2);
    doc_put(&d, "\"}");
    root = load(&l, &d, keys, 0);
    assert_non_null(root);
    assert_int_equal(l.n, 1);

    len = 99;
    assert_null(nano_json_lift_str(&l, json_object_get(root, "n"), &len));
    assert_int_equal(len, 0);
    len = 99;
    assert_null(nano_json_lift_str(&l, json_object_get(root, "a"), &len));
    assert_int_equal(len, 0);
    len = 99;
    assert_null(nano_json_lift_str(&l, json_object_get(root, "z"), &len));
    assert_int_equal(len, 0);
    len = 99;
    assert_null(nano_json_lift_str(&l, root, &len));
    assert_int_equal(len, 0);
    len = 99;
    assert_null(nano_json_lift_str(&l, NULL, &len));
    assert_int_equal(len, 0);

    /* without a lift, a string reads as itself */
    num = json_string("\x01" "0");
    p = nano_json_lift_str(NULL, num, &len);
    assert_ptr_equal(p, json_string_value(num));
    assert_int_equal(len, 2);
    json_decref(num);

    nano_json_lift_free(&l);
    assert_null(l.off);
    assert_null(l.len);
    assert_int_equal(l.n, 0);
    nano_json_lift_free(&l);
    nano_json_lift_free(NULL);
    json_decref(root);
    doc_cleanup(&d);
}

/* ---- differential: pseudo-random documents against json_loadb ---------- */

#define DIFF_DOCS  4000

static uint32_t  diff_seed;

static uint32_t
diff_rand(void)
{
    diff_seed = diff_seed * 1103515245u + 12345u;
    return diff_seed >> 8;
}

/* 1 in n */
static int
diff_chance(uint32_t n)
{
    return diff_rand() % n == 0;
}

static void
diff_space(nano_buf_t *b)
{
    static const char  *const spaces[] = { "", "", "", " ", "\n", "\t",
                                           "\r\n ", "  " };

    nano_buf_puts(b, spaces[diff_rand() % 8]);
}

static void
diff_string(nano_buf_t *b, int likely_long)
{
    static const char  *const shorts[] = {
        "", "a", "data", "b64_json", "QUJD", "x y", "\\n", "\\/",
        "\\\\", "\\\"", "\\u00e9", "\\u0001", "\\u00010", "\\\\u0001",
        "\xc3\xa9", "\x7f", "\\ud83c\\udf4c", "\x01", "\t", "\\u0041",
    };
    static const char  *const spoilers[] = {
        "\\n", "\\/", "\\u0041", "\xc3\xa9", "\x7f", "\\u0001", "\t",
        "\\\\u0001", "\\\"", "\xff",
    };
    size_t              n, i, at;
    char                c;

    nano_buf_puts(b, "\"");
    if (!likely_long ? diff_chance(12) : !diff_chance(4)) {
        switch (diff_rand() % 4) {
        case 0:
            n = NANO_JSON_LIFT_MIN - 1 + diff_rand() % 3;
            break;
        default:
            n = NANO_JSON_LIFT_MIN + diff_rand() % 1500;
        }
        at = diff_chance(5) ? diff_rand() % n : n;
        for (i = 0; i < n; i++) {
            if (i == at) {
                nano_buf_puts(b, spoilers[diff_rand() % 10]);
            }
            c = b64_alphabet[diff_rand() % 64];
            nano_buf_append(b, &c, 1);
        }
        if (diff_chance(3)) {
            nano_buf_puts(b, "==");
        }
    } else {
        nano_buf_puts(b, shorts[diff_rand() % 20]);
        if (diff_chance(3)) {
            nano_buf_puts(b, shorts[diff_rand() % 20]);
        }
    }
    nano_buf_puts(b, "\"");
}

static void
diff_value(nano_buf_t *b, int depth, int likely_long)
{
    static const char  *const names[] = {
        "data", "b64_json", "data", "b64_json", "x", "name", "da\\u0074a",
        "", "Data", "\\u0001",
    };
    static const char  *const scalars[] = {
        "0", "-1.5e3", "true", "false", "null", "12345678901234567890",
    };
    uint32_t            kind, i, n;

    kind = diff_rand() % 8;
    if (likely_long && kind < 5) {
        kind = 5;
    }
    if (depth >= 5 && kind < 4) {
        kind = 6;
    }
    switch (kind) {
    case 0:
    case 1:
        nano_buf_puts(b, "{");
        n = diff_rand() % 5;
        for (i = 0; i < n; i++) {
            if (i > 0) {
                nano_buf_puts(b, ",");
            }
            diff_space(b);
            if (diff_chance(40)) {
                diff_string(b, 1);          /* a long key */
            } else {
                nano_buf_printf(b, "\"%s\"", names[diff_rand() % 10]);
            }
            diff_space(b);
            nano_buf_puts(b, ":");
            diff_space(b);
            diff_value(b, depth + 1, diff_chance(2));
            diff_space(b);
        }
        nano_buf_puts(b, "}");
        break;
    case 2:
    case 3:
        nano_buf_puts(b, "[");
        n = diff_rand() % 4;
        for (i = 0; i < n; i++) {
            if (i > 0) {
                nano_buf_puts(b, ",");
            }
            diff_space(b);
            diff_value(b, depth + 1, diff_chance(5));
            diff_space(b);
        }
        nano_buf_puts(b, "]");
        break;
    case 4:
        nano_buf_puts(b, scalars[diff_rand() % 6]);
        break;
    default:
        diff_string(b, likely_long);
    }
}

/* Changes, drops or adds a few bytes, or cuts the document. */
static void
diff_mutate(nano_buf_t *b)
{
    static const char   bytes[] = "\"\\:,{}[] \x01\x7f\xc3u0";
    uint32_t            edits, pos;
    char                c;

    if (b->len == 0) {
        return;
    }
    for (edits = 1 + diff_rand() % 3; edits > 0; edits--) {
        pos = diff_rand() % b->len;
        c = diff_chance(3) ? (char) diff_rand()
                           : bytes[diff_rand() % (sizeof(bytes) - 1)];
        switch (diff_rand() % 4) {
        case 0:                                          /* drop */
            memmove(b->data + pos, b->data + pos + 1, b->len - pos - 1);
            b->len--;
            break;
        case 1:                                          /* cut */
            b->len = pos;
            break;
        case 2:                                          /* add */
            nano_buf_append(b, "", 1);
            memmove(b->data + pos + 1, b->data + pos, b->len - pos - 1);
            b->data[pos] = c;
            break;
        default:                                         /* change */
            b->data[pos] = c;
        }
        if (b->len == 0) {
            return;
        }
    }
}

static void
test_differential(void **state)
{
    static const size_t  flag_sets[] = {
        0, JSON_REJECT_DUPLICATES, JSON_DECODE_ANY,
        JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY,
    };
    nano_json_lift_t     l;
    json_error_t         err, lift_err;
    nano_buf_t           doc;
    json_t              *plain, *lifted;
    size_t               flags, both = 0, refused = 0, with_lift = 0;
    size_t               spans = 0, mutated;
    int                  k;

    (void) state;
    diff_seed = 20261202u;
    for (k = 0; k < DIFF_DOCS; k++) {
        nano_buf_init(&doc);
        diff_value(&doc, 0, 0);
        if (diff_chance(2)) {
            /* most documents are a response holding an image */
            nano_buf_cleanup(&doc);
            nano_buf_init(&doc);
            nano_buf_puts(&doc, "{\"created\":1,\"data\":[");
            diff_value(&doc, 2, 0);
            nano_buf_puts(&doc, ",{\"b64_json\":");
            diff_space(&doc);
            diff_string(&doc, 1);
            nano_buf_puts(&doc, "}],\"more\":");
            diff_value(&doc, 1, 0);
            nano_buf_puts(&doc, "}");
        }
        mutated = diff_chance(4);
        if (mutated) {
            diff_mutate(&doc);
        }
        assert_false(doc.failed);
        flags = flag_sets[diff_rand() % 4];

        plain = json_loadb(doc.data, doc.len, flags, &err);
        lifted = nano_json_lift_load(&l, doc.data, doc.len, keys, flags,
                                     &lift_err);
        if ((plain == NULL) != (lifted == NULL)
            || (plain != NULL && !json_lift_equal(&l, lifted, plain)))
        {
            print_error("document %d (flags %zu, %zu bytes): json_loadb "
                        "%s, lifted %s\n%.300s\n", k, flags, doc.len,
                        plain != NULL ? "accepts" : err.text,
                        lifted != NULL ? "accepts" : lift_err.text,
                        doc.data);
            fail();
        }
        if (plain != NULL) {
            both++;
        } else {
            refused++;
        }
        if (l.n > 0) {
            with_lift += plain != NULL;
            spans += l.n;
        }
        json_decref(plain);
        json_decref(lifted);
        nano_json_lift_free(&l);
        nano_buf_cleanup(&doc);
    }
    /* the mix reaches every side */
    print_message("differential: %zu accepted, %zu refused, %zu accepted "
                  "with %zu lifted strings\n", both, refused, with_lift,
                  spans);
    assert_true(both > DIFF_DOCS / 4);
    assert_true(refused > DIFF_DOCS / 10);
    assert_true(with_lift > DIFF_DOCS / 10);
    assert_true(spans > with_lift);
}

int
main(void)
{
    const struct CMUnitTest  extra[] = {
        cmocka_unit_test(test_lifts_named_long_value),
        cmocka_unit_test(test_lifts_several_at_depths),
        cmocka_unit_test(test_lifts_from_the_minimum),
        cmocka_unit_test(test_scan_stops_at_every_offset),
        cmocka_unit_test(test_lifts_with_space_around_colon),
        cmocka_unit_test(test_lifts_past_escaped_backslash),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_not_lifted_with_escapes),
        cmocka_unit_test(test_not_lifted_outside_printable_ascii),
        cmocka_unit_test(test_not_lifted_elsewhere),
        cmocka_unit_test(test_not_lifted_as_key),
        cmocka_unit_test(test_u0001_lifts_nothing),
        cmocka_unit_test(test_refuses_control_byte),
        cmocka_unit_test(test_refuses_empty),
        cmocka_unit_test(test_free_twice_and_non_strings),
        cmocka_unit_test(test_differential),
    };

    return unit_run_table("json_lift refusals", refusal_rows,
                          sizeof(refusal_rows) / sizeof(refusal_rows[0]),
                          sizeof(refusal_rows[0]), test_refusal_row, extra,
                          sizeof(extra) / sizeof(extra[0]));
}
