/*
 * POST /api/register: creates a credentials user in V1's "User" table.
 */

#include <stdlib.h>
#include <string.h>

#include "nano_credits.h"
#include "nano_email.h"
#include "nano_log.h"
#include "nano_password.h"
#include "nano_rand.h"
#include "nano_server.h"
#include "platform.h"

int
platform_register(nano_req_t *req, nano_res_t *res)
{
    static const char *const  fields[][3] = {
        { "email", "invalid_email", "email must be a string" },
        { "password", "invalid_password", "password must be a string" },
        { "name", "invalid_name", "name must be a string" },
    };
    nano_form_t              f;
    nano_db_status_t         st;
    nano_db_t               *db;
    nano_password_result_t   pr;
    const char              *why, *password;
    char                     id[NANO_RAND_CUID_LEN + 1];
    char                    *email = NULL, *name = NULL, *hash = NULL;
    size_t                   i;
    unsigned                 flags = NANO_FIELDS_NUMBERS | NANO_FIELDS_UTF8;
    int                      status, created = 0;

    nano_form_init(&f);
    if (nano_req_cross_site(req)) {
        nano_log_warn("cross-site sign-up refused");
        status = nano_res_error(res, 403, "cross_site",
                                "sign-up is only accepted from this site");
        goto out;
    }
    /* a field that is not UTF-8 is named as every invalid_field is */
    status = nano_req_fields(req, res, &f, &flags);
    if (status != 0) {
        goto out;
    }
    /* a JSON number or true/false is no text ("name": false became the
     * name "false", 12 no name); numbers are read to be refused here, an
     * array or object is refused by nano_req_fields */
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!nano_form_is_text(&f, fields[i][0])) {
            status = nano_res_error(res, 400, fields[i][1], fields[i][2]);
            goto out;
        }
    }

    email = nano_email_normalise(nano_form_get(&f, "email")
                                 ? nano_form_get(&f, "email") : "");
    name = strdup(nano_form_get(&f, "name") ? nano_form_get(&f, "name") : "");
    password = nano_form_get(&f, "password") ? nano_form_get(&f, "password")
                                             : "";
    if (email == NULL || name == NULL) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    if ((why = nano_email_problem(email)) != NULL) {
        status = nano_res_error(res, 400, "invalid_email", why);
        goto out;
    }
    if ((why = nano_password_problem(password)) != NULL) {
        status = nano_res_error(res, 400, "invalid_password", why);
        goto out;
    }
    if ((why = platform_name_problem(name, 0)) != NULL) {
        status = nano_res_error(res, 400, "invalid_name", why);
        goto out;
    }

    /* Before the slow hash: an outage answers at once.  The connection
     * goes back to the pool while the hash is made. */
    db = nano_server_db(req);
    if (db == NULL) {
        status = nano_server_db_error(res, NULL, NANO_DB_UNAVAILABLE);
        goto out;
    }
    pr = platform_password_make(req, password, &hash);
    if (pr == NANO_PASSWORD_BUSY) {
        status = platform_busy(req, res, 1);
        goto out;
    }
    if (pr != NANO_PASSWORD_OK || nano_rand_cuid(id) != 0) {
        nano_log_error("cannot hash a password or make an id");
        status = nano_res_error(res, 500, "internal", "cannot create user");
        goto out;
    }

    db = nano_server_db(req);
    st = db != NULL ? platform_user_create(db, id, email,
                                           name[0] != '\0' ? name : NULL,
                                           hash, &created)
                    : NANO_DB_UNAVAILABLE;
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    if (!created) {
        status = nano_res_error(res, 409, "email_taken",
                                "an account with this email already exists");
        goto out;
    }
    /* the sign-up grant now, so the header shows it at once; a failure
     * here only delays it to the first use */
    if (nano_credits_ensure(db, id) != NANO_DB_OK) {
        nano_log_warn("user %s: sign-up credits deferred: %s", id,
                      nano_db_last_error(db));
    }
    nano_log_info("user %s registered", id);
    status = nano_res_json(res, 201,
                           json_pack("{s:s, s:s, s:s?}", "id", id,
                                     "email", email, "name",
                                     name[0] != '\0' ? name : NULL));
out:
    free(hash);
    free(email);
    free(name);
    nano_form_cleanup(&f);
    return status;
}
