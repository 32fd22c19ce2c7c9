/*
 * Text generation: the result, the OpenAI-compatible chat providers
 * (qwen, grok, openai: a blocking call on the worker's own curl handle,
 * streamed as it arrives) and the offline one.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nano_chat.h"
#include "nano_clock.h"
#include "nano_client.h"
#include "nano_offline_text.h"
#include "nano_provider_call.h"
#include "nano_textgen.h"

void
nano_textgen_res_init(nano_textgen_res_t *res)
{
    memset(res, 0, sizeof(*res));
    nano_buf_init(&res->text);
}

void
nano_textgen_res_cleanup(nano_textgen_res_t *res)
{
    if (res == NULL) {
        return;
    }
    nano_buf_cleanup(&res->text);
    nano_textgen_res_init(res);
}

/* ---- the OpenAI-compatible chat providers ------------------------------ */

#define NANO_TEXTGEN_TIMEOUT_MS  300000    /* a long answer, streamed */
#define NANO_TEXTGEN_TRY_MIN_MS  1000      /* left for one more try */
#define NANO_TEXTGEN_IDLE_MS     5000      /* heartbeats */
#define NANO_TEXTGEN_EVENT_MAX   (256 * 1024)
#define NANO_TEXTGEN_ERROR_MAX   (64 * 1024)

/* What the streaming call's callbacks share. */
typedef struct {
    const nano_textgen_req_t  *req;
    nano_textgen_res_t        *res;
    nano_chat_stream_t         stream;
    nano_client_res_t         *cres;       /* during one try only */
    nano_buf_t                 errbody;    /* a failure status's body */
    nano_provider_error_t      err;
    long long                  sent_at;    /* the reader's last write */
    int                        broken;     /* the stream reader failed */
} nano_textgen_ctx_t;

static int
nano_textgen_delta(void *arg, const char *text, size_t len)
{
    nano_textgen_ctx_t  *ctx = arg;

    ctx->res->output = 1;
    if (ctx->req->on_delta(text, len, ctx->req->arg) != 0) {
        ctx->res->client_gone = 1;
        return -1;
    }
    ctx->sent_at = nano_clock_ms();
    /* kept as it is sent, so a reader who leaves has what they were sent */
    return nano_buf_append(&ctx->res->text, text, len);
}

static int nano_textgen_idle(void *arg);

static int
nano_textgen_data(const char *data, size_t len, void *arg)
{
    nano_textgen_ctx_t  *ctx = arg;

    /* a failure answers JSON, not events: keep it for the error */
    if (ctx->cres->status != 200) {
        return ctx->errbody.len + len > NANO_TEXTGEN_ERROR_MAX
               ? -1 : nano_buf_append(&ctx->errbody, data, len);
    }
    switch (nano_chat_stream_feed(&ctx->stream, data, len, &ctx->err)) {
    case NANO_CHAT_STREAM_OK:
        /* bytes that carry no text (a reasoning model's thoughts, a
         * keep-alive comment) keep the client's idle heartbeat from
         * firing: the reader heard nothing, nginx's read timeout cut a
         * reader who stayed, and one who left was found only by the
         * first delta, and charged (found by a probe) */
        if (nano_clock_ms() - ctx->sent_at >= NANO_TEXTGEN_IDLE_MS) {
            return nano_textgen_idle(ctx);
        }
        return 0;
    case NANO_CHAT_STREAM_STOPPED:
        return -1;
    default:
        ctx->broken = 1;
        return -1;
    }
}

static int
nano_textgen_idle(void *arg)
{
    nano_textgen_ctx_t  *ctx = arg;

    if (ctx->req->on_idle != NULL && ctx->req->on_idle(ctx->req->arg) != 0) {
        ctx->res->client_gone = 1;
        return -1;
    }
    ctx->sent_at = nano_clock_ms();
    return 0;
}

static int
nano_textgen_watch(void *arg)
{
    nano_textgen_ctx_t  *ctx = arg;

    return ctx->req->on_watch(ctx->req->arg);
}

