/*
 * JSON whose long plain strings stay in the caller's buffer.  A provider
 * answers an image as one base64 string of 100 KiB to megabytes inside a
 * small document; jansson would copy and check it byte by byte twice,
 * which costs more than decoding it.  Here such a string is replaced by a
 * short stand-in before jansson parses the rest, and read back in place.
 *
 * Only the values of the members the caller names are lifted, so that
 * every other string reads as usual.  The documents accepted are exactly
 * those json_loadb accepts: only a string of printable ASCII without
 * escapes is lifted, which is valid JSON as it is, and nothing is lifted
 * from a document that spells U+0001 (the stand-ins start with it).
 */

#ifndef NANO_JSON_LIFT_H
#define NANO_JSON_LIFT_H

#include <stddef.h>

#include <jansson.h>

/* Strings shorter than this are parsed as usual. */
#define NANO_JSON_LIFT_MIN  4096

typedef struct {
    const char  *buf;      /* the caller's document */
    size_t      *off;      /* each lifted string: its offset in buf */
    size_t      *len;      /* and its length */
    size_t       n;
} nano_json_lift_t;

/*
 * Parses len bytes of buf as json_loadb(buf, len, flags, err) would, with
 * the long plain string values of the members named in keys (a NULL-ended
 * list) lifted, wherever they are; the root (caller decrefs) or NULL.
 * buf must outlive l.  An error's position is that of the shortened text.
 */
json_t *nano_json_lift_load(nano_json_lift_t *l, const char *buf,
    size_t len, const char *const *keys, size_t flags, json_error_t *err);

/*
 * The bytes of the string v (not NUL-terminated when lifted), their
 * count in *len; NULL when v is not a string.
 */
const char *nano_json_lift_str(const nano_json_lift_t *l, const json_t *v,
    size_t *len);

/* Frees what nano_json_lift_load kept (not the root); may run twice. */
void nano_json_lift_free(nano_json_lift_t *l);

#endif /* NANO_JSON_LIFT_H */
