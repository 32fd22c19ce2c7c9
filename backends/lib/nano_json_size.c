/*
 * The value count of a JSON text (nano_json_size.h).  One pass; a string
 * is skipped with memchr from quote to quote, so a long base64 image
 * costs little more than the search of its bytes for '"'.
 */

#include <string.h>

#include "nano_json_size.h"

/* The end of the string whose opening quote is at open: its closing
 * quote (one after an even run of backslashes), or NULL. */
static const char *
nano_json_string_end(const char *open, const char *end)
{
    const char  *q = open + 1, *b;

    for ( ;; ) {
        q = memchr(q, '"', (size_t) (end - q));
        if (q == NULL) {
            return NULL;
        }
        for (b = q; b > open + 1 && b[-1] == '\\'; b--) {
            /* void */
        }
        if ((q - b) % 2 == 0) {
            return q;
        }
        q++;
    }
}

size_t
nano_json_values(const char *buf, size_t len, size_t max)
{
    const char  *p = buf, *end = buf + len;
    size_t       n = 1;

    while (p < end && n <= max) {
        switch (*p) {
        case '"':
            p = nano_json_string_end(p, end);
            if (p == NULL) {
                return n;
            }
            break;
        case '[':
        case '{':
        case ',':
            n++;
            break;
        default:
            break;
        }
        p++;
    }
    return n;
}

int
nano_json_member_at(const char *buf, size_t len, size_t pos,
    const char **key, size_t *keylen)
{
    const char  *p = buf, *end = buf + (pos < len ? pos : len), *q;
    long         depth = 0;
    int          want_key = 0;

    *key = NULL;
    *keylen = 0;
    while (p < end) {
        switch (*p) {
        case '"':
            q = nano_json_string_end(p, buf + len);
            if (q == NULL) {
                return -1;
            }
            if (depth == 1 && want_key) {
                *key = p + 1;
                *keylen = (size_t) (q - p - 1);
                want_key = 0;
            }
            p = q;
            break;
        case '{':
        case '[':
            if (++depth == 1) {
                want_key = *p == '{';
            }
            break;
        case '}':
        case ']':
            if (--depth < 1) {
                return -1;
            }
            break;
        case ',':
            if (depth == 1) {
                want_key = 1;
            }
            break;
        default:
            break;
        }
        p++;
    }
    return depth >= 1 && *key != NULL && !want_key ? 0 : -1;
}
