/*
 * The process's database connections: a small capped pool shared by the
 * request workers and an app's own threads (job runners), separate from
 * the HTTP threads.  Handles are made lazily from DATABASE_URL; a
 * connection that comes back with a transaction open is rolled back
 * before anyone else gets it.
 */

#ifndef NANO_DBPOOL_H
#define NANO_DBPOOL_H

#include <pthread.h>
#include <stdatomic.h>

#include "nano_db.h"

#define NANO_DBPOOL_DEFAULT       8      /* NANO_DB_POOL */
#define NANO_DBPOOL_MAX           64
#define NANO_DBPOOL_WAIT_DEFAULT  5000   /* ms, NANO_DB_POOL_WAIT_MS */
#define NANO_DBPOOL_WAIT_MAX      60000

typedef struct {
    pthread_mutex_t   lock;
    pthread_cond_t    freed;
    char             *url;        /* DATABASE_URL; NULL: no database */
    nano_db_t       **idle;       /* size slots, nidle of them filled */
    int               nidle;
    int               made;       /* handles that exist (idle or out) */
    int               size;
    int               wait_ms;    /* what nano_server_db waits */
    int               ready;      /* init succeeded: lock and cond exist */
    atomic_int        warned;     /* "no DATABASE_URL" logged */
} nano_dbpool_t;

/*
 * Reads the sizes from the environment: NANO_DB_POOL (connections,
 * 1..NANO_DBPOOL_MAX, default 8) and NANO_DB_POOL_WAIT_MS (how long a
 * request waits for one, 1..NANO_DBPOOL_WAIT_MAX, default 5000), and
 * the handles' answer timeout (nano_db_config).  Returns 0, or -1 with
 * the reason in err.
 */
int nano_dbpool_config(int *size, int *wait_ms, char *err, size_t errlen);

/*
 * Prepares an empty pool of size handles for database_url (copied; NULL
 * or "" makes a pool that hands out nothing).  The URL is checked at
 * once (nano_db_new, which does not connect).  Returns 0, or -1 with
 * the reason in err (a URL that cannot be one, naming DATABASE_URL and
 * never its password; out of memory).
 */
int nano_dbpool_init(nano_dbpool_t *pool, const char *database_url,
    int size, int wait_ms, char *err, size_t errlen);

/* Frees the idle handles (all must be back); accepts NULL, runs twice. */
void nano_dbpool_cleanup(nano_dbpool_t *pool);

/*
 * A handle for the caller alone, waiting up to wait_ms (0: do not wait)
 * for one to come back.  NULL on timeout or without a usable URL.
 * Give it back with nano_dbpool_put.
 */
nano_db_t *nano_dbpool_get(nano_dbpool_t *pool, int wait_ms);

/* Gives db back (NULL is ignored); a transaction left open is rolled
 * back first, with a warning naming who (a route, a thread). */
void nano_dbpool_put(nano_dbpool_t *pool, nano_db_t *db, const char *who);

#endif /* NANO_DBPOOL_H */
