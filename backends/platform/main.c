/*
 * nano-platform: the login authority, registration and the public pages.
 * SCRIPT_NAME is empty here, so routes are full paths.
 */

#include <sys/stat.h>

#include "nano_credits.h"
#include "nano_log.h"
#include "nano_page.h"
#include "nano_password.h"
#include "nano_schema.h"
#include "nano_server.h"
#include "nano_sweep.h"
#include "platform.h"

static const nano_route_t  routes[] = {
    { "GET",    "/",
      platform_home, 0, 0 },
    { "GET",    "/signup",
      platform_signup_page, 0, 0 },
    { "POST",   "/api/register",
      platform_register, 0, 0 },
    { "GET",    "/api/auth/csrf",
      platform_auth_csrf, 0, 0 },
    { "GET",    "/api/auth/providers",
      platform_auth_providers, 0, 0 },
    { "GET",    "/api/auth/session",
      platform_auth_session, 0, 0 },
    /* update(data): the platform reads only the csrfToken, but a
     * client's data may be as large as Next.js lets NextAuth's route
     * take (1 MiB, nginx's limit too); 64 KiB made update() null */
    { "POST",   "/api/auth/session",
      platform_auth_session_update, 1024 * 1024, 0 },
    { "GET",    "/api/auth/signin",
      platform_auth_signin_page, 0, 0 },
    { "GET",    "/api/auth/signin/credentials",
      platform_auth_signin_page, 0, 0 },
    { "POST",   "/api/auth/signin/credentials",
      platform_auth_signin_provider, 0, 0 },
    { "GET",    "/api/auth/signout",
      platform_auth_signout_page, 0, 0 },
    { "POST",   "/api/auth/signout",
      platform_auth_signout, 0, 0 },
    { "GET",    "/api/auth/error",
      platform_auth_error_page, 0, 0 },
    { "POST",   "/api/auth/callback/credentials",
      platform_auth_callback_credentials, 0, 0 },
    { "POST",   "/api/auth/_log",
      platform_auth_log, 0, 0 },
    { "GET",    "/api/auth/signin/{provider}",
      platform_oauth_signin_page, 0, 0 },
    { "POST",   "/api/auth/signin/{provider}",
      platform_oauth_signin, 0, 0 },
    { "GET",    "/api/auth/callback/{provider}",
      platform_oauth_callback, 0, 0 },
    { "GET",    "/api/account/connections",
      platform_account_connections, 0, 0 },
    { "DELETE", "/api/account/connections/{provider}",
      platform_account_unlink, 0, 0 },
    { "POST",   "/api/account/signout-all",
      platform_account_signout_all, 0, 0 },
    { "POST",   "/api/account/password",
      platform_account_password, 0, 0 },
    { "DELETE", "/api/account",
      platform_account_delete, 0, 0 },
    { "GET",    "/api/credits",
      platform_credits, 0, 0 },
    { "GET",    "/api/credits.csv",
      platform_credits_csv, 0, 0 },
    { "GET",    "/billing",
      platform_billing_page, 0, 0 },
    { "GET",    "/api/billing/packs",
      platform_billing_packs, 0, 0 },
    { "POST",   "/api/billing/checkout",
      platform_billing_checkout, 0, 0 },
    { "GET",    "/api/billing/checkout/{id}",
      platform_billing_checkout_status, 0, 0 },
    /* Stripe's events: bodies up to 1 MiB, as nginx allows */
    { "POST",   "/api/billing/webhook",
      platform_billing_webhook, 1024 * 1024, 0 },
    { "GET",    "/api/dashboard",
      platform_dashboard, 0, 0 },
    { "GET",    "/settings",
      platform_settings_page, 0, 0 },
    { "POST",   "/api/account/profile",
      platform_account_profile, 0, 0 },
    /* a 5 MiB picture and the multipart around it */
    { "POST",   "/api/account/avatar",
      platform_account_avatar_put,
      5 * 1024 * 1024 + 64 * 1024, NANO_ROUTE_UPLOAD },
    { "DELETE", "/api/account/avatar",
      platform_account_avatar_delete, 0, 0 },
    { "GET",    "/api/account/avatar/{id}",
      platform_account_avatar_get, 0, 0 },
    { "GET",    "/api/account/sessions",
      platform_account_sessions, 0, 0 },
    { "DELETE", "/api/account/sessions/{id}",
      platform_account_session_delete, 0, 0 },
    { "GET",    "/api/account/export",
      platform_account_export, 0, 0 },
};

