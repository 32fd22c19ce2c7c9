/*
 * Sessions as the database knows them: whether a cookie's session is
 * still live, the "AuthSession" rows, revocations and cut-offs
 * (docs/SESSIONS.md).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_email.h"
#include "nano_jose.h"
#include "nano_log.h"
#include "nano_rand.h"
#include "platform.h"

#define PLATFORM_UA_MAX        512     /* bytes of a User-Agent we keep */

void
platform_session_init(platform_session_t *ps)
{
    nano_session_init(&ps->token);
    platform_user_init(&ps->user);
    memset(&ps->row, 0, sizeof(ps->row));
    ps->state = PLATFORM_SESSION_NONE;
}

void
platform_session_cleanup(platform_session_t *ps)
{
    if (ps == NULL) {
        return;
    }
    nano_session_cleanup(&ps->token);
    platform_user_cleanup(&ps->user);
    ps->state = PLATFORM_SESSION_NONE;
}

/* The user is gone, the session revoked, or it was issued before the
 * user's cut-off (a token without iat counts as issued before any). */
static int
platform_session_dead(const nano_claims_t *c, int found, int revoked,
    long long not_before)
{
    return !found || revoked
           || (not_before > 0 && (!c->has_iat || c->iat < not_before));
}

/* Dead only because a password change re-issued this session and c is
 * an older copy: the user is there, the id is not revoked, and the
 * change kept the session's row (every other cut-off removes them). */
static int
platform_session_superseded(const nano_claims_t *c, int found, int revoked,
    int kept, long long not_before)
{
    return found && !revoked && kept && c->has_iat && c->iat < not_before;
}

platform_session_state_t
platform_session_check(nano_req_t *req, nano_db_t *db, platform_session_t *ps,
    nano_db_status_t *st)
{
    const nano_claims_t  *c = &ps->token.claims;
    int                   found;

    *st = NANO_DB_OK;
    ps->state = PLATFORM_SESSION_NONE;
    memset(&ps->row, 0, sizeof(ps->row));
    if (nano_session_read(req, (long long) time(NULL), &ps->token)
        != NANO_TOKEN_OK)
    {
        return ps->state;
    }
    if (db == NULL) {
        *st = NANO_DB_UNAVAILABLE;
        ps->state = PLATFORM_SESSION_ERROR;
        return ps->state;
    }

    *st = platform_user_get_session(db, c->sub.data,
                                    c->jti.len > 0 ? c->jti.data : "",
                                    &ps->user, &found, &ps->row);
    if (*st != NANO_DB_OK) {
        ps->state = PLATFORM_SESSION_ERROR;
        return ps->state;
    }

    ps->state = platform_session_dead(c, found, ps->row.revoked,
                                      ps->user.not_before)
                ? PLATFORM_SESSION_DEAD : PLATFORM_SESSION_LIVE;
    ps->row.superseded = platform_session_superseded(c, found,
                                                     ps->row.revoked,
                                                     ps->row.kept,
                                                     ps->user.not_before);
    return ps->state;
}

/* What platform_session_check reads of a session, for the re-check,
 * and the user's claims as they are now. */
#define PLATFORM_SESSION_RECHECK                                             \
    "SELECT (SELECT c.\"notBefore\" FROM \"SessionCutoff\" c"                \
    " WHERE c.\"userId\" = u.\"id\"),"                                       \
    " EXISTS (SELECT 1 FROM \"RevokedSession\" r WHERE r.\"id\" = $2),"      \
    " u.\"email\", u.\"name\", u.\"image\","                                   \
    " EXISTS (SELECT 1 FROM \"AuthSession\" s WHERE s.\"id\" = $2"          \
    " AND s.\"userId\" = u.\"id\")"                                          \
    " FROM \"User\" u WHERE u.\"id\" = $1"

