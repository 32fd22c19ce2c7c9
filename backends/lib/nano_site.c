/*
 * The deployment's other origins and the session cookie's Domain
 * (nano_site.h).
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>

#include "nano_site.h"

/* The host of a normalised origin ("scheme://host[:port]"), as a span. */
static void
nano_site_host(const char *origin, const char **host, size_t *len)
{
    const char  *h = strstr(origin, "://");
    const char  *end;

    h = h != NULL ? h + 3 : origin;
    if (*h == '[') {
        end = strchr(h, ']');
        end = end != NULL ? end + 1 : h + strlen(h);
    } else {
        end = h + strcspn(h, ":");
    }
    *host = h;
    *len = (size_t) (end - h);
}

/* 1 when host is domain or a name under it. */
static int
nano_site_host_in(const char *host, size_t len, const char *domain)
{
    size_t  dlen = strlen(domain);

    if (len == dlen) {
        return strncasecmp(host, domain, len) == 0;
    }
    return len > dlen && host[len - dlen - 1] == '.'
           && strncasecmp(host + len - dlen, domain, dlen) == 0;
}

/* A DNS name of two labels or more, the last not numeric: browsers set
 * no Domain cookie for an address. */
static int
nano_site_domain_ok(const char *d)
{
    size_t  label = 0, labels = 1, i;
    int     digits_only = 1;

    if (d[0] == '\0' || strlen(d) > NANO_SITE_DOMAIN_MAX) {
        return 0;
    }
    for (i = 0; d[i] != '\0'; i++) {
        if (d[i] == '.') {
            if (label == 0 || d[i - 1] == '-') {
                return 0;
            }
            labels++;
            label = 0;
            digits_only = 1;
            continue;
        }
        if (!isalnum((unsigned char) d[i]) && d[i] != '-') {
            return 0;
        }
        if (label == 0 && d[i] == '-') {
            return 0;
        }
        if (!isdigit((unsigned char) d[i])) {
            digits_only = 0;
        }
        if (++label > 63) {
            return 0;
        }
    }
    return label > 0 && d[i - 1] != '-' && labels >= 2 && !digits_only;
}

static int
nano_site_parse_domain(nano_site_t *site, const char *primary,
    const char *domain, char *err, size_t errlen)
{
    const char  *host;
    size_t       len, i;

    if (domain[0] == '.') {
        domain++;                      /* RFC 6265 ignores it too */
    }
    if (!nano_site_domain_ok(domain)) {
        snprintf(err, errlen, "NANO_COOKIE_DOMAIN \"%.100s\" is not a"
                 " domain name (two labels or more, no address)", domain);
        return -1;
    }
    for (i = 0; domain[i] != '\0'; i++) {
        site->cookie_domain[i] = (char) tolower((unsigned char) domain[i]);
    }
    site->cookie_domain[i] = '\0';
    nano_site_host(primary, &host, &len);
    if (!nano_site_host_in(host, len, site->cookie_domain)) {
        snprintf(err, errlen, "NANO_COOKIE_DOMAIN \"%s\" does not cover"
                 " NEXTAUTH_URL's host \"%.*s\"", site->cookie_domain,
                 (int) len, host);
        return -1;
    }
    return 0;
}

int
nano_site_parse(nano_site_t *site, const char *primary, const char *origins,
    const char *domain, char *err, size_t errlen)
{
    char         one[NANO_CALLBACK_MAX], norm[NANO_ORIGIN_MAX], shown[256];
    const char  *p, *rest, *host;
    size_t       n, len;

    memset(site, 0, sizeof(*site));
    if (domain != NULL && domain[0] != '\0'
        && nano_site_parse_domain(site, primary, domain, err, errlen) != 0)
    {
        return -1;
    }
    for (p = origins != NULL ? origins : ""; *p != '\0'; p += n) {
        p += strspn(p, " \t,");
        n = strcspn(p, " \t,");
        if (n == 0) {
            break;
        }
        if (n >= sizeof(one)) {
            snprintf(err, errlen, "NANO_ORIGINS: an origin is longer than"
                     " %zu bytes", sizeof(one) - 1);
            return -1;
        }
        memcpy(one, p, n);
        one[n] = '\0';
        if (nano_callback_origin(one, norm, sizeof(norm), &rest) != 0
            || (rest[0] != '\0' && strcmp(rest, "/") != 0))
        {
            nano_url_redact(one, shown, sizeof(shown));
            snprintf(err, errlen, "NANO_ORIGINS: \"%.200s\" is not an"
                     " origin (scheme://host[:port])", shown);
            return -1;
        }
        if (strncmp(norm, primary, strcspn(primary, ":")) != 0
            || norm[strcspn(primary, ":")] != ':')
        {
            snprintf(err, errlen, "NANO_ORIGINS: \"%s\" has another scheme"
                     " than NEXTAUTH_URL (the session cookie's name"
                     " depends on it)", norm);
            return -1;
        }
        if (nano_site_allows(site, primary, norm)) {
            continue;                  /* listed twice: harmless */
        }
        if (site->norigins == NANO_SITE_ORIGINS_MAX) {
            snprintf(err, errlen, "NANO_ORIGINS: more than %d origins",
                     NANO_SITE_ORIGINS_MAX);
            return -1;
        }
        if (site->cookie_domain[0] != '\0') {
            nano_site_host(norm, &host, &len);
            if (!nano_site_host_in(host, len, site->cookie_domain)) {
                snprintf(err, errlen, "NANO_ORIGINS: \"%s\" is outside"
                         " NANO_COOKIE_DOMAIN \"%s\": the session would"
                         " not reach it", norm, site->cookie_domain);
                return -1;
            }
        }
        memcpy(site->origins[site->norigins++], norm, strlen(norm) + 1);
    }
    return 0;
}

