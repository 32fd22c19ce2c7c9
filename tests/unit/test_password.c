/*
 * Unit tests for password hashing (nano_password): new hashes are
 * bcrypt $2b$ cost 12; V1's $2a$/$2b$ and yescrypt $y$ hashes verify;
 * everything else is refused; the rules for a new password; the bounded
 * pool answers BUSY at once when its queue is full.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <crypt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_password.h"

/* Made with libxcrypt for "password123". */
#define HASH_2A "$2a$10$0t.nEYvtQD8o1aW5MFKCZOePbEPWvYYZMzwaOEuDJmZkMPtPEepuC"
#define HASH_Y  "$y$j9T$uT6quUC.cVI9fWXnvWd.f/$rfROXm2l/vLiWXah0.0A.vCdrW3h38bNPnlCjikqrvA"

static void
test_hash_and_verify(void **state)
{
    char  *h1, *h2;

    (void) state;
    h1 = nano_password_hash("correct horse battery");
    h2 = nano_password_hash("correct horse battery");
    assert_non_null(h1);
    assert_non_null(h2);
    assert_int_equal(strncmp(h1, "$2b$12$", 7), 0);
    assert_int_equal(strlen(h1), 60);
    assert_string_not_equal(h1, h2);                /* fresh salts */
    assert_int_equal(nano_password_verify("correct horse battery", h1), 1);
    assert_int_equal(nano_password_verify("correct horse batterY", h1), 0);
    assert_int_equal(nano_password_verify("", h1), 0);
    assert_int_equal(nano_password_verify(NULL, h1), 0);
    free(h1);
    free(h2);
}

static void
test_v1_schemes(void **state)
{
    (void) state;
    assert_int_equal(nano_password_verify("password123", HASH_2A), 1);
    assert_int_equal(nano_password_verify("password124", HASH_2A), 0);
    assert_int_equal(nano_password_verify("password123", HASH_Y), 1);
    assert_int_equal(nano_password_verify("password12", HASH_Y), 0);
}

static double
elapsed_ms(const char *password, const char *hash)
{
    struct timespec  a, b;

    clock_gettime(CLOCK_MONOTONIC, &a);
    (void) nano_password_verify(password, hash);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
}

/* A wrong password for an account whose hash is cheaper than cost 12
 * (V1's $2a$10$) costs as much as one for an email nobody registered,
 * checked against the cost-12 dummy: it took a quarter of the time, so
 * sign-in told V1 accounts apart (found by the sec2 probe).  Cost 4, a
 * 256th of the dummy's work before, makes the gap plain even on a
 * loaded machine. */
static void
test_cheap_hash_costs_as_the_dummy(void **state)
{
    struct crypt_data  *cd;
    char                salt[CRYPT_GENSALT_OUTPUT_SIZE], *hash;
    double              cheap, none, t;

    (void) state;
    cd = calloc(1, sizeof(*cd));
    assert_non_null(cd);
    assert_non_null(crypt_gensalt_rn("$2b$", 4, NULL, 0, salt,
                                     sizeof(salt)));
    hash = strdup(crypt_rn("password123", salt, cd, sizeof(*cd)));
    free(cd);
    assert_non_null(hash);
    assert_int_equal(strncmp(hash, "$2b$04$", 7), 0);
    assert_int_equal(nano_password_verify("password123", hash), 1);
    assert_int_equal(nano_password_verify("password124", hash), 0);

    /* the least of two runs each, alternated: load only adds time */
    cheap = elapsed_ms("password124", hash);
    none = elapsed_ms("password124", NULL);
    t = elapsed_ms("password124", hash);
    cheap = t < cheap ? t : cheap;
    t = elapsed_ms("password124", NULL);
    none = t < none ? t : none;
    print_message("cost 4: %.1f ms, no account (the dummy): %.1f ms\n",
                  cheap, none);
    assert_true(cheap > none * 0.6);
    free(hash);
}

