/*
 * FastCGI serving loop: the listener (nano_listen), worker threads, routing,
 * bodies and uploads, replies (buffered or streamed), the database pool.
 */

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "nano_client.h"
#include "nano_clock.h"
#include "nano_conns.h"
#include "nano_dbpool.h"
#include "nano_form.h"
#include "nano_image.h"
#include "nano_listen.h"
#include "nano_log.h"
#include "nano_page.h"
#include "nano_password.h"
#include "nano_route.h"
#include "nano_server.h"
#include "nano_stream.h"
#include "nano_upload.h"

#define NANO_BODY_DRAIN_MAX    (16 * 1024 * 1024)
#define NANO_BODY_CHUNK        (64 * 1024)     /* read at a time */
#define NANO_MMAP_AT           (256 * 1024)    /* M_MMAP_THRESHOLD */
#define NANO_STOP_GRACE_SEC    10       /* for requests in flight */

typedef struct {
    int                   id;
    int                   started;
    pthread_t             thread;
    FCGX_Request          fcgx;
    const nano_app_t     *app;
    const nano_config_t  *config;
} nano_worker_t;

static atomic_int     nano_server_stopping;
static nano_dbpool_t  nano_server_pool;
static nano_conns_t   nano_server_conns;
static atomic_long    nano_server_accept_warned;  /* time(), last logged */
static int            nano_server_nworkers;       /* --workers, resolved */

/* Interrupts a worker's wait for a connection (EINTR): the only place a
 * worker takes it (nano_server_worker). */
static void
nano_server_wake(int sig)
{
    (void) sig;
}

int
nano_server_workers(void)
{
    return nano_server_nworkers;
}

int
nano_server_db_pool_size(void)
{
    return nano_server_pool.size;
}

nano_db_t *
nano_server_db(nano_req_t *req)
{
    if (req->db == NULL) {
        req->db = nano_dbpool_get(&nano_server_pool,
                                  nano_server_pool.wait_ms);
    }
    return req->db;
}

void
nano_server_db_release(nano_req_t *req)
{
    if (req->db != NULL) {
        nano_dbpool_put(&nano_server_pool, req->db, "a long request");
        req->db = NULL;
    }
}

int
nano_server_db_error(nano_res_t *res, nano_db_t *db, nano_db_status_t st)
{
    const char  *state;

    if (db == NULL || st == NANO_DB_UNAVAILABLE) {
        return nano_res_error(res, 503, "database_unavailable",
                              "the database is unavailable; try again soon");
    }
    if (st == NANO_DB_INVALID) {
        /* Every field the API reads is checked before it reaches the
         * database, which cannot say whose value it was: the refusal
         * names the request, as every invalid_field names a field, and
         * the log says a handler let text through unchecked. */
        nano_log_warn("a parameter that is not UTF-8 reached the"
                      " database unchecked");
        return nano_res_field_error(res, "request", "a value in the"
                                    " request is not valid UTF-8");
    }
    /* The server ended the statement itself for want of time or room:
     * an operator's lock_timeout (55P03) or statement_timeout (57014)
     * ran out behind another session's lock, or it is out of disk,
     * memory or connections (class 53).  Nothing was done, and the same
     * request may well pass in a moment, as after NANO_DB_TIMEOUT_MS:
     * until 2026-12-06 this was 500 "internal" (found by the failures
     * probe). */
    state = nano_db_last_sqlstate(db);
    if (strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0
        || strncmp(state, "53", 2) == 0)
    {
        nano_log_warn("database busy %s: %s", state,
                      nano_db_last_error(db));
        return nano_res_error(res, 503, "database_unavailable",
                              "the database is unavailable; try again soon");
    }
    nano_log_error("database error %s: %s", nano_db_last_sqlstate(db),
                   nano_db_last_error(db));
    return nano_res_error(res, 500, "internal", "database error");
}

int
nano_server_page_error(nano_res_t *res, nano_db_t *db, nano_db_status_t st)
{
    if (st == NANO_DB_INVALID) {
        return nano_res_field_error(res, "cursor", "that is not a cursor"
                                    " this API gave");
    }
    return nano_server_db_error(res, db, st);
}

int
nano_server_page(nano_res_t *res, nano_db_t *db, nano_db_status_t st,
    const char *key, json_t **items, const char *next)
{
    json_t  *page;

    if (st != NANO_DB_OK) {
        return nano_server_page_error(res, db, st);
    }
    page = json_pack("{s:o, s:s?}", key, *items, "nextCursor", next);
    *items = NULL;
    return nano_res_json(res, 200, page);
}

nano_db_t *
nano_server_db_get(int wait_ms)
{
    return nano_dbpool_get(&nano_server_pool, wait_ms);
}

void
nano_server_db_put(nano_db_t *db)
{
    nano_dbpool_put(&nano_server_pool, db, "an app thread");
}

/* ---- requests ---------------------------------------------------------- */

