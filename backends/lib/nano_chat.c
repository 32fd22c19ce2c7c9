/*
 * The OpenAI-compatible chat client's wire format: request, answers,
 * streamed chunks and errors.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "nano_chat.h"

const char *
nano_chat_path(nano_provider_t p)
{
    switch (p) {
    case NANO_PROVIDER_OPENAI:
    case NANO_PROVIDER_XAI:
        return "/chat/completions";
    case NANO_PROVIDER_DASHSCOPE:
        return "/compatible-mode/v1/chat/completions";
    default:
        return NULL;
    }
}

static int
nano_chat_role_ok(const char *role)
{
    return role != NULL && (strcmp(role, "system") == 0
                            || strcmp(role, "user") == 0
                            || strcmp(role, "assistant") == 0);
}

char *
nano_chat_request_body(const nano_chat_request_t *r)
{
    json_t  *root = NULL, *msgs = NULL, *m;
    char    *body = NULL;
    size_t   i;

    if (r == NULL || r->model == NULL || r->model[0] == '\0'
        || r->messages == NULL || r->nmessages == 0
        || r->nmessages > NANO_CHAT_MAX_MESSAGES)
    {
        return NULL;
    }
    msgs = json_array();
    if (msgs == NULL) {
        goto out;
    }
    for (i = 0; i < r->nmessages; i++) {
        if (!nano_chat_role_ok(r->messages[i].role)
            || r->messages[i].content == NULL)
        {
            goto out;
        }
        m = json_pack("{s:s, s:s}", "role", r->messages[i].role,
                      "content", r->messages[i].content);
        if (m == NULL || json_array_append_new(msgs, m) != 0) {
            goto out;
        }
    }
    root = json_pack("{s:s, s:O, s:b}", "model", r->model, "messages", msgs,
                     "stream", r->stream ? 1 : 0);
    if (root == NULL) {
        goto out;
    }
    if (r->stream
        && json_object_set_new(root, "stream_options",
               json_pack("{s:b}", "include_usage", 1)) != 0)
    {
        goto out;
    }
    if (r->max_tokens > 0
        && json_object_set_new(root, r->max_completion_tokens
                                     ? "max_completion_tokens" : "max_tokens",
                               json_integer(r->max_tokens)) != 0)
    {
        goto out;
    }
    if (r->temperature >= 0
        && json_object_set_new(root, "temperature",
                               json_real(r->temperature)) != 0)
    {
        goto out;
    }
    /* OpenAI's, xAI's and DashScope's chat each take a best-effort seed */
    if (r->seed >= 0
        && json_object_set_new(root, "seed", json_integer(r->seed)) != 0)
    {
        goto out;
    }
    body = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6));

out:
    json_decref(msgs);
    json_decref(root);
    return body;
}

/* Usage not reported (yet): every count -1. */
static void
nano_chat_usage_none(nano_chat_usage_t *u)
{
    u->prompt_tokens = -1;
    u->completion_tokens = -1;
    u->total_tokens = -1;
}

void
nano_chat_result_init(nano_chat_result_t *r)
{
    memset(r, 0, sizeof(*r));
    nano_chat_usage_none(&r->usage);
}

void
nano_chat_result_cleanup(nano_chat_result_t *r)
{
    if (r == NULL) {
        return;
    }
    free(r->text);
    nano_chat_result_init(r);
}

/* Reads a usage object; returns 1 when it was one. */
static int
nano_chat_usage(const json_t *u, nano_chat_usage_t *out)
{
    if (!json_is_object(u)) {
        return 0;
    }
    out->prompt_tokens = nano_provider_json_long(u, "prompt_tokens", -1);
    out->completion_tokens = nano_provider_json_long(u, "completion_tokens",
                                                     -1);
    out->total_tokens = nano_provider_json_long(u, "total_tokens", -1);
    if (out->total_tokens < 0 && out->prompt_tokens >= 0
        && out->completion_tokens >= 0)
    {
        out->total_tokens = out->prompt_tokens + out->completion_tokens;
    }
    return 1;
}

