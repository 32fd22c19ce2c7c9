/*
 * callbackUrl validation and URL origins.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_callback.h"
#include "nano_form.h"

/* Rounds of percent-decoding a relative callback survives: a URL that is
 * still dangerous after a second decode is refused, in case anything
 * downstream decodes again. */
#define NANO_CALLBACK_DECODE_ROUNDS  3

static int
nano_callback_has_ctl(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return 1;
        }
    }
    return 0;
}

static int
nano_callback_host_char(char c)
{
    return isalnum((unsigned char) c) || c == '.' || c == '-' || c == '_'
           || c == ':' || c == '[' || c == ']';
}

int
nano_callback_origin(const char *url, char *out, size_t cap,
    const char **rest)
{
    const char  *auth, *end, *colon, *p;
    size_t       scheme_len, host_len, i;
    long         port = -1;
    int          https, n;
    char         host[NANO_ORIGIN_MAX];

    if (strncasecmp(url, "https://", 8) == 0) {
        https = 1;
        scheme_len = 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        https = 0;
        scheme_len = 7;
    } else {
        return -1;
    }

    auth = url + scheme_len;
    end = auth + strcspn(auth, "/?#");
    if (end == auth || (size_t) (end - auth) >= sizeof(host)) {
        return -1;
    }
    /* Only plain host[:port]: no userinfo, backslashes, escapes or
     * spaces, which browsers and parsers read differently. */
    for (p = auth; p < end; p++) {
        if (!nano_callback_host_char(*p)) {
            return -1;
        }
    }

    /* The port is after the last ':' unless that is inside [v6]. */
    colon = NULL;
    for (p = end; p > auth; p--) {
        if (p[-1] == ']') {
            break;
        }
        if (p[-1] == ':') {
            colon = p - 1;
            break;
        }
    }
    host_len = (size_t) ((colon ? colon : end) - auth);
    if (host_len == 0) {
        return -1;
    }
    if (auth[0] == '[') {
        if (host_len < 3 || auth[host_len - 1] != ']') {
            return -1;
        }
    } else if (memchr(auth, ':', host_len) != NULL
               || memchr(auth, '[', host_len) != NULL
               || memchr(auth, ']', host_len) != NULL)
    {
        return -1;
    }
    if (colon != NULL) {
        if (colon + 1 == end || end - colon > 6) {
            return -1;
        }
        port = 0;
        for (p = colon + 1; p < end; p++) {
            if (!isdigit((unsigned char) *p)) {
                return -1;
            }
            port = port * 10 + (*p - '0');
        }
        if (port == 0 || port > 65535) {
            return -1;
        }
        if (port == (https ? 443 : 80)) {
            port = -1;
        }
    }

    for (i = 0; i < host_len; i++) {
        host[i] = (char) tolower((unsigned char) auth[i]);
    }
    host[host_len] = '\0';

    if (port >= 0) {
        n = snprintf(out, cap, "%s://%s:%ld", https ? "https" : "http",
                     host, port);
    } else {
        n = snprintf(out, cap, "%s://%s", https ? "https" : "http", host);
    }
    if (n < 0 || (size_t) n >= cap) {
        return -1;
    }
    if (rest != NULL) {
        *rest = end;
    }
    return 0;
}

/* A path browsers would read as another host: "//x" or "/\x". */
static int
nano_callback_is_network_path(const char *s, size_t len)
{
    return len >= 2 && s[0] == '/' && (s[1] == '/' || s[1] == '\\');
}

static nano_callback_kind_t
nano_callback_check_relative(const char *url, size_t len)
{
    char                  *cur, *next = NULL;
    long                   n;
    int                    round;
    nano_callback_kind_t   kind = NANO_CALLBACK_REFUSED;

    cur = strndup(url, len);
    next = malloc(len + 1);
    if (cur == NULL || next == NULL) {
        goto out;
    }

    for (round = 0; round < NANO_CALLBACK_DECODE_ROUNDS; round++) {
        if (cur[0] != '/' || nano_callback_is_network_path(cur, len)
            || nano_callback_has_ctl(cur, len))
        {
            goto out;
        }
        n = nano_form_decode(next, cur, len, 0);
        if (n < 0) {
            goto out;                      /* an encoded NUL */
        }
        if ((size_t) n == len) {
            break;                         /* nothing left to decode */
        }
        len = (size_t) n;
        memcpy(cur, next, len + 1);
    }
    if (round == NANO_CALLBACK_DECODE_ROUNDS) {
        goto out;                          /* encoded over and over */
    }
    kind = NANO_CALLBACK_RELATIVE;

out:
    free(cur);
    free(next);
    return kind;
}

