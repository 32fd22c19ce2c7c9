/*
 * The provider table, the shared provider error and retry arithmetic.
 */

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_ark.h"
#include "nano_chat.h"
#include "nano_config.h"
#include "nano_gemini.h"
#include "nano_provider.h"
#include "nano_utf8.h"
#include "nano_wan.h"

#define NANO_PROVIDER_MSG_MAX     160
#define NANO_PROVIDER_RUN_ELIDE   24

static const nano_provider_info_t  nano_provider_table[NANO_PROVIDER_COUNT] = {
    [NANO_PROVIDER_GEMINI] = { "gemini", "Gemini", "GEMINI_API_KEY",
        "GEMINI_BASE_URL", "https://generativelanguage.googleapis.com",
        NANO_PROVIDER_AUTH_GOOG, { "/v1beta", NULL } },
    [NANO_PROVIDER_ARK] = { "ark", "Ark", "ARK_API_KEY", "ARK_BASE_URL",
        "https://ark.ap-southeast.bytepluses.com",
        NANO_PROVIDER_AUTH_BEARER, { "/api/v3", NULL } },
    [NANO_PROVIDER_DASHSCOPE] = { "dashscope", "DashScope",
        "DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL",
        "https://dashscope-intl.aliyuncs.com", NANO_PROVIDER_AUTH_BEARER,
        { "/compatible-mode/v1", "/api/v1", NULL } },
    [NANO_PROVIDER_XAI] = { "xai", "xAI", "XAI_API_KEY", "XAI_BASE_URL",
        "https://api.x.ai/v1", NANO_PROVIDER_AUTH_BEARER, { NULL } },
    [NANO_PROVIDER_OPENAI] = { "openai", "OpenAI", "OPENAI_API_KEY",
        "OPENAI_BASE_URL", "https://api.openai.com/v1",
        NANO_PROVIDER_AUTH_BEARER, { NULL } },
    [NANO_PROVIDER_WAN] = { "wan", "DashScope", "DASHSCOPE_API_KEY",
        "DASHSCOPE_BASE_URL", "https://dashscope-intl.aliyuncs.com",
        NANO_PROVIDER_AUTH_BEARER,
        { "/compatible-mode/v1", "/api/v1", NULL } },
};

const nano_provider_info_t *
nano_provider_info(nano_provider_t p)
{
    if ((int) p < 0 || p >= NANO_PROVIDER_COUNT) {
        return NULL;
    }
    return &nano_provider_table[p];
}

