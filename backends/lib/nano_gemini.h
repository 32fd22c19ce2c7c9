/*
 * Google Gemini's generateContent wire format for image output
 * (nano-banana): the request (a text part, an optional inline image to
 * edit, responseModalities TEXT+IMAGE, imageConfig.aspectRatio), the
 * answer (inlineData parts decoded, text parts, finishReason,
 * promptFeedback.blockReason, usageMetadata) and the error shape
 * {"error":{"code","message","status","details":[…RetryInfo…]}}.
 *
 * The transport POSTs nano_gemini_request_body() to base +
 * nano_gemini_path(model) with "Content-Type: application/json" and
 * "x-goog-api-key: <key>" (nano_provider_auth_header).  Never a retry
 * after a timeout: the image may be billed.
 */

#ifndef NANO_GEMINI_H
#define NANO_GEMINI_H

#include <stddef.h>

#include "nano_client.h"     /* NANO_CLIENT_BODY_MAX */
#include "nano_provider.h"

#define NANO_GEMINI_DEFAULT_MODEL  "gemini-2.5-flash-image"
/* Decoded bytes: what base64 filling a whole answer can hold, as
 * NANO_ARK_IMAGE_MAX; a larger limit could never be reached. */
#define NANO_GEMINI_IMAGE_MAX      (NANO_CLIENT_BODY_MAX / 4 * 3)

typedef struct {
    const char           *prompt;        /* required, UTF-8 */
    const unsigned char  *image;         /* optional input image (editing) */
    size_t                image_len;
    const char           *image_mime;    /* "image/png", "image/jpeg",
                                            "image/webp" */
    const char           *aspect_ratio;  /* NULL: not sent */
    long long             seed;          /* generationConfig's; < 0: not
                                            sent (none given) */
} nano_gemini_request_t;

/* 1 when ratio is one Gemini's imageConfig accepts: 1:1, 2:3, 3:2, 3:4,
 * 4:3, 4:5, 5:4, 9:16, 16:9, 21:9. */
int nano_gemini_aspect_ratio_valid(const char *ratio);

/*
 * Writes "/v1beta/models/<model>:generateContent" into buf (model NULL:
 * the default).  Returns 0, or -1 when it does not fit or model holds
 * characters other than [A-Za-z0-9._-].
 */
int nano_gemini_path(const char *model, char *buf, size_t size);

/* The request body: a new string (caller frees); NULL for a missing
 * prompt, an image without an accepted mime type, an aspect ratio not
 * accepted, text that is not UTF-8, or no memory. */
char *nano_gemini_request_body(const nano_gemini_request_t *r);

typedef struct {
    unsigned char  *image;           /* owned: the first image's bytes */
    size_t          image_len;
    char            mime[32];        /* its mimeType */
    char           *text;            /* owned: text parts joined, or NULL */
    char            finish_reason[40];
    long            prompt_tokens;   /* usageMetadata; -1 when absent */
    long            output_tokens;
    long            total_tokens;
} nano_gemini_result_t;

void nano_gemini_result_init(nano_gemini_result_t *r);

/* Frees what r owns; accepts NULL, may run twice. */
void nano_gemini_result_cleanup(nano_gemini_result_t *r);

/*
 * Reads a 200 answer into out (cleaned up first).  Returns 0 with an
 * image; -1 with err: blocked (promptFeedback.blockReason, or a
 * finishReason SAFETY, IMAGE_SAFETY, PROHIBITED_CONTENT,
 * IMAGE_PROHIBITED_CONTENT, BLOCKLIST, SPII, RECITATION,
 * IMAGE_RECITATION), bad_response (not JSON, no candidates, an image
 * that is not base64 or over NANO_GEMINI_IMAGE_MAX, no image part: the
 * message quotes the model's short text, if any).
 */
int nano_gemini_parse_response(const char *body, size_t len,
    nano_gemini_result_t *out, nano_provider_error_t *err);

/*
 * Fills err from a failed call: 400 with reason API_KEY_INVALID (or a
 * message about the API key), 401 and 403 provider_auth; 429
 * RESOURCE_EXHAUSTED provider_quota with retry_after_ms from RetryInfo's
 * retryDelay; DEADLINE_EXCEEDED timeout; others by status.  Returns -1.
 */
int nano_gemini_parse_error(long status, const char *body, size_t len,
    nano_provider_error_t *err);

/* A protobuf Duration as JSON writes it ("22s", "1.5s") in ms; 0 when
 * unreadable. */
long nano_gemini_duration_ms(const char *s);

#endif /* NANO_GEMINI_H */
