/*
 * Session cookies as the platform writes them: names and attributes over
 * http and https, reading them back, renewal keeping the session id,
 * clearing every chunk on sign-out, and NANO_SESSION_MAX_AGE.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nano_http.h"
#include "nano_session.h"

#define KEY   "test-session-key-0123456789abcdefghijklmnopqrstuv"
#define NOW   1700000000LL

static nano_config_t   config;


static void
setup_config(int https)
{
    char  err[256];

    nano_config_init(&config);
    config.https = https;
    snprintf(config.origin, sizeof(config.origin), "%s",
             https ? "https://app.example.com" : "http://localhost:8080");
    config.keyring = nano_keyring_parse(KEY "\n", strlen(KEY) + 1, err,
                                        sizeof(err));
    assert_non_null(config.keyring);
}

static void
teardown_config(void)
{
    nano_keyring_free(config.keyring);
    config.keyring = NULL;
}

/* A request carrying cookie (NULL for none). */
static void
make_req(nano_req_t *req, char **envp, char *cookie_param)
{
    envp[0] = "REQUEST_METHOD=GET";
    envp[1] = "PATH_INFO=/api/auth/session";
    envp[2] = cookie_param;
    envp[3] = NULL;
    nano_req_init(req, envp);
    req->config = &config;
}

static const nano_session_user_t  user = {
    "cuser0000000000000000001", "ann@example.com", "Ann \"Q\" Lee", NULL
};

/* The value of the first Set-Cookie for name in res, copied to out. */
static int
set_cookie_value(const nano_res_t *res, const char *name, char *out,
    size_t cap)
{
    char        prefix[256];
    const char *p, *end;

    snprintf(prefix, sizeof(prefix), "Set-Cookie: %s=", name);
    p = strstr(res->headers.data ? res->headers.data : "", prefix);
    if (p == NULL) {
        return -1;
    }
    p += strlen(prefix);
    end = strchr(p, ';');
    if (end == NULL || (size_t) (end - p) >= cap) {
        return -1;
    }
    memcpy(out, p, end - p);
    out[end - p] = '\0';
    return 0;
}

/* req carries the session cookie res set, as the browser sends it back
 * (param: the HTTP_COOKIE param's room, envp's for make_req). */
static void
req_with_cookie_of(const nano_res_t *res, nano_req_t *req, char **envp,
    char *param, size_t cap)
{
    char  value[4096];

    assert_int_equal(set_cookie_value(res, "next-auth.session-token", value,
                                      sizeof(value)), 0);
    snprintf(param, cap, "HTTP_COOKIE=next-auth.session-token=%s", value);
    make_req(req, envp, param);
}

static void
test_http_cookie_name_and_attributes(void **state)
{
    nano_req_t   req;
    nano_res_t   res;
    char        *envp[4];
    long long    exp = 0;

    (void) state;
    setup_config(0);
    make_req(&req, envp, NULL);
    nano_res_init(&res);

    assert_int_equal(nano_session_issue(&req, &res, &user, NULL, NOW, &exp),
                     0);
    assert_int_equal(exp, NOW + 30 * 24 * 3600);
    assert_non_null(strstr(res.headers.data,
                           "Set-Cookie: next-auth.session-token="));
    assert_non_null(strstr(res.headers.data, "; Path=/"));
    assert_non_null(strstr(res.headers.data, "; HttpOnly; SameSite=Lax"));
    assert_non_null(strstr(res.headers.data,
                           "; Expires=Thu, 14 Dec 2023 22:13:20 GMT"));
    assert_null(strstr(res.headers.data, "Secure"));
    assert_null(strstr(res.headers.data, "Domain"));

    nano_res_cleanup(&res);
    teardown_config();
}

static void
test_https_cookie_is_secure_and_prefixed(void **state)
{
    nano_req_t   req;
    nano_res_t   res;
    char        *envp[4];

    (void) state;
    setup_config(1);
    make_req(&req, envp, NULL);
    nano_res_init(&res);

    assert_int_equal(nano_session_issue(&req, &res, &user, NULL, NOW, NULL),
                     0);
    assert_non_null(strstr(res.headers.data,
                           "Set-Cookie: __Secure-next-auth.session-token="));
    assert_non_null(strstr(res.headers.data,
                           "; HttpOnly; SameSite=Lax; Secure"));
    assert_null(strstr(res.headers.data, "Domain"));

    nano_res_cleanup(&res);
    teardown_config();
}

