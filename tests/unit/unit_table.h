/*
 * Table-driven cmocka tests: one test per row of a case table (its first
 * member the row's name), followed by some ordinary tests.
 */

#ifndef UNIT_TABLE_H
#define UNIT_TABLE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/*
 * Runs group: row_test once per row (state = the row), then extra.
 * Rows are row_size bytes apart and start with a "const char *name".
 */
static inline int
unit_run_table(const char *group, const void *rows, size_t nrows,
    size_t row_size, CMUnitTestFunction row_test,
    const struct CMUnitTest *extra, size_t nextra)
{
    size_t              i;
    const char         *row;
    struct CMUnitTest  *tests;
    int                 rc;

    tests = calloc(nrows + nextra, sizeof(*tests));
    if (tests == NULL) {
        return 1;
    }

    for (i = 0; i < nrows; i++) {
        row = (const char *) rows + i * row_size;
        memcpy(&tests[i].name, row, sizeof(const char *));
        tests[i].test_func = row_test;
        tests[i].initial_state = (void *) row;
    }
    if (nextra > 0) {
        /* a table without extras passes NULL, which memcpy may not get */
        memcpy(tests + nrows, extra, nextra * sizeof(*tests));
    }

    rc = _cmocka_run_group_tests(group, tests, nrows + nextra, NULL, NULL);
    free(tests);
    return rc;
}

#define UNIT_TEST(name, fn)  { name, fn, NULL, NULL, NULL }

#endif /* UNIT_TABLE_H */
