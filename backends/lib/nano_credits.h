/*
 * Credits: every user's balance ("CreditAccount") and the ledger of its
 * changes ("CreditLedger"), changed together in one transaction, so the
 * ledger always sums to the balance (docs/MODULES.md).
 */

#ifndef NANO_CREDITS_H
#define NANO_CREDITS_H

#include <stddef.h>

#include <jansson.h>

#include "nano_db.h"

#define NANO_SIGNUP_CREDITS_DEFAULT  100
#define NANO_SIGNUP_CREDITS_MAX      1000000000

/*
 * Reads NANO_SIGNUP_CREDITS once, at the start of every process that
 * opens accounts (the platform, each module, nano-admin's grant), before
 * any thread does: 0 to NANO_SIGNUP_CREDITS_MAX (0: accounts open empty,
 * with a "signup" row of 0).  0, or -1 with err naming the setting (a
 * typo must not become the default in silence).
 */
int nano_credits_configure(char *err, size_t errlen);

/*
 * Makes sure user_id has an account: a new one is opened with the
 * signup credits (nano_credits_configure; 100 when it was not called)
 * and its "signup" ledger row, once, whoever asks first (V1 users
 * included).  Nothing is opened for an id with no "User" row (a deleted
 * account).  Runs in the caller's transaction when one is open.
 */
nano_db_status_t nano_credits_ensure(nano_db_t *db, const char *user_id);

/* The balance alone (0 without an account): a pure read, which a
 * REPEATABLE READ snapshot can take while admissions update the
 * account, where nano_credits_ensure's INSERT cannot.  *found (may be
 * NULL) is 1 when the account exists: after nano_credits_ensure, 0
 * means the user does not. */
nano_db_status_t nano_credits_balance_read(nano_db_t *db,
    const char *user_id, long long *balance, int *found);

/*
 * Gives a generation's debit back, exactly once: *refunded is 1 when this
 * call did it, 0 when it was refunded before or never debited.  Runs in
 * the caller's transaction when one is open.
 */
nano_db_status_t nano_credits_refund(nano_db_t *db, const char *gen_id,
    int *refunded);

/*
 * A page of user_id's ledger, newest first: a new JSON array of
 * {"delta","reason","module","generationId","createdAt","note"} in *items and
 * the cursor of the next page (a new string, NULL on the last) in
 * *next.  cursor is NULL or a value from *next; limit is 1..100; key
 * (the signing key, nano_config_secret) makes the cursors opaque.
 * NANO_DB_INVALID for a cursor that is not one.
 */
nano_db_status_t nano_credits_ledger(nano_db_t *db, const char *user_id,
    int limit, const char *cursor, const unsigned char *key, size_t keylen,
    json_t **items, char **next);

/* The ledger's cursor of row id under key: 16 hex digits and a NUL. */
void nano_credits_cursor_encode(const unsigned char *key, size_t keylen,
    long long id, char out[17]);

/* The row id of cursor s: 0, or -1 when s is not one. */
int nano_credits_cursor_decode(const unsigned char *key, size_t keylen,
    const char *s, long long *id);

/*
 * An operator's grant: amount credits (may be negative, a correction)
 * to user_id with a "grant" ledger row holding note, in its own
 * transaction, the account opened first when there is none.  The new
 * balance goes to *balance.  A negative amount that would take the
 * balance below zero (only a payment's refund may) changes nothing,
 * opens no account and sets *refused, with the balance as it stands in
 * *balance.
 */
nano_db_status_t nano_credits_grant(nano_db_t *db, const char *user_id,
    long long amount, const char *note, long long *balance, int *refused);

/* Re-assigns a deleted user's ledger rows and purchases to an anonymous
 * id, keeping their amounts, and drops the account (in the caller's
 * transaction). */
nano_db_status_t nano_credits_forget_user(nano_db_t *db,
    const char *user_id);

#endif /* NANO_CREDITS_H */
