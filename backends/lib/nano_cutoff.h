/*
 * A user's session cut-off ("SessionCutoff"): every session token issued
 * before it is dead, at the platform at once and at the gateways when
 * the revocation snapshot next changes (docs/SESSIONS.md).  Shared by
 * the platform (sign out everywhere, password change) and nano-admin.
 */

#ifndef NANO_CUTOFF_H
#define NANO_CUTOFF_H

#include "nano_db.h"

/*
 * Ends every session of user_id issued before now + 1 and drops their
 * "AuthSession" rows except keep_jti's (NULL: all).  Returns the cut-off
 * in *not_before.
 */
nano_db_status_t nano_cutoff_user(nano_db_t *db, const char *user_id,
    const char *keep_jti, long long *not_before);

/*
 * For a deleted account: every token of user_id dies, those issued later
 * included (a request in flight when it went may still re-issue one),
 * and all its "AuthSession" rows go.
 */
nano_db_status_t nano_cutoff_user_deleted(nano_db_t *db,
    const char *user_id);

#endif /* NANO_CUTOFF_H */
