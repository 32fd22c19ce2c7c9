/*
 * The platform app: the only login authority (NextAuth v4-compatible
 * /api/auth/...), registration and the public pages.  Declarations shared
 * by its files.
 */

#ifndef PLATFORM_H
#define PLATFORM_H

#include "nano_db.h"
#include "nano_http.h"
#include "nano_packs.h"
#include "nano_password.h"
#include "nano_session.h"

#define PLATFORM_CALLBACK_MAX  2048   /* bytes of a remembered callbackUrl */

/* A row of "User"; every field is owned (NULL for SQL NULL). */
typedef struct {
    char       *id;
    char       *email;
    char       *name;
    char       *image;
    char       *password;
    long long   not_before;     /* "SessionCutoff", 0 when none */
} platform_user_t;

/* What platform_session_check found. */
typedef enum {
    /* signed, unexpired, not revoked, user exists */
    PLATFORM_SESSION_LIVE = 0,
    PLATFORM_SESSION_NONE,      /* no cookie, or one that does not verify */
    PLATFORM_SESSION_DEAD,      /* revoked, cut off, or the user is gone */
    PLATFORM_SESSION_ERROR      /* the database failed: *st says how */
} platform_session_state_t;

/* What the database says of a session's id. */
typedef struct {
    int                       revoked;   /* in "RevokedSession" */
    int                       seen;      /* its row was touched within
                                            PLATFORM_SEEN_EVERY seconds */
    int                       kept;      /* it has a row */
    int                       superseded; /* dead only as an older copy of
                                             a session a password change
                                             re-issued (its row kept) */
} platform_session_row_t;

/* A request's session and its user, as the database sees them now. */
typedef struct {
    nano_session_t            token;   /* the verified cookie */
    platform_user_t           user;    /* fresh from "User" when LIVE */
    platform_session_row_t    row;
    platform_session_state_t  state;
} platform_session_t;

/* Seconds between two writes of a session's "lastSeenAt". */
#define PLATFORM_SEEN_EVERY  "60"

/* auth.c: /api/auth/... */
int platform_auth_csrf(nano_req_t *req, nano_res_t *res);
int platform_auth_providers(nano_req_t *req, nano_res_t *res);
int platform_auth_session(nano_req_t *req, nano_res_t *res);
int platform_auth_signin_page(nano_req_t *req, nano_res_t *res);
int platform_auth_signout_page(nano_req_t *req, nano_res_t *res);
int platform_auth_error_page(nano_req_t *req, nano_res_t *res);
int platform_auth_callback_credentials(nano_req_t *req, nano_res_t *res);
int platform_auth_signout(nano_req_t *req, nano_res_t *res);
int platform_auth_session_update(nano_req_t *req, nano_res_t *res);
int platform_auth_signin_provider(nano_req_t *req, nano_res_t *res);
int platform_auth_log(nano_req_t *req, nano_res_t *res);

/* account.c: /api/account/... */

int platform_account_signout_all(nano_req_t *req, nano_res_t *res);
int platform_account_password(nano_req_t *req, nano_res_t *res);
int platform_account_delete(nano_req_t *req, nano_res_t *res);
int platform_account_sessions(nano_req_t *req, nano_res_t *res);
int platform_account_session_delete(nano_req_t *req, nano_res_t *res);

/* Removes the folders of users no "User" row names under the media
 * root's folders that no registered module owns (a module taken out of
 * the registry): what a deletion's removal left when a stop cut its
 * thread short (the revocation publisher's thread, at start and
 * hourly). */
void platform_account_sweep_folders(nano_db_t *db, const char *media);

/*
 * The check every account call makes: a same-site request when change
 * (403 cross_site otherwise) and a session the database knows as live
 * (401 otherwise; a dead one's cookie is cleared).  Returns 0 with the
 * session in ps and the connection in *db, or the status it answered.
 */
int platform_account_session(nano_req_t *req, nano_res_t *res, int change,
    nano_db_t **db, platform_session_t *ps);

/* The same for a change with a JSON body (415 for any other), whose
 * fields go to f. */
int platform_account_begin(nano_req_t *req, nano_res_t *res, nano_db_t **db,
    platform_session_t *ps, nano_form_t *f);

