/*
 * Unit tests for the OpenAI-compatible chat wire format (nano_chat):
 * exact request bodies, answers, both error shapes (OpenAI/DashScope
 * and xAI) with their exact codes and messages, stream chunks, and a
 * whole stream split at every byte position.
 */

#include "provider_rows.h"

#include <stdio.h>

#include "nano_chat.h"

/* ---- request ------------------------------------------------------ */

static void
test_paths(void **state)
{
    (void) state;
    assert_string_equal(nano_chat_path(NANO_PROVIDER_OPENAI),
                        "/chat/completions");
    assert_string_equal(nano_chat_path(NANO_PROVIDER_XAI),
                        "/chat/completions");
    assert_string_equal(nano_chat_path(NANO_PROVIDER_DASHSCOPE),
                        "/compatible-mode/v1/chat/completions");
    assert_null(nano_chat_path(NANO_PROVIDER_GEMINI));
}

static void
test_request_plain(void **state)
{
    nano_chat_message_t  m[2] = {
        { "system", "Be brief." }, { "user", "Hi \"there\"" },
    };
    nano_chat_request_t  r = { 0 };
    char                *body;

    (void) state;
    r.model = "gpt-4o-mini";
    r.messages = m;
    r.nmessages = 2;
    r.max_tokens = 100;
    r.temperature = -1;
    r.seed = -1;
    body = nano_chat_request_body(&r);
    assert_string_equal(body,
        "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\","
        "\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":"
        "\"Hi \\\"there\\\"\"}],\"stream\":false,\"max_tokens\":100}");
    free(body);
    /* 0 is a seed too */
    r.seed = 0;
    body = nano_chat_request_body(&r);
    assert_non_null(strstr(body, ",\"seed\":0}"));
    free(body);
}

static void
test_request_stream(void **state)
{
    nano_chat_message_t  m[1] = { { "user", "Hi" } };
    nano_chat_request_t  r = { 0 };
    char                *body;

    (void) state;
    r.model = "grok-4";
    r.messages = m;
    r.nmessages = 1;
    r.stream = 1;
    r.max_tokens = 50;
    r.max_completion_tokens = 1;
    r.temperature = 0.7;
    r.seed = 42;
    body = nano_chat_request_body(&r);
    assert_string_equal(body,
        "{\"model\":\"grok-4\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"Hi\"}],\"stream\":true,\"stream_options\":"
        "{\"include_usage\":true},\"max_completion_tokens\":50,"
        "\"temperature\":0.7,\"seed\":42}");
    free(body);
}

static void
test_request_refusals(void **state)
{
    nano_chat_message_t  ok[1] = { { "user", "Hi" } };
    nano_chat_message_t  tool[1] = { { "tool", "Hi" } };
    nano_chat_message_t  bad[1] = { { "user", "\xff\xfe" } };
    nano_chat_message_t  none[1] = { { "user", NULL } };
    nano_chat_request_t  r = { 0 };

    (void) state;
    r.temperature = -1;
    r.seed = -1;
    r.messages = ok;
    r.nmessages = 1;
    assert_null(nano_chat_request_body(&r));          /* no model */
    r.model = "";
    assert_null(nano_chat_request_body(&r));
    r.model = "m";
    r.nmessages = 0;
    assert_null(nano_chat_request_body(&r));          /* no messages */
    r.nmessages = 1;
    r.messages = tool;
    assert_null(nano_chat_request_body(&r));          /* role */
    r.messages = bad;
    assert_null(nano_chat_request_body(&r));          /* not UTF-8 */
    r.messages = none;
    assert_null(nano_chat_request_body(&r));
    assert_null(nano_chat_request_body(NULL));
}

/* ---- answers ------------------------------------------------------ */

