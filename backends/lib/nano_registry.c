/*
 * The module registry: "name kind provider title..." per line.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_file.h"
#include "nano_registry.h"
#include "nano_strlist.h"
#include "nano_utf8.h"

#define NANO_REGISTRY_FILE_MAX  (64 * 1024)
#define NANO_REGISTRY_TITLE_MAX 80

static nano_registry_module_t  nano_registry[NANO_REGISTRY_MAX];
static size_t                  nano_registry_n;
static char                   *nano_registry_text;   /* owns the strings */

static int
nano_registry_name_ok(const char *s)
{
    const char  *p;

    if ((*s < 'a' || *s > 'z') && (*s < '0' || *s > '9')) {
        return 0;
    }
    for (p = s; *p != '\0'; p++) {
        if ((*p < 'a' || *p > 'z') && (*p < '0' || *p > '9') && *p != '-'
            && *p != '.')
        {
            return 0;
        }
    }
    return p - s <= NANO_REGISTRY_NAME_MAX;
}

/* Whether two names make one upstream name, nano_<name> with '-' and
 * '.' as '_' (scripts/lib/registry.sh): nginx refuses the second. */
static int
nano_registry_same_upstream(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (*a != *b && !((*a == '-' || *a == '.') && (*b == '-' || *b == '.')))
        {
            return 0;
        }
    }
    return *a == *b;
}

