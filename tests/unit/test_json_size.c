/*
 * Unit tests for the value count of a JSON text (nano_json_size), which
 * refuses a request body before jansson would allocate for each value.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nano_json_size.h"

static size_t
values(const char *s)
{
    return nano_json_values(s, strlen(s), (size_t) -2);
}

static void
test_counts_containers_and_members(void **state)
{
    (void) state;
    assert_int_equal(values(""), 1);
    assert_int_equal(values("1"), 1);
    assert_int_equal(values("{}"), 2);                 /* a bound: 1 */
    assert_int_equal(values("[1,2]"), 3);
    assert_int_equal(values("{\"a\":1,\"b\":[true,null]}"), 5);
    assert_int_equal(values("[[],[],[]]"), 7);            /* a bound: 4 */
    assert_int_equal(values(" [ 1 , 2 ] "), 3);
}

static void
test_strings_are_one_value(void **state)
{
    (void) state;
    assert_int_equal(values("[\"[{,,,\"]"), 2);
    assert_int_equal(values("[\"a\\\"[,\"]"), 2);       /* \" stays inside */
    assert_int_equal(values("[\"a\\\\\",1]"), 3);       /* \\ ends before " */
    assert_int_equal(values("[\"a\\\\\\\"[,\"]"), 2);   /* \\\" stays */
    /* an unclosed string counts what came before it */
    assert_int_equal(values("[1,\"[,[,"), 3);
    assert_int_equal(values("\"\\"), 1);
}

static void
test_stops_past_max(void **state)
{
    char    *big;
    size_t   i, n = 1 + 3 * 30000 + 2 + 1;

    (void) state;
    big = malloc(n + 1);
    assert_non_null(big);
    big[0] = '[';
    for (i = 0; i < 30000; i++) {
        memcpy(big + 1 + 3 * i, "[],", 3);
    }
    memcpy(big + n - 3, "[]]", 3);
    big[n] = '\0';
    /* "[" + "[]," x 30000 + "[]]": 1 + 30002 brackets + 30000 commas */
    assert_int_equal(strlen(big), n);
    assert_int_equal(nano_json_values(big, n, (size_t) -2), 60003);
    assert_int_equal(nano_json_values(big, n, NANO_JSON_VALUES_MAX),
                     NANO_JSON_VALUES_MAX + 1);
    assert_int_equal(nano_json_values(big, 0, 0), 1);
    /* embedded NULs are bytes like any other */
    assert_int_equal(nano_json_values("[1,\0,2]", 7, 100), 4);
    free(big);
}

/* The member at the end of the text's first '#' (the '#' dropped), as
 * jansson's position of an error there; "" when there is none. */
static const char *
member_at(const char *marked)
{
    static char   out[64];
    char          buf[256];
    const char   *key, *hash = strchr(marked, '#');
    size_t        pos = (size_t) (hash - marked), keylen;

    memcpy(buf, marked, pos);
    strcpy(buf + pos, hash + 1);
    if (nano_json_member_at(buf, strlen(buf), pos, &key, &keylen) != 0) {
        return "";
    }
    memcpy(out, key, keylen);
    out[keylen] = '\0';
    return out;
}

static void
test_member_at(void **state)
{
    (void) state;
    assert_string_equal(member_at("{\"prompt\":\"a\",\"seed\":99999#}"), "seed");
    assert_string_equal(member_at("{\"seed\":1e400#,\"prompt\":\"a\"}"), "seed");
    assert_string_equal(member_at(" { \"a\" : 1 , \"b\" : -9# } "), "b");
    /* inside a nested value: the top-level member that holds it */
    assert_string_equal(member_at("{\"messages\":[{\"role\":\"user\","
                                  "\"n\":-9#}]}"), "messages");
    assert_string_equal(member_at("{\"a\":{\"b\":{\"c\":[1,2#]}}}"), "a");
    /* quotes, commas and braces inside strings are text */
    assert_string_equal(member_at("{\"k\":\"x\\\",{,\",\"s\\\"q\":[\"]\",5#]}"),
                        "s\\\"q");
    /* not in a member's value */
    assert_string_equal(member_at("[1,2#]"), "");
    assert_string_equal(member_at("{\"a\":1,#\"b\":2}"), "");
    assert_string_equal(member_at("{\"a\":1}#"), "");
    assert_string_equal(member_at("#{\"a\":1}"), "");
    assert_string_equal(member_at("{\"a\":\"open#"), "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_containers_and_members),
        cmocka_unit_test(test_strings_are_one_value),
        cmocka_unit_test(test_stops_past_max),
        cmocka_unit_test(test_member_at),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
