/*
 * Generations: every module's rows in "Generation" (docs/MODULES.md),
 * created together with their debit, read for their owner only, and
 * moved through queued -> running -> succeeded | failed | canceled, with
 * the refund of anything that ends without a complete result.
 * nano_gen.c: rows, creation, the owner's reads and changes;
 * nano_gen_runner.c: the runner's claims, leases, ends;
 * nano_gen_conversation.c: a conversation's turns as messages.
 */

#ifndef NANO_GEN_H
#define NANO_GEN_H

#include <stddef.h>

#include <jansson.h>

#include "nano_db.h"
#include "nano_gen_options.h"   /* NANO_GEN_MODEL_MAX */
#include "nano_rand.h"

#define NANO_GEN_ID_LEN          NANO_RAND_UUID_LEN
#define NANO_GEN_INFLIGHT_MAX    16      /* NANO_MAX_INFLIGHT_PER_USER */
#define NANO_GEN_HISTORY_LIMIT   20
#define NANO_GEN_HISTORY_MAX     100
#define NANO_GEN_BASE_MAX        64      /* "/<module>" */
/* sql/023 NOTIFYs a deleted "User" row's id here, whoever deleted it:
 * each module's runner removes its media of the user, the platform the
 * avatar */
#define NANO_GEN_USER_DELETED    "nano_user_deleted"

/* nano_gen_t.unreadable: a jsonb column jansson refuses (a number such
 * as 1e400, which jsonb keeps), left NULL */
#define NANO_GEN_UNREADABLE_PARAMS   0x1u
#define NANO_GEN_UNREADABLE_OUTPUTS  0x2u
#define NANO_GEN_UNREADABLE_ERROR    0x4u

/* A row; every field is owned (NULL for SQL NULL). */
typedef struct {
    char        *id;
    char        *user_id;
    char        *module;
    char        *model;
    char        *kind;
    char        *status;
    char        *prompt;
    char        *text;
    char        *conversation_id;
    char        *provider_task_id;
    char        *phase;
    char        *created_at;      /* ISO 8601 UTC */
    char        *started_at;
    char        *finished_at;
    json_t      *params;          /* object */
    /* [{"file","mime","width","height","bytes"}] */
    json_t      *outputs;
    json_t      *error;           /* {"code","message"} or NULL */
    long long    cost;
    int          offline;
    unsigned     unreadable;      /* NANO_GEN_UNREADABLE_* */
} nano_gen_t;

void nano_gen_init(nano_gen_t *g);

/* Frees the fields; accepts NULL and may run twice. */
void nano_gen_cleanup(nano_gen_t *g);

/*
 * Reads NANO_MAX_INFLIGHT_PER_USER once, at a module's start: 0, or -1
 * with err saying what is wrong (a typo must not become a limit of 1 or
 * the default in silence).
 */
int nano_gen_configure(char *err, size_t errlen);

/* What nano_gen_create decided. */
typedef enum {
    NANO_GEN_ADMITTED = 0,
    NANO_GEN_NO_CREDITS,          /* 402 insufficient_credits */
    NANO_GEN_TOO_MANY,            /* 429 too_many_in_flight */
    NANO_GEN_NO_MODEL,            /* the model asked for has no price: 400 */
    NANO_GEN_NO_PRICE,            /* the module has no price list: 500 */
    NANO_GEN_REPLAYED,            /* the key's earlier generation: 202 */
    NANO_GEN_KEY_REUSED,          /* the key came with another request */
    NANO_GEN_NO_USER              /* the user is gone (the account was
                                     deleted): 401 */
} nano_gen_admit_t;

/* An admission: its decision, and when admitted (or replayed) the row's
 * id, status, the model charged for and its price. */
typedef struct {
    nano_gen_admit_t  admit;
    char              id[NANO_GEN_ID_LEN + 1];
    char              status[16];
    char              model[NANO_GEN_MODEL_MAX];
    long long         cost;
} nano_gen_admission_t;

/* A generation to create; all borrowed. */
typedef struct {
    const char  *user_id;
    const char  *module;
    const char  *model;            /* NULL: the module's first */
    const char  *kind;
    const char  *prompt;
    const char  *conversation_id;  /* may be NULL */
    json_t      *params;           /* object, may be NULL */
    const char  *status;           /* "queued" (a job), or "running" (the
                                      request runs it: text) */
    const char  *owner;            /* lease owner of a "running" one */
    int          lease_secs;       /* its lease */
    int          offline;
    int          early;            /* answer before the commit is durable:
                                      see nano_gen_create */
    int          caller_wakes;     /* a "queued" one: the caller calls
                                      nano_jobs_queued after the commit,
                                      so the row's trigger stays silent
                                      (sql/013_admit_wakes.sql) */
    const char  *key;              /* an Idempotency-Key (a "queued" one
                                      only) or NULL: sql/014 */
} nano_gen_new_t;

