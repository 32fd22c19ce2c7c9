/*
 * Unit tests for route matching (nano_route): patterns with {name}
 * segments, which route wins, 404 / 405 and the Allow list, and the
 * checks a route table passes at start.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_table.h"

#include <stdio.h>
#include <string.h>

#include "nano_route.h"

/* ---- nano_route_match -------------------------------------------------- */

typedef struct {
    const char  *name;
    const char  *pattern;
    const char  *path;
    int          match;
    const char  *params;    /* "a=1,b=2" as captured, in order */
} match_case_t;

static const match_case_t  match_cases[] = {
    { "exact", "/api/me", "/api/me", 1, "" },
    { "exact, other path", "/api/me", "/api/you", 0, "" },
    { "exact root", "/", "/", 1, "" },
    { "exact, trailing slash differs", "/api/me", "/api/me/", 0, "" },
    { "one param", "/api/generations/{id}", "/api/generations/g1", 1,
      "id=g1" },
    { "param then literal", "/api/generations/{id}/cancel",
      "/api/generations/abc/cancel", 1, "id=abc" },
    { "param then literal, literal differs", "/api/generations/{id}/cancel",
      "/api/generations/abc/cancelled", 0, "" },
    { "two params", "/media/{id}/{file}", "/media/g7/0.png", 1,
      "id=g7,file=0.png" },
    { "param is not empty", "/api/generations/{id}", "/api/generations/", 0,
      "" },
    { "param is one segment", "/api/generations/{id}",
      "/api/generations/a/b", 0, "" },
    { "path too short", "/api/generations/{id}/cancel",
      "/api/generations/a", 0, "" },
    { "path too long", "/api/{id}", "/api/a/", 0, "" },
    { "param keeps odd characters", "/x/{v}", "/x/a%20b.c~-_:@", 1,
      "v=a%20b.c~-_:@" },
    { "param of UTF-8", "/x/{v}", "/x/\xc3\xa9t\xc3\xa9", 1,
      "v=\xc3\xa9t\xc3\xa9" },
    { "leading param", "/{a}", "/hello", 1, "a=hello" },
    { "leading param, root", "/{a}", "/", 0, "" },
    { "no slash in path", "/{a}", "hello", 0, "" },
    { "double slash does not make a segment", "/a/{x}/b", "/a//b", 0, "" },
};

static void
match_row(void **state)
{
    const match_case_t   *c = *state;
    nano_route_params_t   p;
    char                  got[256] = "";
    size_t                i;

    assert_int_equal(nano_route_match(c->pattern, c->path, &p), c->match);
    assert_int_equal(nano_route_match(c->pattern, c->path, NULL), c->match);
    for (i = 0; i < p.n; i++) {
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%.*s=%s",
                 i ? "," : "", (int) p.name_lens[i], p.names[i],
                 p.values[i]);
    }
    assert_string_equal(got, c->params);
}

/* ---- nano_route_check -------------------------------------------------- */

typedef struct {
    const char  *name;
    const char  *pattern;
    const char  *err;       /* NULL: accepted */
} check_case_t;

