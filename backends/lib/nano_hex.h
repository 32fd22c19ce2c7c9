/*
 * Bytes as lower-case hex: tokens, digests and MACs written into cookies,
 * headers and rows.
 */

#ifndef NANO_HEX_H
#define NANO_HEX_H

#include <stddef.h>

/* Writes the n bytes of in as 2n lower-case hex digits plus a NUL into
 * out (2n + 1 bytes). */
void nano_hex_encode(char *out, const void *in, size_t n);

#endif /* NANO_HEX_H */
