/*
 * PostgreSQL access through one handle at a time per thread: a lazily
 * opened libpq connection, reconnected after failure, errors sorted by
 * SQLSTATE; statements, transactions, retried on serialization
 * failures, and hot statements kept prepared.  Pipelines and the early
 * statement are in nano_db_pipeline.c, LISTEN in nano_db_listen.c; the
 * handle's fields in nano_db_int.h.
 */

#include "nano_clock.h"
#include "nano_config.h"
#include "nano_db.h"
#include "nano_db_int.h"
#include "nano_dburl.h"
#include "nano_log.h"
#include "nano_rand.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "nano_utf8.h"

/* Seconds libpq waits for a server that does not answer at all. */
#define NANO_DB_CONNECT_TIMEOUT  "3"
#define NANO_DB_CLIENT_CHECK_MS  "1000"
/* After a connect attempt that ran into the timeout, calls fail fast for
 * this long instead of each waiting the full timeout again. */
#define NANO_DB_SLOW_FAIL_MS     2000
#define NANO_DB_SLOW_CONNECT_MS  1000

static PGresult *db_run_as(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect, int hot,
    nano_db_status_t *status);
static PGresult *db_exec_as(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect, int hot,
    nano_db_status_t *status);
static PGresult *db_call(nano_db_t *db, const char *sql, const char *name,
    int nparams, const char *const *params);

/* How long a call waits for an answer: set once before threads start
 * (nano_db_config). */
static int  db_timeout_ms = NANO_DB_TIMEOUT_DEFAULT;

/* Keeps the first line of msg for nano_db_last_error(). */
void
db_set_error(nano_db_t *db, const char *sqlstate, const char *msg)
{
    size_t n;

    snprintf(db->sqlstate, sizeof(db->sqlstate), "%s",
             sqlstate ? sqlstate : "");
    if (msg == NULL || *msg == '\0') {
        msg = "unknown database error";
    }
    if (db->timed_out) {
        /* what libpq says of the connection dropped for it ("server
         * closed the connection") would blame the server */
        msg = "the database did not answer in time (NANO_DB_TIMEOUT_MS)";
    }
    n = strcspn(msg, "\n");
    if (n >= sizeof(db->errmsg)) {
        n = sizeof(db->errmsg) - 1;
    }
    memcpy(db->errmsg, msg, n);
    db->errmsg[n] = '\0';
}

/* The connection they were prepared on is gone (or never was). */
static void
forget_prepared(nano_db_t *db)
{
    int  i;

    for (i = 0; i < db->nprepared; i++) {
        free(db->prepared[i]);
        db->prepared[i] = NULL;
    }
    db->nprepared = 0;
}

/* PostgreSQL would refuse a parameter that is not UTF-8 (22021) as a
 * server error; it is the client's, and never worth a round trip. */
int
db_params_valid(nano_db_t *db, int nparams, const char *const *params)
{
    int  i;

    for (i = 0; i < nparams; i++) {
        if (params[i] != NULL && !nano_utf8_valid(params[i])) {
            db_set_error(db, "22021", "a parameter is not valid UTF-8");
            return 0;
        }
    }
    return 1;
}

/*
 * The connection broke during a call: it is dropped, and the call may
 * run once more on a new one (1) when the dead connection was open
 * before the call (the server restarted), this was the first attempt,
 * it did not time out and no caller's transaction was open, so nothing
 * the caller did is lost.
 */
int
db_lost(nano_db_t *db, int reused, int attempt)
{
    PQfinish(db->conn);
    db->conn = NULL;
    if (db->in_tx) {
        db->tx_lost = 1;
        return 0;
    }
    /* a statement that timed out may still run: never send it twice */
    if (!reused || attempt > 0 || db->timed_out) {
        return 0;
    }
    nano_log_warn("database connection lost (%s); reconnecting",
                  db->errmsg);
    return 1;
}

