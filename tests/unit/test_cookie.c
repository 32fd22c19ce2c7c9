/*
 * Unit tests for Cookie header parsing and NextAuth's chunked session
 * cookies (nano_cookie_get, nano_cookie_session) and the one rule for
 * which session cookie a request carries (nano_cookie_session_token).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nano_cookie.h"

#define NAME       NANO_COOKIE_NAME_DEFAULT
#define SNAME      NANO_COOKIE_SECURE_PREFIX NANO_COOKIE_NAME_DEFAULT
#define OUTCAP     (NANO_COOKIE_CHUNKS_MAX * NANO_COOKIE_CHUNK_MAX + 1)
#define HDRS_MAX   8

static char  out[OUTCAP];


/* ---- helpers ---------------------------------------------------------- */

static size_t
to_headers(const char **list, nano_str_t *h)
{
    size_t  n;

    for (n = 0; list[n] != NULL; n++) {
        assert_true(n < HDRS_MAX);
        h[n].data = list[n];
        h[n].len = strlen(list[n]);
    }
    return n;
}

/* nano_cookie_get over NULL-terminated header values */
static nano_cookie_result_t
get(const char **list, const char *name, nano_str_t *value)
{
    size_t      n;
    nano_str_t  h[HDRS_MAX];

    n = to_headers(list, h);
    return nano_cookie_get(h, n, name, strlen(name), value);
}

static nano_cookie_result_t
get1(const char *header, const char *name, nano_str_t *value)
{
    const char  *list[2] = { header, NULL };

    return get(list, name, value);
}

static nano_cookie_result_t
session_cap(const char **list, const char *name, size_t cap, size_t *len)
{
    size_t      n;
    nano_str_t  h[HDRS_MAX];

    n = to_headers(list, h);
    memset(out, 'X', sizeof(out));
    return nano_cookie_session(h, n, name, strlen(name), out, cap, len);
}

static nano_cookie_result_t
session(const char **list, const char *name, size_t *len)
{
    return session_cap(list, name, sizeof(out), len);
}

static nano_cookie_result_t
session1(const char *header, size_t *len)
{
    const char  *list[2] = { header, NULL };

    return session(list, NAME, len);
}

static void
assert_value(const nano_str_t *v, const char *expect)
{
    assert_non_null(v->data);
    assert_int_equal(v->len, strlen(expect));
    assert_memory_equal(v->data, expect, v->len);
}

static void
assert_out(size_t len, const char *expect)
{
    assert_int_equal(len, strlen(expect));
    assert_string_equal(out, expect);
}

/* A header "NAME.<idx>=<len times c>"; caller frees. */
static char *
chunk(int idx, size_t len, char c)
{
    char    *h;
    size_t   n;

    h = malloc(sizeof(NAME) + 16 + len);
    assert_non_null(h);
    n = (size_t) sprintf(h, NAME ".%d=", idx);
    memset(h + n, c, len);
    h[n + len] = '\0';
    return h;
}


/* ---- nano_cookie_get -------------------------------------------------- */

static void
test_get_single_header(void **state)
{
    nano_str_t  v;

    (void) state;
    assert_int_equal(get1("a=1; " NAME "=abc.def.ghi; b=2", NAME, &v),
                     NANO_COOKIE_FOUND);
    assert_value(&v, "abc.def.ghi");
    assert_int_equal(get1("a=1; " NAME "=abc; b=2", "b", &v),
                     NANO_COOKIE_FOUND);
    assert_value(&v, "2");
    assert_int_equal(get1("a=1; " NAME "=abc; b=2", "a", &v),
                     NANO_COOKIE_FOUND);
    assert_value(&v, "1");
}

static void
test_get_absent(void **state)
{
    nano_str_t  v;

    (void) state;
    v.data = "junk";
    v.len = 4;
    assert_int_equal(get1("a=1; b=2", NAME, &v), NANO_COOKIE_ABSENT);
    assert_null(v.data);
    assert_int_equal(v.len, 0);
    assert_int_equal(get1("", NAME, &v), NANO_COOKIE_ABSENT);
    assert_int_equal(nano_cookie_get(NULL, 0, NAME, strlen(NAME), &v),
                     NANO_COOKIE_ABSENT);
}

