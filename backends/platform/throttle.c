/*
 * Per-account sign-in throttle in "SignInThrottle" (docs/SESSIONS.md):
 * attempts are counted before bcrypt runs, so a flood for one account
 * is refused without costing a hash; the state is in the database, so
 * every platform process on every host sees the same count.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "platform.h"

#define PLATFORM_THROTTLE_WINDOW    (15 * 60)   /* seconds */
#define PLATFORM_THROTTLE_ATTEMPTS  10          /* per window */
#define PLATFORM_THROTTLE_LOCK      60          /* first lock, seconds */
#define PLATFORM_THROTTLE_LOCK_MAX  3600
#define PLATFORM_THROTTLE_FORGET    (24 * 3600) /* lock-free: start over */

/* The row's key: SHA-256 of the normalised email, in hex. */
static void
platform_throttle_key(const char *email, char *hex)
{
    unsigned char  md[SHA256_DIGEST_LENGTH];
    size_t         i;

    SHA256((const unsigned char *) email, strlen(email), md);
    for (i = 0; i < sizeof(md); i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
}

/* The lock after `lockouts` earlier ones: 1 min, 2, 4, ... up to 1 h. */
static long long
platform_throttle_lock(long long lockouts)
{
    long long  secs = PLATFORM_THROTTLE_LOCK;

    while (lockouts-- > 0 && secs < PLATFORM_THROTTLE_LOCK_MAX) {
        secs *= 2;
    }
    return secs < PLATFORM_THROTTLE_LOCK_MAX ? secs
                                             : PLATFORM_THROTTLE_LOCK_MAX;
}

/*
 * The row is every host's: its times are the database's, so a lock one
 * host set holds on a host whose clock runs ahead (that host ignored
 * it, found by the hosts probe) and a host behind locks no longer.
 */
nano_db_status_t
platform_throttle_attempt(nano_db_t *db, const char *email,
    long long *retry_after)
{
#define PLATFORM_THROTTLE_NOW  "extract(epoch FROM now())::bigint"
    /* one statement makes the row when there is none and locks it: a
     * row another request removed between a separate INSERT ... DO
     * NOTHING and SELECT ... FOR UPDATE (a right password's sign-in in
     * another tab clears it, the minutely cleanup drops old ones) left
     * nothing to count in, and the sign-in answered 500 (found by the
     * races probe).  A row removed while this waits for its lock is made
     * again. */
    static const char   lock[] =
        "INSERT INTO \"SignInThrottle\" (\"key\", \"windowStart\")"
        " VALUES ($1, " PLATFORM_THROTTLE_NOW ")"
        " ON CONFLICT (\"key\") DO UPDATE SET \"key\" = EXCLUDED.\"key\""
        " RETURNING \"attempts\", \"windowStart\", \"lockedUntil\","
        " \"lockouts\", " PLATFORM_THROTTLE_NOW;
#undef PLATFORM_THROTTLE_NOW
    static const char   save[] =
        "UPDATE \"SignInThrottle\" SET \"attempts\" = $2,"
        " \"windowStart\" = $3, \"lockedUntil\" = $4, \"lockouts\" = $5"
        " WHERE \"key\" = $1";
    char                key[2 * SHA256_DIGEST_LENGTH + 1];
    char                v[4][24];
    const char         *params[5];
    long long           attempts, start, until, lockouts, now;
    nano_db_status_t    st;
    PGresult           *r;

    *retry_after = 0;
    platform_throttle_key(email, key);
    params[0] = key;

    st = nano_db_begin(db);
    if (st != NANO_DB_OK) {
        return st;
    }
    r = nano_db_exec(db, lock, 1, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        goto failed;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        st = NANO_DB_FAILED;
        goto failed;
    }
    attempts = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    start = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    until = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    lockouts = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    now = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    PQclear(r);

    if (until > now) {
        /* locked: nothing changes, nothing is hashed */
        *retry_after = until - now;
        nano_db_rollback(db);
        return NANO_DB_OK;
    }
    if (start + PLATFORM_THROTTLE_WINDOW <= now) {
        if (until + PLATFORM_THROTTLE_FORGET <= now) {
            lockouts = 0;
        }
        attempts = 0;
        start = now;
    }
    if (++attempts > PLATFORM_THROTTLE_ATTEMPTS) {
        until = now + platform_throttle_lock(lockouts);
        lockouts++;
        attempts = 0;
        start = now;
        *retry_after = until - now;
    }

    snprintf(v[0], sizeof(v[0]), "%lld", attempts);
    snprintf(v[1], sizeof(v[1]), "%lld", start);
    snprintf(v[2], sizeof(v[2]), "%lld", until);
    snprintf(v[3], sizeof(v[3]), "%lld", lockouts);
    params[1] = v[0];
    params[2] = v[1];
    params[3] = v[2];
    params[4] = v[3];
    PQclear(nano_db_exec(db, save, 5, params, PGRES_COMMAND_OK, &st));
    if (st != NANO_DB_OK) {
        goto failed;
    }
    return nano_db_commit(db);

failed:
    nano_db_rollback(db);
    return st;
}

nano_db_status_t
platform_throttle_clear(nano_db_t *db, const char *email)
{
    static const char   sql[] =
        "DELETE FROM \"SignInThrottle\" WHERE \"key\" = $1";
    char                key[2 * SHA256_DIGEST_LENGTH + 1];
    const char         *params[1] = { key };
    nano_db_status_t    st;

    platform_throttle_key(email, key);
    PQclear(nano_db_exec(db, sql, 1, params, PGRES_COMMAND_OK, &st));
    return st;
}