static int
nano_server_path_ok(const char *path)
{
    const unsigned char  *p = (const unsigned char *) path;

    if (p[0] != '/') {
        return 0;
    }
    for (; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }
    return p - (const unsigned char *) path <= NANO_ROUTE_PATH_MAX;
}

static int
nano_server_method_has_body(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0
           || strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

/*
 * 1 when the body comes under a content coding (gzip, br, ...).  No
 * handler decodes one, and read as it stands a body was taken for what
 * it was not: a plain body named gzip was charged as a generation, a
 * gzipped one was "invalid_json", which names no cause.  "identity" is
 * no coding; two header lines are a coding whatever they say.
 */
static int
nano_server_body_coded(const nano_req_t *req)
{
    const char  *v = nano_req_param_str(req, "HTTP_CONTENT_ENCODING");
    size_t       len;

    if (nano_req_param_repeated(req, "HTTP_CONTENT_ENCODING")) {
        return 1;
    }
    v += strspn(v, " \t");
    len = strlen(v);
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) {
        len--;
    }
    return len != 0 && !(len == 8 && strncasecmp(v, "identity", 8) == 0);
}

/* Where a body goes as it is read: memory (a plain body) or the
 * multipart parser (an upload). */
typedef struct {
    nano_req_t  *req;
    size_t       cap;       /* of req->body, plain bodies */
    int          multipart;
} nano_server_sink_t;

/* Appends a chunk of a plain body to req->body; 0 or 500. */
static int
nano_server_sink_plain(nano_server_sink_t *sink, const char *p, size_t n)
{
    nano_req_t  *req = sink->req;
    size_t       cap = sink->cap;
    char        *grown;

    if (req->body_len + n + 1 > cap) {
        while (req->body_len + n + 1 > cap) {
            cap *= 2;
        }
        grown = realloc(req->body, cap);
        if (grown == NULL) {
            return 500;
        }
        req->body = grown;
        sink->cap = cap;
    }
    memcpy(req->body + req->body_len, p, n);
    req->body_len += n;
    req->body[req->body_len] = '\0';
    return 0;
}

/*
 * Prepares the sink: a multipart body on an upload route goes to the
 * parser (files under the media folder's tmp/), anything else to memory,
 * sized for what Content-Length announced.  0 or a status.
 */
static int
nano_server_sink_init(nano_server_sink_t *sink, nano_req_t *req,
    int multipart, size_t declared)
{
    char  boundary[NANO_MULTIPART_BOUNDARY_MAX + 1];

    sink->req = req;
    sink->multipart = multipart;
    if (!sink->multipart) {
        sink->cap = declared < 4096 ? 4096 : declared + 1;
        req->body = malloc(sink->cap);
        if (req->body == NULL) {
            return 500;
        }
        req->body[0] = '\0';
        return 0;
    }
    if (nano_multipart_boundary(nano_req_param_str(req, "CONTENT_TYPE"),
                                boundary, sizeof(boundary)) != 0)
    {
        return 400;
    }
    req->uploads = malloc(sizeof(*req->uploads));
    if (req->uploads == NULL) {
        return 500;
    }
    return nano_upload_init(req->uploads, req->config->media_dir, boundary,
                            NANO_IMAGE_UPLOAD_MAX);
}

/* The answer for a body refused with status. */
static int
nano_server_body_refusal(nano_req_t *req, nano_res_t *res, int status,
    size_t max)
{
    const char  *why = req->uploads != NULL
                       ? nano_upload_error(req->uploads) : NULL;
    char         msg[96], size[32];

    switch (status) {
    case 413:
        if (why == NULL) {
            snprintf(msg, sizeof(msg), "the request body is larger than %s",
                     nano_http_size(max, size, sizeof(size)));
            why = msg;
        }
        return nano_res_error(res, 413, "payload_too_large", why);
    case 400:
        return nano_res_error(res, 400, "bad_request",
                              why != NULL ? why
                              : "the multipart body has no valid boundary");
    case 415:
        return nano_res_error(res, 415, "unsupported_media_type",
                              "send the body without a Content-Encoding:"
                              " it is read as it stands");
    case 507:
        nano_res_header(res, "Retry-After", "60");
        return nano_res_error(res, 507, "insufficient_storage",
                              why != NULL ? why : "the server's disk is"
                              " full");
    default:
        return nano_res_error(res, 500, "internal",
                              why != NULL ? why : "out of memory");
    }
}

/*
 * Reads and drops what is left of a request's input, until its end or
 * until NANO_BODY_DRAIN_MAX bytes in all (total of them read before).
 * 1 when the end was reached.
 */
static int
nano_server_drain(FCGX_Stream *in, size_t total)
{
    char  chunk[8192];
    int   n;

    while (total < NANO_BODY_DRAIN_MAX
           && (n = FCGX_GetStr(chunk, sizeof(chunk), in)) > 0)
    {
        total += (size_t) n;
    }
    return FCGX_HasSeenEOF(in) == EOF;
}

