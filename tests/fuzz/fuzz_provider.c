/*
 * libFuzzer harness for the readers of provider answers: whatever a
 * provider (or anything posing as one at its base URL) sends must give
 * a result or one of our errors, never a crash, a read past the body,
 * or an error message that carries raw control characters.
 * Input: one byte, then a body (copied to an allocation of its exact
 * size, so AddressSanitizer sees any read past it).  The byte's low 3
 * bits pick the reader:
 *   0  an SSE chat stream (bits 3-4 pick DashScope, xAI or OpenAI), fed
 *      whole and in chunks of 1 to 61 bytes (sizes from the byte, the
 *      limit of one event from bit 5): both runs must hand on the same
 *      deltas and agree on the verdict, the error, the text, the finish
 *      reason and the usage;
 *   1  the SSE parser alone, whole and in chunks: the same events;
 *   2  a chat answer and a chat error (the status from bits 3-7);
 *   3  Gemini's answer and error;
 *   4  Ark's answer and error;
 *   5, 7  Wan's submit, poll and error; 7 also the body as the video
 *      a Wan task's URL gives: sniffed, then checked whole, never read
 *      past its end;
 *   6  the data as a prompt in the chat, Gemini, Ark and Wan request
 *      bodies: a body is made exactly when the prompt is strict UTF-8
 *      (and, but for chat, not empty), and it is JSON that gives the
 *      prompt back as it was (no prompt can add or change a member).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nano_ark.h"
#include "nano_chat.h"
#include "nano_gemini.h"
#include "nano_provider.h"
#include "nano_sse.h"
#include "nano_video.h"
#include "nano_wan.h"
#include "nano_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_OUT_MAX  (64 * 1024)

/* What a run handed on, cut at FUZZ_OUT_MAX (both runs are cut alike). */
typedef struct {
    char    out[FUZZ_OUT_MAX];
    size_t  len;
} fuzz_rec_t;

static const char *const  fuzz_codes[] = {
    NANO_PERR_AUTH, NANO_PERR_QUOTA, NANO_PERR_BLOCKED, NANO_PERR_BAD_REQUEST,
    NANO_PERR_PROVIDER, NANO_PERR_TIMEOUT, NANO_PERR_BAD_RESPONSE,
    NANO_PERR_STREAM_CUT,
};

/* The statuses a failed call may have, picked by bits 3-7. */
static const long  fuzz_statuses[] = {
    400, 401, 403, 404, 408, 409, 413, 422, 429, 451, 500, 502, 503, 504,
    0, 200,
};

static void
fuzz_put(fuzz_rec_t *r, const char *p, size_t n)
{
    if (n > FUZZ_OUT_MAX - r->len) {
        n = FUZZ_OUT_MAX - r->len;
    }
    memcpy(r->out + r->len, p, n);
    r->len += n;
}

/* An error as the parsers promise it: rc -1 with a known code and a
 * NUL-terminated message of strict UTF-8 without control characters
 * (a JSON answer and a log line take it as it is), or rc 0 with none. */
static void
fuzz_check_err(int rc, const nano_provider_error_t *err)
{
    size_t  i, n;
    int     known = 0;

    if (memchr(err->code, '\0', sizeof(err->code)) == NULL
        || memchr(err->message, '\0', sizeof(err->message)) == NULL)
    {
        abort();
    }
    if (rc == 0) {
        if (err->code[0] != '\0') {
            abort();
        }
        return;
    }
    if (rc != -1) {
        abort();
    }
    for (i = 0; i < sizeof(fuzz_codes) / sizeof(fuzz_codes[0]); i++) {
        known |= strcmp(err->code, fuzz_codes[i]) == 0;
    }
    n = strlen(err->message);
    if (!known || n == 0 || err->retry_after_ms < 0
        || !nano_utf8_valid(err->message))
    {
        abort();
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char) err->message[i] < 0x20
            || err->message[i] == 0x7f)
        {
            abort();
        }
    }
}

/* An error reader of the gemini, ark and wan shape: always -1 with an
 * error as promised. */
static void
fuzz_error_reader(int (*parse)(long, const char *, size_t,
    nano_provider_error_t *), long status, const char *body, size_t len)
{
    nano_provider_error_t  err;

    nano_provider_error_init(&err);
    if (parse(status, body, len, &err) != -1) {
        abort();
    }
    fuzz_check_err(-1, &err);
}

/* ---- streams -------------------------------------------------------- */