static const check_case_t  check_cases[] = {
    { "exact", "/api/me", NULL },
    { "root", "/", NULL },
    { "params", "/api/generations/{id}/cancel", NULL },
    { "param names", "/m/{a_1}/{B2}", NULL },
    { "trailing slash", "/api/x/", NULL },
    { "eight params", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", NULL },
    { "relative", "api/me", "a route path must start with '/'" },
    { "empty", "", "a route path must start with '/'" },
    { "nine params", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
      "more than 8 parameters" },
    { "empty name", "/x/{}", "a parameter has no name" },
    { "name with a dash", "/x/{a-b}", "a parameter name is [A-Za-z0-9_]+" },
    { "part of a segment", "/x/{id}.png",
      "'{' and '}' must enclose a whole segment" },
    { "prefix in a segment", "/x/a{id}",
      "'{' and '}' must enclose a whole segment" },
    { "unclosed", "/x/{id", "'{' and '}' must enclose a whole segment" },
    { "stray brace", "/x/}", "'{' and '}' must enclose a whole segment" },
    { "nested", "/x/{{id}}", "a parameter name is [A-Za-z0-9_]+" },
    { "same name twice", "/{id}/x/{id}", "parameter {id} appears twice" },
};

static void
check_row(void **state)
{
    const check_case_t  *c = *state;
    char                 err[128] = "";

    if (c->err == NULL) {
        assert_int_equal(nano_route_check(c->pattern, err, sizeof(err)), 0);
    } else {
        assert_int_equal(nano_route_check(c->pattern, err, sizeof(err)), -1);
        assert_string_equal(err, c->err);
    }
}

/* ---- nano_route_find --------------------------------------------------- */

static int
handler(nano_req_t *req, nano_res_t *res)
{
    (void) req;
    (void) res;
    return 200;
}

static const nano_route_t  routes[] = {
    { "GET",    "/api/generations/{id}",        handler, 0, 0 },   /* 0 */
    { "DELETE", "/api/generations/{id}",        handler, 0, 0 },   /* 1 */
    { "GET",    "/api/generations/recent",      handler, 0, 0 },   /* 2 */
    { "POST",   "/api/generations/{id}/cancel", handler, 0, 0 },   /* 3 */
    { "GET",    "/media/{id}/{file}",           handler, 0, 0 },   /* 4 */
    { "GET",    "/media/{id}/poster.jpg",       handler, 0, 0 },   /* 5 */
    { "PUT",    "/media/static/{file}",         handler, 0, 0 },   /* 6 */
    { "POST",   "/api/generate",                handler, 0, 0 },   /* 7 */
    { "GET",    "/api/generate",                handler, 0, 0 },   /* 8 */
    { "POST",   "/api/generate",                handler, 0, 0 },   /* 9 */
};

typedef struct {
    const char  *name;
    const char  *method;
    const char  *path;
    int          found;     /* an index or NANO_ROUTE_* */
    const char  *extra;     /* the captured id, or the Allow list */
} find_case_t;

static const find_case_t  find_cases[] = {
    { "param route", "GET", "/api/generations/g1", 0, "g1" },
    { "param route, other method", "DELETE", "/api/generations/g1", 1,
      "g1" },
    { "HEAD takes GET", "HEAD", "/api/generations/g1", 0, "g1" },
    { "405 lists the param routes' methods", "PUT", "/api/generations/g1",
      NANO_ROUTE_NOT_ALLOWED, "GET, HEAD, DELETE" },
    { "exact beats param", "GET", "/api/generations/recent", 2, NULL },
    { "exact path: only its own methods", "DELETE",
      "/api/generations/recent", NANO_ROUTE_NOT_ALLOWED, "GET, HEAD" },
    { "longer param route", "POST", "/api/generations/x/cancel", 3, "x" },
    { "longer param route, GET", "GET", "/api/generations/x/cancel",
      NANO_ROUTE_NOT_ALLOWED, "POST" },
    { "no route", "GET", "/api/generations", NANO_ROUTE_NOT_FOUND, NULL },
    { "empty param: no route", "GET", "/api/generations/",
      NANO_ROUTE_NOT_FOUND, NULL },
    { "two params", "GET", "/media/g2/1.png", 4, "g2" },
    { "a literal segment beats a param", "GET", "/media/g2/poster.jpg", 5,
      "g2" },
    { "the leftmost literal decides", "GET", "/media/static/poster.jpg",
      NANO_ROUTE_NOT_ALLOWED, "PUT" },
    { "first of two alike wins", "POST", "/api/generate", 7, NULL },
    { "Allow without repeats", "PATCH", "/api/generate",
      NANO_ROUTE_NOT_ALLOWED, "POST, GET, HEAD" },
};

static void
find_row(void **state)
{
    const find_case_t    *c = *state;
    nano_route_params_t   p;
    nano_buf_t            allow;
    int                   i;

    nano_buf_init(&allow);
    i = nano_route_find(routes, sizeof(routes) / sizeof(routes[0]),
                        c->method, c->path, &p, &allow);
    assert_int_equal(i, c->found);
    if (i == NANO_ROUTE_NOT_ALLOWED) {
        assert_non_null(allow.data);
        assert_string_equal(allow.data, c->extra);
    } else if (i >= 0 && c->extra != NULL) {
        assert_string_equal(nano_route_param(&p, "id"), c->extra);
    } else {
        assert_int_equal(p.n, 0);
    }
    nano_buf_cleanup(&allow);
}

static void
param_lookup(void **state)
{
    nano_route_params_t  p;

    (void) state;
    assert_int_equal(nano_route_match("/m/{id}/{n}", "/m/a/7", &p), 1);
    assert_string_equal(nano_route_param(&p, "id"), "a");
    assert_string_equal(nano_route_param(&p, "n"), "7");
    assert_null(nano_route_param(&p, "i"));
    assert_null(nano_route_param(&p, "idx"));
    assert_null(nano_route_param(&p, ""));
    assert_null(nano_route_param(NULL, "id"));
}

static void
longest_path(void **state)
{
    static char          path[NANO_ROUTE_PATH_MAX + 2];
    nano_route_params_t  p;

    (void) state;
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[NANO_ROUTE_PATH_MAX] = '\0';
    assert_int_equal(nano_route_match("/{x}", path, &p), 1);
    assert_int_equal(strlen(nano_route_param(&p, "x")),
                     NANO_ROUTE_PATH_MAX - 1);
    path[NANO_ROUTE_PATH_MAX] = 'a';
    assert_int_equal(nano_route_match("/{x}", path, &p), 0);
}

/* Every status a backend answers has its reason phrase: nginx passes
 * FastCGI's "Status:" line on as it is ("202 Unknown" before). */
static void
reasons(void **state)
{
    static const int  used[] = { 200, 201, 202, 204, 302, 303, 304, 400,
                                 401, 402, 403, 404, 405, 409, 413, 415,
                                 422, 429, 500, 502, 503, 504 };
    size_t            i;

    (void) state;
    for (i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
        assert_string_not_equal(nano_http_reason(used[i]), "Unknown");
    }
    assert_string_equal(nano_http_reason(202), "Accepted");
    assert_string_equal(nano_http_reason(402), "Payment Required");
    assert_string_equal(nano_http_reason(422), "Unprocessable Content");
    assert_string_equal(nano_http_reason(299), "Unknown");
}

int
main(void)
{
    static const struct CMUnitTest  extra[] = {
        cmocka_unit_test(param_lookup),
        cmocka_unit_test(longest_path),
        cmocka_unit_test(reasons),
    };
    int  rc = 0;

    rc |= unit_run_table("route_match", match_cases,
                         sizeof(match_cases) / sizeof(match_cases[0]),
                         sizeof(match_cases[0]), match_row, NULL, 0);
    rc |= unit_run_table("route_check", check_cases,
                         sizeof(check_cases) / sizeof(check_cases[0]),
                         sizeof(check_cases[0]), check_row, NULL, 0);
    rc |= unit_run_table("route_find", find_cases,
                         sizeof(find_cases) / sizeof(find_cases[0]),
                         sizeof(find_cases[0]), find_row, extra,
                         sizeof(extra) / sizeof(extra[0]));
    return rc;
}
