/* What several harnesses share. */

#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The input after its first byte (which picks what to fuzz), in a heap
 * block of exactly its length, so that AddressSanitizer sees a read past
 * it.  The caller frees it.  Out of memory ends the run (the fuzzer
 * reports it). */
static inline char *
fuzz_rest(const uint8_t *data, size_t size)
{
    char  *buf = malloc(size > 1 ? size - 1 : 1);

    if (buf == NULL) {
        abort();
    }
    if (size > 1) {
        memcpy(buf, data + 1, size - 1);
    }
    return buf;
}

/* 1 when s holds a C0 control character or DEL. */
static inline int
fuzz_has_ctl(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char) *s < 0x20 || *s == 0x7f) {
            return 1;
        }
    }
    return 0;
}

/* The length of the next chunk of a body fed in pieces, of the left
 * bytes: all of them for seed 0, else 1 to 3 or 1 to 97 by a small
 * generator that *seed carries from one chunk to the next. */
static inline size_t
fuzz_chunk_len(unsigned *seed, size_t left)
{
    size_t  n;

    if (*seed == 0) {
        return left;
    }
    *seed = *seed * 1103515245u + 12345u;
    n = 1 + (*seed >> 16) % ((*seed & 0x100) ? 3 : 97);
    return n < left ? n : left;
}

#endif /* FUZZ_COMMON_H */
