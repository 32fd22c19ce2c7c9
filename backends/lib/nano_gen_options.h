/*
 * What POST /<m>/api/generate takes before anything is debited: the
 * prompt or messages, and the options that fit the module's kind.  Plain
 * checks on a parsed body, without a request or a database, so that the
 * unit tests and tests/fuzz/fuzz_options.c call them directly.  What is
 * accepted is canonical: the providers and the offline ones read it back
 * with the same meaning.
 */

#ifndef NANO_GEN_OPTIONS_H
#define NANO_GEN_OPTIONS_H

#include <jansson.h>

#include "nano_form.h"

#define NANO_GEN_PROMPT_MAX     8000    /* bytes */
#define NANO_GEN_MESSAGES_MAX   50
#define NANO_GEN_SEED_MAX       2147483647LL
#define NANO_GEN_MODEL_MAX      128     /* with the NUL */
#define NANO_GEN_KEY_MAX        255     /* an Idempotency-Key's bytes */
#define NANO_GEN_SIDE_MIN       256     /* an image's side, in pixels */
#define NANO_GEN_SIDE_MAX       4096
#define NANO_GEN_VIDEO_SECONDS  5       /* the one duration a video has */

/* Why options were refused: the field a 400 names and its message
 * (static, but a field the request should not have had names its key,
 * borrowed from the body or form). */
typedef struct {
    const char  *field;
    const char  *message;
} nano_gen_refusal_t;

/* What an image or video module's real provider can take.  It is
 * checked before the debit whichever provider runs, so that the answer
 * does not depend on the key (else charged, then dropped or failed): an
 * input image, an option it has no way to honour, and sizes narrower than
 * WxH 256..4096 and 1K, 2K, 4K (size_ok NULL: those), with the refusal's
 * message. */
typedef struct {
    int                 image_input;    /* it takes an image to edit */
    int                 no_size;        /* it refuses size */
    int                 no_ratio;       /* it refuses aspectRatio */
    int               (*size_ok)(const char *size, int *w, int *h);
    const char         *size_rule;
    const char         *default_size;   /* the real provider's, for the
                                         * offline one; NULL: 1024x1024 */
} nano_gen_rules_t;

/* An image or video module, as its options depend on it, and the names
 * of the request's file parts (a multipart body's, in order; borrowed). */
typedef struct {
    int                      video;     /* else images */
    const nano_gen_rules_t  *rules;
    const char *const       *files;
    size_t                   nfiles;
} nano_gen_job_kind_t;

/* An image or video request's checked fields (borrowed from the form). */
typedef struct {
    const char  *prompt;
    const char  *model;        /* NULL: the module's first */
    const char  *image_b64;    /* an input image as base64, or NULL */
} nano_gen_job_opts_t;

/* A text request's checked fields (borrowed from the body). */
typedef struct {
    int          stream;
    const char  *conversation;  /* NULL: a new conversation */
    long long    seed;          /* -1 when not given */
    const char  *model;         /* NULL: the module's first */
    const char  *prompt;        /* the last user turn */
    json_t      *messages;      /* the body's "messages", or NULL */
} nano_gen_text_opts_t;

/* 1 when s is a prompt we take: strict UTF-8, 1 to NANO_GEN_PROMPT_MAX
 * bytes, not only blanks. */
int nano_gen_prompt_ok(const char *s);

/* 1 when s is a conversation id as this API makes them (a lower-case
 * UUID). */
int nano_gen_uuid_ok(const char *s);

/* 1 when s is an Idempotency-Key we take: 1 to NANO_GEN_KEY_MAX bytes,
 * each visible ASCII (0x21 to 0x7e), as a header value can carry it
 * unchanged and a log line can show it. */
int nano_gen_key_ok(const char *s);

/* 1 when s is an image size we take: "WxH" in plain digits, each side
 * NANO_GEN_SIDE_MIN to NANO_GEN_SIDE_MAX, or "1K", "2K", "4K". */
int nano_gen_size_ok(const char *s);

/* The video size s names ("1280x720" as people write it, "1280*720" as
 * DashScope does), in DashScope's form, or NULL when it is not one a
 * generation may ask for (nano_wan_size_offered: one table with the
 * sizes Wan takes).  Static. */
const char *nano_gen_video_size(const char *s);

/*
 * Checks an image or video request's fields: first that it has no field
 * outside prompt, model, image, size, aspectRatio, seed and duration,
 * none twice, and no file but one called image (not beside an image
 * field), then in the order a person reads the form: prompt, size,
 * aspectRatio, seed, duration, image, model.
 * Sets params' "size", "aspectRatio", "seed" and "duration" (params
 * must be an empty object) and o.  0, or -1 with why set; -2 when out
 * of memory.
 */
int nano_gen_job_options(const nano_form_t *f, const nano_gen_job_kind_t *k,
    json_t *params, nano_gen_job_opts_t *o, nano_gen_refusal_t *why);

/*
 * Checks a text request's JSON object: no field outside those below,
 * then stream, conversationId, seed, the prompt or messages, not both
 * (each {"role": user|assistant|system, "content"}, with a user turn),
 * model.  0, or -1 with why set.
 */
int nano_gen_text_options(json_t *body, nano_gen_text_opts_t *o,
    nano_gen_refusal_t *why);

#endif /* NANO_GEN_OPTIONS_H */
