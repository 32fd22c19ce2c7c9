/*
 * Outbound HTTP to the AI providers, over libcurl.  A call describes
 * one request (nano_client_call_t); nano_client_do runs it on the
 * calling thread's own easy handle (kept between calls, so connections
 * are reused), and the job runner runs many at once on one multi handle
 * (nano_jobs).  Every transfer has connect and total timeouts, an error
 * buffer, CURLOPT_NOSIGNAL and a capped body.  Keys travel in headers
 * and never reach a log: the error texts name the host, not the URL.
 */

#ifndef NANO_CLIENT_H
#define NANO_CLIENT_H

#include <stddef.h>

#include <curl/curl.h>

#include "nano_buf.h"

#define NANO_CLIENT_HEADERS_MAX     8
#define NANO_CLIENT_CONNECT_MS      10000
#define NANO_CLIENT_TIMEOUT_MS      120000
#define NANO_CLIENT_BODY_MAX        (32 * 1024 * 1024)
#define NANO_CLIENT_REDIRECTS_MAX   5

/* Called with each piece of the response body as it arrives (streaming
 * calls); returns 0 to go on, -1 to stop the transfer. */
typedef int (*nano_client_data_fn)(const char *data, size_t len, void *arg);

/* Called about every idle_ms while a blocking call waits; returns 0 to
 * go on, -1 to stop (the client left: heartbeats). */
typedef int (*nano_client_idle_fn)(void *arg);

/* One request; what it points to is borrowed and must outlive the call. */
typedef struct {
    const char            *method;       /* "GET" or "POST" */
    char                   url[2048];
    /* NULL-ended */
    const char            *headers[NANO_CLIENT_HEADERS_MAX + 1];
    char                  *auth;         /* an owned header line holding a
                                            key ("Authorization: Bearer …");
                                            wiped when the call is reset */
    const char            *body;         /* POST body, or NULL */
    size_t                 body_len;
    long                   connect_ms;   /* 0: NANO_CLIENT_CONNECT_MS */
    long                   timeout_ms;   /* 0: NANO_CLIENT_TIMEOUT_MS */
    size_t                 body_max;     /* 0: NANO_CLIENT_BODY_MAX */
    int                    follow;       /* a GET of a URL a provider
                                            gave (no key): follows up to
                                            NANO_CLIENT_REDIRECTS_MAX
                                            redirects, never from https
                                            to http */
    nano_client_data_fn    on_data;      /* NULL: collect into res.body */
    nano_client_idle_fn    on_idle;
    long                   idle_ms;
    /* nano_client_do also watches watch_fd while it waits (a database
     * commit that overlaps the call): on_watch runs when it is readable
     * and returns 0 to go on watching, 1 to stop, -1 to stop the call */
    int                    watch_fd;
    int                  (*on_watch)(void *arg);
    void                  *arg;
} nano_client_call_t;

/* What came back. */
typedef struct {
    long         status;         /* HTTP status, 0 when none arrived;
                                    set as soon as the headers come, so a
                                    streaming reader can check it */
    nano_buf_t   body;           /* when the call had no on_data */
    char         retry_after[64]; /* Retry-After's value, "" if none */
    int          sent;           /* the whole request went out: a POST
                                    may have been accepted */
    int          received;       /* any body byte arrived */
    int          timed_out;
    int          stopped;        /* on_data or on_idle stopped it */
    int          too_large;      /* the body passed body_max */
    int          bad_redirect;   /* a follow call redirected too often,
                                    or from https to http */
    CURLcode     code;
    char         error[CURL_ERROR_SIZE];
    /* private: the call the callbacks serve, the last idle tick */
    const nano_client_call_t  *call;
    long long    idle_at;
    int          sends;          /* times libcurl began to send it; a
                                    second is refused */
} nano_client_res_t;

/* Global libcurl setup; once, before any thread starts. */
int nano_client_global_init(void);

void nano_client_call_init(nano_client_call_t *call, const char *method);

/* Sets the URL from base + path ("%s%s"); -1 when it does not fit. */
int nano_client_call_url(nano_client_call_t *call, const char *base,
    const char *path);

/* Adds a header line (borrowed); -1 when full. */
int nano_client_call_header(nano_client_call_t *call, const char *line);

/* Sets the key header "<name>: <prefix><key>" (owned, wiped later). */
int nano_client_call_auth(nano_client_call_t *call, const char *name,
    const char *prefix, const char *key);

/* Wipes and frees what the call owns; accepts NULL, may run twice. */
void nano_client_call_cleanup(nano_client_call_t *call);

void nano_client_res_init(nano_client_res_t *res);
void nano_client_res_cleanup(nano_client_res_t *res);

/*
 * Runs call on the calling thread's easy handle (made on first use,
 * reset and reused after: keep-alive to the provider).  Returns 0 when
 * a response came (any status: see res->status), -1 when none did
 * (res->code, res->error, res->timed_out, res->sent say why).
 */
int nano_client_do(const nano_client_call_t *call, nano_client_res_t *res);

/* Frees the calling thread's easy handle and its connections: a thread
 * that made calls ends with it. */
void nano_client_thread_cleanup(void);

/*
 * For the multi runner: prepares easy for call, writing into res.
 * Returns 0, or -1 when out of memory.  The header list it makes is
 * kept in *slist (free with nano_client_slist_free after the transfer).
 */
int nano_client_setup(CURL *easy, const nano_client_call_t *call,
    nano_client_res_t *res, struct curl_slist **slist);

/* Frees a header list, wiping it first (a line held a key). */
void nano_client_slist_free(struct curl_slist *slist);

/* For the multi runner: fills res from a finished easy handle. */
void nano_client_finish(CURL *easy, CURLcode code, nano_client_res_t *res);

/* A short human text for a failed call ("timed out", "connection
 * refused by api.example.com"), never the URL or a key. */
const char *nano_client_why(const nano_client_res_t *res);

#endif /* NANO_CLIENT_H */