/*
 * Reads the request body: at most the route's body_max bytes (else
 * 413), into req->body, or for a multipart body on an upload route
 * through the upload parser as it arrives.  Returns 0 or the status of
 * the answer it set.
 */
static int
nano_server_read_body(nano_worker_t *w, nano_req_t *req, nano_res_t *res,
    const nano_route_t *route)
{
    nano_server_sink_t   sink = { 0 };
    const char          *cl = nano_req_param_str(req, "CONTENT_LENGTH");
    size_t               max = route->body_max ? route->body_max
                                               : NANO_BODY_MAX;
    size_t               total = 0;
    char                *end, *chunk = NULL;
    long long            declared = 0;
    int                  n, status = 0, multipart;

    multipart = (route->flags & NANO_ROUTE_UPLOAD)
                && nano_req_is_content_type(req, "multipart/form-data");
    if ((route->flags & NANO_ROUTE_UPLOAD) && !multipart
        && max > NANO_ROUTE_INLINE_MAX)
    {
        max = NANO_ROUTE_INLINE_MAX;
    }
    if (cl[0] != '\0') {
        errno = 0;
        declared = strtoll(cl, &end, 10);
        if (errno != 0 || *end != '\0' || declared < 0) {
            return nano_res_error(res, 400, "bad_request",
                                  "invalid Content-Length");
        }
    }
    chunk = malloc(NANO_BODY_CHUNK);
    if (chunk == NULL) {
        status = 500;
        goto refuse;
    }
    if ((unsigned long long) declared > max) {
        status = 413;
        goto refuse;
    }
    if (declared > 0 && nano_server_body_coded(req)) {
        status = 415;
        goto refuse;
    }
    status = nano_server_sink_init(&sink, req, multipart, (size_t) declared);
    if (status != 0) {
        goto refuse;
    }
    /* Reads to end of stream, whatever Content-Length claimed. */
    while ((n = FCGX_GetStr(chunk, NANO_BODY_CHUNK, w->fcgx.in)) > 0) {
        total += (size_t) n;
        if (total > max) {
            status = 413;
            goto refuse;
        }
        status = sink.multipart ? nano_upload_feed(req->uploads, chunk,
                                                   (size_t) n)
                                : nano_server_sink_plain(&sink, chunk,
                                                         (size_t) n);
        if (status != 0) {
            goto refuse;
        }
    }
    /* nginx never forwards such a body; anything else talking FastCGI
     * to us might, and a cut body must not pass for a whole one */
    if ((long long) total != declared) {
        status = nano_res_error(res, 400, "bad_request",
                                (long long) total < declared
                                ? "the body is shorter than its"
                                  " Content-Length"
                                : "the body is longer than its"
                                  " Content-Length");
        goto out;
    }
    if (sink.multipart) {
        status = nano_upload_finish(req->uploads);
        if (status != 0) {
            status = nano_server_body_refusal(req, res, status, max);
        }
    }
    goto out;

refuse:
    /* Drain a little so the web server sees a clean reply rather than a
     * reset while it is still sending. */
    if (chunk != NULL) {
        (void) nano_server_drain(w->fcgx.in, total);
    }
    status = nano_server_body_refusal(req, res, status, max);
out:
    free(chunk);
    return status;
}

/*
 * 1 when the gateway's nano_auth_origin (the NANO_AUTH_ORIGIN param) is
 * NEXTAUTH_URL's origin, or one of NANO_ORIGINS (a module's subdomain).
 * Otherwise the two would read different session cookies; the mismatch
 * is logged once, it is the operator's to fix.
 */
static int
nano_server_origin_agrees(const nano_req_t *req)
{
    static atomic_int   logged;
    const char         *gw = nano_req_param(req, "NANO_AUTH_ORIGIN");

    if (gw != NULL
        && nano_site_allows(&req->config->site, req->config->origin, gw))
    {
        return 1;
    }
    if (atomic_exchange(&logged, 1) == 0) {
        nano_log_error("the gateway's nano_auth_origin is \"%.200s\" but"
                       " NEXTAUTH_URL's origin is \"%s\"; refusing requests"
                       " until they agree (fastcgi_param NANO_AUTH_ORIGIN"
                       " $nano_auth_origin)", gw != NULL ? gw : "(not sent)",
                       req->config->origin);
    }
    return 0;
}

/*
 * A page's script names the account its page was made for (X-Nano-User,
 * the shared header's data-nb-user).  When another account signed in
 * meanwhile, in another tab, the browser sends that account's cookie:
 * the page's next call was answered for it ("Load more" appended its
 * history under the first account's, its balance showed in the first
 * one's header) or done as it (a generation charged to it).  Such a
 * call, or one sent after the sign-out, is refused here; a request
 * without the header (curl, an API client) is not this check's.
 */
