/*
 * Unit tests for Ark's images/generations format (nano_ark): exact
 * requests, sizes, b64_json and url answers, item errors, and the error
 * shape with its content-check codes.
 */

#include "unit_table.h"

#include <stdio.h>

#include "nano_ark.h"
#include "nano_base64.h"

static void
test_sizes(void **state)
{
    int  w, h;

    (void) state;
    assert_string_equal(nano_ark_path(), "/api/v3/images/generations");
    assert_true(nano_ark_size_valid("2K", &w, &h));
    assert_int_equal(w, 0);
    assert_true(nano_ark_size_valid("2048x2048", &w, &h));
    assert_int_equal(w, 2048);
    assert_int_equal(h, 2048);
    assert_true(nano_ark_size_valid("1280x720", NULL, NULL));
    assert_true(nano_ark_size_valid("4096x4096", NULL, NULL));
    assert_false(nano_ark_size_valid("512x512", NULL, NULL));   /* too few */
    assert_false(nano_ark_size_valid("4097x4096", NULL, NULL)); /* too many */
    assert_false(nano_ark_size_valid("4000x240", NULL, NULL));  /* > 16:1 */
    assert_false(nano_ark_size_valid("3K", NULL, NULL));
    assert_false(nano_ark_size_valid("2048*2048", NULL, NULL));
    assert_false(nano_ark_size_valid("02048x2048", NULL, NULL));
    assert_false(nano_ark_size_valid("2048x", NULL, NULL));
    assert_false(nano_ark_size_valid(NULL, NULL, NULL));
}

static void
test_request(void **state)
{
    nano_ark_request_t  r = { 0 };
    char               *body;

    (void) state;
    r.prompt = "a red fox";
    r.seed = -1;
    body = nano_ark_request_body(&r);
    assert_string_equal(body,
        "{\"model\":\"seedream-4-0-250828\",\"prompt\":\"a red fox\","
        "\"size\":\"2K\",\"response_format\":\"b64_json\",\"watermark\":false,"
        "\"sequential_image_generation\":\"disabled\"}");
    free(body);
    r.size = "1024x1024";
    r.seed = 42;
    r.want_url = 1;
    r.image = "data:image/png;base64,iVBORw0KGgo=";
    body = nano_ark_request_body(&r);
    assert_string_equal(body,
        "{\"model\":\"seedream-4-0-250828\",\"prompt\":\"a red fox\","
        "\"size\":\"1024x1024\",\"response_format\":\"url\","
        "\"watermark\":false,\"sequential_image_generation\":\"disabled\","
        "\"seed\":42,\"image\":\"data:image/png;base64,iVBORw0KGgo=\"}");
    free(body);
    r.image = "file:///etc/passwd";
    assert_null(nano_ark_request_body(&r));
    r.image = NULL;
    r.size = "10x10";
    assert_null(nano_ark_request_body(&r));
    r.size = NULL;
    r.prompt = NULL;
    assert_null(nano_ark_request_body(&r));
}

static int
parse(const char *body, nano_ark_result_t *r, nano_provider_error_t *e)
{
    nano_provider_error_init(e);
    return nano_ark_parse_response(body, strlen(body), r, e);
}

static void
test_answers(void **state)
{
    nano_ark_result_t      r;
    nano_provider_error_t  e;

    (void) state;
    nano_ark_result_init(&r);
    assert_int_equal(parse(
        "{\"model\":\"seedream-4-0-250828\",\"created\":1757321139,"
        "\"data\":[{\"b64_json\":\"aGVsbG8=\",\"size\":\"2048x2048\"}],"
        "\"usage\":{\"generated_images\":1,\"output_tokens\":16384,"
        "\"total_tokens\":16384}}", &r, &e), 0);
    assert_int_equal(r.image_len, 5);
    assert_memory_equal(r.image, "hello", 5);
    assert_null(r.url);
    assert_int_equal(r.width, 2048);
    assert_int_equal(r.height, 2048);
    assert_int_equal(r.generated_images, 1);
    assert_int_equal(parse(
        "{\"data\":[{\"url\":\"https://ark-content.example/x.jpeg?sig=1\","
        "\"size\":\"1024x1024\"}]}", &r, &e), 0);
    assert_null(r.image);
    assert_string_equal(r.url, "https://ark-content.example/x.jpeg?sig=1");
    assert_int_equal(r.width, 1024);
    assert_int_equal(r.generated_images, -1);
    nano_ark_result_cleanup(&r);
    nano_ark_result_cleanup(&r);
}

/* A large b64_json is read where it lies (nano_json_lift) and decodes
 * whole; a long url beside it still reads as a string. */
