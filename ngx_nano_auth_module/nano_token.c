/*
 * Session token verification and the key ring behind it: HS256 compact
 * JWS here, NextAuth's JWE in nano_jwe.c, the JSON they share in
 * nano_jose.c.
 *
 * The gateway verifies a token on every request its cache misses, so
 * this path neither fetches algorithms nor allocates: each key's HMAC
 * inner and outer SHA-256 states, and its JWE key, are computed once when
 * the key file is loaded, and a verification only copies those structs.
 * OpenSSL 3's EVP layer would allocate on every context duplicate
 * (measured: 730 ns against 425 ns per token), which is why this file
 * uses the SHA256_* functions, still provided throughout OpenSSL 3.x.
 */

/* SHA256_* are deprecated in OpenSSL 3.0 but remain; see above. */
#define OPENSSL_API_COMPAT  10101

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "nano_jose.h"
#include "nano_jwe.h"
#include "nano_token.h"

#define NANO_HS256_LEN       32
#define NANO_KEYFILE_MAX     (64 * 1024)

typedef struct {
    unsigned char   *key;
    size_t           len;
    SHA256_CTX       inner;    /* after absorbing key ^ ipad */
    SHA256_CTX       outer;    /* after absorbing key ^ opad */
    unsigned char    jwe_key[NANO_JWE_KEY_LEN];  /* HKDF, as next-auth */
    char             kid[NANO_KID_MAX_LEN + 1];
    size_t           kid_len;  /* 0: no kid */
} nano_key_t;

struct nano_keyring_s {
    size_t           nkeys;
    unsigned         has_kids; /* some key has a kid */
    nano_key_t       keys[NANO_KEYS_MAX];
};


static int nano_keyring_line(nano_keyring_t *kr, const char *line,
    size_t len, size_t lineno, char *err, size_t errlen);
static ssize_t nano_keyring_field(const char *in, size_t len, char *out,
    size_t cap);
static int nano_keyring_add(nano_keyring_t *kr, const char *key, size_t len,
    const char *kid, size_t kid_len);
static nano_token_reason_t nano_jws_open(const nano_keyring_t *kr,
    const char *token, size_t len, const char *dot1, const char *dot2,
    char *scratch, size_t scratch_len, nano_claims_t *claims);
static int nano_hs256_matches(const nano_keyring_t *kr, size_t first,
    size_t last, const char *msg, size_t len, const unsigned char *sig);
static int nano_str_is(const nano_str_t *s, const char *literal);


nano_keyring_t *
nano_keyring_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    int              v2;
    size_t           lineno, klen, i;
    const char      *p, *end, *nl, *k;
    nano_keyring_t  *kr;

    kr = calloc(1, sizeof(nano_keyring_t));
    if (kr == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    p = buf;
    end = buf + len;
    v2 = 0;

    for (lineno = 1; p < end; lineno++) {
        nl = memchr(p, '\n', end - p);
        k = p;
        klen = (nl ? nl : end) - p;
        p = nl ? nl + 1 : end;

        if (klen && k[klen - 1] == '\r') {
            klen--;
        }

        if (lineno == 1 && klen == sizeof(NANO_KEYFILE_MAGIC) - 1
            && memcmp(k, NANO_KEYFILE_MAGIC, klen) == 0)
        {
            v2 = 1;
            continue;
        }

        /* a line of only blanks counts as blank, not as a short key;
           bounded by klen, as buf need not be NUL-terminated */
        for (i = 0; i < klen && (k[i] == ' ' || k[i] == '\t'); i++) {
            /* void */
        }
        if (i == klen) {
            continue;
        }

        if (v2) {
            if (k[0] == '#') {
                continue;
            }

            if (nano_keyring_line(kr, k, klen, lineno, err, errlen) != 0) {
                goto failed;
            }

            continue;
        }

        if (klen < NANO_KEY_MIN_LEN) {
            snprintf(err, errlen, "key on line %zu is shorter than %d bytes",
                     lineno, NANO_KEY_MIN_LEN);
            goto failed;
        }

        if (klen > NANO_KEY_MAX_LEN) {
            snprintf(err, errlen, "key on line %zu is longer than %d bytes",
                     lineno, NANO_KEY_MAX_LEN);
            goto failed;
        }

        if (kr->nkeys == NANO_KEYS_MAX) {
            snprintf(err, errlen, "more than %d keys", NANO_KEYS_MAX);
            goto failed;
        }

        if (nano_keyring_add(kr, k, klen, NULL, 0) != 0) {
            snprintf(err, errlen, "cannot prepare the key on line %zu",
                     lineno);
            goto failed;
        }
    }

    if (kr->nkeys == 0) {
        snprintf(err, errlen, "no keys");
        goto failed;
    }

    return kr;

failed:

    nano_keyring_free(kr);
    return NULL;
}


