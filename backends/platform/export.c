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

/* The profile, accounts and balance in one round trip: the ledger and
 * the purchases, as long as the account made them, are read after in
 * pages. */
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
    " WHERE c.\"userId\" = u.\"id\") AS balance"
    " FROM \"User\" u WHERE u.\"id\" = $1";

/* The ledger as the billing page shows it, oldest first, a row's object
 * per row. */
static const char  platform_export_ledger_sql[] =
    "SELECT json_build_object('delta', \"delta\", 'reason', \"reason\","
    " 'module', \"module\", 'generationId', \"generationId\", 'createdAt', "
    PLATFORM_EXPORT_ISO("\"createdAt\"") ", 'note', \"note\")"
    " FROM \"CreditLedger\" WHERE \"userId\" = $1 ORDER BY \"id\"";

/* The purchases, never their Idempotency-Key, oldest first. */
static const char  platform_export_purchases_sql[] =
    "SELECT json_build_object('id', \"id\", 'pack', \"pack\","
    " 'credits', \"credits\", 'amount', \"amount\", 'currency', \"currency\","
    " 'status', \"status\", 'amountRefunded', \"amountRefunded\","
    " 'creditsTakenBack', \"creditsTakenBack\","
    " 'stripeSessionId', \"stripeSessionId\","
    " 'paymentIntent', \"paymentIntent\", 'createdAt', "
    PLATFORM_EXPORT_ISO("\"createdAt\"") ", 'paidAt', "
    PLATFORM_EXPORT_ISO("\"paidAt\"") ")"
    " FROM \"Purchase\" WHERE \"userId\" = $1 ORDER BY \"createdAt\", \"id\"";

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

/* Rows per read of each part: a generation is ~10 KB, so about a
 * megabyte held at a time whatever the account's count. */
#define PLATFORM_EXPORT_BATCH  100

/* Exports writing now: each holds a database connection for its whole
 * time, so at most half the pool (at least one) at once, the rest for
 * every other request (eight exports held all eight connections, and
 * the next request waited for one and answered 503; found by the export
 * probe). */
static atomic_int  platform_exports;

int
platform_download_begin(nano_req_t *req, nano_res_t *res, nano_db_t *db,
    const char *lock, const char *user_id, int *entered)
{
    static const char   sql[] =
        "SELECT pg_try_advisory_xact_lock($1::integer, hashtext($2))";
    /* whether the lock is free, without taking it: the two-key form is
     * classid, objid and objsubid 2 in pg_locks */
    static const char   probe_sql[] =
        "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE \"locktype\" ="
        " 'advisory' AND \"database\" = (SELECT \"oid\" FROM pg_database"
        " WHERE \"datname\" = current_database()) AND \"classid\" ="
        " $1::integer::oid AND \"objid\" = hashtext($2)::oid"
        " AND \"objsubid\" = 2 AND \"granted\")";
    const char         *params[2] = { lock, user_id };
    nano_db_status_t    st;
    PGresult           *r;
    int                 max = nano_server_db_pool_size() / 2, held;
    int                 head = strcmp(req->method, "HEAD") == 0;

    *entered = 0;
    if (max < 1) {
        max = 1;
    }
    /* a HEAD (the pages' check before the link downloads) answers what
     * its GET would but takes none of the places: it held the user's
     * lock and an export place while it read, and a download started
     * meanwhile, from another tab, was refused as the user's second */
    if (head ? atomic_load(&platform_exports) >= max
             : nano_places_take(&platform_exports, max) != 0)
    {
        nano_res_header(res, "Retry-After", "1");
        return nano_res_error(res, 429, "too_many_exports",
                              "too many exports are being written right"
                              " now; try again in a moment");
    }
    *entered = !head;
    /* a download holds its worker as long as it writes: the stream slots
     * leave the other workers to every other request (a HEAD takes one
     * for its headers only) */
    if (nano_stream_acquire(req) != 0) {
        nano_res_header(res, "Retry-After", "1");
        return nano_res_error(res, 429, "too_many_streams",
                              "too many exports are being written right"
                              " now; try again in a moment");
    }
    /* one snapshot for every part: read one after the other, a
     * generation admitted meanwhile was listed without its debit in the
     * ledger read before it (noticed by the races probe) */
    st = nano_db_begin(db);
    if (st == NANO_DB_OK) {
        PQclear(nano_db_exec(db, "SET TRANSACTION ISOLATION LEVEL"
                             " REPEATABLE READ, READ ONLY", 0, NULL,
                             PGRES_COMMAND_OK, &st));
    }
    /* one of each kind at a time per user, whichever platform process
     * or host writes it: the lock goes with the transaction (a user who
     * started ten at once held every export's place and the others'
     * users waited; found by the exports probe) */
    r = st == NANO_DB_OK ? nano_db_exec(db, head ? probe_sql : sql, 2,
                                        params, PGRES_TUPLES_OK, &st)
                         : NULL;
    held = r != NULL && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (st != NANO_DB_OK || !held) {
        if (nano_db_in_tx(db)) {
            nano_db_finish(db, NANO_DB_FAILED);
        }
        if (st != NANO_DB_OK) {
            return nano_server_db_error(res, db, st);
        }
        nano_res_header(res, "Retry-After", "5");
        return nano_res_error(res, 429, "export_in_progress",
                              "your download of this is still being"
                              " written; wait for it to finish");
    }
    return 0;
}

