/*
 * A Server-Sent Events parser (the WHATWG event-stream format) for
 * provider streams: feed it the bytes as they arrive, in chunks split
 * anywhere, and it calls back once per complete event.  Lines end with
 * "\n", "\r\n" or "\r"; ':' lines are comments; "data:" lines of one
 * event are joined with "\n"; "event:" names the event; "id:" and
 * "retry:" are ignored; an event is dispatched at a blank line and only
 * when it has data.  An event left incomplete at the end is dropped.
 */

#ifndef NANO_SSE_H
#define NANO_SSE_H

#include <stddef.h>

#include "nano_buf.h"

#define NANO_SSE_DEFAULT_MAX  (1024 * 1024)

#define NANO_SSE_OK         0
#define NANO_SSE_NOMEM     -1
#define NANO_SSE_TOO_LARGE -2    /* one event (or line) over max_event */

/*
 * Called per event.  event is the event name ("message" when none was
 * given), data the joined data lines, NUL-terminated, len bytes; both
 * borrowed until the callback returns.  Return 0 to go on; any other
 * value stops the parser, and nano_sse_feed returns it.
 */
typedef int (*nano_sse_cb)(void *ctx, const char *event, const char *data,
    size_t len);

typedef struct {
    nano_buf_t   line;        /* the line being read */
    nano_buf_t   data;        /* the event's data so far */
    char         event[64];
    size_t       max_event;
    size_t       events;      /* dispatched so far */
    int          cr;          /* the last byte fed was '\r' */
    int          has_data;
    int          started;     /* a line was read (a BOM goes first) */
    int          status;      /* sticky: 0, or the error that stopped it */
} nano_sse_t;

/* Prepares s; max_event 0 means NANO_SSE_DEFAULT_MAX. */
void nano_sse_init(nano_sse_t *s, size_t max_event);

/* Frees what s holds; accepts NULL, may run twice. */
void nano_sse_cleanup(nano_sse_t *s);

/*
 * Parses n more bytes.  Returns NANO_SSE_OK, NANO_SSE_NOMEM,
 * NANO_SSE_TOO_LARGE, or a callback's non-zero value; after anything but
 * OK every later call returns the same without parsing.
 */
int nano_sse_feed(nano_sse_t *s, const char *p, size_t n, nano_sse_cb cb,
    void *ctx);

/* 1 when bytes of an unfinished event (or line) are pending: at the end
 * of the stream that means it was cut. */
int nano_sse_pending(const nano_sse_t *s);

/* A sentence for a NANO_SSE_* status. */
const char *nano_sse_strerror(int status);

#endif /* NANO_SSE_H */
