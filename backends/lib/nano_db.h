/*
 * PostgreSQL access for backends: a handle is one libpq connection, used
 * by one thread at a time (nano_dbpool hands them out), reconnected
 * after failure, parameterised statements only.
 */

#ifndef NANO_DB_H
#define NANO_DB_H

#include <libpq-fe.h>

#include "nano_buf.h"

typedef enum {
    NANO_DB_OK = 0,
    NANO_DB_UNAVAILABLE,   /* cannot reach the server: answer 503 */
    NANO_DB_CONFLICT,      /* unique violation (SQLSTATE 23505): 409 */
    NANO_DB_RETRY,         /* serialization failure / deadlock */
    NANO_DB_FAILED,        /* anything else: 500 */
    NANO_DB_INVALID        /* a parameter was not UTF-8: the client's 400 */
} nano_db_status_t;

typedef struct nano_db_s  nano_db_t;

#define NANO_DB_TIMEOUT_DEFAULT  15000   /* ms, NANO_DB_TIMEOUT_MS */
#define NANO_DB_TIMEOUT_MAX      600000

/*
 * Reads NANO_DB_TIMEOUT_MS (100..NANO_DB_TIMEOUT_MAX, default
 * NANO_DB_TIMEOUT_DEFAULT): how long a call waits for the server's
 * answer.  A server that stays silent longer (frozen, or stuck on a
 * lock) costs the call its connection: it fails as NANO_DB_UNAVAILABLE
 * and is never run again, since the server may still run it.  Call
 * before starting threads.
 * Returns 0, or -1 with the reason in err.
 */
int nano_db_config(char *err, size_t errlen);

/*
 * New handle; database_url is V1's DATABASE_URL as Prisma
 * wrote it.  Does not connect yet.  NULL with a message in err when the
 * URL cannot be translated.
 */
nano_db_t *nano_db_new(const char *database_url, char *err, size_t errlen);

/* Accepts NULL. */
void nano_db_free(nano_db_t *db);

/*
 * Runs one parameterised statement ($1..$n, text params, NULL = SQL NULL)
 * and returns its result when its status is expect (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK); the caller PQclears it.  Otherwise returns NULL and
 * sets *status.  Reconnects first when the connection is bad.  A
 * parameter that is not strict UTF-8 is never sent: NANO_DB_INVALID.
 */
PGresult *nano_db_exec(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect,
    nano_db_status_t *status);

/*
 * nano_db_exec of a statement that returns rows (a SELECT, or a change
 * with RETURNING), for whether it returned any: *found (0 on failure).
 */
nano_db_status_t nano_db_exec_found(nano_db_t *db, const char *sql,
    int nparams, const char *const *params, int *found);

/*
 * nano_db_exec for a hot statement (a job runner's claim, a generation's
 * end): prepared once per connection, so that it is not parsed and
 * planned at every call.  sql must be the same text for the same
 * statement (a string constant), and its best plan must not depend on
 * the values: after five runs PostgreSQL may keep one generic plan (the
 * history's optional cursor, for one, is left unprepared).
 */
PGresult *nano_db_exec_hot(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect,
    nano_db_status_t *status);

/* BEGIN/COMMIT/ROLLBACK helpers; return NANO_DB_OK or the failure. */
nano_db_status_t nano_db_begin(nano_db_t *db);
nano_db_status_t nano_db_commit(nano_db_t *db);
void nano_db_rollback(nano_db_t *db);

/*
 * Runs fn(db, arg) inside a transaction and commits, retrying the whole
 * of it (up to 3 tries, with a jittered backoff) when PostgreSQL reports
 * a serialization failure or a deadlock.  fn returns NANO_DB_OK to
 * commit; anything else rolls back and is returned.  fn must be safe to
 * run again (nothing outside the database).
 */
typedef nano_db_status_t (*nano_db_tx_fn)(nano_db_t *db, void *arg);
nano_db_status_t nano_db_tx(nano_db_t *db, nano_db_tx_fn fn, void *arg);

/*
 * nano_db_exec for one statement that is a whole transaction on its own
 * (no transaction open): retried as nano_db_tx retries, on
 * serialization failures and deadlocks.
 */
PGresult *nano_db_exec_retried(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect,
    nano_db_status_t *status);

/* One statement of nano_db_pipeline_tx; result is filled in. */
typedef struct {
    const char          *sql;
    int                  nparams;
    const char *const   *params;
    ExecStatusType       expect;
    int                  prepare;   /* a hot one: kept prepared on the
                                       connection (sql then stays the
                                       same text for the same statement) */
    PGresult            *result;    /* out: the caller PQclears it */
} nano_db_stmt_t;

#define NANO_DB_PIPELINE_MAX  8     /* statements of one nano_db_pipeline_tx */

/*
 * Runs BEGIN, the n statements and COMMIT in one round trip (libpq's
 * pipeline mode), outside any open transaction.  NANO_DB_OK when every
 * statement's status was its expect and the COMMIT committed; then each
 * result is set.  Otherwise nothing was committed (or, when the
 * connection was lost during the COMMIT, it is unknown:
 * NANO_DB_UNAVAILABLE) and every result is NULL.  Not retried: a
 * statement that can meet a serialization failure belongs in nano_db_tx.
 */
