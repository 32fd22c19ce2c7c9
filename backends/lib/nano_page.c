/*
 * Template rendering and the shared header.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nano_file.h"
#include "nano_log.h"
#include "nano_page.h"
#include "nano_registry.h"
#include "nano_server.h"
#include "nano_session.h"

/* The platform's pages every signed-in header links to. */
/* path, label, class (pages and tests find a link by it) */
static const char *const  nano_page_account[][3] = {
    { "/",         "Dashboard", "nb-dashboard" },
    { "/billing",  "Billing",   "nb-billing" },
    { "/settings", "Settings",  "nb-settings" },
};

/* The href's aria-current when it is the page shown. */
static const char *
nano_page_current(const char *active, const char *href)
{
    return active != NULL && strcmp(active, href) == 0
           ? " aria-current=\"page\"" : "";
}

/*
 * The page's own path as the sign-in or sign-out link's callbackUrl, as
 * NextAuth's client signIn() and signOut() send the page they are on:
 * without it, both went where the callback-url cookie of the last
 * sign-in pointed, another module's page as often as not.
 */
static void
nano_page_back(nano_buf_t *out, const char *back)
{
    if (back != NULL && back[0] != '\0' && strncmp(back, "//", 2) != 0) {
        nano_buf_puts(out, "?callbackUrl=");
        nano_buf_urlencode(out, back);
    }
}

int
nano_page_header(nano_buf_t *out, const char *base, const char *active,
    const char *back, const char *user_name, const char *user_id,
    const char *picture)
{
    const nano_registry_module_t  *m;
    size_t                         i, n;

    /* a keyboard user's first stop, past the header's dozen links to
     * the page's <main id="main"> (WCAG 2.4.1) */
    nano_buf_puts(out, "<a class=\"nb-skip\" href=\"#main\">Skip to"
                       " content</a>\n<header class=\"nb-header\"");
    if (user_name != NULL && user_id != NULL && user_id[0] != '\0') {
        nano_buf_puts(out, " data-nb-user=\"");
        nano_buf_html(out, user_id);
        nano_buf_puts(out, "\"");
    }
    nano_buf_printf(out, ">\n"
        "  <a class=\"nb-brand\" href=\"%s/\"><img src=\"/ui/logo.svg\""
        " alt=\"\" width=\"28\" height=\"28\"><span>Nano Banana</span></a>\n"
        "  <nav class=\"nb-nav\" aria-label=\"Modules\">\n", base);
    m = nano_registry_modules(&n);
    for (i = 0; i < n; i++) {
        nano_buf_printf(out, "    <a href=\"%s\"%s>", m[i].path,
                        nano_page_current(active, m[i].path));
        nano_buf_html(out, m[i].title);
        nano_buf_puts(out, "</a>\n");
    }
    nano_buf_puts(out, "  </nav>\n  <div class=\"nb-user\">");
    if (user_name == NULL) {
        nano_buf_printf(out, "<a href=\"%s/api/auth/signin", base);
        nano_page_back(out, back);
        nano_buf_puts(out, "\">Sign in</a>");
        return nano_buf_puts(out, "</div>\n</header>");
    }
    /* the credit balance, filled in by the pages that show it */
    nano_buf_puts(out, "<span class=\"nbm-balance\" data-nb-balance"
                       " hidden></span>\n    <nav class=\"nb-account\""
                       " aria-label=\"Account\">");
    for (i = 0; i < sizeof(nano_page_account) / sizeof(nano_page_account[0]);
         i++)
    {
        nano_buf_printf(out, "<a class=\"%s\" href=\"%s%s\"%s>%s</a>",
                        nano_page_account[i][2], base,
                        nano_page_account[i][0],
                        nano_page_current(active, nano_page_account[i][0]),
                        nano_page_account[i][1]);
    }
    nano_buf_puts(out, "</nav>\n    <span class=\"nb-who\">");
    if (picture != NULL) {
        nano_buf_puts(out, "<img class=\"nb-avatar\" src=\"");
        nano_buf_html(out, picture);
        nano_buf_puts(out, "\" alt=\"\" width=\"28\" height=\"28\">");
    }
    /* the title has the name whole: ui.css cuts a long one short */
    nano_buf_puts(out, "<span class=\"nb-user-name\" title=\"");
    nano_buf_html(out, user_name);
    nano_buf_puts(out, "\">");
    nano_buf_html(out, user_name);
    nano_buf_printf(out, "</span></span>\n    <a href=\"%s/api/auth/signout",
                    base);
    nano_page_back(out, back);
    nano_buf_puts(out, "\">Sign out</a>");
    return nano_buf_puts(out, "</div>\n</header>");
}

