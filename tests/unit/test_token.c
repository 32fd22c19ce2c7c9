/*
 * Unit tests for the session token code: key files, HS256 signing with
 * libjwt, verification and every refusal the gateway relies on.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "nano_token.h"
#include "../tools/test_b64url.h"

#define NOW      1700000000LL
#define LEEWAY   60LL
#define TOKCAP   (4 * NANO_TOKEN_MAX_LEN)

/* 32 bytes exactly, and a longer second key for rotation */
#define KEY1     "0123456789abcdef0123456789abcdef"
#define KEY2     "second-key-for-rotation-0123456789-xyz"
#define KEY3     "a-key-that-is-not-in-the-ring-0123456789"

#define HDR      "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define PAYLOAD  "{\"sub\":\"u1\",\"exp\":1700003600}"

static nano_keyring_t  *ring;          /* KEY1, KEY2 */
static char             scratch[NANO_TOKEN_MAX_LEN + 1];


/* ---- helpers ---------------------------------------------------------- */

/* Appends "." and the base64url MAC of the text already in out. */
static void
sign_text(char *out, const EVP_MD *md, const char *key)
{
    unsigned char  mac[EVP_MAX_MD_SIZE];
    unsigned int   maclen;
    size_t         n;

    n = strlen(out);
    assert_non_null(HMAC(md, key, (int) strlen(key),
                         (const unsigned char *) out, n, mac, &maclen));
    out[n++] = '.';
    test_b64url(mac, maclen, out + n);
}

/* A token made by hand: base64url(header).base64url(payload).MAC */
static void
mk_full(char *out, const EVP_MD *md, const char *key, const char *hdr,
    const char *payload)
{
    size_t  n;

    n = test_b64url(hdr, strlen(hdr), out);
    out[n++] = '.';
    test_b64url(payload, strlen(payload), out + n);
    sign_text(out, md, key);
}

static void
mk(char *out, const char *hdr, const char *payload)
{
    mk_full(out, EVP_sha256(), KEY1, hdr, payload);
}

static void
mk_payload(char *out, const char *payload)
{
    mk(out, HDR, payload);
}

static nano_token_status_t
verify_at(const char *token, long long now, nano_claims_t *c)
{
    return nano_token_verify(ring, token, strlen(token), now, LEEWAY,
                             scratch, sizeof(scratch), c);
}

static nano_token_status_t
verify(const char *token, nano_claims_t *c)
{
    return verify_at(token, NOW, c);
}

/* The status of a hand-made HS256 token with this payload. */
static nano_token_status_t
verify_payload(const char *payload)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    mk_payload(tok, payload);
    return verify(tok, &c);
}

static nano_token_status_t
verify_header(const char *hdr)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    mk(tok, hdr, PAYLOAD);
    return verify(tok, &c);
}

static nano_keyring_t *
parse(const char *buf, char *err)
{
    err[0] = '\0';
    return nano_keyring_parse(buf, strlen(buf), err, 256);
}

static void
set_str(nano_str_t *s, const char *v)
{
    s->data = v;
    s->len = strlen(v);
}

static void
assert_str(const nano_str_t *s, const char *expect)
{
    assert_non_null(s->data);
    assert_int_equal(s->len, strlen(expect));
    assert_memory_equal(s->data, expect, s->len);
    assert_int_equal(s->data[s->len], '\0');
}

static int
group_setup(void **state)
{
    char  err[256];

    (void) state;
    ring = parse(KEY1 "\n" KEY2 "\n", err);
    return ring == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
    (void) state;
    nano_keyring_free(ring);
    ring = NULL;
    return 0;
}


/* ---- keyring ---------------------------------------------------------- */

static void
test_keyring_one_key(void **state)
{
    char                  err[256];
    size_t                len;
    const unsigned char  *key;
    nano_keyring_t       *kr;

    (void) state;
    kr = parse(KEY1, err);
    assert_non_null(kr);
    assert_int_equal(nano_keyring_count(kr), 1);
    key = nano_keyring_signing_key(kr, &len);
    assert_int_equal(len, 32);
    assert_memory_equal(key, KEY1, 32);
    nano_keyring_free(kr);
}

static void
test_keyring_blank_lines_and_crlf(void **state)
{
    char                  err[256];
    size_t                len;
    const unsigned char  *key;
    nano_keyring_t       *kr;

    (void) state;
    kr = parse("\r\n\n" KEY1 "\r\n\r\n\n" KEY2 "\r\n\n" KEY3, err);
    assert_non_null(kr);
    assert_int_equal(nano_keyring_count(kr), 3);
    key = nano_keyring_signing_key(kr, &len);
    assert_int_equal(len, strlen(KEY1));          /* no '\r' kept */
    assert_memory_equal(key, KEY1, len);
    nano_keyring_free(kr);
}

static void
test_keyring_whitespace_only_lines_ignored(void **state)
{
    char             err[256];
    nano_keyring_t  *kr;

    (void) state;
    kr = parse("   \n\t\t\r\n" KEY1 "\n \t \r\n" KEY2 "\n\t", err);
    assert_non_null(kr);
    assert_string_equal(err, "");
    assert_int_equal(nano_keyring_count(kr), 2);
    nano_keyring_free(kr);
}

/* The buffer is not NUL-terminated: a blank last line must not be read
 * past its end (valgrind and ASan watch this one). */
static void
test_keyring_blank_last_line_unterminated(void **state)
{
    static const char  text[] = KEY1 "\n   ";
    char               err[256];
    char              *buf;
    nano_keyring_t    *kr;

    (void) state;
    buf = malloc(sizeof(text) - 1);
    assert_non_null(buf);
    memcpy(buf, text, sizeof(text) - 1);
    kr = nano_keyring_parse(buf, sizeof(text) - 1, err, sizeof(err));
    assert_non_null(kr);
    assert_int_equal(nano_keyring_count(kr), 1);
    nano_keyring_free(kr);
    free(buf);
}

static void
test_keyring_short_key_refused(void **state)
{
    char  err[256];

    (void) state;
    /* 31 bytes on line 3 */
    assert_null(parse(KEY1 "\n\n0123456789abcdef0123456789abcde\n", err));
    assert_string_equal(err, "key on line 3 is shorter than 32 bytes");

    assert_null(parse("0123456789abcdef0123456789abcde", err));
    assert_string_equal(err, "key on line 1 is shorter than 32 bytes");

    /* the CR of a CRLF line does not count towards the length */
    assert_null(parse("0123456789abcdef0123456789abcde\r\n", err));
    assert_string_equal(err, "key on line 1 is shorter than 32 bytes");
}

