/*
 * Multipart uploads streamed to temporary files.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nano_image.h"
#include "nano_file.h"
#include "nano_log.h"
#include "nano_upload.h"
#include "nano_utf8.h"

/* Records the first refusal; returns -1 so a callback can stop the
 * parser with it. */
static int
nano_upload_refuse(nano_upload_set_t *set, int status, const char *message)
{
    if (set->status == 0) {
        set->status = status;
        set->message = message;
    }
    return -1;
}

/* A file that could not be written: 507 when the disk (or the user's
 * quota) is full, a state of the server its operator must hear of and
 * the client may retry later; 500 otherwise.  Until 2026-12-06 both were
 * 500 "internal" (noticed by the failures probe). */
static int
nano_upload_unstored(nano_upload_set_t *set, int err)
{
    if (err == ENOSPC || err == EDQUOT) {
        return nano_upload_refuse(set, 507, "the server has no room for the"
                                  " upload now; try again later");
    }
    return nano_upload_refuse(set, 500, "the upload cannot be stored");
}

static int
nano_upload_flush(nano_upload_set_t *set)
{
    size_t   off = 0;
    ssize_t  n;
    int      err;

    while (off < set->wlen) {
        n = write(set->fd, set->wbuf + off, set->wlen - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            /* a write of nothing: no room */
            err = n < 0 ? errno : ENOSPC;
            nano_log_error("upload: cannot write %s: %s", set->path,
                           strerror(err));
            return nano_upload_unstored(set, err);
        }
        off += (size_t) n;
    }
    set->wlen = 0;
    return 0;
}

/* Makes the current file part's temporary file. */
static int
nano_upload_open(nano_upload_set_t *set)
{
    size_t  len = strlen(set->dir) + sizeof("/up-XXXXXX");
    int     err;

    set->path = malloc(len);
    if (set->path == NULL) {
        return nano_upload_refuse(set, 500, "out of memory");
    }
    snprintf(set->path, len, "%s/up-XXXXXX", set->dir);
    /* 0600 (mkostemp's): tmp/ is shared by every app of an install,
     * and an upload in flight is its app's alone until it is kept */
    set->fd = mkostemp(set->path, O_CLOEXEC);
    if (set->fd < 0) {
        err = errno;
        nano_log_error("upload: cannot create a file in %s: %s", set->dir,
                       strerror(err));
        free(set->path);
        set->path = NULL;
        return nano_upload_unstored(set, err);
    }
    return 0;
}

static int
nano_upload_begin(void *arg, const char *name, const char *filename,
    const char *content_type)
{
    nano_upload_set_t  *set = arg;

    (void) content_type;              /* never trusted: the bytes say */
    set->name = strdup(name);
    if (set->name == NULL) {
        return nano_upload_refuse(set, 500, "out of memory");
    }
    set->is_file = filename != NULL;
    set->has_data = 0;
    set->size = 0;
    set->wlen = 0;
    nano_buf_cleanup(&set->value);
    /* a file input left empty sends filename="" and no bytes: no file */
    if (set->is_file && filename[0] != '\0') {
        return nano_upload_open(set);
    }
    return 0;
}

static int
nano_upload_data(void *arg, const char *p, size_t len)
{
    nano_upload_set_t  *set = arg;
    size_t              n;

    set->has_data = 1;
    if (!set->is_file) {
        set->text_bytes += len;
        if (set->text_bytes > NANO_UPLOAD_TEXT_MAX) {
            return nano_upload_refuse(set, 413, "the form's text fields are"
                                      " larger than 64 KiB");
        }
        return nano_buf_append(&set->value, p, len) == 0
               ? 0 : nano_upload_refuse(set, 500, "out of memory");
    }
    if (len > set->file_max - set->size) {
        snprintf(set->msg, sizeof(set->msg), "a file is larger than ");
        nano_http_size(set->file_max, set->msg + strlen(set->msg),
                       sizeof(set->msg) - strlen(set->msg));
        return nano_upload_refuse(set, 413, set->msg);
    }
    if (set->path == NULL && nano_upload_open(set) != 0) {
        return -1;
    }
    set->size += len;
    while (len > 0) {
        n = NANO_UPLOAD_WBUF - set->wlen;
        n = n < len ? n : len;
        memcpy(set->wbuf + set->wlen, p, n);
        set->wlen += n;
        p += n;
        len -= n;
        if (set->wlen == NANO_UPLOAD_WBUF && nano_upload_flush(set) != 0) {
            return -1;
        }
    }
    return 0;
}

