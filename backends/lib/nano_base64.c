/*
 * Standard base64 encoding and a forgiving-but-strict decoder.
 */

#include <stdlib.h>
#include <string.h>

#include "nano_base64.h"

static const char  nano_base64_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
nano_base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

char *
nano_base64_encode(const unsigned char *p, size_t n)
{
    char    *out, *o;
    size_t   i;
    unsigned v;

    if (n > ((size_t) -1) / 2) {
        return NULL;
    }
    out = malloc(nano_base64_encoded_len(n) + 1);
    if (out == NULL) {
        return NULL;
    }
    o = out;
    for (i = 0; i + 2 < n; i += 3) {
        v = (unsigned) p[i] << 16 | (unsigned) p[i + 1] << 8 | p[i + 2];
        *o++ = nano_base64_digits[v >> 18 & 63];
        *o++ = nano_base64_digits[v >> 12 & 63];
        *o++ = nano_base64_digits[v >> 6 & 63];
        *o++ = nano_base64_digits[v & 63];
    }
    if (i < n) {
        v = (unsigned) p[i] << 16;
        if (i + 1 < n) {
            v |= (unsigned) p[i + 1] << 8;
        }
        *o++ = nano_base64_digits[v >> 18 & 63];
        *o++ = nano_base64_digits[v >> 12 & 63];
        *o++ = i + 1 < n ? nano_base64_digits[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

char *
nano_base64url_encode(const unsigned char *p, size_t n)
{
    char  *out = nano_base64_encode(p, n), *c;

    if (out == NULL) {
        return NULL;
    }
    for (c = out; *c != '\0' && *c != '='; c++) {
        if (*c == '+') {
            *c = '-';
        } else if (*c == '/') {
            *c = '_';
        }
    }
    *c = '\0';
    return out;
}

/* Each byte's digit value; 255 for a byte that is not a digit. */
static const unsigned char  nano_base64_values[256] = {
    255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
    255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
    255,255,255,255,255,255,255,255,255,255,255, 62,255,255,255, 63,
     52, 53, 54, 55, 56, 57, 58, 59, 60, 61,255,255,255,255,255,255,
    255,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
     15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,255,255,255,255,255,
    255, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
     41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,255,255,255,255,255,
    255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
    255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
    255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
    255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
    255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
    255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
    255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
    255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,255,
};

/*
 * Decodes whole quanta of four digits at s (n bytes) into out, up to the
 * first quantum that holds anything else (whitespace, padding, a bad
 * byte), which the caller reads one byte at a time.  Returns how many
 * quanta; large images arrive as megabytes of base64, so this loop is
 * kept free of the caller's bookkeeping.
 */
static size_t
nano_base64_decode_run(const unsigned char *s, size_t n,
    unsigned char *out)
{
    const unsigned char  *v = nano_base64_values;
    size_t                k;
    unsigned              a, b, c, d, q;

    for (k = 0; n >= 4; k++, n -= 4, s += 4, out += 3) {
        a = v[s[0]];
        b = v[s[1]];
        c = v[s[2]];
        d = v[s[3]];
        if ((a | b | c | d) > 63) {
            break;
        }
        q = a << 18 | b << 12 | c << 6 | d;
        out[0] = (unsigned char) (q >> 16);
        out[1] = (unsigned char) (q >> 8);
        out[2] = (unsigned char) q;
    }
    return k;
}

unsigned char *
nano_base64_decode(const char *s, size_t len, size_t max, size_t *out_len)
{
    unsigned char  *out = NULL;
    size_t          i, o = 0, cap, pad = 0, ndigits = 0;
    size_t          k;
    unsigned        acc = 0, v;
    unsigned char   c;

    *out_len = 0;
    if (s == NULL) {
        return NULL;
    }
    cap = len / 4 * 3 + 3;
    out = malloc(cap ? cap : 1);
    if (out == NULL) {
        *out_len = 1;
        return NULL;
    }
    for (i = 0; i < len; i++) {
        /* whole quanta at a quantum's start, the usual case, at once */
        if (ndigits % 4 == 0 && pad == 0) {
            k = nano_base64_decode_run((const unsigned char *) s + i,
                                       len - i, out + o);
            i += 4 * k;
            o += 3 * k;
            ndigits += 4 * k;
            if (max > 0 && o > max) {
                goto big;
            }
        }
        if (i == len) {
            break;
        }
        c = (unsigned char) s[i];
        if (c == ' ' || c == '\r' || c == '\n' || c == '\t') {
            continue;
        }
        if (c == '=') {
            pad++;
            continue;
        }
        v = nano_base64_values[c];
        if (v == 255 || pad > 0) {
            goto bad;
        }
        acc = acc << 6 | v;
        if (++ndigits % 4 == 0) {
            out[o++] = (unsigned char) (acc >> 16);
            out[o++] = (unsigned char) (acc >> 8);
            out[o++] = (unsigned char) acc;
            acc = 0;
        }
        if (max > 0 && o > max) {
            goto big;
        }
    }
    switch (ndigits % 4) {
    case 0:
        if (pad != 0) {
            goto bad;
        }
        break;
    case 1:
        goto bad;
    case 2:
        if (pad != 0 && pad != 2) {
            goto bad;
        }
        out[o++] = (unsigned char) (acc >> 4);
        break;
    case 3:
        if (pad > 1) {
            goto bad;
        }
        out[o++] = (unsigned char) (acc >> 10);
        out[o++] = (unsigned char) (acc >> 2);
        break;
    }
    if (max > 0 && o > max) {
        goto big;
    }
    *out_len = o;
    return out;

bad:
    free(out);
    *out_len = 0;
    return NULL;

big:
    free(out);
    *out_len = 1;
    return NULL;
}