static void
test_keyring_empty_file_no_keys(void **state)
{
    char  err[256];

    (void) state;
    assert_null(parse("", err));
    assert_string_equal(err, "no keys");
    assert_null(parse("\n\r\n  \n\t\n", err));
    assert_string_equal(err, "no keys");
}

static void
test_keyring_eight_keys_accepted(void **state)
{
    char             buf[1024], err[256];
    int              i;
    size_t           n;
    nano_keyring_t  *kr;

    (void) state;
    n = 0;
    for (i = 0; i < NANO_KEYS_MAX; i++) {
        n += snprintf(buf + n, sizeof(buf) - n, "%d" KEY1 "\n", i);
    }
    kr = parse(buf, err);
    assert_non_null(kr);
    assert_int_equal(nano_keyring_count(kr), 8);
    nano_keyring_free(kr);
}

static void
test_keyring_more_than_eight_keys_refused(void **state)
{
    char    buf[1024], err[256];
    int     i;
    size_t  n;

    (void) state;
    n = 0;
    for (i = 0; i < NANO_KEYS_MAX + 1; i++) {
        n += snprintf(buf + n, sizeof(buf) - n, "%d" KEY1 "\n", i);
    }
    assert_null(parse(buf, err));
    assert_string_equal(err, "more than 8 keys");
}

static void
test_keyring_key_over_max_len_refused(void **state)
{
    char  buf[NANO_KEY_MAX_LEN + 2], err[256];

    (void) state;
    memset(buf, 'k', NANO_KEY_MAX_LEN + 1);
    buf[NANO_KEY_MAX_LEN + 1] = '\0';
    assert_null(parse(buf, err));
    assert_string_equal(err, "key on line 1 is longer than 1024 bytes");
}

/* HMAC hashes a key longer than the 64-byte block first (RFC 2104). */
static void
test_keyring_long_key_verifies_libjwt_token(void **state)
{
    char                  key[101], err[256];
    char                 *tok;
    jwt_t                *jwt;
    nano_claims_t         c;
    nano_keyring_t       *kr;
    nano_token_status_t   st;

    (void) state;
    memset(key, 'L', 100);
    memcpy(key, "long-key-", 9);
    key[100] = '\0';
    kr = parse(key, err);
    assert_non_null(kr);

    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS256,
                                 (const unsigned char *) key, 100), 0);
    assert_int_equal(jwt_add_grant(jwt, "sub", "long-user"), 0);
    assert_int_equal(jwt_add_grant_int(jwt, "exp", NOW + 3600), 0);
    tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(tok);

    st = nano_token_verify(kr, tok, strlen(tok), NOW, LEEWAY, scratch,
                           sizeof(scratch), &c);
    assert_int_equal(st, NANO_TOKEN_OK);
    assert_str(&c.sub, "long-user");
    assert_int_equal(c.exp, NOW + 3600);

    free(tok);
    nano_keyring_free(kr);
}

static void
test_keyring_load_missing_file(void **state)
{
    char  err[512], expect[512];

    (void) state;
    assert_null(nano_keyring_load("/nonexistent/nano/keys", err,
                                  sizeof(err)));
    snprintf(expect, sizeof(expect), "cannot open key file \"%s\": %s",
             "/nonexistent/nano/keys", strerror(ENOENT));
    assert_string_equal(err, expect);
}

static void
test_keyring_load_file(void **state)
{
    char                  path[] = "/tmp/nano-test-keys-XXXXXX";
    char                  err[512];
    int                   fd;
    size_t                len;
    const unsigned char  *key;
    nano_keyring_t       *kr;
    static const char     text[] = KEY2 "\n\n" KEY1 "\n";

    (void) state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), sizeof(text) - 1);
    close(fd);

    kr = nano_keyring_load(path, err, sizeof(err));
    unlink(path);
    assert_non_null(kr);
    assert_int_equal(nano_keyring_count(kr), 2);
    key = nano_keyring_signing_key(kr, &len);
    assert_int_equal(len, strlen(KEY2));
    assert_memory_equal(key, KEY2, len);
    nano_keyring_free(kr);
}

static void
test_keyring_load_bad_key_names_file(void **state)
{
    char               path[] = "/tmp/nano-test-keys-XXXXXX";
    char               err[512], expect[512];
    int                fd;
    static const char  text[] = "short\n";

    (void) state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), sizeof(text) - 1);
    close(fd);

    assert_null(nano_keyring_load(path, err, sizeof(err)));
    unlink(path);
    snprintf(expect, sizeof(expect),
             "key file \"%s\": key on line 1 is shorter than 32 bytes", path);
    assert_string_equal(err, expect);
}

static void
test_keyring_load_no_path(void **state)
{
    char  err[256];

    (void) state;
    assert_null(nano_keyring_load("", err, sizeof(err)));
    assert_string_equal(err, "no key file given");
    assert_null(nano_keyring_load(NULL, err, sizeof(err)));
    assert_string_equal(err, "no key file given");
}

static void
test_keyring_signing_key_is_first(void **state)
{
    char             err[256];
    char            *tok;
    nano_claims_t    c;
    nano_keyring_t  *only1, *only2;

    (void) state;
    memset(&c, 0, sizeof(c));
    set_str(&c.sub, "u1");
    c.exp = 1700003600;
    tok = nano_token_sign(ring, &c);          /* ring is KEY1, KEY2 */
    assert_non_null(tok);

    only1 = parse(KEY1, err);
    only2 = parse(KEY2, err);
    assert_non_null(only1);
    assert_non_null(only2);
    assert_int_equal(nano_token_verify(only1, tok, strlen(tok), NOW, LEEWAY,
                                       scratch, sizeof(scratch), &c),
                     NANO_TOKEN_OK);
    assert_int_equal(nano_token_verify(only2, tok, strlen(tok), NOW, LEEWAY,
                                       scratch, sizeof(scratch), &c),
                     NANO_TOKEN_INVALID);
    nano_keyring_free(only1);
    nano_keyring_free(only2);
    free(tok);
}

