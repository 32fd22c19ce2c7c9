/*
 * HS256 session token verification and the key ring behind it.
 *
 * The gateway verifies a token on every request, so the hot path neither
 * fetches algorithms nor allocates: each key's HMAC inner and outer
 * SHA-256 states are computed once when the key file is loaded, and a
 * verification only copies those structs.  OpenSSL 3's EVP layer would
 * allocate on every context duplicate (measured: 730 ns against 425 ns
 * per token), which is why this file uses the SHA256_* functions,
 * still provided throughout OpenSSL 3.x.
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

#include "nano_token.h"
#include "nano_utf8.h"

#define NANO_HS256_LEN       32
#define NANO_JSON_MAX_DEPTH  16
#define NANO_JSON_INT_MAX    999999999999LL     /* seconds: year 33658 */
#define NANO_KEYFILE_MAX     (64 * 1024)

typedef struct {
    unsigned char   *key;
    size_t           len;
    SHA256_CTX       inner;    /* after absorbing key ^ ipad */
    SHA256_CTX       outer;    /* after absorbing key ^ opad */
} nano_key_t;

struct nano_keyring_s {
    size_t           nkeys;
    nano_key_t       keys[NANO_KEYS_MAX];
};

/* A cursor over JSON text that is decoded in place. */
typedef struct {
    char            *p;
    char            *end;
} nano_json_t;

typedef int (*nano_json_field_pt)(nano_json_t *j, const nano_str_t *key,
    void *data);

typedef struct {
    nano_claims_t   *claims;
    unsigned         seen;     /* bit i: nano_claim_fields[i] was read */
} nano_claims_ctx_t;

enum {
    NANO_CLAIM_SUB = 0, NANO_CLAIM_EMAIL, NANO_CLAIM_NAME, NANO_CLAIM_PICTURE,
    NANO_CLAIM_JTI, NANO_CLAIM_EXP, NANO_CLAIM_IAT, NANO_CLAIM_NBF,
    NANO_CLAIMS_KNOWN
};

/* The claims we read, in the order of the enum above. */
#define NANO_CLAIM_FIELD(name, field, numeric)                                \
    { { name, sizeof(name) - 1 }, offsetof(nano_claims_t, field), numeric }

static const struct {
    nano_str_t       name;
    size_t           offset;
    unsigned         numeric;
} nano_claim_fields[NANO_CLAIMS_KNOWN] = {
    NANO_CLAIM_FIELD("sub", sub, 0),
    NANO_CLAIM_FIELD("email", email, 0),
    NANO_CLAIM_FIELD("name", name, 0),
    NANO_CLAIM_FIELD("picture", picture, 0),
    NANO_CLAIM_FIELD("jti", jti, 0),
    NANO_CLAIM_FIELD("exp", exp, 1),
    NANO_CLAIM_FIELD("iat", iat, 1),
    NANO_CLAIM_FIELD("nbf", nbf, 1),
};


static int nano_keyring_add(nano_keyring_t *kr, const char *key, size_t len);
static int nano_hs256_matches(const nano_keyring_t *kr, const char *msg,
    size_t len, const unsigned char *sig);
static int nano_json_object(char *json, size_t len, nano_json_field_pt field,
    void *data);
static int nano_header_field(nano_json_t *j, const nano_str_t *key,
    void *data);
static int nano_claim_field(nano_json_t *j, const nano_str_t *key,
    void *data);
static int nano_claims_parse(char *json, size_t len, nano_claims_t *claims);
static int nano_str_is(const nano_str_t *s, const char *literal);
static void nano_json_ws(nano_json_t *j);
static int nano_hex4(const char *p, unsigned long *out);
static int nano_json_string(nano_json_t *j, nano_str_t *out);
static int nano_utf8_copy(nano_json_t *j, char **w);
static int nano_utf8_put(char **w, unsigned long cp);
static int nano_json_number(nano_json_t *j, long long *out);
static int nano_isdigit(char c);
static int nano_json_skip(nano_json_t *j, int depth);
static int nano_json_literal(nano_json_t *j, const char *literal);


