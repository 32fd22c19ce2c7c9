/*
 * Stripe's REST API as the platform uses it: the form body of
 * POST /v1/checkout/sessions, its Checkout Session answer and Stripe's
 * error shape {"error":{"type","code","message","param"}}.  No I/O.
 */

#ifndef NANO_STRIPE_API_H
#define NANO_STRIPE_API_H

#include <stddef.h>

#include "nano_buf.h"

#define NANO_STRIPE_API_BASE     "https://api.stripe.com"
#define NANO_STRIPE_SESSIONS     "/v1/checkout/sessions"

/* What a Checkout Session for one pack is made of; borrowed strings. */
typedef struct {
    const char  *currency;       /* "usd" */
    long long    unit_amount;    /* minor units */
    const char  *product_name;   /* the pack's label */
    const char  *success_url;
    const char  *cancel_url;
    const char  *user_id;        /* client_reference_id, metadata[userId] */
    const char  *purchase_id;    /* metadata[purchaseId] */
    const char  *pack;           /* metadata[pack] */
    long long    credits;        /* metadata[credits] */
} nano_stripe_checkout_t;

/*
 * Appends the form body (application/x-www-form-urlencoded, keys and
 * values percent-encoded as Stripe's libraries send them) to out:
 * mode=payment, line_items[0][price_data][currency|unit_amount|
 * product_data][name]], line_items[0][quantity]=1, success_url,
 * cancel_url, client_reference_id and metadata[userId|purchaseId|pack|
 * credits].  Returns 0, or -1 when out failed.
 */
int nano_stripe_checkout_body(const nano_stripe_checkout_t *c,
    nano_buf_t *out);

/*
 * Reads a Checkout Session answer: its "id" (cs_...) and "url" (an
 * http(s) URL) as new strings (caller frees).  Returns 0, or -1 when
 * the body is not such an object (both left NULL).
 */
int nano_stripe_session_read(const char *body, size_t len, char **id,
    char **url);

/* Stripe's error object, fields "" when absent (copied, truncated). */
typedef struct {
    char  type[64];       /* "invalid_request_error", "api_error", ... */
    char  code[64];       /* "parameter_missing", "rate_limit", ... */
    char  param[128];
    char  message[256];
} nano_stripe_error_t;

/* Reads {"error":{...}} from body; returns 0, or -1 when the body is
 * not in that shape (e is then all ""). */
int nano_stripe_error_read(const char *body, size_t len,
    nano_stripe_error_t *e);

#endif /* NANO_STRIPE_API_H */
