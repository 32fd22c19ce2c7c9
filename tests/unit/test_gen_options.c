/*
 * Unit tests for the checks of POST /<m>/api/generate's fields
 * (nano_gen_options) and for JSON bodies read as forms
 * (nano_form_from_json): what is taken comes out canonical, and every
 * refusal names its field.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_ark.h"
#include "nano_form.h"
#include "nano_gen_options.h"
#include "nano_strlist.h"

/* The body as a form, as nano_req_fields reads a JSON body. */
static void
form_of(const char *body, nano_form_t *f)
{
    json_t  *root = json_loads(body, 0, NULL);

    assert_non_null(root);
    nano_form_init(f);
    assert_int_equal(nano_form_from_json(f, root, 1), NANO_FORM_OK);
    json_decref(root);
}

/* model names of 127 and 128 bytes (NANO_GEN_MODEL_MAX with the NUL) */
#define M8    "mmmmmmmm"
#define M64   M8 M8 M8 M8 M8 M8 M8 M8
#define M127  M64 M8 M8 M8 M8 M8 M8 M8 "mmmmmmm"
#define M128  M127 "m"

/* ---- image and video options ------------------------------------------- */

#define IMAGE       0
#define EDIT        1    /* an image module that takes an input image */
#define VIDEO       2
#define UPLOAD      4    /* a file called image came with the request */
#define ARK         8    /* seedream: the sizes Ark makes, no ratio */
#define GEMINI      16   /* nano-banana: an aspect ratio, no size */

typedef struct {
    const char  *name;
    unsigned     kind;
    const char  *body;
    const char  *field;     /* the field refused, or NULL */
    const char  *params;    /* what is kept, sorted, compact */
} job_case_t;

/* The kind k of a case, its rules in r (its files borrowed from a
 * static list). */
static void
job_kind_of(unsigned kind, nano_gen_job_kind_t *k, nano_gen_rules_t *r)
{
    static const char *const  image_file[] = { "image", NULL };

    memset(k, 0, sizeof(*k));
    memset(r, 0, sizeof(*r));
    k->video = (kind & VIDEO) != 0;
    k->rules = r;
    k->files = image_file;
    k->nfiles = (kind & UPLOAD) != 0;
    r->image_input = (kind & EDIT) != 0;
    if (kind & ARK) {
        r->size_ok = nano_ark_size_valid;
        r->size_rule = "the sizes Ark makes";
        r->no_ratio = 1;
    }
    r->no_size = (kind & GEMINI) != 0;
}

