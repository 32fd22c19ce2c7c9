/*
 * What every provider client shares: the table of providers (environment
 * names, default base URLs, how the key is sent), the one error every
 * provider failure becomes, and the retry arithmetic.  Pure: no sockets,
 * no curl; the transport calls these around its transfers.
 */

#ifndef NANO_PROVIDER_H
#define NANO_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nano_json_lift.h"

typedef enum {
    NANO_PROVIDER_GEMINI = 0,   /* nano-banana: generateContent */
    NANO_PROVIDER_ARK,          /* seedream: images/generations */
    NANO_PROVIDER_DASHSCOPE,    /* qwen: OpenAI-compatible chat */
    NANO_PROVIDER_XAI,          /* grok: OpenAI-compatible chat */
    NANO_PROVIDER_OPENAI,       /* openai: chat */
    NANO_PROVIDER_WAN,          /* wan-2.5: DashScope async video */
    NANO_PROVIDER_COUNT
} nano_provider_t;

typedef enum {
    NANO_PROVIDER_AUTH_BEARER = 0,  /* Authorization: Bearer <key> */
    NANO_PROVIDER_AUTH_GOOG         /* x-goog-api-key: <key> */
} nano_provider_auth_t;

/* Static facts about one provider; every string is static. */
typedef struct {
    const char            *name;          /* "gemini" … as in modules.conf */
    const char            *label;         /* for people: "Gemini" */
    const char            *key_env;       /* "GEMINI_API_KEY" */
    const char            *base_env;      /* "GEMINI_BASE_URL" */
    const char            *default_base;  /* public endpoint */
    nano_provider_auth_t   auth;
    /* the API roots that the provider's own docs end a base URL with,
     * which our paths carry themselves (NULL-ended) */
    const char            *roots[3];
} nano_provider_info_t;

/* The table row of p (static), or NULL for a value out of range. */
const nano_provider_info_t *nano_provider_info(nano_provider_t p);

/* The provider named name ("gemini", "ark", "dashscope", "xai",
 * "openai", "wan"); -1 when unknown. */
int nano_provider_by_name(const char *name);

/*
 * Writes the authentication header line (no CRLF) for p into buf:
 * "Authorization: Bearer <key>" or "x-goog-api-key: <key>".  Returns 0,
 * or -1 when it does not fit or key is empty or holds a control
 * character.  buf holds the key: wipe it after use and never log it.
 */
int nano_provider_auth_header(nano_provider_t p, const char *key, char *buf,
    size_t size);

/*
 * A new string (caller frees) joining base and path (which starts with
 * '/').  base's trailing slashes are dropped, and then one of roots
 * (NULL-ended, may be NULL) that it ends with: an operator who copies
 * ".../api/v3" from Ark's docs must not get ".../api/v3/api/v3/...".
 * NULL when out of memory or base is empty.
 */
char *nano_provider_url(const char *base, const char *const *roots,
    const char *path);


/* ---- errors ------------------------------------------------------ */

#define NANO_PERR_AUTH         "provider_auth"
#define NANO_PERR_QUOTA        "provider_quota"
#define NANO_PERR_BLOCKED      "blocked"
#define NANO_PERR_BAD_REQUEST  "bad_request"
#define NANO_PERR_PROVIDER     "provider_error"
#define NANO_PERR_TIMEOUT      "timeout"
#define NANO_PERR_BAD_RESPONSE "bad_response"
#define NANO_PERR_STREAM_CUT   "stream_cut"

/*
 * A provider failure as people see it: code is one of the NANO_PERR_*
 * values, message a sentence that never holds the key, nor more of the
 * provider's body than its own short message (control characters
 * removed, long token-like runs elided).  retryable: the same request
 * may be sent again (408, 429 that is not an exhausted quota, 5xx) —
 * only if no output was received and the request surely did not start
 * a charged job.  retry_after_ms: the provider's wish (Retry-After, or
 * Gemini's RetryInfo), 0 when it said nothing.
 */
typedef struct {
    char    code[32];
    char    message[256];
    int     retryable;
    long    retry_after_ms;
} nano_provider_error_t;

/* Empties err (code "" means no error); accepts NULL. */
void nano_provider_error_init(nano_provider_error_t *err);

/* Sets code, retryable and a formatted message (truncated to fit);
 * retry_after_ms is reset to 0.  Returns -1, so a parser can
 * "return nano_provider_error_set(...)".  err may be NULL. */