/* One format 2 line that is not blank nor a comment: "[<kid> ]<key>". */
static int
nano_keyring_line(nano_keyring_t *kr, const char *line, size_t len,
    size_t lineno, char *err, size_t errlen)
{
    int          rc;
    size_t       i;
    ssize_t      klen, idlen;
    const char  *sp, *key;
    char         kid[NANO_KID_MAX_LEN + 1], buf[NANO_KEY_MAX_LEN];

    rc = -1;
    idlen = 0;
    key = line;

    sp = memchr(line, ' ', len);

    if (sp) {
        idlen = nano_keyring_field(line, sp - line, kid, sizeof(kid) - 1);
        if (idlen <= 0) {
            snprintf(err, errlen, "line %zu: the kid is not 1 to %d "
                     "percent-encoded bytes", lineno, NANO_KID_MAX_LEN);
            goto out;
        }

        for (i = 0; i < (size_t) idlen; i++) {
            if (kid[i] < 0x20 || kid[i] > 0x7e) {
                snprintf(err, errlen, "line %zu: a kid is printable ASCII",
                         lineno);
                goto out;
            }
        }

        kid[idlen] = '\0';

        for (i = 0; i < kr->nkeys; i++) {
            if (kr->keys[i].kid_len == (size_t) idlen
                && memcmp(kr->keys[i].kid, kid, idlen) == 0)
            {
                snprintf(err, errlen, "line %zu: kid \"%s\" is given twice",
                         lineno, kid);
                goto out;
            }
        }

        key = sp + 1;
        len -= sp + 1 - line;
    }

    klen = nano_keyring_field(key, len, buf, sizeof(buf));

    if (klen < 0) {
        snprintf(err, errlen, "line %zu: not \"<key>\" or \"<kid> <key>\", "
                 "percent-encoded, one space apart, at most %d bytes",
                 lineno, NANO_KEY_MAX_LEN);
        goto out;
    }

    if (klen < NANO_KEY_MIN_LEN) {
        snprintf(err, errlen, "key on line %zu is shorter than %d bytes",
                 lineno, NANO_KEY_MIN_LEN);
        goto out;
    }

    if (kr->nkeys == NANO_KEYS_MAX) {
        snprintf(err, errlen, "more than %d keys", NANO_KEYS_MAX);
        goto out;
    }

    if (nano_keyring_add(kr, buf, klen, idlen ? kid : NULL, idlen) != 0) {
        snprintf(err, errlen, "cannot prepare the key on line %zu", lineno);
        goto out;
    }

    rc = 0;

out:

    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}


/*
 * Decodes one percent-encoded field: bytes 0x21..0x7e other than '%'
 * stand for themselves, "%XX" (hex, either case) for any byte.  Returns
 * the decoded length, or -1 for anything else or more than cap bytes.
 */
static ssize_t
nano_keyring_field(const char *in, size_t len, char *out, size_t cap)
{
    size_t          i, n;
    unsigned char   c;
    int             hi, lo;

    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) in[i];

        if (c < 0x21 || c > 0x7e || n == cap) {
            return -1;
        }

        if (c == '%') {
            if (len - i < 3) {
                return -1;
            }

            hi = OPENSSL_hexchar2int((unsigned char) in[i + 1]);
            lo = OPENSSL_hexchar2int((unsigned char) in[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }

            c = (unsigned char) (hi << 4 | lo);
            i += 2;
        }

        out[n++] = (char) c;
    }

    return (ssize_t) n;
}


