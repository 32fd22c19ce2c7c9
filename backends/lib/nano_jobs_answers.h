/*
 * What the request workers leave to the runner: text answers held while
 * they are made, and what could not be settled with the database, settled
 * later on the runner's thread (nano_jobs_answers.c).
 */

#ifndef NANO_JOBS_ANSWERS_H
#define NANO_JOBS_ANSWERS_H

#include <stddef.h>

#include <jansson.h>

#include "nano_buf.h"
#include "nano_db.h"
#include "nano_gen.h"

/*
 * A request worker runs text generation id (a UUID) under this process's
 * lease from begin to end: the runner renews its lease in between, and
 * never after, so a row whose end was lost (its commit did not wait for
 * the WAL flush) is taken over and refunded when its lease runs out.
 * begin returns 0, or -1 when NANO_JOBS_ANSWERS_MAX are running already.
 */
#define NANO_JOBS_ANSWERS_MAX  256     /* NANO_WORKERS' upper bound */
int nano_jobs_answer_begin(const char *id);
void nano_jobs_answer_end(const char *id);

/* An ended answer whose debit's outcome was lost while the database was
 * out of reach: the runner fails and refunds it (nano_gen_finish_lost)
 * once the database answers, before its lease would.  0, or -1 when
 * NANO_JOBS_ANSWERS_MAX wait already (the lease does it then). */
int nano_jobs_answer_lost(const char *id);

/*
 * A job's admission answered 503 after its statement went out: the
 * database may still run it once what held it lets go (a server stopped
 * with SIGSTOP, a frozen disk), and then the job is queued and charged
 * for a request its client was told failed.  The runner watches for it
 * from when the database answers again, for NANO_JOBS_ADMIT_WATCH_SECS,
 * and cancels and refunds it if it appears (nano_gen_cancel); its own
 * claims leave it alone meanwhile.  0, or -1 when NANO_JOBS_ADMITS_MAX
 * are watched already.
 */
#define NANO_JOBS_ADMITS_MAX        64
#define NANO_JOBS_ADMIT_WATCH_SECS  60
int nano_jobs_admit_lost(const char *id, const char *user_id);

/*
 * An ended answer whose end could not be written (the database was out
 * of reach, as in a restart): the runner writes it (nano_gen_finish_answer;
 * text and error are copied) once the database answers, and renews its
 * lease meanwhile, for NANO_JOBS_LATER_SECS at most; then its lease ends
 * it, failed and refunded.  The caller still calls nano_jobs_answer_end.
 * 0, or -1 when NANO_JOBS_ANSWERS_MAX wait already or out of memory.
 */
#define NANO_JOBS_LATER_SECS  300
int nano_jobs_answer_later(const char *id, const char *status,
    const char *text, json_t *error, int refund);

/* The runner's: what the workers hold, added to the runner's held ids
 * (nano_db_array_add); and, each turn, what waits settled with db as
 * the runner owner of module. */
void nano_jobs_answers_held(nano_buf_t *b, size_t *n);
void nano_jobs_answers_finish(nano_db_t *db, const char *owner,
    const char *module);

#endif /* NANO_JOBS_ANSWERS_H */