static int
nano_server_page_user(const nano_req_t *req, nano_res_t *res)
{
    const char  *page = nano_req_param(req, "HTTP_X_NANO_USER");
    const char  *user;

    if (page == NULL || page[0] == '\0') {
        return 0;
    }
    user = nano_req_param_str(req, "NANO_USER_ID");
    if (user[0] == '\0') {
        return nano_res_error(res, 401, "unauthorized",
                              "this page's session has ended");
    }
    if (strcmp(page, user) != 0
        || nano_req_param_repeated(req, "HTTP_X_NANO_USER"))
    {
        return nano_res_error(res, 401, "session_changed",
                              "another account signed in since this page"
                              " was opened; reload it");
    }
    return 0;
}

/*
 * After a handler that streamed (or said so): the status for the log.
 * Nothing more may be written once a stream began; a handler that
 * returned NANO_STREAMED without beginning one gets a 500 sent for it.
 */
static int
nano_server_streamed(nano_req_t *req, nano_res_t *res, int status)
{
    if (!req->stream.begun) {
        nano_log_error("%s %s%s: the handler returned NANO_STREAMED without"
                       " beginning a stream", req->method, req->script_name,
                       req->path);
        return nano_res_error(res, 500, "internal", "internal error");
    }
    if (status != NANO_STREAMED) {
        nano_log_error("%s %s%s: the handler began a stream but returned %d"
                       " (not NANO_STREAMED)", req->method, req->script_name,
                       req->path, status);
    }
    return req->stream.status;
}

/* A DELETE's JSON body: 0 when it is a JSON object, else the answer a
 * POST's malformed JSON gets (400 invalid_json, a field named where it
 * can be; 413 for too many values). */
static int
nano_server_delete_json(const nano_req_t *req, nano_res_t *res)
{
    json_t  *root;
    int      status;

    status = nano_req_json(req, &root);
    if (status == 0) {
        json_decref(root);
        return 0;
    }
    if (status == 413) {
        return nano_res_json_too_large(res);
    }
    status = nano_res_json_named(req, res);
    if (status != 0) {
        return status;
    }
    return nano_res_error(res, 400, "invalid_json",
                          "the body must be a JSON object (UTF-8, no NUL"
                          " characters), or none");
}

/* Routes req; returns the status the handler (or the router) chose. */
static int
nano_server_dispatch(nano_worker_t *w, nano_req_t *req, nano_res_t *res,
    nano_route_params_t *params)
{
    const nano_route_t  *route;
    nano_buf_t           allow;
    int                  i, status;

    if (req->method[0] == '\0') {
        return nano_res_error(res, 400, "bad_request",
                              "no REQUEST_METHOD");
    }
    if (!nano_server_path_ok(req->path)) {
        return nano_page_not_found(req, res);
    }
    if ((w->app->flags & NANO_APP_CHECKS_ORIGIN)
        && !nano_server_origin_agrees(req))
    {
        return nano_res_error(res, 500, "misconfigured",
                              "the gateway and this service disagree on the"
                              " deployment's origin; see the service's log");
    }

    nano_buf_init(&allow);
    i = nano_route_find(w->app->routes, w->app->nroutes, req->method,
                        req->path, params, &allow);
    if (i == NANO_ROUTE_NOT_ALLOWED) {
        nano_res_header(res, "Allow", allow.data ? allow.data : "");
    }
    nano_buf_cleanup(&allow);
    if (i == NANO_ROUTE_NOT_FOUND) {
        return nano_page_not_found(req, res);
    }
    if (i == NANO_ROUTE_NOT_ALLOWED) {
        return nano_res_error(res, 405, "method_not_allowed",
                              "method not allowed for this path");
    }
    route = &w->app->routes[i];
    req->route = route->path;
    req->path_params = params;

    status = nano_server_page_user(req, res);
    if (status != 0) {
        return status;
    }
    if (nano_server_method_has_body(req->method)) {
        status = nano_server_read_body(w, req, res, route);
        if (status != 0) {
            return status;
        }
        /* Most DELETEs read no body, and took any as if there were
         * none, where a POST answers 415 to one that is not JSON: a
         * body that is there is JSON here too (docs/SESSIONS.md,
         * docs/MODULES.md); none at all is the usual DELETE. */
        if (strcmp(req->method, "DELETE") == 0 && req->body_len > 0
            && !nano_req_is_content_type(req, "application/json"))
        {
            return nano_res_error(res, 415, "unsupported_media_type",
                                  "send application/json in UTF-8, or no"
                                  " body");
        }
        /* and a JSON body must parse, as a POST's must: a malformed
         * one was taken as none and the route ran */
        if (strcmp(req->method, "DELETE") == 0 && req->body_len > 0) {
            status = nano_server_delete_json(req, res);
            if (status != 0) {
                return status;
            }
        }
    }

    status = route->handler(req, res);
    if (status == NANO_STREAMED || req->stream.begun) {
        return nano_server_streamed(req, res, status);
    }
    if (status < 100 || status > 599) {
        nano_log_error("%s %s: handler returned status %d", req->method,
                       req->path, status);
        return nano_res_error(res, 500, "internal", "internal error");
    }
    res->status = status;
    if (status >= 400 && res->body.len == 0 && res->content_type == NULL) {
        /* Keep the promise that every error answer is JSON. */
        return nano_res_error(res, status, "error", nano_http_reason(status));
    }
    return status;
}