static const job_case_t  job_cases[] = {
    { "a prompt alone", IMAGE, "{\"prompt\":\"a cat\"}", NULL, "{}" },
    { "no prompt", IMAGE, "{}", "prompt", NULL },
    { "a blank prompt", IMAGE, "{\"prompt\":\" \\n\\t\"}", "prompt", NULL },
    { "size WxH", IMAGE, "{\"prompt\":\"p\",\"size\":\"1024x768\"}", NULL,
      "{\"size\":\"1024x768\"}" },
    { "size at both ends", IMAGE,
      "{\"prompt\":\"p\",\"size\":\"256x4096\"}", NULL,
      "{\"size\":\"256x4096\"}" },
    { "size 2K", IMAGE, "{\"prompt\":\"p\",\"size\":\"2K\"}", NULL,
      "{\"size\":\"2K\"}" },
    { "size 3K", IMAGE, "{\"prompt\":\"p\",\"size\":\"3K\"}", "size", NULL },
    { "size below 256", IMAGE, "{\"prompt\":\"p\",\"size\":\"255x256\"}",
      "size", NULL },
    { "size above 4096", IMAGE, "{\"prompt\":\"p\",\"size\":\"256x4097\"}",
      "size", NULL },
    { "size with blanks", IMAGE,
      "{\"prompt\":\"p\",\"size\":\" 256x 256\"}", "size", NULL },
    { "size with signs", IMAGE, "{\"prompt\":\"p\",\"size\":\"+256x+256\"}",
      "size", NULL },
    { "size with a leading zero", IMAGE,
      "{\"prompt\":\"p\",\"size\":\"0256x256\"}", "size", NULL },
    { "size with a trailing blank", IMAGE,
      "{\"prompt\":\"p\",\"size\":\"256x256 \"}", "size", NULL },
    { "size with a capital X", IMAGE,
      "{\"prompt\":\"p\",\"size\":\"256X256\"}", "size", NULL },
    { "size of 20 digits", IMAGE,
      "{\"prompt\":\"p\",\"size\":\"99999999999999999999x256\"}", "size",
      NULL },
    { "size DashScope's way on an image", IMAGE,
      "{\"prompt\":\"p\",\"size\":\"1024*1024\"}", "size", NULL },
    /* seedream: a size Ark cannot make was charged, then failed */
    { "Ark: its least", ARK, "{\"prompt\":\"p\",\"size\":\"1280x720\"}",
      NULL, "{\"size\":\"1280x720\"}" },
    { "Ark: upright", ARK, "{\"prompt\":\"p\",\"size\":\"720x1280\"}",
      NULL, "{\"size\":\"720x1280\"}" },
    { "Ark: 16:1", ARK, "{\"prompt\":\"p\",\"size\":\"4096x256\"}",
      NULL, "{\"size\":\"4096x256\"}" },
    { "Ark: 4096x4096", ARK,
      "{\"prompt\":\"p\",\"size\":\"4096x4096\"}", NULL,
      "{\"size\":\"4096x4096\"}" },
    { "Ark: 1K", ARK, "{\"prompt\":\"p\",\"size\":\"1K\"}", NULL,
      "{\"size\":\"1K\"}" },
    { "Ark: 256x256", ARK, "{\"prompt\":\"p\",\"size\":\"256x256\"}",
      "size", NULL },
    { "Ark: a pixel short", ARK,
      "{\"prompt\":\"p\",\"size\":\"1279x720\"}", "size", NULL },
    { "Ark: few pixels on a long side", ARK,
      "{\"prompt\":\"p\",\"size\":\"3500x256\"}", "size", NULL },
    { "Ark: what no image takes", ARK,
      "{\"prompt\":\"p\",\"size\":\"0x1280\"}", "size", NULL },
    /* each real provider has one of the two: the other was charged, then
     * dropped from its request */
    { "Ark: an aspect ratio", ARK,
      "{\"prompt\":\"p\",\"size\":\"2K\",\"aspectRatio\":\"16:9\"}",
      "aspectRatio", NULL },
    { "Gemini: a size", GEMINI | EDIT,
      "{\"prompt\":\"p\",\"size\":\"1024x1024\"}", "size", NULL },
    { "Gemini: an aspect ratio", GEMINI | EDIT,
      "{\"prompt\":\"p\",\"aspectRatio\":\"16:9\"}", NULL,
      "{\"aspectRatio\":\"16:9\"}" },
    { "aspectRatio", IMAGE, "{\"prompt\":\"p\",\"aspectRatio\":\"16:9\"}",
      NULL, "{\"aspectRatio\":\"16:9\"}" },
    { "aspectRatio not offered", IMAGE,
      "{\"prompt\":\"p\",\"aspectRatio\":\"7:5\"}", "aspectRatio", NULL },
    { "seed as text", IMAGE, "{\"prompt\":\"p\",\"seed\":\"42\"}", NULL,
      "{\"seed\":42}" },
    { "seed as a number", IMAGE, "{\"prompt\":\"p\",\"seed\":2147483647}",
      NULL, "{\"seed\":2147483647}" },
    { "seed 0 with leading zeros", IMAGE, "{\"prompt\":\"p\",\"seed\":\"007\"}",
      NULL, "{\"seed\":7}" },
    { "seed too large", IMAGE, "{\"prompt\":\"p\",\"seed\":2147483648}",
      "seed", NULL },
    { "seed of 30 digits", IMAGE,
      "{\"prompt\":\"p\",\"seed\":\"999999999999999999999999999999\"}",
      "seed", NULL },
    { "seed below 0", IMAGE, "{\"prompt\":\"p\",\"seed\":-1}", "seed", NULL },
    { "seed -0", IMAGE, "{\"prompt\":\"p\",\"seed\":\"-0\"}", "seed", NULL },
    { "seed with a plus", IMAGE, "{\"prompt\":\"p\",\"seed\":\"+5\"}", "seed",
      NULL },
    { "seed with a blank", IMAGE, "{\"prompt\":\"p\",\"seed\":\" 5\"}", "seed",
      NULL },
    { "seed empty", IMAGE, "{\"prompt\":\"p\",\"seed\":\"\"}", "seed", NULL },
    { "a duration on an image", IMAGE, "{\"prompt\":\"p\",\"duration\":5}",
      "duration", NULL },
    { "an image where none is taken", IMAGE,
      "{\"prompt\":\"p\",\"image\":\"iVBORw0KGgo=\"}", "image", NULL },
    { "an upload where none is taken", IMAGE | UPLOAD, "{\"prompt\":\"p\"}",
      "image", NULL },
    { "an image to edit", EDIT, "{\"prompt\":\"p\",\"image\":\"iVBORw0KGgo=\"}",
      NULL, "{}" },
    { "an upload to edit", EDIT | UPLOAD, "{\"prompt\":\"p\"}", NULL, "{}" },
    { "an image as a file and as base64", EDIT | UPLOAD,
      "{\"prompt\":\"p\",\"image\":\"iVBORw0KGgo=\"}", "image", NULL },
    { "a model", IMAGE, "{\"prompt\":\"p\",\"model\":\"m-1\"}", NULL, "{}" },
    { "a model of 128 bytes", IMAGE,
      "{\"prompt\":\"p\",\"model\":\"" M128 "\"}", "model", NULL },
    { "a misspelt option", IMAGE,
      "{\"prompt\":\"p\",\"aspect_ratio\":\"16:9\"}", "aspect_ratio",
      NULL },
    { "an option no module takes, before a bad prompt", VIDEO,
      "{\"prompt\":\"\",\"fps\":24}", "fps", NULL },
    { "a field name over 64 bytes", IMAGE,
      "{\"prompt\":\"p\",\"" M128 "\":1}", "(a long field name)", NULL },
    { "the first refusal is named", IMAGE,
      "{\"prompt\":\"p\",\"size\":\"big\",\"seed\":\"x\"}", "size", NULL },
    { "a prompt as a number", IMAGE, "{\"prompt\":123}", "prompt", NULL },
    { "a prompt as true", IMAGE, "{\"prompt\":true}", "prompt", NULL },
    { "a model as a number", IMAGE, "{\"prompt\":\"p\",\"model\":5}",
      "model", NULL },
    { "a size as a number", IMAGE, "{\"prompt\":\"p\",\"size\":1024}",
      "size", NULL },
    { "an aspectRatio as false", IMAGE,
      "{\"prompt\":\"p\",\"aspectRatio\":false}", "aspectRatio", NULL },
    { "an image as a number", EDIT, "{\"prompt\":\"p\",\"image\":7}",
      "image", NULL },
    { "a seed as true", IMAGE, "{\"prompt\":\"p\",\"seed\":true}", "seed",
      NULL },
    { "a video", VIDEO, "{\"prompt\":\"p\"}", NULL, "{\"duration\":5}" },
    { "a duration as a number", VIDEO, "{\"prompt\":\"p\",\"duration\":5}",
      NULL, "{\"duration\":5}" },
    { "a duration as text", VIDEO,
      "{\"prompt\":\"p\",\"duration\":\"5\"}", NULL,
      "{\"duration\":5}" },
    { "a duration with a leading zero, as a seed takes it", VIDEO,
      "{\"prompt\":\"p\",\"duration\":\"05\"}", NULL,
      "{\"duration\":5}" },
    /* the duration was read into the seed's number: seed 42 became 5 */
    { "a seed beside a duration keeps its value", VIDEO,
      "{\"prompt\":\"p\",\"seed\":42,\"duration\":5}", NULL,
      "{\"duration\":5,\"seed\":42}" },
    { "a seed beside a duration, both as text", VIDEO,
      "{\"prompt\":\"p\",\"duration\":\"5\",\"seed\":\"7\"}", NULL,
      "{\"duration\":5,\"seed\":7}" },
    { "a video size people's way", VIDEO,
      "{\"prompt\":\"p\",\"size\":\"1280x720\"}", NULL,
      "{\"duration\":5,\"size\":\"1280*720\"}" },
    { "a video size DashScope's way", VIDEO,
      "{\"prompt\":\"p\",\"size\":\"1080*1920\"}", NULL,
      "{\"duration\":5,\"size\":\"1080*1920\"}" },
    { "a video size Wan does not make", VIDEO,
      "{\"prompt\":\"p\",\"size\":\"1000x1000\"}", "size", NULL },
    { "a video size with more after it", VIDEO,
      "{\"prompt\":\"p\",\"size\":\"1280x7200\"}", "size", NULL },
    { "a video size cut short", VIDEO,
      "{\"prompt\":\"p\",\"size\":\"1280x72\"}", "size", NULL },
    { "a video size with two x", VIDEO,
      "{\"prompt\":\"p\",\"size\":\"1280x720x\"}", "size", NULL },
    { "an aspectRatio on video", VIDEO,
      "{\"prompt\":\"p\",\"aspectRatio\":\"16:9\"}", "aspectRatio", NULL },
    { "duration 5 as text", VIDEO, "{\"prompt\":\"p\",\"duration\":\"5\"}",
      NULL, "{\"duration\":5}" },
    { "duration 10", VIDEO, "{\"prompt\":\"p\",\"duration\":10}", "duration",
      NULL },
    { "duration -5", VIDEO, "{\"prompt\":\"p\",\"duration\":-5}", "duration",
      NULL },
    { "duration 5.0", VIDEO, "{\"prompt\":\"p\",\"duration\":\"5.0\"}",
      "duration", NULL },
};