static void
test_keyring_null_safe(void **state)
{
    size_t  len;

    (void) state;
    nano_keyring_free(NULL);
    assert_int_equal(nano_keyring_count(NULL), 0);
    len = 7;
    assert_null(nano_keyring_signing_key(NULL, &len));
    assert_int_equal(len, 0);
}


/* ---- signing and round trips ------------------------------------------ */

static void
test_sign_verify_round_trip(void **state)
{
    char                 *tok;
    nano_claims_t         in, out;
    nano_token_status_t   st;

    (void) state;
    memset(&in, 0, sizeof(in));
    set_str(&in.sub, "clx0user0001");
    set_str(&in.email, "ada@example.com");
    set_str(&in.name, "Ada Lovelace");
    set_str(&in.picture, "https://example.com/a.png");
    set_str(&in.jti, "session-42");
    in.iat = NOW;
    in.has_iat = 1;
    in.exp = NOW + NANO_TOKEN_MAX_AGE;

    tok = nano_token_sign(ring, &in);
    assert_non_null(tok);
    assert_null(strchr(tok, '='));

    st = verify(tok, &out);
    assert_int_equal(st, NANO_TOKEN_OK);
    assert_str(&out.sub, "clx0user0001");
    assert_str(&out.email, "ada@example.com");
    assert_str(&out.name, "Ada Lovelace");
    assert_str(&out.picture, "https://example.com/a.png");
    assert_str(&out.jti, "session-42");
    assert_int_equal(out.iat, NOW);
    assert_int_equal(out.has_iat, 1);
    assert_int_equal(out.exp, NOW + 30 * 24 * 3600);
    assert_int_equal(out.has_nbf, 0);
    free(tok);
}

static void
test_sign_omits_absent_claims(void **state)
{
    char           *tok;
    nano_claims_t   in, out;

    (void) state;
    memset(&in, 0, sizeof(in));
    set_str(&in.sub, "u1");
    set_str(&in.email, "");
    in.exp = NOW + 10;
    in.nbf = NOW - 5;
    in.has_nbf = 1;

    tok = nano_token_sign(ring, &in);
    assert_non_null(tok);
    assert_int_equal(verify(tok, &out), NANO_TOKEN_OK);
    assert_str(&out.sub, "u1");
    assert_null(out.email.data);
    assert_null(out.name.data);
    assert_null(out.picture.data);
    assert_null(out.jti.data);
    assert_int_equal(out.has_iat, 0);
    assert_int_equal(out.has_nbf, 1);
    assert_int_equal(out.nbf, NOW - 5);
    free(tok);
}

static void
test_sign_escaped_and_unicode_name(void **state)
{
    char           *tok;
    nano_claims_t   in, out;
    static const char name[] =
        "He said \"hi\" \\ back/slash caf\xC3\xA9 \xF0\x9F\x98\x80";

    (void) state;
    memset(&in, 0, sizeof(in));
    set_str(&in.sub, "u\"1\\");
    set_str(&in.name, name);
    in.exp = NOW + 3600;

    tok = nano_token_sign(ring, &in);
    assert_non_null(tok);
    assert_int_equal(verify(tok, &out), NANO_TOKEN_OK);
    assert_str(&out.sub, "u\"1\\");
    assert_str(&out.name, name);
    free(tok);

    /* libjwt escapes a tab and a newline; the verifier still refuses them */
    set_str(&in.name, "tab\tnl\n");
    tok = nano_token_sign(ring, &in);
    assert_non_null(tok);
    assert_int_equal(verify(tok, &out), NANO_TOKEN_INVALID);
    free(tok);
}

static void
test_sign_refuses_without_sub_or_exp(void **state)
{
    nano_claims_t  in;

    (void) state;
    memset(&in, 0, sizeof(in));
    in.exp = NOW + 3600;
    assert_null(nano_token_sign(ring, &in));

    set_str(&in.sub, "u1");
    in.exp = 0;
    assert_null(nano_token_sign(ring, &in));

    in.exp = NOW + 3600;
    assert_null(nano_token_sign(NULL, &in));
}

static void
test_verify_json_escapes_decoded(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, "{\"sub\":\"u1\",\"exp\":1700003600,\"name\":"
               "\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/"
               " \\u20AC\\u0041\\u00a0\"}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
    assert_str(&c.name, "caf\xC3\xA9 \xF0\x9F\x98\x80 \"q\" \\ /"
               " \xE2\x82\xAC" "A\xC2\xA0");

    /* control escapes are decoded too; in a claim we do not read they
     * do not matter */
    mk_payload(tok, "{\"sub\":\"u1\",\"exp\":1700003600,\"x\":"
               "\"\\b\\f\\n\\r\\t\\u007f\\u0085\"}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
}

static void
test_verify_whitespace_in_json(void **state)
{
    nano_claims_t  c;
    char           tok[TOKCAP];

    (void) state;
    mk(tok, " {\n \"alg\" : \"HS256\" ,\t\"typ\":\"JWT\" }\r\n",
       "\t{ \"sub\" : \"u1\" ,\n\"exp\" : 1700003600 , \"email\" : null } ");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
    assert_str(&c.sub, "u1");
    assert_null(c.email.data);
}

static void
test_verify_header_kid_and_typ(void **state)
{
    (void) state;
    assert_int_equal(
        verify_header("{\"typ\":\"JWT\",\"kid\":\"k1\",\"alg\":\"HS256\"}"),
        NANO_TOKEN_OK);
    assert_int_equal(verify_header("{\"alg\":\"HS256\"}"), NANO_TOKEN_OK);
}


/* ---- interoperability and rotation ------------------------------------ */

static void
test_interop_openssl_hmac_token(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, "{\"sub\":\"interop\",\"email\":\"i@example.com\","
               "\"iat\":1699999000,\"exp\":1700003600,\"jti\":\"j-1\"}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
    assert_str(&c.sub, "interop");
    assert_str(&c.email, "i@example.com");
    assert_str(&c.jti, "j-1");
    assert_int_equal(c.iat, 1699999000);
    assert_int_equal(c.exp, 1700003600);
}

static void
test_rotation_second_key_verifies(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_full(tok, EVP_sha256(), KEY2, HDR, PAYLOAD);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
    assert_str(&c.sub, "u1");
}

static void
test_refuse_wrong_key(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_full(tok, EVP_sha256(), KEY3, HDR, PAYLOAD);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
    assert_null(c.sub.data);
}

static void
test_refuse_null_keyring(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, PAYLOAD);
    assert_int_equal(nano_token_verify(NULL, tok, strlen(tok), NOW, LEEWAY,
                                       scratch, sizeof(scratch), &c),
                     NANO_TOKEN_INVALID);
}


