/*
 * Text generation as a module's request worker runs it: one blocking
 * call that hands each piece of text to the caller as it arrives (the
 * caller streams it to its client).  Real providers (the OpenAI-
 * compatible chat client) and the offline one implement it.
 */

#ifndef NANO_TEXTGEN_H
#define NANO_TEXTGEN_H

#include <stddef.h>

#include <jansson.h>

#include "nano_buf.h"

/* A piece of text arrived; returns -1 when the client is gone (the call
 * then stops). */
typedef int (*nano_textgen_delta_fn)(const char *text, size_t len,
    void *arg);

/* Called every few seconds while nothing arrives; -1 stops the call. */
typedef int (*nano_textgen_idle_fn)(void *arg);

typedef struct {
    const char             *model;
    json_t                 *messages;   /* [{"role","content"}], borrowed */
    long long               seed;
    int                     stream;     /* the caller streams to a client */
    /* the whole call's time, tries and waits between them included; 0:
     * a streamed answer's (five minutes) */
    long                    timeout_ms;
    nano_textgen_delta_fn   on_delta;
    nano_textgen_idle_fn    on_idle;
    /* a provider that waits on a socket also watches watch_fd and calls
     * on_watch when it is readable (nano_client_call_t's watch; 0 to go
     * on watching, 1 to stop, -1 to stop the call); others ignore it */
    int                     watch_fd;
    int                   (*on_watch)(void *arg);
    void                   *arg;
} nano_textgen_req_t;

typedef struct {
    nano_buf_t   text;               /* everything that arrived */
    long long    prompt_tokens;
    long long    completion_tokens;
    int          client_gone;        /* on_delta/on_idle said stop */
    int          output;             /* any text arrived */
    char         error_code[32];     /* docs/MODULES.md codes, "" when ok */
    char         error_message[256];
} nano_textgen_res_t;

typedef struct {
    const char  *name;               /* "openai-compatible", "offline-text" */
    int          offline;
    /* Returns 0 when the answer is complete, -1 otherwise (error_code set,
     * or client_gone). */
    int        (*generate)(const nano_textgen_req_t *req,
                           nano_textgen_res_t *res);
} nano_textgen_provider_t;

/* The providers: qwen (DashScope compatible mode), grok (xAI), openai,
 * each over nano_chat; and the offline one (nano_offline_text). */
extern const nano_textgen_provider_t  nano_textgen_dashscope;
extern const nano_textgen_provider_t  nano_textgen_xai;
extern const nano_textgen_provider_t  nano_textgen_openai;
extern const nano_textgen_provider_t  nano_textgen_offline;

void nano_textgen_res_init(nano_textgen_res_t *res);
void nano_textgen_res_cleanup(nano_textgen_res_t *res);

#endif /* NANO_TEXTGEN_H */
