/*
 * The checks of POST /<m>/api/generate's fields (nano_gen_options.h).
 * Numbers are plain digits (nano_form_digits), not sscanf or strtol:
 * those skip blanks and take signs, so " 256x+256" would pass here and mean
 * something else, or nothing, to the provider.
 */

#include <string.h>

#include "nano_gen_options.h"
#include "nano_rand.h"
#include "nano_strlist.h"
#include "nano_utf8.h"
#include "nano_wan.h"

static const char *const  nano_gen_ratios[] = {
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
    NULL
};

/* The fields whose JSON value must be a string (a seed or a duration
 * may be a number): {"prompt": 123} is not a prompt. */
static const char *const  nano_gen_text_fields[] = {
    "prompt", "model", "size", "aspectRatio", "image", NULL
};

/* What each kind of request takes.  Anything else is refused instead of
 * left out, so that a misspelt option ("aspect_ratio") never gives a
 * charged generation without it.  An image or video request's fields
 * that fit only the other kind have their own refusals below. */
static const char *const  nano_gen_job_fields[] = {
    "prompt", "model", "image", "size", "aspectRatio", "seed", "duration",
    NULL
};
static const char *const  nano_gen_text_body_fields[] = {
    "prompt", "messages", "stream", "conversationId", "seed", "model", NULL
};

/* A field named back in a refusal: longer names are not repeated. */
#define NANO_GEN_FIELD_NAME_MAX  64

static int
nano_gen_refuse(nano_gen_refusal_t *why, const char *field,
    const char *message)
{
    why->field = field;
    why->message = message;
    return -1;
}

static int
nano_gen_refuse_unknown(nano_gen_refusal_t *why, const char *field,
    const char *message)
{
    return nano_gen_refuse(why, strlen(field) <= NANO_GEN_FIELD_NAME_MAX
                                ? field : "(a long field name)", message);
}

int
nano_gen_prompt_ok(const char *s)
{
    const char  *p;

    if (s == NULL || strlen(s) > NANO_GEN_PROMPT_MAX || !nano_utf8_valid(s)) {
        return 0;
    }
    for (p = s; *p != '\0'; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            return 1;
        }
    }
    return 0;
}

int
nano_gen_uuid_ok(const char *s)
{
    size_t  i;

    if (s == NULL || strlen(s) != NANO_RAND_UUID_LEN) {
        return 0;
    }
    for (i = 0; i < NANO_RAND_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }
        } else if (strchr("0123456789abcdef", s[i]) == NULL) {
            return 0;
        }
    }
    return 1;
}

