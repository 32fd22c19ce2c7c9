/*
 * Bytes as lower-case hex (nano_hex.h).
 */

#include "nano_hex.h"

void
nano_hex_encode(char *out, const void *in, size_t n)
{
    static const char     digits[] = "0123456789abcdef";
    const unsigned char  *p = in;
    size_t                i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
}
