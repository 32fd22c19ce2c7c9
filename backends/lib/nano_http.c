/*
 * Requests and responses.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nano_http.h"
#include "nano_json_size.h"
#include "nano_log.h"
#include "nano_route.h"
#include "nano_upload.h"

/* What a response that ran out of memory becomes. */
static const char  nano_http_oom_body[] =
    "{\"error\":\"internal\",\"message\":\"out of memory\"}";

/* The first param at or after e named name (len bytes), or NULL. */
static char **
nano_req_param_find(char **e, const char *name, size_t len)
{
    for ( ; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') {
            return e;
        }
    }
    return NULL;
}

const char *
nano_req_param(const nano_req_t *req, const char *name)
{
    size_t   len = strlen(name);
    char   **e = nano_req_param_find(req->envp, name, len);

    return e != NULL ? *e + len + 1 : NULL;
}

const char *
nano_req_param_str(const nano_req_t *req, const char *name)
{
    const char  *v = nano_req_param(req, name);

    return v != NULL ? v : "";
}

void
nano_req_init(nano_req_t *req, char **envp)
{
    memset(req, 0, sizeof(*req));
    req->stream.fd = -1;
    req->envp = envp;
    req->method = nano_req_param_str(req, "REQUEST_METHOD");
    req->script_name = nano_req_param_str(req, "SCRIPT_NAME");
    req->path = nano_req_param_str(req, "PATH_INFO");
    if (req->path[0] == '\0') {
        req->path = "/";
    }
    req->query = nano_req_param_str(req, "QUERY_STRING");
}

void
nano_req_cleanup(nano_req_t *req)
{
    if (req == NULL) {
        return;
    }
    free(req->body);
    req->body = NULL;
    req->body_len = 0;
    nano_upload_cleanup(req->uploads);
    free(req->uploads);
    req->uploads = NULL;
    req->path_params = NULL;
}

const char *
nano_req_path_param(const nano_req_t *req, const char *name)
{
    return nano_route_param(req->path_params, name);
}

const nano_upload_t *
nano_req_upload(const nano_req_t *req, const char *field)
{
    return nano_upload_get(req->uploads, field);
}

const nano_upload_t *
nano_req_upload_nth(const nano_req_t *req, size_t n)
{
    return nano_upload_nth(req->uploads, n);
}

int
nano_req_upload_keep(nano_req_t *req, const char *field, const char *dest)
{
    return nano_upload_keep(req->uploads, field, dest);
}

size_t
nano_req_cookie_headers(const nano_req_t *req, nano_str_t *headers,
    size_t max)
{
    static const char   name[] = "HTTP_COOKIE";
    char              **e;
    size_t              n = 0;

    for (e = nano_req_param_find(req->envp, name, sizeof(name) - 1);
         e != NULL;
         e = nano_req_param_find(e + 1, name, sizeof(name) - 1))
    {
        if (n == max) {
            return max + 1;
        }
        headers[n].data = *e + sizeof(name);
        headers[n].len = strlen(headers[n].data);
        n++;
    }
    return n;
}

nano_cookie_result_t
nano_req_cookie(const nano_req_t *req, const char *name, nano_str_t *value)
{
    nano_str_t  headers[NANO_COOKIE_HEADERS_MAX];
    size_t      n;

    n = nano_req_cookie_headers(req, headers, NANO_COOKIE_HEADERS_MAX);
    if (n > NANO_COOKIE_HEADERS_MAX) {
        value->data = NULL;
        value->len = 0;
        return NANO_COOKIE_MALFORMED;
    }
    return nano_cookie_get(headers, n, name, strlen(name), value);
}

int
nano_req_param_repeated(const nano_req_t *req, const char *name)
{
    size_t   len = strlen(name);
    char   **e = nano_req_param_find(req->envp, name, len);

    return e != NULL && nano_req_param_find(e + 1, name, len) != NULL;
}

