/*
 * Small files read whole: templates, the module registry, the packs
 * file, and their lines.  Each has a size cap, so a wrong path cannot make a process read
 * a disk image into memory.  The media folders made and removed, and a
 * stored file's digest.
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

/*
 * The next line of a configuration text read whole (the registry, the
 * packs file), cut in place: its "\n", a CRLF file's "\r" and a "#"
 * comment removed.  *at moves to the line after it; NULL once the text
 * is done.
 */
char *nano_file_config_line(char **at);

/* The next blank-separated word of such a line, cut in place; *p moves
 * past it.  NULL when only blanks are left. */
char *nano_file_config_word(char **p);

/* The rest of such a line after its words (a title, a label): blanks
 * before and after it removed, in place; "" when nothing is left. */
char *nano_file_config_rest(char *p);

/*
 * mkdir -p with mode 0750 whatever the umask (nginx's group reads the
 * media); *made (may be NULL) gets a bit for each of the last components
 * this call made itself, bit 0 the last.  A folder removed during the
 * walk or before the check that ends it by whoever found it empty (a
 * runner tidying after a job, a refused upload's inputs/, an account's
 * deletion) is made again: up to three walks.  0, or -1 with
 * errno set (ENOTDIR when path is there but is no folder).
 */
int nano_file_mkdirs(const char *path, unsigned *made);

/* fsync(2) of path (a file or a folder), opened read-only; a symbolic
 * link is followed (the media root may be one, and a sync changes
 * nothing).  0, or -1 with errno set. */
int nano_file_sync(const char *path);

/* SHA-256 of path's bytes, read in pieces, never through a symbolic
 * link: 64 hex digits plus a NUL into out (NANO_FILE_SHA256_SIZE).  0, or
 * -1 with errno set. */
#define NANO_FILE_SHA256_SIZE  65
int nano_file_sha256(const char *path, char *out);

/*
 * 1 when name is one path component, fit to name a folder by (a user's
 * id): not empty, no "/", not "." or "..", shorter than NAME_MAX.
 */
int nano_file_name_ok(const char *name);

/*
 * rm -r of path, at most depth folders deep (the media tree is shallow),
 * never through a symbolic link: a link is removed, not followed.  The
 * files removed are added to *files (may be NULL).  0 when path is gone
 * (or never was), -1 with errno set when something stayed.
 */
int nano_file_remove_tree(const char *path, int depth, size_t *files);

#endif /* NANO_FILE_H */
