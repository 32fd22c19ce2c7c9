/*
 * libFuzzer harness for the files and settings an operator hands the
 * backends: the module registry (modules.conf, nano_registry), the packs
 * file (nano_packs), DATABASE_URL (nano_dburl) and NANO_ORIGINS with
 * NANO_COOKIE_DOMAIN (nano_site).
 *
 * The first input byte picks a mode (low 2 bits), the rest is its data:
 *   0  a registry: what parses keeps the rules (names, kinds, providers,
 *      titles, no two names on one upstream), every module is found by
 *      its name under "/<name>", and the registry written back out
 *      parses to the same modules;
 *   1  a packs file: what parses keeps the rules (ids, ranges, currency,
 *      labels) and, written back out, parses to the same packs;
 *   2  a DATABASE_URL: a translation starts with postgresql://, holds no
 *      control character, names the translated URL's pgbouncer setting
 *      as the input does, and libpq reads it whenever libpq reads the
 *      input's authority and path alone;
 *   3  NANO_ORIGINS, then after a NUL NANO_COOKIE_DOMAIN: each origin
 *      kept is normalised (nano_callback_origin leaves it as it is), of
 *      NEXTAUTH_URL's scheme, allowed, and within the cookie domain.
 * Every refusal says why.  Every input is copied to an allocation of its
 * exact size, so that AddressSanitizer sees any read past its end.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "nano_buf.h"
#include "nano_callback.h"
#include "nano_dburl.h"
#include "nano_packs.h"
#include "nano_registry.h"
#include "nano_site.h"
#include "nano_utf8.h"
#include "fuzz_common.h"

#define FUZZ_PRIMARY  "https://example.com"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int
fuzz_said_why(const char *err, size_t cap)
{
    return err[0] != 'X' && err[0] != '\0' && memchr(err, '\0', cap) != NULL;
}


static void
fuzz_registry(const char *buf, size_t len)
{
    const nano_registry_module_t  *m;
    nano_registry_module_t         copy[NANO_REGISTRY_MAX];
    nano_buf_t                     out;
    char                           err[512];
    size_t                         n, n2, i;

    err[0] = 'X';
    if (nano_registry_parse(buf, len, "fuzz", err, sizeof(err)) != 0) {
        if (!fuzz_said_why(err, sizeof(err))) {
            abort();
        }
        return;
    }
    m = nano_registry_modules(&n);
    if (n > NANO_REGISTRY_MAX) {
        abort();
    }
    nano_buf_init(&out);
    for (i = 0; i < n; i++) {
        if (m[i].name == NULL || m[i].kind == NULL || m[i].provider == NULL
            || m[i].title == NULL || m[i].path == NULL
            || strlen(m[i].name) == 0
            || strlen(m[i].name) > NANO_REGISTRY_NAME_MAX
            || m[i].name[strspn(m[i].name,
                                "abcdefghijklmnopqrstuvwxyz0123456789-.")]
               != '\0'
            || m[i].name[0] == '-' || m[i].name[0] == '.'
            || m[i].path[0] != '/' || strcmp(m[i].path + 1, m[i].name) != 0
            || nano_registry_find(m[i].name) != &m[i]
            || m[i].title[0] == '\0' || strlen(m[i].title) > 80
            || !nano_utf8_valid(m[i].title)
            || strchr(m[i].title, '\n') != NULL
            || strchr(m[i].title, '#') != NULL)
        {
            abort();
        }
        copy[i] = m[i];
        if (nano_buf_printf(&out, "%s %s %s %s\n", m[i].name, m[i].kind,
                            m[i].provider, m[i].title) != 0)
        {
            abort();
        }
    }
    /* the strings live in the loaded text: keep copies of them */
    for (i = 0; i < n; i++) {
        copy[i].name = strdup(copy[i].name);
        copy[i].title = strdup(copy[i].title);
        copy[i].kind = strdup(copy[i].kind);
        copy[i].provider = strdup(copy[i].provider);
    }
    err[0] = 'X';
    if (nano_registry_parse(out.data != NULL ? out.data : "", out.len, "again",
                            err, sizeof(err)) != 0)
    {
        fprintf(stderr, "written back, refused: %s\n", err);
        abort();
    }
    m = nano_registry_modules(&n2);
    if (n2 != n) {
        abort();
    }
    for (i = 0; i < n; i++) {
        if (strcmp(m[i].name, copy[i].name) != 0
            || strcmp(m[i].kind, copy[i].kind) != 0
            || strcmp(m[i].provider, copy[i].provider) != 0
            || strcmp(m[i].title, copy[i].title) != 0)
        {
            abort();
        }
        free((char *) copy[i].name);
        free((char *) copy[i].title);
        free((char *) copy[i].kind);
        free((char *) copy[i].provider);
    }
    nano_buf_cleanup(&out);
    nano_registry_cleanup();
}


