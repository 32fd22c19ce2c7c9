/*
 * Unit tests for JSON Web Key Sets (nano_jwks): RSA keys built from n and
 * e verify OpenSSL's own RS256 signatures; keys that cannot verify RS256
 * are left out; malformed sets are refused whole.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nano_jwks.h"
#include "nano_token.h"
#include "rsa_jwt.h"

static EVP_PKEY  *key_a, *key_b, *key_small;

static int
setup(void **state)
{
    (void) state;
    key_a = rsa_new(2048);
    key_b = rsa_new(2048);
    key_small = rsa_new(1024);
    return key_a != NULL && key_b != NULL && key_small != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    (void) state;
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
    EVP_PKEY_free(key_small);
    return 0;
}

/* Parses "{\"keys\":[<keys>]}". */
static nano_jwks_t *
parse_keys(const char *keys, char *err, size_t errlen)
{
    nano_buf_t    b;
    nano_jwks_t  *set;

    nano_buf_init(&b);
    nano_buf_printf(&b, "{\"keys\":[%s]}", keys);
    set = nano_jwks_parse(b.data, b.len, err, errlen);
    nano_buf_cleanup(&b);
    return set;
}

/* A JWK of key_a with its members replaced as a test asks. */
static char *
jwk_with(const char *kty, const char *use, const char *alg, const char *n,
    const char *e)
{
    nano_buf_t   b;
    char        *rn = rsa_param_b64url(key_a, OSSL_PKEY_PARAM_RSA_N);
    char        *re = rsa_param_b64url(key_a, OSSL_PKEY_PARAM_RSA_E);

    nano_buf_init(&b);
    nano_buf_printf(&b, "{\"kty\":\"%s\",\"kid\":\"x\",\"use\":\"%s\","
                    "\"alg\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}", kty, use,
                    alg, n ? n : rn, e ? e : re);
    free(rn);
    free(re);
    return nano_buf_steal(&b);
}

static void
test_two_keys_found_by_kid(void **state)
{
    char         *a = rsa_jwk(key_a, "a", ""), *b = rsa_jwk(key_b, "b", "");
    char          keys[8192], err[128];
    nano_jwks_t  *set;

    (void) state;
    snprintf(keys, sizeof(keys), "%s,%s", a, b);
    set = parse_keys(keys, err, sizeof(err));
    assert_non_null(set);
    assert_int_equal(nano_jwks_count(set), 2);
    assert_int_equal(EVP_PKEY_eq(nano_jwks_find(set, "a"), key_a), 1);
    assert_int_equal(EVP_PKEY_eq(nano_jwks_find(set, "b"), key_b), 1);
    assert_null(nano_jwks_find(set, "c"));
    assert_null(nano_jwks_find(set, ""));
    /* no kid: only a set of one key answers */
    assert_null(nano_jwks_find(set, NULL));
    nano_jwks_release(set);
    free(a);
    free(b);
}

static void
test_one_key_without_kid(void **state)
{
    char         *n = rsa_param_b64url(key_a, OSSL_PKEY_PARAM_RSA_N);
    char          keys[4096], err[128];
    nano_jwks_t  *set;

    (void) state;
    /* use and alg are optional */
    snprintf(keys, sizeof(keys), "{\"kty\":\"RSA\",\"n\":\"%s\","
             "\"e\":\"AQAB\"}", n);
    set = parse_keys(keys, err, sizeof(err));
    assert_non_null(set);
    assert_int_equal(EVP_PKEY_eq(nano_jwks_find(set, NULL), key_a), 1);
    assert_null(nano_jwks_find(set, "a"));
    /* a second reference outlives the first */
    assert_ptr_equal(nano_jwks_retain(set), set);
    nano_jwks_release(set);
    assert_non_null(nano_jwks_find(set, NULL));
    nano_jwks_release(set);
    nano_jwks_release(NULL);
    free(n);
}

/* Each of these keys is left out; next to a good one the set stands with
 * that one only, alone it is refused. */
static void
test_unusable_keys_left_out(void **state)
{
    char          *bad[10], *good = rsa_jwk(key_b, "good", "");
    char           keys[8192], err[128];
    nano_jwks_t   *set;
    size_t         i;

    (void) state;
    bad[0] = jwk_with("EC", "sig", "RS256", NULL, NULL);
    bad[1] = jwk_with("RSA", "enc", "RS256", NULL, NULL);
    bad[2] = jwk_with("RSA", "sig", "RS384", NULL, NULL);
    bad[3] = jwk_with("RSA", "sig", "none", NULL, NULL);
    bad[4] = rsa_jwk(key_small, "x", "");                  /* 1024 bits */
    bad[5] = jwk_with("RSA", "sig", "RS256", NULL, "Ag");   /* e = 2 */
    bad[6] = jwk_with("RSA", "sig", "RS256", NULL, "AQ");   /* e = 1 */
    bad[7] = jwk_with("RSA", "sig", "RS256", "!!notbase64", NULL);
    bad[8] = jwk_with("RSA", "sig", "RS256", NULL, "AQAB==");  /* padded */
    bad[9] = jwk_with("RSA", "sig", "RS256", "", NULL);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(keys, sizeof(keys), "%s,%s", bad[i], good);
        set = parse_keys(keys, err, sizeof(err));
        assert_non_null(set);
        assert_int_equal(nano_jwks_count(set), 1);
        assert_null(nano_jwks_find(set, "x"));
        assert_non_null(nano_jwks_find(set, "good"));
        nano_jwks_release(set);

        set = parse_keys(bad[i], err, sizeof(err));
        assert_null(set);
        assert_string_equal(err, "no RSA key that can verify RS256");
        free(bad[i]);
    }
    free(good);
}

