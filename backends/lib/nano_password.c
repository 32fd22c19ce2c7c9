/*
 * bcrypt/yescrypt password hashes via libxcrypt's reentrant API, and
 * the bounded pool they run on.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <crypt.h>
#include <openssl/crypto.h>

#include "nano_config.h"
#include "nano_log.h"
#include "nano_password.h"
#include "nano_utf8.h"

#define NANO_PASSWORD_THREADS_MAX  64
#define NANO_PASSWORD_QUEUE_MAX    1024
#define NANO_PASSWORD_NICE         10

/* One check or hash, on the stack of the request worker that waits. */
typedef struct {
    const char              *password;
    const char              *hash;       /* NULL: make a new hash */
    char                    *made;
    nano_password_result_t   result;
    int                      done;
    pthread_cond_t           cond;
} nano_password_job_t;

/* The pool: a ring of waiting jobs and the threads that run them. */
static struct {
    pthread_once_t           once;
    pthread_mutex_t          lock;
    pthread_cond_t           work;
    pthread_t                threads[NANO_PASSWORD_THREADS_MAX];
    int                      nthreads;
    nano_password_job_t    **ring;
    int                      cap, head, len;
    int                      stopping;
    int                      failed;      /* could not start: run inline */
    int                      want_threads;  /* 0: not configured yet */
    int                      want_queue;
} nano_password_pool = {
    .once = PTHREAD_ONCE_INIT,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
};

/* A cost-12 bcrypt hash of a random string nobody knows; verifying
 * against it takes as long as verifying a real account (a cheaper one is
 * padded: nano_password_pad). */
static const char  nano_password_dummy[] =
    "$2b$12$uHdkKjvyOZtykukjjOk2iegMK1ItuWo1Nf3J7rEzSCIClMQ5kLtli";