/* The SELECT of the user ($1)'s live sessions, newest use first ($2: the
 * age bound platform_account_sessions_bound gives, buf or NULL), and rows
 * 0..n-1 of its result as [{"id","current","createdAt","lastSeenAt",
 * "ipAddress","userAgent"}] (current: the id current; a new array, or
 * NULL): the export reads them a page at a time. */
extern const char  platform_account_sessions_sql[];
const char *platform_account_sessions_bound(char *buf, size_t len);
json_t *platform_account_session_rows(PGresult *r, int n,
    const char *current);

/*
 * export.c: what a download of the account's data (the export, the
 * ledger's CSV) takes before it writes: one of the exports' places
 * (half the database pool), a stream slot, and on db a REPEATABLE READ,
 * READ ONLY transaction holding the user's advisory lock of its kind
 * (lock: one of the keys below), so one of each kind at a time per user.
 * Returns 0 inside the transaction, or the status it answered (429
 * too_many_exports, too_many_streams or export_in_progress; a database
 * error), the transaction then ended.  *entered says to call
 * platform_download_end(*entered) once done, whatever the answer.  A
 * HEAD is refused as its GET would be, but takes no export place and
 * not the lock (only a stream slot, for its headers).
 */
#define PLATFORM_EXPORT_LOCK  "1702391919"       /* "expo" */
#define PLATFORM_CSV_LOCK     "1668441444"       /* "cred" */
int platform_download_begin(nano_req_t *req, nano_res_t *res, nano_db_t *db,
    const char *lock, const char *user_id, int *entered);
/* Sends such a download's headers (type: its Content-Type).  0 to write
 * its rows, still in the transaction; 1 when there are none to write: a
 * HEAD (its transaction ended before its headers go out), or headers
 * that could not go (the transaction ended). */
int platform_download_headers(nano_req_t *req, nano_res_t *res, nano_db_t *db,
    const char *type);
void platform_download_end(int entered);

/* profile.c: the name and the avatar. */
int platform_account_profile(nano_req_t *req, nano_res_t *res);
int platform_account_avatar_put(nano_req_t *req, nano_res_t *res);
int platform_account_avatar_get(nano_req_t *req, nano_res_t *res);
int platform_account_avatar_delete(nano_req_t *req, nano_res_t *res);

/* The folder of the avatars under the media root. */
#define PLATFORM_AVATAR_DIR  "avatars"

/* 1 when id is fit for a file name: what our ids and V1's cuids are. */
int platform_user_id_ok(const char *id);

/* Calls gone(arg, id) for each of ids[0..n) that no "User" row names;
 * frees the ids.  Nothing is called when the database does not answer. */
void platform_users_gone(nano_db_t *db, char **ids, size_t n,
    void (*gone)(const void *arg, const char *id), const void *arg);

/* Removes the avatar file of user_id under media (a deleted account). */
void platform_avatar_remove(const char *media, const char *user_id);

/* Removes the avatars of users that no "User" row names any more, and
 * temporary files of writes that never ended once an hour old (the
 * revocation publisher's thread, hourly). */
#define PLATFORM_AVATAR_SWEEP_BATCH  500
#define PLATFORM_AVATAR_SWEEP_AGE    3600
void platform_avatar_sweep(nano_db_t *db, const char *media);

/* export.c: GET /api/account/export */
int platform_account_export(nano_req_t *req, nano_res_t *res);

/* dashboard.c: GET /api/dashboard */
int platform_dashboard(nano_req_t *req, nano_res_t *res);

/* sessions.c: sessions as the database knows them. */
void platform_session_init(platform_session_t *ps);
void platform_session_cleanup(platform_session_t *ps);

/*
 * Reads and verifies the session cookie, then asks the database whether
 * it is still live: the user exists, its jti is not revoked, and its iat
 * is not before the user's cut-off.  Returns ps->state; on ERROR *st is
 * the database's status.
 */
platform_session_state_t platform_session_check(nano_req_t *req,
    nano_db_t *db, platform_session_t *ps, nano_db_status_t *st);

