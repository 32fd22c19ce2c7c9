/*
 * nano-admin modules: the module registry read as every backend reads
 * it at start (nano_registry_load, NANO_MODULES_FILE else
 * /etc/nano/modules.conf), listed, or the reason a backend would refuse
 * it.  No database: an operator checks an edited registry before
 * restarting anything, and make new-module checks its line with it.
 */

#include <stdio.h>

#include "admin.h"
#include "nano_registry.h"

/* s with control characters as '?', C1's (U+0080-U+009F) too, as
 * table.c prints them: a title must not reach the terminal as an escape
 * sequence (U+009B is CSI), nor a script as a second field. */
static void
admin_modules_field(const char *s, int last)
{
    const unsigned char  *p;

    for (p = (const unsigned char *) s; *p != '\0'; p++) {
        if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
            putchar('?');
            p++;
        } else {
            putchar(*p < 0x20 || *p == 0x7F ? '?' : *p);
        }
    }
    putchar(last ? '\n' : '\t');
}

int
admin_modules(nano_db_t *db, int argc, char **argv)
{
    const nano_registry_module_t  *m;
    char                           err[512];
    size_t                         n, i;

    (void) db;
    (void) argv;
    if (argc != 0) {
        fputs("usage: nano-admin modules\n", stderr);
        return ADMIN_USAGE;
    }
    if (nano_registry_load(NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "nano-admin: %s\n", err);
        return ADMIN_FAILED;
    }
    m = nano_registry_modules(&n);
    for (i = 0; i < n; i++) {
        admin_modules_field(m[i].name, 0);
        admin_modules_field(m[i].kind, 0);
        admin_modules_field(m[i].provider, 0);
        admin_modules_field(m[i].path, 0);
        admin_modules_field(m[i].title, 1);
    }
    nano_registry_cleanup();
    return ADMIN_OK;
}
