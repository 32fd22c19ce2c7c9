/*
 * Unit tests for the job runner's pure parts (nano_jobs): which finished
 * calls may be made again (a GET whose answer was cut short may, a POST
 * that was sent never), the names outputs are written under and
 * renamed to, folders made again when removed before a file went into
 * them, the digest of a stored input image, the sync of what an
 * output's end waits for, and a deleted user's folder removed without
 * following a link out of it.
 */

#include "unit_table.h"
#include "unit_tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nano_file.h"
#include "nano_job_call.h"
#include "nano_job_store.h"
#include "nano_jobs.h"

/* unlinkat(2) in libc's place: while unlink_hold is set, a removal of a
 * file waits until the test lets it go (unlink_release), 3 s at most
 * (then unlink_waited_out is set), as a slow disk or a folder of tens of
 * thousands of files holds whoever removes them. */
static pthread_mutex_t  unlink_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t   unlink_cond = PTHREAD_COND_INITIALIZER;
static int              unlink_hold, unlink_entered, unlink_waited_out;

int
unlinkat(int dirfd, const char *path, int flags)
{
    struct timespec  until;

    pthread_mutex_lock(&unlink_lock);
    if (unlink_hold && !(flags & AT_REMOVEDIR)) {
        unlink_entered = 1;
        pthread_cond_broadcast(&unlink_cond);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 3;
        while (unlink_hold && !unlink_waited_out) {
            if (pthread_cond_timedwait(&unlink_cond, &unlink_lock, &until)
                == ETIMEDOUT)
            {
                unlink_waited_out = 1;
            }
        }
    }
    pthread_mutex_unlock(&unlink_lock);
    return (int) syscall(SYS_unlinkat, dirfd, path, flags);
}

/* stat(2) in libc's place: while stat_gone names a folder, its next
 * stat_removals stats find it removed just before, as a request that
 * emptied it (a refused upload's inputs/) removes it between
 * nano_file_mkdirs's mkdir and its check. */
static const char  *stat_gone;
static int          stat_removals;

int
stat(const char *path, struct stat *st)
{
    if (stat_gone != NULL && stat_removals > 0
        && strcmp(path, stat_gone) == 0)
    {
        stat_removals--;
        rmdir(path);
    }
    return fstatat(AT_FDCWD, path, st, 0);
}

typedef struct {
    const char  *name;
    const char  *method;
    int          attempts;
    long         status;
    CURLcode     code;
    int          sent;
    int          too_large;
    int          stopped;
    int          retry;
} retry_row_t;

