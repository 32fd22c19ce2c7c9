/*
 * nano-openai: the OpenAI module app.  Its routes only; serving, pages
 * and identity come from libnano.
 */

#include "nano_module.h"
#include "nano_server.h"

static const nano_route_t  routes[] = {
    { "GET", "/",       nano_module_page, 0, 0 },
    { "GET", "/api/me", nano_module_me, 0, 0 },
};

static const nano_app_t  app = {
    .name = "openai",
    .title = "OpenAI — text generation",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
};

int
main(int argc, char **argv)
{
    return nano_server_main(argc, argv, &app);
}
