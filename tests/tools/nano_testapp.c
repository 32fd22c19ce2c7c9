/*
 * nano-testapp: a libnano app for tests/integration/runtime.test.mjs,
 * never deployed.  Its routes exercise what the modules' API cannot
 * yet: path parameters, per-route body limits, uploads, Server-Sent
 * Events with heartbeats, stream slots, the database pool and
 * nano_db_tx.
 *
 *   GET    /echo/{id}, /echo/{id}/parts/{part}, /echo/special
 *   DELETE /echo/{id}
 *   POST   /small (body_max 16), /default (NANO_BODY_MAX)
 *   POST   /upload (NANO_ROUTE_UPLOAD, 10 MiB + 64 KiB): the fields and
 *          the files image, file, notes as sniffed; keep=<field> keeps
 *          that file as $NANO_MEDIA_DIR/kept-<field>
 *   GET    /sse?n=&gap_ms=: n events "tick" {"i"}, a heartbeat after
 *          each, then "done"
 *   GET    /sse/hold?ms=: a heartbeat every 100 ms for ms; logs
 *          "sse/hold: the client left after N heartbeats"
 *   GET    /sse/unbegun: returns NANO_STREAMED without a stream
 *   GET    /db/ping: {"pid","txid"} (txid_current_if_assigned())
 *   POST   /db/tx-open: BEGIN and txid_current(), never committed
 *   GET    /db/hold?ms=: holds a pool connection for ms (logs
 *          "db/hold: holding the connection" first)
 *   POST   /db/tx?retry=N&other=1&deadlock=1: nano_db_tx whose
 *          function fails with 40001 (40P01 with deadlock) on its first
 *          N tries, or always with 22012 with other: {"tries","status"}
 *   POST   /db/tx-gap?ms=: BEGIN, a statement, ms asleep (the test ends
 *          the connection), a second and the commit: their statuses
 *   GET    /db/thread: nano_server_db_get(1000) / _put, as a thread would
 *   POST   /db/pipeline: {"pid"} through nano_db_pipeline_tx (a text
 *          answer's record takes that path)
 *   POST   /db/linger?s=: {"pid"}; the server's end of the connection
 *          stays open s seconds after its process exits (a `sleep` it
 *          started holds it; needs pg_execute_server_program)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_image.h"
#include "nano_log.h"
#include "nano_server.h"
#include "nano_stream.h"

static void
sleep_ms(long ms)
{
    struct timespec  ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* A query parameter as a number, def when absent. */
static long
query_long(const nano_req_t *req, const char *name, long def)
{
    nano_form_t  q;
    const char  *v;
    long         n = def;

    nano_form_init(&q);
    if (nano_req_query(req, &q) == NANO_FORM_OK) {
        v = nano_form_get(&q, name);
        if (v != NULL) {
            n = strtol(v, NULL, 10);
        }
    }
    nano_form_cleanup(&q);
    return n;
}

/* ---- routes and bodies ------------------------------------------------- */

static int
echo(nano_req_t *req, nano_res_t *res)
{
    const char  *part = nano_req_path_param(req, "part");

    return nano_res_json(res, 200,
                         json_pack("{s:s, s:s?, s:s?, s:s}",
                                   "route", req->route,
                                   "id", nano_req_path_param(req, "id"),
                                   "part", part,
                                   "method", req->method));
}

static int
echo_special(nano_req_t *req, nano_res_t *res)
{
    return nano_res_json(res, 200, json_pack("{s:b, s:s}", "exact", 1,
                                             "route", req->route));
}

static int
body_size(nano_req_t *req, nano_res_t *res)
{
    return nano_res_json(res, 200, json_pack("{s:I}", "bytes",
                                             (json_int_t) req->body_len));
}

static json_t *
upload_json(const nano_upload_t *u)
{
    return json_pack("{s:s, s:I, s:s?, s:i, s:i}", "field", u->field,
                     "size", (json_int_t) u->size, "mime", u->mime,
                     "width", u->width, "height", u->height);
}

