/*
 * Small files read whole, media folders made and removed, file digests
 * (nano_file.h).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "nano_file.h"
#include "nano_hex.h"

int
nano_file_read(FILE *f, size_t max, char **out, size_t *len)
{
    char    *data;
    size_t   n;

    *out = NULL;
    data = malloc(max + 1);
    if (data == NULL) {
        return -2;
    }
    /* one byte more than allowed tells "too long" from "exactly max" */
    n = fread(data, 1, max + 1, f);
    if (ferror(f) || n > max) {
        free(data);
        return -1;
    }
    data[n] = '\0';
    *out = data;
    *len = n;
    return 0;
}

/* A CRLF file (saved on Windows) reads as the same file with LF: its
 * blank lines were "\r", a module's name or a pack's id that no script
 * or parser agreed on. */
char *
nano_file_config_line(char **at)
{
    char  *line = *at, *end, *hash;

    if (line == NULL) {
        return NULL;
    }
    end = strchr(line, '\n');
    if (end != NULL) {
        *end = '\0';
        *at = end + 1;
    } else {
        end = line + strlen(line);
        *at = NULL;
    }
    if (end > line && end[-1] == '\r') {
        end[-1] = '\0';
    }
    if ((hash = strchr(line, '#')) != NULL) {
        *hash = '\0';
    }
    return line;
}

char *
nano_file_config_word(char **p)
{
    char  *w;

    while (**p == ' ' || **p == '\t') {
        (*p)++;
    }
    if (**p == '\0') {
        return NULL;
    }
    w = *p;
    while (**p != '\0' && **p != ' ' && **p != '\t') {
        (*p)++;
    }
    if (**p != '\0') {
        *(*p)++ = '\0';
    }
    return w;
}

char *
nano_file_config_rest(char *p)
{
    char  *end;

    while (*p == ' ' || *p == '\t') {
        p++;
    }
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
        *--end = '\0';
    }
    return p;
}

int
nano_file_sync(const char *path)
{
    int  fd, rc, saved;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    rc = fsync(fd);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int
nano_file_mkdirs(const char *path, unsigned *made)
{
    struct stat  st;
    char         buf[PATH_MAX], c, *p;
    unsigned     bits = 0;
    int          walk, rc = -1, n = 0, k;

    if (snprintf(buf, sizeof(buf), "%s", path) >= (int) sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (buf[0] == '\0') {
        errno = ENOENT;
        return -1;
    }
    for (p = buf + 1; *p != '\0'; p++) {
        n += *p == '/';
    }
    for (walk = 0; walk < 3 && rc != 0; walk++) {
        rc = 0;
        for (p = buf + 1, k = n; rc == 0; p++) {
            if (*p != '/' && *p != '\0') {
                continue;
            }
            c = *p;
            *p = '\0';
            if (mkdir(buf, 0750) == 0) {
                /* the umask may have taken group bits; a setgid bit
                 * inherited from the parent (the media folder's group,
                 * nginx's) must stay */
                if (stat(buf, &st) == 0 && (st.st_mode & 0750) != 0750) {
                    chmod(buf, (st.st_mode & 07777) | 0750);
                }
                bits |= k < 32 ? 1u << k : 0;
            } else if (errno != EEXIST) {
                rc = -1;
            }
            *p = c;
            if (c == '\0') {
                break;
            }
            k--;
        }
        /* mkdir's EEXIST is also a file of that name; and the folder
         * made or found may go before this check, as the walk's may
         * (until 2026-12-07 that was a failure: an upload answered 500
         * "cannot store the image" when another request of its user
         * emptied and removed inputs/ at that moment; found by the soak
         * probe) */
        if (rc == 0 && stat(path, &st) != 0) {
            rc = -1;
        } else if (rc == 0 && !S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            rc = -1;
        }
        if (rc != 0 && errno != ENOENT) {
            break;
        }
    }
    if (made != NULL) {
        *made |= bits;
    }
    return rc;
}

int
nano_file_sha256(const char *path, char *out)
{
    unsigned char   buf[16384], md[EVP_MAX_MD_SIZE];
    unsigned int    mdlen = 0;
    EVP_MD_CTX     *ctx;
    ssize_t         n;
    int             fd, rc = -1, saved;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        errno = ENOMEM;
        goto out;
    }
    for ( ;; ) {
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        if (EVP_DigestUpdate(ctx, buf, (size_t) n) != 1) {
            errno = ENOMEM;
            goto out;
        }
    }
    if (n < 0) {
        goto out;
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
        errno = EINVAL;
        goto out;
    }
    nano_hex_encode(out, md, mdlen);
    rc = 0;
out:
    saved = errno;
    EVP_MD_CTX_free(ctx);
    close(fd);
    errno = saved;
    return rc;
}

int
nano_file_name_ok(const char *name)
{
    return name[0] != '\0' && strchr(name, '/') == NULL
           && strcmp(name, ".") != 0 && strcmp(name, "..") != 0
           && strlen(name) < NAME_MAX;
}

/* Empties the folder open on fd (closed here), depth more below it. */
static int
nano_file_empty_dir(int fd, int depth, size_t *files)
{
    DIR            *d;
    struct dirent  *e;
    struct stat     sb;
    int             sub, rc = 0, err = 0;

    d = fdopendir(fd);
    if (d == NULL) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;               /* gone meanwhile */
        }
        if (!S_ISDIR(sb.st_mode)) {
            if (unlinkat(fd, e->d_name, 0) == 0) {
                if (files != NULL) {
                    (*files)++;
                }
            } else if (errno != ENOENT) {
                rc = -1;
                err = errno;
            }
            continue;
        }
        sub = depth > 0 ? openat(fd, e->d_name,
                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                 | O_CLOEXEC)
                        : -1;
        if (depth <= 0) {
            errno = ELOOP;
        }
        if (sub < 0 && errno == ENOENT) {
            continue;               /* another process took it meanwhile */
        }
        if (sub < 0 || nano_file_empty_dir(sub, depth - 1, files) != 0
            || (unlinkat(fd, e->d_name, AT_REMOVEDIR) != 0
                && errno != ENOENT))
        {
            rc = -1;
            err = errno;
        }
    }
    closedir(d);
    errno = err;
    return rc;
}

int
nano_file_remove_tree(const char *path, int depth, size_t *files)
{
    int  fd, err;

    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 0;
        }
        /* a file, or a link (to a folder or not): removed, not followed */
        if (errno != ENOTDIR && errno != ELOOP) {
            return -1;
        }
        if (unlink(path) == 0) {
            if (files != NULL) {
                (*files)++;
            }
            return 0;
        }
        return errno == ENOENT ? 0 : -1;
    }
    if (nano_file_empty_dir(fd, depth, files) != 0) {
        err = errno;
        if (rmdir(path) == 0 || errno == ENOENT) {
            return 0;               /* emptied by another process too */
        }
        errno = err;
        return -1;
    }
    return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
}
