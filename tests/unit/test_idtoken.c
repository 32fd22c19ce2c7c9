/*
 * Unit tests for OpenID Connect ID tokens (nano_idtoken): tokens signed
 * by OpenSSL with a key of the set verify and give their claims; every
 * other token is refused with its exact reason, one table row each.
 */

#include "unit_table.h"

#include "nano_idtoken.h"
#include "rsa_jwt.h"

#define ISS     "https://issuer.example"
#define CLIENT  "client-1.apps.example"
#define NONCE   "nonce-0123456789abcdefghijklmnopqrstuvwxyzAB"
#define NOW     1700000000LL
#define HDR     "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}"

static EVP_PKEY     *key_a, *key_b;
static nano_jwks_t  *keys, *one_key;

static const nano_idtoken_check_t  check = {
    .issuer = ISS, .client_id = CLIENT, .nonce = NONCE, .now = NOW,
    .leeway = 60,
};

/* A payload: the usual claims, each replaceable ("" leaves it out). */
typedef struct {
    const char  *iss, *aud, *exp, *iat, *nonce, *sub, *extra;
} payload_t;

static char *
payload(const payload_t *p)
{
    nano_buf_t  b;

#define CLAIM(name, v, def)                                                   \
    do {                                                                      \
        const char *val_ = (v) != NULL ? (v) : (def);                         \
        if (val_[0] != '\0') {                                                \
            nano_buf_printf(&b, "%s\"" name "\":%s", b.len > 1 ? "," : "",    \
                            val_);                                            \
        }                                                                     \
    } while (0)

    nano_buf_init(&b);
    nano_buf_puts(&b, "{");
    CLAIM("iss", p->iss, "\"" ISS "\"");
    CLAIM("aud", p->aud, "\"" CLIENT "\"");
    CLAIM("exp", p->exp, "1700003600");
    CLAIM("iat", p->iat, "1699999990");
    CLAIM("nonce", p->nonce, "\"" NONCE "\"");
    CLAIM("sub", p->sub, "\"110169484474386276334\"");
    nano_buf_puts(&b, p->extra != NULL ? p->extra : "");
    nano_buf_puts(&b, "}");
    return nano_buf_steal(&b);
#undef CLAIM
}

typedef struct {
    const char             *name;
    const char             *header;    /* NULL: HDR */
    payload_t               p;
    int                     signer;    /* 0: key_a, 1: key_b, 2: none */
    const char             *nonce;     /* NULL: NONCE; "-": none sent */
    nano_idtoken_status_t   want;
} row_t;

