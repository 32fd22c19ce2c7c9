/*
 * libcurl transfers to the providers: one easy handle per thread for
 * blocking calls, the same setup for the runner's multi handle.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nano_client.h"
#include "nano_clock.h"
#include "nano_log.h"

static __thread CURL   *nano_client_easy;
static __thread CURLM  *nano_client_multi;   /* its connection cache */

int
nano_client_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
nano_client_call_init(nano_client_call_t *call, const char *method)
{
    memset(call, 0, sizeof(*call));
    call->method = method;
}

int
nano_client_call_url(nano_client_call_t *call, const char *base,
    const char *path)
{
    int  n;

    n = snprintf(call->url, sizeof(call->url), "%s%s", base, path);
    return n > 0 && (size_t) n < sizeof(call->url) ? 0 : -1;
}

int
nano_client_call_header(nano_client_call_t *call, const char *line)
{
    size_t  i;

    for (i = 0; i < NANO_CLIENT_HEADERS_MAX; i++) {
        if (call->headers[i] == NULL) {
            call->headers[i] = line;
            return 0;
        }
    }
    return -1;
}

int
nano_client_call_auth(nano_client_call_t *call, const char *name,
    const char *prefix, const char *key)
{
    size_t  len = strlen(name) + strlen(prefix) + strlen(key) + 3;

    nano_client_call_cleanup(call);
    call->auth = malloc(len);
    if (call->auth == NULL) {
        return -1;
    }
    snprintf(call->auth, len, "%s: %s%s", name, prefix, key);
    return 0;
}

void
nano_client_call_cleanup(nano_client_call_t *call)
{
    if (call == NULL || call->auth == NULL) {
        return;
    }
    explicit_bzero(call->auth, strlen(call->auth));
    free(call->auth);
    call->auth = NULL;
}

void
nano_client_res_init(nano_client_res_t *res)
{
    memset(res, 0, sizeof(*res));
    nano_buf_init(&res->body);
    res->retry_after[0] = '\0';
}

void
nano_client_res_cleanup(nano_client_res_t *res)
{
    if (res == NULL) {
        return;
    }
    nano_buf_cleanup(&res->body);
    nano_client_res_init(res);
}

static size_t
nano_client_write(char *data, size_t size, size_t nmemb, void *arg)
{
    nano_client_res_t         *res = arg;
    const nano_client_call_t  *call = res->call;
    size_t                     len = size * nmemb;
    size_t                     max = call->body_max ? call->body_max
                                                    : NANO_CLIENT_BODY_MAX;

    if (len == 0) {
        return 0;
    }
    res->received = 1;
    res->idle_at = nano_clock_ms();
    if (call->on_data != NULL) {
        if (call->on_data(data, len, call->arg) != 0) {
            res->stopped = 1;
            return 0;
        }
        return len;
    }
    if (res->body.len + len > max) {
        res->too_large = 1;
        return 0;
    }
    return nano_buf_append(&res->body, data, len) == 0 ? len : 0;
}

/* The status line (so a streaming reader knows what it reads) and
 * Retry-After's value, kept as sent: what it means is the provider
 * layer's (nano_provider_retry_after_ms). */
static size_t
nano_client_header(char *data, size_t size, size_t nmemb, void *arg)
{
    nano_client_res_t  *res = arg;
    size_t              len = size * nmemb;
    static const char   name[] = "retry-after:";
    const char         *sp;

    if (len > 12 && strncmp(data, "HTTP/", 5) == 0) {
        /* the line ends in CRLF, so strtol stops inside it */
        sp = memchr(data, ' ', len);
        if (sp != NULL) {
            res->status = strtol(sp + 1, NULL, 10);
        }
        /* a new response (after a 100 Continue or a redirect) */
        res->retry_after[0] = '\0';
        return len;
    }
    if (len > sizeof(name) - 1
        && strncasecmp(data, name, sizeof(name) - 1) == 0)
    {
        data += sizeof(name) - 1;
        len -= sizeof(name) - 1;
        while (len > 0 && (*data == ' ' || *data == '\t')) {
            data++;
            len--;
        }
        while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'
                           || data[len - 1] == ' ' || data[len - 1] == '\t'))
        {
            len--;
        }
        /* longer than any date: not one we could read */
        if (len < sizeof(res->retry_after)) {
            memcpy(res->retry_after, data, len);
            res->retry_after[len] = '\0';
        }
    }
    return size * nmemb;
}