/* Sets *field to column col of r's row 0 (NULL when null).  0 or -1. */
static int
platform_session_field(char **field, PGresult *r, int col)
{
    char  *copy = NULL;

    if (!PQgetisnull(r, 0, col)
        && (copy = strdup(PQgetvalue(r, 0, col))) == NULL)
    {
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

nano_db_status_t
platform_session_recheck(nano_db_t *db, platform_session_t *ps, int lock,
    int *live)
{
    /* the user's row locked, or not */
    static const char   sql[] = PLATFORM_SESSION_RECHECK;
    static const char   sql_lock[] = PLATFORM_SESSION_RECHECK
                                     " FOR UPDATE OF u";
    const nano_claims_t  *c = &ps->token.claims;
    const char           *params[2];
    nano_db_status_t      st = NANO_DB_OK;
    PGresult             *r;
    long long             nb = 0;
    int                   found, revoked = 0, kept = 0;

    *live = 0;
    params[0] = c->sub.data;
    params[1] = c->jti.len > 0 ? c->jti.data : "";
    r = nano_db_exec(db, lock ? sql_lock : sql, 2, params, PGRES_TUPLES_OK,
                     &st);
    if (r == NULL) {
        return st;
    }
    found = PQntuples(r) == 1;
    if (found) {
        nb = PQgetisnull(r, 0, 0) ? 0
             : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        revoked = PQgetvalue(r, 0, 1)[0] == 't';
        kept = PQgetvalue(r, 0, 5)[0] == 't';
    }
    *live = !platform_session_dead(c, found, revoked, nb);
    ps->row.superseded = !*live
                         && platform_session_superseded(c, found, revoked,
                                                        kept, nb);
    /* the cookie re-issued next carries the user as it is now: a change
     * another tab made since this request read it (a rename while an
     * avatar was decoded) was left out of it, and the header showed the
     * old name or no picture until the next renewal, a day later (found
     * by the races probe) */
    if (*live) {
        ps->user.not_before = nb;
        if (platform_session_field(&ps->user.email, r, 2) != 0
            || platform_session_field(&ps->user.name, r, 3) != 0
            || platform_session_field(&ps->user.image, r, 4) != 0)
        {
            *live = 0;
            st = NANO_DB_FAILED;
        }
    }
    PQclear(r);
    return st;
}

void
platform_session_drop(nano_req_t *req, nano_res_t *res,
    const platform_session_t *ps)
{
    /* a password change in another tab, or its form sent twice: this
     * request left with the cookie it replaced, and its answer may come
     * after the change's, whose new cookie a clearing would take with
     * it, signing the browser out by its own change (found by the races
     * probe).  The copy stays refused; a thief's too. */
    if (!ps->row.superseded) {
        nano_session_clear(req, res);
    }
}

int
platform_session_ended(nano_req_t *req, nano_res_t *res,
    const platform_session_t *ps)
{
    platform_session_drop(req, res, ps);
    return nano_res_error(res, 401, "unauthorized", "this session has ended"
                          " (signed out everywhere, or the account changed"
                          " or was deleted meanwhile)");
}

/* The request's User-Agent, cut to PLATFORM_UA_MAX bytes on a character
 * boundary; a new string (caller frees) or NULL when there is none. */
static char *
platform_session_agent(const nano_req_t *req)
{
    const char  *ua = nano_req_param(req, "HTTP_USER_AGENT");
    size_t       len;
    char        *out;

    if (ua == NULL || ua[0] == '\0') {
        return NULL;
    }
    len = strlen(ua);
    if (len > PLATFORM_UA_MAX) {
        len = PLATFORM_UA_MAX;
        while (len > 0 && ((unsigned char) ua[len] & 0xc0) == 0x80) {
            len--;
        }
    }
    out = strndup(ua, len);
    return out;
}

/* Inserts the "AuthSession" row of a new session with how it signed in
 * (method, may be NULL); one statement. */
#define PLATFORM_SESSION_INSERT                                               \
    "INSERT INTO \"AuthSession\" (\"id\", \"userId\", \"ipAddress\","       \
    " \"userAgent\", \"expires\", \"method\")"

/* An existing session's use: its row's expiry moved on (a renewal) and
 * its lastSeenAt (when a minute old), or, for a session from before rows
 * were kept, its row made.  Never a row made again that a sign-out
 * removed: a renewal or a touch that read the session as live just
 * before "sign out everywhere" or "sign out this one" committed put it
 * back, a dead session listed in settings for 30 days (found by the
 * races probe).  The statement's snapshot decides: a row it sees is
 * only updated (a sign-out deleting it meanwhile leaves nothing to
 * update), and a row it does not see is made only when the session is
 * neither revoked nor cut off in that snapshot ($7: the token's iat). */
static const char  platform_session_use_sql[] =
    "WITH up AS (UPDATE \"AuthSession\" SET \"expires\" ="
    " GREATEST(\"expires\", $5), \"lastSeenAt\" = (now() AT TIME ZONE"
    " 'utc') WHERE \"id\" = $1 AND (\"expires\" < $5 OR \"lastSeenAt\""
    " < (now() AT TIME ZONE 'utc') - interval '" PLATFORM_SEEN_EVERY
    " seconds'))"
    " " PLATFORM_SESSION_INSERT
    " SELECT $1, $2, $3::text, $4::text, $5, $6::text"
    " WHERE NOT EXISTS (SELECT 1 FROM \"AuthSession\" WHERE \"id\" = $1)"
    " AND NOT EXISTS (SELECT 1 FROM \"RevokedSession\" WHERE \"id\" = $1)"
    " AND NOT EXISTS (SELECT 1 FROM \"SessionCutoff\" WHERE \"userId\" = $2"
    " AND \"notBefore\" > $7::bigint)"
    " ON CONFLICT (\"id\") DO NOTHING";

/* The row of session jti: made for a new one (iat < 0), else as
 * platform_session_use_sql says. */
static nano_db_status_t
platform_session_record(nano_req_t *req, nano_db_t *db, const char *jti,
    const char *user_id, long long expires, const char *method,
    long long iat)
{
    static const char   sql[] =
        PLATFORM_SESSION_INSERT " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (\"id\") DO NOTHING";
    const char         *params[7];
    const char         *ip = nano_req_param(req, "REMOTE_ADDR");
    const char         *stmt = iat < 0 ? sql : platform_session_use_sql;
    char               *ua, exp[24], ia[24];
    nano_db_status_t    st;

    ua = platform_session_agent(req);
    snprintf(exp, sizeof(exp), "%lld", expires);
    snprintf(ia, sizeof(ia), "%lld", iat);
    params[0] = jti;
    params[1] = user_id;
    params[2] = ip != NULL && ip[0] != '\0' ? ip : NULL;
    params[3] = ua;
    params[4] = exp;
    params[5] = method;
    params[6] = ia;
    PQclear(nano_db_exec(db, stmt, iat < 0 ? 6 : 7, params,
                         PGRES_COMMAND_OK, &st));
    /* a User-Agent that is not UTF-8 is the browser's oddity, not a
     * reason to refuse the sign-in */
    if (st == NANO_DB_INVALID && ua != NULL) {
        params[3] = NULL;
        PQclear(nano_db_exec(db, stmt, iat < 0 ? 6 : 7, params,
                             PGRES_COMMAND_OK, &st));
    }
    free(ua);
    return st;
}

nano_db_status_t
platform_session_start(nano_req_t *req, nano_res_t *res, nano_db_t *db,
    const platform_user_t *user, const char *jti, long long *issued)
{
    return platform_session_start_as(req, res, db, user, jti, NULL, issued);
}

/* Bytes of a field that go into a token: an email's limit, a name of
 * 100 characters of 4 bytes, a picture's URL as OAuth's; the token then
 * stays far below the 8192 bytes its readers look at (nano_token.h). */
#define PLATFORM_CLAIM_NAME_MAX     (PLATFORM_NAME_CHARS * 4)
#define PLATFORM_CLAIM_PICTURE_MAX  2048

/* A user's field as a token's claim: NULL (left out) when it holds a
 * control character or is longer than max bytes.  V1 kept names and
 * pictures as they came (a data: URL of a whole image), and the gateway
 * and the platform refuse a token with a control character in any
 * identity claim or of more than 8192 bytes: such a user's sign-in
 * answered 302, set a cookie that every reader refused, and signed
 * nobody in (found by the plat probe). */
static const char *
platform_session_claim(const char *v, size_t max)
{
    nano_str_t  s;

    if (v == NULL) {
        return NULL;
    }
    s.data = v;
    s.len = strlen(v);
    return s.len > max || nano_jose_has_control(&s) ? NULL : v;
}

nano_db_status_t
platform_session_start_as(nano_req_t *req, nano_res_t *res, nano_db_t *db,
    const platform_user_t *user, const char *jti, const char *method,
    long long *issued)
{
    nano_session_user_t  su;
    long long            now = (long long) time(NULL), iat, exp;
    char                 sid[NANO_RAND_UUID_LEN + 1];
    int                  existing = jti != NULL;

    *issued = 0;
    if (jti == NULL) {
        if (nano_rand_uuid(sid) != 0) {
            return NANO_DB_FAILED;
        }
        jti = sid;
    }
    iat = user->not_before > now ? user->not_before : now;

    su.id = user->id;
    su.email = platform_session_claim(user->email, NANO_EMAIL_MAX);
    su.name = platform_session_claim(user->name, PLATFORM_CLAIM_NAME_MAX);
    su.picture = platform_session_claim(user->image,
                                        PLATFORM_CLAIM_PICTURE_MAX);
    if (nano_session_issue(req, res, &su, jti, iat, &exp) != 0) {
        return NANO_DB_OK;
    }
    *issued = exp;
    return platform_session_record(req, db, jti, user->id, exp, method,
                                   existing ? iat : -1);
}

nano_db_status_t
platform_session_touch(nano_req_t *req, nano_db_t *db,
    const platform_session_t *ps)
{
    const nano_claims_t  *c = &ps->token.claims;

    if (c->jti.len == 0 || ps->row.seen) {
        return NANO_DB_OK;
    }
    /* the row's lastSeenAt moves at most once a minute; a session from
     * before rows were kept gets its row here */
    return platform_session_record(req, db, c->jti.data, c->sub.data, c->exp,
                                   NULL, c->has_iat ? c->iat : 0);
}

/* The row of ps's session, made by a sign-in (and with which method)
 * within PLATFORM_FRESH_SECONDS; the row's own clock: createdAt is
 * written in UTC by the server. */
#define PLATFORM_SESSION_FRESH(method)                                        \
    "SELECT 1 FROM \"AuthSession\" WHERE \"id\" = $1 AND \"userId\" = $2"   \
    " AND \"method\" " method                                               \
    " AND \"createdAt\" >= (now() AT TIME ZONE 'utc')"                      \
    " - interval '" PLATFORM_FRESH_SECONDS " seconds'"

static nano_db_status_t
platform_session_fresh(nano_db_t *db, const platform_session_t *ps,
    const char *sql, int *fresh)
{
    const char  *params[2];

    *fresh = 0;
    if (ps->token.claims.jti.len == 0) {
        return NANO_DB_OK;
    }
    params[0] = ps->token.claims.jti.data;
    params[1] = ps->user.id;
    return nano_db_exec_found(db, sql, 2, params, fresh);
}

nano_db_status_t
platform_session_fresh_oauth(nano_db_t *db, const platform_session_t *ps,
    int *fresh)
{
    return platform_session_fresh(db, ps, PLATFORM_SESSION_FRESH(
                                      "IN ('google', 'github')"), fresh);
}

nano_db_status_t
platform_session_fresh_signin(nano_db_t *db, const platform_session_t *ps,
    int *fresh)
{
    /* a row made by a renewal alone (a token from before rows were kept)
     * has no method: no sign-in is known */
    return platform_session_fresh(db, ps, PLATFORM_SESSION_FRESH(
                                      "IS NOT NULL"), fresh);
}

nano_db_status_t
platform_session_revoke(nano_db_t *db, const char *jti, const char *user_id)
{
    /* Until the latest exp any copy can carry: a copy renewed before now
     * expires by now + the longest token age (NANO_TOKEN_MAX_AGE: one
     * issued before NANO_SESSION_MAX_AGE was shortened too; no renewal
     * passes once the row is in), where the cookie presented may expire
     * much sooner and let a renewed copy live again after it (found by a
     * probe). */
    static const char *const  sql[] = {
        "INSERT INTO \"RevokedSession\" (\"id\", \"userId\", \"expires\")"
        " VALUES ($1, $2, $3) ON CONFLICT (\"id\") DO NOTHING",
        "DELETE FROM \"AuthSession\" WHERE \"id\" = $1",
    };
    const char               *params[3];
    char                      exp[24];
    nano_db_status_t          st = NANO_DB_OK;

    snprintf(exp, sizeof(exp), "%lld",
             (long long) time(NULL) + NANO_TOKEN_MAX_AGE);
    params[0] = jti;
    params[1] = user_id;
    params[2] = exp;
    PQclear(nano_db_exec(db, sql[0], 3, params, PGRES_COMMAND_OK, &st));
    if (st == NANO_DB_OK) {
        PQclear(nano_db_exec(db, sql[1], 1, params, PGRES_COMMAND_OK, &st));
    }
    return st;
}

