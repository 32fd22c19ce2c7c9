/*
 * Strict UTF-8 validation (RFC 3629, table 3-7 of the Unicode standard).
 */

#include <string.h>

#include "nano_utf8.h"


size_t
nano_utf8_seq(const unsigned char *s, size_t len)
{
    size_t         n, i;
    unsigned char  c, lo, hi;

    c = s[0];

    if (c < 0x80) {
        return 1;
    }

    /* the second byte's range is what excludes overlongs, surrogates
       and code points past U+10FFFF */
    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) {
            lo = 0xa0;
        } else if (c == 0xed) {
            hi = 0x9f;
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;
        }

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if (s[i] < lo || s[i] > hi) {
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
    }

    return n;
}


long
nano_utf8_count(const char *s, size_t len)
{
    size_t                n;
    long                  count;
    const unsigned char  *p, *end;

    p = (const unsigned char *) s;
    end = p + len;
    count = 0;

    while (p < end) {
        n = nano_utf8_seq(p, end - p);
        if (n == 0) {
            return -1;
        }
        p += n;
        count++;
    }

    return count;
}


int
nano_utf8_valid(const char *s)
{
    return nano_utf8_count(s, strlen(s)) >= 0;
}
