/*
 * Unit tests for the streaming multipart/form-data parser
 * (nano_multipart): every body is fed whole, one byte at a time, cut in
 * two at every offset and in chunks of pseudo-random sizes, and must
 * give the same parts each time; refusals with their exact messages;
 * the boundary parameter of a Content-Type.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_buf.h"
#include "nano_multipart.h"

/* ---- a recording sink -------------------------------------------------- */

/* Each part as "[name|filename or -|type]content;" (a NUL byte of the
 * content as the two characters "\0"). */
typedef struct {
    nano_buf_t  out;
    int         in_part;
    int         stop_at;    /* a callback fails at this call (1-based) */
    int         calls;
} rec_t;

static int
rec_call(rec_t *r)
{
    return ++r->calls == r->stop_at ? -1 : 0;
}

static int
rec_begin(void *arg, const char *name, const char *filename,
    const char *type)
{
    rec_t  *r = arg;

    assert_false(r->in_part);
    r->in_part = 1;
    nano_buf_printf(&r->out, "[%s|%s|%s]", name,
                    filename != NULL ? filename : "-", type);
    return rec_call(r);
}

static int
rec_data(void *arg, const char *p, size_t len)
{
    rec_t   *r = arg;
    size_t   i;

    assert_true(r->in_part);
    assert_true(len > 0);
    for (i = 0; i < len; i++) {
        nano_buf_append(&r->out, p[i] == '\0' ? "\\0" : p + i,
                        p[i] == '\0' ? 2 : 1);
    }
    return rec_call(r);
}

static int
rec_end(void *arg)
{
    rec_t  *r = arg;

    assert_true(r->in_part);
    r->in_part = 0;
    nano_buf_puts(&r->out, ";");
    return rec_call(r);
}

static const nano_multipart_cb_t  rec_cb = { rec_begin, rec_data, rec_end };

/*
 * Parses body in chunks of the sizes cut() gives; returns the transcript
 * (caller frees) and the error message (or NULL) in *err.
 */
typedef size_t (*cut_fn)(size_t off, size_t left, void *arg);

static char *
parse(const char *boundary, const char *body, size_t len, cut_fn cut,
    void *cut_arg, const char **err)
{
    nano_multipart_t  mp;
    rec_t             r;
    size_t            off = 0, n;
    char             *chunk;
    int               rc = NANO_MULTIPART_OK;

    memset(&r, 0, sizeof(r));
    nano_buf_init(&r.out);
    nano_buf_puts(&r.out, "");
    assert_int_equal(nano_multipart_init(&mp, boundary, &rec_cb, &r), 0);
    while (off < len && rc == NANO_MULTIPART_OK) {
        n = cut(off, len - off, cut_arg);
        /* each chunk in an allocation of its own size, for ASan */
        chunk = malloc(n);
        assert_non_null(chunk);
        memcpy(chunk, body + off, n);
        rc = nano_multipart_feed(&mp, chunk, n);
        free(chunk);
        off += n;
    }
    if (rc == NANO_MULTIPART_OK) {
        rc = nano_multipart_finish(&mp);
    }
    assert_int_equal(rc == NANO_MULTIPART_OK, nano_multipart_error(&mp)
                                               == NULL);
    *err = nano_multipart_error(&mp);
    nano_multipart_cleanup(&mp);
    nano_multipart_cleanup(&mp);
    assert_false(r.out.failed);
    return nano_buf_steal(&r.out);
}

static size_t
cut_whole(size_t off, size_t left, void *arg)
{
    (void) off;
    (void) arg;
    return left;
}

static size_t
cut_one(size_t off, size_t left, void *arg)
{
    (void) off;
    (void) left;
    (void) arg;
    return 1;
}

static size_t
cut_at(size_t off, size_t left, void *arg)
{
    size_t  at = *(size_t *) arg;

    return off < at && at - off < left ? at - off : left;
}

static size_t
cut_random(size_t off, size_t left, void *arg)
{
    uint32_t  *seed = arg;
    size_t     n;

    (void) off;
    *seed = *seed * 1103515245u + 12345u;
    n = 1 + (*seed >> 16) % 13;
    return n < left ? n : left;
}

/* Parses body every way; all must agree with want (a transcript) or
 * with the refusal message want_err. */