nano_callback_kind_t
nano_callback_check(const char *url, const char *origin)
{
    char         url_origin[NANO_ORIGIN_MAX];
    const char  *rest;
    size_t       len;

    if (url == NULL || origin == NULL) {
        return NANO_CALLBACK_REFUSED;
    }
    len = strlen(url);
    if (len == 0 || len > NANO_CALLBACK_MAX
        || nano_callback_has_ctl(url, len))
    {
        return NANO_CALLBACK_REFUSED;
    }
    if (url[0] == '/') {
        return nano_callback_check_relative(url, len);
    }
    if (nano_callback_origin(url, url_origin, sizeof(url_origin), &rest) != 0
        || strcmp(url_origin, origin) != 0)
    {
        return NANO_CALLBACK_REFUSED;
    }
    /* Same origin; a backslash in the path could still be read as a
     * separator by some clients, so refuse it outright. */
    if (strchr(rest, '\\') != NULL) {
        return NANO_CALLBACK_REFUSED;
    }
    return NANO_CALLBACK_ABSOLUTE;
}

/* A new copy of s whose bytes no URI holds (past ASCII, the space, '"',
 * '<', '>') are percent-encoded, as a browser encodes them: a Location
 * header is ASCII (RFC 9110's URI-reference), and a client that reads
 * it as Latin-1, as most do but browsers, went to another address. */
static char *
nano_callback_uri(const char *s)
{
    static const char   hex[] = "0123456789ABCDEF";
    const unsigned char *p;
    size_t               n = 0;
    char                *out, *w;

    for (p = (const unsigned char *) s; *p != '\0'; p++) {
        n += (*p >= 0x80 || *p == ' ' || *p == '"' || *p == '<' || *p == '>')
             ? 3 : 1;
    }
    out = malloc(n + 1);
    if (out == NULL) {
        return NULL;
    }
    for (p = (const unsigned char *) s, w = out; *p != '\0'; p++) {
        if (*p >= 0x80 || *p == ' ' || *p == '"' || *p == '<' || *p == '>') {
            *w++ = '%';
            *w++ = hex[*p >> 4];
            *w++ = hex[*p & 0xf];
        } else {
            *w++ = (char) *p;
        }
    }
    *w = '\0';
    return out;
}

char *
nano_callback_resolve(const char *url, const char *origin)
{
    return nano_callback_resolve_or(url, origin, origin);
}

char *
nano_callback_resolve_or(const char *url, const char *origin,
    const char *fallback)
{
    char    *out, *uri, *cut;
    size_t   olen, ulen;

    switch (nano_callback_check(url, origin)) {
    case NANO_CALLBACK_RELATIVE:
        olen = strlen(origin);
        ulen = strlen(url);
        out = malloc(olen + ulen + 1);
        if (out != NULL) {
            memcpy(out, origin, olen);
            memcpy(out + olen, url, ulen + 1);
        }
        break;
    case NANO_CALLBACK_ABSOLUTE:
        out = strdup(url);
        break;
    default:
        /* Too long to keep whole (a page's long query, which the
         * gateway's sign-in redirect carries): its path, when that alone
         * is accepted, rather than the root.  NextAuth keeps any length;
         * ours is bounded by the cookie that remembers it (found by the
         * authedges probe). */
        if (url != NULL && strlen(url) > NANO_CALLBACK_MAX) {
            ulen = strcspn(url, "?#");
            if (ulen > 0 && ulen <= NANO_CALLBACK_MAX) {
                cut = strndup(url, ulen);
                if (cut == NULL) {
                    return NULL;
                }
                out = nano_callback_resolve_or(cut, origin, fallback);
                free(cut);
                return out;
            }
        }
        return strdup(fallback);
    }
    if (out == NULL) {
        return NULL;
    }
    uri = nano_callback_uri(out);
    free(out);
    return uri;
}

int
nano_url_userinfo(const char *url, const char **info, size_t *len)
{
    const char  *auth, *end, *at = NULL, *p;

    p = strstr(url, "//");
    auth = p != NULL ? p + 2 : url;
    end = auth + strcspn(auth, "/?#");
    for (p = auth; p < end; p++) {
        if (*p == '@') {
            at = p;
        }
    }
    if (at == NULL) {
        return 0;
    }
    *info = auth;
    *len = (size_t) (at - auth);
    return 1;
}

void
nano_url_redact(const char *url, char *out, size_t cap)
{
    const char  *info;
    size_t       len;

    if (cap == 0) {
        return;
    }
    if (url == NULL) {
        out[0] = '\0';
        return;
    }
    if (!nano_url_userinfo(url, &info, &len)) {
        snprintf(out, cap, "%s", url);
    } else {
        snprintf(out, cap, "%.*s***%s", (int) (info - url), url, info + len);
    }
}
