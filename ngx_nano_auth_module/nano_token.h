/*
 * Session tokens: HS256 compact JWS as the platform issues them and the
 * gateway verifies them.  Plain C, no nginx types, so the nginx module,
 * the backends, the unit tests and the fuzzers share one implementation.
 */

#ifndef NANO_TOKEN_H
#define NANO_TOKEN_H

#include <stddef.h>
#include <sys/types.h>

#define NANO_KEY_MIN_LEN       32
#define NANO_KEYS_MAX          8
#define NANO_KEY_MAX_LEN       1024
#define NANO_TOKEN_MAX_LEN     8192     /* longest token we even look at */
#define NANO_TOKEN_MAX_AGE     (30 * 24 * 3600)   /* NextAuth maxAge */
#define NANO_TOKEN_UPDATE_AGE  (24 * 3600)        /* NextAuth updateAge */

typedef enum {
    NANO_TOKEN_OK = 0,
    NANO_TOKEN_MISSING,
    NANO_TOKEN_EXPIRED,
    NANO_TOKEN_INVALID,
    NANO_TOKEN_REVOKED       /* valid, but signed out (nano_revoke.h) */
} nano_token_status_t;

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

/* Opaque: the keys of one key file and their prepared MAC. Immutable
 * once loaded, so threads may verify against one keyring concurrently. */
typedef struct nano_keyring_s  nano_keyring_t;

/*
 * Parses key file contents: one key per line, "\r\n" or "\n", blank lines
 * ignored, every key at least NANO_KEY_MIN_LEN bytes.  Returns a new
 * keyring (caller frees with nano_keyring_free) or NULL with a message
 * in err.
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

/*
 * Verifies a compact JWS: alg exactly HS256, signature by any key of the
 * keyring compared in constant time, exp and sub present, exp/nbf/iat
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
 * Signs claims with the keyring's first key (libjwt, HS256).  Returns a
 * new NUL-terminated token the caller frees with free(), or NULL.
 * Lives in nano_token_issue.c so the gateway does not link libjwt.
 */
char *nano_token_sign(const nano_keyring_t *kr, const nano_claims_t *claims);

/*
 * Strict base64url without padding (RFC 7515's encoding of JWS parts):
 * decodes len characters of in into out (cap bytes).  Returns the decoded
 * length, or -1 for a character outside the alphabet, a lone trailing
 * character, non-zero leftover bits (not canonical) or a result over cap.
 */
ssize_t nano_b64url_decode(const char *in, size_t len, unsigned char *out,
    size_t cap);

/*
 * 1 when the well-formed UTF-8 string holds a control character: C0
 * (0x00-0x1f), DEL (0x7f) or C1 (U+0080-U+009F).  Identities end up in
 * headers, logs and pages, so no identity claim may hold one.
 */
int nano_has_control(const nano_str_t *s);

/* Short lower-case name of a status, as $nano_auth_status shows it. */
const char *nano_token_status_name(nano_token_status_t status);

#endif /* NANO_TOKEN_H */