/* ---- header refusals -------------------------------------------------- */

static void
test_refuse_alg_none_empty_signature(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;
    size_t         n;

    (void) state;
    n = test_b64url("{\"alg\":\"none\"}", 14, tok);
    tok[n++] = '.';
    n += test_b64url(PAYLOAD, strlen(PAYLOAD), tok + n);
    strcpy(tok + n, ".");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
}

static void
test_refuse_alg_none_with_signature(void **state)
{
    (void) state;
    assert_int_equal(verify_header("{\"alg\":\"none\",\"typ\":\"JWT\"}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_hs384(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    /* a real HS384 token made with one of our keys */
    mk_full(tok, EVP_sha384(), KEY1, "{\"alg\":\"HS384\",\"typ\":\"JWT\"}",
            PAYLOAD);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
    /* and the header alone, under a valid SHA-256 MAC */
    assert_int_equal(verify_header("{\"alg\":\"HS384\",\"typ\":\"JWT\"}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_hs512(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_full(tok, EVP_sha512(), KEY1, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
            PAYLOAD);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"alg\":\"HS512\",\"typ\":\"JWT\"}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_rs256(void **state)
{
    (void) state;
    assert_int_equal(verify_header("{\"alg\":\"RS256\",\"typ\":\"JWT\"}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_alg_lowercase(void **state)
{
    (void) state;
    assert_int_equal(verify_header("{\"alg\":\"hs256\"}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"alg\":\"HS256 \"}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"alg\":\"HS25\"}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_alg_missing(void **state)
{
    (void) state;
    assert_int_equal(verify_header("{\"typ\":\"JWT\"}"), NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{}"), NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"ALG\":\"HS256\"}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_alg_not_string(void **state)
{
    (void) state;
    assert_int_equal(verify_header("{\"alg\":256}"), NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"alg\":null}"), NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"alg\":[\"HS256\"]}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"alg\":{\"v\":\"HS256\"}}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_alg_duplicate(void **state)
{
    (void) state;
    assert_int_equal(verify_header("{\"alg\":\"HS256\",\"alg\":\"HS256\"}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"alg\":\"HS256\",\"alg\":\"none\"}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_crit_header(void **state)
{
    (void) state;
    assert_int_equal(
        verify_header("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}"),
        NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"crit\":[],\"alg\":\"HS256\"}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_header_not_object(void **state)
{
    (void) state;
    assert_int_equal(verify_header("[\"HS256\"]"), NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("\"HS256\""), NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"alg\":\"HS256\"} x"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"alg\":\"HS256\""), NANO_TOKEN_INVALID);
    assert_int_equal(verify_header("{\"alg\" \"HS256\"}"),
                     NANO_TOKEN_INVALID);
}


/* ---- tampering and encoding ------------------------------------------- */

static void
test_refuse_tampered_payload(void **state)
{
    char           tok[TOKCAP], other[TOKCAP];
    char          *dot1, *dot2;
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, PAYLOAD);
    /* swap in another payload, keep header and signature */
    mk_payload(other, "{\"sub\":\"admin\",\"exp\":1700003600}");
    dot1 = strchr(other, '.');
    dot2 = strchr(dot1 + 1, '.');
    strcpy(dot2 + 1, strrchr(tok, '.') + 1);
    assert_int_equal(verify(other, &c), NANO_TOKEN_INVALID);

    /* one character changed */
    dot1 = strchr(tok, '.');
    dot1[3] = (dot1[3] == 'A') ? 'B' : 'A';
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
}

static void
test_refuse_tampered_header(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, PAYLOAD);
    tok[2] = (tok[2] == 'A') ? 'B' : 'A';
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
}

static void
test_refuse_signature_wrong_length(void **state)
{
    char           tok[TOKCAP];
    size_t         len;
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, PAYLOAD);
    len = strlen(tok);

    /* 42 characters */
    assert_int_equal(nano_token_verify(ring, tok, len - 1, NOW, LEEWAY,
                                       scratch, sizeof(scratch), &c),
                     NANO_TOKEN_INVALID);
    /* 44 characters */
    strcpy(tok + len, "A");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
    /* 64 bytes (an SHA-512 sized MAC) */
    strcpy(tok + len, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
}

/* The last character of a 43-character signature carries 2 unused bits:
 * setting them keeps the same MAC bytes but is not canonical. */
static void
test_refuse_signature_trailing_bits(void **state)
{
    static const char  abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char               tok[TOKCAP];
    char              *last;
    nano_claims_t      c;

    (void) state;
    mk_payload(tok, PAYLOAD);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
    last = tok + strlen(tok) - 1;
    *last = abc[(strchr(abc, *last) - abc) | 1];
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
}

static void
test_refuse_payload_trailing_bits(void **state)
{
    static const char  abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char               tok[TOKCAP];
    size_t             n;
    nano_claims_t      c;

    (void) state;
    /* 29 bytes encode to 39 characters, the last with 2 spare bits */
    assert_int_equal(strlen(PAYLOAD), 29);
    n = test_b64url(HDR, strlen(HDR), tok);
    tok[n++] = '.';
    n += test_b64url(PAYLOAD, strlen(PAYLOAD), tok + n);
    tok[n - 1] = abc[(strchr(abc, tok[n - 1]) - abc) | 1];
    sign_text(tok, EVP_sha256(), KEY1);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
}

/* 4n + 1 characters cannot be base64url, even when the extra one
 * carries only zero bits. */
static void
test_refuse_base64_length_one_mod_four(void **state)
{
    static const char  payload[] = "{\"sub\":\"u1\",\"exp\":1700003600 }";
    char               tok[TOKCAP];
    size_t             n;
    nano_claims_t      c;

    (void) state;
    assert_int_equal(strlen(payload), 30);
    mk_payload(tok, payload);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);

    n = test_b64url(HDR, strlen(HDR), tok);
    tok[n++] = '.';
    n += test_b64url(payload, strlen(payload), tok + n);
    strcpy(tok + n, "A");
    sign_text(tok, EVP_sha256(), KEY1);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
}

static void
test_refuse_base64_padding(void **state)
{
    char           tok[TOKCAP];
    size_t         n;
    nano_claims_t  c;

    (void) state;
    n = test_b64url(HDR, strlen(HDR), tok);
    tok[n++] = '.';
    n += test_b64url(PAYLOAD, strlen(PAYLOAD), tok + n);
    strcpy(tok + n, "=");
    sign_text(tok, EVP_sha256(), KEY1);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
}

/* Standard base64's '+' and '/' are not base64url. */
static void
test_refuse_plus_and_slash(void **state)
{
    char           tok[TOKCAP], hdr[64];
    size_t         n;
    nano_claims_t  c;

    (void) state;
    /* "e30" is "{}"; a fourth character from the standard alphabet */
    n = test_b64url(HDR, strlen(HDR), tok);
    tok[n++] = '.';
    strcpy(tok + n, "e30+");
    sign_text(tok, EVP_sha256(), KEY1);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);

    n = test_b64url(HDR, strlen(HDR), tok);
    tok[n++] = '.';
    strcpy(tok + n, "e30/");
    sign_text(tok, EVP_sha256(), KEY1);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);

    /* the same in the header, whose bytes 0xfb 0xff encode with '-'
       and '_' in base64url; converted to '+' and '/' */
    memcpy(hdr, "{\"alg\":\"HS256\",\"x\":\"\xfb\xff\"}", 24);
    hdr[24] = '\0';
    n = test_b64url(hdr, 24, tok);
    assert_non_null(strpbrk(tok, "-_"));
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == '-') {
            tok[i] = '+';
        } else if (tok[i] == '_') {
            tok[i] = '/';
        }
    }
    tok[n++] = '.';
    test_b64url(PAYLOAD, strlen(PAYLOAD), tok + n);
    sign_text(tok, EVP_sha256(), KEY1);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
}

/* A MAC whose standard base64 has '+' or '/' in it, sent unconverted. */
static void
test_refuse_signature_standard_alphabet(void **state)
{
    char           tok[TOKCAP], payload[128];
    char          *sig, *p;
    int            i;
    nano_claims_t  c;

    (void) state;
    for (i = 0; ; i++) {
        assert_true(i < 1000);
        snprintf(payload, sizeof(payload),
                 "{\"sub\":\"u1\",\"exp\":1700003600,\"jti\":\"%d\"}", i);
        mk_payload(tok, payload);
        sig = strrchr(tok, '.') + 1;
        if (strpbrk(sig, "-_") != NULL) {
            break;
        }
    }
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
    for (p = sig; *p; p++) {
        if (*p == '-') {
            *p = '+';
        } else if (*p == '_') {
            *p = '/';
        }
    }
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
}

static void
test_refuse_segment_count(void **state)
{
    char           tok[TOKCAP], two[TOKCAP];
    size_t         n;
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, PAYLOAD);

    /* two segments: header.payload */
    strcpy(two, tok);
    *strrchr(two, '.') = '\0';
    assert_int_equal(verify(two, &c), NANO_TOKEN_INVALID);

    /* one segment */
    *strchr(two, '.') = '\0';
    assert_int_equal(verify(two, &c), NANO_TOKEN_INVALID);

    /* four segments: a valid token with one more */
    n = strlen(tok);
    strcpy(tok + n, ".e30");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
    tok[n + 1] = '\0';
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);

    /* four segments signed as such: the MAC covers "h.p.x" */
    n = test_b64url(HDR, strlen(HDR), tok);
    tok[n++] = '.';
    n += test_b64url(PAYLOAD, strlen(PAYLOAD), tok + n);
    strcpy(tok + n, ".e30");
    sign_text(tok, EVP_sha256(), KEY1);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
}

static void
test_refuse_empty_segments(void **state)
{
    char           tok[TOKCAP], h[128], p[128], s[128];
    char           t[3 * 128 + 4];
    char          *dot1, *dot2;
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, PAYLOAD);
    dot1 = strchr(tok, '.');
    dot2 = strchr(dot1 + 1, '.');
    *dot1 = *dot2 = '\0';
    strcpy(h, tok);
    strcpy(p, dot1 + 1);
    strcpy(s, dot2 + 1);

    snprintf(t, sizeof(t), ".%s.%s", p, s);
    assert_int_equal(verify(t, &c), NANO_TOKEN_INVALID);
    snprintf(t, sizeof(t), "%s..%s", h, s);
    assert_int_equal(verify(t, &c), NANO_TOKEN_INVALID);
    snprintf(t, sizeof(t), "%s.%s.", h, p);
    assert_int_equal(verify(t, &c), NANO_TOKEN_INVALID);
    assert_int_equal(verify("..", &c), NANO_TOKEN_INVALID);
    assert_int_equal(verify(".", &c), NANO_TOKEN_INVALID);

    /* an empty payload signed properly */
    snprintf(t, sizeof(t), "%s.", h);
    sign_text(t, EVP_sha256(), KEY1);
    assert_int_equal(verify(t, &c), NANO_TOKEN_INVALID);
}

static void
test_refuse_token_too_long(void **state)
{
#define PREFIX  "{\"sub\":\"u1\",\"exp\":1700003600,\"pad\":\""
    char           *tok, *payload, *big;
    size_t          plen;
    nano_claims_t   c;

    (void) state;
    tok = malloc(TOKCAP);
    payload = malloc(NANO_TOKEN_MAX_LEN);
    assert_non_null(tok);
    assert_non_null(payload);

    /* a properly signed token of exactly NANO_TOKEN_MAX_LEN bytes: the
       header (36 characters) '.' payload '.' signature (43); 6083 bytes
       of payload encode to 8111 characters */
    plen = 6083;
    snprintf(payload, NANO_TOKEN_MAX_LEN, "%s%0*d\"}", PREFIX,
             (int) (plen - strlen(PREFIX) - 2), 0);
    assert_int_equal(strlen(payload), plen);
    mk_payload(tok, payload);
    assert_int_equal(strlen(tok), NANO_TOKEN_MAX_LEN);
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);

    /* three bytes more, refused even with scratch to spare */
    snprintf(payload, NANO_TOKEN_MAX_LEN, "%s%0*d\"}", PREFIX,
             (int) (plen + 3 - strlen(PREFIX) - 2), 0);
    mk_payload(tok, payload);
    assert_int_equal(strlen(tok), NANO_TOKEN_MAX_LEN + 4);
    big = malloc(TOKCAP);
    assert_non_null(big);
    assert_int_equal(nano_token_verify(ring, tok, strlen(tok), NOW, LEEWAY,
                                       big, TOKCAP, &c),
                     NANO_TOKEN_INVALID);
    free(big);

    free(payload);
    free(tok);
#undef PREFIX
}

static void
test_refuse_scratch_too_small(void **state)
{
    char           tok[TOKCAP];
    char          *buf;
    size_t         len;
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, PAYLOAD);
    len = strlen(tok);
    buf = malloc(len + 1);
    assert_non_null(buf);

    assert_int_equal(nano_token_verify(ring, tok, len, NOW, LEEWAY, buf, len,
                                       &c),
                     NANO_TOKEN_INVALID);
    assert_int_equal(nano_token_verify(ring, tok, len, NOW, LEEWAY, buf,
                                       len + 1, &c),
                     NANO_TOKEN_OK);
    assert_str(&c.sub, "u1");
    free(buf);
}

static void
test_empty_token_is_missing(void **state)
{
    nano_claims_t  c;

    (void) state;
    c.exp = 5;
    assert_int_equal(nano_token_verify(ring, "", 0, NOW, LEEWAY, scratch,
                                       sizeof(scratch), &c),
                     NANO_TOKEN_MISSING);
    assert_int_equal(c.exp, 0);
    assert_null(c.sub.data);
}


/* ---- claims ----------------------------------------------------------- */

static void
test_refuse_exp_missing(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"u1\"}"), NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"iat\":1700000000}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_exp_not_number(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":\"1700003600\"}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":null}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":true}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":-}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600.}"),
                     NANO_TOKEN_INVALID);
    /* too large to be a date */
    assert_int_equal(
        verify_payload("{\"sub\":\"u1\",\"exp\":99999999999999999999999}"),
        NANO_TOKEN_INVALID);
}