/* A text part is complete: a field, unless it is not UTF-8. */
static int
nano_upload_end_text(nano_upload_set_t *set)
{
    const char  *v = set->value.data != NULL ? set->value.data : "";

    set->text_bytes += strlen(set->name);
    if (set->text_bytes > NANO_UPLOAD_TEXT_MAX) {
        return nano_upload_refuse(set, 413, "the form's text fields are"
                                  " larger than 64 KiB");
    }
    if (strlen(v) != set->value.len) {
        return nano_upload_refuse(set, 400, "a form field holds a NUL"
                                  " character");
    }
    if (!nano_utf8_valid(set->name) || !nano_utf8_valid(v)) {
        set->fields_bad_utf8 = 1;
        if (set->fields.left_out == NULL && nano_utf8_valid(set->name)) {
            set->fields.left_out = strdup(set->name);
            if (set->fields.left_out == NULL) {
                return nano_upload_refuse(set, 500, "out of memory");
            }
        }
        return 0;
    }
    switch (nano_form_add(&set->fields, set->name, v)) {
    case NANO_FORM_OK:
        return 0;
    case NANO_FORM_NOMEM:
        return nano_upload_refuse(set, 500, "out of memory");
    default:
        return nano_upload_refuse(set, 400, "the form has too many fields");
    }
}

/* A file part is complete: closed, sniffed and listed. */
static int
nano_upload_end_file(nano_upload_set_t *set)
{
    nano_upload_t      *u = &set->files[set->nfiles];
    nano_image_info_t   info;
    int                 fd, err;

    if (set->path == NULL) {                /* filename="" and no bytes */
        return 0;
    }
    if (nano_upload_flush(set) != 0) {
        return -1;
    }
    fd = set->fd;
    set->fd = -1;
    if (close(fd) != 0) {
        err = errno;
        nano_log_error("upload: cannot write %s: %s", set->path,
                       strerror(err));
        return nano_upload_unstored(set, err);
    }
    memset(u, 0, sizeof(*u));
    u->field = set->name;
    u->path = set->path;
    u->size = set->size;
    if (nano_image_sniff_file(set->path, &info) == 0) {
        u->mime = info.mime;
        u->width = info.width;
        u->height = info.height;
    }
    set->kept[set->nfiles] = 0;
    set->nfiles++;
    set->name = NULL;               /* owned by the list now */
    set->path = NULL;
    return 0;
}

static int
nano_upload_end(void *arg)
{
    nano_upload_set_t  *set = arg;
    int                 rc;

    rc = set->is_file ? nano_upload_end_file(set)
                      : nano_upload_end_text(set);
    free(set->name);
    set->name = NULL;
    nano_buf_cleanup(&set->value);
    return rc;
}

static const nano_multipart_cb_t  nano_upload_cb = {
    nano_upload_begin, nano_upload_data, nano_upload_end
};

int
nano_upload_init(nano_upload_set_t *set, const char *media_dir,
    const char *boundary, size_t file_max)
{
    size_t  len = strlen(media_dir) + sizeof("/tmp");
    int     rc = 0, err;

    memset(set, 0, sizeof(*set));
    set->fd = -1;
    nano_form_init(&set->fields);
    nano_buf_init(&set->value);
    set->file_max = file_max;
    set->dir = malloc(len);
    set->wbuf = malloc(NANO_UPLOAD_WBUF);
    if (set->dir == NULL || set->wbuf == NULL) {
        rc = 500;
        set->message = "out of memory";
        goto out;
    }
    snprintf(set->dir, len, "%s/tmp", media_dir);
    if (nano_file_mkdirs(set->dir, NULL) != 0) {
        err = errno;
        nano_log_error("upload: cannot make %s: %s", set->dir,
                       strerror(err));
        nano_upload_unstored(set, err);
        rc = set->status;
        goto out;
    }
    if (nano_multipart_init(&set->mp, boundary, &nano_upload_cb, set) != 0) {
        rc = 400;
        set->message = nano_multipart_error(&set->mp);
        goto out;
    }
out:
    set->status = rc;
    return rc;
}

void
nano_upload_cleanup(nano_upload_set_t *set)
{
    size_t  i;

    if (set == NULL) {
        return;
    }
    if (set->fd >= 0) {
        close(set->fd);
    }
    if (set->path != NULL) {
        unlink(set->path);
    }
    for (i = 0; i < set->nfiles; i++) {
        if (!set->kept[i] && set->files[i].path != NULL) {
            unlink(set->files[i].path);
        }
        free((char *) set->files[i].path);
        free((char *) set->files[i].field);
    }
    nano_multipart_cleanup(&set->mp);
    nano_form_cleanup(&set->fields);
    nano_buf_cleanup(&set->value);
    free(set->path);
    free(set->name);
    free(set->wbuf);
    free(set->dir);
    memset(set, 0, sizeof(*set));
    set->fd = -1;
}

/* The parser's result as a status: a callback's refusal, or 400. */
static int
nano_upload_status(nano_upload_set_t *set, int rc)
{
    if (rc == NANO_MULTIPART_MALFORMED) {
        nano_upload_refuse(set, 400, nano_multipart_error(&set->mp));
    }
    return set->status;
}

