/*
 * Session tokens as the platform issues them and the gateway verifies
 * them: HS256 compact JWS, and NextAuth v4's own encrypted JWE (dir,
 * A256GCM; nano_jwe.h).  Plain C, no nginx types, so the nginx module,
 * the backends, the unit tests and the fuzzers share one implementation.
 */

#ifndef NANO_TOKEN_H
#define NANO_TOKEN_H

#include <stddef.h>
#include <sys/types.h>

#define NANO_KEY_MIN_LEN       32
#define NANO_KEYS_MAX          8
#define NANO_KEY_MAX_LEN       1024
#define NANO_KID_MAX_LEN       64       /* bytes of a key id */
#define NANO_KEYFILE_MAGIC     "nano-keys 2"     /* key file format 2 */
#define NANO_TOKEN_MAX_LEN     8192     /* longest token we even look at */
/* NextAuth's default maxAge, and the longest a session token lives: the
 * platform's NANO_SESSION_MAX_AGE may only shorten it, so whatever keeps
 * state a token lifetime ahead (revocations, cut-offs) uses this one. */
#define NANO_TOKEN_MAX_AGE     (30 * 24 * 3600)
/* The shortest lifetime a session may be given (NANO_SESSION_MAX_AGE,
 * nano_auth_max_age): five minutes, of which the gateway forgives a
 * minute's leeway past the end. */
#define NANO_TOKEN_MIN_AGE     300

typedef enum {
    NANO_TOKEN_OK = 0,
    NANO_TOKEN_MISSING,
    NANO_TOKEN_EXPIRED,
    NANO_TOKEN_INVALID,
    NANO_TOKEN_REVOKED       /* valid, but signed out (nano_revoke.h) */
} nano_token_status_t;

/*
 * Why a token is refused, finer than the status (nano_token_reason_status
 * maps one to the other); $nano_auth_reason shows it.
 */
typedef enum {
    NANO_TOKEN_REASON_OK = 0,
    NANO_TOKEN_REASON_MISSING,       /* no session cookie */
    NANO_TOKEN_REASON_MALFORMED,     /* not a JWS or JWE we can read */
    NANO_TOKEN_REASON_CONFLICT,      /* the cookie twice, different values */
    NANO_TOKEN_REASON_UNSUPPORTED,   /* alg, enc, zip or crit refused */
    NANO_TOKEN_REASON_UNKNOWN_KID,   /* a kid the key file does not name */
    NANO_TOKEN_REASON_BAD_SIGNATURE, /* no key's MAC or GCM tag matches */
    NANO_TOKEN_REASON_BAD_CLAIMS,    /* authentic, but not a session */
    NANO_TOKEN_REASON_NOT_YET_VALID, /* nbf or iat in the future */
    NANO_TOKEN_REASON_EXPIRED,
    NANO_TOKEN_REASON_REVOKED        /* nano_revoke.h */
} nano_token_reason_t;

typedef enum {
    NANO_TOKEN_JWS = 1,              /* HS256 */
    NANO_TOKEN_JWE                   /* dir + A256GCM, NextAuth v4 */
} nano_token_format_t;

/* A borrowed, length-delimited string; data is NUL-terminated when set. */
typedef struct {
    const char  *data;
    size_t       len;
} nano_str_t;

typedef struct {
    nano_str_t   sub;        /* user id, required */
    nano_str_t   email;
    nano_str_t   name;
    nano_str_t   picture;
    nano_str_t   jti;        /* session id */
    long long    iat;
    long long    exp;        /* required */
    long long    nbf;
    unsigned     has_iat:1;
    unsigned     has_nbf:1;
} nano_claims_t;

/* Opaque: the keys of one key file, their prepared MAC and their derived
 * JWE keys.  Immutable once loaded, so threads may verify against one
 * keyring concurrently. */
typedef struct nano_keyring_s  nano_keyring_t;

/* Opaque: one reusable AES-256-GCM context (nano_jwe.h); one per thread
 * or nginx worker. */
typedef struct nano_jwe_ctx_s  nano_jwe_ctx_t;

/*
 * Parses key file contents, in one of two formats.  Every key is at least
 * NANO_KEY_MIN_LEN and at most NANO_KEY_MAX_LEN bytes; lines end with
 * "\n" or "\r\n"; the first key signs, all verify.
 *
 * Format 1 (no magic line): every line that is not blank is one key,
 * verbatim.
 *
 * Format 2: the first line is exactly NANO_KEYFILE_MAGIC.  Then every
 * line is blank, a comment (starting with '#'), "<key>" or
 * "<kid> <key>": fields are separated by one space and written
 * percent-encoded (every byte outside 0x21..0x7e, and '%', as %XX), so a
 * field never holds a space and keys of any bytes stay one field.  A kid
 * decodes to 1..NANO_KID_MAX_LEN printable ASCII bytes (0x20..0x7e), once
 * per file.  The magic line is shorter than a key, so format 1 never
 * accepted a file that format 2 reads differently.
 *
 * Every key's HMAC states and its JWE key (HKDF, nano_jwe.h) are
 * computed here, once.  Returns a new keyring (caller frees with
 * nano_keyring_free) or NULL with a message in err.
 */
nano_keyring_t *nano_keyring_parse(const char *buf, size_t len, char *err,
    size_t errlen);

