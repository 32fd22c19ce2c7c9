/*
 * Server-Sent Events parsing, byte by byte, across arbitrary chunks.
 */

#include <string.h>

#include "nano_sse.h"

/* A line may hold the field name besides max_event bytes of data. */
#define NANO_SSE_FIELD_ROOM  64

void
nano_sse_init(nano_sse_t *s, size_t max_event)
{
    memset(s, 0, sizeof(*s));
    nano_buf_init(&s->line);
    nano_buf_init(&s->data);
    s->max_event = max_event ? max_event : NANO_SSE_DEFAULT_MAX;
}

void
nano_sse_cleanup(nano_sse_t *s)
{
    if (s == NULL) {
        return;
    }
    nano_buf_cleanup(&s->line);
    nano_buf_cleanup(&s->data);
    s->has_data = 0;
    s->event[0] = '\0';
}

static void
nano_sse_reset_event(nano_sse_t *s)
{
    s->data.len = 0;
    if (s->data.data != NULL) {
        s->data.data[0] = '\0';
    }
    s->has_data = 0;
    s->event[0] = '\0';
}

/* Handles one complete line (without its end). */
static int
nano_sse_line(nano_sse_t *s, nano_sse_cb cb, void *ctx)
{
    const char  *line = s->line.data ? s->line.data : "";
    size_t       len = s->line.len, nlen;
    const char  *colon, *value;
    size_t       vlen;
    int          rc;

    /* the stream's UTF-8 byte order mark, which the format drops */
    if (!s->started) {
        s->started = 1;
        if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            len -= 3;
        }
    }
    if (len == 0) {
        if (!s->has_data) {
            nano_sse_reset_event(s);
            return 0;
        }
        s->events++;
        rc = cb(ctx, s->event[0] ? s->event : "message",
                s->data.data ? s->data.data : "", s->data.len);
        nano_sse_reset_event(s);
        return rc;
    }
    if (line[0] == ':') {
        return 0;
    }
    colon = memchr(line, ':', len);
    nlen = colon ? (size_t) (colon - line) : len;
    if (colon) {
        value = colon + 1;
        vlen = len - nlen - 1;
        if (vlen > 0 && value[0] == ' ') {
            value++;
            vlen--;
        }
    } else {
        value = "";
        vlen = 0;
    }
    if (nlen == 4 && memcmp(line, "data", 4) == 0) {
        if (s->has_data && nano_buf_append(&s->data, "\n", 1) != 0) {
            return NANO_SSE_NOMEM;
        }
        if (s->data.len + vlen > s->max_event) {
            return NANO_SSE_TOO_LARGE;
        }
        if (nano_buf_append(&s->data, value, vlen) != 0) {
            return NANO_SSE_NOMEM;
        }
        s->has_data = 1;
    } else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
        if (vlen >= sizeof(s->event)) {
            vlen = sizeof(s->event) - 1;
        }
        memcpy(s->event, value, vlen);
        s->event[vlen] = '\0';
    }
    /* id, retry and unknown fields are ignored */
    return 0;
}

int
nano_sse_feed(nano_sse_t *s, const char *p, size_t n, nano_sse_cb cb,
    void *ctx)
{
    size_t  i, start;
    int     rc;

    if (s->status != NANO_SSE_OK) {
        return s->status;
    }
    start = 0;
    for (i = 0; i < n; i++) {
        if (p[i] != '\n' && p[i] != '\r') {
            s->cr = 0;
            continue;
        }
        if (p[i] == '\n' && s->cr && i == start) {
            /* the "\n" of a "\r\n" whose "\r" ended the line already */
            s->cr = 0;
            start = i + 1;
            continue;
        }
        if (s->line.len + (i - start) > s->max_event + NANO_SSE_FIELD_ROOM) {
            rc = NANO_SSE_TOO_LARGE;
            goto stop;
        }
        if (nano_buf_append(&s->line, p + start, i - start) != 0) {
            rc = NANO_SSE_NOMEM;
            goto stop;
        }
        s->cr = p[i] == '\r';
        start = i + 1;
        rc = nano_sse_line(s, cb, ctx);
        s->line.len = 0;
        if (s->line.data != NULL) {
            s->line.data[0] = '\0';
        }
        if (rc != 0) {
            goto stop;
        }
    }
    if (start < n) {
        if (s->line.len + (n - start) > s->max_event + NANO_SSE_FIELD_ROOM) {
            rc = NANO_SSE_TOO_LARGE;
            goto stop;
        }
        if (nano_buf_append(&s->line, p + start, n - start) != 0) {
            rc = NANO_SSE_NOMEM;
            goto stop;
        }
    }
    return NANO_SSE_OK;

stop:
    s->status = rc;
    return rc;
}

int
nano_sse_pending(const nano_sse_t *s)
{
    return s->line.len > 0 || s->has_data;
}

const char *
nano_sse_strerror(int status)
{
    switch (status) {
    case NANO_SSE_OK:
        return "no error";
    case NANO_SSE_NOMEM:
        return "out of memory while reading the event stream";
    case NANO_SSE_TOO_LARGE:
        return "an event in the stream is larger than allowed";
    default:
        return "the event stream was stopped";
    }
}
