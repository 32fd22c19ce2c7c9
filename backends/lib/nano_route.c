/*
 * Route matching with "{name}" path parameters.
 */

#include <stdio.h>
#include <string.h>

#include "nano_route.h"

/* Length of the segment starting at s (up to '/' or the end). */
static size_t
nano_route_seg_len(const char *s)
{
    return strcspn(s, "/");
}

/* 1 when the segment [s, s + len) is a "{name}" parameter. */
static int
nano_route_seg_is_param(const char *s, size_t len)
{
    return len >= 2 && s[0] == '{' && s[len - 1] == '}';
}

static int
nano_route_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_';
}

int
nano_route_check(const char *pattern, char *err, size_t errlen)
{
    const char  *names[NANO_ROUTE_PARAMS_MAX], *s;
    size_t       lens[NANO_ROUTE_PARAMS_MAX], len, n = 0, i;
    int          rc = -1;

    if (pattern == NULL || pattern[0] != '/') {
        snprintf(err, errlen, "a route path must start with '/'");
        goto out;
    }
    if (strlen(pattern) > NANO_ROUTE_PATH_MAX) {
        snprintf(err, errlen, "a route path is longer than %d bytes",
                 NANO_ROUTE_PATH_MAX);
        goto out;
    }
    for (s = pattern + 1; ; s += len + 1) {
        len = nano_route_seg_len(s);
        if (!nano_route_seg_is_param(s, len)) {
            if (memchr(s, '{', len) != NULL || memchr(s, '}', len) != NULL) {
                snprintf(err, errlen, "'{' and '}' must enclose a whole"
                         " segment");
                goto out;
            }
        } else {
            for (i = 1; i + 1 < len; i++) {
                if (!nano_route_name_char(s[i])) {
                    snprintf(err, errlen, "a parameter name is"
                             " [A-Za-z0-9_]+");
                    goto out;
                }
            }
            if (len == 2) {
                snprintf(err, errlen, "a parameter has no name");
                goto out;
            }
            if (n == NANO_ROUTE_PARAMS_MAX) {
                snprintf(err, errlen, "more than %d parameters",
                         NANO_ROUTE_PARAMS_MAX);
                goto out;
            }
            for (i = 0; i < n; i++) {
                if (lens[i] == len - 2 && memcmp(names[i], s + 1, len - 2)
                                          == 0)
                {
                    snprintf(err, errlen, "parameter {%.*s} appears twice",
                             (int) (len - 2), s + 1);
                    goto out;
                }
            }
            names[n] = s + 1;
            lens[n] = len - 2;
            n++;
        }
        if (s[len] == '\0') {
            break;
        }
    }
    rc = 0;
out:
    return rc;
}

int
nano_route_match(const char *pattern, const char *path,
    nano_route_params_t *params)
{
    const char  *p = pattern, *q = path;
    size_t       plen, qlen, off = 0;
    int          matched = 0;

    if (params != NULL) {
        params->n = 0;
    }
    if (strchr(pattern, '{') == NULL) {
        return strcmp(pattern, path) == 0;
    }
    if (p[0] != '/' || q[0] != '/' || strlen(path) > NANO_ROUTE_PATH_MAX) {
        goto out;
    }
    for (p++, q++; ; p += plen + 1, q += qlen + 1) {
        plen = nano_route_seg_len(p);
        qlen = nano_route_seg_len(q);
        if (nano_route_seg_is_param(p, plen)) {
            if (qlen == 0) {
                goto out;
            }
            if (params != NULL && params->n < NANO_ROUTE_PARAMS_MAX) {
                memcpy(params->buf + off, q, qlen);
                params->buf[off + qlen] = '\0';
                params->names[params->n] = p + 1;
                params->name_lens[params->n] = plen - 2;
                params->values[params->n] = params->buf + off;
                params->n++;
                off += qlen + 1;
            }
        } else if (plen != qlen || memcmp(p, q, plen) != 0) {
            goto out;
        }
        if (p[plen] == '\0' || q[qlen] == '\0') {
            matched = p[plen] == '\0' && q[qlen] == '\0';
            break;
        }
    }
out:
    if (!matched && params != NULL) {
        params->n = 0;
    }
    return matched;
}

/* >0 when pattern a is more specific than b, <0 when less, 0 when alike:
 * the first segment where one is literal and the other a parameter
 * decides.  Both must match one path (so they have as many segments). */
static int
nano_route_specificity(const char *a, const char *b)
{
    size_t  alen, blen;
    int     ap, bp;

    for (a++, b++; ; a += alen + 1, b += blen + 1) {
        alen = nano_route_seg_len(a);
        blen = nano_route_seg_len(b);
        ap = nano_route_seg_is_param(a, alen);
        bp = nano_route_seg_is_param(b, blen);
        if (ap != bp) {
            return bp - ap;
        }
        if (a[alen] == '\0' || b[blen] == '\0') {
            return 0;
        }
    }
}

/* Appends method to the Allow list unless it is there already. */
static void
nano_route_allow(nano_buf_t *allow, const char *method)
{
    const char  *p;
    size_t       len = strlen(method);

    for (p = allow->data; p != NULL && *p != '\0'; p += strcspn(p, ",")) {
        p += strspn(p, ", ");
        if (strncmp(p, method, len) == 0 && (p[len] == ',' || p[len] == '\0'))
        {
            return;
        }
    }
    nano_buf_printf(allow, "%s%s", allow->len ? ", " : "", method);
}

int
nano_route_find(const nano_route_t *routes, size_t n, const char *method,
    const char *path, nano_route_params_t *params, nano_buf_t *allow)
{
    const char  *best = NULL;
    size_t       i;
    int          is_head = strcmp(method, "HEAD") == 0, found = -1;

    params->n = 0;
    for (i = 0; i < n; i++) {
        if (nano_route_match(routes[i].path, path, NULL)
            && (best == NULL
                || nano_route_specificity(routes[i].path, best) > 0))
        {
            best = routes[i].path;
        }
    }
    if (best == NULL) {
        return NANO_ROUTE_NOT_FOUND;
    }
    for (i = 0; i < n; i++) {
        if (!nano_route_match(routes[i].path, path, NULL)
            || nano_route_specificity(routes[i].path, best) != 0)
        {
            continue;
        }
        if (found < 0
            && (strcmp(routes[i].method, method) == 0
                || (is_head && strcmp(routes[i].method, "GET") == 0)))
        {
            found = (int) i;
        }
        nano_route_allow(allow, routes[i].method);
        if (strcmp(routes[i].method, "GET") == 0) {
            nano_route_allow(allow, "HEAD");
        }
    }
    if (found < 0) {
        return NANO_ROUTE_NOT_ALLOWED;
    }
    nano_route_match(routes[found].path, path, params);
    return found;
}

const char *
nano_route_param(const nano_route_params_t *params, const char *name)
{
    size_t  i, len = strlen(name);

    if (params == NULL) {
        return NULL;
    }
    for (i = 0; i < params->n; i++) {
        if (params->name_lens[i] == len
            && memcmp(params->names[i], name, len) == 0)
        {
            return params->values[i];
        }
    }
    return NULL;
}