static void platform_stop(void);

/* Before the workers: the sign-up credits, the session lifetime, the
 * password pool's size, the OAuth providers, billing's settings (a
 * malformed packs file stops the platform here), then the revocation
 * publisher and the sweep of the uploads it left. */
static int
platform_start(const nano_config_t *config)
{
    char         err[512];
    struct stat  st;

    if (nano_page_check(config->root, "platform", "signin.html", err,
                        sizeof(err)) != 0
        || nano_site_cookie_reaches(&config->site, config->origin, err,
                                    sizeof(err)) != 0
        || nano_site_cookie_domain_check(&config->site, NANO_SITE_PSL_FILE,
                                         err, sizeof(err)) != 0
        || nano_credits_configure(err, sizeof(err)) != 0
        || nano_session_configure(err, sizeof(err)) != 0
        || nano_password_pool_configure(nano_server_workers(), err,
                                        sizeof(err)) != 0)
    {
        nano_log_error("%s", err);
        return -1;
    }
    /* a warning, not a refusal: the folder may be made later (a test's
     * stack starts the platform before any module made it) */
    if (stat(config->media_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        nano_log_warn("NANO_MEDIA_DIR %s is not a folder: avatars cannot be"
                      " stored until it is, and a deleted account's files"
                      " are removed only from there: it must be the"
                      " modules' folder", config->media_dir);
    }
    nano_schema_check(config->root);
    if (platform_oauth_configure() != 0) {
        return -1;
    }
    if (platform_billing_start(config) != 0
        || platform_revocations_start(config) != 0)
    {
        platform_billing_stop();
        platform_oauth_cleanup();
        return -1;
    }
    /* the avatars' uploads in tmp/ that no request finished: only this
     * process's user may remove them there (the modules sweep their
     * own) */
    if (nano_sweep_start("platform", config->media_dir, err, sizeof(err))
        != 0)
    {
        nano_log_error("%s", err);
        platform_stop();
        return -1;
    }
    return 0;
}

static void
platform_stop(void)
{
    nano_sweep_stop();
    platform_revocations_stop();
    platform_oauth_cleanup();
    platform_billing_stop();
}

/* 12 request workers: a sign-in flood holds at most the bcrypt pool's
 * threads and queue (nano_password.h: 1 + 4 on two cores, at most half
 * the workers by default) and the rest keep answering.  More would not
 * serve more: under a flood every extra runnable thread only lengthens
 * the queue for the CPU (measured with tests/bench/signin-flood: 32
 * workers gave a p99 twice that of 12). */
static const nano_app_t  app = {
    .name = "platform",
    .title = "Nano Banana",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .flags = NANO_APP_NEEDS_KEYS | NANO_APP_CHECKS_ORIGIN,
    .workers = 12,
    .env_help = "Platform: NANO_SESSION_MAX_AGE, NANO_REVOCATION_FILE,\n"
                "NANO_BCRYPT_THREADS, NANO_BCRYPT_QUEUE, GOOGLE_CLIENT_ID,\n"
                "GOOGLE_CLIENT_SECRET, GOOGLE_ISSUER, GITHUB_CLIENT_ID,\n"
                "GITHUB_CLIENT_SECRET, GITHUB_BASE_URL, GITHUB_API_URL (each\n"
                "*_CLIENT_ID and *_CLIENT_SECRET also from the file *_FILE\n"
                "names),\n"
                "NANO_PACKS_FILE, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET,\n"
                "STRIPE_API_BASE.\n",
    .start = platform_start,
    .stop = platform_stop,
};

int
main(int argc, char **argv)
{
    return nano_server_main(argc, argv, &app);
}
