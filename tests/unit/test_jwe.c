/*
 * Unit tests for NextAuth v4's JWE (nano_jwe.c) and key file format 2
 * with kids (nano_token.c): the key derivation and a token made by the
 * real next-auth package as known answers, round trips through
 * nano_token_encrypt, every refusal (tampering in each part, wrong alg or
 * enc, zip, crit, another secret, truncation), next-auth's clock
 * tolerance, and kids: parsing, percent-encoding, the key a kid picks.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "nano_jose.h"
#include "nano_jwe.h"
#include "nano_token.h"
#include "../tools/test_b64url.h"

#define TOKCAP   (2 * NANO_TOKEN_MAX_LEN)

/* A secret and what next-auth 4.24.15 made of it (tests/nextauth):
 * hkdfSync("sha256", S, "", "NextAuth.js Generated Encryption Key", 32),
 * and encode({token: {name: "Ada é", email: "ada@example.com",
 * picture: null, sub: "u-42"}, secret: S, maxAge: 3600}). */
#define NA_SECRET  "unit-test-secret-for-jwe-0123456789abcdefgh"
#define NA_KEY_HEX \
    "7b34152098f6f536c0a98d84713bcdbd9b4e436979201cf0f1cf80c7477437e9"
#define NA_TOKEN \
    "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..yD1T6s8XkkeQPmD8.8hu6OCNdMheaS" \
    "kTWg6iolf-FTrfE2D2-nD8tJiVmaT3z4QoopRVn64ioaJSMC_wID0syE1_K9LoTPqzw_RzS" \
    "fjnufUGZVSdReB6yDKRGuxBs_rnhgVWXTlVus5cARBZUCBpCsp5htg6W24MjNSaq1IGX_X" \
    "Zv-MEWg94hfbvZHHC6JKf3wTJXkYUKg3s0xy6lAn-sIs9i.Y3TrAfsFD6qyYu_sUfIYxQ"
#define NA_IAT     1796194238LL
#define NA_EXP     1796197838LL

#define KEY1     "first-jwe-key-0123456789abcdefghijkl"
#define KEY2     "second-jwe-key-0123456789abcdefghijk"
#define KEY3     "not-in-the-ring-0123456789abcdefghij"

#define HDR      "{\"alg\":\"dir\",\"enc\":\"A256GCM\"}"
#define CLAIMS   "{\"name\":\"Ada\",\"email\":\"a@example.com\"," \
                 "\"picture\":\"https://example.com/p.png\",\"sub\":\"u1\"," \
                 "\"iat\":1700000000,\"exp\":1700003600,\"jti\":\"j1\"}"
#define NOW      1700000100LL

static nano_keyring_t  *ring;          /* k1 KEY1, k2 KEY2, KEY3-less */
static char             scratch[TOKCAP];


/* ---- helpers ---------------------------------------------------------- */

/* A JWE made here with OpenSSL, apart from nano_jwe_seal: header and
 * claims as given, AES-256-GCM under HKDF(secret), a random IV. */
static void
mk_jwe(char *out, const char *hdr, const char *claims, const char *secret)
{
    unsigned char    key[NANO_JWE_KEY_LEN], iv[NANO_JWE_IV_LEN];
    unsigned char    ct[4096], tag[NANO_JWE_TAG_LEN];
    EVP_CIPHER_CTX  *c;
    size_t           n, clen;
    int              len;

    assert_int_equal(nano_jwe_derive_key((const unsigned char *) secret,
                                         strlen(secret), key), 0);
    assert_int_equal(RAND_bytes(iv, sizeof(iv)), 1);

    n = test_b64url(hdr, strlen(hdr), out);

    c = EVP_CIPHER_CTX_new();
    assert_non_null(c);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv),
                     1);
    assert_int_equal(EVP_EncryptUpdate(c, NULL, &len, (unsigned char *) out,
                                       (int) n), 1);
    assert_int_equal(EVP_EncryptUpdate(c, ct, &len,
                                       (const unsigned char *) claims,
                                       (int) strlen(claims)), 1);
    clen = (size_t) len;
    assert_int_equal(EVP_EncryptFinal_ex(c, ct + clen, &len), 1);
    clen += (size_t) len;
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG,
                                         sizeof(tag), tag), 1);
    EVP_CIPHER_CTX_free(c);

    out[n++] = '.';
    out[n++] = '.';
    n += test_b64url(iv, sizeof(iv), out + n);
    out[n++] = '.';
    n += test_b64url(ct, clen, out + n);
    out[n++] = '.';
    test_b64url(tag, sizeof(tag), out + n);
}