int
nano_req_cross_site(const nano_req_t *req)
{
    const char  *origin = nano_req_param(req, "HTTP_ORIGIN");
    const char  *site = nano_req_param(req, "HTTP_SEC_FETCH_SITE");
    const char  *rest;
    char         o[NANO_ORIGIN_MAX];

    /* nginx passes a header sent twice as two params: judging by the
     * first would let a second, foreign one through.  No browser sends
     * either twice. */
    if (nano_req_param_repeated(req, "HTTP_ORIGIN")
        || nano_req_param_repeated(req, "HTTP_SEC_FETCH_SITE"))
    {
        return 1;
    }
    if (origin != NULL
        && (nano_callback_origin(origin, o, sizeof(o), &rest) != 0
            || rest[0] != '\0'
            || !nano_site_allows(&req->config->site, req->config->origin, o)))
    {
        return 1;
    }
    /* same-site is a sibling subdomain: fine when its Origin is one of
     * the deployment's (checked above), never without one */
    if (site != NULL && strcmp(site, "same-origin") != 0
        && strcmp(site, "none") != 0
        && (strcmp(site, "same-site") != 0 || origin == NULL
            || req->config->site.norigins == 0))
    {
        return 1;
    }
    return 0;
}

int
nano_req_wants_page(const nano_req_t *req)
{
    return strcmp(nano_req_param_str(req, "HTTP_SEC_FETCH_MODE"),
                  "navigate") == 0
           || strstr(nano_req_param_str(req, "HTTP_ACCEPT"), "text/html")
              != NULL;
}

/* The parameters after a media type (";a=b; charset=..."): 1 unless one
 * is a charset other than UTF-8 (quoted or not, any case). */
static int
nano_req_charset_is_utf8(const char *p)
{
    const char  *name, *value;
    size_t       nlen, vlen;

    while (*p == ';') {
        p++;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        name = p;
        while (*p != '\0' && *p != '=' && *p != ';') {
            p++;
        }
        nlen = (size_t) (p - name);
        while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t')) {
            nlen--;
        }
        value = "";
        vlen = 0;
        if (*p == '=') {
            p++;
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            if (*p == '"') {
                value = ++p;
                while (*p != '\0' && *p != '"') {
                    p++;
                }
                vlen = (size_t) (p - value);
                if (*p == '"') {
                    p++;
                }
            } else {
                value = p;
                while (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t') {
                    p++;
                }
                vlen = (size_t) (p - value);
            }
        }
        while (*p != '\0' && *p != ';') {
            p++;
        }
        if (nlen == 7 && strncasecmp(name, "charset", 7) == 0
            && !((vlen == 5 && strncasecmp(value, "utf-8", 5) == 0)
                 || (vlen == 4 && strncasecmp(value, "utf8", 4) == 0)))
        {
            return 0;
        }
    }
    return 1;
}

int
nano_req_is_content_type(const nano_req_t *req, const char *type)
{
    const char  *ct = nano_req_param_str(req, "CONTENT_TYPE");
    size_t       len = strlen(type);

    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    if (strncasecmp(ct, type, len) != 0) {
        return 0;
    }
    ct += len;
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    if (*ct != '\0' && *ct != ';') {
        return 0;
    }
    return nano_req_charset_is_utf8(ct);
}

nano_form_status_t
nano_req_query(const nano_req_t *req, nano_form_t *form)
{
    return nano_form_parse(form, req->query, strlen(req->query));
}

nano_form_status_t
nano_req_form(const nano_req_t *req, nano_form_t *form)
{
    return nano_form_parse(form, req->body ? req->body : "", req->body_len);
}

int
nano_req_page(const nano_req_t *req, nano_res_t *res, nano_form_t *q,
    long dflt, long max, long *limit, const char **cursor)
{
    static const char *const   once[] = { "limit", "cursor", NULL };
    const char *const         *key;
    const char                *lim;
    long long                  n;
    char                       msg[64];

    nano_form_init(q);
    *cursor = NULL;
    *limit = dflt;
    /* a pair left out would turn a bad cursor into the first page, and a
     * client paging with it would loop there */
    switch (nano_req_query(req, q)) {
    case NANO_FORM_OK:
        break;
    case NANO_FORM_NOMEM:
        return nano_res_error(res, 500, "internal", "out of memory");
    case NANO_FORM_BAD_UTF8:
        return nano_res_field_error(res, q->left_out != NULL ? q->left_out
                                                             : "query",
                                    "not valid UTF-8");
    default:
        return nano_res_field_error(res, "query",
                                    "the query string cannot be read (a"
                                    " %00, or too many parameters)");
    }
    /* given twice, the first would be taken, which the client may not
     * have meant */
    for (key = once; *key != NULL; key++) {
        if (nano_form_count(q, *key) > 1) {
            return nano_res_field_error(res, *key, "given more than once");
        }
    }
    lim = nano_form_get(q, "limit");
    if (lim != NULL && lim[0] != '\0') {
        /* plain digits, as everywhere in the API: no blanks, no sign */
        if (nano_form_digits(&lim, max, &n) != 0 || *lim != '\0' || n < 1) {
            snprintf(msg, sizeof(msg), "limit must be a number from 1 to %ld",
                     max);
            return nano_res_field_error(res, "limit", msg);
        }
        *limit = (long) n;
    }
    *cursor = nano_form_get(q, "cursor");
    if (*cursor != NULL && (*cursor)[0] == '\0') {
        *cursor = NULL;
    }
    return 0;
}