/* Gives back what the request held: its stream slot and its database
 * connection (rolled back first when the handler left a transaction
 * open). */
static void
nano_server_request_end(nano_req_t *req)
{
    char  who[512];

    nano_stream_release(req);
    if (req->db != NULL) {
        snprintf(who, sizeof(who), "%s %s%s (route %s)", req->method,
                 req->script_name, req->path,
                 req->route != NULL ? req->route : "?");
        nano_dbpool_put(&nano_server_pool, req->db, who);
        req->db = NULL;
    }
}

/*
 * A kept connection carries the next request right behind this one's
 * input: read what the handler left of it (a GET's empty stdin record
 * is already in libfcgi's buffer), or have libfcgi close the connection
 * when too much is left.
 */
static void
nano_server_end_input(nano_worker_t *w)
{
    if (!w->fcgx.keepConnection || w->fcgx.in == NULL) {
        return;
    }
    if (!nano_server_drain(w->fcgx.in, 0)
        || FCGX_GetError(w->fcgx.in) != 0)
    {
        w->fcgx.keepConnection = 0;
    }
}

/*
 * Has libfcgi read a request from fd, a connection nano_conns_next gave.
 * There is no public call that hands libfcgi a connection, so this sets
 * ipcFd, below fcgiapp.h's "don't use" line (libfcgi 2.4), and the
 * request's listen_sock is -1: FCGX_Accept_r never accepts itself, and
 * when fd ends instead of carrying a request (the web server closed a
 * kept connection) it closes fd and fails.  keepConnection 1 keeps fd
 * from the finish of the previous request that FCGX_Accept_r runs first.
 * 0, or -1 when fd ended.
 */
static int
nano_server_read_request(nano_worker_t *w, int fd)
{
    w->fcgx.ipcFd = fd;
    w->fcgx.keepConnection = 1;
    if (FCGX_Accept_r(&w->fcgx) != 0) {
        w->fcgx.ipcFd = -1;
        return -1;
    }
    return 0;
}

static const char *
nano_server_param_or_dash(const nano_req_t *req, const char *name)
{
    const char  *v = nano_req_param(req, name);

    return v != NULL && v[0] != '\0' ? v : "-";
}

/* "req=<id> user=<id> <method> <path>", "-" for what is not known */
static void
nano_server_log_context(const nano_req_t *req, char *ctx, size_t size)
{
    snprintf(ctx, size, "req=%.64s user=%.64s %.16s %.64s%.200s",
             nano_server_param_or_dash(req, "NANO_REQUEST_ID"),
             nano_server_param_or_dash(req, "NANO_USER_ID"),
             req->method[0] != '\0' ? req->method : "-",
             req->script_name, req->path);
}

static void
nano_server_handle(nano_worker_t *w)
{
    nano_route_params_t  params;
    nano_req_t           req;
    nano_res_t           res;
    nano_buf_t           out;
    struct timespec      t0, t1;
    char                 line[600], ctx[448];
    void               (*after)(void *, nano_db_t *);
    void                *after_arg;
    nano_db_t           *after_db;
    int                  status;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    nano_req_init(&req, w->fcgx.envp);
    req.config = w->config;
    req.app = w->app;
    req.stream.out = w->fcgx.out;
    req.stream.fd = w->fcgx.ipcFd;
    params.n = 0;
    nano_res_init(&res);
    nano_buf_init(&out);

    /* Every line logged while this request is served names it: the id
     * nginx logs too (fastcgi_param NANO_REQUEST_ID $request_id), the
     * gateway's user, the method and the path. */
    nano_server_log_context(&req, ctx, sizeof(ctx));
    nano_log_context(ctx);

    status = nano_server_dispatch(w, &req, &res, &params);
    res.status = status;

    if (!req.stream.begun) {
        nano_res_serialize(&res, strcmp(req.method, "HEAD") == 0, &out);
        if (out.data != NULL
            && FCGX_PutStr(out.data, (int) out.len, w->fcgx.out) < 0)
        {
            nano_log_warn("%s %s: client went away", req.method, req.path);
        }
    }

    /* formatted now, while req still points into the params; written
     * after FCGX_Finish_r, so that the log file's write is not between
     * the handler and the reply leaving (FCGX_PutStr only buffers) */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    snprintf(line, sizeof(line),
             "%.16s %.64s%.300s %d %.1fms req=%.64s user=%.64s",
             req.method, req.script_name, req.path, status,
             (double) (t1.tv_sec - t0.tv_sec) * 1e3
             + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6,
             nano_server_param_or_dash(&req, "NANO_REQUEST_ID"),
             nano_server_param_or_dash(&req, "NANO_USER_ID"));

    /* before FCGX_Finish_r, which frees the params req points into */
    after = req.after;
    after_arg = req.after_arg;
    after_db = after != NULL ? req.db : NULL;
    if (after != NULL) {
        req.db = NULL;
    }
    nano_server_request_end(&req);
    nano_req_cleanup(&req);
    nano_server_end_input(w);
    FCGX_Finish_r(&w->fcgx);
    if (w->fcgx.ipcFd >= 0) {
        /* nginx keeps it (FCGI_KEEP_CONN) and may send the next request
         * at once: free for any worker before the log and the work
         * after the reply */
        nano_conns_park(&nano_server_conns, w->fcgx.ipcFd);
        w->fcgx.ipcFd = -1;
    }
    /* the line names the request itself; a 5xx is the server's
     * failure, at the level of one (a 500 is ours; 502 to 504 are a
     * provider's or the database's), so journalctl -p warning lists it
     * whether or not its cause was logged */
    nano_log_context(NULL);
    nano_log(status == 500 ? NANO_LOG_ERROR
             : status >= 500 && status <= 599 ? NANO_LOG_WARN
             : NANO_LOG_INFO, "%s", line);
    nano_log_context(ctx);
    nano_buf_cleanup(&out);
    nano_res_cleanup(&res);
    if (after != NULL) {
        after(after_arg, after_db);
        nano_dbpool_put(&nano_server_pool, after_db, "work after a reply");
    }
    nano_log_context(NULL);
}