static void
nano_chat_copy_reason(char *dst, size_t size, const char *reason)
{
    snprintf(dst, size, "%s", reason ? reason : "");
}

static int
nano_chat_blocked(nano_provider_t p, nano_provider_error_t *err)
{
    const nano_provider_info_t  *info = nano_provider_info(p);

    return nano_provider_error_set(err, NANO_PERR_BLOCKED, 0,
        "%s's content filter stopped the answer",
        info ? info->label : "The provider");
}

int
nano_chat_parse_response(nano_provider_t p, const char *body, size_t len,
    nano_chat_result_t *out, nano_provider_error_t *err)
{
    json_t                 *root, *choices, *choice, *msg;
    const char             *content;
    int                     rc = -1;

    nano_chat_result_cleanup(out);
    if (nano_provider_info(p) == NULL) {
        p = NANO_PROVIDER_OPENAI;
    }
    root = nano_provider_json_parse(p, body, len, err);
    if (root == NULL) {
        return -1;
    }
    choices = json_object_get(root, "choices");
    choice = json_array_get(choices, 0);
    msg = json_object_get(choice, "message");
    if (!json_is_object(msg)) {
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "%s's answer has no message", nano_provider_info(p)->label);
        goto out;
    }
    content = nano_provider_json_str(msg, "content");
    if (content == NULL && !json_is_null(json_object_get(msg, "content"))) {
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "%s's answer has no text", nano_provider_info(p)->label);
        goto out;
    }
    out->text = strdup(content ? content : "");
    if (out->text == NULL) {
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "Out of memory while reading the chat answer");
        goto out;
    }
    out->text_len = strlen(out->text);
    nano_chat_copy_reason(out->finish_reason, sizeof(out->finish_reason),
                          nano_provider_json_str(choice, "finish_reason"));
    nano_chat_usage(json_object_get(root, "usage"), &out->usage);
    if (strcmp(out->finish_reason, "content_filter") == 0) {
        nano_chat_blocked(p, err);
        goto out;
    }
    rc = 0;

out:
    json_decref(root);
    return rc;
}

static int
nano_chat_has(const char *s, const char *what)
{
    return s != NULL && strcasestr(s, what) != NULL;
}

