/*
 * The module registry (modules.conf, docs/MODULES.md): the one list of
 * AI modules, read once at process start and immutable afterwards.
 */

#ifndef NANO_REGISTRY_H
#define NANO_REGISTRY_H

#include <stddef.h>

#define NANO_REGISTRY_MAX       64      /* modules */
/* bytes of a name: installed, a module runs as the system user
 * nano-<name>, and useradd takes 32 bytes at most */
#define NANO_REGISTRY_NAME_MAX  27

typedef struct {
    const char  *name;       /* "nano-banana": path prefix, binary, folder */
    const char  *kind;       /* "image", "text" or "video" */
    const char  *provider;   /* "gemini", "ark", ..., "offline" */
    const char  *title;      /* "Nano Banana" */
    const char  *path;       /* "/nano-banana" */
} nano_registry_module_t;

/*
 * Loads the registry from path (NANO_MODULES_FILE, else
 * <root>/modules.conf, else /etc/nano/modules.conf), replacing what was
 * loaded.  Call before threads start.  Returns 0; -2 when there is no
 * such file; -1 with a message in err naming the file and line.
 */
int nano_registry_load(const char *root, char *err, size_t errlen);

/* Parses registry text (for tests); the same rules. */
int nano_registry_parse(const char *text, size_t len, const char *what,
    char *err, size_t errlen);

/* The modules in file order; *n receives the count (0 before a load). */
const nano_registry_module_t *nano_registry_modules(size_t *n);

/* The module called name, or NULL. */
const nano_registry_module_t *nano_registry_find(const char *name);

/* Frees what was loaded; accepts being called twice. */
void nano_registry_cleanup(void);

#endif /* NANO_REGISTRY_H */