int
nano_req_json(const nano_req_t *req, json_t **root)
{
    json_error_t  err;

    *root = NULL;
    if (req->body == NULL) {
        return 400;
    }
    if (nano_json_values(req->body, req->body_len, NANO_JSON_VALUES_MAX)
        > NANO_JSON_VALUES_MAX)
    {
        return 413;
    }
    *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
                       &err);
    if (*root != NULL && !json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
    }
    return *root != NULL ? 0 : 400;
}

int
nano_res_json_named(const nano_req_t *req, nano_res_t *res)
{
    json_error_t   err;
    json_t        *root;
    const char    *key, *msg;
    size_t         keylen, i;
    char           field[64];

    if (req->body == NULL) {
        return 0;
    }
    root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
                      &err);
    if (root != NULL) {
        json_decref(root);
        return 0;
    }
    switch (json_error_code(&err)) {
    case json_error_duplicate_key:
        /* JSON's own rule, so invalid_json (docs/MODULES.md), but said:
         * "must be a JSON object of strings ..." sent a client looking
         * at its types for what was a key written twice */
        return nano_res_error(res, 400, "invalid_json", "a key is given"
                              " more than once in one object");
    case json_error_numeric_overflow:
        msg = "this number is out of range";
        break;
    case json_error_null_character:
        /* PostgreSQL keeps no NUL in text or jsonb */
        msg = "this text holds a NUL character (\\u0000)";
        break;
    case json_error_invalid_utf8:
        msg = "this text is not valid UTF-8";
        break;
    case json_error_invalid_syntax:
        /* jansson's words for a lone surrogate escape, "\\ud800" */
        if (strncmp(err.text, "invalid Unicode", 15) != 0) {
            return 0;
        }
        msg = "this text is not valid UTF-8 (a lone surrogate escape)";
        break;
    default:
        return 0;
    }
    if (err.position < 0
        || nano_json_member_at(req->body, req->body_len,
                               (size_t) err.position, &key, &keylen) != 0
        || keylen == 0 || keylen >= sizeof(field))
    {
        return 0;
    }
    for (i = 0; i < keylen; i++) {
        if (key[i] < 0x20 || key[i] > 0x7e || key[i] == '\\') {
            return 0;
        }
    }
    memcpy(field, key, keylen);
    field[keylen] = '\0';
    /* named, as {"seed": -1} and a form's field that is not UTF-8 are */
    return nano_res_field_error(res, field, msg);
}

int
nano_res_json_too_large(nano_res_t *res)
{
    char  msg[64];

    snprintf(msg, sizeof(msg), "the JSON body holds more than %d values",
             NANO_JSON_VALUES_MAX);
    return nano_res_error(res, 413, "payload_too_large", msg);
}

/* The JSON object's members as fields; 0, or an HTTP status. */
static int
nano_req_json_fields(const nano_req_t *req, nano_form_t *form, int numbers)
{
    json_t              *root;
    nano_form_status_t   st;
    int                  status;

    status = nano_req_json(req, &root);
    if (status != 0) {
        return status;
    }
    st = nano_form_from_json(form, root, numbers);
    json_decref(root);
    return st == NANO_FORM_OK ? 0 : st == NANO_FORM_NOMEM ? 500 : 400;
}