nano_keyring_t *
nano_keyring_load(const char *path, char *err, size_t errlen)
{
    char            *buf;
    size_t           n;
    FILE            *f;
    char             why[200];
    nano_keyring_t  *kr;

    kr = NULL;
    buf = NULL;

    if (path == NULL || *path == '\0') {
        snprintf(err, errlen, "no key file given");
        return NULL;
    }

    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open key file \"%s\": %s", path,
                 strerror(errno));
        return NULL;
    }

    buf = malloc(NANO_KEYFILE_MAX + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }

    n = fread(buf, 1, NANO_KEYFILE_MAX + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read key file \"%s\": %s", path,
                 strerror(errno));
        goto out;
    }

    if (n > NANO_KEYFILE_MAX) {
        snprintf(err, errlen, "key file \"%s\" is larger than %d bytes",
                 path, NANO_KEYFILE_MAX);
        goto out;
    }

    kr = nano_keyring_parse(buf, n, why, sizeof(why));
    if (kr == NULL) {
        snprintf(err, errlen, "key file \"%s\": %s", path, why);
    }

out:

    if (buf) {
        OPENSSL_cleanse(buf, NANO_KEYFILE_MAX + 1);
        free(buf);
    }
    fclose(f);
    return kr;
}


void
nano_keyring_free(nano_keyring_t *kr)
{
    size_t  i;

    if (kr == NULL) {
        return;
    }

    for (i = 0; i < kr->nkeys; i++) {
        OPENSSL_clear_free(kr->keys[i].key, kr->keys[i].len);
    }

    OPENSSL_cleanse(kr, sizeof(nano_keyring_t));
    free(kr);
}


size_t
nano_keyring_count(const nano_keyring_t *kr)
{
    return kr ? kr->nkeys : 0;
}


const unsigned char *
nano_keyring_signing_key(const nano_keyring_t *kr, size_t *len)
{
    if (kr == NULL || kr->nkeys == 0) {
        *len = 0;
        return NULL;
    }

    *len = kr->keys[0].len;
    return kr->keys[0].key;
}



const char *
nano_keyring_kid(const nano_keyring_t *kr, size_t i, size_t *len)
{
    if (kr == NULL || i >= kr->nkeys || kr->keys[i].kid_len == 0) {
        *len = 0;
        return NULL;
    }

    *len = kr->keys[i].kid_len;
    return kr->keys[i].kid;
}


int
nano_keyring_candidates(const nano_keyring_t *kr, const nano_str_t *kid,
    size_t *first, size_t *last)
{
    size_t  i;

    if (kid->data == NULL || !kr->has_kids) {
        *first = 0;
        *last = kr->nkeys;
        return 0;
    }

    /* which key a token names is no secret: a plain compare will do */
    for (i = 0; i < kr->nkeys; i++) {
        if (kr->keys[i].kid_len != 0 && kr->keys[i].kid_len == kid->len
            && memcmp(kr->keys[i].kid, kid->data, kid->len) == 0)
        {
            *first = i;
            *last = i + 1;
            return 0;
        }
    }

    return -1;
}


const unsigned char *
nano_keyring_jwe_key(const nano_keyring_t *kr, size_t i)
{
    return kr->keys[i].jwe_key;
}


const char *
nano_token_status_name(nano_token_status_t status)
{
    switch (status) {
    case NANO_TOKEN_OK:
        return "ok";
    case NANO_TOKEN_MISSING:
        return "missing";
    case NANO_TOKEN_EXPIRED:
        return "expired";
    case NANO_TOKEN_REVOKED:
        return "revoked";
    default:
        return "invalid";
    }
}


const char *
nano_token_reason_name(nano_token_reason_t reason)
{
    static const char  *names[] = {
        "", "missing", "malformed", "conflict", "unsupported", "unknown_kid",
        "bad_signature", "bad_claims", "not_yet_valid", "expired", "revoked"
    };

    if ((size_t) reason >= sizeof(names) / sizeof(names[0])) {
        return "malformed";
    }

    return names[reason];
}


nano_token_status_t
nano_token_reason_status(nano_token_reason_t reason)
{
    switch (reason) {
    case NANO_TOKEN_REASON_OK:
        return NANO_TOKEN_OK;
    case NANO_TOKEN_REASON_MISSING:
        return NANO_TOKEN_MISSING;
    case NANO_TOKEN_REASON_EXPIRED:
        return NANO_TOKEN_EXPIRED;
    case NANO_TOKEN_REASON_REVOKED:
        return NANO_TOKEN_REVOKED;
    default:
        return NANO_TOKEN_INVALID;
    }
}


