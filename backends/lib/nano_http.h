/*
 * HTTP request and response as a backend handler sees them.  A handler
 * reads a nano_req_t, fills a nano_res_t and returns the status; the
 * server writes the reply once (it never touches the FastCGI stream).
 */

#ifndef NANO_HTTP_H
#define NANO_HTTP_H

#include <stddef.h>

#include <jansson.h>

#include "nano_buf.h"
#include "nano_config.h"
#include "nano_cookie.h"
#include "nano_form.h"

#define NANO_BODY_MAX  (64 * 1024)   /* bigger bodies get 413 */

typedef struct nano_app_s            nano_app_t;           /* nano_server.h */
typedef struct nano_route_params_s   nano_route_params_t;  /* nano_route.h */
typedef struct nano_upload_set_s     nano_upload_set_t;    /* nano_upload.h */
struct nano_db_s;                                          /* nano_db.h */
struct FCGX_Stream;                                        /* fcgiapp.h */

/* A request's streamed reply (nano_stream.h); libnano's own. */
typedef struct {
    struct FCGX_Stream  *out;      /* the worker's FastCGI stdout, borrowed */
    int                  fd;       /* the FastCGI connection, -1: none */
    int                  slot;     /* holds one of the stream slots */
    int                  begun;    /* headers sent: the server adds nothing */
    int                  status;   /* the status begun with (the log's) */
    int                  gone;     /* a write or flush failed */
} nano_req_stream_t;

typedef struct {
    char                 **envp;         /* FastCGI params, borrowed */
    const char            *method;       /* never NULL */
    const char            *script_name;  /* "" for the platform */
    const char            *path;         /* PATH_INFO, "/" when empty */
    const char            *query;        /* "" when absent */
    char                  *body;         /* NUL-terminated or NULL */
    size_t                 body_len;
    const nano_config_t   *config;
    const nano_app_t      *app;
    /* Set by the server, libnano's own: read them through
     * nano_req_path_param, nano_req_upload, nano_stream_*,
     * nano_server_db. */
    const char            *route;        /* the matched route's path */
    const nano_route_params_t  *path_params;
    nano_upload_set_t     *uploads;      /* a multipart body's parts */
    nano_req_stream_t      stream;
    struct nano_db_s      *db;           /* the pool's, for this request */
    /* Work the reply need not wait for (reading a record written behind
     * it): after(after_arg, db) runs once the reply went out, with the
     * request's connection, which then goes back to the pool.  The
     * request itself is gone by then. */
    void                 (*after)(void *arg, struct nano_db_s *db);
    void                  *after_arg;
} nano_req_t;

typedef struct {
    int          status;
    const char  *content_type;   /* static string */
    nano_buf_t   headers;        /* "Name: value\r\n" lines */
    nano_buf_t   body;
    int          file;           /* nginx sends a file: nano_res_file */
} nano_res_t;

/*
 * Fills req from FastCGI params (borrowed: envp must outlive req).
 * The body is left empty; the server reads it.
 */
void nano_req_init(nano_req_t *req, char **envp);

/* Frees the body and the uploads (removing their files unless kept);
 * accepts NULL and may run twice. */
void nano_req_cleanup(nano_req_t *req);

/* A {name} segment of the route that matched ("id" of
 * "/api/generations/{id}"), borrowed, or NULL. */
const char *nano_req_path_param(const nano_req_t *req, const char *name);

/* A file of a multipart body (routes with NANO_ROUTE_UPLOAD). */
typedef struct {
    const char  *field;      /* the form field's name */
    const char  *path;       /* a temporary file, removed when the request
                                ends unless kept */
    size_t       size;
    const char  *mime;       /* sniffed (nano_image_sniff), NULL when the
                                bytes are not PNG, JPEG or WebP */
    int          width;
    int          height;
} nano_upload_t;

/* The upload of field, borrowed, or NULL. */
const nano_upload_t *nano_req_upload(const nano_req_t *req,
    const char *field);

/* The n-th file of a multipart body (from 0, in the order sent),
 * borrowed, or NULL past the last. */
const nano_upload_t *nano_req_upload_nth(const nano_req_t *req, size_t n);

/* Moves an upload's file to dest (same file system: rename); the request
 * no longer removes it.  0 or -1. */
int nano_req_upload_keep(nano_req_t *req, const char *field,
    const char *dest);

/* A FastCGI param ("HTTP_ORIGIN", "NANO_USER_ID"...), borrowed, or NULL
 * when absent. */