/*
 * libpq prints NOTICEs (e.g. "... already exists, skipping") on stderr by
 * default; a backend's log is for its own events.  A FATAL outside a
 * query (pg_terminate_backend, a shutdown, idle_session_timeout) comes
 * here too: the server ends the session after it, and until its socket
 * closes the connection looked alive (db_closed_while_idle).
 */
static void
on_notice(void *arg, const PGresult *res)
{
    nano_db_t   *db = arg;
    const char  *severity;

    severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity != NULL
        && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
    {
        db->said_fatal = 1;
    }
}

/*
 * Waits until the next result can be read without blocking.  When the
 * server stays silent past the timeout the connection is shut down, so
 * that libpq reports it lost and every caller takes its path for that.
 */
static void
db_await(nano_db_t *db)
{
    struct pollfd  pfd;
    long long      left, deadline;
    int            rc;

    deadline = nano_clock_ms() + db_timeout_ms;
    while (PQisBusy(db->conn)) {
        left = deadline - nano_clock_ms();
        if (left <= 0) {
            nano_log_warn("the database did not answer within %d ms;"
                          " dropping the connection", db_timeout_ms);
            db->timed_out = 1;
            (void) shutdown(PQsocket(db->conn), SHUT_RDWR);
            (void) PQconsumeInput(db->conn);
            return;
        }
        pfd.fd = PQsocket(db->conn);
        pfd.events = POLLIN;
        pfd.revents = 0;
        rc = poll(&pfd, 1, (int) left);
        if ((rc < 0 && errno != EINTR)
            || (rc > 0 && !PQconsumeInput(db->conn)))
        {
            return;             /* PQgetResult reports it */
        }
    }
}

/* PQgetResult with its wait bounded by the timeout. */
PGresult *
db_result(nano_db_t *db)
{
    db_await(db);
    return PQgetResult(db->conn);
}

