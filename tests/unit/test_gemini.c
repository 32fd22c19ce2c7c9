/*
 * Unit tests for Gemini's generateContent image format (nano_gemini):
 * the exact request (with and without an image to edit), answers with
 * an image, safety blocks, no image, and the error shapes with RetryInfo.
 */

#include "provider_rows.h"

#include <stdio.h>

#include "nano_base64.h"
#include "nano_gemini.h"

static void
test_path_and_ratios(void **state)
{
    char  buf[128];

    (void) state;
    assert_int_equal(nano_gemini_path(NULL, buf, sizeof(buf)), 0);
    assert_string_equal(buf,
        "/v1beta/models/gemini-2.5-flash-image:generateContent");
    assert_int_equal(nano_gemini_path("gemini-3-pro-image-preview", buf,
                                      sizeof(buf)), 0);
    assert_string_equal(buf,
        "/v1beta/models/gemini-3-pro-image-preview:generateContent");
    assert_int_equal(nano_gemini_path("../x", buf, sizeof(buf)), -1);
    assert_int_equal(nano_gemini_path("a?b", buf, sizeof(buf)), -1);
    assert_int_equal(nano_gemini_path("", buf, sizeof(buf)), -1);
    assert_int_equal(nano_gemini_path(NULL, buf, 10), -1);
    assert_true(nano_gemini_aspect_ratio_valid("16:9"));
    assert_true(nano_gemini_aspect_ratio_valid("21:9"));
    assert_false(nano_gemini_aspect_ratio_valid("16:10"));
    assert_false(nano_gemini_aspect_ratio_valid(NULL));
}

static void
test_request(void **state)
{
    nano_gemini_request_t  r = { 0 };
    unsigned char          png[4] = { 0x89, 'P', 'N', 'G' };
    char                  *body;

    (void) state;
    r.prompt = "a banana";
    r.seed = -1;
    body = nano_gemini_request_body(&r);
    assert_string_equal(body,
        "{\"contents\":[{\"role\":\"user\",\"parts\":"
        "[{\"text\":\"a banana\"}]}],"
        "\"generationConfig\":{\"responseModalities\":[\"TEXT\",\"IMAGE\"]}}");
    free(body);
    r.image = png;
    r.image_len = sizeof(png);
    r.image_mime = "image/png";
    r.aspect_ratio = "16:9";
    r.seed = 7;
    body = nano_gemini_request_body(&r);
    assert_string_equal(body,
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"a banana\"},"
        "{\"inline_data\":{\"mime_type\":\"image/png\","
        "\"data\":\"iVBORw==\"}}]}],"
        "\"generationConfig\":{\"responseModalities\":[\"TEXT\",\"IMAGE\"],"
        "\"imageConfig\":{\"aspectRatio\":\"16:9\"},\"seed\":7}}");
    free(body);
    /* 0 is a seed too */
    r.seed = 0;
    body = nano_gemini_request_body(&r);
    assert_non_null(strstr(body, "\"seed\":0}"));
    free(body);
    /* refusals */
    r.aspect_ratio = "7:5";
    assert_null(nano_gemini_request_body(&r));
    r.aspect_ratio = NULL;
    r.image_mime = "image/gif";
    assert_null(nano_gemini_request_body(&r));
    r.image_mime = "image/png";
    r.prompt = "";
    assert_null(nano_gemini_request_body(&r));
    r.prompt = "\xc3";
    assert_null(nano_gemini_request_body(&r));
}

/* "hello" in base64 */
#define IMG_B64  "aGVsbG8="

static int
parse(const char *body, nano_gemini_result_t *r, nano_provider_error_t *e)
{
    nano_provider_error_init(e);
    return nano_gemini_parse_response(body, strlen(body), r, e);
}

