/*
 * Video jobs: DashScope's asynchronous Wan 2.5 task (submitted once, its
 * task id recorded before anything else, polled with backoff, the video
 * downloaded at once) and the offline WebM.
 */

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_jobgen.h"
#include "nano_log.h"
#include "nano_video.h"
#include "nano_offline_video.h"
#include "nano_provider_call.h"
#include "nano_wan.h"

#define NANO_JOBGEN_VIDEO_TIMEOUT_MS  120000
#define NANO_JOBGEN_VIDEO_MAX         (256 * 1024 * 1024)
#define NANO_JOBGEN_POLLS_MAX         600      /* ~75 min at the 8 s cap */
#define NANO_JOBGEN_MALFORMED_MAX     5        /* unreadable polls in a row */
#define NANO_JOBGEN_DOWNLOADS_MAX     4        /* rounds of the runner's tries */

/* Where a Wan job stands: which call just finished. */
enum {
    NANO_WAN_STAGE_SUBMIT = 0,
    NANO_WAN_STAGE_POLL,
    NANO_WAN_STAGE_DOWNLOAD
};

typedef struct {
    int       stage;
    unsigned  malformed;    /* unreadable poll answers in a row */
    unsigned  downloads;    /* download rounds that failed */
} nano_jobgen_wan_t;

/* The next poll of the task, after the backoff. */
static nano_job_next_t
nano_jobgen_wan_poll(nano_job_t *job, nano_jobgen_wan_t *w)
{
    nano_provider_error_t  err;
    char                   path[256];

    if (job->polls >= NANO_JOBGEN_POLLS_MAX) {
        return nano_job_fail(job, NANO_PERR_TIMEOUT,
                             "the video took too long at the provider");
    }
    nano_provider_error_init(&err);
    nano_client_call_cleanup(&job->call);
    nano_client_call_init(&job->call, "GET");
    if (nano_wan_poll_path(job->task_id, path, sizeof(path)) != 0
        || nano_provider_call(&job->call, NANO_PROVIDER_WAN, path, &err)
           != 0)
    {
        return nano_job_fail(job, err.code[0] ? err.code
                                              : NANO_PERR_BAD_RESPONSE,
                             err.message[0] ? err.message
                                            : "the task id is not usable");
    }
    job->call.timeout_ms = 30000;
    job->posting = 0;
    job->delay_ms = nano_wan_poll_delay_ms((unsigned) job->polls,
                                           (uint32_t) rand());
    job->polls++;
    w->stage = NANO_WAN_STAGE_POLL;
    return NANO_JOB_CALL;
}

static nano_job_next_t
nano_jobgen_wan_start(nano_job_t *job)
{
    nano_wan_request_t   r;
    nano_jobgen_wan_t   *w;
    nano_job_next_t      next;

    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return nano_job_fail(job, NANO_PERR_PROVIDER, "out of memory");
    }
    job->state = w;
    /* a job taken over after its submit: poll, never submit again */
    if (job->task_id[0] != '\0') {
        return nano_jobgen_wan_poll(job, w);
    }

    memset(&r, 0, sizeof(r));
    r.model = job->gen.model;
    r.prompt = job->gen.prompt;
    r.size = nano_jobgen_param(job, "size");
    r.duration = (int) nano_jobgen_param_int(job, "duration", 5);
    r.seed = nano_jobgen_param_int(job, "seed", -1);
    r.prompt_extend = -1;
    r.audio = -1;
    job->body = nano_wan_submit_body(&r);
    if (job->body == NULL) {
        return nano_job_fail(job, NANO_PERR_BAD_REQUEST,
                             "the request cannot be sent to Wan");
    }
    next = nano_jobgen_post_json(job, NANO_PROVIDER_WAN,
                                 nano_wan_submit_path(),
                                 NANO_JOBGEN_VIDEO_TIMEOUT_MS);
    if (next == NANO_JOB_CALL) {
        nano_client_call_header(&job->call, NANO_WAN_ASYNC_HEADER);
        w->stage = NANO_WAN_STAGE_SUBMIT;
    }
    return next;
}

/* A download that failed past the runner's tries: the video is made and
 * charged, and its URL holds for about a day, so ask for the task again
 * (its URL with it) on the poll's backoff, a few rounds before giving
 * up; a line down for a few seconds failed and refunded it before.
 * 1 when another round may go (the caller polls), 0 when they are used
 * up. */
