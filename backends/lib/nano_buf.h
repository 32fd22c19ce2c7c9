/*
 * Growable, always NUL-terminated byte buffers for building bodies,
 * headers and pages.  An allocation failure makes the buffer "failed":
 * later appends do nothing, so a caller may append many pieces and check
 * once at the end.
 */

#ifndef NANO_BUF_H
#define NANO_BUF_H

#include <stddef.h>

typedef struct {
    char    *data;     /* NUL-terminated when not NULL */
    size_t   len;
    size_t   cap;
    int      failed;   /* an append ran out of memory */
} nano_buf_t;

void nano_buf_init(nano_buf_t *b);

/* Frees the contents; accepts NULL and may run twice. */
void nano_buf_cleanup(nano_buf_t *b);

/* Each append returns 0, or -1 when the buffer is (now) failed. */
int nano_buf_append(nano_buf_t *b, const char *s, size_t n);
int nano_buf_puts(nano_buf_t *b, const char *s);
int nano_buf_printf(nano_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends s with & < > " ' escaped for HTML text and attribute values. */
int nano_buf_html(nano_buf_t *b, const char *s);

/* Appends s percent-encoded for a query component (RFC 3986 unreserved
 * characters are kept). */
int nano_buf_urlencode(nano_buf_t *b, const char *s);

/* Hands the contents over (caller frees with free()) and resets b; NULL
 * when the buffer failed.  An empty buffer yields "". */
char *nano_buf_steal(nano_buf_t *b);

#endif /* NANO_BUF_H */