static void
job_row(void **state)
{
    const job_case_t     *c = *state;
    nano_gen_job_kind_t   k;
    nano_gen_rules_t      r;
    nano_gen_job_opts_t   o;
    nano_gen_refusal_t    why = { NULL, NULL };
    nano_form_t           f;
    json_t               *params = json_object();
    char                 *got;
    int                   rc;

    job_kind_of(c->kind, &k, &r);
    form_of(c->body, &f);
    rc = nano_gen_job_options(&f, &k, params, &o, &why);
    if (c->field != NULL) {
        assert_int_equal(rc, -1);
        assert_string_equal(why.field, c->field);
        assert_non_null(why.message);
        assert_true(strlen(why.message) > 10);
    } else {
        assert_int_equal(rc, 0);
        got = json_dumps(params, JSON_SORT_KEYS | JSON_COMPACT);
        assert_string_equal(got, c->params);
        free(got);
        assert_string_equal(o.prompt, nano_form_get(&f, "prompt"));
        assert_ptr_equal(o.image_b64, nano_form_get(&f, "image"));
        assert_ptr_equal(o.model, nano_form_get(&f, "model"));
    }
    json_decref(params);
    nano_form_cleanup(&f);
}

/* ---- a multipart body's files ------------------------------------------ */

/* A file of another name than image was dropped: an edit became a
 * plain generation, charged. */
