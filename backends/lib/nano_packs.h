/*
 * Credit packs for sale (docs/PLATFORM.md "Billing"): one per line of
 * NANO_PACKS_FILE, "id credits price currency label...", the price in
 * the currency's minor unit.  Read once at start, immutable afterwards.
 */

#ifndef NANO_PACKS_H
#define NANO_PACKS_H

#include <stddef.h>

#define NANO_PACKS_FILE_DEFAULT  "/etc/nano/packs.conf"
#define NANO_PACKS_MAX           32
#define NANO_PACK_ID_MAX         32           /* bytes of an id */
#define NANO_PACK_LABEL_MAX      100          /* bytes of a label */
#define NANO_PACK_CREDITS_MAX    100000000LL  /* 10^8 */
/* Stripe's largest unit_amount: 8 digits (999,999.99 in a two-decimal
 * currency) */
#define NANO_PACK_PRICE_MAX      99999999LL

typedef struct {
    char        id[NANO_PACK_ID_MAX + 1];       /* [a-z0-9_-], first a-z0-9 */
    long long   credits;                        /* 1..NANO_PACK_CREDITS_MAX */
    long long   price;                          /* minor units, 1..PRICE_MAX */
    char        currency[4];                    /* ISO 4217, lower case */
    char        label[NANO_PACK_LABEL_MAX + 1]; /* UTF-8, no controls */
} nano_pack_t;

/*
 * Parses packs text (what names it in messages, e.g. the path) into
 * packs[0..max), *n the count.  Blank lines and '#' comments are
 * skipped.  Returns 0, or -1 with a message in err naming the line and
 * what is wrong with it.
 */
int nano_packs_parse(const char *text, size_t len, const char *what,
    nano_pack_t *packs, size_t max, size_t *n, char *err, size_t errlen);

/*
 * Loads the packs for this process from NANO_PACKS_FILE, else
 * NANO_PACKS_FILE_DEFAULT, replacing what was loaded.  Call before
 * threads start.  Returns 0; 1 when the default file does not exist
 * (no packs: nothing is for sale); -1 with a message in err when the
 * file named by NANO_PACKS_FILE is missing or unreadable, or any file
 * is malformed.  *path receives the file's name (borrowed).
 */
int nano_packs_load(const char **path, char *err, size_t errlen);

/* The loaded packs in file order; *n receives the count. */
const nano_pack_t *nano_packs_all(size_t *n);

/* The pack called id, or NULL. */
const nano_pack_t *nano_packs_find(const char *id);

#endif /* NANO_PACKS_H */