const char *nano_req_param(const nano_req_t *req, const char *name);

/* The same, but "" when absent. */
const char *nano_req_param_str(const nano_req_t *req, const char *name);

/* 1 when the param name comes more than once: a header sent twice,
 * which nginx before 1.23 passes as two params (nano_req_param reads
 * the first). */
int nano_req_param_repeated(const nano_req_t *req, const char *name);

/* The first cookie called name; value is borrowed from the request. */
nano_cookie_result_t nano_req_cookie(const nano_req_t *req, const char *name,
    nano_str_t *value);

/*
 * Every HTTP_COOKIE param of the request, in order, as nano_cookie_*
 * functions take them (nginx before 1.23 passes each Cookie line as a
 * param of its own; read together they are one header, as the gateway
 * reads them).  Stores at most max and returns the count, or max + 1
 * when there are more (callers treat that as a malformed request).
 */
size_t nano_req_cookie_headers(const nano_req_t *req, nano_str_t *headers,
    size_t max);

/*
 * 1 when a browser sent this request from another site: Sec-Fetch-Site
 * is neither same-origin nor none, or Origin is present and is not the
 * deployment's origin ("null" included).  Clients that send neither
 * header (curl) are not browsers and pass.
 */
int nano_req_cross_site(const nano_req_t *req);

/* 1 when a person's browser wants a page in answer: a navigation
 * (Sec-Fetch-Mode: navigate, which scripts cannot send) or an Accept
 * that names text/html; 0 for scripts (fetch and curl accept any type). */
int nano_req_wants_page(const nano_req_t *req);

/* 1 when the Content-Type's media type is type (case-insensitive) and
 * a charset parameter, if any, says UTF-8: every body is read as UTF-8,
 * so a Latin-1 one is refused rather than misread. */
int nano_req_is_content_type(const nano_req_t *req, const char *type);

/* Parses the query string / the body as a form into a fresh form. */
nano_form_status_t nano_req_query(const nano_req_t *req, nano_form_t *form);
nano_form_status_t nano_req_form(const nano_req_t *req, nano_form_t *form);

/*
 * A page of a list, from the query string: ?limit= (plain digits,
 * 1..max, dflt when absent or empty) and ?cursor= (NULL when absent or
 * empty; it points into q, which the caller cleans up).  Returns 0, or
 * the error it answered: 400 invalid_field naming limit (or cursor,
 * given twice), the pair that was not UTF-8, or "query" for a query
 * that cannot be read.
 */
int nano_req_page(const nano_req_t *req, nano_res_t *res, nano_form_t *q,
    long dflt, long max, long *limit, const char **cursor);

/*
 * Parses the body as a JSON object of at most NANO_JSON_VALUES_MAX values
 * (nano_json_size.h).  Returns 0 with *root a new reference; 413 when
 * the body could hold more values (refused before parsing: answer it
 * with nano_res_json_too_large), 400 when it is not a JSON object.
 */
int nano_req_json(const nano_req_t *req, json_t **root);

/*
 * After nano_req_json refused the body with 400: when that was for a
 * number jansson cannot hold (an integer past 64 bits, a real past a
 * double) or for text it does not take (a NUL, "\u0000"; a byte that is
 * not UTF-8; a lone surrogate escape, "\ud800"), answers 400 naming the
 * top-level field that holds it (plain printable ASCII names only) and
 * returns that status; otherwise 0, and res is untouched.  So that
 * {"seed": 1e30} is named as {"seed": -1} is, and {"prompt": "a\u0000"}
 * as a form's prompt that is not UTF-8.  A key written twice in one
 * object is answered too: 400 invalid_json that says so.
 */
int nano_res_json_named(const nano_req_t *req, nano_res_t *res);

/* 413 payload_too_large for a body nano_req_json refused for its size. */
int nano_res_json_too_large(nano_res_t *res);

/* nano_req_fields() flags */
#define NANO_FIELDS_JSON      0x1    /* out: the body was JSON */
#define NANO_FIELDS_BAD_UTF8  0x2    /* out: fields left out: not UTF-8 */
#define NANO_FIELDS_NUMBERS   0x4    /* in: JSON whole numbers as text */
#define NANO_FIELDS_UTF8      0x8    /* in: refuse a field not UTF-8 */