int
platform_download_headers(nano_req_t *req, nano_res_t *res, nano_db_t *db,
    const char *type)
{
    /* a HEAD (the pages' check before the link downloads) writes no
     * rows and ends its transaction before its answer goes out */
    if (strcmp(req->method, "HEAD") == 0) {
        nano_db_finish(db, NANO_DB_OK);
        nano_stream_begin(req, 200, type, res);
        return 1;
    }
    if (nano_stream_begin(req, 200, type, res) != 0) {
        nano_db_finish(db, NANO_DB_FAILED);
        return 1;
    }
    return 0;
}

void
platform_download_end(int entered)
{
    if (entered) {
        atomic_fetch_sub(&platform_exports, 1);
    }
}

typedef struct {
    nano_req_t   *req;
    nano_buf_t    out;          /* written once past NANO_STREAM_CHUNK */
    const char   *part;         /* the array being written, for the log */
    size_t        rows;         /* of it so far */
    int           failed;       /* out of memory, or the client left */
} platform_export_sink_t;

static int
platform_export_flush(platform_export_sink_t *s)
{
    if (nano_stream_write_buf(s->req, &s->out) != 0) {
        s->failed = 1;
    }
    return s->failed ? -1 : 0;
}

/* text at the end of the file, then a new array named part. */
static int
platform_export_open(platform_export_sink_t *s, const char *text,
    const char *part)
{
    nano_buf_puts(&s->out, text);
    s->part = part;
    s->rows = 0;
    return s->out.failed ? platform_export_flush(s) : 0;
}

/* One item of the array being written, after a comma but the first
 * (nano_gen_each's step too). */
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
    if (nano_stream_write_full(s->req, &s->out) != 0) {
        s->failed = 1;
    }
    return s->failed ? -1 : 0;
}

/* A page of the ledger or the purchases: each row's column 0 is an
 * object PostgreSQL wrote, read and written again in jansson's compact
 * form, as the whole array was. */
