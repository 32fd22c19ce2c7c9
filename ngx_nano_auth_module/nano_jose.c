/*
 * The JOSE parsing both token formats share: strict base64url and a small
 * JSON scanner that decodes strings in place (never longer than their
 * source), bounded in depth, refusing anything it cannot read exactly
 * (duplicate claims, NUL, unpaired surrogates, invalid UTF-8, numeric
 * dates with exponents).  It runs on attacker-controlled bytes on every
 * request that misses the gateway's cache; tests/fuzz/ covers it.
 */

#include <stddef.h>
#include <string.h>
#include <sys/types.h>

#include "nano_jose.h"
#include "nano_utf8.h"

#define NANO_JSON_MAX_DEPTH  16
#define NANO_JSON_INT_MAX    999999999999LL     /* seconds: year 33658 */


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

typedef struct {
    nano_jose_header_t  *header;
    unsigned             seen;     /* bit i: nano_header_members[i] read */
} nano_header_ctx_t;

/* The header members we read, each at most once. */
enum {
    NANO_HEADER_ALG = 0, NANO_HEADER_ENC, NANO_HEADER_KID, NANO_HEADER_ZIP,
    NANO_HEADER_CRIT, NANO_HEADERS_KNOWN
};

static const nano_str_t  nano_header_members[NANO_HEADERS_KNOWN] = {
    { "alg", 3 }, { "enc", 3 }, { "kid", 3 }, { "zip", 3 }, { "crit", 4 }
};


static int nano_json_object(char *json, size_t len, nano_json_field_pt field,
    void *data);
static int nano_header_field(nano_json_t *j, const nano_str_t *key,
    void *data);
static int nano_claim_field(nano_json_t *j, const nano_str_t *key,
    void *data);
static void nano_json_ws(nano_json_t *j);
static int nano_hex4(const char *p, unsigned long *out);
static int nano_json_string(nano_json_t *j, nano_str_t *out);
static int nano_utf8_copy(nano_json_t *j, char **w);
static int nano_utf8_put(char **w, unsigned long cp);
static int nano_json_number(nano_json_t *j, long long *out);
static int nano_isdigit(char c);
static int nano_json_skip(nano_json_t *j, int depth);
static int nano_json_literal(nano_json_t *j, const char *literal);




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
nano_jose_b64url_decode(const char *in, size_t len, unsigned char *out,
    size_t cap)
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


size_t
nano_jose_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    size_t          i, n;
    unsigned long   v;

    static const char  digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    n = 0;

    for (i = 0; i + 2 < len; i += 3) {
        v = ((unsigned long) in[i] << 16) | ((unsigned long) in[i + 1] << 8)
            | in[i + 2];
        out[n++] = digits[(v >> 18) & 63];
        out[n++] = digits[(v >> 12) & 63];
        out[n++] = digits[(v >> 6) & 63];
        out[n++] = digits[v & 63];
    }

    if (len - i == 1) {
        v = (unsigned long) in[i] << 16;
        out[n++] = digits[(v >> 18) & 63];
        out[n++] = digits[(v >> 12) & 63];

    } else if (len - i == 2) {
        v = ((unsigned long) in[i] << 16) | ((unsigned long) in[i + 1] << 8);
        out[n++] = digits[(v >> 18) & 63];
        out[n++] = digits[(v >> 12) & 63];
        out[n++] = digits[(v >> 6) & 63];
    }

    out[n] = '\0';
    return n;
}


int
nano_jose_header(char *json, size_t len, nano_jose_header_t *h)
{
    nano_header_ctx_t  ctx;

    memset(h, 0, sizeof(nano_jose_header_t));
    ctx.header = h;
    ctx.seen = 0;

    return nano_json_object(json, len, nano_header_field, &ctx);
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


/*
 * Header members: alg, enc and kid strings, zip and crit noted; each at
 * most once, so two parsers cannot read two algorithms out of one header.
 */
static int
nano_header_field(nano_json_t *j, const nano_str_t *key, void *data)
{
    size_t              i;
    nano_str_t         *str;
    nano_header_ctx_t  *ctx = data;

    for (i = 0; i < NANO_HEADERS_KNOWN; i++) {
        if (key->len == nano_header_members[i].len
            && memcmp(key->data, nano_header_members[i].data, key->len) == 0)
        {
            break;
        }
    }

    if (i == NANO_HEADERS_KNOWN) {
        return nano_json_skip(j, 0);
    }

    if (ctx->seen & (1u << i)) {
        return -1;
    }
    ctx->seen |= 1u << i;

    switch (i) {
    case NANO_HEADER_ALG:
        str = &ctx->header->alg;
        break;
    case NANO_HEADER_ENC:
        str = &ctx->header->enc;
        break;
    case NANO_HEADER_KID:
        str = &ctx->header->kid;
        break;
    case NANO_HEADER_ZIP:
        ctx->header->zip = 1;
        return nano_json_skip(j, 0);
    default: /* NANO_HEADER_CRIT */
        ctx->header->crit = 1;
        return nano_json_skip(j, 0);
    }

    return nano_json_string(j, str);
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
    return nano_jose_has_control(str) ? -1 : 0;
}


int
nano_jose_has_control(const nano_str_t *s)
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


int
nano_jose_claims(char *json, size_t len, nano_claims_t *claims)
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