typedef struct {
    const char  *name;
    unsigned     kind;
    const char  *files[3];  /* the file parts' names, in order */
    const char  *field;     /* the field refused, or NULL */
} files_case_t;

static const files_case_t  files_cases[] = {
    { "an image to edit", EDIT, { "image", NULL, NULL }, NULL },
    { "a file called file to edit", EDIT, { "file", NULL, NULL }, "file" },
    { "a file called photo where none is taken", IMAGE,
      { "photo", NULL, NULL }, "photo" },
    { "a file called photo on a video", VIDEO, { "photo", NULL, NULL },
      "photo" },
    { "a file called prompt", EDIT, { "prompt", NULL, NULL }, "prompt" },
    { "a file of a name over 64 bytes", EDIT, { M128, NULL, NULL },
      "(a long field name)" },
    { "an image and another file", EDIT, { "image", "photo", NULL },
      "photo" },
    { "another file before an image", EDIT, { "photo", "image", NULL },
      "photo" },
    { "two images", EDIT, { "image", "image", NULL }, "image" },
};

static void
files_row(void **state)
{
    const files_case_t   *c = *state;
    nano_gen_job_kind_t   k;
    nano_gen_rules_t      r;
    nano_gen_job_opts_t   o;
    nano_gen_refusal_t    why = { NULL, NULL };
    nano_form_t           f;
    json_t               *params = json_object();
    int                   rc;

    job_kind_of(c->kind, &k, &r);
    k.files = c->files;
    while (k.nfiles < 3 && c->files[k.nfiles] != NULL) {
        k.nfiles++;
    }
    /* the files come before the prompt's check */
    form_of(c->field != NULL ? "{\"prompt\":\"\"}" : "{\"prompt\":\"p\"}",
            &f);
    rc = nano_gen_job_options(&f, &k, params, &o, &why);
    if (c->field != NULL) {
        assert_int_equal(rc, -1);
        assert_string_equal(why.field, c->field);
        assert_true(strlen(why.message) > 10);
        assert_int_equal(json_object_size(params), 0);
    } else {
        assert_int_equal(rc, 0);
    }
    json_decref(params);
    nano_form_cleanup(&f);
}

/* ---- text options ------------------------------------------------------ */

typedef struct {
    const char  *name;
    const char  *body;
    const char  *field;     /* the field refused, or NULL */
    const char  *prompt;    /* the last user turn */
    long long    seed;
    int          stream;
    int          messages;  /* the body's messages are used */
} text_case_t;

#define CONV  "0f8fad5b-d9cb-469f-a165-70867728950e"