#define ANSWER(content, finish) \
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1," \
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":" \
    "{\"role\":\"assistant\",\"content\":" content ",\"refusal\":null}," \
    "\"logprobs\":null,\"finish_reason\":" finish "}],\"usage\":" \
    "{\"prompt_tokens\":9,\"completion_tokens\":12,\"total_tokens\":21," \
    "\"prompt_tokens_details\":{\"cached_tokens\":0}}," \
    "\"system_fingerprint\":\"fp\"}"

static int
parse(nano_provider_t p, const char *body, nano_chat_result_t *r,
    nano_provider_error_t *err)
{
    nano_provider_error_init(err);
    return nano_chat_parse_response(p, body, strlen(body), r, err);
}

static void
test_answer_ok(void **state)
{
    nano_chat_result_t     r;
    nano_provider_error_t  err;

    (void) state;
    nano_chat_result_init(&r);
    assert_int_equal(parse(NANO_PROVIDER_OPENAI,
                           ANSWER("\"Hello there!\"", "\"stop\""), &r, &err),
                     0);
    assert_string_equal(r.text, "Hello there!");
    assert_int_equal(r.text_len, 12);
    assert_string_equal(r.finish_reason, "stop");
    assert_int_equal(r.usage.prompt_tokens, 9);
    assert_int_equal(r.usage.completion_tokens, 12);
    assert_int_equal(r.usage.total_tokens, 21);
    assert_string_equal(err.code, "");
    /* length is a complete (truncated) answer; no usage: -1 */
    assert_int_equal(parse(NANO_PROVIDER_DASHSCOPE,
        "{\"choices\":[{\"message\":{\"content\":\"abc\"},"
        "\"finish_reason\":\"length\"}]}", &r, &err), 0);
    assert_string_equal(r.text, "abc");
    assert_string_equal(r.finish_reason, "length");
    assert_int_equal(r.usage.total_tokens, -1);
    /* content null: an empty text */
    assert_int_equal(parse(NANO_PROVIDER_OPENAI,
                           ANSWER("null", "\"stop\""), &r, &err), 0);
    assert_string_equal(r.text, "");
    nano_chat_result_cleanup(&r);
    nano_chat_result_cleanup(&r);
}

static void
test_answer_bad(void **state)
{
    nano_chat_result_t     r;
    nano_provider_error_t  err;

    (void) state;
    nano_chat_result_init(&r);
    assert_int_equal(parse(NANO_PROVIDER_OPENAI, "{\"choices\":[", &r, &err),
                     -1);
    assert_string_equal(err.code, "bad_response");
    assert_string_equal(err.message, "OpenAI's answer is not JSON");
    assert_int_equal(err.retryable, 0);
    assert_int_equal(parse(NANO_PROVIDER_OPENAI, "[1]", &r, &err), -1);
    assert_string_equal(err.message, "OpenAI's answer is not a JSON object");
    assert_int_equal(parse(NANO_PROVIDER_XAI, "{\"choices\":[]}", &r, &err),
                     -1);
    assert_string_equal(err.code, "bad_response");
    assert_string_equal(err.message, "xAI's answer has no message");
    assert_int_equal(parse(NANO_PROVIDER_XAI,
        "{\"choices\":[{\"message\":{\"content\":5}}]}", &r, &err), -1);
    assert_string_equal(err.message, "xAI's answer has no text");
    assert_int_equal(parse(NANO_PROVIDER_OPENAI, "", &r, &err), -1);
    assert_string_equal(err.message, "OpenAI's answer was empty");
    /* content_filter: blocked, the text that came is kept */
    assert_int_equal(parse(NANO_PROVIDER_XAI,
        ANSWER("\"I can\"", "\"content_filter\""), &r, &err), -1);
    assert_string_equal(err.code, "blocked");
    assert_string_equal(err.message,
                        "xAI's content filter stopped the answer");
    assert_string_equal(r.text, "I can");
    nano_chat_result_cleanup(&r);
}

/* ---- errors (one row each) ---------------------------------------- */

static const provider_error_row_t  error_rows[] = {
    { "openai 401 invalid_api_key", NANO_PROVIDER_OPENAI, 401, NULL,
      "{\"error\":{\"message\":\"Incorrect API key provided: sk-abc***xyz. "
      "You can find your API key at https://platform.openai.com.\","
      "\"type\":\"invalid_request_error\",\"param\":null,"
      "\"code\":\"invalid_api_key\"}}",
      "provider_auth",
      "OpenAI refused the API key (HTTP 401); check OPENAI_API_KEY", 0, 0 },
    { "openai 429 rate limit, retry-after", NANO_PROVIDER_OPENAI, 429, "20",
      "{\"error\":{\"message\":\"Rate limit reached for gpt-4o-mini on "
      "requests per min (RPM): Limit 3, Used 3, Requested 1.\","
      "\"type\":\"requests\",\"param\":null,"
      "\"code\":\"rate_limit_exceeded\"}}",
      "provider_quota",
      "OpenAI's rate limit or quota was reached (HTTP 429): Rate limit "
      "reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, "
      "Requested 1", 1, 20000 },
    { "openai 429 insufficient_quota", NANO_PROVIDER_OPENAI, 429, NULL,
      "{\"error\":{\"message\":\"You exceeded your current quota, please "
      "check your plan and billing details.\",\"type\":\"insufficient_quota\","
      "\"param\":null,\"code\":\"insufficient_quota\"}}",
      "provider_quota",
      "OpenAI's account has no quota left: You exceeded your current quota, "
      "please check your plan and billing details", 0, 0 },
    { "dashscope 400 Arrearage", NANO_PROVIDER_DASHSCOPE, 400, NULL,
      "{\"error\":{\"message\":\"Access denied, please make sure your "
      "account is in good standing.\",\"type\":\"Arrearage\","
      "\"param\":null,\"code\":\"Arrearage\"},\"request_id\":\"r1\"}",
      "provider_quota",
      "DashScope's account has no quota left: Access denied, please make "
      "sure your account is in good standing", 0, 0 },
    { "xai 403 credits spent", NANO_PROVIDER_XAI, 403, NULL,
      "{\"code\":\"The caller does not have permission to execute the "
      "specified operation\",\"error\":\"Your team t1 has either used all "
      "available credits or reached its monthly spending limit.\"}",
      "provider_quota",
      "xAI's account has no quota left: Your team t1 has either used all "
      "available credits or reached its monthly spending limit", 0, 0 },
    { "openai 403 unsupported region", NANO_PROVIDER_OPENAI, 403, NULL,
      "{\"error\":{\"code\":\"unsupported_country_region_territory\","
      "\"message\":\"Country, region, or territory not supported\","
      "\"param\":null,\"type\":\"request_forbidden\"}}",
      "provider_error",
      "OpenAI refused the request (HTTP 403): Country, region, or territory "
      "not supported", 0, 0 },
    { "dashscope 403 model not bought", NANO_PROVIDER_DASHSCOPE, 403, NULL,
      "{\"error\":{\"message\":\"Access to model denied. Please make sure "
      "you are eligible for using the model.\",\"type\":"
      "\"AccessDenied.Unpurchased\",\"param\":null,\"code\":"
      "\"AccessDenied.Unpurchased\"},\"request_id\":\"r2\"}",
      "provider_error",
      "DashScope refused the request (HTTP 403): Access to model denied. "
      "Please make sure you are eligible for using the model", 0, 0 },
    { "openai 403 without a code is the key", NANO_PROVIDER_OPENAI, 403,
      NULL, "{\"error\":{\"message\":\"Forbidden\",\"type\":null,"
      "\"param\":null,\"code\":null}}",
      "provider_auth",
      "OpenAI refused the API key (HTTP 403); check OPENAI_API_KEY", 0, 0 },
    { "openai 400 invalid value", NANO_PROVIDER_OPENAI, 400, NULL,
      "{\"error\":{\"message\":\"Invalid value for 'max_tokens': must be "
      "positive.\",\"type\":\"invalid_request_error\","
      "\"param\":\"max_tokens\",\"code\":\"invalid_value\"}}",
      "bad_request",
      "OpenAI refused the request (HTTP 400): Invalid value for "
      "'max_tokens': must be positive", 0, 0 },
    { "openai 400 content policy", NANO_PROVIDER_OPENAI, 400, NULL,
      "{\"error\":{\"message\":\"Your request was rejected as a result of "
      "our safety system.\",\"type\":\"invalid_request_error\","
      "\"param\":null,\"code\":\"content_policy_violation\"}}",
      "blocked",
      "OpenAI's content filter refused the request: Your request was "
      "rejected as a result of our safety system", 0, 0 },
    { "openai 404 model", NANO_PROVIDER_OPENAI, 404, NULL,
      "{\"error\":{\"message\":\"The model `gpt-9` does not exist or you do "
      "not have access to it.\",\"type\":\"invalid_request_error\","
      "\"param\":null,\"code\":\"model_not_found\"}}",
      "bad_request",
      "OpenAI refused the request (HTTP 404): The model `gpt-9` does not "
      "exist or you do not have access to it", 0, 0 },
    { "openai 500", NANO_PROVIDER_OPENAI, 500, NULL,
      "{\"error\":{\"message\":\"The server had an error while processing "
      "your request. Sorry about that!\",\"type\":\"server_error\","
      "\"param\":null,\"code\":null}}",
      "provider_error",
      "OpenAI failed (HTTP 500): The server had an error while processing "
      "your request. Sorry about that!", 1, 0 },
    { "openai 503 html body", NANO_PROVIDER_OPENAI, 503, "2",
      "<html><body>503 Service Unavailable</body></html>",
      "provider_error", "OpenAI failed (HTTP 503)", 1, 2000 },
    { "openai 408 empty", NANO_PROVIDER_OPENAI, 408, NULL, "",
      "timeout", "OpenAI timed out (HTTP 408)", 1, 0 },
    { "openai 400 key-like run elided", NANO_PROVIDER_OPENAI, 400, NULL,
      "{\"error\":{\"message\":\"Bad header sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
      "0123 here.\",\"type\":\"invalid_request_error\"}}",
      "bad_request",
      "OpenAI refused the request (HTTP 400): Bad header \xe2\x80\xa6 here",
      0, 0 },
    { "xai 400 bad key", NANO_PROVIDER_XAI, 400, NULL,
      "{\"code\":\"Client specified an invalid argument\",\"error\":"
      "\"Incorrect API key provided: xa***bc. You can obtain an API key "
      "from https://console.x.ai.\"}",
      "provider_auth",
      "xAI refused the API key (HTTP 400); check XAI_API_KEY", 0, 0 },
    { "xai 400 other", NANO_PROVIDER_XAI, 400, NULL,
      "{\"code\":\"Client specified an invalid argument\",\"error\":"
      "\"Model grok-9 does not exist.\"}",
      "bad_request",
      "xAI refused the request (HTTP 400): Model grok-9 does not exist",
      0, 0 },
    { "xai 400 usage guidelines", NANO_PROVIDER_XAI, 400, NULL,
      "{\"code\":\"Client specified an invalid argument\",\"error\":"
      "\"Content violates usage guidelines. Failed check: "
      "SAFETY_CHECK_TYPE_CSAM\"}",
      "blocked",
      "xAI's content filter refused the request: Content violates usage "
      "guidelines. Failed check: SAFETY_CHECK_TYPE_CSAM", 0, 0 },
    { "xai 429", NANO_PROVIDER_XAI, 429, "3",
      "{\"code\":\"Too many requests\",\"error\":\"Your team has reached "
      "its rate limit.\"}",
      "provider_quota",
      "xAI's rate limit or quota was reached (HTTP 429): Your team has "
      "reached its rate limit", 1, 3000 },
    { "xai 403 no credits", NANO_PROVIDER_XAI, 403, NULL,
      "{\"code\":\"The caller does not have permission\",\"error\":"
      "\"Your team does not have any credits.\"}",
      "provider_auth",
      "xAI refused the API key (HTTP 403); check XAI_API_KEY", 0, 0 },
    { "dashscope 401", NANO_PROVIDER_DASHSCOPE, 401, NULL,
      "{\"error\":{\"message\":\"Incorrect API key provided. \","
      "\"type\":\"invalid_request_error\",\"param\":null,"
      "\"code\":\"invalid_api_key\"},\"request_id\":\"r-1\"}",
      "provider_auth",
      "DashScope refused the API key (HTTP 401); check DASHSCOPE_API_KEY",
      0, 0 },
    { "dashscope 400 data inspection", NANO_PROVIDER_DASHSCOPE, 400, NULL,
      "{\"error\":{\"code\":\"data_inspection_failed\",\"param\":null,"
      "\"message\":\"Input data may contain inappropriate content.\","
      "\"type\":\"data_inspection_failed\"}}",
      "blocked",
      "DashScope's content filter refused the request: Input data may "
      "contain inappropriate content", 0, 0 },
    { "dashscope native shape", NANO_PROVIDER_DASHSCOPE, 400, NULL,
      "{\"request_id\":\"r\",\"code\":\"InvalidParameter\",\"message\":"
      "\"Model not exist.\"}",
      "bad_request",
      "DashScope refused the request (HTTP 400): Model not exist", 0, 0 },
    /* DashScope's own code for its content check, in its native shape
     * and quoted in a compatible-mode message (until 2026-12-07 both
     * read as a bad request) */
    { "dashscope native data inspection", NANO_PROVIDER_DASHSCOPE, 400, NULL,
      "{\"request_id\":\"r\",\"code\":\"DataInspectionFailed\","
      "\"message\":\"Input or output data may contain inappropriate "
      "content.\"}",
      "blocked",
      "DashScope's content filter refused the request: Input or output data "
      "may contain inappropriate content", 0, 0 },
    { "dashscope algo data inspection in message", NANO_PROVIDER_DASHSCOPE,
      400, NULL,
      "{\"error\":{\"message\":\"<400> InternalError.Algo."
      "DataInspectionFailed: Input text data may contain inappropriate "
      "content.\",\"type\":\"invalid_request_error\",\"param\":null,"
      "\"code\":\"invalid_parameter_error\"}}",
      "blocked",
      "DashScope's content filter refused the request: <400> InternalError."
      "Algo.DataInspectionFailed: Input text data may contain inappropriate "
      "content", 0, 0 },
};

/* ---- chunks ------------------------------------------------------- */

static void
test_chunks(void **state)
{
    nano_chat_chunk_t      c;
    nano_provider_error_t  err;
    const char            *s;

    (void) state;
    nano_chat_chunk_init(&c);
    nano_provider_error_init(&err);
    s = "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":"
        "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
        "\"finish_reason\":null}],\"usage\":null}";
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_OPENAI, s,
                                           strlen(s), &c, &err), 0);
    assert_int_equal(c.delta_len, 0);
    assert_string_equal(c.finish_reason, "");
    assert_int_equal(c.has_usage, 0);
    s = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hé\"},"
        "\"finish_reason\":null}]}";
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_OPENAI, s,
                                           strlen(s), &c, &err), 0);
    assert_int_equal(c.delta_len, 3);
    assert_memory_equal(c.delta, "H\xc3\xa9", 3);
    s = "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
        "\"stop\"}]}";
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_OPENAI, s,
                                           strlen(s), &c, &err), 0);
    assert_string_equal(c.finish_reason, "stop");
    assert_null(c.delta);
    s = "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,"
        "\"completion_tokens\":7,\"total_tokens\":12}}";
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_OPENAI, s,
                                           strlen(s), &c, &err), 0);
    assert_int_equal(c.has_usage, 1);
    assert_int_equal(c.usage.total_tokens, 12);
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_OPENAI, "[DONE]", 6,
                                           &c, &err), 0);
    assert_int_equal(c.done, 1);
    /* not chunks */
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_XAI, "{oops", 5, &c,
                                           &err), -1);
    assert_string_equal(err.code, "bad_response");
    assert_string_equal(err.message,
                        "xAI sent a stream event that is not JSON");
    s = "{\"id\":\"x\"}";
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_XAI, s, strlen(s),
                                           &c, &err), -1);
    assert_string_equal(err.message,
                        "xAI sent a stream chunk without choices");
    s = "{\"choices\":[{\"delta\":{\"content\":[1]}}]}";
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_XAI, s, strlen(s),
                                           &c, &err), -1);
    assert_string_equal(err.message,
                        "xAI sent a stream chunk whose content is not text");
    /* an error inside the stream */
    s = "{\"error\":{\"message\":\"The server had an error.\","
        "\"type\":\"server_error\",\"code\":null}}";
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_OPENAI, s,
                                           strlen(s), &c, &err), -1);
    assert_string_equal(err.code, "provider_error");
    assert_string_equal(err.message,
                        "OpenAI failed during the answer: The server had an "
                        "error");
    assert_int_equal(err.retryable, 0);
    s = "{\"error\":{\"message\":\"Rate limit\","
        "\"type\":\"rate_limit_error\"}}";
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_OPENAI, s,
                                           strlen(s), &c, &err), -1);
    assert_string_equal(err.code, "provider_quota");
    assert_int_equal(err.retryable, 0);
    nano_chat_chunk_cleanup(&c);
    nano_chat_chunk_cleanup(&c);
}

