/*
 * Unit tests for Stripe's webhook signature (nano_stripe): exact HMACs
 * against openssl dgst, the secret used as given, every refusal, the
 * tolerance both ways, several v1 values, v0 alone, empty and large
 * bodies, huge and malformed headers.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_stripe.h"

#define SECRET  "whsec_test_secret_0123456789abcdef"
#define WRONG   "whsec_wrong_secret_0123456789abcdef"
#define BODY    "{\"id\":\"evt_1\",\"object\":\"event\"}"
#define T       1700000000LL
#define TS      "1700000000"
/* printf '%s' "1700000000.$BODY" | openssl dgst -sha256 -hmac "$SECRET" */
#define SIG     "f81891d9c5115555d9b4ca09689b89904fff5e78642936b988072bdd96c49bb0"
/* the same with WRONG */
#define SIG_WRONG \
                "ad41c408c9a6776ec0c7063a6fc570af91eee29c70b3402452f671007558e3e0"
/* the same with the secret's bytes after "whsec_" (a decoded key) */
#define SIG_STRIPPED \
                "a8b026f025feaf452d96e5047d2d7257689d18b5ff6216dd8f94426c209fdabb"
/* printf '%s' "1700000000." | openssl dgst -sha256 -hmac "$SECRET" */
#define SIG_EMPTY \
                "260b510e79c7ad57cecdcdc4559b7f28c24a3fd9392d459380121a2e72dbd029"
#define OTHER   "0000000000000000000000000000000000000000000000000000000000000000"

static nano_stripe_sig_t
verify_at(const char *header, const char *body, long long now)
{
    return nano_stripe_sig_verify(header, header ? strlen(header) : 0,
                                  body, strlen(body), SECRET, now,
                                  NANO_STRIPE_TOLERANCE, NULL);
}

static nano_stripe_sig_t
verify(const char *header)
{
    return verify_at(header, BODY, T);
}

static void
test_compute_exact(void **state)
{
    char  out[NANO_STRIPE_SIG_LEN + 1];

    (void) state;
    assert_int_equal(nano_stripe_sig_compute(SECRET, T, BODY, strlen(BODY),
                                             out), 0);
    assert_string_equal(out, SIG);
    assert_int_equal(nano_stripe_sig_compute(SECRET, T, "", 0, out), 0);
    assert_string_equal(out, SIG_EMPTY);
    assert_int_equal(nano_stripe_sig_compute(NULL, T, "", 0, out), -1);
}

static void
test_valid(void **state)
{
    long long  t = 0;

    (void) state;
    assert_int_equal(verify("t=" TS ",v1=" SIG), NANO_STRIPE_SIG_OK);
    /* the order of the elements does not matter; spaces around them */
    assert_int_equal(verify("v1=" SIG ",t=" TS), NANO_STRIPE_SIG_OK);
    assert_int_equal(verify("t=" TS ", v1=" SIG " "), NANO_STRIPE_SIG_OK);
    /* with v0 as Stripe sends it in test mode, and unknown schemes */
    assert_int_equal(verify("t=" TS ",v1=" SIG ",v0=" OTHER),
                     NANO_STRIPE_SIG_OK);
    assert_int_equal(verify("t=" TS ",v2=abc,v1=" SIG), NANO_STRIPE_SIG_OK);
    assert_int_equal(nano_stripe_sig_verify("t=" TS ",v1=" SIG,
                                            strlen("t=" TS ",v1=" SIG), BODY,
                                            strlen(BODY), SECRET, T, 300, &t),
                     NANO_STRIPE_SIG_OK);
    assert_int_equal(t, T);
}

static void
test_wrong_secret(void **state)
{
    (void) state;
    /* signed with another secret */
    assert_int_equal(verify("t=" TS ",v1=" SIG_WRONG),
                     NANO_STRIPE_SIG_MISMATCH);
    /* signed with the secret decoded or stripped of "whsec_": the key is
     * the string as given */
    assert_int_equal(verify("t=" TS ",v1=" SIG_STRIPPED),
                     NANO_STRIPE_SIG_MISMATCH);
    /* our signature, checked with another secret */
    assert_int_equal(nano_stripe_sig_verify("t=" TS ",v1=" SIG,
                                            strlen("t=" TS ",v1=" SIG), BODY,
                                            strlen(BODY), WRONG, T, 300, NULL),
                     NANO_STRIPE_SIG_MISMATCH);
    /* no secret at all refuses everything */
    assert_int_equal(nano_stripe_sig_verify("t=" TS ",v1=" SIG,
                                            strlen("t=" TS ",v1=" SIG), BODY,
                                            strlen(BODY), "", T, 300, NULL),
                     NANO_STRIPE_SIG_NO_SECRET);
    assert_int_equal(nano_stripe_sig_verify("t=" TS ",v1=" SIG,
                                            strlen("t=" TS ",v1=" SIG), BODY,
                                            strlen(BODY), NULL, T, 300, NULL),
                     NANO_STRIPE_SIG_NO_SECRET);
}