static const text_case_t  text_cases[] = {
    { "a prompt", "{\"prompt\":\"hi\"}", NULL, "hi", -1, 0, 0 },
    { "a prompt, streamed, with a seed and conversation",
      "{\"prompt\":\"hi\",\"stream\":true,\"seed\":7,"
      "\"conversationId\":\"" CONV "\"}", NULL, "hi", 7, 1, 0 },
    { "stream as text", "{\"prompt\":\"hi\",\"stream\":\"true\"}",
      "stream", NULL, 0, 0, 0 },
    { "stream as a number", "{\"prompt\":\"hi\",\"stream\":1}", "stream",
      NULL, 0, 0, 0 },
    { "stream false", "{\"prompt\":\"hi\",\"stream\":false}", NULL, "hi",
      -1, 0, 0 },
    { "stream null, as absent", "{\"prompt\":\"hi\",\"stream\":null}",
      NULL, "hi", -1, 0, 0 },
    { "a model as a number", "{\"prompt\":\"hi\",\"model\":5}", "model",
      NULL, 0, 0, 0 },
    { "a model as an object", "{\"prompt\":\"hi\",\"model\":{\"x\":1}}",
      "model", NULL, 0, 0, 0 },
    { "a model null, as absent", "{\"prompt\":\"hi\",\"model\":null}",
      NULL, "hi", -1, 0, 0 },
    { "a prompt as a number", "{\"prompt\":123}", "prompt", NULL, 0, 0, 0 },
    { "an image's option", "{\"prompt\":\"hi\",\"size\":\"1K\"}", "size",
      NULL, 0, 0, 0 },
    { "an option this API does not take",
      "{\"prompt\":\"hi\",\"temperature\":0.2}", "temperature", NULL, 0,
      0, 0 },
    { "a misspelt conversation id",
      "{\"prompt\":\"hi\",\"conversation_id\":\"" CONV "\"}",
      "conversation_id", NULL, 0, 0, 0 },
    { "no prompt", "{}", "prompt", NULL, 0, 0, 0 },
    { "a prompt that is a number", "{\"prompt\":5}", "prompt", NULL, 0, 0,
      0 },
    { "a blank prompt", "{\"prompt\":\"\\r\\n \"}", "prompt", NULL, 0, 0, 0 },
    { "messages, the last user turn is the prompt",
      "{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
      "{\"role\":\"user\",\"content\":\"one\"},"
      "{\"role\":\"assistant\",\"content\":\"1\"},"
      "{\"role\":\"user\",\"content\":\"two\"}]}", NULL, "two", -1, 0, 1 },
    /* one or the other: a prompt beside messages was dropped unread */
    { "a prompt beside messages",
      "{\"prompt\":\"p\",\"messages\":[{\"role\":\"user\","
      "\"content\":\"m\"}]}", "prompt", NULL, 0, 0, 0 },
    { "a prompt as a number beside messages",
      "{\"prompt\":123,\"messages\":[{\"role\":\"user\","
      "\"content\":\"m\"}]}", "prompt", NULL, 0, 0, 0 },
    { "a prompt null beside messages",
      "{\"prompt\":null,\"messages\":[{\"role\":\"user\","
      "\"content\":\"m\"}]}", "prompt", NULL, 0, 0, 0 },
    { "messages null beside a prompt",
      "{\"prompt\":\"p\",\"messages\":null}", "prompt", NULL, 0, 0, 0 },
    { "a prompt beside messages without a user turn",
      "{\"prompt\":\"p\",\"messages\":[{\"role\":\"system\","
      "\"content\":\"s\"}]}", "prompt", NULL, 0, 0, 0 },
    { "messages not a list", "{\"messages\":\"hi\"}", "messages", NULL, 0, 0,
      0 },
    { "messages empty", "{\"messages\":[]}", "messages", NULL, 0, 0, 0 },
    { "a message of another role",
      "{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "messages",
      NULL, 0, 0, 0 },
    { "a message without content",
      "{\"messages\":[{\"role\":\"user\"}]}", "messages", NULL, 0, 0, 0 },
    { "a message that is text", "{\"messages\":[\"hi\"]}", "messages", NULL,
      0, 0, 0 },
    /* charged, then dropped on the way to the provider */
    { "a message with a name",
      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\","
      "\"name\":\"bob\"}]}", "messages", NULL, 0, 0, 0 },
    { "a message with an option",
      "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
      "{\"role\":\"user\",\"content\":\"x\",\"temperature\":1}]}",
      "messages", NULL, 0, 0, 0 },
    { "a conversationId in capitals",
      "{\"prompt\":\"hi\",\"conversationId\":"
      "\"0F8FAD5B-D9CB-469F-A165-70867728950E\"}", "conversationId", NULL, 0,
      0, 0 },
    { "a conversationId that is a number",
      "{\"prompt\":\"hi\",\"conversationId\":42}", "conversationId", NULL, 0,
      0, 0 },
    { "a conversationId that is null",
      "{\"prompt\":\"hi\",\"conversationId\":null}", "conversationId", NULL,
      0, 0, 0 },
    /* as an image or video request takes it */
    { "a seed as text", "{\"prompt\":\"hi\",\"seed\":\"007\"}", NULL, "hi", 7,
      0, 0 },
    { "a seed 0 is a seed", "{\"prompt\":\"hi\",\"seed\":0}", NULL, "hi", 0,
      0, 0 },
    { "a seed null, as absent", "{\"prompt\":\"hi\",\"seed\":null}", NULL,
      "hi", -1, 0, 0 },
    { "a seed as other text", "{\"prompt\":\"hi\",\"seed\":\"7a\"}", "seed",
      NULL, 0, 0, 0 },
    { "a seed as true", "{\"prompt\":\"hi\",\"seed\":true}", "seed", NULL,
      0, 0, 0 },
    { "a seed below 0", "{\"prompt\":\"hi\",\"seed\":-1}", "seed", NULL, 0, 0,
      0 },
    { "a seed too large", "{\"prompt\":\"hi\",\"seed\":2147483648}", "seed",
      NULL, 0, 0, 0 },
    { "a seed with a fraction", "{\"prompt\":\"hi\",\"seed\":1.5}", "seed",
      NULL, 0, 0, 0 },
    { "a model of 127 bytes is looked up",
      "{\"prompt\":\"hi\",\"model\":\"" M127 "\"}", NULL, "hi", -1, 0, 0 },
    { "a model of 128 bytes is not",
      "{\"prompt\":\"hi\",\"model\":\"" M128 "\"}", "model", NULL, 0,
      0, 0 },
};

