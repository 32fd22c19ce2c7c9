/*
 * libFuzzer harness for uploads as the backends store them (nano_upload:
 * multipart/form-data streamed to temporary files, sniffed, text parts
 * made form fields).
 *
 * Input: one byte (bits 0-6 seed the chunk sizes, bit 7 picks a file
 * limit of 64 bytes instead of 1 MiB), then a body whose boundary is
 * "XyZ".  The body is stored twice, whole and in chunks (each copied to
 * an allocation of its exact size), into a folder of this process's
 * own, and nano_multipart reads it once more directly:
 *   - both stores agree on the status, the message, every file (its
 *     field, size, bytes on disk and sniffed type and size) and every
 *     field;
 *   - every file holds exactly its part's bytes, is no larger than the
 *     limit, and is sniffed as nano_image_sniff_file says; a text part
 *     whose name and value are UTF-8 without NUL is a field;
 *   - a refusal says why, and is 400, 413 or 500 (never 500 here);
 *   - after the cleanup no temporary file is left behind.
 */

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nano_image.h"
#include "nano_multipart.h"
#include "nano_upload.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char  fuzz_media[64], fuzz_tmp[96];

/* The folders nano_upload_init made, removed when the fuzzer exits. */
static void
fuzz_rmdirs(void)
{
    rmdir(fuzz_tmp);
    rmdir(fuzz_media);
}

/* What nano_multipart hands on: the file parts' bytes, in order. */
typedef struct {
    size_t          nparts;
    int             is_file[NANO_MULTIPART_PARTS_MAX + 1];
    int             named[NANO_MULTIPART_PARTS_MAX + 1];
    unsigned char  *bytes[NANO_MULTIPART_PARTS_MAX + 1];
    size_t          len[NANO_MULTIPART_PARTS_MAX + 1];
    int             ended[NANO_MULTIPART_PARTS_MAX + 1];
} fuzz_parts_t;

static int
fuzz_begin(void *arg, const char *name, const char *filename,
    const char *type)
{
    fuzz_parts_t  *r = arg;

    (void) name;
    (void) type;
    if (r->nparts == NANO_MULTIPART_PARTS_MAX + 1) {
        return -1;                  /* more than an upload may hold */
    }
    r->is_file[r->nparts] = filename != NULL;
    r->named[r->nparts] = filename != NULL && filename[0] != '\0';
    r->bytes[r->nparts] = NULL;
    r->len[r->nparts] = 0;
    r->ended[r->nparts] = 0;
    r->nparts++;
    return 0;
}

static int
fuzz_data(void *arg, const char *p, size_t len)
{
    fuzz_parts_t   *r = arg;
    size_t          i = r->nparts - 1;
    unsigned char  *b;

    b = realloc(r->bytes[i], r->len[i] + len);
    if (b == NULL) {
        abort();
    }
    memcpy(b + r->len[i], p, len);
    r->bytes[i] = b;
    r->len[i] += len;
    return 0;
}

static int
fuzz_end(void *arg)
{
    fuzz_parts_t  *r = arg;

    r->ended[r->nparts - 1] = 1;
    return 0;
}

static const nano_multipart_cb_t  fuzz_cb = { fuzz_begin, fuzz_data,
                                              fuzz_end };

static int
fuzz_store(nano_upload_set_t *set, const uint8_t *body, size_t len,
    unsigned seed, size_t file_max)
{
    size_t  off = 0, n;
    char   *chunk;
    int     rc;

    rc = nano_upload_init(set, fuzz_media, "XyZ", file_max);
    if (rc != 0) {
        abort();
    }
    while (off < len && rc == 0) {
        n = fuzz_chunk_len(&seed, len - off);
        chunk = malloc(n);
        if (chunk == NULL) {
            abort();
        }
        memcpy(chunk, body + off, n);
        rc = nano_upload_feed(set, chunk, n);
        free(chunk);
        off += n;
    }
    if (rc == 0) {
        rc = nano_upload_finish(set);
    }
    if ((rc != 0) != (nano_upload_error(set) != NULL)
        || (rc != 0 && rc != 400 && rc != 413))
    {
        abort();
    }
    return rc;
}

/* The bytes of a file, in a new buffer; *len its size. */
static unsigned char *
fuzz_slurp(const char *path, size_t *len)
{
    struct stat     st;
    unsigned char  *b;
    int             fd;

    fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        abort();
    }
    b = malloc((size_t) st.st_size + 1);
    if (b == NULL
        || read(fd, b, (size_t) st.st_size) != (ssize_t) st.st_size)
    {
        abort();
    }
    close(fd);
    *len = (size_t) st.st_size;
    return b;
}