static void
test_body_changed(void **state)
{
    (void) state;
    assert_int_equal(verify_at("t=" TS ",v1=" SIG,
                               "{\"id\":\"evt_1\",\"object\":\"event\"} ", T),
                     NANO_STRIPE_SIG_MISMATCH);
    assert_int_equal(verify_at("t=" TS ",v1=" SIG,
                               "{\"id\":\"evt_2\",\"object\":\"event\"}", T),
                     NANO_STRIPE_SIG_MISMATCH);
    /* another timestamp with the same signature */
    assert_int_equal(verify("t=1700000001,v1=" SIG),
                     NANO_STRIPE_SIG_MISMATCH);
    /* upper-case hex is not what Stripe sends, nor what it compares */
    {
        char  upper[] = "t=" TS ",v1=" SIG;
        char *p;

        for (p = upper + strlen("t=" TS ",v1="); *p != '\0'; p++) {
            if (*p >= 'a' && *p <= 'f') {
                *p = (char) (*p - 'a' + 'A');
            }
        }
        assert_int_equal(verify(upper), NANO_STRIPE_SIG_MISMATCH);
    }
    /* a v1 one character short or long */
    assert_int_equal(verify("t=" TS ",v1="
                            "f81891d9c5115555d9b4ca09689b89904fff5e78642936b9"
                            "88072bdd96c49bb"),
                     NANO_STRIPE_SIG_MISMATCH);
    assert_int_equal(verify("t=" TS ",v1=" SIG "0"), NANO_STRIPE_SIG_MISMATCH);
}

static void
test_timestamps(void **state)
{
    (void) state;
    /* within 300 s either way */
    assert_int_equal(verify_at("t=" TS ",v1=" SIG, BODY, T + 300),
                     NANO_STRIPE_SIG_OK);
    assert_int_equal(verify_at("t=" TS ",v1=" SIG, BODY, T - 300),
                     NANO_STRIPE_SIG_OK);
    /* old: signed 301 s ago (a replay) */
    assert_int_equal(verify_at("t=" TS ",v1=" SIG, BODY, T + 301),
                     NANO_STRIPE_SIG_STALE);
    assert_int_equal(verify_at("t=" TS ",v1=" SIG, BODY, T + 86400),
                     NANO_STRIPE_SIG_STALE);
    /* future: 301 s ahead */
    assert_int_equal(verify_at("t=" TS ",v1=" SIG, BODY, T - 301),
                     NANO_STRIPE_SIG_STALE);
    /* a stale time with a wrong signature reports the signature */
    assert_int_equal(verify_at("t=" TS ",v1=" OTHER, BODY, T + 9999),
                     NANO_STRIPE_SIG_MISMATCH);
    /* a negative tolerance turns the time check off (tools) */
    assert_int_equal(nano_stripe_sig_verify("t=" TS ",v1=" SIG,
                                            strlen("t=" TS ",v1=" SIG), BODY,
                                            strlen(BODY), SECRET, 0, -1, NULL),
                     NANO_STRIPE_SIG_OK);
}

static void
test_several_v1(void **state)
{
    (void) state;
    /* one right among wrong ones, wherever it stands (secret rotation) */
    assert_int_equal(verify("t=" TS ",v1=" SIG_WRONG ",v1=" SIG),
                     NANO_STRIPE_SIG_OK);
    assert_int_equal(verify("t=" TS ",v1=" SIG ",v1=" SIG_WRONG),
                     NANO_STRIPE_SIG_OK);
    assert_int_equal(verify("t=" TS ",v1=" OTHER ",v1=abc,v1=" SIG
                            ",v1=" SIG_WRONG ",v0=" OTHER),
                     NANO_STRIPE_SIG_OK);
    /* all of them wrong */
    assert_int_equal(verify("t=" TS ",v1=" SIG_WRONG ",v1=" OTHER
                            ",v1=" SIG_STRIPPED),
                     NANO_STRIPE_SIG_MISMATCH);
    /* the right one under another scheme name does not count */
    assert_int_equal(verify("t=" TS ",v1=" OTHER ",v0=" SIG),
                     NANO_STRIPE_SIG_MISMATCH);
    assert_int_equal(verify("t=" TS ",V1=" SIG), NANO_STRIPE_SIG_NO_V1);
}

static void
test_v0_only(void **state)
{
    (void) state;
    assert_int_equal(verify("t=" TS ",v0=" SIG), NANO_STRIPE_SIG_NO_V1);
    assert_int_equal(verify("t=" TS), NANO_STRIPE_SIG_NO_V1);
}