int
nano_req_fields(const nano_req_t *req, nano_res_t *res, nano_form_t *form,
    unsigned *flags)
{
    nano_form_status_t  st;
    int                 status, named;
    int                 numbers = (*flags & NANO_FIELDS_NUMBERS) != 0;
    int                 utf8 = (*flags & NANO_FIELDS_UTF8) != 0;

    *flags = 0;
    if (nano_req_is_content_type(req, "application/json")) {
        *flags |= NANO_FIELDS_JSON;
        status = nano_req_json_fields(req, form, numbers);
        if (status == 0) {
            return 0;
        }
        if (status == 400 && form->refused != NULL) {
            /* named, as every other refused field is */
            status = nano_res_field_error(res, form->refused, numbers
                                          ? "this field must be a string,"
                                            " true/false or a whole number"
                                          : "this field must be a string"
                                            " or true/false");
            nano_form_cleanup(form);
            return status;
        }
        nano_form_cleanup(form);
        if (status == 413) {
            return nano_res_json_too_large(res);
        }
        if (status == 400) {
            named = nano_res_json_named(req, res);
            if (named != 0) {
                return named;
            }
        }
        return status == 500
               ? nano_res_error(res, 500, "internal", "out of memory")
               : nano_res_error(res, 400, "invalid_json",
                                numbers
                                ? "the body must be a JSON object of"
                                  " strings, true/false or whole numbers"
                                  " (UTF-8, no NUL characters)"
                                : "the body must be a JSON object of"
                                  " strings or true/false (UTF-8, no NUL"
                                  " characters)");
    }
    if (req->uploads != NULL) {
        st = nano_upload_fields(req->uploads, form);
    } else if (nano_req_is_content_type(req,
                                        "application/x-www-form-urlencoded"))
    {
        st = nano_req_form(req, form);
    } else {
        return nano_res_error(res, 415, "unsupported_media_type",
                              nano_req_is_content_type(req,
                                                       "multipart/form-data")
                              ? "multipart/form-data is taken only where"
                                " files are uploaded"
                              : "send application/json or"
                                " application/x-www-form-urlencoded (or"
                                " multipart/form-data where files are"
                                " uploaded), in UTF-8");
    }
    switch (st) {
    case NANO_FORM_OK:
        return 0;
    case NANO_FORM_BAD_UTF8:
        *flags |= NANO_FIELDS_BAD_UTF8;
        if (utf8) {
            /* a key that is not UTF-8 either cannot be named back */
            return nano_res_field_error(res, form->left_out != NULL
                                             ? form->left_out : "form",
                                        "a field is not valid UTF-8");
        }
        return 0;
    case NANO_FORM_NOMEM:
        return nano_res_error(res, 500, "internal", "out of memory");
    default:
        return nano_res_error(res, 400, "bad_request", "malformed form body");
    }
}

void
nano_res_init(nano_res_t *res)
{
    res->status = 200;
    res->content_type = NULL;
    nano_buf_init(&res->headers);
    nano_buf_init(&res->body);
    res->file = 0;
}

void
nano_res_cleanup(nano_res_t *res)
{
    if (res == NULL) {
        return;
    }
    nano_buf_cleanup(&res->headers);
    nano_buf_cleanup(&res->body);
}

/* Header names are tokens; values are visible characters, spaces and
 * tabs (obs-text allowed), so nothing can start a new header line. */
