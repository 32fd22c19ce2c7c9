/*
 * The memory a runner's jobs hold (request bodies, downloads' answers)
 * against its caps (nano_job_memory.c).  The runner's thread only.
 */

#ifndef NANO_JOB_MEMORY_H
#define NANO_JOB_MEMORY_H

#include <stddef.h>

#include "nano_jobs.h"

/* The caps in bytes (NANO_JOBS_BODY_MB, NANO_JOBS_DOWNLOAD_MB), nothing
 * held. */
void nano_job_memory_set(size_t body_max, size_t dl_max);

/* body_count: counts the body a provider's start or step left in
 * job->body; body_free: frees it, counted out.  body_wait: 1 when a job
 * with an input image must wait before its provider builds its body. */
void nano_job_body_count(nano_job_t *job);
void nano_job_body_free(nano_job_t *job);
int nano_job_body_wait(const nano_job_t *job);

/* dl_wait: 1 when a download must wait for room; dl_take: its room
 * counted as its call is sent; dl_release: counted out as it ends. */
int nano_job_dl_wait(const nano_job_t *job);
void nano_job_dl_take(nano_job_t *job);
void nano_job_dl_release(nano_job_t *job);

#endif /* NANO_JOB_MEMORY_H */
