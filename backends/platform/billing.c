/*
 * Billing (docs/PLATFORM.md "Billing"): the packs for sale, Stripe
 * Checkout Sessions for them, and the /billing page.  The webhook that
 * grants what was paid is in webhook.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nano_callback.h"
#include "nano_client.h"
#include "nano_config.h"
#include "nano_log.h"
#include "nano_page.h"
#include "nano_provider.h"
#include "nano_rand.h"
#include "nano_server.h"
#include "nano_stripe_api.h"
#include "platform.h"

#define PLATFORM_STRIPE_CONNECT_MS   5000
#define PLATFORM_STRIPE_TIMEOUT_MS   20000
#define PLATFORM_STRIPE_BODY_MAX     (256 * 1024)
#define PLATFORM_STRIPE_RETRY_MS     300

/* Read once at start, read-only afterwards. */
static struct {
    char  *secret_key;          /* STRIPE_SECRET_KEY; NULL: off */
    char  *webhook_secret;      /* STRIPE_WEBHOOK_SECRET; NULL: off */
    char   api_base[512];       /* STRIPE_API_BASE, no trailing '/' */
    /* the key, the webhook secret and at least one pack: what selling
     * needs (without the secret, paid purchases would never arrive) */
    int    enabled;
    const char  *off;           /* why purchases are off, for the log */
} platform_billing_cfg;

/* A copy of the environment variable name, or NULL when unset or
 * empty; refuses (-1) a value holding spaces or controls, which could
 * break the header it travels in. */
static int
platform_billing_env(const char *name, char **out)
{
    const char  *v = getenv(name);

    *out = NULL;
    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    if (!nano_config_plain(v)) {
        nano_log_error("%s holds a space or a control character", name);
        return -1;
    }
    *out = strdup(v);
    return *out != NULL ? 0 : -1;
}

static int
platform_billing_base(void)
{
    /* Stripe's API reference shows https://api.stripe.com/v1: the calls
     * add their own /v1, so a base ending in it is taken without it */
    static const char *const  roots[] = { "/v1", NULL };
    const char               *v = getenv("STRIPE_API_BASE"), *rest;
    char                      origin[NANO_ORIGIN_MAX], *base = NULL;

    if (v == NULL || v[0] == '\0') {
        v = NANO_STRIPE_API_BASE;
    }
    /* a host is needed too: "https://" was taken, and each checkout
     * failed with purchases on */
    if (nano_callback_origin(v, origin, sizeof(origin), &rest) != 0
        || strpbrk(v, " \t\r\n?#") != NULL
        || (base = nano_provider_url(v, roots, "")) == NULL
        || strlen(base) >= sizeof(platform_billing_cfg.api_base))
    {
        free(base);
        nano_log_error("STRIPE_API_BASE must be an http(s) URL without a"
                       " query (default %s)", NANO_STRIPE_API_BASE);
        return -1;
    }
    strcpy(platform_billing_cfg.api_base, base);
    free(base);
    return 0;
}

int
platform_billing_start(const nano_config_t *config)
{
    const char  *path = NULL;
    char         err[512];
    size_t       n;
    int          rc;

    (void) config;
    /* a malformed packs file stops the platform, as a malformed nginx
     * config stops nginx: selling the wrong thing is worse than not
     * starting, and the message names the line */
    rc = nano_packs_load(&path, err, sizeof(err));
    if (rc < 0) {
        nano_log_error("packs: %s", err);
        return -1;
    }
    nano_packs_all(&n);
    if (platform_billing_env("STRIPE_SECRET_KEY",
                             &platform_billing_cfg.secret_key) != 0
        || platform_billing_env("STRIPE_WEBHOOK_SECRET",
                                &platform_billing_cfg.webhook_secret) != 0
        || platform_billing_base() != 0
        || nano_client_global_init() != 0)
    {
        platform_billing_stop();
        return -1;
    }
    if (platform_billing_cfg.secret_key == NULL) {
        platform_billing_cfg.off = "STRIPE_SECRET_KEY is not set";
    } else if (platform_billing_cfg.webhook_secret == NULL) {
        platform_billing_cfg.off = "STRIPE_WEBHOOK_SECRET is not set, so"
                                   " no payment could be confirmed";
    } else if (n == 0) {
        platform_billing_cfg.off = "no packs are configured";
    } else {
        platform_billing_cfg.enabled = 1;
    }
    if (platform_billing_cfg.secret_key != NULL
        && strncmp(platform_billing_cfg.secret_key, "sk_", 3) != 0
        && strncmp(platform_billing_cfg.secret_key, "rk_", 3) != 0)
    {
        nano_log_warn("STRIPE_SECRET_KEY does not look like a Stripe key"
                      " (sk_... or rk_...)");
    }
    if (platform_billing_cfg.webhook_secret != NULL
        && strncmp(platform_billing_cfg.webhook_secret, "whsec_", 6) != 0)
    {
        nano_log_warn("STRIPE_WEBHOOK_SECRET does not look like a Stripe"
                      " signing secret (whsec_...)");
    }
    if (rc == 1) {
        nano_log_info("billing: no packs file at %s: nothing for sale",
                      path);
    } else {
        nano_log_info("billing: %zu pack%s from %s", n, n == 1 ? "" : "s",
                      path);
    }
    if (platform_billing_cfg.enabled) {
        nano_log_info("billing: purchases on, Stripe API %s",
                      platform_billing_cfg.api_base);
    } else {
        nano_log_info("billing: purchases off: %s", platform_billing_cfg.off);
    }
    return 0;
}

