/*
 * Small helpers shared by the platform's handlers.
 */

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unictype.h>
#include <unistr.h>

#include "nano_csrf.h"
#include "nano_log.h"
#include "nano_password.h"
#include "nano_server.h"
#include "nano_utf8.h"
#include "platform.h"

char *
platform_trim(char *s)
{
    char    *start = s;
    size_t   len;

    while (*start == ' ' || *start == '\t') {
        start++;
    }
    len = strlen(start);
    while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t')) {
        len--;
    }
    memmove(s, start, len);
    s[len] = '\0';
    return s;
}

/* 1 when s holds a control character (C0, DEL or C1: the gateway
 * refuses them in a token's claims) or U+2028/U+2029, the line and
 * paragraph separators, else 0. */
static int
platform_has_control(const char *s)
{
    const unsigned char  *p;

    /* U+2028 and U+2029 (E2 80 A8-A9) break the line as "\n" does */
    for (p = (const unsigned char *) s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f
            || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            || (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8
                                                 || p[2] == 0xa9)))
        {
            return 1;
        }
    }
    return 0;
}

/* 1 for a character that shows nothing by itself: a space of any kind
 * (NBSP, U+3000) or a format character (zero-width space, BOM), but not
 * the direction controls, which are refused rather than trimmed away. */
static int
platform_blank(ucs4_t uc)
{
    if ((uc >= 0x202a && uc <= 0x202e) || (uc >= 0x2066 && uc <= 0x2069)) {
        return 0;
    }
    return uc_is_general_category(uc, UC_CATEGORY_Zs)
           || uc_is_general_category(uc, UC_CATEGORY_Cf);
}

/*
 * Strips the blank characters at both ends of s (valid UTF-8) in place,
 * not only spaces and tabs: a name of NBSPs or zero-width spaces was
 * kept, and showed as no name at all where one is required (found by
 * the plat probe).  Blanks inside stay (the zero-width joiners of
 * Persian names and emoji sequences).
 */
static void
platform_trim_blank(char *s)
{
    const uint8_t  *p = (const uint8_t *) s;
    size_t          len = strlen(s), off = 0, start = 0, stop = 0;
    ucs4_t          uc;
    int             n, seen = 0;

    while (off < len) {
        n = u8_mbtouc(&uc, p + off, len - off);
        if (n <= 0) {
            return;
        }
        if (!platform_blank(uc)) {
            if (!seen) {
                start = off;
                seen = 1;
            }
            stop = off + (size_t) n;
        }
        off += (size_t) n;
    }
    memmove(s, s + start, stop - start);
    s[stop - start] = '\0';
}

/* U+202A-U+202E and U+2066-U+2069: the embeddings, overrides and
 * isolates that turn the text after them around (E2 80 AA-AE, E2 81
 * A6-A9).  A name is shown beside text it does not own (the header, the
 * operator's listings), so it must not reorder it.  1 when p starts
 * one. */
static int
platform_bidi_at(const char *s)
{
    const unsigned char  *p = (const unsigned char *) s;

    return p[0] == 0xe2
           && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae)
               || (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9));
}

static int
platform_has_bidi_control(const char *s)
{
    for (; *s != '\0'; s++) {
        if (platform_bidi_at(s)) {
            return 1;
        }
    }
    return 0;
}

const char *
platform_name_problem(char *name, int required)
{
    long  chars;

    platform_trim(name);
    chars = nano_utf8_count(name, strlen(name));
    if (chars < 0) {
        return "the name is not valid UTF-8";
    }
    platform_trim_blank(name);
    chars = nano_utf8_count(name, strlen(name));
    if (chars == 0 && required) {
        return "the name must not be empty";
    }
    if (chars > PLATFORM_NAME_CHARS) {
        return "the name must be at most 100 characters long";
    }
    if (platform_has_control(name)) {
        return "the name contains a control character";
    }
    if (platform_has_bidi_control(name)) {
        return "the name contains a character that reverses the text's"
               " direction";
    }
    return NULL;
}