nano_keyring_t *
nano_keyring_parse(const char *buf, size_t len, char *err, size_t errlen)
{
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

    for (lineno = 1; p < end; lineno++) {
        nl = memchr(p, '\n', end - p);
        k = p;
        klen = (nl ? nl : end) - p;
        p = nl ? nl + 1 : end;

        if (klen && k[klen - 1] == '\r') {
            klen--;
        }

        /* a line of only blanks counts as blank, not as a short key;
           bounded by klen, as buf need not be NUL-terminated */
        for (i = 0; i < klen && (k[i] == ' ' || k[i] == '\t'); i++) {
            /* void */
        }
        if (i == klen) {
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

        if (nano_keyring_add(kr, k, klen) != 0) {
            snprintf(err, errlen, "out of memory");
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


nano_token_status_t
nano_token_verify(const nano_keyring_t *kr, const char *token, size_t len,
    long long now, long long leeway, char *scratch, size_t scratch_len,
    nano_claims_t *claims)
{
    int             alg_seen;
    ssize_t         n;
    const char     *dot1, *dot2, *payload, *sig;
    size_t          hlen, plen, slen;
    unsigned char   mac[NANO_HS256_LEN + 4];

    memset(claims, 0, sizeof(nano_claims_t));

    if (len == 0) {
        return NANO_TOKEN_MISSING;
    }

    if (kr == NULL || len > NANO_TOKEN_MAX_LEN || scratch_len < len + 1) {
        return NANO_TOKEN_INVALID;
    }

    dot1 = memchr(token, '.', len);
    if (dot1 == NULL) {
        return NANO_TOKEN_INVALID;
    }

    payload = dot1 + 1;
    dot2 = memchr(payload, '.', token + len - payload);
    if (dot2 == NULL) {
        return NANO_TOKEN_INVALID;
    }

    sig = dot2 + 1;
    hlen = dot1 - token;
    plen = dot2 - payload;
    slen = token + len - sig;

    /* an HS256 signature is 32 bytes: exactly 43 base64url characters */
    if (hlen == 0 || plen == 0 || slen != 43) {
        return NANO_TOKEN_INVALID;
    }

    n = nano_b64url_decode(sig, slen, mac, sizeof(mac));
    if (n != NANO_HS256_LEN) {
        return NANO_TOKEN_INVALID;
    }

    /* authenticate before parsing anything the client sent */
    if (!nano_hs256_matches(kr, token, dot2 - token, mac)) {
        return NANO_TOKEN_INVALID;
    }

    alg_seen = 0;
    n = nano_b64url_decode(token, hlen, (unsigned char *) scratch,
                           scratch_len);
    if (n < 0
        || nano_json_object(scratch, n, nano_header_field, &alg_seen) != 0
        || !alg_seen)
    {
        return NANO_TOKEN_INVALID;
    }

    n = nano_b64url_decode(payload, plen, (unsigned char *) scratch,
                           scratch_len - 1);
    if (n < 0 || nano_claims_parse(scratch, n, claims) != 0) {
        memset(claims, 0, sizeof(nano_claims_t));
        return NANO_TOKEN_INVALID;
    }

    if (claims->sub.len == 0) {
        memset(claims, 0, sizeof(nano_claims_t));
        return NANO_TOKEN_INVALID;
    }

    if ((claims->has_nbf && claims->nbf > now + leeway)
        || (claims->has_iat && claims->iat > now + leeway))
    {
        memset(claims, 0, sizeof(nano_claims_t));
        return NANO_TOKEN_INVALID;
    }

    if (claims->exp <= now - leeway) {
        memset(claims, 0, sizeof(nano_claims_t));
        return NANO_TOKEN_EXPIRED;
    }

    return NANO_TOKEN_OK;
}


static int
nano_keyring_add(nano_keyring_t *kr, const char *key, size_t len)
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
 * Keys are tried in order and the first match wins: which key signed a
 * token is no secret, only the MAC bytes are, and those are compared in
 * constant time.
 */
static int
nano_hs256_matches(const nano_keyring_t *kr, const char *msg, size_t len,
    const unsigned char *sig)
{
    int             ok;
    size_t          i;
    SHA256_CTX      ctx;
    unsigned char   inner[SHA256_DIGEST_LENGTH], mac[SHA256_DIGEST_LENGTH];

    ok = 0;

    for (i = 0; i < kr->nkeys && !ok; i++) {
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


/* base64url digit values; 64 marks a byte that is not one */
static const unsigned char  nano_b64url_values[256] = {
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
    64,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 63,
    64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64
};


ssize_t
nano_b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
    size_t          i, n;
    unsigned int    acc, bits, v;

    /* a lone leftover character cannot carry a whole byte */
    if (len % 4 == 1 || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > cap) {
        return -1;
    }

    acc = 0;
    bits = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        v = nano_b64url_values[(unsigned char) in[i]];
        if (v == 64) {
            return -1;
        }

        acc = (acc << 6) | v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char) (acc >> bits);
        }
    }

    /* leftover bits must be zero, or the encoding is not canonical */
    if (acc & ((1u << bits) - 1)) {
        return -1;
    }

    return (ssize_t) n;
}


/*
 * Walks one JSON object that must span the whole text, calling field
 * for every member with the cursor on its value, which field consumes.
 */
static int
nano_json_object(char *json, size_t len, nano_json_field_pt field, void *data)
{
    nano_str_t   key;
    nano_json_t  j;

    j.p = json;
    j.end = json + len;

    nano_json_ws(&j);
    if (j.p == j.end || *j.p++ != '{') {
        return -1;
    }

    nano_json_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
        goto done;
    }

    for ( ;; ) {
        nano_json_ws(&j);
        if (nano_json_string(&j, &key) != 0) {
            return -1;
        }

        nano_json_ws(&j);
        if (j.p == j.end || *j.p++ != ':') {
            return -1;
        }

        nano_json_ws(&j);
        if (field(&j, &key, data) != 0) {
            return -1;
        }

        nano_json_ws(&j);
        if (j.p == j.end) {
            return -1;
        }
        if (*j.p == ',') {
            j.p++;
            continue;
        }
        if (*j.p++ == '}') {
            break;
        }
        return -1;
    }

done:

    nano_json_ws(&j);
    return j.p == j.end ? 0 : -1;
}


/* Header members: alg exactly "HS256", once; no crit. */
static int
nano_header_field(nano_json_t *j, const nano_str_t *key, void *data)
{
    int         *alg_seen = data;
    nano_str_t   val;

    if (nano_str_is(key, "alg")) {
        if (*alg_seen || nano_json_string(j, &val) != 0
            || !nano_str_is(&val, "HS256"))
        {
            return -1;
        }
        *alg_seen = 1;
        return 0;
    }

    /* we understand no extensions, so none may be critical */
    if (nano_str_is(key, "crit")) {
        return -1;
    }

    return nano_json_skip(j, 0);
}


/*
 * Claims members.  A repeated claim is refused: two parsers could
 * otherwise read two different users out of one token.
 */
static int
nano_claim_field(nano_json_t *j, const nano_str_t *key, void *data)
{
    size_t               i;
    nano_str_t          *str;
    nano_claims_ctx_t   *ctx = data;

    for (i = 0; i < NANO_CLAIMS_KNOWN; i++) {
        if (key->len == nano_claim_fields[i].name.len
            && memcmp(key->data, nano_claim_fields[i].name.data, key->len)
               == 0)
        {
            break;
        }
    }

    if (i == NANO_CLAIMS_KNOWN) {
        return nano_json_skip(j, 0);
    }

    if (ctx->seen & (1u << i)) {
        return -1;
    }
    ctx->seen |= 1u << i;

    if (nano_claim_fields[i].numeric) {
        return nano_json_number(j, (long long *) ((char *) ctx->claims
                                          + nano_claim_fields[i].offset));
    }

    str = (nano_str_t *) ((char *) ctx->claims + nano_claim_fields[i].offset);

    /* optional strings may be null; sub may not */
    if (i != NANO_CLAIM_SUB && j->end - j->p >= 4
        && memcmp(j->p, "null", 4) == 0)
    {
        j->p += 4;
        return 0;
    }

    if (nano_json_string(j, str) != 0) {
        return -1;
    }

    /* identities end up in headers, logs and pages: no control characters */
    return nano_has_control(str) ? -1 : 0;
}


int
nano_has_control(const nano_str_t *s)
{
    size_t                i;
    const unsigned char  *p;

    p = (const unsigned char *) s->data;

    for (i = 0; i < s->len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f) {
            return 1;
        }
        if (p[i] == 0xc2 && i + 1 < s->len && p[i + 1] >= 0x80
            && p[i + 1] <= 0x9f)
        {
            return 1;
        }
    }

    return 0;
}


