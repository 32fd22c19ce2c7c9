/*
 * Cookie header parsing and NextAuth's chunked session cookies.
 */

#include <string.h>

#include "nano_cookie.h"


typedef struct {
    const char  *p;
    const char  *end;
} nano_cookie_cursor_t;


static int nano_cookie_next(nano_cookie_cursor_t *c, nano_str_t *name,
    nano_str_t *value);
static int nano_cookie_chunk_index(const nano_str_t *cookie,
    const char *name, size_t name_len);
static int nano_cookie_same(const nano_str_t *a, const nano_str_t *b);


nano_cookie_result_t
nano_cookie_get(const nano_str_t *headers, size_t n, const char *name,
    size_t name_len, nano_str_t *value)
{
    size_t                i;
    nano_str_t            k, v;
    nano_cookie_cursor_t  c;

    for (i = 0; i < n; i++) {
        c.p = headers[i].data;
        c.end = headers[i].data + headers[i].len;

        while (nano_cookie_next(&c, &k, &v)) {
            if (k.len == name_len && memcmp(k.data, name, name_len) == 0) {
                *value = v;
                return NANO_COOKIE_FOUND;
            }
        }
    }

    value->data = NULL;
    value->len = 0;
    return NANO_COOKIE_ABSENT;
}


nano_cookie_result_t
nano_cookie_session(const nano_str_t *headers, size_t n, const char *name,
    size_t name_len, char *out, size_t cap, size_t *out_len)
{
    int                   idx, plain_seen, chunk_seen, malformed, conflict;
    size_t                i, count, len;
    nano_str_t            k, v, plain, chunks[NANO_COOKIE_CHUNKS_MAX];
    nano_cookie_cursor_t  c;

    *out_len = 0;

    if (cap == 0) {
        return NANO_COOKIE_MALFORMED;
    }
    out[0] = '\0';

    memset(chunks, 0, sizeof(chunks));
    plain.data = NULL;
    plain.len = 0;
    plain_seen = 0;
    chunk_seen = 0;
    malformed = 0;
    conflict = 0;

    /* one pass: this runs on every request the gateway sees */
    for (i = 0; i < n; i++) {
        c.p = headers[i].data;
        c.end = headers[i].data + headers[i].len;

        while (nano_cookie_next(&c, &k, &v)) {
            if (k.len == name_len && memcmp(k.data, name, name_len) == 0) {
                if (!plain_seen) {
                    plain = v;
                    plain_seen = 1;

                } else if (!nano_cookie_same(&plain, &v)) {
                    conflict = 1;
                }
                continue;
            }

            idx = nano_cookie_chunk_index(&k, name, name_len);
            if (idx == -1) {
                continue;
            }
            chunk_seen = 1;
            if (idx < 0 || v.len > NANO_COOKIE_CHUNK_MAX) {
                malformed = 1;
                continue;
            }
            if (chunks[idx].data == NULL) {
                chunks[idx] = v;

            } else if (!nano_cookie_same(&chunks[idx], &v)) {
                conflict = 1;
            }
        }
    }

    /* the platform (as NextAuth) writes one or the other and clears the
       rest: a plain cookie beside chunks was planted, and picking either
       would let the planter choose the identity */
    if (conflict || (plain.len > 0 && chunk_seen)) {
        return NANO_COOKIE_CONFLICT;
    }

    if (plain.len > 0) {
        if (plain.len >= cap) {
            return NANO_COOKIE_MALFORMED;
        }
        memcpy(out, plain.data, plain.len);
        out[plain.len] = '\0';
        *out_len = plain.len;
        return NANO_COOKIE_FOUND;
    }

    if (malformed) {
        return NANO_COOKIE_MALFORMED;
    }

    for (count = 0; count < NANO_COOKIE_CHUNKS_MAX; count++) {
        if (chunks[count].data == NULL) {
            break;
        }
    }

    /* chunks must be contiguous from .0 */
    for (i = count; i < NANO_COOKIE_CHUNKS_MAX; i++) {
        if (chunks[i].data != NULL) {
            return NANO_COOKIE_MALFORMED;
        }
    }

    if (count == 0) {
        return NANO_COOKIE_ABSENT;
    }

    len = 0;
    for (i = 0; i < count; i++) {
        if (chunks[i].len == 0 || len + chunks[i].len >= cap) {
            return NANO_COOKIE_MALFORMED;
        }
        memcpy(out + len, chunks[i].data, chunks[i].len);
        len += chunks[i].len;
    }

    out[len] = '\0';
    *out_len = len;
    return NANO_COOKIE_FOUND;
}