static void
parse_all_ways(const char *boundary, const char *body, size_t len,
    const char *want, const char *want_err)
{
    const char  *err;
    char        *got;
    size_t       at;
    uint32_t     seed;
    int          i;

    for (i = -2; i < (int) len + 8; i++) {
        if (i == -2) {
            got = parse(boundary, body, len, cut_whole, NULL, &err);
        } else if (i == -1) {
            got = parse(boundary, body, len, cut_one, NULL, &err);
        } else if (i <= (int) len) {
            at = (size_t) i;
            got = parse(boundary, body, len, cut_at, &at, &err);
        } else {
            seed = (uint32_t) i;
            got = parse(boundary, body, len, cut_random, &seed, &err);
        }
        if (want_err != NULL) {
            assert_non_null(err);
            assert_string_equal(err, want_err);
        } else {
            if (err != NULL) {
                fail_msg("refused (%s) at cut %d", err, i);
            }
            assert_string_equal(got, want);
        }
        free(got);
    }
}

/* ---- bodies ------------------------------------------------------------ */

#define CD(x)     "Content-Disposition: form-data; " x "\r\n"
#define PART(h)   "--XyZ\r\n" h "\r\n"
#define CLOSE     "--XyZ--\r\n"

typedef struct {
    const char  *name;
    const char  *body;
    size_t       len;
    const char  *parts;     /* transcript, or NULL */
    const char  *err;       /* refusal message, or NULL */
} body_case_t;

#define BODY(s)  s, sizeof(s) - 1

