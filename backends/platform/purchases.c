/*
 * The "Purchase" table and what Stripe's events do to it: a pending
 * purchase before Stripe is asked, its Checkout Session, the grant once
 * it is paid and the credits its refunds take back (docs/PLATFORM.md
 * "Billing").  Every event is handled in one transaction that starts by
 * recording its id, so a replay changes nothing.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_credits.h"
#include "nano_log.h"
#include "platform.h"

#define PLATFORM_NOW  "(now() AT TIME ZONE 'utc')"

/* pg_advisory_xact_lock's first key for billing ("stru"): the second is
 * a hash of the payment intent, so the events of one payment (its
 * session events and its refunds) are handled one after the other. */
#define PLATFORM_BILLING_LOCK  "1937011317"

nano_db_status_t
platform_purchase_create(nano_db_t *db, const char *id, const char *user_id,
    const nano_pack_t *pack, const char *idempotency_key)
{
    static const char   sql[] =
        "INSERT INTO \"Purchase\" (\"id\", \"userId\", \"pack\", \"credits\","
        " \"amount\", \"currency\", \"idempotencyKey\")"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)";
    const char         *params[7];
    char                credits[24], amount[24];
    nano_db_status_t    st;

    snprintf(credits, sizeof(credits), "%lld", pack->credits);
    snprintf(amount, sizeof(amount), "%lld", pack->price);
    params[0] = id;
    params[1] = user_id;
    params[2] = pack->id;
    params[3] = credits;
    params[4] = amount;
    params[5] = pack->currency;
    params[6] = idempotency_key;
    PQclear(nano_db_exec(db, sql, 7, params, PGRES_COMMAND_OK, &st));
    return st;
}

nano_db_status_t
platform_purchase_opened(nano_db_t *db, const char *id,
    const char *session_id, int *live)
{
    /* a session event may have come first and set both already.  Only
     * while its user is there: an account deleted while Stripe was asked
     * (another tab) has had its purchases given an anonymous id, or, when
     * the deletion came before this purchase's row, none of its own */
    static const char   sql[] =
        "UPDATE \"Purchase\" p SET \"stripeSessionId\" ="
        " coalesce(\"stripeSessionId\", $2), \"status\" = CASE"
        " WHEN \"status\" = 'pending' THEN 'open' ELSE \"status\" END,"
        " \"updatedAt\" = " PLATFORM_NOW " WHERE \"id\" = $1"
        " AND EXISTS (SELECT 1 FROM \"User\" u WHERE u.\"id\" = p.\"userId\")"
        " RETURNING 1";
    const char         *params[2] = { id, session_id };

    return nano_db_exec_found(db, sql, 2, params, live);
}

nano_db_status_t
platform_purchase_failed(nano_db_t *db, const char *id)
{
    static const char   sql[] =
        "UPDATE \"Purchase\" SET \"status\" = 'error', \"updatedAt\" = "
        PLATFORM_NOW " WHERE \"id\" = $1 AND \"status\" = 'pending'";
    const char         *params[1] = { id };
    nano_db_status_t    st;

    PQclear(nano_db_exec(db, sql, 1, params, PGRES_COMMAND_OK, &st));
    return st;
}

PGresult *
platform_purchase_find(nano_db_t *db, const char *user_id,
    const char *session_id, nano_db_status_t *st)
{
    static const char   sql[] =
        "SELECT \"status\", \"pack\", \"credits\" FROM \"Purchase\""
        " WHERE \"stripeSessionId\" = $1 AND \"userId\" = $2";
    const char         *params[2] = { session_id, user_id };

    return nano_db_exec(db, sql, 2, params, PGRES_TUPLES_OK, st);
}

/* ---- events ------------------------------------------------------------ */

/* A purchase row locked for the event. */
typedef struct {
    char        id[64];
    char        user[64];
    char        status[16];
    char        payment_intent[256];
    long long   credits;
    long long   amount;         /* what was paid, in minor units */
    long long   taken;          /* "creditsTakenBack" */
    int         live;           /* its user still exists */
} platform_purchase_row_t;

