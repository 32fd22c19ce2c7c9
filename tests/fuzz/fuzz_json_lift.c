/*
 * libFuzzer harness for JSON with lifted long strings (nano_json_lift).
 *
 * The input, and the input after its first byte, are JSON documents:
 * json_loadb and nano_json_lift_load (keys "data" and "b64_json",
 * JSON_REJECT_DUPLICATES) must accept the same documents and give the
 * same tree once every string is read through nano_json_lift_str.  As
 * random inputs seldom hold a string of 4096 bytes, the input after its
 * first byte (rest) is also wrapped around one (its base64 character
 * picked by the first byte's high six bits, the layout by its low two):
 *   0  {"data":"<long>","x":<rest>}
 *   1  [<rest>,{"data":"<long>"}]
 *   2  {"b64_json":"<long><rest>"}
 *   3  {<rest>"data":"<long>"}
 * and compared in the same way.  Each lifted span must lie in the
 * document, be at least NANO_JSON_LIFT_MIN bytes of printable ASCII
 * without a backslash or quote between quotes; in layout 0 (and in 1
 * and 3 when rest holds no quote) an accepted document lifts its long
 * string unless it spells \u0001.
 * Every document is copied to an allocation of its exact size, so that
 * AddressSanitizer sees any read past its end.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nano_json_lift.h"
#include "nano_json_size.h"

#include "../unit/json_lift_equal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FLAGS  JSON_REJECT_DUPLICATES

static const char *const  fuzz_keys[] = { "data", "b64_json", NULL };

static const char  fuzz_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Each lifted span is a plain long string inside doc. */
static void
fuzz_check_spans(const nano_json_lift_t *l, const char *doc, size_t len)
{
    size_t         k, i;
    unsigned char  c;

    if (l->buf != doc) {
        abort();
    }
    for (k = 0; k < l->n; k++) {
        if (l->off[k] == 0 || l->off[k] > len
            || l->len[k] > len - l->off[k] - 1
            || l->len[k] < NANO_JSON_LIFT_MIN
            || doc[l->off[k] - 1] != '"'
            || doc[l->off[k] + l->len[k]] != '"')
        {
            abort();
        }
        for (i = 0; i < l->len[k]; i++) {
            c = (unsigned char) doc[l->off[k] + i];
            if (c < 0x20 || c > 0x7e || c == '\\' || c == '"') {
                abort();
            }
        }
    }
}

/* The values of v, itself included (nano_json_values' count). */
static size_t
fuzz_values(json_t *v)
{
    const char  *key;
    json_t      *m;
    size_t       n = 1, i;

    if (json_is_object(v)) {
        json_object_foreach(v, key, m) {
            n += fuzz_values(m);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) {
            n += fuzz_values(m);
        }
    }
    return n;
}

/* nano_json_values bounds what jansson parsed, and its cap at k agrees
 * with the whole count. */
static void
fuzz_check_values(const char *doc, size_t len, json_t *plain)
{
    size_t  all = nano_json_values(doc, len, (size_t) -2);
    size_t  k = len % 97;

    if (plain != NULL && fuzz_values(plain) > all) {
        abort();
    }
    if ((nano_json_values(doc, len, k) > k) != (all > k)) {
        abort();
    }
}

/* Parses the len bytes at text both ways; returns how many strings were
 * lifted, or -1 when the document was refused. */
static long
fuzz_compare(const char *text, size_t len)
{
    nano_json_lift_t  l;
    json_error_t      err, lift_err;
    json_t           *plain, *lifted;
    char             *doc;
    long              n;

    doc = malloc(len > 0 ? len : 1);
    if (doc == NULL) {
        abort();
    }
    memcpy(doc, text, len);

    plain = json_loadb(doc, len, FUZZ_FLAGS, &err);
    lifted = nano_json_lift_load(&l, doc, len, fuzz_keys, FUZZ_FLAGS,
                                 &lift_err);
    if ((plain == NULL) != (lifted == NULL)) {
        abort();
    }
    if (plain != NULL && !json_lift_equal(&l, lifted, plain)) {
        abort();
    }
    fuzz_check_spans(&l, doc, len);
    fuzz_check_values(doc, len, plain);
    n = plain != NULL ? (long) l.n : -1;

    json_decref(plain);
    json_decref(lifted);
    nano_json_lift_free(&l);
    nano_json_lift_free(&l);
    free(doc);
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char  *const heads[] = {
        "{\"data\":\"", "[", "{\"b64_json\":\"", "{",
    };
    char               *doc, *p;
    const char         *rest;
    size_t              rest_len, len;
    unsigned            layout;
    long                lifted;

    fuzz_compare((const char *) data, size);
    if (size == 0) {
        return 0;
    }

    layout = data[0] & 3;
    rest = (const char *) data + 1;
    rest_len = size - 1;
    fuzz_compare(rest, rest_len);
    len = NANO_JSON_LIFT_MIN + rest_len + 32;
    doc = malloc(len);
    if (doc == NULL) {
        abort();
    }

    p = doc;
    p = stpcpy(p, heads[layout]);
    if (layout == 1) {
        memcpy(p, rest, rest_len);
        p = stpcpy(p + rest_len, ",{\"data\":\"");
    } else if (layout == 3) {
        memcpy(p, rest, rest_len);
        p = stpcpy(p + rest_len, "\"data\":\"");
    }
    memset(p, fuzz_b64[data[0] >> 2], NANO_JSON_LIFT_MIN);
    p += NANO_JSON_LIFT_MIN;
    switch (layout) {
    case 0:
        p = stpcpy(p, "\",\"x\":");
        memcpy(p, rest, rest_len);
        p = stpcpy(p + rest_len, "}");
        break;
    case 1:
        p = stpcpy(p, "\"}]");
        break;
    case 2:
        memcpy(p, rest, rest_len);
        p = stpcpy(p + rest_len, "\"}");
        break;
    default:
        p = stpcpy(p, "\"}");
    }

    lifted = fuzz_compare(doc, (size_t) (p - doc));
    /* accepted: the wrapped long string was lifted, but for \u0001 (in
     * layouts 1 and 3, rest's strings could swallow "data") */
    if (lifted == 0
        && (layout == 0
            || (layout != 2 && memchr(rest, '"', rest_len) == NULL))
        && memmem(doc, (size_t) (p - doc), "\\u0001", 6) == NULL)
    {
        abort();
    }
    free(doc);
    return 0;
}
