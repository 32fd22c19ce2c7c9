/*
 * GET /api/credits: the signed-in user's balance and a page of the
 * ledger (docs/MODULES.md); GET /api/credits.csv: the whole ledger as a
 * download (docs/PLATFORM.md "Billing").
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_credits.h"
#include "nano_csv.h"
#include "nano_log.h"
#include "nano_server.h"
#include "nano_stream.h"
#include "platform.h"

int
platform_no_account(nano_res_t *res, const char *user_id)
{
    nano_log_info("user %s: a session of an account the database lacks",
                  user_id);
    return nano_res_error(res, 401, "unauthorized",
                          "this account no longer exists: sign in again");
}

/* What GET /api/credits reads, in one snapshot. */
typedef struct {
    const char           *user;
    int                   limit;
    const char           *cursor;
    const unsigned char  *key;      /* the cursors' (nano_credits_ledger) */
    size_t                keylen;
    long long             balance;
    int                   found;    /* the account exists */
    json_t               *items;
    char                 *next;
} platform_credits_read_t;

/* The balance and a page of the ledger from one snapshot: read apart,
 * a generation admitted between them showed a ledger that did not sum to
 * the balance (found by a probe). */
static nano_db_status_t
platform_credits_read(nano_db_t *db, void *arg)
{
    platform_credits_read_t  *c = arg;
    nano_db_status_t          st;

    /* reads only: the first-use grant was made before it (an INSERT ...
     * ON CONFLICT here met the account's row updated by an admission
     * after the snapshot: could not serialize, three times over) */
    PQclear(nano_db_exec(db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE"
                         " READ, READ ONLY", 0, NULL, PGRES_COMMAND_OK, &st));
    if (st == NANO_DB_OK) {
        st = nano_credits_balance_read(db, c->user, &c->balance, &c->found);
    }
    if (st == NANO_DB_OK) {
        json_decref(c->items);
        free(c->next);
        c->items = NULL;
        c->next = NULL;
        st = nano_credits_ledger(db, c->user, c->limit, c->cursor, c->key,
                                 c->keylen, &c->items, &c->next);
    }
    return st;
}

int
platform_credits(nano_req_t *req, nano_res_t *res)
{
    const char              *user = nano_req_param_str(req, "NANO_USER_ID");
    const char              *cursor;
    nano_form_t              q;
    nano_db_status_t         st;
    nano_db_t               *db;
    platform_credits_read_t  c = { user, 0, NULL, NULL, 0, 0, 0, NULL,
                                   NULL };
    long                     limit = 20;
    int                      status;

    /* the gateway's verdict (revocations included) */
    if (user[0] == '\0') {
        return nano_res_error(res, 401, "unauthorized", "sign in first");
    }
    status = nano_req_page(req, res, &q, 20, 100, &limit, &cursor);
    if (status != 0) {
        goto out;
    }
    c.limit = (int) limit;
    c.cursor = cursor;
    c.key = nano_config_secret(req->config, &c.keylen);
    db = nano_server_db(req);
    st = db != NULL ? nano_credits_ensure(db, user) : NANO_DB_UNAVAILABLE;
    if (st == NANO_DB_OK) {
        st = nano_db_tx(db, platform_credits_read, &c);
    }
    if (st != NANO_DB_OK) {
        status = nano_server_page_error(res, db, st);
    } else if (!c.found) {
        status = platform_no_account(res, user);
    } else {
        status = nano_res_json(res, 200,
                               json_pack("{s:I, s:o, s:s?}",
                                         "balance", (json_int_t) c.balance,
                                         "ledger", c.items,
                                         "nextCursor", c.next));
        c.items = NULL;
    }
out:
    json_decref(c.items);
    free(c.next);
    nano_form_cleanup(&q);
    return status;
}

/* The ledger rows CSV reads at a time: a long ledger never sits in one
 * result. */
#define PLATFORM_CSV_BATCH  "2000"

/*
 * Every batch from one snapshot (the download's transaction): read apart,
 * a row committed between two batches with an id below the last one read
 * was left out while rows written after it were in, a ledger that summed
 * to no balance (found by a probe).  Each batch is written as it is read:
 * the whole file was one buffer, 100,000 rows took the platform 30 MB
 * larger (found by the exports probe).  *gone: the client left (or
 * memory ran out) and the file stopped.
 */
