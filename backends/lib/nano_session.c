/*
 * Session cookies: read, issue, clear.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_config.h"
#include "nano_log.h"
#include "nano_rand.h"
#include "nano_session.h"

#define NANO_SESSION_NAME  NANO_COOKIE_NAME_DEFAULT
#define NANO_SESSION_SECURE_NAME \
    NANO_COOKIE_SECURE_PREFIX NANO_COOKIE_NAME_DEFAULT

/* Chunk suffixes we look for when clearing: more than the reader ever
 * accepts, so leftovers of a bigger cookie go too. */
#define NANO_SESSION_CLEAR_CHUNKS  (2 * NANO_COOKIE_CHUNKS_MAX)

/* NANO_SESSION_MAX_AGE: set once at start, before any thread reads it */
static int  nano_session_age = NANO_TOKEN_MAX_AGE;

int
nano_session_configure(char *err, size_t errlen)
{
    return nano_config_env_int("NANO_SESSION_MAX_AGE", NANO_TOKEN_MAX_AGE,
                               NANO_SESSION_MAX_AGE_MIN, NANO_TOKEN_MAX_AGE,
                               &nano_session_age, err, errlen);
}

long long
nano_session_max_age(void)
{
    return nano_session_age;
}

long long
nano_session_update_age(void)
{
    return nano_session_age / NANO_SESSION_UPDATE_PART;
}

const char *
nano_session_cookie_name(int https)
{
    return https ? NANO_SESSION_SECURE_NAME : NANO_SESSION_NAME;
}

void
nano_session_init(nano_session_t *s)
{
    memset(s, 0, sizeof(*s));
    s->status = NANO_TOKEN_MISSING;
}

void
nano_session_cleanup(nano_session_t *s)
{
    if (s == NULL) {
        return;
    }
    free(s->buf);
    nano_session_init(s);
}

nano_token_status_t
nano_session_read(const nano_req_t *req, long long now, nano_session_t *s)
{
    const size_t          cap = NANO_TOKEN_MAX_LEN + 1;
    nano_str_t            headers[NANO_COOKIE_HEADERS_MAX];
    nano_cookie_result_t  found;
    nano_token_format_t   format;
    nano_token_reason_t   reason;
    size_t                n, len = 0;

    s->status = NANO_TOKEN_MISSING;
    n = nano_req_cookie_headers(req, headers, NANO_COOKIE_HEADERS_MAX);
    if (n == 0 || req->config->keyring == NULL) {
        return s->status;
    }
    if (n > NANO_COOKIE_HEADERS_MAX) {
        s->present = 1;
        s->status = NANO_TOKEN_INVALID;
        return s->status;
    }

    /* Cookie value first, then the scratch the claims point into. */
    s->buf = malloc(2 * cap);
    if (s->buf == NULL) {
        s->status = NANO_TOKEN_INVALID;
        return s->status;
    }

    /* the gateway's rule, so the two always read the same session */
    found = nano_cookie_session_token(headers, n, NANO_SESSION_NAME,
                                      sizeof(NANO_SESSION_NAME) - 1,
                                      req->config->https, s->buf, cap, &len);
    if (found == NANO_COOKIE_ABSENT) {
        return s->status;
    }
    s->present = 1;
    if (found != NANO_COOKIE_FOUND) {
        s->status = NANO_TOKEN_INVALID;
        return s->status;
    }
    /* the gateway's checks, nano_auth_max_age as this lifetime: a token
     * issued under a longer one ends as if issued under this one */
    reason = nano_token_open(req->config->keyring, NULL, s->buf, len,
                             s->buf + cap, cap, &s->claims, &format);
    if (reason == NANO_TOKEN_REASON_OK) {
        reason = nano_token_check_session(&s->claims, format, now,
                                          NANO_SESSION_LEEWAY,
                                          nano_session_age);
    }
    if (reason != NANO_TOKEN_REASON_OK) {
        memset(&s->claims, 0, sizeof(s->claims));
    }
    s->status = nano_token_reason_status(reason);
    return s->status;
}

static void
nano_session_str(nano_str_t *dst, const char *s)
{
    dst->data = s;
    dst->len = s != NULL ? strlen(s) : 0;
}

/* A __Secure- cookie can only be set, or cleared, with Secure. */
static int
nano_session_secure(const char *name, int https)
{
    return https || strncmp(name, NANO_COOKIE_SECURE_PREFIX,
                            sizeof(NANO_COOKIE_SECURE_PREFIX) - 1) == 0;
}

/* The session cookie, under NANO_COOKIE_DOMAIN when one is set; a
 * deletion also removes a host-only one from before the domain was, and
 * so does a new cookie when the request carried the name: browsers keep
 * a host-only cookie beside a Domain one of the same name, and the two
 * values sent together are a conflict (signed out again). */
