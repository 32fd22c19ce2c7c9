/*
 * libFuzzer harness for the checks of POST /<m>/api/generate's fields
 * (nano_gen_options) and for JSON bodies read as forms
 * (nano_form_from_json).  Input: one byte, then the body (copied to an
 * allocation of its exact size).  The byte's low 2 bits pick the mode:
 *   0  a form body (nano_form_parse), then the image and video checks;
 *   1  a JSON body read as a form with whole numbers, then the same;
 *   2  a JSON body, then the text checks;
 *   3  a JSON body read as a form without numbers (the platform's way).
 * Bits 2-6 say the module makes videos, takes an image to edit, got
 * an image file, makes the sizes Ark makes and no aspect ratio
 * (seedream), and takes no size (nano-banana's Gemini).  What a
 * check takes must be canonical: a size, ratio, seed or duration that
 * reads back to the same text, so that a provider or an offline one
 * cannot read it with another meaning.  A refusal names a field of the
 * body and keeps nothing.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_ark.h"
#include "nano_form.h"
#include "nano_gen_options.h"
#include "nano_strlist.h"
#include "nano_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TEXT_KEYS  64     /* a text body's keys kept for the check */
#define FUZZ_VIDEO    0x04
#define FUZZ_EDIT     0x08
#define FUZZ_UPLOAD   0x10
#define FUZZ_ARK      0x20
#define FUZZ_GEMINI   0x40

/* s is "<a><sep><b>" in plain digits that print back the same. */
static int
fuzz_pair(const char *s, char sep, int *a, int *b)
{
    char  x, back[64];

    if (sscanf(s, "%9d%c%9d", a, &x, b) != 3 || x != sep) {
        return 0;
    }
    snprintf(back, sizeof(back), "%d%c%d", *a, sep, *b);
    return strcmp(back, s) == 0;
}

/* given is kept as it is, or with 'x' for DashScope's '*'. */
static int
fuzz_same_size(const char *given, const char *kept)
{
    size_t  i;

    if (strlen(given) != strlen(kept)) {
        return 0;
    }
    for (i = 0; given[i] != '\0'; i++) {
        if (given[i] != kept[i] && !(given[i] == 'x' && kept[i] == '*')) {
            return 0;
        }
    }
    return 1;
}

/* A refusal's field: one the check knows, or a field the request should
 * not have had (its key, or a stand-in for a long one). */
static int
fuzz_refused_field(const char *field, const char *const *known,
    const char *const *keys, size_t nkeys)
{
    size_t  i;

    if (field == NULL) {
        return 0;
    }
    if (nano_strlist_has(known, field)) {
        return 1;
    }
    for (i = 0; i < nkeys; i++) {
        if (nano_strlist_has(known, keys[i])) {
            continue;
        }
        if (strcmp(field, keys[i]) == 0
            || (strlen(keys[i]) > 64
                && strcmp(field, "(a long field name)") == 0))
        {
            return 1;
        }
    }
    return 0;
}

/* A seed taken as text: digits only (leading zeros too), their value n,
 * within the range. */
static int
fuzz_seed_is(const char *digits, long long n)
{
    return n >= 0 && n <= NANO_GEN_SEED_MAX
           && digits[strspn(digits, "0123456789")] == '\0'
           && strtoll(digits, NULL, 10) == n;
}