/*
 * Checks ps's session again against the database as it is now, right
 * before its cookie is re-issued (a changed profile, avatar or
 * password): a sign-out everywhere, a password change from another
 * session or the account's deletion since the request's own check (an
 * avatar's decoding or a password's hashing takes a second or more)
 * ended it, and a re-issue would give it a new life past that cut-off.
 * With lock, the user's row stays locked to the caller's transaction,
 * so that one user's changes run one after another.  *live; when live,
 * ps->user's not_before, email, name and image are as they are now (the
 * cookie re-issued next carries another tab's changes too).
 */
nano_db_status_t platform_session_recheck(nano_db_t *db,
    platform_session_t *ps, int lock, int *live);

/*
 * Clears the cookie of ps's dead session, unless it is superseded: the
 * browser that sent it may hold the re-issued one by now (the answer of
 * the password change that replaced it came first), and a clearing
 * answered after that signed it out.  The old copy stays refused.
 */
void platform_session_drop(nano_req_t *req, nano_res_t *res,
    const platform_session_t *ps);

/* The answer when platform_session_recheck found the session ended: the
 * cookie dropped (platform_session_drop), 401. */
int platform_session_ended(nano_req_t *req, nano_res_t *res,
    const platform_session_t *ps);

/*
 * Issues the session cookie for user (iat = max(now, its cut-off), so a
 * cut-off made in the same second spares it) under jti, or a new jti
 * when NULL, and records a new "AuthSession" row for a new one (an
 * existing one's row is moved on, never made again once a sign-out
 * removed it).  *issued is the cookie's token's exp, 0 when none was
 * issued.
 */
nano_db_status_t platform_session_start(nano_req_t *req, nano_res_t *res,
    nano_db_t *db, const platform_user_t *user, const char *jti,
    long long *issued);

/*
 * The same, recording how a new session signed in: method is
 * "credentials" or an OAuth provider's id ("google", "github"); NULL
 * leaves it unknown (a renewal keeps the row's own).
 */
nano_db_status_t platform_session_start_as(nano_req_t *req, nano_res_t *res,
    nano_db_t *db, const platform_user_t *user, const char *jti,
    const char *method, long long *issued);

/* Seconds a sign-in stays fresh enough to delete the account or set a
 * first password without a password, or to link an account
 * (docs/PLATFORM.md). */
#define PLATFORM_FRESH_SECONDS  "600"

/* *fresh = 1 when ps (a live session) signed in with an OAuth provider
 * within PLATFORM_FRESH_SECONDS, as its "AuthSession" row records. */
nano_db_status_t platform_session_fresh_oauth(nano_db_t *db,
    const platform_session_t *ps, int *fresh);

/* *fresh = 1 when ps (a live session) signed in within
 * PLATFORM_FRESH_SECONDS, by any method (credentials or a provider). */
nano_db_status_t platform_session_fresh_signin(nano_db_t *db,
    const platform_session_t *ps, int *fresh);

/* Records that the session was seen (at most once a minute), making its
 * "AuthSession" row when a token from before sessions were kept has
 * none. */
nano_db_status_t platform_session_touch(nano_req_t *req, nano_db_t *db,
    const platform_session_t *ps);

/* Revokes one session: its jti until any copy of its token has expired;
 * drops its row. */
nano_db_status_t platform_session_revoke(nano_db_t *db, const char *jti,
    const char *user_id);

/* throttle.c: per-account sign-in attempts (docs/SESSIONS.md). */

/*
 * Counts an attempt for the normalised email.  *retry_after is 0 when
 * it may go ahead, else the seconds the account stays locked (answer
 * 429 without checking the password).  Timed by the database's clock.
 */
nano_db_status_t platform_throttle_attempt(nano_db_t *db, const char *email,
    long long *retry_after);

/* Forgets the attempts of an email that just signed in. */
nano_db_status_t platform_throttle_clear(nano_db_t *db, const char *email);

/* oauth.c: sign-in with Google (OpenID Connect) and GitHub (OAuth 2),
 * NextAuth v4's way (docs/PLATFORM.md); the providers' files share
 * oauth.h. */

/* Reads GOOGLE_* and GITHUB_* at start; -1 (logged) when a provider is
 * half configured or a URL is not https. */
