/*
 * Translates V1's Prisma DATABASE_URL into a libpq connection URI:
 * ?schema=X becomes options=-c search_path=X, Prisma-only options
 * (connection_limit, pool_timeout, pgbouncer, ...) are dropped, libpq's
 * own options are kept.
 */

#ifndef NANO_DBURL_H
#define NANO_DBURL_H

#include <stddef.h>

/*
 * Returns a new libpq URI (one libpq reads) the caller frees with free(),
 * or NULL with a message in err (never echoing the password).
 */
char *nano_dburl_to_libpq(const char *url, char *err, size_t errlen);

/*
 * 1 when url asks for Prisma's PgBouncer handling (pgbouncer=true in its
 * query), which means a pooler in transaction mode: these processes keep
 * prepared statements and LISTEN on their connections and need session
 * mode (docs/MODULES.md, DB pool), so the pool warns at start.
 */
int nano_dburl_pgbouncer(const char *url);

#endif /* NANO_DBURL_H */
