/*
 * Stripe's wire format for Checkout Sessions and errors.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nano_stripe_api.h"

/* Appends "&key=value" ("key=value" first), both percent-encoded. */
static void
nano_stripe_field(nano_buf_t *out, const char *key, const char *value)
{
    if (out->len > 0) {
        nano_buf_puts(out, "&");
    }
    nano_buf_urlencode(out, key);
    nano_buf_puts(out, "=");
    nano_buf_urlencode(out, value);
}

int
nano_stripe_checkout_body(const nano_stripe_checkout_t *c, nano_buf_t *out)
{
    char  amount[24], credits[24];

    snprintf(amount, sizeof(amount), "%lld", c->unit_amount);
    snprintf(credits, sizeof(credits), "%lld", c->credits);
    nano_stripe_field(out, "mode", "payment");
    nano_stripe_field(out, "line_items[0][price_data][currency]",
                      c->currency);
    nano_stripe_field(out, "line_items[0][price_data][unit_amount]", amount);
    nano_stripe_field(out, "line_items[0][price_data][product_data][name]",
                      c->product_name);
    nano_stripe_field(out, "line_items[0][quantity]", "1");
    nano_stripe_field(out, "success_url", c->success_url);
    nano_stripe_field(out, "cancel_url", c->cancel_url);
    nano_stripe_field(out, "client_reference_id", c->user_id);
    nano_stripe_field(out, "metadata[userId]", c->user_id);
    nano_stripe_field(out, "metadata[purchaseId]", c->purchase_id);
    nano_stripe_field(out, "metadata[pack]", c->pack);
    nano_stripe_field(out, "metadata[credits]", credits);
    return out->failed ? -1 : 0;
}

int
nano_stripe_session_read(const char *body, size_t len, char **id,
    char **url)
{
    const char  *i = NULL, *u = NULL, *obj = NULL;
    json_t      *root;
    int          rc = -1;

    *id = NULL;
    *url = NULL;
    root = json_loadb(body, len, 0, NULL);
    if (root == NULL
        || json_unpack(root, "{s:s, s:s, s?s}", "id", &i, "url", &u,
                       "object", &obj) != 0
        || (obj != NULL && strcmp(obj, "checkout.session") != 0)
        || strncmp(i, "cs_", 3) != 0
        || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        || strpbrk(u, "\r\n\t \"<>\\") != NULL)
    {
        goto out;
    }
    *id = strdup(i);
    *url = strdup(u);
    if (*id == NULL || *url == NULL) {
        free(*id);
        free(*url);
        *id = NULL;
        *url = NULL;
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* Copies the string member key of obj into out (truncated), or "". */
static void
nano_stripe_copy(json_t *obj, const char *key, char *out, size_t size)
{
    const char  *v = json_string_value(json_object_get(obj, key));

    snprintf(out, size, "%s", v != NULL ? v : "");
}

int
nano_stripe_error_read(const char *body, size_t len, nano_stripe_error_t *e)
{
    json_t  *root, *err;
    int      rc = -1;

    memset(e, 0, sizeof(*e));
    root = json_loadb(body, len, 0, NULL);
    err = json_object_get(root, "error");
    if (json_is_object(err)) {
        nano_stripe_copy(err, "type", e->type, sizeof(e->type));
        nano_stripe_copy(err, "code", e->code, sizeof(e->code));
        nano_stripe_copy(err, "param", e->param, sizeof(e->param));
        nano_stripe_copy(err, "message", e->message, sizeof(e->message));
        rc = e->type[0] != '\0' || e->message[0] != '\0' ? 0 : -1;
    }
    json_decref(root);
    return rc;
}