static nano_token_reason_t
open_tok(const nano_keyring_t *kr, const char *tok, nano_claims_t *c)
{
    nano_token_format_t  f;

    return nano_token_open(kr, NULL, tok, strlen(tok), scratch,
                           sizeof(scratch), c, &f);
}

static nano_token_reason_t
open_hdr(const char *hdr, const char *secret)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    mk_jwe(tok, hdr, CLAIMS, secret);
    return open_tok(ring, tok, &c);
}

/* Changes one base64url character of part i (0 header .. 4 tag) to
 * another that keeps it valid: in the middle, where no padding bits
 * live. */
static void
flip(char *tok, int part)
{
    char  *p, *e;
    int    i;

    p = tok;
    for (i = 0; i < part; i++) {
        p = strchr(p, '.') + 1;
    }
    e = strchr(p, '.');
    if (e == NULL) {
        e = p + strlen(p);
    }
    p += (e - p) / 2;
    *p = *p == 'A' ? 'B' : 'A';
}

static nano_keyring_t *
parse(const char *buf, char *err)
{
    err[0] = '\0';
    return nano_keyring_parse(buf, strlen(buf), err, 256);
}

static int
eq(const nano_str_t *s, const char *want)
{
    return s->len == strlen(want) && memcmp(s->data, want, s->len) == 0;
}

static int
setup(void **state)
{
    char  err[256];

    (void) state;
    ring = parse(NANO_KEYFILE_MAGIC "\nk1 " KEY1 "\nk2 " KEY2 "\n", err);
    return ring == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    (void) state;
    nano_keyring_free(ring);
    return 0;
}


/* ---- known answers: next-auth's own derivation and token ---------------- */

static void
test_derive_key_matches_next_auth(void **state)
{
    unsigned char  key[NANO_JWE_KEY_LEN];
    char           hex[2 * NANO_JWE_KEY_LEN + 1];
    size_t         i;

    (void) state;
    assert_int_equal(nano_jwe_derive_key((const unsigned char *) NA_SECRET,
                                         strlen(NA_SECRET), key), 0);
    for (i = 0; i < sizeof(key); i++) {
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    }
    assert_string_equal(hex, NA_KEY_HEX);
}

static void
test_open_next_auth_token(void **state)
{
    char                 err[256];
    nano_claims_t        c;
    nano_keyring_t      *kr;
    nano_token_format_t  f;

    (void) state;
    kr = parse(NA_SECRET "\n", err);
    assert_non_null(kr);
    assert_int_equal(nano_token_open(kr, NULL, NA_TOKEN, strlen(NA_TOKEN),
                                     scratch, sizeof(scratch), &c, &f),
                     NANO_TOKEN_REASON_OK);
    assert_int_equal(f, NANO_TOKEN_JWE);
    assert_true(eq(&c.sub, "u-42"));
    assert_true(eq(&c.email, "ada@example.com"));
    assert_true(eq(&c.name, "Ada \xc3\xa9"));
    assert_int_equal(c.picture.len, 0);             /* null */
    assert_true(eq(&c.jti, "6d6b453b-c94f-4ca6-bdaa-0e8fd134abdd"));
    assert_true(c.has_iat);
    assert_int_equal(c.iat, NA_IAT);
    assert_int_equal(c.exp, NA_EXP);

    /* and through the clock: next-auth's 15 s tolerance, not ours */
    assert_int_equal(nano_token_verify(kr, NA_TOKEN, strlen(NA_TOKEN),
                                       NA_EXP + 14, 60, scratch,
                                       sizeof(scratch), &c), NANO_TOKEN_OK);
    assert_int_equal(nano_token_verify(kr, NA_TOKEN, strlen(NA_TOKEN),
                                       NA_EXP + 15, 60, scratch,
                                       sizeof(scratch), &c),
                     NANO_TOKEN_EXPIRED);
    nano_keyring_free(kr);
}