/* Maps a chat error's code/type/message; status 0 inside a stream. */
static int
nano_chat_map_error(nano_provider_t p, long status, const char *code,
    const char *type, const char *message, nano_provider_error_t *err)
{
    const nano_provider_info_t  *info = nano_provider_info(p);
    const char                  *who = info->label;
    char                         clean[200];
    int                          in_stream = status == 0;

    nano_provider_clean_message(message, clean, sizeof(clean));
    if (nano_chat_has(code, "content_filter")
        || nano_chat_has(code, "content_policy")
        || nano_chat_has(code, "data_inspection")
        /* DashScope's native codes: DataInspectionFailed,
         * InternalError.Algo.DataInspectionFailed, the latter also
         * quoted in a compatible-mode message */
        || nano_chat_has(code, "datainspection")
        || nano_chat_has(type, "content_filter")
        || (p == NANO_PROVIDER_DASHSCOPE
            && nano_chat_has(message, "datainspection"))
        /* xAI names no code: its message says it */
        || (p == NANO_PROVIDER_XAI
            && (nano_chat_has(message, "usage guidelines")
                || nano_chat_has(message, "safety_check"))))
    {
        return nano_provider_error_set(err, NANO_PERR_BLOCKED, 0,
            "%s's content filter refused the request%s%s", who,
            clean[0] ? ": " : "", clean);
    }
    /* the account is out of money, before the auth check: DashScope
     * says so in a 400 (Arrearage), xAI in a 403 or 429 that no code
     * names */
    if (nano_chat_has(code, "insufficient_quota")
        || nano_chat_has(code, "arrearage")
        || (p == NANO_PROVIDER_XAI
            && (nano_chat_has(message, "used all available credits")
                || nano_chat_has(message, "spending limit"))))
    {
        return nano_provider_error_set(err, NANO_PERR_QUOTA, 0,
            "%s's account has no quota left%s%s", who,
            clean[0] ? ": " : "", clean);
    }
    /* a 403 about what the account may use, not about its key:
     * OpenAI's unsupported region, DashScope's model not bought
     * (AccessDenied.Unpurchased); the operator needs the words */
    if (status == 403
        && (nano_chat_has(code, "unsupported_country")
            || nano_chat_has(code, "accessdenied")))
    {
        return nano_provider_error_set(err, NANO_PERR_PROVIDER, 0,
            "%s refused the request (HTTP 403)%s%s", who,
            clean[0] ? ": " : "", clean);
    }
    if (status == 401 || status == 403
        || nano_chat_has(code, "invalid_api_key")
        || (status == 400 && (nano_chat_has(message, "api key")
                              || nano_chat_has(message, "api_key"))))
    {
        return nano_provider_error_auth(err, p, status);
    }
    if (in_stream) {
        if (nano_chat_has(code, "rate_limit")
            || nano_chat_has(type, "rate_limit")
            || nano_chat_has(code, "throttling"))
        {
            return nano_provider_error_set(err, NANO_PERR_QUOTA, 0,
                "%s's rate limit was reached during the answer%s%s", who,
                clean[0] ? ": " : "", clean);
        }
        return nano_provider_error_set(err, NANO_PERR_PROVIDER, 0,
            "%s failed during the answer%s%s", who,
            clean[0] ? ": " : "", clean);
    }
    return nano_provider_error_from_status(err, p, status, clean);
}

/* code may be a string, a number or null in the wild. */
static const char *
nano_chat_code(const json_t *obj, char *buf, size_t size)
{
    json_t  *v = json_object_get(obj, "code");

    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long) json_integer_value(v));
        return buf;
    }
    return NULL;
}

/* Reads either error shape out of root; 1 when it was one. */
static int
nano_chat_error_json(nano_provider_t p, long status, const json_t *root,
    nano_provider_error_t *err)
{
    json_t      *e = json_object_get(root, "error");
    char         num[32];
    const char  *code;

    if (json_is_object(e)) {
        code = nano_chat_code(e, num, sizeof(num));
        nano_chat_map_error(p, status, code,
                            nano_provider_json_str(e, "type"),
                            nano_provider_json_str(e, "message"), err);
        return 1;
    }
    if (json_is_string(e)) {
        /* xAI: {"code": "<words>", "error": "<message>"} */
        nano_chat_map_error(p, status, nano_chat_code(root, num, sizeof(num)),
                            NULL, json_string_value(e), err);
        return 1;
    }
    if (nano_provider_json_str(root, "message") != NULL) {
        /* DashScope's native shape {"code","message","request_id"} */
        nano_chat_map_error(p, status, nano_chat_code(root, num, sizeof(num)),
                            NULL, nano_provider_json_str(root, "message"),
                            err);
        return 1;
    }
    return 0;
}

int
nano_chat_parse_error(nano_provider_t p, long status, const char *body,
    size_t len, nano_provider_error_t *err)
{
    json_t  *root;

    if (nano_provider_info(p) == NULL) {
        p = NANO_PROVIDER_OPENAI;
    }
    root = nano_provider_json_load(body, len);
    if (root == NULL || !nano_chat_error_json(p, status, root, err)) {
        nano_provider_error_from_status(err, p, status, NULL);
    }
    json_decref(root);
    return -1;
}

void
nano_chat_chunk_init(nano_chat_chunk_t *c)
{
    memset(c, 0, sizeof(*c));
    nano_chat_usage_none(&c->usage);
}

void
nano_chat_chunk_cleanup(nano_chat_chunk_t *c)
{
    if (c == NULL) {
        return;
    }
    json_decref((json_t *) c->json);
    nano_chat_chunk_init(c);
}

