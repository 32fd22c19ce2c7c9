/*
 * libFuzzer harness for Stripe-Signature verification (nano_stripe).
 *
 * The first input byte picks a mode, the rest is its data:
 *   even  the bytes are a Stripe-Signature header, verified against a
 *         fixed body; a header that verifies must hold the body's real
 *         signature for the time it names, within the tolerance;
 *   odd   the bytes are a body: it is signed, and the header made from
 *         that signature (among a wrong v1 and a v0) must verify, while
 *         the same header must fail for the body with one byte changed.
 * Every input is copied to an allocation of its exact size, so that
 * AddressSanitizer sees any read past its end.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_stripe.h"
#include "fuzz_common.h"

#define FUZZ_NOW     1700000000LL
#define FUZZ_SECRET  "whsec_fuzz_0123456789abcdef"
#define FUZZ_BODY    "{\"id\":\"evt_fuzz\",\"object\":\"event\"}"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_header(const char *h, size_t len)
{
    char               sig[NANO_STRIPE_SIG_LEN + 1];
    long long          t = -2;
    nano_stripe_sig_t  v;

    v = nano_stripe_sig_verify(h, len, FUZZ_BODY, strlen(FUZZ_BODY),
                               FUZZ_SECRET, FUZZ_NOW, NANO_STRIPE_TOLERANCE,
                               &t);
    if (nano_stripe_sig_why(v) == NULL || t < -1) {
        abort();
    }
    if (v != NANO_STRIPE_SIG_OK) {
        return;
    }
    /* accepted: the real signature is in it, and the time is near */
    if (t < FUZZ_NOW - NANO_STRIPE_TOLERANCE
        || t > FUZZ_NOW + NANO_STRIPE_TOLERANCE
        || nano_stripe_sig_compute(FUZZ_SECRET, t, FUZZ_BODY,
                                   strlen(FUZZ_BODY), sig) != 0
        || memmem(h, len, sig, NANO_STRIPE_SIG_LEN) == NULL)
    {
        abort();
    }
}

static void
fuzz_body(char *b, size_t len)
{
    char   sig[NANO_STRIPE_SIG_LEN + 1], h[256];
    int    n;

    if (nano_stripe_sig_compute(FUZZ_SECRET, FUZZ_NOW, b, len, sig) != 0) {
        abort();
    }
    n = snprintf(h, sizeof(h), "t=%lld,v1=%064d,v1=%s,v0=%s", FUZZ_NOW, 0,
                 sig, sig);
    if (nano_stripe_sig_verify(h, (size_t) n, b, len, FUZZ_SECRET, FUZZ_NOW,
                               NANO_STRIPE_TOLERANCE, NULL)
        != NANO_STRIPE_SIG_OK)
    {
        abort();
    }
    if (len > 0) {
        b[len / 2] ^= 0x01;
        if (nano_stripe_sig_verify(h, (size_t) n, b, len, FUZZ_SECRET,
                                   FUZZ_NOW, NANO_STRIPE_TOLERANCE, NULL)
            != NANO_STRIPE_SIG_MISMATCH)
        {
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *buf;

    if (size < 1) {
        return 0;
    }
    buf = fuzz_rest(data, size);
    if (data[0] & 1) {
        fuzz_body(buf, size - 1);
    } else {
        fuzz_header(buf, size - 1);
    }
    free(buf);
    return 0;
}
