/*
 * libFuzzer harness for session token verification and key file parsing.
 *
 * The first input byte picks a mode, the rest is the payload of it:
 *   0  the bytes are a token, verified as they stand;
 *   1  the bytes are the claims JSON: the harness signs them (HS256 with
 *      the ring's key) so that the MAC passes and the claims parser runs;
 *      a token that verifies is re-signed with nano_token_sign (libjwt)
 *      and must verify to the same claims;
 *   2  the bytes are the header JSON, signed likewise, over fixed claims;
 *   3  the bytes are a key file for nano_keyring_parse.
 * Every input is copied to an allocation of its exact size, so that
 * AddressSanitizer sees any read past its end.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "nano_token.h"
#include "../tools/test_b64url.h"
#include "../tools/test_claims.h"
#include "fuzz_common.h"

#define FUZZ_NOW     1700000000LL
#define FUZZ_LEEWAY  60LL
#define FUZZ_KEY1    "0123456789abcdef0123456789abcdef"
#define FUZZ_KEY2    "second-key-for-rotation-0123456789-xyz"
#define FUZZ_HDR     "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define FUZZ_CLAIMS  "{\"sub\":\"u1\",\"exp\":1700003600}"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static nano_keyring_t  *ring;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char  err[256];

    (void) argc;
    (void) argv;

    ring = nano_keyring_parse(FUZZ_KEY1 "\n" FUZZ_KEY2 "\n",
                              sizeof(FUZZ_KEY1 "\n" FUZZ_KEY2 "\n") - 1,
                              err, sizeof(err));
    if (ring == NULL) {
        fprintf(stderr, "fuzz_token: %s\n", err);
        abort();
    }
    return 0;
}


/* Checks what a verified token promises its callers. */
static void
check_claims(nano_token_status_t st, const nano_claims_t *c)
{
    const nano_str_t  *s[5];
    size_t             i;

    if (st != NANO_TOKEN_OK) {
        if (c->sub.data != NULL || c->exp != 0) {
            abort();                        /* refusals clear the claims */
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
            abort();                        /* NUL-terminated, no NUL */
        }
    }

    if (c->sub.len == 0 || c->exp <= FUZZ_NOW - FUZZ_LEEWAY
        || (c->has_nbf && c->nbf > FUZZ_NOW + FUZZ_LEEWAY)
        || (c->has_iat && c->iat > FUZZ_NOW + FUZZ_LEEWAY))
    {
        abort();
    }
}


/* Verifies len bytes from an exact-size copy with an exact-size scratch. */
static nano_token_status_t
verify(const char *token, size_t len, nano_claims_t *c, char **scratch)
{
    char                *copy;
    nano_token_status_t  st;

    copy = malloc(len ? len : 1);
    *scratch = malloc(len + 1);
    if (copy == NULL || *scratch == NULL) {
        abort();
    }
    memcpy(copy, token, len);

    st = nano_token_verify(ring, copy, len, FUZZ_NOW, FUZZ_LEEWAY, *scratch,
                           len + 1, c);
    free(copy);
    check_claims(st, c);
    return st;
}


/* libjwt re-signs what we verified; we must read back the same claims. */
static void
round_trip(const nano_claims_t *c)
{
    char                *tok, *scratch;
    nano_claims_t        c2;
    nano_token_status_t  st;

    tok = nano_token_sign(ring, c);
    if (tok == NULL) {
        return;             /* e.g. bytes that are not UTF-8 for jansson */
    }

    st = verify(tok, strlen(tok), &c2, &scratch);
    if (st != NANO_TOKEN_OK || !test_claims_eq(c, &c2)) {
        abort();
    }

    free(scratch);
    free(tok);
}


/* header.payload.HS256 of the given JSON texts */
static char *
sign_json(const uint8_t *hdr, size_t hlen, const uint8_t *pl, size_t plen,
    size_t *len)
{
    char           *tok;
    size_t          n;
    unsigned int    maclen;
    unsigned char   mac[EVP_MAX_MD_SIZE];

    tok = malloc(2 * (hlen + plen) + 64);
    if (tok == NULL) {
        abort();
    }

    n = test_b64url(hdr, hlen, tok);
    tok[n++] = '.';
    n += test_b64url(pl, plen, tok + n);

    if (HMAC(EVP_sha256(), FUZZ_KEY1, sizeof(FUZZ_KEY1) - 1,
             (unsigned char *) tok, n, mac, &maclen) == NULL)
    {
        abort();
    }

    tok[n++] = '.';
    n += test_b64url(mac, maclen, tok + n);
    *len = n;
    return tok;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                *tok, *scratch, *buf, err[256];
    size_t               len;
    nano_claims_t        c;
    nano_keyring_t      *kr;
    nano_token_status_t  st;

    if (size == 0) {
        return 0;
    }

    switch (data[0] & 3) {
    case 0:
        verify((const char *) data + 1, size - 1, &c, &scratch);
        free(scratch);
        break;

    case 1:
        tok = sign_json((const uint8_t *) FUZZ_HDR, sizeof(FUZZ_HDR) - 1,
                        data + 1, size - 1, &len);
        st = verify(tok, len, &c, &scratch);
        if (st == NANO_TOKEN_OK) {
            round_trip(&c);
        }
        free(scratch);
        free(tok);
        break;

    case 2:
        tok = sign_json(data + 1, size - 1, (const uint8_t *) FUZZ_CLAIMS,
                        sizeof(FUZZ_CLAIMS) - 1, &len);
        verify(tok, len, &c, &scratch);
        free(scratch);
        free(tok);
        break;

    default:
        buf = fuzz_rest(data, size);
        kr = nano_keyring_parse(buf, size - 1, err, sizeof(err));
        if (kr != NULL && (nano_keyring_count(kr) == 0
                           || nano_keyring_count(kr) > NANO_KEYS_MAX))
        {
            abort();
        }
        nano_keyring_free(kr);
        free(buf);
        break;
    }

    return 0;
}
