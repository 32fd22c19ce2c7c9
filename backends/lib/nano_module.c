/*
 * Shared handlers of the module apps.
 */

#include "nano_module.h"
#include "nano_page.h"
#include "nano_server.h"

/* The gateway always passes NANO_USER_ID for a signed-in user; without
 * it the location lacks `nano_auth on` and we fail closed. */
static int
nano_module_unauthorized(nano_res_t *res)
{
    return nano_res_error(res, 401, "unauthorized",
                          "no identity from the gateway");
}

int
nano_module_page(nano_req_t *req, nano_res_t *res)
{
    const char  *id = nano_req_param_str(req, "NANO_USER_ID");
    const char  *email = nano_req_param_str(req, "NANO_USER_EMAIL");
    const char  *name = nano_req_param_str(req, "NANO_USER_NAME");

    if (id[0] == '\0') {
        return nano_module_unauthorized(res);
    }
    if (name[0] == '\0') {
        name = email[0] != '\0' ? email : id;
    }

    const nano_page_var_t  vars[] = {
        { "title",      req->app->title,  0 },
        { "user_name",  name,             0 },
        { "user_email", email,            0 },
        { "base",       req->script_name, 0 },
    };
    return nano_page_render(req, res, 200, "index.html", name, vars,
                            sizeof(vars) / sizeof(vars[0]));
}

int
nano_module_me(nano_req_t *req, nano_res_t *res)
{
    const char  *id = nano_req_param_str(req, "NANO_USER_ID");

    if (id[0] == '\0') {
        return nano_module_unauthorized(res);
    }
    return nano_res_json(res, 200,
                         json_pack("{s:s, s:s, s:s, s:s}",
                                   "id", id,
                                   "email",
                                   nano_req_param_str(req, "NANO_USER_EMAIL"),
                                   "name",
                                   nano_req_param_str(req, "NANO_USER_NAME"),
                                   "module", req->app->name));
}