static void
text_row(void **state)
{
    const text_case_t     *c = *state;
    nano_gen_text_opts_t   o;
    nano_gen_refusal_t     why = { NULL, NULL };
    json_t                *body = json_loads(c->body, 0, NULL);
    int                    rc;

    assert_non_null(body);
    rc = nano_gen_text_options(body, &o, &why);
    if (c->field != NULL) {
        assert_int_equal(rc, -1);
        assert_string_equal(why.field, c->field);
        assert_true(strlen(why.message) > 10);
    } else {
        assert_int_equal(rc, 0);
        assert_string_equal(o.prompt, c->prompt);
        assert_int_equal(o.seed, c->seed);
        assert_int_equal(o.stream, c->stream);
        assert_int_equal(o.messages != NULL, c->messages);
        if (c->messages) {
            assert_ptr_equal(o.messages, json_object_get(body, "messages"));
        }
        if (json_object_get(body, "conversationId") != NULL) {
            assert_string_equal(o.conversation, CONV);
        } else {
            assert_null(o.conversation);
        }
    }
    json_decref(body);
}

/* ---- JSON bodies as forms ------------------------------------------------ */

typedef struct {
    const char          *name;
    const char          *body;
    int                  numbers;
    nano_form_status_t   status;
    const char          *pairs;    /* "k=v;..." in order */
} json_form_case_t;

static const json_form_case_t  json_form_cases[] = {
    { "strings, booleans and numbers",
      "{\"a\":\"x\",\"b\":true,\"c\":false,\"d\":-12}", 1, NANO_FORM_OK,
      "a=x;b=true;c=false;d=-12;" },
    { "null is left out", "{\"a\":null,\"b\":\"y\"}", 1, NANO_FORM_OK,
      "b=y;" },
    { "a fraction is refused", "{\"seed\":1.5}", 1, NANO_FORM_INVALID, "" },
    { "an array is refused", "{\"size\":[1]}", 1, NANO_FORM_INVALID, "" },
    { "an object is refused", "{\"size\":{}}", 1, NANO_FORM_INVALID, "" },
    { "without numbers, they are left out",
      "{\"n\":5,\"data\":{\"name\":\"x\"},\"a\":\"y\"}", 0, NANO_FORM_OK,
      "a=y;" },
    { "a NUL in a string", "{\"a\":\"x\\u0000y\"}", 1, NANO_FORM_INVALID, "" },
    { "not an object", "[1]", 1, NANO_FORM_INVALID, "" },
};

