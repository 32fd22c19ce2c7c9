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

#define NANO_WORKERS_DEFAULT  4
#define NANO_WORKERS_MAX      256

/* Exit codes of nano_server_main(). */
#define NANO_EXIT_OK       0
#define NANO_EXIT_FAILURE  1     /* configuration, bind, ... */
#define NANO_EXIT_USAGE    2     /* bad command line, non-loopback address */

/*
 * Handles one request: reads req, fills res (nano_res_json, _error,
 * _redirect, or the body buffer directly) and returns the HTTP status.
 * Must not exit or write to the FastCGI stream.
 */
typedef int (*nano_handler_t)(nano_req_t *req, nano_res_t *res);

typedef struct {
    const char      *method;     /* "GET" also answers HEAD */
    const char      *path;       /* exact PATH_INFO, e.g. "/api/me" */
    nano_handler_t   handler;
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
    int                  workers;    /* default --workers; 0: 4 */
    /* Optional, run once before the workers start (returns 0, or -1 to
     * stop the server) and once after they stopped: the app's own
     * threads, such as the platform's revocation publisher. */
    int                (*start)(const nano_config_t *config);
    void               (*stop)(void);
    /* Optional, run in each worker thread before it accepts requests and
     * after it stops; init returns 0, or -1 to stop the server. */
    int                (*worker_init)(nano_worker_t *w);
    void               (*worker_cleanup)(nano_worker_t *w);
};

/*
 * Runs an app: parses argv (--listen 127.0.0.1:PORT | [::1]:PORT |
 * unix:/abs/path, --workers N, --socket-mode OCTAL, --help), loads the
 * configuration, serves until SIGTERM, SIGINT or SIGHUP, and returns an
 * exit code (NANO_EXIT_*).  Without --listen it serves on fd 0 when that
 * is a listening loopback or unix socket (spawn-fcgi, systemd).
 */
int nano_server_main(int argc, char **argv, const nano_app_t *app);

/*
 * The calling worker's database handle, made on first use from
 * DATABASE_URL and kept for the worker's life (borrowed).  NULL when it
 * cannot be made (no or untranslatable DATABASE_URL): answer 503.
 */
nano_db_t *nano_server_db(nano_req_t *req);

/* Per-worker app state, owned by the app (free it in worker_cleanup). */
void nano_worker_set_data(nano_worker_t *w, void *data);
void *nano_worker_data(const nano_worker_t *w);

/* 0-based index of the worker. */
int nano_worker_id(const nano_worker_t *w);

#endif /* NANO_SERVER_H */