/*
 * In one statement, its own transaction, committed before it returns
 * (the SQL function "nano_gen_admit", sql/010_admission.sql; retried on
 * serialization failures): looks up the model's price, debits it,
 * checks that the user has fewer than NANO_MAX_INFLIGHT_PER_USER
 * (default 16) queued or running generations in this module, and
 * inserts the row.  A user without an account gets one with its grant
 * first (one more round trip, once).  out says what happened; a refused
 * one changes nothing.  One whose commit's answer was lost, run again
 * by nano_db on a new connection, is found by its id and admitted.
 * With in->key, the user's generation in this module made with that key
 * is answered instead (NANO_GEN_REPLAYED, nothing charged), or
 * NANO_GEN_KEY_REUSED when it was made from another request.  One
 * whose connection died during the call (not in->early) is run once
 * more: its id, or its key, finds what a first run committed.
 * With in->early (no key, no caller_wakes) an admitted one returns
 * before its rows are written and its commit is durable: the debit
 * answers and the rows follow in the same transaction (sql/018,
 * nano_db_exec_early with a tail); the caller settles it with
 * nano_db_settle before anything of it leaves the process.
 */
nano_db_status_t nano_gen_create(nano_db_t *db, const nano_gen_new_t *in,
    nano_gen_admission_t *out);

/* Reads generation id into g when user_id owns it (user_id NULL: anyone,
 * for the runner); *found says whether it did.  A column jansson refuses
 * is left NULL and flagged in g->unreadable. */
nano_db_status_t nano_gen_get(nano_db_t *db, const char *id,
    const char *user_id, nano_gen_t *g, int *found);

/*
 * The API's view of g: outputs as URLs under base ("/qwen" gives
 * "/qwen/media/<id>/<n>.<ext>"); a column in g->unreadable is null, and
 * "unreadable" lists them.  A new reference, or NULL when out of memory.
 */
json_t *nano_gen_json(const nano_gen_t *g, const char *base);

/*
 * 1 when json_loads() failed on a jsonb column's text for what it holds
 * (a number jansson cannot hold, nesting past its depth: every later
 * read fails too), 0 when for want of memory (jansson leaves no message,
 * or a syntax error, which well-formed jsonb text cannot have).
 */
int nano_gen_jsonb_refused(const json_error_t *err);

/* The names of the columns flagged in bits ("params", "outputs",
 * "error"), separated by ", ", in buf. */
const char *nano_gen_unreadable_names(unsigned bits, char *buf, size_t cap);

/*
 * A page of user_id's generations in module, newest first, as a new
 * JSON array of nano_gen_json objects in *items, and the next page's
 * cursor (a new string, NULL on the last) in *next.  cursor is NULL or a
 * value from *next: NANO_DB_INVALID when it is not one.  A row with an
 * unreadable column is listed as nano_gen_json shows it (logged), here
 * and in nano_gen_all.  *gone is 1 (and *items NULL) when user_id has no
 * "User" row: a session the gateway still took for a deleted account.
 */
nano_db_status_t nano_gen_history(nano_db_t *db, const char *user_id,
    const char *module, int limit, const char *cursor, const char *base,
    json_t **items, char **next, int *gone);

/*
 * 1 when at is a time as to_char(t, 'YYYY-MM-DD HH24:MI:SS.US') prints
 * a TIMESTAMP(3), the first half of a page's cursor: checked before it
 * reaches PostgreSQL, whose refusal would fill its log.
 */
int nano_gen_cursor_time_ok(const char *at);

/*
 * Every generation of user_id, newest first, each as a nano_gen_json
 * object under its own module's base ("/<module>") handed to each(),
 * which must not keep it: the data export.  Read batch rows at a time
 * through a cursor, so memory stays bounded whatever the count; the
 * caller opens the transaction the cursor lives in (REPEATABLE READ for
 * one snapshot with what it read before).  each() returns 0 to go on,
 * non-zero to stop (NANO_DB_OK all the same).
 */
nano_db_status_t nano_gen_each(nano_db_t *db, const char *user_id,
    int batch, int (*each)(json_t *item, void *arg), void *arg);