static int
nano_jobgen_wan_download_again(nano_job_t *job, nano_jobgen_wan_t *w,
    const char *why)
{
    if (++w->downloads >= NANO_JOBGEN_DOWNLOADS_MAX) {
        return 0;
    }
    nano_log_warn("job %s: the video's download failed (%s); tried again"
                  " after the task's next poll", job->gen.id, why);
    return 1;
}

/* The downloaded video: WebM or MP4, by its bytes. */
static nano_job_next_t
nano_jobgen_store_video(nano_job_t *job, nano_jobgen_wan_t *w,
    const nano_client_res_t *res)
{
    const unsigned char  *p = (const unsigned char *) res->body.data;
    const char           *size;
    nano_video_info_t     info;

    if ((res->status == 408 || res->status == 429 || res->status >= 500)
        && nano_jobgen_wan_download_again(job, w, "a busy server"))
    {
        return nano_jobgen_wan_poll(job, w);
    }
    if (res->status != 200 || res->body.len < 12) {
        return nano_job_fail(job, NANO_PERR_PROVIDER,
                             "the video could not be downloaded");
    }
    if (nano_video_sniff(p, res->body.len, &info) != 0) {
        return nano_job_fail(job, NANO_PERR_BAD_RESPONSE,
                             "the provider's video is neither MP4 nor"
                             " WebM");
    }
    /* the connection closed early with no length to tell: the transfer
     * ended well, and a part of the video was stored and charged */
    if (!nano_video_whole(p, res->body.len, &info)) {
        if (nano_jobgen_wan_download_again(job, w, "the video came cut"
                                           " short"))
        {
            return nano_jobgen_wan_poll(job, w);
        }
        return nano_job_fail(job, NANO_PERR_BAD_RESPONSE,
                             "the provider's video is cut short");
    }
    /* a header without a frame size: the size that was asked for */
    size = nano_jobgen_param(job, "size");
    if (info.width == 0 && size != NULL
        && sscanf(size, "%d*%d", &info.width, &info.height) != 2)
    {
        info.width = info.height = 0;
    }
    if (nano_job_store(job, p, res->body.len, info.mime, info.ext,
                       info.width, info.height) != 0)
    {
        return nano_jobgen_not_stored(job, "video", NULL);
    }
    return NANO_JOB_DONE;
}

static nano_job_next_t
nano_jobgen_wan_step(nano_job_t *job, const nano_client_res_t *res)
{
    nano_jobgen_wan_t      *w = job->state;
    nano_provider_error_t   err;
    nano_wan_task_t         task;
    nano_job_next_t         next;
    const char             *body = res->body.data ? res->body.data : "";

    nano_provider_error_init(&err);
    switch (w->stage) {
    case NANO_WAN_STAGE_SUBMIT:
        if (res->status != 200) {
            return nano_jobgen_failed_call(job, NANO_PROVIDER_WAN, res);
        }
        /* the runner records the task id before the first poll goes */
        if (nano_wan_parse_submit(body, res->body.len, job->task_id, &err)
            != 0)
        {
            return nano_job_fail(job, err.code, err.message);
        }
        return nano_jobgen_wan_poll(job, w);

    case NANO_WAN_STAGE_POLL:
        /* throttled or failing past the runner's retries: a poll changes
         * nothing, and the task goes on (and is charged) at DashScope,
         * so poll again on the poll's backoff, within its budget */
        if (res->status == 408 || res->status == 429 || res->status >= 500) {
            return nano_jobgen_wan_poll(job, w);
        }
        if (res->status != 200) {
            return nano_jobgen_failed_call(job, NANO_PROVIDER_WAN, res);
        }
        nano_wan_task_init(&task);
        if (nano_wan_parse_poll(body, res->body.len, &task, &err) != 0) {
            /* an answer we cannot read (a proxy's page, a cut body) says
             * nothing of the task, which goes on and is charged: poll
             * again, unless it keeps coming */
            if (strcmp(err.code, NANO_PERR_BAD_RESPONSE) == 0
                && ++w->malformed < NANO_JOBGEN_MALFORMED_MAX)
            {
                nano_log_warn("job %s: a poll's answer was unreadable (%s);"
                              " polled again", job->gen.id, err.message);
                next = nano_jobgen_wan_poll(job, w);
            } else {
                next = nano_job_fail(job, err.code, err.message);
            }
        } else if (task.status != NANO_WAN_SUCCEEDED) {
            w->malformed = 0;
            next = nano_jobgen_wan_poll(job, w);
        } else {
            /* valid about a day: download it now, without our key */
            nano_client_call_cleanup(&job->call);
            nano_client_call_init(&job->call, "GET");
            if (nano_client_call_url(&job->call, task.video_url, "") != 0) {
                next = nano_job_fail(job, NANO_PERR_BAD_RESPONSE,
                                     "the video URL is too long");
            } else {
                job->call.timeout_ms = NANO_JOBGEN_VIDEO_TIMEOUT_MS;
                job->call.body_max = NANO_JOBGEN_VIDEO_MAX;
                job->call.follow = 1;
                job->delay_ms = 0;
                w->stage = NANO_WAN_STAGE_DOWNLOAD;
                next = NANO_JOB_CALL;
            }
        }
        nano_wan_task_cleanup(&task);
        return next;

    default:
        return nano_jobgen_store_video(job, w, res);
    }
}