int
nano_site_cookie_reaches(const nano_site_t *site, const char *primary,
    char *err, size_t errlen)
{
    const char  *phost, *host;
    size_t       plen, len, i;

    if (site->cookie_domain[0] != '\0') {
        return 0;                      /* nano_site_parse checked them */
    }
    nano_site_host(primary, &phost, &plen);
    for (i = 0; i < site->norigins; i++) {
        nano_site_host(site->origins[i], &host, &len);
        /* both normalised (lower case); cookies ignore the port */
        if (len != plen || strncasecmp(host, phost, len) != 0) {
            snprintf(err, errlen, "NANO_ORIGINS: \"%s\" is another host"
                     " than NEXTAUTH_URL's \"%.*s\" and NANO_COOKIE_DOMAIN"
                     " is not set: the session would not reach it (set it"
                     " to a domain that covers both)", site->origins[i],
                     (int) plen, phost);
            return -1;
        }
    }
    return 0;
}

/* name is domain, written as it came or as u (its Unicode form; NULL
 * when it has none); rules are lower case (the list's own) */
static int
nano_site_suffix_is(const char *rule, const char *name, const char *u)
{
    return strcasecmp(rule, name) == 0 || (u != NULL && strcmp(rule, u) == 0);
}

int
nano_site_public_suffix(const char *list, const char *domain)
{
    FILE        *f;
    char         line[512], lower[NANO_SITE_DOMAIN_MAX + 1];
    char        *u = NULL;
    const char  *parent = strchr(domain, '.'), *uparent = NULL;
    size_t       n;
    int          rule = 0, exception = 0, partial = 0, whole;

    f = fopen(list, "r");
    if (f == NULL) {
        return -1;
    }
    /* The list writes an internationalised suffix in Unicode (公司.cn),
     * a cookie's domain is its punycode (xn--55qx5d.cn): each is
     * compared in both forms.  A name whose punycode does not decode
     * has the one form. */
    for (n = 0; domain[n] != '\0' && n < sizeof(lower) - 1; n++) {
        lower[n] = (char) tolower((unsigned char) domain[n]);
    }
    lower[n] = '\0';
    if (domain[n] == '\0' && strstr(lower, "xn--") != NULL
        && idn2_to_unicode_8z8z(lower, &u, 0) == IDN2_OK)
    {
        uparent = strchr(u, '.');
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        /* the rest of a line longer than the buffer is no rule */
        whole = !partial;
        n = strlen(line);
        partial = n > 0 && line[n - 1] != '\n' && !feof(f);
        if (!whole) {
            continue;
        }
        /* a rule is the line's first word; "//" starts a comment */
        line[strcspn(line, " \t\r\n")] = '\0';
        if (line[0] == '\0' || strncmp(line, "//", 2) == 0) {
            continue;
        }
        if (line[0] == '!') {
            exception |= nano_site_suffix_is(line + 1, domain, u);
        } else if (strncmp(line, "*.", 2) == 0) {
            /* "*.ck": every name of one label under ck */
            rule |= parent != NULL
                    && nano_site_suffix_is(line + 2, parent + 1,
                                           uparent != NULL ? uparent + 1
                                                           : NULL);
        } else {
            rule |= nano_site_suffix_is(line, domain, u);
        }
    }
    fclose(f);
    free(u);
    return rule && !exception;
}

int
nano_site_cookie_domain_check(const nano_site_t *site, const char *list,
    char *err, size_t errlen)
{
    if (site->cookie_domain[0] == '\0'
        || nano_site_public_suffix(list, site->cookie_domain) != 1)
    {
        return 0;
    }
    snprintf(err, errlen, "NANO_COOKIE_DOMAIN \"%s\" is a public suffix"
             " (%s): browsers refuse a cookie for it, so no sign-in would"
             " hold; set the deployment's own domain under it (the one"
             " NEXTAUTH_URL's host and NANO_ORIGINS share)",
             site->cookie_domain, list);
    return -1;
}

int
nano_site_allows(const nano_site_t *site, const char *primary,
    const char *origin)
{
    size_t  i;

    if (strcmp(origin, primary) == 0) {
        return 1;
    }
    for (i = 0; site != NULL && i < site->norigins; i++) {
        if (strcmp(origin, site->origins[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *
nano_site_callback_origin(const nano_site_t *site, const char *primary,
    const char *url)
{
    char         o[NANO_ORIGIN_MAX];
    const char  *rest;
    size_t       i;

    if (url == NULL || site == NULL || site->norigins == 0
        || nano_callback_origin(url, o, sizeof(o), &rest) != 0)
    {
        return primary;
    }
    for (i = 0; i < site->norigins; i++) {
        if (strcmp(o, site->origins[i]) == 0) {
            return site->origins[i];
        }
    }
    return primary;
}

char *
nano_site_callback_resolve(const nano_site_t *site, const char *primary,
    const char *url)
{
    /* a refused URL on a subdomain went to that subdomain's root, where
     * every other refused one goes to the platform (found by the
     * authedges probe) */
    return nano_callback_resolve_or(url,
                                    nano_site_callback_origin(site, primary,
                                                              url),
                                    primary);
}
