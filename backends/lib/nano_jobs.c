/*
 * The job runner: claims, leases, one curl multi handle for every
 * provider call, an offline thread for work that is not a call, the
 * ends recorded, the drain.  Beside it: the outputs (nano_job_store.c),
 * what a call's end means (nano_job_call.c), the memory jobs hold
 * (nano_job_memory.c), what the request workers leave to it
 * (nano_jobs_answers.c).
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "nano_buf.h"
#include "nano_clock.h"
#include "nano_config.h"
#include "nano_file.h"
#include "nano_job_call.h"
#include "nano_job_memory.h"
#include "nano_job_store.h"
#include "nano_jobs.h"
#include "nano_jobs_answers.h"
#include "nano_log.h"
#include "nano_rand.h"
#include "nano_server.h"

#define NANO_JOBS_CHANNEL     "nano_jobs"
#define NANO_JOBS_CLAIM_MS    1000     /* claim at least this often */
#define NANO_JOBS_TICK_MS     1000     /* longest sleep */
#define NANO_JOBS_ROOM_WAIT_MS  100    /* a body or download's wait */

static struct {
    char                        module[64];
    const nano_job_provider_t  *provider;
    char                        owner[128];
    int                         max;
    pthread_t                   thread;
    int                         running;
    atomic_int                  stopping;
    /* nano_jobs_drain: no claims; what waits is given back; calls may
     * finish until drain_until (ms; set before draining).  drained: the
     * runner holds no job any more (under lock, signalled on work) */
    atomic_int                  draining;
    long long                   drain_until;
    int                         drain_secs;
    int                         drained;
    nano_job_t                 *jobs;       /* every job this runner holds */
    nano_job_t                 *ending;     /* ended, not yet recorded */
    nano_job_t                 *unrecorded; /* its end failed: again at
                                               wake_at */
    atomic_int                  active;     /* read by request workers */
    /* nano_jobs_queued: jobs queued here since the last claim, and
     * whether this runner takes them (up and with room at all) */
    atomic_int                  wanted;
    atomic_int                  taking;
    /* the offline thread: a queue in, a list out, an eventfd between */
    pthread_t                   worker;
    int                         worker_running;
    pthread_mutex_t             lock;
    pthread_cond_t              work;
    nano_job_t                 *todo;
    nano_job_t                 *working;    /* on neither list meanwhile */
    nano_job_t                 *done;
    int                         efd;
    /* the runner's: whether its last claim found the database out of
     * reach, and when one answered again after that (0: never out) */
    int                         unreached;
    long long                   reached_at;
} nano_jobs = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .efd = -1,
};

/* Where a job is in the runner. */
enum {
    NANO_JOB_WAIT_CALL = 1,
    NANO_JOB_IN_CALL,
    NANO_JOB_WAIT_WORK,
    NANO_JOB_IN_WORK,
    NANO_JOB_ENDING_OK,        /* on the ending list */
    NANO_JOB_ENDING_FAILED,
    NANO_JOB_WAIT_START         /* an edit waiting for room for its body */
};

const char *
nano_jobs_owner(void)
{
    return nano_jobs.owner;
}

/* A job that waits for room (bodies or downloads held) looks again a
 * moment later; *wait, the runner's sleep, is cut to that. */
static void
nano_jobs_wait_room(nano_job_t *job, long long now, long *wait)
{
    job->wake_at = now + NANO_JOBS_ROOM_WAIT_MS;
    if (NANO_JOBS_ROOM_WAIT_MS < *wait) {
        *wait = NANO_JOBS_ROOM_WAIT_MS;
    }
}

static void
nano_jobs_free(nano_job_t *job)
{
    nano_job_dl_release(job);
    if (job->easy != NULL) {
        curl_easy_cleanup(job->easy);
    }
    nano_client_slist_free(job->slist);
    nano_client_call_cleanup(&job->call);
    nano_client_res_cleanup(&job->res);
    nano_job_body_free(job);
    free(job->state);
    json_decref(job->outputs);
    json_decref(job->error);
    nano_gen_cleanup(&job->gen);
    free(job);
}

/* Takes job off the runner's list, when it is on it. */
static void
nano_jobs_unlink(nano_job_t *job)
{
    nano_job_t  **p;

    for (p = &nano_jobs.jobs; *p != NULL; p = &(*p)->next) {
        if (*p == job) {
            *p = job->next;
            break;
        }
    }
}

/* Unlinks job from the runner's list and frees it. */
static void
nano_jobs_drop(nano_job_t *job)
{
    nano_jobs_unlink(job);
    nano_jobs.active--;
    nano_jobs_free(job);
}

/* Ends a job: it leaves the runner's list for the ending list, which
 * nano_jobs_record writes to the database (and frees) in one transaction
 * with every other job that ended meanwhile. */
static void
nano_jobs_end(nano_job_t *job, nano_job_next_t how)
{
    int  ok = how == NANO_JOB_DONE;

    if (!ok) {
        if (job->error == NULL) {
            nano_job_fail(job, "provider_error", "the generation failed");
        }
        nano_job_discard(job);
    }
    nano_jobs_unlink(job);
    job->where = ok ? NANO_JOB_ENDING_OK : NANO_JOB_ENDING_FAILED;
    job->next = nano_jobs.ending;
    nano_jobs.ending = job;
}

/*
 * A job whose end could not be written (st: the database restarting, or
 * refusing it): 1 when it waits on the unrecorded list, its lease renewed,
 * to be written again within a second, for NANO_JOBS_LATER_SECS at most;
 * 0 when its time is up or the runner stops: its lease ends it then.
 */
static int
nano_jobs_unrecorded(nano_db_t *db, nano_job_t *job, nano_db_status_t st)
{
    long long  now = nano_clock_ms();

    if (st == NANO_DB_INVALID) {
        /* a parameter the database can never take: no use trying again */
        nano_log_error("job %s: cannot record its end: %s; its lease ends"
                       " it", job->gen.id, nano_db_last_error(db));
        return 0;
    }
    if (job->end_until == 0) {
        job->end_until = now + NANO_JOBS_LATER_SECS * 1000;
        nano_log_error("job %s: cannot record its end: %s; it is written"
                       " once the database answers", job->gen.id,
                       nano_db_last_error(db));
    }
    if (now >= job->end_until || atomic_load(&nano_jobs.stopping)) {
        nano_log_error("job %s: its end still cannot be written (%s); its"
                       " lease ends it", job->gen.id, nano_db_last_error(db));
        return 0;
    }
    job->wake_at = now + NANO_JOBS_CLAIM_MS;
    job->next = nano_jobs.unrecorded;
    nano_jobs.unrecorded = job;
    return 1;
}