/* ---- round trips -------------------------------------------------------- */

static void
test_encrypt_round_trip_with_kid(void **state)
{
    char                 hdr[256];
    char                *tok;
    ssize_t              n;
    nano_claims_t        in, c;
    nano_jwe_ctx_t      *jwe;
    nano_token_format_t  f;

    (void) state;
    memset(&in, 0, sizeof(in));
    in.sub.data = "user \"1\"";
    in.sub.len = strlen(in.sub.data);
    in.name.data = "Zo\xc3\xab";
    in.name.len = strlen(in.name.data);
    in.jti.data = "sid-1";
    in.jti.len = 5;
    in.iat = NOW;
    in.has_iat = 1;
    in.exp = NOW + 3600;

    tok = nano_token_encrypt(ring, &in);
    assert_non_null(tok);

    /* the header names the signing key's kid */
    n = nano_jose_b64url_decode(tok, strchr(tok, '.') - tok,
                                (unsigned char *) hdr, sizeof(hdr) - 1);
    assert_true(n > 0);
    hdr[n] = '\0';
    assert_string_equal(hdr,
                        "{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"kid\":\"k1\"}");

    jwe = nano_jwe_ctx_new();
    assert_non_null(jwe);
    assert_int_equal(nano_token_open(ring, jwe, tok, strlen(tok), scratch,
                                     sizeof(scratch), &c, &f),
                     NANO_TOKEN_REASON_OK);
    assert_int_equal(f, NANO_TOKEN_JWE);
    assert_true(eq(&c.sub, "user \"1\""));
    assert_true(eq(&c.name, "Zo\xc3\xab"));
    assert_true(eq(&c.jti, "sid-1"));
    assert_int_equal(c.email.len, 0);
    assert_int_equal(c.exp, NOW + 3600);

    /* the context is reused: a second token opens with it too */
    assert_int_equal(nano_token_open(ring, jwe, tok, strlen(tok), scratch,
                                     sizeof(scratch), &c, &f),
                     NANO_TOKEN_REASON_OK);
    nano_jwe_ctx_free(jwe);
    free(tok);
}

static void
test_every_key_opens_a_token_without_kid(void **state)
{
    char           tok[TOKCAP], err[256];
    nano_claims_t  c;
    nano_keyring_t *kr;

    (void) state;
    mk_jwe(tok, HDR, CLAIMS, KEY2);
    assert_int_equal(open_tok(ring, tok, &c), NANO_TOKEN_REASON_OK);
    assert_true(eq(&c.sub, "u1"));
    assert_true(eq(&c.picture, "https://example.com/p.png"));

    /* a key without a kid in a format 2 file */
    kr = parse(NANO_KEYFILE_MAGIC "\nk1 " KEY1 "\n" KEY3 "\n", err);
    assert_non_null(kr);
    mk_jwe(tok, HDR, CLAIMS, KEY3);
    assert_int_equal(open_tok(kr, tok, &c), NANO_TOKEN_REASON_OK);
    nano_keyring_free(kr);
}


/* ---- refusals ------------------------------------------------------------ */

