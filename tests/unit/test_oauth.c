/*
 * Unit tests for the OAuth sign-in helpers (nano_oauth): random values,
 * the PKCE S256 challenge against RFC 7636's example, sealed cookie
 * values and every way one is refused.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_oauth.h"

#define KEY    "unit-test-secret-that-is-32-bytes-long!!"
#define OTHER  "other-secret-that-is-also-32-bytes-long"
#define NOW    1700000000LL

static const unsigned char  *key = (const unsigned char *) KEY;
static const size_t          keylen = sizeof(KEY) - 1;

static nano_oauth_status_t
open_sealed(const char *purpose, const char *sealed, long long now,
    char **value)
{
    return nano_oauth_open(key, keylen, purpose, sealed, strlen(sealed), now,
                           value);
}

static void
test_random_values(void **state)
{
    char    a[NANO_OAUTH_RANDOM_LEN + 1], b[NANO_OAUTH_RANDOM_LEN + 1];
    size_t  i;

    (void) state;
    assert_int_equal(nano_oauth_random(a), 0);
    assert_int_equal(nano_oauth_random(b), 0);
    assert_int_equal(strlen(a), 43);
    assert_string_not_equal(a, b);
    /* RFC 7636's unreserved characters, base64url without padding */
    for (i = 0; i < 43; i++) {
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                               "qrstuvwxyz0123456789-_", a[i]));
    }
}

static void
test_challenge_rfc7636(void **state)
{
    char  out[NANO_OAUTH_RANDOM_LEN + 1];

    (void) state;
    /* RFC 7636 appendix B */
    assert_int_equal(nano_oauth_challenge(
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", out), 0);
    assert_string_equal(out, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    assert_int_equal(nano_oauth_challenge(NULL, out), -1);
}

static void
test_seal_and_open(void **state)
{
    char  *sealed, *value = NULL;

    (void) state;
    sealed = nano_oauth_seal(key, keylen, "state/google",
                             "{\"state\":\"abc\",\"link\":\"u1\"}",
                             NOW + 900);
    assert_non_null(sealed);
    assert_int_equal(strncmp(sealed, "1700000900.", 11), 0);
    assert_int_equal(open_sealed("state/google", sealed, NOW, &value),
                     NANO_OAUTH_OK);
    assert_string_equal(value, "{\"state\":\"abc\",\"link\":\"u1\"}");
    free(value);
    /* the last second still opens */
    assert_int_equal(open_sealed("state/google", sealed, NOW + 900, &value),
                     NANO_OAUTH_OK);
    free(value);
    free(sealed);

    /* an empty value is a value */
    sealed = nano_oauth_seal(key, keylen, "nonce/google", "", NOW);
    assert_int_equal(open_sealed("nonce/google", sealed, NOW, &value),
                     NANO_OAUTH_OK);
    assert_string_equal(value, "");
    free(value);
    free(sealed);
}

static void
test_open_refusals(void **state)
{
    char  *sealed, *value = (char *) 1, *forged;
    char   big[NANO_OAUTH_VALUE_MAX + 2];

    (void) state;
    sealed = nano_oauth_seal(key, keylen, "state/google", "abc", NOW + 900);
    /* another purpose: another provider, another cookie */
    assert_int_equal(open_sealed("state/github", sealed, NOW, &value),
                     NANO_OAUTH_BAD_MAC);
    assert_null(value);
    assert_int_equal(open_sealed("nonce/google", sealed, NOW, &value),
                     NANO_OAUTH_BAD_MAC);
    /* another key */
    assert_int_equal(nano_oauth_open((const unsigned char *) OTHER,
                                     sizeof(OTHER) - 1, "state/google",
                                     sealed, strlen(sealed), NOW, &value),
                     NANO_OAUTH_BAD_MAC);
    /* expired */
    assert_int_equal(open_sealed("state/google", sealed, NOW + 901, &value),
                     NANO_OAUTH_EXPIRED);
    assert_null(value);
    /* a later expiry or another value under the same mac */
    forged = strdup(sealed);
    forged[9] = '9';
    assert_int_equal(open_sealed("state/google", forged, NOW, &value),
                     NANO_OAUTH_BAD_MAC);
    strcpy(forged, sealed);
    forged[11] = forged[11] == 'Y' ? 'Z' : 'Y';
    assert_int_equal(open_sealed("state/google", forged, NOW, &value),
                     NANO_OAUTH_BAD_MAC);
    /* the mac cut or lengthened */
    strcpy(forged, sealed);
    forged[strlen(forged) - 1] = '\0';
    assert_int_equal(open_sealed("state/google", forged, NOW, &value),
                     NANO_OAUTH_BAD_MAC);
    free(forged);
    free(sealed);

    /* malformed */
    assert_int_equal(open_sealed("p", "", NOW, &value), NANO_OAUTH_MALFORMED);
    assert_int_equal(open_sealed("p", "abc", NOW, &value),
                     NANO_OAUTH_MALFORMED);
    assert_int_equal(open_sealed("p", "1.2", NOW, &value),
                     NANO_OAUTH_MALFORMED);
    assert_int_equal(open_sealed("p", "1.2.3.4", NOW, &value),
                     NANO_OAUTH_MALFORMED);
    assert_int_equal(nano_oauth_open(key, keylen, "p", "1.\0.3", 5, NOW,
                                     &value), NANO_OAUTH_MALFORMED);
    assert_int_equal(nano_oauth_open(key, keylen, "p", NULL, 0, NOW,
                                     &value), NANO_OAUTH_MALFORMED);

    /* a value too big to seal */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_null(nano_oauth_seal(key, keylen, "p", big, NOW));
    assert_null(nano_oauth_seal(NULL, 0, "p", "v", NOW));
}

static void
test_equal(void **state)
{
    (void) state;
    assert_int_equal(nano_oauth_equal("abc", "abc"), 1);
    assert_int_equal(nano_oauth_equal("", ""), 1);
    assert_int_equal(nano_oauth_equal("abc", "abd"), 0);
    assert_int_equal(nano_oauth_equal("abc", "ab"), 0);
    assert_int_equal(nano_oauth_equal("ab", "abc"), 0);
    assert_int_equal(nano_oauth_equal(NULL, "abc"), 0);
    assert_int_equal(nano_oauth_equal("abc", NULL), 0);
    assert_string_equal(nano_oauth_status_name(NANO_OAUTH_BAD_MAC),
                        "bad_mac");
    assert_string_equal(nano_oauth_status_name(NANO_OAUTH_EXPIRED),
                        "expired");
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_random_values),
        cmocka_unit_test(test_challenge_rfc7636),
        cmocka_unit_test(test_seal_and_open),
        cmocka_unit_test(test_open_refusals),
        cmocka_unit_test(test_equal),
    };

    return cmocka_run_group_tests_name("oauth", tests, NULL, NULL);
}