nano_cookie_result_t
nano_cookie_session_token(const nano_str_t *headers, size_t n,
    const char *base, size_t base_len, int secure, char *out, size_t cap,
    size_t *out_len)
{
    size_t  len;
    char    name[sizeof(NANO_COOKIE_SECURE_PREFIX) + NANO_COOKIE_BASE_MAX];

    *out_len = 0;

    if (base_len == 0 || base_len > NANO_COOKIE_BASE_MAX) {
        return NANO_COOKIE_MALFORMED;
    }

    len = 0;
    if (secure) {
        len = sizeof(NANO_COOKIE_SECURE_PREFIX) - 1;
        memcpy(name, NANO_COOKIE_SECURE_PREFIX, len);
    }
    memcpy(name + len, base, base_len);
    len += base_len;

    return nano_cookie_session(headers, n, name, len, out, cap, out_len);
}


/*
 * Steps to the next "name=value" pair of a Cookie header.  Pairs are
 * split on ';', blanks around them are dropped, as are the double quotes
 * RFC 6265 allows around a value.  A pair without '=' is skipped.
 */
static int
nano_cookie_next(nano_cookie_cursor_t *c, nano_str_t *name, nano_str_t *value)
{
    const char  *start, *stop, *eq;

    while (c->p < c->end) {
        start = c->p;
        stop = memchr(start, ';', c->end - start);
        if (stop == NULL) {
            stop = c->end;
        }
        c->p = (stop < c->end) ? stop + 1 : stop;

        while (start < stop && (*start == ' ' || *start == '\t')) {
            start++;
        }
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) {
            stop--;
        }

        eq = memchr(start, '=', stop - start);
        if (eq == NULL || eq == start) {
            continue;
        }

        name->data = start;
        name->len = eq - start;
        while (name->len && (start[name->len - 1] == ' '
                             || start[name->len - 1] == '\t'))
        {
            name->len--;
        }

        start = eq + 1;
        while (start < stop && (*start == ' ' || *start == '\t')) {
            start++;
        }
        if (stop - start >= 2 && *start == '"' && stop[-1] == '"') {
            start++;
            stop--;
        }

        value->data = start;
        value->len = stop - start;
        return 1;
    }

    return 0;
}


/*
 * The chunk index of a cookie called "<name>.<n>": -1 when it is some
 * other cookie, -2 when it is a chunk we refuse (index too large or not
 * written the way NextAuth writes it).
 */
static int
nano_cookie_chunk_index(const nano_str_t *cookie, const char *name,
    size_t name_len)
{
    size_t       i;
    int          idx;
    const char  *s;

    if (cookie->len < name_len + 2
        || memcmp(cookie->data, name, name_len) != 0
        || cookie->data[name_len] != '.')
    {
        return -1;
    }

    s = cookie->data + name_len + 1;
    idx = 0;

    for (i = 0; i < cookie->len - name_len - 1; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        if (i > 0 && s[0] == '0') {
            return -2;
        }
        if (i > 3) {
            return -2;
        }
        idx = idx * 10 + (s[i] - '0');
    }

    return idx < NANO_COOKIE_CHUNKS_MAX ? idx : -2;
}


static int
nano_cookie_same(const nano_str_t *a, const nano_str_t *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}