static json_t *
platform_export_json_rows(PGresult *r, int n, const void *arg)
{
    json_t  *out = json_array(), *item;
    int      i;

    (void) arg;
    for (i = 0; out != NULL && i < n; i++) {
        item = json_loads(PQgetvalue(r, i, 0), JSON_DECODE_ANY, NULL);
        if (item == NULL || json_array_append_new(out, item) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

static json_t *
platform_export_session_rows(PGresult *r, int n, const void *arg)
{
    return platform_account_session_rows(r, n, arg);
}

/*
 * Every row of select (its nparams params: $1 the user) into the array
 * being written, read PLATFORM_EXPORT_BATCH at a time through a cursor in
 * the export's transaction; rows() makes a page's items.  NANO_DB_OK, or
 * the database's failure (the sink's own is in s->failed).
 */
static nano_db_status_t
platform_export_each(nano_db_t *db, platform_export_sink_t *s,
    const char *select, const char *const *params, int nparams,
    json_t *(*rows)(PGresult *r, int n, const void *arg), const void *arg)
{
    char                fetch[64];
    nano_db_status_t    st = NANO_DB_OK;
    nano_buf_t          declare;
    PGresult           *r;
    json_t             *page;
    size_t              i;
    int                 n;

    snprintf(fetch, sizeof(fetch), "FETCH FORWARD %d FROM"
             " \"platform_export\"", PLATFORM_EXPORT_BATCH);
    nano_buf_init(&declare);
    nano_buf_printf(&declare, "DECLARE \"platform_export\" NO SCROLL CURSOR"
                    " FOR %s", select);
    if (declare.failed) {
        s->failed = 1;
        return NANO_DB_OK;
    }
    PQclear(nano_db_exec(db, declare.data, nparams, params,
                         PGRES_COMMAND_OK, &st));
    nano_buf_cleanup(&declare);
    while (st == NANO_DB_OK && !s->failed) {
        r = nano_db_exec(db, fetch, 0, NULL, PGRES_TUPLES_OK, &st);
        if (r == NULL) {
            break;
        }
        n = PQntuples(r);
        page = rows(r, n, arg);
        PQclear(r);
        if (page == NULL) {
            s->failed = 1;
            break;
        }
        for (i = 0; i < json_array_size(page) && !s->failed; i++) {
            platform_export_row(json_array_get(page, i), s);
        }
        json_decref(page);
        if (n < PLATFORM_EXPORT_BATCH) {
            break;
        }
    }
    if (st == NANO_DB_OK && !s->failed) {
        PQclear(nano_db_exec(db, "CLOSE \"platform_export\"", 0, NULL,
                             PGRES_COMMAND_OK, &st));
    }
    return st;
}

/*
 * The file is written as it is read (an account's generations made it
 * tens of megabytes, built whole in memory: 20,000 of them outlasted
 * nginx's read timeout, and four exports at once took the process from
 * 15 to 134 MB; found by two probes).  The profile, the accounts and the
 * balance are small and read first, so a failure there still answers
 * an error; the sessions, the ledger, the purchases and the generations
 * follow in pages, all in the one snapshot (the ledger was one json_agg
 * and the sessions one result, each built whole before the first byte:
 * 100,000 ledger rows and 20,000 sessions took the process 290 MB
 * larger; found by the exports probe).  Once the status line is out, a
 * failure can only end the stream: the file then stops before its
 * closing "]}" and never parses as a whole one, and the response is cut
 * short, so the browser says the download failed.
 */
int
platform_account_export(nano_req_t *req, nano_res_t *res)
{
    platform_session_t       ps;
    platform_export_sink_t   sink;
    nano_db_status_t         st = NANO_DB_OK;
    nano_db_t               *db = NULL;
    const char              *params[2];
    const char              *current;
    PGresult                *r = NULL;
    json_t                  *profile = NULL, *accounts = NULL;
    char                    *head = NULL;
    time_t                   now = time(NULL);
    struct tm                tm;
    char                     day[16], at[32], disposition[96], bound[24];
    long long                balance = 0;
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
    status = platform_download_begin(req, res, db, PLATFORM_EXPORT_LOCK,
                                     ps.user.id, &entered);
    if (status != 0) {
        goto out;
    }
    params[0] = ps.user.id;
    current = ps.token.claims.jti.len > 0 ? ps.token.claims.jti.data : NULL;
    r = nano_db_exec(db, platform_export_sql, 1, params, PGRES_TUPLES_OK,
                     &st);
    if (r != NULL && PQntuples(r) == 1) {
        profile = platform_export_json(r, "profile");
        accounts = platform_export_json(r, "accounts");
        col = PQfnumber(r, "balance");
        if (col >= 0 && !PQgetisnull(r, 0, col)) {
            balance = strtoll(PQgetvalue(r, 0, col), NULL, 10);
        }
    }
    if (r == NULL || PQntuples(r) != 1 || st != NANO_DB_OK) {
        st = nano_db_finish(db, st != NANO_DB_OK ? st : NANO_DB_FAILED);
        status = nano_server_db_error(res, db, st != NANO_DB_OK
                                               ? st : NANO_DB_FAILED);
        goto out;
    }

    gmtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(disposition, sizeof(disposition),
             "attachment; filename=\"nano-export-%s.json\"", day);
    /* the object as it was built whole, up to the sessions' array: its
     * "[]}" loses its "]}" and the rows follow */
    head = json_dumps(json_pack("{s:s, s:O, s:O, s:[]}",
                                "exportedAt", at,
                                "profile", profile,
                                "accounts", accounts,
                                "sessions"),
                      JSON_COMPACT);
    len = head != NULL ? strlen(head) : 0;
    if (len < 3 || strcmp(head + len - 3, "[]}") != 0
        || nano_res_header(res, "Content-Disposition", disposition) != 0)
    {
        nano_db_finish(db, NANO_DB_FAILED);
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    head[len - 2] = '\0';
    status = NANO_STREAMED;
    if (platform_download_headers(req, res, db, "application/json") != 0) {
        goto out;
    }
    platform_export_open(&sink, head, "sessions");
    params[1] = platform_account_sessions_bound(bound, sizeof(bound));
    st = platform_export_each(db, &sink, platform_account_sessions_sql,
                              params, 2, platform_export_session_rows,
                              current);
    if (st == NANO_DB_OK && !sink.failed) {
        nano_buf_printf(&sink.out, "],\"credits\":{\"balance\":%lld,"
                        "\"ledger\":[", balance);
        platform_export_open(&sink, "", "ledger");
        st = platform_export_each(db, &sink, platform_export_ledger_sql,
                                  params, 1, platform_export_json_rows,
                                  NULL);
    }
    if (st == NANO_DB_OK && !sink.failed) {
        platform_export_open(&sink, "],\"purchases\":[", "purchases");
        st = platform_export_each(db, &sink, platform_export_purchases_sql,
                                  params, 1, platform_export_json_rows,
                                  NULL);
    }
    if (st == NANO_DB_OK && !sink.failed) {
        platform_export_open(&sink, "]},\"generations\":[", "generations");
        st = nano_gen_each(db, ps.user.id, PLATFORM_EXPORT_BATCH,
                           platform_export_row, &sink);
    }
    if (st == NANO_DB_OK && !sink.failed) {
        nano_buf_puts(&sink.out, "]}");
        platform_export_flush(&sink);
    }
    st = nano_db_finish(db, st != NANO_DB_OK || !sink.failed
                            ? st : NANO_DB_FAILED);
    if (sink.failed || st != NANO_DB_OK) {
        nano_stream_abort(req);
    }
    if (sink.failed) {
        nano_log_warn("user %s's export stopped after %zu of its %s:"
                      " the client left", ps.user.id, sink.rows, sink.part);
    } else if (st != NANO_DB_OK) {
        nano_log_error("user %s's export stopped after %zu of its %s:"
                       " the database failed (%s); the file ends"
                       " unfinished", ps.user.id, sink.rows, sink.part,
                       nano_db_last_error(db));
    } else {
        nano_log_info("user %s exported the account's data (%zu"
                      " generations)", ps.user.id, sink.rows);
    }
out:
    platform_download_end(entered);
    PQclear(r);
    free(head);
    nano_buf_cleanup(&sink.out);
    json_decref(profile);
    json_decref(accounts);
    platform_session_cleanup(&ps);
    return status;
}