static int
nano_res_header_ok(const char *name, const char *value)
{
    const unsigned char  *p;

    if (name[0] == '\0') {
        return 0;
    }
    for (p = (const unsigned char *) name; *p != '\0'; p++) {
        if (!isalnum(*p) && *p != '-' && *p != '_') {
            return 0;
        }
    }
    for (p = (const unsigned char *) value; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int
nano_res_header(nano_res_t *res, const char *name, const char *value)
{
    if (!nano_res_header_ok(name, value)) {
        nano_log_error("refused to send a malformed %s header", name);
        return -1;
    }
    nano_buf_puts(&res->headers, name);
    nano_buf_puts(&res->headers, ": ");
    nano_buf_puts(&res->headers, value);
    return nano_buf_puts(&res->headers, "\r\n");
}

int
nano_res_file(nano_res_t *res, const char *uri)
{
    if (nano_res_header(res, "X-Accel-Redirect", uri) != 0) {
        return -1;
    }
    nano_buf_cleanup(&res->body);
    res->content_type = NULL;
    res->file = 1;
    return 0;
}

int
nano_res_cookie(nano_res_t *res, const char *name, const char *value,
    long long expires, int secure)
{
    return nano_res_cookie_in(res, name, value, expires, secure, NULL);
}

int
nano_res_cookie_in(nano_res_t *res, const char *name, const char *value,
    long long expires, int secure, const char *domain)
{
    nano_buf_t  line;
    char        date[64];
    time_t      t;
    struct tm   tm;
    int         rc;

    nano_buf_init(&line);
    nano_buf_printf(&line, "%s=%s; Path=/", name, expires < 0 ? "" : value);
    if (domain != NULL && domain[0] != '\0') {
        nano_buf_printf(&line, "; Domain=%s", domain);
    }
    if (expires != 0) {
        t = expires < 0 ? 0 : (time_t) expires;
        gmtime_r(&t, &tm);
        /* Never setlocale()d: the C locale's English names, as HTTP
         * wants them. */
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        nano_buf_printf(&line, "; Expires=%s", date);
        if (expires < 0) {
            nano_buf_puts(&line, "; Max-Age=0");
        }
    }
    nano_buf_puts(&line, "; HttpOnly; SameSite=Lax");
    if (secure) {
        nano_buf_puts(&line, "; Secure");
    }
    rc = line.failed ? -1 : nano_res_header(res, "Set-Cookie", line.data);
    nano_buf_cleanup(&line);
    return rc;
}

int
nano_res_json(nano_res_t *res, int status, json_t *body)
{
    char  *text = NULL;

    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
    }
    nano_buf_cleanup(&res->body);
    res->content_type = "application/json";
    if (text == NULL) {
        nano_buf_puts(&res->body, nano_http_oom_body);
        res->status = 500;
        return 500;
    }
    nano_buf_puts(&res->body, text);
    free(text);
    res->status = status;
    return status;
}

int
nano_res_error(nano_res_t *res, int status, const char *code,
    const char *message)
{
    return nano_res_json(res, status,
                         json_pack("{s:s, s:s}", "error", code,
                                   "message", message));
}

int
nano_res_field_error(nano_res_t *res, const char *field, const char *message)
{
    return nano_res_json(res, 400,
                         json_pack("{s:s, s:s, s:s}", "error", "invalid_field",
                                   "field", field, "message", message));
}

int
nano_res_redirect(nano_res_t *res, const char *location)
{
    if (nano_res_header(res, "Location", location) != 0) {
        return nano_res_error(res, 500, "internal", "bad redirect target");
    }
    nano_buf_cleanup(&res->body);
    res->content_type = NULL;
    res->status = 302;
    return 302;
}

const char *
nano_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default:  return "Unknown";
    }
}

int
nano_res_head(int status, const char *content_type, const nano_res_t *res,
    nano_buf_t *out)
{
    nano_buf_printf(out, "Status: %d %s\r\n", status,
                    nano_http_reason(status));
    if (content_type != NULL) {
        nano_buf_printf(out, "Content-Type: %s%s\r\n", content_type,
                        strncmp(content_type, "text/", 5) == 0
                        && strstr(content_type, "charset") == NULL
                        ? "; charset=utf-8" : "");
    }
    /* Every answer is per user or per request: never cache it (but a
     * file handed to nginx, nano_res_file), never let a browser sniff a
     * JSON body into something else. */
    nano_buf_puts(out, res != NULL && res->file
                       ? "Cache-Control: private, no-cache\r\n"
                       : "Cache-Control: no-store\r\n");
    nano_buf_puts(out, "X-Content-Type-Options: nosniff\r\n");
    if (res != NULL && res->headers.data != NULL) {
        nano_buf_append(out, res->headers.data, res->headers.len);
    }
    return out->failed ? -1 : 0;
}

const char *
nano_http_size(size_t bytes, char *buf, size_t len)
{
    if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0) {
        snprintf(buf, len, "%zu MiB", bytes / (1024 * 1024));
    } else if (bytes >= 1024 && bytes % 1024 == 0) {
        snprintf(buf, len, "%zu KiB", bytes / 1024);
    } else {
        snprintf(buf, len, "%zu bytes", bytes);
    }
    return buf;
}

int
nano_res_serialize(nano_res_t *res, int head_only, nano_buf_t *out)
{
    int  failed = res->headers.failed || res->body.failed
                  || res->status < 100 || res->status > 599;

    if (failed) {
        nano_log_error("response could not be built (status %d)",
                       res->status);
        nano_buf_printf(out, "Status: 500 %s\r\n"
                        "Content-Type: application/json\r\n"
                        "Cache-Control: no-store\r\n"
                        "Content-Length: %zu\r\n\r\n%s",
                        nano_http_reason(500),
                        sizeof(nano_http_oom_body) - 1,
                        head_only ? "" : nano_http_oom_body);
        return out->failed ? -1 : 0;
    }

    nano_res_head(res->status, res->content_type, res, out);
    nano_buf_printf(out, "Content-Length: %zu\r\n\r\n", res->body.len);
    if (!head_only && res->body.len > 0) {
        nano_buf_append(out, res->body.data, res->body.len);
    }
    return out->failed ? -1 : 0;
}