/* ---- whole streams ------------------------------------------------ */

#define CHUNK(text) \
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":" \
    "[{\"index\":0,\"delta\":{\"content\":\"" text "\"},\"finish_reason\":" \
    "null}]}\n\n"

static const char  *stream_ok =
    ": OPENROUTER PROCESSING\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    CHUNK("Hel")
    CHUNK("lo w")
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"orld\"},"
    "\"finish_reason\":null}]}\r\n\r\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},"
    "\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,"
    "\"completion_tokens\":3,\"total_tokens\":7}}\n\n"
    "data: [DONE]\n\n";

typedef struct {
    nano_buf_t  deltas;
    int         calls;
    int         stop_at;
} sink_t;

static int
sink(void *ctx, const char *text, size_t len)
{
    sink_t  *s = ctx;

    nano_buf_append(&s->deltas, text, len);
    s->calls++;
    return s->stop_at > 0 && s->calls >= s->stop_at;
}

/* Feeds stream in two pieces cut at a; returns the finish result. */
static int
run_stream(nano_provider_t p, const char *stream, size_t a, sink_t *sk,
    nano_chat_stream_t *cs, nano_provider_error_t *err, int *feed_rc)
{
    size_t  n = strlen(stream);

    nano_buf_init(&sk->deltas);
    sk->calls = 0;
    nano_provider_error_init(err);
    nano_chat_stream_init(cs, p, 0, sink, sk);
    *feed_rc = nano_chat_stream_feed(cs, stream, a, err);
    if (*feed_rc == NANO_CHAT_STREAM_OK) {
        *feed_rc = nano_chat_stream_feed(cs, stream + a, n - a, err);
    }
    if (*feed_rc != NANO_CHAT_STREAM_OK) {
        return -2;
    }
    return nano_chat_stream_finish(cs, err);
}

