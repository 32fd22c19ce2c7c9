/*
 * base64url without padding, for tests and fuzzers that forge tokens by
 * hand.  Written apart from the product's decoder on purpose, so the two
 * do not share a mistake.
 */

#ifndef TEST_B64URL_H
#define TEST_B64URL_H

#include <stddef.h>

/* Encodes len bytes into out (room for 4 * len / 3 + 4), NUL-terminated;
 * returns the length. */
static inline size_t
test_b64url(const void *in, size_t len, char *out)
{
    static const char     abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char  *s = in;
    size_t                i, n;
    unsigned long         v;

    n = 0;
    for (i = 0; i + 2 < len; i += 3) {
        v = ((unsigned long) s[i] << 16) | (s[i + 1] << 8) | s[i + 2];
        out[n++] = abc[(v >> 18) & 63];
        out[n++] = abc[(v >> 12) & 63];
        out[n++] = abc[(v >> 6) & 63];
        out[n++] = abc[v & 63];
    }
    if (len - i == 1) {
        v = (unsigned long) s[i] << 16;
        out[n++] = abc[(v >> 18) & 63];
        out[n++] = abc[(v >> 12) & 63];
    } else if (len - i == 2) {
        v = ((unsigned long) s[i] << 16) | (s[i + 1] << 8);
        out[n++] = abc[(v >> 18) & 63];
        out[n++] = abc[(v >> 12) & 63];
        out[n++] = abc[(v >> 6) & 63];
    }
    out[n] = '\0';
    return n;
}

#endif /* TEST_B64URL_H */
