/*
 * GET /api/account/export: everything the platform keeps about the
 * signed-in user as one JSON file to download: the profile (never the
 * password hash), linked sign-in accounts (never their tokens), the
 * sessions, the credit ledger (with the notes the page shows), the
 * purchases (never their Idempotency-Key) and every generation's
 * metadata (outputs as the URLs they are served at, never the server's
 * file paths).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_gen.h"
#include "nano_log.h"
#include "nano_server.h"
#include "platform.h"

#define PLATFORM_EXPORT_ISO(col)                                              \
    "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The profile, accounts, balance, ledger and purchases in one round
 * trip. */
static const char  platform_export_sql[] =
    "SELECT json_build_object('id', u.\"id\", 'email', u.\"email\","
    " 'name', u.\"name\", 'image', u.\"image\", 'emailVerified', "
    PLATFORM_EXPORT_ISO("u.\"emailVerified\"") ", 'createdAt', "
    PLATFORM_EXPORT_ISO("u.\"createdAt\"") ") AS profile,"
    " (SELECT coalesce(json_agg(json_build_object('provider', a.\"provider\","
    " 'type', a.\"type\", 'providerAccountId', a.\"providerAccountId\")"
    " ORDER BY a.\"provider\", a.\"providerAccountId\"), '[]')"
    " FROM \"Account\" a WHERE a.\"userId\" = u.\"id\") AS accounts,"
    " (SELECT c.\"balance\" FROM \"CreditAccount\" c"
    " WHERE c.\"userId\" = u.\"id\") AS balance,"
    " (SELECT coalesce(json_agg(json_build_object('delta', l.\"delta\","
    " 'reason', l.\"reason\", 'module', l.\"module\", 'generationId',"
    " l.\"generationId\", 'createdAt', "
    PLATFORM_EXPORT_ISO("l.\"createdAt\"") ", 'note', l.\"note\")"
    " ORDER BY l.\"id\"), '[]')"
    " FROM \"CreditLedger\" l WHERE l.\"userId\" = u.\"id\") AS ledger,"
    " (SELECT coalesce(json_agg(json_build_object('id', p.\"id\","
    " 'pack', p.\"pack\", 'credits', p.\"credits\", 'amount', p.\"amount\","
    " 'currency', p.\"currency\", 'status', p.\"status\","
    " 'amountRefunded', p.\"amountRefunded\","
    " 'creditsTakenBack', p.\"creditsTakenBack\","
    " 'stripeSessionId', p.\"stripeSessionId\","
    " 'paymentIntent', p.\"paymentIntent\", 'createdAt', "
    PLATFORM_EXPORT_ISO("p.\"createdAt\"") ", 'paidAt', "
    PLATFORM_EXPORT_ISO("p.\"paidAt\"") ")"
    " ORDER BY p.\"createdAt\", p.\"id\"), '[]')"
    " FROM \"Purchase\" p WHERE p.\"userId\" = u.\"id\") AS purchases"
    " FROM \"User\" u WHERE u.\"id\" = $1";

/* Column name of row 0 parsed as JSON: a new reference, or NULL. */
static json_t *
platform_export_json(PGresult *r, const char *name)
{
    int  col = PQfnumber(r, name);

    if (col < 0 || PQgetisnull(r, 0, col)) {
        return NULL;
    }
    return json_loads(PQgetvalue(r, 0, col), JSON_DECODE_ANY, NULL);
}

int
platform_account_export(nano_req_t *req, nano_res_t *res)
{
    platform_session_t   ps;
    nano_db_status_t     st = NANO_DB_OK;
    nano_db_t           *db = NULL;
    const char          *params[1];
    PGresult            *r = NULL;
    json_t              *profile = NULL, *accounts = NULL, *ledger = NULL;
    json_t              *purchases = NULL, *sessions = NULL, *gens = NULL;
    time_t               now = time(NULL);
    struct tm            tm;
    char                 day[16], at[32], disposition[96];
    int                  status, col;

    platform_session_init(&ps);
    status = platform_account_session(req, res, 0, &db, &ps);
    if (status != 0) {
        goto out;
    }
    params[0] = ps.user.id;
    /* one snapshot for every part: read one after the other, a
     * generation admitted meanwhile was listed without its debit in the
     * ledger read before it (noticed by the races probe) */
    st = nano_db_begin(db);
    if (st == NANO_DB_OK) {
        PQclear(nano_db_exec(db, "SET TRANSACTION ISOLATION LEVEL"
                             " REPEATABLE READ, READ ONLY", 0, NULL,
                             PGRES_COMMAND_OK, &st));
    }
    if (st == NANO_DB_OK) {
        r = nano_db_exec(db, platform_export_sql, 1, params,
                         PGRES_TUPLES_OK, &st);
    }
    if (r != NULL && PQntuples(r) == 1) {
        profile = platform_export_json(r, "profile");
        accounts = platform_export_json(r, "accounts");
        ledger = platform_export_json(r, "ledger");
        purchases = platform_export_json(r, "purchases");
        sessions = platform_account_session_list(db, ps.user.id,
                                                 ps.token.claims.jti.len > 0
                                                 ? ps.token.claims.jti.data
                                                 : NULL, &st);
    }
    if (sessions != NULL) {
        st = nano_gen_all(db, ps.user.id, &gens);
    }
    if (nano_db_in_tx(db)) {
        st = nano_db_finish(db, st);
    }
    if (r == NULL || sessions == NULL || gens == NULL || st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st != NANO_DB_OK ? st
                                                            : NANO_DB_FAILED);
        goto out;
    }
    col = PQfnumber(r, "balance");

    gmtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(disposition, sizeof(disposition),
             "attachment; filename=\"nano-export-%s.json\"", day);
    if (nano_res_header(res, "Content-Disposition", disposition) != 0) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    status = nano_res_json(res, 200,
                           json_pack("{s:s, s:O, s:O, s:O, s:{s:I, s:O,"
                                     " s:O}, s:O}",
                                     "exportedAt", at,
                                     "profile", profile,
                                     "accounts", accounts,
                                     "sessions", sessions,
                                     "credits",
                                     "balance", (json_int_t)
                                     (col >= 0 && !PQgetisnull(r, 0, col)
                                      ? strtoll(PQgetvalue(r, 0, col), NULL,
                                                10) : 0),
                                     "ledger", ledger,
                                     "purchases", purchases,
                                     "generations", gens));
    nano_log_info("user %s exported the account's data", ps.user.id);
out:
    PQclear(r);
    json_decref(profile);
    json_decref(accounts);
    json_decref(ledger);
    json_decref(purchases);
    json_decref(sessions);
    json_decref(gens);
    platform_session_cleanup(&ps);
    return status;
}
