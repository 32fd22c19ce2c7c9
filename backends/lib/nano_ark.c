/*
 * Ark images/generations (Seedream): request, answer and errors.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nano_ark.h"
#include "nano_base64.h"

/* an image's base64, read where it lies (nano_json_lift.h) */
static const char *const  nano_ark_lifted[] = { "b64_json", NULL };

const char *
nano_ark_path(void)
{
    return "/api/v3/images/generations";
}

/* Reads "<w>x<h>" exactly; 0 or -1. */
static int
nano_ark_dims(const char *s, int *w, int *h)
{
    char  *end;
    long   a, b;

    if (s == NULL || *s < '1' || *s > '9') {
        return -1;
    }
    a = strtol(s, &end, 10);
    if (*end != 'x' || end[1] < '1' || end[1] > '9') {
        return -1;
    }
    b = strtol(end + 1, &end, 10);
    if (*end != '\0' || a > 16384 || b > 16384) {
        return -1;
    }
    *w = (int) a;
    *h = (int) b;
    return 0;
}

int
nano_ark_size_valid(const char *size, int *w, int *h)
{
    int        x, y;
    long long  px;

    if (w != NULL) {
        *w = 0;
    }
    if (h != NULL) {
        *h = 0;
    }
    if (size == NULL) {
        return 0;
    }
    if (strcmp(size, "1K") == 0 || strcmp(size, "2K") == 0
        || strcmp(size, "4K") == 0)
    {
        return 1;
    }
    if (nano_ark_dims(size, &x, &y) != 0) {
        return 0;
    }
    px = (long long) x * y;
    if (px < 1280LL * 720 || px > 4096LL * 4096 || x > 16LL * y
        || y > 16LL * x)
    {
        return 0;
    }
    if (w != NULL) {
        *w = x;
    }
    if (h != NULL) {
        *h = y;
    }
    return 1;
}

static int
nano_ark_image_ok(const char *image)
{
    return strncmp(image, "https://", 8) == 0
           || strncmp(image, "http://", 7) == 0
           || (strncmp(image, "data:image/", 11) == 0
               && strstr(image, ";base64,") != NULL);
}

char *
nano_ark_request_body(const nano_ark_request_t *r)
{
    json_t      *root;
    char        *body = NULL;
    const char  *size;

    if (r == NULL || r->prompt == NULL || r->prompt[0] == '\0') {
        return NULL;
    }
    size = r->size ? r->size : "2K";
    if (!nano_ark_size_valid(size, NULL, NULL)
        || (r->image != NULL && !nano_ark_image_ok(r->image)))
    {
        return NULL;
    }
    root = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}",
                     "model", r->model ? r->model : NANO_ARK_DEFAULT_MODEL,
                     "prompt", r->prompt,
                     "size", size,
                     "response_format", r->want_url ? "url" : "b64_json",
                     "watermark", 0,
                     "sequential_image_generation", "disabled");
    if (root == NULL) {
        return NULL;
    }
    if (r->seed >= 0
        && json_object_set_new(root, "seed", json_integer(r->seed)) != 0)
    {
        goto out;
    }
    if (r->image != NULL
        && json_object_set_new(root, "image", json_string(r->image)) != 0)
    {
        goto out;
    }
    body = json_dumps(root, JSON_COMPACT);

out:
    json_decref(root);
    return body;
}

void
nano_ark_result_init(nano_ark_result_t *r)
{
    memset(r, 0, sizeof(*r));
    r->generated_images = -1;
}

void
nano_ark_result_cleanup(nano_ark_result_t *r)
{
    if (r == NULL) {
        return;
    }
    free(r->image);
    free(r->url);
    nano_ark_result_init(r);
}

static int
nano_ark_sensitive(const char *code)
{
    return code != NULL && (strstr(code, "SensitiveContent") != NULL
                            || strstr(code, "RiskDetection") != NULL);
}