/* Moves the unrecorded jobs that are due (all when the runner stops) back
 * to the ending list. */
static void
nano_jobs_unrecorded_due(void)
{
    nano_job_t  **p, *job;
    long long     now = nano_clock_ms();
    int           all = atomic_load(&nano_jobs.stopping);

    for (p = &nano_jobs.unrecorded; (job = *p) != NULL; ) {
        if (all || job->wake_at <= now) {
            *p = job->next;
            job->next = nano_jobs.ending;
            nano_jobs.ending = job;
        } else {
            p = &job->next;
        }
    }
}

/* Logs how recording a job's end went. */
static void
nano_jobs_ended(const nano_job_t *job, nano_db_status_t st, int done)
{
    int          ok = job->where == NANO_JOB_ENDING_OK;
    const char  *code, *msg;

    if (st != NANO_DB_OK) {
        return;                 /* nano_jobs_unrecorded says */
    } else if (!done && job->end_until != 0) {
        nano_log_warn("job %s: its end was not recorded on a later try:"
                      " taken over by another runner, deleted, or written"
                      " by the try whose answer was lost; its files stay",
                      job->gen.id);
    } else if (!done) {
        nano_log_warn("job %s: its end was not recorded: taken over by"
                      " another runner meanwhile, or deleted; its files"
                      " removed", job->gen.id);
    } else {
        if (job->end_until != 0) {
            nano_log_warn("job %s: its end is written now that the database"
                          " answers", job->gen.id);
        }
        if (ok) {
            nano_log_info("job %s succeeded (%s)", job->gen.id,
                          job->provider->name);
        } else {
            /* the provider's words too, at the code's level: until
             * 2026-12-06 a bad key's failure was "failed (provider_auth)"
             * at info, the provider's message only in the row */
            code = json_string_value(json_object_get(job->error, "code"));
            msg = json_string_value(json_object_get(job->error, "message"));
            nano_log((nano_log_level_t) nano_gen_error_level(code),
                     "job %s failed (%s)%s%s", job->gen.id,
                     code != NULL ? code : "?", msg != NULL ? ": " : "",
                     msg != NULL ? msg : "");
        }
    }
}

/*
 * Records the end of every job on the ending list and frees them: one
 * transaction for all (one commit, so one WAL flush however many ended
 * together); if that fails, one by one, so a job whose end cannot be
 * written holds up no other.
 */
static void
nano_jobs_record(nano_db_t *db)
{
    nano_gen_end_t    *ends;
    nano_job_t        *job, *list = nano_jobs.ending;
    nano_db_status_t   st;
    size_t             n = 0, i;
    int                ok, done, alone;

    if (nano_jobs.unrecorded != NULL) {
        nano_jobs_unrecorded_due();
        list = nano_jobs.ending;
    }
    if (list == NULL) {
        return;
    }
    nano_jobs.ending = NULL;
    for (job = list; job != NULL; job = job->next) {
        n++;
    }
    ends = calloc(n, sizeof(*ends));
    for (i = 0, job = list; job != NULL; i++, job = job->next) {
        if (ends == NULL) {
            break;
        }
        ok = job->where == NANO_JOB_ENDING_OK;
        ends[i].id = job->gen.id;
        ends[i].user_id = job->gen.user_id;
        ends[i].status = ok ? "succeeded" : "failed";
        ends[i].outputs = ok ? job->outputs : NULL;
        ends[i].error = ok ? NULL : job->error;
        ends[i].refund = !ok;
    }
    st = ends != NULL ? nano_gen_finish_all(db, nano_jobs.owner, ends, n)
                      : NANO_DB_FAILED;
    alone = st != NANO_DB_OK && (n > 1 || ends == NULL);
    for (i = 0; (job = list) != NULL; i++) {
        list = job->next;
        done = ends != NULL && ends[i].done;
        if (alone) {
            ok = job->where == NANO_JOB_ENDING_OK;
            st = nano_gen_finish(db, job->gen.id, nano_jobs.owner,
                                 ok ? "succeeded" : "failed",
                                 ok ? job->outputs : NULL, NULL,
                                 ok ? NULL : job->error, !ok, &done);
        }
        nano_jobs_ended(job, st, done);
        if (st != NANO_DB_OK && nano_jobs_unrecorded(db, job, st)) {
            continue;
        }
        if (st == NANO_DB_OK && !done && job->end_until == 0) {
            /* the row is gone, or another runner holds it: no row names
             * what this one wrote.  (When the record failed, it may have
             * committed all the same: the files stay, and so they do
             * when a later try finds the row no longer held.) */
            nano_job_discard(job);
            nano_job_discard_owner(db, job);
        }
        nano_jobs_drop(job);
    }
    free(ends);
}

/*
 * Records a provider's new task id as phase "submitted": 0 when it is
 * recorded (or there is none), -1 when the row is no longer this
 * runner's (taken over, or deleted).  When the database fails to record
 * it, the task still runs, and is charged, at the provider: the job goes
 * on, held, and the id is written again after its next call (before,
 * the job was dropped, and its lease ended it refunded 30 s later while
 * the provider made the video).
 */
static int
nano_jobs_save_task(nano_db_t *db, nano_job_t *job)
{
    nano_db_status_t  st;
    int               done = 0;

    if (job->task_id[0] == '\0' || job->task_saved) {
        return 0;
    }
    st = nano_gen_set_phase(db, job->gen.id, nano_jobs.owner, "submitted",
                            job->task_id, &done);
    if (st != NANO_DB_OK) {
        nano_log_warn("job %s: cannot record its task id %s: %s; written"
                      " again after its next call", job->gen.id,
                      job->task_id, nano_db_last_error(db));
        return 0;
    }
    if (!done) {
        return -1;
    }
    job->task_saved = 1;
    return 0;
}

/*
 * Carries out what the provider asked for.  A call that may charge is
 * recorded as "submitting" first, so a crash during it can never lead to
 * a second one.
 */
