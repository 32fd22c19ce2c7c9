/*
 * Credit accounts and their ledger; every change is one statement that
 * writes both, so no caller can change one without the other (the debit
 * is part of a generation's admission: "nano_gen_admit", nano_gen.c).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "nano_config.h"
#include "nano_credits.h"
#include "nano_rand.h"

/* An ISO 8601 UTC rendering of a TIMESTAMP(3) column, as JSON shows it. */
#define NANO_CREDITS_ISO(col)                                                 \
    "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* NANO_SIGNUP_CREDITS: set once at start, before any thread reads it */
static int  nano_credits_signup = NANO_SIGNUP_CREDITS_DEFAULT;

int
nano_credits_configure(char *err, size_t errlen)
{
    return nano_config_env_int("NANO_SIGNUP_CREDITS",
                               NANO_SIGNUP_CREDITS_DEFAULT, 0,
                               NANO_SIGNUP_CREDITS_MAX, &nano_credits_signup,
                               err, errlen);
}

nano_db_status_t
nano_credits_ensure(nano_db_t *db, const char *user_id)
{
    /* one statement: the account and its grant, or neither.  Only for a
     * user that exists: its row's key-share lock keeps an account
     * deletion (platform_user_delete) from passing between this check
     * and the commit, so no account outlives its user. */
    static const char   sql[] =
        "WITH u AS (SELECT \"id\" FROM \"User\" WHERE \"id\" = $1"
        " FOR KEY SHARE),"
        " acc AS (INSERT INTO \"CreditAccount\" (\"userId\", \"balance\")"
        " SELECT \"id\", $2 FROM u ON CONFLICT (\"userId\") DO NOTHING"
        " RETURNING \"userId\")"
        " INSERT INTO \"CreditLedger\" (\"userId\", \"delta\", \"reason\")"
        " SELECT \"userId\", $2, 'signup' FROM acc";
    const char         *params[2];
    char                grant[24];
    nano_db_status_t    st;

    snprintf(grant, sizeof(grant), "%d", nano_credits_signup);
    params[0] = user_id;
    params[1] = grant;
    PQclear(nano_db_exec(db, sql, 2, params, PGRES_COMMAND_OK, &st));
    return st;
}

