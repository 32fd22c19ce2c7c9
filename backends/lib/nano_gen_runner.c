/*
 * The job runner's side of the "Generation" table: claims with SKIP
 * LOCKED, leases, phases, ends with their refunds (one by one, all in
 * one transaction, or a text answer's without waiting for the WAL
 * flush), and rows given back by a drain.  Every statement holds only
 * while the runner (owner) still holds the row.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_buf.h"
#include "nano_credits.h"
#include "nano_gen.h"
#include "nano_gen_row.h"
#include "nano_log.h"

typedef struct {
    const char  *id;
    const char  *owner;
    const char  *status;
    json_t      *outputs;
    const char  *text;
    json_t      *error;
    int          refund;
    int          done;
} nano_gen_finish_ctx_t;

/* A running generation's end, while owner still holds it. */
static const char  nano_gen_end_sql[] =
    "UPDATE \"Generation\" SET \"status\" = $3, \"finishedAt\" = "
    NANO_GEN_NOW ", \"outputs\" = COALESCE($4::jsonb, \"outputs\"),"
    " \"text\" = COALESCE($5, \"text\"), \"error\" = $6::jsonb,"
    " \"leaseOwner\" = NULL, \"leaseUntil\" = NULL"
    " WHERE \"id\" = $1 AND \"status\" = 'running'"
    " AND \"leaseOwner\" = $2 RETURNING 1";

static nano_db_status_t
nano_gen_finish_tx(nano_db_t *db, void *arg)
{
    nano_gen_finish_ctx_t  *c = arg;
    const char             *params[6];
    char                   *outputs = NULL, *error = NULL;
    nano_db_status_t        st = NANO_DB_FAILED;
    PGresult               *r;
    int                     refunded;

    c->done = 0;
    if (c->outputs != NULL
        && (outputs = json_dumps(c->outputs, JSON_COMPACT)) == NULL)
    {
        goto out;
    }
    if (c->error != NULL
        && (error = json_dumps(c->error, JSON_COMPACT)) == NULL)
    {
        goto out;
    }
    params[0] = c->id;
    params[1] = c->owner;
    params[2] = c->status;
    params[3] = outputs;
    params[4] = c->text;
    params[5] = error;
    r = nano_db_exec_hot(db, nano_gen_end_sql, 6, params, PGRES_TUPLES_OK,
                         &st);
    if (r == NULL) {
        goto out;
    }
    c->done = PQntuples(r) == 1;
    PQclear(r);
    if (c->done && c->refund) {
        st = nano_credits_refund(db, c->id, &refunded);
    }
out:
    free(outputs);
    free(error);
    return st;
}

nano_db_status_t
nano_gen_owner_gone(nano_db_t *db, const char *user_id, int *gone)
{
    static const char   sql[] =
        "SELECT 1 FROM \"User\" WHERE \"id\" = $1";
    const char         *params[1] = { user_id };
    nano_db_status_t    st;
    int                 found;

    st = nano_db_exec_found(db, sql, 1, params, &found);
    *gone = st == NANO_DB_OK && !found;
    return st;
}

nano_db_status_t
nano_gen_finish(nano_db_t *db, const char *id, const char *owner,
    const char *status, json_t *outputs, const char *text, json_t *error,
    int refund, int *done)
{
    nano_gen_finish_ctx_t  c = { id, owner, status, outputs, text, error,
                                 refund, 0 };
    nano_db_status_t       st;

    /* without a refund it is one UPDATE, atomic on its own: BEGIN and
     * COMMIT would only add two round trips */
    st = refund ? nano_db_tx(db, nano_gen_finish_tx, &c)
                : nano_gen_finish_tx(db, &c);
    *done = st == NANO_DB_OK && c.done;
    return st;
}