static int
upload(nano_req_t *req, nano_res_t *res)
{
    static const char *const  names[] = { "image", "file", "notes" };
    const nano_upload_t      *u;
    nano_form_t               form;
    json_t                   *fields = NULL, *files = NULL;
    const char               *keep;
    char                      dest[4096];
    unsigned                  flags = 0;
    size_t                    i;
    int                       status;

    nano_form_init(&form);
    if (!nano_req_is_content_type(req, "multipart/form-data")) {
        status = nano_res_json(res, 200,
                               json_pack("{s:b, s:I}", "multipart", 0,
                                         "bytes",
                                         (json_int_t) req->body_len));
        goto out;
    }
    status = nano_req_fields(req, res, &form, &flags);
    if (status != 0) {
        goto out;
    }
    fields = json_object();
    files = json_array();
    for (i = 0; fields != NULL && i < form.n; i++) {
        json_object_set_new(fields, form.pairs[i].key,
                            json_string(form.pairs[i].value));
    }
    for (i = 0; files != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
        u = nano_req_upload(req, names[i]);
        if (u != NULL) {
            json_array_append_new(files, upload_json(u));
        }
    }
    keep = nano_form_get(&form, "keep");
    if (keep != NULL) {
        snprintf(dest, sizeof(dest), "%s/kept-%s", req->config->media_dir,
                 keep);
        if (nano_req_upload_keep(req, keep, dest) != 0) {
            status = nano_res_error(res, 500, "keep", "cannot keep it");
            goto out;
        }
    }
    status = nano_res_json(res, 200,
                           json_pack("{s:b, s:o, s:o, s:b}", "multipart", 1,
                                     "fields", fields, "files", files,
                                     "badUtf8",
                                     (flags & NANO_FIELDS_BAD_UTF8) != 0));
    fields = files = NULL;
out:
    json_decref(fields);
    json_decref(files);
    nano_form_cleanup(&form);
    return status;
}

/* ---- streams ----------------------------------------------------------- */

static int
sse(nano_req_t *req, nano_res_t *res)
{
    long  n = query_long(req, "n", 3), gap = query_long(req, "gap_ms", 100);
    long  i;

    if (nano_stream_acquire(req) != 0) {
        return nano_res_error(res, 429, "too_many_streams",
                              "too many streams; try again shortly");
    }
    if (nano_stream_begin(req, 200, "text/event-stream", NULL) != 0) {
        return NANO_STREAMED;
    }
    for (i = 0; i < n; i++) {
        sleep_ms(gap);
        if (nano_sse_event(req, "tick", json_pack("{s:i}", "i", (int) i))
            != 0 || nano_sse_heartbeat(req) != 0)
        {
            nano_log_warn("sse: the client left after %ld events", i);
            return NANO_STREAMED;
        }
    }
    nano_sse_event(req, "done", json_pack("{s:i}", "n", (int) n));
    return NANO_STREAMED;
}

static int
sse_hold(nano_req_t *req, nano_res_t *res)
{
    long  ms = query_long(req, "ms", 1000), beats = 0;

    if (nano_stream_acquire(req) != 0) {
        return nano_res_error(res, 429, "too_many_streams",
                              "too many streams; try again shortly");
    }
    if (nano_stream_begin(req, 200, "text/event-stream", NULL) != 0) {
        return NANO_STREAMED;
    }
    for (; beats * 100 < ms; beats++) {
        if (nano_sse_heartbeat(req) != 0) {
            nano_log_warn("sse/hold: the client left after %ld heartbeats",
                          beats);
            return NANO_STREAMED;
        }
        sleep_ms(100);
    }
    nano_sse_event(req, "done", json_pack("{s:I}", "beats",
                                          (json_int_t) beats));
    return NANO_STREAMED;
}

static int
sse_unbegun(nano_req_t *req, nano_res_t *res)
{
    (void) req;
    (void) res;
    return NANO_STREAMED;
}

/* ---- the database ------------------------------------------------------ */

/* {"pid","txid"} of the connection, as seen by the server. */
static int
db_state(nano_db_t *db, nano_res_t *res, const char *sql)
{
    nano_db_status_t   st;
    PGresult          *r;
    int                status;

    r = nano_db_exec(db, sql, 0, NULL, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return nano_res_error(res, st == NANO_DB_UNAVAILABLE ? 503 : 500,
                              "db", nano_db_last_error(db));
    }
    status = nano_res_json(res, 200,
                           json_pack("{s:s, s:s?, s:b}",
                                     "pid", PQgetvalue(r, 0, 0),
                                     "txid", PQgetisnull(r, 0, 1) ? NULL
                                             : PQgetvalue(r, 0, 1),
                                     "inTx", nano_db_in_tx(db)));
    PQclear(r);
    return status;
}

/* The request's pool connection, or NULL with a 503 set in res. */
static nano_db_t *
need_db(nano_req_t *req, nano_res_t *res)
{
    nano_db_t  *db = nano_server_db(req);

    if (db == NULL) {
        nano_res_error(res, 503, "db_busy", "no database connection");
    }
    return db;
}

static int
db_ping(nano_req_t *req, nano_res_t *res)
{
    nano_db_t  *db = need_db(req, res);

    if (db == NULL) {
        return 503;
    }
    return db_state(db, res, "SELECT pg_backend_pid()::text,"
                             " txid_current_if_assigned()::text");
}

