/*
 * GET /api/account/export: everything the platform keeps about the
 * signed-in user as one JSON file to download: the profile (never the
 * password hash), linked sign-in accounts (never their tokens), the
 * sessions, the credit ledger (with the notes the page shows), the
 * purchases (never their Idempotency-Key) and every generation's
 * metadata (outputs as the URLs they are served at, never the server's
 * file paths).
 */

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_buf.h"
#include "nano_gen.h"
#include "nano_log.h"
#include "nano_server.h"
#include "nano_stream.h"
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

/* Rows per read of the generations: at ~10 KB a row, about a megabyte
 * held at a time whatever the account's count. */
#define PLATFORM_EXPORT_BATCH  100

/* Bytes gathered before a write: one flush per 64 KiB, not per row. */
#define PLATFORM_EXPORT_CHUNK  (64 * 1024)

/* Exports writing now: each holds a database connection for its whole
 * time, so at most half the pool (at least one) at once, the rest for
 * every other request (eight exports held all eight connections, and
 * the next request waited for one and answered 503; found by the export
 * probe). */
static atomic_int  platform_exports;

static int
platform_export_enter(void)
{
    int  max = nano_server_db_pool_size() / 2;

    return nano_places_take(&platform_exports, max > 0 ? max : 1);
}

typedef struct {
    nano_req_t   *req;
    nano_buf_t    out;          /* written once past PLATFORM_EXPORT_CHUNK */
    size_t        rows;
    int           failed;       /* out of memory, or the client left */
} platform_export_sink_t;

static int
platform_export_flush(platform_export_sink_t *s)
{
    if (s->out.failed
        || nano_stream_write(s->req, s->out.data, s->out.len) != 0)
    {
        s->failed = 1;
    }
    nano_buf_cleanup(&s->out);
    nano_buf_init(&s->out);
    return s->failed ? -1 : 0;
}

/* nano_gen_each's step: one generation, after a comma but the first. */
static int
platform_export_row(json_t *item, void *arg)
{
    platform_export_sink_t  *s = arg;
    char                    *text = json_dumps(item, JSON_COMPACT);

    if (text == NULL) {
        s->failed = 1;
        return -1;
    }
    if (s->rows++ > 0) {
        nano_buf_puts(&s->out, ",");
    }
    nano_buf_puts(&s->out, text);
    free(text);
    return s->out.len >= PLATFORM_EXPORT_CHUNK || s->out.failed
           ? platform_export_flush(s) : 0;
}

/*
 * The file is written as it is read (an account's generations made it
 * tens of megabytes, built whole in memory: 20,000 of them outlasted
 * nginx's read timeout, and four exports at once took the process from
 * 15 to 134 MB; found by two probes).  Everything but the generations is
 * small and read first, so a failure there still answers an error; the
 * generations follow in pages, all in the one snapshot.  Once the status
 * line is out, a failure can only end the stream: the file then stops
 * before its closing "]}" and never parses as a whole one.
 */
int
platform_account_export(nano_req_t *req, nano_res_t *res)
{
    platform_session_t       ps;
    platform_export_sink_t   sink;
    nano_db_status_t         st = NANO_DB_OK;
    nano_db_t               *db = NULL;
    const char              *params[1];
    PGresult                *r = NULL;
    json_t                  *profile = NULL, *accounts = NULL;
    json_t                  *ledger = NULL, *purchases = NULL;
    json_t                  *sessions = NULL;
    char                    *head = NULL;
    time_t                   now = time(NULL);
    struct tm                tm;
    char                     day[16], at[32], disposition[96];
    size_t                   len;
    int                      status, col, entered = 0;

    platform_session_init(&ps);
    memset(&sink, 0, sizeof(sink));
    nano_buf_init(&sink.out);
    sink.req = req;
    status = platform_account_session(req, res, 0, &db, &ps);
    if (status != 0) {
        goto out;
    }
    if (platform_export_enter() != 0) {
        nano_res_header(res, "Retry-After", "1");
        status = nano_res_error(res, 429, "too_many_exports",
                                "too many exports are being written right"
                                " now; try again in a moment");
        goto out;
    }
    entered = 1;
    /* an export holds its worker as long as it writes: the stream slots
     * leave the other workers to every other request */
    if (nano_stream_acquire(req) != 0) {
        nano_res_header(res, "Retry-After", "1");
        status = nano_res_error(res, 429, "too_many_streams",
                                "too many exports are being written right"
                                " now; try again in a moment");
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
    if (r == NULL || sessions == NULL || st != NANO_DB_OK) {
        if (nano_db_in_tx(db)) {
            st = nano_db_finish(db, st);
        }
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
    /* the object as it was built whole, less its closing brace, and the
     * generations' array opened in its place */
    head = json_dumps(json_pack("{s:s, s:O, s:O, s:O, s:{s:I, s:O, s:O}}",
                                "exportedAt", at,
                                "profile", profile,
                                "accounts", accounts,
                                "sessions", sessions,
                                "credits",
                                "balance", (json_int_t)
                                (col >= 0 && !PQgetisnull(r, 0, col)
                                 ? strtoll(PQgetvalue(r, 0, col), NULL, 10)
                                 : 0),
                                "ledger", ledger,
                                "purchases", purchases),
                      JSON_COMPACT);
    len = head != NULL ? strlen(head) : 0;
    if (len == 0 || head[len - 1] != '}'
        || nano_res_header(res, "Content-Disposition", disposition) != 0)
    {
        nano_db_finish(db, NANO_DB_FAILED);
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    head[len - 1] = '\0';
    status = NANO_STREAMED;
    if (nano_stream_begin(req, 200, "application/json", res) != 0
        || nano_stream_write(req, head, len - 1) != 0
        || nano_stream_write(req, ",\"generations\":[", 16) != 0)
    {
        nano_db_finish(db, NANO_DB_FAILED);
        goto out;
    }
    /* a HEAD has had its headers: the rows would go nowhere */
    if (strcmp(req->method, "HEAD") != 0) {
        st = nano_gen_each(db, ps.user.id, PLATFORM_EXPORT_BATCH,
                           platform_export_row, &sink);
    }
    if (st == NANO_DB_OK && !sink.failed) {
        nano_buf_puts(&sink.out, "]}");
        platform_export_flush(&sink);
    }
    st = nano_db_finish(db, st != NANO_DB_OK || !sink.failed
                            ? st : NANO_DB_FAILED);
    if (sink.failed) {
        nano_log_warn("user %s's export stopped after %zu generations:"
                      " the client left", ps.user.id, sink.rows);
    } else if (st != NANO_DB_OK) {
        nano_log_error("user %s's export stopped after %zu generations:"
                       " the database failed (%s); the file ends"
                       " unfinished", ps.user.id, sink.rows,
                       nano_db_last_error(db));
    } else {
        nano_log_info("user %s exported the account's data (%zu"
                      " generations)", ps.user.id, sink.rows);
    }
out:
    if (entered) {
        atomic_fetch_sub(&platform_exports, 1);
    }
    PQclear(r);
    free(head);
    nano_buf_cleanup(&sink.out);
    json_decref(profile);
    json_decref(accounts);
    json_decref(ledger);
    json_decref(purchases);
    json_decref(sessions);
    platform_session_cleanup(&ps);
    return status;
}