int
nano_provider_by_name(const char *name)
{
    int  i;

    if (name == NULL) {
        return -1;
    }
    for (i = 0; i < NANO_PROVIDER_COUNT; i++) {
        if (strcmp(nano_provider_table[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

int
nano_provider_auth_header(nano_provider_t p, const char *key, char *buf,
    size_t size)
{
    const nano_provider_info_t  *info = nano_provider_info(p);
    int                          n;

    /* no key holds a blank either: "Bearer sk-1 " failed every call */
    if (info == NULL || key == NULL || key[0] == '\0' || buf == NULL
        || size == 0 || !nano_config_plain(key))
    {
        return -1;
    }
    if (info->auth == NANO_PROVIDER_AUTH_GOOG) {
        n = snprintf(buf, size, "x-goog-api-key: %s", key);
    } else {
        n = snprintf(buf, size, "Authorization: Bearer %s", key);
    }
    if (n < 0 || (size_t) n >= size) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

char *
nano_provider_url(const char *base, const char *const *roots,
    const char *path)
{
    size_t   blen, plen, rlen;
    char    *url;

    if (base == NULL || path == NULL) {
        return NULL;
    }
    blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/') {
        blen--;
    }
    for (; roots != NULL && *roots != NULL; roots++) {
        rlen = strlen(*roots);
        /* a whole root after the host, leaving no "//" behind */
        if (blen > rlen && memcmp(base + blen - rlen, *roots, rlen) == 0
            && base[blen - rlen - 1] != '/')
        {
            blen -= rlen;
            break;
        }
    }
    if (blen == 0) {
        return NULL;
    }
    plen = strlen(path);
    url = malloc(blen + plen + 1);
    if (url == NULL) {
        return NULL;
    }
    memcpy(url, base, blen);
    memcpy(url + blen, path, plen + 1);
    return url;
}

void
nano_provider_error_init(nano_provider_error_t *err)
{
    if (err == NULL) {
        return;
    }
    memset(err, 0, sizeof(*err));
}

/*
 * The last pass over every message: whatever a format put in (a
 * provider's words, a code, a cut at the buffer's end), what leaves is
 * one line of strict UTF-8 that a log and a JSON answer take as it is.
 * Control characters become spaces, bytes that are not UTF-8 '?'.
 */
static void
nano_provider_plain_text(char *s)
{
    size_t  len = strlen(s), i, n;

    for (i = 0; i < len; i += n) {
        n = nano_utf8_seq((const unsigned char *) s + i, len - i);
        if (n == 0) {
            s[i] = '?';
            n = 1;
        } else if (n == 1 && ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)) {
            s[i] = ' ';
        }
    }
}

int
nano_provider_error_set(nano_provider_error_t *err, const char *code,
    int retryable, const char *fmt, ...)
{
    va_list  ap;

    if (err == NULL) {
        return -1;
    }
    snprintf(err->code, sizeof(err->code), "%s", code);
    err->retryable = retryable;
    err->retry_after_ms = 0;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    nano_provider_plain_text(err->message);
    return -1;
}

static int
nano_provider_keylike(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '-';
}

void
nano_provider_clean_message(const char *msg, char *out, size_t size)
{
    size_t          i, o, run, limit;
    unsigned char   c;

    if (out == NULL || size == 0) {
        return;
    }
    out[0] = '\0';
    if (msg == NULL) {
        return;
    }
    limit = size - 1;
    if (limit > NANO_PROVIDER_MSG_MAX) {
        limit = NANO_PROVIDER_MSG_MAX;
    }
    o = 0;
    for (i = 0; msg[i] != '\0' && o < limit; ) {
        c = (unsigned char) msg[i];
        if (nano_provider_keylike(c)) {
            for (run = 0; nano_provider_keylike((unsigned char) msg[i + run]);
                 run++)
            {
                /* measure */
            }
            if (run >= NANO_PROVIDER_RUN_ELIDE) {
                if (o + 3 > limit) {
                    break;
                }
                memcpy(out + o, "\xe2\x80\xa6", 3);    /* … */
                o += 3;
            } else {
                if (o + run > limit) {
                    break;
                }
                memcpy(out + o, msg + i, run);
                o += run;
            }
            i += run;
            continue;
        }
        if (c < 0x20 || c == 0x7f || c == ' ') {
            if (o > 0 && out[o - 1] != ' ') {
                out[o++] = ' ';
            }
            i++;
            continue;
        }
        out[o++] = (char) c;
        i++;
    }
    /* never end inside a UTF-8 sequence */
    if (msg[i] != '\0') {
        while (o > 0 && ((unsigned char) out[o - 1] & 0xc0) == 0x80) {
            o--;
        }
        if (o > 0 && ((unsigned char) out[o - 1] & 0xc0) == 0xc0) {
            o--;
        }
    }
    while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '.')) {
        o--;
    }
    out[o] = '\0';
}

void
nano_provider_clean_code(const char *code, char *out, size_t size)
{
    size_t          i;
    unsigned char   c;

    if (out == NULL || size == 0) {
        return;
    }
    for (i = 0; code != NULL && code[i] != '\0' && i + 1 < size; i++) {
        c = (unsigned char) code[i];
        out[i] = (nano_provider_keylike(c) || c == '.' || c == ':')
                 ? (char) c : '?';
    }
    out[i] = '\0';
}

void
nano_provider_error_scrub(nano_provider_error_t *err, const char *key)
{
    char    out[sizeof(err->message)];
    size_t  klen, i, o;

    if (err == NULL || key == NULL) {
        return;
    }
    klen = strlen(key);
    if (klen < 8 || strstr(err->message, key) == NULL) {
        return;
    }
    for (i = 0, o = 0; err->message[i] != '\0' && o + 1 < sizeof(out); ) {
        if (strncmp(err->message + i, key, klen) == 0) {
            if (o + 5 >= sizeof(out)) {
                break;
            }
            memcpy(out + o, "[key]", 5);
            o += 5;
            i += klen;
        } else {
            out[o++] = err->message[i++];
        }
    }
    out[o] = '\0';
    memcpy(err->message, out, o + 1);
}

int
nano_provider_error_auth(nano_provider_error_t *err, nano_provider_t p,
    long status)
{
    const nano_provider_info_t  *info = nano_provider_info(p);

    if (info == NULL) {
        return nano_provider_error_set(err, NANO_PERR_AUTH, 0,
            "The provider refused the API key");
    }
    if (status > 0) {
        return nano_provider_error_set(err, NANO_PERR_AUTH, 0,
            "%s refused the API key (HTTP %ld); check %s", info->label,
            status, info->key_env);
    }
    return nano_provider_error_set(err, NANO_PERR_AUTH, 0,
        "%s refused the API key; check %s", info->label, info->key_env);
}

int
nano_provider_error_from_status(nano_provider_error_t *err,
    nano_provider_t p, long status, const char *detail)
{
    const nano_provider_info_t  *info = nano_provider_info(p);
    const char                  *who = info ? info->label : "The provider";
    const char                  *sep = (detail && *detail) ? ": " : "";

    if (detail == NULL) {
        detail = "";
    }
    if (status == 401 || status == 403) {
        return nano_provider_error_auth(err, p, status);
    }
    if (status == 408) {
        return nano_provider_error_set(err, NANO_PERR_TIMEOUT, 1,
            "%s timed out (HTTP 408)%s%s", who, sep, detail);
    }
    if (status == 429) {
        return nano_provider_error_set(err, NANO_PERR_QUOTA, 1,
            "%s's rate limit or quota was reached (HTTP 429)%s%s", who, sep,
            detail);
    }
    if (status >= 500 && status <= 599) {
        return nano_provider_error_set(err, NANO_PERR_PROVIDER, 1,
            "%s failed (HTTP %ld)%s%s", who, status, sep, detail);
    }
    if (status >= 400 && status <= 499) {
        return nano_provider_error_set(err, NANO_PERR_BAD_REQUEST, 0,
            "%s refused the request (HTTP %ld)%s%s", who, status, sep,
            detail);
    }
    return nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
        "%s answered with an unexpected HTTP status %ld", who, status);
}

int
nano_provider_error_from_http(nano_provider_t p, long status,
    const char *retry_after, const char *body, size_t len,
    nano_provider_error_t *err)
{
    nano_provider_error_t  local;

    if (err == NULL) {
        err = &local;
    }
    nano_provider_error_init(err);
    switch (p) {
    case NANO_PROVIDER_GEMINI:
        nano_gemini_parse_error(status, body, len, err);
        break;
    case NANO_PROVIDER_ARK:
        nano_ark_parse_error(status, body, len, err);
        break;
    case NANO_PROVIDER_WAN:
        nano_wan_parse_error(status, body, len, err);
        break;
    case NANO_PROVIDER_DASHSCOPE:
    case NANO_PROVIDER_XAI:
    case NANO_PROVIDER_OPENAI:
    default:
        nano_chat_parse_error(p, status, body, len, err);
        break;
    }
    if (err->code[0] == '\0') {
        nano_provider_error_from_status(err, p, status, NULL);
    }
    if (err->retry_after_ms == 0 && retry_after != NULL) {
        err->retry_after_ms = nano_provider_retry_after_ms(retry_after,
                                                          time(NULL));
    }
    return -1;
}

int
nano_provider_error_timeout(nano_provider_error_t *err, nano_provider_t p,
    int output_received)
{
    const nano_provider_info_t  *info = nano_provider_info(p);
    const char                  *who = info ? info->label : "The provider";

    if (output_received) {
        return nano_provider_error_set(err, NANO_PERR_TIMEOUT, 0,
            "%s stopped answering in the middle of its answer", who);
    }
    return nano_provider_error_set(err, NANO_PERR_TIMEOUT, 1,
        "%s did not answer in time", who);
}

/* The value of the four hex digits at s, or -1. */
static long
nano_provider_hex4(const char *s)
{
    long  v = 0;
    int   i, d;

    for (i = 0; i < 4; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            d = s[i] - '0';
        } else if (s[i] >= 'a' && s[i] <= 'f') {
            d = s[i] - 'a' + 10;
        } else if (s[i] >= 'A' && s[i] <= 'F') {
            d = s[i] - 'A' + 10;
        } else {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

/* Rewrites, inside the strings of the JSON text s, each "\u0000" and
 * each lone surrogate escape as "\ufffd" (six bytes for six: nothing
 * moves); returns how many. */
static size_t
nano_provider_json_mend(char *s, size_t len)
{
    size_t  i, n = 0;
    long    c, next;
    int     in_string = 0;

    for (i = 0; i < len; i++) {
        if (!in_string) {
            in_string = s[i] == '"';
            continue;
        }
        if (s[i] == '"') {
            in_string = 0;
            continue;
        }
        if (s[i] != '\\' || i + 1 >= len) {
            continue;
        }
        if (s[i + 1] != 'u' || i + 6 > len
            || (c = nano_provider_hex4(s + i + 2)) < 0)
        {
            i++;    /* another escape: its second byte is not a quote */
            continue;
        }
        if (c >= 0xd800 && c <= 0xdbff && i + 12 <= len
            && s[i + 6] == '\\' && s[i + 7] == 'u'
            && (next = nano_provider_hex4(s + i + 8)) >= 0xdc00
            && next <= 0xdfff)
        {
            i += 11;    /* a whole pair */
            continue;
        }
        if (c == 0 || (c >= 0xd800 && c <= 0xdfff)) {
            memcpy(s + i, "\\ufffd", 6);
            n++;
        }
        i += 5;
    }
    return n;
}

json_t *
nano_provider_json_loadb(const char *body, size_t len, size_t flags,
    json_error_t *err)
{
    json_error_t   e;
    json_t        *root;
    char          *copy;

    if (err == NULL) {
        err = &e;
    }
    root = json_loadb(body, len, flags, err);
    if (root != NULL
        || (json_error_code(err) != json_error_null_character
            && strncmp(err->text, "invalid Unicode", 15) != 0))
    {
        return root;
    }
    copy = malloc(len);
    if (copy == NULL) {
        return NULL;
    }
    memcpy(copy, body, len);
    if (nano_provider_json_mend(copy, len) > 0) {
        root = json_loadb(copy, len, flags, err);
    }
    free(copy);
    return root;
}

json_t *
nano_provider_json_parse(nano_provider_t p, const char *body, size_t len,
    nano_provider_error_t *err)
{
    return nano_provider_json_parse_lifted(p, body, len, NULL, NULL, err);
}

json_t *
nano_provider_json_parse_lifted(nano_provider_t p, const char *body,
    size_t len, const char *const *keys, nano_json_lift_t *lift,
    nano_provider_error_t *err)
{
    const nano_provider_info_t  *info = nano_provider_info(p);
    const char                  *who = info ? info->label : "The provider";
    json_t                      *root;
    json_error_t                 jerr;

    if (lift != NULL) {
        memset(lift, 0, sizeof(*lift));
    }
    if (body == NULL || len == 0) {
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "%s's answer was empty", who);
        return NULL;
    }
    root = lift != NULL
           ? nano_json_lift_load(lift, body, len, keys,
                                 JSON_REJECT_DUPLICATES, &jerr)
           : nano_provider_json_loadb(body, len, JSON_REJECT_DUPLICATES,
                                      &jerr);
    if (root == NULL) {
        nano_json_lift_free(lift);
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "%s's answer is not JSON", who);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        nano_json_lift_free(lift);
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "%s's answer is not a JSON object", who);
        return NULL;
    }
    return root;
}

