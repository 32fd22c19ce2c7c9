/*
 * Random identifiers from getrandom(2).
 */

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

#include "nano_hex.h"
#include "nano_rand.h"

int
nano_rand_bytes(void *buf, size_t n)
{
    unsigned char  *p = buf;
    ssize_t         got;

    while (n > 0) {
        got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += got;
        n -= (size_t) got;
    }
    return 0;
}

int
nano_rand_hex(char *out, size_t n)
{
    unsigned char  bytes[64];
    size_t         chunk;

    while (n > 0) {
        chunk = n < sizeof(bytes) ? n : sizeof(bytes);
        if (nano_rand_bytes(bytes, chunk) != 0) {
            return -1;
        }
        nano_hex_encode(out, bytes, chunk);
        out += 2 * chunk;
        n -= chunk;
    }
    *out = '\0';
    return 0;
}

int
nano_rand_uuid(char *out)
{
    unsigned char  b[16];

    if (nano_rand_bytes(b, sizeof(b)) != 0) {
        return -1;
    }
    b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);     /* version 4 */
    b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);     /* RFC 4122 variant */
    snprintf(out, NANO_RAND_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

int
nano_rand_cuid(char *out)
{
    static const char  digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    unsigned char      b[64];
    size_t             i, used = sizeof(b), n = 0;

    out[n++] = 'c';
    while (n < NANO_RAND_CUID_LEN) {
        if (used == sizeof(b)) {
            if (nano_rand_bytes(b, sizeof(b)) != 0) {
                return -1;
            }
            used = 0;
        }
        i = b[used++];
        /* 252 = 7 * 36: rejecting the rest keeps every digit equally
         * likely. */
        if (i < 252) {
            out[n++] = digits[i % 36];
        }
    }
    out[n] = '\0';
    return 0;
}
