/*
 * A capped pool of database handles: mutex, condition variable, lazily
 * made handles.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_clock.h"
#include "nano_config.h"
#include "nano_dbpool.h"
#include "nano_dburl.h"
#include "nano_log.h"

int
nano_dbpool_config(int *size, int *wait_ms, char *err, size_t errlen)
{
    if (nano_config_env_int("NANO_DB_POOL", NANO_DBPOOL_DEFAULT, 1,
                            NANO_DBPOOL_MAX, size, err, errlen) != 0
        || nano_config_env_int("NANO_DB_POOL_WAIT_MS",
                               NANO_DBPOOL_WAIT_DEFAULT, 1,
                               NANO_DBPOOL_WAIT_MAX, wait_ms, err, errlen)
           != 0
        || nano_db_config(err, errlen) != 0)
    {
        return -1;
    }
    return 0;
}

int
nano_dbpool_init(nano_dbpool_t *pool, const char *database_url, int size,
    int wait_ms, char *err, size_t errlen)
{
    pthread_condattr_t   attr;
    nano_db_t           *db;
    int                  rc = -1;

    memset(pool, 0, sizeof(*pool));
    snprintf(err, errlen, "out of memory");
    pool->size = size > 0 ? size : 1;
    pool->wait_ms = wait_ms;
    pool->idle = calloc((size_t) pool->size, sizeof(*pool->idle));
    if (pool->idle == NULL) {
        goto out;
    }
    if (database_url != NULL && database_url[0] != '\0') {
        /* a handle does not connect yet: this checks the URL only */
        db = nano_db_new(database_url, err, errlen);
        if (db == NULL) {
            goto out;
        }
        pool->url = strdup(database_url);
        if (pool->url == NULL) {
            snprintf(err, errlen, "out of memory");
            nano_db_free(db);
            goto out;
        }
        pool->idle[pool->nidle++] = db;
        pool->made = 1;
        if (nano_dburl_pgbouncer(database_url)) {
            nano_log_warn("DATABASE_URL has pgbouncer=true, Prisma's"
                          " setting for PgBouncer's transaction mode;"
                          " these processes need a pooler in session"
                          " mode (prepared statements, LISTEN):"
                          " docs/MODULES.md, DB pool");
        }
    }
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        goto out;
    }
    /* waits are timed on the monotonic clock: a clock step never makes
     * one last an hour or end at once */
    if (pthread_condattr_init(&attr) != 0) {
        pthread_mutex_destroy(&pool->lock);
        goto out;
    }
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0
        || pthread_cond_init(&pool->freed, &attr) != 0)
    {
        pthread_condattr_destroy(&attr);
        pthread_mutex_destroy(&pool->lock);
        goto out;
    }
    pthread_condattr_destroy(&attr);
    pool->ready = 1;
    rc = 0;
out:
    if (rc != 0) {
        nano_dbpool_cleanup(pool);
    }
    return rc;
}

void
nano_dbpool_cleanup(nano_dbpool_t *pool)
{
    int  i;

    if (pool == NULL) {
        return;
    }
    if (pool->made > pool->nidle) {
        nano_log_warn("db pool: %d connection(s) still in use at exit",
                      pool->made - pool->nidle);
    }
    for (i = 0; i < pool->nidle; i++) {
        nano_db_free(pool->idle[i]);
    }
    free(pool->idle);
    if (pool->url != NULL) {
        /* it may hold a password */
        explicit_bzero(pool->url, strlen(pool->url));
        free(pool->url);
    }
    if (pool->ready) {
        pthread_cond_destroy(&pool->freed);
        pthread_mutex_destroy(&pool->lock);
    }
    memset(pool, 0, sizeof(*pool));
}

nano_db_t *
nano_dbpool_get(nano_dbpool_t *pool, int wait_ms)
{
    struct timespec   deadline;
    nano_db_t        *db = NULL;
    char              err[256];
    int               make = 0, rc = 0;

    if (!pool->ready || pool->url == NULL) {
        if (pool->ready && atomic_exchange(&pool->warned, 1) == 0) {
            nano_log_error("DATABASE_URL is not set; database requests"
                           " answer 503");
        }
        return NULL;
    }
    nano_clock_after(CLOCK_MONOTONIC, wait_ms, &deadline);

    pthread_mutex_lock(&pool->lock);
    while (pool->nidle == 0 && pool->made == pool->size && rc == 0) {
        rc = wait_ms > 0 ? pthread_cond_timedwait(&pool->freed, &pool->lock,
                                                  &deadline)
                         : ETIMEDOUT;
    }
    if (pool->nidle > 0) {
        db = pool->idle[--pool->nidle];
    } else if (pool->made < pool->size) {
        pool->made++;               /* made outside the lock, below */
        make = 1;
    }
    pthread_mutex_unlock(&pool->lock);

    if (make) {
        db = nano_db_new(pool->url, err, sizeof(err));
        if (db == NULL) {
            nano_log_error("db pool: %s", err);
            pthread_mutex_lock(&pool->lock);
            pool->made--;
            pthread_cond_signal(&pool->freed);
            pthread_mutex_unlock(&pool->lock);
        }
    }
    if (db == NULL && !make) {
        nano_log_warn("db pool: all %d connections stayed busy for %d ms",
                      pool->size, wait_ms);
    }
    return db;
}

void
nano_dbpool_put(nano_dbpool_t *pool, nano_db_t *db, const char *who)
{
    if (db == NULL) {
        return;
    }
    if (nano_db_pending(db)) {
        nano_log_warn("%s left an early commit or a pipeline unread;"
                      " read it", who);
        nano_db_settle(db);
    }
    if (nano_db_in_tx(db)) {
        nano_log_warn("%s left a transaction open; rolled back", who);
        nano_db_rollback(db);
    }
    pthread_mutex_lock(&pool->lock);
    pool->idle[pool->nidle++] = db;
    pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->lock);
}
