/*
 * The platform's pages: home (the dashboard once signed in), sign-up and
 * settings.
 */

#include <stdlib.h>

#include "nano_page.h"
#include "nano_registry.h"
#include "platform.h"

/* The module cards of the home page (trusted markup). */
static void
platform_module_cards(nano_buf_t *out)
{
    const nano_registry_module_t  *m;
    size_t                         i, n;

    m = nano_registry_modules(&n);
    nano_buf_puts(out, "<ul class=\"nb-cards\">\n");
    for (i = 0; i < n; i++) {
        nano_buf_printf(out, "  <li><a class=\"nb-card\" href=\"%s\">"
                        "<strong>", m[i].path);
        nano_buf_html(out, m[i].title);
        nano_buf_printf(out, "</strong><span>%s</span></a></li>\n",
                        m[i].kind);
    }
    nano_buf_puts(out, "</ul>");
}

int
platform_home(nano_req_t *req, nano_res_t *res)
{
    nano_buf_t       cards;
    const char      *name;
    int              status;

    name = nano_page_user(req);
    if (name != NULL) {
        /* signed in: the dashboard, filled by /ui/dashboard.js from
         * GET /api/dashboard */
        const nano_page_var_t  vars[] = { { "user_name", name, 0 } };

        return nano_page_render(req, res, 200, "dashboard.html", name, vars,
                                1);
    }
    nano_buf_init(&cards);
    platform_module_cards(&cards);

    const nano_page_var_t  vars[] = {
        { "user_name", name,  0 },
        { "modules",   cards.data, 1 },
        /* Shown to signed-out visitors only (CSS hides the other). */
        { "signed",    "out", 0 },
    };
    status = cards.failed
             ? nano_res_error(res, 500, "internal", "out of memory")
             : nano_page_render(req, res, 200, "home.html", name, vars,
                                sizeof(vars) / sizeof(vars[0]));
    nano_buf_cleanup(&cards);
    return status;
}

int
platform_settings_page(nano_req_t *req, nano_res_t *res)
{
    const char  *name = nano_page_user(req);

    if (name == NULL) {
        /* nginx lets / through without a session: send the browser to
         * sign in, and back here afterwards */
        return platform_signin_redirect(res, "/settings");
    }

    const nano_page_var_t  vars[] = {
        { "user_name",  name, 0 },
        { "user_email", nano_req_param_str(req, "NANO_USER_EMAIL"), 0 },
    };
    return nano_page_render(req, res, 200, "settings.html", name, vars,
                            sizeof(vars) / sizeof(vars[0]));
}

int
platform_signup_page(nano_req_t *req, nano_res_t *res)
{
    char            *callback, *signin = NULL;
    int              status;

    callback = platform_query_callback(req, res);
    if (callback == NULL
        || (signin = platform_link_with_callback("/api/auth/signin",
                                                 callback)) == NULL)
    {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }

    const nano_page_var_t  vars[] = {
        { "callback_url", callback, 0 },
        { "signin_url",   signin,   0 },
        { "site_url",     req->config->origin, 0 },
    };
    status = nano_page_render(req, res, 200, "signup.html",
                              nano_page_user(req), vars,
                              sizeof(vars) / sizeof(vars[0]));
out:
    free(signin);
    free(callback);
    return status;
}