static void
test_refuse_sub_missing(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{}"), NANO_TOKEN_INVALID);
}

static void
test_refuse_sub_empty(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"\",\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_sub_null(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":null,\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_sub_number(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":42,\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":[\"u1\"],\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_optional_claim_not_string(void **state)
{
    (void) state;
    assert_int_equal(
        verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,\"email\":1}"),
        NANO_TOKEN_INVALID);
    assert_int_equal(
        verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,\"name\":{}}"),
        NANO_TOKEN_INVALID);
}

static void
test_expired_beyond_leeway(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, "{\"sub\":\"u1\",\"exp\":1699990000}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_EXPIRED);
    assert_null(c.sub.data);
    assert_int_equal(c.exp, 0);

    /* exactly at now - leeway counts as expired */
    mk_payload(tok, "{\"sub\":\"u1\",\"exp\":1699999940}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_EXPIRED);

    /* negative exp */
    mk_payload(tok, "{\"sub\":\"u1\",\"exp\":-5}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_EXPIRED);
}

static void
test_expired_within_leeway_ok(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, "{\"sub\":\"u1\",\"exp\":1699999941}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
    assert_int_equal(c.exp, 1699999941);
    mk_payload(tok, "{\"sub\":\"u1\",\"exp\":1700000000}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
}

static void
test_nbf_future_beyond_leeway_invalid(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"nbf\":1700000061}"),
                     NANO_TOKEN_INVALID);
}

static void
test_nbf_future_within_leeway_ok(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, "{\"sub\":\"u1\",\"exp\":1700003600,\"nbf\":1700000060}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
    assert_int_equal(c.has_nbf, 1);
    assert_int_equal(c.nbf, 1700000060);
}

static void
test_iat_future_beyond_leeway_invalid(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"iat\":1700000061}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"iat\":1700000060}"),
                     NANO_TOKEN_OK);
}

