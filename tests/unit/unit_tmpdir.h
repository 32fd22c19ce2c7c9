/*
 * The unit tests' scratch folders under /tmp.  They are removed by the
 * shell's rm -rf, not by our own code: a test of nano_file_remove_tree
 * must not clean up with what it tests.
 */

#ifndef UNIT_TMPDIR_H
#define UNIT_TMPDIR_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* A new folder /tmp/nano-test-<name>-XXXXXX into dir.  0, or -1. */
static inline int
unit_tmpdir(char *dir, size_t cap, const char *name)
{
    int  n = snprintf(dir, cap, "/tmp/nano-test-%s-XXXXXX", name);

    return n > 0 && (size_t) n < cap && mkdtemp(dir) != NULL ? 0 : -1;
}

/* rm -rf dir (a path unit_tmpdir made: no quote in it).  0, or -1. */
static inline int
unit_tmpdir_remove(const char *dir)
{
    char  cmd[PATH_MAX + 16];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif /* UNIT_TMPDIR_H */
