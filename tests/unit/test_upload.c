/*
 * Unit tests for uploads (nano_upload): files land in $media/tmp/ (made
 * 0750) as 0600 files (tmp/ is every app's) and are sniffed; kept ones
 * are 0640; text parts become fields; the
 * per-file and text limits answer 413 with their messages; files not
 * kept are removed at cleanup, kept ones moved.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nano_file.h"
#include "nano_upload.h"
#include "unit_tmpdir.h"

#define PNG_640  "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x02\x80" \
                 "\x00\x00\x01\xe0\x08\x06\x00\x00\x00\x00\x00\x00\x00"
#define CD(x)    "Content-Disposition: form-data; " x "\r\n"

static char  root[64];
static char  media[96];
static char  tmpdir[128];

static int
setup(void **state)
{
    (void) state;
    if (unit_tmpdir(root, sizeof(root), "upload") != 0) {
        return -1;
    }
    /* two levels that do not exist yet */
    snprintf(media, sizeof(media), "%s/state/media", root);
    snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", media);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    return unit_tmpdir_remove(root);
}

/* Files in the temporary folder. */
static int
tmp_files(void)
{
    DIR            *d = opendir(tmpdir);
    struct dirent  *e;
    int             n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

/* Feeds body in chunks of step bytes; returns the first status. */
static int
feed(nano_upload_set_t *set, const char *body, size_t len, size_t step)
{
    size_t  off, n;
    int     st = 0;

    for (off = 0; off < len && st == 0; off += n) {
        n = len - off < step ? len - off : step;
        st = nano_upload_feed(set, body + off, n);
    }
    return st != 0 ? st : nano_upload_finish(set);
}

static const char  form[] =
    "--b\r\n" CD("name=\"prompt\"") "\r\na cat\r\n"
    "--b\r\n" CD("name=\"image\"; filename=\"cat.jpg\"")
    "Content-Type: image/jpeg\r\n\r\n" PNG_640 "rest of the file\r\n"
    "--b\r\n" CD("name=\"notes\"; filename=\"notes.txt\"") "\r\nplain text\r\n"
    "--b\r\n" CD("name=\"empty\"; filename=\"\"") "\r\n\r\n"
    "--b\r\n" CD("name=\"size\"") "\r\n512\r\n"
    "--b--\r\n";

static void
files_and_fields(void **state)
{
    nano_upload_set_t     set;
    const nano_upload_t  *u;
    nano_form_t           f;
    struct stat           st;
    char                  kept[160];

    (void) state;
    assert_int_equal(nano_upload_init(&set, media, "b", 1024), 0);
    assert_int_equal(stat(tmpdir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
    assert_int_equal(feed(&set, form, sizeof(form) - 1, 7), 0);

    /* the PNG named .jpg and declared image/jpeg is a PNG */
    u = nano_upload_get(&set, "image");
    assert_non_null(u);
    assert_string_equal(u->field, "image");
    assert_string_equal(u->mime, "image/png");
    assert_int_equal(u->width, 640);
    assert_int_equal(u->height, 480);
    assert_int_equal(u->size, sizeof(PNG_640) - 1 + 16);
    assert_int_equal(strncmp(u->path, tmpdir, strlen(tmpdir)), 0);
    assert_int_equal(stat(u->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, (off_t) u->size);

    u = nano_upload_get(&set, "notes");
    assert_non_null(u);
    assert_null(u->mime);
    assert_int_equal(u->size, 10);

    /* an empty file input is no file; text parts are no files */
    assert_null(nano_upload_get(&set, "empty"));
    assert_null(nano_upload_get(&set, "prompt"));
    assert_int_equal(tmp_files(), 2);

    nano_form_init(&f);
    assert_int_equal(nano_upload_fields(&set, &f), NANO_FORM_OK);
    assert_int_equal(f.n, 2);
    assert_string_equal(nano_form_get(&f, "prompt"), "a cat");
    assert_string_equal(nano_form_get(&f, "size"), "512");
    nano_form_cleanup(&f);

    /* keep one: it moves and stays; the other goes at cleanup */
    snprintf(kept, sizeof(kept), "%s/kept.png", media);
    assert_int_equal(nano_upload_keep(&set, "image", kept), 0);
    assert_string_equal(nano_upload_get(&set, "image")->path, kept);
    assert_int_equal(nano_upload_keep(&set, "absent", kept), -1);
    assert_int_equal(tmp_files(), 1);
    nano_upload_cleanup(&set);
    nano_upload_cleanup(&set);
    assert_int_equal(tmp_files(), 0);
    assert_int_equal(stat(kept, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    nano_upload_cleanup(NULL);
}

/*
 * The temporary folder on another file system than the upload's place
 * (an operator's tmpfs or disk of its own for $media/tmp): rename(2)
 * says EXDEV, and every edit's upload answered 500.  The file is
 * copied across, whole, 0640, and the temporary one goes.
 */
static void
kept_across_file_systems(void **state)
{
    static const char   head[] = "--b\r\n"
                                 CD("name=\"image\"; filename=\"a.png\"")
                                 "\r\n" PNG_640;
    static char         body[8192 + 512];
    nano_upload_set_t   set;
    struct stat         a, b;
    char                other[64], kept[96], kept2[96], *data;
    size_t              n, len;
    FILE               *f;

    (void) state;
    assert_int_equal(nano_upload_init(&set, media, "b", 16384), 0);
    snprintf(other, sizeof(other), "/dev/shm/nano-test-upload-XXXXXX");
    if (stat("/dev/shm", &a) != 0 || stat(tmpdir, &b) != 0
        || a.st_dev == b.st_dev || mkdtemp(other) == NULL)
    {
        nano_upload_cleanup(&set);
        skip();
    }
    memcpy(body, head, sizeof(head) - 1);
    n = sizeof(head) - 1;
    memset(body + n, 'x', 8192);
    n += 8192;
    memcpy(body + n, "\r\n--b--\r\n", 10);
    n += 10;
    assert_int_equal(feed(&set, body, n, 1000), 0);
    assert_int_equal(tmp_files(), 1);

    snprintf(kept, sizeof(kept), "%s/kept.png", other);
    assert_int_equal(nano_upload_keep(&set, "image", kept), 0);
    assert_string_equal(nano_upload_get(&set, "image")->path, kept);
    assert_int_equal(tmp_files(), 0);
    nano_upload_cleanup(&set);

    assert_int_equal(stat(kept, &a), 0);
    assert_int_equal(a.st_mode & 0777, 0640);
    f = fopen(kept, "rb");
    assert_non_null(f);
    assert_int_equal(nano_file_read(f, sizeof(body), &data, &len), 0);
    fclose(f);
    assert_int_equal(len, sizeof(PNG_640) - 1 + 8192);
    assert_memory_equal(data, PNG_640, sizeof(PNG_640) - 1);
    assert_int_equal(data[len - 1], 'x');
    free(data);

    /* a folder removed meanwhile: refused with ENOENT (the caller makes
     * it again), and the upload still goes at cleanup */
    assert_int_equal(nano_upload_init(&set, media, "b", 16384), 0);
    assert_int_equal(feed(&set, body, n, 1000), 0);
    snprintf(kept2, sizeof(kept2), "%s/gone/kept.png", other);
    errno = 0;
    assert_int_equal(nano_upload_keep(&set, "image", kept2), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(tmp_files(), 1);
    nano_upload_cleanup(&set);
    assert_int_equal(tmp_files(), 0);

    unlink(kept);
    rmdir(other);
}

typedef struct {
    const char  *body;
    size_t       len;       /* 0: strlen(body) */
    size_t       file_max;
    int          status;
    const char  *message;
} refusal_t;

static void
refusals(void **state)
{
    static char  big_text[NANO_UPLOAD_TEXT_MAX + 200];
    nano_upload_set_t  set;
    size_t             i;
    int                n;
    static const char  nul[] = "--b\r\n" CD("name=\"t\"") "\r\na\0b\r\n--b--";
    const refusal_t    r[] = {
        { "--b\r\n" CD("name=\"f\"; filename=\"a\"") "\r\n0123456789\r\n"
          "--b--", 0, 10, 0, NULL },
        { "--b\r\n" CD("name=\"f\"; filename=\"a\"") "\r\n0123456789A\r\n"
          "--b--", 0, 10, 413, "a file is larger than 10 bytes" },
        { "--b\r\n" CD("name=\"f\"; filename=\"a\"") "\r\n"
          "0123456789A\r\n--b--", 0, 2048, 0, NULL },
        { nul, sizeof(nul) - 1, 10, 400,
          "a form field holds a NUL character" },
        { "--b\r\n" CD("filename=\"x\"") "\r\nv\r\n--b--", 0, 10, 400,
          "a part has no name" },
        { "--b\r\n" CD("name=\"t\"") "\r\nv\r\n", 0, 10, 400,
          "the multipart body ends without its closing boundary" },
        { big_text, 0, 10, 413,
          "the form's text fields are larger than 64 KiB" },
    };

    (void) state;
    n = snprintf(big_text, sizeof(big_text), "--b\r\n" CD("name=\"t\"")
                 "\r\n");
    memset(big_text + n, 'x', NANO_UPLOAD_TEXT_MAX);
    memcpy(big_text + n + NANO_UPLOAD_TEXT_MAX, "\r\n--b--", 8);

    for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        size_t  len = r[i].len ? r[i].len : strlen(r[i].body);

        assert_int_equal(nano_upload_init(&set, media, "b", r[i].file_max),
                         0);
        assert_int_equal(feed(&set, r[i].body, len, 3), r[i].status);
        if (r[i].message != NULL) {
            assert_string_equal(nano_upload_error(&set), r[i].message);
        }
        /* the refusal sticks */
        if (r[i].status != 0) {
            assert_int_equal(nano_upload_feed(&set, "x", 1), r[i].status);
        }
        nano_upload_cleanup(&set);
        assert_int_equal(tmp_files(), 0);
    }
}

/* A text field that is not UTF-8 is left out and flagged, and the
 * first such field is named. */
static void
bad_utf8(void **state)
{
    static const char  body[] =
        "--b\r\n" CD("name=\"ok\"") "\r\nyes\r\n"
        "--b\r\n" CD("name=\"bad\"") "\r\n\xff\xfe\r\n"
        "--b\r\n" CD("name=\"worse\"") "\r\n\xc3\r\n--b--";
    nano_upload_set_t  set;
    nano_form_t        f;

    (void) state;
    assert_int_equal(nano_upload_init(&set, media, "b", 10), 0);
    assert_int_equal(feed(&set, body, sizeof(body) - 1, 1), 0);
    nano_form_init(&f);
    assert_int_equal(nano_upload_fields(&set, &f), NANO_FORM_BAD_UTF8);
    assert_int_equal(f.n, 1);
    assert_string_equal(nano_form_get(&f, "ok"), "yes");
    assert_string_equal(f.left_out, "bad");
    nano_form_cleanup(&f);
    assert_null(f.left_out);
    nano_upload_cleanup(&set);
}

static void
unusable_folder(void **state)
{
    nano_upload_set_t  set;
    char               file[160];
    FILE              *f;

    (void) state;
    snprintf(file, sizeof(file), "%s/a-file", root);
    f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(nano_upload_init(&set, file, "b", 10), 500);
    assert_string_equal(nano_upload_error(&set),
                        "the upload cannot be stored");
    nano_upload_cleanup(&set);
}

int
main(void)
{
    static const struct CMUnitTest  tests[] = {
        cmocka_unit_test(files_and_fields),
        cmocka_unit_test(refusals),
        cmocka_unit_test(bad_utf8),
        cmocka_unit_test(unusable_folder),
        cmocka_unit_test(kept_across_file_systems),
    };

    return cmocka_run_group_tests_name("upload", tests, setup, teardown);
}