/* The request's messages as the chat client takes them (borrowed). */
static nano_chat_message_t *
nano_textgen_messages(json_t *messages, size_t *n)
{
    nano_chat_message_t  *m;
    json_t               *v;
    size_t                i;

    *n = json_array_size(messages);
    m = calloc(*n ? *n : 1, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    json_array_foreach(messages, i, v) {
        m[i].role = json_string_value(json_object_get(v, "role"));
        m[i].content = json_string_value(json_object_get(v, "content"));
    }
    return m;
}

static void
nano_textgen_fail(nano_textgen_res_t *res, const nano_provider_error_t *err)
{
    snprintf(res->error_code, sizeof(res->error_code), "%s",
             err->code[0] ? err->code : NANO_PERR_PROVIDER);
    snprintf(res->error_message, sizeof(res->error_message), "%s",
             err->message[0] ? err->message : "the provider failed");
}

/* One attempt; 0 when the answer is complete, -1 with ctx->err set (or
 * the client gone). */
static int
nano_textgen_chat_once(nano_provider_t p, const nano_textgen_req_t *req,
    nano_textgen_res_t *res, const char *body, long timeout_ms,
    nano_textgen_ctx_t *ctx)
{
    nano_client_call_t   call;
    nano_client_res_t    cres;
    nano_chat_result_t   out;
    int                  rc = -1;

    nano_client_call_init(&call, "POST");
    nano_client_res_init(&cres);
    nano_chat_result_init(&out);
    nano_provider_error_init(&ctx->err);
    nano_buf_init(&ctx->errbody);
    ctx->cres = &cres;
    ctx->broken = 0;
    ctx->sent_at = nano_clock_ms();

    if (nano_provider_call(&call, p, nano_chat_path(p), &ctx->err) != 0) {
        goto out;
    }
    nano_client_call_header(&call, "Content-Type: application/json");
    nano_client_call_header(&call, req->stream ? "Accept: text/event-stream"
                                               : "Accept: application/json");
    call.body = body;
    call.body_len = strlen(body);
    call.timeout_ms = timeout_ms;
    call.on_idle = nano_textgen_idle;
    call.idle_ms = NANO_TEXTGEN_IDLE_MS;
    call.watch_fd = req->watch_fd;
    call.on_watch = req->on_watch != NULL ? nano_textgen_watch : NULL;
    call.arg = ctx;
    if (req->stream) {
        nano_chat_stream_init(&ctx->stream, p, NANO_TEXTGEN_EVENT_MAX,
                              nano_textgen_delta, ctx);
        call.on_data = nano_textgen_data;
    }

    nano_client_do(&call, &cres);

    if (res->client_gone) {
        goto out;
    }
    if (cres.status != 200) {
        if (req->stream) {
            /* the body went to errbody: read the error from there */
            nano_buf_cleanup(&cres.body);
            cres.body = ctx->errbody;
            nano_buf_init(&ctx->errbody);
        }
        nano_provider_call_error(p, &cres, &ctx->err);
        goto out;
    }
    if (req->stream) {
        /* the 200 is said: what went wrong after it is the stream's own
         * error (an error event, a cut), or the silence of a timeout;
         * the request went out, so none of them is asked again.  A
         * finish_reason or [DONE] ended the answer whatever the
         * connection did after it. */
        if (ctx->broken
            || nano_chat_stream_finish(&ctx->stream, &ctx->err) != 0)
        {
            if (!ctx->broken && cres.timed_out) {
                nano_provider_error_timeout(&ctx->err, p,
                    nano_chat_stream_has_output(&ctx->stream));
            } else if (!ctx->broken && cres.code != CURLE_OK) {
                nano_provider_error_set(&ctx->err, NANO_PERR_STREAM_CUT, 0,
                    "%s's stream ended before the answer was complete",
                    nano_provider_info(p)->label);
            }
            if (ctx->err.code[0] == '\0') {
                nano_provider_error_set(&ctx->err, NANO_PERR_STREAM_CUT, 0,
                                        "the answer was cut off");
            }
            ctx->err.retryable = 0;
            goto out;
        }
        res->prompt_tokens = ctx->stream.result.usage.prompt_tokens;
        res->completion_tokens = ctx->stream.result.usage.completion_tokens;
        rc = 0;
        goto out;
    }
    if (cres.code != CURLE_OK) {
        /* a 200 whose body never came whole: the transfer says why (the
         * provider may have answered it: not asked again) */
        if (cres.timed_out) {
            nano_provider_error_timeout(&ctx->err, p, 0);
        } else if (cres.too_large) {
            nano_provider_error_set(&ctx->err, NANO_PERR_BAD_RESPONSE, 0,
                                    "%s's answer was too large",
                                    nano_provider_info(p)->label);
        } else {
            nano_provider_error_set(&ctx->err, NANO_PERR_PROVIDER, 0,
                                    "%s's answer was cut off: %s",
                                    nano_provider_info(p)->label,
                                    nano_client_why(&cres));
        }
        ctx->err.retryable = 0;
        goto out;
    }
    if (nano_chat_parse_response(p, cres.body.data ? cres.body.data : "",
                                 cres.body.len, &out, &ctx->err) != 0)
    {
        goto out;
    }
    nano_buf_append(&res->text, out.text, out.text_len);
    res->output = out.text_len > 0;
    res->prompt_tokens = out.usage.prompt_tokens;
    res->completion_tokens = out.usage.completion_tokens;
    rc = 0;
out:
    if (req->stream && call.on_data != NULL) {
        res->output = res->output || nano_chat_stream_has_output(
                                         &ctx->stream);
        nano_chat_stream_cleanup(&ctx->stream);
    }
    nano_buf_cleanup(&ctx->errbody);
    nano_chat_result_cleanup(&out);
    nano_client_res_cleanup(&cres);
    ctx->cres = NULL;
    nano_client_call_cleanup(&call);
    if (rc != 0) {
        /* an error event or a 2xx body may quote the key too, not only an
         * error status (which nano_provider_call_error scrubs) */
        nano_provider_error_scrub(&ctx->err,
                                  getenv(nano_provider_info(p)->key_env));
    }
    return rc;
}

/* Waits ms between two tries with the heartbeat a call has: a stream
 * silent for a Retry-After (up to a minute) is cut by nginx's read
 * timeout, and a reader who left is seen.  -1 when on_idle says stop. */
static int
nano_textgen_wait(const nano_textgen_req_t *req, long ms)
{
    long  slice;

    for ( ;; ) {
        if (req->on_idle != NULL && req->on_idle(req->arg) != 0) {
            return -1;
        }
        if (ms <= 0) {
            return 0;
        }
        slice = ms < NANO_TEXTGEN_IDLE_MS ? ms : NANO_TEXTGEN_IDLE_MS;
        usleep((useconds_t) slice * 1000);
        ms -= slice;
    }
}

static int
nano_textgen_chat(nano_provider_t p, const nano_textgen_req_t *req,
    nano_textgen_res_t *res)
{
    nano_chat_request_t   r;
    nano_chat_message_t  *msgs;
    nano_textgen_ctx_t    ctx;
    char                 *body = NULL;
    unsigned              attempt;
    long                  wait;
    long long             deadline;
    int                   rc = -1;

    memset(&ctx, 0, sizeof(ctx));
    ctx.req = req;
    ctx.res = res;
    msgs = nano_textgen_messages(req->messages, &r.nmessages);
    if (msgs == NULL) {
        snprintf(res->error_code, sizeof(res->error_code), "provider_error");
        return -1;
    }
    r.model = req->model;
    r.messages = msgs;
    r.stream = req->stream;
    r.max_tokens = 0;
    r.max_completion_tokens = p == NANO_PROVIDER_OPENAI;
    r.temperature = -1;
    r.seed = req->seed;
    body = nano_chat_request_body(&r);
    if (body == NULL) {
        nano_provider_error_set(&ctx.err, NANO_PERR_BAD_REQUEST, 0,
                                "the conversation cannot be sent");
        nano_textgen_fail(res, &ctx.err);
        goto out;
    }

    /* a whole answer must end, retries included, before the gateway
     * stops waiting for it (its caller's timeout_ms) */
    deadline = nano_clock_ms() + (req->timeout_ms > 0
                                  ? req->timeout_ms
                                  : NANO_TEXTGEN_TIMEOUT_MS);
    for (attempt = 0; ; attempt++) {
        if (nano_textgen_chat_once(p, req, res, body,
                                   (long) (deadline - nano_clock_ms()), &ctx)
            == 0)
        {
            rc = 0;
            break;
        }
        if (res->client_gone
            || !nano_provider_should_retry(&ctx.err, attempt, res->output))
        {
            nano_textgen_fail(res, &ctx.err);
            break;
        }
        /* refused before any output: safe to ask again, if there is
         * time left for it */
        wait = nano_provider_backoff_ms(attempt, NANO_PROVIDER_RETRY_BASE_MS,
                                        NANO_PROVIDER_RETRY_CAP_MS,
                                        (uint32_t) rand(),
                                        ctx.err.retry_after_ms);
        /* a provider that asked for longer than a retry waits (the
         * backoff's minute) would only refuse an earlier try again: the
         * job runner's rule too */
        if (ctx.err.retry_after_ms > NANO_PROVIDER_RETRY_AFTER_MAX_MS
            || nano_clock_ms() + wait + NANO_TEXTGEN_TRY_MIN_MS > deadline)
        {
            nano_textgen_fail(res, &ctx.err);
            break;
        }
        if (nano_textgen_wait(req, wait) != 0) {
            res->client_gone = 1;
            break;
        }
    }
out:
    free(body);
    free(msgs);
    return rc;
}

static int
nano_textgen_dashscope_generate(const nano_textgen_req_t *req,
    nano_textgen_res_t *res)
{
    return nano_textgen_chat(NANO_PROVIDER_DASHSCOPE, req, res);
}

static int
nano_textgen_xai_generate(const nano_textgen_req_t *req,
    nano_textgen_res_t *res)
{
    return nano_textgen_chat(NANO_PROVIDER_XAI, req, res);
}

static int
nano_textgen_openai_generate(const nano_textgen_req_t *req,
    nano_textgen_res_t *res)
{
    return nano_textgen_chat(NANO_PROVIDER_OPENAI, req, res);
}

const nano_textgen_provider_t  nano_textgen_dashscope = {
    "dashscope", 0, nano_textgen_dashscope_generate
};
const nano_textgen_provider_t  nano_textgen_xai = {
    "xai", 0, nano_textgen_xai_generate
};
const nano_textgen_provider_t  nano_textgen_openai = {
    "openai", 0, nano_textgen_openai_generate
};

/* ---- offline ------------------------------------------------------------ */

/* The last user message: what the offline model answers. */
static const char *
nano_textgen_last_prompt(json_t *messages)
{
    const char  *prompt = "";
    json_t      *m;
    size_t       i;

    json_array_foreach(messages, i, m) {
        if (strcmp(json_string_value(json_object_get(m, "role"))
                   ? json_string_value(json_object_get(m, "role")) : "",
                   "user") == 0)
        {
            prompt = json_string_value(json_object_get(m, "content"));
        }
    }
    return prompt != NULL ? prompt : "";
}

static int
nano_textgen_offline_generate(const nano_textgen_req_t *req,
    nano_textgen_res_t *res)
{
    nano_offline_text_t  t;
    const char          *tok;
    size_t               len;
    long                 in, out;
    int                  delay;

    if (nano_offline_text_init(&t, nano_textgen_last_prompt(req->messages),
                               req->model, req->seed) != 0)
    {
        snprintf(res->error_code, sizeof(res->error_code), "provider_error");
        return -1;
    }
    if (!req->stream) {
        tok = nano_offline_text_full(&t);
        nano_buf_append(&res->text, tok, strlen(tok));
        res->output = tok[0] != '\0';
    }
    while (req->stream && nano_offline_text_next(&t, &tok, &len, &delay)) {
        nano_buf_append(&res->text, tok, len);
        res->output = 1;
        /* a person's reading pace, as a real model streams */
        usleep((useconds_t) delay * 1000);
        if (req->on_delta(tok, len, req->arg) != 0) {
            res->client_gone = 1;
            nano_offline_text_cleanup(&t);
            return -1;
        }
    }
    nano_offline_text_usage(&t, &in, &out);
    res->prompt_tokens = in;
    res->completion_tokens = out;
    nano_offline_text_cleanup(&t);
    return 0;
}

const nano_textgen_provider_t  nano_textgen_offline = {
    "offline-text", 1, nano_textgen_offline_generate
};
