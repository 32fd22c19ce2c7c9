/*
 * GitHub sign-in over OAuth 2, as NextAuth v4's GitHub provider: state
 * (GitHub's flow in NextAuth v4 has no PKCE), scope "read:user
 * user:email", the token at <base>/login/oauth/access_token, the profile
 * from <api>/user and, when its email is private (null), the primary
 * verified address from <api>/user/emails.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_log.h"
#include "oauth.h"

/* GitHub's API refuses requests without a User-Agent. */
#define PLATFORM_GITHUB_AGENT  "User-Agent: nano-platform"

static char *
platform_github_authorize(const platform_oauth_provider_t *p,
    const char *redirect_uri, const char *state, const char *challenge,
    const char *nonce)
{
    nano_buf_t  b;

    (void) challenge;
    (void) nonce;
    nano_buf_init(&b);
    nano_buf_printf(&b, "%s/login/oauth/authorize?client_id=", p->base);
    nano_buf_urlencode(&b, p->client_id);
    nano_buf_puts(&b, "&scope=read%3Auser%20user%3Aemail&response_type=code"
                  "&redirect_uri=");
    nano_buf_urlencode(&b, redirect_uri);
    nano_buf_puts(&b, "&state=");
    nano_buf_urlencode(&b, state);
    return nano_buf_steal(&b);
}

/* GET <api><path> with the access token; 0 with *json, or -1. */
static int
platform_github_get(const platform_oauth_provider_t *p, const char *what,
    const char *path, const char *auth, json_t **json)
{
    static const char *const  headers[] = {
        "Accept: application/vnd.github+json", PLATFORM_GITHUB_AGENT, NULL,
    };
    char                      url[1024];
    long                      status;

    snprintf(url, sizeof(url), "%s%s", p->api, path);
    return platform_oauth_fetch(what, "GET", url, headers, auth, NULL, json,
                                &status);
}

/* The primary verified address of /user/emails, normalised, or NULL. */
static char *
platform_github_primary_email(const platform_oauth_provider_t *p,
    const char *auth)
{
    json_t      *emails = NULL, *e;
    const char  *addr;
    char        *out = NULL;
    size_t       i;

    if (platform_github_get(p, "GitHub /user/emails", "/user/emails", auth,
                            &emails) != 0 || !json_is_array(emails))
    {
        goto out;
    }
    json_array_foreach(emails, i, e) {
        addr = json_string_value(json_object_get(e, "email"));
        if (addr != NULL && json_is_true(json_object_get(e, "primary"))
            && json_is_true(json_object_get(e, "verified")))
        {
            out = platform_oauth_email(addr);
            break;
        }
    }
    if (out == NULL) {
        nano_log_info("GitHub /user/emails: no primary verified address");
    }
out:
    json_decref(emails);
    return out;
}

static int
platform_github_profile(const platform_oauth_provider_t *p, const char *code,
    const char *redirect_uri, const char *verifier, const char *nonce,
    platform_oauth_profile_t *out)
{
    static const char *const  headers[] = {
        "Content-Type: application/x-www-form-urlencoded",
        "Accept: application/json", PLATFORM_GITHUB_AGENT, NULL,
    };
    nano_buf_t                body, url, bearer;
    json_t                   *tokens = NULL, *user = NULL, *id;
    const char               *name;
    char                     *auth = NULL;
    long                      status;
    int                       rc = -1;

    (void) verifier;
    (void) nonce;
    nano_buf_init(&body);
    nano_buf_init(&url);
    nano_buf_init(&bearer);
    platform_oauth_code_body(&body, code, redirect_uri);
    nano_buf_printf(&url, "%s/login/oauth/access_token", p->base);
    auth = platform_oauth_basic_auth(p);
    if (body.failed || url.failed || auth == NULL
        || platform_oauth_fetch("GitHub token", "POST", url.data, headers,
                                auth, body.data, &tokens, &status) != 0)
    {
        goto out;
    }
    /* GitHub answers a bad code with 200 {"error": "bad_verification_code"} */
    out->access_token = platform_oauth_member(tokens, "access_token");
    if (out->access_token == NULL) {
        nano_log_error("GitHub token: no access_token (%.80s)",
                       json_string_value(json_object_get(tokens, "error"))
                       ? json_string_value(json_object_get(tokens, "error"))
                       : "no error given");
        goto out;
    }
    out->token_type = platform_oauth_member(tokens, "token_type");
    out->scope = platform_oauth_member(tokens, "scope");
    out->refresh_token = platform_oauth_member(tokens, "refresh_token");
    out->expires_at = platform_oauth_expires_at(tokens,
                                                (long long) time(NULL));

    nano_buf_printf(&bearer, "Bearer %s", out->access_token);
    if (bearer.failed
        || platform_github_get(p, "GitHub /user", "/user", bearer.data,
                               &user) != 0)
    {
        goto out;
    }
    /* NextAuth: id.toString(), name ?? login, email, avatar_url */
    id = json_object_get(user, "id");
    if (!json_is_integer(id) || json_integer_value(id) <= 0) {
        nano_log_error("GitHub /user: no numeric id");
        goto out;
    }
    out->id = malloc(24);
    if (out->id == NULL) {
        goto out;
    }
    snprintf(out->id, 24, "%lld", (long long) json_integer_value(id));
    name = json_string_value(json_object_get(user, "name"));
    if (name == NULL || name[0] == '\0') {
        name = json_string_value(json_object_get(user, "login"));
    }
    out->name = platform_name_from_provider(name);
    name = json_string_value(json_object_get(user, "avatar_url"));
    if (name != NULL && strncmp(name, "https://", 8) == 0) {
        out->image = platform_oauth_text(name, PLATFORM_OAUTH_URL_MAX);
    }
    /* a public profile email is one of the account's verified ones */
    out->email = platform_oauth_email(json_string_value(
        json_object_get(user, "email")));
    if (out->email == NULL) {
        out->email = platform_github_primary_email(p, bearer.data);
    }
    rc = 0;
out:
    if (bearer.data != NULL) {
        explicit_bzero(bearer.data, bearer.len);
    }
    if (auth != NULL) {
        explicit_bzero(auth, strlen(auth));
    }
    free(auth);
    json_decref(user);
    json_decref(tokens);
    nano_buf_cleanup(&bearer);
    nano_buf_cleanup(&url);
    nano_buf_cleanup(&body);
    return rc;
}

platform_oauth_provider_t  platform_oauth_github = {
    .id = "github",
    .name = "GitHub",
    .env = "GITHUB",
    .base_env = "GITHUB_BASE_URL",
    .base_default = "https://github.com",
    .api_env = "GITHUB_API_URL",
    .api_default = "https://api.github.com",
    .pkce = 0,
    .nonce = 0,
    .authorize = platform_github_authorize,
    .profile = platform_github_profile,
};