/* ---- workers ----------------------------------------------------------- */

static void *
nano_server_worker(void *arg)
{
    nano_worker_t  *w = arg;
    sigset_t        waiting;
    long            now;
    int             fd, err;

    /* The stop's wake-up (SIGUSR1) stays blocked while the worker serves
     * and is taken only in its wait for a connection; one that came
     * meanwhile ends the next wait at once.  Taken during a request, it
     * made a write() that waited for a slow reader fail with EINTR, which
     * libfcgi takes for a connection lost: a SIGTERM cut an export or a
     * stream at once, with the workers' grace still to run. */
    pthread_sigmask(SIG_BLOCK, NULL, &waiting);
    sigdelset(&waiting, SIGUSR1);

    while (!atomic_load(&nano_server_stopping)) {
        fd = nano_conns_next(&nano_server_conns, &waiting);
        if (fd < 0) {
            if (atomic_load(&nano_server_stopping)) {
                break;
            }
            if (errno == EINTR) {
                continue;
            }
            /* EMFILE and the like pass; do not spin on them, nor have
             * every worker log each try (64 workers: 640 lines a
             * second) */
            err = errno;
            now = (long) time(NULL);
            if (atomic_exchange(&nano_server_accept_warned, now) != now) {
                nano_log_warn("worker %d: accept failed: %s (logged once"
                              " a second)", w->id, strerror(err));
            }
            usleep(100 * 1000);
            continue;
        }
        if (nano_server_read_request(w, fd) != 0) {
            continue;
        }
        nano_server_handle(w);
    }

    nano_client_thread_cleanup();
    return NULL;
}

/* Stops the workers: requests in flight may finish within the grace
 * period.  Returns 0 when all stopped. */
static int
nano_server_stop_workers(nano_worker_t *workers, int n,
    const nano_listener_t *l)
{
    struct timespec  deadline, tick;
    int              i, rc = 0;

    atomic_store(&nano_server_stopping, 1);
    /* New connections are refused on sockets we made; signals wake the
     * workers.  An inherited socket is shared with systemd or
     * spawn-fcgi, and shutdown() would stop it for them too: leave it
     * alone.  Idle kept connections are closed now, so that nginx drops
     * them instead of sending a request nobody would read. */
    if (!l->inherited && l->fd >= 0) {
        shutdown(l->fd, SHUT_RDWR);
    }
    nano_conns_close_idle(&nano_server_conns);

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += NANO_STOP_GRACE_SEC;

    for (i = 0; i < n; i++) {
        if (!workers[i].started) {
            continue;
        }
        for (;;) {
            pthread_kill(workers[i].thread, SIGUSR1);
            nano_clock_after(CLOCK_REALTIME, 100, &tick);
            if (pthread_timedjoin_np(workers[i].thread, NULL, &tick) == 0) {
                workers[i].started = 0;
                break;
            }
            if (tick.tv_sec > deadline.tv_sec) {
                nano_log_error("worker %d did not stop within %d s", i,
                               NANO_STOP_GRACE_SEC);
                rc = -1;
                break;
            }
        }
    }
    return rc;
}

/* ---- main -------------------------------------------------------------- */

/* Refuses a route table with a malformed path pattern; 0 or -1 logged. */
static int
nano_server_check_routes(const nano_app_t *app)
{
    char    err[128];
    size_t  i;

    for (i = 0; i < app->nroutes; i++) {
        if (nano_route_check(app->routes[i].path, err, sizeof(err)) != 0) {
            nano_log_error("route %s %s: %s", app->routes[i].method,
                           app->routes[i].path, err);
            return -1;
        }
    }
    return 0;
}