/* {"jit","checkClient"}: the settings nano_db gives every connection. */
static int
db_settings(nano_req_t *req, nano_res_t *res)
{
    nano_db_t         *db = need_db(req, res);
    nano_db_status_t   st;
    PGresult          *r;
    int                status;

    if (db == NULL) {
        return 503;
    }
    r = nano_db_exec(db, "SELECT current_setting('jit'),"
                     " current_setting('client_connection_check_interval')",
                     0, NULL, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return nano_res_error(res, st == NANO_DB_UNAVAILABLE ? 503 : 500,
                              "db", nano_db_last_error(db));
    }
    status = nano_res_json(res, 200,
                           json_pack("{s:s, s:s}", "jit", PQgetvalue(r, 0, 0),
                                     "checkClient", PQgetvalue(r, 0, 1)));
    PQclear(r);
    return status;
}

static int
db_tx_open(nano_req_t *req, nano_res_t *res)
{
    nano_db_t  *db = need_db(req, res);

    if (db == NULL) {
        return 503;
    }
    if (nano_db_begin(db) != NANO_DB_OK) {
        return nano_res_error(res, 500, "db", nano_db_last_error(db));
    }
    return db_state(db, res, "SELECT pg_backend_pid()::text,"
                             " txid_current()::text");
}

static int
db_hold(nano_req_t *req, nano_res_t *res)
{
    nano_db_t  *db = need_db(req, res);

    if (db == NULL) {
        return 503;
    }
    /* the test waits for this line before it asks for the connection */
    nano_log_info("db/hold: holding the connection");
    sleep_ms(query_long(req, "ms", 1000));
    return nano_res_json(res, 200, json_pack("{s:b}", "held", 1));
}

typedef struct {
    long  fail;         /* tries that fail with 40001 / 40P01 */
    int   other;        /* fail every try with 22012 */
    int   deadlock;
    int   tries;
} tx_arg_t;

static nano_db_status_t
tx_fn(nano_db_t *db, void *arg)
{
    tx_arg_t          *a = arg;
    nano_db_status_t   st;
    const char        *sql = "SELECT 1";

    a->tries++;
    if (a->other) {
        sql = "SELECT 1 / 0";
    } else if (a->tries <= a->fail) {
        sql = a->deadlock
              ? "DO $$BEGIN RAISE EXCEPTION 'forced' USING ERRCODE ="
                " 'deadlock_detected'; END$$"
              : "DO $$BEGIN RAISE EXCEPTION 'forced' USING ERRCODE ="
                " 'serialization_failure'; END$$";
    }
    PQclear(nano_db_exec(db, sql, 0, NULL,
                         a->other || a->tries > a->fail ? PGRES_TUPLES_OK
                                                        : PGRES_COMMAND_OK,
                         &st));
    return st;
}

/* nano_db_status_t's names */
static const char *const  db_status_names[] = {
    "ok", "unavailable", "conflict", "retry", "failed", "invalid"
};

static int
db_tx(nano_req_t *req, nano_res_t *res)
{
    nano_db_t         *db = need_db(req, res);
    nano_db_status_t   st;
    tx_arg_t           a = { 0, 0, 0, 0 };

    if (db == NULL) {
        return 503;
    }
    a.fail = query_long(req, "retry", 0);
    a.other = query_long(req, "other", 0) != 0;
    a.deadlock = query_long(req, "deadlock", 0) != 0;
    st = nano_db_tx(db, tx_fn, &a);
    return nano_res_json(res, 200,
                         json_pack("{s:i, s:s, s:s, s:b}", "tries", a.tries,
                                   "status", db_status_names[st],
                                   "sqlstate", nano_db_last_sqlstate(db),
                                   "inTx", nano_db_in_tx(db)));
}

/* A transaction whose connection the test ends between its two
 * statements (it waits ms after the first, its pid in the log). */
static int
db_tx_gap(nano_req_t *req, nano_res_t *res)
{
    nano_db_t         *db = need_db(req, res);
    nano_db_status_t   second, commit;
    PGresult          *r;

    if (db == NULL) {
        return 503;
    }
    if (nano_db_begin(db) != NANO_DB_OK) {
        return nano_res_error(res, 500, "db", nano_db_last_error(db));
    }
    r = nano_db_exec(db, "SELECT pg_backend_pid()::text", 0, NULL,
                     PGRES_TUPLES_OK, &second);
    if (r == NULL) {
        nano_db_rollback(db);
        return nano_res_error(res, 500, "db", nano_db_last_error(db));
    }
    nano_log_info("db/tx-gap: pid %s waits", PQgetvalue(r, 0, 0));
    PQclear(r);
    sleep_ms(query_long(req, "ms", 1000));
    PQclear(nano_db_exec(db, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, &second));
    commit = nano_db_finish(db, second);
    return nano_res_json(res, 200,
                         json_pack("{s:s, s:s, s:b}",
                                   "second", db_status_names[second],
                                   "commit", db_status_names[commit],
                                   "inTx", nano_db_in_tx(db)));
}