nano_db_status_t
nano_gen_record_send(nano_db_t *db, const char *id, const char *owner,
    const char *status, const char *text, json_t *error,
    nano_gen_record_t *rec)
{
    /* the WAL flush is not waited for: a crash of PostgreSQL within a
     * few hundred milliseconds may lose this end; the row then stays
     * running until its lease runs out (this process no longer renews
     * it), and the runner fails and refunds it */
    static const char  async[] = "SET LOCAL synchronous_commit = off";
    const char        *params[6];
    char              *ejson = NULL;
    nano_db_status_t   st;

    memset(rec, 0, sizeof(*rec));
    if (error != NULL && (ejson = json_dumps(error, JSON_COMPACT)) == NULL) {
        return NANO_DB_FAILED;
    }
    params[0] = id;
    params[1] = owner;
    params[2] = status;
    params[3] = NULL;
    params[4] = text;
    params[5] = ejson;
    rec->stmts[0].sql = async;
    rec->stmts[0].expect = PGRES_COMMAND_OK;
    rec->stmts[1].sql = nano_gen_end_sql;
    rec->stmts[1].nparams = 6;
    rec->stmts[1].params = params;
    rec->stmts[1].expect = PGRES_TUPLES_OK;
    rec->stmts[1].prepare = 1;
    /* libpq copies the parameters into its buffer as it sends them */
    st = nano_db_pipeline_send(db, rec->stmts, 2);
    rec->stmts[1].params = NULL;
    free(ejson);
    return st;
}

nano_db_status_t
nano_gen_record_recv(nano_db_t *db, nano_gen_record_t *rec, int *done)
{
    nano_db_status_t  st;

    *done = 0;
    st = nano_db_pipeline_recv(db, rec->stmts, 2);
    if (st == NANO_DB_OK) {
        *done = PQntuples(rec->stmts[1].result) == 1;
    }
    PQclear(rec->stmts[0].result);
    PQclear(rec->stmts[1].result);
    memset(rec, 0, sizeof(*rec));
    return st;
}

nano_db_status_t
nano_gen_finish_answer(nano_db_t *db, const char *id, const char *owner,
    const char *status, const char *text, json_t *error, int refund,
    int *done)
{
    nano_gen_record_t  rec;
    nano_db_status_t   st;

    *done = 0;
    if (refund) {
        /* a refund is rare, and worth its flush */
        return nano_gen_finish(db, id, owner, status, NULL, text, error, 1,
                               done);
    }
    st = nano_gen_record_send(db, id, owner, status, text, error, &rec);
    return st == NANO_DB_OK ? nano_gen_record_recv(db, &rec, done) : st;
}

nano_db_status_t
nano_gen_finish_lost(nano_db_t *db, const char *id, const char *owner,
    int *done)
{
    nano_db_status_t  st;
    json_t           *error;

    *done = 0;
    error = json_pack("{s:s, s:s}", "code", "database_unavailable",
                      "message", "the database did not confirm the debit;"
                      " nothing was charged");
    if (error == NULL) {
        return NANO_DB_FAILED;
    }
    st = nano_gen_finish_answer(db, id, owner, "failed", "", error, 1, done);
    json_decref(error);
    if (st == NANO_DB_OK && *done) {
        nano_log_warn("generation %s: its debit's commit was lost with its"
                      " connection; failed and refunded", id);
    }
    return st;
}

typedef struct {
    const char       *owner;
    nano_gen_end_t  **ends;     /* by user id */
    size_t            n;
} nano_gen_finish_all_ctx_t;

static nano_db_status_t
nano_gen_finish_all_tx(nano_db_t *db, void *arg)
{
    nano_gen_finish_all_ctx_t  *a = arg;
    nano_gen_finish_ctx_t       c;
    nano_db_status_t            st = NANO_DB_OK;
    nano_gen_end_t             *e;
    size_t                      i;

    for (i = 0; i < a->n; i++) {
        a->ends[i]->done = 0;
    }
    for (i = 0; i < a->n && st == NANO_DB_OK; i++) {
        e = a->ends[i];
        c.id = e->id;
        c.owner = a->owner;
        c.status = e->status;
        c.outputs = e->outputs;
        c.text = e->text;
        c.error = e->error;
        c.refund = e->refund;
        c.done = 0;
        st = nano_gen_finish_tx(db, &c);
        e->done = c.done;
    }
    return st;
}

static int
nano_gen_end_cmp(const void *x, const void *y)
{
    const nano_gen_end_t  *a = *(nano_gen_end_t *const *) x;
    const nano_gen_end_t  *b = *(nano_gen_end_t *const *) y;

    return strcmp(a->user_id != NULL ? a->user_id : "",
                  b->user_id != NULL ? b->user_id : "");
}