/* What one request issues, the next reads back; a renewal keeps jti. */
static void
test_issue_then_read_back_and_renew(void **state)
{
    nano_req_t       req, req2;
    nano_res_t       res, res2;
    nano_session_t   s;
    char            *envp[4], *envp2[4], param[8192], value[4096];
    char             jti[128];

    (void) state;
    setup_config(0);
    make_req(&req, envp, NULL);
    nano_res_init(&res);
    assert_int_equal(nano_session_issue(&req, &res, &user, NULL, NOW, NULL),
                     0);
    assert_int_equal(set_cookie_value(&res, "next-auth.session-token", value,
                                      sizeof(value)), 0);

    snprintf(param, sizeof(param),
             "HTTP_COOKIE=other=1; next-auth.session-token=%s", value);
    make_req(&req2, envp2, param);
    nano_session_init(&s);
    assert_int_equal(nano_session_read(&req2, NOW + 10, &s), NANO_TOKEN_OK);
    assert_string_equal(s.claims.sub.data, user.id);
    assert_string_equal(s.claims.email.data, user.email);
    assert_string_equal(s.claims.name.data, user.name);
    assert_int_equal(s.claims.iat, NOW);
    assert_int_equal(s.claims.jti.len, 36);          /* a UUID */
    snprintf(jti, sizeof(jti), "%s", s.claims.jti.data);

    /* 30 days later it has expired */
    nano_session_cleanup(&s);
    nano_session_init(&s);
    assert_int_equal(nano_session_read(&req2, NOW + 30 * 24 * 3600 + 61, &s),
                     NANO_TOKEN_EXPIRED);

    /* renewed a day later: same session id, new iat */
    nano_res_init(&res2);
    assert_int_equal(nano_session_issue(&req2, &res2, &user, jti,
                                        NOW + 86400, NULL), 0);
    req_with_cookie_of(&res2, &req2, envp2, param, sizeof(param));
    nano_session_cleanup(&s);
    nano_session_init(&s);
    assert_int_equal(nano_session_read(&req2, NOW + 86400, &s),
                     NANO_TOKEN_OK);
    assert_string_equal(s.claims.jti.data, jti);
    assert_int_equal(s.claims.iat, NOW + 86400);

    nano_session_cleanup(&s);
    nano_res_cleanup(&res);
    nano_res_cleanup(&res2);
    teardown_config();
}

static void
test_read_refuses_forged_and_reports_presence(void **state)
{
    nano_req_t       req;
    nano_session_t   s;
    char            *envp[4];

    (void) state;
    setup_config(0);
    make_req(&req, envp, "HTTP_COOKIE=next-auth.session-token=eyJhbGciOiJub25lIn0.e30.");
    nano_session_init(&s);
    assert_int_equal(nano_session_read(&req, NOW, &s), NANO_TOKEN_INVALID);
    assert_true(s.present);
    nano_session_cleanup(&s);

    make_req(&req, envp, NULL);
    nano_session_init(&s);
    assert_int_equal(nano_session_read(&req, NOW, &s), NANO_TOKEN_MISSING);
    assert_false(s.present);
    nano_session_cleanup(&s);
    nano_session_cleanup(&s);                  /* may run twice */
    teardown_config();
}

/* Sign-out clears both names and every chunk the browser sent. */
static void
test_clear_removes_plain_and_chunks(void **state)
{
    nano_req_t   req;
    nano_res_t   res;
    char        *envp[4];

    (void) state;
    setup_config(0);
    make_req(&req, envp, "HTTP_COOKIE=next-auth.session-token.0=aaa; "
             "next-auth.session-token.1=bbb; "
             "__Secure-next-auth.session-token=ccc; keep=1");
    nano_res_init(&res);

    assert_int_equal(nano_session_clear(&req, &res), 0);
    assert_non_null(strstr(res.headers.data,
                           "Set-Cookie: next-auth.session-token=; Path=/; "
                           "Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
                           "Max-Age=0"));
    assert_non_null(strstr(res.headers.data,
                           "Set-Cookie: next-auth.session-token.0=;"));
    assert_non_null(strstr(res.headers.data,
                           "Set-Cookie: next-auth.session-token.1=;"));
    assert_non_null(strstr(res.headers.data,
                           "Set-Cookie: __Secure-next-auth.session-token=;"));
    assert_null(strstr(res.headers.data, "keep="));
    assert_null(strstr(res.headers.data, "session-token.2"));

    nano_res_cleanup(&res);
    teardown_config();
}

/* NANO_SESSION_MAX_AGE set to v: nano_session_configure's result, the
 * refusal's message in err. */
static int
configure_age(const char *v, char *err, size_t errlen)
{
    if (v == NULL) {
        unsetenv("NANO_SESSION_MAX_AGE");
    } else {
        setenv("NANO_SESSION_MAX_AGE", v, 1);
    }
    err[0] = '\0';
    return nano_session_configure(err, errlen);
}

/* A shorter lifetime governs the token's exp, the cookie's Expires and
 * the renewal age; its end is the token's end. */