static void
nano_jobs_apply(nano_db_t *db, nano_job_t *job, nano_job_next_t next)
{
    if (nano_jobs_save_task(db, job) != 0) {
        nano_log_warn("job %s: lost before its task id was recorded (taken"
                      " over, or deleted)", job->gen.id);
        nano_jobs_drop(job);
        return;
    }
    switch (next) {
    case NANO_JOB_CALL:
        /* a POST gets its "submitting" when it is due, recorded for
         * every due POST at once (nano_jobs_mark), before any is sent */
    case NANO_JOB_WORK:
        job->wake_at = nano_clock_ms() + (job->delay_ms > 0
                                          ? job->delay_ms : 0);
        job->delay_ms = 0;
        job->where = next == NANO_JOB_CALL ? NANO_JOB_WAIT_CALL
                                           : NANO_JOB_WAIT_WORK;
        break;
    default:
        nano_jobs_end(job, next);
        break;
    }
}

/* A job whose provider call may have been taken when its runner
 * stopped: never sent again (that could charge twice), failed and
 * refunded. */
static nano_job_next_t
nano_jobs_interrupted(nano_job_t *job)
{
    return nano_job_fail(job, "interrupted", "the generation was"
                         " interrupted; your credits were refunded");
}

/* The provider builds the job's first call (its body counted). */
static void
nano_jobs_start_provider(nano_db_t *db, nano_job_t *job)
{
    nano_job_next_t  next = job->provider->start(job);

    nano_job_body_count(job);
    nano_jobs_apply(db, job, next);
}

/* A claimed job: a takeover in "submitting" fails, anything else goes to
 * its provider (which resumes from a recorded task id). */
static void
nano_jobs_begin(nano_db_t *db, nano_job_t *job)
{
    job->provider = nano_jobs.provider;
    job->next = nano_jobs.jobs;
    nano_jobs.jobs = job;
    nano_jobs.active++;
    nano_client_res_init(&job->res);

    if (job->gen.phase != NULL && strcmp(job->gen.phase, "submitting") == 0) {
        /* the process that sent it died: the provider may have taken it
         * and charged, so it is never sent again */
        nano_log_warn("job %s: its runner stopped during a provider call;"
                      " failing and refunding", job->gen.id);
        nano_jobs_apply(db, job, nano_jobs_interrupted(job));
        return;
    }
    if (job->gen.provider_task_id != NULL) {
        snprintf(job->task_id, sizeof(job->task_id), "%s",
                 job->gen.provider_task_id);
        job->task_saved = 1;
    }
    if (nano_job_body_wait(job)) {
        job->where = NANO_JOB_WAIT_START;
        job->wake_at = nano_clock_ms() + NANO_JOBS_ROOM_WAIT_MS;
        return;
    }
    nano_jobs_start_provider(db, job);
}

/* A transfer finished: retry, fail, or let the provider go on. */
static void
nano_jobs_called(nano_db_t *db, nano_job_t *job, CURLMsg *msg)
{
    nano_job_next_t  next;
    long             wait_ms;

    nano_client_finish(job->easy, msg->data.result, &job->res);
    curl_easy_cleanup(job->easy);
    job->easy = NULL;
    nano_client_slist_free(job->slist);
    job->slist = NULL;
    /* its answer is read and let go on this thread before another call
     * of the runner starts */
    nano_job_dl_release(job);

    if (nano_job_retryable(job->call.method, job->attempts, &job->res)
        && nano_job_refusal_retryable(job, &job->res, &wait_ms))
    {
        job->delay_ms = nano_job_backoff(job, wait_ms);
        job->attempts++;
        nano_log_warn("job %s: provider answered %ld (%s); retry %d in %ld"
                      " ms", job->gen.id, job->res.status,
                      job->res.code == CURLE_OK ? "refused"
                                                : nano_client_why(&job->res),
                      job->attempts, job->delay_ms);
        nano_client_res_cleanup(&job->res);
        nano_jobs_apply(db, job, NANO_JOB_CALL);
        return;
    }
    if (job->res.status == 0
        || (job->res.code != CURLE_OK && job->res.status < 400))
    {
        /* no answer, or one cut short (an error status still says why) */
        next = nano_job_transfer_failed(job);
        if (job->provider->unanswered != NULL && !job->res.too_large
            && !job->res.bad_redirect)
        {
            job->attempts = 0;
            next = job->provider->unanswered(job, next);
        }
    } else {
        /* the provider builds the next call afresh */
        nano_job_body_free(job);
        job->attempts = 0;
        next = job->provider->step(job, &job->res);
        nano_job_body_count(job);
    }
    nano_client_res_cleanup(&job->res);
    nano_jobs_apply(db, job, next);
}

/* Starts the call of a job whose wait is over. */
static void
nano_jobs_send(CURLM *multi, nano_db_t *db, nano_job_t *job)
{
    nano_client_res_init(&job->res);
    job->easy = curl_easy_init();
    if (job->easy == NULL
        || nano_client_setup(job->easy, &job->call, &job->res, &job->slist)
           != 0)
    {
        nano_jobs_apply(db, job, nano_job_fail(job, "provider_error",
                                               "out of memory"));
        return;
    }
    curl_easy_setopt(job->easy, CURLOPT_PRIVATE, job);
    if (curl_multi_add_handle(multi, job->easy) != CURLM_OK) {
        nano_jobs_apply(db, job, nano_job_fail(job, "provider_error",
                                               "cannot start the call"));
        return;
    }
    job->where = NANO_JOB_IN_CALL;
    nano_job_dl_take(job);
}

/* ---- the offline thread ------------------------------------------------- */

static void *
nano_jobs_worker(void *arg)
{
    nano_job_t  *job;
    uint64_t     one = 1;

    (void) arg;
    pthread_mutex_lock(&nano_jobs.lock);
    for ( ;; ) {
        while (nano_jobs.todo == NULL && !atomic_load(&nano_jobs.stopping)) {
            pthread_cond_wait(&nano_jobs.work, &nano_jobs.lock);
        }
        /* once the runner stopped, no one records what is made: the
         * jobs still queued here are left to their leases unmade */
        if (nano_jobs.todo == NULL || atomic_load(&nano_jobs.stopping)) {
            break;
        }
        job = nano_jobs.todo;
        nano_jobs.todo = job->next;
        nano_jobs.working = job;
        pthread_mutex_unlock(&nano_jobs.lock);

        job->worked = job->provider->work(job);

        pthread_mutex_lock(&nano_jobs.lock);
        /* hand it back through the done list; the runner wakes on efd */
        nano_jobs.working = NULL;
        job->next = nano_jobs.done;
        nano_jobs.done = job;
        if (write(nano_jobs.efd, &one, sizeof(one)) < 0) {
            nano_log_warn("jobs: cannot wake the runner");
        }
    }
    pthread_mutex_unlock(&nano_jobs.lock);
    return NULL;
}

