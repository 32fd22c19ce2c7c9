/*
 * What the request workers leave to the runner: the text answers they
 * are making (held: the runner renews their leases), and what they could
 * not settle with the database (an answer's lost debit outcome, a job's
 * lost admission, an answer's end not written), settled by the runner's
 * thread once the database answers.  Shared with the workers under
 * locks of their own; the runner's other state is not touched here.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_clock.h"
#include "nano_jobs_answers.h"
#include "nano_log.h"

/* A set of text generations' ids, NANO_JOBS_ANSWERS_MAX at most. */
typedef struct {
    pthread_mutex_t  lock;
    atomic_int       n;
    char             ids[NANO_JOBS_ANSWERS_MAX][NANO_GEN_ID_LEN + 1];
} nano_jobs_ids_t;

/* The text generations this process's request workers are answering
 * (nano_jobs_answer_begin): held, as the runner's jobs are. */
static nano_jobs_ids_t  nano_jobs_answers = {
    .lock = PTHREAD_MUTEX_INITIALIZER
};

/* Those whose debit's outcome was lost while the database was out of
 * reach (nano_jobs_answer_lost): the runner fails and refunds them once
 * it answers again. */
static nano_jobs_ids_t  nano_jobs_lost = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Job admissions whose outcome was lost (nano_jobs_admit_lost). */
typedef struct {
    char       id[NANO_GEN_ID_LEN + 1];
    char       user[128];
    long long  drop_at;     /* ms; 0 until the database answered */
} nano_jobs_admit_t;

static struct {
    pthread_mutex_t    lock;
    atomic_int         n;
    nano_jobs_admit_t  e[NANO_JOBS_ADMITS_MAX];
} nano_jobs_admits = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* An answer's end that could not be written (nano_jobs_answer_later). */
typedef struct nano_jobs_later_s  nano_jobs_later_t;

struct nano_jobs_later_s {
    nano_jobs_later_t  *next;
    long long           until;      /* ms; then its lease ends it */
    json_t             *error;
    int                 refund;
    char                id[NANO_GEN_ID_LEN + 1];
    char                status[16];
    char                text[];
};

/* Kept apart from the answers: their lease is renewed while they wait,
 * without taking a place from the answers being made. */