static void
test_max_age_shortens_the_session(void **state)
{
    nano_req_t       req, req2;
    nano_res_t       res;
    nano_session_t   s;
    char            *envp[4], *envp2[4], param[8192], err[256];
    long long        exp = 0;

    (void) state;
    assert_int_equal(configure_age(NULL, err, sizeof(err)), 0);
    assert_int_equal(nano_session_max_age(), 30 * 24 * 3600);
    assert_int_equal(nano_session_update_age(), 24 * 3600);
    assert_int_equal(configure_age("", err, sizeof(err)), 0);
    assert_int_equal(nano_session_max_age(), 30 * 24 * 3600);

    assert_int_equal(configure_age("600", err, sizeof(err)), 0);
    assert_int_equal(nano_session_max_age(), 600);
    assert_int_equal(nano_session_update_age(), 20);

    setup_config(0);
    make_req(&req, envp, NULL);
    nano_res_init(&res);
    assert_int_equal(nano_session_issue(&req, &res, &user, NULL, NOW, &exp),
                     0);
    assert_int_equal(exp, NOW + 600);
    assert_non_null(strstr(res.headers.data,
                           "; Expires=Tue, 14 Nov 2023 22:23:20 GMT"));
    req_with_cookie_of(&res, &req2, envp2, param, sizeof(param));
    nano_session_init(&s);
    assert_int_equal(nano_session_read(&req2, NOW + 599, &s), NANO_TOKEN_OK);
    assert_int_equal(s.claims.exp, NOW + 600);
    nano_session_cleanup(&s);
    nano_session_init(&s);
    assert_int_equal(nano_session_read(&req2, NOW + 600 + 61, &s),
                     NANO_TOKEN_EXPIRED);
    nano_session_cleanup(&s);
    nano_res_cleanup(&res);

    /* the least and the most */
    assert_int_equal(configure_age("300", err, sizeof(err)), 0);
    assert_int_equal(nano_session_update_age(), 10);
    assert_int_equal(configure_age("2592000", err, sizeof(err)), 0);
    assert_int_equal(nano_session_max_age(), 2592000);

    teardown_config();
    assert_int_equal(configure_age(NULL, err, sizeof(err)), 0);
}

/* A token issued under the 30 days, read after the lifetime was
 * shortened to 600 s: it ends 600 s after its iat (with the 60 s
 * leeway), not at its own exp, as the gateway's nano_auth_max_age ends
 * it; one issued under the 600 s lives its 600 s. */
static void
test_max_age_shortens_tokens_issued_before(void **state)
{
    nano_req_t       req, req2;
    nano_res_t       res, res2;
    nano_session_t   s;
    char            *envp[4], *envp2[4], param[8192], err[256];
    long long        exp = 0;

    (void) state;
    assert_int_equal(configure_age(NULL, err, sizeof(err)), 0);
    setup_config(0);
    make_req(&req, envp, NULL);
    nano_res_init(&res);
    assert_int_equal(nano_session_issue(&req, &res, &user, NULL, NOW, &exp),
                     0);
    assert_int_equal(exp, NOW + 30 * 24 * 3600);
    req_with_cookie_of(&res, &req2, envp2, param, sizeof(param));

    assert_int_equal(configure_age("600", err, sizeof(err)), 0);
    nano_session_init(&s);
    assert_int_equal(nano_session_read(&req2, NOW + 600 + 59, &s),
                     NANO_TOKEN_OK);
    assert_int_equal(s.claims.exp, NOW + 30 * 24 * 3600);
    nano_session_cleanup(&s);
    nano_session_init(&s);
    assert_int_equal(nano_session_read(&req2, NOW + 600 + 60, &s),
                     NANO_TOKEN_EXPIRED);
    assert_null(s.claims.sub.data);
    nano_session_cleanup(&s);

    /* a token issued at NOW + 500 under the 600 s: its own 600 s */
    nano_res_init(&res2);
    assert_int_equal(nano_session_issue(&req2, &res2, &user, NULL,
                                        NOW + 500, &exp), 0);
    assert_int_equal(exp, NOW + 500 + 600);
    req_with_cookie_of(&res2, &req2, envp2, param, sizeof(param));
    nano_session_init(&s);
    assert_int_equal(nano_session_read(&req2, NOW + 1100, &s), NANO_TOKEN_OK);
    nano_session_cleanup(&s);

    nano_res_cleanup(&res);
    nano_res_cleanup(&res2);
    teardown_config();
    assert_int_equal(configure_age(NULL, err, sizeof(err)), 0);
}

/* Only shorter, plain digits: a refusal names the variable and its range
 * and leaves the default. */
static void
test_max_age_refuses_bad_values(void **state)
{
    static const char *const  bad[] = {
        "299", "0", "2592001", "99999999999999999999", "10m", " 600",
        "600 ", "+600", "-600", "0x258", "6e2", "1.5",
    };
    char                      err[256];
    size_t                    i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(configure_age(bad[i], err, sizeof(err)), -1);
        assert_non_null(strstr(err, "NANO_SESSION_MAX_AGE must be a number"
                                    " from 300 to 2592000"));
        assert_int_equal(nano_session_max_age(), 30 * 24 * 3600);
    }
    assert_int_equal(configure_age(NULL, err, sizeof(err)), 0);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_http_cookie_name_and_attributes),
        cmocka_unit_test(test_https_cookie_is_secure_and_prefixed),
        cmocka_unit_test(test_issue_then_read_back_and_renew),
        cmocka_unit_test(test_read_refuses_forged_and_reports_presence),
        cmocka_unit_test(test_clear_removes_plain_and_chunks),
        cmocka_unit_test(test_max_age_shortens_the_session),
        cmocka_unit_test(test_max_age_shortens_tokens_issued_before),
        cmocka_unit_test(test_max_age_refuses_bad_values),
    };

    return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