/* Heartbeats of a blocking call: on_idle every idle_ms without data. */
static int
nano_client_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
    nano_client_res_t         *res = arg;
    const nano_client_call_t  *call = res->call;
    long long                  now;

    (void) dltotal;
    (void) dlnow;
    (void) ultotal;
    (void) ulnow;
    if (call->on_idle == NULL) {
        return 0;
    }
    now = nano_clock_ms();
    if (now - res->idle_at < call->idle_ms) {
        return 0;
    }
    res->idle_at = now;
    if (call->on_idle(call->arg) != 0) {
        res->stopped = 1;
        return 1;
    }
    return 0;
}

/*
 * libcurl sends a request again, on a new connection, when a reused one
 * died before any byte of the answer came.  The server may have taken it
 * all the same (a provider's charge, a checkout) and lost only the
 * answer: so a request goes out once, and the caller decides about a
 * retry (docs/PROVIDERS.md).
 */
static int
nano_client_prereq(void *arg, char *ip, char *local_ip, int remote_port,
    int local_port)
{
    nano_client_res_t  *res = arg;

    (void) ip;
    (void) local_ip;
    (void) remote_port;
    (void) local_port;
    /* a followed redirect is a request of its own; a GET of a file,
     * sent again, costs nothing */
    if (res->call->follow) {
        return CURL_PREREQFUNC_OK;
    }
    return res->sends++ > 0 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

int
nano_client_setup(CURL *easy, const nano_client_call_t *call,
    nano_client_res_t *res, struct curl_slist **slist)
{
    struct curl_slist  *l = NULL, *t;
    size_t              i;

    *slist = NULL;
    res->call = call;
    res->idle_at = nano_clock_ms();
    res->error[0] = '\0';
    res->sends = 0;

    for (i = 0; call->headers[i] != NULL; i++) {
        if ((t = curl_slist_append(l, call->headers[i])) == NULL) {
            goto failed;
        }
        l = t;
    }
    if (call->auth != NULL) {
        if ((t = curl_slist_append(l, call->auth)) == NULL) {
            goto failed;
        }
        l = t;
    }
    /* a POST waits for no 100-continue round trip */
    if (call->body != NULL) {
        if ((t = curl_slist_append(l, "Expect:")) == NULL) {
            goto failed;
        }
        l = t;
    }

    curl_easy_setopt(easy, CURLOPT_URL, call->url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     call->connect_ms ? call->connect_ms
                                      : (long) NANO_CLIENT_CONNECT_MS);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                     call->timeout_ms ? call->timeout_ms
                                      : (long) NANO_CLIENT_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, res->error);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, nano_client_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, res);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, nano_client_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, call->follow ? 1L : 0L);
    if (call->follow) {
        curl_easy_setopt(easy, CURLOPT_MAXREDIRS,
                         (long) NANO_CLIENT_REDIRECTS_MAX);
        curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR,
                         strncasecmp(call->url, "https:", 6) == 0
                         ? "https" : "http,https");
    }
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, nano_client_prereq);
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, res);
    if (call->on_idle != NULL) {
        curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION,
                         nano_client_progress);
        curl_easy_setopt(easy, CURLOPT_XFERINFODATA, res);
        curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    }
    if (call->body != NULL) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) call->body_len);
    } else if (strcmp(call->method, "GET") == 0) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, call->method);
    }
    *slist = l;
    return 0;

failed:
    nano_client_slist_free(l);
    return -1;
}

void
nano_client_finish(CURL *easy, CURLcode code, nano_client_res_t *res)
{
    curl_off_t  up = 0, announced = -1, got = 0;
    long        req = 0;

    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res->status);
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &req);
    curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
    curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, &got);
    /* a body shorter than its Content-Length is no answer, whatever the
     * transfer said (both count the bytes as sent, before decoding) */
    if (code == CURLE_OK && announced >= 0 && got < announced) {
        code = CURLE_PARTIAL_FILE;
        snprintf(res->error, sizeof(res->error), "the body ended after %"
                 CURL_FORMAT_CURL_OFF_T " of %" CURL_FORMAT_CURL_OFF_T
                 " bytes", got, announced);
    }
    res->code = code;
    /* sent: the provider may have acted on it, so a POST is not retried */
    res->sent = req > 0 && (res->call->body == NULL
                            || (size_t) up >= res->call->body_len);
    res->timed_out = code == CURLE_OPERATION_TIMEDOUT;
    res->bad_redirect = res->call->follow
                        && (code == CURLE_TOO_MANY_REDIRECTS
                            || (code == CURLE_UNSUPPORTED_PROTOCOL
                                && res->status >= 300 && res->status < 400));
    if (res->sends > 1) {
        res->sent = 1;
        snprintf(res->error, sizeof(res->error), "the connection closed"
                 " after the request went out, before any answer; not"
                 " sent again");
    }
    if (code == CURLE_OK || res->error[0] != '\0') {
        return;
    }
    snprintf(res->error, sizeof(res->error), "%s", curl_easy_strerror(code));
}