static void
fuzz_job_taken(const nano_form_t *f, const nano_gen_job_kind_t *k,
    json_t *params, const nano_gen_job_opts_t *o)
{
    static const char *const  fields[] = {
        "size", "aspectRatio", "seed", "duration", NULL
    };
    static const char *const  known[] = {
        "prompt", "model", "image", "size", "aspectRatio", "seed",
        "duration", NULL
    };
    const char   *key, *given;
    json_t       *v;
    size_t        i;
    int           a, b;

    /* nothing outside what the check knows was taken, nor twice */
    for (i = 0; i < f->n; i++) {
        if (!nano_strlist_has(known, f->pairs[i].key)) {
            abort();
        }
    }
    if (nano_form_repeated(f) != NULL) {
        abort();
    }
    /* a JSON number or true/false is never taken as a text field */
    if (!nano_form_is_text(f, "prompt") || !nano_form_is_text(f, "model")
        || !nano_form_is_text(f, "image") || !nano_form_is_text(f, "size")
        || !nano_form_is_text(f, "aspectRatio"))
    {
        abort();
    }
    if (!nano_gen_prompt_ok(o->prompt)
        || o->prompt != nano_form_get(f, "prompt")
        || o->model != nano_form_get(f, "model")
        || o->image_b64 != nano_form_get(f, "image")
        || (o->model != NULL && strlen(o->model) >= NANO_GEN_MODEL_MAX)
        || ((o->image_b64 != NULL || k->nfiles > 0)
            && !k->rules->image_input)
        || (o->image_b64 != NULL && k->nfiles > 0)
        || (k->rules->no_size && json_object_get(params, "size") != NULL)
        || (k->rules->no_ratio
            && json_object_get(params, "aspectRatio") != NULL))
    {
        abort();
    }
    json_object_foreach(params, key, v) {
        if (!nano_strlist_has(fields, key)) {
            abort();
        }
    }

    given = nano_form_get(f, "size");
    v = json_object_get(params, "size");
    if ((given == NULL) != (v == NULL)) {
        abort();
    }
    if (v != NULL && k->video
        && (!fuzz_pair(json_string_value(v), '*', &a, &b)
            || a < 480 || b < 480 || a > 1920 || b > 1920
            || !fuzz_same_size(given, json_string_value(v))))
    {
        abort();
    }
    if (v != NULL && !k->video
        && strcmp(json_string_value(v), given) != 0)
    {
        abort();
    }
    if (v != NULL && !k->video && k->rules->size_ok != NULL
        && !nano_ark_size_valid(given, NULL, NULL))
    {
        abort();
    }
    if (v != NULL && !k->video && strcmp(given, "1K") != 0
        && strcmp(given, "2K") != 0 && strcmp(given, "4K") != 0
        && (!fuzz_pair(given, 'x', &a, &b)
            || a < NANO_GEN_SIDE_MIN || b < NANO_GEN_SIDE_MIN
            || a > NANO_GEN_SIDE_MAX || b > NANO_GEN_SIDE_MAX))
    {
        abort();
    }

    given = nano_form_get(f, "aspectRatio");
    v = json_object_get(params, "aspectRatio");
    if ((given == NULL) != (v == NULL)
        || (v != NULL && (k->video || strcmp(json_string_value(v), given) != 0
                          || !fuzz_pair(given, ':', &a, &b))))
    {
        abort();
    }

    given = nano_form_get(f, "seed");
    v = json_object_get(params, "seed");
    if ((given == NULL) != (v == NULL)) {
        abort();
    }
    if (v != NULL && (!json_is_integer(v)
                      || !fuzz_seed_is(given, json_integer_value(v))))
    {
        abort();
    }

    given = nano_form_get(f, "duration");
    v = json_object_get(params, "duration");
    if ((v != NULL) != k->video
        || (v != NULL && json_integer_value(v) != 5)
        || (given != NULL && strcmp(given, "5") != 0))
    {
        abort();
    }
}

static void
fuzz_job(const nano_form_t *f, unsigned mode)
{
    static const char *const  fields[] = {
        "prompt", "size", "aspectRatio", "seed", "duration", "image",
        "model", NULL
    };
    static const char *const  image_file[] = { "image", NULL };
    nano_gen_job_kind_t  k;
    nano_gen_rules_t     r;
    nano_gen_job_opts_t  o;
    nano_gen_refusal_t   why = { NULL, NULL };
    json_t              *params = json_object();
    const char         **keys;
    size_t               i;
    int                  rc;

    if (params == NULL) {
        return;
    }
    keys = calloc(f->n + 1, sizeof(*keys));
    if (keys == NULL) {
        json_decref(params);
        return;
    }
    for (i = 0; i < f->n; i++) {
        keys[i] = f->pairs[i].key;
    }
    memset(&r, 0, sizeof(r));
    r.image_input = (mode & FUZZ_EDIT) != 0;
    r.no_size = (mode & FUZZ_GEMINI) != 0;
    r.no_ratio = (mode & FUZZ_ARK) != 0;
    r.size_ok = (mode & FUZZ_ARK) != 0 ? nano_ark_size_valid : NULL;
    k.video = (mode & FUZZ_VIDEO) != 0;
    k.rules = &r;
    k.files = image_file;
    k.nfiles = (mode & FUZZ_UPLOAD) != 0;
    rc = nano_gen_job_options(f, &k, params, &o, &why);
    if (rc == 0) {
        fuzz_job_taken(f, &k, params, &o);
    } else if (rc == -1) {
        if (!fuzz_refused_field(why.field, fields, keys, f->n)
            || why.message == NULL || why.message[0] == '\0'
            || json_object_size(params) != 0)
        {
            abort();
        }
    } else if (rc != -2) {
        abort();
    }
    free(keys);
    json_decref(params);
}