static void
test_refuse_tampering_in_each_part(void **state)
{
    char           good[TOKCAP], tok[TOKCAP];
    int            part;
    nano_claims_t  c;

    (void) state;
    mk_jwe(good, "{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"typ\":\"JWT\"}",
           CLAIMS, KEY1);
    assert_int_equal(open_tok(ring, good, &c), NANO_TOKEN_REASON_OK);

    /* 0 header (still JSON: the middle of "typ"'s value), 2 iv,
     * 3 ciphertext, 4 tag */
    for (part = 0; part <= 4; part++) {
        if (part == 1) {
            continue;
        }
        strcpy(tok, good);
        flip(tok, part);
        assert_int_not_equal(open_tok(ring, tok, &c), NANO_TOKEN_REASON_OK);
        assert_null(c.sub.data);
    }

    strcpy(tok, good);
    flip(tok, 3);
    assert_int_equal(open_tok(ring, tok, &c),
                     NANO_TOKEN_REASON_BAD_SIGNATURE);
    strcpy(tok, good);
    flip(tok, 4);
    assert_int_equal(open_tok(ring, tok, &c),
                     NANO_TOKEN_REASON_BAD_SIGNATURE);
    strcpy(tok, good);
    flip(tok, 2);
    assert_int_equal(open_tok(ring, tok, &c),
                     NANO_TOKEN_REASON_BAD_SIGNATURE);
}

static void
test_refuse_another_header_under_the_tag(void **state)
{
    char           good[TOKCAP], tok[TOKCAP], h[128];
    nano_claims_t  c;

    (void) state;
    mk_jwe(good, HDR, CLAIMS, KEY1);
    /* the same header with a typ: still dir + A256GCM, but not what
       was authenticated */
    test_b64url("{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"typ\":\"JWT\"}",
                41, h);
    snprintf(tok, sizeof(tok), "%s%s", h, strchr(good, '.'));
    assert_int_equal(open_tok(ring, tok, &c),
                     NANO_TOKEN_REASON_BAD_SIGNATURE);
}

static void
test_refuse_another_secret(void **state)
{
    (void) state;
    assert_int_equal(open_hdr(HDR, KEY3), NANO_TOKEN_REASON_BAD_SIGNATURE);
    assert_int_equal(open_hdr(HDR, NA_SECRET),
                     NANO_TOKEN_REASON_BAD_SIGNATURE);
}

static void
test_refuse_wrong_alg_enc_zip_crit(void **state)
{
    static const char  *bad[] = {
        "{\"alg\":\"dir\",\"enc\":\"A128GCM\"}",
        "{\"alg\":\"dir\",\"enc\":\"A256CBC-HS512\"}",
        "{\"alg\":\"dir\",\"enc\":\"a256gcm\"}",
        "{\"alg\":\"A256KW\",\"enc\":\"A256GCM\"}",
        "{\"alg\":\"HS256\",\"enc\":\"A256GCM\"}",
        "{\"alg\":\"none\",\"enc\":\"A256GCM\"}",
        "{\"enc\":\"A256GCM\"}",
        "{\"alg\":\"dir\"}",
        "{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"zip\":\"DEF\"}",
        "{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"crit\":[\"exp\"]}",
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(open_hdr(bad[i], KEY1),
                         NANO_TOKEN_REASON_UNSUPPORTED);
    }
    assert_int_equal(open_hdr("{\"alg\":\"dir\",\"enc\":\"A256GCM\","
                              "\"enc\":\"A128GCM\"}", KEY1),
                     NANO_TOKEN_REASON_MALFORMED);
    assert_int_equal(open_hdr("[\"dir\"]", KEY1),
                     NANO_TOKEN_REASON_MALFORMED);
}

static void
test_refuse_truncated_and_misshapen(void **state)
{
    char           good[TOKCAP], tok[TOKCAP];
    char          *p;
    size_t         len;
    nano_claims_t  c;

    (void) state;
    mk_jwe(good, HDR, CLAIMS, KEY1);
    len = strlen(good);

    /* every prefix is refused, never read past */
    for (p = good + len - 1; p > good; p--) {
        memcpy(tok, good, p - good);
        tok[p - good] = '\0';
        assert_int_not_equal(open_tok(ring, tok, &c), NANO_TOKEN_REASON_OK);
    }

    snprintf(tok, sizeof(tok), "%s.x", good);
    assert_int_equal(open_tok(ring, tok, &c), NANO_TOKEN_REASON_MALFORMED);

    /* an encrypted key with alg dir */
    p = strchr(good, '.');
    snprintf(tok, sizeof(tok), "%.*s.AAAA%s", (int) (p - good), good, p + 1);
    assert_int_equal(open_tok(ring, tok, &c), NANO_TOKEN_REASON_MALFORMED);

    /* an empty ciphertext */
    assert_int_equal(open_tok(ring, "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0"
                              "..AAAAAAAAAAAAAAAA..AAAAAAAAAAAAAAAAAAAAAA",
                              &c), NANO_TOKEN_REASON_MALFORMED);
}