/*
 * The avatar of the signed-in user for the header: the session token's
 * picture claim when it is an avatar this deployment serves (never an
 * outside address: V1 may hold a provider's image URL there), and only
 * for the token of the user the gateway let in.  Borrowed from s.
 */
static const char *
nano_page_picture(const nano_req_t *req, nano_session_t *s)
{
    const char  *user = nano_req_param_str(req, "NANO_USER_ID");

    if (user[0] == '\0' || req->config->keyring == NULL
        || nano_session_read(req, (long long) time(NULL), s) != NANO_TOKEN_OK
        || s->claims.picture.len == 0
        || strcmp(s->claims.sub.data, user) != 0
        || strncmp(s->claims.picture.data, NANO_PAGE_AVATAR_PATH,
                   sizeof(NANO_PAGE_AVATAR_PATH) - 1) != 0)
    {
        return NULL;
    }
    return s->claims.picture.data;
}

/* Reads a whole file into a new NUL-terminated buffer. */
static char *
nano_page_load(const char *path, size_t *len)
{
    FILE    *f;
    char    *data;

    f = fopen(path, "rb");
    if (f == NULL) {
        nano_log_error("cannot open template %s: %s", path, strerror(errno));
        return NULL;
    }
    if (nano_file_read(f, NANO_PAGE_MAX, &data, len) == -1) {
        nano_log_error("cannot read template %s (or it is over %d bytes)",
                       path, NANO_PAGE_MAX);
    }
    fclose(f);
    return data;
}

static const nano_page_var_t *
nano_page_find(const nano_page_var_t *vars, size_t nvars, const char *key,
    size_t klen)
{
    size_t  i;

    for (i = 0; i < nvars; i++) {
        if (strlen(vars[i].key) == klen
            && strncmp(vars[i].key, key, klen) == 0)
        {
            return &vars[i];
        }
    }
    return NULL;
}

/* What every page's <head> holds, so the shared look is set in one place. */
static const char  nano_page_head[] =
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<link rel=\"stylesheet\" href=\"/ui/ui.css\">\n"
    "<link rel=\"icon\" href=\"/ui/logo.svg\">";

/* Expands {{key}} placeholders of tpl into out ({{head}} and {{header}}
 * are the shared ones). */
static void
nano_page_expand(nano_buf_t *out, const char *tpl, const char *header,
    const nano_page_var_t *vars, size_t nvars)
{
    const nano_page_var_t  *v;
    const char             *open, *close, *key;
    size_t                  klen;

    while ((open = strstr(tpl, "{{")) != NULL) {
        close = strstr(open + 2, "}}");
        if (close == NULL) {
            break;
        }
        nano_buf_append(out, tpl, (size_t) (open - tpl));
        key = open + 2;
        while (*key == ' ') {
            key++;
        }
        klen = (size_t) (close - key);
        while (klen > 0 && key[klen - 1] == ' ') {
            klen--;
        }
        if (klen == 6 && strncmp(key, "header", 6) == 0) {
            nano_buf_puts(out, header);
        } else if (klen == 4 && strncmp(key, "head", 4) == 0) {
            nano_buf_puts(out, nano_page_head);
        } else if ((v = nano_page_find(vars, nvars, key, klen)) != NULL) {
            if (v->value == NULL) {
                /* renders empty */
            } else if (v->raw) {
                nano_buf_puts(out, v->value);
            } else {
                nano_buf_html(out, v->value);
            }
        } else {
            nano_log_warn("template placeholder {{%.*s}} has no value",
                          (int) klen, key);
        }
        tpl = close + 2;
    }
    nano_buf_puts(out, tpl);
}

