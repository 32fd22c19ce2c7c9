/*
 * libpq's pipeline mode: a transaction sent in one round trip
 * (nano_db_pipeline_*), and the early statement whose result is read
 * before its commit, the commit read later (nano_db_exec_early,
 * nano_db_settle): the chat path's admission.  A handle with either
 * unread is pending; nano_db.c settles it before its next statement.
 */

#include "nano_db.h"
#include "nano_db_int.h"

#include <string.h>

/* The next result of a pipeline, with the NULL that ends a query's
 * results read past (none follows a sync).  NULL when there is none:
 * the connection broke. */
static PGresult *
pipe_result(nano_db_t *db)
{
    PGresult  *res = db_result(db), *more;

    if (res != NULL && PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
        while ((more = db_result(db)) != NULL) {
            PQclear(more);
        }
    }
    return res;
}

nano_db_status_t
nano_db_pipeline_send(nano_db_t *db, nano_db_stmt_t *stmts, size_t n)
{
    nano_db_status_t  st = NANO_DB_OK;
    const char       *names[NANO_DB_PIPELINE_MAX];
    char              namebuf[NANO_DB_PIPELINE_MAX][NANO_DB_NAME_LEN];
    size_t            i;
    int               sent;

    for (i = 0; i < n; i++) {
        stmts[i].result = NULL;
    }
    if (db == NULL || db->in_tx || n > NANO_DB_PIPELINE_MAX) {
        if (db != NULL) {
            db_set_error(db, "25001",
                         db->in_tx ? "a transaction is already open"
                                   : "too many statements");
        }
        return NANO_DB_FAILED;
    }
    if (db->pending && (st = nano_db_settle(db)) != NANO_DB_OK) {
        return st;
    }
    for (i = 0; i < n; i++) {
        if (!db_params_valid(db, stmts[i].nparams, stmts[i].params)) {
            return NANO_DB_INVALID;
        }
    }
    st = db_connect(db);
    if (st != NANO_DB_OK) {
        return st;
    }
    if (PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
        db_run_quietly(db, "ROLLBACK");
    }
    for (i = 0; i < n; i++) {
        names[i] = stmts[i].prepare
                   ? db_prepared_name(db, stmts[i].sql, stmts[i].nparams,
                                      namebuf[i], sizeof(namebuf[i]))
                   : NULL;
    }

    /* an open transaction is a whole round trip of its own (BEGIN, each
     * statement, COMMIT): here they all go at once and the server
     * answers them together */
    sent = PQenterPipelineMode(db->conn)
           && PQsendQueryParams(db->conn, "BEGIN", 0, NULL, NULL, NULL, NULL,
                                0);
    for (i = 0; i < n && sent; i++) {
        sent = db_send(db, stmts[i].sql, stmts[i].nparams, stmts[i].params,
                       names[i]);
    }
    sent = sent && PQsendQueryParams(db->conn, "COMMIT", 0, NULL, NULL, NULL,
                                     NULL, 0)
           && PQpipelineSync(db->conn);
    if (!sent) {
        db_set_error(db, NULL, PQerrorMessage(db->conn));
        PQfinish(db->conn);
        db->conn = NULL;
        return NANO_DB_UNAVAILABLE;
    }
    db->pending = 1;
    return NANO_DB_OK;
}