static void
test_answer_image(void **state)
{
    nano_gemini_result_t   r;
    nano_provider_error_t  e;

    (void) state;
    nano_gemini_result_init(&r);
    assert_int_equal(parse(
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
        "{\"text\":\"Here is your banana.\"},"
        "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"" IMG_B64
        "\"}}]},\"finishReason\":\"STOP\",\"index\":0}],"
        "\"usageMetadata\":{\"promptTokenCount\":7,"
        "\"candidatesTokenCount\":1290,\"totalTokenCount\":1297},"
        "\"modelVersion\":\"gemini-2.5-flash-image\"}", &r, &e), 0);
    assert_int_equal(r.image_len, 5);
    assert_memory_equal(r.image, "hello", 5);
    assert_string_equal(r.mime, "image/png");
    assert_string_equal(r.text, "Here is your banana.");
    assert_string_equal(r.finish_reason, "STOP");
    assert_int_equal(r.prompt_tokens, 7);
    assert_int_equal(r.output_tokens, 1290);
    assert_int_equal(r.total_tokens, 1297);
    /* snake_case is read too; only the first image is kept */
    assert_int_equal(parse(
        "{\"candidates\":[{\"content\":{\"parts\":["
        "{\"inline_data\":{\"mime_type\":\"image/jpeg\",\"data\":\"" IMG_B64
        "\"}},{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"AAAA\"}}"
        "]}}]}", &r, &e), 0);
    assert_string_equal(r.mime, "image/jpeg");
    assert_null(r.text);
    assert_int_equal(r.prompt_tokens, -1);
    nano_gemini_result_cleanup(&r);
    /* a thinking model's interim image ("thought": true) is not the
     * answer: the first image that is not a thought is */
    assert_int_equal(parse(
        "{\"candidates\":[{\"content\":{\"parts\":["
        "{\"thought\":true,\"inlineData\":{\"mimeType\":\"image/png\","
        "\"data\":\"AAAA\"}},{\"inlineData\":{\"mimeType\":\"image/webp\","
        "\"data\":\"" IMG_B64 "\"}}]}}]}", &r, &e), 0);
    assert_string_equal(r.mime, "image/webp");
    assert_int_equal(r.image_len, 5);
    assert_memory_equal(r.image, "hello", 5);
    nano_gemini_result_cleanup(&r);
    nano_gemini_result_cleanup(&r);
}

/* A large image's answer, its base64 written plainly or with every '/'
 * escaped (as JSON allows), decodes to the same bytes either way. */
static void
test_answer_large_image(void **state)
{
    enum { N = 300000 };
    unsigned char         *img = malloc(N);
    char                  *b64, *body, *o;
    const char            *c;
    nano_gemini_result_t   r;
    nano_provider_error_t  e;
    size_t                 i;
    int                    escaped;

    (void) state;
    assert_non_null(img);
    for (i = 0; i < N; i++) {
        img[i] = (unsigned char) (i * 7919 >> 3);
    }
    b64 = nano_base64_encode(img, N);
    assert_non_null(b64);
    assert_non_null(strchr(b64, '/'));
    body = malloc(2 * strlen(b64) + 256);
    assert_non_null(body);
    nano_gemini_result_init(&r);
    for (escaped = 1; escaped >= 0; escaped--) {
        o = body + sprintf(body, "{\"candidates\":[{\"content\":{\"parts\":"
                                 "[{\"inlineData\":{\"mimeType\":"
                                 "\"image/png\",\"data\":\"");
        for (c = b64; *c != '\0'; c++) {
            if (escaped && *c == '/') {
                *o++ = '\\';
            }
            *o++ = *c;
        }
        strcpy(o, "\"}}]},\"finishReason\":\"STOP\"}]}");
        assert_int_equal(parse(body, &r, &e), 0);
        assert_int_equal(r.image_len, N);
        assert_memory_equal(r.image, img, N);
        assert_string_equal(r.mime, "image/png");
    }
    /* the image cap is what the answer cap can carry, not more */
    assert_true(nano_base64_encoded_len(NANO_GEMINI_IMAGE_MAX)
                <= NANO_CLIENT_BODY_MAX);
    assert_true(nano_base64_encoded_len(NANO_GEMINI_IMAGE_MAX + 1)
                > NANO_CLIENT_BODY_MAX);
    /* one wrong byte deep inside the plain one is still refused */
    body[strlen(body) / 2] = '$';
    assert_int_equal(parse(body, &r, &e), -1);
    assert_string_equal(e.message, "Gemini's image is not valid base64");
    nano_gemini_result_cleanup(&r);
    free(body);
    free(b64);
    free(img);
}

