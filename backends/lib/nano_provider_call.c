/*
 * Provider calls: base URL, key, errors.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_callback.h"
#include "nano_provider_call.h"

#define NANO_PROVIDER_AUTH_MAX  1024

int
nano_provider_call(nano_client_call_t *call, nano_provider_t p,
    const char *path, nano_provider_error_t *err)
{
    const nano_provider_info_t  *info = nano_provider_info(p);
    const char                  *key, *base;
    char                         line[NANO_PROVIDER_AUTH_MAX];
    char                        *url = NULL;
    int                          rc = -1;

    key = getenv(info->key_env);
    base = getenv(info->base_env);
    if (base == NULL || base[0] == '\0') {
        base = info->default_base;
    }
    if (key == NULL || key[0] == '\0') {
        return nano_provider_error_set(err, NANO_PERR_AUTH, 0,
                                       "%s is not configured on this server",
                                       info->label);
    }
    url = nano_provider_url(base, info->roots, path);
    if (url == NULL || nano_client_call_url(call, url, "") != 0) {
        nano_provider_error_set(err, NANO_PERR_PROVIDER, 0,
                                "the %s base URL is not usable", info->label);
        goto out;
    }
    if (nano_provider_auth_header(p, key, line, sizeof(line)) != 0) {
        nano_provider_error_set(err, NANO_PERR_AUTH, 0,
                                "the %s key is not usable", info->label);
        goto out;
    }
    nano_client_call_cleanup(call);
    call->auth = strdup(line);
    if (call->auth == NULL) {
        nano_provider_error_set(err, NANO_PERR_PROVIDER, 0, "out of memory");
        goto out;
    }
    rc = 0;
out:
    explicit_bzero(line, sizeof(line));
    free(url);
    return rc;
}

int
nano_provider_call_error(nano_provider_t p, const nano_client_res_t *res,
    nano_provider_error_t *err)
{
    const nano_provider_info_t  *info = nano_provider_info(p);
    const char                  *key = getenv(info->key_env);

    if (res->status == 0) {
        if (res->timed_out) {
            nano_provider_error_timeout(err, p, res->received);
            if (res->sent) {
                /* it may be working on it still: asking again would
                 * charge twice */
                err->retryable = 0;
            }
        } else {
            nano_provider_error_set(err, NANO_PERR_PROVIDER, !res->sent,
                                    "%s could not be reached: %s",
                                    info->label, nano_client_why(res));
        }
    } else {
        nano_provider_error_from_http(p, res->status,
                                      res->retry_after[0] ? res->retry_after
                                                          : NULL,
                                      res->body.data ? res->body.data : "",
                                      res->body.len, err);
    }
    if (key != NULL) {
        nano_provider_error_scrub(err, key);
    }
    return -1;
}

int
nano_provider_env_check(const char *key_env, char *err, size_t errlen)
{
    const nano_provider_info_t  *info;
    const char                  *key, *base, *rest, *s;
    char                         line[NANO_PROVIDER_AUTH_MAX];
    char                         origin[NANO_ORIGIN_MAX];
    char                         shown[256];
    int                          p, bad;

    for (p = 0; p < NANO_PROVIDER_COUNT; p++) {
        info = nano_provider_info((nano_provider_t) p);
        if (key_env == NULL || strcmp(info->key_env, key_env) != 0) {
            continue;
        }
        key = getenv(info->key_env);
        if (key == NULL || key[0] == '\0') {
            return 0;
        }
        /* either failed every call (refunded) while the module said it
         * was online */
        bad = nano_provider_auth_header((nano_provider_t) p, key, line,
                                        sizeof(line));
        explicit_bzero(line, sizeof(line));
        if (bad != 0) {
            snprintf(err, errlen, "%s holds a blank or a control"
                     " character, or is too long", info->key_env);
            return -1;
        }
        base = getenv(info->base_env);
        if (base == NULL || base[0] == '\0') {
            return 0;
        }
        bad = nano_callback_origin(base, origin, sizeof(origin), &rest) != 0
              || strlen(base) > 512;
        for (s = bad ? "" : rest; *s != '\0'; s++) {
            if ((unsigned char) *s <= 0x20 || *s == 0x7f || *s == '?'
                || *s == '#')
            {
                bad = 1;
                break;
            }
        }
        if (bad) {
            /* named as the log may show it: no user or password */
            nano_url_redact(base, shown, sizeof(shown));
            snprintf(err, errlen, "%s \"%.200s\" is not an http(s) URL"
                     " (without a user, a query, blanks or control"
                     " characters; unset: %s)", info->base_env, shown,
                     info->default_base);
            return -1;
        }
        return 0;
    }
    return 0;
}