static int
fuzz_delta(void *ctx, const char *text, size_t len)
{
    fuzz_rec_t  *r = ctx;

    if (text == NULL || len == 0) {
        abort();
    }
    fuzz_put(r, text, len);
    fuzz_put(r, "\x01", 1);
    return 0;
}

static int
fuzz_event(void *ctx, const char *event, const char *data, size_t len)
{
    fuzz_rec_t  *r = ctx;

    if (event == NULL || event[0] == '\0' || data == NULL
        || data[len] != '\0')
    {
        abort();
    }
    fuzz_put(r, event, strlen(event));
    fuzz_put(r, "\x01", 1);
    fuzz_put(r, data, len);
    fuzz_put(r, "\x02", 1);
    return 0;
}

/* The size of chunk i, 1 to 61, from seed. */
static size_t
fuzz_chunk(unsigned seed, size_t i)
{
    return 1 + (seed * 7 + i * 13 + (i >> 2)) % 61;
}

/* Feeds body to a chat stream, whole (seed 0) or in chunks; the stream
 * and its error stay for the caller to compare. */
static int
fuzz_chat_run(nano_chat_stream_t *s, nano_provider_t p, size_t max_event,
    fuzz_rec_t *r, const char *body, size_t len, unsigned seed,
    nano_provider_error_t *err)
{
    size_t  off = 0, i = 0, n;
    char   *chunk;
    int     rc = NANO_CHAT_STREAM_OK;

    nano_provider_error_init(err);
    nano_chat_stream_init(s, p, max_event, fuzz_delta, r);
    while (off < len && rc == NANO_CHAT_STREAM_OK) {
        n = seed == 0 ? len : fuzz_chunk(seed, i++);
        if (n > len - off) {
            n = len - off;
        }
        chunk = malloc(n);
        if (chunk == NULL) {
            abort();
        }
        memcpy(chunk, body + off, n);
        rc = nano_chat_stream_feed(s, chunk, n, err);
        free(chunk);
        off += n;
    }
    if (rc == NANO_CHAT_STREAM_OK) {
        rc = nano_chat_stream_finish(s, err);
    }
    fuzz_check_err(rc == 0 ? 0 : -1, err);
    return rc;
}

static void
fuzz_chat_stream(unsigned mode, const char *body, size_t len)
{
    static const nano_provider_t  chat[] = {
        NANO_PROVIDER_DASHSCOPE, NANO_PROVIDER_XAI, NANO_PROVIDER_OPENAI,
        NANO_PROVIDER_OPENAI,
    };
    static fuzz_rec_t      whole, chunked;
    nano_chat_stream_t     a, b;
    nano_provider_error_t  ea, eb;
    nano_provider_t        p = chat[(mode >> 3) & 3];
    size_t                 max_event = (mode & 0x20) ? 64 : 0;
    int                    ra, rb;

    whole.len = 0;
    chunked.len = 0;
    ra = fuzz_chat_run(&a, p, max_event, &whole, body, len, 0, &ea);
    rb = fuzz_chat_run(&b, p, max_event, &chunked, body, len,
                       (mode >> 6) + 1, &eb);
    if (ra != rb || whole.len != chunked.len
        || memcmp(whole.out, chunked.out, whole.len) != 0
        || strcmp(ea.code, eb.code) != 0
        || strcmp(ea.message, eb.message) != 0)
    {
        abort();
    }
    if (ra == 0) {
        if (a.result.text == NULL || b.result.text == NULL
            || a.result.text_len != b.result.text_len
            || memcmp(a.result.text, b.result.text, a.result.text_len) != 0
            || a.result.text[a.result.text_len] != '\0'
            || strcmp(a.result.finish_reason, b.result.finish_reason) != 0
            || memcmp(&a.result.usage, &b.result.usage,
                      sizeof(a.result.usage)) != 0)
        {
            abort();
        }
    }
    nano_chat_stream_cleanup(&a);
    nano_chat_stream_cleanup(&b);
}