typedef struct {
    const char  *name;
    const char  *body;
    const char  *code;
    const char  *message;
} answer_row_t;

static const answer_row_t  answer_rows[] = {
    { "prompt blocked",
      "{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},"
      "\"usageMetadata\":{\"promptTokenCount\":5}}",
      "blocked",
      "Gemini's safety filter blocked the prompt (PROHIBITED_CONTENT)" },
    { "prompt blocked, a reason with control characters (shown, not raw)",
      "{\"promptFeedback\":{\"blockReason\":\"OTHER\\r\\nX: y\"}}",
      "blocked",
      "Gemini's safety filter blocked the prompt (OTHER??X:?y)" },
    { "finish IMAGE_SAFETY",
      "{\"candidates\":[{\"content\":{\"parts\":[]},"
      "\"finishReason\":\"IMAGE_SAFETY\"}]}",
      "blocked", "Gemini's safety filter stopped the image (IMAGE_SAFETY)" },
    { "finish SAFETY, no content",
      "{\"candidates\":[{\"finishReason\":\"SAFETY\",\"safetyRatings\":[]}]}",
      "blocked", "Gemini's safety filter stopped the image (SAFETY)" },
    { "finish PROHIBITED_CONTENT",
      "{\"candidates\":[{\"finishReason\":\"PROHIBITED_CONTENT\"}]}",
      "blocked",
      "Gemini's safety filter stopped the image (PROHIBITED_CONTENT)" },
    { "text only",
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"I can only "
      "describe it.\"}]},\"finishReason\":\"STOP\"}]}",
      "bad_response",
      "Gemini answered without an image (STOP): I can only describe it" },
    { "NO_IMAGE",
      "{\"candidates\":[{\"content\":{\"parts\":[]},"
      "\"finishReason\":\"NO_IMAGE\"}]}",
      "bad_response", "Gemini answered without an image (NO_IMAGE)" },
    { "no finishReason",
      "{\"candidates\":[{\"content\":{}}]}",
      "bad_response", "Gemini answered without an image (no finishReason)" },
    { "no candidates",
      "{\"candidates\":[],\"usageMetadata\":{}}",
      "bad_response", "Gemini's answer has no candidates" },
    { "bad base64",
      "{\"candidates\":[{\"content\":{\"parts\":[{\"inlineData\":"
      "{\"mimeType\":\"image/png\",\"data\":\"a$b\"}}]}}]}",
      "bad_response", "Gemini's image is not valid base64" },
    { "image part without data",
      "{\"candidates\":[{\"content\":{\"parts\":[{\"inlineData\":"
      "{\"mimeType\":\"image/png\"}}]}}]}",
      "bad_response", "Gemini's image part has no mimeType or data" },
    { "malformed", "{\"candidates\":",
      "bad_response", "Gemini's answer is not JSON" },
};

static void
test_answer_row(void **state)
{
    const answer_row_t    *row = *state;
    nano_gemini_result_t   r;
    nano_provider_error_t  e;

    nano_gemini_result_init(&r);
    assert_int_equal(parse(row->body, &r, &e), -1);
    assert_string_equal(e.code, row->code);
    assert_string_equal(e.message, row->message);
    assert_int_equal(e.retryable, 0);
    assert_null(r.image);
    nano_gemini_result_cleanup(&r);
}