static void
test_sets_refused(void **state)
{
    static const char *const  docs[] = {
        "", "not json", "[]", "{}", "{\"keys\":{}}", "{\"keys\":\"x\"}",
        "{\"keys\":[],\"keys\":[]}",
    };
    char          *a = rsa_jwk(key_a, "same", ""), *b = rsa_jwk(key_b, "same", "");
    char           keys[8192], err[128];
    nano_jwks_t   *set;
    size_t         i;

    (void) state;
    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        set = nano_jwks_parse(docs[i], strlen(docs[i]), err, sizeof(err));
        assert_null(set);
        assert_string_equal(err, "not a JWKS document ({\"keys\": [...]})");
    }
    set = parse_keys("", err, sizeof(err));
    assert_null(set);
    assert_string_equal(err, "no RSA key that can verify RS256");

    /* the same kid twice would make the lookup a guess */
    snprintf(keys, sizeof(keys), "%s,%s", a, b);
    set = parse_keys(keys, err, sizeof(err));
    assert_null(set);
    assert_string_equal(err, "the kid \"same\" appears twice");
    free(a);
    free(b);
}

static void
test_rsa_key_sizes(void **state)
{
    unsigned char  n[1026], e[3] = { 1, 0, 1 };
    EVP_PKEY      *k;

    (void) state;
    memset(n, 0xc5, sizeof(n));
    /* 2048 bits, also with a leading zero byte */
    k = nano_jwks_rsa_key(n, 256, e, 3);
    assert_non_null(k);
    EVP_PKEY_free(k);
    n[0] = 0;
    k = nano_jwks_rsa_key(n, 257, e, 3);
    assert_non_null(k);
    EVP_PKEY_free(k);
    n[0] = 0xc5;
    /* 2040 bits, 8208 bits */
    assert_null(nano_jwks_rsa_key(n, 255, e, 3));
    assert_null(nano_jwks_rsa_key(n, 1026, e, 3));
    /* exponents: empty, even, 1, longer than 8 bytes */
    assert_null(nano_jwks_rsa_key(n, 256, e, 0));
    e[2] = 2;
    assert_null(nano_jwks_rsa_key(n, 256, e, 3));
    e[0] = 0;
    e[1] = 0;
    e[2] = 1;
    assert_null(nano_jwks_rsa_key(n, 256, e, 3));
    assert_null(nano_jwks_rsa_key(n, 256, n, 9));
}

static void
test_verify_rs256(void **state)
{
    char           *jwt = rsa_jwt(key_a, "{\"alg\":\"RS256\"}", "{\"a\":1}");
    char           *dot = strrchr(jwt, '.');
    unsigned char   sig[512];
    ssize_t         n;
    size_t          len = (size_t) (dot - jwt);

    (void) state;
    n = nano_b64url_decode(dot + 1, strlen(dot + 1), sig, sizeof(sig));
    assert_int_equal(n, 256);
    assert_int_equal(nano_jwks_verify_rs256(key_a, jwt, len, sig, 256), 1);
    /* another key, another message, a cut or changed signature */
    assert_int_equal(nano_jwks_verify_rs256(key_b, jwt, len, sig, 256), 0);
    assert_int_equal(nano_jwks_verify_rs256(key_a, jwt, len - 1, sig, 256),
                     0);
    assert_int_equal(nano_jwks_verify_rs256(key_a, jwt, len, sig, 255), 0);
    assert_int_equal(nano_jwks_verify_rs256(key_a, jwt, len, sig, 0), 0);
    assert_int_equal(nano_jwks_verify_rs256(NULL, jwt, len, sig, 256), 0);
    sig[100] ^= 1;
    assert_int_equal(nano_jwks_verify_rs256(key_a, jwt, len, sig, 256), 0);
    free(jwt);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_two_keys_found_by_kid),
        cmocka_unit_test(test_one_key_without_kid),
        cmocka_unit_test(test_unusable_keys_left_out),
        cmocka_unit_test(test_sets_refused),
        cmocka_unit_test(test_rsa_key_sizes),
        cmocka_unit_test(test_verify_rs256),
    };

    return cmocka_run_group_tests_name("jwks", tests, setup, teardown);
}