nano_db_t *
nano_db_new(const char *database_url, char *err, size_t errlen)
{
    nano_db_t *db;

    db = calloc(1, sizeof(*db));
    if (db == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    db->uri = nano_dburl_to_libpq(database_url, err, errlen);
    if (db->uri == NULL) {
        free(db);
        return NULL;
    }
    return db;
}

int
nano_db_config(char *err, size_t errlen)
{
    return nano_config_env_int("NANO_DB_TIMEOUT_MS", NANO_DB_TIMEOUT_DEFAULT,
                               100, NANO_DB_TIMEOUT_MAX, &db_timeout_ms, err,
                               errlen);
}

void
nano_db_free(nano_db_t *db)
{
    if (db == NULL) {
        return;
    }
    if (db->conn != NULL) {
        PQfinish(db->conn);
    }
    forget_prepared(db);
    if (db->uri != NULL) {
        /* The URI carries the password: do not leave it in freed memory. */
        explicit_bzero(db->uri, strlen(db->uri));
        free(db->uri);
    }
    free(db);
}

const char *
nano_db_last_error(const nano_db_t *db)
{
    return db != NULL ? db->errmsg : "";
}

const char *
nano_db_last_sqlstate(const nano_db_t *db)
{
    return db != NULL ? db->sqlstate : "";
}

/*
 * 1 when an idle connection's server has gone: its socket holds the end,
 * or the server said FATAL first (a shutdown, pg_terminate_backend),
 * which libpq reads here and on_notice marks: the process exits after
 * it, and on a loaded host its socket stayed open long enough for a
 * pipeline to be sent on it and lost (a notification stays queued for
 * PQnotifies).  One recv that finds nothing on a live connection.
 */
static int
db_closed_while_idle(nano_db_t *db)
{
    ssize_t  n;
    char     c;
    int      look;

    for (look = 0; look < 2 && !db->said_fatal; look++) {
        n = recv(PQsocket(db->conn), &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0) {
            return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
        }
        if (n == 0) {
            return 1;
        }
        if (!PQconsumeInput(db->conn) || PQstatus(db->conn) != CONNECTION_OK)
        {
            return 1;
        }
        (void) PQisBusy(db->conn);   /* parses it */
    }
    return db->said_fatal;
}

/*
 * A statement dropped at NANO_DB_TIMEOUT_MS (db_await) would run on to
 * its end on the server, its COMMIT included, once what held it (a lock,
 * a frozen disk) let go: a debit whose caller answered 503 would take
 * effect.  So the server looks each second whether its client is still
 * there while a statement runs, and ends the session if not (PostgreSQL
 * 14 and later; an older server refuses the setting, which is ignored).
 * And JIT is off: our statements are short, and once a table grows past
 * jit_above_cost's estimate (a user with 10,000 ledger rows in the
 * dashboard's 30 days) each connection compiled the plan, about 130 ms,
 * then ran it in twice the time (found by the schema probe).
 */
static nano_db_status_t
db_check_client(nano_db_t *db)
{
    PGresult  *res;
    unsigned   sends = db->sends;

    res = db_call(db, "SET client_connection_check_interval = "
                      NANO_DB_CLIENT_CHECK_MS, NULL, 0, NULL);
    PQclear(res);
    if (PQstatus(db->conn) == CONNECTION_OK) {
        res = db_call(db, "SET jit = off", NULL, 0, NULL);
        PQclear(res);
    }
    db->sends = sends;          /* the caller's statement is not sent yet */
    if (PQstatus(db->conn) != CONNECTION_OK) {
        db_set_error(db, "08006", PQerrorMessage(db->conn));
        PQfinish(db->conn);
        db->conn = NULL;
        return NANO_DB_UNAVAILABLE;
    }
    return NANO_DB_OK;
}

/* Opens the connection when there is none or it went bad. */
nano_db_status_t
db_connect(nano_db_t *db)
{
    /* Keywords before dbname are defaults the URI may override.  TCP
     * keepalives find a server that vanished (host down, cable cut)
     * within about 25 s instead of the kernel's two hours.  The client
     * encoding comes after it, overriding the URI and PGCLIENTENCODING:
     * what we send is UTF-8 (nano_utf8_valid checks every parameter),
     * and under LATIN1 each of its bytes was stored as a character. */
    const char *const kw[] = { "connect_timeout", "fallback_application_name",
                               "keepalives_idle", "keepalives_interval",
                               "keepalives_count", "dbname",
                               "client_encoding", NULL };
    const char *const val[] = { NANO_DB_CONNECT_TIMEOUT, "nano", "10", "5",
                                "3", db->uri, "UTF8", NULL };
    long long         start;

    /* A connection the server closed while it sat in the pool (a
     * restart, pg_terminate_backend) has the server's goodbye and its
     * end waiting in the socket: read them now, and the call starts on a
     * new connection instead of failing on the old one.  A pipeline
     * cannot be run again after a failure (its COMMIT may have gone
     * through), only before: a text answer's record was lost this way
     * and refunded. */
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK
        && !db->pending && db_closed_while_idle(db))
    {
        PQfinish(db->conn);
        db->conn = NULL;
        /* between two statements of a caller's transaction the server
         * rolled back what it did: a new connection ran the rest outside
         * it, each statement on its own, and the COMMIT answered success
         * (an export read its remaining pages outside its snapshot;
         * found by the export probe) */
        if (db->in_tx) {
            db->tx_lost = 1;
            db_set_error(db, "08006", "connection lost inside a transaction");
            return NANO_DB_UNAVAILABLE;
        }
        nano_log_warn("database connection closed by the server while"
                      " idle; reconnecting");
    }
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK) {
        return NANO_DB_OK;
    }
    db->timed_out = 0;
    start = nano_clock_ms();
    if (db->down && start < db->fail_until) {
        db_set_error(db, "08006", "database unavailable (retrying shortly)");
        return NANO_DB_UNAVAILABLE;
    }
    if (db->conn != NULL) {
        PQfinish(db->conn);
    }
    forget_prepared(db);
    db->pending = 0;
    db->conn = PQconnectdbParams(kw, val, 1);
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        db_set_error(db, "08001", db->conn ? PQerrorMessage(db->conn)
                                           : "out of memory");
        if (db->conn != NULL) {
            PQfinish(db->conn);
            db->conn = NULL;
        }
        if (!db->down) {
            nano_log_warn("database unavailable: %s", db->errmsg);
        }
        db->down = 1;
        if (nano_clock_ms() - start >= NANO_DB_SLOW_CONNECT_MS) {
            db->fail_until = nano_clock_ms() + NANO_DB_SLOW_FAIL_MS;
        }
        return NANO_DB_UNAVAILABLE;
    }
    if (db->down) {
        nano_log_info("database connection restored");
        db->down = 0;
    }
    db->connects++;
    db->said_fatal = 0;
    PQsetNoticeReceiver(db->conn, on_notice, db);
    return db_check_client(db);
}