static void
test_refuse_claims_that_are_no_session(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_jwe(tok, HDR, "{\"exp\":1700003600}", KEY1);
    assert_int_equal(open_tok(ring, tok, &c), NANO_TOKEN_REASON_BAD_CLAIMS);
    mk_jwe(tok, HDR, "not json", KEY1);
    assert_int_equal(open_tok(ring, tok, &c), NANO_TOKEN_REASON_BAD_CLAIMS);
    mk_jwe(tok, HDR, "{\"sub\":\"u\",\"exp\":1,\"sub\":\"v\"}", KEY1);
    assert_int_equal(open_tok(ring, tok, &c), NANO_TOKEN_REASON_BAD_CLAIMS);
}

static void
test_clock_tolerance_is_next_auths(void **state)
{
    nano_claims_t  c;

    (void) state;
    memset(&c, 0, sizeof(c));
    c.exp = NOW;
    c.iat = NOW + 15;
    c.has_iat = 1;
    assert_int_equal(nano_token_check_time(&c, NANO_TOKEN_JWE, NOW - 1, 60),
                     NANO_TOKEN_REASON_NOT_YET_VALID);
    assert_int_equal(nano_token_check_time(&c, NANO_TOKEN_JWE, NOW, 60),
                     NANO_TOKEN_REASON_OK);
    assert_int_equal(nano_token_check_time(&c, NANO_TOKEN_JWE, NOW + 14, 60),
                     NANO_TOKEN_REASON_OK);
    assert_int_equal(nano_token_check_time(&c, NANO_TOKEN_JWE, NOW + 15, 60),
                     NANO_TOKEN_REASON_EXPIRED);
    /* a JWS keeps the configured leeway; a smaller one applies to both */
    c.iat = NOW - 100;
    assert_int_equal(nano_token_check_time(&c, NANO_TOKEN_JWS, NOW + 59, 60),
                     NANO_TOKEN_REASON_OK);
    assert_int_equal(nano_token_check_time(&c, NANO_TOKEN_JWE, NOW + 5, 5),
                     NANO_TOKEN_REASON_EXPIRED);
}

/* nano_auth_max_age: iat + max_age ends a token before its exp, with the
 * same leeway (a JWE's at most next-auth's 15 s); 0 or no iat: exp alone;
 * the time checks still come first. */
