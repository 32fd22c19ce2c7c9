/*
 * libFuzzer harness for Cookie header parsing and chunked session
 * cookies.  Input: one byte choosing the cookie name and the output
 * capacity, then up to 8 Cookie header values separated by '\n'.  Each
 * header is copied to an allocation of its exact size, so that
 * AddressSanitizer sees any read past its end.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nano_cookie.h"

#define FUZZ_HEADERS_MAX  8
#define FUZZ_OUT_MAX      (NANO_COOKIE_CHUNKS_MAX * NANO_COOKIE_CHUNK_MAX + 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char  *names[] = {
    NANO_COOKIE_NAME_DEFAULT,
    NANO_COOKIE_SECURE_PREFIX NANO_COOKIE_NAME_DEFAULT,
    "a",
    "s.0",
};


/* Is [p, p + len) inside one of the headers? */
static int
inside(const nano_str_t *h, size_t n, const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (p >= h[i].data && p + len <= h[i].data + h[i].len) {
            return 1;
        }
    }
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                  *out;
    size_t                 n, i, cap, out_len, name_len;
    const char            *name, *p, *end, *nl;
    nano_str_t             h[FUZZ_HEADERS_MAX], v;
    nano_cookie_result_t   rc;
    static const size_t    caps[] = { 0, 1, 2, 16, 3934, FUZZ_OUT_MAX };

    if (size == 0) {
        return 0;
    }

    name = names[data[0] & 3];
    name_len = strlen(name);
    cap = caps[(data[0] >> 2) % (sizeof(caps) / sizeof(caps[0]))];

    p = (const char *) data + 1;
    end = (const char *) data + size;
    n = 0;

    while (n < FUZZ_HEADERS_MAX) {
        nl = memchr(p, '\n', end - p);
        h[n].len = (nl ? nl : end) - p;
        h[n].data = malloc(h[n].len ? h[n].len : 1);
        if (h[n].data == NULL) {
            abort();
        }
        memcpy((char *) h[n].data, p, h[n].len);
        n++;
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }

    rc = nano_cookie_get(h, n, name, name_len, &v);
    if (rc == NANO_COOKIE_FOUND ? !inside(h, n, v.data, v.len)
                                : (v.data != NULL || v.len != 0))
    {
        abort();
    }

    out = malloc(cap ? cap : 1);
    if (out == NULL) {
        abort();
    }

    rc = nano_cookie_session(h, n, name, name_len, out, cap, &out_len);
    if (rc == NANO_COOKIE_FOUND) {
        if (out_len == 0 || out_len >= cap || out[out_len] != '\0') {
            abort();
        }
    } else if (out_len != 0) {
        abort();
    }

    /* the one rule the gateway and the platform share, both schemes */
    for (i = 0; i < 2; i++) {
        rc = nano_cookie_session_token(h, n, name, name_len, (int) i, out, cap,
                                       &out_len);
        if (rc == NANO_COOKIE_FOUND) {
            if (out_len == 0 || out_len >= cap || out[out_len] != '\0') {
                abort();
            }
        } else if (out_len != 0) {
            abort();
        }
    }

    free(out);
    for (i = 0; i < n; i++) {
        free((char *) h[i].data);
    }
    return 0;
}