/* Sorts a failed result (or a lost connection) into a status. */
nano_db_status_t
db_classify(nano_db_t *db, const PGresult *res)
{
    const char *state;

    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    db_set_error(db, state, res ? PQresultErrorMessage(res)
                                : PQerrorMessage(db->conn));
    if (PQstatus(db->conn) == CONNECTION_BAD) {
        return NANO_DB_UNAVAILABLE;
    }
    if (state == NULL) {
        /* An error libpq made itself ("server closed the connection
         * unexpectedly", "could not send data"): the connection cannot be
         * trusted, even while PQstatus still says OK. */
        if (res == NULL || PQresultStatus(res) == PGRES_FATAL_ERROR) {
            return NANO_DB_UNAVAILABLE;
        }
        db_set_error(db, NULL, "statement returned an unexpected result");
        return NANO_DB_FAILED;
    }
    if (strcmp(state, "23505") == 0) {
        return NANO_DB_CONFLICT;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        return NANO_DB_RETRY;
    }
    /* Class 08 (connection exception), and the server shutting down or
     * starting up (57P01..57P03). */
    if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0
        || strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0)
    {
        return NANO_DB_UNAVAILABLE;
    }
    return NANO_DB_FAILED;
}

/* Runs a statement with no parameters and no result (ROLLBACK); errors
 * are ignored because there is nothing left to undo. */
void
db_run_quietly(nano_db_t *db, const char *sql)
{
    PGresult *res;

    res = db_call(db, sql, NULL, 0, NULL);
    PQclear(res);
}

/*
 * Executes once, and once more on a fresh connection when a connection
 * that was open before the call turns out dead (the server restarted)
 * and no transaction is open, so nothing the caller did is lost.  The
 * one case this can repeat is a server dying between committing an
 * autocommit statement and answering it.
 */
PGresult *
db_run(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect,
    nano_db_status_t *status)
{
    return db_run_as(db, sql, nparams, params, expect, 0, status);
}

/* db_run, with sql kept prepared on the connection when hot. */
static PGresult *
db_run_as(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect, int hot,
    nano_db_status_t *status)
{
    PGresult         *res = NULL;
    nano_db_status_t  st;
    const char       *name;
    char              namebuf[NANO_DB_NAME_LEN];
    unsigned          connects;
    int               attempt, reused;

    if (db->pending && (st = nano_db_settle(db)) != NANO_DB_OK) {
        goto out;
    }
    for (attempt = 0; ; attempt++) {
        connects = db->connects;
        st = db_connect(db);
        if (st != NANO_DB_OK) {
            goto out;
        }
        /* open before this attempt (one found closed is replaced) */
        reused = db->connects == connects;
        /* A failed statement outside a caller's transaction must not
         * leave the connection unusable for the next request. */
        if (!db->in_tx && PQtransactionStatus(db->conn) == PQTRANS_INERROR) {
            db_run_quietly(db, "ROLLBACK");
        }
        name = hot ? db_prepared_name(db, sql, nparams, namebuf,
                                      sizeof(namebuf))
                   : NULL;
        res = db_call(db, sql, name, nparams, params);
        if (res != NULL && PQresultStatus(res) == expect) {
            db->errmsg[0] = '\0';
            db->sqlstate[0] = '\0';
            st = NANO_DB_OK;
            goto out;
        }
        st = db_classify(db, res);
        if (name != NULL) {
            db_check_stale(db);
        }
        PQclear(res);
        res = NULL;
        if (st != NANO_DB_UNAVAILABLE) {
            goto out;
        }
        /* Lost: the next attempt (or call) starts a new connection. */
        if (!db_lost(db, reused, attempt)) {
            goto out;
        }
    }
out:
    *status = st;
    return res;
}