nano_db_status_t nano_db_pipeline_tx(nano_db_t *db, nano_db_stmt_t *stmts,
    size_t n);

/*
 * nano_db_pipeline_tx in two halves, for work that need not wait for its
 * answer (a record written behind a reply): send returns once all is
 * sent; recv reads the answers into the same stmts (which must still
 * hold their expect; the sql and params may be gone).  Between the two
 * the pipeline is pending as an early statement's commit is: other calls
 * on db read it first, discarding its results.
 */
nano_db_status_t nano_db_pipeline_send(nano_db_t *db, nano_db_stmt_t *stmts,
    size_t n);
nano_db_status_t nano_db_pipeline_recv(nano_db_t *db, nano_db_stmt_t *stmts,
    size_t n);

/*
 * One statement that is a whole transaction on its own, answered before
 * its commit is durable: the result comes as soon as the server has it
 * (a flush request), and the server goes on to commit (the sync, sent
 * with the statement) without waiting for this side.  Until
 * nano_db_settle the commit is pending: nothing else may run on db
 * (calls that do settle it first), and nothing that depends on the
 * statement's effects may reach anyone outside.  Prepared once per
 * connection; retried as nano_db_exec_retried retries, so a second run
 * may meet a first one's committed work.  Used where the wait for the
 * WAL flush can overlap other work (docs/MODULES.md, "Chat overhead").
 *
 * tail, when not NULL, is a second statement of the same transaction,
 * sent with the first: work the answer need not wait for.  The server
 * runs it right after answering the first, whatever the answer, so it
 * must itself do nothing when the first did not go as it needs (its
 * sql's own checks); after a failure of the first it is skipped.  Its
 * failure undoes the first statement's work too, and is what
 * nano_db_settle then reports.  Its result is not kept; its expect is
 * not read.
 */
PGresult *nano_db_exec_early(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect,
    const nano_db_stmt_t *tail, nano_db_status_t *status);

/* 1 when an early statement's commit (or a sent pipeline) has not been
 * read yet. */
int nano_db_pending(const nano_db_t *db);

/* Without waiting: 1 when the pending commit's answer is here (or none
 * is pending), 0 not yet, -1 the connection broke (settle says how). */
int nano_db_settle_ready(nano_db_t *db);

/* Waits for the pending commit: NANO_DB_OK once it is durable; any other
 * status means it did not commit (NANO_DB_UNAVAILABLE: unknown). */
nano_db_status_t nano_db_settle(nano_db_t *db);

/* 1 when a transaction is open on db (the pool rolls such back). */
int nano_db_in_tx(const nano_db_t *db);

/* Ends the open transaction: commits when st is NANO_DB_OK, else rolls
 * back.  Returns the final status (a failed commit's, or st). */
nano_db_status_t nano_db_finish(nano_db_t *db, nano_db_status_t st);

/*
 * LISTENs on channel (an identifier, quoted here), connecting first when
 * needed.  Call it again after nano_db_wait_on reports a lost
 * connection.
 */
nano_db_status_t nano_db_listen(nano_db_t *db, const char *channel);

/*
 * Waits up to timeout_ms for notifications on the connection that
 * nano_db_listen opened, and consumes all that arrived.  Returns 1 when
 * at least one arrived on channel (any, when NULL) whose payload is
 * payload (any, when NULL), 0 on timeout or when none did, -1 when the
 * connection is lost.  Each one on another channel goes to
 * other(arg, channel, payload) (may be NULL) instead.
 */
typedef void (*nano_db_notice_fn)(void *arg, const char *channel,
    const char *payload);
int nano_db_wait_on(nano_db_t *db, int timeout_ms, const char *channel,
    const char *payload, nano_db_notice_fn other, void *arg);

/* The connection's socket, for poll(), or -1 when not connected. */
int nano_db_socket(const nano_db_t *db);

/*
 * Which connection db is on: a number that changes whenever nano_db
 * opens a new one, as any call may after the last one broke (0 before
 * the first).  What the old one LISTENed to is gone with it: a listener
 * compares this with the number it had when it called nano_db_listen.
 */
unsigned nano_db_connection(const nano_db_t *db);

/*
 * How many statements db has handed to libpq to send.  Unchanged across
 * a call that failed means nothing of it can have reached the server
 * (its connection could not be opened).
 */
unsigned nano_db_sends(const nano_db_t *db);

/*
 * Appends s to a PostgreSQL array literal for a $n::text[] parameter as
 * element number *n (counted here: a comma before all but the first),
 * double-quoted with '"' and '\' escaped, so that any text is one
 * element; the caller writes the braces ("{" ... "}"; "{}" is empty).
 * Failures are b's sticky one.
 */
void nano_db_array_add(nano_buf_t *b, const char *s, size_t *n);

/*
 * The last failure's message (first line of the server's or libpq's text,
 * never the URL or password) and SQLSTATE ("" when none); borrowed, valid
 * until the next call on db.
 */
const char *nano_db_last_error(const nano_db_t *db);
const char *nano_db_last_sqlstate(const nano_db_t *db);

#endif /* NANO_DB_H */
