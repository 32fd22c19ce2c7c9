/*
 * DATABASE_URL translation: V1's Prisma connection URL in, a libpq URI out.
 * Authority and path are copied byte for byte (percent-encoding preserved).
 */

#include "nano_dburl.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "nano_callback.h"

/*
 * Query parameters libpq understands (PostgreSQL 15).  Everything else is
 * dropped: libpq refuses unknown parameters, and V1's URLs carry Prisma's
 * own (connection_limit, pool_timeout, pgbouncer, socket_timeout, ...).
 * sslpassword is libpq's too, but in a Prisma URL it unlocks sslidentity
 * (a PKCS#12 file libpq cannot read), so it goes with it.
 */
static const char *const libpq_params[] = {
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile",
    "channel_binding", "connect_timeout", "client_encoding", "options",
    "application_name", "fallback_application_name", "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count",
    "tcp_user_timeout", "sslmode", "requiressl", "sslcompression",
    "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslcrldir", "sslsni",
    "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version",
    "gssencmode", "krbsrvname", "gsslib", "service", "target_session_attrs",
    NULL
};

typedef struct {
    char   *buf;
    size_t  len;
    size_t  cap;
    int     failed;
} dburl_buf_t;

static void
buf_add(dburl_buf_t *b, const char *s, size_t n)
{
    char   *p;
    size_t  cap;

    if (b->failed) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        p = realloc(b->buf, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void
buf_str(dburl_buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/*
 * Decodes s[0..n) into a new NUL-terminated string; plus_is_space follows
 * form encoding (how Prisma reads query values).  A decoded NUL becomes
 * 0x01, so that it stays visible to the control character check.
 * Returns NULL on bad encoding or no memory (*nomem tells which).
 */
static char *
pct_decode(const char *s, size_t n, int plus_is_space, int *nomem)
{
    char   *out;
    size_t  i, o;
    int     hi, lo;

    *nomem = 0;
    out = malloc(n + 1);
    if (out == NULL) {
        *nomem = 1;
        return NULL;
    }
    for (i = 0, o = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            hi = hexval((unsigned char) s[i + 1]);
            lo = hexval((unsigned char) s[i + 2]);
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char) (hi * 16 + lo ? hi * 16 + lo : 1);
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Appends s percent-encoded: only RFC 3986 unreserved bytes stay as is. */
static void
pct_encode(dburl_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char              enc[3];

    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            buf_add(b, (const char *) &c, 1);
        } else {
            enc[0] = '%';
            enc[1] = hex[c >> 4];
            enc[2] = hex[c & 15];
            buf_add(b, enc, 3);
        }
    }
}

/* 1 when every '%' in s[0..n) starts a valid %XX escape. */
static int
pct_valid(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || hexval((unsigned char) s[i + 1]) < 0
                || hexval((unsigned char) s[i + 2]) < 0)
            {
                return 0;
            }
            i += 2;
        }
    }
    return 1;
}

static int
has_control(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return 1;
        }
    }
    return 0;
}

/* 1 when the raw query q[0..end) (starting at '?') names param, or,
 * when param is "name=value", has exactly that pair. */
static int
has_param(const char *q, const char *end, const char *param)
{
    size_t      n = strlen(param);
    int         any_value = strchr(param, '=') == NULL;
    const char *p;

    for (p = q + 1; p < end; p++) {
        if ((p == q + 1 || p[-1] == '&') && (size_t) (end - p) >= n
            && strncmp(p, param, n) == 0
            && (p + n == end || p[n] == '&' || (any_value && p[n] == '=')))
        {
            return 1;
        }
    }
    return 0;
}