/* How far a purchase has come: a status never goes back. */
static int
platform_purchase_rank(const char *status)
{
    if (strcmp(status, "paid") == 0) {
        return 3;
    }
    if (strcmp(status, "failed") == 0 || strcmp(status, "expired") == 0) {
        return 2;
    }
    return strcmp(status, "unpaid") == 0 ? 1 : 0;
}

static void
platform_purchase_copy(char *out, size_t size, PGresult *r, int col)
{
    snprintf(out, size, "%s", PQgetisnull(r, 0, col) ? ""
                                                     : PQgetvalue(r, 0, col));
}

/* Reads the one row of r (columns as PLATFORM_PURCHASE_COLS) into p. */
#define PLATFORM_PURCHASE_COLS                                               \
    "p.\"id\", p.\"userId\", p.\"status\", p.\"paymentIntent\","            \
    " p.\"credits\", p.\"creditsTakenBack\","                                \
    " EXISTS (SELECT 1 FROM \"User\" u WHERE u.\"id\" = p.\"userId\"),"   \
    " p.\"amount\""

static void
platform_purchase_read(PGresult *r, platform_purchase_row_t *p)
{
    platform_purchase_copy(p->id, sizeof(p->id), r, 0);
    platform_purchase_copy(p->user, sizeof(p->user), r, 1);
    platform_purchase_copy(p->status, sizeof(p->status), r, 2);
    platform_purchase_copy(p->payment_intent, sizeof(p->payment_intent), r,
                           3);
    p->credits = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    p->taken = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
    p->live = PQgetvalue(r, 0, 6)[0] == 't';
    p->amount = strtoll(PQgetvalue(r, 0, 7), NULL, 10);
}

/* What an event settles a purchase's credits taken back for: the ledger
 * row's reason when more is taken and when some is given back, and the
 * Stripe object (re_…, dp_…) the row answers, or NULL. */
typedef struct {
    const char  *take;          /* "chargeback" or "dispute" */
    const char  *give;          /* "refund_failed", "dispute_won", NULL */
    const char  *object;
    int          grant;         /* right after the grant: everything
                                 * recorded before it at once */
} platform_settle_t;

/*
 * The one purchase sql (selecting PLATFORM_PURCHASE_COLS) finds, read
 * into p and named in out; *found is 0 when it finds none (out then
 * names nothing).  The database's status.
 */
