/*
 * Gemini generateContent (image output): request, answer and errors.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "nano_base64.h"
#include "nano_buf.h"
#include "nano_gemini.h"

static const char  *nano_gemini_ratios[] = {
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
};

/* finishReason / blockReason values that mean a safety refusal */
static const char  *nano_gemini_blocked_reasons[] = {
    "SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT",
    "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION",
    "IMAGE_RECITATION",
};

/* an inline image's base64, read where it lies (nano_json_lift.h) */
static const char *const  nano_gemini_lifted[] = { "data", NULL };

int
nano_gemini_aspect_ratio_valid(const char *ratio)
{
    size_t  i;

    if (ratio == NULL) {
        return 0;
    }
    for (i = 0; i < sizeof(nano_gemini_ratios) / sizeof(*nano_gemini_ratios);
         i++)
    {
        if (strcmp(ratio, nano_gemini_ratios[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int
nano_gemini_path(const char *model, char *buf, size_t size)
{
    const char  *s;
    int          n;

    if (model == NULL) {
        model = NANO_GEMINI_DEFAULT_MODEL;
    }
    if (model[0] == '\0') {
        return -1;
    }
    for (s = model; *s; s++) {
        if (!isalnum((unsigned char) *s) && *s != '.' && *s != '-'
            && *s != '_')
        {
            return -1;
        }
    }
    n = snprintf(buf, size, "/v1beta/models/%s:generateContent", model);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

static int
nano_gemini_mime_ok(const char *mime)
{
    return mime != NULL && (strcmp(mime, "image/png") == 0
                            || strcmp(mime, "image/jpeg") == 0
                            || strcmp(mime, "image/webp") == 0);
}

char *
nano_gemini_request_body(const nano_gemini_request_t *r)
{
    json_t  *root = NULL, *parts = NULL, *config = NULL, *part;
    char    *b64 = NULL, *body = NULL;

    if (r == NULL || r->prompt == NULL || r->prompt[0] == '\0') {
        return NULL;
    }
    if (r->aspect_ratio != NULL
        && !nano_gemini_aspect_ratio_valid(r->aspect_ratio))
    {
        return NULL;
    }
    parts = json_array();
    if (parts == NULL) {
        goto out;
    }
    part = json_pack("{s:s}", "text", r->prompt);
    if (part == NULL || json_array_append_new(parts, part) != 0) {
        goto out;
    }
    if (r->image != NULL) {
        if (!nano_gemini_mime_ok(r->image_mime) || r->image_len == 0) {
            goto out;
        }
        b64 = nano_base64_encode(r->image, r->image_len);
        if (b64 == NULL) {
            goto out;
        }
        part = json_pack("{s:{s:s, s:s}}", "inline_data",
                         "mime_type", r->image_mime, "data", b64);
        if (part == NULL || json_array_append_new(parts, part) != 0) {
            goto out;
        }
    }
    config = json_pack("{s:[s, s]}", "responseModalities", "TEXT", "IMAGE");
    if (config == NULL) {
        goto out;
    }
    if (r->aspect_ratio != NULL
        && json_object_set_new(config, "imageConfig",
               json_pack("{s:s}", "aspectRatio", r->aspect_ratio)) != 0)
    {
        goto out;
    }
    if (r->seed >= 0
        && json_object_set_new(config, "seed", json_integer(r->seed)) != 0)
    {
        goto out;
    }
    root = json_pack("{s:[{s:s, s:O}], s:O}",
                     "contents", "role", "user", "parts", parts,
                     "generationConfig", config);
    if (root != NULL) {
        body = json_dumps(root, JSON_COMPACT);
    }

out:
    free(b64);
    json_decref(parts);
    json_decref(config);
    json_decref(root);
    return body;
}

void
nano_gemini_result_init(nano_gemini_result_t *r)
{
    memset(r, 0, sizeof(*r));
    r->prompt_tokens = -1;
    r->output_tokens = -1;
    r->total_tokens = -1;
}

void
nano_gemini_result_cleanup(nano_gemini_result_t *r)
{
    if (r == NULL) {
        return;
    }
    free(r->image);
    free(r->text);
    nano_gemini_result_init(r);
}

static int
nano_gemini_is_blocked(const char *reason)
{
    size_t  i;

    if (reason == NULL) {
        return 0;
    }
    for (i = 0; i < sizeof(nano_gemini_blocked_reasons)
                    / sizeof(*nano_gemini_blocked_reasons); i++)
    {
        if (strcmp(reason, nano_gemini_blocked_reasons[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Reads one inlineData (or inline_data) part into out; 0, -1 on error. */
static int
nano_gemini_image_part(const json_t *inline_data,
    const nano_json_lift_t *lift, nano_gemini_result_t *out,
    nano_provider_error_t *err)
{
    const char  *mime, *data;
    size_t       n, len;

    mime = nano_provider_json_str(inline_data, "mimeType");
    if (mime == NULL) {
        mime = nano_provider_json_str(inline_data, "mime_type");
    }
    data = nano_json_lift_str(lift, json_object_get(inline_data, "data"),
                              &len);
    if (mime == NULL || data == NULL) {
        return nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "Gemini's image part has no mimeType or data");
    }
    if (strncmp(mime, "image/", 6) != 0) {
        return 0;    /* not an image: skip it */
    }
    out->image = nano_base64_decode(data, len, NANO_GEMINI_IMAGE_MAX, &n);
    if (out->image == NULL || n == 0) {
        free(out->image);
        out->image = NULL;
        return nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            n == 1 ? "Gemini's image is too large"
                   : "Gemini's image is not valid base64");
    }
    out->image_len = n;
    snprintf(out->mime, sizeof(out->mime), "%s", mime);
    return 0;
}

int
nano_gemini_parse_response(const char *body, size_t len,
    nano_gemini_result_t *out, nano_provider_error_t *err)
{
    json_t            *root, *cand, *parts, *part, *inl, *usage;
    const char        *block, *reason, *text;
    nano_buf_t         texts;
    nano_json_lift_t   lift;
    char               clean[200], shown[NANO_PROVIDER_CODE_MAX];
    size_t             i;
    int                rc = -1;

    nano_gemini_result_cleanup(out);
    nano_buf_init(&texts);
    root = nano_provider_json_parse_lifted(NANO_PROVIDER_GEMINI, body, len,
                                           nano_gemini_lifted, &lift, err);
    if (root == NULL) {
        return -1;
    }
    usage = json_object_get(root, "usageMetadata");
    out->prompt_tokens = nano_provider_json_long(usage, "promptTokenCount",
                                                 -1);
    out->output_tokens = nano_provider_json_long(usage,
                                                 "candidatesTokenCount", -1);
    out->total_tokens = nano_provider_json_long(usage, "totalTokenCount", -1);

    block = nano_provider_json_str(json_object_get(root, "promptFeedback"),
                                   "blockReason");
    if (block != NULL) {
        nano_provider_clean_code(block, shown, sizeof(shown));
        nano_provider_error_set(err, NANO_PERR_BLOCKED, 0,
            "Gemini's safety filter blocked the prompt (%s)", shown);
        goto out;
    }
    cand = json_array_get(json_object_get(root, "candidates"), 0);
    if (!json_is_object(cand)) {
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "Gemini's answer has no candidates");
        goto out;
    }
    reason = nano_provider_json_str(cand, "finishReason");
    nano_provider_clean_code(reason, out->finish_reason,
                             sizeof(out->finish_reason));
    parts = json_object_get(json_object_get(cand, "content"), "parts");
    json_array_foreach(parts, i, part) {
        /* a thinking model's interim text or image is not the answer */
        if (json_is_true(json_object_get(part, "thought"))) {
            continue;
        }
        text = nano_provider_json_str(part, "text");
        if (text != NULL) {
            if (texts.len > 0) {
                nano_buf_puts(&texts, "\n");
            }
            nano_buf_puts(&texts, text);
            continue;
        }
        inl = json_object_get(part, "inlineData");
        if (inl == NULL) {
            inl = json_object_get(part, "inline_data");
        }
        if (json_is_object(inl) && out->image == NULL
            && nano_gemini_image_part(inl, &lift, out, err) != 0)
        {
            goto out;
        }
    }
    if (texts.failed) {
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "Out of memory while reading Gemini's answer");
        goto out;
    }
    if (texts.len > 0) {
        out->text = nano_buf_steal(&texts);
    }
    if (out->image == NULL && nano_gemini_is_blocked(reason)) {
        nano_provider_error_set(err, NANO_PERR_BLOCKED, 0,
            "Gemini's safety filter stopped the image (%s)",
            out->finish_reason);
        goto out;
    }
    if (out->image == NULL) {
        nano_provider_clean_message(out->text, clean, sizeof(clean));
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "Gemini answered without an image (%s)%s%s",
            out->finish_reason[0] ? out->finish_reason : "no finishReason",
            clean[0] ? ": " : "", clean);
        goto out;
    }
    rc = 0;

out:
    nano_buf_cleanup(&texts);
    json_decref(root);
    nano_json_lift_free(&lift);
    return rc;
}

long
nano_gemini_duration_ms(const char *s)
{
    char    *end;
    double   v;

    if (s == NULL || !isdigit((unsigned char) s[0])) {
        return 0;
    }
    v = strtod(s, &end);
    if (strcmp(end, "s") != 0 || v < 0) {
        return 0;
    }
    if (v > 3600) {
        v = 3600;
    }
    return (long) (v * 1000 + 0.5);
}

/* Looks through details[] for RetryInfo's delay and ErrorInfo's reason. */
static void
nano_gemini_details(const json_t *details, long *retry_ms,
    const char **reason)
{
    json_t      *d;
    const char  *type;
    size_t       i;

    json_array_foreach(details, i, d) {
        type = nano_provider_json_str(d, "@type");
        if (type == NULL) {
            continue;
        }
        if (strstr(type, "RetryInfo") != NULL) {
            *retry_ms = nano_gemini_duration_ms(
                nano_provider_json_str(d, "retryDelay"));
        } else if (strstr(type, "ErrorInfo") != NULL) {
            *reason = nano_provider_json_str(d, "reason");
        }
    }
}

int
nano_gemini_parse_error(long status, const char *body, size_t len,
    nano_provider_error_t *err)
{
    json_t      *root, *e;
    const char  *message = NULL, *gstatus = NULL, *reason = NULL;
    long         retry_ms = 0;
    char         clean[200];

    root = nano_provider_json_load(body, len);
    e = json_object_get(root, "error");
    if (json_is_object(e)) {
        message = nano_provider_json_str(e, "message");
        gstatus = nano_provider_json_str(e, "status");
        nano_gemini_details(json_object_get(e, "details"), &retry_ms,
                            &reason);
    }
    nano_provider_clean_message(message, clean, sizeof(clean));
    if ((reason != NULL && strcmp(reason, "API_KEY_INVALID") == 0)
        || (status == 400 && message != NULL
            && strcasestr(message, "api key") != NULL))
    {
        /* Gemini answers a bad key with 400 INVALID_ARGUMENT */
        nano_provider_error_auth(err, NANO_PROVIDER_GEMINI, status);
    } else if (gstatus != NULL && strcmp(gstatus, "DEADLINE_EXCEEDED") == 0) {
        nano_provider_error_set(err, NANO_PERR_TIMEOUT, 1,
            "Gemini timed out (HTTP %ld)%s%s", status,
            clean[0] ? ": " : "", clean);
    } else {
        nano_provider_error_from_status(err, NANO_PROVIDER_GEMINI, status,
                                        clean);
    }
    if (err != NULL) {
        err->retry_after_ms = retry_ms;
    }
    json_decref(root);
    return -1;
}