static void
test_exp_float_truncated(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, "{\"sub\":\"u1\",\"exp\":1700003600.999,"
               "\"iat\":1699999999.5}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
    assert_int_equal(c.exp, 1700003600);
    assert_int_equal(c.iat, 1699999999);
}

static void
test_refuse_exp_exponent(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1.7000036e9}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":17E8}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"nbf\":1e3}"),
                     NANO_TOKEN_INVALID);
}

/* JSON is read strictly: what a lenient parser would let through is
 * refused, even behind a valid signature. */
static void
test_refuse_trailing_commas(void **state)
{
    (void) state;
    assert_int_equal(verify_header("{\"alg\":\"HS256\",}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":[1,]}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_leading_zeros(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":01700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":007}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":0.5}"),
                     NANO_TOKEN_OK);
}

static void
test_refuse_junk_numbers_in_unknown_claims(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":1-e+.-}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":-}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":1.}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":-1.5e+10}"),
                     NANO_TOKEN_OK);
}

static void
test_refuse_invalid_utf8(void **state)
{
    nano_claims_t  c;
    char           tok[TOKCAP];

    (void) state;
    /* a lone continuation byte, a truncated sequence, an overlong "/",
     * an encoded surrogate, a code point past U+10FFFF */
    assert_int_equal(verify_payload("{\"sub\":\"u\x80\",\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"name\":\"\xc3\"}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"\xc0\xaf\",\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"\xed\xa0\x80\",\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"\xf4\x90\x80\x80\",\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);

    /* well-formed raw UTF-8 passes through unchanged */
    mk_payload(tok, "{\"sub\":\"u1\",\"exp\":1700003600,"
               "\"name\":\"Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8d\x8c\"}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
    assert_str(&c.name, "Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8d\x8c");
}

/* One identity claim set to a JSON string literal (already quoted). */
static nano_token_status_t
verify_claim(const char *claim, const char *literal)
{
    char  payload[512];

    snprintf(payload, sizeof(payload),
             "{\"sub\":%s,\"exp\":1700003600,\"%s\":%s}",
             strcmp(claim, "sub") == 0 ? literal : "\"u1\"",
             strcmp(claim, "sub") == 0 ? "jti" : claim,
             strcmp(claim, "sub") == 0 ? "\"s1\"" : literal);
    return verify_payload(payload);
}

static void
test_refuse_control_characters_in_identity_claims(void **state)
{
    size_t              i, k;
    static const char  *claims[] = { "sub", "email", "name", "picture", "jti" };
    static const char  *refused[] = {
        "\"Eve\\r\\nSet-Cookie: x=1\"",   /* escaped CR LF */
        "\"a\\nb\"", "\"a\\tb\"", "\"a\\u001fb\"", "\"\\u0001\"",
        "\"a\x7f" "b\"",                    /* raw DEL */
        "\"a\\u007fb\"",                    /* escaped DEL */
        "\"a\xc2\x80" "b\"",                /* raw C1, first and last */
        "\"a\xc2\x9f" "b\"",
        "\"a\\u0085b\"",                    /* escaped C1 (NEL) */
        "\"a\\u009Fb\"",
        "\"\\u0080\"",
    };
    static const char  *accepted[] = {
        "\"a~b\"",                          /* U+007E */
        "\"a\xc2\xa0" "b\"",                /* U+00A0, after C1 */
        "\"a\\u00a0b\"",
        "\"Jos\xc3\xa9\"",
        "\"\xe2\x80\x8b\"",                /* U+200B is not a control */
    };

    (void) state;
    for (k = 0; k < sizeof(claims) / sizeof(claims[0]); k++) {
        for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
            if (verify_claim(claims[k], refused[i]) != NANO_TOKEN_INVALID) {
                fail_msg("%s = %s accepted", claims[k], refused[i]);
            }
        }
        for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
            if (verify_claim(claims[k], accepted[i]) != NANO_TOKEN_OK) {
                fail_msg("%s = %s refused", claims[k], accepted[i]);
            }
        }
    }
}

static void
test_refuse_duplicate_claims(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"sub\":\"admin\"}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"exp\":1900000000}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"email\":\"a@x\",\"email\":null}"),
                     NANO_TOKEN_INVALID);
    /* a key spelled with an escape is the same key */
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"s\\u0075b\":\"admin\"}"),
                     NANO_TOKEN_INVALID);
}

