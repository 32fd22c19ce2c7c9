/*
 * Session revocations: parses, looks up and writes the snapshot file
 * described in nano_revoke.h.  A snapshot is two open-addressing hash
 * tables (jti, user id) built once and never changed, so a check is two
 * probes and threads may share one snapshot.
 */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_revoke.h"


typedef struct {
    const char    *id;       /* decoded, NUL-terminated, in rv->ids */
    size_t         len;
    uint64_t       hash;
    long long      value;    /* "s": expires; "u": not-before */
} nano_revoke_entry_t;

typedef struct {
    nano_revoke_entry_t  *entries;
    size_t                n;
    uint32_t             *slots;     /* entry index + 1; 0 is empty */
    size_t                mask;      /* number of slots - 1 */
} nano_revoke_table_t;

struct nano_revoke_s {
    long long             generated;
    nano_revoke_table_t   sessions;
    nano_revoke_table_t   users;
    char                 *ids;       /* every decoded id, one block */
};

/* One entry line, checked but not yet decoded. */
typedef struct {
    char           type;     /* 's' or 'u' */
    long long      value;
    const char    *enc;      /* the percent-encoded id */
    size_t         enc_len;
    size_t         len;      /* its decoded length */
} nano_revoke_line_t;


static int nano_revoke_next_line(const char **p, const char *end,
    const char **line, size_t *len);
static const char *nano_revoke_number(const char *p, const char *end,
    long long *out);
static const char *nano_revoke_entry(const char *p, size_t len,
    nano_revoke_line_t *e);
static int nano_revoke_hex(char c);
static size_t nano_revoke_decode(const char *enc, size_t len, char *out);
static int nano_revoke_alive(const nano_revoke_line_t *e, long long now);
static int nano_revoke_table_init(nano_revoke_table_t *t, size_t n);
static void nano_revoke_table_add(nano_revoke_table_t *t, const char *id,
    size_t len, long long value);
static const nano_revoke_entry_t *nano_revoke_find(
    const nano_revoke_table_t *t, const char *id, size_t len);
static uint64_t nano_revoke_hash(const char *s, size_t len);
static int nano_revoke_format_entry(char *out, size_t cap, char type,
    const char *id, long long value);


/*
 * Two passes over the text: the first checks every line and counts the
 * live entries, the second decodes those into tables sized for them.
 */
nano_revoke_t *
nano_revoke_parse(const char *buf, size_t len, long long now, char *err,
    size_t errlen)
{
    char                *w;
    size_t               lineno, nlines, ns, nu, idbytes, llen;
    const char          *p, *end, *line, *why;
    nano_revoke_t       *rv;
    nano_revoke_line_t   e;

    if (len > NANO_REVOKE_FILE_MAX) {
        snprintf(err, errlen, "larger than %d bytes", NANO_REVOKE_FILE_MAX);
        return NULL;
    }

    rv = calloc(1, sizeof(nano_revoke_t));
    if (rv == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    p = buf;
    end = buf + len;

    if (nano_revoke_next_line(&p, end, &line, &llen) != 0
        || llen != sizeof(NANO_REVOKE_MAGIC) - 1
        || memcmp(line, NANO_REVOKE_MAGIC, llen) != 0)
    {
        snprintf(err, errlen, "not a revocation snapshot (the first line "
                 "is not \"" NANO_REVOKE_MAGIC "\")");
        goto failed;
    }

    if (nano_revoke_next_line(&p, end, &line, &llen) != 0
        || llen < sizeof("generated ")
        || memcmp(line, "generated ", sizeof("generated ") - 1) != 0
        || nano_revoke_number(line + sizeof("generated ") - 1, line + llen,
                              &rv->generated) != line + llen)
    {
        snprintf(err, errlen, "line 2 is not \"generated <unix seconds>\"");
        goto failed;
    }

    ns = 0;
    nu = 0;
    idbytes = 0;
    nlines = 0;

    for (lineno = 3; p < end; lineno++) {
        if (nano_revoke_next_line(&p, end, &line, &llen) != 0) {
            snprintf(err, errlen, "line %zu does not end with a newline "
                     "(a truncated file?)", lineno);
            goto failed;
        }

        if (++nlines > NANO_REVOKE_ENTRIES_MAX) {
            snprintf(err, errlen, "more than %d entries",
                     NANO_REVOKE_ENTRIES_MAX);
            goto failed;
        }

        why = nano_revoke_entry(line, llen, &e);
        if (why) {
            snprintf(err, errlen, "line %zu: %s", lineno, why);
            goto failed;
        }

        if (!nano_revoke_alive(&e, now)) {
            continue;
        }

        if (e.type == 's') {
            ns++;

        } else {
            nu++;
        }
        idbytes += e.len + 1;
    }

    if (nano_revoke_table_init(&rv->sessions, ns) != 0
        || nano_revoke_table_init(&rv->users, nu) != 0)
    {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }

    rv->ids = malloc(idbytes ? idbytes : 1);
    if (rv->ids == NULL) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }

    /* the second pass: every line is known to be good */
    p = buf;
    (void) nano_revoke_next_line(&p, end, &line, &llen);
    (void) nano_revoke_next_line(&p, end, &line, &llen);
    w = rv->ids;

    while (nano_revoke_next_line(&p, end, &line, &llen) == 0) {
        (void) nano_revoke_entry(line, llen, &e);
        if (!nano_revoke_alive(&e, now)) {
            continue;
        }

        (void) nano_revoke_decode(e.enc, e.enc_len, w);
        w[e.len] = '\0';
        nano_revoke_table_add(e.type == 's' ? &rv->sessions : &rv->users,
                              w, e.len, e.value);
        w += e.len + 1;
    }

    return rv;

failed:

    nano_revoke_free(rv);
    return NULL;
}