int nano_provider_error_set(nano_provider_error_t *err, const char *code,
    int retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Copies a provider's own message into out (size bytes) fit to be shown:
 * control characters become spaces, runs of whitespace one space, runs
 * of 24 or more key-like characters ([A-Za-z0-9_-]) "…", at most 160
 * bytes cut at a UTF-8 boundary, and a trailing '.' dropped.  NULL or
 * empty gives "".
 */
void nano_provider_clean_message(const char *msg, char *out, size_t size);

/* A provider's error code or reason (an identifier such as
 * "OutputImageSensitiveContentDetected"), fit to be shown whole: every
 * byte outside [A-Za-z0-9_.:-] becomes '?', cut to size - 1 bytes; NULL
 * gives "".  Codes are shown as they are, so that operators can look
 * them up; nano_provider_clean_message would elide the long ones. */
#define NANO_PROVIDER_CODE_MAX  64
void nano_provider_clean_code(const char *code, char *out, size_t size);

/* Replaces every occurrence of key (when at least 8 bytes) in
 * err->message with "[key]": a last guard for the transport. */
void nano_provider_error_scrub(nano_provider_error_t *err, const char *key);

/* Sets err to provider_auth for p: "<Label> refused the API key (HTTP
 * <status>); check <KEY_ENV>" (status 0: without the HTTP part).  Never
 * the provider's own words: they may quote part of the key.  -1. */
int nano_provider_error_auth(nano_provider_error_t *err, nano_provider_t p,
    long status);

/*
 * Fills err for an HTTP status that is not a success, from what is
 * common to all providers: 401/403 provider_auth, 408 timeout
 * (retryable), 429 provider_quota (retryable), 5xx provider_error
 * (retryable), other 4xx bad_request.  detail (may be NULL) is the
 * provider's cleaned message, appended after ": ".  Returns -1.
 */
int nano_provider_error_from_status(nano_provider_error_t *err,
    nano_provider_t p, long status, const char *detail);

/*
 * The one helper a transport calls for a provider's failed answer: reads
 * the body in that provider's error shape (nano_chat, nano_gemini,
 * nano_ark, nano_wan) and fills err; retry_after (the Retry-After header
 * value, may be NULL) fills retry_after_ms when the body did not.
 * Returns -1 (an error is always set).
 */
int nano_provider_error_from_http(nano_provider_t p, long status,
    const char *retry_after, const char *body, size_t len,
    nano_provider_error_t *err);

/* Sets err for a transfer that timed out; output_received says whether
 * any byte of the answer had arrived (never retryable then; a request
 * that went out whole is never retried either: nano_provider_call_error
 * sets retryable = 0 for it).  Returns -1. */
int nano_provider_error_timeout(nano_provider_error_t *err, nano_provider_t p,
    int output_received);

/* ---- reading answers -------------------------------------------- */

/*
 * Parses a provider's body, which must be one JSON object: a new
 * reference (caller json_decref's), or NULL with err bad_response
 * ("<Label>'s answer is not JSON" / "… not a JSON object").  Provider
 * answers carry more keys than we read, so callers read the keys they
 * need with the helpers below instead of a JSON_STRICT unpack.
 */
json_t *nano_provider_json_parse(nano_provider_t p, const char *body,
    size_t len, nano_provider_error_t *err);

/*
 * The same, with the long values of the members named in keys (inline
 * images) left in body, to be read with nano_json_lift_str
 * (nano_json_lift.h); the caller frees lift, and keeps body meanwhile.
 */
json_t *nano_provider_json_parse_lifted(nano_provider_t p, const char *body,
    size_t len, const char *const *keys, nano_json_lift_t *lift,
    nano_provider_error_t *err);

/* An error body read quietly: the JSON value of body (new reference,
 * any type), or NULL when it is empty or not JSON (the caller then maps
 * the status alone). */
json_t *nano_provider_json_load(const char *body, size_t len);

/*
 * json_loadb for a provider's text, which may hold escapes that JSON's
 * grammar allows and jansson refuses: "\u0000" (PostgreSQL keeps no NUL
 * either) and a lone surrogate, "\ud83d" without its pair (a provider
 * that cut its text by UTF-16 units, as JavaScript's slice() does).
 * When jansson refused one of those, each becomes "\ufffd", the
 * replacement character, and the text is read again: one odd character
 * of an answer no longer throws the whole answer away as "not JSON".
 * A raw byte that is not UTF-8 is still refused (JSON is UTF-8).
 */
json_t *nano_provider_json_loadb(const char *body, size_t len, size_t flags,
    json_error_t *err);

/* The string member key of obj (borrowed from obj), or NULL when obj is
 * not an object or the member is absent or not a string. */
const char *nano_provider_json_str(const json_t *obj, const char *key);

/* The integer member key of obj, or dflt when absent or not an integer
 * (a real that is a whole number counts). */
long nano_provider_json_long(const json_t *obj, const char *key, long dflt);

/* ---- retries ----------------------------------------------------- */

/*
 * Retry-After as milliseconds: delta-seconds ("22", "1.5") or an
 * HTTP-date, read against now (seconds since the epoch).  A date not
 * after now, a negative or unreadable value gives 0.  Capped at one
 * hour.
 */
long nano_provider_retry_after_ms(const char *value, long long now);

/*
 * Exponential backoff with jitter for attempt 0, 1, 2…: base_ms doubled
 * per attempt, capped at cap_ms, then scaled into [75 %, 100 %] by rnd
 * (any 32-bit value: the caller's randomness, so this stays pure and
 * testable).  A retry_after_ms larger than that wins (not jittered, but
 * capped at 60 s).
 */
long nano_provider_backoff_ms(unsigned attempt, long base_ms, long cap_ms,
    uint32_t rnd, long retry_after_ms);

/* The platform's retry policy for a failed call: 1 when err is
 * retryable, no output was received and attempt (0 = the first retry)
 * is below NANO_PROVIDER_RETRIES. */
#define NANO_PROVIDER_RETRIES        2
#define NANO_PROVIDER_RETRY_BASE_MS  500
#define NANO_PROVIDER_RETRY_CAP_MS   8000
/* The longest provider's wait a retry waits out; a provider that asks
 * for longer would refuse the retry as well: the call fails instead. */
#define NANO_PROVIDER_RETRY_AFTER_MAX_MS  60000
int nano_provider_should_retry(const nano_provider_error_t *err,
    unsigned attempt, int output_received);

#endif /* NANO_PROVIDER_H */