nano_token_reason_t
nano_token_open(const nano_keyring_t *kr, nano_jwe_ctx_t *jwe,
    const char *token, size_t len, char *scratch, size_t scratch_len,
    nano_claims_t *claims, nano_token_format_t *format)
{
    size_t               dots;
    const char          *p, *end, *dot[5];
    nano_token_reason_t  reason;

    memset(claims, 0, sizeof(nano_claims_t));

    if (len == 0) {
        return NANO_TOKEN_REASON_MISSING;
    }

    if (kr == NULL || len > NANO_TOKEN_MAX_LEN || scratch_len < len + 1) {
        return NANO_TOKEN_REASON_MALFORMED;
    }

    p = token;
    end = token + len;

    for (dots = 0; dots < 5; dots++) {
        dot[dots] = memchr(p, '.', end - p);
        if (dot[dots] == NULL) {
            break;
        }
        p = dot[dots] + 1;
    }

    switch (dots) {
    case 2:
        *format = NANO_TOKEN_JWS;
        reason = nano_jws_open(kr, token, len, dot[0], dot[1], scratch,
                               scratch_len, claims);
        break;

    case 4:
        *format = NANO_TOKEN_JWE;
        reason = nano_jwe_open(kr, jwe, token, len, scratch, scratch_len,
                               claims);
        break;

    default:
        reason = NANO_TOKEN_REASON_MALFORMED;
    }

    if (reason != NANO_TOKEN_REASON_OK) {
        memset(claims, 0, sizeof(nano_claims_t));
    }

    return reason;
}


nano_token_reason_t
nano_token_check_time(const nano_claims_t *claims, nano_token_format_t format,
    long long now, long long leeway)
{
    if (format == NANO_TOKEN_JWE && leeway > NANO_JWE_LEEWAY) {
        leeway = NANO_JWE_LEEWAY;
    }

    if ((claims->has_nbf && claims->nbf > now + leeway)
        || (claims->has_iat && claims->iat > now + leeway))
    {
        return NANO_TOKEN_REASON_NOT_YET_VALID;
    }

    if (claims->exp <= now - leeway) {
        return NANO_TOKEN_REASON_EXPIRED;
    }

    return NANO_TOKEN_REASON_OK;
}


nano_token_reason_t
nano_token_check_session(const nano_claims_t *claims,
    nano_token_format_t format, long long now, long long leeway,
    long long max_age)
{
    nano_token_reason_t  reason;

    reason = nano_token_check_time(claims, format, now, leeway);

    if (reason != NANO_TOKEN_REASON_OK || max_age <= 0 || !claims->has_iat) {
        return reason;
    }

    if (format == NANO_TOKEN_JWE && leeway > NANO_JWE_LEEWAY) {
        leeway = NANO_JWE_LEEWAY;
    }

    /* iat is at most now + leeway here: no overflow past the sum */
    if (claims->iat <= now - leeway - max_age) {
        return NANO_TOKEN_REASON_EXPIRED;
    }

    return NANO_TOKEN_REASON_OK;
}


nano_token_status_t
nano_token_verify(const nano_keyring_t *kr, const char *token, size_t len,
    long long now, long long leeway, char *scratch, size_t scratch_len,
    nano_claims_t *claims)
{
    nano_token_format_t  format;
    nano_token_reason_t  reason;

    reason = nano_token_open(kr, NULL, token, len, scratch, scratch_len,
                             claims, &format);

    if (reason == NANO_TOKEN_REASON_OK) {
        reason = nano_token_check_time(claims, format, now, leeway);
        if (reason != NANO_TOKEN_REASON_OK) {
            memset(claims, 0, sizeof(nano_claims_t));
        }
    }

    return nano_token_reason_status(reason);
}


/*
 * A JWS: header first (its kid picks the key; alg must be HS256), then
 * the MAC, and only then the claims.
 */
