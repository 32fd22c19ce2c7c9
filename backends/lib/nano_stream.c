/*
 * Streamed replies on the request worker's own FastCGI stream.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "nano_clock.h"
#include "nano_log.h"
#include "nano_stream.h"

/* A write that cannot go out for this long (nginx not reading: its
 * client stopped reading) counts as a client that left. */
#define NANO_STREAM_SEND_TIMEOUT_SEC  30
#define NANO_STREAM_WRITE_MAX         (1024 * 1024)   /* per FCGX_PutStr */

static atomic_int  nano_stream_used;
static int         nano_stream_max = 1;

/* nano_stream_acquire_wait's waiters, woken by each release */
static pthread_mutex_t  nano_stream_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t   nano_stream_freed = PTHREAD_COND_INITIALIZER;

void
nano_stream_slots_init(int slots)
{
    nano_stream_max = slots > 0 ? slots : 1;
    atomic_store(&nano_stream_used, 0);
}

int
nano_places_take(atomic_int *used, int max)
{
    int  n = atomic_load(used);

    do {
        if (n >= max) {
            return -1;
        }
    } while (!atomic_compare_exchange_weak(used, &n, n + 1));
    return 0;
}

int
nano_stream_acquire(nano_req_t *req)
{
    if (req->stream.slot) {
        return 0;
    }
    if (nano_places_take(&nano_stream_used, nano_stream_max) != 0) {
        return -1;
    }
    req->stream.slot = 1;
    return 0;
}

int
nano_stream_acquire_wait(nano_req_t *req, long ms)
{
    struct timespec  until;
    int              rc = 0;

    if (nano_stream_acquire(req) == 0) {
        return 0;
    }
    nano_clock_after(CLOCK_REALTIME, ms, &until);
    pthread_mutex_lock(&nano_stream_lock);
    /* tried again under the lock: a release signals only under it */
    while (nano_stream_acquire(req) != 0) {
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&nano_stream_lock);
            return -1;
        }
        rc = pthread_cond_timedwait(&nano_stream_freed, &nano_stream_lock,
                                    &until);
    }
    pthread_mutex_unlock(&nano_stream_lock);
    return 0;
}

void
nano_stream_release(nano_req_t *req)
{
    if (req != NULL && req->stream.slot) {
        atomic_fetch_sub(&nano_stream_used, 1);
        req->stream.slot = 0;
        pthread_mutex_lock(&nano_stream_lock);
        pthread_cond_signal(&nano_stream_freed);
        pthread_mutex_unlock(&nano_stream_lock);
    }
}