static const retry_row_t  rows[] = {
    /* whole answers: a refusal is retried, anything else is the result */
    { "200 GET", "GET", 0, 200, CURLE_OK, 1, 0, 0, 0 },
    { "200 POST", "POST", 0, 200, CURLE_OK, 1, 0, 0, 0 },
    { "400 POST", "POST", 0, 400, CURLE_OK, 1, 0, 0, 0 },
    { "404 GET", "GET", 0, 404, CURLE_OK, 1, 0, 0, 0 },
    { "408 POST", "POST", 0, 408, CURLE_OK, 1, 0, 0, 1 },
    { "429 POST", "POST", 0, 429, CURLE_OK, 1, 0, 0, 1 },
    { "503 POST", "POST", 0, 503, CURLE_OK, 1, 0, 0, 1 },
    { "503 POST, retries spent", "POST", 2, 503, CURLE_OK, 1, 0, 0, 0 },
    /* answers cut short: a GET reads again, a POST is never resent */
    { "200 GET cut", "GET", 0, 200, CURLE_PARTIAL_FILE, 1, 0, 0, 1 },
    { "200 GET reset", "GET", 1, 200, CURLE_RECV_ERROR, 1, 0, 0, 1 },
    { "200 GET cut, retries spent", "GET", 2, 200, CURLE_RECV_ERROR, 1, 0,
      0, 0 },
    { "200 GET timed out in the body", "GET", 0, 200,
      CURLE_OPERATION_TIMEDOUT, 1, 0, 0, 1 },
    { "200 POST cut", "POST", 0, 200, CURLE_PARTIAL_FILE, 1, 0, 0, 0 },
    { "200 POST timed out in the body", "POST", 0, 200,
      CURLE_OPERATION_TIMEDOUT, 1, 0, 0, 0 },
    { "404 GET cut", "GET", 0, 404, CURLE_PARTIAL_FILE, 1, 0, 0, 1 },
    { "503 POST cut", "POST", 0, 503, CURLE_RECV_ERROR, 1, 0, 0, 1 },
    /* too large or stopped: never */
    { "200 GET too large", "GET", 0, 200, CURLE_WRITE_ERROR, 1, 1, 0, 0 },
    { "200 POST too large", "POST", 0, 200, CURLE_WRITE_ERROR, 1, 1, 0, 0 },
    { "200 GET stopped", "GET", 0, 200, CURLE_WRITE_ERROR, 1, 0, 1, 0 },
    /* no answer at all */
    { "no answer, POST never sent", "POST", 0, 0, CURLE_COULDNT_CONNECT, 0,
      0, 0, 1 },
    { "no answer, POST sent", "POST", 0, 0, CURLE_OPERATION_TIMEDOUT, 1, 0,
      0, 0 },
    { "no answer, GET sent", "GET", 1, 0, CURLE_GOT_NOTHING, 1, 0, 0, 1 },
    { "no answer, GET, retries spent", "GET", 2, 0, CURLE_GOT_NOTHING, 1, 0,
      0, 0 },
};

static void
retry_row(void **state)
{
    const retry_row_t  *r = *state;
    nano_client_res_t   res;

    nano_client_res_init(&res);
    res.status = r->status;
    res.code = r->code;
    res.sent = r->sent;
    res.too_large = r->too_large;
    res.stopped = r->stopped;
    res.timed_out = r->code == CURLE_OPERATION_TIMEDOUT;
    assert_int_equal(nano_job_retryable(r->method, r->attempts, &res),
                     r->retry);
    nano_client_res_cleanup(&res);
}

static void
test_final_path(void **state)
{
    char  out[64];

    (void) state;
    assert_int_equal(nano_job_final_path("/m/nb/u/g/.0-0a1b2c3d4e5f6071.png"
                                         ".tmp", out, sizeof(out)), 0);
    assert_string_equal(out, "/m/nb/u/g/0-0a1b2c3d4e5f6071.png");
    assert_int_equal(nano_job_final_path(".x.tmp", out, sizeof(out)), 0);
    assert_string_equal(out, "x");
    /* exactly fits: "/d/" + "abc" + NUL */
    assert_int_equal(nano_job_final_path("/d/.abc.tmp", out, 7), 0);
    assert_string_equal(out, "/d/abc");
    assert_int_equal(nano_job_final_path("/d/.abc.tmp", out, 6), -1);

    /* not a temporary name: never renamed onto anything */
    assert_int_equal(nano_job_final_path("/d/0.png", out, sizeof(out)), -1);
    assert_int_equal(nano_job_final_path("/d/0.png.tmp", out, sizeof(out)),
                     -1);
    assert_int_equal(nano_job_final_path("/d/.0.png", out, sizeof(out)),
                     -1);
    assert_int_equal(nano_job_final_path("/d/.tmp", out, sizeof(out)), -1);
    assert_int_equal(nano_job_final_path("/d/..tmp", out, sizeof(out)), -1);
    assert_int_equal(nano_job_final_path("/d/...tmp", out, sizeof(out)),
                     -1);
    assert_int_equal(nano_job_final_path("/d/..x.tmp", out, sizeof(out)),
                     -1);
    assert_int_equal(nano_job_final_path("/d/.x.tmp/", out, sizeof(out)),
                     -1);
    assert_int_equal(nano_job_final_path("", out, sizeof(out)), -1);
}

