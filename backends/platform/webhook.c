/*
 * POST /api/billing/webhook: Stripe's signed events.  Outside nano_auth
 * and without our CSRF checks: Stripe signs what it sends, and nothing
 * changes unless the signature is Stripe's (docs/PLATFORM.md "Billing").
 */

#include <string.h>
#include <time.h>

#include "nano_log.h"
#include "nano_server.h"
#include "nano_stripe.h"
#include "platform.h"

/* A string member of obj, or NULL (absent, null or not a string). */
static const char *
platform_webhook_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* A member of obj that is an integer of 0 or more, into *v: 0, else -1
 * (absent, not an integer, or below zero). */
static int
platform_webhook_amount(json_t *obj, const char *key, long long *v)
{
    json_t  *n = json_object_get(obj, key);

    if (!json_is_integer(n) || json_integer_value(n) < 0) {
        return -1;
    }
    *v = json_integer_value(n);
    return 0;
}

/*
 * Reads what billing needs of the event into ev (borrowed from root).
 * Returns NULL, or what is wrong with the event.
 */
static const char *
platform_webhook_read(json_t *root, platform_stripe_event_t *ev)
{
    json_t      *obj, *meta;
    const char  *pi, *status;

    memset(ev, 0, sizeof(*ev));
    ev->id = platform_webhook_str(root, "id");
    ev->type = platform_webhook_str(root, "type");
    obj = json_object_get(json_object_get(root, "data"), "object");
    if (ev->id == NULL || ev->id[0] == '\0' || ev->type == NULL
        || !json_is_object(obj))
    {
        return "an event needs an id, a type and data.object";
    }
    ev->object_id = platform_webhook_str(obj, "id");
    /* payment_intent is an id, or an object when expanded */
    pi = platform_webhook_str(obj, "payment_intent");
    if (pi == NULL) {
        pi = platform_webhook_str(json_object_get(obj, "payment_intent"),
                                  "id");
    }
    ev->payment_intent = pi != NULL && pi[0] != '\0' ? pi : NULL;

    if (strncmp(ev->type, "checkout.session.", 17) == 0) {
        ev->kind = PLATFORM_STRIPE_SESSION;
        ev->session_id = ev->object_id;
        ev->payment_status = platform_webhook_str(obj, "payment_status");
        ev->client_reference_id = platform_webhook_str(obj,
                                                       "client_reference_id");
        meta = json_object_get(obj, "metadata");
        ev->purchase_id = platform_webhook_str(meta, "purchaseId");
        if (ev->session_id == NULL || ev->session_id[0] == '\0') {
            return "a checkout session without an id";
        }
        if (strcmp(ev->type, "checkout.session.completed") != 0
            && strcmp(ev->type, "checkout.session.async_payment_succeeded")
               != 0
            && strcmp(ev->type, "checkout.session.async_payment_failed")
               != 0
            && strcmp(ev->type, "checkout.session.expired") != 0)
        {
            ev->kind = PLATFORM_STRIPE_OTHER;
        }
    } else if (strcmp(ev->type, "charge.refunded") == 0) {
        ev->kind = PLATFORM_STRIPE_REFUND;
        if (platform_webhook_amount(obj, "amount", &ev->amount) != 0
            || platform_webhook_amount(obj, "amount_refunded",
                                       &ev->amount_refunded) != 0)
        {
            return "a charge needs amount and amount_refunded";
        }
        if (ev->payment_intent == NULL) {
            /* not a payment of a Checkout Session: nothing of ours */
            ev->kind = PLATFORM_STRIPE_OTHER;
        }
    } else if (strcmp(ev->type, "charge.refund.updated") == 0
               || strcmp(ev->type, "refund.updated") == 0
               || strcmp(ev->type, "refund.failed") == 0)
    {
        /* a Refund object: only its failure changes anything (the
         * credits its charge.refunded took come back) */
        if (ev->object_id == NULL || ev->object_id[0] == '\0'
            || platform_webhook_amount(obj, "amount", &ev->amount) != 0)
        {
            return "a refund needs an id and an amount";
        }
        status = platform_webhook_str(obj, "status");
        if (ev->payment_intent != NULL && status != NULL
            && strcmp(status, "failed") == 0)
        {
            ev->kind = PLATFORM_STRIPE_REFUND_FAILED;
        }
    } else if (strncmp(ev->type, "charge.dispute.", 15) == 0) {
        /* a Dispute object, whatever the event: its status says whether
         * its amount is withdrawn */
        ev->dispute_status = platform_webhook_str(obj, "status");
        if (ev->object_id == NULL || ev->object_id[0] == '\0'
            || platform_webhook_amount(obj, "amount", &ev->amount) != 0
            || ev->dispute_status == NULL)
        {
            return "a dispute needs an id, an amount and a status";
        }
        if (ev->payment_intent != NULL) {
            ev->kind = PLATFORM_STRIPE_DISPUTE;
        }
    }
    return NULL;
}