static const body_case_t  body_cases[] = {
    { "two text fields",
      BODY(PART(CD("name=\"a\"")) "hello\r\n" PART(CD("name=\"b\"")) "x y\r\n"
           CLOSE), "[a|-|]hello;[b|-|]x y;", NULL },
    { "a file",
      BODY(PART(CD("name=\"image\"; filename=\"cat.png\"")
                "Content-Type: image/png\r\n") "\x89PNG\r\n\x1a\n\r\n" CLOSE),
      "[image|cat.png|image/png]\x89PNG\r\n\x1a\n;", NULL },
    { "content that looks like a boundary",
      BODY(PART(CD("name=\"t\"")) "a\r\n--Xy!\r\n--Xy\r\r\n--\r\n-\r\n"
           "-XyZ\n--XyZ\r--XyZ\r\n" CLOSE),
      "[t|-|]a\r\n--Xy!\r\n--Xy\r\r\n--\r\n-\r\n-XyZ\n--XyZ\r--XyZ;",
      NULL },
    { "CRs before the delimiter",
      BODY(PART(CD("name=\"t\"")) "\r\r\r\r\n--XyZ--"),
      "[t|-|]\r\r\r;", NULL },
    { "empty content", BODY(PART(CD("name=\"e\"")) "\r\n" CLOSE), "[e|-|];",
      NULL },
    { "binary content with NUL bytes",
      "--XyZ\r\n" CD("name=\"f\"; filename=\"b.bin\"")
      "\r\n\x00\x01\r\x00\n\xff\r\n" CLOSE,
      sizeof("--XyZ\r\n" CD("name=\"f\"; filename=\"b.bin\"")
             "\r\n\x00\x01\r\x00\n\xff\r\n" CLOSE) - 1,
      "[f|b.bin|]\\0\x01\r\\0\n\xff;", NULL },
    { "preamble and epilogue ignored",
      BODY("This is a preamble.\r\n" PART(CD("name=\"p\"")) "v\r\n"
           "--XyZ--\r\nan epilogue\r\n--XyZ\r\n"),
      "[p|-|]v;", NULL },
    { "no CRLF after the closing delimiter",
      BODY(PART(CD("name=\"p\"")) "v\r\n--XyZ--"), "[p|-|]v;", NULL },
    { "padding after a delimiter",
      BODY("--XyZ \t\r\n" CD("name=\"p\"") "\r\nv\r\n--XyZ--"), "[p|-|]v;",
      NULL },
    { "a quoted name with ; and spaces",
      BODY(PART(CD("name=\"a; b=c\"")) "v\r\n" CLOSE), "[a; b=c|-|]v;", NULL },
    { "a token name", BODY(PART(CD("name=plain")) "v\r\n" CLOSE),
      "[plain|-|]v;", NULL },
    { "case-insensitive header and parameters",
      BODY("--XyZ\r\ncontent-disposition: FORM-DATA; NAME=\"n\"; "
           "FileName=\"f.txt\"\r\nCONTENT-TYPE:  text/plain  \r\n\r\nv\r\n"
           CLOSE), "[n|f.txt|text/plain]v;", NULL },
    { "an empty file input",
      BODY(PART(CD("name=\"image\"; filename=\"\"")
                "Content-Type: application/octet-stream\r\n") "\r\n" CLOSE),
      "[image||application/octet-stream];", NULL },
    { "other headers ignored",
      BODY(PART("X-Thing: 1\r\n" CD("name=\"n\"") "Content-Length: 1\r\n")
           "v\r\n" CLOSE), "[n|-|]v;", NULL },
    { "no parts", BODY("--XyZ--\r\n"), "", NULL },
    { "UTF-8 names",
      BODY(PART(CD("name=\"\xc3\xa9t\xc3\xa9\"; filename=\"\xe2\x82\xac.png\""))
           "v\r\n" CLOSE), "[\xc3\xa9t\xc3\xa9|\xe2\x82\xac.png|]v;", NULL },
    /* RFC 6266's encoded name alone still makes a file part; beside a
     * plain one, the plain one is the name */
    { "a filename* parameter alone",
      BODY(PART(CD("name=\"n\"; filename*=UTF-8''a.png")) "v\r\n" CLOSE),
      "[n|UTF-8''a.png|]v;", NULL },
    { "a filename* parameter beside filename",
      BODY(PART(CD("name=\"n\"; filename*=UTF-8''b.png; filename=\"a.png\""))
           "v\r\n" CLOSE), "[n|a.png|]v;", NULL },
    { "two filename* parameters",
      BODY(PART(CD("name=\"a\"; filename*=UTF-8''x; filename*=UTF-8''y"))
           "v\r\n" CLOSE), NULL, "a part has two file names" },
    /* refusals */
    { "no boundary at all", BODY("hello world"), NULL,
      "the body holds no multipart boundary" },
    { "an empty body", "", 0, NULL, "the body holds no multipart boundary" },
    { "no closing delimiter",
      BODY(PART(CD("name=\"a\"")) "hello"), NULL,
      "the multipart body ends without its closing boundary" },
    { "cut inside the headers", BODY("--XyZ\r\nContent-Disp"), NULL,
      "the multipart body ends without its closing boundary" },
    { "a delimiter and nothing after it", BODY("--XyZ"), NULL,
      "the multipart body ends without its closing boundary" },
    { "a part without a name",
      BODY(PART(CD("filename=\"x.png\"")) "v\r\n" CLOSE), NULL,
      "a part has no name" },
    { "a part without Content-Disposition",
      BODY(PART("Content-Type: text/plain\r\n") "v\r\n" CLOSE), NULL,
      "a part has no name" },
    { "an empty name", BODY(PART(CD("name=\"\"")) "v\r\n" CLOSE), NULL,
      "a part has no name" },
    { "not form-data",
      BODY(PART("Content-Disposition: attachment; name=\"a\"\r\n") "v\r\n"
           CLOSE), NULL, "a part's Content-Disposition is not form-data" },
    { "form-data as a prefix",
      BODY(PART("Content-Disposition: form-datas; name=\"a\"\r\n") "v\r\n"
           CLOSE), NULL, "a part's Content-Disposition is not form-data" },
    { "an unterminated quote",
      BODY(PART(CD("name=\"abc")) "v\r\n" CLOSE), NULL,
      "a part's Content-Disposition is malformed" },
    { "a parameter without a value",
      BODY(PART(CD("name")) "v\r\n" CLOSE), NULL,
      "a part's Content-Disposition is malformed" },
    { "two names", BODY(PART(CD("name=\"a\"; name=\"b\"")) "v\r\n" CLOSE),
      NULL, "a part has two names" },
    { "two file names",
      BODY(PART(CD("name=\"a\"; filename=x; filename=y")) "v\r\n" CLOSE),
      NULL, "a part has two file names" },
    { "two Content-Disposition headers",
      BODY(PART(CD("name=\"a\"") CD("name=\"b\"")) "v\r\n" CLOSE), NULL,
      "a part has two Content-Disposition headers" },
    { "a header line without a colon",
      BODY(PART(CD("name=\"a\"") "garbage\r\n") "v\r\n" CLOSE), NULL,
      "a part's header line is malformed" },
    { "a header name with a space",
      BODY(PART(CD("name=\"a\"") "X Y: 1\r\n") "v\r\n" CLOSE), NULL,
      "a part's header line is malformed" },
    { "a bare LF in the headers",
      BODY("--XyZ\r\n" "Content-Disposition: form-data; name=\"a\"\n\r\nv\r\n"
           CLOSE), NULL, "a part's header holds a control character" },
    { "a CR without LF in the headers",
      BODY("--XyZ\r\n" "Content-Disposition: form-data; name=\"a\"\rX\r\n\r\n"
           "v\r\n" CLOSE), NULL,
      "a part's header line does not end with CRLF" },
    { "text after a delimiter", BODY("--XyZX\r\n" CLOSE), NULL,
      "a multipart boundary is followed by other text" },
    { "the delimiter inside content (RFC 2046 forbids it)",
      BODY(PART(CD("name=\"t\"")) "a\r\n--XyZZ\r\n" CLOSE), NULL,
      "a multipart boundary is followed by other text" },
    { "one dash after a delimiter", BODY("--XyZ-x"), NULL,
      "a multipart boundary is followed by other text" },
    { "a CR without LF after a delimiter", BODY("--XyZ\rX"), NULL,
      "a multipart boundary line does not end with CRLF" },
};