static void
test_get_several_headers(void **state)
{
    nano_str_t   v;
    const char  *list[] = { "a=1", "b=2; c=3", "d=4", NULL };

    (void) state;
    assert_int_equal(get(list, "c", &v), NANO_COOKIE_FOUND);
    assert_value(&v, "3");
    assert_int_equal(get(list, "d", &v), NANO_COOKIE_FOUND);
    assert_value(&v, "4");
}

static void
test_get_first_wins(void **state)
{
    nano_str_t   v;
    const char  *list[] = { "x=0; a=first", "a=second", NULL };

    (void) state;
    assert_int_equal(get(list, "a", &v), NANO_COOKIE_FOUND);
    assert_value(&v, "first");
    assert_int_equal(get1("a=one; a=two", "a", &v), NANO_COOKIE_FOUND);
    assert_value(&v, "one");
}

static void
test_get_spaces_and_tabs(void **state)
{
    nano_str_t  v;

    (void) state;
    assert_int_equal(get1(" \t a \t= \t1 \t;\tb=2\t", "a", &v),
                     NANO_COOKIE_FOUND);
    assert_value(&v, "1");
    assert_int_equal(get1(" \t a \t= \t1 \t;\tb=2\t", "b", &v),
                     NANO_COOKIE_FOUND);
    assert_value(&v, "2");
    assert_int_equal(get1("a=1;b=2;;  ;c=3", "c", &v), NANO_COOKIE_FOUND);
    assert_value(&v, "3");
    /* blanks inside a value stay */
    assert_int_equal(get1("a=x y", "a", &v), NANO_COOKIE_FOUND);
    assert_value(&v, "x y");
}

static void
test_get_quoted_value(void **state)
{
    nano_str_t  v;

    (void) state;
    assert_int_equal(get1("a=\"xyz\"; b=2", "a", &v), NANO_COOKIE_FOUND);
    assert_value(&v, "xyz");
    assert_int_equal(get1("a= \"xyz\" ", "a", &v), NANO_COOKIE_FOUND);
    assert_value(&v, "xyz");
    assert_int_equal(get1("a=\"\"", "a", &v), NANO_COOKIE_FOUND);
    assert_int_equal(v.len, 0);
    /* a lone quote is not a quoted value */
    assert_int_equal(get1("a=\"", "a", &v), NANO_COOKIE_FOUND);
    assert_value(&v, "\"");
    assert_int_equal(get1("a=\"xyz", "a", &v), NANO_COOKIE_FOUND);
    assert_value(&v, "\"xyz");
}

static void
test_get_pair_without_equals(void **state)
{
    nano_str_t  v;

    (void) state;
    assert_int_equal(get1("flag; a=1; =orphan; b", "a", &v),
                     NANO_COOKIE_FOUND);
    assert_value(&v, "1");
    assert_int_equal(get1("flag; a=1; =orphan; b", "flag", &v),
                     NANO_COOKIE_ABSENT);
    assert_int_equal(get1("flag; a=1; =orphan; b", "b", &v),
                     NANO_COOKIE_ABSENT);
    assert_int_equal(get1("flag; a=1; =orphan; b", "", &v),
                     NANO_COOKIE_ABSENT);
    /* a name that only appears without '=' is not found later by value */
    assert_int_equal(get1(NAME "; x=" NAME, NAME, &v), NANO_COOKIE_ABSENT);
}

static void
test_get_empty_and_equals_in_value(void **state)
{
    nano_str_t  v;

    (void) state;
    assert_int_equal(get1("a=; b=2", "a", &v), NANO_COOKIE_FOUND);
    assert_int_equal(v.len, 0);
    assert_int_equal(get1("a=b=c==", "a", &v), NANO_COOKIE_FOUND);
    assert_value(&v, "b=c==");
}

