/*
 * Strict UTF-8 (RFC 3629): the one validator the gateway, the backends
 * and the platform share.  Plain C, no nginx types.
 */

#ifndef NANO_UTF8_H
#define NANO_UTF8_H

#include <stddef.h>

/*
 * Length of the well-formed UTF-8 sequence that starts at s (at most
 * len bytes available): 1 to 4, or 0 when it is not one (a stray
 * continuation byte, an overlong form, a surrogate, a code point past
 * U+10FFFF, a truncated sequence).  len must be at least 1.
 */
size_t nano_utf8_seq(const unsigned char *s, size_t len);

/*
 * Counts the characters of len bytes of s, or returns -1 when they are
 * not strict UTF-8.  NUL bytes are characters here; callers that keep C
 * strings check for them separately.
 */
long nano_utf8_count(const char *s, size_t len);

/* 1 when the NUL-terminated s is strict UTF-8, else 0. */
int nano_utf8_valid(const char *s);

#endif /* NANO_UTF8_H */
