/*
 * Unit tests for the job runner's pure parts (nano_jobs): which finished
 * calls may be made again (a GET whose answer was cut short may, a POST
 * that was sent never).
 */

#include "unit_table.h"

#include "nano_jobs.h"

typedef struct {
    const char  *name;
    const char  *method;
    int          attempts;
    long         status;
    CURLcode     code;
    int          sent;
    int          too_large;
    int          stopped;
    int          retry;
} retry_row_t;

static const retry_row_t  rows[] = {
    /* whole answers: a refusal is retried, anything else is the result */
    { "200 GET", "GET", 0, 200, CURLE_OK, 1, 0, 0, 0 },
    { "200 POST", "POST", 0, 200, CURLE_OK, 1, 0, 0, 0 },
    { "400 POST", "POST", 0, 400, CURLE_OK, 1, 0, 0, 0 },
    { "404 GET", "GET", 0, 404, CURLE_OK, 1, 0, 0, 0 },
    { "408 POST", "POST", 0, 408, CURLE_OK, 1, 0, 0, 1 },
    { "429 POST", "POST", 0, 429, CURLE_OK, 1, 0, 0, 1 },
    { "503 POST", "POST", 0, 503, CURLE_OK, 1, 0, 0, 1 },
    { "503 POST, retries spent", "POST", 2, 503, CURLE_OK, 1, 0, 0, 0 },
    /* answers cut short: a GET reads again, a POST is never resent */
    { "200 GET cut", "GET", 0, 200, CURLE_PARTIAL_FILE, 1, 0, 0, 1 },
    { "200 GET reset", "GET", 1, 200, CURLE_RECV_ERROR, 1, 0, 0, 1 },
    { "200 GET cut, retries spent", "GET", 2, 200, CURLE_RECV_ERROR, 1, 0,
      0, 0 },
    { "200 GET timed out in the body", "GET", 0, 200,
      CURLE_OPERATION_TIMEDOUT, 1, 0, 0, 1 },
    { "200 POST cut", "POST", 0, 200, CURLE_PARTIAL_FILE, 1, 0, 0, 0 },
    { "200 POST timed out in the body", "POST", 0, 200,
      CURLE_OPERATION_TIMEDOUT, 1, 0, 0, 0 },
    { "404 GET cut", "GET", 0, 404, CURLE_PARTIAL_FILE, 1, 0, 0, 1 },
    { "503 POST cut", "POST", 0, 503, CURLE_RECV_ERROR, 1, 0, 0, 1 },
    /* too large or stopped: never */
    { "200 GET too large", "GET", 0, 200, CURLE_WRITE_ERROR, 1, 1, 0, 0 },
    { "200 POST too large", "POST", 0, 200, CURLE_WRITE_ERROR, 1, 1, 0, 0 },
    { "200 GET stopped", "GET", 0, 200, CURLE_WRITE_ERROR, 1, 0, 1, 0 },
    /* no answer at all */
    { "no answer, POST never sent", "POST", 0, 0, CURLE_COULDNT_CONNECT, 0,
      0, 0, 1 },
    { "no answer, POST sent", "POST", 0, 0, CURLE_OPERATION_TIMEDOUT, 1, 0,
      0, 0 },
    { "no answer, GET sent", "GET", 1, 0, CURLE_GOT_NOTHING, 1, 0, 0, 1 },
    { "no answer, GET, retries spent", "GET", 2, 0, CURLE_GOT_NOTHING, 1, 0,
      0, 0 },
};

static void
retry_row(void **state)
{
    const retry_row_t  *r = *state;
    nano_client_res_t   res;

    nano_client_res_init(&res);
    res.status = r->status;
    res.code = r->code;
    res.sent = r->sent;
    res.too_large = r->too_large;
    res.stopped = r->stopped;
    res.timed_out = r->code == CURLE_OPERATION_TIMEDOUT;
    assert_int_equal(nano_job_retryable(r->method, r->attempts, &res),
                     r->retry);
    nano_client_res_cleanup(&res);
}

int
main(void)
{
    return unit_run_table("jobs", rows, sizeof(rows) / sizeof(rows[0]),
                          sizeof(rows[0]), retry_row, NULL, 0);
}