/* Hands job to the offline thread (it leaves the runner's list until it
 * comes back). */
static void
nano_jobs_queue_work(nano_job_t *job)
{
    nano_job_t  *t;

    nano_jobs_unlink(job);
    job->where = NANO_JOB_IN_WORK;
    pthread_mutex_lock(&nano_jobs.lock);
    job->next = NULL;
    if (nano_jobs.todo == NULL) {
        nano_jobs.todo = job;
    } else {
        for (t = nano_jobs.todo; t->next != NULL; t = t->next) {
            /* void */
        }
        t->next = job;
    }
    pthread_cond_signal(&nano_jobs.work);
    pthread_mutex_unlock(&nano_jobs.lock);
}

/* Takes back what the offline thread finished. */
static void
nano_jobs_worked(nano_db_t *db)
{
    nano_job_t  *list, *job;
    uint64_t     n;

    if (read(nano_jobs.efd, &n, sizeof(n)) < 0 && errno != EAGAIN) {
        nano_log_warn("jobs: cannot read the wake-up counter");
    }
    pthread_mutex_lock(&nano_jobs.lock);
    list = nano_jobs.done;
    nano_jobs.done = NULL;
    pthread_mutex_unlock(&nano_jobs.lock);

    while ((job = list) != NULL) {
        list = job->next;
        job->next = nano_jobs.jobs;
        nano_jobs.jobs = job;
        nano_jobs_apply(db, job, job->worked);
    }
}

/* ---- the runner --------------------------------------------------------- */

/* A POST that is due and has no "submitting" recorded yet. */
static int
nano_jobs_unmarked(const nano_job_t *job, long long now)
{
    return job->where == NANO_JOB_WAIT_CALL && job->wake_at <= now
           && job->posting && !job->phase_sent;
}

/*
 * Records "submitting" for every due POST in one statement (one commit
 * however many are due), before any of them is sent.  A job its runner
 * lost meanwhile is dropped (left to its lease), as it was before its
 * call.  When the record fails (the database restarting, or refusing
 * it), nothing was sent: the jobs wait, unsent and held, and are marked
 * again a second later, for NANO_JOBS_LATER_SECS at most, then left to
 * their leases (before, they were dropped at once: the image came a
 * lease late, or, when the mark had committed with its answer lost,
 * ended "interrupted" and refunded though never sent).  Short of
 * memory, they all wait for the next round, unsent.
 */
static void
nano_jobs_mark(nano_db_t *db, long long now)
{
    nano_job_t        *job, **batch;
    const char       **ids;
    nano_db_status_t   st;
    size_t             n = 0, i;
    int               *held;

    for (job = nano_jobs.jobs; job != NULL; job = job->next) {
        n += nano_jobs_unmarked(job, now);
    }
    if (n == 0) {
        return;
    }
    batch = calloc(n, sizeof(*batch));
    ids = calloc(n, sizeof(*ids));
    held = calloc(n, sizeof(*held));
    if (batch == NULL || ids == NULL || held == NULL) {
        goto out;
    }
    i = 0;
    for (job = nano_jobs.jobs; job != NULL && i < n; job = job->next) {
        if (nano_jobs_unmarked(job, now)) {
            batch[i] = job;
            ids[i++] = job->gen.id;
        }
    }
    st = nano_gen_set_submitting(db, nano_jobs.owner, ids, n, held);
    for (i = 0; i < n; i++) {
        job = batch[i];
        if (st == NANO_DB_OK && held[i]) {
            job->phase_sent = 1;
            continue;
        }
        if (st == NANO_DB_OK) {
            nano_log_warn("job %s: lost before its call", job->gen.id);
        } else if (job->mark_until == 0) {
            job->mark_until = now + NANO_JOBS_LATER_SECS * 1000LL;
            nano_log_warn("job %s: cannot record its call: %s; marked"
                          " again in a second, unsent meanwhile",
                          job->gen.id, nano_db_last_error(db));
        }
        if (st != NANO_DB_OK && now < job->mark_until
            && !atomic_load(&nano_jobs.stopping))
        {
            job->wake_at = now + NANO_JOBS_CLAIM_MS;
            continue;
        }
        if (st != NANO_DB_OK) {
            nano_log_warn("job %s: its call still cannot be recorded (%s);"
                          " its lease ends it", job->gen.id,
                          nano_db_last_error(db));
        }
        nano_jobs_drop(job);
    }
out:
    free(batch);
    free(ids);
    free(held);
}

/* Starts every job whose wait is over; returns ms to the next wake-up. */
static long
nano_jobs_due(CURLM *multi, nano_db_t *db)
{
    nano_job_t  *job, *next;
    long long    now = nano_clock_ms();
    long         wait = NANO_JOBS_TICK_MS;

    nano_jobs_mark(db, now);

    for (job = nano_jobs.jobs; job != NULL; job = next) {
        next = job->next;
        if (job->where != NANO_JOB_WAIT_CALL
            && job->where != NANO_JOB_WAIT_WORK
            && job->where != NANO_JOB_WAIT_START)
        {
            continue;
        }
        if (job->wake_at > now) {
            if (job->wake_at - now < wait) {
                wait = (long) (job->wake_at - now);
            }
            continue;
        }
        if (job->where == NANO_JOB_WAIT_START) {
            if (nano_job_body_wait(job)) {
                nano_jobs_wait_room(job, now, &wait);
                continue;
            }
            nano_jobs_start_provider(db, job);
            continue;
        }
        if (job->where == NANO_JOB_WAIT_CALL) {
            if (job->posting && !job->phase_sent) {
                continue;               /* not recorded: never sent */
            }
            if (nano_job_dl_wait(job)) {
                nano_jobs_wait_room(job, now, &wait);
                continue;
            }
            nano_jobs_send(multi, db, job);
        } else {
            nano_jobs_queue_work(job);
        }
    }
    return wait;
}

/* Wakes the module's runners in every process: a NOTIFY in a transaction
 * of its own, which writes nothing, so PostgreSQL holds its notification
 * queue's lock only for a commit that flushes nothing. */