static void
body_row(void **state)
{
    const body_case_t  *c = *state;

    parse_all_ways("XyZ", c->body, c->len, c->parts, c->err);
}

/* Builds a body of n text parts (names p0, p1...). */
static char *
parts_body(int n, size_t *len)
{
    nano_buf_t  b;
    int         i;

    nano_buf_init(&b);
    for (i = 0; i < n; i++) {
        nano_buf_printf(&b, "--XyZ\r\n" CD("name=\"p%d\"") "\r\nv%d\r\n", i,
                        i);
    }
    nano_buf_puts(&b, CLOSE);
    *len = b.len;
    return nano_buf_steal(&b);
}

static void
sixteen_parts(void **state)
{
    const char  *err;
    char        *body, *got;
    size_t       len;

    (void) state;
    body = parts_body(16, &len);
    got = parse("XyZ", body, len, cut_whole, NULL, &err);
    assert_null(err);
    assert_non_null(strstr(got, "[p15|-|]v15;"));
    free(got);
    free(body);

    body = parts_body(17, &len);
    got = parse("XyZ", body, len, cut_whole, NULL, &err);
    assert_string_equal(err, "the form has more than 16 parts");
    free(got);
    free(body);
}

static void
header_line_limit(void **state)
{
    const char  *err;
    char         body[4096], *got, line[NANO_MULTIPART_LINE_MAX + 2];
    size_t       n;

    (void) state;
    /* a header line of exactly 1 KiB passes, 1 byte more does not */
    for (n = NANO_MULTIPART_LINE_MAX; n <= NANO_MULTIPART_LINE_MAX + 1; n++) {
        memset(line, 'a', n);
        memcpy(line, "X-Long: ", 8);
        line[n] = '\0';
        snprintf(body, sizeof(body), "--XyZ\r\n%s\r\n" CD("name=\"n\"")
                 "\r\nv\r\n" CLOSE, line);
        got = parse("XyZ", body, strlen(body), cut_one, NULL, &err);
        if (n == NANO_MULTIPART_LINE_MAX) {
            assert_null(err);
            assert_string_equal(got, "[n|-|]v;");
        } else {
            assert_string_equal(err, "a part's header line is longer than"
                                     " 1 KiB");
        }
        free(got);
    }
}

/* A boundary of every allowed character, the longest allowed. */
static void
odd_boundary(void **state)
{
    static const char  b[] = "'()+_,-./:=? 0123456789abcdefghijklmnopqrst"
                             "uvwxyzABCDEFGHIJKLMNOPQRSTU";
    char               body[512];
    nano_multipart_t   mp;
    rec_t              r;

    (void) state;
    assert_int_equal(strlen(b), NANO_MULTIPART_BOUNDARY_MAX);
    snprintf(body, sizeof(body), "--%s\r\n" CD("name=\"n\"") "\r\nv\r\n--%s"
             "--", b, b);
    memset(&r, 0, sizeof(r));
    nano_buf_init(&r.out);
    assert_int_equal(nano_multipart_init(&mp, b, &rec_cb, &r), 0);
    assert_int_equal(nano_multipart_feed(&mp, body, strlen(body)),
                     NANO_MULTIPART_OK);
    assert_int_equal(nano_multipart_finish(&mp), NANO_MULTIPART_OK);
    assert_string_equal(r.out.data, "[n|-|]v;");
    nano_buf_cleanup(&r.out);

    assert_int_equal(nano_multipart_init(&mp, "", &rec_cb, &r), -1);
    assert_int_equal(nano_multipart_init(&mp, "a ", &rec_cb, &r), -1);
    assert_int_equal(nano_multipart_init(&mp, "a\rb", &rec_cb, &r), -1);
    assert_int_equal(nano_multipart_init(&mp, NULL, &rec_cb, &r), -1);
    assert_int_equal(nano_multipart_feed(&mp, "x", 1),
                     NANO_MULTIPART_MALFORMED);
    nano_multipart_cleanup(NULL);
}