void
nano_revoke_free(nano_revoke_t *rv)
{
    if (rv == NULL) {
        return;
    }

    free(rv->sessions.entries);
    free(rv->sessions.slots);
    free(rv->users.entries);
    free(rv->users.slots);
    free(rv->ids);
    free(rv);
}


size_t
nano_revoke_count(const nano_revoke_t *rv)
{
    return rv ? rv->sessions.n + rv->users.n : 0;
}


long long
nano_revoke_generated(const nano_revoke_t *rv)
{
    return rv ? rv->generated : 0;
}


int
nano_revoke_check(const nano_revoke_t *rv, const nano_claims_t *claims)
{
    const nano_revoke_entry_t  *e;

    if (rv == NULL) {
        return 0;
    }

    if (claims->jti.len
        && nano_revoke_find(&rv->sessions, claims->jti.data, claims->jti.len))
    {
        return 1;
    }

    e = nano_revoke_find(&rv->users, claims->sub.data, claims->sub.len);

    /* a token without iat counts as issued before any cut-off */
    return e != NULL && (!claims->has_iat || claims->iat < e->value);
}


int
nano_revoke_format_header(char *out, size_t cap, long long generated)
{
    int  n;

    if (generated < 0) {
        return -1;
    }

    n = snprintf(out, cap, NANO_REVOKE_MAGIC "\ngenerated %lld\n", generated);

    return (n < 0 || (size_t) n >= cap) ? -1 : n;
}


int
nano_revoke_format_session(char *out, size_t cap, const char *jti,
    long long expires)
{
    return nano_revoke_format_entry(out, cap, 's', jti, expires);
}


int
nano_revoke_format_user(char *out, size_t cap, const char *user_id,
    long long not_before)
{
    return nano_revoke_format_entry(out, cap, 'u', user_id, not_before);
}


/*
 * The next "\n"-terminated line without its "\n"; -1 at the end of the
 * text or when the last line has no "\n" (a truncated file).
 */
static int
nano_revoke_next_line(const char **p, const char *end, const char **line,
    size_t *len)
{
    const char  *nl;

    if (*p >= end) {
        return -1;
    }

    nl = memchr(*p, '\n', end - *p);
    if (nl == NULL) {
        return -1;
    }

    *line = *p;
    *len = nl - *p;
    *p = nl + 1;

    return 0;
}


/*
 * A decimal number without sign or leading zeros that fits a long long.
 * Returns the position after it, or NULL.
 */
static const char *
nano_revoke_number(const char *p, const char *end, long long *out)
{
    long long  v;

    if (p == end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end
                                             && p[1] >= '0' && p[1] <= '9'))
    {
        return NULL;
    }

    for (v = 0; p < end && *p >= '0' && *p <= '9'; p++) {
        if (v > (LLONG_MAX - (*p - '0')) / 10) {
            return NULL;
        }
        v = v * 10 + (*p - '0');
    }

    *out = v;
    return p;
}


/* Checks one entry line; returns NULL or why it is malformed. */
static const char *
nano_revoke_entry(const char *p, size_t len, nano_revoke_line_t *e)
{
    size_t       i;
    const char  *end, *q;

    end = p + len;

    if (len > 0 && end[-1] == '\r') {
        return "a CR before the newline (line ends are \"\\n\" only)";
    }

    if (len < 2 || (p[0] != 's' && p[0] != 'u') || p[1] != ' ') {
        return "not \"s <expires> <jti>\" or \"u <not-before> <user id>\"";
    }

    e->type = p[0];

    q = nano_revoke_number(p + 2, end, &e->value);
    if (q == NULL || q == end || *q != ' ') {
        return "the number is not decimal seconds followed by one space";
    }

    e->enc = q + 1;
    e->enc_len = end - e->enc;
    e->len = 0;

    if (e->enc_len == 0) {
        return "an empty id";
    }

    for (i = 0; i < e->enc_len; i++, e->len++) {
        if (e->enc[i] == '%') {
            if (e->enc_len - i < 3 || nano_revoke_hex(e->enc[i + 1]) < 0
                || nano_revoke_hex(e->enc[i + 2]) < 0)
            {
                return "a '%' not followed by two hex digits";
            }
            if (e->enc[i + 1] == '0' && e->enc[i + 2] == '0') {
                return "a NUL byte (%00) in the id";
            }
            i += 2;
            continue;
        }

        if ((unsigned char) e->enc[i] < 0x21
            || (unsigned char) e->enc[i] > 0x7e)
        {
            return "a byte outside 0x21-0x7e that is not percent-encoded";
        }
    }

    if (e->len > NANO_REVOKE_ID_MAX) {
        return "an id longer than 255 bytes";
    }

    return NULL;
}


