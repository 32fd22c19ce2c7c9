/*
 * Unit tests for NextAuth's double-submit CSRF cookie (nano_csrf): exact
 * cookie values against an independent SHA-256, and every refusal.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nano_csrf.h"

#define TOKEN  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SECRET "unit-test-secret-that-is-32-bytes-long!!"
#define OTHER  "other-secret-that-is-also-32-bytes-long"
/* printf '%s%s' TOKEN SECRET | sha256sum */
#define HASH   "8c8eee6e5c7c02595913bae05b9e9c4885840e18a806b426799ae4ee7e18480e"
/* the same with OTHER */
#define HASH_OTHER \
               "25c9f44697b467fae8460c0908d4c7ee0809245263542286fbc1b13cc788d765"

static const unsigned char  *secret = (const unsigned char *) SECRET;
static const size_t          secret_len = sizeof(SECRET) - 1;

static nano_csrf_status_t
read_cookie(const char *value, char *token)
{
    return nano_csrf_read_cookie(value, value ? strlen(value) : 0, secret,
                                 secret_len, token);
}

static nano_csrf_status_t
verify(const char *cookie, const char *submitted)
{
    return nano_csrf_verify(cookie, cookie ? strlen(cookie) : 0, submitted,
                            secret, secret_len);
}

static void
test_cookie_names(void **state)
{
    (void) state;
    assert_string_equal(nano_csrf_cookie_name(0), "next-auth.csrf-token");
    assert_string_equal(nano_csrf_cookie_name(1),
                        "__Host-next-auth.csrf-token");
}

static void
test_cookie_value_exact(void **state)
{
    char  out[NANO_CSRF_COOKIE_SIZE];

    (void) state;
    assert_int_equal(nano_csrf_cookie_value(TOKEN, secret, secret_len, out),
                     0);
    assert_string_equal(out, TOKEN "|" HASH);
}