/* A callback that refuses stops the parser for good. */
static void
callback_stops(void **state)
{
    static const char  body[] = PART(CD("name=\"a\"")) "hello\r\n" CLOSE;
    nano_multipart_t   mp;
    rec_t              r;
    int                at;

    (void) state;
    for (at = 1; at <= 3; at++) {
        memset(&r, 0, sizeof(r));
        nano_buf_init(&r.out);
        r.stop_at = at;
        assert_int_equal(nano_multipart_init(&mp, "XyZ", &rec_cb, &r), 0);
        assert_int_equal(nano_multipart_feed(&mp, body, sizeof(body) - 1),
                         NANO_MULTIPART_STOPPED);
        assert_int_equal(nano_multipart_feed(&mp, "x", 1),
                         NANO_MULTIPART_STOPPED);
        assert_int_equal(nano_multipart_finish(&mp), NANO_MULTIPART_STOPPED);
        assert_null(nano_multipart_error(&mp));
        nano_buf_cleanup(&r.out);
    }
}

/* ---- nano_multipart_boundary ------------------------------------------- */

typedef struct {
    const char  *name;
    const char  *content_type;
    const char  *boundary;      /* NULL: refused */
} boundary_case_t;

static const boundary_case_t  boundary_cases[] = {
    { "token", "multipart/form-data; boundary=abc", "abc" },
    { "browser style", "multipart/form-data; boundary=----WebKitFormBoundary"
      "7MA4YWxkTrZu0gW", "----WebKitFormBoundary7MA4YWxkTrZu0gW" },
    { "quoted with a space", "multipart/form-data; boundary=\"a b:c\"",
      "a b:c" },
    { "case-insensitive", "Multipart/Form-Data;BOUNDARY=x", "x" },
    { "other parameters", "multipart/form-data; charset=utf-8; boundary=q",
      "q" },
    { "spaces around", "  multipart/form-data ;  boundary = q  ", "q" },
    { "70 characters", "multipart/form-data; boundary=aaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aa" },
    { "71 characters", "multipart/form-data; boundary=aaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL },
    { "no boundary", "multipart/form-data", NULL },
    { "no boundary, a charset", "multipart/form-data; charset=utf-8", NULL },
    { "empty boundary", "multipart/form-data; boundary=\"\"", NULL },
    { "a character not allowed", "multipart/form-data; boundary=\"a@b\"",
      NULL },
    { "a trailing space", "multipart/form-data; boundary=\"ab \"", NULL },
    { "two boundaries", "multipart/form-data; boundary=a; boundary=b", NULL },
    { "another multipart", "multipart/mixed; boundary=x", NULL },
    { "a longer type", "multipart/form-datax; boundary=x", NULL },
    { "not multipart", "application/json", NULL },
    { "empty", "", NULL },
    { "garbage parameters", "multipart/form-data; ;;", NULL },
};

static void
boundary_row(void **state)
{
    const boundary_case_t  *c = *state;
    char                    out[NANO_MULTIPART_BOUNDARY_MAX + 1];

    if (c->boundary == NULL) {
        assert_int_equal(nano_multipart_boundary(c->content_type, out,
                                                 sizeof(out)), -1);
    } else {
        assert_int_equal(nano_multipart_boundary(c->content_type, out,
                                                 sizeof(out)), 0);
        assert_string_equal(out, c->boundary);
    }
}

int
main(void)
{
    static const struct CMUnitTest  extra[] = {
        cmocka_unit_test(sixteen_parts),
        cmocka_unit_test(header_line_limit),
        cmocka_unit_test(odd_boundary),
        cmocka_unit_test(callback_stops),
    };
    int  rc = 0;

    rc |= unit_run_table("multipart_body", body_cases,
                         sizeof(body_cases) / sizeof(body_cases[0]),
                         sizeof(body_cases[0]), body_row, extra,
                         sizeof(extra) / sizeof(extra[0]));
    rc |= unit_run_table("multipart_boundary", boundary_cases,
                         sizeof(boundary_cases) / sizeof(boundary_cases[0]),
                         sizeof(boundary_cases[0]), boundary_row, NULL, 0);
    return rc;
}
