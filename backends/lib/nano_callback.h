/*
 * callbackUrl validation: where the platform may send a browser after
 * sign-in or sign-out.  Relative paths and URLs on NEXTAUTH_URL's origin
 * only; anything else falls back to the origin, as NextAuth's default
 * redirect callback does.
 */

#ifndef NANO_CALLBACK_H
#define NANO_CALLBACK_H

#include <stddef.h>

#define NANO_ORIGIN_MAX    512     /* longest origin we accept */
#define NANO_CALLBACK_MAX  2048    /* longest callbackUrl we accept */

typedef enum {
    NANO_CALLBACK_REFUSED = 0,
    NANO_CALLBACK_RELATIVE,        /* "/path?query" */
    NANO_CALLBACK_ABSOLUTE         /* "<origin>/path" */
} nano_callback_kind_t;

/*
 * Normalises the origin of an absolute http(s) URL into out (cap bytes):
 * "scheme://host[:port]", scheme and host lower-cased, the scheme's
 * default port dropped, no userinfo.  *rest (when not NULL) is set to
 * what follows the authority, which is empty or starts with '/', '?' or
 * '#'.  Returns 0, or -1 when url is not such a URL.
 */
int nano_callback_origin(const char *url, char *out, size_t cap,
    const char **rest);

/*
 * The userinfo of url's authority (after its "//", or from its start
 * without one, up to the last '@' before the path, query or fragment):
 * 1 with *info pointing into url and *len its length (the '@' follows),
 * or 0 when it has none.  nano_url_redact and the DATABASE_URL check
 * both find passwords with it.
 */
int nano_url_userinfo(const char *url, const char **info, size_t *len);

/*
 * url as a log may show it: the userinfo of its authority (a user and
 * password, a token), whatever the URL's shape, becomes "***".  Written
 * into out (cap bytes, cut to fit, always terminated); NULL is "".
 */
void nano_url_redact(const char *url, char *out, size_t cap);

/*
 * Classifies url against origin (as nano_callback_origin writes it).
 * A relative URL must start with exactly one '/', not "//" or "/\", also
 * after percent-decoding; control characters anywhere refuse it.
 */
nano_callback_kind_t nano_callback_check(const char *url, const char *origin);

/*
 * The absolute URL to redirect to: origin + url for a relative url, url
 * itself for a same-origin one, otherwise origin; a url longer than
 * NANO_CALLBACK_MAX is resolved without its query and fragment (its path
 * kept when that alone is accepted); bytes past ASCII, the
 * space, '"', '<' and '>' percent-encoded (a Location header is ASCII).
 * Returns a new string the caller frees with free(), or NULL when out of
 * memory.
 */
char *nano_callback_resolve(const char *url, const char *origin);

/*
 * nano_callback_resolve, but a refused url resolves to fallback instead
 * of origin: a callbackUrl on a listed subdomain is checked against that
 * subdomain's origin, and when refused goes where every refused one
 * goes, NEXTAUTH_URL's origin (NextAuth's baseUrl).
 */
char *nano_callback_resolve_or(const char *url, const char *origin,
    const char *fallback);

#endif /* NANO_CALLBACK_H */