int
nano_chat_parse_chunk(nano_provider_t p, const char *data, size_t len,
    nano_chat_chunk_t *c, nano_provider_error_t *err)
{
    json_t       *root, *choices, *choice, *delta, *content;
    const char   *who;

    nano_chat_chunk_cleanup(c);
    if (nano_provider_info(p) == NULL) {
        p = NANO_PROVIDER_OPENAI;
    }
    who = nano_provider_info(p)->label;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        c->done = 1;
        return 0;
    }
    root = nano_provider_json_loadb(data, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "%s sent a stream event that is not JSON", who);
    }
    c->json = root;
    if (json_object_get(root, "error") != NULL
        && !json_is_null(json_object_get(root, "error")))
    {
        nano_chat_error_json(p, 0, root, err);
        if (err != NULL && err->code[0] == '\0') {
            nano_provider_error_set(err, NANO_PERR_PROVIDER, 0,
                "%s failed during the answer", who);
        }
        return -1;
    }
    choices = json_object_get(root, "choices");
    if (!json_is_array(choices)) {
        /* DashScope's native error shape {"request_id","code","message"},
         * as its streams send a failure (event: error) */
        if (json_object_get(root, "code") != NULL
            && nano_chat_error_json(p, 0, root, err))
        {
            return -1;
        }
        return nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "%s sent a stream chunk without choices", who);
    }
    c->has_usage = nano_chat_usage(json_object_get(root, "usage"), &c->usage);
    choice = json_array_get(choices, 0);
    if (choice == NULL) {
        return 0;    /* the usage chunk: "choices": [] */
    }
    delta = json_object_get(choice, "delta");
    content = json_object_get(delta, "content");
    if (json_is_string(content)) {
        c->delta = json_string_value(content);
        c->delta_len = json_string_length(content);
    } else if (content != NULL && !json_is_null(content)) {
        return nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "%s sent a stream chunk whose content is not text", who);
    }
    nano_chat_copy_reason(c->finish_reason, sizeof(c->finish_reason),
                          nano_provider_json_str(choice, "finish_reason"));
    return 0;
}

void
nano_chat_stream_init(nano_chat_stream_t *s, nano_provider_t p,
    size_t max_event, nano_chat_delta_cb cb, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->provider = nano_provider_info(p) ? p : NANO_PROVIDER_OPENAI;
    nano_sse_init(&s->sse, max_event);
    nano_chat_result_init(&s->result);
    nano_buf_init(&s->text);
    s->cb = cb;
    s->ctx = ctx;
}

void
nano_chat_stream_cleanup(nano_chat_stream_t *s)
{
    if (s == NULL) {
        return;
    }
    nano_sse_cleanup(&s->sse);
    nano_chat_result_cleanup(&s->result);
    nano_buf_cleanup(&s->text);
}

/* What the event callback returns to nano_sse (positive: never one of
 * nano_sse's own codes). */
#define NANO_CHAT_EV_ERROR  1
#define NANO_CHAT_EV_STOP   2