PGresult *
nano_db_exec(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect,
    nano_db_status_t *status)
{
    return db_exec_as(db, sql, nparams, params, expect, 0, status);
}

nano_db_status_t
nano_db_exec_found(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, int *found)
{
    nano_db_status_t  st;
    PGresult         *r;

    r = db_exec_as(db, sql, nparams, params, PGRES_TUPLES_OK, 0, &st);
    *found = r != NULL && PQntuples(r) > 0;
    PQclear(r);
    return st;
}

PGresult *
nano_db_exec_hot(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect,
    nano_db_status_t *status)
{
    return db_exec_as(db, sql, nparams, params, expect, 1, status);
}

static PGresult *
db_exec_as(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect, int hot,
    nano_db_status_t *status)
{
    nano_db_status_t  st;
    PGresult         *res = NULL;

    if (db == NULL || sql == NULL || nparams < 0) {
        st = NANO_DB_FAILED;
        goto out;
    }
    if (!db_params_valid(db, nparams, params)) {
        st = NANO_DB_INVALID;
        goto out;
    }
    if (db->tx_lost) {
        /* Running on a new connection would silently leave the caller's
         * transaction: refuse until it rolls back. */
        db_set_error(db, "08006", "connection lost inside a transaction");
        st = NANO_DB_UNAVAILABLE;
        goto out;
    }
    res = db_run_as(db, sql, nparams, params, expect, hot, &st);
out:
    if (status != NULL) {
        *status = st;
    }
    return res;
}

nano_db_status_t
nano_db_begin(nano_db_t *db)
{
    nano_db_status_t  st;
    PGresult         *res;

    if (db == NULL) {
        return NANO_DB_FAILED;
    }
    if (db->in_tx) {
        db_set_error(db, "25001", "a transaction is already open");
        return NANO_DB_FAILED;
    }
    res = db_run(db, "BEGIN", 0, NULL, PGRES_COMMAND_OK, &st);
    PQclear(res);
    if (st == NANO_DB_OK) {
        db->in_tx = 1;
    }
    return st;
}

/*
 * COMMIT on a transaction that already failed answers "ROLLBACK" with a
 * success status, so the transaction state and the command tag are both
 * checked.  When the connection is lost during COMMIT the outcome is
 * unknown; it is reported as NANO_DB_UNAVAILABLE.
 */
nano_db_status_t
nano_db_commit(nano_db_t *db)
{
    nano_db_status_t  st;
    PGresult         *res = NULL;

    if (db == NULL) {
        return NANO_DB_FAILED;
    }
    if (!db->in_tx) {
        db_set_error(db, "25P01", "no transaction is open");
        return NANO_DB_FAILED;
    }
    if (db->tx_lost || db->conn == NULL
        || PQstatus(db->conn) != CONNECTION_OK)
    {
        db_set_error(db, "08006", "connection lost inside a transaction");
        st = NANO_DB_UNAVAILABLE;
        goto out;
    }
    if (PQtransactionStatus(db->conn) == PQTRANS_INERROR) {
        db_run_quietly(db, "ROLLBACK");
        db_set_error(db, "25P02", "transaction failed earlier; rolled back");
        st = NANO_DB_FAILED;
        goto out;
    }
    res = db_call(db, "COMMIT", NULL, 0, NULL);
    if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK
        && strcmp(PQcmdStatus(res), "COMMIT") == 0)
    {
        st = NANO_DB_OK;
        goto out;
    }
    if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK) {
        db_set_error(db, "40000", "transaction was rolled back");
        st = NANO_DB_FAILED;
        goto out;
    }
    st = db_classify(db, res);
    if (st == NANO_DB_UNAVAILABLE) {
        PQfinish(db->conn);
        db->conn = NULL;
    } else if (PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
        db_run_quietly(db, "ROLLBACK");
    }