static const row_t  rows[] = {
    { "valid", NULL, { 0 }, 0, NULL, NANO_IDTOKEN_OK },
    { "aud array with azp", NULL,
      { .aud = "[\"other\",\"" CLIENT "\"]",
        .extra = ",\"azp\":\"" CLIENT "\"" }, 0, NULL, NANO_IDTOKEN_OK },
    { "aud array of one", NULL, { .aud = "[\"" CLIENT "\"]" }, 0, NULL,
      NANO_IDTOKEN_OK },
    { "exp within leeway", NULL, { .exp = "1699999950" }, 0, NULL,
      NANO_IDTOKEN_OK },
    { "iat within leeway", NULL, { .iat = "1700000050" }, 0, NULL,
      NANO_IDTOKEN_OK },
    { "nonce in token, none sent", NULL, { 0 }, 0, "-", NANO_IDTOKEN_OK },
    { "no kid with a set of one", "{\"alg\":\"RS256\"}", { 0 }, 0, NULL,
      NANO_IDTOKEN_OK },
    { "wrong iss", NULL, { .iss = "\"https://evil.example\"" }, 0, NULL,
      NANO_IDTOKEN_ISSUER },
    { "iss with a trailing slash", NULL, { .iss = "\"" ISS "/\"" }, 0, NULL,
      NANO_IDTOKEN_ISSUER },
    { "no iss", NULL, { .iss = "" }, 0, NULL, NANO_IDTOKEN_ISSUER },
    { "iss not a string", NULL, { .iss = "1" }, 0, NULL,
      NANO_IDTOKEN_ISSUER },
    { "wrong aud", NULL, { .aud = "\"other-client\"" }, 0, NULL,
      NANO_IDTOKEN_AUDIENCE },
    { "no aud", NULL, { .aud = "" }, 0, NULL, NANO_IDTOKEN_AUDIENCE },
    { "aud array without us", NULL, { .aud = "[\"a\",\"b\"]" }, 0, NULL,
      NANO_IDTOKEN_AUDIENCE },
    { "aud array of two without azp", NULL,
      { .aud = "[\"other\",\"" CLIENT "\"]" }, 0, NULL,
      NANO_IDTOKEN_AUDIENCE },
    { "azp another client", NULL,
      { .extra = ",\"azp\":\"other\"" }, 0, NULL, NANO_IDTOKEN_AUDIENCE },
    { "aud array with a number", NULL, { .aud = "[\"" CLIENT "\",1]" }, 0,
      NULL, NANO_IDTOKEN_AUDIENCE },
    { "expired", NULL, { .exp = "1699999900" }, 0, NULL,
      NANO_IDTOKEN_EXPIRED },
    { "no exp", NULL, { .exp = "" }, 0, NULL, NANO_IDTOKEN_EXPIRED },
    { "exp a string", NULL, { .exp = "\"1700003600\"" }, 0, NULL,
      NANO_IDTOKEN_EXPIRED },
    { "iat in the future", NULL, { .iat = "1700000100" }, 0, NULL,
      NANO_IDTOKEN_NOT_YET },
    { "no iat", NULL, { .iat = "" }, 0, NULL, NANO_IDTOKEN_NOT_YET },
    { "nbf in the future", NULL, { .extra = ",\"nbf\":1700000100" }, 0,
      NULL, NANO_IDTOKEN_NOT_YET },
    { "wrong nonce", NULL, { .nonce = "\"another-nonce\"" }, 0, NULL,
      NANO_IDTOKEN_NONCE },
    { "nonce one character short", NULL,
      { .nonce = "\"nonce-0123456789abcdefghijklmnopqrstuvwxyzA\"" }, 0, NULL,
      NANO_IDTOKEN_NONCE },
    { "no nonce", NULL, { .nonce = "" }, 0, NULL, NANO_IDTOKEN_NONCE },
    { "nonce not a string", NULL, { .nonce = "7" }, 0, NULL,
      NANO_IDTOKEN_NONCE },
    { "no sub", NULL, { .sub = "" }, 0, NULL, NANO_IDTOKEN_SUBJECT },
    { "empty sub", NULL, { .sub = "\"\"" }, 0, NULL, NANO_IDTOKEN_SUBJECT },
    { "sub with a newline", NULL, { .sub = "\"a\\nb\"" }, 0, NULL,
      NANO_IDTOKEN_SUBJECT },
    { "sub not ASCII", NULL, { .sub = "\"\xc3\xa9t\xc3\xa9\"" }, 0, NULL,
      NANO_IDTOKEN_SUBJECT },
    { "sub a number", NULL, { .sub = "42" }, 0, NULL,
      NANO_IDTOKEN_SUBJECT },
    { "signed by another key", NULL, { 0 }, 1, NULL,
      NANO_IDTOKEN_SIGNATURE },
    { "no signature", NULL, { 0 }, 2, NULL, NANO_IDTOKEN_MALFORMED },
    { "alg none", "{\"alg\":\"none\",\"kid\":\"k1\"}", { 0 }, 2, NULL,
      NANO_IDTOKEN_MALFORMED },
    { "alg none, signed", "{\"alg\":\"none\",\"kid\":\"k1\"}", { 0 }, 0,
      NULL, NANO_IDTOKEN_ALG },
    { "alg HS256", "{\"alg\":\"HS256\",\"kid\":\"k1\"}", { 0 }, 0, NULL,
      NANO_IDTOKEN_ALG },
    { "alg RS512", "{\"alg\":\"RS512\",\"kid\":\"k1\"}", { 0 }, 0, NULL,
      NANO_IDTOKEN_ALG },
    { "alg rs256", "{\"alg\":\"rs256\",\"kid\":\"k1\"}", { 0 }, 0, NULL,
      NANO_IDTOKEN_ALG },
    { "no alg", "{\"kid\":\"k1\"}", { 0 }, 0, NULL, NANO_IDTOKEN_ALG },
    { "crit", "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"x\"],"
      "\"x\":1}", { 0 }, 0, NULL, NANO_IDTOKEN_ALG },
    { "unknown kid", "{\"alg\":\"RS256\",\"kid\":\"k9\"}", { 0 }, 0, NULL,
      NANO_IDTOKEN_NO_KEY },
    { "kid a number", "{\"alg\":\"RS256\",\"kid\":1}", { 0 }, 0, NULL,
      NANO_IDTOKEN_MALFORMED },
    { "header not an object", "[1]", { 0 }, 0, NULL,
      NANO_IDTOKEN_MALFORMED },
    { "header with a key twice",
      "{\"alg\":\"HS256\",\"alg\":\"RS256\",\"kid\":\"k1\"}", { 0 }, 0, NULL,
      NANO_IDTOKEN_MALFORMED },
};

