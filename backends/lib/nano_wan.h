/*
 * Alibaba DashScope's asynchronous video wire format (wan-2.5): the
 * submit request and answer (a task id), the poll answer (status, video
 * url, failure code), the error shape {"request_id","code","message"}
 * and the poll backoff.
 *
 * The transport POSTs nano_wan_submit_body() to base +
 * nano_wan_submit_path() with "Content-Type: application/json",
 * "Authorization: Bearer <key>" and NANO_WAN_ASYNC_HEADER; stores the
 * task id (phase submitted) before anything else; then GETs base +
 * nano_wan_poll_path() after nano_wan_poll_delay_ms() until a final
 * status, and downloads video_url at once (it expires in about 24 h).
 * A submit is never retried after a timeout (it may have been
 * accepted); a poll may always be repeated.
 */

#ifndef NANO_WAN_H
#define NANO_WAN_H

#include <stddef.h>
#include <stdint.h>

#include "nano_provider.h"

#define NANO_WAN_DEFAULT_MODEL      "wan2.5-t2v-preview"
#define NANO_WAN_I2V_MODEL          "wan2.5-i2v-preview"
#define NANO_WAN_ASYNC_HEADER       "X-DashScope-Async: enable"
#define NANO_WAN_TASK_ID_MAX        128
#define NANO_WAN_POLL_BASE_MS       1000
#define NANO_WAN_POLL_CAP_MS        8000

typedef struct {
    const char  *model;            /* NULL: t2v, or i2v with img_url */
    const char  *prompt;           /* required */
    const char  *negative_prompt;  /* optional */
    const char  *img_url;          /* optional: the first frame (i2v) */
    const char  *size;             /* "1280*720" …; NULL: "1280*720" */
    int          duration;         /* 5 or 10; 0: 5 */
    long long    seed;             /* < 0: not sent */
    int          prompt_extend;    /* < 0: not sent, else a boolean */
    int          audio;            /* < 0: not sent, else a boolean */
} nano_wan_request_t;

/* "/api/v1/services/aigc/video-generation/video-synthesis" */
const char *nano_wan_submit_path(void);

/* Writes "/api/v1/tasks/<task_id>" into buf; -1 when it does not fit or
 * task_id is empty or holds characters other than [A-Za-z0-9_-]. */
int nano_wan_poll_path(const char *task_id, char *buf, size_t size);

/* The submit body (new string, caller frees); NULL for a missing
 * prompt, a size or duration not accepted, text that is not UTF-8, or no
 * memory.  The sizes wan2.5 accepts, width*height: 832*480, 480*832,
 * 624*624 (480P); 1280*720, 720*1280, 960*960, 1088*832, 832*1088
 * (720P); 1920*1080, 1080*1920, 1440*1440, 1632*1248, 1248*1632 (1080P).
 * With img_url, parameters carry "resolution" (480P, 720P, 1080P, from
 * size) instead of "size", as i2v wants. */
char *nano_wan_submit_body(const nano_wan_request_t *r);

/* The size s names ("1280x720" as people write it, "1280*720" as
 * DashScope does) in DashScope's form, when it is one of those a
 * generation may ask for: 1280*720, 720*1280, 832*480, 480*832,
 * 1920*1080, 1080*1920, out of the same table nano_wan_submit_body
 * takes its sizes from; else NULL.  Static. */
const char *nano_wan_size_offered(const char *s);

/* "size must be one of 1280*720, …": the refusal that names exactly the
 * sizes nano_wan_size_offered takes.  Static. */
const char *nano_wan_sizes_offered_rule(void);

/* The n-th size a generation may ask for (from 0, in the table's order,
 * the first the default), as people write it ("1280x720", what
 * GET /<m>/api/models lists for the page), into buf; 0, or -1 past the
 * last (or when buf is too small). */
int nano_wan_size_offered_nth(size_t n, char *buf, size_t size);

/*
 * Reads a submit answer's output.task_id into task_id
 * (NANO_WAN_TASK_ID_MAX bytes).  Returns 0; -1 with err bad_response
 * (no task id, or one unfit for a path) or the error the body carries.
 */
int nano_wan_parse_submit(const char *body, size_t len, char *task_id,
    nano_provider_error_t *err);

typedef enum {
    NANO_WAN_PENDING = 0,
    NANO_WAN_RUNNING,
    NANO_WAN_SUCCEEDED,
    NANO_WAN_FAILED,
    NANO_WAN_CANCELED,
    NANO_WAN_UNKNOWN
} nano_wan_status_t;

/* "PENDING" … "UNKNOWN" */
const char *nano_wan_status_name(nano_wan_status_t s);

typedef struct {
    nano_wan_status_t   status;
    char               *video_url;       /* owned, SUCCEEDED only */
    char                code[64];        /* output.code on failure */
    double              video_duration;  /* usage.video_duration; 0 */
} nano_wan_task_t;

void nano_wan_task_init(nano_wan_task_t *t);

/* Frees what t owns; accepts NULL, may run twice. */
void nano_wan_task_cleanup(nano_wan_task_t *t);

/*
 * Reads a poll answer into t (cleaned up first).  Returns 0 for
 * PENDING, RUNNING (poll again) and SUCCEEDED (with video_url); -1 with
 * err otherwise: FAILED mapped by output.code (DataInspectionFailed and
 * other content checks blocked), CANCELED and UNKNOWN (a task that
 * does not exist or expired) provider_error, a SUCCEEDED without a url
 * or a body without a known status bad_response.  Never retryable: a
 * final status does not change.
 */
int nano_wan_parse_poll(const char *body, size_t len, nano_wan_task_t *t,
    nano_provider_error_t *err);

/*
 * Fills err from a failed submit or poll: InvalidApiKey and 401/403
 * provider_auth; Throttling… 429 provider_quota (retryable); Arrearage
 * provider_quota (not retryable); DataInspectionFailed blocked;
 * InvalidParameter and other 4xx bad_request; 5xx provider_error.
 * Returns -1.
 */
int nano_wan_parse_error(long status, const char *body, size_t len,
    nano_provider_error_t *err);

/* How long to wait before poll number attempt (0, 1, …): 1 s doubling
 * to a cap of 8 s, jittered into [75 %, 100 %] by rnd. */
long nano_wan_poll_delay_ms(unsigned attempt, uint32_t rnd);

#endif /* NANO_WAN_H */
