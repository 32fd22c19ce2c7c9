/*
 * Cookie header parsing, including NextAuth's chunked session cookies
 * ("name.0", "name.1", ...).  Plain C, shared by gateway and backends.
 */

#ifndef NANO_COOKIE_H
#define NANO_COOKIE_H

#include <stddef.h>

#include "nano_token.h"

#define NANO_COOKIE_NAME_DEFAULT  "next-auth.session-token"
#define NANO_COOKIE_SECURE_PREFIX "__Secure-"
#define NANO_COOKIE_CHUNK_MAX     3933  /* NextAuth: 4096 - 163 */
#define NANO_COOKIE_CHUNKS_MAX    8
#define NANO_COOKIE_HEADER_MAX    (64 * 1024)
#define NANO_COOKIE_HEADERS_MAX   16    /* Cookie header lines we read */
#define NANO_COOKIE_BASE_MAX      200   /* longest base name */

typedef enum {
    NANO_COOKIE_ABSENT = 0,
    NANO_COOKIE_FOUND,
    NANO_COOKIE_MALFORMED,     /* too big, a bad chunk, a gap, too many */
    NANO_COOKIE_CONFLICT       /* one name twice with different values */
} nano_cookie_result_t;

/*
 * Finds the first cookie called name in n Cookie header values.  The
 * value is borrowed from the headers.
 */
nano_cookie_result_t nano_cookie_get(const nano_str_t *headers, size_t n,
    const char *name, size_t name_len, nano_str_t *value);

/*
 * Reads a session cookie the way NextAuth writes it: the plain cookie
 * or chunks name.0, name.1, ... (a non-empty plain cookie beside any
 * chunk is NANO_COOKIE_CONFLICT: one of them was planted), which must be
 * contiguous from .0, each at most NANO_COOKIE_CHUNK_MAX bytes and at
 * most NANO_COOKIE_CHUNKS_MAX of them.  The joined value is copied into
 * out (cap bytes, NUL-terminated) and its length stored in *out_len.
 *
 * The same name twice (a host cookie beside a Domain cookie, or one
 * with a narrower Path) is NANO_COOKIE_CONFLICT unless both values are
 * equal: which of two sessions a browser meant cannot be told, and a
 * cookie planted from a sibling host must not pick the identity.
 */
nano_cookie_result_t nano_cookie_session(const nano_str_t *headers, size_t n,
    const char *name, size_t name_len, char *out, size_t cap,
    size_t *out_len);

/*
 * The one rule for which session cookie a request carries; the gateway
 * and the platform both call it, so they never disagree.  As in
 * NextAuth, a deployment is secure (https origin) or not: a secure one
 * reads only "__Secure-<base>", any other only "<base>", each plain or
 * chunked (nano_cookie_session).  The other name and its chunks are
 * ignored.  headers are all the request's Cookie headers, read as one
 * header joined with "; ".
 */
nano_cookie_result_t nano_cookie_session_token(const nano_str_t *headers,
    size_t n, const char *base, size_t base_len, int secure, char *out,
    size_t cap, size_t *out_len);

#endif /* NANO_COOKIE_H */
