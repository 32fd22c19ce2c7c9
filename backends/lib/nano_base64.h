/*
 * Standard base64 (RFC 4648 section 4, with padding) for provider bodies:
 * images sent to and received from providers; base64url for OAuth.
 */

#ifndef NANO_BASE64_H
#define NANO_BASE64_H

#include <stddef.h>

/* The encoded length of n bytes, without the NUL. */
size_t nano_base64_encoded_len(size_t n);

/* A new NUL-terminated string (caller frees) with p's n bytes encoded;
 * NULL when out of memory. */
char *nano_base64_encode(const unsigned char *p, size_t n);

/* The same in base64url without padding (RFC 4648 section 5), as JWS
 * parts and PKCE challenges are written; NULL when out of memory.  Its
 * strict decoder is nano_b64url_decode (nano_token.h). */
char *nano_base64url_encode(const unsigned char *p, size_t n);

/*
 * Decodes len characters of s into a new buffer (caller frees; *out_len
 * set).  Padding is optional, whitespace (space, CR, LF, tab) is
 * skipped; any other character, a lone trailing character or data after
 * padding is refused.  At most max decoded bytes (0: no limit).  Returns
 * the buffer, or NULL: *out_len is then 0 for bad input and 1 for a
 * result over max or out of memory.
 */
unsigned char *nano_base64_decode(const char *s, size_t len, size_t max,
    size_t *out_len);

#endif /* NANO_BASE64_H */