/*
 * Reads the fields of a POST the way NextAuth's endpoints take them:
 * from an application/x-www-form-urlencoded body, the text fields of a
 * multipart/form-data body (its files: nano_req_upload), or a JSON
 * object whose string members are taken as they are and true/false as
 * the words (whole numbers in decimal when *flags holds
 * NANO_FIELDS_NUMBERS on entry, and then any other number, array or
 * object is refused; without it other numbers, null, arrays and objects
 * are left out).  A pair that is not UTF-8 is left out and flagged
 * (NextAuth's way), or with NANO_FIELDS_UTF8 on entry refused: 400
 * invalid_field naming its key (or "form" when that cannot be named).
 * form must be freshly initialised; *flags receives
 * NANO_FIELDS_JSON and NANO_FIELDS_BAD_UTF8.  Answers 415 (any
 * other type), 400 (malformed, a NUL in a string) or 500 itself and
 * returns that status; returns 0 when form is filled.
 */
int nano_req_fields(const nano_req_t *req, nano_res_t *res,
    nano_form_t *form, unsigned *flags);

void nano_res_init(nano_res_t *res);

/* Accepts NULL and may run twice. */
void nano_res_cleanup(nano_res_t *res);

/*
 * Adds a header line.  Returns 0, or -1 when out of memory or when name
 * or value holds a character that could split the header (CR, LF, other
 * controls).
 */
int nano_res_header(nano_res_t *res, const char *name, const char *value);

/*
 * Leaves the body to nginx: X-Accel-Redirect to uri, an internal location
 * over a file, with no body or type of ours.  The browser may keep such a
 * file (a seeking video reuses what it has) but asks each time whether it
 * still may (private, no-cache: nginx's 304 on its ETag, after the owner's
 * check), where every other answer is no-store.  Until 2026-12-06 it was
 * max-age=3600: after a sign-out, or on a shared computer, the files
 * stayed viewable from the cache for an hour, deleted ones too.  nginx
 * passes this Cache-Control through the redirect.  0, or -1 as
 * nano_res_header.
 */
int nano_res_file(nano_res_t *res, const char *uri);

/*
 * Sets a JSON body (stealing the reference to body, which may be NULL
 * after a failed json_pack) and returns status, or 500 with an error
 * body when body is NULL or cannot be serialised.
 */
int nano_res_json(nano_res_t *res, int status, json_t *body);

/* Sets {"error": code, "message": message} as the body; returns status. */
int nano_res_error(nano_res_t *res, int status, const char *code,
    const char *message);

/* 400 {"error": "invalid_field", "field": field, "message": message}. */
int nano_res_field_error(nano_res_t *res, const char *field,
    const char *message);

/*
 * Adds a Set-Cookie header with our fixed attributes: Path=/, HttpOnly,
 * SameSite=Lax, Secure when secure, no Domain.  expires > 0 sets an
 * Expires date (Unix time), expires < 0 deletes the cookie, 0 makes a
 * browser-session cookie.  Returns 0 or -1.
 */
int nano_res_cookie(nano_res_t *res, const char *name, const char *value,
    long long expires, int secure);

/* The same with Domain=domain unless domain is NULL or empty: the
 * session cookie under NANO_COOKIE_DOMAIN. */
int nano_res_cookie_in(nano_res_t *res, const char *name, const char *value,
    long long expires, int secure, const char *domain);

/* Adds "Location: location" and returns 302. */
int nano_res_redirect(nano_res_t *res, const char *location);

/*
 * Serialises the reply as FastCGI's CGI response ("Status: ...",
 * headers, blank line, body unless head_only) into out.  A failed
 * response (out of memory while building it) is sent as a 500.
 */
int nano_res_serialize(nano_res_t *res, int head_only, nano_buf_t *out);

/*
 * Writes the head of a reply into out: "Status: ...", Content-Type
 * (when not NULL; "; charset=utf-8" added to text/ types), the headers
 * every answer carries (Cache-Control: no-store, X-Content-Type-Options:
 * nosniff) and res's own header lines (res may be NULL).  No
 * Content-Length and no blank line: nano_res_serialize and the stream
 * API add what they need.  0, or -1 when out failed.
 */
int nano_res_head(int status, const char *content_type,
    const nano_res_t *res, nano_buf_t *out);

/* The reason phrase of status ("Not Found"). */
const char *nano_http_reason(int status);

/* A byte count as a limit is written for people ("64 KiB", "10 MiB",
 * "1000 bytes") into buf; returns buf. */
const char *nano_http_size(size_t bytes, char *buf, size_t len);

#endif /* NANO_HTTP_H */