static void
test_get_prefix_name_not_matched(void **state)
{
    nano_str_t  v;

    (void) state;
    assert_int_equal(get1(NAME "-x=1; " NAME "x=2; x-" NAME "=3; " NAME
                          ".0=4", NAME, &v),
                     NANO_COOKIE_ABSENT);
    assert_int_equal(get1("next-auth.session-tok=1", NAME, &v),
                     NANO_COOKIE_ABSENT);
    assert_int_equal(get1(NAME "-x=1; " NAME "=real", NAME, &v),
                     NANO_COOKIE_FOUND);
    assert_value(&v, "real");
    /* names are case-sensitive */
    assert_int_equal(get1("Next-Auth.Session-Token=1", NAME, &v),
                     NANO_COOKIE_ABSENT);
}

static void
test_get_exact_and_secure_names(void **state)
{
    nano_str_t  v;
    const char *h = SNAME "=secure; " NAME "=plain";

    (void) state;
    assert_int_equal(get1(h, NAME, &v), NANO_COOKIE_FOUND);
    assert_value(&v, "plain");
    assert_int_equal(get1(h, SNAME, &v), NANO_COOKIE_FOUND);
    assert_value(&v, "secure");
    /* the __Secure- cookie is not the plain one, nor the other way */
    assert_int_equal(get1(SNAME "=secure", NAME, &v), NANO_COOKIE_ABSENT);
    assert_int_equal(get1(NAME "=plain", SNAME, &v), NANO_COOKIE_ABSENT);
}


/* ---- nano_cookie_session ---------------------------------------------- */

static void
test_session_plain_cookie(void **state)
{
    size_t  len;

    (void) state;
    assert_int_equal(session1("a=1; " NAME "=tok.en.sig; b=2", &len),
                     NANO_COOKIE_FOUND);
    assert_out(len, "tok.en.sig");
}

static void
test_session_absent(void **state)
{
    size_t  len;

    (void) state;
    len = 99;
    assert_int_equal(session1("a=1; b=2", &len), NANO_COOKIE_ABSENT);
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
    assert_int_equal(session1(NAME "=", &len), NANO_COOKIE_ABSENT);
    assert_int_equal(len, 0);
}

static void
test_session_secure_name(void **state)
{
    size_t       len;
    const char  *list[] = { SNAME "=S; " NAME "=P", NULL };
    const char  *chunks[] = { SNAME ".1=B; " NAME ".0=x", SNAME ".0=A",
                              NULL };

    (void) state;
    assert_int_equal(session(list, SNAME, &len), NANO_COOKIE_FOUND);
    assert_out(len, "S");
    assert_int_equal(session(list, NAME, &len), NANO_COOKIE_FOUND);
    assert_out(len, "P");
    assert_int_equal(session(chunks, SNAME, &len), NANO_COOKIE_FOUND);
    assert_out(len, "AB");
    assert_int_equal(session(chunks, NAME, &len), NANO_COOKIE_FOUND);
    assert_out(len, "x");
}

static void
test_session_chunks_joined(void **state)
{
    size_t  len;

    (void) state;
    assert_int_equal(session1(NAME ".0=AAA; " NAME ".1=BBB; " NAME ".2=CCC",
                              &len),
                     NANO_COOKIE_FOUND);
    assert_out(len, "AAABBBCCC");
    assert_int_equal(session1(NAME ".0=only", &len), NANO_COOKIE_FOUND);
    assert_out(len, "only");
}

static void
test_session_chunks_out_of_order(void **state)
{
    size_t       len;
    const char  *list[] = { "z=9; " NAME ".2=CCC", NAME ".0=AAA",
                            NAME ".1=BBB; y=8", NULL };

    (void) state;
    assert_int_equal(session(list, NAME, &len), NANO_COOKIE_FOUND);
    assert_out(len, "AAABBBCCC");
    assert_int_equal(session1(NAME ".1=B; " NAME ".0=A", &len),
                     NANO_COOKIE_FOUND);
    assert_out(len, "AB");
}

/*
 * The platform (like NextAuth) clears the plain cookie when it writes
 * chunks and the chunks when it writes the plain one, so both at once
 * means one was planted (a Domain cookie from a sibling host): picking
 * either would let the planter choose the identity.
 */
