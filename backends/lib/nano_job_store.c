/*
 * A job's output files and folders under the media root: written under
 * a temporary name of the runner's own, synced and renamed into place
 * before the end is recorded, removed when it is not; and a deleted
 * user's folder removed off the runner's thread.  Apart from the runner
 * (nano_jobs.c), which only decides when.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nano_file.h"
#include "nano_job_store.h"
#include "nano_log.h"
#include "nano_rand.h"

/* set once by nano_jobs_start, before any thread reads it */
static char  nano_job_root[PATH_MAX];

int
nano_job_media_set(const char *media)
{
    return snprintf(nano_job_root, sizeof(nano_job_root), "%s", media)
           < (int) sizeof(nano_job_root) ? 0 : -1;
}

const char *
nano_job_media_root(void)
{
    return nano_job_root;
}

int
nano_job_mkdirs_put(const char *dir, int (*put)(void *arg), void *arg)
{
    int  tries;

    /* whoever empties a folder removes it (a DELETE's rmdir of a user's
     * inputs/, a runner tidying up), and may do so between our mkdir and
     * put: the folder is made again */
    for (tries = 0; tries < 3; tries++) {
        if (nano_file_mkdirs(dir, NULL) != 0) {
            return -2;
        }
        errno = 0;
        if (put(arg) == 0) {
            return 0;
        }
        if (errno != ENOENT) {
            break;
        }
    }
    return -1;
}

/* The job's folder: <media>/<module>/<user>/<generation>. */
static int
nano_job_dir(const nano_job_t *job, char *dir, size_t cap)
{
    int  n;

    n = snprintf(dir, cap, "%s/%s/%s/%s", nano_job_root, job->gen.module,
                 job->gen.user_id, job->gen.id);
    return n > 0 && (size_t) n < cap ? 0 : -1;
}

int
nano_job_final_path(const char *tmp, char *out, size_t cap)
{
    const char  *name = strrchr(tmp, '/');
    size_t       dir, len;

    name = name != NULL ? name + 1 : tmp;
    dir = (size_t) (name - tmp);
    len = strlen(name);
    if (len <= 5 || name[0] != '.' || name[1] == '.'
        || strcmp(name + len - 4, ".tmp") != 0 || dir + len - 5 >= cap)
    {
        return -1;
    }
    memcpy(out, tmp, dir);
    memcpy(out + dir, name + 1, len - 5);
    out[dir + len - 5] = '\0';
    return 0;
}

int
nano_job_next_path(nano_job_t *job, const char *ext, char *path, size_t cap)
{
    char    dir[PATH_MAX], rnd[2 * NANO_JOB_NAME_RANDOM + 1];
    size_t  n;
    int     len;

    if (job->outputs == NULL && (job->outputs = json_array()) == NULL) {
        return -1;
    }
    n = json_array_size(job->outputs);
    if (nano_job_dir(job, dir, sizeof(dir)) != 0
        || nano_file_mkdirs(dir, &job->made_dirs) != 0)
    {
        nano_log_error("job %s: cannot make %s: %s", job->gen.id, dir,
                       strerror(errno));
        return -1;
    }
    if (nano_rand_hex(rnd, NANO_JOB_NAME_RANDOM) != 0) {
        return -1;
    }
    len = snprintf(path, cap, "%s/.%zu-%s.%s.tmp", dir, n, rnd, ext);
    return len > 0 && (size_t) len < cap ? 0 : -1;
}

/*
 * Syncs the folder that holds final, and each folder of it the runner
 * made (job->made_dirs) in its parent, up to the media root: the new
 * names on the disk before the end is recorded.  0, or -1 with errno.
 */
static int
nano_job_sync_dirs(const nano_job_t *job, const char *final)
{
    char    dir[PATH_MAX], *slash;
    size_t  root = strlen(nano_job_root);
    int     level;

    if (snprintf(dir, sizeof(dir), "%s", final) >= (int) sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* level 0 syncs the job's folder (the output's name); level k + 1
     * the parent of the folder of bit k, when the runner made it */
    for (level = 0; level <= 3; level++) {
        slash = strrchr(dir, '/');
        if (slash == NULL || (size_t) (slash - dir) < root) {
            break;
        }
        *slash = '\0';
        if (level > 0 && !(job->made_dirs & (1u << (level - 1)))) {
            break;
        }
        if (nano_file_sync(dir) != 0) {
            return -1;
        }
    }
    return 0;
}

int
nano_job_stored(nano_job_t *job, const char *path, const char *mime,
    int width, int height)
{
    struct stat   st;
    char          final[PATH_MAX];
    json_t       *o = NULL;

    if (nano_job_final_path(path, final, sizeof(final)) != 0
        || stat(path, &st) != 0)
    {
        goto failed;
    }
    /* the row keeps the path below the media root, so the root may move */
    o = json_pack("{s:s, s:s, s:i, s:i, s:I}",
                  "file", final + strlen(nano_job_root) + 1,
                  "mime", mime, "width", width, "height", height,
                  "bytes", (json_int_t) st.st_size);
    /* On the disk before the end is recorded: the data synced before
     * the rename, the new name after it.  Without, a host that crashed
     * or lost its power after the row said "succeeded" (PostgreSQL
     * syncs its commit) came back with the output empty or missing:
     * charged, and nothing to show (found by the failures probe). */
    if (o == NULL || nano_file_sync(path) != 0 || rename(path, final) != 0) {
        nano_log_error("job %s: cannot store %s: %s", job->gen.id, final,
                       strerror(errno));
        goto failed;
    }
    if (nano_job_sync_dirs(job, final) != 0) {
        nano_log_error("job %s: cannot sync the folders of %s: %s",
                       job->gen.id, final, strerror(errno));
        json_decref(o);
        unlink(final);
        return -1;
    }
    if (json_array_append_new(job->outputs, o) != 0) {
        unlink(final);
        return -1;
    }
    return 0;

failed:
    json_decref(o);
    unlink(path);
    return -1;
}