/* What a change by its owner did. */
typedef enum {
    NANO_GEN_CHANGED = 0,
    NANO_GEN_NOT_FOUND,           /* no such generation of this user */
    NANO_GEN_CONFLICT             /* not in a state that allows it */
} nano_gen_change_t;

/* Cancels a queued generation of user_id in module and refunds it (409
 * when it is not queued any more). */
nano_db_status_t nano_gen_cancel(nano_db_t *db, const char *id,
    const char *user_id, const char *module, nano_gen_change_t *out);

/*
 * nano_gen_cancel for an admission whose answer was lost
 * (nano_jobs_admit_lost): also a row running under runner that it never
 * began, as a claim of runner's whose answer was lost the same way
 * leaves it (the server held both statements, then ran them).
 */
nano_db_status_t nano_gen_cancel_lost(nano_db_t *db, const char *id,
    const char *user_id, const char *module, const char *runner,
    nano_gen_change_t *out);

/*
 * Deletes a generation of user_id in module that is not running (a
 * queued one is refunded first); the paths of its files, outputs and
 * input image (relative to the media root; a new array), go to *files so
 * the caller removes them.  The ledger keeps its rows.
 */
nano_db_status_t nano_gen_delete(nano_db_t *db, const char *id,
    const char *user_id, const char *module, nano_gen_change_t *out,
    json_t **files);

/*
 * Ends a running generation that owner holds: status "succeeded",
 * "failed" or "canceled", with outputs / text / error (each may be NULL;
 * borrowed), and the refund when refund is set, in one transaction.
 * *done is 0 when owner no longer held it (another process took it
 * over): nothing changed.
 */
nano_db_status_t nano_gen_finish(nano_db_t *db, const char *id,
    const char *owner, const char *status, json_t *outputs, const char *text,
    json_t *error, int refund, int *done);

/* *gone is 1 when user_id has no "User" row (the account was deleted):
 * nothing of it may be kept. */
nano_db_status_t nano_gen_owner_gone(nano_db_t *db, const char *user_id,
    int *gone);

/*
 * nano_gen_finish for an answer made on a request (text): without a
 * refund its commit does not wait for the WAL flush (one round trip,
 * no fdatasync); a PostgreSQL crash may lose it, and the row's lease
 * then ends it as failed and refunded (docs/MODULES.md).  With a refund
 * it is nano_gen_finish.
 */
nano_db_status_t nano_gen_finish_answer(nano_db_t *db, const char *id,
    const char *owner, const char *status, const char *text, json_t *error,
    int refund, int *done);

/*
 * A text answer whose debit's outcome was lost with its connection (the
 * caller answered 503): failed and refunded if it committed and this
 * owner still holds it (logged), nothing otherwise.  NANO_DB_OK once
 * the database answered; *done says whether the row was there.
 */
nano_db_status_t nano_gen_finish_lost(nano_db_t *db, const char *id,
    const char *owner, int *done);

/*
 * nano_gen_finish_answer without a refund, in two halves: the record is
 * sent, and its answer read later (after the reply went out: see
 * nano_req_t's after).  Between the two, db is busy with it.
 */
typedef struct {
    nano_db_stmt_t  stmts[2];
} nano_gen_record_t;

nano_db_status_t nano_gen_record_send(nano_db_t *db, const char *id,
    const char *owner, const char *status, const char *text, json_t *error,
    nano_gen_record_t *rec);
nano_db_status_t nano_gen_record_recv(nano_db_t *db, nano_gen_record_t *rec,
    int *done);

/* One generation's end, for nano_gen_finish_all. */
typedef struct {
    const char  *id;
    const char  *user_id;       /* its owner's: the order of the refunds */
    const char  *status;
    json_t      *outputs;       /* borrowed; may be NULL */
    const char  *text;
    json_t      *error;         /* borrowed; may be NULL */
    int          refund;
    int          done;          /* out: as nano_gen_finish's */
} nano_gen_end_t;

/*
 * Ends n generations that owner holds, as nano_gen_finish does each, in
 * one transaction (one commit for all: the runner ends many at once),
 * in the order of their user_id: a refund locks its user's account, and
 * two runners locking accounts in one order cannot deadlock.  On a
 * failure nothing changed and every done is 0.
 */
nano_db_status_t nano_gen_finish_all(nano_db_t *db, const char *owner,
    nano_gen_end_t *ends, size_t n);