static void
test_session_plain_beside_chunks_conflict(void **state)
{
    size_t       len;
    const char  *list[] = { NAME ".0=AAA; " NAME ".1=BBB", NAME "=plain",
                            NULL };

    (void) state;
    assert_int_equal(session(list, NAME, &len), NANO_COOKIE_CONFLICT);
    assert_int_equal(len, 0);
    assert_int_equal(session1(NAME "=plain; " NAME ".0=A", &len),
                     NANO_COOKIE_CONFLICT);
    /* a chunk we would refuse (too large an index) is planted all the same */
    assert_int_equal(session1(NAME "=plain; " NAME ".9=x", &len),
                     NANO_COOKIE_CONFLICT);
    assert_int_equal(session1(NAME ".0=; " NAME "=plain", &len),
                     NANO_COOKIE_CONFLICT);
}

static void
test_session_empty_plain_falls_back_to_chunks(void **state)
{
    size_t  len;

    (void) state;
    assert_int_equal(session1(NAME "=; " NAME ".0=AAA; " NAME ".1=BBB",
                              &len),
                     NANO_COOKIE_FOUND);
    assert_out(len, "AAABBB");
    assert_int_equal(session1(NAME "=\"\"; " NAME ".0=A", &len),
                     NANO_COOKIE_FOUND);
    assert_out(len, "A");
}

static void
test_session_chunk_gap_malformed(void **state)
{
    size_t  len;

    (void) state;
    assert_int_equal(session1(NAME ".0=A; " NAME ".2=C", &len),
                     NANO_COOKIE_MALFORMED);
    assert_int_equal(len, 0);
    /* no .0 at all */
    assert_int_equal(session1(NAME ".1=B; " NAME ".2=C", &len),
                     NANO_COOKIE_MALFORMED);
    assert_int_equal(session1(NAME ".0=A; " NAME ".1=B; " NAME ".7=H",
                              &len),
                     NANO_COOKIE_MALFORMED);
}

static void
test_session_eight_chunks_accepted(void **state)
{
    size_t  len;

    (void) state;
    assert_int_equal(session1(NAME ".0=a; " NAME ".1=b; " NAME ".2=c; "
                              NAME ".3=d; " NAME ".4=e; " NAME ".5=f; "
                              NAME ".6=g; " NAME ".7=h", &len),
                     NANO_COOKIE_FOUND);
    assert_out(len, "abcdefgh");
}

static void
test_session_chunk_index_too_large(void **state)
{
    size_t  len;

    (void) state;
    assert_int_equal(session1(NAME ".0=a; " NAME ".1=b; " NAME ".2=c; "
                              NAME ".3=d; " NAME ".4=e; " NAME ".5=f; "
                              NAME ".6=g; " NAME ".7=h; " NAME ".8=i", &len),
                     NANO_COOKIE_MALFORMED);
    assert_int_equal(session1(NAME ".0=a; " NAME ".8=i", &len),
                     NANO_COOKIE_MALFORMED);
    assert_int_equal(session1(NAME ".0=a; " NAME ".10=i", &len),
                     NANO_COOKIE_MALFORMED);
    assert_int_equal(session1(NAME ".0=a; " NAME ".99999999999=i", &len),
                     NANO_COOKIE_MALFORMED);
}

static void
test_session_leading_zero_index(void **state)
{
    size_t  len;

    (void) state;
    assert_int_equal(session1(NAME ".0=a; " NAME ".01=b", &len),
                     NANO_COOKIE_MALFORMED);
    assert_int_equal(session1(NAME ".00=a", &len), NANO_COOKIE_MALFORMED);
}