char *
platform_name_from_provider(const char *s)
{
    const char  *r;
    char        *out, *w;
    size_t       len;
    long         chars = 0;

    if (s == NULL || !nano_utf8_valid(s) || platform_has_control(s)) {
        return NULL;
    }
    out = malloc(strlen(s) + 1);
    if (out == NULL) {
        return NULL;
    }
    for (r = s, w = out; *r != '\0'; ) {
        if (platform_bidi_at(r)) {
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    platform_trim_blank(out);
    /* cut before the character past the limit */
    for (len = 0; out[len] != '\0'; len++) {
        if (((unsigned char) out[len] & 0xc0) != 0x80
            && ++chars > PLATFORM_NAME_CHARS)
        {
            break;
        }
    }
    out[len] = '\0';
    platform_trim_blank(out);
    if (out[0] == '\0') {
        free(out);
        return NULL;
    }
    return out;
}

char *
platform_url(const nano_req_t *req, const char *path)
{
    nano_buf_t  b;

    nano_buf_init(&b);
    nano_buf_puts(&b, req->config->origin);
    nano_buf_puts(&b, path);
    return nano_buf_steal(&b);
}

int
platform_redirect(nano_res_t *res, const char *url, int json,
    int json_status)
{
    if (url == NULL) {
        return nano_res_error(res, 500, "internal", "out of memory");
    }
    if (json) {
        return nano_res_json(res, json_status, json_pack("{s:s}", "url", url));
    }
    return nano_res_redirect(res, url);
}

/* The request's csrf cookie value, or an empty one. */
static nano_str_t
platform_csrf_cookie(const nano_req_t *req)
{
    nano_str_t  v = { NULL, 0 };

    if (nano_req_cookie(req, nano_csrf_cookie_name(req->config->https), &v)
        != NANO_COOKIE_FOUND)
    {
        v.data = NULL;
        v.len = 0;
    }
    return v;
}

int
platform_csrf_token(const nano_req_t *req, nano_res_t *res, char *token)
{
    const unsigned char  *secret;
    nano_str_t            v = platform_csrf_cookie(req);
    size_t                slen;
    char                  cookie[NANO_CSRF_COOKIE_SIZE];

    secret = nano_config_secret(req->config, &slen);
    if (nano_csrf_read_cookie(v.data, v.len, secret, slen, token)
        == NANO_CSRF_OK)
    {
        return 0;
    }
    if (nano_csrf_new(secret, slen, token, cookie) != 0) {
        nano_log_error("cannot make a CSRF token");
        return -1;
    }
    /* A browser-session cookie, as NextAuth sets it. */
    return nano_res_cookie(res, nano_csrf_cookie_name(req->config->https),
                           cookie, 0, req->config->https);
}

int
platform_csrf_ok(const nano_req_t *req, const char *submitted)
{
    const unsigned char  *secret;
    nano_str_t            v = platform_csrf_cookie(req);
    nano_csrf_status_t    st;
    size_t                slen;

    secret = nano_config_secret(req->config, &slen);
    st = nano_csrf_verify(v.data, v.len, submitted, secret, slen);
    if (st != NANO_CSRF_OK) {
        nano_log_warn("%s %s: CSRF check failed (%s)", req->method, req->path,
                      nano_csrf_status_name(st));
        return 0;
    }
    return 1;
}

int
platform_rate_limited(nano_req_t *req, nano_res_t *res, int json,
    long long retry_after)
{
    char   secs[24];
    char  *url;
    int    status;

    if (retry_after < 1) {
        retry_after = 1;
    }
    snprintf(secs, sizeof(secs), "%lld", retry_after);
    if (nano_res_header(res, "Retry-After", secs) != 0) {
        return nano_res_error(res, 500, "internal", "out of memory");
    }
    if (!json) {
        return platform_signin_form(req, res, 429, "RateLimited");
    }
    url = platform_url(req, "/api/auth/error?error=RateLimited");
    if (url == NULL) {
        return nano_res_error(res, 500, "internal", "out of memory");
    }
    status = nano_res_json(res, 429,
                           json_pack("{s:s, s:s, s:s}",
                                     "error", "rate_limited",
                                     "message", "too many attempts; try"
                                     " again after Retry-After seconds",
                                     "url", url));
    free(url);
    return status;
}

int
platform_busy(nano_req_t *req, nano_res_t *res, int json)
{
    static atomic_llong  logged;
    long long            now = (long long) time(NULL), last;

    /* once per 10 s: a flood must not also flood the log */
    last = atomic_load(&logged);
    if (now - last >= 10 && atomic_compare_exchange_strong(&logged, &last,
                                                           now))
    {
        nano_log_warn("%s %s: password checks are saturated; answering 429",
                      req->method, req->path);
    }
    return platform_rate_limited(req, res, json, 5);
}

nano_password_result_t
platform_password_check(nano_req_t *req, const char *password,
    const char *hash)
{
    nano_server_db_release(req);
    return nano_password_check(password, hash);
}

nano_password_result_t
platform_password_make(nano_req_t *req, const char *password, char **hash)
{
    nano_server_db_release(req);
    return nano_password_make(password, hash);
}

static const char *
platform_callback_cookie_name(int https)
{
    return https ? "__Secure-next-auth.callback-url" : "next-auth.callback-url";
}

/* The callback-url cookie's decoded value (caller frees), or NULL. */
static char *
platform_callback_cookie(const nano_req_t *req)
{
    nano_str_t   v;
    char        *url;

    if (nano_req_cookie(req, platform_callback_cookie_name(req->config->https),
                        &v) != NANO_COOKIE_FOUND
        || v.len == 0 || v.len > PLATFORM_CALLBACK_MAX)
    {
        return NULL;
    }

    url = malloc(v.len + 1);
    if (url != NULL && nano_form_decode(url, v.data, v.len, 0) < 0) {
        free(url);
        url = NULL;
    }
    return url;
}

char *
platform_callback(const nano_req_t *req, nano_res_t *res, const char *given)
{
    nano_buf_t   b;
    char        *stored = NULL, *url;

    if (given == NULL || given[0] == '\0') {
        stored = platform_callback_cookie(req);
        given = stored;
    }

    /* an absolute URL on one of NANO_ORIGINS (a module's subdomain)
     * is as good as one on NEXTAUTH_URL's origin */
    url = nano_site_callback_resolve(&req->config->site, req->config->origin,
                                     given);

    /* Kept like NextAuth's cookie, so a failed attempt, or the error
     * page in between, does not lose where the person was going. */
    if (url != NULL && given != NULL && strlen(url) <= PLATFORM_CALLBACK_MAX) {
        nano_buf_init(&b);
        nano_buf_urlencode(&b, url);
        if (!b.failed) {
            nano_res_cookie(res,
                            platform_callback_cookie_name(req->config->https),
                            b.data, 0, req->config->https);
        }
        nano_buf_cleanup(&b);
    }

    free(stored);
    return url;
}

char *
platform_link_with_callback(const char *path, const char *callback)
{
    nano_buf_t  b;

    nano_buf_init(&b);
    nano_buf_puts(&b, path);
    nano_buf_puts(&b, "?callbackUrl=");
    nano_buf_urlencode(&b, callback);
    return nano_buf_steal(&b);
}

int
platform_signin_redirect(nano_res_t *res, const char *back)
{
    char  *signin = platform_link_with_callback("/api/auth/signin", back);
    int    status;

    status = signin != NULL ? nano_res_redirect(res, signin)
                            : nano_res_error(res, 500, "internal",
                                             "out of memory");
    free(signin);
    return status;
}

char *
platform_query_callback(const nano_req_t *req, nano_res_t *res)
{
    nano_form_t  q;
    char        *url;

    nano_form_init(&q);
    /* A malformed query just means no callbackUrl. */
    nano_req_query(req, &q);
    url = platform_callback(req, res, nano_form_get(&q, "callbackUrl"));
    nano_form_cleanup(&q);
    return url;
}