static int
nano_claims_parse(char *json, size_t len, nano_claims_t *claims)
{
    nano_claims_ctx_t  ctx;

    ctx.claims = claims;
    ctx.seen = 0;

    if (nano_json_object(json, len, nano_claim_field, &ctx) != 0) {
        return -1;
    }

    if (!(ctx.seen & (1u << NANO_CLAIM_SUB))
        || !(ctx.seen & (1u << NANO_CLAIM_EXP)))
    {
        return -1;
    }

    claims->has_iat = (ctx.seen & (1u << NANO_CLAIM_IAT)) != 0;
    claims->has_nbf = (ctx.seen & (1u << NANO_CLAIM_NBF)) != 0;

    return 0;
}


static int
nano_str_is(const nano_str_t *s, const char *literal)
{
    size_t  n;

    n = strlen(literal);
    return s->len == n && memcmp(s->data, literal, n) == 0;
}


static void
nano_json_ws(nano_json_t *j)
{
    while (j->p < j->end
           && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n'
               || *j->p == '\r'))
    {
        j->p++;
    }
}


static int
nano_hex4(const char *p, unsigned long *out)
{
    int            i;
    unsigned long  v;
    char           c;

    v = 0;
    for (i = 0; i < 4; i++) {
        c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;
        } else {
            return -1;
        }
    }

    *out = v;
    return 0;
}


