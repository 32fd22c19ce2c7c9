/*
 * OpenID Connect ID token verification: RS256 only, then the claims.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nano_idtoken.h"
#include "nano_oauth.h"
#include "nano_token.h"

void
nano_idtoken_claims_init(nano_idtoken_claims_t *c)
{
    memset(c, 0, sizeof(*c));
}

void
nano_idtoken_claims_cleanup(nano_idtoken_claims_t *c)
{
    if (c == NULL) {
        return;
    }
    free(c->sub);
    free(c->email);
    free(c->name);
    free(c->picture);
    nano_idtoken_claims_init(c);
}

/* Decodes one base64url part holding a JSON object; NULL otherwise. */
static json_t *
nano_idtoken_part(const char *s, size_t len)
{
    unsigned char  *buf;
    json_t         *obj = NULL;
    ssize_t         n;

    buf = malloc(len + 1);
    if (buf == NULL) {
        return NULL;
    }
    n = nano_b64url_decode(s, len, buf, len);
    if (n > 0) {
        obj = json_loadb((const char *) buf, (size_t) n,
                         JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(obj)) {
            json_decref(obj);
            obj = NULL;
        }
    }
    free(buf);
    return obj;
}

/* A claim as a whole number of seconds; 0 when absent or not a number. */
static int
nano_idtoken_time(json_t *claims, const char *name, long long *out)
{
    json_t  *v = json_object_get(claims, name);
    double   d;

    if (json_is_integer(v)) {
        *out = (long long) json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
        if (d > -1e15 && d < 1e15) {
            *out = (long long) d;
            return 1;
        }
    }
    return 0;
}

/* A copy of a string claim that is non-empty and free of control
 * characters, else NULL (absent).  *nomem is set when a copy failed. */
static char *
nano_idtoken_string(json_t *claims, const char *name, int *nomem)
{
    json_t      *v = json_object_get(claims, name);
    nano_str_t   s;
    char        *out;

    if (!json_is_string(v) || json_string_length(v) == 0) {
        return NULL;
    }
    s.data = json_string_value(v);
    s.len = json_string_length(v);
    if (strlen(s.data) != s.len || nano_has_control(&s)) {
        return NULL;
    }
    out = strdup(s.data);
    if (out == NULL) {
        *nomem = 1;
    }
    return out;
}

static nano_idtoken_status_t
nano_idtoken_audience(json_t *claims, const char *client_id)
{
    json_t  *aud = json_object_get(claims, "aud");
    json_t  *azp = json_object_get(claims, "azp");
    json_t  *v;
    size_t   i;
    int      found = 0;

    if (json_is_string(aud)) {
        found = strcmp(json_string_value(aud), client_id) == 0;
    } else if (json_is_array(aud)) {
        json_array_foreach(aud, i, v) {
            if (!json_is_string(v)) {
                return NANO_IDTOKEN_AUDIENCE;
            }
            found |= strcmp(json_string_value(v), client_id) == 0;
        }
        /* several audiences: the party it was issued to must be us */
        if (json_array_size(aud) > 1 && azp == NULL) {
            return NANO_IDTOKEN_AUDIENCE;
        }
    }
    if (!found || (azp != NULL && (!json_is_string(azp)
                                   || strcmp(json_string_value(azp),
                                             client_id) != 0)))
    {
        return NANO_IDTOKEN_AUDIENCE;
    }
    return NANO_IDTOKEN_OK;
}