static void
nano_jobs_notify(nano_db_t *db, const char *module)
{
    static const char  sql[] =
        "SELECT pg_notify('" NANO_JOBS_CHANNEL "', $1)";
    nano_db_status_t   st;
    PGresult          *r;

    r = nano_db_exec_hot(db, sql, 1, &module, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        /* the runners still claim it within NANO_JOBS_CLAIM_MS */
        nano_log_warn("jobs: cannot wake the runners: %s",
                      nano_db_last_error(db));
        return;
    }
    PQclear(r);
}

/*
 * What this process holds, as a PostgreSQL array literal of quoted
 * ids: the runner's jobs wherever they are (waiting, in a call,
 * with the offline thread, ended but not yet recorded) and the text
 * answers its workers are answering; *n says how many.  Only these have
 * their leases renewed, so a job dropped without an end is taken over
 * once its lease runs out, and a claim never returns one of them (two
 * jobs of one process would run the same generation).  The runner's
 * thread only.  A new string, or NULL.
 */
static char *
nano_jobs_held(size_t *n)
{
    nano_buf_t   b;
    nano_job_t  *job;

    *n = 0;
    nano_buf_init(&b);
    nano_buf_puts(&b, "{");
    for (job = nano_jobs.jobs; job != NULL; job = job->next) {
        nano_db_array_add(&b, job->gen.id, n);
    }
    for (job = nano_jobs.ending; job != NULL; job = job->next) {
        nano_db_array_add(&b, job->gen.id, n);
    }
    for (job = nano_jobs.unrecorded; job != NULL; job = job->next) {
        nano_db_array_add(&b, job->gen.id, n);
    }
    pthread_mutex_lock(&nano_jobs.lock);
    for (job = nano_jobs.todo; job != NULL; job = job->next) {
        nano_db_array_add(&b, job->gen.id, n);
    }
    if (nano_jobs.working != NULL) {
        nano_db_array_add(&b, nano_jobs.working->gen.id, n);
    }
    for (job = nano_jobs.done; job != NULL; job = job->next) {
        nano_db_array_add(&b, job->gen.id, n);
    }
    pthread_mutex_unlock(&nano_jobs.lock);
    nano_jobs_answers_held(&b, n);
    nano_buf_puts(&b, "}");
    return nano_buf_steal(&b);
}

/* Renews the leases of what this process holds: 0, or -1 (logged). */
static int
nano_jobs_renew(nano_db_t *db)
{
    char    *held;
    size_t   n;
    int      rc = 0;

    held = nano_jobs_held(&n);
    if (held == NULL
        || (n > 0 && nano_gen_renew(db, nano_jobs.owner, NANO_JOBS_LEASE_SECS,
                                    held) != NANO_DB_OK))
    {
        nano_log_warn("jobs: cannot renew leases: %s",
                      held != NULL ? nano_db_last_error(db)
                                   : "out of memory");
        rc = -1;
    }
    free(held);
    return rc;
}

/*
 * Whether another process's lapsed lease may be taken over.  Not for one
 * lease after the database was out of reach: the other runners could not
 * renew meanwhile either, and one that is alive, its answer stored and
 * its end waiting to be written (nano_jobs_record), would lose a finished
 * image to a refund (found by a probe: two hosts, PostgreSQL down 40 s).
 * A runner that really died is taken over a lease later.
 */
static int
nano_jobs_may_take_over(long long now)
{
    return !nano_jobs.unreached
           && (nano_jobs.reached_at == 0
               || now - nano_jobs.reached_at
                  >= NANO_JOBS_LEASE_SECS * 1000LL);
}

/* Notes the database's answer to a claim (or its absence). */
static void
nano_jobs_reached(int reached, long long now)
{
    if (!reached) {
        nano_jobs.unreached = 1;
    } else if (nano_jobs.unreached) {
        nano_jobs.unreached = 0;
        nano_jobs.reached_at = now;
        nano_log_warn("jobs: the database answers again; other runners'"
                      " lapsed leases are left to them for %d s",
                      NANO_JOBS_LEASE_SECS);
    }
}

/*
 * How many more jobs the runner takes now.  An offline provider's work
 * runs on the one offline thread, a job at a time: it takes one when that
 * thread is free.  Claimed by the dozen, the rest waited in this process
 * marked running, where their owner's cancel was 409 and another process
 * could not take them (found by a probe: the eighth of eight offline
 * images waited 8 s "running").  A job whose end waits to be written
 * (nano_jobs_unrecorded) no longer needs the thread.
 */
static int
nano_jobs_room(void)
{
    nano_job_t  *job;
    int          busy = atomic_load(&nano_jobs.active);

    if (nano_jobs.provider->work == NULL) {
        return nano_jobs.max - busy;
    }
    for (job = nano_jobs.unrecorded; job != NULL; job = job->next) {
        busy--;
    }
    return 1 - busy;
}

/* handover: jobs queued through this process woke it.  Their submitters
 * judged its room without a lock, and a burst may have filled it since;
 * when this claim leaves it full, the other processes are told, so that
 * such a job waits for no periodic claim. */
static void
nano_jobs_claim(nano_db_t *db, int handover)
{
    nano_gen_t        *rows = NULL;
    nano_job_t        *job;
    nano_db_status_t   st;
    char              *held;
    size_t             n = 0, i, nheld;
    int                room;

    if (nano_jobs.max == 0) {
        return;
    }
    room = nano_jobs_room();
    if (room <= 0) {
        if (handover) {
            nano_jobs_notify(db, nano_jobs.module);
        }
        return;
    }
    /* own copy: the renewal comes every 10 s, this each second with room */
    held = nano_jobs_held(&nheld);
    if (held == NULL) {
        nano_log_warn("jobs: cannot claim: out of memory");
        return;
    }
    st = nano_gen_claim(db, nano_jobs.module, nano_jobs.owner,
                        NANO_JOBS_LEASE_SECS, room, held,
                        nano_jobs_may_take_over(nano_clock_ms()),
                        nano_jobs.provider->offline, &rows, &n);
    free(held);
    nano_jobs_reached(st != NANO_DB_UNAVAILABLE, nano_clock_ms());
    if (st != NANO_DB_OK) {
        nano_log_warn("jobs: cannot claim: %s", nano_db_last_error(db));
        return;
    }
    if (handover && n == (size_t) room) {
        nano_jobs_notify(db, nano_jobs.module);
    }
    for (i = 0; i < n; i++) {
        job = calloc(1, sizeof(nano_job_t));
        if (job == NULL) {
            /* left to its lease */
            nano_gen_cleanup(&rows[i]);
            continue;
        }
        job->gen = rows[i];
        nano_jobs_begin(db, job);
    }
    free(rows);
}

