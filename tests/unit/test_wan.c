/*
 * Unit tests for DashScope's asynchronous video format (nano_wan): the
 * exact submit body, task ids and paths, every task status, failures
 * (DataInspectionFailed blocked), the error shape and the poll backoff.
 */

#include "provider_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_wan.h"

static void
test_paths_and_sizes(void **state)
{
    char  buf[64];

    (void) state;
    assert_string_equal(nano_wan_submit_path(),
        "/api/v1/services/aigc/video-generation/video-synthesis");
    assert_string_equal(NANO_WAN_ASYNC_HEADER, "X-DashScope-Async: enable");
    assert_int_equal(nano_wan_poll_path("0385dc79-5ff8-4d82-bcb6-caf3e8b",
                                        buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/api/v1/tasks/0385dc79-5ff8-4d82-bcb6-caf3e8b");
    assert_int_equal(nano_wan_poll_path("../x", buf, sizeof(buf)), -1);
    assert_int_equal(nano_wan_poll_path("a/b", buf, sizeof(buf)), -1);
    assert_int_equal(nano_wan_poll_path("", buf, sizeof(buf)), -1);
    assert_int_equal(nano_wan_poll_path("abc", buf, 10), -1);
}

static void
test_submit_body(void **state)
{
    nano_wan_request_t  r = { 0 };
    char               *body;

    (void) state;
    r.prompt = "a kitten";
    r.seed = -1;
    r.prompt_extend = -1;
    r.audio = -1;
    body = nano_wan_submit_body(&r);
    assert_string_equal(body,
        "{\"model\":\"wan2.5-t2v-preview\",\"input\":{\"prompt\":\"a kitten\"},"
        "\"parameters\":{\"duration\":5,\"size\":\"1280*720\"}}");
    free(body);
    r.negative_prompt = "blur";
    r.size = "832*480";
    r.duration = 10;
    r.seed = 12345;
    r.prompt_extend = 0;
    r.audio = 1;
    body = nano_wan_submit_body(&r);
    assert_string_equal(body,
        "{\"model\":\"wan2.5-t2v-preview\",\"input\":{\"prompt\":\"a kitten\","
        "\"negative_prompt\":\"blur\"},\"parameters\":{\"duration\":10,"
        "\"size\":\"832*480\",\"seed\":12345,\"prompt_extend\":false,"
        "\"audio\":true}}");
    free(body);
    /* image to video: resolution instead of size */
    r.negative_prompt = NULL;
    r.img_url = "https://example.com/first.png";
    r.size = "1920*1080";
    r.duration = 5;
    r.seed = -1;
    r.prompt_extend = -1;
    r.audio = -1;
    body = nano_wan_submit_body(&r);
    assert_string_equal(body,
        "{\"model\":\"wan2.5-i2v-preview\",\"input\":{\"prompt\":\"a kitten\","
        "\"img_url\":\"https://example.com/first.png\"},\"parameters\":"
        "{\"duration\":5,\"resolution\":\"1080P\"}}");
    free(body);
    r.img_url = NULL;
    r.duration = 7;
    assert_null(nano_wan_submit_body(&r));
    r.duration = 5;
    r.size = "1080*1920";
    body = nano_wan_submit_body(&r);
    assert_non_null(strstr(body, "\"size\":\"1080*1920\""));
    free(body);
    /* DashScope's spelling only, and only the sizes wan2.5 makes */
    r.size = "1280x720";
    assert_null(nano_wan_submit_body(&r));
    r.size = "640*360";
    assert_null(nano_wan_submit_body(&r));
    r.size = NULL;
    r.prompt = "";
    assert_null(nano_wan_submit_body(&r));
}

/* The sizes a generation may ask for, from the table the submit takes
 * its sizes from: each offered one (as DashScope or people write it)
 * makes a submit body with that size, the refusal names exactly those,
 * and a size Wan takes but the page does not offer is refused before
 * any charge.  The generate API kept a list of its own beside the table. */
static void
test_offered_sizes(void **state)
{
    static const char *const  offered[] = {
        "1280*720", "720*1280", "832*480", "480*832", "1920*1080",
        "1080*1920"
    };
    static const char *const  wan_only[] = {
        "624*624", "960*960", "1088*832", "832*1088", "1440*1440",
        "1632*1248", "1248*1632"
    };
    nano_wan_request_t  r = { 0 };
    char                want[64], x[32], *body, *star;
    size_t              i;

    (void) state;
    r.prompt = "a kitten";
    r.seed = -1;
    r.prompt_extend = -1;
    r.audio = -1;
    for (i = 0; i < sizeof(offered) / sizeof(*offered); i++) {
        snprintf(x, sizeof(x), "%s", offered[i]);
        star = strchr(x, '*');
        *star = 'x';
        assert_string_equal(nano_wan_size_offered(offered[i]), offered[i]);
        assert_string_equal(nano_wan_size_offered(x), offered[i]);
        /* the list /api/models gives: the same, in order, with an x */
        assert_int_equal(nano_wan_size_offered_nth(i, want, sizeof(want)), 0);
        assert_string_equal(want, x);
        r.size = nano_wan_size_offered(x);
        body = nano_wan_submit_body(&r);
        assert_non_null(body);
        snprintf(want, sizeof(want), "\"size\":\"%s\"", offered[i]);
        assert_non_null(strstr(body, want));
        free(body);
    }
    for (i = 0; i < sizeof(wan_only) / sizeof(*wan_only); i++) {
        assert_null(nano_wan_size_offered(wan_only[i]));
        r.size = wan_only[i];
        body = nano_wan_submit_body(&r);
        assert_non_null(body);
        free(body);
    }
    assert_int_equal(nano_wan_size_offered_nth(i, want, sizeof(want)), -1);
    assert_int_equal(nano_wan_size_offered_nth(0, want, 8), -1);  /* 9 */
    assert_int_equal(nano_wan_size_offered_nth(0, want, 9), 0);
    assert_string_equal(want, "1280x720");
    assert_string_equal(nano_wan_sizes_offered_rule(),
                        "size must be one of 1280*720, 720*1280, 832*480,"
                        " 480*832, 1920*1080, 1080*1920");
    assert_null(nano_wan_size_offered(NULL));
    assert_null(nano_wan_size_offered(""));
    assert_null(nano_wan_size_offered("1280"));
    assert_null(nano_wan_size_offered("1280X720"));
    assert_null(nano_wan_size_offered("1280*720 "));
    assert_null(nano_wan_size_offered("1280x720x"));
    assert_null(nano_wan_size_offered("640*360"));
}

static void
test_submit_answer(void **state)
{
    nano_provider_error_t  e;
    char                   id[NANO_WAN_TASK_ID_MAX];
    const char            *s;

    (void) state;
    nano_provider_error_init(&e);
    s = "{\"output\":{\"task_status\":\"PENDING\",\"task_id\":"
        "\"0385dc79-5ff8-4d82-bcb6-caf3e8b1a3d6\"},\"request_id\":"
        "\"4909100c-7b5a-9f92-bfe5-xxxxxx\"}";
    assert_int_equal(nano_wan_parse_submit(s, strlen(s), id, &e), 0);
    assert_string_equal(id, "0385dc79-5ff8-4d82-bcb6-caf3e8b1a3d6");
    s = "{\"output\":{\"task_status\":\"PENDING\"}}";
    assert_int_equal(nano_wan_parse_submit(s, strlen(s), id, &e), -1);
    assert_string_equal(e.code, "bad_response");
    assert_string_equal(e.message, "DashScope's answer has no task id");
    assert_string_equal(id, "");
    s = "{\"output\":{\"task_id\":\"../../x\"}}";
    assert_int_equal(nano_wan_parse_submit(s, strlen(s), id, &e), -1);
    assert_string_equal(e.message, "DashScope's task id is not usable");
    s = "{\"request_id\":\"r\",\"code\":\"DataInspectionFailed\","
        "\"message\":\"Input data may contain inappropriate content.\"}";
    assert_int_equal(nano_wan_parse_submit(s, strlen(s), id, &e), -1);
    assert_string_equal(e.code, "blocked");
    assert_int_equal(nano_wan_parse_submit("", 0, id, &e), -1);
    assert_string_equal(e.message, "DashScope's answer was empty");
}

typedef struct {
    const char        *name;
    const char        *body;
    int                rc;
    nano_wan_status_t  status;
    const char        *code;
    const char        *message;
} poll_row_t;

#define TASK(fields) \
    "{\"request_id\":\"r\",\"output\":{\"task_id\":\"t1\"," fields "}}"

static const poll_row_t  poll_rows[] = {
    { "poll PENDING", TASK("\"task_status\":\"PENDING\""), 0,
      NANO_WAN_PENDING, "", "" },
    { "poll RUNNING", TASK("\"task_status\":\"RUNNING\","
      "\"submit_time\":\"2025-09-25 10:00:00.000\""), 0,
      NANO_WAN_RUNNING, "", "" },
    { "poll SUCCEEDED",
      "{\"request_id\":\"r\",\"output\":{\"task_id\":\"t1\",\"task_status\":"
      "\"SUCCEEDED\",\"video_url\":\"https://dashscope-result.example/v.mp4"
      "?Expires=1\",\"orig_prompt\":\"a kitten\"},\"usage\":"
      "{\"video_duration\":5,\"video_ratio\":\"1280*720\","
      "\"video_count\":1}}", 0, NANO_WAN_SUCCEEDED, "", "" },
    { "poll SUCCEEDED without url", TASK("\"task_status\":\"SUCCEEDED\""),
      -1, NANO_WAN_SUCCEEDED, "bad_response",
      "DashScope's finished task has no video url" },
    { "poll FAILED DataInspectionFailed",
      TASK("\"task_status\":\"FAILED\",\"code\":\"DataInspectionFailed\","
           "\"message\":\"Output data may contain inappropriate content.\""),
      -1, NANO_WAN_FAILED, "blocked",
      "DashScope's content check refused the video (DataInspectionFailed)" },
    { "poll FAILED InternalError",
      TASK("\"task_status\":\"FAILED\",\"code\":\"InternalError\","
           "\"message\":\"An internal error has occured, please try again "
           "later or contact service support.\""),
      -1, NANO_WAN_FAILED, "provider_error",
      "DashScope's video task failed (InternalError): An internal error has "
      "occured, please try again later or contact service support" },
    { "poll FAILED, a code with control characters (shown, not raw)",
      TASK("\"task_status\":\"FAILED\",\"code\":\"Bad\\u001b[2J\\nCode\""),
      -1, NANO_WAN_FAILED, "provider_error",
      "DashScope's video task failed (Bad??2J?Code)" },
    { "poll FAILED without code", TASK("\"task_status\":\"FAILED\""),
      -1, NANO_WAN_FAILED, "provider_error",
      "DashScope's video task failed (no code)" },
    { "poll CANCELED", TASK("\"task_status\":\"CANCELED\""), -1,
      NANO_WAN_CANCELED, "provider_error",
      "DashScope's video task was canceled" },
    { "poll UNKNOWN", TASK("\"task_status\":\"UNKNOWN\""), -1,
      NANO_WAN_UNKNOWN, "provider_error",
      "DashScope does not know the video task (it may have expired)" },
    { "poll strange status", TASK("\"task_status\":\"DONE\""), -1,
      NANO_WAN_UNKNOWN, "bad_response",
      "DashScope's task answer has no known task_status" },
    { "poll malformed", "{\"output\":", -1, NANO_WAN_UNKNOWN,
      "bad_response", "DashScope's answer is not JSON" },
};

static void
test_poll_row(void **state)
{
    const poll_row_t       *row = *state;
    nano_wan_task_t         t;
    nano_provider_error_t   e;

    nano_wan_task_init(&t);
    nano_provider_error_init(&e);
    assert_int_equal(nano_wan_parse_poll(row->body, strlen(row->body), &t,
                                         &e), row->rc);
    assert_int_equal(t.status, row->status);
    assert_string_equal(e.code, row->code);
    assert_string_equal(e.message, row->message);
    assert_int_equal(e.retryable, 0);
    if (row->status == NANO_WAN_SUCCEEDED && row->rc == 0) {
        assert_string_equal(t.video_url,
            "https://dashscope-result.example/v.mp4?Expires=1");
        assert_true(t.video_duration == 5.0);
    } else {
        assert_null(t.video_url);
    }
    nano_wan_task_cleanup(&t);
    nano_wan_task_cleanup(&t);
}

static const provider_error_row_t  error_rows[] = {
    { "error 401 InvalidApiKey", NANO_PROVIDER_WAN, 401, NULL,
      "{\"request_id\":\"r\",\"code\":\"InvalidApiKey\",\"message\":"
      "\"Invalid API-key provided.\"}",
      "provider_auth",
      "DashScope refused the API key (HTTP 401); check DASHSCOPE_API_KEY",
      0, 0 },
    { "error 429 Throttling", NANO_PROVIDER_WAN, 429, NULL,
      "{\"request_id\":\"r\",\"code\":\"Throttling.RateQuota\",\"message\":"
      "\"Requests rate limit exceeded, please try again later.\"}",
      "provider_quota",
      "DashScope's rate limit or quota was reached (Throttling.RateQuota): "
      "Requests rate limit exceeded, please try again later", 1, 0 },
    { "error 403 AccessDenied.Unpurchased", NANO_PROVIDER_WAN, 403, NULL,
      "{\"request_id\":\"r\",\"code\":\"AccessDenied.Unpurchased\","
      "\"message\":\"Access to model denied. Please make sure you are "
      "eligible for using the model.\"}",
      "provider_error",
      "DashScope refused the request (AccessDenied.Unpurchased): Access to "
      "model denied. Please make sure you are eligible for using the model",
      0, 0 },
    { "error 400 Arrearage", NANO_PROVIDER_WAN, 400, NULL,
      "{\"request_id\":\"r\",\"code\":\"Arrearage\",\"message\":\"Access "
      "denied, please make sure your account is in good standing.\"}",
      "provider_quota",
      "DashScope's account is in arrears: Access denied, please make sure "
      "your account is in good standing", 0, 0 },
    { "error 400 DataInspectionFailed", NANO_PROVIDER_WAN, 400, NULL,
      "{\"request_id\":\"r\",\"code\":\"DataInspectionFailed\",\"message\":"
      "\"Input data may contain inappropriate content.\"}",
      "blocked",
      "DashScope's content check refused the video (DataInspectionFailed)",
      0, 0 },
    { "error 400 InvalidParameter", NANO_PROVIDER_WAN, 400, NULL,
      "{\"request_id\":\"r\",\"code\":\"InvalidParameter\",\"message\":"
      "\"The size is not match the allowed size.\"}",
      "bad_request",
      "DashScope refused the request (HTTP 400): The size is not match the "
      "allowed size", 0, 0 },
    { "error 500 InternalError", NANO_PROVIDER_WAN, 500, NULL,
      "{\"request_id\":\"r\",\"code\":\"InternalError\",\"message\":"
      "\"An internal error has occured.\"}",
      "provider_error",
      "DashScope failed (HTTP 500): An internal error has occured", 1, 0 },
    { "error 502 no body", NANO_PROVIDER_WAN, 502, NULL, "", "provider_error",
      "DashScope failed (HTTP 502)", 1, 0 },
};

static void
test_backoff(void **state)
{
    (void) state;
    /* no jitter (rnd 0): 1 s doubling to the 8 s cap */
    assert_int_equal(nano_wan_poll_delay_ms(0, 0), 1000);
    assert_int_equal(nano_wan_poll_delay_ms(1, 0), 2000);
    assert_int_equal(nano_wan_poll_delay_ms(2, 0), 4000);
    assert_int_equal(nano_wan_poll_delay_ms(3, 0), 8000);
    assert_int_equal(nano_wan_poll_delay_ms(4, 0), 8000);
    assert_int_equal(nano_wan_poll_delay_ms(1000, 0), 8000);
    /* full jitter takes a quarter off */
    assert_int_equal(nano_wan_poll_delay_ms(0, 0xffffffffu), 750);
    assert_int_equal(nano_wan_poll_delay_ms(9, 0xffffffffu), 6000);
    assert_int_equal(nano_wan_poll_delay_ms(1, 0x80000000u), 1750);
    assert_string_equal(nano_wan_status_name(NANO_WAN_SUCCEEDED),
                        "SUCCEEDED");
}

int
main(void)
{
    const struct CMUnitTest  extra[] = {
        cmocka_unit_test(test_paths_and_sizes),
        cmocka_unit_test(test_submit_body),
        cmocka_unit_test(test_offered_sizes),
        cmocka_unit_test(test_submit_answer),
        cmocka_unit_test(test_backoff),
    };
    int  rc;

    rc = unit_run_table("wan poll", poll_rows,
                        sizeof(poll_rows) / sizeof(poll_rows[0]),
                        sizeof(poll_rows[0]), test_poll_row, extra,
                        sizeof(extra) / sizeof(extra[0]));
    rc |= PROVIDER_ROWS_RUN("wan errors", error_rows, NULL, 0);
    return rc;
}