static void
test_stream_every_split(void **state)
{
    nano_chat_stream_t     cs;
    nano_provider_error_t  err;
    sink_t                 sk = { 0 };
    size_t                 a, n = strlen(stream_ok);
    int                    rc;

    (void) state;
    for (a = 0; a <= n; a++) {
        assert_int_equal(run_stream(NANO_PROVIDER_OPENAI, stream_ok, a, &sk,
                                    &cs, &err, &rc), 0);
        assert_string_equal(sk.deltas.data, "Hello world");
        assert_int_equal(sk.calls, 3);
        assert_string_equal(cs.result.text, "Hello world");
        assert_int_equal(cs.result.text_len, 11);
        assert_string_equal(cs.result.finish_reason, "stop");
        assert_int_equal(cs.result.usage.prompt_tokens, 4);
        assert_int_equal(cs.result.usage.completion_tokens, 3);
        assert_int_equal(cs.result.usage.total_tokens, 7);
        assert_int_equal(cs.done, 1);
        assert_int_equal(nano_chat_stream_has_output(&cs), 1);
        nano_chat_stream_cleanup(&cs);
        nano_chat_stream_cleanup(&cs);
        nano_buf_cleanup(&sk.deltas);
    }
}

static void
test_stream_failures(void **state)
{
    nano_chat_stream_t     cs;
    nano_provider_error_t  err;
    sink_t                 sk = { 0 };
    char                   big[300];
    int                    rc;

    (void) state;
    /* cut mid-way: no finish_reason, no [DONE] */
    assert_int_equal(run_stream(NANO_PROVIDER_XAI,
                                CHUNK("Hel") CHUNK("lo") "data: {\"cho", 10,
                                &sk, &cs, &err, &rc), -1);
    assert_string_equal(err.code, "stream_cut");
    assert_string_equal(err.message,
        "xAI's stream ended before the answer was complete");
    assert_int_equal(err.retryable, 0);
    assert_string_equal(sk.deltas.data, "Hello");
    assert_int_equal(nano_chat_stream_has_output(&cs), 1);
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);

    /* [DONE] alone, or after a role chunk, is no answer */
    assert_int_equal(run_stream(NANO_PROVIDER_OPENAI, "data: [DONE]\n\n", 3,
                                &sk, &cs, &err, &rc), -1);
    assert_string_equal(err.code, "bad_response");
    assert_string_equal(err.message,
        "OpenAI's stream ended without an answer");
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);
    assert_int_equal(run_stream(NANO_PROVIDER_OPENAI,
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":"
        "\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
        "data: [DONE]\n\n", 20, &sk, &cs, &err, &rc), -1);
    assert_string_equal(err.code, "bad_response");
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);
    /* an empty answer the model ended itself is an answer */
    assert_int_equal(run_stream(NANO_PROVIDER_OPENAI,
        "data: {\"choices\":[{\"index\":0,\"delta\":{},"
        "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n", 5, &sk, &cs,
        &err, &rc), 0);
    assert_string_equal(cs.result.text, "");
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);

    /* a finish_reason without [DONE] is complete */
    assert_int_equal(run_stream(NANO_PROVIDER_XAI,
        CHUNK("ok") "data: {\"choices\":[{\"delta\":{},\"finish_reason\":"
        "\"length\"}]}\n\n", 3, &sk, &cs, &err, &rc), 0);
    assert_string_equal(cs.result.finish_reason, "length");
    assert_string_equal(cs.result.text, "ok");
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);

    /* an error event after some text */
    assert_int_equal(run_stream(NANO_PROVIDER_DASHSCOPE,
        CHUNK("Hi") "data: {\"error\":{\"message\":\"Internal error.\","
        "\"type\":\"internal_error\",\"code\":\"InternalError\"}}\n\n",
        7, &sk, &cs, &err, &rc), -2);
    assert_int_equal(rc, NANO_CHAT_STREAM_ERROR);
    assert_string_equal(err.code, "provider_error");
    assert_string_equal(err.message,
        "DashScope failed during the answer: Internal error");
    /* sticky, and finish says failed too */
    assert_int_equal(nano_chat_stream_feed(&cs, CHUNK("x"), strlen(CHUNK("x")),
                                           &err), NANO_CHAT_STREAM_ERROR);
    assert_int_equal(nano_chat_stream_finish(&cs, &err), -1);
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);

    /* content_filter in the stream */
    assert_int_equal(run_stream(NANO_PROVIDER_OPENAI,
        CHUNK("Sure") "data: {\"choices\":[{\"delta\":{},\"finish_reason\":"
        "\"content_filter\"}]}\n\n", 1, &sk, &cs, &err, &rc), -2);
    assert_string_equal(err.code, "blocked");
    assert_string_equal(err.message,
                        "OpenAI's content filter stopped the answer");
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);

    /* malformed chunk */
    assert_int_equal(run_stream(NANO_PROVIDER_OPENAI, "data: {nope}\n\n", 4,
                                &sk, &cs, &err, &rc), -2);
    assert_string_equal(err.code, "bad_response");
    assert_string_equal(err.message,
                        "OpenAI sent a stream event that is not JSON");
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);

    /* an event over the limit */
    nano_buf_init(&sk.deltas);
    nano_chat_stream_init(&cs, NANO_PROVIDER_OPENAI, 100, sink, &sk);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'a', sizeof(big) - 6);
    assert_int_equal(nano_chat_stream_feed(&cs, big, sizeof(big), &err),
                     NANO_CHAT_STREAM_ERROR);
    assert_string_equal(err.code, "bad_response");
    assert_string_equal(err.message,
        "OpenAI: an event in the stream is larger than allowed");
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);

    /* nothing at all */
    assert_int_equal(run_stream(NANO_PROVIDER_OPENAI, "", 0, &sk, &cs, &err,
                                &rc), -1);
    assert_string_equal(err.code, "stream_cut");
    assert_int_equal(nano_chat_stream_has_output(&cs), 0);
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);

    /* DashScope's native failure event mid-stream (event: error, its
     * {"request_id","code","message"}): its output check, a throttle,
     * a model failure, and a body that is not JSON.  Until 2026-12-07
     * each read as "a stream chunk without choices", bad_response */
    assert_int_equal(run_stream(NANO_PROVIDER_DASHSCOPE,
        CHUNK("Hi") "event:error\n:HTTP_STATUS/400\ndata:{\"request_id\":"
        "\"r\",\"code\":\"DataInspectionFailed\",\"message\":\"Output "
        "data may contain inappropriate content.\"}\n\n", 9, &sk, &cs, &err,
        &rc), -2);
    assert_string_equal(err.code, "blocked");
    assert_string_equal(err.message, "DashScope's content filter refused "
        "the request: Output data may contain inappropriate content");
    assert_int_equal(nano_chat_stream_has_output(&cs), 1);
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);
    assert_int_equal(run_stream(NANO_PROVIDER_DASHSCOPE,
        "event: error\ndata: {\"request_id\":\"r\",\"code\":"
        "\"Throttling.RateQuota\",\"message\":\"Requests rate limit "
        "exceeded, please try again later.\"}\n\n", 3, &sk, &cs, &err, &rc),
        -2);
    assert_string_equal(err.code, "provider_quota");
    assert_string_equal(err.message, "DashScope's rate limit was reached "
        "during the answer: Requests rate limit exceeded, please try again "
        "later");
    assert_int_equal(err.retryable, 0);
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);
    assert_int_equal(run_stream(NANO_PROVIDER_DASHSCOPE,
        CHUNK("Hi") "event: error\ndata: {\"request_id\":\"r\",\"code\":"
        "\"InvalidParameter\",\"message\":\"An error occurred in model "
        "serving.\"}\n\n", 30, &sk, &cs, &err, &rc), -2);
    assert_string_equal(err.code, "provider_error");
    assert_string_equal(err.message, "DashScope failed during the answer: "
        "An error occurred in model serving");
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);
    assert_int_equal(run_stream(NANO_PROVIDER_DASHSCOPE,
        CHUNK("Hi") "event: error\ndata: upstream gone\n\n", 5, &sk, &cs,
        &err, &rc), -2);
    assert_string_equal(err.code, "provider_error");
    assert_string_equal(err.message, "DashScope failed during the answer");
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);

    /* a JSON body where events were asked for: not a stream at all */
    assert_int_equal(run_stream(NANO_PROVIDER_XAI, "{\"this is\": not json\n",
                                0, &sk, &cs, &err, &rc), -1);
    assert_string_equal(err.code, "bad_response");
    assert_string_equal(err.message, "xAI answered without an event stream");
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);
}

