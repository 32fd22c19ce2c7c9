/*
 * nano-platform: the login authority, registration and the public pages.
 * SCRIPT_NAME is empty here, so routes are full paths.
 */

#include "nano_server.h"
#include "platform.h"

static const nano_route_t  routes[] = {
    { "GET",  "/",                              platform_home },
    { "GET",  "/signup",                        platform_signup_page },
    { "POST", "/api/register",                  platform_register },
    { "GET",  "/api/auth/csrf",                 platform_auth_csrf },
    { "GET",  "/api/auth/providers",            platform_auth_providers },
    { "GET",  "/api/auth/session",              platform_auth_session },
    { "GET",  "/api/auth/signin",               platform_auth_signin_page },
    { "GET",  "/api/auth/signout",              platform_auth_signout_page },
    { "POST", "/api/auth/signout",              platform_auth_signout },
    { "GET",  "/api/auth/error",                platform_auth_error_page },
    { "POST", "/api/auth/callback/credentials", platform_auth_callback_credentials },
};

static const nano_app_t  app = {
    .name = "platform",
    .title = "Nano Banana",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .flags = NANO_APP_NEEDS_KEYS,
};

int
main(int argc, char **argv)
{
    return nano_server_main(argc, argv, &app);
}