/* nano_sse callback: one event. */
static int
nano_chat_stream_event(void *ctx, const char *event, const char *data,
    size_t len)
{
    nano_chat_stream_t  *s = ctx;
    nano_chat_chunk_t    c;
    int                  rc = 0;

    nano_chat_chunk_init(&c);
    if (s->done) {
        goto out;    /* nothing counts after [DONE] */
    }
    if (nano_chat_parse_chunk(s->provider, data, len, &c, s->err) != 0) {
        rc = NANO_CHAT_EV_ERROR;
        /* an event named error is the provider's failure, whatever its
         * data: not an answer we misread */
        if (strcmp(event, "error") == 0 && s->err != NULL
            && strcmp(s->err->code, NANO_PERR_BAD_RESPONSE) == 0)
        {
            nano_provider_error_set(s->err, NANO_PERR_PROVIDER, 0,
                "%s failed during the answer",
                nano_provider_info(s->provider)->label);
        }
        goto out;
    }
    if (c.done) {
        s->done = 1;
        goto out;
    }
    if (c.delta_len > 0) {
        if (c.delta_len > NANO_CHAT_TEXT_MAX - s->text.len) {
            nano_provider_error_set(s->err, NANO_PERR_BAD_RESPONSE, 0,
                "%s's answer ran past %d MiB",
                nano_provider_info(s->provider)->label,
                NANO_CHAT_TEXT_MAX / (1024 * 1024));
            rc = NANO_CHAT_EV_ERROR;
            goto out;
        }
        if (nano_buf_append(&s->text, c.delta, c.delta_len) != 0) {
            nano_provider_error_set(s->err, NANO_PERR_BAD_RESPONSE, 0,
                "Out of memory while reading the answer");
            rc = NANO_CHAT_EV_ERROR;
            goto out;
        }
        s->deltas++;
        if (s->cb != NULL && s->cb(s->ctx, c.delta, c.delta_len) != 0) {
            rc = NANO_CHAT_EV_STOP;
            goto out;
        }
    }
    if (c.has_usage) {
        s->result.usage = c.usage;
    }
    if (c.finish_reason[0] != '\0') {
        s->finished = 1;
        memcpy(s->result.finish_reason, c.finish_reason,
               sizeof(s->result.finish_reason));
        if (strcmp(c.finish_reason, "content_filter") == 0) {
            nano_chat_blocked(s->provider, s->err);
            rc = NANO_CHAT_EV_ERROR;
        }
    }

out:
    nano_chat_chunk_cleanup(&c);
    return rc;
}

int
nano_chat_stream_feed(nano_chat_stream_t *s, const char *p, size_t n,
    nano_provider_error_t *err)
{
    int  rc;

    if (s->failed) {
        return NANO_CHAT_STREAM_ERROR;
    }
    if (s->stopped) {
        return NANO_CHAT_STREAM_STOPPED;
    }
    s->bytes += n;
    s->err = err;
    rc = nano_sse_feed(&s->sse, p, n, nano_chat_stream_event, s);
    s->err = NULL;
    if (rc == NANO_SSE_OK) {
        return NANO_CHAT_STREAM_OK;
    }
    if (rc == NANO_CHAT_EV_STOP) {
        s->stopped = 1;
        return NANO_CHAT_STREAM_STOPPED;
    }
    s->failed = 1;
    if (rc != NANO_CHAT_EV_ERROR) {
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "%s: %s", nano_provider_info(s->provider)->label,
            nano_sse_strerror(rc));
    }
    return NANO_CHAT_STREAM_ERROR;
}

int
nano_chat_stream_finish(nano_chat_stream_t *s, nano_provider_error_t *err)
{
    if (s->failed) {
        return -1;
    }
    if (!s->done && !s->finished && s->sse.events == 0 && s->bytes > 0) {
        /* a whole body with no event in it was never a stream */
        s->failed = 1;
        return nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "%s answered without an event stream",
            nano_provider_info(s->provider)->label);
    }
    if (!s->done && !s->finished) {
        s->failed = 1;
        return nano_provider_error_set(err, NANO_PERR_STREAM_CUT, 0,
            "%s's stream ended before the answer was complete",
            nano_provider_info(s->provider)->label);
    }
    if (!s->finished && s->deltas == 0) {
        /* [DONE] with neither a word nor a finish_reason before it: no
         * answer at all, so not one to charge for */
        s->failed = 1;
        return nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "%s's stream ended without an answer",
            nano_provider_info(s->provider)->label);
    }
    free(s->result.text);
    s->result.text_len = s->text.len;
    s->result.text = nano_buf_steal(&s->text);
    if (s->result.text == NULL) {
        s->failed = 1;
        return nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "Out of memory while reading the answer");
    }
    return 0;
}

int
nano_chat_stream_has_output(const nano_chat_stream_t *s)
{
    return s->deltas > 0;
}