/* A provider that never stops: the answer is kept up to
 * NANO_CHAT_TEXT_MAX, and the delta that would pass it fails the stream. */
static void
test_stream_too_long(void **state)
{
    static const char      head[] =
        "data: {\"choices\":[{\"delta\":{\"content\":\"";
    static const char      tail[] = "\"},\"finish_reason\":null}]}\n\n";
    enum { PIECE = 64 * 1024 };
    nano_chat_stream_t     cs;
    nano_provider_error_t  err;
    sink_t                 sk = { 0 };
    char                  *chunk;
    size_t                 i, n = sizeof(head) - 1 + PIECE + sizeof(tail) - 1;

    (void) state;
    chunk = malloc(n);
    assert_non_null(chunk);
    memcpy(chunk, head, sizeof(head) - 1);
    memset(chunk + sizeof(head) - 1, 'a', PIECE);
    memcpy(chunk + sizeof(head) - 1 + PIECE, tail, sizeof(tail) - 1);
    nano_buf_init(&sk.deltas);
    nano_provider_error_init(&err);
    nano_chat_stream_init(&cs, NANO_PROVIDER_XAI, 0, sink, &sk);
    for (i = 0; i < NANO_CHAT_TEXT_MAX / PIECE; i++) {
        assert_int_equal(nano_chat_stream_feed(&cs, chunk, n, &err),
                         NANO_CHAT_STREAM_OK);
    }
    assert_int_equal(cs.text.len, NANO_CHAT_TEXT_MAX);
    assert_int_equal(nano_chat_stream_feed(&cs, chunk, n, &err),
                     NANO_CHAT_STREAM_ERROR);
    assert_string_equal(err.code, "bad_response");
    assert_string_equal(err.message, "xAI's answer ran past 4 MiB");
    assert_int_equal(err.retryable, 0);
    assert_int_equal(cs.text.len, NANO_CHAT_TEXT_MAX);
    assert_int_equal(sk.deltas.len, NANO_CHAT_TEXT_MAX);
    assert_int_equal(nano_chat_stream_finish(&cs, &err), -1);
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);
    free(chunk);
}

