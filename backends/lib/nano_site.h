/*
 * The deployment's shape beyond NEXTAUTH_URL (phase 2, an own domain):
 * the other origins it serves (a module on its own subdomain) and the
 * session cookie's Domain.  Plain C with no libnano types, so unit tests
 * call it directly.
 */

#ifndef NANO_SITE_H
#define NANO_SITE_H

#include <stddef.h>

#include "nano_callback.h"

#define NANO_SITE_ORIGINS_MAX  32       /* origins besides NEXTAUTH_URL's */
#define NANO_SITE_DOMAIN_MAX   254

typedef struct {
    /* NANO_ORIGINS: normalised as nano_callback_origin writes them */
    char    origins[NANO_SITE_ORIGINS_MAX][NANO_ORIGIN_MAX];
    size_t  norigins;
    /* NANO_COOKIE_DOMAIN without a leading dot; "" for host-only */
    char    cookie_domain[NANO_SITE_DOMAIN_MAX + 1];
} nano_site_t;

/*
 * Reads origins (NANO_ORIGINS: origins separated by spaces or commas,
 * each with NEXTAUTH_URL's scheme, since the session cookie's name
 * depends on it) and domain (NANO_COOKIE_DOMAIN: a DNS name that
 * NEXTAUTH_URL's host and every origin's host equal or end in) against
 * primary, NEXTAUTH_URL's origin.  Either may be NULL or empty.
 * Returns 0, or -1 with the reason in err.
 */
int nano_site_parse(nano_site_t *site, const char *primary,
    const char *origins, const char *domain, char *err, size_t errlen);

/*
 * The platform's check at start: without a cookie Domain, every origin
 * of the site must be on primary's host (any port), or the session
 * cookie never reaches it and a sign-in there comes back signed out.
 * Modules take NANO_ORIGINS alone and do not call it.  Returns 0, or -1
 * with the reason in err.
 */
int nano_site_cookie_reaches(const nano_site_t *site, const char *primary,
    char *err, size_t errlen);

/* Debian's publicsuffix package: the Public Suffix List, browsers' own
 * list of names they set no cookie Domain for */
#define NANO_SITE_PSL_FILE  "/usr/share/publicsuffix/public_suffix_list.dat"

/*
 * 1 when domain (lower case, ASCII) is itself a public suffix by the
 * list in the file list (its ICANN and private rules, wildcards and
 * exceptions, as browsers read them: "co.uk", "github.io"), 0 when it is
 * not, -1 when the file cannot be read.  Rules past ASCII never match
 * (a domain here is ASCII; its xn-- form is not looked up).
 */
int nano_site_public_suffix(const char *list, const char *domain);

/*
 * The platform's check at start: NANO_COOKIE_DOMAIN must not be a public
 * suffix, by the list in the file list when it is there (without the
 * file only nano_site_parse's checks hold).  A browser drops such a
 * cookie, so every sign-in came back signed out and nothing said why.
 * Returns 0, or -1 with the reason in err.
 */
int nano_site_cookie_domain_check(const nano_site_t *site, const char *list,
    char *err, size_t errlen);

/* 1 when origin (normalised) is primary or one of the site's. */
int nano_site_allows(const nano_site_t *site, const char *primary,
    const char *origin);

/*
 * The origin a callbackUrl may be resolved against: url's own origin
 * when the site allows it, else primary (so nano_callback_resolve sends
 * a foreign URL to primary).
 */
const char *nano_site_callback_origin(const nano_site_t *site,
    const char *primary, const char *url);

/*
 * Where a callbackUrl sends the browser: url when it is relative or on
 * primary's or a listed origin (percent-encoded as nano_callback_resolve
 * does), else primary, also for a refused URL on a listed origin.  A new
 * string (caller frees), or NULL when out of memory.
 */
char *nano_site_callback_resolve(const nano_site_t *site, const char *primary,
    const char *url);

#endif /* NANO_SITE_H */
