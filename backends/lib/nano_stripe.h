/*
 * Stripe's webhook signature, as Stripe specifies it: the header
 * "Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...][,v0=<hex>]"
 * carries HMAC-SHA256(key = the endpoint's secret string as given,
 * "whsec_..." included and not decoded; message = "<t>.<raw body>") in
 * lower-case hex; any v1 may match, and t must be within a tolerance of
 * now.  Plain C: no nginx, no database.
 */

#ifndef NANO_STRIPE_H
#define NANO_STRIPE_H

#include <stddef.h>

#define NANO_STRIPE_TOLERANCE    300       /* seconds, Stripe's default */
#define NANO_STRIPE_HEADER_MAX   8192      /* longer headers are refused */
#define NANO_STRIPE_SIG_LEN      64        /* hex of an HMAC-SHA256 */

typedef enum {
    NANO_STRIPE_SIG_OK = 0,
    NANO_STRIPE_SIG_NO_SECRET,     /* no webhook secret configured */
    NANO_STRIPE_SIG_MISSING,       /* no header, or an empty one */
    NANO_STRIPE_SIG_MALFORMED,     /* not "t=<digits>,v1=..." elements */
    NANO_STRIPE_SIG_NO_V1,         /* a timestamp but no v1 (v0 only) */
    NANO_STRIPE_SIG_MISMATCH,      /* no v1 is the body's signature */
    NANO_STRIPE_SIG_STALE          /* signed, but t is too far from now */
} nano_stripe_sig_t;

/*
 * Verifies header (len bytes, need not be NUL-terminated; NULL: absent)
 * for body under secret (a NUL-terminated string; NULL or "": none) at
 * time now, allowing |now - t| <= tolerance seconds.  Every v1 value is
 * compared in constant time; other schemes (v0) are ignored.  The
 * signature is checked before the time, as Stripe's libraries do.
 * *t receives the header's timestamp when it has one (may be NULL).
 */
nano_stripe_sig_t nano_stripe_sig_verify(const char *header, size_t len,
    const char *body, size_t body_len, const char *secret, long long now,
    long long tolerance, long long *t);

/* A short text for a verdict ("the signature does not match"). */
const char *nano_stripe_sig_why(nano_stripe_sig_t verdict);

/*
 * The v1 signature of body at time t under secret, as lower-case hex
 * into out (NANO_STRIPE_SIG_LEN + 1 bytes).  Returns 0 or -1.
 */
int nano_stripe_sig_compute(const char *secret, long long t,
    const char *body, size_t body_len, char *out);

#endif /* NANO_STRIPE_H */