/* What the drain does with a job: wait for it, or give it back. */
enum {
    NANO_JOBS_KEEP = 0,
    NANO_JOBS_REQUEUE,      /* nothing of it sent that may charge */
    NANO_JOBS_RESUME,       /* its asynchronous task recorded */
    NANO_JOBS_INTERRUPT     /* a POST that may have charged: refunded */
};

/* last: the drain's end, when no call is waited for any longer. */
static int
nano_jobs_give_how(const nano_job_t *job, int last)
{
    int  waiting = job->where == NANO_JOB_WAIT_CALL
                   || job->where == NANO_JOB_WAIT_WORK
                   || job->where == NANO_JOB_WAIT_START;

    if (!waiting && !(last && job->where == NANO_JOB_IN_CALL)) {
        return NANO_JOBS_KEEP;
    }
    if (job->task_saved) {
        return NANO_JOBS_RESUME;
    }
    /* a POST to be tried again was refused (attempts counts refusals) */
    if (!job->phase_sent
        || (waiting && job->posting && job->attempts > 0))
    {
        return NANO_JOBS_REQUEUE;
    }
    return last ? NANO_JOBS_INTERRUPT : NANO_JOBS_KEEP;
}

/*
 * The drain: gives back each job whose provider holds nothing of it
 * that may charge, so that another runner, or this module's next
 * process, takes it at once instead of a lease later.  A job in a call
 * is waited for.  At the drain's end (last) the calls still running are
 * given up: a recorded task is resumed by the next claim, and a POST
 * that may have reached the provider fails as interrupted, refunded, as
 * a takeover would fail it.  What cannot be given back (the database
 * out of reach) is left to its lease.
 */
static void
nano_jobs_give_back(nano_db_t *db, CURLM *multi, int last)
{
    nano_job_t        *job, *next;
    const char       **ids;
    long              *waits;
    size_t             n = 0, nq = 0, nr = 0;
    nano_db_status_t   st;
    long long          now = nano_clock_ms();
    int                how, given;

    for (job = nano_jobs.jobs; job != NULL; job = job->next) {
        n += nano_jobs_give_how(job, last) != NANO_JOBS_KEEP;
    }
    if (n == 0) {
        return;
    }
    ids = calloc(n * 2, sizeof(*ids));
    waits = calloc(n, sizeof(*waits));
    if (ids == NULL || waits == NULL) {
        free(ids);
        free(waits);
        return;
    }
    for (job = nano_jobs.jobs; job != NULL; job = job->next) {
        how = nano_jobs_give_how(job, last);
        if (how == NANO_JOBS_REQUEUE) {
            /* a refused POST's Retry-After holds for whoever claims it
             * next, in the lease's whole seconds: rounded up, and one
             * more, as the database's clock (NANO_GEN_EPOCH) is rounded
             * both when it is set and when a claim reads it (a drain's
             * job was sent again up to a second early, found in a CI
             * run: 4.54 s after a Retry-After of 5) */
            waits[nq] = job->where == NANO_JOB_WAIT_CALL
                        && job->wake_at > now
                        ? (long) ((job->wake_at - now + 999) / 1000) + 1
                        : 0;
            ids[nq++] = job->gen.id;
        } else if (how == NANO_JOBS_RESUME) {
            ids[n + nr++] = job->gen.id;
        }
    }
    st = nano_gen_release(db, nano_jobs.owner, ids, waits, nq, ids + n, nr,
                          &given);
    free(ids);
    free(waits);
    if (st != NANO_DB_OK && !last) {
        return;                         /* again in the next round */
    }
    for (job = nano_jobs.jobs; job != NULL; job = next) {
        next = job->next;
        how = nano_jobs_give_how(job, last);
        if (how == NANO_JOBS_KEEP) {
            continue;
        }
        if (job->where == NANO_JOB_IN_CALL) {
            curl_multi_remove_handle(multi, job->easy);
        }
        if (how == NANO_JOBS_INTERRUPT) {
            nano_log_warn("job %s: still in its provider call when the"
                          " runner stopped; failing and refunding",
                          job->gen.id);
            nano_jobs_end(job, nano_jobs_interrupted(job));
            continue;
        }
        if (st != NANO_DB_OK) {
            nano_log_warn("job %s: cannot give it back (%s); its lease ends"
                          " it", job->gen.id, nano_db_last_error(db));
        }
        nano_jobs_drop(job);
    }
    if (st == NANO_DB_OK && nq + nr > 0) {
        nano_log_info("jobs: stopping: %zu given back to the queue, %zu to"
                      " be resumed (%d rows)", nq, nr, given);
        if (nq > 0) {
            nano_jobs_notify(db, nano_jobs.module);
        }
    }
}

/*
 * Ends the drain once no job is held, or its time is up (the calls still
 * running then given up), and tells nano_jobs_wait_drained.  The runner
 * goes on until nano_jobs_stop, claiming nothing: the leases of the text
 * answers that the workers finish keep being renewed.
 */
static void
nano_jobs_drain_check(nano_db_t *db, CURLM *multi)
{
    int  late = nano_clock_ms() >= nano_jobs.drain_until;

    if (atomic_load(&nano_jobs.active) > 0 && !late) {
        return;
    }
    if (late && db != NULL) {
        nano_jobs_give_back(db, multi, 1);
        nano_jobs_record(db);
    }
    pthread_mutex_lock(&nano_jobs.lock);
    nano_jobs.drained = 1;
    pthread_cond_broadcast(&nano_jobs.work);
    pthread_mutex_unlock(&nano_jobs.lock);
    nano_log_info("jobs: %s", atomic_load(&nano_jobs.active) == 0
                  ? "drained" : "drain over; what is left goes to its lease");
}

/* Wakes this process's runner for a job just queued, when it has room
 * for it: 1 when woken. */
static int
nano_jobs_take_here(void)
{
    uint64_t  one = 1;

    if (!atomic_load(&nano_jobs.taking)) {
        return 0;
    }
    if (atomic_fetch_add(&nano_jobs.wanted, 1) + atomic_load(&nano_jobs.active)
        >= nano_jobs.max)
    {
        atomic_fetch_sub(&nano_jobs.wanted, 1);
        return 0;
    }
    return write(nano_jobs.efd, &one, sizeof(one)) == (ssize_t) sizeof(one);
}