static void
test_max_age_bounds_by_iat(void **state)
{
    static const struct {
        long long            iat, exp, at, max_age;
        int                  has_iat;
        nano_token_format_t  format;
        nano_token_reason_t  want;
    } rows[] = {
        { NOW, NOW + 2592000, NOW + 359, 300, 1, NANO_TOKEN_JWS,
          NANO_TOKEN_REASON_OK },
        { NOW, NOW + 2592000, NOW + 360, 300, 1, NANO_TOKEN_JWS,
          NANO_TOKEN_REASON_EXPIRED },
        { NOW, NOW + 2592000, NOW + 314, 300, 1, NANO_TOKEN_JWE,
          NANO_TOKEN_REASON_OK },
        { NOW, NOW + 2592000, NOW + 315, 300, 1, NANO_TOKEN_JWE,
          NANO_TOKEN_REASON_EXPIRED },
        /* none, or the 30 days: exp alone */
        { NOW, NOW + 2592000, NOW + 2505600, 0, 1, NANO_TOKEN_JWS,
          NANO_TOKEN_REASON_OK },
        { NOW, NOW + 2592000, NOW + 2505600, 2592000, 1, NANO_TOKEN_JWS,
          NANO_TOKEN_REASON_OK },
        /* exp still ends it first */
        { NOW, NOW + 100, NOW + 160, 300, 1, NANO_TOKEN_JWS,
          NANO_TOKEN_REASON_EXPIRED },
        /* an iat in the future is not yet valid, whatever the age */
        { NOW + 120, NOW + 86400, NOW, 300, 1, NANO_TOKEN_JWS,
          NANO_TOKEN_REASON_NOT_YET_VALID },
        /* without iat: exp alone */
        { 0, NOW + 86400, NOW + 86399, 300, 0, NANO_TOKEN_JWS,
          NANO_TOKEN_REASON_OK },
    };
    nano_claims_t  c;
    size_t         i;

    (void) state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        memset(&c, 0, sizeof(c));
        c.iat = rows[i].iat;
        c.has_iat = rows[i].has_iat;
        c.exp = rows[i].exp;
        assert_int_equal(nano_token_check_session(&c, rows[i].format,
                                                  rows[i].at, 60,
                                                  rows[i].max_age),
                         rows[i].want);
    }
}


/* ---- kids ---------------------------------------------------------------- */

static void
test_kid_picks_its_key_only(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_jwe(tok, "{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"kid\":\"k2\"}",
           CLAIMS, KEY2);
    assert_int_equal(open_tok(ring, tok, &c), NANO_TOKEN_REASON_OK);

    /* encrypted with key 2, but naming k1: key 2 is not tried */
    mk_jwe(tok, "{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"kid\":\"k1\"}",
           CLAIMS, KEY2);
    assert_int_equal(open_tok(ring, tok, &c),
                     NANO_TOKEN_REASON_BAD_SIGNATURE);

    assert_int_equal(open_hdr("{\"alg\":\"dir\",\"enc\":\"A256GCM\","
                              "\"kid\":\"k3\"}", KEY1),
                     NANO_TOKEN_REASON_UNKNOWN_KID);
    assert_int_equal(open_hdr("{\"alg\":\"dir\",\"enc\":\"A256GCM\","
                              "\"kid\":\"\"}", KEY1),
                     NANO_TOKEN_REASON_UNKNOWN_KID);
    assert_int_equal(open_hdr("{\"alg\":\"dir\",\"enc\":\"A256GCM\","
                              "\"kid\":7}", KEY1),
                     NANO_TOKEN_REASON_MALFORMED);
}

static void
test_kid_ignored_by_a_format_1_file(void **state)
{
    char             tok[TOKCAP], err[256];
    nano_claims_t    c;
    nano_keyring_t  *kr;

    (void) state;
    kr = parse(KEY1 "\n" KEY2 "\n", err);
    assert_non_null(kr);
    mk_jwe(tok, "{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"kid\":\"zz\"}",
           CLAIMS, KEY2);
    assert_int_equal(open_tok(kr, tok, &c), NANO_TOKEN_REASON_OK);
    nano_keyring_free(kr);
}