static nano_token_reason_t
nano_jws_open(const nano_keyring_t *kr, const char *token, size_t len,
    const char *dot1, const char *dot2, char *scratch, size_t scratch_len,
    nano_claims_t *claims)
{
    size_t               first, last, hlen, plen, slen;
    ssize_t              n;
    const char          *payload, *sig;
    unsigned char        mac[NANO_HS256_LEN + 4];
    nano_jose_header_t   h;

    payload = dot1 + 1;
    sig = dot2 + 1;
    hlen = dot1 - token;
    plen = dot2 - payload;
    slen = token + len - sig;

    /* an HS256 signature is 32 bytes: exactly 43 base64url characters */
    if (hlen == 0 || plen == 0 || slen != 43) {
        return NANO_TOKEN_REASON_MALFORMED;
    }

    n = nano_jose_b64url_decode(sig, slen, mac, sizeof(mac));
    if (n != NANO_HS256_LEN) {
        return NANO_TOKEN_REASON_MALFORMED;
    }

    n = nano_jose_b64url_decode(token, hlen, (unsigned char *) scratch,
                                scratch_len);
    if (n < 0 || nano_jose_header(scratch, n, &h) != 0) {
        return NANO_TOKEN_REASON_MALFORMED;
    }

    if (!nano_str_is(&h.alg, "HS256") || h.enc.data || h.zip || h.crit) {
        return NANO_TOKEN_REASON_UNSUPPORTED;
    }

    if (nano_keyring_candidates(kr, &h.kid, &first, &last) != 0) {
        return NANO_TOKEN_REASON_UNKNOWN_KID;
    }

    if (!nano_hs256_matches(kr, first, last, token, dot2 - token, mac)) {
        return NANO_TOKEN_REASON_BAD_SIGNATURE;
    }

    n = nano_jose_b64url_decode(payload, plen, (unsigned char *) scratch,
                                scratch_len - 1);
    if (n < 0) {
        return NANO_TOKEN_REASON_MALFORMED;
    }

    if (nano_jose_claims(scratch, n, claims) != 0
        || claims->sub.len == 0)
    {
        return NANO_TOKEN_REASON_BAD_CLAIMS;
    }

    return NANO_TOKEN_REASON_OK;
}


static int
nano_keyring_add(nano_keyring_t *kr, const char *key, size_t len,
    const char *kid, size_t kid_len)
{
    size_t          i;
    nano_key_t     *k;
    unsigned char   block[SHA256_CBLOCK], pad[SHA256_CBLOCK];

    k = &kr->keys[kr->nkeys];

    k->key = malloc(len);
    if (k->key == NULL) {
        return -1;
    }

    memcpy(k->key, key, len);
    k->len = len;

    /* next-auth derives its JWE key from the secret's bytes */
    if (nano_jwe_derive_key((const unsigned char *) key, len, k->jwe_key)
        != 0)
    {
        OPENSSL_clear_free(k->key, len);
        k->key = NULL;
        return -1;
    }

    if (kid) {
        memcpy(k->kid, kid, kid_len);
        k->kid[kid_len] = '\0';
        k->kid_len = kid_len;
        kr->has_kids = 1;
    }

    /* RFC 2104: a key longer than the block is hashed first */
    memset(block, 0, sizeof(block));
    if (len > SHA256_CBLOCK) {
        SHA256((const unsigned char *) key, len, block);
    } else {
        memcpy(block, key, len);
    }

    for (i = 0; i < SHA256_CBLOCK; i++) {
        pad[i] = block[i] ^ 0x36;
    }
    SHA256_Init(&k->inner);
    SHA256_Update(&k->inner, pad, SHA256_CBLOCK);

    for (i = 0; i < SHA256_CBLOCK; i++) {
        pad[i] = block[i] ^ 0x5c;
    }
    SHA256_Init(&k->outer);
    SHA256_Update(&k->outer, pad, SHA256_CBLOCK);

    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));

    kr->nkeys++;
    return 0;
}


/*
 * Keys [first, last) are tried in order and the first match wins: which
 * key signed a token is no secret, only the MAC bytes are, and those are
 * compared in constant time.
 */
static int
nano_hs256_matches(const nano_keyring_t *kr, size_t first, size_t last,
    const char *msg, size_t len, const unsigned char *sig)
{
    int             ok;
    size_t          i;
    SHA256_CTX      ctx;
    unsigned char   inner[SHA256_DIGEST_LENGTH], mac[SHA256_DIGEST_LENGTH];

    ok = 0;

    for (i = first; i < last && !ok; i++) {
        ctx = kr->keys[i].inner;
        SHA256_Update(&ctx, msg, len);
        SHA256_Final(inner, &ctx);

        ctx = kr->keys[i].outer;
        SHA256_Update(&ctx, inner, sizeof(inner));
        SHA256_Final(mac, &ctx);

        /* constant time comparison */
        ok = (CRYPTO_memcmp(mac, sig, NANO_HS256_LEN) == 0);
    }

    OPENSSL_cleanse(&ctx, sizeof(ctx));
    return ok;
}


static int
nano_str_is(const nano_str_t *s, const char *literal)
{
    size_t  n;

    n = strlen(literal);
    return s->data != NULL && s->len == n && memcmp(s->data, literal, n) == 0;
}