static const provider_error_row_t  error_rows[] = {
    { "error 429 RetryInfo", NANO_PROVIDER_GEMINI, 429, NULL,
      "{\"error\":{\"code\":429,\"message\":\"You exceeded your current "
      "quota, please check your plan and billing details.\","
      "\"status\":\"RESOURCE_EXHAUSTED\",\"details\":["
      "{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\","
      "\"violations\":[]},"
      "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\","
      "\"retryDelay\":\"22s\"}]}}",
      "provider_quota",
      "Gemini's rate limit or quota was reached (HTTP 429): You exceeded "
      "your current quota, please check your plan and billing details",
      1, 22000 },
    { "error 400 API_KEY_INVALID", NANO_PROVIDER_GEMINI, 400, NULL,
      "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass "
      "a valid API key.\",\"status\":\"INVALID_ARGUMENT\",\"details\":["
      "{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
      "\"reason\":\"API_KEY_INVALID\",\"domain\":\"googleapis.com\"}]}}",
      "provider_auth",
      "Gemini refused the API key (HTTP 400); check GEMINI_API_KEY", 0, 0 },
    { "error 403 PERMISSION_DENIED", NANO_PROVIDER_GEMINI, 403, NULL,
      "{\"error\":{\"code\":403,\"message\":\"Method doesn't allow "
      "unregistered callers.\",\"status\":\"PERMISSION_DENIED\"}}",
      "provider_auth",
      "Gemini refused the API key (HTTP 403); check GEMINI_API_KEY", 0, 0 },
    { "error 400 INVALID_ARGUMENT", NANO_PROVIDER_GEMINI, 400, NULL,
      "{\"error\":{\"code\":400,\"message\":\"* GenerateContentRequest."
      "generation_config.image_config.aspect_ratio: unsupported\","
      "\"status\":\"INVALID_ARGUMENT\"}}",
      "bad_request",
      "Gemini refused the request (HTTP 400): * GenerateContentRequest."
      "generation_config.image_config.aspect_ratio: unsupported", 0, 0 },
    { "error 500 INTERNAL", NANO_PROVIDER_GEMINI, 500, NULL,
      "{\"error\":{\"code\":500,\"message\":\"An internal error has "
      "occurred.\",\"status\":\"INTERNAL\"}}",
      "provider_error",
      "Gemini failed (HTTP 500): An internal error has occurred", 1, 0 },
    { "error 503 UNAVAILABLE with fractional delay", NANO_PROVIDER_GEMINI,
      503, NULL,
      "{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
      "\"status\":\"UNAVAILABLE\",\"details\":[{\"@type\":"
      "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":"
      "\"1.5s\"}]}}",
      "provider_error",
      "Gemini failed (HTTP 503): The model is overloaded", 1, 1500 },
    { "error 504 DEADLINE_EXCEEDED", NANO_PROVIDER_GEMINI, 504, NULL,
      "{\"error\":{\"code\":504,\"message\":\"Deadline expired.\","
      "\"status\":\"DEADLINE_EXCEEDED\"}}",
      "timeout", "Gemini timed out (HTTP 504): Deadline expired", 1, 0 },
    { "error 502 not JSON", NANO_PROVIDER_GEMINI, 502, NULL,
      "<html>Bad Gateway</html>",
      "provider_error", "Gemini failed (HTTP 502)", 1, 0 },
};

static void
test_duration(void **state)
{
    (void) state;
    assert_int_equal(nano_gemini_duration_ms("22s"), 22000);
    assert_int_equal(nano_gemini_duration_ms("0.250s"), 250);
    assert_int_equal(nano_gemini_duration_ms("22"), 0);
    assert_int_equal(nano_gemini_duration_ms("-1s"), 0);
    assert_int_equal(nano_gemini_duration_ms("s"), 0);
    assert_int_equal(nano_gemini_duration_ms(NULL), 0);
    assert_int_equal(nano_gemini_duration_ms("99999s"), 3600000);
}

int
main(void)
{
    const struct CMUnitTest  extra[] = {
        cmocka_unit_test(test_path_and_ratios),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_answer_image),
        cmocka_unit_test(test_answer_large_image),
        cmocka_unit_test(test_duration),
    };
    int  rc;

    rc = unit_run_table("gemini answers", answer_rows,
                        sizeof(answer_rows) / sizeof(answer_rows[0]),
                        sizeof(answer_rows[0]), test_answer_row, extra,
                        sizeof(extra) / sizeof(extra[0]));
    rc |= PROVIDER_ROWS_RUN("gemini errors", error_rows, NULL, 0);
    return rc;
}