static void
fuzz_packs(const char *buf, size_t len)
{
    nano_pack_t  packs[NANO_PACKS_MAX], again[NANO_PACKS_MAX];
    nano_buf_t   out;
    char         err[512];
    size_t       n = 99, n2 = 99, i;

    err[0] = 'X';
    if (nano_packs_parse(buf, len, "fuzz", packs, NANO_PACKS_MAX, &n, err,
                         sizeof(err)) != 0)
    {
        if (n != 0 || !fuzz_said_why(err, sizeof(err))) {
            abort();
        }
        return;
    }
    if (n > NANO_PACKS_MAX) {
        abort();
    }
    nano_buf_init(&out);
    for (i = 0; i < n; i++) {
        if (packs[i].id[0] == '\0' || packs[i].id[0] == '-'
            || packs[i].id[0] == '_'
            || packs[i].id[strspn(packs[i].id,
                                  "abcdefghijklmnopqrstuvwxyz0123456789-_")]
               != '\0'
            || packs[i].credits < 1
            || packs[i].credits > NANO_PACK_CREDITS_MAX
            || packs[i].price < 1 || packs[i].price > NANO_PACK_PRICE_MAX
            || strlen(packs[i].currency) != 3
            || packs[i].currency[strspn(packs[i].currency,
                                        "abcdefghijklmnopqrstuvwxyz")]
               != '\0'
            || packs[i].label[0] == '\0'
            || fuzz_has_ctl(packs[i].label)
            || !nano_utf8_valid(packs[i].label)
            || strchr(packs[i].label, '#') != NULL)
        {
            abort();
        }
        if (nano_buf_printf(&out, "%s %lld %lld %s %s\n", packs[i].id,
                            packs[i].credits, packs[i].price,
                            packs[i].currency, packs[i].label) != 0)
        {
            abort();
        }
    }
    err[0] = 'X';
    if (nano_packs_parse(out.data != NULL ? out.data : "", out.len, "again",
                         again, NANO_PACKS_MAX, &n2, err, sizeof(err)) != 0)
    {
        fprintf(stderr, "written back, refused: %s\n", err);
        abort();
    }
    if (n2 != n) {
        abort();
    }
    for (i = 0; i < n; i++) {
        if (strcmp(again[i].id, packs[i].id) != 0
            || again[i].credits != packs[i].credits
            || again[i].price != packs[i].price
            || strcmp(again[i].currency, packs[i].currency) != 0
            || strcmp(again[i].label, packs[i].label) != 0)
        {
            abort();
        }
    }
    nano_buf_cleanup(&out);
}


/* 1 when libpq reads uri as a connection URI. */
static int
fuzz_libpq_reads(const char *uri)
{
    PQconninfoOption  *opts;
    char              *msg = NULL;

    opts = PQconninfoParse(uri, &msg);
    PQfreemem(msg);
    if (opts == NULL) {
        return 0;
    }
    PQconninfoFree(opts);
    return 1;
}


static int
fuzz_hex(int c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}


/* 1 when the query parameter p[0..n) is named schema or options, its
 * name percent-decoded. */
static int
fuzz_options_param(const char *p, size_t n)
{
    char    name[16];
    size_t  i, o = 0;

    for (i = 0; i < n && p[i] != '=' && o < sizeof(name) - 1; i++) {
        if (p[i] == '%' && i + 2 < n && fuzz_hex(p[i + 1]) >= 0
            && fuzz_hex(p[i + 2]) >= 0)
        {
            name[o++] = (char) (fuzz_hex(p[i + 1]) * 16 + fuzz_hex(p[i + 2]));
            i += 2;
        } else {
            name[o++] = p[i];
        }
    }
    name[o] = '\0';
    return (i == n || p[i] == '=')
           && (strcmp(name, "schema") == 0 || strcmp(name, "options") == 0);
}