static void
row_test(void **state)
{
    const row_t             *r = *state;
    nano_idtoken_check_t     c = check;
    nano_idtoken_claims_t    claims;
    EVP_PKEY                *signer;
    char                    *p, *jwt;
    const nano_jwks_t       *set = keys;

    p = payload(&r->p);
    signer = r->signer == 0 ? key_a : r->signer == 1 ? key_b : NULL;
    jwt = rsa_jwt(signer, r->header != NULL ? r->header : HDR, p);
    if (r->nonce != NULL) {
        c.nonce = strcmp(r->nonce, "-") == 0 ? NULL : r->nonce;
    }
    if (r->header != NULL && strstr(r->header, "kid") == NULL) {
        set = one_key;
    }
    nano_idtoken_claims_init(&claims);
    assert_string_equal(
        nano_idtoken_status_name(nano_idtoken_verify(jwt, set, &c, &claims)),
        nano_idtoken_status_name(r->want));
    if (r->want == NANO_IDTOKEN_OK) {
        assert_string_equal(claims.sub, "110169484474386276334");
    } else {
        assert_null(claims.sub);
    }
    nano_idtoken_claims_cleanup(&claims);
    free(jwt);
    free(p);
}

static void
test_profile_claims(void **state)
{
    nano_idtoken_claims_t  c;
    payload_t              p = {
        .extra = ",\"email\":\"Ada@Example.com\",\"email_verified\":true,"
                 "\"name\":\"Ada L\xc3\xb6vel\",\"picture\":"
                 "\"https://img.example/a.png\"",
    };
    char                  *body = payload(&p), *jwt;

    (void) state;
    jwt = rsa_jwt(key_a, HDR, body);
    nano_idtoken_claims_init(&c);
    assert_int_equal(nano_idtoken_verify(jwt, keys, &check, &c),
                     NANO_IDTOKEN_OK);
    assert_string_equal(c.email, "Ada@Example.com");
    assert_int_equal(c.email_verified, 1);
    assert_string_equal(c.name, "Ada L\xc3\xb6vel");
    assert_string_equal(c.picture, "https://img.example/a.png");
    nano_idtoken_claims_cleanup(&c);
    nano_idtoken_claims_cleanup(&c);
    free(jwt);
    free(body);

    /* "true" as a string counts; a name with a control character or an
     * empty email is absent, not refused */
    p.extra = ",\"email\":\"\",\"email_verified\":\"true\","
              "\"name\":\"a\\u0007b\",\"picture\":7";
    body = payload(&p);
    jwt = rsa_jwt(key_a, HDR, body);
    assert_int_equal(nano_idtoken_verify(jwt, keys, &check, &c),
                     NANO_IDTOKEN_OK);
    assert_null(c.email);
    assert_int_equal(c.email_verified, 1);
    assert_null(c.name);
    assert_null(c.picture);
    nano_idtoken_claims_cleanup(&c);
    free(jwt);
    free(body);

    p.extra = ",\"email\":\"a@b.example\",\"email_verified\":false";
    body = payload(&p);
    jwt = rsa_jwt(key_a, HDR, body);
    assert_int_equal(nano_idtoken_verify(jwt, keys, &check, &c),
                     NANO_IDTOKEN_OK);
    assert_int_equal(c.email_verified, 0);
    nano_idtoken_claims_cleanup(&c);
    free(jwt);
    free(body);
}