int
nano_upload_feed(nano_upload_set_t *set, const char *p, size_t len)
{
    if (set->status != 0) {
        return set->status;
    }
    return nano_upload_status(set, nano_multipart_feed(&set->mp, p, len));
}

int
nano_upload_finish(nano_upload_set_t *set)
{
    if (set->status != 0) {
        return set->status;
    }
    return nano_upload_status(set, nano_multipart_finish(&set->mp));
}

const char *
nano_upload_error(const nano_upload_set_t *set)
{
    return set->message;
}

/* Index of the first file of field, or -1. */
static int
nano_upload_find(const nano_upload_set_t *set, const char *field)
{
    size_t  i;

    for (i = 0; set != NULL && i < set->nfiles; i++) {
        if (strcmp(set->files[i].field, field) == 0) {
            return (int) i;
        }
    }
    return -1;
}

const nano_upload_t *
nano_upload_get(const nano_upload_set_t *set, const char *field)
{
    int  i = nano_upload_find(set, field);

    return i >= 0 ? &set->files[i] : NULL;
}

const nano_upload_t *
nano_upload_nth(const nano_upload_set_t *set, size_t n)
{
    return set != NULL && n < set->nfiles ? &set->files[n] : NULL;
}

/*
 * Copies the file src to the new file dest (0640, never through a link)
 * and removes src: a rename across file systems, for a $media/tmp that
 * an operator put on a disk or tmpfs of its own.  0, or -1 with errno
 * set and no dest left.
 */
static int
nano_upload_copy(const char *src, const char *dest)
{
    char     buf[NANO_UPLOAD_WBUF];
    ssize_t  n, w, off;
    int      in, out, rc = -1, saved;

    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        return -1;
    }
    out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
               0640);
    if (out < 0) {
        saved = errno;
        close(in);
        errno = saved;
        return -1;
    }
    for ( ;; ) {
        n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        for (off = 0; off < n; off += w) {
            w = write(out, buf + off, (size_t) (n - off));
            if (w < 0 && errno == EINTR) {
                w = 0;
            } else if (w <= 0) {
                n = -1;
                errno = w < 0 ? errno : ENOSPC;
                break;
            }
        }
        if (n < 0) {
            break;
        }
    }
    /* the umask may have taken the group's read (nginx's) */
    if (n == 0 && fchmod(out, 0640) == 0) {
        rc = 0;
    }
    saved = errno;
    if (close(out) != 0 && rc == 0) {
        saved = errno;
        rc = -1;
    }
    close(in);
    if (rc != 0) {
        unlink(dest);
    } else {
        unlink(src);
    }
    errno = saved;
    return rc;
}

int
nano_upload_keep(nano_upload_set_t *set, const char *field,
    const char *dest)
{
    char  *copy = NULL;
    int    i = nano_upload_find(set, field), rc = -1, saved;

    if (i < 0 || dest == NULL) {
        goto out;
    }
    copy = strdup(dest);
    if (copy == NULL) {
        goto out;
    }
    if (rename(set->files[i].path, dest) != 0
        && (errno != EXDEV || nano_upload_copy(set->files[i].path, dest) != 0))
    {
        /* ENOENT tells the caller to make the folder again */
        saved = errno;
        nano_log_error("upload: cannot move %s to %s: %s",
                       set->files[i].path, dest, strerror(errno));
        errno = saved;
        goto out;
    }
    /* kept, in its app's own folder, it is as the app's other files are
     * (a copy is made so); it was its app's alone while in tmp/ */
    if (chmod(dest, 0640) != 0) {
        nano_log_error("upload: cannot chmod %s: %s", dest, strerror(errno));
    }
    free((char *) set->files[i].path);
    set->files[i].path = copy;
    set->kept[i] = 1;
    copy = NULL;
    rc = 0;
out:
    free(copy);
    return rc;
}

nano_form_status_t
nano_upload_fields(const nano_upload_set_t *set, nano_form_t *form)
{
    nano_form_status_t  st = NANO_FORM_OK;
    size_t              i;

    for (i = 0; set != NULL && i < set->fields.n && st == NANO_FORM_OK; i++)
    {
        st = nano_form_add(form, set->fields.pairs[i].key,
                           set->fields.pairs[i].value);
    }
    if (st == NANO_FORM_OK && set != NULL && set->fields_bad_utf8) {
        st = NANO_FORM_BAD_UTF8;
        if (set->fields.left_out != NULL && form->left_out == NULL) {
            form->left_out = strdup(set->fields.left_out);
            if (form->left_out == NULL) {
                st = NANO_FORM_NOMEM;
            }
        }
    }
    return st;
}