nano_db_status_t
nano_db_pipeline_recv(nano_db_t *db, nano_db_stmt_t *stmts, size_t n)
{
    nano_db_status_t  st = NANO_DB_OK;
    ExecStatusType    expect;
    PGresult         *res;
    size_t            i, k;

    if (db == NULL || !db->pending || db->conn == NULL) {
        return NANO_DB_FAILED;
    }
    db->pending = 0;
    /* BEGIN, the n statements, COMMIT; after the first failure the rest
     * come back aborted and are only read */
    for (k = 0; k < n + 2; k++) {
        res = pipe_result(db);
        if (res == NULL) {
            db_set_error(db, NULL, PQerrorMessage(db->conn));
            goto lost;
        }
        expect = k == 0 || k == n + 1 ? PGRES_COMMAND_OK
                                      : stmts[k - 1].expect;
        if (st == NANO_DB_OK && PQresultStatus(res) != expect) {
            st = db_classify(db, res);
        } else if (st == NANO_DB_OK && k == n + 1
                   && strcmp(PQcmdStatus(res), "COMMIT") != 0)
        {
            db_set_error(db, "40000", "transaction was rolled back");
            st = NANO_DB_FAILED;
        }
        if (st == NANO_DB_OK && k >= 1 && k <= n) {
            stmts[k - 1].result = res;
        } else {
            PQclear(res);
        }
        if (st == NANO_DB_UNAVAILABLE) {
            goto lost;
        }
    }
    res = pipe_result(db);
    if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
        PQclear(res);
        db_set_error(db, NULL, "the pipeline did not end with its sync");
        goto lost;
    }
    PQclear(res);
    if (!PQexitPipelineMode(db->conn)) {
        db_set_error(db, NULL, PQerrorMessage(db->conn));
        goto lost;
    }
    if (st != NANO_DB_OK) {
        db_check_stale(db);
        /* a failure inside BEGIN leaves the transaction open, aborted */
        if (PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
            db_run_quietly(db, "ROLLBACK");
        }
        goto failed;
    }
    db->errmsg[0] = '\0';
    db->sqlstate[0] = '\0';
    return NANO_DB_OK;

lost:
    /* whether the COMMIT went through is unknown */
    PQfinish(db->conn);
    db->conn = NULL;
    st = NANO_DB_UNAVAILABLE;
failed:
    for (i = 0; i < n; i++) {
        PQclear(stmts[i].result);
        stmts[i].result = NULL;
    }
    return st;
}

nano_db_status_t
nano_db_pipeline_tx(nano_db_t *db, nano_db_stmt_t *stmts, size_t n)
{
    nano_db_status_t  st;
    int               try;

    for (try = 1; ; try++) {
        st = nano_db_pipeline_send(db, stmts, n);
        if (st == NANO_DB_OK) {
            st = nano_db_pipeline_recv(db, stmts, n);
        }
        /* a stale prepared statement: nothing was committed, so once
         * more, prepared again */
        if (st == NANO_DB_OK || db == NULL || !db->prepared_stale
            || try == 2)
        {
            return st;
        }
    }
}

/* ---- early statements --------------------------------------------------- */

/* Reads a pipeline's results up to its sync and leaves pipeline mode;
 * the first failure among them, or NANO_DB_OK. */
