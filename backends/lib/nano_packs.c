/*
 * The packs file: "id credits price currency label..." per line.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_file.h"
#include "nano_packs.h"
#include "nano_utf8.h"

#define NANO_PACKS_FILE_MAX  (64 * 1024)

static nano_pack_t  nano_packs[NANO_PACKS_MAX];
static size_t       nano_packs_n;

static int
nano_packs_id_ok(const char *s)
{
    size_t  i;

    for (i = 0; s[i] != '\0'; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || (i > 0 && (s[i] == '-' || s[i] == '_'))))
        {
            return 0;
        }
    }
    return i > 0 && i <= NANO_PACK_ID_MAX;
}

/* A whole number in [1, max] written in decimal digits only. */
static int
nano_packs_number(const char *s, long long max, long long *out)
{
    long long  v = 0;
    size_t     i;

    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || i == 12) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0 || v < 1 || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static int
nano_packs_label_ok(const char *s)
{
    const unsigned char  *p;

    for (p = (const unsigned char *) s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }
    return nano_utf8_valid(s);
}

int
nano_packs_parse(const char *text, size_t len, const char *what,
    nano_pack_t *packs, size_t max, size_t *n, char *err, size_t errlen)
{
    nano_pack_t   *pk;
    size_t         lineno = 0, i;
    char          *buf, *line, *next, *p;
    char          *id, *credits, *price, *cur;
    int            rc = -1;

    *n = 0;
    buf = malloc(len + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", what);
        return -1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (memchr(text, '\0', len) != NULL) {
        snprintf(err, errlen, "%s: holds a NUL byte: not a text file", what);
        goto out;
    }

    next = buf;
    while ((line = nano_file_config_line(&next)) != NULL) {
        lineno++;
        p = line;
        if ((id = nano_file_config_word(&p)) == NULL) {
            continue;                       /* blank or comment */
        }
        credits = nano_file_config_word(&p);
        price = nano_file_config_word(&p);
        cur = nano_file_config_word(&p);
        p = nano_file_config_rest(p);
        if (cur == NULL || p[0] == '\0') {
            snprintf(err, errlen, "%s:%zu: expected \"id credits price"
                     " currency label\"", what, lineno);
            goto out;
        }
        if (*n == max) {
            snprintf(err, errlen, "%s:%zu: more than %zu packs", what, lineno,
                     max);
            goto out;
        }
        pk = &packs[*n];
        memset(pk, 0, sizeof(*pk));
        if (!nano_packs_id_ok(id)) {
            snprintf(err, errlen, "%s:%zu: \"%.40s\" is not a pack id (a-z,"
                     " 0-9, '-', '_', starting with a letter or digit; at"
                     " most %d bytes)", what, lineno, id, NANO_PACK_ID_MAX);
            goto out;
        }
        for (i = 0; i < *n; i++) {
            if (strcmp(packs[i].id, id) == 0) {
                snprintf(err, errlen, "%s:%zu: pack \"%s\" is listed twice",
                         what, lineno, id);
                goto out;
            }
        }
        memcpy(pk->id, id, strlen(id) + 1);
        if (nano_packs_number(credits, NANO_PACK_CREDITS_MAX,
                              &pk->credits) != 0)
        {
            snprintf(err, errlen, "%s:%zu: credits \"%.20s\" is not a whole"
                     " number from 1 to %lld", what, lineno, credits,
                     NANO_PACK_CREDITS_MAX);
            goto out;
        }
        if (nano_packs_number(price, NANO_PACK_PRICE_MAX, &pk->price) != 0) {
            snprintf(err, errlen, "%s:%zu: price \"%.20s\" is not a whole"
                     " number from 1 to %lld in the currency's minor unit"
                     " (499 for 4.99)", what, lineno, price,
                     NANO_PACK_PRICE_MAX);
            goto out;
        }
        for (i = 0; i < 3 && cur[i] != '\0'; i++) {
            if (cur[i] >= 'A' && cur[i] <= 'Z') {
                pk->currency[i] = (char) (cur[i] - 'A' + 'a');
            } else if (cur[i] >= 'a' && cur[i] <= 'z') {
                pk->currency[i] = cur[i];
            } else {
                break;
            }
        }
        if (i != 3 || cur[3] != '\0') {
            snprintf(err, errlen, "%s:%zu: currency \"%.20s\" is not a"
                     " three-letter ISO 4217 code (usd, eur)", what, lineno,
                     cur);
            goto out;
        }
        if (strlen(p) > NANO_PACK_LABEL_MAX || !nano_packs_label_ok(p)) {
            snprintf(err, errlen, "%s:%zu: the label must be UTF-8 text"
                     " without control characters, at most %d bytes", what,
                     lineno, NANO_PACK_LABEL_MAX);
            goto out;
        }
        memcpy(pk->label, p, strlen(p) + 1);
        (*n)++;
    }
    rc = 0;
out:
    if (rc != 0) {
        *n = 0;
    }
    free(buf);
    return rc;
}

int
nano_packs_load(const char **path, char *err, size_t errlen)
{
    const char  *file = getenv("NANO_PACKS_FILE");
    nano_pack_t  packs[NANO_PACKS_MAX];
    char        *text = NULL;
    size_t       len, n;
    FILE        *f;
    int          given = 1, rc = -1;

    if (file == NULL || file[0] == '\0') {
        file = NANO_PACKS_FILE_DEFAULT;
        given = 0;
    }
    *path = file;
    f = fopen(file, "rb");
    if (f == NULL) {
        if (!given && errno == ENOENT) {
            nano_packs_n = 0;
            return 1;
        }
        snprintf(err, errlen, "%s%s: cannot open: %s",
                 given ? "NANO_PACKS_FILE " : "", file, strerror(errno));
        return -1;
    }
    switch (nano_file_read(f, NANO_PACKS_FILE_MAX, &text, &len)) {
    case 0:
        break;
    case -2:
        snprintf(err, errlen, "%s: out of memory", file);
        goto out;
    default:
        snprintf(err, errlen, "%s: cannot read it, or it is over %d bytes",
                 file, NANO_PACKS_FILE_MAX);
        goto out;
    }
    if (nano_packs_parse(text, len, file, packs, NANO_PACKS_MAX, &n, err,
                         errlen) != 0)
    {
        goto out;
    }
    memcpy(nano_packs, packs, n * sizeof(packs[0]));
    nano_packs_n = n;
    rc = 0;
out:
    free(text);
    fclose(f);
    return rc;
}

const nano_pack_t *
nano_packs_all(size_t *n)
{
    *n = nano_packs_n;
    return nano_packs;
}

const nano_pack_t *
nano_packs_find(const char *id)
{
    size_t  i;

    for (i = 0; i < nano_packs_n; i++) {
        if (strcmp(nano_packs[i].id, id) == 0) {
            return &nano_packs[i];
        }
    }
    return NULL;
}
