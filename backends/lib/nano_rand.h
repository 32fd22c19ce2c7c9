/*
 * Random identifiers from the kernel's CSPRNG: CSRF tokens, session ids
 * (jti), user ids.
 */

#ifndef NANO_RAND_H
#define NANO_RAND_H

#include <stddef.h>

#define NANO_RAND_UUID_LEN   36    /* without the NUL */
#define NANO_RAND_CUID_LEN   25    /* "c" + 24, without the NUL */

/* Fills buf with n random bytes; 0, or -1 when the kernel refuses. */
int nano_rand_bytes(void *buf, size_t n);

/* Writes n random bytes as 2n lower-case hex digits plus a NUL into out
 * (2n + 1 bytes). */
int nano_rand_hex(char *out, size_t n);

/* Writes a random (version 4) UUID plus a NUL into out (37 bytes). */
int nano_rand_uuid(char *out);

/* Writes a cuid-like id, "c" followed by 24 random lower-case base36
 * characters, plus a NUL into out (26 bytes). */
int nano_rand_cuid(char *out);

#endif /* NANO_RAND_H */
