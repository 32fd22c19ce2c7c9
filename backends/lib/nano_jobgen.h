/*
 * The job providers of the image and video modules: state machines the
 * runner (nano_jobs) drives.  Real ones build each call with the wire
 * formats (nano_gemini, nano_ark, nano_wan) and read each answer; the
 * offline ones draw on the runner's offline thread.
 */

#ifndef NANO_JOBGEN_H
#define NANO_JOBGEN_H

#include "nano_job_call.h"
#include "nano_job_store.h"
#include "nano_jobs.h"
#include "nano_provider.h"

extern const nano_job_provider_t  nano_jobgen_gemini;      /* nano-banana */
extern const nano_job_provider_t  nano_jobgen_ark;         /* seedream */
extern const nano_job_provider_t  nano_jobgen_wan;         /* wan-2.5 */
extern const nano_job_provider_t  nano_jobgen_offline_image;
extern const nano_job_provider_t  nano_jobgen_offline_video;

/* Shared by the providers: a provider's failed call as the job's error
 * (NANO_JOB_FAILED); and a string, integer member of the job's params. */
nano_job_next_t nano_jobgen_failed_call(nano_job_t *job, int provider,
    const nano_client_res_t *res);
const char *nano_jobgen_param(const nano_job_t *job, const char *name);
long long nano_jobgen_param_int(const nano_job_t *job, const char *name,
    long long dflt);

/* Makes the job's call a POST of its JSON body (job->body, set) to the
 * provider's path, marked as posting: never sent again blindly.  Returns
 * NANO_JOB_CALL (the caller may add headers), or the job failed when the
 * provider has no key or the URL does not fit. */
nano_job_next_t nano_jobgen_post_json(nano_job_t *job,
    nano_provider_t provider, const char *path, long timeout_ms);

/* An output that could not be written (NANO_JOB_ERR_STORAGE, "the
 * server could not store the <noun>"); with path, logs it and errno (an
 * offline output's writer logs nothing itself). */
nano_job_next_t nano_jobgen_not_stored(nano_job_t *job, const char *noun,
    const char *path);

#endif /* NANO_JOBGEN_H */
