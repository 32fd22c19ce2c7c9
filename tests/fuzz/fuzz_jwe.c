/*
 * libFuzzer harness for NextAuth's JWE (nano_jwe.c) through
 * nano_token_open, and key file format 2 with kids.
 *
 * The first input byte picks a mode, the rest is the payload of it:
 *   0  the bytes are a token, opened as they stand;
 *   1  the bytes are the claims: the harness encrypts them (dir,
 *      A256GCM, under the ring's first key) so the tag passes and the
 *      claims parser runs; claims that open are encrypted again with
 *      nano_token_encrypt (jansson) and must open to the same claims;
 *   2  the bytes are the header JSON, encrypted likewise over fixed
 *      claims: the header parser runs behind a tag that passes;
 *   3  the bytes are edits (offset, xor) to a token sealed by the ring:
 *      a token that differs from the sealed one is never accepted;
 *   4  the bytes are a key file, whose keys then seal and open a token.
 * Every input is copied to an allocation of its exact size, so that
 * AddressSanitizer sees any read past its end.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "nano_jwe.h"
#include "nano_token.h"
#include "../tools/test_b64url.h"
#include "../tools/test_claims.h"

#define FUZZ_KEY1    "first-jwe-key-0123456789abcdefghijkl"
#define FUZZ_KEY2    "second-jwe-key-0123456789abcdefghijk"
#define FUZZ_RING    "nano-keys 2\nk1 " FUZZ_KEY1 "\nk2 " FUZZ_KEY2 "\n"
#define FUZZ_HDR     "{\"alg\":\"dir\",\"enc\":\"A256GCM\"}"
#define FUZZ_CLAIMS  "{\"sub\":\"u1\",\"exp\":1700003600,\"jti\":\"j\"}"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static nano_keyring_t  *ring;
static nano_jwe_ctx_t  *jwe;
static unsigned char    key1[NANO_JWE_KEY_LEN];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char  err[256];

    (void) argc;
    (void) argv;

    ring = nano_keyring_parse(FUZZ_RING, sizeof(FUZZ_RING) - 1, err,
                              sizeof(err));
    jwe = nano_jwe_ctx_new();
    if (ring == NULL || jwe == NULL
        || nano_jwe_derive_key((const unsigned char *) FUZZ_KEY1,
                               sizeof(FUZZ_KEY1) - 1, key1) != 0)
    {
        fprintf(stderr, "fuzz_jwe: %s\n", ring ? "out of memory" : err);
        abort();
    }
    return 0;
}


/* Checks what nano_token_open promises: claims zeroed on refusal; on
 * success a sub, and strings NUL-terminated without a NUL inside. */
static void
check_claims(nano_token_reason_t r, const nano_claims_t *c)
{
    const nano_str_t  *s[5];
    size_t             i;

    if (r != NANO_TOKEN_REASON_OK) {
        if (c->sub.data != NULL || c->exp != 0 || c->jti.data != NULL) {
            abort();
        }
        return;
    }

    s[0] = &c->sub;
    s[1] = &c->email;
    s[2] = &c->name;
    s[3] = &c->picture;
    s[4] = &c->jti;

    for (i = 0; i < 5; i++) {
        if (s[i]->data != NULL
            && (s[i]->data[s[i]->len] != '\0'
                || strlen(s[i]->data) != s[i]->len))
        {
            abort();
        }
    }

    if (c->sub.len == 0) {
        abort();
    }
}


/* Opens len bytes from an exact-size copy into an exact-size scratch
 * (the caller frees *scratch). */
static nano_token_reason_t
open_token(const nano_keyring_t *kr, const char *token, size_t len,
    nano_claims_t *c, char **scratch)
{
    char                 *copy;
    nano_token_reason_t   r;
    nano_token_format_t   f;

    copy = malloc(len ? len : 1);
    *scratch = malloc(len + 1);
    if (copy == NULL || *scratch == NULL) {
        abort();
    }
    memcpy(copy, token, len);

    r = nano_token_open(kr, jwe, copy, len, *scratch, len + 1, c, &f);
    free(copy);
    check_claims(r, c);
    return r;
}


/* header..iv.ciphertext.tag of the given texts under key1, written here
 * with OpenSSL apart from nano_jwe_seal. */
