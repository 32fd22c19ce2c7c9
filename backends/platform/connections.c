/*
 * /api/account/connections: the signed-in user's connected OAuth
 * accounts ("Account" rows) for the settings page, and unlinking one,
 * never leaving the account without a way to sign in.  Linking is the
 * provider's sign-in started with link=1 (oauth.c).
 */

#include <string.h>

#include "nano_log.h"
#include "nano_server.h"
#include "oauth.h"

/* GET /api/account/connections →
 * {"connections": [{"provider","providerAccountId"}],
 *  "providers": [{"id","name"}], "hasPassword": bool} */
int
platform_account_connections(nano_req_t *req, nano_res_t *res)
{
    platform_session_t   ps;
    nano_db_status_t     st = NANO_DB_OK;
    nano_db_t           *db = NULL;
    json_t              *rows;
    int                  status;

    platform_session_init(&ps);
    status = platform_account_session(req, res, &db, &ps);
    if (status != 0) {
        goto out;
    }
    rows = platform_account_rows(db, ps.user.id, &st);
    if (rows == NULL) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    status = nano_res_json(res, 200,
                           json_pack("{s:o, s:o, s:b}", "connections", rows,
                                     "providers",
                                     platform_oauth_configured_json(),
                                     "hasPassword",
                                     ps.user.password != NULL));
out:
    platform_session_cleanup(&ps);
    return status;
}

/* DELETE /api/account/connections/{provider}: 200 {"ok":true}, 404
 * not_linked, 409 last_sign_in_method. */
int
platform_account_unlink(nano_req_t *req, nano_res_t *res)
{
    platform_session_t   ps;
    platform_unlink_t    result;
    nano_db_status_t     st;
    nano_db_t           *db = NULL;
    const char          *provider = nano_req_path_param(req, "provider");
    int                  status;

    platform_session_init(&ps);
    if (nano_req_cross_site(req)) {
        nano_log_warn("cross-site unlink refused");
        status = nano_res_error(res, 403, "cross_site",
                                "account changes are only accepted from this"
                                " site");
        goto out;
    }
    status = platform_account_session(req, res, &db, &ps);
    if (status != 0) {
        goto out;
    }
    st = platform_account_unlink_rows(db, ps.user.id, provider, &result);
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    switch (result) {
    case PLATFORM_UNLINK_NOT_LINKED:
        status = nano_res_error(res, 404, "not_linked",
                                "no account of this provider is connected");
        break;
    case PLATFORM_UNLINK_LAST_METHOD:
        status = nano_res_error(res, 409, "last_sign_in_method",
                                "this is your only way to sign in: set a"
                                " password or connect another account"
                                " first");
        break;
    default:
        nano_log_info("user %s unlinked %s", ps.user.id, provider);
        status = nano_res_json(res, 200, json_pack("{s:b}", "ok", 1));
        break;
    }
out:
    platform_session_cleanup(&ps);
    return status;
}