out:
    PQclear(res);
    db->in_tx = 0;
    db->tx_lost = 0;
    return st;
}

void
nano_db_rollback(nano_db_t *db)
{
    if (db == NULL) {
        return;
    }
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK
        && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
    {
        db_run_quietly(db, "ROLLBACK");
    }
    db->in_tx = 0;
    db->tx_lost = 0;
}

int
nano_db_in_tx(const nano_db_t *db)
{
    PGTransactionStatusType  ts;

    if (db == NULL) {
        return 0;
    }
    if (db->in_tx) {
        return 1;
    }
    /* also a BEGIN sent through nano_db_exec */
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        return 0;
    }
    ts = PQtransactionStatus(db->conn);
    return ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR
           || ts == PQTRANS_ACTIVE;
}

/* Sleeps before try number next (2, 3...): a random 10..50 ms, doubled
 * for each try after the second, so that the transactions that
 * collided do not collide again in step. */
void
db_tx_backoff(int next)
{
    struct timespec  ts;
    unsigned char    r = 0;
    long             ms;

    nano_rand_bytes(&r, 1);
    ms = (10 + (long) r * 40 / 255) << (next - 2);
    ts.tv_sec = 0;
    ts.tv_nsec = ms * 1000000L;
    nanosleep(&ts, NULL);
}

nano_db_status_t
nano_db_tx(nano_db_t *db, nano_db_tx_fn fn, void *arg)
{
    nano_db_status_t  st;
    int               try;

    for (try = 1; ; try++) {
        st = nano_db_begin(db);
        if (st == NANO_DB_OK) {
            st = fn(db, arg);
            if (st == NANO_DB_OK) {
                st = nano_db_commit(db);
            } else {
                nano_db_rollback(db);
            }
        }
        if (st != NANO_DB_RETRY || try == NANO_DB_TX_TRIES) {
            break;
        }
        db_tx_backoff(try + 1);
    }
    return st;
}

PGresult *
nano_db_exec_retried(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect,
    nano_db_status_t *status)
{
    nano_db_status_t  st;
    PGresult         *res;
    int               try;

    for (try = 1; ; try++) {
        res = nano_db_exec(db, sql, nparams, params, expect, &st);
        if (res != NULL || st != NANO_DB_RETRY || try == NANO_DB_TX_TRIES) {
            break;
        }
        db_tx_backoff(try + 1);
    }
    if (status != NULL) {
        *status = st;
    }
    return res;
}

nano_db_status_t
nano_db_finish(nano_db_t *db, nano_db_status_t st)
{
    if (st == NANO_DB_OK) {
        return nano_db_commit(db);
    }
    nano_db_rollback(db);
    return st;
}

/* ---- prepared statements ------------------------------------------------ */

/*
 * A statement's name is a hash of its text, so that one name means one
 * statement on every server connection.  Behind a pooler that hands a
 * server connection from client to client (PgBouncer's transaction
 * mode, which docs/MODULES.md rules out), a name that another process
 * prepared there is then the same statement, never another one run with
 * our parameters; the numbered names used before could be.
 */