static char *
seal(const uint8_t *hdr, size_t hlen, const uint8_t *pl, size_t plen,
    size_t *len)
{
    char            *tok;
    size_t           n, clen;
    int              l;
    unsigned char    iv[NANO_JWE_IV_LEN], tag[NANO_JWE_TAG_LEN];
    unsigned char   *ct;
    EVP_CIPHER_CTX  *c;

    tok = malloc(2 * (hlen + plen) + 128);
    ct = malloc(plen + 16);
    c = EVP_CIPHER_CTX_new();
    if (tok == NULL || ct == NULL || c == NULL) {
        abort();
    }
    memset(iv, 7, sizeof(iv));

    n = test_b64url(hdr, hlen, tok);

    if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key1, iv) != 1
        || EVP_EncryptUpdate(c, NULL, &l, (unsigned char *) tok, (int) n)
           != 1
        || EVP_EncryptUpdate(c, ct, &l, pl, (int) plen) != 1)
    {
        abort();
    }
    clen = (size_t) l;
    if (EVP_EncryptFinal_ex(c, ct + clen, &l) != 1
        || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, sizeof(tag), tag)
           != 1)
    {
        abort();
    }
    clen += (size_t) l;
    EVP_CIPHER_CTX_free(c);

    tok[n++] = '.';
    tok[n++] = '.';
    n += test_b64url(iv, sizeof(iv), tok + n);
    tok[n++] = '.';
    n += test_b64url(ct, clen, tok + n);
    tok[n++] = '.';
    n += test_b64url(tag, sizeof(tag), tok + n);

    free(ct);
    *len = n;
    return tok;
}


/* nano_token_encrypt writes what we opened; it must open the same. */
static void
round_trip(const nano_claims_t *c)
{
    char                 *tok, *scratch;
    nano_claims_t         c2;
    nano_token_reason_t   r;

    tok = nano_token_encrypt(ring, c);
    if (tok == NULL) {
        return;             /* no exp, or bytes that are not UTF-8 */
    }

    r = open_token(ring, tok, strlen(tok), &c2, &scratch);
    if (r != NANO_TOKEN_REASON_OK || !test_claims_eq(c, &c2)) {
        abort();
    }

    free(scratch);
    free(tok);
}


/* A token sealed by the ring, edited by (offset, xor) pairs: any token
 * that differs is refused. */
static void
tamper(const uint8_t *data, size_t size)
{
    char                 *good, *tok, *scratch;
    size_t                len, i, at;
    nano_claims_t         c;
    nano_claims_t         in;
    nano_token_reason_t   r;

    memset(&in, 0, sizeof(in));
    in.sub.data = "u1";
    in.sub.len = 2;
    in.exp = 1700003600;

    good = nano_token_encrypt(ring, &in);
    if (good == NULL) {
        abort();
    }
    len = strlen(good);
    tok = strdup(good);
    if (tok == NULL) {
        abort();
    }

    for (i = 0; i + 1 < size; i += 2) {
        at = data[i] % len;
        tok[at] ^= data[i + 1];
    }

    r = open_token(ring, tok, len, &c, &scratch);
    if (r == NANO_TOKEN_REASON_OK && memcmp(tok, good, len) != 0) {
        abort();
    }

    free(scratch);
    free(tok);
    free(good);
}


/* A key file; when it parses, its signing key seals and opens a token. */
static void
keyfile(const uint8_t *data, size_t size)
{
    char            *buf, *tok, *scratch, err[256];
    size_t           i, n, kid_len;
    nano_claims_t    in, c;
    nano_keyring_t  *kr;

    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        abort();
    }
    memcpy(buf, data, size);
    kr = nano_keyring_parse(buf, size, err, sizeof(err));
    free(buf);

    if (kr == NULL) {
        if (memchr(err, '\0', sizeof(err)) == NULL) {
            abort();
        }
        return;
    }

    n = nano_keyring_count(kr);
    if (n == 0 || n > NANO_KEYS_MAX) {
        abort();
    }
    for (i = 0; i < n; i++) {
        if (nano_keyring_kid(kr, i, &kid_len) != NULL
            && (kid_len == 0 || kid_len > NANO_KID_MAX_LEN))
        {
            abort();
        }
    }

    memset(&in, 0, sizeof(in));
    in.sub.data = "u1";
    in.sub.len = 2;
    in.exp = 1700003600;

    tok = nano_token_encrypt(kr, &in);
    if (tok == NULL
        || open_token(kr, tok, strlen(tok), &c, &scratch)
           != NANO_TOKEN_REASON_OK)
    {
        abort();
    }
    free(scratch);
    free(tok);
    nano_keyring_free(kr);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           *tok, *scratch;
    size_t          len;
    nano_claims_t   c;

    if (size == 0) {
        return 0;
    }

    switch (data[0] % 5) {

    case 0:
        open_token(ring, (const char *) data + 1, size - 1, &c, &scratch);
        free(scratch);
        break;

    case 1:
        tok = seal((const uint8_t *) FUZZ_HDR, sizeof(FUZZ_HDR) - 1,
                   data + 1, size - 1, &len);
        if (open_token(ring, tok, len, &c, &scratch)
            == NANO_TOKEN_REASON_OK)
        {
            round_trip(&c);
        }
        free(scratch);
        free(tok);
        break;

    case 2:
        tok = seal(data + 1, size - 1, (const uint8_t *) FUZZ_CLAIMS,
                   sizeof(FUZZ_CLAIMS) - 1, &len);
        open_token(ring, tok, len, &c, &scratch);
        free(scratch);
        free(tok);
        break;

    case 3:
        tamper(data + 1, size - 1);
        break;

    default:
        keyfile(data + 1, size - 1);
        break;
    }

    return 0;
}