static int
nano_session_cookie(const nano_req_t *req, nano_res_t *res, const char *name,
    const char *value, long long expires, int secure)
{
    const char  *domain = req->config->site.cookie_domain;
    nano_str_t   v;
    int          rc;

    rc = nano_res_cookie_in(res, name, value, expires, secure, domain);
    if (domain[0] != '\0'
        && (expires < 0
            || nano_req_cookie(req, name, &v) != NANO_COOKIE_ABSENT))
    {
        rc |= nano_res_cookie(res, name, "", -1, secure);
    }
    return rc;
}

/* Clears name.<from>, name.<from+1>, ... that the request carried. */
static int
nano_session_clear_chunks(const nano_req_t *req, nano_res_t *res,
    const char *name, int from)
{
    const int   secure = nano_session_secure(name, req->config->https);
    char        chunk[128];
    nano_str_t  v;
    int         i, rc = 0;

    for (i = from; i < NANO_SESSION_CLEAR_CHUNKS; i++) {
        snprintf(chunk, sizeof(chunk), "%s.%d", name, i);
        if (nano_req_cookie(req, chunk, &v) != NANO_COOKIE_ABSENT) {
            rc |= nano_session_cookie(req, res, chunk, "", -1, secure);
        }
    }
    return rc;
}

int
nano_session_issue(const nano_req_t *req, nano_res_t *res,
    const nano_session_user_t *user, const char *jti, long long iat,
    long long *exp)
{
    const int       https = req->config->https;
    const char     *name = nano_session_cookie_name(https);
    nano_claims_t   claims;
    nano_str_t      v;
    char            sid[NANO_RAND_UUID_LEN + 1], chunk_name[128];
    char           *token = NULL, saved;
    size_t          len, off, piece;
    int             rc = -1, nchunks = 0;

    if (req->config->keyring == NULL || user->id == NULL) {
        return -1;
    }
    if (jti == NULL || jti[0] == '\0') {
        if (nano_rand_uuid(sid) != 0) {
            return -1;
        }
        jti = sid;
    }

    memset(&claims, 0, sizeof(claims));
    nano_session_str(&claims.sub, user->id);
    nano_session_str(&claims.email, user->email);
    nano_session_str(&claims.name, user->name);
    nano_session_str(&claims.picture, user->picture);
    nano_session_str(&claims.jti, jti);
    claims.iat = iat;
    claims.has_iat = 1;
    claims.exp = iat + nano_session_age;

    token = req->config->session_jwe
            ? nano_token_encrypt(req->config->keyring, &claims)
            : nano_token_sign(req->config->keyring, &claims);
    if (token == NULL) {
        nano_log_error("cannot issue a session token");
        goto out;
    }

    len = strlen(token);
    if (len <= NANO_COOKIE_CHUNK_MAX) {
        rc = nano_session_cookie(req, res, name, token, claims.exp, https);
        rc |= nano_session_clear_chunks(req, res, name, 0);
    } else {
        /* NextAuth's layout: name.0, name.1, ... of at most 3933 bytes. */
        rc = 0;
        for (off = 0; off < len; off += piece) {
            piece = len - off < NANO_COOKIE_CHUNK_MAX
                    ? len - off : NANO_COOKIE_CHUNK_MAX;
            snprintf(chunk_name, sizeof(chunk_name), "%s.%d", name, nchunks++);
            saved = token[off + piece];
            token[off + piece] = '\0';
            rc |= nano_session_cookie(req, res, chunk_name, token + off,
                                      claims.exp, https);
            token[off + piece] = saved;
        }
        if (nano_req_cookie(req, name, &v) != NANO_COOKIE_ABSENT) {
            rc |= nano_session_cookie(req, res, name, "", -1, https);
        }
        rc |= nano_session_clear_chunks(req, res, name, nchunks);
    }
    if (rc == 0 && exp != NULL) {
        *exp = claims.exp;
    }

out:
    if (token != NULL) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
    return rc == 0 ? 0 : -1;
}

int
nano_session_clear(const nano_req_t *req, nano_res_t *res)
{
    const int    https = req->config->https;
    const char  *own = nano_session_cookie_name(https);
    const char  *other = nano_session_cookie_name(!https);
    nano_str_t   v;
    int          rc;

    /* The scheme's own name always, the other one when it was sent. */
    rc = nano_session_cookie(req, res, own, "", -1, https);
    rc |= nano_session_clear_chunks(req, res, own, 0);
    if (nano_req_cookie(req, other, &v) != NANO_COOKIE_ABSENT) {
        rc |= nano_session_cookie(req, res, other, "", -1,
                              nano_session_secure(other, https));
    }
    rc |= nano_session_clear_chunks(req, res, other, 0);
    return rc == 0 ? 0 : -1;
}