/* A call without an answer, past the runner's retries.  A poll changes
 * nothing and the task goes on (and is charged) at DashScope whatever
 * our line does: poll again on the poll's backoff, within its budget, as
 * for a throttled poll (a network cut of a few seconds failed the video
 * and refunded it before).  A download is asked again after a poll, a
 * few rounds.  A submit may have been taken: never sent again. */
static nano_job_next_t
nano_jobgen_wan_unanswered(nano_job_t *job, nano_job_next_t next)
{
    nano_jobgen_wan_t  *w = job->state;
    const char         *why;

    if (w == NULL || w->stage == NANO_WAN_STAGE_SUBMIT) {
        return next;
    }
    why = json_string_value(json_object_get(job->error, "message"));
    why = why != NULL ? why : "?";
    if (w->stage == NANO_WAN_STAGE_DOWNLOAD) {
        if (!nano_jobgen_wan_download_again(job, w, why)) {
            return next;
        }
    } else {
        nano_log_warn("job %s: a poll of its task brought no answer (%s);"
                      " polled again", job->gen.id, why);
    }
    json_decref(job->error);
    job->error = NULL;
    return nano_jobgen_wan_poll(job, w);
}

const nano_job_provider_t  nano_jobgen_wan = {
    .name = "wan",
    .start = nano_jobgen_wan_start,
    .step = nano_jobgen_wan_step,
    .unanswered = nano_jobgen_wan_unanswered,
};

/* ---- offline ------------------------------------------------------------ */

static nano_job_next_t
nano_jobgen_offline_video_start(nano_job_t *job)
{
    job->delay_ms = 0;
    return NANO_JOB_WORK;
}

static nano_job_next_t
nano_jobgen_offline_video_work(nano_job_t *job)
{
    nano_offline_video_request_t  r;
    nano_offline_video_info_t     info;
    const char                   *size = nano_jobgen_param(job, "size");
    char                          path[PATH_MAX];

    memset(&r, 0, sizeof(r));
    r.prompt = job->gen.prompt;
    r.model = job->gen.model;
    r.seed = nano_jobgen_param_int(job, "seed", -1);
    if (size != NULL && sscanf(size, "%d*%d", &r.width, &r.height) != 2) {
        r.width = r.height = 0;
    }
    /* as long as asked (the page shows the request's duration: a 3 s
     * clip under "Duration 5 s" was found by a probe) */
    r.seconds = (int) nano_jobgen_param_int(job, "duration", 5);
    if (nano_job_next_path(job, "webm", path, sizeof(path)) != 0) {
        return nano_jobgen_not_stored(job, "video", NULL);
    }
    errno = 0;
    if (nano_offline_video_webm(&r, path, &info) != 0) {
        return nano_jobgen_not_stored(job, "video", path);
    }
    if (nano_job_stored(job, path, "video/webm", info.width, info.height)
        != 0)
    {
        return nano_jobgen_not_stored(job, "video", NULL);
    }
    return NANO_JOB_DONE;
}

const nano_job_provider_t  nano_jobgen_offline_video = {
    .name = "offline-video",
    .offline = 1,
    .start = nano_jobgen_offline_video_start,
    .work = nano_jobgen_offline_video_work,
};