/* The checks on the payload once the signature holds. */
static nano_idtoken_status_t
nano_idtoken_claims(json_t *claims, const nano_idtoken_check_t *check,
    nano_idtoken_claims_t *out)
{
    json_t                 *iss = json_object_get(claims, "iss");
    json_t                 *nonce = json_object_get(claims, "nonce");
    json_t                 *verified = json_object_get(claims, "email_verified");
    nano_idtoken_status_t   st;
    long long               exp, iat, nbf;
    int                     nomem = 0;
    size_t                  i;

    if (!json_is_string(iss) || strcmp(json_string_value(iss),
                                       check->issuer) != 0)
    {
        return NANO_IDTOKEN_ISSUER;
    }
    st = nano_idtoken_audience(claims, check->client_id);
    if (st != NANO_IDTOKEN_OK) {
        return st;
    }
    if (!nano_idtoken_time(claims, "exp", &exp)
        || exp + check->leeway < check->now)
    {
        return NANO_IDTOKEN_EXPIRED;
    }
    if (!nano_idtoken_time(claims, "iat", &iat)
        || iat > check->now + check->leeway
        || (json_object_get(claims, "nbf") != NULL
            && (!nano_idtoken_time(claims, "nbf", &nbf)
                || nbf > check->now + check->leeway)))
    {
        return NANO_IDTOKEN_NOT_YET;
    }
    if (check->nonce != NULL
        && (!json_is_string(nonce)
            || !nano_oauth_equal(json_string_value(nonce), check->nonce)))
    {
        return NANO_IDTOKEN_NONCE;
    }

    out->sub = nano_idtoken_string(claims, "sub", &nomem);
    if (out->sub == NULL) {
        return nomem ? NANO_IDTOKEN_NOMEM : NANO_IDTOKEN_SUBJECT;
    }
    /* OIDC: at most 255 ASCII characters */
    for (i = 0; out->sub[i] != '\0'; i++) {
        if ((unsigned char) out->sub[i] > 0x7e || i >= NANO_IDTOKEN_SUB_MAX) {
            return NANO_IDTOKEN_SUBJECT;
        }
    }
    out->email = nano_idtoken_string(claims, "email", &nomem);
    out->name = nano_idtoken_string(claims, "name", &nomem);
    out->picture = nano_idtoken_string(claims, "picture", &nomem);
    out->email_verified = json_is_true(verified)
                          || (json_is_string(verified)
                              && strcmp(json_string_value(verified), "true")
                                 == 0);
    return nomem ? NANO_IDTOKEN_NOMEM : NANO_IDTOKEN_OK;
}

nano_idtoken_status_t
nano_idtoken_verify(const char *token, const nano_jwks_t *keys,
    const nano_idtoken_check_t *check, nano_idtoken_claims_t *claims)
{
    const char             *dot1, *dot2;
    json_t                 *header = NULL, *payload = NULL, *alg, *kid;
    unsigned char          *sig = NULL;
    EVP_PKEY               *key;
    nano_idtoken_status_t   st = NANO_IDTOKEN_MALFORMED;
    size_t                  len, slen;
    ssize_t                 n;

    if (token == NULL || (len = strlen(token)) == 0
        || len > NANO_IDTOKEN_MAX_LEN
        || (dot1 = strchr(token, '.')) == NULL
        || (dot2 = strchr(dot1 + 1, '.')) == NULL
        || strchr(dot2 + 1, '.') != NULL)
    {
        return NANO_IDTOKEN_MALFORMED;
    }
    header = nano_idtoken_part(token, (size_t) (dot1 - token));
    payload = nano_idtoken_part(dot1 + 1, (size_t) (dot2 - dot1 - 1));
    slen = strlen(dot2 + 1);
    sig = malloc(slen + 1);
    if (header == NULL || payload == NULL || sig == NULL) {
        goto out;
    }
    n = nano_b64url_decode(dot2 + 1, slen, sig, slen);
    if (n <= 0) {
        goto out;
    }

    /* RS256 pinned: never "none", never an HMAC keyed with a public key */
    alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "RS256") != 0
        || json_object_get(header, "crit") != NULL)
    {
        st = NANO_IDTOKEN_ALG;
        goto out;
    }
    kid = json_object_get(header, "kid");
    if (kid != NULL && !json_is_string(kid)) {
        goto out;
    }
    key = nano_jwks_find(keys, kid != NULL ? json_string_value(kid) : NULL);
    if (key == NULL) {
        st = NANO_IDTOKEN_NO_KEY;
        goto out;
    }
    if (!nano_jwks_verify_rs256(key, token, (size_t) (dot2 - token), sig,
                                (size_t) n))
    {
        st = NANO_IDTOKEN_SIGNATURE;
        goto out;
    }
    st = nano_idtoken_claims(payload, check, claims);
    if (st != NANO_IDTOKEN_OK) {
        nano_idtoken_claims_cleanup(claims);
    }
out:
    free(sig);
    json_decref(header);
    json_decref(payload);
    return st;
}

const char *
nano_idtoken_status_name(nano_idtoken_status_t st)
{
    static const char *const  names[] = {
        "ok", "malformed", "bad_alg", "no_key", "bad_signature",
        "wrong_issuer", "wrong_audience", "expired", "not_yet_valid",
        "wrong_nonce", "bad_subject", "out_of_memory",
    };

    return (size_t) st < sizeof(names) / sizeof(names[0]) ? names[st]
                                                          : "unknown";
}