static int
nano_password_scheme_ok(const char *hash)
{
    return strncmp(hash, "$2a$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0
           || strncmp(hash, "$y$", 3) == 0;
}

char *
nano_password_hash(const char *password)
{
    struct crypt_data  *cd;
    char                salt[CRYPT_GENSALT_OUTPUT_SIZE];
    char               *out = NULL;
    const char         *h;

    /* crypt_data is ~32 KiB: keep it off worker stacks. */
    cd = calloc(1, sizeof(*cd));
    if (cd == NULL) {
        return NULL;
    }
    /* NULL random bytes: libxcrypt reads the kernel's CSPRNG itself. */
    if (crypt_gensalt_rn("$2b$", NANO_PASSWORD_COST, NULL, 0, salt,
                         sizeof(salt)) == NULL)
    {
        goto out;
    }
    h = crypt_rn(password, salt, cd, sizeof(*cd));
    if (h == NULL || h[0] == '*') {
        goto out;
    }
    out = strdup(h);
out:
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return out;
}

/*
 * The work a bcrypt hash cheaper than the dummy (V1's "$2a$10$") lacks,
 * done on the dummy's salt: runs of cost c, c + 1, ... up to the dummy's
 * cost less one make, with the hash's own run of cost c, the 2^12 rounds
 * of the dummy's.  A wrong password for such an account then takes as
 * long as one for an email nobody registered, which is checked against
 * the dummy: a quarter of the time told V1's accounts apart.
 */
static void
nano_password_pad(const char *hash, struct crypt_data *cd)
{
    char  setting[32];
    int   cost;

    if ((strncmp(hash, "$2a$", 4) != 0 && strncmp(hash, "$2b$", 4) != 0)
        || hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9'
        || hash[6] != '$')
    {
        return;
    }
    cost = (hash[4] - '0') * 10 + (hash[5] - '0');
    for (cost = cost < 4 ? 4 : cost; cost < NANO_PASSWORD_COST; cost++) {
        snprintf(setting, sizeof(setting), "$2b$%02d$%.22s", cost,
                 nano_password_dummy + 7);
        (void) crypt_rn("", setting, cd, sizeof(*cd));
    }
}

int
nano_password_verify(const char *password, const char *hash)
{
    struct crypt_data  *cd;
    const char         *setting, *h;
    size_t              len;
    int                 ok = 0, real;

    real = hash != NULL && nano_password_scheme_ok(hash);
    setting = real ? hash : nano_password_dummy;

    cd = calloc(1, sizeof(*cd));
    if (cd == NULL) {
        return 0;
    }
    h = crypt_rn(password != NULL ? password : "", setting, cd, sizeof(*cd));
    if (h == NULL || h[0] == '*' || !real) {
        goto out;
    }
    len = strlen(setting);
    ok = strlen(h) == len && CRYPTO_memcmp(h, setting, len) == 0;
    /* after the compare: the padding's runs reuse cd, where h points */
    nano_password_pad(setting, cd);
out:
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ok;
}

const char *
nano_password_problem(const char *password)
{
    long  chars;

    if (strlen(password) > NANO_PASSWORD_MAX_BYTES) {
        return "the password must be at most 72 bytes long (bcrypt ignores"
               " anything after that)";
    }
    chars = nano_utf8_count(password, strlen(password));
    if (chars < 0) {
        return "the password is not valid UTF-8";
    }
    if (chars < NANO_PASSWORD_MIN_CHARS) {
        return "the password must be at least 8 characters long";
    }
    return NULL;
}

static void
nano_password_run(nano_password_job_t *job)
{
    if (job->hash == NULL) {
        job->made = nano_password_hash(job->password);
        job->result = job->made != NULL ? NANO_PASSWORD_OK
                                        : NANO_PASSWORD_ERROR;
    } else {
        job->result = nano_password_verify(job->password, job->hash)
                      ? NANO_PASSWORD_OK : NANO_PASSWORD_MISMATCH;
    }
}

static void *
nano_password_thread(void *arg)
{
    nano_password_job_t  *job;

    (void) arg;
    /* bcrypt is the one thing here that eats whole cores: it yields to
     * every other request (Linux nices threads one by one) */
    if (setpriority(PRIO_PROCESS, (id_t) gettid(), NANO_PASSWORD_NICE) != 0) {
        nano_log_warn("password pool: cannot lower its priority");
    }
    pthread_mutex_lock(&nano_password_pool.lock);
    for ( ;; ) {
        while (nano_password_pool.len == 0 && !nano_password_pool.stopping) {
            pthread_cond_wait(&nano_password_pool.work,
                              &nano_password_pool.lock);
        }
        if (nano_password_pool.len == 0) {
            break;
        }
        job = nano_password_pool.ring[nano_password_pool.head];
        nano_password_pool.head = (nano_password_pool.head + 1)
                                  % nano_password_pool.cap;
        nano_password_pool.len--;

        pthread_mutex_unlock(&nano_password_pool.lock);
        nano_password_run(job);
        pthread_mutex_lock(&nano_password_pool.lock);

        job->done = 1;
        pthread_cond_signal(&job->cond);
    }
    pthread_mutex_unlock(&nano_password_pool.lock);
    return NULL;
}

/* The pool's default size: cores - 1 threads (at least 1, at most the
 * 64 the pool holds: on a host of more cores the default overran
 * threads[]), a queue of 4 jobs each. */
static int
nano_password_default_threads(void)
{
    long  cores = sysconf(_SC_NPROCESSORS_ONLN);

    if (cores > NANO_PASSWORD_THREADS_MAX) {
        return NANO_PASSWORD_THREADS_MAX;
    }
    return cores > 2 ? (int) (cores - 1) : 1;
}

/* Each thread and each queued job is a request worker waiting, so with
 * workers known the defaults fit in half of them, the rest kept for every
 * other request: 4 cores gave 3 + 12, and a flood held all 12 of the
 * platform's workers, never filled the queue (no 429) and kept the
 * other requests waiting 1 to 2 s each (found by the limits probe). */
static int
nano_password_default_queue(int threads, int workers)
{
    int  queue = 4 * threads;

    if (workers > 0 && threads + queue > workers / 2) {
        queue = workers / 2 - threads;
    }
    return queue > 0 ? queue : 1;
}

int
nano_password_pool_configure(int workers, char *err, size_t errlen)
{
    int  threads, queue;

    threads = nano_password_default_threads();
    if (workers > 0 && threads > workers / 2 - 1) {
        threads = workers / 2 - 1 > 0 ? workers / 2 - 1 : 1;
    }
    if (nano_config_env_int("NANO_BCRYPT_THREADS", threads, 1,
                            NANO_PASSWORD_THREADS_MAX, &threads, err,
                            errlen) != 0
        || nano_config_env_int("NANO_BCRYPT_QUEUE",
                               nano_password_default_queue(threads,
                                                           workers), 1,
                               NANO_PASSWORD_QUEUE_MAX, &queue, err,
                               errlen) != 0)
    {
        return -1;
    }
    nano_password_pool.want_threads = threads;
    nano_password_pool.want_queue = queue;
    return 0;
}

static void
nano_password_pool_start(void)
{
    char  err[160];
    int   threads, queue, i;

    /* A process that did not configure the pool at its start (a tool, a
     * test) reads the settings now, when a bad one can no longer stop
     * it: the defaults serve, and the log says so. */
    if (nano_password_pool.want_threads == 0
        && nano_password_pool_configure(0, err, sizeof(err)) != 0)
    {
        nano_log_error("%s; the password pool uses its defaults", err);
        nano_password_pool.want_threads = nano_password_default_threads();
        nano_password_pool.want_queue = 4 * nano_password_pool.want_threads;
    }
    threads = nano_password_pool.want_threads;
    queue = nano_password_pool.want_queue;

    nano_password_pool.ring = calloc((size_t) queue,
                                     sizeof(nano_password_job_t *));
    if (nano_password_pool.ring == NULL) {
        goto failed;
    }
    nano_password_pool.cap = queue;
    for (i = 0; i < threads; i++) {
        if (pthread_create(&nano_password_pool.threads[i], NULL,
                           nano_password_thread, NULL) != 0)
        {
            break;
        }
        nano_password_pool.nthreads++;
    }
    if (nano_password_pool.nthreads == 0) {
        goto failed;
    }
    nano_log_info("password pool: %d thread(s), queue of %d",
                  nano_password_pool.nthreads, queue);
    return;

failed:
    nano_log_error("cannot start the password pool; hashing inline");
    nano_password_pool.failed = 1;
}

/* Queues job and waits for it; NANO_PASSWORD_BUSY when the queue is full. */
static nano_password_result_t
nano_password_submit(nano_password_job_t *job)
{
    nano_password_result_t  rc;

    pthread_once(&nano_password_pool.once, nano_password_pool_start);
    if (nano_password_pool.failed) {
        nano_password_run(job);
        return job->result;
    }

    job->done = 0;
    job->made = NULL;
    if (pthread_cond_init(&job->cond, NULL) != 0) {
        return NANO_PASSWORD_ERROR;
    }

    pthread_mutex_lock(&nano_password_pool.lock);
    if (nano_password_pool.stopping) {
        rc = NANO_PASSWORD_ERROR;
        goto out;
    }
    if (nano_password_pool.len == nano_password_pool.cap) {
        rc = NANO_PASSWORD_BUSY;
        goto out;
    }
    nano_password_pool.ring[(nano_password_pool.head + nano_password_pool.len)
                            % nano_password_pool.cap] = job;
    nano_password_pool.len++;
    pthread_cond_signal(&nano_password_pool.work);

    while (!job->done) {
        pthread_cond_wait(&job->cond, &nano_password_pool.lock);
    }
    rc = job->result;
out:
    pthread_mutex_unlock(&nano_password_pool.lock);
    pthread_cond_destroy(&job->cond);
    return rc;
}

int
nano_password_saturated(void)
{
    int  full;

    pthread_once(&nano_password_pool.once, nano_password_pool_start);
    pthread_mutex_lock(&nano_password_pool.lock);
    full = !nano_password_pool.failed
           && nano_password_pool.len == nano_password_pool.cap;
    pthread_mutex_unlock(&nano_password_pool.lock);
    return full;
}

nano_password_result_t
nano_password_check(const char *password, const char *hash)
{
    nano_password_job_t  job;

    memset(&job, 0, sizeof(job));
    job.password = password != NULL ? password : "";
    /* a NULL hash still costs one run: see nano_password_verify */
    job.hash = hash != NULL ? hash : "";
    return nano_password_submit(&job);
}

nano_password_result_t
nano_password_make(const char *password, char **hash)
{
    nano_password_job_t     job;
    nano_password_result_t  rc;

    memset(&job, 0, sizeof(job));
    job.password = password;
    rc = nano_password_submit(&job);
    *hash = rc == NANO_PASSWORD_OK ? job.made : NULL;
    if (rc != NANO_PASSWORD_OK) {
        free(job.made);
    }
    return rc;
}

void
nano_password_pool_cleanup(void)
{
    int  i, n;

    pthread_mutex_lock(&nano_password_pool.lock);
    nano_password_pool.stopping = 1;
    n = nano_password_pool.nthreads;
    nano_password_pool.nthreads = 0;
    pthread_cond_broadcast(&nano_password_pool.work);
    pthread_mutex_unlock(&nano_password_pool.lock);

    /* threads finish what is queued, then see stopping and leave */
    for (i = 0; i < n; i++) {
        pthread_join(nano_password_pool.threads[i], NULL);
    }
    /* stopping stays set, so nothing touches the ring again */
    free(nano_password_pool.ring);
    nano_password_pool.ring = NULL;
}