static int
fuzz_sse_run(fuzz_rec_t *r, const char *body, size_t len, unsigned seed)
{
    nano_sse_t  s;
    size_t      off = 0, i = 0, n;
    char       *chunk;
    int         rc = NANO_SSE_OK;

    nano_sse_init(&s, (seed & 1) ? 64 : 0);
    while (off < len && rc == NANO_SSE_OK) {
        n = seed <= 1 ? len : fuzz_chunk(seed, i++);
        if (n > len - off) {
            n = len - off;
        }
        chunk = malloc(n);
        if (chunk == NULL) {
            abort();
        }
        memcpy(chunk, body + off, n);
        rc = nano_sse_feed(&s, chunk, n, fuzz_event, r);
        free(chunk);
        off += n;
    }
    if (rc != NANO_SSE_OK && rc != NANO_SSE_TOO_LARGE) {
        abort();
    }
    fuzz_put(r, rc == NANO_SSE_OK ? "ok" : "large", rc == NANO_SSE_OK ? 2 : 5);
    if (rc == NANO_SSE_OK && nano_sse_pending(&s)) {
        fuzz_put(r, "+", 1);
    }
    nano_sse_cleanup(&s);
    return rc;
}

static void
fuzz_sse(unsigned mode, const char *body, size_t len)
{
    static fuzz_rec_t  whole, chunked;
    unsigned           limit = (mode >> 3) & 1;

    whole.len = 0;
    chunked.len = 0;
    fuzz_sse_run(&whole, body, len, limit);
    fuzz_sse_run(&chunked, body, len, ((mode >> 4) + 1) * 2 + limit);
    if (whole.len != chunked.len
        || memcmp(whole.out, chunked.out, whole.len) != 0)
    {
        abort();
    }
}

/* ---- whole answers -------------------------------------------------- */

static void
fuzz_chat(long status, const char *body, size_t len)
{
    nano_chat_result_t     r;
    nano_provider_error_t  err;
    int                    rc;

    nano_chat_result_init(&r);
    nano_provider_error_init(&err);
    rc = nano_chat_parse_response(NANO_PROVIDER_OPENAI, body, len, &r, &err);
    fuzz_check_err(rc, &err);
    if (rc == 0 && (r.text == NULL || r.text[r.text_len] != '\0')) {
        abort();
    }
    nano_chat_result_cleanup(&r);

    nano_provider_error_init(&err);
    rc = nano_chat_parse_error(NANO_PROVIDER_XAI, status, body, len, &err);
    if (rc != -1) {
        abort();
    }
    fuzz_check_err(rc, &err);
}

static void
fuzz_gemini(long status, const char *body, size_t len)
{
    nano_gemini_result_t   r;
    nano_provider_error_t  err;
    int                    rc;

    nano_gemini_result_init(&r);
    nano_provider_error_init(&err);
    rc = nano_gemini_parse_response(body, len, &r, &err);
    fuzz_check_err(rc, &err);
    if (rc == 0 && (r.image == NULL || r.image_len == 0
                    || memchr(r.mime, '\0', sizeof(r.mime)) == NULL))
    {
        abort();
    }
    nano_gemini_result_cleanup(&r);

    fuzz_error_reader(nano_gemini_parse_error, status, body, len);
}

static void
fuzz_ark(long status, const char *body, size_t len)
{
    nano_ark_result_t      r;
    nano_provider_error_t  err;
    int                    rc;

    nano_ark_result_init(&r);
    nano_provider_error_init(&err);
    rc = nano_ark_parse_response(body, len, &r, &err);
    fuzz_check_err(rc, &err);
    if (rc == 0 && (r.image == NULL) == (r.url == NULL)) {
        /* exactly one of them */
        abort();
    }
    if (rc == 0 && r.image != NULL && r.image_len == 0) {
        abort();
    }
    nano_ark_result_cleanup(&r);

    fuzz_error_reader(nano_ark_parse_error, status, body, len);
}

static void
fuzz_wan(long status, const char *body, size_t len)
{
    char                   id[NANO_WAN_TASK_ID_MAX], path[256];
    nano_wan_task_t        t;
    nano_provider_error_t  err;
    int                    rc;

    nano_provider_error_init(&err);
    rc = nano_wan_parse_submit(body, len, id, &err);
    fuzz_check_err(rc, &err);
    /* a task id read is always one the poll can put in its path */
    if (rc == 0 && nano_wan_poll_path(id, path, sizeof(path)) != 0) {
        abort();
    }

    nano_wan_task_init(&t);
    nano_provider_error_init(&err);
    rc = nano_wan_parse_poll(body, len, &t, &err);
    fuzz_check_err(rc, &err);
    if (rc == 0 && t.status != NANO_WAN_PENDING
        && t.status != NANO_WAN_RUNNING && t.status != NANO_WAN_SUCCEEDED)
    {
        abort();
    }
    if (rc == 0 && t.status == NANO_WAN_SUCCEEDED && t.video_url == NULL) {
        abort();
    }
    if (rc != 0 && err.retryable) {
        abort();
    }
    nano_wan_task_cleanup(&t);

    fuzz_error_reader(nano_wan_parse_error, status, body, len);
}