static void
fuzz_dburl(const char *buf, size_t len)
{
    char        err[512], *url, *out, *plain, *out2;
    const char  *q, *end, *p, *amp;
    size_t      n, o;

    /* a C string: the variable's value */
    url = strndup(buf, len);
    if (url == NULL) {
        return;
    }
    err[0] = 'X';
    out = nano_dburl_to_libpq(url, err, sizeof(err));
    if (out == NULL) {
        if (!fuzz_said_why(err, sizeof(err))) {
            abort();
        }
        free(url);
        return;
    }
    if (strncmp(out, "postgresql://", 13) != 0 || fuzz_has_ctl(out)
        || nano_dburl_pgbouncer(out) != 0)
    {
        abort();
    }

    /* The same URL without its schema and options parameters, which
     * become the one options parameter written last: translated, it is
     * what comes before that one, and libpq must read the whole when
     * it reads what comes before. */
    n = strlen(url);
    plain = malloc(n + 1);
    if (plain == NULL) {
        abort();
    }
    end = url + strcspn(url, "#");
    q = memchr(url, '?', (size_t) (end - url));
    if (q == NULL) {
        q = end;
    }
    memcpy(plain, url, (size_t) (q - url));
    o = (size_t) (q - url);
    for (p = q; p < end; p = amp) {
        amp = p + 1 + strcspn(p + 1, "&#");
        if (amp > end) {
            amp = end;
        }
        if (!fuzz_options_param(p + 1, (size_t) (amp - p - 1))) {
            memcpy(plain + o, p, (size_t) (amp - p));
            o += (size_t) (amp - p);
        }
    }
    plain[o] = '\0';
    /* the first kept parameter now follows '&': make it '?' again */
    if (q < end && o > (size_t) (q - url) && plain[q - url] == '&') {
        plain[q - url] = '?';
    }
    out2 = nano_dburl_to_libpq(plain, err, sizeof(err));
    if (out2 == NULL) {
        fprintf(stderr, "refused without its options: %s\n", plain);
        abort();
    }
    n = strlen(out2);
    if (strncmp(out, out2, n) != 0
        || (out[n] != '\0' && strncmp(out + n, "?options=", 9) != 0
            && strncmp(out + n, "&options=", 9) != 0))
    {
        fprintf(stderr, "%s\nwithout its options: %s\n", out, out2);
        abort();
    }
    if (fuzz_libpq_reads(out2) && !fuzz_libpq_reads(out)) {
        fprintf(stderr, "libpq reads %s but not %s\n", out2, out);
        abort();
    }
    free(out2);
    free(plain);
    free(out);
    free(url);
}


static void
fuzz_site(const char *buf, size_t len)
{
    nano_site_t   site;
    char          err[512], norm[NANO_ORIGIN_MAX];
    char         *origins, *domain;
    const char   *rest, *h;
    size_t        i, n, dlen, hlen;

    /* NANO_ORIGINS, a NUL, NANO_COOKIE_DOMAIN */
    origins = strndup(buf, len);
    if (origins == NULL) {
        return;
    }
    n = strlen(origins);
    domain = strndup(n < len ? buf + n + 1 : "", n < len ? len - n - 1 : 0);
    if (domain == NULL) {
        free(origins);
        return;
    }
    err[0] = 'X';
    if (nano_site_parse(&site, FUZZ_PRIMARY, origins, domain, err,
                        sizeof(err)) != 0)
    {
        if (!fuzz_said_why(err, sizeof(err))) {
            abort();
        }
        goto out;
    }
    if (site.norigins > NANO_SITE_ORIGINS_MAX
        || !nano_site_allows(&site, FUZZ_PRIMARY, FUZZ_PRIMARY))
    {
        abort();
    }
    dlen = strlen(site.cookie_domain);
    for (i = 0; i < site.norigins; i++) {
        if (nano_callback_origin(site.origins[i], norm, sizeof(norm), &rest)
                != 0
            || strcmp(norm, site.origins[i]) != 0 || rest[0] != '\0'
            || strncmp(norm, "https://", 8) != 0
            || !nano_site_allows(&site, FUZZ_PRIMARY, norm))
        {
            abort();
        }
        if (dlen > 0) {
            h = norm + 8;
            hlen = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":");
            if (hlen < dlen
                || strncmp(h + hlen - dlen, site.cookie_domain, dlen) != 0
                || (hlen > dlen && h[hlen - dlen - 1] != '.'))
            {
                abort();
            }
        }
    }
out:
    free(domain);
    free(origins);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *buf;

    if (size < 1) {
        return 0;
    }
    buf = fuzz_rest(data, size);
    switch (data[0] & 3) {
    case 0:
        fuzz_registry(buf, size - 1);
        break;
    case 1:
        fuzz_packs(buf, size - 1);
        break;
    case 2:
        fuzz_dburl(buf, size - 1);
        break;
    default:
        fuzz_site(buf, size - 1);
        break;
    }
    free(buf);
    return 0;
}