static nano_db_status_t
platform_purchase_locate(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, platform_purchase_row_t *p,
    platform_stripe_outcome_t *out, int *found)
{
    nano_db_status_t   st;
    PGresult          *r;

    *found = 0;
    r = nano_db_exec(db, sql, nparams, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    if (PQntuples(r) == 1) {
        platform_purchase_read(r, p);
        snprintf(out->purchase, sizeof(out->purchase), "%s", p->id);
        snprintf(out->user, sizeof(out->user), "%s", p->user);
        *found = 1;
    }
    PQclear(r);
    return NANO_DB_OK;
}

/*
 * Settles the credits taken back of a locked, paid purchase with what its
 * payment intent's refunds, failed refunds and disputes call for:
 * floor(credits * min(refunded - failed + disputed, amount) / amount),
 * "refunded" the largest amount_refunded charge.refunded reported,
 * "failed" the refunds Stripe reported as failed, "disputed" the disputes
 * whose amount is withdrawn.  The difference from "creditsTakenBack" is
 * one ledger row: taken back (the balance may go below zero), or given
 * back.  The ledger's unique indexes make each row once: a refunded total
 * per purchase, a failed refund or a dispute per Stripe object.
 */
static nano_db_status_t
platform_purchase_settle(nano_db_t *db, platform_purchase_row_t *p,
    const platform_settle_t *why, platform_stripe_outcome_t *out)
{
    static const char   target_sql[] =
        "WITH r AS (SELECT \"amount\", greatest(\"amountRefunded\", 0) AS x"
        " FROM \"StripeRefund\" WHERE \"paymentIntent\" = $1),"
        " v AS (SELECT coalesce((SELECT \"amount\" FROM r), $3::bigint) AS n,"
        " coalesce((SELECT x FROM r), 0) AS refunded,"
        " (SELECT coalesce(sum(\"amount\"), 0) FROM \"StripeRefundFailure\""
        " WHERE \"paymentIntent\" = $1) AS failed,"
        " (SELECT coalesce(sum(\"amount\"), 0) FROM \"StripeDispute\""
        " WHERE \"paymentIntent\" = $1 AND \"status\" IN ('needs_response',"
        " 'under_review', 'lost')) AS disputed)"
        " SELECT CASE WHEN n > 0 THEN least(refunded, n) ELSE 0 END,"
        " CASE WHEN n > 0 THEN floor($2::numeric * least(greatest("
        " least(refunded, n) - failed, 0) + disputed, n) / n)::bigint"
        " ELSE 0 END, disputed > 0 FROM v";
    /* ON CONFLICT without a target: any of the ledger's once-indexes */
    static const char   row_sql[] =
        "WITH c AS (INSERT INTO \"CreditLedger\" (\"userId\", \"delta\","
        " \"reason\", \"purchaseId\", \"amountRefunded\", \"stripeObject\")"
        " VALUES ($1, $2::bigint, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
        " RETURNING \"userId\", \"delta\")"
        " UPDATE \"CreditAccount\" a SET \"balance\" = a.\"balance\""
        " + c.\"delta\", \"updatedAt\" = " PLATFORM_NOW
        " FROM c WHERE a.\"userId\" = c.\"userId\" RETURNING 1";
    static const char   mark_sql[] =
        "UPDATE \"Purchase\" SET \"amountRefunded\" = $2,"
        " \"creditsTakenBack\" = $3, \"updatedAt\" = " PLATFORM_NOW
        " WHERE \"id\" = $1";
    const char         *params[6], *reason;
    char                credits[24], amount[24], refunded[24], target_s[24];
    char                delta_s[24];
    nano_db_status_t    st;
    PGresult           *r;
    long long           target, delta;
    int                 disputed, took;

    if (p->payment_intent[0] == '\0') {
        return NANO_DB_OK;
    }
    snprintf(credits, sizeof(credits), "%lld", p->credits);
    snprintf(amount, sizeof(amount), "%lld", p->amount);
    params[0] = p->payment_intent;
    params[1] = credits;
    params[2] = amount;
    r = nano_db_exec(db, target_sql, 3, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    snprintf(refunded, sizeof(refunded), "%s", PQgetvalue(r, 0, 0));
    target = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    disputed = PQgetvalue(r, 0, 2)[0] == 't';
    PQclear(r);

    delta = p->taken - target;          /* the ledger row's delta */
    reason = delta < 0 ? why->take : why->give;
    if (delta < 0 && why->grant && disputed) {
        /* a purchase disputed before it was paid: refunds too, if any */
        reason = "dispute";
    }
    if (delta != 0 && p->live && reason != NULL) {
        st = nano_credits_ensure(db, p->user);
        if (st != NANO_DB_OK) {
            return st;
        }
        snprintf(delta_s, sizeof(delta_s), "%lld", delta);
        params[0] = p->user;
        params[1] = delta_s;
        params[2] = reason;
        params[3] = p->id;
        /* a chargeback row's refunded total keys it; the others the
         * Stripe object */
        params[4] = strcmp(reason, "chargeback") == 0 ? refunded : NULL;
        params[5] = strcmp(reason, "chargeback") == 0 ? NULL : why->object;
        r = nano_db_exec(db, row_sql, 6, params, PGRES_TUPLES_OK, &st);
        if (r == NULL) {
            return st;
        }
        took = PQntuples(r) == 1;
        PQclear(r);
        if (!took) {
            /* the row is locked and says otherwise: the ledger and the
             * purchase disagree; leave both as they are */
            nano_log_error("purchase %s: a %s row for %s exists already;"
                           " nothing changed", p->id, reason,
                           params[4] != NULL ? params[4]
                           : params[5] != NULL ? params[5] : "it");
            return NANO_DB_OK;
        }
        if (delta < 0) {
            out->taken += -delta;
        } else {
            out->returned += delta;
        }
        p->taken = target;
    } else if (delta != 0 && p->live) {
        nano_log_error("purchase %s: %lld credits to settle, but not by"
                       " this event; nothing changed", p->id, delta);
    }
    snprintf(target_s, sizeof(target_s), "%lld", p->taken);
    params[0] = p->id;
    params[1] = refunded;
    params[2] = target_s;
    PQclear(nano_db_exec(db, mark_sql, 3, params, PGRES_COMMAND_OK, &st));
    return st;
}

static const platform_settle_t  platform_settle_refund = {
    "chargeback", NULL, NULL, 0
};
static const platform_settle_t  platform_settle_grant = {
    "chargeback", NULL, NULL, 1
};

/* Grants a locked purchase's credits, once: the unique index on its
 * "purchase" ledger row makes a second grant insert nothing. */
static nano_db_status_t
platform_purchase_grant(nano_db_t *db, platform_purchase_row_t *p,
    platform_stripe_outcome_t *out)
{
    static const char   sql[] =
        "WITH g AS (INSERT INTO \"CreditLedger\" (\"userId\", \"delta\","
        " \"reason\", \"purchaseId\") VALUES ($1, $2, 'purchase', $3)"
        " ON CONFLICT (\"purchaseId\") WHERE \"reason\" = 'purchase'"
        " DO NOTHING RETURNING \"userId\", \"delta\")"
        " UPDATE \"CreditAccount\" a SET \"balance\" = a.\"balance\""
        " + g.\"delta\", \"updatedAt\" = " PLATFORM_NOW
        " FROM g WHERE a.\"userId\" = g.\"userId\" RETURNING 1";
    const char         *params[3];
    char                credits[24];
    nano_db_status_t    st;
    PGresult           *r;

    if (!p->live) {
        out->note = "paid, but its user was deleted: nothing granted";
        return NANO_DB_OK;
    }
    st = nano_credits_ensure(db, p->user);
    if (st != NANO_DB_OK) {
        return st;
    }
    snprintf(credits, sizeof(credits), "%lld", p->credits);
    params[0] = p->user;
    params[1] = credits;
    params[2] = p->id;
    r = nano_db_exec(db, sql, 3, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    if (PQntuples(r) == 1) {
        out->granted = p->credits;
        out->note = "paid: credits granted";
    } else {
        out->note = "paid: granted before";
    }
    PQclear(r);
    return NANO_DB_OK;
}

/* The status a session event moves its purchase to, or NULL (none). */
static const char *
platform_purchase_status_for(const platform_stripe_event_t *ev)
{
    if (ev->payment_status != NULL
        && strcmp(ev->payment_status, "paid") == 0)
    {
        return "paid";
    }
    if (strcmp(ev->type, "checkout.session.async_payment_failed") == 0) {
        return "failed";
    }
    if (strcmp(ev->type, "checkout.session.expired") == 0) {
        return "expired";
    }
    if (strcmp(ev->type, "checkout.session.completed") == 0) {
        return "unpaid";
    }
    return NULL;
}

static nano_db_status_t
platform_purchase_session_event(nano_db_t *db,
    const platform_stripe_event_t *ev, platform_stripe_outcome_t *out)
{
    /* by the session, else (our row never learnt its session id) by the
     * purchase id we put in the metadata */
    static const char   find_sql[] =
        "SELECT " PLATFORM_PURCHASE_COLS " FROM \"Purchase\" p"
        " WHERE p.\"stripeSessionId\" = $1"
        " OR (p.\"stripeSessionId\" IS NULL AND p.\"id\" = $2"
        " AND p.\"userId\" = $3)"
        " ORDER BY (p.\"stripeSessionId\" IS NULL) LIMIT 1 FOR UPDATE";
    static const char   update_sql[] =
        "UPDATE \"Purchase\" SET \"stripeSessionId\" ="
        " coalesce(\"stripeSessionId\", $2), \"paymentIntent\" ="
        " coalesce(\"paymentIntent\", $3), \"status\" = $4,"
        " \"paidAt\" = CASE WHEN $4 = 'paid' THEN coalesce(\"paidAt\", "
        PLATFORM_NOW ") ELSE \"paidAt\" END,"
        " \"updatedAt\" = " PLATFORM_NOW " WHERE \"id\" = $1";
    platform_purchase_row_t   p;
    const char               *params[4], *status;
    nano_db_status_t          st;
    int                       found, paid_before;

    params[0] = ev->session_id;
    params[1] = ev->purchase_id;
    params[2] = ev->client_reference_id != NULL ? ev->client_reference_id
                                                : "";
    st = platform_purchase_locate(db, find_sql, 3, params, &p, out, &found);
    if (st != NANO_DB_OK) {
        return st;
    }
    if (!found) {
        out->note = "not a session of ours: ignored";
        return NANO_DB_OK;
    }

    paid_before = strcmp(p.status, "paid") == 0;
    status = platform_purchase_status_for(ev);
    if (status == NULL
        || platform_purchase_rank(status) <= platform_purchase_rank(p.status))
    {
        status = p.status;
    }
    if (p.payment_intent[0] == '\0' && ev->payment_intent != NULL) {
        snprintf(p.payment_intent, sizeof(p.payment_intent), "%s",
                 ev->payment_intent);
    }
    params[0] = p.id;
    params[1] = ev->session_id;
    params[2] = p.payment_intent[0] != '\0' ? p.payment_intent : NULL;
    params[3] = status;
    PQclear(nano_db_exec(db, update_sql, 4, params, PGRES_COMMAND_OK, &st));
    if (st != NANO_DB_OK) {
        return st;
    }
    if (strcmp(status, "paid") != 0) {
        out->note = strcmp(status, "unpaid") == 0
                    ? "completed, the payment not yet received"
                    : strcmp(status, p.status) == 0 ? "nothing to change"
                    : status[0] == 'f' ? "the delayed payment failed"
                    : "the session expired unpaid";
        return NANO_DB_OK;
    }
    if (!paid_before) {
        st = platform_purchase_grant(db, &p, out);
    } else {
        out->note = "paid: granted before";
    }
    /* a refund that came before the grant is applied now */
    return st == NANO_DB_OK
           ? platform_purchase_settle(db, &p, &platform_settle_grant, out)
           : st;
}

static nano_db_status_t
platform_purchase_refund_event(nano_db_t *db,
    const platform_stripe_event_t *ev, platform_stripe_outcome_t *out)
{
    static const char   record_sql[] =
        "INSERT INTO \"StripeRefund\" (\"paymentIntent\", \"amount\","
        " \"amountRefunded\") VALUES ($1, $2, $3)"
        " ON CONFLICT (\"paymentIntent\") DO UPDATE SET"
        " \"amountRefunded\" = greatest(\"StripeRefund\".\"amountRefunded\","
        " EXCLUDED.\"amountRefunded\"), \"amount\" = EXCLUDED.\"amount\","
        " \"updatedAt\" = " PLATFORM_NOW;
    static const char   find_sql[] =
        "SELECT " PLATFORM_PURCHASE_COLS " FROM \"Purchase\" p"
        " WHERE p.\"paymentIntent\" = $1 FOR UPDATE";
    platform_purchase_row_t   p;
    const char               *params[3];
    char                      amount[24], refunded[24];
    nano_db_status_t          st;
    int                       found;

    snprintf(amount, sizeof(amount), "%lld", ev->amount);
    snprintf(refunded, sizeof(refunded), "%lld", ev->amount_refunded);
    params[0] = ev->payment_intent;
    params[1] = amount;
    params[2] = refunded;
    PQclear(nano_db_exec(db, record_sql, 3, params, PGRES_COMMAND_OK, &st));
    if (st != NANO_DB_OK) {
        return st;
    }
    st = platform_purchase_locate(db, find_sql, 1, params, &p, out, &found);
    if (st != NANO_DB_OK) {
        return st;
    }
    if (!found) {
        out->note = "refund recorded; no purchase has this payment yet";
        return NANO_DB_OK;
    }
    if (strcmp(p.status, "paid") != 0) {
        out->note = "refund recorded; applied when the purchase is paid";
        return NANO_DB_OK;
    }
    out->note = "refund applied";
    return platform_purchase_settle(db, &p, &platform_settle_refund, out);
}

/* The purchase of a payment intent, locked, into p: 1 found and paid, 0
 * (out->note says why) otherwise, -1 on a database failure (st). */
static int
platform_purchase_paid(nano_db_t *db, const char *payment_intent,
    platform_purchase_row_t *p, platform_stripe_outcome_t *out,
    nano_db_status_t *st)
{
    static const char   find_sql[] =
        "SELECT " PLATFORM_PURCHASE_COLS " FROM \"Purchase\" p"
        " WHERE p.\"paymentIntent\" = $1 FOR UPDATE";
    const char         *params[1] = { payment_intent };
    int                 found;

    *st = platform_purchase_locate(db, find_sql, 1, params, p, out, &found);
    if (*st != NANO_DB_OK) {
        return -1;
    }
    if (!found) {
        out->note = "recorded; no purchase has this payment yet";
        return 0;
    }
    if (strcmp(p->status, "paid") != 0) {
        out->note = "recorded; applied when the purchase is paid";
        return 0;
    }
    return 1;
}

/* Settles the paid purchase of ev's payment intent for the Stripe object
 * of ev, noted as note; nothing (out->note says why) when there is none
 * or it is not paid yet. */
static nano_db_status_t
platform_purchase_settle_paid(nano_db_t *db,
    const platform_stripe_event_t *ev, platform_settle_t *why,
    const char *note, platform_stripe_outcome_t *out)
{
    platform_purchase_row_t   p;
    nano_db_status_t          st;
    int                       found;

    found = platform_purchase_paid(db, ev->payment_intent, &p, out, &st);
    if (found <= 0) {
        return found < 0 ? st : NANO_DB_OK;
    }
    out->note = note;
    why->object = ev->object_id;
    return platform_purchase_settle(db, &p, why, out);
}

/* A refund Stripe reports as failed: its amount is no longer refunded,
 * and the credits it took come back (once per refund id). */
static nano_db_status_t
platform_purchase_refund_failed_event(nano_db_t *db,
    const platform_stripe_event_t *ev, platform_stripe_outcome_t *out)
{
    static const char         record_sql[] =
        "INSERT INTO \"StripeRefundFailure\" (\"refundId\","
        " \"paymentIntent\", \"amount\") VALUES ($1, $2, $3)"
        " ON CONFLICT (\"refundId\") DO NOTHING RETURNING 1";
    platform_settle_t         why = { "chargeback", "refund_failed", NULL,
                                      0 };
    const char               *params[3];
    char                      amount[24];
    nano_db_status_t          st;
    PGresult                 *r;
    int                       found;

    snprintf(amount, sizeof(amount), "%lld", ev->amount);
    params[0] = ev->object_id;
    params[1] = ev->payment_intent;
    params[2] = amount;
    r = nano_db_exec(db, record_sql, 3, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    found = PQntuples(r) == 1;
    PQclear(r);
    if (!found) {
        out->note = "this refund's failure was handled before";
        return NANO_DB_OK;
    }
    return platform_purchase_settle_paid(db, ev, &why,
                                         "failed refund: its credits given"
                                         " back", out);
}

/* A dispute's status: its amount is taken while it is open or lost, and
 * given back when it is won (a closed status never changes again). */
static nano_db_status_t
platform_purchase_dispute_event(nano_db_t *db,
    const platform_stripe_event_t *ev, platform_stripe_outcome_t *out)
{
    static const char         record_sql[] =
        "INSERT INTO \"StripeDispute\" (\"id\", \"paymentIntent\","
        " \"amount\", \"status\") VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (\"id\") DO UPDATE SET"
        " \"amount\" = EXCLUDED.\"amount\", \"status\" = EXCLUDED.\"status\","
        " \"updatedAt\" = " PLATFORM_NOW
        " WHERE \"StripeDispute\".\"status\" NOT IN ('won', 'lost',"
        " 'warning_closed', 'prevented')";
    platform_settle_t         why = { "dispute", "dispute_won", NULL, 0 };
    const char               *params[4];
    char                      amount[24];
    nano_db_status_t          st;

    snprintf(amount, sizeof(amount), "%lld", ev->amount);
    params[0] = ev->object_id;
    params[1] = ev->payment_intent;
    params[2] = amount;
    params[3] = ev->dispute_status;
    PQclear(nano_db_exec(db, record_sql, 4, params, PGRES_COMMAND_OK, &st));
    if (st != NANO_DB_OK) {
        return st;
    }
    return platform_purchase_settle_paid(db, ev, &why, "dispute applied",
                                         out);
}

/* What nano_db_tx runs: safe to run again from the start. */
typedef struct {
    const platform_stripe_event_t  *ev;
    platform_stripe_outcome_t      *out;
} platform_purchase_tx_t;

static nano_db_status_t
platform_purchase_event_tx(nano_db_t *db, void *arg)
{
    static const char         lock_sql[] =
        "SELECT pg_advisory_xact_lock(" PLATFORM_BILLING_LOCK
        ", hashtext($1))";
    static const char         event_sql[] =
        "INSERT INTO \"StripeEvent\" (\"id\", \"type\", \"objectId\")"
        " VALUES ($1, $2, $3) ON CONFLICT (\"id\") DO NOTHING RETURNING 1";
    platform_purchase_tx_t   *tx = arg;
    const platform_stripe_event_t  *ev = tx->ev;
    platform_stripe_outcome_t *out = tx->out;
    const char               *params[3];
    nano_db_status_t          st;
    PGresult                 *r;

    memset(out, 0, sizeof(*out));
    if (ev->payment_intent != NULL) {
        params[0] = ev->payment_intent;
        PQclear(nano_db_exec(db, lock_sql, 1, params, PGRES_TUPLES_OK, &st));
        if (st != NANO_DB_OK) {
            return st;
        }
    }
    params[0] = ev->id;
    params[1] = ev->type;
    params[2] = ev->object_id;
    r = nano_db_exec(db, event_sql, 3, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    out->replay = PQntuples(r) == 0;
    PQclear(r);
    out->ignored = ev->kind == PLATFORM_STRIPE_OTHER;
    if (out->replay) {
        out->note = "handled before: nothing to do";
        return NANO_DB_OK;
    }
    switch (ev->kind) {
    case PLATFORM_STRIPE_SESSION:
        return platform_purchase_session_event(db, ev, out);
    case PLATFORM_STRIPE_REFUND:
        return platform_purchase_refund_event(db, ev, out);
    case PLATFORM_STRIPE_REFUND_FAILED:
        return platform_purchase_refund_failed_event(db, ev, out);
    case PLATFORM_STRIPE_DISPUTE:
        return platform_purchase_dispute_event(db, ev, out);
    default:
        out->note = "not an event billing acts on: ignored";
        return NANO_DB_OK;
    }
}

nano_db_status_t
platform_purchase_event(nano_db_t *db, const platform_stripe_event_t *ev,
    platform_stripe_outcome_t *out)
{
    platform_purchase_tx_t  tx = { ev, out };

    return nano_db_tx(db, platform_purchase_event_tx, &tx);
}
