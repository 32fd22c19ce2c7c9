/*
 * Issuing session tokens (the platform's side).  Signing goes through
 * libjwt; verification stays in nano_token.c so the gateway needs no
 * libjwt at all.
 */

#include <stdlib.h>

#include <jwt.h>

#include "nano_token.h"


static int nano_token_add_str(jwt_t *jwt, const char *name,
    const nano_str_t *value);


char *
nano_token_sign(const nano_keyring_t *kr, const nano_claims_t *claims)
{
    char                 *token;
    jwt_t                *jwt;
    size_t                klen;
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

    if (jwt_set_alg(jwt, JWT_ALG_HS256, key, (int) klen) != 0
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


/* Absent optional claims are left out rather than written as "". */
static int
nano_token_add_str(jwt_t *jwt, const char *name, const nano_str_t *value)
{
    if (value->data == NULL || value->len == 0) {
        return 0;
    }

    return jwt_add_grant(jwt, name, value->data);
}