static void
test_keyfile_kids_parsed(void **state)
{
    char              err[256];
    size_t            len, first, last;
    const char       *kid;
    nano_str_t        want;
    nano_keyring_t   *kr;
    const unsigned char  *key;

    (void) state;
    kr = parse(NANO_KEYFILE_MAGIC "\r\n# comment\n\nk%201 " KEY1 "\r\n"
               "k%25 first-%00-key-with-%0a-and-%25-in-it-0123456789\n"
               KEY3 "\n", err);
    assert_non_null(kr);
    assert_int_equal(nano_keyring_count(kr), 3);

    kid = nano_keyring_kid(kr, 0, &len);
    assert_string_equal(kid, "k 1");
    assert_int_equal(len, 3);
    kid = nano_keyring_kid(kr, 1, &len);
    assert_string_equal(kid, "k%");
    assert_null(nano_keyring_kid(kr, 2, &len));
    assert_int_equal(len, 0);

    key = nano_keyring_signing_key(kr, &len);
    assert_int_equal(len, strlen(KEY1));
    assert_memory_equal(key, KEY1, len);

    want.data = "k%";
    want.len = 2;
    assert_int_equal(nano_keyring_candidates(kr, &want, &first, &last), 0);
    assert_int_equal(first, 1);
    assert_int_equal(last, 2);
    want.data = "k3";
    assert_int_equal(nano_keyring_candidates(kr, &want, &first, &last), -1);
    want.data = NULL;
    want.len = 0;
    assert_int_equal(nano_keyring_candidates(kr, &want, &first, &last), 0);
    assert_int_equal(first, 0);
    assert_int_equal(last, 3);
    nano_keyring_free(kr);

    /* a key of any bytes: NUL, LF, %, as %XX */
    kr = parse(NANO_KEYFILE_MAGIC "\nb %00%0a%25%20"
               "0123456789abcdef0123456789abcdef\n", err);
    assert_non_null(kr);
    key = nano_keyring_signing_key(kr, &len);
    assert_int_equal(len, 36);
    assert_memory_equal(key, "\0\n% 0123", 8);
    nano_keyring_free(kr);
}

static void
test_keyfile_format_2_refusals(void **state)
{
    static const struct {
        const char  *file;
        const char  *err;
    } bad[] = {
        { "k1 " KEY1 "\nk1 " KEY2 "\n", "kid \"k1\" is given twice" },
        { "k1 short\n", "shorter than 32 bytes" },
        { "k1  " KEY1 "\n", "not" },
        { " k1 " KEY1 "\n", "the kid is not" },
        { "k1 " KEY1 " x\n", "not" },
        { "k1 " KEY1 "%zz\n", "not" },
        { "k1 " KEY1 "%4\n", "not" },
        { "k%0a " KEY1 "\n", "printable ASCII" },
        { "k%7f " KEY1 "\n", "printable ASCII" },
        { "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk "
          KEY1 "\n", "the kid is not 1 to 64" },
        { "k\xc3\xa9 " KEY1 "\n", "not" },
        { "# nothing\n", "no keys" },
        { "\n", "no keys" },
    };
    char             buf[512], err[256];
    size_t           i;
    nano_keyring_t  *kr;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), NANO_KEYFILE_MAGIC "\n%s", bad[i].file);
        kr = parse(buf, err);
        if (kr != NULL) {
            fail_msg("accepted: %s", bad[i].file);
        }
        if (strstr(err, bad[i].err) == NULL) {
            fail_msg("%s: \"%s\" wants \"%s\"", bad[i].file, err, bad[i].err);
        }
    }

    /* the magic line exactly: anything else is a format 1 key line */
    kr = parse("nano-keys 2 \n" KEY1 "\n", err);
    assert_null(kr);
    assert_non_null(strstr(err, "shorter than 32 bytes"));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derive_key_matches_next_auth),
        cmocka_unit_test(test_open_next_auth_token),
        cmocka_unit_test(test_encrypt_round_trip_with_kid),
        cmocka_unit_test(test_every_key_opens_a_token_without_kid),
        cmocka_unit_test(test_refuse_tampering_in_each_part),
        cmocka_unit_test(test_refuse_another_header_under_the_tag),
        cmocka_unit_test(test_refuse_another_secret),
        cmocka_unit_test(test_refuse_wrong_alg_enc_zip_crit),
        cmocka_unit_test(test_refuse_truncated_and_misshapen),
        cmocka_unit_test(test_refuse_claims_that_are_no_session),
        cmocka_unit_test(test_clock_tolerance_is_next_auths),
        cmocka_unit_test(test_max_age_bounds_by_iat),
        cmocka_unit_test(test_kid_picks_its_key_only),
        cmocka_unit_test(test_kid_ignored_by_a_format_1_file),
        cmocka_unit_test(test_keyfile_kids_parsed),
        cmocka_unit_test(test_keyfile_format_2_refusals),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
