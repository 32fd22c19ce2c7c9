/*
 * Whether two sets of token claims say the same, for the fuzzers' round
 * trips (a token issued from what was read must read back the same).
 */

#ifndef TEST_CLAIMS_H
#define TEST_CLAIMS_H

#include <string.h>

#include "nano_token.h"

static inline int
test_str_eq(const nano_str_t *a, const nano_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static inline int
test_claims_eq(const nano_claims_t *a, const nano_claims_t *b)
{
    return test_str_eq(&a->sub, &b->sub) && test_str_eq(&a->email, &b->email)
           && test_str_eq(&a->name, &b->name)
           && test_str_eq(&a->picture, &b->picture)
           && test_str_eq(&a->jti, &b->jti) && a->exp == b->exp
           && a->has_iat == b->has_iat && (!a->has_iat || a->iat == b->iat)
           && a->has_nbf == b->has_nbf && (!a->has_nbf || a->nbf == b->nbf);
}

#endif /* TEST_CLAIMS_H */