static int
nano_revoke_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}


/* Decodes a checked id into out; returns its length. */
static size_t
nano_revoke_decode(const char *enc, size_t len, char *out)
{
    size_t  i, n;

    for (i = 0, n = 0; i < len; i++, n++) {
        if (enc[i] == '%') {
            out[n] = (char) (nano_revoke_hex(enc[i + 1]) << 4
                             | nano_revoke_hex(enc[i + 2]));
            i += 2;

        } else {
            out[n] = enc[i];
        }
    }

    return n;
}


/*
 * An entry matters until the tokens it revokes have expired: a session
 * until its exp, a user's cut-off for one token lifetime after it.
 */
static int
nano_revoke_alive(const nano_revoke_line_t *e, long long now)
{
    if (e->type == 's') {
        return e->value >= now;
    }

    return e->value > LLONG_MAX - NANO_TOKEN_MAX_AGE
           || e->value + NANO_TOKEN_MAX_AGE >= now;
}


/* Slots for n entries at a load factor of at most one half. */
static int
nano_revoke_table_init(nano_revoke_table_t *t, size_t n)
{
    size_t  slots;

    t->n = 0;
    t->mask = 0;

    if (n == 0) {
        return 0;
    }

    for (slots = 4; slots < 2 * n; slots *= 2) {
        /* void */
    }

    t->entries = malloc(n * sizeof(nano_revoke_entry_t));
    t->slots = calloc(slots, sizeof(uint32_t));
    if (t->entries == NULL || t->slots == NULL) {
        return -1;
    }

    t->mask = slots - 1;
    return 0;
}


/*
 * Adds an entry; the same id twice keeps the one that revokes more (the
 * later expiry or the later cut-off).
 */
static void
nano_revoke_table_add(nano_revoke_table_t *t, const char *id, size_t len,
    long long value)
{
    size_t                i;
    uint64_t              hash;
    nano_revoke_entry_t  *e;

    hash = nano_revoke_hash(id, len);

    for (i = hash & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
        e = &t->entries[t->slots[i] - 1];
        if (e->hash == hash && e->len == len && memcmp(e->id, id, len) == 0) {
            if (value > e->value) {
                e->value = value;
            }
            return;
        }
    }

    e = &t->entries[t->n];
    e->id = id;
    e->len = len;
    e->hash = hash;
    e->value = value;

    t->slots[i] = (uint32_t) ++t->n;
}


static const nano_revoke_entry_t *
nano_revoke_find(const nano_revoke_table_t *t, const char *id, size_t len)
{
    size_t                      i;
    uint64_t                    hash;
    const nano_revoke_entry_t  *e;

    if (t->n == 0) {
        return NULL;
    }

    hash = nano_revoke_hash(id, len);

    for (i = hash & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
        e = &t->entries[t->slots[i] - 1];
        if (e->hash == hash && e->len == len && memcmp(e->id, id, len) == 0) {
            return e;
        }
    }

    return NULL;
}


/* FNV-1a: ids come from the platform, not from attackers. */
static uint64_t
nano_revoke_hash(const char *s, size_t len)
{
    size_t    i;
    uint64_t  h;

    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


static int
nano_revoke_format_entry(char *out, size_t cap, char type, const char *id,
    long long value)
{
    int                n;
    size_t             len, i;
    unsigned char      c;
    static const char  hex[] = "0123456789ABCDEF";

    if (id == NULL || value < 0) {
        return -1;
    }

    len = strlen(id);
    if (len == 0 || len > NANO_REVOKE_ID_MAX) {
        return -1;
    }

    n = snprintf(out, cap, "%c %lld ", type, value);
    if (n < 0 || (size_t) n >= cap) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) id[i];

        if (c >= 0x21 && c <= 0x7e && c != '%') {
            if ((size_t) n + 1 >= cap) {
                return -1;
            }
            out[n++] = (char) c;
            continue;
        }

        if ((size_t) n + 3 >= cap) {
            return -1;
        }
        out[n++] = '%';
        out[n++] = hex[c >> 4];
        out[n++] = hex[c & 0xf];
    }

    if ((size_t) n + 1 >= cap) {
        return -1;
    }

    out[n++] = '\n';
    out[n] = '\0';

    return n;
}