static void
test_malformed(void **state)
{
    static const char *const  bad[] = {
        "garbage",
        "v1=" SIG,                          /* no timestamp */
        "t=,v1=" SIG,
        "t=abc,v1=" SIG,
        "t=-1700000000,v1=" SIG,
        "t=+1700000000,v1=" SIG,
        "t=17000000 00,v1=" SIG,
        "t=1700000000000,v1=" SIG,          /* 13 digits */
        "t=" TS ",t=" TS ",v1=" SIG,        /* the time twice */
        "t=" TS ",,v1=" SIG,                /* an empty element */
        "t=" TS ",v1=" SIG ",",             /* a trailing comma */
        ",t=" TS ",v1=" SIG,
        "t=" TS ";v1=" SIG,                 /* not Stripe's separator */
        "t=" TS ",=" SIG,                   /* no key */
        "t=" TS ",v1",                      /* no '=' */
        "t " TS ",v1=" SIG,
        ",",
        " ",
    };
    size_t                    i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (verify(bad[i]) != NANO_STRIPE_SIG_MALFORMED) {
            fail_msg("\"%s\" was not refused as malformed (%d)", bad[i],
                     (int) verify(bad[i]));
        }
    }
    /* absent or empty */
    assert_int_equal(verify(NULL), NANO_STRIPE_SIG_MISSING);
    assert_int_equal(verify(""), NANO_STRIPE_SIG_MISSING);
    /* a NUL inside the header's bytes */
    assert_int_equal(nano_stripe_sig_verify("t=" TS "\0,v1=" SIG,
                                            sizeof("t=" TS "\0,v1=" SIG) - 1,
                                            BODY, strlen(BODY), SECRET, T,
                                            300, NULL),
                     NANO_STRIPE_SIG_MALFORMED);
    /* the header's length is what counts, not a NUL after it */
    assert_int_equal(nano_stripe_sig_verify("t=" TS ",v1=" SIG "xyz",
                                            strlen("t=" TS ",v1=" SIG), BODY,
                                            strlen(BODY), SECRET, T, 300,
                                            NULL),
                     NANO_STRIPE_SIG_OK);
}

static void
test_empty_body(void **state)
{
    (void) state;
    /* an empty body signs like any other: "<t>." */
    assert_int_equal(verify_at("t=" TS ",v1=" SIG_EMPTY, "", T),
                     NANO_STRIPE_SIG_OK);
    assert_int_equal(verify_at("t=" TS ",v1=" SIG, "", T),
                     NANO_STRIPE_SIG_MISMATCH);
    assert_int_equal(verify_at("t=" TS ",v1=" SIG_EMPTY, BODY, T),
                     NANO_STRIPE_SIG_MISMATCH);
}

static void
test_large_body(void **state)
{
    size_t   n = 1024 * 1024;
    char    *body = malloc(n + 1);
    char     sig[NANO_STRIPE_SIG_LEN + 1], header[128];

    (void) state;
    assert_non_null(body);
    memset(body, 'x', n);
    body[n] = '\0';
    assert_int_equal(nano_stripe_sig_compute(SECRET, T, body, n, sig), 0);
    snprintf(header, sizeof(header), "t=%lld,v1=%s", T, sig);
    assert_int_equal(verify_at(header, body, T), NANO_STRIPE_SIG_OK);
    body[n / 2] = 'y';
    assert_int_equal(verify_at(header, body, T), NANO_STRIPE_SIG_MISMATCH);
    free(body);
}

static void
test_huge_header(void **state)
{
    size_t   n = NANO_STRIPE_HEADER_MAX + 1, at;
    char    *h = malloc(n + 1);

    (void) state;
    assert_non_null(h);
    /* "t=...,v1=SIG,v1=000…" up to one byte over the limit */
    at = (size_t) snprintf(h, n + 1, "t=%s,v1=%s", TS, SIG);
    while (at + 1 + 3 + NANO_STRIPE_SIG_LEN <= n) {
        at += (size_t) snprintf(h + at, n + 1 - at, ",v1=%s", OTHER);
    }
    while (at < n) {
        h[at++] = ' ';
    }
    h[n] = '\0';
    assert_int_equal(verify(h), NANO_STRIPE_SIG_MALFORMED);
    /* at the limit it is read, and the right v1 among 120 wrong ones */
    h[n - 1] = '\0';
    assert_int_equal(verify(h), NANO_STRIPE_SIG_OK);
    free(h);
}

static void
test_why(void **state)
{
    (void) state;
    assert_string_equal(nano_stripe_sig_why(NANO_STRIPE_SIG_MISMATCH),
                        "no v1 signature matches the body");
    assert_string_equal(nano_stripe_sig_why(NANO_STRIPE_SIG_STALE),
                        "the signature's timestamp is outside the tolerance");
    assert_string_equal(nano_stripe_sig_why(NANO_STRIPE_SIG_NO_V1),
                        "the Stripe-Signature header has no v1 signature");
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_compute_exact),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_body_changed),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_several_v1),
        cmocka_unit_test(test_v0_only),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_large_body),
        cmocka_unit_test(test_huge_header),
        cmocka_unit_test(test_why),
    };

    return cmocka_run_group_tests_name("stripe", tests, NULL, NULL);
}