static void
test_stream_client_stops(void **state)
{
    nano_chat_stream_t     cs;
    nano_provider_error_t  err;
    sink_t                 sk = { 0 };
    int                    rc;

    (void) state;
    sk.stop_at = 2;
    assert_int_equal(run_stream(NANO_PROVIDER_OPENAI, stream_ok,
                                strlen(stream_ok), &sk, &cs, &err, &rc), -2);
    assert_int_equal(rc, NANO_CHAT_STREAM_STOPPED);
    assert_string_equal(sk.deltas.data, "Hello w");
    assert_int_equal(nano_chat_stream_feed(&cs, "x", 1, &err),
                     NANO_CHAT_STREAM_STOPPED);
    nano_chat_stream_cleanup(&cs);
    nano_buf_cleanup(&sk.deltas);
}
/* Escapes JSON's grammar allows and jansson refuses: a lone surrogate
 * (a provider that cut its text by UTF-16 units) and \u0000 become
 * U+FFFD, in a chunk and in a whole answer; a pair, an escaped
 * backslash before "ud800" and the key's own text stay as they are; a
 * raw byte that is not UTF-8 is still not JSON. */
static void
test_odd_escapes(void **state)
{
    nano_chat_chunk_t      c;
    nano_chat_result_t     r;
    nano_provider_error_t  err;
    const char            *s;

    (void) state;
    nano_chat_chunk_init(&c);
    nano_chat_result_init(&r);
    nano_provider_error_init(&err);
    s = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":"
        "\"said \\ud83d\"},\"finish_reason\":null}]}";
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_DASHSCOPE, s,
                                           strlen(s), &c, &err), 0);
    assert_int_equal(c.delta_len, 8);
    assert_memory_equal(c.delta, "said \xef\xbf\xbd", 8);
    s = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":"
        "\"\\ude00a\\u0000b\\ud83d\\ude00\\\\ud800\"},"
        "\"finish_reason\":null}]}";
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_OPENAI, s,
                                           strlen(s), &c, &err), 0);
    assert_int_equal(c.delta_len, 18);
    assert_memory_equal(c.delta, "\xef\xbf\xbd" "a\xef\xbf\xbd" "b"
                        "\xf0\x9f\x98\x80\\ud800", 18);
    s = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":"
        "\"a\xff\"},\"finish_reason\":null}]}";
    assert_int_equal(nano_chat_parse_chunk(NANO_PROVIDER_XAI, s, strlen(s),
                                           &c, &err), -1);
    assert_string_equal(err.message,
                        "xAI sent a stream event that is not JSON");
    assert_int_equal(parse(NANO_PROVIDER_DASHSCOPE,
                           ANSWER("\"you said \\\"xx\\ud83d\\\". Fine\"",
                                  "\"stop\""), &r, &err), 0);
    assert_string_equal(r.text, "you said \"xx\xef\xbf\xbd\". Fine");
    nano_chat_result_cleanup(&r);
    nano_chat_chunk_cleanup(&c);
}

int
main(void)
{
    const struct CMUnitTest  extra[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_request_plain),
        cmocka_unit_test(test_request_stream),
        cmocka_unit_test(test_request_refusals),
        cmocka_unit_test(test_answer_ok),
        cmocka_unit_test(test_answer_bad),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_odd_escapes),
        cmocka_unit_test(test_stream_every_split),
        cmocka_unit_test(test_stream_failures),
        cmocka_unit_test(test_stream_too_long),
        cmocka_unit_test(test_stream_client_stops),
    };

    return PROVIDER_ROWS_RUN("chat", error_rows, extra,
                             sizeof(extra) / sizeof(extra[0]));
}
