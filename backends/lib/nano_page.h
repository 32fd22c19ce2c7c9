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

/*
 * Appends the shared header: brand link to /, links to every module of
 * the registry by root path (the one matching active, e.g. "/qwen",
 * marked current), and
 * either user_name with links to billing and to sign out or, when
 * user_name is NULL, a sign-in link.
 */
int nano_page_header(nano_buf_t *out, const char *active,
    const char *user_name);

/*
 * Renders <NANO_ROOT>/backends/<app>/public/<file> into res as text/html
 * with status.  {{key}} becomes the HTML-escaped value of vars' key;
 * {{head}} the shared <head> lines (stylesheet, icon, viewport);
 * {{header}} the shared header for user_name (NULL: signed out), marked
 * for req's SCRIPT_NAME (the platform's pages: PATH_INFO, e.g.
 * "/billing").  Unknown keys render empty.  Returns status, or
 * 500 (JSON) when the template cannot be read.
 */
int nano_page_render(const nano_req_t *req, nano_res_t *res, int status,
    const char *file, const char *user_name, const nano_page_var_t *vars,
    size_t nvars);

#endif /* NANO_PAGE_H */