static nano_db_status_t
platform_credits_csv_write(nano_req_t *req, nano_db_t *db, const char *user,
    int *gone)
{
    static const char   sql[] =
        "SELECT \"id\", to_char(\"createdAt\","
        " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \"delta\", \"reason\","
        " \"module\", \"generationId\", \"note\" FROM \"CreditLedger\""
        " WHERE \"userId\" = $1 AND \"id\" > $2::bigint"
        " ORDER BY \"id\" LIMIT " PLATFORM_CSV_BATCH;
    const char         *params[2];
    nano_db_status_t    st = NANO_DB_OK;
    nano_buf_t          csv;
    PGresult           *r;
    char                after[24] = "0";
    int                 i, n;

    *gone = 0;
    nano_buf_init(&csv);
    nano_buf_puts(&csv, "createdAt,delta,reason,module,generationId,note\r\n");
    /* oldest first, as a statement reads */
    params[0] = user;
    params[1] = after;
    do {
        r = nano_db_exec(db, sql, 2, params, PGRES_TUPLES_OK, &st);
        if (r == NULL) {
            break;
        }
        n = PQntuples(r);
        for (i = 0; i < n && !*gone; i++) {
            /* the time and the delta are ours: no quoting needed */
            nano_buf_printf(&csv, "%s,%s,", PQgetvalue(r, i, 1),
                            PQgetvalue(r, i, 2));
            nano_csv_cell(&csv, PQgetvalue(r, i, 3));
            nano_buf_puts(&csv, ",");
            nano_csv_cell(&csv, PQgetisnull(r, i, 4)
                                ? NULL : PQgetvalue(r, i, 4));
            nano_buf_puts(&csv, ",");
            nano_csv_cell(&csv, PQgetisnull(r, i, 5)
                                ? NULL : PQgetvalue(r, i, 5));
            nano_buf_puts(&csv, ",");
            nano_csv_cell(&csv, PQgetisnull(r, i, 6)
                                ? NULL : PQgetvalue(r, i, 6));
            nano_buf_puts(&csv, "\r\n");
            if (nano_stream_write_full(req, &csv) != 0) {
                *gone = 1;
            }
        }
        if (n > 0) {
            snprintf(after, sizeof(after), "%s", PQgetvalue(r, n - 1, 0));
        }
        PQclear(r);
    } while (n == atoi(PLATFORM_CSV_BATCH) && !*gone);
    if (st == NANO_DB_OK && !*gone
        && nano_stream_write_buf(req, &csv) != 0)
    {
        *gone = 1;
    }
    nano_buf_cleanup(&csv);
    return st;
}

/*
 * GET /api/credits.csv: a download as the export is (platform.h,
 * platform_download_begin): streamed, one per user at a time.  A failure
 * once the headers are out cuts the response short (the browser says the
 * download failed) and is logged.
 */
int
platform_credits_csv(nano_req_t *req, nano_res_t *res)
{
    static const char   user_sql[] =
        "SELECT 1 FROM \"User\" WHERE \"id\" = $1";
    const char         *user = nano_req_param_str(req, "NANO_USER_ID");
    nano_db_status_t    st;
    nano_db_t          *db;
    char                disposition[96];
    struct tm           tm;
    time_t              now = time(NULL);
    int                 status, found = 0, entered = 0, gone = 0;

    if (user[0] == '\0') {
        return nano_res_error(res, 401, "unauthorized", "sign in first");
    }
    db = nano_server_db(req);
    if (db == NULL) {
        return nano_server_db_error(res, db, NANO_DB_UNAVAILABLE);
    }
    status = platform_download_begin(req, res, db, PLATFORM_CSV_LOCK, user,
                                     &entered);
    if (status != 0) {
        goto out;
    }
    st = nano_db_exec_found(db, user_sql, 1, &user, &found);
    if (st != NANO_DB_OK || !found) {
        nano_db_finish(db, NANO_DB_FAILED);
        status = st != NANO_DB_OK ? nano_server_db_error(res, db, st)
                                  : platform_no_account(res, user);
        goto out;
    }
    gmtime_r(&now, &tm);
    strftime(disposition, sizeof(disposition),
             "attachment; filename=\"credits-%Y-%m-%d.csv\"", &tm);
    if (nano_res_header(res, "Content-Disposition", disposition) != 0) {
        nano_db_finish(db, NANO_DB_FAILED);
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    status = NANO_STREAMED;
    if (platform_download_headers(req, res, db, "text/csv") != 0) {
        goto out;
    }
    st = platform_credits_csv_write(req, db, user, &gone);
    st = nano_db_finish(db, gone ? NANO_DB_FAILED : st);
    /* rows end at a CRLF: a file cut short would look whole */
    if (gone || st != NANO_DB_OK) {
        nano_stream_abort(req);
    }
    if (gone) {
        nano_log_warn("user %s's ledger CSV stopped: the client left",
                      user);
    } else if (st != NANO_DB_OK) {
        nano_log_error("user %s's ledger CSV stopped: the database failed"
                       " (%s); the file ends unfinished", user,
                       nano_db_last_error(db));
    }
out:
    platform_download_end(entered);
    return status;
}