int
nano_gen_key_ok(const char *s)
{
    size_t  i;

    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    for (i = 0; s[i] != '\0'; i++) {
        if (i == NANO_GEN_KEY_MAX || s[i] < 0x21 || s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

int
nano_gen_size_ok(const char *s)
{
    long long  w, h;

    if (strcmp(s, "1K") == 0 || strcmp(s, "2K") == 0 || strcmp(s, "4K") == 0)
    {
        return 1;
    }
    /* no leading zero: "0512" would read as 512 here, not everywhere */
    if (*s == '0' || nano_form_digits(&s, NANO_GEN_SIDE_MAX, &w) != 0
        || *s++ != 'x'
        || *s == '0' || nano_form_digits(&s, NANO_GEN_SIDE_MAX, &h) != 0
        || *s != '\0')
    {
        return 0;
    }
    return w >= NANO_GEN_SIDE_MIN && h >= NANO_GEN_SIDE_MIN;
}

const char *
nano_gen_video_size(const char *s)
{
    /* nano_wan's table: the sizes offered are among those Wan takes */
    return nano_wan_size_offered(s);
}

/* A seed (or a duration) as plain digits, leading zeros allowed, as a
 * seed's "07" is 7: 0 to NANO_GEN_SEED_MAX.  0, or -1. */
static int
nano_gen_seed(const char *s, long long *n)
{
    return nano_form_digits(&s, NANO_GEN_SEED_MAX, n) == 0 && *s == '\0'
           ? 0 : -1;
}

static int
nano_gen_model_ok(const char *model)
{
    return model == NULL || strlen(model) < NANO_GEN_MODEL_MAX;
}

/* The request's files: one called image at most, and not beside an
 * image field.  Any other file was dropped, and an edit made a plain
 * generation, charged. */
static int
nano_gen_job_files(const nano_form_t *f, const nano_gen_job_kind_t *k,
    nano_gen_refusal_t *why)
{
    size_t  i;

    for (i = 0; i < k->nfiles; i++) {
        if (strcmp(k->files[i], "image") != 0) {
            return nano_gen_refuse_unknown(why, k->files[i],
                                           k->rules->image_input
                                           ? "the one file taken is the"
                                             " image to edit, called image"
                                           : "this module takes no file");
        }
        if (i > 0) {
            return nano_gen_refuse(why, "image", "send one image");
        }
    }
    if (k->nfiles > 0 && nano_form_get(f, "image") != NULL) {
        return nano_gen_refuse(why, "image", "send the image as a file or"
                               " as base64, not both");
    }
    return 0;
}

int
nano_gen_job_options(const nano_form_t *f, const nano_gen_job_kind_t *k,
    json_t *params, nano_gen_job_opts_t *o, nano_gen_refusal_t *why)
{
    const nano_gen_rules_t  *r = k->rules;
    const char              *size, *ratio, *seed, *duration, *twice;
    const char *const       *t;
    long long                n = 0, secs;
    size_t                   i;
    int                      rc = 0;

    o->prompt = nano_form_get(f, "prompt");
    o->model = nano_form_get(f, "model");
    o->image_b64 = nano_form_get(f, "image");
    size = nano_form_get(f, "size");
    ratio = nano_form_get(f, "aspectRatio");
    seed = nano_form_get(f, "seed");
    duration = nano_form_get(f, "duration");

    for (i = 0; i < f->n; i++) {
        if (!nano_strlist_has(nano_gen_job_fields, f->pairs[i].key)) {
            return nano_gen_refuse_unknown(why, f->pairs[i].key,
                                           k->video
                                           ? "not an option of a video:"
                                             " prompt, model, size, seed,"
                                             " duration"
                                           : "not an option of an image:"
                                             " prompt, model, size,"
                                             " aspectRatio, seed, image");
        }
    }
    /* JSON refuses a key twice; a form or multipart body took the
     * first value, which a client may not have meant */
    twice = nano_form_repeated(f);
    if (twice != NULL) {
        return nano_gen_refuse(why, twice, "this field is given more than"
                               " once");
    }
    if (nano_gen_job_files(f, k, why) != 0) {
        return -1;
    }
    for (t = nano_gen_text_fields; *t != NULL; t++) {
        if (!nano_form_is_text(f, *t)) {
            return nano_gen_refuse(why, *t, "this field must be a string");
        }
    }
    if (!nano_gen_prompt_ok(o->prompt)) {
        return nano_gen_refuse(why, "prompt", "a prompt of 1 to 8000 bytes"
                               " of text is required");
    }
    if (size != NULL && r->no_size) {
        return nano_gen_refuse(why, "size", "this module's model takes no"
                               " size: give aspectRatio");
    }
    if (ratio != NULL && (r->no_ratio || k->video)) {
        /* the list of ratios would name the very value sent */
        return nano_gen_refuse(why, "aspectRatio", "this module's model"
                               " takes no aspect ratio: give size");
    }
    if (size != NULL && k->video) {
        size = nano_gen_video_size(size);
        if (size == NULL) {
            return nano_gen_refuse(why, "size",
                                   nano_wan_sizes_offered_rule());
        }
    } else if (size != NULL
               && (!nano_gen_size_ok(size)
                   || (r->size_ok != NULL && !r->size_ok(size, NULL, NULL))))
    {
        return nano_gen_refuse(why, "size", r->size_rule != NULL
                                            ? r->size_rule
                                            : "size must be WIDTHxHEIGHT"
                                              " (256 to 4096) or 1K, 2K,"
                                              " 4K");
    }
    if (ratio != NULL && !nano_strlist_has(nano_gen_ratios, ratio)) {
        return nano_gen_refuse(why, "aspectRatio", "aspectRatio must be one"
                               " of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16,"
                               " 16:9, 21:9");
    }
    if (seed != NULL && nano_gen_seed(seed, &n) != 0) {
        return nano_gen_refuse(why, "seed", "seed must be a whole number"
                               " from 0 to 2147483647");
    }
    if (duration != NULL
        && (!k->video || nano_gen_seed(duration, &secs) != 0
            || secs != NANO_GEN_VIDEO_SECONDS))
    {
        return nano_gen_refuse(why, "duration", "videos here are 5 seconds");
    }
    if ((o->image_b64 != NULL || k->nfiles > 0) && !r->image_input) {
        return nano_gen_refuse(why, "image", "this module does not take an"
                               " input image");
    }
    if (!nano_gen_model_ok(o->model)) {
        return nano_gen_refuse(why, "model", "no such model here");
    }

    if (size != NULL) {
        rc |= json_object_set_new(params, "size", json_string(size));
    }
    if (ratio != NULL) {
        rc |= json_object_set_new(params, "aspectRatio", json_string(ratio));
    }
    if (seed != NULL) {
        rc |= json_object_set_new(params, "seed", json_integer(n));
    }
    if (k->video) {
        rc |= json_object_set_new(params, "duration",
                                  json_integer(NANO_GEN_VIDEO_SECONDS));
    }
    return rc == 0 ? 0 : -2;
}

/* The body's messages: 1 to NANO_GEN_MESSAGES_MAX turns with a role we
 * know and a prompt's text; the last user turn goes to o->prompt. */
static int
nano_gen_messages_ok(json_t *given, nano_gen_text_opts_t *o,
    nano_gen_refusal_t *why)
{
    json_t      *m;
    const char  *r;
    size_t       i;

    if (!json_is_array(given) || json_array_size(given) == 0
        || json_array_size(given) > NANO_GEN_MESSAGES_MAX)
    {
        return nano_gen_refuse(why, "messages", "messages must be a list of"
                               " 1 to 50 {\"role\",\"content\"}");
    }
    o->prompt = NULL;
    json_array_foreach(given, i, m) {
        r = json_string_value(json_object_get(m, "role"));
        if (r == NULL || (strcmp(r, "user") != 0
                          && strcmp(r, "assistant") != 0
                          && strcmp(r, "system") != 0)
            || !nano_gen_prompt_ok(json_string_value(json_object_get(
                                       m, "content"))))
        {
            return nano_gen_refuse(why, "messages", "each message needs a"
                                   " role (user, assistant or system) and"
                                   " a content of 1 to 8000 bytes of"
                                   " text");
        }
        /* anything beside them (OpenAI's "name") would be charged and
         * then dropped, as an unknown top-level field would */
        if (json_object_size(m) != 2) {
            return nano_gen_refuse(why, "messages", "a message holds its"
                                   " role and content and nothing else");
        }
        if (strcmp(r, "user") == 0) {
            o->prompt = json_string_value(json_object_get(m, "content"));
        }
    }
    if (o->prompt == NULL) {
        return nano_gen_refuse(why, "messages", "the messages need a user"
                               " message");
    }
    o->messages = given;
    return 0;
}

int
nano_gen_text_options(json_t *body, nano_gen_text_opts_t *o,
    nano_gen_refusal_t *why)
{
    json_t      *conv, *seed, *given, *stream, *model, *v;
    const char  *key;

    memset(o, 0, sizeof(*o));
    json_object_foreach(body, key, v) {
        if (!nano_strlist_has(nano_gen_text_body_fields, key)) {
            return nano_gen_refuse_unknown(why, key, "not an option of a"
                                           " text generation: prompt or"
                                           " messages, stream,"
                                           " conversationId, seed, model");
        }
    }
    stream = json_object_get(body, "stream");
    if (stream != NULL && !json_is_boolean(stream) && !json_is_null(stream)) {
        return nano_gen_refuse(why, "stream", "stream must be true or"
                               " false");
    }
    o->stream = json_is_true(stream);
    conv = json_object_get(body, "conversationId");
    if (conv != NULL) {
        o->conversation = json_string_value(conv);
        if (!nano_gen_uuid_ok(o->conversation)) {
            return nano_gen_refuse(why, "conversationId", "that is not a"
                                   " conversation id this API gave");
        }
    }
    /* as an image or video request takes it: a number, its digits, or
     * null for none */
    o->seed = -1;
    seed = json_object_get(body, "seed");
    if (json_is_integer(seed) && json_integer_value(seed) >= 0
        && json_integer_value(seed) <= NANO_GEN_SEED_MAX)
    {
        o->seed = json_integer_value(seed);
    } else if (seed != NULL && !json_is_null(seed)
               && (!json_is_string(seed)
                   || nano_gen_seed(json_string_value(seed), &o->seed) != 0))
    {
        return nano_gen_refuse(why, "seed", "seed must be a whole number"
                               " from 0 to 2147483647");
    }
    given = json_object_get(body, "messages");
    if (given != NULL && json_object_get(body, "prompt") != NULL) {
        /* the prompt was dropped unread: which one was meant? */
        return nano_gen_refuse(why, "prompt", "send a prompt or messages,"
                               " not both");
    }
    if (given != NULL) {
        if (nano_gen_messages_ok(given, o, why) != 0) {
            return -1;
        }
    } else {
        o->prompt = json_string_value(json_object_get(body, "prompt"));
        if (!nano_gen_prompt_ok(o->prompt)) {
            return nano_gen_refuse(why, "prompt", "a prompt of 1 to 8000"
                                   " bytes of text is required");
        }
    }
    model = json_object_get(body, "model");
    o->model = json_string_value(model);
    if (model != NULL && !json_is_null(model) && o->model == NULL) {
        return nano_gen_refuse(why, "model", "model must be a string, one"
                               " of the ids GET api/models lists");
    }
    if (!nano_gen_model_ok(o->model)) {
        return nano_gen_refuse(why, "model", "no such model here");
    }
    return 0;
}
