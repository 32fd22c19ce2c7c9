/*
 * libFuzzer harness for the small readers of what browsers, Stripe and
 * providers send the platform besides bodies the other harnesses take:
 * callbackUrl (nano_callback), the CSRF cookie (nano_csrf), the sealed
 * OAuth cookies (nano_oauth), Stripe's Checkout Session and error
 * answers (nano_stripe_api), Retry-After and Gemini's retryDelay
 * (nano_provider_retry_after_ms, nano_gemini_duration_ms), the CSV
 * cells of downloads (nano_csv) and the member a JSON error stands in
 * (nano_json_member_at).
 *
 * The first input byte picks a mode (low 2 bits), the rest is its data:
 *   0  a callbackUrl against a fixed origin: a relative one starts with
 *      one '/' and no '\' after it, and every resolved URL has exactly
 *      that origin and no control character; a refused one resolves to
 *      the origin, or, when longer than NANO_CALLBACK_MAX, to its path
 *      alone (no query or fragment) if that is accepted;
 *   1  bit 2 clear: the bytes as a CSRF cookie and as a sealed OAuth
 *      cookie, which must never open (that would be a forgery); set:
 *      the bytes are a value, sealed, which must open to itself, and
 *      fail to open once one byte of the seal changes;
 *   2  the bytes as Stripe's answers (a session read has an id "cs_..."
 *      and an http(s) URL without blanks or quotes; an error's fields
 *      are NUL-terminated), and as Retry-After and a retryDelay (within
 *      0 to one hour);
 *   3  the bytes as a CSV cell (read back by RFC 4180, it is the text,
 *      an apostrophe before one that starts like a formula), and as a
 *      JSON text: the member holding a number out of range (where
 *      jansson stops) is named only inside a top-level object, as a
 *      key of the text; any other offset (from the first byte) is
 *      read within the text.
 * Every input is copied to an allocation of its exact size, so that
 * AddressSanitizer sees any read past its end.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nano_buf.h"
#include "nano_callback.h"
#include "nano_csrf.h"
#include "nano_csv.h"
#include "nano_gemini.h"
#include "nano_json_size.h"
#include "nano_oauth.h"
#include "nano_provider.h"
#include "nano_stripe_api.h"
#include "fuzz_common.h"

#define FUZZ_ORIGIN  "https://app.example.com"
#define FUZZ_NOW     1700000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char  fuzz_key[32] = "fuzz-key-0123456789abcdef-012345";


static void
fuzz_callback(const char *buf, size_t len)
{
    nano_callback_kind_t   kind;
    char                  *url, *to, *path, *want, o[NANO_ORIGIN_MAX];
    const char            *rest;
    size_t                 cut;

    url = strndup(buf, len);
    if (url == NULL) {
        return;
    }
    kind = nano_callback_check(url, FUZZ_ORIGIN);
    /* A refused url too long to keep whole comes back to its path
     * (before '?' or '#') when that alone is accepted: want. */
    want = NULL;
    path = NULL;
    if (kind == NANO_CALLBACK_REFUSED && strlen(url) > NANO_CALLBACK_MAX) {
        cut = strcspn(url, "?#");
        if (cut > 0 && cut <= NANO_CALLBACK_MAX) {
            path = strndup(url, cut);
            if (path == NULL) {
                free(url);
                return;
            }
            if (nano_callback_check(path, FUZZ_ORIGIN)
                != NANO_CALLBACK_REFUSED)
            {
                want = nano_callback_resolve(path, FUZZ_ORIGIN);
                if (want == NULL) {
                    free(path);
                    free(url);
                    return;
                }
            }
        }
    }
    if (kind == NANO_CALLBACK_RELATIVE
        && (url[0] != '/' || url[1] == '/' || url[1] == '\\'))
    {
        abort();
    }
    to = nano_callback_resolve(url, FUZZ_ORIGIN);
    if (to == NULL) {
        abort();
    }
    if (nano_callback_origin(to, o, sizeof(o), &rest) != 0
        || strcmp(o, FUZZ_ORIGIN) != 0 || fuzz_has_ctl(to)
        || (rest[0] != '\0' && rest[0] != '/' && rest[0] != '?'
            && rest[0] != '#')
        || (kind == NANO_CALLBACK_REFUSED && want == NULL
            && strcmp(to, FUZZ_ORIGIN) != 0)
        || (want != NULL
            && (strcmp(to, want) != 0 || strpbrk(to, "?#") != NULL)))
    {
        fprintf(stderr, "%s resolves to %s\n", url, to);
        abort();
    }
    free(want);
    free(to);
    free(path);
    free(url);
}


static void
fuzz_cookies(const char *buf, size_t len, int round_trip)
{
    char    token[NANO_CSRF_TOKEN_LEN + 1], *value = NULL, *sealed, *v;
    size_t  n;

    if (!round_trip) {
        if (nano_csrf_read_cookie(buf, len, fuzz_key, sizeof(fuzz_key),
                                  token) == NANO_CSRF_OK
            || nano_csrf_verify(buf, len, "00", fuzz_key, sizeof(fuzz_key))
               == NANO_CSRF_OK
            || nano_oauth_open(fuzz_key, sizeof(fuzz_key), "state/fuzz", buf,
                               len, FUZZ_NOW, &value) == NANO_OAUTH_OK
            || value != NULL)
        {
            abort();
        }
        return;
    }
    v = strndup(buf, len < NANO_OAUTH_VALUE_MAX ? len : NANO_OAUTH_VALUE_MAX);
    if (v == NULL) {
        return;
    }
    sealed = nano_oauth_seal(fuzz_key, sizeof(fuzz_key), "state/fuzz", v,
                             FUZZ_NOW + 60);
    if (sealed == NULL) {
        abort();
    }
    n = strlen(sealed);
    if (nano_oauth_open(fuzz_key, sizeof(fuzz_key), "state/fuzz", sealed, n,
                        FUZZ_NOW, &value) != NANO_OAUTH_OK
        || value == NULL || strcmp(value, v) != 0)
    {
        abort();
    }
    free(value);
    value = NULL;
    /* for another purpose, or changed anywhere, it does not open */
    if (nano_oauth_open(fuzz_key, sizeof(fuzz_key), "nonce/fuzz", sealed, n,
                        FUZZ_NOW, &value) == NANO_OAUTH_OK)
    {
        abort();
    }
    sealed[len % n] ^= 0x01;
    if (nano_oauth_open(fuzz_key, sizeof(fuzz_key), "state/fuzz", sealed, n,
                        FUZZ_NOW, &value) == NANO_OAUTH_OK
        || value != NULL)
    {
        abort();
    }
    free(sealed);
    free(v);
}


