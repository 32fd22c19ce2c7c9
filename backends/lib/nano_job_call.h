/*
 * What a provider call's end means for its job: asked again or failed,
 * and how the failure reads (nano_job_call.c).
 */

#ifndef NANO_JOB_CALL_H
#define NANO_JOB_CALL_H

#include "nano_client.h"
#include "nano_jobs.h"

/*
 * 1 when a call that finished with res may be made again (attempts made
 * so far, method "GET" or "POST"), at most NANO_JOBS_RETRIES times: the
 * provider refused it without acting on it (408, 429, 5xx), or it never
 * arrived, or it only reads (a GET: a poll, a download, even one whose
 * answer was cut short).  A POST that was sent is never sent again: it
 * may have been taken and charged.  A body too large is never retried.
 */
int nano_job_retryable(const char *method, int attempts,
    const nano_client_res_t *res);

/* Sets job->error; returns NANO_JOB_FAILED. */
nano_job_next_t nano_job_fail(nano_job_t *job, const char *code,
    const char *message);

/* The runner's, for a call that ended: the failure of one that brought
 * no whole answer (too large, a bad redirect, unreached: named after
 * the job's provider, or timed out); whether a refusal (res->status)
 * may be asked again in the format of the job's provider (0: a spent
 * quota, or a wait past NANO_PROVIDER_RETRY_AFTER_MAX_MS; else 1 with
 * *wait_ms the provider's wait, 0 when none); and the backoff before the
 * job's next attempt, at least wait_ms. */
nano_job_next_t nano_job_transfer_failed(nano_job_t *job);
int nano_job_refusal_retryable(const nano_job_t *job,
    const nano_client_res_t *res, long *wait_ms);
long nano_job_backoff(const nano_job_t *job, long wait_ms);

#endif /* NANO_JOB_CALL_H */
