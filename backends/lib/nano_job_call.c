/*
 * What a provider call's end means for its job, apart from the runner
 * that makes the calls: whether it is asked again and after how long
 * (a POST that may have charged never is), and the failure people see
 * (named after its provider, the provider's key never in it).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_job_call.h"
#include "nano_provider.h"

nano_job_next_t
nano_job_fail(nano_job_t *job, const char *code, const char *message)
{
    nano_provider_error_t        err;
    const nano_provider_info_t  *info;
    const char                  *key;
    int                          p;

    /* the provider's words may quote its key, in a 200 answer too (a
     * failed task's message): the row and the log never hold it.  A key
     * of 24 characters and more is elided as key-like anyway */
    p = job->provider != NULL ? nano_provider_by_name(job->provider->name)
                              : -1;
    info = p >= 0 ? nano_provider_info((nano_provider_t) p) : NULL;
    key = info != NULL ? getenv(info->key_env) : NULL;
    if (key != NULL && message != NULL && strstr(message, key) != NULL) {
        nano_provider_error_init(&err);
        snprintf(err.message, sizeof(err.message), "%s", message);
        nano_provider_error_scrub(&err, key);
        message = err.message;
    }
    json_decref(job->error);
    job->error = json_pack("{s:s, s:s}", "code", code, "message", message);
    return NANO_JOB_FAILED;
}

int
nano_job_retryable(const char *method, int attempts,
    const nano_client_res_t *res)
{
    int  get = strcmp(method, "GET") == 0;

    if (attempts >= NANO_JOBS_RETRIES || res->stopped || res->too_large
        || res->bad_redirect)
    {
        return 0;
    }
    if (res->status == 408 || res->status == 429 || res->status >= 500) {
        return 1;
    }
    if (res->status == 0) {
        return !res->sent || get;
    }
    /* an answer cut short: only a GET may be sent again, a POST may have
     * been taken (and charged) */
    return res->code != CURLE_OK && get;
}

/* A call that brought no whole answer: why, for the person. */
nano_job_next_t
nano_job_transfer_failed(nano_job_t *job)
{
    const nano_client_res_t  *res = &job->res;
    char                      msg[160];
    int                       p;
    size_t                    max = job->call.body_max
                                    ? job->call.body_max
                                    : NANO_CLIENT_BODY_MAX;

    if (res->too_large) {
        snprintf(msg, sizeof(msg), "the provider's answer was larger than"
                 " the %zu MiB this generation may take", max >> 20);
        return nano_job_fail(job, "bad_response", msg);
    }
    if (res->bad_redirect) {
        return nano_job_fail(job, "bad_response", nano_client_why(res));
    }
    /* named, as a text call's "DashScope could not be reached: ..." is:
     * "the provider" alone did not say which host an operator should
     * look at (noticed by the failures probe) */
    p = nano_provider_by_name(job->provider->name);
    if (!res->timed_out && p >= 0) {
        snprintf(msg, sizeof(msg), "%s could not be reached: %s",
                 nano_provider_info((nano_provider_t) p)->label,
                 nano_client_why(res));
        return nano_job_fail(job, "provider_error", msg);
    }
    return nano_job_fail(job, res->timed_out ? "timeout" : "provider_error",
                         nano_client_why(res));
}

/*
 * What a refusal says about asking again, read in the format of the
 * provider the job's provider is named after ("gemini", "ark", "wan"):
 * a spent quota is not asked again (nothing changes in seconds), and
 * the wait is Gemini's RetryInfo in the body, else the Retry-After
 * header.  0: do not ask again; else 1 and *wait_ms the provider's wait
 * (0 when it named none).
 */
int
nano_job_refusal_retryable(const nano_job_t *job,
    const nano_client_res_t *res, long *wait_ms)
{
    nano_provider_error_t  err;
    int                    p = nano_provider_by_name(job->provider->name);

    *wait_ms = 0;
    if (p < 0 || res->status < 400) {
        return 1;
    }
    nano_provider_error_from_http((nano_provider_t) p, res->status,
                                  res->retry_after[0] ? res->retry_after
                                                      : NULL,
                                  res->body.data ? res->body.data : "",
                                  res->body.len, &err);
    /* asked to wait past what a retry waits: the retry would be
     * refused too (the text calls' rule) */
    if (!err.retryable
        || err.retry_after_ms > NANO_PROVIDER_RETRY_AFTER_MAX_MS)
    {
        return 0;
    }
    *wait_ms = err.retry_after_ms;
    return 1;
}

/* Backoff before a retry, as a text call's: 0.5 s doubling with
 * jitter, at most 8 s, or the provider's wait (at most a minute) when it
 * is longer. */
long
nano_job_backoff(const nano_job_t *job, long wait_ms)
{
    return nano_provider_backoff_ms((unsigned) job->attempts,
                                    NANO_PROVIDER_RETRY_BASE_MS,
                                    NANO_PROVIDER_RETRY_CAP_MS,
                                    (uint32_t) rand(), wait_ms);
}