int platform_oauth_configure(void);
void platform_oauth_cleanup(void);

int platform_oauth_signin_page(nano_req_t *req, nano_res_t *res);
int platform_oauth_signin(nano_req_t *req, nano_res_t *res);
int platform_oauth_callback(nano_req_t *req, nano_res_t *res);

/* Adds the configured providers to /api/auth/providers' object, in
 * NextAuth's shape; 0 or -1. */
int platform_oauth_providers_json(json_t *obj, const char *origin);

/* The sign-in page's forms, one per configured provider (HTML, a new
 * string, "" when none). */
char *platform_oauth_signin_buttons(const char *csrf, const char *callback);

/* connections.c: /api/account/connections */
int platform_account_connections(nano_req_t *req, nano_res_t *res);
int platform_account_unlink(nano_req_t *req, nano_res_t *res);

/* revocations.c: the snapshot publisher (app start/stop hooks). */
int platform_revocations_start(const nano_config_t *config);
void platform_revocations_stop(void);

/* credits.c: GET /api/credits, GET /api/credits.csv */
int platform_credits(nano_req_t *req, nano_res_t *res);
int platform_credits_csv(nano_req_t *req, nano_res_t *res);

/*
 * The gateway took the cookie, but the database has no such user: the
 * account was deleted within the gateway's second, or was made after a
 * restored dump.  401 {"error":"unauthorized"}, as a dead session is
 * answered; the cookie stays, for /api/auth/session to clear: this
 * answer may come after another account's sign-in set a new one.
 */
int platform_no_account(nano_res_t *res, const char *user_id);

/* billing.c: packs, checkout and the billing page (docs/PLATFORM.md) */

/* Reads the packs file and the Stripe settings (start hook); -1 stops
 * the platform (a malformed packs file). */
int platform_billing_start(const nano_config_t *config);
void platform_billing_stop(void);
int platform_billing_packs(nano_req_t *req, nano_res_t *res);
int platform_billing_checkout(nano_req_t *req, nano_res_t *res);
int platform_billing_checkout_status(nano_req_t *req, nano_res_t *res);
int platform_billing_page(nano_req_t *req, nano_res_t *res);

/* The webhook secret (STRIPE_WEBHOOK_SECRET, borrowed), or NULL. */
const char *platform_billing_webhook_secret(void);

/* webhook.c: POST /api/billing/webhook (Stripe's signed events) */
int platform_billing_webhook(nano_req_t *req, nano_res_t *res);

/* purchases.c: the "Purchase" table and what Stripe's events do to it */

/* Which events billing acts on. */
typedef enum {
    PLATFORM_STRIPE_OTHER = 0,     /* recorded and ignored */
    PLATFORM_STRIPE_SESSION,       /* checkout.session.completed, ... */
    PLATFORM_STRIPE_REFUND,        /* charge.refunded */
    PLATFORM_STRIPE_REFUND_FAILED, /* a Refund object whose status is
                                    * "failed" (charge.refund.updated,
                                    * refund.updated, refund.failed) */
    PLATFORM_STRIPE_DISPUTE        /* charge.dispute.* */
} platform_stripe_kind_t;

/* What a Stripe event says, borrowed from its parsed body. */
typedef struct {
    platform_stripe_kind_t   kind;
    const char              *id;                 /* evt_... */
    const char              *type;
    const char              *object_id;          /* data.object.id */
    const char              *payment_intent;     /* pi_..., or NULL */
    /* checkout.session.* */
    const char              *session_id;
    const char              *payment_status;     /* "paid", "unpaid"... */
    const char              *purchase_id;        /* metadata.purchaseId */
    const char              *client_reference_id;
    /* charge.refunded: the charge's amount and its refunded total; a
     * failed refund or a dispute: its amount */
    long long                amount;
    long long                amount_refunded;
    /* charge.dispute.*: the dispute's status */
    const char              *dispute_status;
} platform_stripe_event_t;