void
nano_client_slist_free(struct curl_slist *slist)
{
    struct curl_slist  *t;

    /* one of the lines held a key: leave it nowhere in freed memory */
    for (t = slist; t != NULL; t = t->next) {
        explicit_bzero(t->data, strlen(t->data));
    }
    curl_slist_free_all(slist);
}

/* Runs easy on the thread's multi handle until it ends, watching the
 * call's watch_fd beside it. */
static CURLcode
nano_client_run(CURL *easy, const nano_client_call_t *call,
    nano_client_res_t *res)
{
    struct curl_waitfd   wfd;
    CURLMsg             *msg;
    CURLMcode            mc;
    CURLcode             code = CURLE_OK;
    int                  running = 1, left, watching, n;

    if (curl_multi_add_handle(nano_client_multi, easy) != CURLM_OK) {
        return CURLE_OUT_OF_MEMORY;
    }
    watching = call->on_watch != NULL && call->watch_fd >= 0;
    for ( ;; ) {
        mc = curl_multi_perform(nano_client_multi, &running);
        if (mc != CURLM_OK || running == 0) {
            break;
        }
        n = 0;
        if (watching) {
            wfd.fd = call->watch_fd;
            wfd.events = CURL_WAIT_POLLIN;
            wfd.revents = 0;
            n = 1;
        }
        mc = curl_multi_poll(nano_client_multi, n ? &wfd : NULL, n, 1000,
                             NULL);
        if (mc != CURLM_OK) {
            break;
        }
        if (n && wfd.revents != 0) {
            switch (call->on_watch(call->arg)) {
            case 0:
                break;
            case 1:
                watching = 0;
                break;
            default:
                res->stopped = 1;
                code = CURLE_ABORTED_BY_CALLBACK;
                goto out;
            }
        }
    }
    code = mc != CURLM_OK ? CURLE_FAILED_INIT : CURLE_OK;
    while ((msg = curl_multi_info_read(nano_client_multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
            code = msg->data.result;
        }
    }
out:
    curl_multi_remove_handle(nano_client_multi, easy);
    return code;
}

int
nano_client_do(const nano_client_call_t *call, nano_client_res_t *res)
{
    struct curl_slist  *slist = NULL;
    CURLcode            code;

    if (nano_client_multi == NULL) {
        nano_client_multi = curl_multi_init();
        if (nano_client_multi == NULL) {
            snprintf(res->error, sizeof(res->error), "out of memory");
            return -1;
        }
    }
    if (nano_client_easy == NULL) {
        nano_client_easy = curl_easy_init();
        if (nano_client_easy == NULL) {
            snprintf(res->error, sizeof(res->error), "out of memory");
            return -1;
        }
    } else {
        curl_easy_reset(nano_client_easy);
    }
    if (nano_client_setup(nano_client_easy, call, res, &slist) != 0) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        return -1;
    }
    code = nano_client_run(nano_client_easy, call, res);
    nano_client_finish(nano_client_easy, code, res);
    /* the header list held the key */
    curl_easy_setopt(nano_client_easy, CURLOPT_HTTPHEADER, NULL);
    nano_client_slist_free(slist);
    return res->status > 0 ? 0 : -1;
}

void
nano_client_thread_cleanup(void)
{
    if (nano_client_easy != NULL) {
        curl_easy_cleanup(nano_client_easy);
        nano_client_easy = NULL;
    }
    if (nano_client_multi != NULL) {
        curl_multi_cleanup(nano_client_multi);
        nano_client_multi = NULL;
    }
}

const char *
nano_client_why(const nano_client_res_t *res)
{
    if (res->timed_out) {
        return "the provider did not answer in time";
    }
    if (res->too_large) {
        return "the provider's answer was too large";
    }
    if (res->bad_redirect) {
        return "the provider's file address redirected too often, or"
               " from https to plain http";
    }
    if (res->sends > 1) {
        return "the connection to the provider broke";
    }
    switch (res->code) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return "the provider's host name could not be resolved";
    case CURLE_COULDNT_CONNECT:
        return "the provider refused the connection";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return "the TLS connection to the provider failed";
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return "the connection to the provider broke";
    default:
        return "the provider could not be reached";
    }
}
