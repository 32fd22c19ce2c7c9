/*
 * ByteDance Ark's images/generations wire format (seedream, Seedream
 * 4.0): the request, the answer (data[].b64_json decoded, or data[].url
 * for the transport to download at once: it expires in about 24 h) and
 * the error shape {"error":{"code","message","param","type"}}, whose
 * content-check codes (…SensitiveContentDetected…, …RiskDetection) mean
 * blocked.
 *
 * The transport POSTs nano_ark_request_body() to base + nano_ark_path()
 * with "Content-Type: application/json" and "Authorization: Bearer
 * <key>".  Never a retry after a timeout: the image may be billed.
 */

#ifndef NANO_ARK_H
#define NANO_ARK_H

#include <stddef.h>

#include "nano_client.h"     /* NANO_CLIENT_BODY_MAX */
#include "nano_provider.h"

#define NANO_ARK_DEFAULT_MODEL  "seedream-4-0-250828"
/* Decoded bytes: what base64 filling a whole answer can hold.  Every
 * answer is capped at NANO_CLIENT_BODY_MAX, so a larger limit here
 * could never be reached; a larger image is refused by that cap
 * (bad_response, refunded). */
#define NANO_ARK_IMAGE_MAX      (NANO_CLIENT_BODY_MAX / 4 * 3)

typedef struct {
    const char  *model;      /* NULL: NANO_ARK_DEFAULT_MODEL */
    const char  *prompt;     /* required */
    const char  *size;       /* "1K", "2K", "4K" or "<w>x<h>"; NULL: "2K" */
    long long    seed;       /* < 0: not sent */
    int          want_url;   /* response_format "url" instead of b64_json */
    const char  *image;      /* optional input image: an http(s) URL or a
                                "data:image/<type>;base64,…" URI */
} nano_ark_request_t;

/* "/api/v3/images/generations" */
const char *nano_ark_path(void);

/*
 * 1 when size is "1K", "2K", "4K", or "<w>x<h>" with w*h between
 * 1280x720 and 4096x4096 and an aspect ratio within 1:16..16:1 (what
 * Seedream 4.0 documents); *w and *h (may be NULL) get the pixels of a
 * "<w>x<h>" size, 0 for the named ones.
 */
int nano_ark_size_valid(const char *size, int *w, int *h);

/* The request body (new string, caller frees); NULL for a missing
 * prompt, a size not accepted, an image that is neither an http(s) URL
 * nor an image data URI, text that is not UTF-8, or no memory. */
char *nano_ark_request_body(const nano_ark_request_t *r);

typedef struct {
    unsigned char  *image;      /* owned: decoded b64_json, or NULL */
    size_t          image_len;
    char           *url;        /* owned: the url to download, or NULL */
    int             width;      /* from data[0].size, 0 when absent */
    int             height;
    long            generated_images;   /* usage; -1 when absent */
} nano_ark_result_t;

void nano_ark_result_init(nano_ark_result_t *r);

/* Frees what r owns; accepts NULL, may run twice. */
void nano_ark_result_cleanup(nano_ark_result_t *r);

/*
 * Reads a 200 answer into out (cleaned up first).  Returns 0 with either
 * image or url set; -1 with err: bad_response (not JSON, no data, an
 * item with neither b64_json nor url, bad base64, over
 * NANO_ARK_IMAGE_MAX), or an item's own error mapped as
 * nano_ark_parse_error does (blocked for a content check).
 */
int nano_ark_parse_response(const char *body, size_t len,
    nano_ark_result_t *out, nano_provider_error_t *err);

/*
 * Fills err from a failed call: content-check codes blocked, 401 (and
 * AuthenticationError) provider_auth, 429 provider_quota (retryable
 * unless the code is QuotaExceeded), InvalidParameter and other 4xx
 * bad_request with Ark's message, 5xx provider_error.  Returns -1.
 */
int nano_ark_parse_error(long status, const char *body, size_t len,
    nano_provider_error_t *err);

#endif /* NANO_ARK_H */
