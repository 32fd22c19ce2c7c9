/*
 * NULL-ended lists of strings (nano_strlist.h).
 */

#include <string.h>

#include "nano_strlist.h"

int
nano_strlist_has(const char *const *list, const char *s)
{
    for ( ; *list != NULL; list++) {
        if (strcmp(s, *list) == 0) {
            return 1;
        }
    }
    return 0;
}
