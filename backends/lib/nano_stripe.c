/*
 * Stripe-Signature: parsing the header and checking its v1 values.
 */

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "nano_hex.h"
#include "nano_stripe.h"

#define NANO_STRIPE_T_DIGITS_MAX  12        /* year 33658: enough */

int
nano_stripe_sig_compute(const char *secret, long long t, const char *body,
    size_t body_len, char *out)
{
    unsigned char       mac[EVP_MAX_MD_SIZE];
    char                prefix[32];
    char                digest[] = "SHA256";
    OSSL_PARAM          params[2];
    EVP_MAC            *m;
    EVP_MAC_CTX        *ctx = NULL;
    size_t              maclen = 0;
    int                 n, rc = -1;

    if (secret == NULL || t < 0) {
        return -1;
    }
    n = snprintf(prefix, sizeof(prefix), "%lld.", t);
    m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (m == NULL || (ctx = EVP_MAC_CTX_new(m)) == NULL) {
        goto out;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    /* the key is the secret's bytes as given: "whsec_..." is not decoded */
    if (EVP_MAC_init(ctx, (const unsigned char *) secret, strlen(secret),
                     params) != 1
        || EVP_MAC_update(ctx, (const unsigned char *) prefix,
                          (size_t) n) != 1
        || (body_len > 0
            && EVP_MAC_update(ctx, (const unsigned char *) body,
                              body_len) != 1)
        || EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) != 1
        || maclen * 2 != NANO_STRIPE_SIG_LEN)
    {
        goto out;
    }
    nano_hex_encode(out, mac, maclen);
    rc = 0;
out:
    OPENSSL_cleanse(mac, sizeof(mac));
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return rc;
}

/* One "key=value" element of the header, spaces and tabs around the
 * element and its value dropped. */
typedef struct {
    const char  *key;
    size_t       klen;
    const char  *val;
    size_t       vlen;
} nano_stripe_el_t;

static void
nano_stripe_trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t')) {
        (*s)++;
    }
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) {
        (*e)--;
    }
}

/*
 * Reads the element at *p (up to the next ',' or end) into el and moves
 * *p past it.  Returns 1 for an element, 0 at the end, -1 for one that
 * is no "key=value" (empty, no '=', no key).
 */
static int
nano_stripe_next(const char **p, const char *end, nano_stripe_el_t *el)
{
    const char  *s = *p, *e, *eq;

    if (s == NULL) {
        return 0;
    }
    e = memchr(s, ',', (size_t) (end - s));
    *p = e != NULL ? e + 1 : NULL;
    if (e == NULL) {
        e = end;
    }
    nano_stripe_trim(&s, &e);
    eq = memchr(s, '=', (size_t) (e - s));
    if (eq == NULL || eq == s) {
        return -1;
    }
    el->key = s;
    el->klen = (size_t) (eq - s);
    s = eq + 1;
    nano_stripe_trim(&s, &e);
    el->val = s;
    el->vlen = (size_t) (e - s);
    return 1;
}

static int
nano_stripe_is(const nano_stripe_el_t *el, const char *key)
{
    return el->klen == strlen(key) && memcmp(el->key, key, el->klen) == 0;
}

/* The value of a "t" element, or -1 when it is not a decimal time. */
static long long
nano_stripe_time(const nano_stripe_el_t *el)
{
    long long  ts = 0;
    size_t     i;

    if (el->vlen == 0 || el->vlen > NANO_STRIPE_T_DIGITS_MAX) {
        return -1;
    }
    for (i = 0; i < el->vlen; i++) {
        if (el->val[i] < '0' || el->val[i] > '9') {
            return -1;
        }
        ts = ts * 10 + (el->val[i] - '0');
    }
    return ts;
}

nano_stripe_sig_t
nano_stripe_sig_verify(const char *header, size_t len, const char *body,
    size_t body_len, const char *secret, long long now, long long tolerance,
    long long *t)
{
    char               expected[NANO_STRIPE_SIG_LEN + 1];
    nano_stripe_el_t   el;
    const char        *p, *end;
    long long          ts = -1;
    int                rc, v1 = 0, match = 0;

    if (t != NULL) {
        *t = -1;
    }
    if (secret == NULL || secret[0] == '\0') {
        return NANO_STRIPE_SIG_NO_SECRET;
    }
    if (header == NULL || len == 0) {
        return NANO_STRIPE_SIG_MISSING;
    }
    if (len > NANO_STRIPE_HEADER_MAX || memchr(header, '\0', len) != NULL) {
        return NANO_STRIPE_SIG_MALFORMED;
    }
    end = header + len;

    /* first pass: every element well formed, exactly one timestamp */
    p = header;
    while ((rc = nano_stripe_next(&p, end, &el)) != 0) {
        if (rc < 0) {
            return NANO_STRIPE_SIG_MALFORMED;
        }
        if (nano_stripe_is(&el, "t")) {
            if (ts >= 0 || (ts = nano_stripe_time(&el)) < 0) {
                return NANO_STRIPE_SIG_MALFORMED;
            }
        } else if (nano_stripe_is(&el, "v1")) {
            v1++;
        }
    }
    if (ts < 0) {
        return NANO_STRIPE_SIG_MALFORMED;
    }
    if (t != NULL) {
        *t = ts;
    }
    if (v1 == 0) {
        return NANO_STRIPE_SIG_NO_V1;
    }
    if (nano_stripe_sig_compute(secret, ts, body, body_len, expected) != 0) {
        return NANO_STRIPE_SIG_MISMATCH;
    }

    /* second pass: every v1 compared in constant time, none skipped */
    p = header;
    while (nano_stripe_next(&p, end, &el) > 0) {
        if (nano_stripe_is(&el, "v1") && el.vlen == NANO_STRIPE_SIG_LEN) {
            match |= CRYPTO_memcmp(expected, el.val,
                                   NANO_STRIPE_SIG_LEN) == 0;
        }
    }
    OPENSSL_cleanse(expected, sizeof(expected));
    if (!match) {
        return NANO_STRIPE_SIG_MISMATCH;
    }
    if (tolerance >= 0 && (ts < now - tolerance || ts > now + tolerance)) {
        return NANO_STRIPE_SIG_STALE;
    }
    return NANO_STRIPE_SIG_OK;
}

const char *
nano_stripe_sig_why(nano_stripe_sig_t verdict)
{
    switch (verdict) {
    case NANO_STRIPE_SIG_OK:
        return "the signature is valid";
    case NANO_STRIPE_SIG_NO_SECRET:
        return "no webhook secret is configured";
    case NANO_STRIPE_SIG_MISSING:
        return "no Stripe-Signature header";
    case NANO_STRIPE_SIG_MALFORMED:
        return "the Stripe-Signature header is malformed";
    case NANO_STRIPE_SIG_NO_V1:
        return "the Stripe-Signature header has no v1 signature";
    case NANO_STRIPE_SIG_MISMATCH:
        return "no v1 signature matches the body";
    case NANO_STRIPE_SIG_STALE:
        return "the signature's timestamp is outside the tolerance";
    }
    return "the signature was refused";
}