static void
test_unknown_nested_claims_skipped(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    mk_payload(tok, "{\"x\":{\"a\":[1,-2.5e+3,{\"b\":null}],\"c\":true,"
               "\"d\":false,\"e\":{}},\"y\":[],\"sub\":\"u1\","
               "\"z\":[[[[\"deep\"]]]],\"exp\":1700003600,\"w\":\"\\u00e9\"}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_OK);
    assert_str(&c.sub, "u1");
    assert_int_equal(c.exp, 1700003600);
}

static void
test_refuse_nesting_too_deep(void **state)
{
    char  payload[1024];
    int   n, i;

    (void) state;
    n = snprintf(payload, sizeof(payload),
                 "{\"sub\":\"u1\",\"exp\":1700003600,\"x\":");
    for (i = 0; i < 16; i++) {
        payload[n++] = '[';
    }
    for (i = 0; i < 16; i++) {
        payload[n++] = ']';
    }
    strcpy(payload + n, "}");
    assert_int_equal(verify_payload(payload), NANO_TOKEN_OK);

    n = snprintf(payload, sizeof(payload),
                 "{\"sub\":\"u1\",\"exp\":1700003600,\"x\":");
    for (i = 0; i < 64; i++) {
        n += snprintf(payload + n, sizeof(payload) - n, "{\"k\":");
    }
    payload[n++] = '1';
    for (i = 0; i < 64; i++) {
        payload[n++] = '}';
    }
    strcpy(payload + n, "}");
    assert_int_equal(verify_payload(payload), NANO_TOKEN_INVALID);

    n = snprintf(payload, sizeof(payload),
                 "{\"sub\":\"u1\",\"exp\":1700003600,\"x\":");
    for (i = 0; i < 64; i++) {
        payload[n++] = '[';
    }
    for (i = 0; i < 64; i++) {
        payload[n++] = ']';
    }
    strcpy(payload + n, "}");
    assert_int_equal(verify_payload(payload), NANO_TOKEN_INVALID);
}

static void
test_refuse_bad_unknown_values(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":[1,]}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":{\"a\":1,}}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":tru}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":undefined}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":{1:2}}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_payload_not_object(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("[\"u1\",1700003600]"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("\"u1\""), NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("1700003600"), NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("null"), NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("   "), NANO_TOKEN_INVALID);
}

static void
test_refuse_trailing_garbage(void **state)
{
    (void) state;
    assert_int_equal(verify_payload(PAYLOAD " x"), NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload(PAYLOAD "}"), NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload(PAYLOAD PAYLOAD), NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload(PAYLOAD " \n"), NANO_TOKEN_OK);
}

static void
test_refuse_escaped_nul(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"u1\\u0000admin\","
                                    "\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"name\":\"\\u0000\"}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"other\":\"a\\u0000\"}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_lone_surrogates(void **state)
{
    (void) state;
    /* high surrogate alone, at the end and before other text */
    assert_int_equal(verify_payload("{\"sub\":\"\\ud83d\","
                                    "\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"\\ud83dabcdef\","
                                    "\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    /* low surrogate alone */
    assert_int_equal(verify_payload("{\"sub\":\"\\ude00\","
                                    "\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    /* high followed by a non-surrogate escape, or by another high */
    assert_int_equal(verify_payload("{\"sub\":\"\\ud83d\\u0041\","
                                    "\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"\\ud83d\\ud83d\","
                                    "\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
}

static void
test_refuse_bad_escapes(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"\\x41\",\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"\\u00g1\","
                                    "\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"\\u00\"}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\\"), NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1"), NANO_TOKEN_INVALID);
}

static void
test_refuse_raw_control_chars(void **state)
{
    (void) state;
    assert_int_equal(verify_payload("{\"sub\":\"u\x01\",\"exp\":1700003600}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"name\":\"a\nb\"}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\":\"\t\"}"),
                     NANO_TOKEN_INVALID);
    assert_int_equal(verify_payload("{\"sub\":\"u1\",\"exp\":1700003600,"
                                    "\"x\x1f\":1}"),
                     NANO_TOKEN_INVALID);
}

static void
test_claims_cleared_on_refusal(void **state)
{
    char           tok[TOKCAP];
    nano_claims_t  c;

    (void) state;
    /* sub parsed, then the iat check fails */
    mk_payload(tok, "{\"sub\":\"u1\",\"exp\":1700003600,\"iat\":1800000000}");
    assert_int_equal(verify(tok, &c), NANO_TOKEN_INVALID);
    assert_null(c.sub.data);
    assert_int_equal(c.sub.len, 0);
    assert_int_equal(c.exp, 0);
    assert_int_equal(c.has_iat, 0);
}

static void
test_status_names(void **state)
{
    (void) state;
    assert_string_equal(nano_token_status_name(NANO_TOKEN_OK), "ok");
    assert_string_equal(nano_token_status_name(NANO_TOKEN_MISSING),
                        "missing");
    assert_string_equal(nano_token_status_name(NANO_TOKEN_EXPIRED),
                        "expired");
    assert_string_equal(nano_token_status_name(NANO_TOKEN_INVALID),
                        "invalid");
    assert_string_equal(nano_token_status_name((nano_token_status_t) 99),
                        "invalid");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyring_one_key),
        cmocka_unit_test(test_keyring_blank_lines_and_crlf),
        cmocka_unit_test(test_keyring_whitespace_only_lines_ignored),
        cmocka_unit_test(test_keyring_blank_last_line_unterminated),
        cmocka_unit_test(test_keyring_short_key_refused),
        cmocka_unit_test(test_keyring_empty_file_no_keys),
        cmocka_unit_test(test_keyring_eight_keys_accepted),
        cmocka_unit_test(test_keyring_more_than_eight_keys_refused),
        cmocka_unit_test(test_keyring_key_over_max_len_refused),
        cmocka_unit_test(test_keyring_long_key_verifies_libjwt_token),
        cmocka_unit_test(test_keyring_load_missing_file),
        cmocka_unit_test(test_keyring_load_file),
        cmocka_unit_test(test_keyring_load_bad_key_names_file),
        cmocka_unit_test(test_keyring_load_no_path),
        cmocka_unit_test(test_keyring_signing_key_is_first),
        cmocka_unit_test(test_keyring_null_safe),

        cmocka_unit_test(test_sign_verify_round_trip),
        cmocka_unit_test(test_sign_omits_absent_claims),
        cmocka_unit_test(test_sign_escaped_and_unicode_name),
        cmocka_unit_test(test_sign_refuses_without_sub_or_exp),
        cmocka_unit_test(test_verify_json_escapes_decoded),
        cmocka_unit_test(test_verify_whitespace_in_json),
        cmocka_unit_test(test_verify_header_kid_and_typ),

        cmocka_unit_test(test_interop_openssl_hmac_token),
        cmocka_unit_test(test_rotation_second_key_verifies),
        cmocka_unit_test(test_refuse_wrong_key),
        cmocka_unit_test(test_refuse_null_keyring),

        cmocka_unit_test(test_refuse_alg_none_empty_signature),
        cmocka_unit_test(test_refuse_alg_none_with_signature),
        cmocka_unit_test(test_refuse_hs384),
        cmocka_unit_test(test_refuse_hs512),
        cmocka_unit_test(test_refuse_rs256),
        cmocka_unit_test(test_refuse_alg_lowercase),
        cmocka_unit_test(test_refuse_alg_missing),
        cmocka_unit_test(test_refuse_alg_not_string),
        cmocka_unit_test(test_refuse_alg_duplicate),
        cmocka_unit_test(test_refuse_crit_header),
        cmocka_unit_test(test_refuse_header_not_object),

        cmocka_unit_test(test_refuse_tampered_payload),
        cmocka_unit_test(test_refuse_tampered_header),
        cmocka_unit_test(test_refuse_signature_wrong_length),
        cmocka_unit_test(test_refuse_signature_trailing_bits),
        cmocka_unit_test(test_refuse_payload_trailing_bits),
        cmocka_unit_test(test_refuse_base64_length_one_mod_four),
        cmocka_unit_test(test_refuse_base64_padding),
        cmocka_unit_test(test_refuse_plus_and_slash),
        cmocka_unit_test(test_refuse_signature_standard_alphabet),
        cmocka_unit_test(test_refuse_segment_count),
        cmocka_unit_test(test_refuse_empty_segments),
        cmocka_unit_test(test_refuse_token_too_long),
        cmocka_unit_test(test_refuse_scratch_too_small),
        cmocka_unit_test(test_empty_token_is_missing),

        cmocka_unit_test(test_refuse_exp_missing),
        cmocka_unit_test(test_refuse_exp_not_number),
        cmocka_unit_test(test_refuse_sub_missing),
        cmocka_unit_test(test_refuse_sub_empty),
        cmocka_unit_test(test_refuse_sub_null),
        cmocka_unit_test(test_refuse_sub_number),
        cmocka_unit_test(test_refuse_optional_claim_not_string),
        cmocka_unit_test(test_expired_beyond_leeway),
        cmocka_unit_test(test_expired_within_leeway_ok),
        cmocka_unit_test(test_nbf_future_beyond_leeway_invalid),
        cmocka_unit_test(test_nbf_future_within_leeway_ok),
        cmocka_unit_test(test_iat_future_beyond_leeway_invalid),
        cmocka_unit_test(test_exp_float_truncated),
        cmocka_unit_test(test_refuse_exp_exponent),
        cmocka_unit_test(test_refuse_trailing_commas),
        cmocka_unit_test(test_refuse_leading_zeros),
        cmocka_unit_test(test_refuse_junk_numbers_in_unknown_claims),
        cmocka_unit_test(test_refuse_invalid_utf8),
        cmocka_unit_test(test_refuse_control_characters_in_identity_claims),
        cmocka_unit_test(test_refuse_duplicate_claims),
        cmocka_unit_test(test_unknown_nested_claims_skipped),
        cmocka_unit_test(test_refuse_nesting_too_deep),
        cmocka_unit_test(test_refuse_bad_unknown_values),
        cmocka_unit_test(test_refuse_payload_not_object),
        cmocka_unit_test(test_refuse_trailing_garbage),
        cmocka_unit_test(test_refuse_escaped_nul),
        cmocka_unit_test(test_refuse_lone_surrogates),
        cmocka_unit_test(test_refuse_bad_escapes),
        cmocka_unit_test(test_refuse_raw_control_chars),
        cmocka_unit_test(test_claims_cleared_on_refusal),
        cmocka_unit_test(test_status_names),
    };

    return cmocka_run_group_tests_name("token", tests, group_setup,
                                       group_teardown);
}
