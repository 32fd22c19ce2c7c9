/*
 * A request's multipart/form-data body as it streams in (routes with
 * NANO_ROUTE_UPLOAD): file parts go to temporary files under
 * $NANO_MEDIA_DIR/tmp/, sniffed when complete; text parts become form
 * fields.  Files not kept are removed when the set is cleaned up.
 */

#ifndef NANO_UPLOAD_H
#define NANO_UPLOAD_H

#include <stddef.h>

#include "nano_form.h"
#include "nano_http.h"
#include "nano_multipart.h"

#define NANO_UPLOAD_TEXT_MAX  (64 * 1024)   /* all text fields together */
#define NANO_UPLOAD_WBUF      (32 * 1024)

struct nano_upload_set_s {
    nano_multipart_t   mp;
    char              *dir;                 /* the temporary files' */
    size_t             file_max;            /* per file */
    nano_upload_t      files[NANO_MULTIPART_PARTS_MAX];
    int                kept[NANO_MULTIPART_PARTS_MAX];
    size_t             nfiles;
    nano_form_t        fields;
    int                fields_bad_utf8;     /* some were not UTF-8 */
    size_t             text_bytes;
    /* the part being read */
    char              *name;
    int                is_file;
    int                has_data;
    int                fd;
    char              *path;
    size_t             size;
    nano_buf_t         value;               /* a text part's */
    char              *wbuf;
    size_t             wlen;
    /* a refusal: its status and message (static text or msg) */
    int                status;
    const char        *message;
    char               msg[96];
};

/*
 * Prepares set for one body: creates $media_dir and $media_dir/tmp
 * (0750) when missing, takes boundary (nano_multipart_boundary's) and
 * caps each file at file_max bytes.  Returns 0, or an HTTP status with
 * nano_upload_error() set (500: the folder cannot be made).
 */
int nano_upload_init(nano_upload_set_t *set, const char *media_dir,
    const char *boundary, size_t file_max);

/* Removes the files not kept and frees the rest; accepts NULL and may
 * run twice. */
void nano_upload_cleanup(nano_upload_set_t *set);

/*
 * Parses the next len bytes of the body.  Returns 0, or the status to
 * answer with nano_upload_error()'s message: 400 (malformed), 413 (a
 * file over file_max, text fields over NANO_UPLOAD_TEXT_MAX), 500
 * (a file cannot be written).  The first refusal sticks.
 */
int nano_upload_feed(nano_upload_set_t *set, const char *p, size_t len);

/* At the end of the body: 0, or a status as above (400 when the
 * closing boundary is missing). */
int nano_upload_finish(nano_upload_set_t *set);

/* The refusal's message (static or in set), or NULL. */
const char *nano_upload_error(const nano_upload_set_t *set);

/* The first file of field, borrowed from set, or NULL. */
const nano_upload_t *nano_upload_get(const nano_upload_set_t *set,
    const char *field);

/* The n-th file (from 0, in the order sent), borrowed from set, or NULL
 * past the last. */
const nano_upload_t *nano_upload_nth(const nano_upload_set_t *set,
    size_t n);

/* Renames the first file of field to dest (copied and removed when dest
 * is on another file system); set no longer removes it.  0, or -1
 * (logged, errno kept: ENOENT when dest's folder is gone). */
int nano_upload_keep(nano_upload_set_t *set, const char *field,
    const char *dest);

/* Adds copies of the text fields to form; NANO_FORM_BAD_UTF8 when some
 * were left out as not UTF-8, else nano_form_add's status. */
nano_form_status_t nano_upload_fields(const nano_upload_set_t *set,
    nano_form_t *form);

#endif /* NANO_UPLOAD_H */
