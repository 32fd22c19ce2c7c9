/*
 * LISTEN and notifications: a channel listened to on the handle's
 * connection, and the wait for what arrives on it (the job runner's
 * wake-up, the platform's revocations).  A reconnect leaves a LISTEN
 * behind: nano_db_connection, in nano_db.c, tells the listener.
 */

#include "nano_db.h"
#include "nano_db_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int db_take_notifies(nano_db_t *db, const char *channel,
    const char *payload, nano_db_notice_fn other, void *arg);

nano_db_status_t
nano_db_listen(nano_db_t *db, const char *channel)
{
    nano_db_status_t  st;
    PGresult         *res;
    char             *ident, *sql;
    size_t            len;

    if (db == NULL || db->in_tx) {
        return NANO_DB_FAILED;
    }
    st = db_connect(db);
    if (st != NANO_DB_OK) {
        return st;
    }
    ident = PQescapeIdentifier(db->conn, channel, strlen(channel));
    if (ident == NULL) {
        db_set_error(db, NULL, PQerrorMessage(db->conn));
        return NANO_DB_FAILED;
    }
    len = strlen(ident) + sizeof("LISTEN ");
    sql = malloc(len);
    if (sql == NULL) {
        PQfreemem(ident);
        db_set_error(db, NULL, "out of memory");
        return NANO_DB_FAILED;
    }
    snprintf(sql, len, "LISTEN %s", ident);
    PQfreemem(ident);
    res = db_run(db, sql, 0, NULL, PGRES_COMMAND_OK, &st);
    PQclear(res);
    free(sql);
    return st;
}

int
nano_db_wait_on(nano_db_t *db, int timeout_ms, const char *channel,
    const char *payload, nano_db_notice_fn other, void *arg)
{
    struct pollfd   pfd;
    int             got, rc;

    if (db == NULL || db->conn == NULL
        || PQstatus(db->conn) != CONNECTION_OK)
    {
        return -1;
    }
    pfd.fd = PQsocket(db->conn);
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (pfd.fd < 0) {
        return -1;
    }
    /* notifications may already sit in libpq's buffer */
    got = db_take_notifies(db, channel, payload, other, arg);
    if (got != 0) {
        return got;
    }
    rc = poll(&pfd, 1, timeout_ms);
    if (rc < 0) {
        return errno == EINTR ? 0 : -1;
    }
    if (rc == 0) {
        return 0;
    }
    return db_take_notifies(db, channel, payload, other, arg);
}

/* Reads what arrived and consumes every notification: 1 when one on
 * channel (any, when NULL) has payload (any, when NULL), 0 when none
 * does, -1 when the connection is lost.  Those on other channels go to
 * other. */
static int
db_take_notifies(nano_db_t *db, const char *channel, const char *payload,
    nano_db_notice_fn other, void *arg)
{
    PGnotify  *n;
    int        got = 0;

    if (!PQconsumeInput(db->conn)) {
        goto lost;
    }
    while ((n = PQnotifies(db->conn)) != NULL) {
        if (channel != NULL && strcmp(n->relname, channel) != 0) {
            if (other != NULL) {
                other(arg, n->relname, n->extra);
            }
        } else {
            got |= payload == NULL || strcmp(n->extra, payload) == 0;
        }
        PQfreemem(n);
    }
    return got;

lost:
    db_set_error(db, "08006", PQerrorMessage(db->conn));
    PQfinish(db->conn);
    db->conn = NULL;
    return -1;
}