static void
test_session_chunk_too_long(void **state)
{
    size_t        len;
    char         *c0, *c1;
    const char   *list[3];

    (void) state;
    c0 = chunk(0, NANO_COOKIE_CHUNK_MAX + 1, 'a');
    list[0] = c0;
    list[1] = NULL;
    assert_int_equal(session(list, NAME, &len), NANO_COOKIE_MALFORMED);
    free(c0);

    /* also when a later chunk is the long one */
    c0 = chunk(0, 10, 'a');
    c1 = chunk(1, NANO_COOKIE_CHUNK_MAX + 1, 'b');
    list[0] = c0;
    list[1] = c1;
    list[2] = NULL;
    assert_int_equal(session(list, NAME, &len), NANO_COOKIE_MALFORMED);
    free(c0);
    free(c1);
}

static void
test_session_chunk_exactly_max(void **state)
{
    size_t        len;
    char         *c0, *c1;
    const char   *list[3];

    (void) state;
    assert_int_equal(NANO_COOKIE_CHUNK_MAX, 3933);
    c0 = chunk(0, NANO_COOKIE_CHUNK_MAX, 'a');
    c1 = chunk(1, 5, 'b');
    list[0] = c0;
    list[1] = c1;
    list[2] = NULL;
    assert_int_equal(session(list, NAME, &len), NANO_COOKIE_FOUND);
    assert_int_equal(len, NANO_COOKIE_CHUNK_MAX + 5);
    assert_int_equal(out[0], 'a');
    assert_int_equal(out[NANO_COOKIE_CHUNK_MAX - 1], 'a');
    assert_memory_equal(out + NANO_COOKIE_CHUNK_MAX, "bbbbb", 6);
    free(c0);
    free(c1);
}

static void
test_session_joined_over_cap(void **state)
{
    size_t       len;
    const char  *list[] = { NAME ".0=AAAA; " NAME ".1=BBBB", NULL };

    (void) state;
    /* 8 bytes need a cap of 9 for the NUL */
    assert_int_equal(session_cap(list, NAME, 8, &len),
                     NANO_COOKIE_MALFORMED);
    assert_int_equal(len, 0);
    assert_int_equal(session_cap(list, NAME, 9, &len), NANO_COOKIE_FOUND);
    assert_out(len, "AAAABBBB");
}

static void
test_session_plain_over_cap(void **state)
{
    size_t       len;
    const char  *list[] = { NAME "=12345678", NULL };

    (void) state;
    assert_int_equal(session_cap(list, NAME, 8, &len),
                     NANO_COOKIE_MALFORMED);
    assert_int_equal(len, 0);
    assert_int_equal(session_cap(list, NAME, 9, &len), NANO_COOKIE_FOUND);
    assert_out(len, "12345678");
    assert_int_equal(session_cap(list, NAME, 0, &len),
                     NANO_COOKIE_MALFORMED);
}

static void
test_session_non_numeric_suffix_ignored(void **state)
{
    size_t  len;

    (void) state;
    assert_int_equal(session1(NAME ".x=1; " NAME ".=2; " NAME ".0x=3; "
                              NAME ".-1=4; " NAME ".0=A; " NAME ".1a=5",
                              &len),
                     NANO_COOKIE_FOUND);
    assert_out(len, "A");
    assert_int_equal(session1(NAME ".x=1", &len), NANO_COOKIE_ABSENT);
}

static void
test_session_prefix_name_chunks_ignored(void **state)
{
    size_t  len;

    (void) state;
    assert_int_equal(session1(NAME "-x.0=X; " NAME "x.0=Y; " NAME ".0=A",
                              &len),
                     NANO_COOKIE_FOUND);
    assert_out(len, "A");
    /* only a '.' separates name and index */
    assert_int_equal(session1(NAME "_0=X; " NAME "-1=Y; " NAME ".0=A; "
                              NAME "x1=Z", &len),
                     NANO_COOKIE_FOUND);
    assert_out(len, "A");
    assert_int_equal(session1(NAME "-x.0=X; " NAME "-x=Z", &len),
                     NANO_COOKIE_ABSENT);
}