/* A downloaded video: sniffed, then checked whole; a frame size is
 * both numbers or neither, and no read goes past the body (ASan). */
static void
fuzz_video(const char *body, size_t len)
{
    nano_video_info_t  info;

    if (nano_video_sniff((const unsigned char *) body, len, &info) != 0) {
        return;
    }
    if ((info.width == 0) != (info.height == 0)) {
        abort();
    }
    (void) nano_video_whole((const unsigned char *) body, len, &info);
}

/* ---- request bodies ------------------------------------------------- */

/* The prompt found at path (keys, or "#" for an array's first item) in
 * body, which must be JSON when it is not NULL.  A chat message may be
 * empty (empty_ok); an image or video prompt may not. */
static void
fuzz_check_body(char *body, const char *prompt, int empty_ok,
    const char *const *path)
{
    json_t      *root, *v;
    const char  *got;
    int          valid = (empty_ok || prompt[0] != '\0')
                         && nano_utf8_valid(prompt);

    if (body == NULL) {
        if (valid) {
            abort();
        }
        return;
    }
    root = json_loads(body, 0, NULL);
    if (!valid || root == NULL) {
        abort();
    }
    for (v = root; *path != NULL; path++) {
        v = strcmp(*path, "#") == 0 ? json_array_get(v, 0)
                                    : json_object_get(v, *path);
    }
    got = json_string_value(v);
    if (got == NULL || json_string_length(v) != strlen(prompt)
        || strcmp(got, prompt) != 0)
    {
        abort();
    }
    json_decref(root);
    free(body);
}

static void
fuzz_bodies(const char *prompt)
{
    static const char *const  chat_path[] = {
        "messages", "#", "content", NULL
    };
    static const char *const  gemini_path[] = {
        "contents", "#", "parts", "#", "text", NULL
    };
    static const char *const  ark_path[] = { "prompt", NULL };
    static const char *const  wan_path[] = { "input", "prompt", NULL };
    nano_chat_message_t       msg = { "user", prompt };
    nano_chat_request_t       chat;
    nano_gemini_request_t     gemini;
    nano_ark_request_t        ark;
    nano_wan_request_t        wan;

    memset(&chat, 0, sizeof(chat));
    chat.model = "m";
    chat.messages = &msg;
    chat.nmessages = 1;
    chat.temperature = -1;
    chat.seed = -1;
    fuzz_check_body(nano_chat_request_body(&chat), prompt, 1, chat_path);

    memset(&gemini, 0, sizeof(gemini));
    gemini.prompt = prompt;
    gemini.seed = -1;
    fuzz_check_body(nano_gemini_request_body(&gemini), prompt, 0,
                    gemini_path);

    memset(&ark, 0, sizeof(ark));
    ark.prompt = prompt;
    ark.seed = -1;
    fuzz_check_body(nano_ark_request_body(&ark), prompt, 0, ark_path);

    memset(&wan, 0, sizeof(wan));
    wan.prompt = prompt;
    wan.seed = -1;
    wan.prompt_extend = -1;
    wan.audio = -1;
    fuzz_check_body(nano_wan_submit_body(&wan), prompt, 0, wan_path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned  mode;
    long      status;
    char     *body;

    if (size < 1) {
        return 0;
    }
    mode = data[0];
    status = fuzz_statuses[(mode >> 3) & 15];
    size--;
    /* exactly the data; a prompt gets its NUL */
    body = malloc((mode & 7) == 6 ? size + 1 : (size ? size : 1));
    if (body == NULL) {
        return 0;
    }
    memcpy(body, data + 1, size);
    if ((mode & 7) == 6) {
        body[size] = '\0';
    }

    switch (mode & 7) {
    case 0:
        fuzz_chat_stream(mode, body, size);
        break;
    case 1:
        fuzz_sse(mode, body, size);
        break;
    case 2:
        fuzz_chat(status, body, size);
        break;
    case 3:
        fuzz_gemini(status, body, size);
        break;
    case 4:
        fuzz_ark(status, body, size);
        break;
    case 6:
        if (strlen(body) == size) {
            fuzz_bodies(body);
        }
        break;
    default:
        fuzz_wan(status, body, size);
        if ((mode & 7) == 7) {
            fuzz_video(body, size);
        }
        break;
    }

    free(body);
    return 0;
}