void
nano_jobs_queued(nano_db_t *db, const char *module)
{
    if (!nano_jobs_take_here()) {
        nano_jobs_notify(db, module);
    }
}

/*
 * A deleted user's folder of this module goes at once, off the runner's
 * thread (nano_jobs_remove_user).  The platform, which deletes accounts,
 * cannot enter it where each module has its own user (the packages), and
 * a user deleted by V1 or by hand has no platform step at all.  A module
 * that was down meanwhile leaves the folder to its media sweep, which
 * finds no generation naming its files.
 */
static void
nano_jobs_user_deleted(void *arg, const char *channel, const char *user_id)
{
    (void) arg;
    if (strcmp(channel, NANO_GEN_USER_DELETED) == 0) {
        (void) nano_jobs_remove_user(nano_job_media_root(), nano_jobs.module,
                                     user_id);
    }
}

/* Reads the notifications that arrived: *woke = 1 when one for this
 * module did, *listening = 0 when the connection is gone.  Every
 * module's runner listens on the one channel: without the payload's
 * check, each job queued anywhere would make all of them claim.  A
 * deleted user's is handled here. */
static void
nano_jobs_notified(nano_db_t *db, int *listening, int *woke)
{
    switch (nano_db_wait_on(db, 0, NANO_JOBS_CHANNEL, nano_jobs.module,
                            nano_jobs_user_deleted, NULL))
    {
    case 1:
        *woke = 1;
        break;
    case -1:
        *listening = 0;
        break;
    default:
        break;
    }
}

/*
 * LISTENs on the runners' channel (and for deleted users) unless the
 * runner does on db's connection already: the first time, after
 * nano_jobs_notified found the connection lost, or when nano_db
 * reconnected inside a statement (the new connection listens to
 * nothing).  1 when it has just begun:
 * what was notified meanwhile is lost, so the caller claims at once.
 */
static int
nano_jobs_listen(nano_db_t *db, int *listening, unsigned *listened)
{
    if (*listening && nano_db_connection(db) == *listened) {
        return 0;
    }
    *listening = nano_db_listen(db, NANO_JOBS_CHANNEL) == NANO_DB_OK
                 && nano_db_listen(db, NANO_GEN_USER_DELETED) == NANO_DB_OK;
    *listened = nano_db_connection(db);
    return *listening;
}

static void *
nano_jobs_thread(void *arg)
{
    CURLM              *multi;
    CURLMsg            *msg;
    nano_db_t          *db = NULL;
    nano_job_t         *job;
    struct curl_waitfd  fds[2];
    long long           now, claimed = 0, renew_at;
    long                wait;
    unsigned            listened = 0;
    int                 running, left, listening = 0, woke = 1, nfds;
    int                 handover, draining;

    (void) arg;
    multi = curl_multi_init();
    if (multi == NULL) {
        nano_log_error("jobs: cannot make a curl multi handle");
        return NULL;
    }
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
                      (long) (nano_jobs.max > 0 ? nano_jobs.max : 1));
    renew_at = nano_clock_ms() + NANO_JOBS_RENEW_SECS * 1000;

    while (!atomic_load(&nano_jobs.stopping)) {
        draining = atomic_load(&nano_jobs.draining);
        if (draining && !nano_jobs.drained && db == NULL) {
            nano_jobs_drain_check(NULL, multi);     /* its time is up */
        }
        if (db == NULL) {
            db = nano_server_db_get(1000);
            if (db == NULL) {
                continue;
            }
            listening = 0;
        }
        if (nano_jobs_listen(db, &listening, &listened)) {
            woke = 1;
        }

        /* before any claim: a failed renewal is tried again within the
         * second, not 10 s later, while the leases still run */
        now = nano_clock_ms();
        if (now >= renew_at) {
            renew_at = now + (nano_jobs_renew(db) == 0
                              ? NANO_JOBS_RENEW_SECS * 1000
                              : NANO_JOBS_CLAIM_MS);
        }
        nano_jobs_answers_finish(db, nano_jobs.owner, nano_jobs.module);

        /* reset before the claim: a job queued during it wakes us anew */
        handover = atomic_exchange(&nano_jobs.wanted, 0) > 0;
        if (handover) {
            woke = 1;
        }
        if (draining) {
            /* no claims; once drained, nothing more to give back */
            if (!nano_jobs.drained) {
                nano_jobs_give_back(db, multi, 0);
                nano_jobs_drain_check(db, multi);
            }
        } else if (woke || now - claimed >= NANO_JOBS_CLAIM_MS) {
            nano_jobs_claim(db, handover);
            claimed = now;
            woke = 0;
        }

        wait = nano_jobs_due(multi, db);
        curl_multi_perform(multi, &running);
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &job);
            curl_multi_remove_handle(multi, msg->easy_handle);
            nano_jobs_called(db, job, msg);
        }
        nano_jobs_record(db);

        /* any statement above may have reconnected */
        if (nano_jobs_listen(db, &listening, &listened)) {
            woke = 1;
        }
        /* a job queued while this loop ran queries: its NOTIFY may wait
         * in libpq's buffer already, where no poll sees it */
        if (listening && !woke) {
            nano_jobs_notified(db, &listening, &woke);
        }

        nfds = 0;
        fds[nfds].fd = nano_jobs.efd;
        fds[nfds].events = CURL_WAIT_POLLIN;
        fds[nfds++].revents = 0;
        if (listening) {
            fds[nfds].fd = nano_db_socket(db);
            fds[nfds].events = CURL_WAIT_POLLIN;
            fds[nfds++].revents = 0;
        }
        curl_multi_poll(multi, fds, (unsigned) nfds,
                        woke ? 0 : wait < NANO_JOBS_TICK_MS ? (int) wait
                                                            : NANO_JOBS_TICK_MS,
                        NULL);
        if (fds[0].revents) {
            nano_jobs_worked(db);
            nano_jobs_record(db);
            /* the offline thread is free again: its next job at once */
            woke = woke || nano_jobs.provider->work != NULL;
        }
        if (listening) {
            nano_jobs_notified(db, &listening, &woke);
        }
    }

    /* stopped: what a drain cut short still holds is given up; what
     * remains then is left to its lease */
    if (db == NULL && atomic_load(&nano_jobs.draining)) {
        db = nano_server_db_get(1000);
    }
    if (db != NULL) {
        if (atomic_load(&nano_jobs.draining)) {
            nano_jobs_give_back(db, multi, 1);
        }
        nano_jobs_record(db);
    }
    while ((job = nano_jobs.jobs) != NULL) {
        if (job->easy != NULL) {
            curl_multi_remove_handle(multi, job->easy);
        }
        nano_jobs_drop(job);
    }
    curl_multi_cleanup(multi);
    nano_server_db_put(db);
    return NULL;
}

