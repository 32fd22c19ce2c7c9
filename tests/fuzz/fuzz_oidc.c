/*
 * libFuzzer harness for OpenID Connect sign-in: the provider's key set
 * and the ID tokens checked against it.  One RSA key is made at start
 * and published as a set of one under the kid "k1".  Input: one byte,
 * then the data (copied to an allocation of its exact size).  The
 * byte's low 2 bits pick the mode:
 *   0  the data is a JWKS document: a set that parses has 1 to
 *      NANO_JWKS_MAX_KEYS keys;
 *   1  the data is a token, verified as it is: it must never pass (it
 *      would be a forged signature);
 *   2  the data is the claims, signed with the key under a fixed
 *      header: a token that passes names the issuer, the client and the
 *      nonce, is within its times, and gives a sub and profile strings
 *      without control characters;
 *   3  the data is the header, signed over fixed valid claims: a token
 *      that passes has exactly alg RS256 and no crit.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "nano_base64.h"
#include "nano_idtoken.h"
#include "nano_jwks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ISSUER  "https://accounts.example"
#define FUZZ_CLIENT  "client-1"
#define FUZZ_NONCE   "n-0S6_WzA2Mj"
#define FUZZ_NOW     1764700000LL

static EVP_PKEY     *fuzz_key;
static nano_jwks_t  *fuzz_set;

/* base64url of an OpenSSL number parameter of the key. */
static char *
fuzz_param(const char *name)
{
    BIGNUM         *bn = NULL;
    unsigned char   buf[1024];
    int             n;
    char           *out;

    if (!EVP_PKEY_get_bn_param(fuzz_key, name, &bn)) {
        abort();
    }
    n = BN_bn2bin(bn, buf);
    BN_free(bn);
    out = nano_base64url_encode(buf, (size_t) n);
    if (out == NULL) {
        abort();
    }
    return out;
}

static void
fuzz_init(void)
{
    char  *n, *e, doc[2048], err[128];

    if (fuzz_set != NULL) {
        return;
    }
    fuzz_key = EVP_RSA_gen(2048);
    if (fuzz_key == NULL) {
        abort();
    }
    n = fuzz_param(OSSL_PKEY_PARAM_RSA_N);
    e = fuzz_param(OSSL_PKEY_PARAM_RSA_E);
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\","
             "\"kid\":\"k1\",\"n\":\"%s\",\"e\":\"%s\"}]}", n, e);
    free(n);
    free(e);
    fuzz_set = nano_jwks_parse(doc, strlen(doc), err, sizeof(err));
    if (fuzz_set == NULL || nano_jwks_count(fuzz_set) != 1) {
        abort();
    }
}

/* header.claims.signature, signed with the key (caller frees). */
static char *
fuzz_sign(const char *header, size_t hlen, const char *claims, size_t clen)
{
    EVP_MD_CTX     *md;
    char           *h, *c, *s, *tok;
    unsigned char   sig[512];
    size_t          siglen = sizeof(sig), len;

    h = nano_base64url_encode((const unsigned char *) header, hlen);
    c = nano_base64url_encode((const unsigned char *) claims, clen);
    if (h == NULL || c == NULL) {
        abort();
    }
    len = strlen(h) + strlen(c) + 2;
    tok = malloc(len + 700);
    if (tok == NULL) {
        abort();
    }
    snprintf(tok, len, "%s.%s", h, c);
    md = EVP_MD_CTX_new();
    if (md == NULL
        || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, fuzz_key) != 1
        || EVP_DigestSign(md, sig, &siglen, (unsigned char *) tok,
                          strlen(tok)) != 1)
    {
        abort();
    }
    EVP_MD_CTX_free(md);
    s = nano_base64url_encode(sig, siglen);
    if (s == NULL) {
        abort();
    }
    strcat(tok, ".");
    strcat(tok, s);
    free(h);
    free(c);
    free(s);
    return tok;
}

static nano_idtoken_status_t
fuzz_verify(const char *token, nano_idtoken_claims_t *claims)
{
    nano_idtoken_check_t  check = {
        FUZZ_ISSUER, FUZZ_CLIENT, FUZZ_NONCE, FUZZ_NOW, 60
    };

    nano_idtoken_claims_init(claims);
    return nano_idtoken_verify(token, fuzz_set, &check, claims);
}