static void
test_answer_large_image(void **state)
{
    enum { N = 200000 };
    unsigned char         *img = malloc(N);
    char                  *b64, *body, *url;
    nano_ark_result_t      r;
    nano_provider_error_t  e;
    size_t                 i;

    (void) state;
    assert_non_null(img);
    for (i = 0; i < N; i++) {
        img[i] = (unsigned char) (i * 31 + (i >> 9));
    }
    b64 = nano_base64_encode(img, N);
    url = malloc(6001);
    body = malloc(strlen(b64) + 6200);
    assert_non_null(b64);
    assert_non_null(url);
    assert_non_null(body);
    nano_ark_result_init(&r);
    sprintf(body, "{\"data\": [ {\"size\": \"1024x1024\", \"b64_json\" :\n"
                  "\"%s\"} ]}", b64);
    assert_int_equal(parse(body, &r, &e), 0);
    assert_int_equal(r.image_len, N);
    assert_memory_equal(r.image, img, N);
    assert_int_equal(r.width, 1024);
    memcpy(url, "https://ark-content.example/", 28);
    memset(url + 28, 'a', 6000 - 28);
    url[6000] = '\0';
    sprintf(body, "{\"data\":[{\"url\":\"%s\"}]}", url);
    assert_int_equal(parse(body, &r, &e), 0);
    assert_null(r.image);
    assert_string_equal(r.url, url);
    nano_ark_result_cleanup(&r);
    free(body);
    free(url);
    free(b64);
    free(img);
}

/* The b64_json of n bytes in an answer (a new string). */
static char *
answer_of(size_t n)
{
    unsigned char  *img = malloc(n);
    char           *b64, *body;
    size_t          len;

    assert_non_null(img);
    memset(img, 0x5a, n);
    b64 = nano_base64_encode(img, n);
    assert_non_null(b64);
    len = strlen(b64) + 64;
    body = malloc(len);
    assert_non_null(body);
    snprintf(body, len, "{\"data\":[{\"b64_json\":\"%s\"}]}", b64);
    free(b64);
    free(img);
    return body;
}

/* The image cap is the most an answer under the client's cap can carry:
 * the largest decodes, one byte more (whose base64 alone passes that
 * cap) is refused, so neither limit is dead. */
static void
test_answer_image_max(void **state)
{
    nano_ark_result_t      r;
    nano_provider_error_t  e;
    char                  *body;

    (void) state;
    assert_true(nano_base64_encoded_len(NANO_ARK_IMAGE_MAX)
                <= NANO_CLIENT_BODY_MAX);
    assert_true(nano_base64_encoded_len(NANO_ARK_IMAGE_MAX + 1)
                > NANO_CLIENT_BODY_MAX);
    nano_ark_result_init(&r);
    body = answer_of(NANO_ARK_IMAGE_MAX);
    assert_int_equal(parse(body, &r, &e), 0);
    assert_int_equal(r.image_len, NANO_ARK_IMAGE_MAX);
    free(body);
    body = answer_of(NANO_ARK_IMAGE_MAX + 1);
    assert_int_equal(parse(body, &r, &e), -1);
    assert_null(r.image);
    assert_string_equal(e.code, "bad_response");
    assert_string_equal(e.message, "Ark's image is too large");
    free(body);
    nano_ark_result_cleanup(&r);
}

typedef struct {
    const char  *name;
    long         status;      /* 200: a success body */
    const char  *body;
    const char  *code;
    const char  *message;
    int          retryable;
} row_t;

