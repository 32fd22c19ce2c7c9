/*
 * GET /api/credits: the signed-in user's balance and a page of the
 * ledger (docs/MODULES.md).
 */

#include <stdlib.h>
#include <string.h>

#include "nano_credits.h"
#include "nano_log.h"
#include "nano_server.h"
#include "platform.h"

int
platform_credits(nano_req_t *req, nano_res_t *res)
{
    const char        *user = nano_req_param_str(req, "NANO_USER_ID");
    const char        *cursor;
    nano_form_t        q;
    nano_db_status_t   st;
    nano_db_t         *db;
    json_t            *items = NULL;
    char              *next = NULL;
    long long          balance = 0;
    long               limit = 20;
    int                status;

    /* the gateway's verdict (revocations included) */
    if (user[0] == '\0') {
        return nano_res_error(res, 401, "unauthorized", "sign in first");
    }
    status = nano_req_page(req, res, &q, 20, 100, &limit, &cursor);
    if (status != 0) {
        goto out;
    }
    db = nano_server_db(req);
    st = db != NULL ? nano_credits_balance(db, user, &balance)
                    : NANO_DB_UNAVAILABLE;
    if (st == NANO_DB_OK) {
        st = nano_credits_ledger(db, user, (int) limit, cursor, &items,
                                 &next);
    }
    if (st == NANO_DB_INVALID) {
        status = nano_res_json(res, 400,
                               json_pack("{s:s, s:s, s:s}",
                                         "error", "invalid_field",
                                         "field", "cursor",
                                         "message", "that is not a cursor"
                                         " this API gave"));
    } else if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
    } else {
        status = nano_res_json(res, 200,
                               json_pack("{s:I, s:o, s:s?}",
                                         "balance", (json_int_t) balance,
                                         "ledger", items,
                                         "nextCursor", next));
        items = NULL;
    }
out:
    json_decref(items);
    free(next);
    nano_form_cleanup(&q);
    return status;
}
