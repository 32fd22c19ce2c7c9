/*
 * nano-admin sessions revoke: the user's cut-off, as "sign out
 * everywhere" makes it.  The platform's publisher hears the NOTIFY and
 * rewrites the revocation snapshot; the gateways read it within a
 * second, so every session ends within 2 s.
 */

#include <stdio.h>

#include "admin.h"
#include "nano_cutoff.h"

int
admin_sessions_revoke(nano_db_t *db, int argc, char **argv)
{
    char               id[64];
    long long          not_before;
    nano_db_status_t   st;
    int                rc;

    if (argc != 1) {
        fputs("usage: nano-admin sessions revoke <email>\n", stderr);
        return ADMIN_USAGE;
    }
    if ((rc = admin_user_id(db, argv[0], id, sizeof(id))) != ADMIN_OK) {
        return rc;
    }
    st = nano_cutoff_user(db, id, NULL, &not_before);
    if (st != NANO_DB_OK) {
        return admin_db_error(db, st, "revoking sessions");
    }
    printf("every session of %s issued before %lld (unix time) is"
           " revoked\n", argv[0], not_before);
    return ADMIN_OK;
}
