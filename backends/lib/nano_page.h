/*
 * HTML pages: templates from an app's public/ folder with {{key}}
 * placeholders, and the shared header that links every module.
 */

#ifndef NANO_PAGE_H
#define NANO_PAGE_H

#include <stddef.h>

#include "nano_buf.h"
#include "nano_http.h"

#define NANO_PAGE_MAX  (256 * 1024)    /* largest template we load */

typedef struct {
    const char  *key;
    const char  *value;        /* NULL renders as "" */
    int          raw;          /* 1: trusted markup, inserted as it is */
} nano_page_var_t;

/* Where the platform serves avatars: GET /api/account/avatar/<user id>. */
#define NANO_PAGE_AVATAR_PATH  "/api/account/avatar/"

/*
 * Appends the shared header: brand link to /, links to every module of
 * the registry by root path, and either (user_name given) the balance
 * slot, the account links Dashboard (/), Billing, Settings, the avatar
 * (picture, a URL; NULL: none), the name and a sign-out link, or (NULL)
 * a sign-in link.  The link whose path is active ("/qwen", "/settings")
 * is marked aria-current.  user_id (NULL: none) becomes the header's
 * data-nb-user, which the page's scripts send as X-Nano-User so that a
 * call made after another account signed in elsewhere is refused
 * (nano_server.c).  base ("" or an origin) goes before the platform's
 * links (brand, account links, sign-in, sign-out): on a module's own
 * subdomain "/" is the module, so they name NEXTAUTH_URL's origin.
 * back (NULL: none), the page's own path (or URL, on a subdomain), is
 * the sign-in and sign-out links' callbackUrl.
 */
int nano_page_header(nano_buf_t *out, const char *base, const char *active,
    const char *back, const char *user_name, const char *user_id,
    const char *picture);

/*
 * At an app's start: whether <root>/backends/<app>/public/<file> can be
 * read.  0, or -1 with NANO_ROOT named in err (a wrong root let the app
 * start and answer every page 500).
 */
int nano_page_check(const char *root, const char *app, const char *file,
    char *err, size_t errlen);

/*
 * Renders <NANO_ROOT>/backends/<app>/public/<file> into res as text/html
 * with status.  {{key}} becomes the HTML-escaped value of vars' key;
 * {{head}} the shared <head> lines (stylesheet, icon, viewport);
 * {{header}} the shared header for user_name (NULL: signed out), marked
 * for req's SCRIPT_NAME (the platform: its path), with the avatar the
 * session token's picture claim names.  Unknown keys render empty.
 * Returns status, or 500 (JSON) when the template cannot be read.
 */
int nano_page_render(const nano_req_t *req, nano_res_t *res, int status,
    const char *file, const char *user_name, const nano_page_var_t *vars,
    size_t nvars);

/* The name the header shows for the user the gateway let in (its name,
 * else email, else id; borrowed from req), or NULL when signed out. */
const char *nano_page_user(const nano_req_t *req);

/*
 * 404 for a path no route serves: for a browser opening a page (GET or
 * HEAD outside /api, Accept naming text/html) a page with the shared
 * header, else JSON {"error":"not_found"}.  Returns 404 (or 500).
 */
int nano_page_not_found(const nano_req_t *req, nano_res_t *res);

#endif /* NANO_PAGE_H */
