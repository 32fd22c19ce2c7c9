/*
 * One table row per provider failure: a status and body (and maybe a
 * Retry-After header) that nano_provider_error_from_http must map to an
 * exact code, message, retryable flag and delay.  Used with
 * unit_run_table by the wire-format tests.
 */

#ifndef PROVIDER_ROWS_H
#define PROVIDER_ROWS_H

#include "unit_table.h"

#include "nano_provider.h"

typedef struct {
    const char       *name;
    nano_provider_t   p;
    long              status;
    const char       *retry_after;    /* the header, or NULL */
    const char       *body;
    const char       *code;
    const char       *message;
    int               retryable;
    long              retry_ms;
} provider_error_row_t;

static inline void
provider_error_row_test(void **state)
{
    const provider_error_row_t  *row = *state;
    nano_provider_error_t        err;

    assert_int_equal(nano_provider_error_from_http(row->p, row->status,
                         row->retry_after, row->body, strlen(row->body),
                         &err), -1);
    assert_string_equal(err.code, row->code);
    assert_string_equal(err.message, row->message);
    assert_int_equal(err.retryable, row->retryable);
    assert_int_equal(err.retry_after_ms, row->retry_ms);
}

#define PROVIDER_ROWS_RUN(group, rows, extra, nextra) \
    unit_run_table(group, rows, sizeof(rows) / sizeof((rows)[0]), \
                   sizeof((rows)[0]), provider_error_row_test, extra, nextra)

#endif /* PROVIDER_ROWS_H */