int
nano_job_store(nano_job_t *job, const void *data, size_t len,
    const char *mime, const char *ext, int width, int height)
{
    char   path[PATH_MAX];
    FILE  *f = NULL;
    int    fd = -1, tries, ok;

    /* a folder removed between its making and the open (a runner that
     * lost this job tidying up) is made again */
    for (tries = 0; tries < 2 && fd < 0; tries++) {
        if (nano_job_next_path(job, ext, path, sizeof(path)) != 0) {
            return -1;
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd < 0 && errno != ENOENT) {
            break;
        }
    }
    if (fd < 0 || (f = fdopen(fd, "wb")) == NULL) {
        nano_log_error("job %s: cannot write %s: %s", job->gen.id, path,
                       strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        return -1;
    }
    ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        nano_log_error("job %s: cannot write %s: %s", job->gen.id, path,
                       strerror(errno));
        unlink(path);
        return -1;
    }
    return nano_job_stored(job, path, mime, width, height);
}

/*
 * Removes what this runner wrote for job: its outputs, its folder when
 * empty, and the parents it made itself (a deleted account's folder made
 * again) when empty too.  The names are this runner's own
 * (nano_job_next_path): another runner's files are never touched.
 */
void
nano_job_discard(nano_job_t *job)
{
    char     dir[PATH_MAX], path[PATH_MAX], *slash;
    json_t  *o;
    size_t   i;
    int      level;

    json_array_foreach(job->outputs, i, o) {
        if (snprintf(path, sizeof(path), "%s/%s", nano_job_root,
                     json_string_value(json_object_get(o, "file")))
            < (int) sizeof(path))
        {
            unlink(path);
        }
    }
    json_decref(job->outputs);
    job->outputs = NULL;
    if (nano_job_dir(job, dir, sizeof(dir)) != 0) {
        return;
    }
    /* <generation>, then <user> and <module> if made here */
    for (level = 0; level < 3; level++) {
        if ((level > 0 && (job->made_dirs & 1u << level) == 0)
            || rmdir(dir) != 0 || (slash = strrchr(dir, '/')) == NULL)
        {
            break;
        }
        *slash = '\0';
    }
}

/*
 * After nano_job_discard, when the job's row went with its account: the
 * user's folder too, which the deletion removed and this job made again
 * (another of the user's jobs may have made it).  rmdir only takes an
 * empty one, and no new job of a deleted user is admitted.
 */
void
nano_job_discard_owner(nano_db_t *db, nano_job_t *job)
{
    char  dir[PATH_MAX], *slash;
    int   gone;

    if (nano_gen_owner_gone(db, job->gen.user_id, &gone) != NANO_DB_OK
        || !gone || nano_job_dir(job, dir, sizeof(dir)) != 0
        || (slash = strrchr(dir, '/')) == NULL)
    {
        return;
    }
    *slash = '\0';
    (void) rmdir(dir);
}

static atomic_int  nano_job_removers;

static void *
nano_job_remove_thread(void *arg)
{
    char    *dir = arg;
    size_t   files = 0;

    if (nano_file_remove_tree(dir, 4, &files) != 0) {
        nano_log_warn("jobs: the files of a deleted user stay in %s: %s",
                      dir, strerror(errno));
    } else if (files > 0) {
        nano_log_info("jobs: removed the %zu files of a deleted user in %s",
                      files, dir);
    }
    free(dir);
    atomic_fetch_sub(&nano_job_removers, 1);
    return NULL;
}

int
nano_jobs_remove_user(const char *media, const char *module,
    const char *user_id)
{
    pthread_attr_t   attr;
    pthread_t        t;
    char            *dir;
    size_t           len;
    int              rc;

    if (!nano_file_name_ok(user_id) || !nano_file_name_ok(module)) {
        return -1;
    }
    len = strlen(media) + strlen(module) + strlen(user_id) + 3;
    if (len > PATH_MAX || (dir = malloc(len)) == NULL) {
        return -1;
    }
    snprintf(dir, len, "%s/%s/%s", media, module, user_id);
    if (atomic_fetch_add(&nano_job_removers, 1) >= NANO_JOBS_REMOVERS) {
        atomic_fetch_sub(&nano_job_removers, 1);
        nano_log_warn("jobs: %d removals of deleted users' files run"
                      " already: %s is left to the media sweep",
                      NANO_JOBS_REMOVERS, dir);
        free(dir);
        return -1;
    }
    rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&t, &attr, nano_job_remove_thread, dir);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        atomic_fetch_sub(&nano_job_removers, 1);
        nano_log_warn("jobs: %s is left to the media sweep: %s", dir,
                      strerror(rc));
        free(dir);
        return -1;
    }
    return 0;
}