/* 1 when the folder holds no file. */
static int
fuzz_empty(const char *dir)
{
    DIR            *d = opendir(dir);
    struct dirent  *e;
    int             empty = 1;

    if (d == NULL) {
        abort();
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
        }
    }
    closedir(d);
    return empty;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static nano_upload_set_t  whole, cut;
    static fuzz_parts_t       parts;
    nano_multipart_t          mp;
    nano_image_info_t         info;
    const nano_upload_t      *a, *b;
    unsigned char            *fa, *fb;
    size_t                    file_max, la, lb, i, k, nfiles;
    int                       rc1, rc2, mrc;

    if (size == 0) {
        return 0;
    }
    if (fuzz_media[0] == '\0') {
        snprintf(fuzz_media, sizeof(fuzz_media), "/tmp/fuzz_upload.%ld",
                 (long) getpid());
        snprintf(fuzz_tmp, sizeof(fuzz_tmp), "%s/tmp", fuzz_media);
        atexit(fuzz_rmdirs);
    }
    file_max = (data[0] & 0x80) ? 64 : 1 << 20;

    rc1 = fuzz_store(&whole, data + 1, size - 1, 0, file_max);
    rc2 = fuzz_store(&cut, data + 1, size - 1, 1u + (data[0] & 0x7f),
                     file_max);
    if (rc1 != rc2 || (rc1 != 0 && strcmp(nano_upload_error(&whole),
                                          nano_upload_error(&cut)) != 0))
    {
        abort();
    }

    /* the parts as nano_multipart reads them */
    memset(&parts, 0, sizeof(parts));
    if (nano_multipart_init(&mp, "XyZ", &fuzz_cb, &parts) != 0) {
        abort();
    }
    mrc = nano_multipart_feed(&mp, (const char *) data + 1, size - 1);
    if (mrc == NANO_MULTIPART_OK) {
        mrc = nano_multipart_finish(&mp);
    }
    nano_multipart_cleanup(&mp);

    if (rc1 == 0) {
        if (mrc != NANO_MULTIPART_OK) {
            abort();
        }
        /* files: the file parts with a name or bytes, in order */
        for (i = 0, k = 0; i < parts.nparts; i++) {
            if (!parts.is_file[i] || (!parts.named[i] && parts.len[i] == 0))
            {
                continue;
            }
            a = nano_upload_nth(&whole, k);
            b = nano_upload_nth(&cut, k);
            if (a == NULL || b == NULL || a->size != parts.len[i]
                || b->size != a->size || a->size > file_max
                || strcmp(a->field, b->field) != 0
                || (a->mime == NULL) != (b->mime == NULL)
                || (a->mime != NULL && (strcmp(a->mime, b->mime) != 0
                                        || a->width != b->width
                                        || a->height != b->height)))
            {
                abort();
            }
            fa = fuzz_slurp(a->path, &la);
            fb = fuzz_slurp(b->path, &lb);
            if (la != a->size || lb != la
                || (la > 0 && (memcmp(fa, parts.bytes[i], la) != 0
                               || memcmp(fb, fa, la) != 0)))
            {
                abort();
            }
            if ((nano_image_sniff_file(a->path, &info) == 0)
                != (a->mime != NULL))
            {
                abort();
            }
            free(fa);
            free(fb);
            k++;
        }
        nfiles = k;
        if (nano_upload_nth(&whole, nfiles) != NULL
            || nano_upload_nth(&cut, nfiles) != NULL)
        {
            abort();
        }
        if (whole.fields.n != cut.fields.n) {
            abort();
        }
        for (i = 0; i < whole.fields.n; i++) {
            if (strcmp(whole.fields.pairs[i].key, cut.fields.pairs[i].key)
                    != 0
                || strcmp(whole.fields.pairs[i].value,
                          cut.fields.pairs[i].value) != 0)
            {
                abort();
            }
        }
    }

    nano_upload_cleanup(&whole);
    nano_upload_cleanup(&cut);
    if (!fuzz_empty(fuzz_tmp)) {
        fprintf(stderr, "a temporary file is left in %s\n", fuzz_tmp);
        abort();
    }
    for (i = 0; i < parts.nparts; i++) {
        free(parts.bytes[i]);
    }
    return 0;
}