static void
test_refusals(void **state)
{
    (void) state;
    /* no hash: the dummy check runs and says no */
    assert_int_equal(nano_password_verify("password123", NULL), 0);
    assert_int_equal(nano_password_verify("password123", ""), 0);
    /* other schemes, even when they would match */
    assert_int_equal(nano_password_verify("password123",
                     "$1$abcdefgh$pZ/UkC0iI7Axbwi4zLqsT/"), 0);
    assert_int_equal(nano_password_verify("password123", "password123"), 0);
    /* damaged hashes */
    assert_int_equal(nano_password_verify("password123",
                     "$2a$10$0t.nEYvtQD8o1aW5MFKCZOePbEPWvYYZMzwaOEuDJmZkMPtPEepu"),
                     0);
    assert_int_equal(nano_password_verify("password123", "$2b$12$short"), 0);
    assert_int_equal(nano_password_verify("password123", "$2b$"), 0);
    assert_int_equal(nano_password_verify("password123", "$y$"), 0);
}

static void
test_new_password_rules(void **state)
{
    char  p72[73], p73[74];

    (void) state;
    memset(p72, 'a', 72);
    p72[72] = '\0';
    memset(p73, 'a', 73);
    p73[73] = '\0';
    assert_null(nano_password_problem("eight888"));
    assert_null(nano_password_problem(p72));
    assert_non_null(strstr(nano_password_problem(p73), "72 bytes"));
    assert_non_null(strstr(nano_password_problem("seven77"), "8 characters"));
    /* characters, not bytes, for the minimum: 8 two-byte letters */
    assert_null(nano_password_problem("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"));
    assert_non_null(strstr(nano_password_problem("abcdefg\xff"), "UTF-8"));
    assert_non_null(nano_password_problem("\xc0\xaf" "abcdefgh"));
}

static void
test_pool_checks_and_makes(void **state)
{
    char  *h = NULL;

    (void) state;
    assert_int_equal(nano_password_make("pool password", &h),
                     NANO_PASSWORD_OK);
    assert_non_null(h);
    assert_int_equal(strncmp(h, "$2b$12$", 7), 0);
    assert_int_equal(nano_password_check("pool password", h),
                     NANO_PASSWORD_OK);
    assert_int_equal(nano_password_check("pool passwore", h),
                     NANO_PASSWORD_MISMATCH);
    assert_int_equal(nano_password_check("pool password", NULL),
                     NANO_PASSWORD_MISMATCH);
    free(h);
}

/* Many checks at once against a pool of one thread and a queue of two:
 * some must be refused at once, none may fail otherwise. */
#define FLOOD  8

static void *
flood_one(void *arg)
{
    *(nano_password_result_t *) arg = nano_password_check("x", HASH_2A);
    return NULL;
}

static void
test_pool_busy_when_full(void **state)
{
    pthread_t               t[FLOOD];
    nano_password_result_t  r[FLOOD];
    int                     i, busy = 0, mismatch = 0;

    (void) state;
    for (i = 0; i < FLOOD; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, flood_one, &r[i]), 0);
    }
    for (i = 0; i < FLOOD; i++) {
        pthread_join(t[i], NULL);
        busy += r[i] == NANO_PASSWORD_BUSY;
        mismatch += r[i] == NANO_PASSWORD_MISMATCH;
    }
    assert_int_equal(busy + mismatch, FLOOD);
    assert_true(busy >= 1);
    /* at least the queue's two are served; a third only when the pool's
     * thread took the first off the queue before the flood filled it,
     * which a loaded machine may not grant */
    assert_true(mismatch >= 2);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_v1_schemes),
        cmocka_unit_test(test_cheap_hash_costs_as_the_dummy),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_new_password_rules),
        cmocka_unit_test(test_pool_checks_and_makes),
        cmocka_unit_test(test_pool_busy_when_full),
    };
    int  rc;

    /* the pool reads these once, on first use */
    setenv("NANO_BCRYPT_THREADS", "1", 1);
    setenv("NANO_BCRYPT_QUEUE", "2", 1);

    rc = cmocka_run_group_tests_name("password", tests, NULL, NULL);
    nano_password_pool_cleanup();
    return rc;
}
