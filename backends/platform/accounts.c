/*
 * V1's "Account" table as NextAuth's Prisma adapter keeps it (one row
 * per provider account: cuid id, userId, type "oauth", provider,
 * providerAccountId and the token set), and what an OAuth callback does
 * with an account: sign in, link, refuse, or create the user.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_credits.h"
#include "nano_log.h"
#include "nano_rand.h"
#include "oauth.h"

/* The user id of the account's row (a new string in *user_id), or NULL
 * when there is none. */
static nano_db_status_t
platform_account_owner(nano_db_t *db, const char *provider,
    const char *account_id, char **user_id)
{
    static const char   sql[] =
        "SELECT \"userId\" FROM \"Account\" WHERE \"provider\" = $1"
        " AND \"providerAccountId\" = $2";
    const char         *params[2] = { provider, account_id };
    nano_db_status_t    st = NANO_DB_OK;
    PGresult           *r;

    *user_id = NULL;
    r = nano_db_exec(db, sql, 2, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    if (PQntuples(r) == 1) {
        *user_id = strdup(PQgetvalue(r, 0, 0));
        if (*user_id == NULL) {
            st = NANO_DB_FAILED;
        }
    }
    PQclear(r);
    return st;
}

/* Inserts the account's row for user_id, as the Prisma adapter's
 * linkAccount does; NANO_DB_CONFLICT when the account is taken. */
static nano_db_status_t
platform_account_insert(nano_db_t *db, const char *user_id,
    const char *provider, const platform_oauth_profile_t *a)
{
    static const char   sql[] =
        "INSERT INTO \"Account\" (\"id\", \"userId\", \"type\", \"provider\","
        " \"providerAccountId\", \"refresh_token\", \"access_token\","
        " \"expires_at\", \"token_type\", \"scope\", \"id_token\","
        " \"session_state\") VALUES ($1, $2, 'oauth', $3, $4, $5, $6, $7,"
        " $8, $9, $10, $11)";
    const char         *params[11];
    char                id[NANO_RAND_CUID_LEN + 1], expires[24];
    nano_db_status_t    st = NANO_DB_OK;

    if (nano_rand_cuid(id) != 0) {
        return NANO_DB_FAILED;
    }
    /* "expires_at" is an INTEGER column */
    snprintf(expires, sizeof(expires), "%lld", a->expires_at);
    params[0] = id;
    params[1] = user_id;
    params[2] = provider;
    params[3] = a->id;
    params[4] = a->refresh_token;
    params[5] = a->access_token;
    params[6] = a->expires_at > 0 && a->expires_at < 2147483647LL ? expires
                                                                   : NULL;
    params[7] = a->token_type;
    params[8] = a->scope;
    params[9] = a->id_token;
    params[10] = a->session_state;
    PQclear(nano_db_exec(db, sql, 11, params, PGRES_COMMAND_OK, &st));
    return st;
}

/*
 * Creates the user of a new account and its row in one transaction, as
 * NextAuth does (name, email, image; "emailVerified" null).  *created is
 * 0 when the email was taken meanwhile; NANO_DB_CONFLICT when the account
 * was.
 */
static nano_db_status_t
platform_account_create_user(nano_db_t *db, const char *provider,
    const platform_oauth_profile_t *a, char *user_id, int *created)
{
    static const char   image[] =
        "UPDATE \"User\" SET \"image\" = $2 WHERE \"id\" = $1";
    const char         *params[2];
    nano_db_status_t    st;

    *created = 0;
    if (nano_rand_cuid(user_id) != 0) {
        return NANO_DB_FAILED;
    }
    st = nano_db_begin(db);
    if (st == NANO_DB_OK) {
        st = platform_user_create(db, user_id, a->email, a->name, NULL,
                                  created);
    }
    if (st == NANO_DB_OK && *created && a->image != NULL) {
        params[0] = user_id;
        params[1] = a->image;
        PQclear(nano_db_exec(db, image, 2, params, PGRES_COMMAND_OK, &st));
    }
    if (st == NANO_DB_OK && *created) {
        st = platform_account_insert(db, user_id, provider, a);
    }
    st = nano_db_finish(db, st);
    if (st != NANO_DB_OK) {
        *created = 0;
    }
    return st;
}

/*
 * Starts a session for user_id, signed in with provider: the user's row
 * shared until the session's row is made, as the credentials sign-in
 * does, so that "sign out everywhere" (nano_cutoff_user) waits for it
 * and then ends it, or it waits for the cut-off and issues its token
 * after.  Read and recorded in statements of their own, the session's
 * row outlived a cut-off written between them: a dead session listed in
 * settings for 30 days (found by the authedges probe).
 */
static nano_db_status_t
platform_account_sign_in(nano_req_t *req, nano_res_t *res, nano_db_t *db,
    const char *user_id, const char *provider)
{
    platform_user_t     user;
    nano_db_status_t    st;
    long long           issued = 0;
    int                 found = 0;
    int                 own = !nano_db_in_tx(db);

    platform_user_init(&user);
    st = own ? nano_db_begin(db) : NANO_DB_OK;
    if (st == NANO_DB_OK) {
        st = platform_user_get_locked(db, user_id, &user, &found);
    }
    if (st == NANO_DB_OK && !found) {
        /* the row went with its user between the two statements */
        st = NANO_DB_FAILED;
    }
    if (st == NANO_DB_OK) {
        st = platform_session_start_as(req, res, db, &user, NULL, provider,
                                       &issued);
    }
    if (st == NANO_DB_OK && !issued) {
        st = NANO_DB_FAILED;
    }
    if (own) {
        st = nano_db_finish(db, st);
    }
    if (st == NANO_DB_OK) {
        nano_log_info("user %s signed in with %s", user_id, provider);
    }
    platform_user_cleanup(&user);
    return st;
}

/* A link from settings: the row goes to link_user, who must be the user
 * signed in on this request now. */
static nano_db_status_t
platform_account_link(nano_req_t *req, nano_db_t *db,
    const platform_oauth_provider_t *p, const platform_oauth_profile_t *a,
    const char *owner, const char *link_user,
    platform_oauth_outcome_t *outcome)
{
    platform_session_t         ps;
    platform_session_state_t   state;
    nano_db_status_t           st;

    platform_session_init(&ps);
    state = platform_session_check(req, db, &ps, &st);
    if (state == PLATFORM_SESSION_ERROR) {
        goto out;
    }
    /* signed out meanwhile, or another user signed in */
    if (state != PLATFORM_SESSION_LIVE || strcmp(ps.user.id, link_user) != 0)
    {
        nano_log_warn("%s link refused: its user is no longer signed in",
                      p->id);
        *outcome = PLATFORM_OAUTH_LINK_LOST;
        st = NANO_DB_OK;
        goto out;
    }

    if (owner != NULL) {
        /* NextAuth: linked already, or to another user (refused) */
        *outcome = strcmp(owner, link_user) == 0 ? PLATFORM_OAUTH_LINKED
                                                 : PLATFORM_OAUTH_NOT_LINKED;
        goto out;
    }
    st = platform_account_insert(db, link_user, p->id, a);
    if (st == NANO_DB_CONFLICT) {
        /* linked to someone in a race: refused as above */
        *outcome = PLATFORM_OAUTH_NOT_LINKED;
        st = NANO_DB_OK;
    } else if (st == NANO_DB_OK) {
        nano_log_info("user %s linked a %s account", link_user, p->id);
        *outcome = PLATFORM_OAUTH_LINKED;
    }
out:
    platform_session_cleanup(&ps);
    return st;
}

nano_db_status_t
platform_oauth_finish(nano_req_t *req, nano_res_t *res, nano_db_t *db,
    const platform_oauth_provider_t *p, const platform_oauth_profile_t *a,
    const char *link_user, platform_oauth_outcome_t *outcome)
{
    platform_user_t     existing;
    nano_db_status_t    st;
    char               *owner = NULL, user_id[NANO_RAND_CUID_LEN + 1];
    int                 found = 0, created = 0, tries;

    platform_user_init(&existing);
    *outcome = PLATFORM_OAUTH_SIGNED_IN;
    for (tries = 0; tries < 2; tries++) {
        free(owner);
        st = platform_account_owner(db, p->id, a->id, &owner);
        if (st != NANO_DB_OK) {
            goto out;
        }
        if (link_user != NULL) {
            st = platform_account_link(req, db, p, a, owner, link_user,
                                       outcome);
            goto out;
        }
        if (owner != NULL) {
            st = platform_account_sign_in(req, res, db, owner, p->id);
            goto out;
        }

        /* a new account: its email must not be an existing user's */
        if (a->email == NULL) {
            nano_log_info("%s account without a verified email: no user"
                          " created", p->id);
            *outcome = PLATFORM_OAUTH_NO_EMAIL;
            goto out;
        }
        st = platform_user_find(db, a->email, &existing, &found);
        if (st != NANO_DB_OK) {
            goto out;
        }
        if (found) {
            nano_log_info("%s sign-in refused: the email belongs to user %s"
                          " (OAuthAccountNotLinked)", p->id, existing.id);
            *outcome = PLATFORM_OAUTH_NOT_LINKED;
            goto out;
        }
        st = platform_account_create_user(db, p->id, a, user_id, &created);
        if (st == NANO_DB_CONFLICT) {
            /* the same account signed up in a race: look again */
            continue;
        }
        if (st != NANO_DB_OK) {
            goto out;
        }
        if (!created) {
            *outcome = PLATFORM_OAUTH_NOT_LINKED;
            goto out;
        }
        nano_log_info("user %s created by a %s sign-in", user_id, p->id);
        /* the sign-up grant now, as registration gives it */
        if (nano_credits_ensure(db, user_id) != NANO_DB_OK) {
            nano_log_warn("user %s: sign-up credits deferred: %s", user_id,
                          nano_db_last_error(db));
        }
        st = platform_account_sign_in(req, res, db, user_id, p->id);
        goto out;
    }
    st = NANO_DB_CONFLICT;
out:
    free(owner);
    platform_user_cleanup(&existing);
    return st;
}

json_t *
platform_account_rows(nano_db_t *db, const char *user_id,
    nano_db_status_t *st)
{
    static const char   sql[] =
        "SELECT \"provider\", \"providerAccountId\" FROM \"Account\""
        " WHERE \"userId\" = $1 ORDER BY \"provider\", \"providerAccountId\"";
    const char         *params[1] = { user_id };
    json_t             *rows;
    PGresult           *r;
    int                 i;

    r = nano_db_exec(db, sql, 1, params, PGRES_TUPLES_OK, st);
    if (r == NULL) {
        return NULL;
    }
    rows = json_array();
    for (i = 0; rows != NULL && i < PQntuples(r); i++) {
        if (json_array_append_new(rows,
                                  json_pack("{s:s, s:s}", "provider",
                                            PQgetvalue(r, i, 0),
                                            "providerAccountId",
                                            PQgetvalue(r, i, 1))) != 0)
        {
            json_decref(rows);
            rows = NULL;
        }
    }
    PQclear(r);
    if (rows == NULL) {
        *st = NANO_DB_FAILED;
    }
    return rows;
}

/* The unlink itself, in the caller's transaction. */
static nano_db_status_t
platform_account_unlink_tx(nano_db_t *db, const char *user_id,
    const char *provider, platform_unlink_t *result)
{
    static const char   lock[] =
        "SELECT \"password\" IS NOT NULL FROM \"User\" WHERE \"id\" = $1"
        " FOR UPDATE";
    static const char   rows[] =
        "SELECT \"provider\" FROM \"Account\" WHERE \"userId\" = $1";
    static const char   drop[] =
        "DELETE FROM \"Account\" WHERE \"userId\" = $1 AND \"provider\" = $2";
    const char         *params[2] = { user_id, provider };
    nano_db_status_t    st = NANO_DB_OK;
    PGresult           *r;
    const char         *v;
    int                 i, password, mine = 0, others = 0;

    /* the user's row locked: two unlinks at once cannot both pass */
    r = nano_db_exec(db, lock, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    password = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    r = nano_db_exec(db, rows, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    for (i = 0; i < PQntuples(r); i++) {
        v = PQgetvalue(r, i, 0);
        if (strcmp(v, provider) == 0) {
            mine++;
        } else if (platform_oauth_find(v) != NULL) {
            /* only a provider configured here is a way to sign in */
            others++;
        }
    }
    PQclear(r);
    if (mine == 0) {
        *result = PLATFORM_UNLINK_NOT_LINKED;
        return NANO_DB_OK;
    }
    if (!password && others == 0) {
        *result = PLATFORM_UNLINK_LAST_METHOD;
        return NANO_DB_OK;
    }
    PQclear(nano_db_exec(db, drop, 2, params, PGRES_COMMAND_OK, &st));
    *result = PLATFORM_UNLINK_DONE;
    return st;
}

nano_db_status_t
platform_account_unlink_rows(nano_db_t *db, const char *user_id,
    const char *provider, platform_unlink_t *result)
{
    nano_db_status_t  st;

    *result = PLATFORM_UNLINK_NOT_LINKED;
    st = nano_db_begin(db);
    if (st == NANO_DB_OK) {
        st = platform_account_unlink_tx(db, user_id, provider, result);
    }
    return nano_db_finish(db, st);
}