/* What handling an event did, for the log and the answer. */
typedef struct {
    int          replay;          /* handled before: nothing done */
    int          ignored;         /* a type billing does not act on,
                                   * replayed or not */
    char         purchase[64];    /* the purchase touched, "" none */
    char         user[64];
    long long    granted;         /* credits added */
    long long    taken;           /* credits taken back */
    long long    returned;        /* credits given back (a failed refund,
                                   * a dispute won) */
    const char  *note;            /* what happened (static text) */
} platform_stripe_outcome_t;

/* Inserts a pending purchase of pack for user_id with its
 * Idempotency-Key, before Stripe is asked. */
nano_db_status_t platform_purchase_create(nano_db_t *db, const char *id,
    const char *user_id, const nano_pack_t *pack,
    const char *idempotency_key);

/* Stripe created session_id for purchase id; *live is 0 when the
 * purchase's user is gone (the account deleted meanwhile): nothing
 * changed. */
nano_db_status_t platform_purchase_opened(nano_db_t *db, const char *id,
    const char *session_id, int *live);

/* The user's purchase of a Checkout Session: one row of "status",
 * "pack", "credits", or none.  The caller PQclears it; NULL with *st on
 * failure. */
PGresult *platform_purchase_find(nano_db_t *db, const char *user_id,
    const char *session_id, nano_db_status_t *st);

/* Stripe refused or did not answer: the purchase never opened. */
nano_db_status_t platform_purchase_failed(nano_db_t *db, const char *id);

/*
 * Handles one verified event in one transaction (retried on
 * serialization failures): records its id (a replay does nothing
 * more), then grants a paid purchase once, moves its status forward
 * only, records refunds by payment intent and takes back what they
 * call for, once.  Events of one payment intent are serialised.
 */
nano_db_status_t platform_purchase_event(nano_db_t *db,
    const platform_stripe_event_t *ev, platform_stripe_outcome_t *out);

/* register.c: POST /api/register */
int platform_register(nano_req_t *req, nano_res_t *res);

/* pages.c: GET / (the dashboard when signed in), /signup, /settings */
int platform_home(nano_req_t *req, nano_res_t *res);
int platform_signup_page(nano_req_t *req, nano_res_t *res);
int platform_settings_page(nano_req_t *req, nano_res_t *res);

/* users.c: the "User" table. */
void platform_user_init(platform_user_t *u);
void platform_user_cleanup(platform_user_t *u);

/* Finds a user by normalised email, with its cut-off; *found says
 * whether one exists. */
nano_db_status_t platform_user_find(nano_db_t *db, const char *email,
    platform_user_t *u, int *found);

/* The same by id. */
nano_db_status_t platform_user_get(nano_db_t *db, const char *id,
    platform_user_t *u, int *found);

/* The same, the user's row locked (FOR SHARE) until the transaction
 * ends. */
nano_db_status_t platform_user_get_locked(nano_db_t *db, const char *id,
    platform_user_t *u, int *found);

/* The same, and what the database says of the session jti (may be ""). */
nano_db_status_t platform_user_get_session(nano_db_t *db, const char *id,
    const char *jti, platform_user_t *u, int *found,
    platform_session_row_t *sess);

/* Sets a user's name, or its image (NULL: none). */
nano_db_status_t platform_user_set_name(nano_db_t *db, const char *id,
    const char *name);
nano_db_status_t platform_user_set_image(nano_db_t *db, const char *id,
    const char *image);

/* Sets a user's password hash. */
nano_db_status_t platform_user_set_password(nano_db_t *db, const char *id,
    const char *hash);

/* Locks the user's row for the caller's transaction (*found 0: no such
 * user, a deleted account): changes to what the row names outside the
 * database (the avatar's file) then run one after another. */
nano_db_status_t platform_user_lock(nano_db_t *db, const char *id,
    int *found);

/* Deletes a user (V1's cascades take "Account" and "Session") and the
 * rows V2 keeps for it; the caller holds the transaction. */
nano_db_status_t platform_user_delete(nano_db_t *db, const char *id);

/* Inserts a user; *created is 0 when the email (in any case) is taken. */
nano_db_status_t platform_user_create(nano_db_t *db, const char *id,
    const char *email, const char *name, const char *hash, int *created);

/* util.c */