nano_db_status_t
nano_credits_balance_read(nano_db_t *db, const char *user_id,
    long long *balance, int *found)
{
    static const char   sql[] =
        "SELECT \"balance\" FROM \"CreditAccount\" WHERE \"userId\" = $1";
    const char         *params[1] = { user_id };
    nano_db_status_t    st;
    PGresult           *r;

    *balance = 0;
    if (found != NULL) {
        *found = 0;
    }
    r = nano_db_exec(db, sql, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    if (PQntuples(r) == 1) {
        *balance = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (found != NULL) {
            *found = 1;
        }
    }
    PQclear(r);
    return NANO_DB_OK;
}

nano_db_status_t
nano_credits_refund(nano_db_t *db, const char *gen_id, int *refunded)
{
    /* the unique index on refunds makes a second refund insert nothing,
     * and then nothing is credited either */
    static const char   sql[] =
        "WITH r AS (INSERT INTO \"CreditLedger\" (\"userId\", \"delta\","
        " \"reason\", \"module\", \"generationId\")"
        " SELECT \"userId\", -\"delta\", 'refund', \"module\","
        " \"generationId\" FROM \"CreditLedger\""
        " WHERE \"generationId\" = $1 AND \"reason\" = 'debit'"
        " ON CONFLICT (\"generationId\") WHERE \"reason\" = 'refund'"
        " DO NOTHING RETURNING \"userId\", \"delta\")"
        " UPDATE \"CreditAccount\" a SET \"balance\" = a.\"balance\""
        " + r.\"delta\", \"updatedAt\" = (now() AT TIME ZONE 'utc')"
        " FROM r WHERE a.\"userId\" = r.\"userId\" RETURNING 1";
    const char         *params[1] = { gen_id };

    return nano_db_exec_found(db, sql, 1, params, refunded);
}

/*
 * A ledger cursor is the last row shown's "id" under a keyed permutation
 * of 64 bits (a four-round Feistel network whose round function is
 * HMAC-SHA256 of the signing key), written as 16 hex digits.  The id
 * itself is a sequence the whole platform shares: handed out plain, two
 * cursors a while apart told a user how many ledger rows everyone wrote
 * between them (found by the exports probe).  Any 16 hex digits read as
 * some position (only the user's own rows are ever listed); a key
 * changed meanwhile pages from such a place.
 */
#define NANO_CREDITS_CURSOR_LEN  16

static uint32_t
nano_credits_cursor_round(const unsigned char *key, size_t keylen, int round,
    uint32_t half)
{
    unsigned char  msg[sizeof("nano ledger cursor") + 4];
    unsigned char  md[EVP_MAX_MD_SIZE];
    unsigned int   mdlen = 0;
    size_t         n = sizeof("nano ledger cursor") - 1;

    memcpy(msg, "nano ledger cursor", n);
    msg[n] = (unsigned char) round;
    msg[n + 1] = (unsigned char) (half >> 24);
    msg[n + 2] = (unsigned char) (half >> 16);
    msg[n + 3] = (unsigned char) (half >> 8);
    msg[n + 4] = (unsigned char) half;
    if (HMAC(EVP_sha256(), key, (int) keylen, msg, n + 5, md, &mdlen)
        == NULL || mdlen < 4)
    {
        return 0;
    }
    return (uint32_t) md[0] << 24 | (uint32_t) md[1] << 16
           | (uint32_t) md[2] << 8 | md[3];
}

/* v under the permutation (decrypt: its inverse). */
static uint64_t
nano_credits_cursor_permute(const unsigned char *key, size_t keylen,
    uint64_t v, int decrypt)
{
    uint32_t  l = (uint32_t) (v >> 32), r = (uint32_t) v, t;
    int       i;

    for (i = 0; i < 4; i++) {
        if (!decrypt) {
            t = l ^ nano_credits_cursor_round(key, keylen, i, r);
            l = r;
            r = t;
        } else {
            t = r ^ nano_credits_cursor_round(key, keylen, 3 - i, l);
            r = l;
            l = t;
        }
    }
    return (uint64_t) l << 32 | r;
}

void
nano_credits_cursor_encode(const unsigned char *key, size_t keylen,
    long long id, char out[NANO_CREDITS_CURSOR_LEN + 1])
{
    snprintf(out, NANO_CREDITS_CURSOR_LEN + 1, "%016llx",
             (unsigned long long)
             nano_credits_cursor_permute(key, keylen, (uint64_t) id, 0));
}

int
nano_credits_cursor_decode(const unsigned char *key, size_t keylen,
    const char *s, long long *id)
{
    uint64_t  v = 0;
    size_t    n;
    int       d;

    for (n = 0; s[n] != '\0'; n++) {
        if (n == NANO_CREDITS_CURSOR_LEN) {
            return -1;
        }
        d = s[n] >= '0' && s[n] <= '9' ? s[n] - '0'
            : s[n] >= 'a' && s[n] <= 'f' ? s[n] - 'a' + 10 : -1;
        if (d < 0) {
            return -1;
        }
        v = v << 4 | (uint64_t) d;
    }
    if (n != NANO_CREDITS_CURSOR_LEN) {
        return -1;
    }
    v = nano_credits_cursor_permute(key, keylen, v, 1);
    if (v == 0 || v > (uint64_t) INT64_MAX) {
        return -1;
    }
    *id = (long long) v;
    return 0;
}

nano_db_status_t
nano_credits_ledger(nano_db_t *db, const char *user_id, int limit,
    const char *cursor, const unsigned char *key, size_t keylen,
    json_t **items, char **next)
{
    static const char   sql[] =
        "SELECT \"id\", \"delta\", \"reason\", \"module\", \"generationId\", "
        NANO_CREDITS_ISO("\"createdAt\"") " AS at, \"note\""
        " FROM \"CreditLedger\" WHERE \"userId\" = $1"
        " AND ($2::bigint IS NULL OR \"id\" < $2::bigint)"
        " ORDER BY \"id\" DESC LIMIT $3";
    const char         *params[3];
    char                lim[16], after[24];
    char                enc[NANO_CREDITS_CURSOR_LEN + 1];
    long long           id;
    nano_db_status_t    st;
    PGresult           *r;
    json_t             *row;
    int                 i, n, shown;

    *items = NULL;
    *next = NULL;
    if (cursor != NULL) {
        if (nano_credits_cursor_decode(key, keylen, cursor, &id) != 0) {
            return NANO_DB_INVALID;
        }
        snprintf(after, sizeof(after), "%lld", id);
        cursor = after;
    }
    /* one row more than shown says whether there is a next page */
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    params[0] = user_id;
    params[1] = cursor;
    params[2] = lim;
    r = nano_db_exec(db, sql, 3, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    *items = json_array();
    n = PQntuples(r);
    shown = n > limit ? limit : n;
    for (i = 0; i < shown && *items != NULL; i++) {
        row = json_pack("{s:I, s:s, s:s?, s:s?, s:s, s:s?}",
                        "delta",
                        (json_int_t) strtoll(PQgetvalue(r, i, 1), NULL, 10),
                        "reason", PQgetvalue(r, i, 2),
                        "module", PQgetisnull(r, i, 3) ? NULL
                                                       : PQgetvalue(r, i, 3),
                        "generationId", PQgetisnull(r, i, 4)
                                        ? NULL : PQgetvalue(r, i, 4),
                        "createdAt", PQgetvalue(r, i, 5),
                        "note", PQgetisnull(r, i, 6) ? NULL
                                                     : PQgetvalue(r, i, 6));
        if (row == NULL || json_array_append_new(*items, row) != 0) {
            json_decref(*items);
            *items = NULL;
        }
    }
    if (*items != NULL && n > limit) {
        nano_credits_cursor_encode(key, keylen,
                                   strtoll(PQgetvalue(r, shown - 1, 0), NULL,
                                           10), enc);
        *next = strdup(enc);
        if (*next == NULL) {
            json_decref(*items);
            *items = NULL;
        }
    }
    PQclear(r);
    return *items != NULL ? NANO_DB_OK : NANO_DB_FAILED;
}

typedef struct {
    const char  *user_id;
    long long    amount;
    const char  *note;
    long long   *balance;
    int         *refused;
} nano_credits_grant_ctx_t;

static nano_db_status_t
nano_credits_grant_tx(nano_db_t *db, void *arg)
{
    static const char          lock_sql[] =
        "SELECT \"balance\" FROM \"CreditAccount\" WHERE \"userId\" = $1"
        " FOR UPDATE";
    static const char          sql[] =
        "WITH g AS (UPDATE \"CreditAccount\" SET \"balance\" = \"balance\""
        " + $2, \"updatedAt\" = (now() AT TIME ZONE 'utc')"
        " WHERE \"userId\" = $1 RETURNING \"userId\", \"balance\"),"
        " l AS (INSERT INTO \"CreditLedger\" (\"userId\", \"delta\","
        " \"reason\", \"note\") SELECT \"userId\", $2::bigint, 'grant', $3"
        " FROM g)"
        " SELECT \"balance\" FROM g";
    nano_credits_grant_ctx_t  *c = arg;
    const char                *params[3];
    char                       amount[24];
    nano_db_status_t           st;
    PGresult                  *r;
    long long                  now;

    *c->refused = 0;
    st = nano_credits_ensure(db, c->user_id);
    if (st != NANO_DB_OK) {
        return st;
    }
    params[0] = c->user_id;
    r = nano_db_exec(db, lock_sql, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return NANO_DB_FAILED;              /* the user is gone */
    }
    now = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    /* only a payment's refund may take a balance below zero (and the
     * pages then say a payment was refunded): a correction takes what
     * is there at most.  Rolled back, so a refusal opens no account. */
    if (c->amount < 0 && now + c->amount < 0) {
        *c->refused = 1;
        *c->balance = now;
        return NANO_DB_CONFLICT;
    }
    snprintf(amount, sizeof(amount), "%lld", c->amount);
    params[1] = amount;
    params[2] = c->note;
    r = nano_db_exec(db, sql, 3, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    if (PQntuples(r) != 1) {
        st = NANO_DB_FAILED;
    } else {
        *c->balance = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }
    PQclear(r);
    return st;
}

nano_db_status_t
nano_credits_grant(nano_db_t *db, const char *user_id, long long amount,
    const char *note, long long *balance, int *refused)
{
    nano_credits_grant_ctx_t  c = { user_id, amount, note, balance,
                                    refused };
    nano_db_status_t          st;

    *refused = 0;
    st = nano_db_tx(db, nano_credits_grant_tx, &c);
    return *refused ? NANO_DB_OK : st;
}

nano_db_status_t
nano_credits_forget_user(nano_db_t *db, const char *user_id)
{
    static const char *const  sql[] = {
        "DELETE FROM \"CreditAccount\" WHERE \"userId\" = $1",
        "UPDATE \"CreditLedger\" SET \"userId\" = $2 WHERE \"userId\" = $1",
        /* payments are accounting too (sql/006_billing.sql) */
        "UPDATE \"Purchase\" SET \"userId\" = $2 WHERE \"userId\" = $1",
    };
    const char               *params[2];
    char                      tomb[8 + 32 + 1];
    nano_db_status_t          st = NANO_DB_OK;
    size_t                    i;

    /* the amounts stay for accounting; whose they were does not */
    memcpy(tomb, "deleted-", 8);
    if (nano_rand_hex(tomb + 8, 16) != 0) {
        return NANO_DB_FAILED;
    }
    params[0] = user_id;
    params[1] = tomb;
    for (i = 0; i < sizeof(sql) / sizeof(sql[0]) && st == NANO_DB_OK; i++) {
        PQclear(nano_db_exec(db, sql[i], i == 0 ? 1 : 2, params,
                             PGRES_COMMAND_OK, &st));
    }
    return st;
}