nano_db_status_t
nano_gen_finish_all(nano_db_t *db, const char *owner, nano_gen_end_t *ends,
    size_t n)
{
    nano_gen_finish_all_ctx_t  a = { owner, NULL, n };
    nano_db_status_t           st = NANO_DB_FAILED;
    size_t                     i;

    if (n == 1) {
        return nano_gen_finish(db, ends[0].id, owner, ends[0].status,
                               ends[0].outputs, ends[0].text, ends[0].error,
                               ends[0].refund, &ends[0].done);
    }
    a.ends = calloc(n, sizeof(*a.ends));
    if (a.ends != NULL) {
        for (i = 0; i < n; i++) {
            a.ends[i] = &ends[i];
        }
        qsort(a.ends, n, sizeof(*a.ends), nano_gen_end_cmp);
        st = nano_db_tx(db, nano_gen_finish_all_tx, &a);
        free(a.ends);
    }
    if (st != NANO_DB_OK) {
        for (i = 0; i < n; i++) {
            ends[i].done = 0;
        }
    }
    return st;
}

/* Writes ids into b (initialised) as a PostgreSQL array literal. */
static int
nano_gen_id_array(nano_buf_t *b, const char *const *ids, size_t n)
{
    size_t  i, m = 0;

    nano_buf_puts(b, "{");
    for (i = 0; i < n; i++) {
        nano_db_array_add(b, ids[i], &m);
    }
    return nano_buf_puts(b, "}");
}

nano_db_status_t
nano_gen_set_submitting(nano_db_t *db, const char *owner,
    const char *const *ids, size_t n, int *held)
{
    static const char   sql[] =
        "UPDATE \"Generation\" SET \"phase\" = 'submitting'"
        " WHERE \"id\" = ANY($1::text[]) AND \"leaseOwner\" = $2"
        " AND \"status\" = 'running' RETURNING \"id\"";
    const char         *params[2];
    nano_buf_t          arr;
    nano_db_status_t    st;
    PGresult           *r;
    size_t              i;
    int                 k, rows;

    for (i = 0; i < n; i++) {
        held[i] = 0;
    }
    nano_buf_init(&arr);
    if (nano_gen_id_array(&arr, ids, n) != 0) {
        nano_buf_cleanup(&arr);
        return NANO_DB_FAILED;
    }
    params[0] = arr.data;
    params[1] = owner;
    r = nano_db_exec_hot(db, sql, 2, params, PGRES_TUPLES_OK, &st);
    nano_buf_cleanup(&arr);
    if (r == NULL) {
        return st;
    }
    rows = PQntuples(r);
    for (k = 0; k < rows; k++) {
        for (i = 0; i < n; i++) {
            if (!held[i] && strcmp(PQgetvalue(r, k, 0), ids[i]) == 0) {
                held[i] = 1;
                break;
            }
        }
    }
    PQclear(r);
    return NANO_DB_OK;
}

/*
 * A claimed row with a column jansson refuses (a jsonb value it cannot
 * hold, such as 1e400; nano_gen_jsonb_refused) would be refused by
 * every later claim too: left to its lease, it came back every 30 s for
 * ever, holding its user's in-flight slot and debit.  It ends failed
 * and refunded; only its id is read.
 */
static void
nano_gen_unreadable(nano_db_t *db, const char *id, const char *owner)
{
    nano_db_status_t  st = NANO_DB_FAILED;
    json_t           *error;
    int               done = 0;

    error = json_pack("{s:s, s:s}", "code", "unreadable", "message",
                      "the stored generation cannot be read");
    if (error != NULL) {
        st = nano_gen_finish(db, id, owner, "failed", NULL, NULL, error, 1,
                             &done);
    }
    if (st != NANO_DB_OK) {
        /* not ended: the next claim after its lease tries again */
        nano_log_error("cannot read generation %s, nor end it: %s", id,
                       error != NULL ? nano_db_last_error(db)
                                     : "out of memory");
    } else if (done) {
        nano_log_error("cannot read generation %s: failed and refunded",
                       id);
    }
    json_decref(error);
}