static void
test_mkdirs(void **state)
{
    char         root[64], path[128];
    struct stat  st;
    mode_t       mask = umask(0);
    unsigned     made;
    FILE        *f;

    (void) state;
    umask(mask);
    assert_int_equal(unit_tmpdir(root, sizeof(root), "jobs"), 0);
    snprintf(path, sizeof(path), "%s/nano-banana/user/gen", root);
    assert_int_equal(nano_file_mkdirs(path, NULL), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    /* 0750 whatever the umask: nginx's group reads the media */
    assert_int_equal(st.st_mode & 0777, 0750);
    /* again: every folder there already, none made */
    made = 0;
    assert_int_equal(nano_file_mkdirs(path, &made), 0);
    assert_int_equal(made, 0);
    /* the last two made: bits 0 and 1 */
    umask(0077);
    snprintf(path, sizeof(path), "%s/nano-banana/user2/gen", root);
    assert_int_equal(nano_file_mkdirs(path, &made), 0);
    umask(mask);
    assert_int_equal(made, 3u);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
    /* a setgid parent's bit (the media folder's group) is inherited */
    snprintf(path, sizeof(path), "%s/sgid", root);
    assert_int_equal(mkdir(path, 0750), 0);
    assert_int_equal(chmod(path, 02750), 0);
    snprintf(path, sizeof(path), "%s/sgid/a/b", root);
    umask(0077);
    assert_int_equal(nano_file_mkdirs(path, NULL), 0);
    umask(mask);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 02750);
    /* a file in the way, below or at the end */
    snprintf(path, sizeof(path), "%s/nano-banana/user/gen/f", root);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    errno = 0;
    assert_int_equal(nano_file_mkdirs(path, NULL), -1);
    assert_int_equal(errno, ENOTDIR);
    snprintf(path, sizeof(path), "%s/nano-banana/user/gen/f/g", root);
    assert_int_equal(nano_file_mkdirs(path, NULL), -1);
    assert_int_equal(nano_file_mkdirs("", NULL), -1);
    assert_int_equal(unit_tmpdir_remove(root), 0);
}

typedef struct {
    const char  *dir;
    const char  *from;
    const char  *to;
    int          removals;      /* times the folder goes before the move */
    int          calls;
} put_t;

/* A move into dir, after a DELETE's rmdir of dir (nano_module.c) landed
 * between nano_job_mkdirs_put's mkdir and the move. */
static int
put_after_rmdir(void *arg)
{
    put_t  *p = arg;

    p->calls++;
    if (p->removals > 0) {
        p->removals--;
        assert_int_equal(rmdir(p->dir), 0);
    }
    return rename(p->from, p->to);
}

static int
put_refused(void *arg)
{
    put_t  *p = arg;

    p->calls++;
    errno = EACCES;
    return -1;
}

