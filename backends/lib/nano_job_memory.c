/*
 * The memory a runner's jobs hold while their calls run, against its
 * caps: request bodies (an edit's image, base64 in JSON;
 * NANO_JOBS_BODY_MB) and the answers of downloads in flight (a video;
 * NANO_JOBS_DOWNLOAD_MB).  A job over a cap waits; one always goes.
 * The runner's thread only, so no lock.
 */

#include <stdlib.h>
#include <string.h>

#include "nano_job_memory.h"

static struct {
    /* request bodies held, and their cap */
    size_t  body_bytes;
    size_t  body_max;
    /* the same for the answers of downloads in flight (a provider's file:
     * a video takes up to NANO_JOBGEN_VIDEO_MAX in memory), each counted
     * at its call's cap from its send to its step */
    size_t  dl_bytes;
    size_t  dl_max;
} nano_job_memory;

void
nano_job_memory_set(size_t body_max, size_t dl_max)
{
    nano_job_memory.body_max = body_max;
    nano_job_memory.body_bytes = 0;
    nano_job_memory.dl_max = dl_max;
    nano_job_memory.dl_bytes = 0;
}

/* Counts the body a provider's start or step left in job->body. */
void
nano_job_body_count(nano_job_t *job)
{
    size_t  len = job->body != NULL ? strlen(job->body) : 0;

    nano_job_memory.body_bytes -= job->body_held;
    nano_job_memory.body_bytes += len;
    job->body_held = len;
}

void
nano_job_body_free(nano_job_t *job)
{
    free(job->body);
    job->body = NULL;
    nano_job_body_count(job);
}

/*
 * Whether a job with an input image must wait before its provider
 * builds its body: every such body holds the whole image, base64 in
 * JSON, until its call ends (tens of seconds at a real provider), and
 * NANO_JOBS_MAX of them took gigabytes (found by a probe: 32 edits of
 * 10 MiB held 500 MB).  One body may go past the cap, so a single
 * image always goes.
 */
int
nano_job_body_wait(const nano_job_t *job)
{
    return nano_job_memory.body_bytes >= nano_job_memory.body_max
           && json_object_get(job->gen.params, "inputImage") != NULL;
}

/* A download's room: its answer's cap. */
static size_t
nano_job_dl_size(const nano_job_t *job)
{
    return job->call.body_max ? job->call.body_max : NANO_CLIENT_BODY_MAX;
}

/* Whether a download must wait for room: 200 videos in flight could
 * hold 200 times 256 MiB (their answers are collected in memory, as the
 * runner's callbacks touch only memory).  One always goes. */
int
nano_job_dl_wait(const nano_job_t *job)
{
    return job->call.follow && nano_job_memory.dl_bytes > 0
           && nano_job_memory.dl_bytes + nano_job_dl_size(job)
              > nano_job_memory.dl_max;
}

void
nano_job_dl_release(nano_job_t *job)
{
    nano_job_memory.dl_bytes -= job->dl_held;
    job->dl_held = 0;
}

/* A download's room, counted from its send until nano_job_dl_release. */
void
nano_job_dl_take(nano_job_t *job)
{
    if (job->call.follow) {
        job->dl_held = nano_job_dl_size(job);
        nano_job_memory.dl_bytes += job->dl_held;
    }
}