int
nano_registry_parse(const char *text, size_t len, const char *what,
    char *err, size_t errlen)
{
    /* the platform's own paths: a module's regex location would take
     * /settings from the platform's "location /"; the tools, whose
     * nano-<tool> sits where a module's binary would (build/bin,
     * /usr/lib/nano/bin: "admin" broke nano-admin's build);
     * /etc/nano/common.env, which a module's <name>.env would replace;
     * the media root's own folders beside each module's (tmp: uploads
     * in flight, shared, which nano-setup then gave to the module
     * alone; avatars: the platform's); media and upload, whose users
     * nano-media and nano-upload would be the groups nano-setup makes
     * (useradd refused them, and nano-setup stopped there);
     * and the Makefile's targets, where `make <app>` builds an app
     * ("make clean" built a module "clean" to delete it, "make deps" one
     * before installing what it needs) */
    static const char *const  reserved[] = {
        "platform", "api", "ui", "signup", "settings", "billing",
        "admin", "migrate", "token", "offline", "provider", "testapp",
        "common", "tmp", "avatars", "media", "upload",
        "all", "apps", "tools", "module", "deps", "run", "test", "unit",
        "clean", "install", "install-platform", "install-module", "deb",
        "deps-deb", "deb-test", "fresh-test", "new-module", NULL
    };
    static const char *const  kinds[] = { "image", "text", "video", NULL };
    static const char *const  providers[] = {
        "gemini", "ark", "dashscope", "xai", "openai", "wan", "offline", NULL
    };
    nano_registry_module_t    mods[NANO_REGISTRY_MAX];
    size_t                    n = 0, i, lineno = 0, tlen;
    char                     *buf, *line, *next, *p, *name;

    buf = malloc(len + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", what);
        return -1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    /* a NUL would end the text here, dropping the lines after it in
     * silence, while the scripts (sed, awk) still list those modules */
    if ((p = memchr(buf, '\0', len)) != NULL) {
        for (next = buf; next < p; next++) {
            lineno += *next == '\n';
        }
        snprintf(err, errlen, "%s:%zu: a NUL byte", what, lineno + 1);
        goto failed;
    }

    next = buf;
    while ((line = nano_file_config_line(&next)) != NULL) {
        lineno++;
        p = line;
        name = nano_file_config_word(&p);
        if (name == NULL) {
            continue;                       /* blank or comment */
        }
        /* checked when one more comes: the last slot is room too */
        if (n == NANO_REGISTRY_MAX) {
            snprintf(err, errlen, "%s:%zu: more than %d modules", what,
                     lineno, NANO_REGISTRY_MAX);
            goto failed;
        }
        mods[n].name = name;
        mods[n].kind = nano_file_config_word(&p);
        mods[n].provider = nano_file_config_word(&p);
        p = nano_file_config_rest(p);
        mods[n].title = p;
        tlen = strlen(p);

        if (mods[n].provider == NULL || tlen == 0) {
            snprintf(err, errlen, "%s:%zu: expected \"name kind provider"
                     " title\"", what, lineno);
            goto failed;
        }
        if (!nano_registry_name_ok(mods[n].name)) {
            snprintf(err, errlen, "%s:%zu: \"%.60s\" is not a module name"
                     " (a-z, 0-9, '-', '.'; starting with a letter or digit;"
                     " at most %d bytes)", what, lineno, mods[n].name,
                     NANO_REGISTRY_NAME_MAX);
            goto failed;
        }
        if (nano_strlist_has(reserved, mods[n].name)) {
            snprintf(err, errlen, "%s:%zu: \"%s\" is reserved", what, lineno,
                     mods[n].name);
            goto failed;
        }
        if (!nano_strlist_has(kinds, mods[n].kind)) {
            snprintf(err, errlen, "%s:%zu: kind \"%.20s\" is not image, text"
                     " or video", what, lineno, mods[n].kind);
            goto failed;
        }
        if (!nano_strlist_has(providers, mods[n].provider)) {
            snprintf(err, errlen, "%s:%zu: unknown provider \"%.20s\"", what,
                     lineno, mods[n].provider);
            goto failed;
        }
        if (tlen > NANO_REGISTRY_TITLE_MAX) {
            snprintf(err, errlen, "%s:%zu: the title is longer than %d bytes",
                     what, lineno, NANO_REGISTRY_TITLE_MAX);
            goto failed;
        }
        /* it goes into JSON (the dashboard, /<m>/api/models), which
         * cannot carry another encoding: Latin-1 made both 500 */
        if (!nano_utf8_valid(mods[n].title)) {
            snprintf(err, errlen, "%s:%zu: the title is not UTF-8", what,
                     lineno);
            goto failed;
        }
        for (i = 0; i < n; i++) {
            if (strcmp(mods[i].name, mods[n].name) == 0) {
                snprintf(err, errlen, "%s:%zu: \"%s\" is listed twice", what,
                         lineno, mods[n].name);
                goto failed;
            }
            if (nano_registry_same_upstream(mods[i].name, mods[n].name)) {
                snprintf(err, errlen, "%s:%zu: \"%s\" and \"%s\" would share"
                         " one nginx upstream ('-' and '.' are both '_'"
                         " there)", what, lineno, mods[n].name, mods[i].name);
                goto failed;
            }
        }
        n++;
    }

    nano_registry_cleanup();
    for (i = 0; i < n; i++) {
        p = malloc(strlen(mods[i].name) + 2);
        if (p == NULL) {
            snprintf(err, errlen, "%s: out of memory", what);
            nano_registry_n = i;
            nano_registry_text = buf;
            nano_registry_cleanup();
            return -1;
        }
        p[0] = '/';
        strcpy(p + 1, mods[i].name);
        mods[i].path = p;
        nano_registry[i] = mods[i];
    }
    nano_registry_n = n;
    nano_registry_text = buf;
    return 0;

failed:
    free(buf);
    return -1;
}

int
nano_registry_load(const char *root, char *err, size_t errlen)
{
    const char  *path = getenv("NANO_MODULES_FILE");
    char         guess[4096], *text;
    FILE        *f;
    size_t       n;
    int          rc = -1, given = 0;

    if (path == NULL || path[0] == '\0') {
        snprintf(guess, sizeof(guess), "%s/modules.conf",
                 root != NULL ? root : ".");
        path = guess;
        f = fopen(path, "r");
        if (f == NULL && errno == ENOENT) {
            path = "/etc/nano/modules.conf";
            f = fopen(path, "r");
        }
    } else {
        given = 1;
        f = fopen(path, "r");
    }
    if (f == NULL && given) {
        /* named on purpose: a typo must not pass for "no modules here" */
        snprintf(err, errlen, "cannot open the module registry %s"
                 " (NANO_MODULES_FILE): %s", path, strerror(errno));
        return -1;
    }
    if (f == NULL) {
        snprintf(err, errlen, "cannot open the module registry %s: %s "
                 "(set NANO_MODULES_FILE)", path, strerror(errno));
        return errno == ENOENT ? -2 : -1;
    }
    switch (nano_file_read(f, NANO_REGISTRY_FILE_MAX, &text, &n)) {
    case 0:
        break;
    case -2:
        snprintf(err, errlen, "out of memory");
        goto out;
    default:
        snprintf(err, errlen, "cannot read %s (or it is over %d bytes)", path,
                 NANO_REGISTRY_FILE_MAX);
        goto out;
    }
    rc = nano_registry_parse(text, n, path, err, errlen);
out:
    free(text);
    fclose(f);
    return rc;
}

const nano_registry_module_t *
nano_registry_modules(size_t *n)
{
    *n = nano_registry_n;
    return nano_registry;
}

const nano_registry_module_t *
nano_registry_find(const char *name)
{
    size_t  i;

    for (i = 0; i < nano_registry_n; i++) {
        if (strcmp(nano_registry[i].name, name) == 0) {
            return &nano_registry[i];
        }
    }
    return NULL;
}

void
nano_registry_cleanup(void)
{
    size_t  i;

    for (i = 0; i < nano_registry_n; i++) {
        free((char *) nano_registry[i].path);
    }
    memset(nano_registry, 0, sizeof(nano_registry));
    nano_registry_n = 0;
    free(nano_registry_text);
    nano_registry_text = NULL;
}
