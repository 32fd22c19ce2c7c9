/*
 * libFuzzer harness for the streaming multipart/form-data parser.
 * Input: one byte that seeds the chunk sizes, then a body whose boundary
 * is "XyZ".  The body is parsed twice, whole and in chunks (each chunk
 * copied to an allocation of its exact size, so AddressSanitizer sees
 * any read past it), and both runs must agree on every part, every byte
 * and the verdict.  The callbacks check the API's promises: parts never
 * nest, a name is never empty, a refusal always has a message.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nano_multipart.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_OUT_MAX  (64 * 1024)

/* A transcript: "[" name "|" filename "|" type "]" content ";" per part,
 * cut at FUZZ_OUT_MAX (both runs are cut alike). */
typedef struct {
    char    out[FUZZ_OUT_MAX];
    size_t  len;
    int     in_part;
} fuzz_rec_t;

static void
fuzz_put(fuzz_rec_t *r, const char *p, size_t n)
{
    if (n > FUZZ_OUT_MAX - r->len) {
        n = FUZZ_OUT_MAX - r->len;
    }
    memcpy(r->out + r->len, p, n);
    r->len += n;
}

static int
fuzz_begin(void *arg, const char *name, const char *filename,
    const char *type)
{
    fuzz_rec_t  *r = arg;

    if (r->in_part || name == NULL || name[0] == '\0' || type == NULL) {
        abort();
    }
    r->in_part = 1;
    fuzz_put(r, "[", 1);
    fuzz_put(r, name, strlen(name));
    fuzz_put(r, "|", 1);
    if (filename != NULL) {
        fuzz_put(r, filename, strlen(filename));
    } else {
        fuzz_put(r, "\x01", 1);
    }
    fuzz_put(r, "|", 1);
    fuzz_put(r, type, strlen(type));
    fuzz_put(r, "]", 1);
    return 0;
}

static int
fuzz_data(void *arg, const char *p, size_t len)
{
    fuzz_rec_t  *r = arg;

    if (!r->in_part || len == 0) {
        abort();
    }
    fuzz_put(r, p, len);
    return 0;
}

static int
fuzz_end(void *arg)
{
    fuzz_rec_t  *r = arg;

    if (!r->in_part) {
        abort();
    }
    r->in_part = 0;
    fuzz_put(r, ";", 1);
    return 0;
}

static const nano_multipart_cb_t  fuzz_cb = { fuzz_begin, fuzz_data,
                                              fuzz_end };

/* Parses body in chunks (seed 0: whole); returns the verdict. */
static int
fuzz_parse(const uint8_t *body, size_t len, unsigned seed, fuzz_rec_t *r,
    const char **err)
{
    nano_multipart_t  mp;
    size_t            off = 0, n;
    char             *chunk;
    int               rc = NANO_MULTIPART_OK;

    if (nano_multipart_init(&mp, "XyZ", &fuzz_cb, r) != 0) {
        abort();
    }
    while (off < len && rc == NANO_MULTIPART_OK) {
        n = fuzz_chunk_len(&seed, len - off);
        chunk = malloc(n);
        if (chunk == NULL) {
            abort();
        }
        memcpy(chunk, body + off, n);
        rc = nano_multipart_feed(&mp, chunk, n);
        free(chunk);
        off += n;
    }
    if (rc == NANO_MULTIPART_OK) {
        rc = nano_multipart_finish(&mp);
    }
    *err = nano_multipart_error(&mp);
    if ((rc == NANO_MULTIPART_MALFORMED) != (*err != NULL)
        || rc == NANO_MULTIPART_STOPPED)
    {
        abort();
    }
    if (rc == NANO_MULTIPART_OK && r->in_part) {
        abort();                    /* accepted with a part still open */
    }
    nano_multipart_cleanup(&mp);
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fuzz_rec_t   whole, cut;
    const char         *e1, *e2;
    int                 rc1, rc2;

    if (size == 0) {
        return 0;
    }
    memset(&whole, 0, sizeof(whole));
    memset(&cut, 0, sizeof(cut));
    rc1 = fuzz_parse(data + 1, size - 1, 0, &whole, &e1);
    rc2 = fuzz_parse(data + 1, size - 1, 1u + data[0], &cut, &e2);
    if (rc1 != rc2 || (e1 != NULL) != (e2 != NULL)
        || (e1 != NULL && strcmp(e1, e2) != 0))
    {
        abort();
    }
    /* the same bytes handed on, up to the end or the refusal */
    if (whole.len != cut.len || memcmp(whole.out, cut.out, whole.len) != 0)
    {
        abort();
    }
    return 0;
}
