/*
 * FastCGI serving: command line, loopback/unix listener, worker threads
 * (libfcgi's FCGX_Accept_r), routing, body reading, and writing each
 * reply once.  An app is a route table handed to nano_server_main().
 */

#ifndef NANO_SERVER_H
#define NANO_SERVER_H

#include <stddef.h>

#include "nano_db.h"
#include "nano_http.h"

#define NANO_WORKERS_DEFAULT  8     /* NANO_WORKERS or --workers override */
#define NANO_WORKERS_MAX      256

/* Exit codes of nano_server_main(). */
#define NANO_EXIT_OK       0
#define NANO_EXIT_FAILURE  1     /* configuration, bind, ... */
#define NANO_EXIT_USAGE    2     /* bad command line, non-loopback address */

/*
 * Handles one request: reads req, fills res (nano_res_json, _error,
 * _redirect, or the body buffer directly) and returns the HTTP status;
 * or streams its answer (nano_stream.h) and returns NANO_STREAMED.
 * Must not exit or write to the FastCGI stream itself.
 */
typedef int (*nano_handler_t)(nano_req_t *req, nano_res_t *res);

/* nano_route_t.flags */
#define NANO_ROUTE_UPLOAD  0x1   /* multipart/form-data bodies go to files
                                    (nano_req_upload), up to body_max in
                                    all, each file at most
                                    NANO_IMAGE_UPLOAD_MAX (10 MiB), text
                                    fields 64 KiB (nano_req_fields); any
                                    other body is held in memory, up to
                                    NANO_ROUTE_INLINE_MAX */
/* A 4 MiB image in base64 (NANO_IMAGE_B64_MAX) and the fields beside it */
#define NANO_ROUTE_INLINE_MAX  (6 * 1024 * 1024)

typedef struct {
    const char      *method;     /* "GET" also answers HEAD */
    /* PATH_INFO: exact ("/api/me"), or with parameter segments
     * ("/api/generations/{id}/cancel"), each matching one non-empty
     * segment, read with nano_req_path_param() */
    const char      *path;
    nano_handler_t   handler;
    size_t           body_max;   /* 0: NANO_BODY_MAX; more: 413 naming it */
    unsigned         flags;
} nano_route_t;

/* nano_app_t.flags */
#define NANO_APP_NEEDS_KEYS      0x1   /* refuse to start without a secret */
/* Reads session cookies itself: refuse requests unless the gateway's
 * NANO_AUTH_ORIGIN param is NEXTAUTH_URL's origin, so both read the same
 * cookie (docs/SESSIONS.md). */
#define NANO_APP_CHECKS_ORIGIN   0x2

struct nano_app_s {
    const char          *name;       /* "platform", "qwen": logs, public/ */
    const char          *title;      /* "Qwen — text generation" */
    const nano_route_t  *routes;
    size_t               nroutes;
    unsigned             flags;
    /* default of --workers when NANO_WORKERS is unset; 0:
     * NANO_WORKERS_DEFAULT */
    int                  workers;
    /* Optional, printed by --help after the variables every backend
     * reads: the app's own ("Platform: ...\n"). */
    const char          *env_help;
    /* Optional, run once before the workers start (returns 0, or -1 to
     * stop the server) and once after they stopped: the app's own
     * threads, such as the platform's revocation publisher. */
    int                (*start)(const nano_config_t *config);
    void               (*stop)(void);
    /* Optional, run when the stop signal comes, while the workers still
     * serve: winds down the app's own work (a job runner's drain); the
     * workers' grace period and stop come after it returns. */
    void               (*stopping)(void);
};

/*
 * Runs an app: parses argv (--listen 127.0.0.1:PORT | [::1]:PORT |
 * unix:/abs/path, --workers N, --socket-mode OCTAL, --help), loads the
 * configuration, serves until SIGTERM, SIGINT or SIGHUP, and returns an
 * exit code (NANO_EXIT_*).  Without --listen it serves on fd 0 when that
 * is a listening loopback or unix socket (spawn-fcgi, systemd).
 */
int nano_server_main(int argc, char **argv, const nano_app_t *app);

/* The number of request workers the process runs: known from before
 * the app's start (nano_app_t's start may size its own pools by it);
 * 0 outside nano_server_main. */
int nano_server_workers(void);

/* The size of the process's database pool (NANO_DB_POOL), known from
 * before the app's start; 0 outside nano_server_main. */
int nano_server_db_pool_size(void);

/*
 * A database connection for the rest of the request, taken from the
 * process's pool (NANO_DB_POOL connections, default 8, separate from the
 * HTTP workers) on first use and given back when the request ends,
 * rolled back first when the handler left a transaction open.  Borrowed;
 * NULL when none is free within 5 s, or without DATABASE_URL (a set
 * one that is no database URL stops the backend at start): answer 503.
 */
nano_db_t *nano_server_db(nano_req_t *req);

/*
 * Gives the request's connection back before the request ends: a handler
 * that then waits long (a streamed text answer) does not hold one of the
 * pool's few connections meanwhile.  A later nano_server_db(req) takes
 * one again.  Any open transaction is rolled back.
 */
void nano_server_db_release(nano_req_t *req);

/*
 * A database failure as the answer: 503 database_unavailable when there
 * is no connection or the server cannot be reached (nano_db logs the
 * outage once), or when the server ended the statement for want of time
 * or room (lock_timeout, statement_timeout, SQLSTATE class 53; logged as
 * a warning), 400 invalid_field naming "request" for a value that is
 * not UTF-8 (the handler should have checked and named it), else
 * 500 with the database's message in the log only.  Returns the status.
 */
int nano_server_db_error(nano_res_t *res, nano_db_t *db,
    nano_db_status_t st);

/*
 * The same for a read of one page of a list (nano_req_page's cursor):
 * NANO_DB_INVALID is the cursor, which is not one the API gave, and
 * answers 400 invalid_field naming it.  Returns the status.
 */
int nano_server_page_error(nano_res_t *res, nano_db_t *db,
    nano_db_status_t st);

/*
 * The answer to that read: 200 {"<key>": items, "nextCursor": next or
 * null} when st is NANO_DB_OK (*items is taken, and set to NULL), else
 * nano_server_page_error's.  Returns the status.
 */
int nano_server_page(nano_res_t *res, nano_db_t *db, nano_db_status_t st,
    const char *key, json_t **items, const char *next);

/*
 * A pool connection for an app's own thread (a job runner, a
 * publisher): waits up to wait_ms for one.  Give it back with
 * nano_server_db_put.  NULL on timeout or without DATABASE_URL.
 */
nano_db_t *nano_server_db_get(int wait_ms);
void nano_server_db_put(nano_db_t *db);

#endif /* NANO_SERVER_H */
