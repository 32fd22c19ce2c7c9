/*
 * The OpenAI-compatible chat wire format (qwen through DashScope's
 * compatible mode, grok through xAI, openai): the request body, the
 * non-streaming answer, the streamed chunks (on nano_sse) and both error
 * shapes, OpenAI's/DashScope's {"error":{"message","type","param","code"}}
 * and xAI's {"code","error":"<string>"}.
 *
 * The transport POSTs nano_chat_request_body() to
 * base + nano_chat_path(p) with "Content-Type: application/json" and the
 * header of nano_provider_auth_header(); a streamed call also sends
 * "Accept: text/event-stream".
 */

#ifndef NANO_CHAT_H
#define NANO_CHAT_H

#include <stddef.h>

#include "nano_buf.h"
#include "nano_provider.h"
#include "nano_sse.h"

/* What the chat endpoint accepts in one call. */
#define NANO_CHAT_MAX_MESSAGES  256

/* The longest streamed answer kept: eight times the 128k tokens of the
 * largest outputs, so only a provider that never stops reaches it. */
#define NANO_CHAT_TEXT_MAX      (4 * 1024 * 1024)

typedef struct {
    const char  *role;       /* "system", "user" or "assistant" */
    const char  *content;    /* UTF-8 */
} nano_chat_message_t;

typedef struct {
    const char                 *model;
    const nano_chat_message_t  *messages;
    size_t                      nmessages;
    int                         stream;       /* with the usage chunk */
    long                        max_tokens;   /* 0: not sent */
    int                         max_completion_tokens; /* send the limit under
                                                  that name (newer OpenAI
                                                  models) instead of
                                                  max_tokens */
    double                      temperature;  /* < 0: not sent */
    long long                   seed;         /* < 0: not sent (none given) */
} nano_chat_request_t;

/*
 * The path to append to the provider's base URL: "/chat/completions" for
 * xAI and OpenAI (their bases end in /v1),
 * "/compatible-mode/v1/chat/completions" for DashScope (a host root).
 * NULL for a provider that does not speak chat.
 */
const char *nano_chat_path(nano_provider_t p);

/*
 * The JSON body for r: a new string (caller frees), or NULL when r lacks
 * a model or messages, a role is not one of the three, a string is not
 * UTF-8, or memory ran out.
 */
char *nano_chat_request_body(const nano_chat_request_t *r);

/* Token counts; -1 where the provider did not say. */
typedef struct {
    long   prompt_tokens;
    long   completion_tokens;
    long   total_tokens;
} nano_chat_usage_t;

/* A whole answer (non-streaming, or a stream put together). */
typedef struct {
    char               *text;            /* owned, NUL-terminated */
    size_t              text_len;
    char                finish_reason[32];   /* "" when none */
    nano_chat_usage_t   usage;
} nano_chat_result_t;

void nano_chat_result_init(nano_chat_result_t *r);

/* Frees r->text; accepts NULL, may run twice. */
void nano_chat_result_cleanup(nano_chat_result_t *r);

/*
 * Reads a 200 answer of a non-streaming call into out (cleaned up
 * first).  Returns 0; or -1 with err set: bad_response for a body that
 * is not the chat shape (no choices, no message content), blocked for
 * finish_reason "content_filter" (out->text still holds what came).
 */
int nano_chat_parse_response(nano_provider_t p, const char *body, size_t len,
    nano_chat_result_t *out, nano_provider_error_t *err);

/*
 * Fills err from a failed call's status and body in either error shape
 * (or none).  A 400 whose message names the API key is provider_auth
 * (xAI answers a bad key so); 429 with code "insufficient_quota" is a
 * quota that retrying will not fix (retryable 0); codes naming a content
 * check (content_filter, content_policy_violation,
 * data_inspection_failed) are blocked.  Returns -1.
 */
int nano_chat_parse_error(nano_provider_t p, long status, const char *body,
    size_t len, nano_provider_error_t *err);