/* Maps an Ark error object (code, message) for status. */
static int
nano_ark_map(long status, const char *code, const char *message,
    nano_provider_error_t *err)
{
    char  clean[200], shown[NANO_PROVIDER_CODE_MAX];

    nano_provider_clean_message(message, clean, sizeof(clean));
    if (nano_ark_sensitive(code)) {
        nano_provider_clean_code(code, shown, sizeof(shown));
        return nano_provider_error_set(err, NANO_PERR_BLOCKED, 0,
            "Ark's content check refused the %s (%s)",
            strncmp(code, "Output", 6) == 0 ? "image" : "request", shown);
    }
    if (code != NULL && strcmp(code, "AuthenticationError") == 0) {
        return nano_provider_error_auth(err, NANO_PROVIDER_ARK, status);
    }
    if (code != NULL && strcmp(code, "QuotaExceeded") == 0) {
        return nano_provider_error_set(err, NANO_PERR_QUOTA, 0,
            "Ark's quota is used up%s%s", clean[0] ? ": " : "", clean);
    }
    /* the account's own limit (its "safe experience mode"): a person
     * lifts it in the console, not within a retry's seconds */
    if (code != NULL && strcmp(code, "SetLimitExceeded") == 0) {
        return nano_provider_error_set(err, NANO_PERR_QUOTA, 0,
            "Ark's inference limit set for the account was reached%s%s",
            clean[0] ? ": " : "", clean);
    }
    /* a 403 that is not about the key */
    if (code != NULL && strcmp(code, "AccountOverdueError") == 0) {
        return nano_provider_error_set(err, NANO_PERR_QUOTA, 0,
            "Ark's account has an overdue balance%s%s",
            clean[0] ? ": " : "", clean);
    }
    return nano_provider_error_from_status(err, NANO_PROVIDER_ARK, status,
                                           clean);
}

int
nano_ark_parse_response(const char *body, size_t len,
    nano_ark_result_t *out, nano_provider_error_t *err)
{
    json_t            *root, *item, *e;
    const char        *b64, *url, *size;
    size_t             n, b64_len;
    nano_json_lift_t   lift;
    int                rc = -1;

    nano_ark_result_cleanup(out);
    root = nano_provider_json_parse_lifted(NANO_PROVIDER_ARK, body, len,
                                           nano_ark_lifted, &lift, err);
    if (root == NULL) {
        return -1;
    }
    out->generated_images = nano_provider_json_long(
        json_object_get(root, "usage"), "generated_images", -1);
    item = json_array_get(json_object_get(root, "data"), 0);
    if (!json_is_object(item)) {
        e = json_object_get(root, "error");
        if (json_is_object(e)) {
            nano_ark_map(400, nano_provider_json_str(e, "code"),
                         nano_provider_json_str(e, "message"), err);
        } else {
            nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
                "Ark's answer has no image data");
        }
        goto out;
    }
    e = json_object_get(item, "error");
    if (json_is_object(e)) {
        nano_ark_map(400, nano_provider_json_str(e, "code"),
                     nano_provider_json_str(e, "message"), err);
        goto out;
    }
    size = nano_provider_json_str(item, "size");
    if (size != NULL && nano_ark_dims(size, &out->width, &out->height) != 0) {
        out->width = out->height = 0;
    }
    b64 = nano_json_lift_str(&lift, json_object_get(item, "b64_json"),
                             &b64_len);
    url = nano_provider_json_str(item, "url");
    if (b64 != NULL) {
        out->image = nano_base64_decode(b64, b64_len, NANO_ARK_IMAGE_MAX,
                                        &n);
        if (out->image == NULL || n == 0) {
            free(out->image);
            out->image = NULL;
            nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
                n == 1 ? "Ark's image is too large"
                       : "Ark's image is not valid base64");
            goto out;
        }
        out->image_len = n;
    } else if (url != NULL && (strncmp(url, "https://", 8) == 0
                               || strncmp(url, "http://", 7) == 0))
    {
        out->url = strdup(url);
        if (out->url == NULL) {
            nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
                "Out of memory while reading Ark's answer");
            goto out;
        }
    } else {
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "Ark's answer has neither b64_json nor an http(s) url");
        goto out;
    }
    rc = 0;

out:
    json_decref(root);
    nano_json_lift_free(&lift);
    return rc;
}

int
nano_ark_parse_error(long status, const char *body, size_t len,
    nano_provider_error_t *err)
{
    json_t  *root, *e;

    root = nano_provider_json_load(body, len);
    e = json_object_get(root, "error");
    if (json_is_object(e)) {
        nano_ark_map(status, nano_provider_json_str(e, "code"),
                     nano_provider_json_str(e, "message"), err);
    } else {
        nano_provider_error_from_status(err, NANO_PROVIDER_ARK, status, NULL);
    }
    json_decref(root);
    return -1;
}