static void
nano_server_usage(FILE *f, const char *prog, const nano_app_t *app)
{
    fprintf(f,
            "usage: %s [--listen 127.0.0.1:PORT | [::1]:PORT | unix:/PATH]\n"
            "          [--workers N] [--socket-mode OCTAL]\n"
            "Serves FastCGI.  Without --listen, serves on fd 0 when it is a\n"
            "listening socket.  Only loopback or unix sockets are allowed.\n"
            "Environment (README.md, Environment): NEXTAUTH_URL,\n"
            "NANO_ORIGINS, NANO_COOKIE_DOMAIN, NANO_SECRET_FILE or\n"
            "NEXTAUTH_SECRET,\n"
            "NANO_SESSION_FORMAT, DATABASE_URL, NANO_DB_POOL,\n"
            "NANO_DB_POOL_WAIT_MS, NANO_DB_TIMEOUT_MS, NANO_ROOT,\n"
            "NANO_MODULES_FILE, NANO_MEDIA_DIR, NANO_MEDIA_SWEEP_SECS,\n"
            "NANO_MEDIA_SWEEP_GRACE_SECS, NANO_SIGNUP_CREDITS, NANO_WORKERS\n"
            "(the default of --workers), NANO_MAX_STREAMS.\n", prog);
    if (app->env_help != NULL) {
        fputs(app->env_help, f);
    }
}

typedef struct {
    const char  *listen;
    int          workers;
    mode_t       socket_mode;
    int          streams;      /* NANO_MAX_STREAMS */
    int          db_pool;      /* NANO_DB_POOL */
    int          db_wait_ms;   /* NANO_DB_POOL_WAIT_MS */
} nano_server_opts_t;

/* nano_config_env_int, the refusal logged. */
static int
nano_server_env_int(const char *name, int def, int min, int max, int *out)
{
    char  err[160];

    if (nano_config_env_int(name, def, min, max, out, err, sizeof(err)) != 0)
    {
        nano_log_error("%s", err);
        return -1;
    }
    return 0;
}

/* The sizes that come from the environment once the worker count is
 * known: stream slots (default workers - 4, at least 1) and the
 * database pool.  0, or -1 logged. */
static int
nano_server_env_sizes(nano_server_opts_t *o)
{
    char  err[256];

    if (nano_server_env_int("NANO_MAX_STREAMS",
                            o->workers > 5 ? o->workers - 4 : 1, 1,
                            NANO_WORKERS_MAX, &o->streams) != 0)
    {
        return -1;
    }
    if (nano_dbpool_config(&o->db_pool, &o->db_wait_ms, err, sizeof(err))
        != 0)
    {
        nano_log_error("%s", err);
        return -1;
    }
    return 0;
}

