/*
 * The job runner of a module process (docs/MODULES.md "Jobs"): one
 * thread that claims its module's jobs from "Generation", drives every
 * provider call on one curl multi handle, keeps the leases, records the
 * phase of provider POSTs, stores the outputs and ends each job, with
 * its refund when it failed.  Providers are state machines
 * (nano_job_provider_t) that never touch a socket or a client's stream.
 */

#ifndef NANO_JOBS_H
#define NANO_JOBS_H

#include <limits.h>

#include <jansson.h>

#include "nano_client.h"
#include "nano_gen.h"

/* in flight per process, NANO_JOBS_MAX; 0: the process takes no jobs
 * (it serves requests; another process runs the queue) */
#define NANO_JOBS_MAX_DEFAULT   256
/* MiB of request bodies (an edit's image, base64 in its JSON: 14 MB for
 * a 10 MiB upload) the runner holds at once (NANO_JOBS_BODY_MB): a job
 * with an input image waits in the runner, claimed, until there is room */
#define NANO_JOBS_BODY_MB_DEFAULT  256
/* MiB the answers of downloads in flight may take (NANO_JOBS_DOWNLOAD_MB),
 * each counted at its cap: four videos of 256 MiB, 32 images of 32 MiB;
 * a download past it waits in the runner, one always goes */
#define NANO_JOBS_DOWNLOAD_MB_DEFAULT  1024
#define NANO_JOBS_DRAIN_SECS_DEFAULT  25
#define NANO_JOBS_LEASE_SECS    30
#define NANO_JOBS_RENEW_SECS    10
#define NANO_JOBS_RETRIES       2      /* of a call the provider refused */

typedef struct nano_job_s  nano_job_t;

/* What a provider wants next. */
typedef enum {
    NANO_JOB_CALL = 0,     /* run job->call, after job->delay_ms */
    NANO_JOB_WORK,         /* run provider->work on the offline thread,
                              after job->delay_ms */
    NANO_JOB_DONE,         /* succeeded: the stored outputs are the result */
    NANO_JOB_FAILED        /* job->error says why; the runner refunds */
} nano_job_next_t;

typedef struct {
    const char  *name;     /* "gemini", "offline-image", ... */
    int          offline;
    /*
     * Begins a claimed job (job->gen): sets up the first call, or asks
     * for offline work.  A job taken over after a crash comes here too,
     * with job->gen.phase and job->gen.provider_task_id as they were
     * left, except "submitting", which the runner fails itself.
     */
    nano_job_next_t  (*start)(nano_job_t *job);
    /* The call finished with a whole response (any status; a body cut
     * short or too large never comes here): what next. */
    nano_job_next_t  (*step)(nano_job_t *job, const nano_client_res_t *res);
    /* Optional: the call brought no whole answer (cut, timed out) and
     * the runner's retries are spent; job->error says why.  What next:
     * next (NANO_JOB_FAILED), or another call (a poll that changes
     * nothing, while the task goes on at the provider).  Not for an
     * answer too large. */
    nano_job_next_t  (*unanswered)(nano_job_t *job, nano_job_next_t next);
    /* Offline work (may block for seconds; on the offline thread). */
    nano_job_next_t  (*work)(nano_job_t *job);
} nano_job_provider_t;

struct nano_job_s {
    nano_gen_t                  gen;        /* the claimed row */
    const nano_job_provider_t  *provider;
    nano_client_call_t          call;       /* the call to make */
    char                       *body;       /* owned body of that call */
    size_t                      body_held;  /* its bytes in the runner's
                                               count */
    int                         posting;    /* the call may charge: the
                                               phase "submitting" is
                                               recorded before it goes */
    long                        delay_ms;
    int                         polls;      /* the provider's counter */
    char                        task_id[128];  /* set by the provider once
                                               an async submit is taken */
    json_t                     *outputs;    /* what nano_job_store wrote */
    json_t                     *error;      /* {"code","message"} */
    void                       *state;      /* the provider's own; freed
                                               with free() at the end */
    /* the runner's */
    nano_client_res_t           res;
    int                         where;      /* waiting, in a call, ... */
    nano_job_next_t             worked;     /* what provider->work said */
    int                         attempts;
    int                         phase_sent; /* "submitting" recorded */
    int                         task_saved;
    unsigned                    made_dirs;  /* the folders of its outputs
                                               this runner made: bit 0
                                               its own, 1 <user>, 2
                                               <module> */
    long long                   wake_at;
    long long                   end_until;  /* its end failed: tried
                                               again until then (ms) */
    long long                   mark_until; /* its "submitting" failed:
                                               likewise */
    size_t                      dl_held;    /* a download's room, counted
                                               while it runs */
    CURL                       *easy;
    struct curl_slist          *slist;
    nano_job_t                 *next;
};

/*
 * Starts the runner thread of module with provider, its outputs under
 * media (nano_config_t's media_dir); owner (the lease owner, also used
 * by the request workers that run text generations) is made here and
 * readable with nano_jobs_owner().  Returns 0 or -1.
 */
int nano_jobs_start(const char *module, const nano_job_provider_t *provider,
    const char *media);

/*
 * Begins a stop (the stop signal): no more claims; the jobs waiting
 * here go back to the queue, or, with an asynchronous task recorded,
 * to the next claim; provider calls in flight may finish within
 * NANO_JOBS_DRAIN_SECS (default 25), and what a call still holds then
 * is given up (docs/MODULES.md, Jobs).  Returns at once;
 * nano_jobs_wait_drained waits for the end.
 */
void nano_jobs_drain(void);
void nano_jobs_wait_drained(void);

/* Stops it: what a drain, if any, left is given up; the transfers in
 * flight are abandoned to their leases. */
void nano_jobs_stop(void);

/*
 * A job of module was queued: its admission has committed.  This
 * process's runner takes it when it has room (woken in-process); else a
 * NOTIFY on db, in a transaction of its own, wakes the module's runners
 * elsewhere.  Every runner also claims at least once a second.  The
 * admission itself does not notify (nano_gen_new_t.caller_wakes,
 * sql/013_admit_wakes.sql): inside it, PostgreSQL would hold its
 * notification queue's lock through the commit's WAL flush, one
 * admission after another.
 */
void nano_jobs_queued(nano_db_t *db, const char *module);

/* This process's lease owner ("host:pid:random"). */
const char *nano_jobs_owner(void);

#endif /* NANO_JOBS_H */