static void
test_cookie_value_refusals(void **state)
{
    char  out[NANO_CSRF_COOKIE_SIZE];

    (void) state;
    /* too short, too long, upper-case and non-hex tokens */
    assert_int_equal(nano_csrf_cookie_value("abc", secret, secret_len, out),
                     -1);
    assert_int_equal(nano_csrf_cookie_value(TOKEN "0", secret, secret_len,
                                            out), -1);
    assert_int_equal(nano_csrf_cookie_value(
        "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        secret, secret_len, out), -1);
    assert_int_equal(nano_csrf_cookie_value(
        "0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef",
        secret, secret_len, out), -1);
    /* no secret */
    assert_int_equal(nano_csrf_cookie_value(TOKEN, NULL, 0, out), -1);
    assert_int_equal(nano_csrf_cookie_value(TOKEN, secret, 0, out), -1);
}

static void
test_new_tokens(void **state)
{
    char  t1[NANO_CSRF_TOKEN_LEN + 1], c1[NANO_CSRF_COOKIE_SIZE];
    char  t2[NANO_CSRF_TOKEN_LEN + 1], c2[NANO_CSRF_COOKIE_SIZE];
    char  back[NANO_CSRF_TOKEN_LEN + 1];

    (void) state;
    assert_int_equal(nano_csrf_new(secret, secret_len, t1, c1), 0);
    assert_int_equal(nano_csrf_new(secret, secret_len, t2, c2), 0);
    assert_int_equal(strlen(t1), NANO_CSRF_TOKEN_LEN);
    assert_int_equal(strspn(t1, "0123456789abcdef"), NANO_CSRF_TOKEN_LEN);
    assert_int_equal(strlen(c1), NANO_CSRF_COOKIE_SIZE - 1);
    assert_memory_equal(c1, t1, NANO_CSRF_TOKEN_LEN);
    assert_string_not_equal(t1, t2);
    assert_int_equal(read_cookie(c1, back), NANO_CSRF_OK);
    assert_string_equal(back, t1);
    assert_int_equal(verify(c1, t1), NANO_CSRF_OK);
    assert_int_equal(verify(c1, t2), NANO_CSRF_MISMATCH);
}

static void
test_read_ok(void **state)
{
    char  token[NANO_CSRF_TOKEN_LEN + 1];

    (void) state;
    assert_int_equal(read_cookie(TOKEN "|" HASH, token), NANO_CSRF_OK);
    assert_string_equal(token, TOKEN);
    /* NextAuth's cookie.serialize writes the pipe as %7C */
    memset(token, 0, sizeof(token));
    assert_int_equal(read_cookie(TOKEN "%7C" HASH, token), NANO_CSRF_OK);
    assert_string_equal(token, TOKEN);
    assert_int_equal(read_cookie(TOKEN "%7c" HASH, token), NANO_CSRF_OK);
}

static void
test_read_refusals(void **state)
{
    char  token[NANO_CSRF_TOKEN_LEN + 1];

    (void) state;
    assert_int_equal(read_cookie(NULL, token), NANO_CSRF_NO_COOKIE);
    assert_int_equal(read_cookie("", token), NANO_CSRF_NO_COOKIE);
    /* missing pipe */
    assert_int_equal(read_cookie(TOKEN HASH, token), NANO_CSRF_MALFORMED);
    assert_int_equal(read_cookie(TOKEN, token), NANO_CSRF_MALFORMED);
    assert_int_equal(read_cookie(TOKEN ":" HASH, token), NANO_CSRF_MALFORMED);
    assert_int_equal(read_cookie(TOKEN "%7D" HASH, token),
                     NANO_CSRF_MALFORMED);
    /* pipe in the wrong place, wrong lengths */
    assert_int_equal(read_cookie("abc|" HASH, token), NANO_CSRF_MALFORMED);
    assert_int_equal(read_cookie(TOKEN "|" HASH "0", token),
                     NANO_CSRF_MALFORMED);
    assert_int_equal(read_cookie(TOKEN "|", token), NANO_CSRF_MALFORMED);
    assert_int_equal(read_cookie(TOKEN "||" HASH, token),
                     NANO_CSRF_MALFORMED);
    /* not lower-case hex */
    assert_int_equal(read_cookie(
        "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef|"
        HASH, token), NANO_CSRF_MALFORMED);
    assert_int_equal(read_cookie(
        TOKEN "|8C8EEE6E5C7C02595913BAE05B9E9C4885840E18A806B426799AE4EE7E18480E",
        token), NANO_CSRF_MALFORMED);
    /* bad hash: one digit off, or made with another secret */
    assert_int_equal(read_cookie(
        TOKEN "|8c8eee6e5c7c02595913bae05b9e9c4885840e18a806b426799ae4ee7e18480f",
        token), NANO_CSRF_BAD_HASH);
    assert_string_equal(token, "");
    assert_int_equal(read_cookie(TOKEN "|" HASH_OTHER, token),
                     NANO_CSRF_BAD_HASH);
    /* no secret configured: nothing is genuine */
    assert_int_equal(nano_csrf_read_cookie(TOKEN "|" HASH,
                                           strlen(TOKEN "|" HASH), NULL, 0,
                                           token), NANO_CSRF_MALFORMED);
}

/*
 * A value cut inside "%7C" is read within its length: it ends right
 * before a page that cannot be read (a cookie value is a slice of the
 * header, not a C string).  fuzz_web found the separator check reading
 * up to two bytes past a value of 65 or 66 bytes.
 */
static void
test_read_cut_separator(void **state)
{
    static const char *const  cut[] = { TOKEN "%7", TOKEN "%" };
    char                      token[NANO_CSRF_TOKEN_LEN + 1];
    unsigned char            *pages;
    char                     *v;
    size_t                    page = (size_t) sysconf(_SC_PAGESIZE), i, n;

    (void) state;
    pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(pages != MAP_FAILED);
    assert_int_equal(mprotect(pages + page, page, PROT_NONE), 0);
    for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        n = strlen(cut[i]);
        v = (char *) pages + page - n;
        memcpy(v, cut[i], n);
        assert_int_equal(nano_csrf_read_cookie(v, n, secret, secret_len,
                                               token), NANO_CSRF_MALFORMED);
        assert_int_equal(nano_csrf_verify(v, n, TOKEN, secret, secret_len),
                         NANO_CSRF_MALFORMED);
    }
    munmap(pages, 2 * page);
}

static void
test_verify(void **state)
{
    (void) state;
    assert_int_equal(verify(TOKEN "|" HASH, TOKEN), NANO_CSRF_OK);
    assert_int_equal(verify(TOKEN "%7C" HASH, TOKEN), NANO_CSRF_OK);
    /* wrong token: missing, empty, different, prefix, longer */
    assert_int_equal(verify(TOKEN "|" HASH, NULL), NANO_CSRF_NO_TOKEN);
    assert_int_equal(verify(TOKEN "|" HASH, ""), NANO_CSRF_NO_TOKEN);
    assert_int_equal(verify(TOKEN "|" HASH,
        "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        NANO_CSRF_MISMATCH);
    assert_int_equal(verify(TOKEN "|" HASH, "0123456789abcdef"),
                     NANO_CSRF_MISMATCH);
    assert_int_equal(verify(TOKEN "|" HASH, TOKEN "0"), NANO_CSRF_MISMATCH);
    /* the whole cookie value is not the token */
    assert_int_equal(verify(TOKEN "|" HASH, TOKEN "|" HASH),
                     NANO_CSRF_MISMATCH);
    /* cookie problems come first */
    assert_int_equal(verify(NULL, TOKEN), NANO_CSRF_NO_COOKIE);
    assert_int_equal(verify(TOKEN HASH, TOKEN), NANO_CSRF_MALFORMED);
    assert_int_equal(verify(TOKEN "|" HASH_OTHER, TOKEN), NANO_CSRF_BAD_HASH);
}

static void
test_status_names(void **state)
{
    (void) state;
    assert_string_equal(nano_csrf_status_name(NANO_CSRF_OK), "ok");
    assert_string_equal(nano_csrf_status_name(NANO_CSRF_NO_COOKIE),
                        "no_cookie");
    assert_string_equal(nano_csrf_status_name(NANO_CSRF_MALFORMED),
                        "malformed");
    assert_string_equal(nano_csrf_status_name(NANO_CSRF_BAD_HASH),
                        "bad_hash");
    assert_string_equal(nano_csrf_status_name(NANO_CSRF_NO_TOKEN),
                        "no_token");
    assert_string_equal(nano_csrf_status_name(NANO_CSRF_MISMATCH),
                        "mismatch");
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_cookie_names),
        cmocka_unit_test(test_cookie_value_exact),
        cmocka_unit_test(test_cookie_value_refusals),
        cmocka_unit_test(test_new_tokens),
        cmocka_unit_test(test_read_ok),
        cmocka_unit_test(test_read_refusals),
        cmocka_unit_test(test_read_cut_separator),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_status_names),
    };

    return cmocka_run_group_tests_name("csrf", tests, NULL, NULL);
}
