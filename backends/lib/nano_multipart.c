/*
 * Streaming multipart/form-data parser.
 */

#include <string.h>
#include <strings.h>

#include "nano_multipart.h"

static const char  nano_multipart_after_text[] =
    "a multipart boundary is followed by other text";

enum {
    NANO_MP_PREAMBLE = 0,   /* before the first delimiter: ignored */
    NANO_MP_AFTER,          /* after a delimiter: "--", or padding CRLF */
    NANO_MP_DASH,           /* one '-' of the closing "--" seen */
    NANO_MP_CR,             /* the CR after a delimiter seen */
    NANO_MP_HEADER,         /* in a part's header line */
    NANO_MP_HEADER_CR,      /* the CR ending a header line seen */
    NANO_MP_BODY,           /* in a part's content */
    NANO_MP_EPILOGUE,       /* after the closing delimiter: ignored */
    NANO_MP_FAILED
};

/* RFC 2046 bchars, a space only inside. */
static int
nano_multipart_bchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || strchr("'()+_,-./:=? ", c) != NULL;
}

static int
nano_multipart_token_char(char c)
{
    return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

static const char *
nano_multipart_skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

/*
 * Reads one "; key=value" parameter at *s (a token or a quoted string,
 * taken as written: browsers percent-encode quotes rather than escape
 * them).  Fills key (its length in *klen) and copies the value into val
 * (cap bytes).  Returns 1 for a parameter, 0 at the end, -1 when
 * malformed.
 */
static int
nano_multipart_param(const char **s, const char **key, size_t *klen,
    char *val, size_t cap)
{
    const char  *p = nano_multipart_skip_ws(*s), *v, *e;
    size_t       vlen;

    if (*p == '\0') {
        return 0;
    }
    if (*p != ';') {
        return -1;
    }
    p = nano_multipart_skip_ws(p + 1);
    *key = p;
    while (nano_multipart_token_char(*p)) {
        p++;
    }
    *klen = (size_t) (p - *key);
    p = nano_multipart_skip_ws(p);
    if (*klen == 0 || *p != '=') {
        return -1;
    }
    p = nano_multipart_skip_ws(p + 1);
    if (*p == '"') {
        v = p + 1;
        e = strchr(v, '"');
        if (e == NULL) {
            return -1;
        }
        p = e + 1;
    } else {
        v = p;
        while (nano_multipart_token_char(*p)) {
            p++;
        }
        e = p;
        if (e == v) {
            return -1;
        }
    }
    vlen = (size_t) (e - v);
    if (vlen >= cap) {
        return -1;
    }
    memcpy(val, v, vlen);
    val[vlen] = '\0';
    *s = p;
    return 1;
}

int
nano_multipart_boundary(const char *content_type, char *out, size_t outlen)
{
    static const char   type[] = "multipart/form-data";
    const char         *s, *key;
    char                val[NANO_MULTIPART_LINE_MAX + 1];
    size_t              klen, len;
    int                 r, found = 0;

    s = nano_multipart_skip_ws(content_type);
    if (strncasecmp(s, type, sizeof(type) - 1) != 0) {
        return -1;
    }
    s += sizeof(type) - 1;
    if (*s != '\0' && *s != ';' && *s != ' ' && *s != '\t') {
        return -1;
    }
    while ((r = nano_multipart_param(&s, &key, &klen, val, sizeof(val)))
           == 1)
    {
        if (klen == 8 && strncasecmp(key, "boundary", 8) == 0) {
            if (found) {
                return -1;
            }
            len = strlen(val);
            if (len == 0 || len > NANO_MULTIPART_BOUNDARY_MAX
                || len >= outlen || val[len - 1] == ' '
                || strspn(val, "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                               "'()+_,-./:=? ") != len)
            {
                return -1;
            }
            memcpy(out, val, len + 1);
            found = 1;
        }
    }
    return r == 0 && found ? 0 : -1;
}

int
nano_multipart_init(nano_multipart_t *mp, const char *boundary,
    const nano_multipart_cb_t *cb, void *arg)
{
    size_t  len = boundary != NULL ? strlen(boundary) : 0, i;

    memset(mp, 0, sizeof(*mp));
    mp->state = NANO_MP_FAILED;
    mp->error = "the multipart boundary is invalid";
    if (len == 0 || len > NANO_MULTIPART_BOUNDARY_MAX
        || boundary[len - 1] == ' ')
    {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (!nano_multipart_bchar(boundary[i])) {
            return -1;
        }
    }
    mp->cb = cb;
    mp->arg = arg;
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, boundary, len + 1);
    mp->dlen = len + 4;
    /* The first delimiter may open the body: count its CRLF as seen. */
    mp->state = NANO_MP_PREAMBLE;
    mp->match = 2;
    mp->error = NULL;
    return 0;
}

void
nano_multipart_cleanup(nano_multipart_t *mp)
{
    if (mp == NULL) {
        return;
    }
    mp->cb = NULL;
    mp->arg = NULL;
    mp->state = NANO_MP_FAILED;
}

static int
nano_multipart_fail(nano_multipart_t *mp, const char *why)
{
    mp->state = NANO_MP_FAILED;
    mp->error = why;
    return why != NULL ? NANO_MULTIPART_MALFORMED : NANO_MULTIPART_STOPPED;
}

/* Reads Content-Disposition: form-data; name="..."[; filename="..."]
 * [; filename*=...]. */
static int
nano_multipart_disposition(nano_multipart_t *mp, const char *v)
{
    static const char   fd[] = "form-data";
    const char         *key;
    char                val[NANO_MULTIPART_LINE_MAX + 1];
    size_t              klen;
    int                 r;

    if (strncasecmp(v, fd, sizeof(fd) - 1) != 0
        || (v[sizeof(fd) - 1] != '\0' && v[sizeof(fd) - 1] != ';'
            && v[sizeof(fd) - 1] != ' ' && v[sizeof(fd) - 1] != '\t'))
    {
        return nano_multipart_fail(mp, "a part's Content-Disposition is not"
                                   " form-data");
    }
    v += sizeof(fd) - 1;
    while ((r = nano_multipart_param(&v, &key, &klen, val, sizeof(val)))
           == 1)
    {
        if (klen == 4 && strncasecmp(key, "name", 4) == 0) {
            if (mp->has_name) {
                return nano_multipart_fail(mp, "a part has two names");
            }
            memcpy(mp->name, val, strlen(val) + 1);
            mp->has_name = 1;
        } else if (klen == 8 && strncasecmp(key, "filename", 8) == 0) {
            if (mp->has_filename) {
                return nano_multipart_fail(mp, "a part has two file names");
            }
            memcpy(mp->filename, val, strlen(val) + 1);
            mp->has_filename = 1;
        } else if (klen == 9 && strncasecmp(key, "filename*", 9) == 0) {
            /* RFC 6266's encoded name: RFC 7578 says a form should not
             * send it, but a part that has only this one is a file all
             * the same, not a text field; a plain filename wins */
            if (mp->has_filename_ext) {
                return nano_multipart_fail(mp, "a part has two file names");
            }
            mp->has_filename_ext = 1;
            if (!mp->has_filename) {
                memcpy(mp->filename, val, strlen(val) + 1);
            }
        }
    }
    if (r < 0) {
        return nano_multipart_fail(mp, "a part's Content-Disposition is"
                                   " malformed");
    }
    return NANO_MULTIPART_OK;
}

/* One complete header line of a part (without its CRLF). */
static int
nano_multipart_header(nano_multipart_t *mp)
{
    char    *colon, *v, *end;
    size_t   len;

    colon = memchr(mp->line, ':', mp->line_len);
    if (colon == NULL || colon == mp->line) {
        return nano_multipart_fail(mp, "a part's header line is malformed");
    }
    for (v = mp->line; v < colon; v++) {
        if (!nano_multipart_token_char(*v)) {
            return nano_multipart_fail(mp, "a part's header line is"
                                       " malformed");
        }
    }
    len = (size_t) (colon - mp->line);
    v = (char *) nano_multipart_skip_ws(colon + 1);
    end = mp->line + mp->line_len;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    *end = '\0';
    if (len == 19 && strncasecmp(mp->line, "Content-Disposition", 19) == 0) {
        if (mp->has_name || mp->has_filename || mp->has_filename_ext) {
            return nano_multipart_fail(mp, "a part has two"
                                       " Content-Disposition headers");
        }
        return nano_multipart_disposition(mp, v);
    }
    if (len == 12 && strncasecmp(mp->line, "Content-Type", 12) == 0) {
        memcpy(mp->content_type, v, (size_t) (end - v) + 1);
    }
    return NANO_MULTIPART_OK;
}

/* The blank line after a part's headers. */
static int
nano_multipart_begin(nano_multipart_t *mp)
{
    if (!mp->has_name || mp->name[0] == '\0') {
        return nano_multipart_fail(mp, "a part has no name");
    }
    if (mp->cb->begin(mp->arg, mp->name,
                      mp->has_filename || mp->has_filename_ext
                      ? mp->filename : NULL,
                      mp->content_type) != 0)
    {
        return nano_multipart_fail(mp, NULL);
    }
    mp->state = NANO_MP_BODY;
    mp->match = 0;
    return NANO_MULTIPART_OK;
}

/* Content bytes of the current part, or preamble bytes (dropped). */
static int
nano_multipart_emit(nano_multipart_t *mp, const char *p, size_t len)
{
    if (len == 0 || mp->state != NANO_MP_BODY) {
        return NANO_MULTIPART_OK;
    }
    if (mp->cb->data(mp->arg, p, len) != 0) {
        return nano_multipart_fail(mp, NULL);
    }
    return NANO_MULTIPART_OK;
}

/*
 * Scans content (or preamble) for the delimiter.  The delimiter starts
 * with the only CR it holds, so a partial match that fails can only
 * restart at a later CR: the bytes held back are the delimiter's own
 * first bytes, released as content.  Returns the bytes consumed.
 */
static size_t
nano_multipart_scan(nano_multipart_t *mp, const char *p, size_t len,
    int *rc)
{
    const char  *cr;
    size_t       i = 0;

    *rc = NANO_MULTIPART_OK;
    while (i < len) {
        if (mp->match == 0) {
            cr = memchr(p + i, '\r', len - i);
            *rc = nano_multipart_emit(mp, p + i,
                                      (cr != NULL ? (size_t) (cr - p) : len)
                                      - i);
            if (*rc != NANO_MULTIPART_OK || cr == NULL) {
                return len;
            }
            i = (size_t) (cr - p) + 1;
            mp->match = 1;
            continue;
        }
        if (p[i] == mp->delim[mp->match]) {
            i++;
            if (++mp->match == mp->dlen) {
                if (mp->state == NANO_MP_BODY
                    && mp->cb->end(mp->arg) != 0)
                {
                    *rc = nano_multipart_fail(mp, NULL);
                    return i;
                }
                mp->state = NANO_MP_AFTER;
                mp->match = 0;
                return i;
            }
            continue;
        }
        *rc = nano_multipart_emit(mp, mp->delim, mp->match);
        mp->match = 0;
        if (*rc != NANO_MULTIPART_OK) {
            return i;
        }
    }
    return i;
}

/* One byte in the states between parts and in headers. */
static int
nano_multipart_step(nano_multipart_t *mp, char c)
{
    int  rc;

    switch (mp->state) {
    case NANO_MP_AFTER:
        if (c == '-') {
            mp->state = NANO_MP_DASH;
        } else if (c == '\r') {
            mp->state = NANO_MP_CR;
        } else if (c != ' ' && c != '\t') {
            return nano_multipart_fail(mp, nano_multipart_after_text);
        }
        return NANO_MULTIPART_OK;
    case NANO_MP_DASH:
        if (c != '-') {
            return nano_multipart_fail(mp, nano_multipart_after_text);
        }
        mp->state = NANO_MP_EPILOGUE;
        return NANO_MULTIPART_OK;
    case NANO_MP_CR:
        if (c != '\n') {
            return nano_multipart_fail(mp, "a multipart boundary line does"
                                       " not end with CRLF");
        }
        if (mp->parts == NANO_MULTIPART_PARTS_MAX) {
            return nano_multipart_fail(mp, "the form has more than 16"
                                       " parts");
        }
        mp->parts++;
        mp->state = NANO_MP_HEADER;
        mp->line_len = 0;
        mp->has_name = mp->has_filename = mp->has_filename_ext = 0;
        mp->name[0] = mp->filename[0] = mp->content_type[0] = '\0';
        return NANO_MULTIPART_OK;
    case NANO_MP_HEADER:
        if (c == '\r') {
            mp->state = NANO_MP_HEADER_CR;
        } else if (((unsigned char) c < 0x20 && c != '\t') || c == 0x7f) {
            return nano_multipart_fail(mp, "a part's header holds a control"
                                       " character");
        } else if (mp->line_len == NANO_MULTIPART_LINE_MAX) {
            return nano_multipart_fail(mp, "a part's header line is longer"
                                       " than 1 KiB");
        } else {
            mp->line[mp->line_len++] = c;
        }
        return NANO_MULTIPART_OK;
    case NANO_MP_HEADER_CR:
        if (c != '\n') {
            return nano_multipart_fail(mp, "a part's header line does not"
                                       " end with CRLF");
        }
        mp->state = NANO_MP_HEADER;
        if (mp->line_len == 0) {
            return nano_multipart_begin(mp);
        }
        mp->line[mp->line_len] = '\0';
        rc = nano_multipart_header(mp);
        mp->line_len = 0;
        return rc;
    default:
        return NANO_MULTIPART_OK;
    }
}

int
nano_multipart_feed(nano_multipart_t *mp, const char *p, size_t len)
{
    size_t  i = 0;
    int     rc = NANO_MULTIPART_OK;

    while (i < len && rc == NANO_MULTIPART_OK) {
        switch (mp->state) {
        case NANO_MP_FAILED:
            rc = mp->error != NULL ? NANO_MULTIPART_MALFORMED
                                   : NANO_MULTIPART_STOPPED;
            break;
        case NANO_MP_EPILOGUE:
            i = len;
            break;
        case NANO_MP_PREAMBLE:
        case NANO_MP_BODY:
            i += nano_multipart_scan(mp, p + i, len - i, &rc);
            break;
        default:
            rc = nano_multipart_step(mp, p[i++]);
            break;
        }
    }
    if (mp->state == NANO_MP_FAILED) {
        rc = mp->error != NULL ? NANO_MULTIPART_MALFORMED
                               : NANO_MULTIPART_STOPPED;
    }
    return rc;
}

int
nano_multipart_finish(nano_multipart_t *mp)
{
    switch (mp->state) {
    case NANO_MP_EPILOGUE:
        return NANO_MULTIPART_OK;
    case NANO_MP_FAILED:
        return mp->error != NULL ? NANO_MULTIPART_MALFORMED
                                 : NANO_MULTIPART_STOPPED;
    case NANO_MP_PREAMBLE:
        return nano_multipart_fail(mp, "the body holds no multipart"
                                   " boundary");
    default:
        return nano_multipart_fail(mp, "the multipart body ends without"
                                   " its closing boundary");
    }
}

const char *
nano_multipart_error(const nano_multipart_t *mp)
{
    return mp->error;
}
