/*
 * Process-wide configuration of a backend, read once from the
 * environment before the workers start and read-only afterwards.
 */

#ifndef NANO_CONFIG_H
#define NANO_CONFIG_H

#include <stddef.h>

#include "nano_callback.h"
#include "nano_site.h"
#include "nano_token.h"

#define NANO_DEFAULT_URL  "http://localhost:8080"

typedef struct {
    /* NEXTAUTH_URL's origin, e.g. "http://localhost:8080" (normalised as
     * nano_callback_origin writes it: no trailing slash). */
    char             origin[NANO_ORIGIN_MAX];
    int              https;        /* NEXTAUTH_URL is https */
    /* Keys from NANO_SECRET_FILE, else NEXTAUTH_SECRET; NULL when neither
     * is set and the app does not need them. */
    nano_keyring_t  *keyring;
    char            *root;         /* NANO_ROOT, else the working dir */
    /* NANO_MEDIA_DIR, else $root/.state/media: media files, and
     * uploads in progress under tmp/ */
    char            *media_dir;
    /* NANO_ORIGINS and NANO_COOKIE_DOMAIN: a module on a subdomain */
    nano_site_t      site;
    /* NANO_SESSION_FORMAT=jwe: sessions are issued as NextAuth v4's JWE
     * (nano_jwe.h) instead of HS256 JWS; both are always read */
    int              session_jwe;
} nano_config_t;

void nano_config_init(nano_config_t *cfg);

/*
 * Reads NEXTAUTH_URL (default NANO_DEFAULT_URL, with a warning),
 * NANO_SECRET_FILE or NEXTAUTH_SECRET (each key at least 32 bytes;
 * required when need_keys), NANO_SESSION_FORMAT (jws or jwe),
 * NANO_ORIGINS and NANO_COOKIE_DOMAIN (nano_site.h), NANO_ROOT,
 * NANO_MEDIA_DIR and the module
 * registry (nano_registry.h).  Returns 0, or -1 with a
 * message in err that never contains a secret.
 */
int nano_config_load(nano_config_t *cfg, int need_keys, char *err,
    size_t errlen);

/* Accepts NULL and may run twice. */
void nano_config_cleanup(nano_config_t *cfg);

/*
 * Reads the environment variable name as plain digits (nano_form_number)
 * within [min, max], 0 <= min, into *out (def when unset or empty).
 * Returns 0, or -1 with a message naming the variable and its range in
 * err.
 */
int nano_config_env_int(const char *name, int def, int min, int max,
    int *out, char *err, size_t errlen);

/*
 * 1 when v holds no blank and no control character (no byte of 0x20 or
 * less, no DEL), as a key, a secret or a client id must: one copied with
 * its newline, or with a blank inside, failed every call that sent it.
 * 0 otherwise.
 */
int nano_config_plain(const char *v);

/* The signing key (borrowed), for HMACs such as the CSRF hash; NULL
 * when no keys are loaded. */
const unsigned char *nano_config_secret(const nano_config_t *cfg,
    size_t *len);

#endif /* NANO_CONFIG_H */
