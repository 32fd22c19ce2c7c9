/*
 * Session revocations: the snapshot file the platform writes and every
 * gateway worker reads.  Plain C, no nginx types: the platform (writer),
 * the nginx module (reader), the unit tests and the fuzzer share it.
 *
 * The file is text, one entry per line, "\n" line ends:
 *
 *     nano-revocations 1
 *     generated <unix seconds>
 *     s <expires> <jti>
 *     u <not-before> <user id>
 *
 * "s": the session whose token carries jti is revoked; kept until
 * <expires>, the revoked token's own exp.  "u": every token of the user
 * (the sub claim) whose iat is before <not-before>, or that has no iat,
 * is revoked; kept until <not-before> + NANO_TOKEN_MAX_AGE, when every
 * such token has expired anyway.  Ids are written percent-encoded:
 * every byte outside 0x21..0x7e, and '%', becomes %XX (upper-case hex),
 * so ids of any bytes stay one field.  Numbers are decimal, no sign.
 * The writer replaces the file atomically (write, then rename).
 *
 * The reader is strict: every line, the last included, ends with "\n"
 * (a file cut short is refused), a CR before it is refused, fields are
 * separated by exactly one space, numbers have no leading zeros, "%XX"
 * takes hex digits of either case but never encodes NUL, a decoded id
 * has 1 to NANO_REVOKE_ID_MAX bytes.  A file holding only the two header
 * lines is a valid, empty snapshot.  The same id twice is not an error:
 * the entry that revokes more (later expiry, later cut-off) is kept.
 */

#ifndef NANO_REVOKE_H
#define NANO_REVOKE_H

#include <stddef.h>

#include "nano_token.h"

#define NANO_REVOKE_MAGIC        "nano-revocations 1"
/* How long past its end the writer keeps an entry: a gateway accepts a
 * token up to nano_auth_leeway after its exp, so any leeway up to this
 * still finds the revocation. */
#define NANO_REVOKE_GRACE        300
#define NANO_REVOKE_FILE_MAX     (64 * 1024 * 1024)
#define NANO_REVOKE_ENTRIES_MAX  1000000
#define NANO_REVOKE_ID_MAX       255       /* bytes of a decoded id */
/* the longest line: "u " + 20 digits + " " + 3 * ID_MAX + "\n" */
#define NANO_REVOKE_LINE_MAX     (2 + 20 + 1 + 3 * NANO_REVOKE_ID_MAX + 2)

/* Opaque and immutable once parsed: threads may check concurrently. */
typedef struct nano_revoke_s  nano_revoke_t;

/*
 * Parses len bytes of a snapshot.  Entries already dead at now are
 * dropped, so the table stays bounded by what can still matter.
 * Returns a new snapshot (caller frees with nano_revoke_free) or NULL
 * with a message in err: a file that is not exactly this format is
 * refused whole, never half-read.
 */
nano_revoke_t *nano_revoke_parse(const char *buf, size_t len, long long now,
    char *err, size_t errlen);

/* Accepts NULL. */
void nano_revoke_free(nano_revoke_t *rv);

/* Entries kept (sessions plus users). */
size_t nano_revoke_count(const nano_revoke_t *rv);

/* The "generated" stamp of the snapshot. */
long long nano_revoke_generated(const nano_revoke_t *rv);

/*
 * 1 when a token with these verified claims is revoked: its jti is
 * listed, or its sub has a not-before later than its iat (or it has no
 * iat).  0 otherwise; a NULL snapshot revokes nothing.
 */
int nano_revoke_check(const nano_revoke_t *rv, const nano_claims_t *claims);

/*
 * Writer side.  Each formats one line (with its "\n") into out, cap
 * bytes, NUL-terminated, and returns its length, or -1 when it does not
 * fit or an id is empty or longer than NANO_REVOKE_ID_MAX.
 */
int nano_revoke_format_header(char *out, size_t cap, long long generated);
int nano_revoke_format_session(char *out, size_t cap, const char *jti,
    long long expires);
int nano_revoke_format_user(char *out, size_t cap, const char *user_id,
    long long not_before);

#endif /* NANO_REVOKE_H */