static void
test_malformed_tokens(void **state)
{
    static const char *const  bad[] = {
        "", "a", "a.b", "a.b.c.d", "...", "eyJhbGciOiJSUzI1NiJ9..",
        "e30.e30.", "!!.e30.AAAA",
    };
    nano_idtoken_claims_t     c;
    payload_t                 p = { 0 };
    char                     *body = payload(&p), *jwt, *big;
    size_t                    i;

    (void) state;
    nano_idtoken_claims_init(&c);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(nano_idtoken_verify(bad[i], keys, &check, &c),
                         NANO_IDTOKEN_MALFORMED);
    }
    assert_int_equal(nano_idtoken_verify(NULL, keys, &check, &c),
                     NANO_IDTOKEN_MALFORMED);

    /* a payload that is not JSON, a signature with padding */
    jwt = rsa_jwt(key_a, HDR, "not json");
    assert_int_equal(nano_idtoken_verify(jwt, keys, &check, &c),
                     NANO_IDTOKEN_MALFORMED);
    free(jwt);
    jwt = rsa_jwt(key_a, HDR, body);
    big = malloc(strlen(jwt) + 3);
    sprintf(big, "%s==", jwt);
    assert_int_equal(nano_idtoken_verify(big, keys, &check, &c),
                     NANO_IDTOKEN_MALFORMED);
    free(big);

    /* too long to look at */
    big = malloc(NANO_IDTOKEN_MAX_LEN + 2);
    memset(big, 'A', NANO_IDTOKEN_MAX_LEN + 1);
    big[NANO_IDTOKEN_MAX_LEN + 1] = '\0';
    memcpy(big, jwt, strlen(jwt));
    assert_int_equal(nano_idtoken_verify(big, keys, &check, &c),
                     NANO_IDTOKEN_MALFORMED);
    free(big);
    /* no key set at all */
    assert_int_equal(nano_idtoken_verify(jwt, NULL, &check, &c),
                     NANO_IDTOKEN_NO_KEY);
    free(jwt);
    free(body);
}

static void
test_status_names(void **state)
{
    (void) state;
    assert_string_equal(nano_idtoken_status_name(NANO_IDTOKEN_OK), "ok");
    assert_string_equal(nano_idtoken_status_name(NANO_IDTOKEN_SIGNATURE),
                        "bad_signature");
    assert_string_equal(nano_idtoken_status_name(NANO_IDTOKEN_NOMEM),
                        "out_of_memory");
    assert_string_equal(nano_idtoken_status_name((nano_idtoken_status_t) 99),
                        "unknown");
}

int
main(void)
{
    const struct CMUnitTest  extra[] = {
        cmocka_unit_test(test_profile_claims),
        cmocka_unit_test(test_malformed_tokens),
        cmocka_unit_test(test_status_names),
    };
    char                     set[8192], err[128];
    char                    *a, *b;
    int                      rc;

    key_a = rsa_new(2048);
    key_b = rsa_new(2048);
    a = rsa_jwk(key_a, "k1", "");
    b = rsa_jwk(key_b, "k2", "");
    /* key_b is in the set under another kid: a token claiming k1 but
     * signed by key_b is a bad signature, not an unknown key */
    snprintf(set, sizeof(set), "{\"keys\":[%s,%s]}", a, b);
    keys = nano_jwks_parse(set, strlen(set), err, sizeof(err));
    snprintf(set, sizeof(set), "{\"keys\":[%s]}", a);
    one_key = nano_jwks_parse(set, strlen(set), err, sizeof(err));
    free(a);
    free(b);
    if (keys == NULL || one_key == NULL) {
        return 1;
    }
    rc = unit_run_table("idtoken", rows, sizeof(rows) / sizeof(rows[0]),
                        sizeof(rows[0]), row_test, extra,
                        sizeof(extra) / sizeof(extra[0]));
    nano_jwks_release(keys);
    nano_jwks_release(one_key);
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
    return rc;
}