static void
json_form_row(void **state)
{
    const json_form_case_t  *c = *state;
    nano_form_t              f;
    json_t                  *root = json_loads(c->body, JSON_ALLOW_NUL, NULL);
    char                     got[256] = "";
    size_t                   i;

    assert_non_null(root);
    nano_form_init(&f);
    assert_int_equal(nano_form_from_json(&f, root, c->numbers), c->status);
    if (c->status == NANO_FORM_OK) {
        for (i = 0; i < f.n; i++) {
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s=%s;",
                     f.pairs[i].key, f.pairs[i].value);
        }
        assert_string_equal(got, c->pairs);
    }
    nano_form_cleanup(&f);
    json_decref(root);
}

/* More than a form holds is refused, not cut. */
static void
json_form_too_many(void **state)
{
    json_t       *root = json_object();
    nano_form_t   f;
    char          key[16];
    int           i;

    (void) state;
    for (i = 0; i <= NANO_FORM_PAIRS_MAX; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(root, key, json_string("v"));
    }
    nano_form_init(&f);
    assert_int_equal(nano_form_from_json(&f, root, 1), NANO_FORM_INVALID);
    nano_form_cleanup(&f);
    json_decref(root);
}

/* A form pair that is not UTF-8 is left out; the first whose key is
 * UTF-8 is named, so a refusal can say which field it was. */
static void
form_left_out(void **state)
{
    nano_form_t  f;
    const char   body[] = "prompt=hi&size=%FF&seed=%C3&%FE=1";

    (void) state;
    nano_form_init(&f);
    assert_int_equal(nano_form_parse(&f, body, sizeof(body) - 1),
                     NANO_FORM_BAD_UTF8);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.left_out, "size");
    nano_form_cleanup(&f);
    assert_null(f.left_out);

    /* a key that is not UTF-8 itself cannot be named */
    nano_form_init(&f);
    assert_int_equal(nano_form_parse(&f, "%FE=1&a=b", 9),
                     NANO_FORM_BAD_UTF8);
    assert_null(f.left_out);
    nano_form_cleanup(&f);
}

/* The first key that comes twice, its second pair's; none in a form
 * whose keys differ, however alike. */
static void
form_repeated(void **state)
{
    static const char  twice[] = "prompt=a&seed=1&size=2K&seed=1&prompt=b";
    nano_form_t        f;

    (void) state;
    nano_form_init(&f);
    assert_null(nano_form_repeated(&f));
    assert_int_equal(nano_form_parse(&f, twice, sizeof(twice) - 1),
                     NANO_FORM_OK);
    assert_ptr_equal(nano_form_repeated(&f), f.pairs[3].key);
    nano_form_cleanup(&f);
    nano_form_init(&f);
    assert_int_equal(nano_form_parse(&f, "seed=1&Seed=2&seeds=3&seed+=4",
                                     29), NANO_FORM_OK);
    assert_null(nano_form_repeated(&f));
    nano_form_cleanup(&f);
}

/* A video's aspectRatio is refused as such, not with the list of ratios
 * (which held the very value sent). */
static void
video_ratio_message(void **state)
{
    nano_gen_job_kind_t  k;
    nano_gen_rules_t     r;
    nano_gen_job_opts_t  o;
    nano_gen_refusal_t   why = { NULL, NULL };
    nano_form_t          f;
    json_t              *params = json_object();

    (void) state;
    job_kind_of(VIDEO, &k, &r);
    form_of("{\"prompt\":\"p\",\"aspectRatio\":\"1:1\"}", &f);
    assert_int_equal(nano_gen_job_options(&f, &k, params, &o, &why), -1);
    assert_string_equal(why.field, "aspectRatio");
    assert_non_null(strstr(why.message, "no aspect ratio"));
    assert_null(strstr(why.message, "1:1"));
    nano_form_cleanup(&f);
    json_decref(params);
}

/* A form or multipart field sent twice is refused naming it (JSON
 * refuses a key twice as it parses); the first value was taken. */
static void
job_form_repeated(void **state)
{
    static const char *const  bodies[][2] = {
        { "prompt=a&prompt=b", "prompt" },
        { "prompt=a&seed=1&seed=2", "seed" },
        { "prompt=a&seed=1&seed=1", "seed" },
        { "prompt=&size=2K&size=1K", "size" },   /* before the prompt */
        { "image=a&prompt=p&image=b", "image" },
        { "prompt=p&seed=1&seed=2&fps=3", "fps" }, /* unknown ones first */
    };
    nano_gen_job_kind_t  k;
    nano_gen_rules_t     r;
    nano_gen_job_opts_t  o;
    nano_gen_refusal_t   why;
    nano_form_t          f;
    json_t              *params;
    size_t               i;

    (void) state;
    job_kind_of(EDIT, &k, &r);
    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        nano_form_init(&f);
        assert_int_equal(nano_form_parse(&f, bodies[i][0],
                                         strlen(bodies[i][0])),
                         NANO_FORM_OK);
        params = json_object();
        why.field = NULL;
        assert_int_equal(nano_gen_job_options(&f, &k, params, &o, &why), -1);
        assert_string_equal(why.field, bodies[i][1]);
        assert_int_equal(json_object_size(params), 0);
        json_decref(params);
        nano_form_cleanup(&f);
    }
}

