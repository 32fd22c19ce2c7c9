/*
 * The media sweep (nano_sweep.h).  Every path is opened relative to its
 * folder's descriptor and never through a symbolic link, so nothing
 * outside the module's tree is read or removed.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nano_config.h"
#include "nano_gen.h"
#include "nano_gen_options.h"
#include "nano_log.h"
#include "nano_server.h"
#include "nano_sweep.h"

#define NANO_SWEEP_DB_WAIT_MS  5000

typedef struct {
    const char            *module;
    const char            *user;
    char                 **names;      /* nano_gen_media_names */
    size_t                 n;
    time_t                 before;     /* older than this goes */
    nano_sweep_counts_t   *counts;
} nano_sweep_user_t;

static struct {
    pthread_mutex_t  lock;
    pthread_cond_t   cond;
    pthread_t        thread;
    int              running;
    int              stopping;
    int              every;
    int              grace;
    char             module[64];
    char             media[PATH_MAX];
} nano_sweep = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

static int nano_sweep_stopping(void);

/* A name this sweep may look into: no dot files, "." or "..". */
static int
nano_sweep_name_ok(const char *name)
{
    return name[0] != '\0' && name[0] != '.' && strlen(name) < NAME_MAX;
}

/* The folder name below at (AT_FDCWD: a path), never through a link;
 * a descriptor, or -1. */
static int
nano_sweep_open(int at, const char *name)
{
    return openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* A listing of the folder fd, which stays open for the *at calls; NULL
 * when it cannot be read. */
static DIR *
nano_sweep_list(int fd)
{
    DIR  *d;
    int   copy = dup(fd);

    if (copy < 0) {
        return NULL;
    }
    if ((d = fdopendir(copy)) == NULL) {
        close(copy);
    }
    return d;
}

static int
nano_sweep_cmp(const void *key, const void *item)
{
    return strcmp(key, *(char *const *) item);
}

/* 1 when a generation names "<module>/<user>/<folder>/<file>" (file
 * "" for the folder itself, named while its generation runs). */
static int
nano_sweep_named(const nano_sweep_user_t *u, const char *folder,
    const char *file)
{
    char  rel[PATH_MAX];

    if (snprintf(rel, sizeof(rel), "%s/%s/%s/%s", u->module, u->user, folder,
                 file) >= (int) sizeof(rel))
    {
        return 1;           /* cannot tell: kept */
    }
    return bsearch(rel, u->names, u->n, sizeof(char *), nano_sweep_cmp)
           != NULL;
}

/*
 * Removes the regular files in the folder fd that are older than before
 * and that no generation of u names (u NULL: tmp/, where none is
 * named); counts them.  tmp/ is every app's, sticky (nano-setup: 3770),
 * so a file there is removed only by its owner's pass: another's was
 * refused with EPERM and warned about on every pass of every module.
 */
static void
nano_sweep_files(int fd, const char *folder, const nano_sweep_user_t *u,
    time_t before, nano_sweep_counts_t *counts)
{
    struct dirent  *e;
    struct stat     sb;
    DIR            *d;

    if ((d = nano_sweep_list(fd)) == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0
            || fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0
            || !S_ISREG(sb.st_mode) || sb.st_mtime >= before
            || (u == NULL && sb.st_uid != geteuid())
            || (u != NULL && nano_sweep_named(u, folder, e->d_name)))
        {
            continue;
        }
        if (unlinkat(fd, e->d_name, 0) == 0) {
            counts->files++;
            counts->bytes += (long long) sb.st_size;
        } else if (errno != ENOENT) {
            nano_log_warn("media sweep: cannot remove %s/%s/%s: %s",
                          u != NULL ? u->user : "tmp", folder, e->d_name,
                          strerror(errno));
        }
    }
    closedir(d);
}

/* The time fd's folder last changed, read before a pass changes it;
 * young when it cannot be read, so that it stays. */
static time_t
nano_sweep_mtime(int fd, time_t young)
{
    struct stat  sb;

    return fstat(fd, &sb) == 0 ? sb.st_mtime : young;
}

/*
 * Removes the folder name below at when it is empty and had not changed
 * since before when this pass opened it (mtime).  A job or an upload
 * that needs it again makes it again (nano_job_mkdirs_put), also when it
 * goes between that one's mkdir and its write.
 */
