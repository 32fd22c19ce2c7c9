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