/* One parsed stream chunk. */
typedef struct {
    int                 done;              /* "data: [DONE]" */
    const char         *delta;             /* borrowed from the chunk's JSON:
                                              valid until the next parse */
    size_t              delta_len;
    char                finish_reason[32];
    int                 has_usage;
    nano_chat_usage_t   usage;
    void               *json;              /* internal: keeps delta alive */
} nano_chat_chunk_t;

void nano_chat_chunk_init(nano_chat_chunk_t *c);

/* Releases what the last parse holds; accepts NULL, may run twice. */
void nano_chat_chunk_cleanup(nano_chat_chunk_t *c);

/*
 * Parses one event's data (a chunk JSON, or "[DONE]") into c (cleaned up
 * first).  Returns 0; -1 with err set: bad_response for data that is not
 * a chunk; for an {"error":{…}} event, the error mapped like
 * nano_chat_parse_error's (never retryable: output may have come).
 */
int nano_chat_parse_chunk(nano_provider_t p, const char *data, size_t len,
    nano_chat_chunk_t *c, nano_provider_error_t *err);

/*
 * Called with each piece of text as it arrives (borrowed, len bytes, not
 * NUL-terminated).  Return 0 to go on, non-zero to stop (the client
 * left): nano_chat_stream_feed then returns NANO_CHAT_STREAM_STOPPED.
 */
typedef int (*nano_chat_delta_cb)(void *ctx, const char *text, size_t len);

#define NANO_CHAT_STREAM_OK        0
#define NANO_CHAT_STREAM_ERROR    -1    /* err is set */
#define NANO_CHAT_STREAM_STOPPED  -2    /* the delta callback said stop */

/* A streamed answer being read: SSE events to chunks to deltas, the
 * whole text, finish reason and usage kept in result. */
typedef struct {
    nano_provider_t      provider;
    nano_sse_t           sse;
    nano_chat_result_t   result;
    nano_buf_t           text;
    nano_chat_delta_cb   cb;
    void                *ctx;
    nano_provider_error_t *err;
    int                  done;       /* [DONE] seen */
    int                  finished;   /* a finish_reason seen */
    int                  failed;
    int                  stopped;
    size_t               deltas;
    size_t               bytes;      /* fed so far */
} nano_chat_stream_t;

/* Prepares s; cb may be NULL (the text is only kept).  max_event as in
 * nano_sse_init. */
void nano_chat_stream_init(nano_chat_stream_t *s, nano_provider_t p,
    size_t max_event, nano_chat_delta_cb cb, void *ctx);

/* Frees what s holds; accepts NULL, may run twice. */
void nano_chat_stream_cleanup(nano_chat_stream_t *s);

/*
 * Feeds n bytes of the response body (any split).  Returns
 * NANO_CHAT_STREAM_OK, NANO_CHAT_STREAM_STOPPED, or
 * NANO_CHAT_STREAM_ERROR with err set (an error event, a chunk that is
 * not JSON: bad_response, an event over the size limit or an answer
 * over NANO_CHAT_TEXT_MAX: bad_response, finish_reason content_filter:
 * blocked); sticky.
 */
int nano_chat_stream_feed(nano_chat_stream_t *s, const char *p, size_t n,
    nano_provider_error_t *err);

/*
 * Called at the end of the body.  Returns 0 when the answer is complete
 * ([DONE] or a finish_reason seen): s->result then holds the whole text
 * (s->result.text, owned by s), the finish reason and usage.  Otherwise
 * -1 with err stream_cut (or the error that ended the stream).
 */
int nano_chat_stream_finish(nano_chat_stream_t *s,
    nano_provider_error_t *err);

/* 1 once any text arrived (then a failure is never retried). */
int nano_chat_stream_has_output(const nano_chat_stream_t *s);

#endif /* NANO_CHAT_H */