static const row_t  rows[] = {
    { "answer without data", 200, "{\"data\":[]}",
      "bad_response", "Ark's answer has no image data", 0 },
    { "answer item without image", 200, "{\"data\":[{\"size\":\"1x1\"}]}",
      "bad_response", "Ark's answer has neither b64_json nor an http(s) url",
      0 },
    { "answer url not http", 200, "{\"data\":[{\"url\":\"ftp://x\"}]}",
      "bad_response", "Ark's answer has neither b64_json nor an http(s) url",
      0 },
    { "answer bad base64", 200, "{\"data\":[{\"b64_json\":\"@@@\"}]}",
      "bad_response", "Ark's image is not valid base64", 0 },
    { "answer malformed", 200, "not json",
      "bad_response", "Ark's answer is not JSON", 0 },
    { "answer item error (output check)", 200,
      "{\"data\":[{\"error\":{\"code\":\"OutputImageSensitiveContentDetected\","
      "\"message\":\"The request failed because the output image may contain "
      "sensitive information.\"}}]}",
      "blocked",
      "Ark's content check refused the image "
      "(OutputImageSensitiveContentDetected)", 0 },
    { "400 input text sensitive", 400,
      "{\"error\":{\"code\":\"InputTextSensitiveContentDetected\","
      "\"message\":\"The request failed because the input text may contain "
      "sensitive information. Request id: 0217\",\"param\":\"\","
      "\"type\":\"BadRequest\"}}",
      "blocked",
      "Ark's content check refused the request "
      "(InputTextSensitiveContentDetected)", 0 },
    { "400 sensitive, a code with control characters (shown, not raw)", 400,
      "{\"error\":{\"code\":\"InputTextSensitiveContentDetected\\u0007\\t\"}}",
      "blocked",
      "Ark's content check refused the request "
      "(InputTextSensitiveContentDetected?\?)", 0 },
    { "400 risk detection", 400,
      "{\"error\":{\"code\":\"InputTextRiskDetection\",\"message\":\"x\","
      "\"type\":\"BadRequest\"}}",
      "blocked",
      "Ark's content check refused the request (InputTextRiskDetection)",
      0 },
    { "401 authentication", 401,
      "{\"error\":{\"code\":\"AuthenticationError\",\"message\":\"The API "
      "key in the request is missing or invalid. Request id: 02\","
      "\"param\":\"\",\"type\":\"Unauthorized\"}}",
      "provider_auth", "Ark refused the API key (HTTP 401); check ARK_API_KEY",
      0 },
    { "400 invalid parameter", 400,
      "{\"error\":{\"code\":\"InvalidParameter\",\"message\":\"The parameter "
      "`size` specified in the request is not valid.\",\"param\":\"size\","
      "\"type\":\"BadRequest\"}}",
      "bad_request",
      "Ark refused the request (HTTP 400): The parameter `size` specified in "
      "the request is not valid", 0 },
    { "429 rate limit", 429,
      "{\"error\":{\"code\":\"RateLimitExceeded.EndpointIPMExceeded\","
      "\"message\":\"Too many images per minute.\",\"type\":"
      "\"TooManyRequests\"}}",
      "provider_quota",
      "Ark's rate limit or quota was reached (HTTP 429): Too many images per "
      "minute", 1 },
    { "429 quota exceeded", 429,
      "{\"error\":{\"code\":\"QuotaExceeded\",\"message\":\"Your account has "
      "used up its quota.\",\"type\":\"TooManyRequests\"}}",
      "provider_quota", "Ark's quota is used up: Your account has used up its "
      "quota", 0 },
    /* the limit the account set itself (Ark's "safe experience mode"):
     * nothing changes in seconds, so it is not asked again (it was, twice,
     * as a rate limit; found by the images probe) */
    { "429 the account's own inference limit", 429,
      "{\"error\":{\"code\":\"SetLimitExceeded\",\"message\":\"Your "
      "account has reached the set inference limit for the model, and the "
      "model service has been paused.\",\"type\":\"TooManyRequests\"}}",
      "provider_quota", "Ark's inference limit set for the account was "
      "reached: Your account has reached the set inference limit for the "
      "model, and the model service has been paused", 0 },
    { "403 account overdue", 403,
      "{\"error\":{\"code\":\"AccountOverdueError\",\"message\":\"The "
      "request failed because your account has an overdue balance. Request "
      "ID: 0217\",\"type\":\"Forbidden\"}}",
      "provider_quota", "Ark's account has an overdue balance: The request "
      "failed because your account has an overdue balance. Request ID: 0217",
      0 },
    { "500 internal", 500,
      "{\"error\":{\"code\":\"InternalServiceError\",\"message\":\"The "
      "service encountered an unexpected internal error.\",\"type\":"
      "\"InternalServerError\"}}",
      "provider_error",
      "Ark failed (HTTP 500): The service encountered an unexpected internal "
      "error", 1 },
    { "503 empty", 503, "", "provider_error", "Ark failed (HTTP 503)", 1 },
};

static void
test_row(void **state)
{
    const row_t            *row = *state;
    nano_ark_result_t       r;
    nano_provider_error_t   e;

    nano_ark_result_init(&r);
    if (row->status == 200) {
        assert_int_equal(parse(row->body, &r, &e), -1);
        assert_null(r.image);
        assert_null(r.url);
    } else {
        nano_provider_error_from_http(NANO_PROVIDER_ARK, row->status, NULL,
                                      row->body, strlen(row->body), &e);
    }
    assert_string_equal(e.code, row->code);
    assert_string_equal(e.message, row->message);
    assert_int_equal(e.retryable, row->retryable);
    nano_ark_result_cleanup(&r);
}

int
main(void)
{
    const struct CMUnitTest  extra[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_answer_large_image),
        cmocka_unit_test(test_answer_image_max),
    };

    return unit_run_table("ark", rows, sizeof(rows) / sizeof(rows[0]),
                          sizeof(rows[0]), test_row, extra,
                          sizeof(extra) / sizeof(extra[0]));
}