static void
test_session_duplicate_chunk_conflict(void **state)
{
    size_t       len;
    const char  *list[] = { NAME ".0=A; " NAME ".1=C", NAME ".0=B", NULL };
    const char  *same[] = { NAME ".0=A; " NAME ".1=C", NAME ".0=A", NULL };

    (void) state;
    assert_int_equal(session(list, NAME, &len), NANO_COOKIE_CONFLICT);
    assert_int_equal(len, 0);
    assert_int_equal(session1(NAME ".0=A; " NAME ".0=B", &len),
                     NANO_COOKIE_CONFLICT);
    /* the same value twice is one cookie, not two sessions */
    assert_int_equal(session(same, NAME, &len), NANO_COOKIE_FOUND);
    assert_out(len, "AC");
}

static void
test_session_duplicate_plain_conflict(void **state)
{
    size_t  len;

    (void) state;
    /* a host cookie beside a Domain (or narrower Path) cookie */
    assert_int_equal(session1(NAME "=victim; " NAME "=attacker", &len),
                     NANO_COOKIE_CONFLICT);
    assert_int_equal(session1(NAME "=same; a=1; " NAME "=same", &len),
                     NANO_COOKIE_FOUND);
    assert_out(len, "same");
    assert_int_equal(session1(NAME "=; " NAME "=x", &len),
                     NANO_COOKIE_CONFLICT);
}


static void
test_session_empty_chunk_malformed(void **state)
{
    size_t  len;

    (void) state;
    assert_int_equal(session1(NAME ".0=A; " NAME ".1=", &len),
                     NANO_COOKIE_MALFORMED);
    assert_int_equal(session1(NAME ".0=", &len), NANO_COOKIE_MALFORMED);
}

static void
test_session_quoted_chunks(void **state)
{
    size_t  len;

    (void) state;
    assert_int_equal(session1(NAME ".0=\"AA\"; " NAME ".1=BB", &len),
                     NANO_COOKIE_FOUND);
    assert_out(len, "AABB");
}

/* ---- nano_cookie_session_token: the one cookie rule ------------------- */

static nano_cookie_result_t
rule(const char **list, int secure, size_t *len)
{
    size_t      n;
    nano_str_t  h[HDRS_MAX];

    n = to_headers(list, h);
    memset(out, 'X', sizeof(out));
    return nano_cookie_session_token(h, n, NAME, strlen(NAME), secure, out,
                                     sizeof(out), len);
}

static void
test_rule_secure_reads_only_prefixed(void **state)
{
    size_t       len;
    const char  *both[] = { SNAME "=victim; " NAME "=attacker", NULL };
    const char  *rev[] = { NAME "=attacker; " SNAME "=victim", NULL };
    const char  *plain[] = { NAME "=attacker", NULL };

    (void) state;
    assert_int_equal(rule(both, 1, &len), NANO_COOKIE_FOUND);
    assert_out(len, "victim");
    assert_int_equal(rule(rev, 1, &len), NANO_COOKIE_FOUND);
    assert_out(len, "victim");
    assert_int_equal(rule(plain, 1, &len), NANO_COOKIE_ABSENT);
}

static void
test_rule_plain_reads_only_plain(void **state)
{
    size_t       len;
    const char  *both[] = { SNAME "=other; " NAME "=mine", NULL };
    const char  *secure_only[] = { SNAME "=other", NULL };

    (void) state;
    assert_int_equal(rule(both, 0, &len), NANO_COOKIE_FOUND);
    assert_out(len, "mine");
    assert_int_equal(rule(secure_only, 0, &len), NANO_COOKIE_ABSENT);
}

static void
test_rule_stray_chunks_of_other_name_ignored(void **state)
{
    size_t       len;
    const char  *s1[] = { SNAME "=tok; " NAME ".9=junk", NULL };
    const char  *s2[] = { NAME ".0=a; " NAME ".2=gap; " SNAME "=tok", NULL };
    const char  *p1[] = { NAME "=tok; " SNAME ".9=junk; " SNAME ".0=x",
                          NULL };

    (void) state;
    assert_int_equal(rule(s1, 1, &len), NANO_COOKIE_FOUND);
    assert_out(len, "tok");
    assert_int_equal(rule(s2, 1, &len), NANO_COOKIE_FOUND);
    assert_out(len, "tok");
    assert_int_equal(rule(p1, 0, &len), NANO_COOKIE_FOUND);
    assert_out(len, "tok");
}

