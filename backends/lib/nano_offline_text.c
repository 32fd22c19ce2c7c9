/*
 * Offline text: a deterministic, plausible short reply, token by token.
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nano_buf.h"
#include "nano_offline.h"
#include "nano_offline_text.h"

#define NANO_OFFLINE_WORD_MAX  24

static const char  *nano_offline_openers[] = {
    "Here is a sketch of an answer.",
    "Let me think about that.",
    "Good question.",
    "A short answer follows.",
};

static const char  *nano_offline_subjects[] = {
    "a careful plan", "the first step", "a small experiment", "the idea",
    "a simple model", "the main question", "a clear example", "the outline",
    "a quiet morning", "the next draft", "a useful habit", "the big picture",
};

static const char  *nano_offline_verbs[] = {
    "starts with", "depends on", "leads to", "benefits from", "points to",
    "grows out of", "makes room for", "rests on", "connects to",
    "invites",
};

static const char  *nano_offline_objects[] = {
    "a few good notes", "honest feedback", "patient practice",
    "a second look", "simple tools", "clear goals", "steady progress",
    "small changes", "fresh questions", "the right timing",
    "shared examples", "some curiosity",
};

static const char  *nano_offline_tails[] = {
    "over time", "in practice", "for most people", "at every step",
    "more than expected", "in the end", "when it matters",
};

/* Words too common to name a topic. */
static const char  *nano_offline_stop[] = {
    "about", "please", "write", "could", "would", "should", "there",
    "their", "which", "where", "these", "those", "tell", "with", "what",
    "that", "this", "from", "have", "your", "make", "give", "explain",
    "describe", "into", "some", "when", "them", "then", "than", "will",
};

