/*
 * Backend configuration from the environment.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nano_callback.h"
#include "nano_config.h"
#include "nano_form.h"
#include "nano_log.h"
#include "nano_registry.h"

void
nano_config_init(nano_config_t *cfg)
{
    cfg->origin[0] = '\0';
    cfg->https = 0;
    cfg->keyring = NULL;
    cfg->root = NULL;
    cfg->media_dir = NULL;
    memset(&cfg->site, 0, sizeof(cfg->site));
    cfg->session_jwe = 0;
}

void
nano_config_cleanup(nano_config_t *cfg)
{
    if (cfg == NULL) {
        return;
    }
    nano_keyring_free(cfg->keyring);
    free(cfg->root);
    free(cfg->media_dir);
    nano_registry_cleanup();
    nano_config_init(cfg);
}

static int
nano_config_load_keys(nano_config_t *cfg, int need_keys, char *err,
    size_t errlen)
{
    const char  *file, *secret;
    char         why[256];

    file = getenv("NANO_SECRET_FILE");
    if (file != NULL && file[0] != '\0') {
        cfg->keyring = nano_keyring_load(file, why, sizeof(why));
        if (cfg->keyring == NULL) {
            snprintf(err, errlen, "NANO_SECRET_FILE: %s", why);
            return -1;
        }
        return 0;
    }

    secret = getenv("NEXTAUTH_SECRET");
    if (secret != NULL && secret[0] != '\0') {
        /* Checked here too so the message names the variable. */
        if (strlen(secret) < NANO_KEY_MIN_LEN) {
            snprintf(err, errlen, "NEXTAUTH_SECRET is shorter than %d bytes",
                     NANO_KEY_MIN_LEN);
            return -1;
        }
        cfg->keyring = nano_keyring_parse(secret, strlen(secret), why,
                                          sizeof(why));
        if (cfg->keyring == NULL) {
            snprintf(err, errlen, "NEXTAUTH_SECRET: %s", why);
            return -1;
        }
        return 0;
    }

    if (need_keys) {
        snprintf(err, errlen, "no secret: set NANO_SECRET_FILE (a key file"
                 " shared with nginx) or NEXTAUTH_SECRET");
        return -1;
    }
    return 0;
}

int
nano_config_load(nano_config_t *cfg, int need_keys, char *err,
    size_t errlen)
{
    const char  *url, *root, *rest, *media, *format;
    char         cwd[PATH_MAX], shown[256];

    url = getenv("NEXTAUTH_URL");
    if (url == NULL || url[0] == '\0') {
        nano_log_warn("NEXTAUTH_URL is not set; using %s", NANO_DEFAULT_URL);
        url = NANO_DEFAULT_URL;
    }
    if (nano_callback_origin(url, cfg->origin, sizeof(cfg->origin), &rest)
        != 0)
    {
        nano_url_redact(url, shown, sizeof(shown));
        snprintf(err, errlen, "NEXTAUTH_URL \"%.200s\" is not an absolute"
                 " http(s) URL (without a user)", shown);
        goto fail;
    }
    cfg->https = strncmp(cfg->origin, "https:", 6) == 0;
    if (rest[0] != '\0' && strcmp(rest, "/") != 0) {
        /* NextAuth allows a base path here; ours is fixed at /api/auth. */
        nano_log_warn("NEXTAUTH_URL path \"%.200s\" ignored; the platform"
                      " serves /api/auth on %s", rest, cfg->origin);
    }

    if (nano_site_parse(&cfg->site, cfg->origin, getenv("NANO_ORIGINS"),
                        getenv("NANO_COOKIE_DOMAIN"), err, errlen) != 0)
    {
        goto fail;
    }

    if (nano_config_load_keys(cfg, need_keys, err, errlen) != 0) {
        goto fail;
    }

    format = getenv("NANO_SESSION_FORMAT");
    if (format != NULL && strcmp(format, "jwe") == 0) {
        cfg->session_jwe = 1;
    } else if (format != NULL && format[0] != '\0'
               && strcmp(format, "jws") != 0)
    {
        snprintf(err, errlen, "NANO_SESSION_FORMAT must be jws or jwe (not"
                 " \"%.40s\")", format);
        goto fail;
    }

    root = getenv("NANO_ROOT");
    if (root == NULL || root[0] == '\0') {
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            snprintf(err, errlen, "cannot get the working directory: %s",
                     strerror(errno));
            goto fail;
        }
        root = cwd;
    }
    cfg->root = strdup(root);
    if (cfg->root == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    media = getenv("NANO_MEDIA_DIR");
    if (media != NULL && media[0] != '\0') {
        if (media[0] != '/') {
            /* nginx serves the same folder from its own working
             * directory: a relative one names two places */
            snprintf(err, errlen, "NANO_MEDIA_DIR must be an absolute path"
                     " (not \"%.80s\")", media);
            goto fail;
        }
        cfg->media_dir = strdup(media);
    } else if (asprintf(&cfg->media_dir, "%s/.state/media", cfg->root) < 0) {
        cfg->media_dir = NULL;
    }
    if (cfg->media_dir == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* an app without modules of its own (a tool, a test) may do without
     * the list; a module app insists on it (nano_module_main) */
    switch (nano_registry_load(cfg->root, err, errlen)) {
    case 0:
        break;
    case -2:
        nano_log_warn("%s; the header lists no modules", err);
        break;
    default:
        goto fail;
    }
    return 0;

fail:
    nano_config_cleanup(cfg);
    return -1;
}

const unsigned char *
nano_config_secret(const nano_config_t *cfg, size_t *len)
{
    if (cfg->keyring == NULL) {
        *len = 0;
        return NULL;
    }
    return nano_keyring_signing_key(cfg->keyring, len);
}

int
nano_config_plain(const char *v)
{
    for (; *v != '\0'; v++) {
        if ((unsigned char) *v <= 0x20 || *v == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int
nano_config_env_int(const char *name, int def, int min, int max, int *out,
    char *err, size_t errlen)
{
    const char  *v = getenv(name);
    long long    n;
    int          rc = 0;

    *out = def;
    if (v == NULL || v[0] == '\0') {
        goto out;
    }
    /* plain digits: strtol took " 4" and "+4" but not "4 " */
    if (nano_form_number(v, 10, max, &n) != 0 || n < min) {
        snprintf(err, errlen, "%s must be a number from %d to %d (not"
                 " \"%.40s\")", name, min, max, v);
        rc = -1;
        goto out;
    }
    *out = (int) n;
out:
    return rc;
}
