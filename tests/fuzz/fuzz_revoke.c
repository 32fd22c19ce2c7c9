/*
 * libFuzzer harness for the revocation snapshot (nano_revoke).
 *
 * The first input byte picks a mode, the rest is the payload of it:
 *   even  the bytes are a snapshot file, parsed as they stand; a parsed
 *         snapshot is checked against claims cut from the same bytes;
 *   odd   the bytes are an id: the writer formats it as a session and as
 *         a user entry, the parser must read both back and the id must
 *         be revoked exactly as written (round trip).
 * Every input is copied to an allocation of its exact size, so that
 * AddressSanitizer sees any read past its end.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nano_revoke.h"
#include "fuzz_common.h"

#define FUZZ_NOW  1700000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_snapshot(const char *buf, size_t len)
{
    char            err[512], id[16];
    size_t          n;
    nano_claims_t   c;
    nano_revoke_t  *rv;

    err[0] = 'X';
    rv = nano_revoke_parse(buf, len, FUZZ_NOW, err, sizeof(err));
    if (rv == NULL) {
        /* a refusal always says why */
        if (err[0] == 'X' || err[0] == '\0' || memchr(err, '\0', sizeof(err))
                                               == NULL)
        {
            abort();
        }
        return;
    }

    if (nano_revoke_count(rv) > NANO_REVOKE_ENTRIES_MAX) {
        abort();
    }

    /* ids cut from the text itself, so that some of them are listed */
    n = len < sizeof(id) - 1 ? len : sizeof(id) - 1;
    memcpy(id, buf + len - n, n);
    id[n] = '\0';

    memset(&c, 0, sizeof(c));
    c.sub.data = id;
    c.sub.len = strlen(id);
    c.jti = c.sub;
    c.has_iat = len & 1;
    c.iat = FUZZ_NOW;
    (void) nano_revoke_check(rv, &c);

    nano_revoke_free(rv);
}


static void
fuzz_round_trip(const char *buf, size_t len)
{
    int             a, b, h;
    char            id[NANO_REVOKE_ID_MAX + 1], err[512];
    char            text[2 * NANO_REVOKE_LINE_MAX + 64];
    size_t          n;
    nano_claims_t   c;
    nano_revoke_t  *rv;

    /* an id is a C string of 1 to NANO_REVOKE_ID_MAX bytes */
    n = len < NANO_REVOKE_ID_MAX ? len : NANO_REVOKE_ID_MAX;
    memcpy(id, buf, n);
    id[n] = '\0';
    n = strlen(id);

    h = nano_revoke_format_header(text, sizeof(text), FUZZ_NOW);
    a = nano_revoke_format_session(text + h, sizeof(text) - h, id,
                                   FUZZ_NOW + 1);
    if (n == 0) {
        if (a != -1) {
            abort();
        }
        return;
    }
    if (h <= 0 || a <= 0 || a >= NANO_REVOKE_LINE_MAX) {
        abort();
    }

    b = nano_revoke_format_user(text + h + a, sizeof(text) - h - a, id,
                                FUZZ_NOW);
    if (b != a) {                      /* the same id, numbers of one width */
        abort();
    }

    rv = nano_revoke_parse(text, h + a + b, FUZZ_NOW, err, sizeof(err));
    if (rv == NULL || nano_revoke_count(rv) != 2) {
        abort();
    }

    memset(&c, 0, sizeof(c));
    c.sub.data = "someone else";
    c.sub.len = strlen(c.sub.data);
    c.jti.data = id;
    c.jti.len = n;
    c.has_iat = 1;
    c.iat = FUZZ_NOW;
    if (!nano_revoke_check(rv, &c)) {
        abort();
    }

    c.jti.data = "another session";
    c.jti.len = strlen(c.jti.data);
    c.sub.data = id;
    c.sub.len = n;
    if (nano_revoke_check(rv, &c)) {       /* iat equal to the cut-off */
        abort();
    }
    c.iat = FUZZ_NOW - 1;
    if (!nano_revoke_check(rv, &c)) {
        abort();
    }

    nano_revoke_free(rv);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *buf;

    if (size == 0) {
        return 0;
    }

    buf = fuzz_rest(data, size);

    if (data[0] & 1) {
        fuzz_round_trip(buf, size - 1);

    } else {
        fuzz_snapshot(buf, size - 1);
    }

    free(buf);
    return 0;
}