static void
test_rule_secure_chunks(void **state)
{
    size_t       len;
    const char  *list[] = { SNAME ".1=BB; " NAME "=plain", SNAME ".0=AA",
                            NULL };

    (void) state;
    assert_int_equal(rule(list, 1, &len), NANO_COOKIE_FOUND);
    assert_out(len, "AABB");
}

static void
test_rule_several_headers_are_one(void **state)
{
    size_t       len;
    const char  *split[] = { "a=1", NAME "=tok", NULL };
    const char  *twice[] = { NAME "=one", NAME "=two", NULL };

    (void) state;
    /* two Cookie lines read as "a=1; NAME=tok" */
    assert_int_equal(rule(split, 0, &len), NANO_COOKIE_FOUND);
    assert_out(len, "tok");
    /* and a name in each of them is the same name twice */
    assert_int_equal(rule(twice, 0, &len), NANO_COOKIE_CONFLICT);
}

static void
test_rule_bad_base(void **state)
{
    size_t      len;
    char        big[NANO_COOKIE_BASE_MAX + 2];
    nano_str_t  h = { NAME "=x", sizeof(NAME "=x") - 1 };

    (void) state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(nano_cookie_session_token(&h, 1, big, strlen(big), 0,
                                               out, sizeof(out), &len),
                     NANO_COOKIE_MALFORMED);
    assert_int_equal(nano_cookie_session_token(&h, 1, "", 0, 0, out,
                                               sizeof(out), &len),
                     NANO_COOKIE_MALFORMED);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_single_header),
        cmocka_unit_test(test_get_absent),
        cmocka_unit_test(test_get_several_headers),
        cmocka_unit_test(test_get_first_wins),
        cmocka_unit_test(test_get_spaces_and_tabs),
        cmocka_unit_test(test_get_quoted_value),
        cmocka_unit_test(test_get_pair_without_equals),
        cmocka_unit_test(test_get_empty_and_equals_in_value),
        cmocka_unit_test(test_get_prefix_name_not_matched),
        cmocka_unit_test(test_get_exact_and_secure_names),

        cmocka_unit_test(test_session_plain_cookie),
        cmocka_unit_test(test_session_absent),
        cmocka_unit_test(test_session_secure_name),
        cmocka_unit_test(test_session_chunks_joined),
        cmocka_unit_test(test_session_chunks_out_of_order),
        cmocka_unit_test(test_session_plain_beside_chunks_conflict),
        cmocka_unit_test(test_session_empty_plain_falls_back_to_chunks),
        cmocka_unit_test(test_session_chunk_gap_malformed),
        cmocka_unit_test(test_session_eight_chunks_accepted),
        cmocka_unit_test(test_session_chunk_index_too_large),
        cmocka_unit_test(test_session_leading_zero_index),
        cmocka_unit_test(test_session_chunk_too_long),
        cmocka_unit_test(test_session_chunk_exactly_max),
        cmocka_unit_test(test_session_joined_over_cap),
        cmocka_unit_test(test_session_plain_over_cap),
        cmocka_unit_test(test_session_non_numeric_suffix_ignored),
        cmocka_unit_test(test_session_prefix_name_chunks_ignored),
        cmocka_unit_test(test_session_duplicate_chunk_conflict),
        cmocka_unit_test(test_session_duplicate_plain_conflict),
        cmocka_unit_test(test_session_empty_chunk_malformed),
        cmocka_unit_test(test_session_quoted_chunks),

        cmocka_unit_test(test_rule_secure_reads_only_prefixed),
        cmocka_unit_test(test_rule_plain_reads_only_plain),
        cmocka_unit_test(test_rule_stray_chunks_of_other_name_ignored),
        cmocka_unit_test(test_rule_secure_chunks),
        cmocka_unit_test(test_rule_several_headers_are_one),
        cmocka_unit_test(test_rule_bad_base),
    };

    return cmocka_run_group_tests_name("cookie", tests, NULL, NULL);
}