static int
nano_server_parse_args(int argc, char **argv, const nano_app_t *app,
    nano_server_opts_t *o)
{
    static const struct option  longopts[] = {
        { "listen",      required_argument, NULL, 'l' },
        { "workers",     required_argument, NULL, 'w' },
        { "socket-mode", required_argument, NULL, 'm' },
        { "help",        no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    long long  v;
    int        c;

    o->listen = NULL;
    o->socket_mode = 0660;
    o->workers = 0;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            o->listen = optarg;
            break;
        case 'w':
            if (nano_form_number(optarg, 10, NANO_WORKERS_MAX, &v) != 0
                || v < 1)
            {
                fprintf(stderr, "--workers must be 1..%d\n",
                        NANO_WORKERS_MAX);
                return NANO_EXIT_USAGE;
            }
            o->workers = (int) v;
            break;
        case 'm':
            /* an empty one was mode 0: no worker of nginx's could
             * connect, and every request was a 502 */
            if (nano_form_number(optarg, 8, 0777, &v) != 0) {
                fprintf(stderr, "--socket-mode must be octal, e.g. 0660\n");
                return NANO_EXIT_USAGE;
            }
            o->socket_mode = (mode_t) v;
            break;
        case 'h':
            nano_server_usage(stdout, argv[0], app);
            return -1;
        default:
            nano_server_usage(stderr, argv[0], app);
            return NANO_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        nano_server_usage(stderr, argv[0], app);
        return NANO_EXIT_USAGE;
    }
    /* --workers, else NANO_WORKERS, else the app's, else the default;
     * read after the options, so that --help answers whatever it holds */
    if (o->workers == 0
        && nano_server_env_int("NANO_WORKERS",
                               app->workers > 0 ? app->workers
                                                : NANO_WORKERS_DEFAULT, 1,
                               NANO_WORKERS_MAX, &o->workers) != 0)
    {
        return NANO_EXIT_USAGE;
    }
    return NANO_EXIT_OK;
}

int
nano_server_main(int argc, char **argv, const nano_app_t *app)
{
    nano_server_opts_t  opts;
    nano_config_t       cfg;
    nano_listener_t     l = { .fd = -1 };
    nano_worker_t      *workers = NULL;
    struct sigaction    sa;
    sigset_t            stop, blocked;
    char                err[512];
    int                 rc, i, sig, started = 0;

    nano_log_init(app->name);
    nano_config_init(&cfg);
    /* A request body and its parsed copy of 256 KiB or more get their
     * own mapping, given back when freed.  glibc would raise this
     * threshold after the first such free and keep later ones in the
     * thread's arena: 8 image workers held 60-100 MB after a burst of
     * 6 MiB JSON bodies. */
    mallopt(M_MMAP_THRESHOLD, NANO_MMAP_AT);

    rc = nano_server_parse_args(argc, argv, app, &opts);
    if (rc != NANO_EXIT_OK) {
        return rc < 0 ? NANO_EXIT_OK : rc;
    }
    if (nano_server_check_routes(app) != 0) {
        return NANO_EXIT_FAILURE;
    }
    if (nano_server_env_sizes(&opts) != 0) {
        return NANO_EXIT_FAILURE;
    }
    /* A DATABASE_URL that is set must be one: a typo let the backend
     * start and answer every request that needs the database 503.
     * Checked before the socket exists, so none is left behind.  Unset,
     * the backend serves what needs none (the pool says so). */
    if (nano_dbpool_init(&nano_server_pool, getenv("DATABASE_URL"),
                         opts.db_pool, opts.db_wait_ms, err, sizeof(err))
        != 0)
    {
        nano_log_error("%s", err);
        return NANO_EXIT_FAILURE;
    }
    nano_server_nworkers = opts.workers;

    /* Workers inherit this mask: only the main thread takes the stop
     * signals, through sigwait(). */
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = nano_server_wake;      /* no SA_RESTART: EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    blocked = stop;
    sigaddset(&blocked, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &blocked, NULL);

    if (nano_config_load(&cfg, (app->flags & NANO_APP_NEEDS_KEYS) != 0, err,
                         sizeof(err)) != 0)
    {
        nano_log_error("%s", err);
        rc = NANO_EXIT_FAILURE;
        goto out;
    }

    rc = nano_listen_open(opts.listen, opts.socket_mode, &l);
    if (rc != NANO_EXIT_OK) {
        goto out;
    }

    if (FCGX_Init() != 0) {
        nano_log_error("FCGX_Init failed");
        rc = NANO_EXIT_FAILURE;
        goto out;
    }
    if (nano_conns_init(&nano_server_conns, l.fd) != 0) {
        nano_log_error("cannot watch %s: %s", l.name, strerror(errno));
        rc = NANO_EXIT_FAILURE;
        goto out;
    }
    json_object_seed(0);        /* before threads: jansson's hash seed */
    nano_stream_slots_init(opts.streams);

    if (app->start != NULL && app->start(&cfg) != 0) {
        nano_log_error("%s: start failed", app->name);
        rc = NANO_EXIT_FAILURE;
        goto out;
    }
    started = 1;

    workers = calloc((size_t) opts.workers, sizeof(*workers));
    if (workers == NULL) {
        nano_log_error("out of memory");
        rc = NANO_EXIT_FAILURE;
        goto out;
    }
    for (i = 0; i < opts.workers; i++) {
        workers[i].id = i;
        workers[i].app = app;
        workers[i].config = &cfg;
        if (FCGX_InitRequest(&workers[i].fcgx, -1, 0) != 0
            || pthread_create(&workers[i].thread, NULL, nano_server_worker,
                              &workers[i]) != 0)
        {
            nano_log_error("cannot start worker %d", i);
            rc = NANO_EXIT_FAILURE;
            goto stop;
        }
        workers[i].started = 1;
    }
    nano_log_info("serving %s on %s with %d workers, %d stream slots and"
                  " %d database connections (origin %s)", app->name, l.name,
                  opts.workers, opts.streams, opts.db_pool, cfg.origin);

    do {
        if (sigwait(&stop, &sig) != 0) {
            sig = SIGTERM;
        }
    } while (sig != SIGTERM && sig != SIGINT && sig != SIGHUP);
    nano_log_info("signal %d: shutting down", sig);
    rc = NANO_EXIT_OK;
    if (app->stopping != NULL) {
        app->stopping();
    }

stop:
    if (nano_server_stop_workers(workers, opts.workers, &l) != 0) {
        /* A worker is stuck in a handler: leave its memory alone. */
        if (l.unix_path[0] != '\0') {
            unlink(l.unix_path);
        }
        return NANO_EXIT_FAILURE;
    }

out:
    if (started && app->stop != NULL) {
        app->stop();
    }
    nano_conns_cleanup(&nano_server_conns);
    nano_dbpool_cleanup(&nano_server_pool);
    nano_password_pool_cleanup();
    if (l.fd >= 0) {
        close(l.fd);
    }
    if (l.unix_path[0] != '\0') {
        unlink(l.unix_path);
    }
    free(workers);
    nano_config_cleanup(&cfg);
    return rc;
}