nano_db_status_t
nano_gen_claim(nano_db_t *db, const char *module, const char *owner,
    int lease_secs, int max, const char *held, int takeover, int offline,
    nano_gen_t **jobs, size_t *n)
{
    /* a lapsed lease of owner's own is taken back too: that job was
     * dropped (its end could not be recorded, ...), and in a single
     * process nobody else would end it; a recorded task only by a runner
     * that can poll it (not $7, offline); "offline" says who makes it */
    static const char   sql[] =
        "WITH c AS (SELECT \"id\", \"status\" AS was,"
        " \"leaseOwner\" AS was_owner FROM \"Generation\""
        " WHERE \"module\" = $1 AND ((\"status\" = 'queued'"
        " AND (\"leaseUntil\" IS NULL OR \"leaseUntil\" <= " NANO_GEN_EPOCH
        "))"
        " OR (\"status\" = 'running' AND \"leaseUntil\" < " NANO_GEN_EPOCH
        " AND ($6::boolean OR \"leaseOwner\" = $2)"
        " AND (NOT $7::boolean OR \"providerTaskId\" IS NULL)))"
        " AND NOT (\"id\" = ANY($5::text[]))"
        " ORDER BY \"createdAt\" LIMIT $4 FOR UPDATE SKIP LOCKED)"
        " UPDATE \"Generation\" g SET \"status\" = 'running',"
        " \"leaseOwner\" = $2, \"leaseUntil\" = " NANO_GEN_EPOCH
        " + $3::bigint,"
        " \"startedAt\" = COALESCE(g.\"startedAt\", " NANO_GEN_NOW "),"
        " \"offline\" = $7::boolean"
        " FROM c WHERE g.\"id\" = c.\"id\""
        " RETURNING " NANO_GEN_COLUMNS("g.") ", c.was, c.was_owner";
    const char         *params[7];
    char                secs[16], lim[16];
    nano_db_status_t    st;
    PGresult           *r;
    int                 i, rows, was, prev;

    *jobs = NULL;
    *n = 0;
    snprintf(secs, sizeof(secs), "%d", lease_secs);
    snprintf(lim, sizeof(lim), "%d", max);
    params[0] = module;
    params[1] = owner;
    params[2] = secs;
    params[3] = lim;
    params[4] = held;
    params[5] = takeover ? "true" : "false";
    params[6] = offline ? "true" : "false";
    r = nano_db_exec_hot(db, sql, 7, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    rows = PQntuples(r);
    if (rows > 0) {
        *jobs = calloc((size_t) rows, sizeof(nano_gen_t));
        if (*jobs == NULL) {
            PQclear(r);
            return NANO_DB_FAILED;
        }
    }
    for (i = 0; i < rows; i++) {
        if (nano_gen_read(r, i, &(*jobs)[*n]) != 0) {
            /* out of memory: that passes, a refusal would not; the
             * lease lapses and a later claim reads it again */
            nano_log_error("cannot read generation %s for want of memory;"
                           " left to its lease", PQgetvalue(r, i, 0));
            continue;
        }
        /* one line per claim; a takeover says whose lease ran out (a
         * runner that died, or lost the database for a lease) */
        was = PQfnumber(r, "was");
        prev = PQfnumber(r, "was_owner");
        if (strcmp(PQgetvalue(r, i, was), "running") == 0) {
            nano_log_warn("job %s claimed: taken over from %s, whose lease"
                          " ran out (phase %s)", PQgetvalue(r, i, 0),
                          PQgetisnull(r, i, prev) ? "(none)"
                          : PQgetvalue(r, i, prev),
                          (*jobs)[*n].phase != NULL ? (*jobs)[*n].phase
                                                    : "none");
        } else {
            nano_log_info("job %s claimed", PQgetvalue(r, i, 0));
        }
        if ((*jobs)[*n].unreadable != 0) {
            nano_gen_cleanup(&(*jobs)[*n]);
            nano_gen_unreadable(db, PQgetvalue(r, i, 0), owner);
            continue;
        }
        (*n)++;
    }
    PQclear(r);
    return NANO_DB_OK;
}

nano_db_status_t
nano_gen_renew(nano_db_t *db, const char *owner, int lease_secs,
    const char *held)
{
    static const char   sql[] =
        "UPDATE \"Generation\" SET \"leaseUntil\" = " NANO_GEN_EPOCH
        " + $2::bigint WHERE \"id\" = ANY($3::text[])"
        " AND \"leaseOwner\" = $1 AND \"status\" = 'running'";
    const char         *params[3];
    char                secs[16];
    nano_db_status_t    st;

    snprintf(secs, sizeof(secs), "%d", lease_secs);
    params[0] = owner;
    params[1] = secs;
    params[2] = held;
    PQclear(nano_db_exec_hot(db, sql, 3, params, PGRES_COMMAND_OK, &st));
    return st;
}

nano_db_status_t
nano_gen_release(nano_db_t *db, const char *owner,
    const char *const *requeue, const long *wait_secs, size_t nrequeue,
    const char *const *resume, size_t nresume, int *given)
{
    /* a requeued row loses its phase too: a "submitting" left by a POST
     * the provider refused would fail it as interrupted at its claim; its
     * "leaseUntil" keeps the provider's wait, before which no claim
     * takes it (nano_gen_claim) */
    static const char   sql[] =
        "WITH q AS (UPDATE \"Generation\" g SET \"status\" = 'queued',"
        " \"phase\" = NULL, \"leaseOwner\" = NULL, \"leaseUntil\" ="
        " CASE WHEN w.s > 0 THEN " NANO_GEN_EPOCH " + w.s END,"
        " \"startedAt\" = NULL"
        " FROM unnest($2::text[], $4::bigint[]) AS w(id, s)"
        " WHERE g.\"id\" = w.id AND g.\"leaseOwner\" = $1"
        " AND g.\"status\" = 'running' AND g.\"providerTaskId\" IS NULL"
        " RETURNING 1),"
        " r AS (UPDATE \"Generation\" SET \"leaseUntil\" = "
        NANO_GEN_EPOCH " - 1"
        " WHERE \"id\" = ANY($3::text[]) AND \"leaseOwner\" = $1"
        " AND \"status\" = 'running' RETURNING 1)"
        " SELECT (SELECT count(*) FROM q) + (SELECT count(*) FROM r)";
    const char         *params[4];
    nano_buf_t          q, r, w;
    nano_db_status_t    st = NANO_DB_FAILED;
    PGresult           *res;
    size_t              i;
    int                 ok;

    *given = 0;
    nano_buf_init(&q);
    nano_buf_init(&r);
    nano_buf_init(&w);
    ok = nano_buf_puts(&w, "{") == 0;
    for (i = 0; ok && i < nrequeue; i++) {
        ok = nano_buf_printf(&w, "%s%ld", i > 0 ? "," : "",
                             wait_secs[i]) == 0;
    }
    if (ok && nano_buf_puts(&w, "}") == 0
        && nano_gen_id_array(&q, requeue, nrequeue) == 0
        && nano_gen_id_array(&r, resume, nresume) == 0)
    {
        params[0] = owner;
        params[1] = q.data;
        params[2] = r.data;
        params[3] = w.data;
        res = nano_db_exec(db, sql, 4, params, PGRES_TUPLES_OK, &st);
        if (res != NULL) {
            *given = atoi(PQgetvalue(res, 0, 0));
            PQclear(res);
        }
    }
    nano_buf_cleanup(&q);
    nano_buf_cleanup(&r);
    nano_buf_cleanup(&w);
    return st;
}

nano_db_status_t
nano_gen_set_phase(nano_db_t *db, const char *id, const char *owner,
    const char *phase, const char *task_id, int *done)
{
    static const char   sql[] =
        "UPDATE \"Generation\" SET \"phase\" = $3,"
        " \"providerTaskId\" = COALESCE($4, \"providerTaskId\")"
        " WHERE \"id\" = $1 AND \"leaseOwner\" = $2"
        " AND \"status\" = 'running' RETURNING 1";
    const char         *params[4] = { id, owner, phase, task_id };
    nano_db_status_t    st;
    PGresult           *r;

    *done = 0;
    r = nano_db_exec_hot(db, sql, 4, params, PGRES_TUPLES_OK, &st);
    if (r != NULL) {
        *done = PQntuples(r) == 1;
        PQclear(r);
    }
    return st;
}