/* Strips leading and trailing spaces and tabs in place; returns s. */
char *platform_trim(char *s);

#define PLATFORM_NAME_CHARS  100    /* a user's name, in characters */

/*
 * Trims name in place (spaces of any kind and format characters such as
 * U+200B at its ends); NULL when it is a name we keep (at sign-up and in
 * the settings alike), else why.  An empty one is refused when required.
 */
const char *platform_name_problem(char *name, int required);

/*
 * A name an OAuth provider gave, made one we keep: the direction
 * controls platform_name_problem refuses are left out and it is cut at
 * PLATFORM_NAME_CHARS characters, as the person did not type it here
 * and cannot be asked again.  A new string, or NULL when nothing is left
 * or it is not UTF-8 or holds a control character.
 */
char *platform_name_from_provider(const char *s);

/* origin + path, a new string (caller frees), or NULL. */
char *platform_url(const nano_req_t *req, const char *path);

/* A redirect as NextAuth answers it: 302 Location, or {"url": ...} with
 * json_status when the client posted json=true. */
int platform_redirect(nano_res_t *res, const char *url, int json,
    int json_status);

/*
 * The CSRF token for this browser: the one in its genuine csrf cookie, or
 * a new one whose cookie is added to res.  token receives
 * NANO_CSRF_TOKEN_LEN + 1 bytes.  Returns 0 or -1.
 */
int platform_csrf_token(const nano_req_t *req, nano_res_t *res, char *token);

/* 1 when the POST's csrfToken matches the genuine csrf cookie. */
int platform_csrf_ok(const nano_req_t *req, const char *submitted);

/*
 * Answers a sign-in or account call that must wait: 429 with
 * Retry-After.  JSON (NextAuth's {"url": .../error?error=RateLimited},
 * which next-auth/react's signIn() reads) when json, else the sign-in
 * page with the message.
 */
int platform_rate_limited(nano_req_t *req, nano_res_t *res, int json,
    long long retry_after);

/* The bcrypt queue is full: platform_rate_limited for a few seconds. */
int platform_busy(nano_req_t *req, nano_res_t *res, int json);

/* nano_password_check and _make with the request's pooled database
 * connection given back first: bcrypt waits for its pool's threads, and
 * a flood of sign-ins holding the connections meanwhile left every
 * other request waiting for one, then 503.  A caller that needs the
 * database afterwards takes it again with nano_server_db(req). */
nano_password_result_t platform_password_check(nano_req_t *req,
    const char *password, const char *hash);
nano_password_result_t platform_password_make(nano_req_t *req,
    const char *password, char **hash);

/*
 * auth.c: the checks a sign-in POST starts with, as the credentials
 * callback has them: same-site (403), the fields (platform_post_fields),
 * the callbackUrl remembered (*callback, a new string the caller frees
 * also on failure), the CSRF token (else NextAuth's redirect to
 * /api/auth/signin?csrf=true).  Returns 0, or the status answered.
 */
int platform_signin_begin(nano_req_t *req, nano_res_t *res, nano_form_t *f,
    int *json, char **callback);

/* auth.c: the sign-in page with status and the message for error (a
 * NextAuth error code, or NULL). */
int platform_signin_form(nano_req_t *req, nano_res_t *res, int status,
    const char *error);

/*
 * Where to go after signing in or out: the callbackUrl given, else the
 * one remembered in NextAuth's callback-url cookie, checked to be
 * relative or same-origin (the origin otherwise).  Remembers a given one
 * in that cookie.  A new string (caller frees), or NULL.
 */
char *platform_callback(const nano_req_t *req, nano_res_t *res,
    const char *given);

/* path?callbackUrl=<encoded callback>, a new string (caller frees), or
 * NULL: the sign-in and sign-up pages link to each other this way. */
char *platform_link_with_callback(const char *path, const char *callback);

/* A signed-out browser on a page of ours: redirected to sign in, and
 * back to back afterwards.  Returns the status answered. */
int platform_signin_redirect(nano_res_t *res, const char *back);

/* platform_callback() with the request's ?callbackUrl=. */
char *platform_query_callback(const nano_req_t *req, nano_res_t *res);

#endif /* PLATFORM_H */