static nano_db_status_t
db_pipeline_end(nano_db_t *db)
{
    nano_db_status_t  st = NANO_DB_OK;
    ExecStatusType    rs;
    PGresult         *res;

    for ( ;; ) {
        res = pipe_result(db);
        if (res == NULL) {
            db_set_error(db, NULL, PQerrorMessage(db->conn));
            return NANO_DB_UNAVAILABLE;
        }
        rs = PQresultStatus(res);
        if (rs == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        if (st == NANO_DB_OK && rs != PGRES_COMMAND_OK
            && rs != PGRES_TUPLES_OK && rs != PGRES_PIPELINE_ABORTED)
        {
            st = db_classify(db, res);
        }
        PQclear(res);
    }
    if (!PQexitPipelineMode(db->conn)) {
        db_set_error(db, NULL, PQerrorMessage(db->conn));
        return NANO_DB_UNAVAILABLE;
    }
    return st;
}

static PGresult *
db_early_once(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect,
    const nano_db_stmt_t *tail, nano_db_status_t *status)
{
    nano_db_status_t  st;
    PGresult         *res;
    const char       *name, *tail_name;
    char              namebuf[NANO_DB_NAME_LEN];
    char              tail_namebuf[NANO_DB_NAME_LEN];
    unsigned          connects;
    int               attempt, reused, sent;

    for (attempt = 0; ; attempt++) {
        res = NULL;
        connects = db->connects;
        st = db_connect(db);
        if (st != NANO_DB_OK) {
            goto out;
        }
        reused = db->connects == connects;
        if (PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
            db_run_quietly(db, "ROLLBACK");
        }
        name = db_prepared_name(db, sql, nparams, namebuf, sizeof(namebuf));
        tail_name = tail != NULL && tail->prepare
                    ? db_prepared_name(db, tail->sql, tail->nparams,
                                       tail_namebuf, sizeof(tail_namebuf))
                    : NULL;
        /* all in one write: the flush request has the server send the
         * result as soon as it has it, then run the tail and commit at
         * the sync without waiting for this side to read */
        sent = PQenterPipelineMode(db->conn)
               && db_send(db, sql, nparams, params, name)
               && PQsendFlushRequest(db->conn)
               && (tail == NULL
                   || db_send(db, tail->sql, tail->nparams, tail->params,
                              tail_name))
               && PQpipelineSync(db->conn);
        res = sent ? pipe_result(db) : NULL;
        if (res != NULL && PQresultStatus(res) == expect) {
            db->pending = 1;
            db->errmsg[0] = '\0';
            db->sqlstate[0] = '\0';
            goto out;
        }
        if (res != NULL) {
            st = db_classify(db, res);
            PQclear(res);
            res = NULL;
            /* the failure aborted the implicit transaction: the tail was
             * skipped, the sync rolled it back */
            if (st != NANO_DB_UNAVAILABLE
                && db_pipeline_end(db) != NANO_DB_UNAVAILABLE)
            {
                db_check_stale(db);
                goto out;
            }
        }
        if (db->errmsg[0] == '\0' || st == NANO_DB_OK) {
            db_set_error(db, NULL, PQerrorMessage(db->conn));
        }
        /* lost before the answer: whether it committed is unknown, as
         * for nano_db_exec_retried's second run */
        st = NANO_DB_UNAVAILABLE;
        if (!db_lost(db, reused, attempt)) {
            goto out;
        }
    }
out:
    *status = st;
    return res;
}

PGresult *
nano_db_exec_early(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect,
    const nano_db_stmt_t *tail, nano_db_status_t *status)
{
    nano_db_status_t  st = NANO_DB_FAILED;
    PGresult         *res = NULL;
    int               try;

    if (db == NULL || sql == NULL || nparams < 0) {
        goto out;
    }
    if (db->in_tx || db->pending) {
        db_set_error(db, "25001", "a transaction is already open");
        goto out;
    }
    if (!db_params_valid(db, nparams, params)
        || (tail != NULL
            && (tail->sql == NULL || tail->nparams < 0
                || !db_params_valid(db, tail->nparams, tail->params))))
    {
        st = NANO_DB_INVALID;
        goto out;
    }
    for (try = 1; ; try++) {
        res = db_early_once(db, sql, nparams, params, expect, tail, &st);
        if (res == NULL && db->prepared_stale && try == 1) {
            continue;           /* prepared again on the next try */
        }
        if (res != NULL || st != NANO_DB_RETRY || try == NANO_DB_TX_TRIES) {
            break;
        }
        db_tx_backoff(try + 1);
    }
out:
    if (status != NULL) {
        *status = st;
    }
    return res;
}

int
nano_db_pending(const nano_db_t *db)
{
    return db != NULL && db->pending;
}

int
nano_db_settle_ready(nano_db_t *db)
{
    if (db == NULL || !db->pending) {
        return 1;
    }
    if (!PQconsumeInput(db->conn)) {
        return -1;
    }
    return PQisBusy(db->conn) ? 0 : 1;
}

nano_db_status_t
nano_db_settle(nano_db_t *db)
{
    nano_db_status_t  st;

    if (db == NULL || !db->pending) {
        return NANO_DB_OK;
    }
    db->pending = 0;
    st = db_pipeline_end(db);
    if (st == NANO_DB_UNAVAILABLE) {
        /* whether it committed is unknown */
        PQfinish(db->conn);
        db->conn = NULL;
    } else if (st != NANO_DB_OK) {
        db_check_stale(db);     /* a tail's plan */
    }
    return st;
}
