/*
 * Issuing session tokens (the platform's side): HS256 signing through
 * libjwt, and NextAuth's JWE with its claims written by jansson.
 * Verification stays in nano_token.c and nano_jwe.c, so the gateway
 * needs neither libjwt nor jansson.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>

#include "nano_jwe.h"
#include "nano_token.h"


static int nano_token_add_str(jwt_t *jwt, const char *name,
    const nano_str_t *value);
static int nano_token_set_str(json_t *obj, const char *name,
    const nano_str_t *value);


char *
nano_token_sign(const nano_keyring_t *kr, const nano_claims_t *claims)
{
    char                 *token;
    jwt_t                *jwt;
    size_t                klen, kid_len;
    const char           *kid;
    const unsigned char  *key;

    token = NULL;
    jwt = NULL;

    key = nano_keyring_signing_key(kr, &klen);
    if (key == NULL || claims->sub.len == 0 || claims->exp == 0) {
        return NULL;
    }

    if (jwt_new(&jwt) != 0) {
        return NULL;
    }

    kid = nano_keyring_kid(kr, 0, &kid_len);

    if (jwt_set_alg(jwt, JWT_ALG_HS256, key, (int) klen) != 0
        || (kid && jwt_add_header(jwt, "kid", kid) != 0)
        || nano_token_add_str(jwt, "sub", &claims->sub) != 0
        || nano_token_add_str(jwt, "email", &claims->email) != 0
        || nano_token_add_str(jwt, "name", &claims->name) != 0
        || nano_token_add_str(jwt, "picture", &claims->picture) != 0
        || nano_token_add_str(jwt, "jti", &claims->jti) != 0
        || jwt_add_grant_int(jwt, "exp", claims->exp) != 0
        || (claims->has_iat && jwt_add_grant_int(jwt, "iat", claims->iat))
        || (claims->has_nbf && jwt_add_grant_int(jwt, "nbf", claims->nbf)))
    {
        goto out;
    }

    token = jwt_encode_str(jwt);

out:

    jwt_free(jwt);
    return token;
}


char *
nano_token_encrypt(const nano_keyring_t *kr, const nano_claims_t *claims)
{
    char    *json, *token;
    json_t  *obj;

    token = NULL;
    json = NULL;

    if (nano_keyring_count(kr) == 0 || claims->sub.len == 0
        || claims->exp == 0)
    {
        return NULL;
    }

    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }

    /* next-auth's order: its jwt callback's token, then EncryptJWT's
       setIssuedAt, setExpirationTime and setJti */
    if (nano_token_set_str(obj, "name", &claims->name) != 0
        || nano_token_set_str(obj, "email", &claims->email) != 0
        || nano_token_set_str(obj, "picture", &claims->picture) != 0
        || nano_token_set_str(obj, "sub", &claims->sub) != 0
        || (claims->has_iat
            && json_object_set_new(obj, "iat", json_integer(claims->iat)))
        || json_object_set_new(obj, "exp", json_integer(claims->exp)) != 0
        || (claims->has_nbf
            && json_object_set_new(obj, "nbf", json_integer(claims->nbf)))
        || nano_token_set_str(obj, "jti", &claims->jti) != 0)
    {
        goto out;
    }

    json = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (json == NULL) {
        goto out;
    }

    token = nano_jwe_seal(kr, json, strlen(json));

out:

    if (json) {
        memset(json, 0, strlen(json));
        free(json);
    }
    json_decref(obj);
    return token;
}


/* Absent optional claims are left out rather than written as "". */
static int
nano_token_add_str(jwt_t *jwt, const char *name, const nano_str_t *value)
{
    if (value->data == NULL || value->len == 0) {
        return 0;
    }

    return jwt_add_grant(jwt, name, value->data);
}


/* As nano_token_add_str; a string that is not UTF-8 is an error. */
static int
nano_token_set_str(json_t *obj, const char *name, const nano_str_t *value)
{
    json_t  *s;

    if (value->data == NULL || value->len == 0) {
        return 0;
    }

    s = json_stringn(value->data, value->len);
    if (s == NULL) {
        return -1;
    }

    return json_object_set_new(obj, name, s);
}
