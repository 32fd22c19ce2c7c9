/*
 * nano-admin credits grant: an operator's credit change, on the ledger
 * like every other (reason "grant", the operator's words as its note).
 */

#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "nano_credits.h"

#define ADMIN_GRANT_MAX    1000000000LL
#define ADMIN_REASON_MAX   500

int
admin_credits_grant(nano_db_t *db, int argc, char **argv)
{
    const char        *reason = NULL;
    char               id[64], err[160];
    long long          amount, balance = 0;
    nano_db_status_t   st;
    int                rc, refused;

    if (argc == 4 && strcmp(argv[2], "--reason") == 0) {
        reason = argv[3];
    }
    if (reason == NULL) {
        fputs("usage: nano-admin credits grant <email> <n> --reason <text>\n",
              stderr);
        return ADMIN_USAGE;
    }
    if (admin_parse_ll(argv[1], -ADMIN_GRANT_MAX, ADMIN_GRANT_MAX, &amount)
        != 0 || amount == 0)
    {
        fprintf(stderr, "nano-admin: <n> must be a whole number of credits,"
                " not 0, between -%lld and %lld\n", ADMIN_GRANT_MAX,
                ADMIN_GRANT_MAX);
        return ADMIN_USAGE;
    }
    if (*reason == '\0' || strlen(reason) > ADMIN_REASON_MAX) {
        fprintf(stderr, "nano-admin: --reason needs 1 to %d bytes of text\n",
                ADMIN_REASON_MAX);
        return ADMIN_USAGE;
    }
    /* a V1 user's account is opened here with the sign-up grant */
    if (nano_credits_configure(err, sizeof(err)) != 0) {
        fprintf(stderr, "nano-admin: %s\n", err);
        return ADMIN_USAGE;
    }
    if ((rc = admin_user_id(db, argv[0], id, sizeof(id))) != ADMIN_OK) {
        return rc;
    }
    st = nano_credits_grant(db, id, amount, reason, &balance, &refused);
    if (st != NANO_DB_OK) {
        return admin_db_error(db, st, "granting credits");
    }
    if (refused) {
        fprintf(stderr, "nano-admin: %s's balance is %lld: a correction may"
                " take at most %lld (only a payment's refund takes a balance"
                " below zero); nothing changed\n", argv[0], balance,
                balance > 0 ? balance : 0);
        return ADMIN_USAGE;
    }
    printf("granted %lld credits to %s; balance now %lld\n", amount, argv[0],
           balance);
    return ADMIN_OK;
}
