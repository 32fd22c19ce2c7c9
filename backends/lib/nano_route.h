/*
 * Route matching: which entry of an app's route table answers a method
 * and a PATH_INFO, with "{name}" segments captured as path parameters.
 */

#ifndef NANO_ROUTE_H
#define NANO_ROUTE_H

#include <stddef.h>

#include "nano_buf.h"
#include "nano_server.h"

#define NANO_ROUTE_PATH_MAX    2048   /* longest PATH_INFO that is routed */
#define NANO_ROUTE_PARAMS_MAX  8      /* {name} segments in one route */

/* nano_route_find() results besides an index */
#define NANO_ROUTE_NOT_FOUND    (-1)  /* no route has this path: 404 */
#define NANO_ROUTE_NOT_ALLOWED  (-2)  /* routes have it, not this method */

/* The parameters of a matched path.  Names point into the route's
 * pattern (not NUL-terminated: name_lens); values into buf. */
struct nano_route_params_s {
    size_t       n;
    const char  *names[NANO_ROUTE_PARAMS_MAX];
    size_t       name_lens[NANO_ROUTE_PARAMS_MAX];
    const char  *values[NANO_ROUTE_PARAMS_MAX];
    char         buf[NANO_ROUTE_PATH_MAX + 1];
};

/*
 * Checks a route pattern: starts with '/'; a "{name}" is a whole segment
 * whose name is [A-Za-z0-9_]+, no name twice, at most
 * NANO_ROUTE_PARAMS_MAX of them; '{' and '}' appear nowhere else.
 * Returns 0, or -1 with the reason in err.
 */
int nano_route_check(const char *pattern, char *err, size_t errlen);

/*
 * 1 when path matches pattern: literal segments exactly, each "{name}"
 * one non-empty segment.  params (may be NULL) then holds the captured
 * values; it is left empty otherwise.
 */
int nano_route_match(const char *pattern, const char *path,
    nano_route_params_t *params);

/*
 * Chooses the route for method and path among routes[0..n).  Of the
 * routes whose pattern matches the path only the most specific ones
 * count (a literal segment beats a parameter, left to right; an exact
 * route beats every pattern with parameters); among those the first
 * whose method is method (HEAD also takes GET) wins.  Returns its index
 * with params filled, NANO_ROUTE_NOT_FOUND, or NANO_ROUTE_NOT_ALLOWED
 * with the methods those routes take appended to allow ("GET, HEAD,
 * POST").
 */
int nano_route_find(const nano_route_t *routes, size_t n,
    const char *method, const char *path, nano_route_params_t *params,
    nano_buf_t *allow);

/* The value captured for name, borrowed from params, or NULL. */
const char *nano_route_param(const nano_route_params_t *params,
    const char *name);

#endif /* NANO_ROUTE_H */
