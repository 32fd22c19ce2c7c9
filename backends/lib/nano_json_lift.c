/*
 * JSON whose long plain strings stay in the caller's buffer
 * (nano_json_lift.h).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_buf.h"
#include "nano_json_lift.h"

/* The text of a lifted string's stand-in begins with this escape. */
#define NANO_JSON_LIFT_MARK  "\\u0001"

static int
nano_json_lift_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * How many bytes at p, in whole runs of eight, are plain string bytes:
 * printable ASCII other than '"' and '\\'.  A megabyte of base64 is
 * looked at eight bytes to a step, not one.  Each test below is exact
 * for the eight bytes as a whole (borrows and carries only start at a
 * byte that already fails it).
 */
static size_t
nano_json_lift_plain_run(const char *p, size_t n)
{
    const uint64_t  ones = 0x0101010101010101ULL, highs = ones * 0x80;
    uint64_t        x, q, b;
    size_t          i;

    for (i = 0; n - i >= 8; i += 8) {
        memcpy(&x, p + i, 8);
        q = x ^ (ones * '"');
        b = x ^ (ones * '\\');
        if ((((q - ones) & ~q)                  /* a '"' */
             | ((b - ones) & ~b)                /* a '\\' */
             | ((x - ones * 0x20) & ~x)         /* below 0x20 */
             | ((x + ones) | x))                /* 0x7f and above */
            & highs)
        {
            break;
        }
    }
    return i;
}

/* 1 when the string that closes at buf[end - 1] is an object's key. */
static int
nano_json_lift_is_key(const char *buf, size_t end, size_t len)
{
    while (end < len && nano_json_lift_space(buf[end])) {
        end++;
    }
    return end < len && buf[end] == ':';
}

/* 1 when buf[from..to) is only the colon between a key and its value. */
static int
nano_json_lift_colon(const char *buf, size_t from, size_t to)
{
    int  colons = 0;

    for ( ; from < to; from++) {
        if (buf[from] == ':') {
            colons++;
        } else if (!nano_json_lift_space(buf[from])) {
            return 0;
        }
    }
    return colons == 1;
}

/* 1 when the key's n plain bytes at k are one of keys. */
static int
nano_json_lift_named(const char *const *keys, const char *k, size_t n)
{
    for ( ; keys != NULL && *keys != NULL; keys++) {
        if (strlen(*keys) == n && memcmp(*keys, k, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
nano_json_lift_keep(nano_json_lift_t *l, size_t off, size_t len)
{
    size_t  *o, *n;

    o = realloc(l->off, (l->n + 1) * sizeof(*o));
    if (o == NULL) {
        return -1;
    }
    l->off = o;
    n = realloc(l->len, (l->n + 1) * sizeof(*n));
    if (n == NULL) {
        return -1;
    }
    l->len = n;
    l->off[l->n] = off;
    l->len[l->n] = len;
    l->n++;
    return 0;
}

json_t *
nano_json_lift_load(nano_json_lift_t *l, const char *buf, size_t len,
    const char *const *keys, size_t flags, json_error_t *err)
{
    nano_buf_t      text;
    const char     *q;
    size_t          i = 0, j, start, copied = 0, key = 0, key_len = 0;
    unsigned char   c;
    int             plain, named = 0;
    char            mark[32];
    json_t         *root;

    memset(l, 0, sizeof(*l));
    l->buf = buf;
    if (buf == NULL || len < NANO_JSON_LIFT_MIN) {
        return json_loadb(buf, len, flags, err);
    }
    nano_buf_init(&text);
    while (i < len && (q = memchr(buf + i, '"', len - i)) != NULL) {
        start = (size_t) (q - buf) + 1;
        plain = 1;
        for (j = start; j < len; j++) {
            j += nano_json_lift_plain_run(buf + j, len - j);
            if (j >= len || buf[j] == '"') {
                break;
            }
            c = (unsigned char) buf[j];
            if (c == '\\') {
                if (len - j > 6
                    && memcmp(buf + j, NANO_JSON_LIFT_MARK, 6) == 0)
                {
                    /* a real U+0001 could pass for a stand-in */
                    goto whole;
                }
                plain = 0;
                j++;
            } else if (c < 0x20 || c > 0x7e) {
                plain = 0;
            }
        }
        if (j >= len) {
            break;    /* not closed: jansson says so below */
        }
        if (nano_json_lift_is_key(buf, j + 1, len)) {
            named = plain && nano_json_lift_named(keys, buf + start,
                                                  j - start);
            key = start;
            key_len = j - start;
        } else if (named && plain && j - start >= NANO_JSON_LIFT_MIN
                   && nano_json_lift_colon(buf, key + key_len + 1,
                                           start - 1))
        {
            snprintf(mark, sizeof(mark), NANO_JSON_LIFT_MARK "%zu", l->n);
            nano_buf_append(&text, buf + copied, start - copied);
            nano_buf_puts(&text, mark);
            copied = j;    /* from the closing quote on */
            if (nano_json_lift_keep(l, start, j - start) != 0) {
                goto whole;
            }
        }
        if (key != start) {
            named = 0;    /* a value ends its key's turn */
        }
        i = j + 1;
    }
    if (l->n == 0) {
        goto whole;
    }
    nano_buf_append(&text, buf + copied, len - copied);
    if (text.failed) {
        goto whole;
    }
    root = json_loadb(text.data, text.len, flags, err);
    nano_buf_cleanup(&text);
    return root;

whole:
    /* nothing lifted: the document as it is */
    nano_buf_cleanup(&text);
    nano_json_lift_free(l);
    l->buf = buf;
    return json_loadb(buf, len, flags, err);
}

const char *
nano_json_lift_str(const nano_json_lift_t *l, const json_t *v, size_t *len)
{
    const char  *s = json_string_value(v);
    char        *end;
    size_t       k;

    *len = 0;
    if (s == NULL) {
        return NULL;
    }
    if (l != NULL && l->n > 0 && s[0] == '\x01') {
        /* only stand-ins start so when anything was lifted */
        k = strtoul(s + 1, &end, 10);
        if (end != s + 1 && *end == '\0' && k < l->n) {
            *len = l->len[k];
            return l->buf + l->off[k];
        }
    }
    *len = json_string_length(v);
    return s;
}

void
nano_json_lift_free(nano_json_lift_t *l)
{
    if (l == NULL) {
        return;
    }
    free(l->off);
    free(l->len);
    memset(l, 0, sizeof(*l));
}
