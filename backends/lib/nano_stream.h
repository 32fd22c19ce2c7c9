/*
 * Streaming replies: a handler that answers as it goes (Server-Sent
 * Events for text generation) writes through this API instead of filling
 * a nano_res_t.  Headers go out at once, every write is flushed, and a
 * write that fails means the client left: the handler stops its work.
 * Only the request's own worker thread ever writes to its stream.
 */

#ifndef NANO_STREAM_H
#define NANO_STREAM_H

#include <stdatomic.h>
#include <stddef.h>

#include <jansson.h>

#include "nano_http.h"

/* What a handler returns once it streamed its answer (the server then
 * writes nothing more). */
#define NANO_STREAMED  1000

/*
 * Takes one of max places counted in *used (a stream slot, an export):
 * 0, or -1 when all max are taken, *used then unchanged.  Give it back
 * with atomic_fetch_sub(used, 1).
 */
int nano_places_take(atomic_int *used, int max);

/*
 * Takes one of the process's stream slots (NANO_MAX_STREAMS, default
 * the worker count - 4, at least 1) for the rest of the request.
 * Returns 0, or -1 when all are taken: answer 429 too_many_streams.
 * Call it before any work that costs (credits), so a refusal costs
 * nothing.
 */
int nano_stream_acquire(nano_req_t *req);

/*
 * The same, waiting up to ms for a slot to come free: a whole (not
 * streamed) text answer holds its worker for the provider's whole time
 * as a stream does, so it takes a slot too, which leaves workers for
 * every other request; the wait lets a burst of short refusals (402s)
 * pass without 429s.  -1 after ms.
 */
int nano_stream_acquire_wait(nano_req_t *req, long ms);

/*
 * Sends the status line and headers now: content_type, Cache-Control
 * no-store, X-Accel-Buffering: no (nginx passes each write on at once),
 * plus the header lines already added to res (may be NULL).  Returns 0,
 * or -1 when the client is gone.
 */
int nano_stream_begin(nano_req_t *req, int status, const char *content_type,
    const nano_res_t *res);

/* Writes len bytes and flushes.  0, or -1 when the client is gone (also
 * on every later call). */
int nano_stream_write(nano_req_t *req, const char *data, size_t len);

/* Writes what b holds (as nano_stream_write) and empties it, for a
 * writer that gathers rows before a write.  0, or -1 when b ran out of
 * memory or the client is gone. */
int nano_stream_write_buf(nano_req_t *req, nano_buf_t *b);

/* What such a writer gathers before a write: one flush per 64 KiB, not
 * per row. */
#define NANO_STREAM_CHUNK  (64 * 1024)

/* nano_stream_write_buf once b holds NANO_STREAM_CHUNK bytes or ran out
 * of memory; 0 while it gathers. */
int nano_stream_write_full(nano_req_t *req, nano_buf_t *b);

/*
 * Writes one SSE event "event: <event>\ndata: <compact JSON>\n\n" and
 * flushes; data is stolen (may be NULL after a failed json_pack: -1).
 * event may be NULL for a data-only event.  0 or -1 as above.
 */
int nano_sse_event(nano_req_t *req, const char *event, json_t *data);

/*
 * Writes an SSE comment ": ping\n\n" and flushes: libfcgi notices a
 * client that left only at a flush, so a handler waiting on a slow
 * provider calls this every NANO_SSE_HEARTBEAT_MS (5000).  0 or -1.
 */
#define NANO_SSE_HEARTBEAT_MS  5000
int nano_sse_heartbeat(nano_req_t *req);

/*
 * 1 when nginx closed the request's connection before anything was
 * written (it stopped waiting: its fastcgi_read_timeout, or its client
 * left), without reading or writing; the stream is then gone.  For a
 * handler that answers whole after a long wait and would otherwise
 * learn it only when its answer fails to go out.
 */
int nano_stream_peer_closed(nano_req_t *req);

/*
 * Cuts the stream short after a failure once its status line went out:
 * the connection to nginx is shut, so nginx ends the client's response
 * without its last chunk and the client sees a download that failed,
 * not a shorter one that looks whole (a CSV cut at a row's end does).
 * Later writes fail.
 */
void nano_stream_abort(nano_req_t *req);

/* For the server.  Sets the number of stream slots (at least 1), once
 * before the workers start. */
void nano_stream_slots_init(int slots);

/* For the server, at the end of every request: gives its slot back.
 * May run twice. */
void nano_stream_release(nano_req_t *req);

#endif /* NANO_STREAM_H */