/* nano_page_render's work once the template is in memory. */
static int
nano_page_render_tpl(const nano_req_t *req, nano_res_t *res, int status,
    const char *tpl, const char *user_name, const nano_page_var_t *vars,
    size_t nvars)
{
    nano_buf_t       header;
    nano_session_t   session;
    const char      *gw, *base;
    char             back[1024];

    nano_buf_init(&header);
    nano_session_init(&session);
    /* On another origin than NEXTAUTH_URL's (a module's subdomain, whose
     * "/" is the module) the platform's links name the platform's. */
    gw = nano_req_param(req, "NANO_AUTH_ORIGIN");
    base = gw != NULL && strcmp(gw, req->config->origin) != 0
           ? req->config->origin : "";
    /* the page to come back to after signing in or out, with its own
     * origin when the links name the platform's; the sign-in and
     * sign-out pages (/api/auth/) are none */
    if (snprintf(back, sizeof(back), "%s%s%s", base[0] ? gw : "",
                 req->script_name, req->path) >= (int) sizeof(back)
        || (req->script_name[0] == '\0'
            && strncmp(req->path, "/api/", 5) == 0))
    {
        back[0] = '\0';
    }
    /* a module marks its own link, the platform the page's */
    nano_page_header(&header, base,
                     req->script_name[0] ? req->script_name : req->path,
                     back[0] ? back : NULL,
                     user_name, nano_req_param(req, "NANO_USER_ID"),
                     user_name != NULL ? nano_page_picture(req, &session)
                                       : NULL);
    if (header.failed) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }

    nano_buf_cleanup(&res->body);
    nano_page_expand(&res->body, tpl, header.data, vars, nvars);
    res->content_type = "text/html";
    res->status = status;
    /* Our pages are never framed (clickjacking on the sign-in form), and
     * run only the scripts of our own files: markup that slipped past
     * the escaping would run nothing (no inline script, no plugin, no
     * <base> moving the relative links). */
    nano_res_header(res, "Content-Security-Policy",
                    "script-src 'self'; object-src 'none'; base-uri 'none';"
                    " frame-ancestors 'none'");
    nano_res_header(res, "X-Frame-Options", "DENY");

out:
    nano_session_cleanup(&session);
    nano_buf_cleanup(&header);
    return status;
}

int
nano_page_check(const char *root, const char *app, const char *file,
    char *err, size_t errlen)
{
    char  path[4096];

    if (snprintf(path, sizeof(path), "%s/backends/%s/public/%s", root, app,
                 file) >= (int) sizeof(path))
    {
        snprintf(err, errlen, "NANO_ROOT \"%.200s\" is too long", root);
        return -1;
    }
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "NANO_ROOT \"%.200s\": cannot read"
                 " backends/%s/public/%s (%s); NANO_ROOT is the checkout or"
                 " install root (unset: the working directory)", root, app,
                 file, strerror(errno));
        return -1;
    }
    return 0;
}

int
nano_page_render(const nano_req_t *req, nano_res_t *res, int status,
    const char *file, const char *user_name, const nano_page_var_t *vars,
    size_t nvars)
{
    nano_buf_t   path;
    char        *tpl = NULL;
    size_t       len;

    nano_buf_init(&path);
    nano_buf_printf(&path, "%s/backends/%s/public/%s", req->config->root,
                    req->app->name, file);
    if (path.failed || (tpl = nano_page_load(path.data, &len)) == NULL) {
        status = nano_res_error(res, 500, "internal",
                                "page template unavailable");
    } else {
        status = nano_page_render_tpl(req, res, status, tpl, user_name,
                                      vars, nvars);
    }
    free(tpl);
    nano_buf_cleanup(&path);
    return status;
}

const char *
nano_page_user(const nano_req_t *req)
{
    const char  *v;

    /* the gateway's verdict, revocations included */
    if (nano_req_param_str(req, "NANO_USER_ID")[0] == '\0') {
        return NULL;
    }
    v = nano_req_param_str(req, "NANO_USER_NAME");
    if (v[0] == '\0') {
        v = nano_req_param_str(req, "NANO_USER_EMAIL");
    }
    return v[0] != '\0' ? v : nano_req_param_str(req, "NANO_USER_ID");
}

/* Every app's, so it needs no template file of its own. */
static const char  nano_page_not_found_tpl[] =
    "<!doctype html>\n<html lang=\"en\">\n<head>\n{{head}}\n"
    "<title>Nothing is here \xe2\x80\x94 Nano Banana</title>\n</head>\n"
    "<body>\n{{header}}\n<main id=\"main\" class=\"nb-main nb-narrow\">\n"
    "  <h1>Nothing is here</h1>\n"
    "  <p>There is no page at this address.</p>\n"
    "  <p><a href=\"/\">Back to Nano Banana</a></p>\n"
    "</main>\n</body>\n</html>\n";

int
nano_page_not_found(const nano_req_t *req, nano_res_t *res)
{
    int  page;

    /* a person's browser opening an address: a page like the others
     * (it showed JSON); a script, or anything under api/, gets JSON */
    page = (strcmp(req->method, "GET") == 0
            || strcmp(req->method, "HEAD") == 0)
           && !(strncmp(req->path, "/api", 4) == 0
                && (req->path[4] == '\0' || req->path[4] == '/'))
           && nano_req_wants_page(req);
    if (!page) {
        return nano_res_error(res, 404, "not_found", "no such path");
    }
    return nano_page_render_tpl(req, res, 404, nano_page_not_found_tpl,
                                nano_page_user(req), NULL, 0);
}