static struct {
    pthread_mutex_t     lock;
    nano_jobs_later_t  *list;
    atomic_int          n;
} nano_jobs_later = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* 0, or -1 when the set is full. */
static int
nano_jobs_ids_add(nano_jobs_ids_t *set, const char *id)
{
    int  i, rc = -1;

    pthread_mutex_lock(&set->lock);
    for (i = 0; i < NANO_JOBS_ANSWERS_MAX && rc != 0; i++) {
        if (set->ids[i][0] == '\0') {
            snprintf(set->ids[i], NANO_GEN_ID_LEN + 1, "%s", id);
            atomic_fetch_add(&set->n, 1);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&set->lock);
    return rc;
}

static void
nano_jobs_ids_remove(nano_jobs_ids_t *set, const char *id)
{
    int  i;

    pthread_mutex_lock(&set->lock);
    for (i = 0; i < NANO_JOBS_ANSWERS_MAX; i++) {
        if (strcmp(set->ids[i], id) == 0) {
            set->ids[i][0] = '\0';
            atomic_fetch_sub(&set->n, 1);
            break;
        }
    }
    pthread_mutex_unlock(&set->lock);
}

int
nano_jobs_answer_begin(const char *id)
{
    return nano_jobs_ids_add(&nano_jobs_answers, id);
}

void
nano_jobs_answer_end(const char *id)
{
    nano_jobs_ids_remove(&nano_jobs_answers, id);
}

int
nano_jobs_answer_lost(const char *id)
{
    return nano_jobs_ids_add(&nano_jobs_lost, id);
}

/* The lost answers, failed and refunded now that db answers; those the
 * database did not answer for stay for the next turn. */
static void
nano_jobs_finish_lost(nano_db_t *db, const char *owner)
{
    char  id[NANO_GEN_ID_LEN + 1];
    int   i, done;

    for (i = 0; i < NANO_JOBS_ANSWERS_MAX
                && atomic_load(&nano_jobs_lost.n) > 0; i++)
    {
        pthread_mutex_lock(&nano_jobs_lost.lock);
        memcpy(id, nano_jobs_lost.ids[i], sizeof(id));
        pthread_mutex_unlock(&nano_jobs_lost.lock);
        if (id[0] != '\0'
            && nano_gen_finish_lost(db, id, owner, &done)
               == NANO_DB_OK)
        {
            nano_jobs_ids_remove(&nano_jobs_lost, id);
        }
    }
}

int
nano_jobs_admit_lost(const char *id, const char *user_id)
{
    nano_jobs_admit_t  *e;
    int                 i, rc = -1;

    if (strlen(id) > NANO_GEN_ID_LEN
        || strlen(user_id) >= sizeof(e->user))
    {
        return -1;
    }
    pthread_mutex_lock(&nano_jobs_admits.lock);
    for (i = 0; i < NANO_JOBS_ADMITS_MAX && rc != 0; i++) {
        e = &nano_jobs_admits.e[i];
        if (e->id[0] == '\0') {
            snprintf(e->id, sizeof(e->id), "%s", id);
            snprintf(e->user, sizeof(e->user), "%s", user_id);
            e->drop_at = 0;
            atomic_fetch_add(&nano_jobs_admits.n, 1);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&nano_jobs_admits.lock);
    return rc;
}

/* Forgets the lost admission in slot i when it is still id's. */
static void
nano_jobs_admit_forget(int i, const char *id)
{
    pthread_mutex_lock(&nano_jobs_admits.lock);
    if (strcmp(nano_jobs_admits.e[i].id, id) == 0) {
        nano_jobs_admits.e[i].id[0] = '\0';
        atomic_fetch_sub(&nano_jobs_admits.n, 1);
    }
    pthread_mutex_unlock(&nano_jobs_admits.lock);
}

/*
 * The lost admissions, canceled and refunded where they appeared; one
 * not there (yet) is looked for again each turn until its watch ends.
 * A turn stops at the first the database does not answer for.
 */
static void
nano_jobs_cancel_lost(nano_db_t *db, const char *owner, const char *module)
{
    nano_jobs_admit_t   e;
    nano_gen_change_t   out;
    nano_db_status_t    st;
    long long           now = nano_clock_ms();
    int                 i;

    for (i = 0; i < NANO_JOBS_ADMITS_MAX
                && atomic_load(&nano_jobs_admits.n) > 0; i++)
    {
        pthread_mutex_lock(&nano_jobs_admits.lock);
        e = nano_jobs_admits.e[i];
        pthread_mutex_unlock(&nano_jobs_admits.lock);
        if (e.id[0] == '\0') {
            continue;
        }
        st = nano_gen_cancel_lost(db, e.id, e.user, module,
                                  owner, &out);
        if (st == NANO_DB_UNAVAILABLE) {
            return;
        }
        if (e.drop_at == 0) {
            /* the watch runs from the first turn the database answers */
            e.drop_at = now + NANO_JOBS_ADMIT_WATCH_SECS * 1000LL;
            pthread_mutex_lock(&nano_jobs_admits.lock);
            if (strcmp(nano_jobs_admits.e[i].id, e.id) == 0) {
                nano_jobs_admits.e[i].drop_at = e.drop_at;
            }
            pthread_mutex_unlock(&nano_jobs_admits.lock);
        }
        if (st != NANO_DB_OK) {
            continue;
        }
        if (out == NANO_GEN_CHANGED) {
            nano_log_warn("job %s: admitted after its request was answered"
                          " 503 (the database held the statement);"
                          " canceled and refunded", e.id);
        } else if (out == NANO_GEN_CONFLICT) {
            nano_log_error("job %s: admitted after its request was answered"
                           " 503, and no longer queued when looked for (a"
                           " runner took it, or its owner ended it): left"
                           " as it is", e.id);
        } else if (now < e.drop_at) {
            continue;
        }
        nano_jobs_admit_forget(i, e.id);
    }
}

int
nano_jobs_answer_later(const char *id, const char *status, const char *text,
    json_t *error, int refund)
{
    nano_jobs_later_t  *later;
    size_t              len = strlen(text) + 1;

    if (atomic_load(&nano_jobs_later.n) >= NANO_JOBS_ANSWERS_MAX
        || strlen(status) >= sizeof(later->status)
        || (later = malloc(sizeof(*later) + len)) == NULL)
    {
        return -1;
    }
    later->until = nano_clock_ms() + NANO_JOBS_LATER_SECS * 1000;
    later->error = error != NULL ? json_deep_copy(error) : NULL;
    if (error != NULL && later->error == NULL) {
        free(later);
        return -1;
    }
    later->refund = refund;
    snprintf(later->id, sizeof(later->id), "%s", id);
    snprintf(later->status, sizeof(later->status), "%s", status);
    memcpy(later->text, text, len);
    pthread_mutex_lock(&nano_jobs_later.lock);
    later->next = nano_jobs_later.list;
    nano_jobs_later.list = later;
    atomic_fetch_add(&nano_jobs_later.n, 1);
    pthread_mutex_unlock(&nano_jobs_later.lock);
    return 0;
}

/*
 * The answers' ends that waited, written now that db answers; those it
 * still refuses wait for the next turn, until their time is up.  A turn
 * stops at the first that finds the database out of reach: the others
 * would too.
 */
static void
nano_jobs_finish_later(nano_db_t *db, const char *owner)
{
    nano_jobs_later_t  *list, *later, *keep = NULL;
    nano_db_status_t    st = NANO_DB_OK;
    long long           now = nano_clock_ms();
    int                 done;

    pthread_mutex_lock(&nano_jobs_later.lock);
    list = nano_jobs_later.list;
    nano_jobs_later.list = NULL;
    pthread_mutex_unlock(&nano_jobs_later.lock);

    while ((later = list) != NULL) {
        list = later->next;
        if (st != NANO_DB_UNAVAILABLE) {
            st = nano_gen_finish_answer(db, later->id, owner,
                                        later->status, later->text,
                                        later->error, later->refund, &done);
            if (st == NANO_DB_OK) {
                nano_log_warn("generation %s: %s", later->id, done
                              ? "its end is written now that the database"
                                " answers"
                              : "taken over before its end could be"
                                " written");
            }
        }
        if (st != NANO_DB_OK && st != NANO_DB_INVALID && now < later->until)
        {
            later->next = keep;
            keep = later;
            continue;
        }
        if (st != NANO_DB_OK) {
            nano_log_error("generation %s: its end still cannot be written"
                           " (%s); its lease ends it", later->id,
                           nano_db_last_error(db));
        }
        atomic_fetch_sub(&nano_jobs_later.n, 1);
        json_decref(later->error);
        free(later);
    }
    if (keep != NULL) {
        pthread_mutex_lock(&nano_jobs_later.lock);
        for (later = keep; later->next != NULL; later = later->next) {
            /* to the end of what waits */
        }
        later->next = nano_jobs_later.list;
        nano_jobs_later.list = keep;
        pthread_mutex_unlock(&nano_jobs_later.lock);
    }
}

void
nano_jobs_answers_held(nano_buf_t *b, size_t *n)
{
    nano_jobs_later_t  *later;
    int                 i;

    pthread_mutex_lock(&nano_jobs_answers.lock);
    for (i = 0; i < NANO_JOBS_ANSWERS_MAX; i++) {
        if (nano_jobs_answers.ids[i][0] != '\0') {
            nano_db_array_add(b, nano_jobs_answers.ids[i], n);
        }
    }
    pthread_mutex_unlock(&nano_jobs_answers.lock);
    pthread_mutex_lock(&nano_jobs_later.lock);
    for (later = nano_jobs_later.list; later != NULL; later = later->next) {
        nano_db_array_add(b, later->id, n);
    }
    pthread_mutex_unlock(&nano_jobs_later.lock);
    /* not held: a claim must not run what is to be canceled */
    pthread_mutex_lock(&nano_jobs_admits.lock);
    for (i = 0; i < NANO_JOBS_ADMITS_MAX; i++) {
        if (nano_jobs_admits.e[i].id[0] != '\0') {
            nano_db_array_add(b, nano_jobs_admits.e[i].id, n);
        }
    }
    pthread_mutex_unlock(&nano_jobs_admits.lock);
}

void
nano_jobs_answers_finish(nano_db_t *db, const char *owner, const char *module)
{
    if (atomic_load(&nano_jobs_lost.n) > 0) {
        nano_jobs_finish_lost(db, owner);
    }
    if (atomic_load(&nano_jobs_admits.n) > 0) {
        nano_jobs_cancel_lost(db, owner, module);
    }
    if (atomic_load(&nano_jobs_later.n) > 0) {
        nano_jobs_finish_later(db, owner);
    }
}
