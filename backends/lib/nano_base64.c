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

static int
nano_base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

unsigned char *
nano_base64_decode(const char *s, size_t len, size_t max, size_t *out_len)
{
    unsigned char  *out = NULL;
    size_t          i, o = 0, cap, pad = 0, ndigits = 0;
    unsigned        acc = 0;
    int             v;
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
        c = (unsigned char) s[i];
        if (c == ' ' || c == '\r' || c == '\n' || c == '\t') {
            continue;
        }
        if (c == '=') {
            pad++;
            continue;
        }
        v = nano_base64_value(c);
        if (v < 0 || pad > 0) {
            goto bad;
        }
        acc = acc << 6 | (unsigned) v;
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
