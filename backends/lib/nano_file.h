/*
 * Small files read whole: templates, the module registry, the packs
 * file.  Each has a size cap, so a wrong path cannot make a process read
 * a disk image into memory.
 */

#ifndef NANO_FILE_H
#define NANO_FILE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Reads what is left of f (at most max bytes) into a new NUL-terminated
 * buffer *out (the caller frees), its length in *len.  Returns 0, -1
 * when reading fails or f holds more than max bytes, -2 when out of
 * memory.  f stays open.
 */
int nano_file_read(FILE *f, size_t max, char **out, size_t *len);

#endif /* NANO_FILE_H */
