/*
 * JSON Web Key Sets: the RS256 keys of an OpenID provider, as EVP_PKEYs.
 */

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "nano_jwks.h"
#include "nano_token.h"

typedef struct {
    char      *kid;             /* NULL when the key has none */
    EVP_PKEY  *pkey;
} nano_jwk_t;

struct nano_jwks_s {
    atomic_int   refs;
    size_t       n;
    nano_jwk_t   keys[NANO_JWKS_MAX_KEYS];
};

/* Decodes a base64url member of a key into a new buffer (caller frees);
 * NULL when absent, not a string, not strict base64url or empty. */
static unsigned char *
nano_jwks_bytes(json_t *key, const char *name, size_t max, size_t *len)
{
    json_t         *v = json_object_get(key, name);
    const char     *s;
    size_t          slen;
    unsigned char  *out;
    ssize_t         n;

    if (!json_is_string(v)) {
        return NULL;
    }
    s = json_string_value(v);
    slen = json_string_length(v);
    if (slen == 0 || slen > (max + 2) / 3 * 4) {
        return NULL;
    }
    out = malloc(slen);
    if (out == NULL) {
        return NULL;
    }
    n = nano_b64url_decode(s, slen, out, slen);
    if (n <= 0) {
        free(out);
        return NULL;
    }
    *len = (size_t) n;
    return out;
}

/* 1 when the optional string member name is absent or equals want. */
static int
nano_jwks_member_is(json_t *key, const char *name, const char *want)
{
    json_t  *v = json_object_get(key, name);

    return v == NULL || (json_is_string(v)
                         && strcmp(json_string_value(v), want) == 0);
}

/* The key made from one JWK, or NULL when it cannot verify RS256. */
static EVP_PKEY *
nano_jwks_key(json_t *key)
{
    unsigned char  *n = NULL, *e = NULL;
    size_t          nlen = 0, elen = 0;
    EVP_PKEY       *pkey = NULL;

    if (!json_is_object(key)
        || !nano_jwks_member_is(key, "kty", "RSA")
        || json_object_get(key, "kty") == NULL
        || !nano_jwks_member_is(key, "use", "sig")
        || !nano_jwks_member_is(key, "alg", "RS256"))
    {
        return NULL;
    }
    n = nano_jwks_bytes(key, "n", NANO_JWKS_MAX_BITS / 8 + 1, &nlen);
    e = nano_jwks_bytes(key, "e", 8, &elen);
    if (n != NULL && e != NULL) {
        pkey = nano_jwks_rsa_key(n, nlen, e, elen);
    }
    free(n);
    free(e);
    return pkey;
}

nano_jwks_t *
nano_jwks_parse(const char *json, size_t len, char *err, size_t errlen)
{
    nano_jwks_t   *set = NULL;
    json_t        *root, *keys, *key, *kid;
    json_error_t   jerr;
    EVP_PKEY      *pkey;
    size_t         i, j;

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    keys = json_object_get(root, "keys");
    if (!json_is_object(root) || !json_is_array(keys)) {
        snprintf(err, errlen, "not a JWKS document ({\"keys\": [...]})");
        goto fail;
    }
    set = calloc(1, sizeof(*set));
    if (set == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    atomic_init(&set->refs, 1);

    json_array_foreach(keys, i, key) {
        if (set->n == NANO_JWKS_MAX_KEYS) {
            break;
        }
        kid = json_object_get(key, "kid");
        if (kid != NULL && (!json_is_string(kid)
                            || json_string_length(kid) == 0
                            || json_string_length(kid) > NANO_JWKS_KID_MAX))
        {
            continue;
        }
        if ((pkey = nano_jwks_key(key)) == NULL) {
            continue;
        }
        set->keys[set->n].pkey = pkey;
        if (kid != NULL) {
            for (j = 0; j < set->n; j++) {
                if (set->keys[j].kid != NULL
                    && strcmp(set->keys[j].kid, json_string_value(kid)) == 0)
                {
                    set->n++;
                    snprintf(err, errlen, "the kid \"%.64s\" appears twice",
                             json_string_value(kid));
                    goto fail;
                }
            }
            set->keys[set->n].kid = strdup(json_string_value(kid));
            if (set->keys[set->n].kid == NULL) {
                set->n++;
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
        }
        set->n++;
    }
    if (set->n == 0) {
        snprintf(err, errlen, "no RSA key that can verify RS256");
        goto fail;
    }
    json_decref(root);
    return set;

fail:
    nano_jwks_release(set);
    json_decref(root);
    return NULL;
}

nano_jwks_t *
nano_jwks_retain(nano_jwks_t *set)
{
    if (set != NULL) {
        atomic_fetch_add(&set->refs, 1);
    }
    return set;
}

void
nano_jwks_release(nano_jwks_t *set)
{
    size_t  i;

    if (set == NULL || atomic_fetch_sub(&set->refs, 1) != 1) {
        return;
    }
    for (i = 0; i < set->n; i++) {
        free(set->keys[i].kid);
        EVP_PKEY_free(set->keys[i].pkey);
    }
    free(set);
}

size_t
nano_jwks_count(const nano_jwks_t *set)
{
    return set != NULL ? set->n : 0;
}

EVP_PKEY *
nano_jwks_find(const nano_jwks_t *set, const char *kid)
{
    size_t  i;

    if (set == NULL) {
        return NULL;
    }
    if (kid == NULL) {
        return set->n == 1 ? set->keys[0].pkey : NULL;
    }
    for (i = 0; i < set->n; i++) {
        if (set->keys[i].kid != NULL && strcmp(set->keys[i].kid, kid) == 0) {
            return set->keys[i].pkey;
        }
    }
    return NULL;
}

EVP_PKEY *
nano_jwks_rsa_key(const unsigned char *n, size_t nlen, const unsigned char *e,
    size_t elen)
{
    OSSL_PARAM_BLD  *bld = NULL;
    OSSL_PARAM      *params = NULL;
    EVP_PKEY_CTX    *ctx = NULL;
    EVP_PKEY        *pkey = NULL;
    BIGNUM          *bn = NULL, *be = NULL;
    int              bits;

    if (nlen == 0 || nlen > NANO_JWKS_MAX_BITS / 8 + 1 || elen == 0
        || elen > 8)
    {
        return NULL;
    }
    bn = BN_bin2bn(n, (int) nlen, NULL);
    be = BN_bin2bn(e, (int) elen, NULL);
    if (bn == NULL || be == NULL) {
        goto out;
    }
    bits = BN_num_bits(bn);
    /* a 2048-bit modulus may be written with a leading zero byte */
    if (bits < NANO_JWKS_MIN_BITS || bits > NANO_JWKS_MAX_BITS
        || !BN_is_odd(be) || BN_num_bits(be) < 2)
    {
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be)
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
    {
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

int
nano_jwks_verify_rs256(EVP_PKEY *key, const char *msg, size_t len,
    const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX    *md;
    EVP_PKEY_CTX  *pctx = NULL;
    int            ok = 0;

    /* PKCS #1 v1.5 signatures are exactly as long as the modulus */
    if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA
        || siglen == 0 || (int) siglen != EVP_PKEY_get_size(key))
    {
        return 0;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return 0;
    }
    if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key) == 1
        && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1)
    {
        ok = EVP_DigestVerify(md, sig, siglen, (const unsigned char *) msg,
                              len) == 1;
    }
    EVP_MD_CTX_free(md);
    return ok;
}