static void
platform_billing_free(char **s)
{
    if (*s != NULL) {
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void
platform_billing_stop(void)
{
    platform_billing_free(&platform_billing_cfg.secret_key);
    platform_billing_free(&platform_billing_cfg.webhook_secret);
    platform_billing_cfg.enabled = 0;
}

const char *
platform_billing_webhook_secret(void)
{
    return platform_billing_cfg.webhook_secret;
}

int
platform_billing_packs(nano_req_t *req, nano_res_t *res)
{
    const nano_pack_t  *p;
    json_t             *list, *o;
    size_t              i, n;

    (void) req;
    p = nano_packs_all(&n);
    list = json_array();
    for (i = 0; i < n && list != NULL; i++) {
        o = json_pack("{s:s, s:I, s:I, s:s, s:s}", "id", p[i].id,
                      "credits", (json_int_t) p[i].credits,
                      "price", (json_int_t) p[i].price,
                      "currency", p[i].currency, "label", p[i].label);
        if (o == NULL || json_array_append_new(list, o) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    return nano_res_json(res, 200, list);
}

/* ---- checkout ------------------------------------------------------------ */

/*
 * POSTs body to Stripe's Checkout Sessions with the purchase's
 * Idempotency-Key: once more, with the same key, when no answer came at
 * all (Stripe answers a repeat with the session the first made).
 * Returns nano_client_do's result.
 */
static int
platform_billing_stripe(const char *body, size_t len, const char *key,
    nano_client_res_t *cres)
{
    nano_client_call_t  call;
    char                idem[128];
    int                 rc = -1, attempt;

    nano_client_call_init(&call, "POST");
    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", key);
    if (nano_client_call_url(&call, platform_billing_cfg.api_base,
                             NANO_STRIPE_SESSIONS) != 0
        || nano_client_call_header(&call, "Content-Type:"
                                   " application/x-www-form-urlencoded") != 0
        || nano_client_call_header(&call, "Accept: application/json") != 0
        || nano_client_call_header(&call, idem) != 0
        || nano_client_call_auth(&call, "Authorization", "Bearer ",
                                 platform_billing_cfg.secret_key) != 0)
    {
        snprintf(cres->error, sizeof(cres->error), "out of memory");
        goto out;
    }
    call.body = body;
    call.body_len = len;
    call.connect_ms = PLATFORM_STRIPE_CONNECT_MS;
    call.timeout_ms = PLATFORM_STRIPE_TIMEOUT_MS;
    call.body_max = PLATFORM_STRIPE_BODY_MAX;
    for (attempt = 1; attempt <= 2; attempt++) {
        nano_client_res_cleanup(cres);
        rc = nano_client_do(&call, cres);
        if (rc == 0 || cres->too_large) {
            break;
        }
        if (attempt == 1) {
            nano_log_warn("checkout: no answer from Stripe (%s); trying"
                          " again with the same Idempotency-Key",
                          nano_client_why(cres));
            usleep(PLATFORM_STRIPE_RETRY_MS * 1000);
        }
    }
out:
    nano_client_call_cleanup(&call);
    return rc;
}

/*
 * Answers a Checkout Session Stripe did not give: 503 when Stripe could
 * not be reached or is failing for now (5xx, 429), 502 when it refused
 * the request (its key, a parameter).  Stripe's message is logged, not
 * shown, and never for 401/403 (it may quote part of the key).
 */
static int
platform_billing_stripe_error(nano_res_t *res, const char *purchase,
    int rc, const nano_client_res_t *cres)
{
    nano_stripe_error_t  e;

    if (rc != 0) {
        nano_log_error("checkout for purchase %s: Stripe did not answer: %s",
                       purchase, nano_client_why(cres));
        return nano_res_error(res, 503, "payment_unavailable",
                              "the payment service could not be reached;"
                              " nothing was charged, try again in a"
                              " moment");
    }
    nano_stripe_error_read(cres->body.data != NULL ? cres->body.data : "",
                           cres->body.len, &e);
    if (cres->status == 401 || cres->status == 403) {
        nano_log_error("checkout for purchase %s: Stripe refused the"
                       " platform's key (%ld %s%s%s): check"
                       " STRIPE_SECRET_KEY", purchase, cres->status, e.type,
                       e.code[0] ? " " : "", e.code);
        return nano_res_error(res, 502, "payment_error",
                              "the payment service refused this site's"
                              " credentials; purchases are unavailable"
                              " until the operator fixes them");
    }
    nano_log_error("checkout for purchase %s: Stripe answered %ld (%s%s%s)"
                   " %s", purchase, cres->status,
                   e.type[0] ? e.type : "no error object",
                   e.code[0] ? " " : "", e.code, e.message);
    if (cres->status == 429 || cres->status >= 500) {
        if (cres->status == 429) {
            nano_res_header(res, "Retry-After", "5");
        }
        return nano_res_error(res, 503, "payment_unavailable",
                              "the payment service is busy or failing;"
                              " nothing was charged, try again in a"
                              " moment");
    }
    return nano_res_error(res, 502, "payment_error",
                          "the payment service refused to start this"
                          " checkout; nothing was charged");
}

/* The checks a checkout starts with.  Returns 0 with a live session in
 * ps and the pack, or the status it answered. */
static int
platform_billing_checkout_begin(nano_req_t *req, nano_res_t *res,
    platform_session_t *ps, const nano_pack_t **pack)
{
    nano_form_t       f;
    nano_db_status_t  st;
    const char       *id;
    unsigned          flags = 0;
    int               status;

    if (nano_req_cross_site(req)) {
        nano_log_warn("%s %s: cross-site request refused", req->method,
                      req->path);
        return nano_res_error(res, 403, "cross_site",
                              "purchases are only accepted from this site");
    }
    if (!nano_req_is_content_type(req, "application/json")) {
        return nano_res_error(res, 415, "unsupported_media_type",
                              "send application/json in UTF-8");
    }
    nano_form_init(&f);
    status = nano_req_fields(req, res, &f, &flags);
    if (status != 0) {
        goto out;
    }
    switch (platform_session_check(req, nano_server_db(req), ps, &st)) {
    case PLATFORM_SESSION_LIVE:
        break;
    case PLATFORM_SESSION_ERROR:
        status = nano_server_db_error(res, nano_server_db(req), st);
        goto out;
    case PLATFORM_SESSION_DEAD:
        platform_session_drop(req, res, ps);
        /* fall through */
    default:
        status = nano_res_error(res, 401, "unauthorized",
                                "sign in to buy credits");
        goto out;
    }
    if (!platform_billing_cfg.enabled) {
        status = nano_res_error(res, 503, "billing_disabled",
                                "purchases are not configured on this"
                                " site");
        goto out;
    }
    id = nano_form_get(&f, "pack");
    *pack = id != NULL ? nano_packs_find(id) : NULL;
    if (*pack == NULL) {
        status = nano_res_field_error(res, "pack",
                                      id == NULL || id[0] == 0
                                      ? "choose a pack"
                                      : "there is no such pack");
        goto out;
    }
    status = 0;
out:
    nano_form_cleanup(&f);
    return status;
}

int
platform_billing_checkout(nano_req_t *req, nano_res_t *res)
{
    platform_session_t       ps;
    const nano_pack_t       *pack = NULL;
    nano_stripe_checkout_t   c;
    nano_client_res_t        cres;
    nano_db_status_t         st;
    nano_db_t               *db;
    nano_buf_t               body;
    char                     id[NANO_RAND_CUID_LEN + 1];
    char                     key[NANO_RAND_UUID_LEN + 1];
    char                    *success = NULL, *cancel = NULL;
    char                    *session = NULL, *url = NULL;
    int                      status, rc, live = 1;

    platform_session_init(&ps);
    nano_buf_init(&body);
    nano_client_res_init(&cres);
    status = platform_billing_checkout_begin(req, res, &ps, &pack);
    if (status != 0) {
        goto out;
    }

    /* the purchase and its key exist before Stripe hears of them */
    if (nano_rand_cuid(id) != 0 || nano_rand_uuid(key) != 0) {
        status = nano_res_error(res, 500, "internal", "no randomness");
        goto out;
    }
    db = nano_server_db(req);
    st = db != NULL ? platform_purchase_create(db, id, ps.user.id, pack, key)
                    : NANO_DB_UNAVAILABLE;
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    /* no database connection held while Stripe answers */
    nano_server_db_release(req);

    success = platform_url(req, "/billing?checkout=success"
                                "&session_id={CHECKOUT_SESSION_ID}");
    cancel = platform_url(req, "/billing?checkout=cancel");
    c = (nano_stripe_checkout_t) {
        .currency = pack->currency, .unit_amount = pack->price,
        .product_name = pack->label, .success_url = success,
        .cancel_url = cancel, .user_id = ps.user.id, .purchase_id = id,
        .pack = pack->id, .credits = pack->credits,
    };
    if (success == NULL || cancel == NULL
        || nano_stripe_checkout_body(&c, &body) != 0)
    {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    rc = platform_billing_stripe(body.data, body.len, key, &cres);
    if (rc == 0 && cres.status == 200
        && nano_stripe_session_read(cres.body.data != NULL ? cres.body.data
                                                           : "",
                                    cres.body.len, &session, &url) != 0)
    {
        nano_log_error("checkout for purchase %s: Stripe's answer is no"
                       " Checkout Session with a url", id);
        status = nano_res_error(res, 502, "payment_error",
                                "the payment service gave an answer this"
                                " site cannot use; nothing was charged");
    } else if (rc != 0 || cres.status != 200) {
        status = platform_billing_stripe_error(res, id, rc, &cres);
    } else {
        status = 200;
    }

    db = nano_server_db(req);
    st = db == NULL ? NANO_DB_UNAVAILABLE
         : status == 200 ? platform_purchase_opened(db, id, session, &live)
         : platform_purchase_failed(db, id);
    if (st == NANO_DB_OK && status == 200 && !live) {
        /* deleted in another tab while Stripe was asked: the buyer was
         * sent to pay, and the webhook grants a deleted account nothing
         * (found by the races probe).  The session expires unpaid */
        nano_log_info("purchase %s: its account was deleted meanwhile;"
                      " session %s left unused", id, session);
        nano_session_clear(req, res);
        status = nano_res_error(res, 401, "unauthorized", "this account was"
                                " deleted; nothing was charged");
        goto out;
    }
    if (st != NANO_DB_OK && status == 200) {
        /* the session exists; its webhook finds the purchase by the
         * metadata, so the buyer may go on */
        nano_log_warn("purchase %s: session %s not stored (the webhook"
                      " will match it by its metadata)", id, session);
    }
    if (status == 200) {
        nano_log_info("user %s: purchase %s of pack %s opened as %s",
                      ps.user.id, id, pack->id, session);
        status = nano_res_json(res, 200, json_pack("{s:s}", "url", url));
    }
out:
    free(session);
    free(url);
    free(success);
    free(cancel);
    nano_client_res_cleanup(&cres);
    nano_buf_cleanup(&body);
    platform_session_cleanup(&ps);
    return status;
}

/* ---- the page ------------------------------------------------------------ */

int
platform_billing_page(nano_req_t *req, nano_res_t *res)
{
    const char  *name = nano_page_user(req);

    if (name == NULL) {
        /* the gateway sends signed-out browsers to sign in first; this
         * is for a config without that location */
        return platform_signin_redirect(res, "/billing");
    }

    const nano_page_var_t  vars[] = {
        { "user_name", name, 0 },
        /* what the page's script offers: "on" packs to buy, "off" none */
        { "purchases", platform_billing_cfg.enabled ? "on" : "off", 0 },
    };
    return nano_page_render(req, res, 200, "billing.html", name, vars,
                            sizeof(vars) / sizeof(vars[0]));
}

/* GET /api/billing/checkout/{id}: where the signed-in user's checkout
 * with Stripe session id stands, for the page the buyer comes back to. */
int
platform_billing_checkout_status(nano_req_t *req, nano_res_t *res)
{
    const char        *user = nano_req_param_str(req, "NANO_USER_ID");
    const char        *id = nano_req_path_param(req, "id");
    nano_db_status_t   st;
    nano_db_t         *db;
    PGresult          *r;
    int                status;

    if (user[0] == '\0') {
        return nano_res_error(res, 401, "unauthorized", "sign in first");
    }
    db = nano_server_db(req);
    r = db != NULL ? platform_purchase_find(db, user, id, &st) : NULL;
    if (r == NULL) {
        return nano_server_db_error(res, db, db != NULL ? st
                                                     : NANO_DB_UNAVAILABLE);
    }
    if (PQntuples(r) != 1) {
        status = nano_res_error(res, 404, "not_found",
                                "no checkout of yours has this id");
    } else {
        status = nano_res_json(res, 200,
                               json_pack("{s:s, s:s, s:I}",
                                         "status", PQgetvalue(r, 0, 0),
                                         "pack", PQgetvalue(r, 0, 1),
                                         "credits", (json_int_t) strtoll(
                                             PQgetvalue(r, 0, 2), NULL, 10)));
    }
    PQclear(r);
    return status;
}