int
nano_jobs_start(const char *module, const nano_job_provider_t *provider,
    const char *media)
{
    char  host[64], rnd[17], err[160];
    int   body_mb, dl_mb;

    snprintf(nano_jobs.module, sizeof(nano_jobs.module), "%s", module);
    nano_jobs.provider = provider;
    if (gethostname(host, sizeof(host)) != 0) {
        snprintf(host, sizeof(host), "host");
    }
    host[sizeof(host) - 1] = '\0';
    if (nano_rand_hex(rnd, 8) != 0) {
        return -1;
    }
    snprintf(nano_jobs.owner, sizeof(nano_jobs.owner), "%s:%ld:%s", host,
             (long) getpid(), rnd);
    if (nano_job_media_set(media) != 0) {
        nano_log_error("jobs: the media folder's path is too long");
        return -1;
    }
    /* 0: this process serves requests and keeps its leases, but takes
     * no jobs (another process runs them) */
    if (nano_config_env_int("NANO_JOBS_MAX", NANO_JOBS_MAX_DEFAULT, 0,
                            100000, &nano_jobs.max, err, sizeof(err)) != 0)
    {
        nano_log_error("%s", err);
        return -1;
    }
    if (nano_config_env_int("NANO_JOBS_BODY_MB", NANO_JOBS_BODY_MB_DEFAULT,
                            1, 65536, &body_mb, err, sizeof(err)) != 0)
    {
        nano_log_error("%s", err);
        return -1;
    }
    if (nano_config_env_int("NANO_JOBS_DOWNLOAD_MB",
                            NANO_JOBS_DOWNLOAD_MB_DEFAULT, 1, 65536, &dl_mb,
                            err, sizeof(err)) != 0)
    {
        nano_log_error("%s", err);
        return -1;
    }
    /* a restart's wait for provider calls in flight (the packaged unit
     * gives an app 45 s to stop: its TimeoutStopSec) */
    if (nano_config_env_int("NANO_JOBS_DRAIN_SECS",
                            NANO_JOBS_DRAIN_SECS_DEFAULT, 0, 600,
                            &nano_jobs.drain_secs, err, sizeof(err)) != 0)
    {
        nano_log_error("%s", err);
        return -1;
    }
    nano_job_memory_set((size_t) body_mb << 20, (size_t) dl_mb << 20);
    if (nano_file_mkdirs(nano_job_media_root(), NULL) != 0) {
        nano_log_error("jobs: cannot make the media folder %s: %s",
                       nano_job_media_root(), strerror(errno));
        return -1;
    }

    nano_jobs.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (nano_jobs.efd < 0) {
        return -1;
    }
    atomic_store(&nano_jobs.stopping, 0);
    atomic_store(&nano_jobs.draining, 0);
    nano_jobs.drained = 0;
    if (provider->work != NULL) {
        if (pthread_create(&nano_jobs.worker, NULL, nano_jobs_worker, NULL)
            != 0)
        {
            return -1;
        }
        nano_jobs.worker_running = 1;
    }
    if (pthread_create(&nano_jobs.thread, NULL, nano_jobs_thread, NULL)
        != 0)
    {
        nano_jobs_stop();
        return -1;
    }
    nano_jobs.running = 1;
    atomic_store(&nano_jobs.taking, nano_jobs.max > 0);
    nano_log_info("jobs: runner for %s with %s (%s), up to %d in flight,"
                  " media in %s", module, provider->name,
                  provider->offline ? "offline" : "real", nano_jobs.max,
                  nano_job_media_root());
    return 0;
}

void
nano_jobs_drain(void)
{
    uint64_t  one = 1;

    atomic_store(&nano_jobs.taking, 0);
    if (!nano_jobs.running || atomic_load(&nano_jobs.draining)) {
        return;
    }
    nano_jobs.drain_until = nano_clock_ms() + nano_jobs.drain_secs * 1000LL;
    atomic_store(&nano_jobs.draining, 1);
    nano_log_info("jobs: stopping: no new claims; calls in flight may"
                  " finish within %d s", nano_jobs.drain_secs);
    if (write(nano_jobs.efd, &one, sizeof(one)) < 0) {
        nano_log_warn("jobs: cannot wake the runner");
    }
}

void
nano_jobs_wait_drained(void)
{
    struct timespec  tick;

    pthread_mutex_lock(&nano_jobs.lock);
    while (nano_jobs.running && atomic_load(&nano_jobs.draining)
           && !nano_jobs.drained
           /* a runner stuck past its time (the database hanging) is
            * waited for a little longer only */
           && nano_clock_ms() < nano_jobs.drain_until + 5000)
    {
        nano_clock_after(CLOCK_REALTIME, 500, &tick);
        pthread_cond_timedwait(&nano_jobs.work, &nano_jobs.lock, &tick);
    }
    pthread_mutex_unlock(&nano_jobs.lock);
}

void
nano_jobs_stop(void)
{
    nano_job_t  *job;

    atomic_store(&nano_jobs.taking, 0);
    atomic_store(&nano_jobs.stopping, 1);
    if (nano_jobs.running) {
        pthread_join(nano_jobs.thread, NULL);
        nano_jobs.running = 0;
    }
    pthread_mutex_lock(&nano_jobs.lock);
    pthread_cond_broadcast(&nano_jobs.work);
    pthread_mutex_unlock(&nano_jobs.lock);
    if (nano_jobs.worker_running) {
        pthread_join(nano_jobs.worker, NULL);
        nano_jobs.worker_running = 0;
    }
    /* what the offline thread still held: left to its lease.  A job it
     * finished after the runner stopped is recorded nowhere, and the
     * lease's next runner makes it again beside these files: they go */
    while ((job = nano_jobs.todo) != NULL) {
        nano_jobs.todo = job->next;
        nano_jobs_free(job);
    }
    while ((job = nano_jobs.done) != NULL) {
        nano_jobs.done = job->next;
        nano_job_discard(job);
        nano_jobs_free(job);
    }
    if (nano_jobs.efd >= 0) {
        close(nano_jobs.efd);
        nano_jobs.efd = -1;
    }
}
