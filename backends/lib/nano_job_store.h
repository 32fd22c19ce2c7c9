/*
 * A job's output files and folders under the media root, and a deleted
 * user's folder removed (nano_job_store.c).
 */

#ifndef NANO_JOB_STORE_H
#define NANO_JOB_STORE_H

#include "nano_db.h"
#include "nano_jobs.h"

/*
 * Writes len bytes of an output file into the job's media folder
 * (NANO_MEDIA_DIR/<module>/<user>/<generation>/) and records it in
 * job->outputs.  Returns 0, or -1 (logged) when it cannot.
 *
 * An output is written under a temporary name of its own,
 * ".<n>-<random>.<ext>.tmp" (0640), and renamed to "<n>-<random>.<ext>"
 * once whole, before the job's end is recorded: a success the database
 * records always has its files, and a runner that lost the job (another
 * took it over) writes, renames and removes only names it made.  When
 * the end is not recorded (the row is gone or held by another runner),
 * the runner removes what it wrote (docs/MODULES.md "Jobs").
 */
#define NANO_JOB_NAME_RANDOM  8       /* random bytes in an output's name */

/* A job's own failure, not the provider's: its output could not be
 * written under the media folder (full, read-only; the log says why). */
#define NANO_JOB_ERR_STORAGE  "storage"
int nano_job_store(nano_job_t *job, const void *data, size_t len,
    const char *mime, const char *ext, int width, int height);

/* The temporary path of the next output (for writers that make the file
 * themselves, 0640, such as the offline video; the folder is made),
 * then nano_job_stored() with it, which renames it into place (or
 * removes it when it cannot).  0 or -1. */
int nano_job_next_path(nano_job_t *job, const char *ext, char *path,
    size_t cap);
int nano_job_stored(nano_job_t *job, const char *path, const char *mime,
    int width, int height);

/* The name a temporary output path is renamed to: "<dir>/.<name>.tmp"
 * gives "<dir>/<name>" in out.  -1 for any other path, or when out
 * (cap bytes) is too small. */
int nano_job_final_path(const char *tmp, char *out, size_t cap);

/* The media root (NANO_MEDIA_DIR, default <NANO_ROOT>/.state/media),
 * set by nano_jobs_start (nano_job_media_set: -1 when too long). */
const char *nano_job_media_root(void);
int nano_job_media_set(const char *media);

/*
 * Makes dir (nano_file_mkdirs), then calls put(arg), which puts a file
 * into it and returns 0, or -1 with errno set.  When put fails with
 * ENOENT, dir was removed in between, and both are done again, three
 * tries in all.  0, -1 when put failed, -2 when dir cannot be made
 * (errno set).
 */
int nano_job_mkdirs_put(const char *dir, int (*put)(void *arg), void *arg);

/*
 * The runner's, for a job whose end is not recorded: removes what this
 * runner wrote for it (its outputs, its folder when empty, the parents
 * it made when empty); _owner, after it when the row went with its
 * account, the user's folder too when empty.
 */
void nano_job_discard(nano_job_t *job);
void nano_job_discard_owner(nano_db_t *db, nano_job_t *job);

/*
 * A deleted user's folder of a module (<media>/<module>/<user>) removed
 * on a thread of its own: a heavy user's tens of thousands of files took
 * the runner 40 s, and every other user's job of the module waited that
 * long with its lease unrenewed.  At most NANO_JOBS_REMOVERS at once;
 * past them, or when no thread can be made, the folder is left to the
 * media sweep (said in the log).  0 when a removal started, else -1.
 */
#define NANO_JOBS_REMOVERS  4
int nano_jobs_remove_user(const char *media, const char *module,
    const char *user_id);

#endif /* NANO_JOB_STORE_H */
