/*
 * Private to nano_db.c, nano_db_pipeline.c and nano_db_listen.c, and
 * included by them only (as libpq's libpq-int.h is by its fe-*.c): the
 * handle's fields and the helpers the three share.  Everyone else uses
 * nano_db.h.
 */

#ifndef NANO_DB_INT_H
#define NANO_DB_INT_H

#include <libpq-fe.h>

#include "nano_db.h"

#define NANO_DB_TX_TRIES         3      /* nano_db_tx */
/* Statements kept prepared per connection (nano_db_stmt_t.prepare, the
 * early statements): the few hot ones, so a full cache just means the
 * next one runs unprepared. */
#define NANO_DB_PREPARED_MAX     16
#define NANO_DB_NAME_LEN         22     /* "nano_" + 16 hex + NUL */

/*
 * Used by one thread at a time (the pool hands each out to one request
 * or thread): libpq connections are not safe for concurrent use, and a
 * transaction belongs to one connection.
 */
struct nano_db_s {
    char       *uri;            /* libpq URI; holds the password, never
                                   logged */
    PGconn     *conn;
    int         in_tx;          /* the caller opened one (nano_db_begin) */
    int         tx_lost;        /* the connection died inside it */
    int         down;           /* the last connect failed (log recovery
                                   once) */
    long long   fail_until;     /* monotonic ms: fail fast before this */
    int         pending;        /* an early commit or a pipeline unread */
    char       *prepared[NANO_DB_PREPARED_MAX]; /* sql kept on conn */
    int         nprepared;
    int         prepared_stale; /* the server lost or refused one */
    unsigned    connects;       /* connections opened: nano_db_connection */
    unsigned    sends;          /* statements handed to libpq: nano_db_sends */
    int         timed_out;      /* dropped for NANO_DB_TIMEOUT_MS */
    int         said_fatal;     /* the server sent a FATAL while idle */
    char        sqlstate[6];
    char        errmsg[256];
};

/* The connection, statements and transactions (nano_db.c). */
void db_set_error(nano_db_t *db, const char *sqlstate, const char *msg);
int db_params_valid(nano_db_t *db, int nparams, const char *const *params);
nano_db_status_t db_connect(nano_db_t *db);
int db_lost(nano_db_t *db, int reused, int attempt);
PGresult *db_result(nano_db_t *db);
nano_db_status_t db_classify(nano_db_t *db, const PGresult *res);
void db_run_quietly(nano_db_t *db, const char *sql);
PGresult *db_run(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, ExecStatusType expect,
    nano_db_status_t *status);
void db_tx_backoff(int next);

/* Prepared statements (nano_db.c). */
const char *db_prepared_name(nano_db_t *db, const char *sql, int nparams,
    char *name, size_t cap);
void db_check_stale(nano_db_t *db);
int db_send(nano_db_t *db, const char *sql, int nparams,
    const char *const *params, const char *name);

#endif /* NANO_DB_INT_H */
