/*
 * Email normalisation and the checks for a new address.
 */

#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "nano_email.h"
#include "nano_utf8.h"

char *
nano_email_normalise(const char *raw)
{
    const char  *start, *stop;
    uint8_t     *folded;
    char        *out;
    size_t       len;

    if (!nano_utf8_valid(raw)) {
        return NULL;
    }
    start = raw;
    while (*start == ' ' || *start == '\t') {
        start++;
    }
    stop = start + strlen(start);
    while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) {
        stop--;
    }

    /* Unicode's full lower case, not ASCII's alone: BÜCHER.DE made a
     * second account of bücher.de, and a second sign-in lock */
    len = 0;
    folded = u8_tolower((const uint8_t *) start, (size_t) (stop - start),
                        NULL, UNINORM_NFC, NULL, &len);
    if (folded == NULL && stop > start) {
        return NULL;
    }
    out = malloc(len + 1);
    if (out != NULL) {
        if (len > 0) {
            memcpy(out, folded, len);
        }
        out[len] = '\0';
    }
    free(folded);
    return out;
}

/* 1 when s holds a character nobody can see or type reliably. */
static int
nano_email_has_hidden(const char *s)
{
    const uint8_t  *p = (const uint8_t *) s;
    const uint8_t  *end = p + strlen(s);
    ucs4_t          uc;
    int             n;

    /* s is strict UTF-8 already, so every step decodes one character */
    while (p < end) {
        n = u8_mbtouc(&uc, p, (size_t) (end - p));
        if (n <= 0) {
            return 1;
        }
        if (uc_is_general_category(uc, UC_CATEGORY_Cc)
            || uc_is_general_category(uc, UC_CATEGORY_Cf)
            || uc_is_general_category(uc, UC_CATEGORY_Co)
            || uc_is_general_category(uc, UC_CATEGORY_Cn)
            || uc_is_general_category(uc, UC_CATEGORY_Z))
        {
            return 1;
        }
        p += n;
    }
    return 0;
}

/*
 * 1 when s (NFC) holds a compatibility form, which NFKC changes (a
 * full-width letter, a ligature, a fullwidth dot), or an ideographic
 * full stop, which UTS #46 reads as a dot: shown or resolved, each is
 * another spelling of an address whose mailbox may have an account.
 */
static int
nano_email_has_compat(const char *s)
{
    uint8_t  *k;
    size_t    len = strlen(s), klen = 0;
    int       differs;

    if (strstr(s, "\xe3\x80\x82") != NULL) {        /* U+3002 */
        return 1;
    }
    k = u8_normalize(UNINORM_NFKC, (const uint8_t *) s, len, NULL, &klen);
    if (k == NULL) {
        return len > 0;     /* out of memory: refuse rather than guess */
    }
    differs = klen != len || memcmp(k, s, len) != 0;
    free(k);
    return differs;
}

const char *
nano_email_problem(const char *email)
{
    const char  *at, *domain, *p;
    size_t       len = strlen(email);

    if (len == 0) {
        return "an email address is required";
    }
    if (len > NANO_EMAIL_MAX) {
        return "the email address is too long";
    }
    if (!nano_utf8_valid(email)) {
        return "the email address is not valid UTF-8";
    }
    for (p = email; *p != '\0'; p++) {
        if ((unsigned char) *p <= 0x20 || *p == 0x7f
            || strchr("<>()[]\\,;:\"", *p) != NULL)
        {
            return "the email address contains a character that is not"
                   " allowed";
        }
    }
    if (nano_email_has_hidden(email)) {
        return "the email address contains an invisible, unassigned or"
               " private-use character";
    }
    if (nano_email_has_compat(email)) {
        return "the email address contains a full-width, ligature or"
               " other compatibility character, or an ideographic dot;"
               " type it with plain letters and \".\"";
    }
    at = strchr(email, '@');
    if (at == NULL || at != strrchr(email, '@') || at == email
        || at[1] == '\0')
    {
        return "the email address needs one @ with text on both sides";
    }
    if ((size_t) (at - email) > NANO_EMAIL_LOCAL_MAX) {
        return "the part before the @ is too long";
    }
    domain = at + 1;
    if (strchr(domain, '.') == NULL || domain[0] == '.' || domain[0] == '-'
        || email[len - 1] == '.' || email[len - 1] == '-'
        || strstr(domain, "..") != NULL)
    {
        return "the email address needs a domain such as example.com";
    }
    return NULL;
}