/*
 * Reads a JSON string at the cursor, unescaping it in place (the result
 * is never longer than its source) and NUL-terminating it.  NUL and
 * unpaired surrogates are refused: identities end up in C strings.
 */
static int
nano_json_string(nano_json_t *j, nano_str_t *out)
{
    char           *w, *start;
    unsigned char   c;
    unsigned long   cp, lo;

    if (j->p == j->end || *j->p != '"') {
        return -1;
    }

    j->p++;
    start = w = j->p;

    while (j->p < j->end) {
        c = (unsigned char) *j->p++;

        if (c == '"') {
            *w = '\0';
            out->data = start;
            out->len = w - start;
            return 0;
        }

        if (c < 0x20) {
            return -1;
        }

        if (c >= 0x80) {
            j->p--;
            if (nano_utf8_copy(j, &w) != 0) {
                return -1;
            }
            continue;
        }

        if (c != '\\') {
            *w++ = (char) c;
            continue;
        }

        if (j->p == j->end) {
            return -1;
        }

        c = (unsigned char) *j->p++;

        switch (c) {
        case '"': case '\\': case '/':
            *w++ = (char) c;
            break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;

        case 'u':
            if (j->end - j->p < 4 || nano_hex4(j->p, &cp) != 0) {
                return -1;
            }
            j->p += 4;

            if (cp >= 0xdc00 && cp <= 0xdfff) {
                return -1;
            }

            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u'
                    || nano_hex4(j->p + 2, &lo) != 0
                    || lo < 0xdc00 || lo > 0xdfff)
                {
                    return -1;
                }
                j->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }

            if (cp == 0 || nano_utf8_put(&w, cp) != 0) {
                return -1;
            }
            break;

        default:
            return -1;
        }
    }

    return -1;
}


static int
nano_utf8_put(char **w, unsigned long cp)
{
    unsigned char  *p;

    p = (unsigned char *) *w;

    if (cp < 0x80) {
        *p++ = (unsigned char) cp;
    } else if (cp < 0x800) {
        *p++ = 0xc0 | (cp >> 6);
        *p++ = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
        *p++ = 0xe0 | (cp >> 12);
        *p++ = 0x80 | ((cp >> 6) & 0x3f);
        *p++ = 0x80 | (cp & 0x3f);
    } else if (cp < 0x110000) {
        *p++ = 0xf0 | (cp >> 18);
        *p++ = 0x80 | ((cp >> 12) & 0x3f);
        *p++ = 0x80 | ((cp >> 6) & 0x3f);
        *p++ = 0x80 | (cp & 0x3f);
    } else {
        return -1;
    }

    *w = (char *) p;
    return 0;
}