static int
nano_offline_stopword(const char *w)
{
    size_t  i;

    for (i = 0; i < sizeof(nano_offline_stop) / sizeof(*nano_offline_stop);
         i++)
    {
        if (strcasecmp(w, nano_offline_stop[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *
nano_offline_pick(uint64_t *st, const char **list, size_t n)
{
    return list[nano_offline_rand_below(st, (uint32_t) n)];
}

#define NANO_PICK(st, list) \
    nano_offline_pick(st, list, sizeof(list) / sizeof(*(list)))

/* Appends up to three words of the prompt (whole words of 4 to
 * NANO_OFFLINE_WORD_MAX bytes, letters and digits, common words left
 * out). */
static void
nano_offline_topic(nano_buf_t *b, const char *prompt)
{
    char         word[NANO_OFFLINE_WORD_MAX + 1];
    const char  *p = prompt;
    size_t       n, k;
    int          taken = 0;

    while (p != NULL && *p != '\0' && taken < 3) {
        while (*p != '\0' && isspace((unsigned char) *p)) {
            p++;
        }
        for (n = 0; p[n] != '\0' && !isspace((unsigned char) p[n]); n++) {
            /* measure */
        }
        if (n >= 4 && n <= NANO_OFFLINE_WORD_MAX) {
            for (k = 0; k < n && (isalnum((unsigned char) p[k])
                                  || (unsigned char) p[k] >= 0x80
                                  || p[k] == '-' || p[k] == '\''); k++)
            {
                word[k] = p[k];
            }
            word[k] = '\0';
            /* trailing punctuation ends the word; other marks skip it */
            if (k >= 4 && (k == n || ispunct((unsigned char) p[k]))
                && !nano_offline_stopword(word))
            {
                nano_buf_printf(b, "%s%s", taken ? ", " : "", word);
                taken++;
            }
        }
        p += n;
    }
}

int
nano_offline_text_init(nano_offline_text_t *t, const char *prompt,
    const char *model, long long seed)
{
    nano_buf_t   b;
    uint64_t     st;
    unsigned     sentences, i, words = 0;
    const char  *s;
    size_t       before;

    memset(t, 0, sizeof(*t));
    st = nano_offline_seed(prompt, model, seed);
    t->rng = st ^ 0x5deece66dULL;
    nano_buf_init(&b);

    nano_buf_printf(&b, "%s This is an offline reply from %s: no provider "
                    "key is set, so no real model was asked.",
                    NANO_PICK(&st, nano_offline_openers),
                    model && *model ? model : "the offline model");
    before = b.len;
    nano_buf_puts(&b, " You wrote about ");
    nano_offline_topic(&b, prompt);
    if (b.len == before + strlen(" You wrote about ")) {
        b.len = before;          /* nothing usable: drop the clause */
        if (b.data) {
            b.data[b.len] = '\0';
        }
    } else {
        nano_buf_puts(&b, ".");
    }
    sentences = 2 + nano_offline_rand_below(&st, 3);
    for (i = 0; i < sentences; i++) {
        s = NANO_PICK(&st, nano_offline_subjects);
        nano_buf_printf(&b, " %c%s %s %s %s.", toupper((unsigned char) s[0]),
                        s + 1, NANO_PICK(&st, nano_offline_verbs),
                        NANO_PICK(&st, nano_offline_objects),
                        NANO_PICK(&st, nano_offline_tails));
    }
    nano_buf_puts(&b, " Set a provider key to get a real answer.");
    if (b.failed) {
        nano_buf_cleanup(&b);
        return -1;
    }
    t->len = b.len;
    t->text = nano_buf_steal(&b);

    /* count tokens: a token is a run of spaces followed by a word */
    for (i = 0, s = t->text; *s; s++) {
        if (!isspace((unsigned char) *s)
            && (s == t->text || isspace((unsigned char) s[-1])))
        {
            i++;
        }
    }
    t->total = i;
    for (s = prompt; s != NULL && *s; s++) {
        if (!isspace((unsigned char) *s)
            && (s == prompt || isspace((unsigned char) s[-1])))
        {
            words++;
        }
    }
    t->prompt_tokens = words;
    /* the bound: cut the text after NANO_OFFLINE_TEXT_MAX_TOKENS */
    if (t->total > NANO_OFFLINE_TEXT_MAX_TOKENS) {
        for (i = 0, s = t->text; *s; s++) {
            if (!isspace((unsigned char) *s)
                && (s == t->text || isspace((unsigned char) s[-1]))
                && ++i > NANO_OFFLINE_TEXT_MAX_TOKENS)
            {
                break;
            }
        }
        t->len = (size_t) (s - t->text);
        while (t->len > 0 && isspace((unsigned char) t->text[t->len - 1])) {
            t->len--;
        }
        t->text[t->len] = '\0';
        t->total = NANO_OFFLINE_TEXT_MAX_TOKENS;
    }
    return 0;
}

void
nano_offline_text_cleanup(nano_offline_text_t *t)
{
    if (t == NULL) {
        return;
    }
    free(t->text);
    memset(t, 0, sizeof(*t));
}

int
nano_offline_text_next(nano_offline_text_t *t, const char **tok,
    size_t *len, int *delay_ms)
{
    size_t  start = t->pos, end;

    if (t->text == NULL || start >= t->len) {
        return 0;
    }
    end = start;
    while (end < t->len && isspace((unsigned char) t->text[end])) {
        end++;
    }
    while (end < t->len && !isspace((unsigned char) t->text[end])) {
        end++;
    }
    *tok = t->text + start;
    *len = end - start;
    *delay_ms = 35 + (int) nano_offline_rand_below(&t->rng, 31);
    t->pos = end;
    t->tokens++;
    return 1;
}

const char *
nano_offline_text_full(const nano_offline_text_t *t)
{
    return t->text ? t->text : "";
}

void
nano_offline_text_usage(const nano_offline_text_t *t, long *prompt_tokens,
    long *completion_tokens)
{
    if (prompt_tokens != NULL) {
        *prompt_tokens = t->prompt_tokens;
    }
    if (completion_tokens != NULL) {
        *completion_tokens = t->total;
    }
}