static void
db_statement_name(const char *sql, char *name, size_t cap)
{
    const unsigned char  *p;
    unsigned long long    h = 14695981039346656037ULL;     /* FNV-1a */

    for (p = (const unsigned char *) sql; *p != '\0'; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    snprintf(name, cap, "nano_%016llx", h);
}

/*
 * The name sql is prepared under on this connection, preparing it first
 * (one round trip, once per connection).  NULL when the cache is full
 * or the server refused: the caller then runs it unprepared and meets
 * any error there.  Not in pipeline mode.
 */
const char *
db_prepared_name(nano_db_t *db, const char *sql, int nparams, char *name,
    size_t cap)
{
    PGresult    *res;
    const char  *state;
    int          i, ok;

    if (db->prepared_stale) {
        /* a schema change made a plan's result type stale (0A000), or
         * the names were deallocated (26000): start over */
        db_run_quietly(db, "DEALLOCATE ALL");
        forget_prepared(db);
        db->prepared_stale = 0;
    }
    db_statement_name(sql, name, cap);
    for (i = 0; i < db->nprepared; i++) {
        if (strcmp(db->prepared[i], sql) == 0) {
            return name;
        }
    }
    if (db->nprepared == NANO_DB_PREPARED_MAX) {
        return NULL;
    }
    db->prepared[db->nprepared] = strdup(sql);
    if (db->prepared[db->nprepared] == NULL) {
        return NULL;
    }
    res = PQprepare(db->conn, name, sql, nparams, NULL);
    state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* 42P05: there already, and by its name the same statement */
    ok = res != NULL
         && (PQresultStatus(res) == PGRES_COMMAND_OK
             || (state != NULL && strcmp(state, "42P05") == 0));
    PQclear(res);
    if (!ok) {
        free(db->prepared[db->nprepared]);
        db->prepared[db->nprepared] = NULL;
        return NULL;
    }
    db->nprepared++;
    return name;
}

/* After a failure: was it a prepared statement gone stale? */
void
db_check_stale(nano_db_t *db)
{
    if (strcmp(db->sqlstate, "0A000") == 0
        || strcmp(db->sqlstate, "26000") == 0)
    {
        db->prepared_stale = 1;
    }
}

/* Sends one statement of a pipeline, prepared when asked. */
int
db_send(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, const char *name)
{
    int  ok;

    ok = name != NULL
         ? PQsendQueryPrepared(db->conn, name, nparams, params, NULL, NULL, 0)
         : PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL,
                             NULL, 0);
    db->sends += ok != 0;
    return ok;
}

/* PQexecParams / PQexecPrepared with the wait bounded by the timeout:
 * the last result, or the first error; NULL when it could not be sent. */
static PGresult *
db_call(nano_db_t *db, const char *sql, const char *name, int nparams,
    const char *const *params)
{
    PGresult  *res, *more;

    /* as PQexecParams: never inside a pipeline, where the statement
     * would sit unsent and its answer be awaited until the timeout */
    if (PQpipelineStatus(db->conn) != PQ_PIPELINE_OFF
        || !db_send(db, sql, nparams, params, name))
    {
        return NULL;
    }
    res = db_result(db);
    while (res != NULL && (more = db_result(db)) != NULL) {
        if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
            PQclear(more);
        } else {
            PQclear(res);
            res = more;
        }
    }
    return res;
}

int
nano_db_socket(const nano_db_t *db)
{
    return db != NULL && db->conn != NULL ? PQsocket(db->conn) : -1;
}

unsigned
nano_db_sends(const nano_db_t *db)
{
    return db != NULL ? db->sends : 0;
}

unsigned
nano_db_connection(const nano_db_t *db)
{
    return db != NULL ? db->connects : 0;
}

void
nano_db_array_add(nano_buf_t *b, const char *s, size_t *n)
{
    size_t  k;

    nano_buf_puts(b, (*n)++ > 0 ? ",\"" : "\"");
    for (; *s != '\0'; s += k) {
        k = strcspn(s, "\"\\");
        nano_buf_append(b, s, k);
        if (s[k] != '\0') {
            nano_buf_append(b, "\\", 1);
            nano_buf_append(b, s + k, 1);
            k++;
        }
    }
    nano_buf_puts(b, "\"");
}
