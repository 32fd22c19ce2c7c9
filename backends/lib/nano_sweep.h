/*
 * The media sweep of a module process (docs/MODULES.md "Media"): a
 * thread that now and then removes the files under <media>/<module>
 * that no generation names, and the uploads under <media>/tmp that no
 * request finished, once they are older than a grace period.  They are
 * what a crash or a lost race leaves behind: a runner killed mid-write,
 * an output whose end was never recorded, an input image whose request
 * died before its admission, a generation deleted while its runner
 * still wrote.  A generation still queued or running is never touched,
 * nor is anything younger than the grace, so work in progress on any
 * host that shares the media folder keeps its files.  In tmp/, shared by
 * every app and sticky, only the files this process's user owns: text
 * modules and the platform run the sweep for those alone.
 */

#ifndef NANO_SWEEP_H
#define NANO_SWEEP_H

#include <stddef.h>

#define NANO_SWEEP_EVERY_DEFAULT  3600  /* NANO_MEDIA_SWEEP_SECS; 0: never */
#define NANO_SWEEP_GRACE_DEFAULT  3600  /* NANO_MEDIA_SWEEP_GRACE_SECS */
#define NANO_SWEEP_GRACE_MIN      60
#define NANO_SWEEP_FIRST_MAX      60    /* the first pass, after start */

typedef struct {
    size_t     users;      /* user folders looked at */
    size_t     skipped;    /* of them, left: their names were not read */
    size_t     files;      /* files removed */
    size_t     dirs;       /* generation folders removed */
    long long  bytes;      /* of the files removed */
} nano_sweep_counts_t;

/*
 * Starts the sweep of module's files under media (the settings from the
 * environment; a bad one is refused with err).  0, or -1.
 */
int nano_sweep_start(const char *module, const char *media, char *err,
    size_t errlen);

/* Stops and joins the thread; harmless when it never started. */
void nano_sweep_stop(void);

/*
 * One pass now, on the calling thread, with the database pool of the
 * process (nano_server_db_get).  Files older than grace_secs go.
 */
void nano_sweep_pass(const char *module, const char *media, int grace_secs,
    nano_sweep_counts_t *counts);

#endif /* NANO_SWEEP_H */