/* Reads and parses a key file; NULL with a message in err on failure. */
nano_keyring_t *nano_keyring_load(const char *path, char *err, size_t errlen);

/* Accepts NULL. */
void nano_keyring_free(nano_keyring_t *kr);

size_t nano_keyring_count(const nano_keyring_t *kr);

/* The signing key (the first one), borrowed from the keyring. */
const unsigned char *nano_keyring_signing_key(const nano_keyring_t *kr,
    size_t *len);

/* Key i's id (NUL-terminated, borrowed) and its length, or NULL when the
 * key has none. */
const char *nano_keyring_kid(const nano_keyring_t *kr, size_t i,
    size_t *len);

/*
 * The keys a token may be verified with: with a kid (kid->data set) and a
 * key file that names kids, exactly the key of that id; otherwise all
 * keys (a format 1 file ignores a token's kid).  Sets [*first, *last)
 * and returns 0, or -1 for a kid the key file does not name.
 */
int nano_keyring_candidates(const nano_keyring_t *kr, const nano_str_t *kid,
    size_t *first, size_t *last);

/* Key i's derived JWE content encryption key (NANO_JWE_KEY_LEN bytes). */
const unsigned char *nano_keyring_jwe_key(const nano_keyring_t *kr,
    size_t i);

/*
 * Authenticates and parses a token of either format, without looking at
 * the clock: a JWS (two dots) by its HS256 MAC, a JWE (four dots) by its
 * GCM tag; the header's kid picks the key (nano_keyring_candidates).
 * jwe is a reusable cipher context, or NULL to make one for this call.
 *
 * scratch (at least len + 1 bytes) receives the decoded claims; the
 * strings in *claims point into it.  Returns NANO_TOKEN_REASON_OK with
 * *format set, or why not (claims then zeroed).  An empty token is
 * NANO_TOKEN_REASON_MISSING.
 */
nano_token_reason_t nano_token_open(const nano_keyring_t *kr,
    nano_jwe_ctx_t *jwe, const char *token, size_t len, char *scratch,
    size_t scratch_len, nano_claims_t *claims, nano_token_format_t *format);

/*
 * The clock checks of opened claims at now: nbf and iat not later than
 * now + leeway (else NOT_YET_VALID), exp later than now - leeway (else
 * EXPIRED).  A JWE gets at most NANO_JWE_LEEWAY, NextAuth v4's own
 * clockTolerance, so a token next-auth's decode() refuses is refused
 * here too.
 */
nano_token_reason_t nano_token_check_time(const nano_claims_t *claims,
    nano_token_format_t format, long long now, long long leeway);

/*
 * nano_token_check_time, then a session lifetime set after the token was
 * issued: a token whose iat + max_age is past (the same leeway as exp) is
 * EXPIRED, as if it had been issued with that lifetime, so shortening
 * NANO_SESSION_MAX_AGE (nano_auth_max_age at the gateway) shortens the
 * sessions already out too.  Every token the platform or next-auth
 * issues carries iat (a renewal's is its own time); one without iat is
 * bounded by its exp alone.  max_age 0: exp alone.
 */
nano_token_reason_t nano_token_check_session(const nano_claims_t *claims,
    nano_token_format_t format, long long now, long long leeway,
    long long max_age);

/*
 * nano_token_open and nano_token_check_time in one, with a cipher context
 * made for the call: a compact JWS (alg exactly HS256, MAC compared in
 * constant time) or JWE (nano_jwe.h), exp and sub present, exp/nbf/iat
 * checked against now with leeway seconds of skew.
 *
 * scratch (at least len + 1 bytes) receives the decoded claims; the
 * strings in *claims point into it, so it must outlive them.  An empty
 * token is NANO_TOKEN_MISSING.
 */
nano_token_status_t nano_token_verify(const nano_keyring_t *kr,
    const char *token, size_t len, long long now, long long leeway,
    char *scratch, size_t scratch_len, nano_claims_t *claims);

/*
 * Signs claims with the keyring's first key (libjwt, HS256; the header
 * carries that key's kid when it has one).  Returns a new NUL-terminated
 * token the caller frees with free(), or NULL.  Lives in
 * nano_token_issue.c so the gateway does not link libjwt.
 */
char *nano_token_sign(const nano_keyring_t *kr, const nano_claims_t *claims);

/*
 * Encrypts claims as NextAuth v4's encode() does: a JWE (dir, A256GCM)
 * under the first key's derived key, claims in next-auth's order (name,
 * email, picture, sub, iat, exp, jti; absent ones left out), the key's
 * kid in the header when it has one.  Returns a new token the caller
 * frees with free(), or NULL.  In nano_token_issue.c (jansson).
 */
char *nano_token_encrypt(const nano_keyring_t *kr,
    const nano_claims_t *claims);

/* Short lower-case name of a status, as $nano_auth_status shows it. */
const char *nano_token_status_name(nano_token_status_t status);

/* Short lower-case name of a reason, as $nano_auth_reason shows it
 * ("" for NANO_TOKEN_REASON_OK). */
const char *nano_token_reason_name(nano_token_reason_t reason);

/* The status a reason falls under: OK, MISSING, EXPIRED, REVOKED, or
 * INVALID for every other refusal. */
nano_token_status_t nano_token_reason_status(nano_token_reason_t reason);

#endif /* NANO_TOKEN_H */