static void
test_mkdirs_put(void **state)
{
    char         root[64], dir[128], from[128], to[160];
    struct stat  st;
    put_t        p;
    FILE        *f;

    (void) state;
    assert_int_equal(unit_tmpdir(root, sizeof(root), "jobs"), 0);
    snprintf(dir, sizeof(dir), "%s/nano-banana/user/inputs", root);
    snprintf(from, sizeof(from), "%s/upload", root);
    snprintf(to, sizeof(to), "%s/a.png", dir);
    f = fopen(from, "w");
    assert_non_null(f);
    fclose(f);

    /* removed twice between mkdir and move: made again, moved */
    p = (put_t) { dir, from, to, 2, 0 };
    assert_int_equal(nano_job_mkdirs_put(dir, put_after_rmdir, &p), 0);
    assert_int_equal(p.calls, 3);
    assert_int_equal(stat(to, &st), 0);
    assert_int_equal(stat(from, &st), -1);

    /* removed every time: three tries, then the move's ENOENT */
    assert_int_equal(rename(to, from), 0);
    p = (put_t) { dir, from, to, 100, 0 };
    assert_int_equal(nano_job_mkdirs_put(dir, put_after_rmdir, &p), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(p.calls, 3);
    assert_int_equal(stat(from, &st), 0);

    /* removed between the mkdir and its check (found by the soak
     * probe: one of four uploads at once answered 500 "cannot store the
     * image" as another's refusal emptied inputs/): made again, moved */
    stat_gone = dir;
    stat_removals = 2;
    p = (put_t) { dir, from, to, 0, 0 };
    assert_int_equal(nano_job_mkdirs_put(dir, put_after_rmdir, &p), 0);
    stat_gone = NULL;
    assert_int_equal(stat_removals, 0);
    assert_int_equal(p.calls, 1);
    assert_int_equal(stat(to, &st), 0);
    assert_int_equal(rename(to, from), 0);

    /* another failure is not tried again */
    p = (put_t) { dir, from, to, 0, 0 };
    assert_int_equal(nano_job_mkdirs_put(dir, put_refused, &p), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(p.calls, 1);

    /* a folder that cannot be made: put never called */
    snprintf(dir, sizeof(dir), "%s/upload/inputs", root);
    p = (put_t) { dir, from, to, 0, 0 };
    assert_int_equal(nano_job_mkdirs_put(dir, put_refused, &p), -2);
    assert_int_equal(p.calls, 0);

    assert_int_equal(unit_tmpdir_remove(root), 0);
}

/* path's SHA-256 once it holds c repeated n times */
static void
sha256_of(const char *path, int c, int n, const char *want)
{
    char   out[NANO_FILE_SHA256_SIZE];
    FILE  *f = fopen(path, "w");
    int    i;

    assert_non_null(f);
    for (i = 0; i < n; i++) {
        fputc(c == 0 ? "abc"[i % 3] : c, f);
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(nano_file_sha256(path, out), 0);
    assert_string_equal(out, want);
}

static void
test_sha256(void **state)
{
    char    root[64], path[128], link[128], out[NANO_FILE_SHA256_SIZE];

    (void) state;
    assert_int_equal(unit_tmpdir(root, sizeof(root), "jobs"), 0);
    snprintf(path, sizeof(path), "%s/in.png", root);

    /* FIPS 180-2's vectors: "", "abc", and a million 'a' (many reads) */
    sha256_of(path, 0, 0, "e3b0c44298fc1c149afbf4c8996fb924"
                          "27ae41e4649b934ca495991b7852b855");
    sha256_of(path, 0, 3, "ba7816bf8f01cfea414140de5dae2223"
                          "b00361a396177a9cb410ff61f20015ad");
    sha256_of(path, 'a', 1000000, "cdc76e5c9914fb9281a1c7e284d73e67"
                                  "f1809a48a497200e046d39ccc7112cd0");

    /* never through a link; a file that is not there */
    snprintf(link, sizeof(link), "%s/link.png", root);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(nano_file_sha256(link, out), -1);
    assert_int_equal(errno, ELOOP);
    snprintf(path, sizeof(path), "%s/none.png", root);
    assert_int_equal(nano_file_sha256(path, out), -1);
    assert_int_equal(errno, ENOENT);
    /* a folder opens but cannot be read */
    assert_int_equal(nano_file_sha256(root, out), -1);
    assert_int_equal(errno, EISDIR);

    assert_int_equal(unit_tmpdir_remove(root), 0);
}

/* Makes path (a file) with a few bytes. */
static void
plant_file(const char *path)
{
    FILE  *f = fopen(path, "w");

    assert_non_null(f);
    fputs("output", f);
    assert_int_equal(fclose(f), 0);
}

static void
test_remove_tree(void **state)
{
    char         root[64], user[96], path[192], outside[96];
    struct stat  sb;
    size_t       files = 0;

    (void) state;
    assert_int_equal(unit_tmpdir(root, sizeof(root), "jobs"), 0);
    snprintf(user, sizeof(user), "%s/nano-banana/u1", root);
    snprintf(outside, sizeof(outside), "%s/outside", root);
    snprintf(path, sizeof(path), "%s/g1", user);
    assert_int_equal(nano_file_mkdirs(path, NULL), 0);
    snprintf(path, sizeof(path), "%s/inputs", user);
    assert_int_equal(nano_file_mkdirs(path, NULL), 0);
    assert_int_equal(nano_file_mkdirs(outside, NULL), 0);
    snprintf(path, sizeof(path), "%s/g1/0-a.png", user);
    plant_file(path);
    snprintf(path, sizeof(path), "%s/inputs/a.png", user);
    plant_file(path);
    snprintf(path, sizeof(path), "%s/keep.png", outside);
    plant_file(path);
    /* links to a folder and a file elsewhere: removed, never followed */
    snprintf(path, sizeof(path), "%s/g1/to-dir", user);
    assert_int_equal(symlink(outside, path), 0);
    snprintf(path, sizeof(path), "%s/inputs/to-file", user);
    snprintf(outside + strlen(outside), sizeof(outside) - strlen(outside),
             "/keep.png");
    assert_int_equal(symlink(outside, path), 0);

    /* what a deleted user's id must be to name its folder */
    assert_true(nano_file_name_ok("u1"));
    assert_false(nano_file_name_ok(""));
    assert_false(nano_file_name_ok("."));
    assert_false(nano_file_name_ok(".."));
    assert_false(nano_file_name_ok("a/b"));

    assert_int_equal(nano_file_remove_tree(user, 4, &files), 0);
    assert_int_equal(files, 4);
    assert_int_equal(lstat(user, &sb), -1);
    assert_int_equal(stat(outside, &sb), 0);
    /* gone already: fine */
    assert_int_equal(nano_file_remove_tree(user, 4, &files), 0);

    /* the path itself a link: the link goes, its folder stays */
    snprintf(outside, sizeof(outside), "%s/outside", root);
    assert_int_equal(symlink(outside, user), 0);
    assert_int_equal(nano_file_remove_tree(user, 4, NULL), 0);
    assert_int_equal(lstat(user, &sb), -1);
    snprintf(path, sizeof(path), "%s/keep.png", outside);
    assert_int_equal(stat(path, &sb), 0);

    /* deeper than allowed: what is below the limit stays, said so */
    snprintf(path, sizeof(path), "%s/a/b/c", user);
    assert_int_equal(nano_file_mkdirs(path, NULL), 0);
    errno = 0;
    assert_int_equal(nano_file_remove_tree(user, 1, NULL), -1);
    assert_int_equal(errno, ELOOP);
    snprintf(path, sizeof(path), "%s/a/b", user);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(nano_file_remove_tree(user, 4, NULL), 0);
    assert_int_equal(lstat(user, &sb), -1);

    assert_int_equal(unit_tmpdir_remove(root), 0);
}

/* Every host's runners get a deleted user's NOTIFY and remove the same
 * folder of a shared media tree at once: what one takes from under the
 * other is no failure. */
static void
test_remove_tree_twice_at_once(void **state)
{
    char         root[64], user[96], path[192];
    struct stat  sb;
    pid_t        pid;
    int          g, f, rc, status;

    (void) state;
    assert_int_equal(unit_tmpdir(root, sizeof(root), "jobs"), 0);
    snprintf(user, sizeof(user), "%s/nano-banana/u1", root);
    for (g = 0; g < 40; g++) {
        snprintf(path, sizeof(path), "%s/g%d", user, g);
        assert_int_equal(nano_file_mkdirs(path, NULL), 0);
        for (f = 0; f < 10; f++) {
            snprintf(path, sizeof(path), "%s/g%d/%d.png", user, g, f);
            plant_file(path);
        }
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(nano_file_remove_tree(user, 4, NULL) == 0 ? 0 : 1);
    }
    rc = nano_file_remove_tree(user, 4, NULL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(rc, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(lstat(user, &sb), -1);

    assert_int_equal(unit_tmpdir_remove(root), 0);
}

/* A deleted user's folder is removed off the caller's thread (the job
 * runner's): the call returns while the removal is held on its first
 * file, and the folder goes once it is let go.  Until 2026-12-07 the
 * runner removed it itself, and 100,000 files of a heavy user held every
 * job of the module 40 s, leases unrenewed (found by the scale probe). */
static void
test_remove_user_later(void **state)
{
    char             root[64], user[96], path[192];
    struct stat      sb;
    struct timespec  until;
    int              i, entered;

    (void) state;
    assert_int_equal(unit_tmpdir(root, sizeof(root), "jobs"), 0);
    snprintf(path, sizeof(path), "%s/nano-banana/u1/g1", root);
    assert_int_equal(nano_file_mkdirs(path, NULL), 0);
    snprintf(path, sizeof(path), "%s/nano-banana/u1/g1/0-a.png", root);
    plant_file(path);
    snprintf(user, sizeof(user), "%s/nano-banana/u1", root);

    /* names that are not one folder's are refused, nothing started */
    assert_int_equal(nano_jobs_remove_user(root, "nano-banana", ".."), -1);
    assert_int_equal(nano_jobs_remove_user(root, "nano-banana", "a/b"), -1);
    assert_int_equal(nano_jobs_remove_user(root, "..", "u1"), -1);

    pthread_mutex_lock(&unlink_lock);
    unlink_hold = 1;
    unlink_entered = unlink_waited_out = 0;
    pthread_mutex_unlock(&unlink_lock);

    assert_int_equal(nano_jobs_remove_user(root, "nano-banana", "u1"), 0);

    /* returned, and the removal waits on its file meanwhile */
    pthread_mutex_lock(&unlink_lock);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    while (!unlink_entered && !unlink_waited_out
           && pthread_cond_timedwait(&unlink_cond, &unlink_lock, &until)
              != ETIMEDOUT)
    {
        /* wait for the removal to reach the file */
    }
    entered = unlink_entered;
    unlink_hold = 0;
    pthread_cond_broadcast(&unlink_cond);
    pthread_mutex_unlock(&unlink_lock);
    assert_true(entered);
    assert_false(unlink_waited_out);

    for (i = 0; i < 500 && lstat(user, &sb) == 0; i++) {
        usleep(10000);
    }
    assert_int_equal(lstat(user, &sb), -1);
    assert_int_equal(errno, ENOENT);

    assert_int_equal(unit_tmpdir_remove(root), 0);
}

/* nano_file_sync: a file, a folder, a link to a folder (the media root
 * may be one), and what is not there */
static void
test_sync(void **state)
{
    char  root[64], path[128], link[128];

    (void) state;
    assert_int_equal(unit_tmpdir(root, sizeof(root), "jobs"), 0);
    snprintf(path, sizeof(path), "%s/out.png", root);
    plant_file(path);

    assert_int_equal(nano_file_sync(path), 0);
    assert_int_equal(nano_file_sync(root), 0);
    snprintf(link, sizeof(link), "%s/media", root);
    assert_int_equal(symlink(root, link), 0);
    assert_int_equal(nano_file_sync(link), 0);
    snprintf(path, sizeof(path), "%s/none", root);
    assert_int_equal(nano_file_sync(path), -1);
    assert_int_equal(errno, ENOENT);

    assert_int_equal(unit_tmpdir_remove(root), 0);
}

int
main(void)
{
    const struct CMUnitTest  extra[] = {
        cmocka_unit_test(test_final_path),
        cmocka_unit_test(test_mkdirs),
        cmocka_unit_test(test_mkdirs_put),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_remove_tree),
        cmocka_unit_test(test_remove_tree_twice_at_once),
        cmocka_unit_test(test_remove_user_later),
    };

    return unit_run_table("jobs", rows, sizeof(rows) / sizeof(rows[0]),
                          sizeof(rows[0]), retry_row, extra,
                          sizeof(extra) / sizeof(extra[0]));
}
