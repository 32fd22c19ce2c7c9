/*
 * Password hashing compatible with V1: bcrypt "$2b$" at cost 12 through
 * libxcrypt; "$2a$", "$2b$" and yescrypt "$y$" hashes verify.
 */

#ifndef NANO_PASSWORD_H
#define NANO_PASSWORD_H

#define NANO_PASSWORD_COST  12

/*
 * Hashes password with a fresh random salt.  Returns a new string the
 * caller frees with free(), or NULL on failure.
 */
char *nano_password_hash(const char *password);

/*
 * Returns 1 when password matches hash, else 0.  A NULL hash (no such
 * user, or a user without a password) or a hash of another scheme still
 * costs one bcrypt run against a dummy hash, so the answer's timing does
 * not reveal which accounts exist.  The final compare is constant-time.
 */
int nano_password_verify(const char *password, const char *hash);

#endif /* NANO_PASSWORD_H */
