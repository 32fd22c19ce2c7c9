/*
 * Unit tests for the media sweep's pass over NANO_MEDIA_DIR/tmp
 * (nano_sweep): every app's uploads in flight share that folder, which
 * an installed system makes sticky (nano-setup: root 3770), so only a
 * file's owner may remove it.  A pass removes this process's own stale
 * uploads and leaves the young ones, the folders, links and the files
 * of other users (their own apps' passes take them).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "nano_sweep.h"
#include "unit_tmpdir.h"

static char  root[64];
static char  tmpdir[96];

static int
setup(void **state)
{
    (void) state;
    if (unit_tmpdir(root, sizeof(root), "sweep") != 0) {
        return -1;
    }
    snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", root);
    return mkdir(tmpdir, 03770);
}

static int
teardown(void **state)
{
    (void) state;
    return unit_tmpdir_remove(root);
}

/* Makes tmp/name (two hours old unless young), owned by uid. */
static void
plant(const char *name, int young, uid_t uid)
{
    struct timeval  tv[2];
    char            path[160];
    FILE           *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("part of an upload", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chown(path, uid, (gid_t) -1), 0);
    if (!young) {
        gettimeofday(&tv[0], NULL);
        tv[0].tv_sec -= 7200;
        tv[1] = tv[0];
        assert_int_equal(utimes(path, tv), 0);
    }
}

static int
there(const char *name)
{
    struct stat  sb;
    char         path[160];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return lstat(path, &sb) == 0;
}

static void
own_stale_uploads_only(void **state)
{
    nano_sweep_counts_t  c;
    uid_t                other = 65534;         /* nobody */
    char                 path[160], link[160];

    (void) state;
    /* another user's file needs root to be made here */
    if (geteuid() != 0) {
        skip();
    }
    plant("up-mine-old", 0, geteuid());
    plant("up-mine-young", 1, geteuid());
    plant("up-other-old", 0, other);
    snprintf(path, sizeof(path), "%s/a-folder", tmpdir);
    assert_int_equal(mkdir(path, 0750), 0);
    snprintf(path, sizeof(path), "%s/up-mine-old", tmpdir);
    snprintf(link, sizeof(link), "%s/a-link", tmpdir);
    assert_int_equal(symlink(path, link), 0);

    /* no folder of this module under root: tmp alone is looked at */
    nano_sweep_pass("nano-test", root, 60, &c);
    assert_false(there("up-mine-old"));
    assert_true(there("up-mine-young"));
    /* sticky: not this process's to remove (as root it could, and took
     * another app's upload that its own pass would have judged) */
    assert_true(there("up-other-old"));
    assert_true(there("a-folder"));
    assert_true(there("a-link"));
    assert_int_equal(c.files, 1);
    assert_int_equal(c.users, 0);
}

/* tmp/ on another disk through a link (an operator's choice the uploads
 * follow, as they copy across file systems): it was never swept. */
static void
tmp_through_a_link(void **state)
{
    nano_sweep_counts_t  c;
    char                 real[96], path[160];

    (void) state;
    snprintf(real, sizeof(real), "%s/other-disk", root);
    assert_int_equal(rename(tmpdir, real), 0);
    assert_int_equal(symlink(real, tmpdir), 0);
    plant("up-mine-old", 0, geteuid());
    plant("up-mine-young", 1, geteuid());

    nano_sweep_pass("nano-test", root, 60, &c);
    assert_false(there("up-mine-old"));
    assert_true(there("up-mine-young"));
    assert_int_equal(c.files, 1);
    /* the link itself and its folder stay */
    snprintf(path, sizeof(path), "%s/up-mine-young", real);
    assert_int_equal(access(path, F_OK), 0);
}

int
main(void)
{
    static const struct CMUnitTest  tests[] = {
        cmocka_unit_test(own_stale_uploads_only),
        cmocka_unit_test(tmp_through_a_link),
    };

    return cmocka_run_group_tests_name("sweep", tests, setup, teardown);
}