static void
fuzz_stripe_answers(const char *buf, size_t len)
{
    nano_stripe_error_t  e;
    char                *id, *url, *s;
    long                 ms;

    if (nano_stripe_session_read(buf, len, &id, &url) == 0) {
        if (id == NULL || url == NULL || strncmp(id, "cs_", 3) != 0
            || (strncmp(url, "https://", 8) != 0
                && strncmp(url, "http://", 7) != 0)
            || strpbrk(url, " \t\r\n\"<>\\") != NULL)
        {
            abort();
        }
        free(id);
        free(url);
    } else if (id != NULL || url != NULL) {
        abort();
    }
    if (nano_stripe_error_read(buf, len, &e) == 0
        && e.type[0] == '\0' && e.message[0] == '\0')
    {
        abort();
    }
    if (memchr(e.type, '\0', sizeof(e.type)) == NULL
        || memchr(e.code, '\0', sizeof(e.code)) == NULL
        || memchr(e.param, '\0', sizeof(e.param)) == NULL
        || memchr(e.message, '\0', sizeof(e.message)) == NULL)
    {
        abort();
    }

    s = strndup(buf, len);
    if (s == NULL) {
        return;
    }
    ms = nano_provider_retry_after_ms(s, FUZZ_NOW);
    if (ms < 0 || ms > 3600 * 1000L) {
        abort();
    }
    ms = nano_gemini_duration_ms(s);
    if (ms < 0 || ms > 3600 * 1000L) {
        abort();
    }
    free(s);
}


/* Reads one RFC 4180 cell at p into out; the end of the cell, or NULL
 * when the text is not one cell. */
static const char *
fuzz_csv_read(const char *p, const char *end, nano_buf_t *out)
{
    if (p < end && *p == '"') {
        for (p++; p < end; p++) {
            if (*p == '"') {
                if (p + 1 < end && p[1] == '"') {
                    nano_buf_append(out, "\"", 1);
                    p++;
                    continue;
                }
                return p + 1;
            }
            nano_buf_append(out, p, 1);
        }
        return NULL;
    }
    for (; p < end && *p != ','; p++) {
        if (*p == '"' || *p == '\r' || *p == '\n') {
            return NULL;
        }
        nano_buf_append(out, p, 1);
    }
    return p;
}


static void
fuzz_csv_json(const char *buf, size_t len, size_t pos)
{
    nano_buf_t    cell, back;
    char         *s;
    const char   *end, *key, *p;
    size_t        keylen, skip;
    json_t       *root;
    json_error_t  jerr;

    s = strndup(buf, len);
    if (s == NULL) {
        return;
    }
    nano_buf_init(&cell);
    nano_buf_init(&back);
    if (nano_csv_cell(&cell, s) != 0) {
        abort();
    }
    /* two cells on a line: this one must end where the comma stands */
    nano_buf_puts(&cell, ",x");
    end = fuzz_csv_read(cell.data, cell.data + cell.len, &back);
    skip = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
    if (end == NULL || end[0] != ',' || strcmp(end, ",x") != 0
        || back.len != strlen(s) + skip
        || (skip && back.data[0] != '\'')
        || (back.len > 0 && memcmp(back.data + skip, s, strlen(s)) != 0))
    {
        fprintf(stderr, "cell %s\n", cell.data);
        abort();
    }
    nano_buf_cleanup(&cell);
    nano_buf_cleanup(&back);
    free(s);

    /* as nano_http.c asks it: where jansson stopped for a number out of
     * range, so the text before is JSON */
    (void) nano_json_member_at(buf, len, pos, &key, &keylen);
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    json_decref(root);
    if (root != NULL || json_error_code(&jerr) != json_error_numeric_overflow
        || jerr.position < 0)
    {
        return;
    }
    if (nano_json_member_at(buf, len, (size_t) jerr.position, &key, &keylen)
        == 0)
    {
        for (p = buf; p < buf + len && strchr(" \t\r\n", *p) != NULL; p++) {
            /* leading blanks */
        }
        if (key == NULL || key < buf || key + keylen > buf + len
            || p == buf + len || *p != '{' || key[-1] != '"'
            || key[keylen] != '"')
        {
            fprintf(stderr, "a member named at %d\n", jerr.position);
            abort();
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *buf;

    if (size < 1) {
        return 0;
    }
    buf = fuzz_rest(data, size);
    switch (data[0] & 3) {
    case 0:
        fuzz_callback(buf, size - 1);
        break;
    case 1:
        fuzz_cookies(buf, size - 1, data[0] & 4);
        break;
    case 2:
        fuzz_stripe_answers(buf, size - 1);
        break;
    default:
        fuzz_csv_json(buf, size - 1,
                      size > 1 ? (size - 1) * (data[0] >> 2) / 63 : 0);
        break;
    }
    free(buf);
    return 0;
}
