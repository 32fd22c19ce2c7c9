/*
 * Password hashing compatible with V1: bcrypt "$2b$" at cost 12 through
 * libxcrypt; "$2a$", "$2b$" and yescrypt "$y$" hashes verify.  The
 * checks run on a small pool of their own behind a bounded queue, so a
 * flood of sign-ins can hold only a few request workers.
 */

#ifndef NANO_PASSWORD_H
#define NANO_PASSWORD_H

#include <stddef.h>

#define NANO_PASSWORD_COST        12
#define NANO_PASSWORD_MIN_CHARS   8
#define NANO_PASSWORD_MAX_BYTES   72     /* bcrypt reads no further */
#define NANO_PASSWORD_SIGNIN_MAX  1024   /* bytes sign-in still accepts */

typedef enum {
    NANO_PASSWORD_OK = 0,        /* matched, or hashed */
    NANO_PASSWORD_MISMATCH,
    NANO_PASSWORD_BUSY,          /* the queue is full: answer 429 now */
    NANO_PASSWORD_ERROR          /* out of memory, crypt failed */
} nano_password_result_t;

/*
 * NULL when password may be set as a new password (registration, a
 * change), else the reason: not UTF-8, under 8 characters, or over 72
 * bytes, which bcrypt would silently cut.
 */
const char *nano_password_problem(const char *password);

/*
 * Hashes password with a fresh random salt, on the caller's thread.
 * Returns a new string the caller frees with free(), or NULL.
 */
char *nano_password_hash(const char *password);

/*
 * Returns 1 when password matches hash, else 0, on the caller's thread.
 * A NULL hash (no such user, or a user without a password) or a hash of
 * another scheme still costs one bcrypt run against a dummy hash, so the
 * answer's timing does not reveal which accounts exist.  The final
 * compare is constant-time.
 */
int nano_password_verify(const char *password, const char *hash);

/*
 * nano_password_verify on the pool: NANO_PASSWORD_OK, _MISMATCH, _BUSY
 * (without waiting) or _ERROR.  The pool starts on first use with
 * NANO_BCRYPT_THREADS threads (default: cores - 1, at least 1) and a
 * queue of NANO_BCRYPT_QUEUE jobs (default: 4 per thread).
 */
nano_password_result_t nano_password_check(const char *password,
    const char *hash);

/* nano_password_hash on the pool; on NANO_PASSWORD_OK *hash is a new
 * string the caller frees. */
nano_password_result_t nano_password_make(const char *password,
    char **hash);

/* 1 when the queue is full right now, so a caller can answer 429
 * before doing any other work for a request that would be refused. */
int nano_password_saturated(void);

/* Reads the pool's size, NANO_BCRYPT_THREADS (1 to 64) and
 * NANO_BCRYPT_QUEUE (1 to 1024), for a process to call at its start:
 * -1 with the variable named in err when one is bad, which should stop
 * the process rather than become a default.  A process that does not
 * call it gets them read at the pool's first use.  workers (0: none)
 * bounds the defaults: threads and queue together at most half of
 * them, as each holds a request worker while it waits. */
int nano_password_pool_configure(int workers, char *err, size_t errlen);

/* Stops the pool's threads (jobs still queued fail); accepts being
 * called when the pool never started, and twice. */
void nano_password_pool_cleanup(void);

#endif /* NANO_PASSWORD_H */