/* The size checks alone, at their edges. */
static void
sizes(void **state)
{
    (void) state;
    assert_true(nano_gen_size_ok("256x256"));
    assert_true(nano_gen_size_ok("4096x4096"));
    assert_true(nano_gen_size_ok("1K"));
    assert_false(nano_gen_size_ok(""));
    assert_false(nano_gen_size_ok("x"));
    assert_false(nano_gen_size_ok("256x"));
    assert_false(nano_gen_size_ok("x256"));
    assert_false(nano_gen_size_ok("1k"));
    assert_false(nano_gen_size_ok("40960x256"));
    assert_string_equal(nano_gen_video_size("1920x1080"), "1920*1080");
    assert_string_equal(nano_gen_video_size("480*832"), "480*832");
    assert_null(nano_gen_video_size(""));
    assert_null(nano_gen_video_size("1280"));
    assert_null(nano_gen_video_size("1280X720"));
    assert_null(nano_gen_video_size("1280*720 "));
}

/* Idempotency keys: visible ASCII, 1 to 255 bytes; no blank, control,
 * DEL or byte past ASCII (a header value nginx passes unchanged). */
static void
keys(void **state)
{
    char  k[NANO_GEN_KEY_MAX + 2];

    (void) state;
    assert_true(nano_gen_key_ok("a"));
    assert_true(nano_gen_key_ok("5f0c2a7e-1b7d-4c8e-9a35-0d2f6c1e4b21"));
    assert_true(nano_gen_key_ok("!~\"{}"));
    assert_false(nano_gen_key_ok(NULL));
    assert_false(nano_gen_key_ok(""));
    assert_false(nano_gen_key_ok("a b"));
    assert_false(nano_gen_key_ok("a\tb"));
    assert_false(nano_gen_key_ok("a\x7f"));
    assert_false(nano_gen_key_ok("caf\xc3\xa9"));
    memset(k, 'k', NANO_GEN_KEY_MAX);
    k[NANO_GEN_KEY_MAX] = '\0';
    assert_true(nano_gen_key_ok(k));
    k[NANO_GEN_KEY_MAX] = 'k';
    k[NANO_GEN_KEY_MAX + 1] = '\0';
    assert_false(nano_gen_key_ok(k));
}

/* Whole words only: no prefix, no case folding, an empty list has none. */
static void
strlist(void **state)
{
    static const char *const  words[] = { "1:1", "16:9", NULL };
    static const char *const  none[] = { NULL };

    (void) state;
    assert_true(nano_strlist_has(words, "1:1"));
    assert_true(nano_strlist_has(words, "16:9"));
    assert_false(nano_strlist_has(words, "16"));
    assert_false(nano_strlist_has(words, "16:9 "));
    assert_false(nano_strlist_has(words, ""));
    assert_false(nano_strlist_has(none, ""));
}

int
main(void)
{
    static const struct CMUnitTest  extra[] = {
        cmocka_unit_test(json_form_too_many),
        cmocka_unit_test(form_left_out),
        cmocka_unit_test(form_repeated),
        cmocka_unit_test(job_form_repeated),
        cmocka_unit_test(video_ratio_message),
        cmocka_unit_test(sizes),
        cmocka_unit_test(keys),
        cmocka_unit_test(strlist),
    };
    int  rc = 0;

    rc |= unit_run_table("gen_job_options", job_cases,
                         sizeof(job_cases) / sizeof(job_cases[0]),
                         sizeof(job_cases[0]), job_row, NULL, 0);
    rc |= unit_run_table("gen_job_files", files_cases,
                         sizeof(files_cases) / sizeof(files_cases[0]),
                         sizeof(files_cases[0]), files_row, NULL, 0);
    rc |= unit_run_table("gen_text_options", text_cases,
                         sizeof(text_cases) / sizeof(text_cases[0]),
                         sizeof(text_cases[0]), text_row, NULL, 0);
    rc |= unit_run_table("form_from_json", json_form_cases,
                         sizeof(json_form_cases) / sizeof(json_form_cases[0]),
                         sizeof(json_form_cases[0]), json_form_row, extra,
                         sizeof(extra) / sizeof(extra[0]));
    return rc;
}