/*
 * The runner's claim: up to max generations of module that are queued,
 * or running with a lease that ran out (their process died, or dropped
 * them), become running under owner with a lease of lease_secs; FOR
 * UPDATE SKIP LOCKED, so two runners never take one job.  held (a
 * PostgreSQL array literal of ids, "{}" for none) lists what the
 * caller's process still runs: never returned, however late their
 * leases.  Another owner's lapsed lease is taken only with takeover
 * (nano_jobs holds it back after an outage).  An offline runner (its
 * process has no key) takes no running row with a provider task
 * recorded: it cannot poll it, and would make a result of its own for a
 * task the provider goes on making and charges for; it waits for a
 * runner with the key.  A claimed row's "offline" becomes the runner's,
 * as its result will be (a job admitted where the key was, run where it
 * is not, said "offline": false).  Leases are reckoned by the
 * database's clock.  *jobs is a new
 * array of *n rows (free each with nano_gen_cleanup, then free()); a
 * claimed row that cannot be read is not among them: one jansson refuses
 * ends failed (unreadable) and refunded, one that memory ran out for is
 * left to its lease (logged), for a later claim.
 */
nano_db_status_t nano_gen_claim(nano_db_t *db, const char *module,
    const char *owner, int lease_secs, int max, const char *held,
    int takeover, int offline, nano_gen_t **jobs, size_t *n);

/*
 * Moves the leases of the running generations listed in held (a
 * PostgreSQL array literal of ids) that owner still holds to lease_secs
 * from now, by the database's clock.  One owner has not listed is not
 * renewed: its process dropped it, and it is taken over when its lease
 * runs out.
 */
nano_db_status_t nano_gen_renew(nano_db_t *db, const char *owner,
    int lease_secs, const char *held);

/*
 * Records where a job stands with its provider ("submitting" before a
 * POST, "submitted" with task_id once accepted); *done is 0 when owner
 * lost it.  task_id may be NULL.
 */
nano_db_status_t nano_gen_set_phase(nano_db_t *db, const char *id,
    const char *owner, const char *phase, const char *task_id, int *done);

/*
 * Records phase "submitting" for each of the n generations ids (UUIDs)
 * that owner still runs, in one statement; held[i] is 1 for those it
 * did, 0 for those owner lost.
 */
nano_db_status_t nano_gen_set_submitting(nano_db_t *db, const char *owner,
    const char *const *ids, size_t n, int *held);

/*
 * Gives back generations a stopping runner (owner) holds, in one
 * statement: those in requeue (nothing sent that may charge) go back to
 * "queued" as if never claimed, each claimed again no sooner than its
 * wait_secs (a provider's Retry-After; 0: at once); those in resume (an
 * asynchronous task recorded) stay "running" with their lease ended, so
 * that the next claim resumes them.  *given says how many rows changed.
 */
nano_db_status_t nano_gen_release(nano_db_t *db, const char *owner,
    const char *const *requeue, const long *wait_secs, size_t nrequeue,
    const char *const *resume, size_t nresume, int *given);

/*
 * The turns of a conversation of user_id in module before this one,
 * oldest first, as a new JSON array of {"role","content"}: each turn's
 * messages as it was asked (its params' "messages", else its prompt as
 * the user's) and its answer; at most max_turns of the latest, and only
 * the latest whose messages all fit max_messages.  *found is 0 when
 * no generation of user_id in module (of any status) carries the id: a
 * conversation belongs to its user and to the module it began in, and one
 * whose generations were all deleted is gone.
 */
nano_db_status_t nano_gen_conversation(nano_db_t *db,
    const char *conversation_id, const char *user_id, const char *module,
    int max_turns, size_t max_messages, json_t **messages, int *found);

/*
 * The media names that user_id's generations of module hold (the media
 * sweep, nano_sweep.h): each output's and input image's file, relative
 * to the media root, and "<module>/<user>/<id>/" for a generation still
 * queued or running, whose folder is in use.  A new array of *n new
 * strings, sorted by strcmp; free it with nano_gen_names_free.
 */
nano_db_status_t nano_gen_media_names(nano_db_t *db, const char *module,
    const char *user_id, char ***names, size_t *n);
void nano_gen_names_free(char **names, size_t n);

/*
 * The level a generation that failed with code (docs/MODULES.md's error
 * codes) is logged at: NANO_LOG_INFO for what the person asked or did
 * (bad_request, blocked, client_gone, canceled), NANO_LOG_ERROR for what
 * the operator must fix (provider_auth: the key; internal), and
 * NANO_LOG_WARN for the rest (the provider failed, timed out, refused
 * for its quota).  An int: nano_log_level_t's value.
 */
int nano_gen_error_level(const char *code);

#endif /* NANO_GEN_H */
