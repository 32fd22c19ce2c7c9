/*
 * multipart/form-data (RFC 7578) parsed as it streams in: the body is
 * fed in chunks of any size and each part is handed on as it arrives,
 * so nothing holds a whole body.  Strict: CRLF line ends, a name on
 * every part, bounded header lines and part counts.
 */

#ifndef NANO_MULTIPART_H
#define NANO_MULTIPART_H

#include <stddef.h>

#define NANO_MULTIPART_BOUNDARY_MAX  70     /* RFC 2046 */
#define NANO_MULTIPART_LINE_MAX      1024   /* a part's header line */
#define NANO_MULTIPART_PARTS_MAX     16

/*
 * What the parser calls.  begin: a part's headers were read; name is
 * never empty, filename is NULL for a text field (it may be "" for a
 * file input left empty), content_type "" when absent; all three are
 * borrowed until the part ends.  data: the next bytes of the part's
 * content.  end: the part is complete.  Each returns 0 to go on, or
 * anything else to stop the parser (nano_multipart_feed then returns
 * NANO_MULTIPART_STOPPED).
 */
typedef struct {
    int  (*begin)(void *arg, const char *name, const char *filename,
                  const char *content_type);
    int  (*data)(void *arg, const char *p, size_t len);
    int  (*end)(void *arg);
} nano_multipart_cb_t;

/* nano_multipart_feed() / _finish() results */
#define NANO_MULTIPART_OK         0
#define NANO_MULTIPART_MALFORMED  (-1)   /* nano_multipart_error() says why */
#define NANO_MULTIPART_STOPPED    (-2)   /* a callback stopped it */

typedef struct {
    const nano_multipart_cb_t  *cb;
    void                       *arg;
    char                        delim[4 + NANO_MULTIPART_BOUNDARY_MAX + 1];
    size_t                      dlen;          /* "\r\n--" + boundary */
    int                         state;
    size_t                      match;         /* delimiter bytes seen */
    int                         parts;
    char                        line[NANO_MULTIPART_LINE_MAX + 1];
    size_t                      line_len;
    char                        name[NANO_MULTIPART_LINE_MAX + 1];
    char                        filename[NANO_MULTIPART_LINE_MAX + 1];
    char                        content_type[NANO_MULTIPART_LINE_MAX + 1];
    int                         has_name;
    int                         has_filename;
    int                         has_filename_ext;  /* filename*= */
    const char                 *error;         /* static text */
} nano_multipart_t;

/*
 * Copies the boundary parameter of a multipart/form-data Content-Type
 * (token or quoted string; 1..70 of RFC 2046's characters) into out
 * (at least NANO_MULTIPART_BOUNDARY_MAX + 1 bytes).  0, or -1 when the
 * type is not multipart/form-data or has no valid boundary.
 */
int nano_multipart_boundary(const char *content_type, char *out,
    size_t outlen);

/* Prepares mp for one body; boundary as nano_multipart_boundary gives
 * it; cb and arg are borrowed.  0, or -1 for an invalid boundary. */
int nano_multipart_init(nano_multipart_t *mp, const char *boundary,
    const nano_multipart_cb_t *cb, void *arg);

/* Accepts NULL and may run twice (the parser owns no memory). */
void nano_multipart_cleanup(nano_multipart_t *mp);

/*
 * Parses the next len bytes.  Returns NANO_MULTIPART_OK,
 * NANO_MULTIPART_MALFORMED or NANO_MULTIPART_STOPPED; after a failure
 * every later call fails the same way.  Bytes after the closing
 * delimiter (the epilogue) are ignored.
 */
int nano_multipart_feed(nano_multipart_t *mp, const char *p, size_t len);

/* At the end of the body: NANO_MULTIPART_OK when the closing delimiter
 * was seen, else NANO_MULTIPART_MALFORMED (or the earlier failure). */
int nano_multipart_finish(nano_multipart_t *mp);

/* Why the body was refused (static text, for a 400), or NULL. */
const char *nano_multipart_error(const nano_multipart_t *mp);

#endif /* NANO_MULTIPART_H */