static int
fuzz_plain(const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if ((unsigned char) *s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* A passed token's claims, read again on our own. */
static void
fuzz_check_claims(const char *json, size_t len,
    const nano_idtoken_claims_t *c)
{
    json_t      *root, *aud;
    const char  *nonce;
    long long    exp;
    size_t       i;
    int          has_client = 0;

    if (c->sub == NULL || c->sub[0] == '\0'
        || strlen(c->sub) > NANO_IDTOKEN_SUB_MAX || !fuzz_plain(c->sub)
        || !fuzz_plain(c->email) || !fuzz_plain(c->name)
        || !fuzz_plain(c->picture))
    {
        abort();
    }
    root = json_loadb(json, len, 0, NULL);
    if (root == NULL) {
        abort();
    }
    if (!json_is_string(json_object_get(root, "iss"))
        || strcmp(json_string_value(json_object_get(root, "iss")),
                  FUZZ_ISSUER) != 0)
    {
        abort();
    }
    aud = json_object_get(root, "aud");
    if (json_is_string(aud)) {
        has_client = strcmp(json_string_value(aud), FUZZ_CLIENT) == 0;
    }
    for (i = 0; json_is_array(aud) && i < json_array_size(aud); i++) {
        has_client |= json_is_string(json_array_get(aud, i))
            && strcmp(json_string_value(json_array_get(aud, i)),
                      FUZZ_CLIENT) == 0;
    }
    nonce = json_string_value(json_object_get(root, "nonce"));
    exp = (long long) json_number_value(json_object_get(root, "exp"));
    if (!has_client || nonce == NULL || strcmp(nonce, FUZZ_NONCE) != 0
        || !json_is_number(json_object_get(root, "exp"))
        || exp + 60 < FUZZ_NOW)
    {
        abort();
    }
    json_decref(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char      header[] = "{\"alg\":\"RS256\",\"kid\":\"k1\"}";
    static const char      claims[] =
        "{\"iss\":\"" FUZZ_ISSUER "\",\"aud\":\"" FUZZ_CLIENT "\","
        "\"sub\":\"1234\",\"nonce\":\"" FUZZ_NONCE "\","
        "\"iat\":1764699990,\"exp\":1764703600}";
    nano_idtoken_claims_t  c;
    nano_jwks_t           *set;
    json_t                *h;
    char                  *buf, *tok, err[128];
    unsigned               mode;

    if (size < 1 || size > NANO_IDTOKEN_MAX_LEN) {
        return 0;
    }
    fuzz_init();
    mode = data[0] & 3;
    size--;
    buf = malloc(mode == 1 ? size + 1 : (size ? size : 1));
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data + 1, size);

    switch (mode) {
    case 0:
        set = nano_jwks_parse(buf, size, err, sizeof(err));
        if (set != NULL && (nano_jwks_count(set) < 1
                            || nano_jwks_count(set) > NANO_JWKS_MAX_KEYS))
        {
            abort();
        }
        if (set == NULL && (memchr(err, '\0', sizeof(err)) == NULL
                            || err[0] == '\0'))
        {
            abort();
        }
        nano_jwks_release(set);
        break;
    case 1:
        buf[size] = '\0';
        if (fuzz_verify(buf, &c) == NANO_IDTOKEN_OK) {
            abort();
        }
        nano_idtoken_claims_cleanup(&c);
        break;
    case 2:
        tok = fuzz_sign(header, strlen(header), buf, size);
        if (fuzz_verify(tok, &c) == NANO_IDTOKEN_OK) {
            fuzz_check_claims(buf, size, &c);
        }
        nano_idtoken_claims_cleanup(&c);
        free(tok);
        break;
    default:
        tok = fuzz_sign(buf, size, claims, strlen(claims));
        if (fuzz_verify(tok, &c) == NANO_IDTOKEN_OK) {
            h = json_loadb(buf, size, 0, NULL);
            if (h == NULL
                || !json_is_string(json_object_get(h, "alg"))
                || strcmp(json_string_value(json_object_get(h, "alg")),
                          "RS256") != 0
                || json_object_get(h, "crit") != NULL)
            {
                abort();
            }
            json_decref(h);
        }
        nano_idtoken_claims_cleanup(&c);
        free(tok);
        break;
    }

    free(buf);
    return 0;
}