/*
 * Copies the raw UTF-8 sequence at the cursor; refuses anything not well
 * formed, since identities go on to backends whose JSON encoder would
 * refuse them.
 */
static int
nano_utf8_copy(nano_json_t *j, char **w)
{
    size_t  n;

    n = nano_utf8_seq((const unsigned char *) j->p, j->end - j->p);
    if (n == 0) {
        return -1;
    }

    memmove(*w, j->p, n);
    *w += n;
    j->p += n;

    return 0;
}


/*
 * Reads a JSON number (RFC 8259 grammar).  With out set it must be a
 * NumericDate: its whole seconds are stored and a fraction is dropped,
 * while an exponent or a value past NANO_JSON_INT_MAX is refused rather
 * than guessed at.
 */
static int
nano_json_number(nano_json_t *j, long long *out)
{
    int        neg;
    long long  v;

    neg = 0;
    v = 0;

    if (j->p < j->end && *j->p == '-') {
        neg = 1;
        j->p++;
    }

    if (j->p == j->end || !nano_isdigit(*j->p)) {
        return -1;
    }

    if (*j->p == '0') {
        j->p++;

    } else {
        while (j->p < j->end && nano_isdigit(*j->p)) {
            if (v <= NANO_JSON_INT_MAX) {
                v = v * 10 + (*j->p - '0');
            }
            j->p++;
        }
    }

    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p == j->end || !nano_isdigit(*j->p)) {
            return -1;
        }
        while (j->p < j->end && nano_isdigit(*j->p)) {
            j->p++;
        }
    }

    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        if (out) {
            return -1;
        }
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (j->p == j->end || !nano_isdigit(*j->p)) {
            return -1;
        }
        while (j->p < j->end && nano_isdigit(*j->p)) {
            j->p++;
        }
    }

    /* a digit straight after "0" (a leading zero) ends up here too */
    if (j->p < j->end && nano_isdigit(*j->p)) {
        return -1;
    }

    if (out) {
        if (v > NANO_JSON_INT_MAX) {
            return -1;
        }
        *out = neg ? -v : v;
    }

    return 0;
}


static int
nano_isdigit(char c)
{
    return c >= '0' && c <= '9';
}


/* Skips any JSON value, bounded in depth. */
static int
nano_json_skip(nano_json_t *j, int depth)
{
    char        close;
    nano_str_t  s;

    if (depth > NANO_JSON_MAX_DEPTH || j->p == j->end) {
        return -1;
    }

    switch (*j->p) {
    case '"':
        return nano_json_string(j, &s);

    case '{':
    case '[':
        close = (*j->p == '{') ? '}' : ']';
        j->p++;
        nano_json_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }

        for ( ;; ) {
            nano_json_ws(j);
            if (close == '}') {
                if (nano_json_string(j, &s) != 0) {
                    return -1;
                }
                nano_json_ws(j);
                if (j->p == j->end || *j->p++ != ':') {
                    return -1;
                }
                nano_json_ws(j);
            }
            if (nano_json_skip(j, depth + 1) != 0) {
                return -1;
            }
            nano_json_ws(j);
            if (j->p == j->end) {
                return -1;
            }
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p++ == close) {
                return 0;
            }
            return -1;
        }

    case 't':
        return nano_json_literal(j, "true");

    case 'f':
        return nano_json_literal(j, "false");

    case 'n':
        return nano_json_literal(j, "null");

    default:
        return nano_json_number(j, NULL);
    }
}


static int
nano_json_literal(nano_json_t *j, const char *literal)
{
    size_t  n;

    n = strlen(literal);
    if ((size_t) (j->end - j->p) < n || memcmp(j->p, literal, n) != 0) {
        return -1;
    }

    j->p += n;
    return 0;
}