json_t *
nano_provider_json_load(const char *body, size_t len)
{
    return body != NULL && len > 0 ? nano_provider_json_loadb(body, len, 0,
                                                              NULL)
                                   : NULL;
}

const char *
nano_provider_json_str(const json_t *obj, const char *key)
{
    json_t  *v;

    if (!json_is_object(obj)) {
        return NULL;
    }
    v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

long
nano_provider_json_long(const json_t *obj, const char *key, long dflt)
{
    json_t  *v;
    double   d;

    if (!json_is_object(obj)) {
        return dflt;
    }
    v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        return (long) json_integer_value(v);
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
        /* (long) of a double past its range is undefined (a fuzzer's
         * "totalTokenCount":1e95); 2^63 is exact as a double */
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0
            && d == (double) (long) d)
        {
            return (long) d;
        }
    }
    return dflt;
}

/*
 * An HTTP-date (RFC 9110, 5.6.7) as seconds since the epoch: the
 * IMF-fixdate senders use, and the two obsolete forms a recipient must
 * still read (RFC 850's and asctime's).  -1 when s is none of them.
 */
static long long
nano_provider_http_date(const char *s)
{
    static const char  months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char        *m;
    char               mon[4];
    int                day, year, hh, mm, ss, n;
    struct tm          tm;

    /* the weekday adds nothing: skip it and its comma */
    while (isalpha((unsigned char) *s)) {
        s++;
    }
    n = -1;
    if (*s == ',') {
        /* "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 …" */
        if (sscanf(s, ", %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", &day, mon,
                   &year, &hh, &mm, &ss, &n) != 6 || n < 0)
        {
            n = -1;
            if (sscanf(s, ", %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", &day,
                       mon, &year, &hh, &mm, &ss, &n) != 6 || n < 0)
            {
                return -1;
            }
            /* RFC 9110: a two-digit year more than 50 years ahead is in
             * the past century */
            year += year < 70 ? 2000 : 1900;
        }
    } else if (sscanf(s, " %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", mon, &day,
                      &hh, &mm, &ss, &year, &n) != 6 || n < 0)
    {
        /* "Sun Nov  6 08:49:37 1994" */
        return -1;
    }
    for (s += n; *s == ' ' || *s == '\t'; s++) {
        /* trailing blanks */
    }
    m = strlen(mon) == 3 ? strstr(months, mon) : NULL;
    if (*s != '\0' || m == NULL || (m - months) % 3 != 0
        || day < 1 || day > 31 || year < 1970 || hh < 0 || hh > 23
        || mm < 0 || mm > 59 || ss < 0 || ss > 60)
    {
        return -1;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = (int) (m - months) / 3;
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    return (long long) timegm(&tm);
}

long
nano_provider_retry_after_ms(const char *value, long long now)
{
    char       *end;
    double      s;
    long long   at;

    if (value == NULL) {
        return 0;
    }
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    if (!isdigit((unsigned char) *value)) {
        at = nano_provider_http_date(value);
        if (at < 0 || at <= now) {
            return 0;
        }
        s = (double) (at - now);
    } else {
        s = strtod(value, &end);
        while (*end == ' ' || *end == '\t') {
            end++;
        }
        if (*end != '\0' || s < 0) {
            return 0;
        }
    }
    if (s > 3600) {
        s = 3600;
    }
    return (long) (s * 1000 + 0.5);
}

long
nano_provider_backoff_ms(unsigned attempt, long base_ms, long cap_ms,
    uint32_t rnd, long retry_after_ms)
{
    long  d = base_ms;

    while (attempt-- > 0 && d < cap_ms) {
        d *= 2;
    }
    if (d > cap_ms) {
        d = cap_ms;
    }
    /* [75 %, 100 %] of d */
    d = d - (long) ((double) d / 4 * ((double) rnd / 4294967295.0));
    if (retry_after_ms > NANO_PROVIDER_RETRY_AFTER_MAX_MS) {
        retry_after_ms = NANO_PROVIDER_RETRY_AFTER_MAX_MS;
    }
    return retry_after_ms > d ? retry_after_ms : d;
}

int
nano_provider_should_retry(const nano_provider_error_t *err,
    unsigned attempt, int output_received)
{
    return err != NULL && err->retryable && !output_received
           && attempt < NANO_PROVIDER_RETRIES;
}