static int
is_libpq_param(const char *name)
{
    size_t i;

    for (i = 0; libpq_params[i] != NULL; i++) {
        if (strcmp(name, libpq_params[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * The decoded value of a query parameter (eq points at its '=' or is NULL,
 * amp at its end), refused when it holds a control character: it becomes
 * part of a server command line.  New string, or NULL with err set.
 */
static char *
query_value(const char *eq, const char *amp, int plus_is_space,
    const char *what, char *err, size_t errlen)
{
    char *v;
    int   nomem = 0;

    v = eq ? pct_decode(eq + 1, (size_t) (amp - eq - 1), plus_is_space,
                        &nomem)
           : strdup("");
    if (v == NULL) {
        set_err(err, errlen, (eq == NULL || nomem) ? "out of memory"
                             : "DATABASE_URL has a bad percent-encoding");
        return NULL;
    }
    if (has_control(v, strlen(v))) {
        set_err(err, errlen, "%s in DATABASE_URL contains a control "
                "character", what);
        free(v);
        return NULL;
    }
    return v;
}

/*
 * Appends the backend option word that sets search_path to exactly one
 * schema, as Prisma uses it: a double-quoted identifier (case kept, ""
 * doubled), then backslash-escaped for the server's splitting of the
 * options string on whitespace.
 */
static void
add_search_path(dburl_buf_t *opt, const char *schema)
{
    const char *p;

    buf_str(opt, "-c search_path=\"");
    for (p = schema; *p; p++) {
        if (*p == '"') {
            buf_str(opt, "\"\"");
        } else if (*p == ' ' || *p == '\\' || *p == '\t') {
            buf_add(opt, "\\", 1);
            buf_add(opt, p, 1);
        } else {
            buf_add(opt, p, 1);
        }
    }
    buf_str(opt, "\"");
}

/*
 * libpq's own reading of uri (a translated URL), which finds what ours
 * lets through (an unclosed IPv6 bracket, a bad host list).  Its message
 * quotes the URI, password and all: that goes to the log of every
 * backend, so the password is masked.  0, or -1 with err set.
 */
static int
dburl_libpq_check(const char *uri, char *err, size_t errlen)
{
    PQconninfoOption  *opts;
    dburl_buf_t        msg = { NULL, 0, 0, 0 };
    const char        *info, *at = NULL, *colon = NULL, *p, *hit;
    char              *why = NULL, *pw = NULL;
    size_t             len;

    opts = PQconninfoParse(uri, &why);
    if (opts != NULL) {
        PQconninfoFree(opts);
        return 0;
    }
    /* the password: after the user's ':', up to the userinfo's end */
    if (nano_url_userinfo(uri, &info, &len)) {
        at = info + len;
        colon = memchr(info, ':', len);
    }
    if (colon != NULL && at > colon + 1) {
        pw = strndup(colon + 1, (size_t) (at - colon - 1));
        if (pw == NULL) {
            msg.failed = 1;
        }
    }
    for (p = why != NULL ? why : ""; pw != NULL && (hit = strstr(p, pw));
         p = hit + strlen(pw))
    {
        buf_add(&msg, p, (size_t) (hit - p));
        buf_str(&msg, "***");
    }
    buf_str(&msg, p);
    while (!msg.failed && msg.len > 0
           && (msg.buf[msg.len - 1] == '\n' || msg.buf[msg.len - 1] == ' '))
    {
        msg.buf[--msg.len] = '\0';
    }
    set_err(err, errlen, "DATABASE_URL is not a URL libpq can read: %s",
            why == NULL || msg.failed ? "out of memory" : msg.buf);
    if (pw != NULL) {
        explicit_bzero(pw, strlen(pw));
    }
    free(pw);
    free(msg.buf);
    PQfreemem(why);
    return -1;
}

char *
nano_dburl_to_libpq(const char *url, char *err, size_t errlen)
{
    dburl_buf_t  out = { NULL, 0, 0, 0 };
    dburl_buf_t  opt = { NULL, 0, 0, 0 };
    const char  *rest, *end, *query, *frag, *p, *amp, *eq;
    char        *name = NULL, *schema = NULL, *useropt = NULL, *result = NULL;
    size_t       urllen;
    int          nomem = 0, nparams = 0, libpq_style_ssl = 0;

    if (url == NULL || *url == '\0') {
        set_err(err, errlen, "DATABASE_URL is empty");
        goto out;
    }
    urllen = strlen(url);
    if (strncasecmp(url, "postgresql://", 13) == 0) {
        rest = url + 13;
    } else if (strncasecmp(url, "postgres://", 11) == 0) {
        rest = url + 11;
    } else {
        set_err(err, errlen,
            "DATABASE_URL must start with postgresql:// or postgres://");
        goto out;
    }
    if (has_control(url, urllen)) {
        set_err(err, errlen, "DATABASE_URL contains a control character");
        goto out;
    }
    /* A fragment means nothing to a database URL; Prisma ignores it too. */
    frag = strchr(rest, '#');
    end = frag ? frag : url + urllen;
    if (!pct_valid(rest, (size_t) (end - rest))) {
        set_err(err, errlen, "DATABASE_URL has a bad percent-encoding");
        goto out;
    }
    query = memchr(rest, '?', (size_t) (end - rest));

    buf_str(&out, "postgresql://");
    buf_add(&out, rest, (size_t) ((query ? query : end) - rest));

    /* sslcert in a Prisma URL names the server's CA: libpq's sslrootcert.
     * A URL that also names sslkey or sslrootcert is written for libpq. */
    libpq_style_ssl = query != NULL
        && (has_param(query, end, "sslkey")
            || has_param(query, end, "sslrootcert"));

    for (p = query; p != NULL && p < end; p = amp) {
        p++;                                  /* skip '?' or '&' */
        amp = memchr(p, '&', (size_t) (end - p));
        if (amp == NULL) {
            amp = end;
        }
        if (amp == p) {
            continue;                         /* "&&" or a trailing '&' */
        }
        eq = memchr(p, '=', (size_t) (amp - p));
        free(name);
        name = pct_decode(p, (size_t) ((eq ? eq : amp) - p), 0, &nomem);
        if (name == NULL) {
            goto nomem_or_bad;
        }
        if (strcmp(name, "schema") == 0) {
            free(schema);
            schema = query_value(eq, amp, 1, "schema", err, errlen);
            if (schema == NULL) {
                goto out;
            }
            continue;
        }
        if (strcmp(name, "options") == 0) {
            /* Merged with the search path below into one options value. */
            free(useropt);
            useropt = query_value(eq, amp, 0, "options", err, errlen);
            if (useropt == NULL) {
                goto out;
            }
            continue;
        }
        if (!is_libpq_param(name)) {
            continue;
        }
        buf_str(&out, nparams++ ? "&" : "?");
        if (strcmp(name, "sslcert") == 0 && !libpq_style_ssl) {
            buf_str(&out, "sslrootcert");
            if (eq) {
                buf_add(&out, eq, (size_t) (amp - eq));
            }
        } else {
            buf_add(&out, p, (size_t) (amp - p));
        }
    }

    if (useropt != NULL && *useropt != '\0') {
        buf_str(&opt, useropt);
    }
    if (schema != NULL && *schema != '\0') {
        if (opt.len) {
            buf_str(&opt, " ");
        }
        add_search_path(&opt, schema);
    }
    if (opt.len) {
        buf_str(&out, nparams++ ? "&options=" : "?options=");
        pct_encode(&out, opt.buf);
    }
    if (out.failed || opt.failed) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    if (dburl_libpq_check(out.buf, err, errlen) != 0) {
        goto out;
    }
    result = out.buf;
    out.buf = NULL;
    goto out;

nomem_or_bad:
    set_err(err, errlen, nomem ? "out of memory"
                               : "DATABASE_URL has a bad percent-encoding");
out:
    free(out.buf);
    free(opt.buf);
    free(name);
    free(schema);
    free(useropt);
    return result;
}

int
nano_dburl_pgbouncer(const char *url)
{
    const char  *q, *end;

    if (url == NULL) {
        return 0;
    }
    end = url + strcspn(url, "#");
    q = memchr(url, '?', (size_t) (end - url));
    return q != NULL && has_param(q, end, "pgbouncer=true");
}