int
platform_billing_webhook(nano_req_t *req, nano_res_t *res)
{
    const char                 *secret = platform_billing_webhook_secret();
    const char                 *header, *why;
    platform_stripe_event_t     ev;
    platform_stripe_outcome_t   out;
    nano_stripe_sig_t           v;
    nano_db_status_t            st;
    json_error_t                jerr;
    nano_db_t                  *db;
    json_t                     *root = NULL;
    char                        msg[JSON_ERROR_TEXT_LENGTH + 40];
    int                         status;

    if (secret == NULL) {
        /* 503: Stripe keeps the event and tries again later */
        return nano_res_error(res, 503, "billing_disabled",
                              "STRIPE_WEBHOOK_SECRET is not set here");
    }
    header = nano_req_param(req, "HTTP_STRIPE_SIGNATURE");
    v = nano_stripe_sig_verify(header, header != NULL ? strlen(header) : 0,
                               req->body, req->body_len, secret,
                               (long long) time(NULL), NANO_STRIPE_TOLERANCE,
                               NULL);
    if (v != NANO_STRIPE_SIG_OK) {
        nano_log_warn("webhook refused: %s", nano_stripe_sig_why(v));
        return nano_res_error(res, 400, "bad_signature",
                              nano_stripe_sig_why(v));
    }

    root = json_loadb(req->body != NULL ? req->body : "", req->body_len,
                      JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        /* jansson's reason (a number too big, nesting too deep) names
         * what Stripe's side must fix; it holds nothing secret */
        if (root == NULL) {
            snprintf(msg, sizeof(msg), "the body is not valid JSON: %s",
                     jerr.text);
        } else {
            snprintf(msg, sizeof(msg), "the body is not a JSON object");
        }
        nano_log_warn("webhook refused: a signed body: %s", msg);
        status = nano_res_error(res, 400, "bad_request", msg);
        goto out;
    }
    why = platform_webhook_read(root, &ev);
    if (why != NULL) {
        nano_log_warn("webhook refused: %s", why);
        status = nano_res_error(res, 400, "invalid_event", why);
        goto out;
    }

    db = nano_server_db(req);
    st = db != NULL ? platform_purchase_event(db, &ev, &out)
                    : NANO_DB_UNAVAILABLE;
    if (st != NANO_DB_OK) {
        /* Stripe retries a failed delivery; nothing was kept */
        nano_log_error("stripe event %s (%s) not handled: database", ev.id,
                       ev.type);
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    if (out.replay || out.ignored) {
        nano_log_info("stripe event %s (%s): %s", ev.id, ev.type, out.note);
    } else {
        nano_log_info("stripe event %s (%s): %s%s%s%s%s; +%lld -%lld"
                      " credits, %lld given back", ev.id, ev.type, out.note,
                      out.purchase[0] ? ", purchase " : "", out.purchase,
                      out.user[0] ? " of user " : "", out.user, out.granted,
                      out.taken, out.returned);
    }
    status = nano_res_json(res, 200,
                           json_pack("{s:b, s:b, s:b}", "received", 1,
                                     "ignored", out.ignored,
                                     "duplicate", out.replay));
out:
    json_decref(root);
    return status;
}