static void
nano_sweep_rmdir_old(int at, const char *name, time_t mtime, time_t before,
    nano_sweep_counts_t *counts)
{
    if (mtime < before && unlinkat(at, name, AT_REMOVEDIR) == 0) {
        counts->dirs++;
    }
}

/*
 * A generation's folder: skipped while the generation runs; otherwise
 * its stale files no row names go, and the folder too once empty if it
 * had not changed within the grace (a folder just made for a job
 * admitted after the names were read is young).
 */
static void
nano_sweep_generation(int ufd, const char *id, const nano_sweep_user_t *u)
{
    struct stat  sb;
    int          fd;

    if (nano_sweep_named(u, id, "") || (fd = nano_sweep_open(ufd, id)) < 0) {
        return;
    }
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return;
    }
    nano_sweep_files(fd, id, u, u->before, u->counts);
    close(fd);
    nano_sweep_rmdir_old(ufd, id, sb.st_mtime, u->before, u->counts);
}

/* One user's folder: its generations' folders and its inputs. */
static void
nano_sweep_user(int mfd, const char *module, const char *user,
    time_t before, nano_sweep_counts_t *counts)
{
    nano_sweep_user_t   u = { module, user, NULL, 0, before, counts };
    nano_db_status_t    st;
    time_t              user_mtime, mtime;
    struct dirent      *e;
    nano_db_t          *db;
    DIR                *d;
    int                 ufd, fd;

    ufd = nano_sweep_open(mfd, user);
    if (ufd < 0) {
        return;
    }
    user_mtime = nano_sweep_mtime(ufd, before);
    counts->users++;
    db = nano_server_db_get(NANO_SWEEP_DB_WAIT_MS);
    st = db != NULL ? nano_gen_media_names(db, module, user, &u.names, &u.n)
                    : NANO_DB_UNAVAILABLE;
    if (st != NANO_DB_OK) {
        /* without the names nothing can be judged: all stays */
        nano_log_warn("media sweep: %s/%s left: %s", module, user,
                      db != NULL ? nano_db_last_error(db)
                                 : "no database connection");
        nano_server_db_put(db);
        counts->skipped++;
        close(ufd);
        return;
    }
    nano_server_db_put(db);

    d = nano_sweep_list(ufd);
    while (d != NULL && (e = readdir(d)) != NULL && !nano_sweep_stopping()) {
        if (nano_gen_uuid_ok(e->d_name)) {
            nano_sweep_generation(ufd, e->d_name, &u);
        } else if (strcmp(e->d_name, "inputs") == 0
                   && (fd = nano_sweep_open(ufd, "inputs")) >= 0)
        {
            mtime = nano_sweep_mtime(fd, before);
            nano_sweep_files(fd, "inputs", &u, before, counts);
            close(fd);
            nano_sweep_rmdir_old(ufd, "inputs", mtime, before, counts);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    nano_gen_names_free(u.names, u.n);
    close(ufd);
    /* a user with nothing left here (the last generation deleted) */
    nano_sweep_rmdir_old(mfd, user, user_mtime, before, counts);
}

void
nano_sweep_pass(const char *module, const char *media, int grace_secs,
    nano_sweep_counts_t *counts)
{
    char            path[PATH_MAX];
    time_t          before = time(NULL) - grace_secs;
    struct dirent  *e;
    DIR            *d;
    int             fd;

    memset(counts, 0, sizeof(*counts));
    /* uploads of requests that never ended: no row names them.  tmp/
     * itself may be a link (to another disk: the uploads follow it, as
     * <media>/<module> is followed below); nothing in it ever is */
    if (snprintf(path, sizeof(path), "%s/tmp", media) < (int) sizeof(path)
        && (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
    {
        nano_sweep_files(fd, "tmp", NULL, before, counts);
        close(fd);
    }
    if (snprintf(path, sizeof(path), "%s/%s", media, module)
        >= (int) sizeof(path)
        || (d = opendir(path)) == NULL)
    {
        return;
    }
    while ((e = readdir(d)) != NULL && !nano_sweep_stopping()) {
        if (nano_sweep_name_ok(e->d_name)) {
            nano_sweep_user(dirfd(d), module, e->d_name, before, counts);
        }
    }
    closedir(d);
}

/* ---- the thread --------------------------------------------------------- */

static int
nano_sweep_stopping(void)
{
    int  stopping;

    pthread_mutex_lock(&nano_sweep.lock);
    stopping = nano_sweep.stopping;
    pthread_mutex_unlock(&nano_sweep.lock);
    return stopping;
}

/* Sleeps secs unless stopped first: 1 when stopped. */
static int
nano_sweep_sleep(int secs)
{
    struct timespec  until;
    int              stopping;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += secs;
    pthread_mutex_lock(&nano_sweep.lock);
    while (!nano_sweep.stopping
           && pthread_cond_timedwait(&nano_sweep.cond, &nano_sweep.lock,
                                     &until) != ETIMEDOUT)
    {
        /* woken early, or spuriously: wait on */
    }
    stopping = nano_sweep.stopping;
    pthread_mutex_unlock(&nano_sweep.lock);
    return stopping;
}

static void *
nano_sweep_thread(void *arg)
{
    nano_sweep_counts_t  c;
    int                  wait;

    (void) arg;
    wait = nano_sweep.every < NANO_SWEEP_FIRST_MAX ? nano_sweep.every
                                                   : NANO_SWEEP_FIRST_MAX;
    while (!nano_sweep_sleep(wait)) {
        nano_sweep_pass(nano_sweep.module, nano_sweep.media,
                        nano_sweep.grace, &c);
        if (c.files > 0 || c.dirs > 0 || c.skipped > 0) {
            nano_log_info("media sweep of %s: removed %zu files (%lld bytes)"
                          " and %zu folders no generation holds; %zu of %zu"
                          " users left for the next pass", nano_sweep.module,
                          c.files, c.bytes, c.dirs, c.skipped, c.users);
        }
        wait = nano_sweep.every;
    }
    return NULL;
}

int
nano_sweep_start(const char *module, const char *media, char *err,
    size_t errlen)
{
    pthread_condattr_t  attr;

    if (nano_config_env_int("NANO_MEDIA_SWEEP_SECS",
                            NANO_SWEEP_EVERY_DEFAULT, 0, 7 * 86400,
                            &nano_sweep.every, err, errlen) != 0
        || nano_config_env_int("NANO_MEDIA_SWEEP_GRACE_SECS",
                               NANO_SWEEP_GRACE_DEFAULT,
                               NANO_SWEEP_GRACE_MIN, 30 * 86400,
                               &nano_sweep.grace, err, errlen) != 0)
    {
        return -1;
    }
    if (nano_sweep.every == 0) {
        nano_log_info("media sweep of %s: off (NANO_MEDIA_SWEEP_SECS=0)",
                      module);
        return 0;
    }
    if (snprintf(nano_sweep.module, sizeof(nano_sweep.module), "%s", module)
        >= (int) sizeof(nano_sweep.module)
        || snprintf(nano_sweep.media, sizeof(nano_sweep.media), "%s", media)
           >= (int) sizeof(nano_sweep.media))
    {
        snprintf(err, errlen, "media sweep: the module or media path is too"
                 " long");
        return -1;
    }
    if (pthread_condattr_init(&attr) != 0
        || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0
        || pthread_cond_init(&nano_sweep.cond, &attr) != 0)
    {
        snprintf(err, errlen, "media sweep: cannot make its condition");
        return -1;
    }
    pthread_condattr_destroy(&attr);
    nano_sweep.stopping = 0;
    if (pthread_create(&nano_sweep.thread, NULL, nano_sweep_thread, NULL)
        != 0)
    {
        pthread_cond_destroy(&nano_sweep.cond);
        snprintf(err, errlen, "media sweep: cannot start its thread");
        return -1;
    }
    nano_sweep.running = 1;
    nano_log_info("media sweep of %s every %d s: files no generation holds,"
                  " older than %d s", module, nano_sweep.every,
                  nano_sweep.grace);
    return 0;
}

void
nano_sweep_stop(void)
{
    if (!nano_sweep.running) {
        return;
    }
    pthread_mutex_lock(&nano_sweep.lock);
    nano_sweep.stopping = 1;
    pthread_cond_broadcast(&nano_sweep.cond);
    pthread_mutex_unlock(&nano_sweep.lock);
    pthread_join(nano_sweep.thread, NULL);
    pthread_cond_destroy(&nano_sweep.cond);
    nano_sweep.running = 0;
}
