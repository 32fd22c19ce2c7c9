/*
 * The JOSE pieces both token formats share (nano_token.c reads JWS,
 * nano_jwe.c JWE): strict base64url, and the small in-place JSON scanner
 * that reads a protected header and a claims set.  Plain C, no nginx
 * types, no allocation.
 */

#ifndef NANO_JOSE_H
#define NANO_JOSE_H

#include <stddef.h>
#include <sys/types.h>

#include "nano_token.h"

/* The protected header members we read; a string's data is NULL when
 * the member is absent. */
typedef struct {
    nano_str_t   alg;
    nano_str_t   enc;
    nano_str_t   kid;
    unsigned     zip:1;        /* "zip" present: compressed, refused */
    unsigned     crit:1;       /* "crit" present: we know no extension */
} nano_jose_header_t;

/*
 * Strict base64url without padding (a leftover character, or leftover
 * bits that are not zero, are refused): decodes len characters into out
 * (cap bytes).  Returns the decoded length, or -1.
 */
ssize_t nano_jose_b64url_decode(const char *in, size_t len,
    unsigned char *out, size_t cap);

/* Encodes len bytes into out (room for (len + 2) / 3 * 4 + 1 bytes),
 * NUL-terminated, without padding; returns the encoded length. */
size_t nano_jose_b64url_encode(const unsigned char *in, size_t len,
    char *out);

/*
 * Parses a protected header: one JSON object, decoded in place (the
 * strings in *h point into json).  alg, enc and kid must be strings;
 * any of alg, enc, kid, zip, crit twice is refused.  Returns 0 or -1.
 */
int nano_jose_header(char *json, size_t len, nano_jose_header_t *h);

/*
 * Parses a claims set in place into *claims: sub and exp required, sub,
 * email, name, picture and jti strings (all but sub may be null) without
 * control characters, numeric dates whole seconds, no claim twice.
 * Returns 0 or -1 (claims then partly filled: the caller clears them).
 */
int nano_jose_claims(char *json, size_t len, nano_claims_t *claims);

/*
 * 1 when the well-formed UTF-8 string holds a control character: C0
 * (0x00-0x1f), DEL (0x7f) or C1 (U+0080-U+009F).  Identities end up in
 * headers, logs and pages, so no identity claim may hold one.
 */
int nano_jose_has_control(const nano_str_t *s);

#endif /* NANO_JOSE_H */