static void
fuzz_text(json_t *body)
{
    static const char *const  fields[] = {
        "conversationId", "seed", "messages", "prompt", "model", "stream",
        NULL
    };
    static const char *const  roles[] = {
        "user", "assistant", "system", NULL
    };
    nano_gen_text_opts_t  o;
    nano_gen_refusal_t    why = { NULL, NULL };
    const char           *last = NULL, *role, *content, *key;
    const char           *keys[FUZZ_TEXT_KEYS];
    json_t               *m, *stream, *model, *seed, *v;
    size_t                i, nkeys = 0;

    json_object_foreach(body, key, v) {
        if (nkeys < FUZZ_TEXT_KEYS) {
            keys[nkeys++] = key;
        }
    }
    if (nano_gen_text_options(body, &o, &why) != 0) {
        if ((!fuzz_refused_field(why.field, fields, keys, nkeys)
             && nkeys < FUZZ_TEXT_KEYS)
            || why.message == NULL || why.message[0] == '\0')
        {
            abort();
        }
        return;
    }
    /* taken: nothing outside what the check knows */
    json_object_foreach(body, key, v) {
        if (!nano_strlist_has(fields, key)) {
            abort();
        }
    }
    /* taken: stream is true, false or absent (null counts as absent),
     * and a model is text */
    stream = json_object_get(body, "stream");
    model = json_object_get(body, "model");
    seed = json_object_get(body, "seed");
    if ((stream != NULL && !json_is_boolean(stream) && !json_is_null(stream))
        || (model != NULL && !json_is_null(model) && !json_is_string(model))
        || (o.model != NULL && o.model != json_string_value(model)))
    {
        abort();
    }
    if (!nano_gen_prompt_ok(o.prompt)
        || o.stream != json_is_true(stream)
        /* a seed: none (absent, null), a number, or its digits */
        || (seed == NULL || json_is_null(seed) ? o.seed != -1
            : json_is_integer(seed) ? o.seed != json_integer_value(seed)
                                      || o.seed < 0
                                      || o.seed > NANO_GEN_SEED_MAX
            : !json_is_string(seed)
              || !fuzz_seed_is(json_string_value(seed), o.seed))
        || (o.model != NULL && strlen(o.model) >= NANO_GEN_MODEL_MAX)
        || (o.conversation == NULL)
           != (json_object_get(body, "conversationId") == NULL)
        || (o.conversation != NULL && !nano_gen_uuid_ok(o.conversation)))
    {
        abort();
    }
    if (o.conversation != NULL
        && strspn(o.conversation, "0123456789abcdef-") != 36)
    {
        abort();
    }
    if (o.messages == NULL) {
        if (json_object_get(body, "messages") != NULL
            || o.prompt != json_string_value(json_object_get(body, "prompt")))
        {
            abort();
        }
        return;
    }
    if (o.messages != json_object_get(body, "messages")
        || json_object_get(body, "prompt") != NULL
        || json_array_size(o.messages) < 1
        || json_array_size(o.messages) > NANO_GEN_MESSAGES_MAX)
    {
        abort();
    }
    json_array_foreach(o.messages, i, m) {
        role = json_string_value(json_object_get(m, "role"));
        content = json_string_value(json_object_get(m, "content"));
        if (role == NULL || !nano_strlist_has(roles, role)
            || !nano_gen_prompt_ok(content))
        {
            abort();
        }
        if (strcmp(role, "user") == 0) {
            last = content;
        }
    }
    if (o.prompt != last) {
        abort();
    }
}

/* Every pair is a member of the object, as its text. */
static void
fuzz_json_form(const nano_form_t *f, nano_form_status_t st, json_t *body,
    int numbers)
{
    json_t      *v;
    const char  *want;
    char         num[32];
    size_t       i;

    if (st != NANO_FORM_OK && st != NANO_FORM_INVALID
        && st != NANO_FORM_NOMEM)
    {
        abort();
    }
    if (st != NANO_FORM_OK) {
        return;
    }
    if (f->n > NANO_FORM_PAIRS_MAX || f->n > json_object_size(body)) {
        abort();
    }
    for (i = 0; i < f->n; i++) {
        v = json_object_get(body, f->pairs[i].key);
        if (json_is_string(v)) {
            want = json_string_value(v);
        } else if (json_is_boolean(v)) {
            want = json_is_true(v) ? "true" : "false";
        } else if (numbers && json_is_integer(v)) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
            want = num;
        } else {
            abort();
        }
        if (strcmp(f->pairs[i].value, want) != 0
            || f->pairs[i].not_text != !json_is_string(v)
            || !nano_utf8_valid(f->pairs[i].key)
            || !nano_utf8_valid(f->pairs[i].value))
        {
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nano_form_t          f;
    nano_form_status_t   st;
    json_t              *body = NULL;
    unsigned             mode;
    char                *buf;

    if (size < 1) {
        return 0;
    }
    mode = data[0];
    size--;
    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data + 1, size);
    nano_form_init(&f);

    if ((mode & 3) == 0) {
        /* a pair left out for its UTF-8 is refused by the handler */
        if (nano_form_parse(&f, buf, size) == NANO_FORM_OK) {
            fuzz_job(&f, mode);
        }
        goto done;
    }
    /* as nano_req_json reads a body */
    body = json_loadb(buf, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(body)) {
        goto done;
    }
    if ((mode & 3) == 2) {
        fuzz_text(body);
        goto done;
    }
    st = nano_form_from_json(&f, body, (mode & 3) == 1);
    fuzz_json_form(&f, st, body, (mode & 3) == 1);
    if (st == NANO_FORM_OK && (mode & 3) == 1) {
        fuzz_job(&f, mode);
    }

done:
    json_decref(body);
    nano_form_cleanup(&f);
    free(buf);
    return 0;
}