static int
db_thread(nano_req_t *req, nano_res_t *res)
{
    nano_db_t  *db = nano_server_db_get(1000);
    int         status;

    (void) req;
    if (db == NULL) {
        return nano_res_error(res, 503, "db_busy", "no database connection");
    }
    status = db_state(db, res, "SELECT pg_backend_pid()::text, NULL");
    nano_server_db_put(db);
    return status;
}

static int
db_pipeline(nano_req_t *req, nano_res_t *res)
{
    nano_db_t         *db = need_db(req, res);
    nano_db_stmt_t     stmt;
    nano_db_status_t   st;
    int                status;

    if (db == NULL) {
        return 503;
    }
    memset(&stmt, 0, sizeof(stmt));
    stmt.sql = "SELECT pg_backend_pid()::text";
    stmt.expect = PGRES_TUPLES_OK;
    st = nano_db_pipeline_tx(db, &stmt, 1);
    if (st != NANO_DB_OK) {
        return nano_res_error(res, st == NANO_DB_UNAVAILABLE ? 503 : 500,
                              "db", nano_db_last_error(db));
    }
    status = nano_res_json(res, 200, json_pack("{s:s}", "pid",
                                               PQgetvalue(stmt.result, 0, 0)));
    PQclear(stmt.result);
    return status;
}

/* The connection's backend starts a `sleep` that inherits its socket,
 * in a session of its own (pg_terminate_backend signals the backend's
 * process group): once the backend ends, its FATAL reaches the client
 * while the socket stays open, as during a loaded server's slow exit. */
static int
db_linger(nano_req_t *req, nano_res_t *res)
{
    nano_db_t         *db = need_db(req, res);
    nano_db_status_t   st;
    PGresult          *r;
    char               sql[160];
    long               s = query_long(req, "s", 5);

    if (db == NULL) {
        return 503;
    }
    if (s < 1 || s > 60) {
        return nano_res_error(res, 400, "bad_request", "s: 1 to 60");
    }
    snprintf(sql, sizeof(sql), "COPY (SELECT 1) TO PROGRAM"
             " 'setsid sleep %ld </dev/null >/dev/null 2>&1 &'", s);
    r = nano_db_exec(db, sql, 0, NULL, PGRES_COMMAND_OK, &st);
    if (r == NULL) {
        return nano_res_error(res, st == NANO_DB_UNAVAILABLE ? 503 : 500,
                              "db", nano_db_last_error(db));
    }
    PQclear(r);
    return db_state(db, res, "SELECT pg_backend_pid()::text, NULL");
}

static const nano_route_t  routes[] = {
    { "GET",    "/echo/{id}",              echo, 0, 0 },
    { "DELETE", "/echo/{id}",              echo, 0, 0 },
    { "GET",    "/echo/{id}/parts/{part}", echo, 0, 0 },
    { "GET",    "/echo/special",           echo_special, 0, 0 },
    { "POST",   "/small",                  body_size, 16, 0 },
    { "POST",   "/default",                body_size, 0, 0 },
    { "POST",   "/upload",                 upload,
      NANO_IMAGE_UPLOAD_MAX + 64 * 1024, NANO_ROUTE_UPLOAD },
    { "GET",    "/sse",                    sse, 0, 0 },
    { "GET",    "/sse/hold",               sse_hold, 0, 0 },
    { "GET",    "/sse/unbegun",            sse_unbegun, 0, 0 },
    { "GET",    "/db/ping",                db_ping, 0, 0 },
    { "GET",    "/db/settings",            db_settings, 0, 0 },
    { "POST",   "/db/tx-open",             db_tx_open, 0, 0 },
    { "GET",    "/db/hold",                db_hold, 0, 0 },
    { "POST",   "/db/tx",                  db_tx, 0, 0 },
    { "POST",   "/db/tx-gap",              db_tx_gap, 0, 0 },
    { "GET",    "/db/thread",              db_thread, 0, 0 },
    { "POST",   "/db/pipeline",            db_pipeline, 0, 0 },
    { "POST",   "/db/linger",              db_linger, 0, 0 },
};

static const nano_app_t  app = {
    .name = "testapp",
    .title = "libnano test app",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
};

int
main(int argc, char **argv)
{
    return nano_server_main(argc, argv, &app);
}