int
nano_stream_peer_closed(nano_req_t *req)
{
    struct pollfd  pfd;

    if (req->stream.gone) {
        return 1;
    }
    if (req->stream.fd < 0) {
        return 0;
    }
    /* POLLRDHUP: the peer's close shows even behind unread bytes */
    pfd.fd = req->stream.fd;
    pfd.events = POLLRDHUP;
    pfd.revents = 0;
    if (poll(&pfd, 1, 0) == 1
        && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
    {
        req->stream.gone = 1;
        return 1;
    }
    return 0;
}

/* Writes and flushes; libfcgi reports a closed connection only through
 * the stream's error once a flush failed (FCGX_FFlush itself answers 0
 * on a stream that is already closed), so all three are checked. */
static int
nano_stream_put(nano_req_t *req, const char *data, size_t len)
{
    struct FCGX_Stream  *out = req->stream.out;
    size_t               n;

    if (req->stream.gone) {
        return -1;
    }
    while (len > 0) {
        n = len < NANO_STREAM_WRITE_MAX ? len : NANO_STREAM_WRITE_MAX;
        if (FCGX_PutStr(data, (int) n, out) != (int) n) {
            goto gone;
        }
        data += n;
        len -= n;
    }
    if (FCGX_FFlush(out) != 0 || FCGX_GetError(out) != 0) {
        goto gone;
    }
    return 0;

gone:
    req->stream.gone = 1;
    nano_log_warn("%s %s%s: the client went away mid-stream", req->method,
                  req->script_name, req->path);
    return -1;
}

void
nano_stream_abort(nano_req_t *req)
{
    /* a record of FastCGI version 0: nginx takes the upstream for broken
     * and closes the client's connection without the last chunk (a plain
     * close before END_REQUEST it takes for the end of the answer).  Every
     * write was flushed, so this starts a record.  The shutdown then
     * fails libfcgi's END_REQUEST, whose failure makes FCGX_Finish_r close
     * the connection rather than keep it for nginx's next request. */
    static const char  broken[8] = { 0 };

    if (req->stream.fd >= 0 && !req->stream.gone) {
        if (write(req->stream.fd, broken, sizeof(broken)) < 0) {
            /* the connection is gone already: nothing to cut */
        }
        shutdown(req->stream.fd, SHUT_RDWR);
    }
    req->stream.gone = 1;
}

int
nano_stream_begin(nano_req_t *req, int status, const char *content_type,
    const nano_res_t *res)
{
    struct timeval  tv = { NANO_STREAM_SEND_TIMEOUT_SEC, 0 };
    nano_buf_t      head;
    int             rc = -1;

    nano_buf_init(&head);
    if (req->stream.begun || req->stream.out == NULL || status < 100
        || status > 599 || content_type == NULL)
    {
        nano_log_error("%s %s%s: nano_stream_begin called twice or without"
                       " a stream", req->method, req->script_name,
                       req->path);
        goto out;
    }
    if (nano_stream_acquire(req) != 0) {
        nano_log_error("%s %s%s: a stream began without"
                       " nano_stream_acquire and no slot is free",
                       req->method, req->script_name, req->path);
        goto out;
    }
    if (nano_res_head(status, content_type, res, &head) != 0
        || nano_buf_puts(&head, "X-Accel-Buffering: no\r\n\r\n") != 0)
    {
        nano_log_error("%s %s%s: the stream's headers could not be built",
                       req->method, req->script_name, req->path);
        goto out;
    }
    if (req->stream.fd >= 0) {
        setsockopt(req->stream.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    /* from here on the server must write nothing, whatever happens */
    req->stream.begun = 1;
    req->stream.status = status;
    rc = nano_stream_put(req, head.data, head.len);
out:
    nano_buf_cleanup(&head);
    return rc;
}

int
nano_stream_write(nano_req_t *req, const char *data, size_t len)
{
    if (!req->stream.begun) {
        nano_log_error("%s %s%s: nano_stream_write before"
                       " nano_stream_begin", req->method, req->script_name,
                       req->path);
        return -1;
    }
    if (req->stream.gone) {
        return -1;
    }
    if (strcmp(req->method, "HEAD") == 0) {
        return 0;                   /* the head went out; no body */
    }
    return nano_stream_put(req, data, len);
}

int
nano_stream_write_buf(nano_req_t *req, nano_buf_t *b)
{
    int  rc = b->failed ? -1 : nano_stream_write(req, b->data, b->len);

    nano_buf_cleanup(b);
    nano_buf_init(b);
    return rc;
}

int
nano_stream_write_full(nano_req_t *req, nano_buf_t *b)
{
    return b->len >= NANO_STREAM_CHUNK || b->failed
           ? nano_stream_write_buf(req, b) : 0;
}

int
nano_sse_event(nano_req_t *req, const char *event, json_t *data)
{
    nano_buf_t   ev;
    char        *text = NULL;
    int          rc = -1;

    nano_buf_init(&ev);
    if (data == NULL) {
        goto out;
    }
    if (event != NULL && strpbrk(event, "\r\n") != NULL) {
        nano_log_error("%s %s%s: an SSE event name holds a line break",
                       req->method, req->script_name, req->path);
        goto out;
    }
    text = json_dumps(data, JSON_COMPACT);
    if (text == NULL) {
        goto out;
    }
    if (event != NULL) {
        nano_buf_printf(&ev, "event: %s\n", event);
    }
    nano_buf_printf(&ev, "data: %s\n\n", text);
    if (ev.failed) {
        goto out;
    }
    rc = nano_stream_write(req, ev.data, ev.len);
out:
    free(text);
    json_decref(data);
    nano_buf_cleanup(&ev);
    return rc;
}

int
nano_sse_heartbeat(nano_req_t *req)
{
    static const char  ping[] = ": ping\n\n";

    return nano_stream_write(req, ping, sizeof(ping) - 1);
}
