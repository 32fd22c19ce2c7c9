/*
 * The offline text provider: a short reply that says it comes from an
 * offline model, made of words from a built-in vocabulary chosen by a
 * PRNG seeded from prompt, model and seed (the same inputs always give
 * the same reply), handed out one token at a time with the pause to
 * leave before each (about 20 tokens a second), so the caller streams it
 * at a human pace.
 */

#ifndef NANO_OFFLINE_TEXT_H
#define NANO_OFFLINE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define NANO_OFFLINE_TEXT_MAX_TOKENS  120    /* at most, per reply */

typedef struct {
    char      *text;       /* the whole reply, owned */
    size_t     len;
    size_t     pos;        /* where the next token starts */
    unsigned   tokens;     /* handed out so far */
    unsigned   total;      /* tokens in the reply */
    long       prompt_tokens;
    uint64_t   rng;        /* for the pauses */
} nano_offline_text_t;

/*
 * Composes the reply for prompt (the last user message; may be NULL),
 * model (may be NULL) and seed (< 0: none).  0, or -1 when out of
 * memory (t is then empty, and cleanup is still safe).
 */
int nano_offline_text_init(nano_offline_text_t *t, const char *prompt,
    const char *model, long long seed);

/* Frees t's text; accepts NULL, may run twice. */
void nano_offline_text_cleanup(nano_offline_text_t *t);

/*
 * The next token: *tok (borrowed from t, not NUL-terminated) and *len,
 * a word with its leading space and trailing punctuation, and *delay_ms
 * (35 … 65), how long to wait before sending it.  Returns 1, or 0 at the
 * end of the reply.
 */
int nano_offline_text_next(nano_offline_text_t *t, const char **tok,
    size_t *len, int *delay_ms);

/* The whole reply (borrowed), e.g. for a non-streaming answer. */
const char *nano_offline_text_full(const nano_offline_text_t *t);

/* Usage as a chat provider reports it: words in the prompt, tokens in
 * the reply. */
void nano_offline_text_usage(const nano_offline_text_t *t,
    long *prompt_tokens, long *completion_tokens);

#endif /* NANO_OFFLINE_TEXT_H */
