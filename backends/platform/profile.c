/*
 * The profile: POST /api/account/profile (the name), POST and DELETE
 * /api/account/avatar, GET /api/account/avatar/{id}.  After a change
 * the session cookie is re-issued under the same session id, so the
 * header of every app shows the new name and picture at once.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nano_buf.h"
#include "nano_file.h"
#include "nano_image_scale.h"
#include "nano_log.h"
#include "nano_page.h"
#include "nano_server.h"
#include "platform.h"

#define PLATFORM_AVATAR_MAX    (5 * 1024 * 1024)
#define PLATFORM_AVATAR_SIDE   256
#define PLATFORM_DECODES_MAX   2               /* decodes at once */
#define PLATFORM_DECODES_WAIT  4               /* waiting for one */

/* Decoding may hold up to 100 MB (NANO_IMAGE_PIXELS_MAX of RGBA) for a
 * fraction of a second: a few at once, a few more wait their turn, and
 * the rest are refused at once: each waiter holds a request worker, and
 * a burst of uploads held all 12 of them (found by the limits probe). */
static pthread_mutex_t  platform_decode_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t   platform_decode_done = PTHREAD_COND_INITIALIZER;
static int              platform_decodes;
static int              platform_decode_waiting;

/* 0 once a decode may start, -1 when too many wait already. */
static int
platform_decode_enter(void)
{
    pthread_mutex_lock(&platform_decode_lock);
    if (platform_decodes >= PLATFORM_DECODES_MAX
        && platform_decode_waiting >= PLATFORM_DECODES_WAIT)
    {
        pthread_mutex_unlock(&platform_decode_lock);
        return -1;
    }
    platform_decode_waiting++;
    while (platform_decodes >= PLATFORM_DECODES_MAX) {
        pthread_cond_wait(&platform_decode_done, &platform_decode_lock);
    }
    platform_decode_waiting--;
    platform_decodes++;
    pthread_mutex_unlock(&platform_decode_lock);
    return 0;
}

static void
platform_decode_leave(void)
{
    pthread_mutex_lock(&platform_decode_lock);
    platform_decodes--;
    pthread_cond_signal(&platform_decode_done);
    pthread_mutex_unlock(&platform_decode_lock);
}

int
platform_user_id_ok(const char *id)
{
    size_t  n = strlen(id);

    return n > 0 && n <= 64 && strspn(id, "abcdefghijklmnopqrstuvwxyz"
                                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789_-") == n;
}

/* <media>/avatars/<id>.png into path.  0, or -1 when it does not fit or
 * the id is not one. */
static int
platform_avatar_path(const char *media, const char *id, char *path,
    size_t len)
{
    return platform_user_id_ok(id)
           && snprintf(path, len, "%s/" PLATFORM_AVATAR_DIR "/%s.png", media,
                       id) < (int) len ? 0 : -1;
}

void
platform_avatar_remove(const char *media, const char *user_id)
{
    char  path[PATH_MAX];

    if (media != NULL
        && platform_avatar_path(media, user_id, path, sizeof(path)) == 0
        && unlink(path) != 0 && errno != ENOENT)
    {
        nano_log_warn("cannot remove the avatar of user %s: %s", user_id,
                      strerror(errno));
    }
}

void
platform_users_gone(nano_db_t *db, char **ids, size_t n,
    void (*gone)(const void *arg, const char *id), const void *arg)
{
    static const char   sql[] =
        "SELECT i FROM unnest($1::text[]) i WHERE NOT EXISTS"
        " (SELECT 1 FROM \"User\" u WHERE u.\"id\" = i)";
    const char         *params[1];
    nano_db_status_t    st;
    nano_buf_t          b;
    PGresult           *r;
    size_t              i, m = 0;
    int                 k;

    nano_buf_init(&b);
    nano_buf_puts(&b, "{");
    for (i = 0; i < n; i++) {
        nano_db_array_add(&b, ids[i], &m);
    }
    if (nano_buf_puts(&b, "}") == 0 && !b.failed) {
        params[0] = b.data;
        r = nano_db_exec(db, sql, 1, params, PGRES_TUPLES_OK, &st);
        for (k = 0; r != NULL && k < PQntuples(r); k++) {
            gone(arg, PQgetvalue(r, k, 0));
        }
        PQclear(r);
    }
    nano_buf_cleanup(&b);
    for (i = 0; i < n; i++) {
        free(ids[i]);
    }
}

/* The avatar of a user who is gone: one a platform missed (deleted while
 * none listened for nano_user_deleted). */
static void
platform_avatar_gone(const void *media, const char *id)
{
    platform_avatar_remove(media, id);
    nano_log_info("removed the avatar of deleted user %s", id);
}

void
platform_avatar_sweep(nano_db_t *db, const char *media)
{
    char            dir[PATH_MAX], *ids[PLATFORM_AVATAR_SWEEP_BATCH], *dot;
    struct dirent  *e;
    struct stat     sb;
    size_t          n = 0;
    time_t          before = time(NULL) - PLATFORM_AVATAR_SWEEP_AGE;
    DIR            *d;

    if (media == NULL
        || snprintf(dir, sizeof(dir), "%s/" PLATFORM_AVATAR_DIR, media)
           >= (int) sizeof(dir)
        || (d = opendir(dir)) == NULL)
    {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        dot = strchr(e->d_name, '.');
        if (dot == NULL || dot == e->d_name) {
            continue;
        }
        if (strncmp(dot, ".png.", 5) == 0) {
            /* a write that never ended (mkstemp's name): writes take
             * seconds */
            if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0
                && S_ISREG(sb.st_mode) && sb.st_mtime < before)
            {
                (void) unlinkat(dirfd(d), e->d_name, 0);
            }
            continue;
        }
        if (strcmp(dot, ".png") != 0) {
            continue;
        }
        *dot = '\0';
        if (platform_user_id_ok(e->d_name)
            && (ids[n] = strdup(e->d_name)) != NULL
            && ++n == PLATFORM_AVATAR_SWEEP_BATCH)
        {
            platform_users_gone(db, ids, n, platform_avatar_gone, media);
            n = 0;
        }
    }
    closedir(d);
    if (n > 0) {
        platform_users_gone(db, ids, n, platform_avatar_gone, media);
    }
}

/* Writes len bytes to path atomically: a temporary file beside it,
 * synced, then renamed over it (readers see the old or the new), and the
 * folder synced, so that the new name is on the disk before the row
 * names it (until 2026-12-06 it was not: a host that crashed after the
 * commit came back with the old picture or none; found by the failures
 * probe).  0 or -1 (logged). */
static int
platform_avatar_write(const char *media, const char *path,
    const unsigned char *data, size_t len)
{
    char     dir[PATH_MAX], tmp[PATH_MAX];
    size_t   off = 0;
    ssize_t  n;
    int      fd = -1, status = -1, made;

    if (snprintf(dir, sizeof(dir), "%s/" PLATFORM_AVATAR_DIR, media)
        >= (int) sizeof(dir)
        || snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int) sizeof(tmp))
    {
        return -1;
    }
    made = mkdir(dir, 0750) == 0;
    if (!made && errno != EEXIST) {
        nano_log_error("cannot make %s: %s", dir, strerror(errno));
        return -1;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        nano_log_error("cannot write in %s: %s", dir, strerror(errno));
        return -1;
    }
    while (off < len) {
        n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            goto out;
        }
        off += (size_t) n;
    }
    /* nginx's workers read it through the media folder's group */
    if (fchmod(fd, 0640) != 0 || fsync(fd) != 0) {
        goto out;
    }
    status = close(fd);
    fd = -1;
    if (status == 0) {
        status = rename(tmp, path);
        if (status == 0) {
            status = nano_file_sync(dir);
        }
        /* a folder made here is a new name in the media folder */
        if (status == 0 && made) {
            status = nano_file_sync(media);
        }
    }
out:
    if (status != 0) {
        nano_log_error("cannot store an avatar in %s: %s", dir,
                       strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        unlink(tmp);
    }
    return status;
}

/* Before an upload renames its picture over path: the picture there now
 * kept under a second name (a hard link, <id>.png.old, which the sweep
 * removes when a crash leaves it), so that a commit that fails can put it
 * back.  Under the user's row lock, so no other upload shares the name.
 * 1 when kept, 0 when there is none, -1 (logged). */
static int
platform_avatar_keep(const char *path, char *kept, size_t len)
{
    if (snprintf(kept, len, "%s.old", path) >= (int) len) {
        return -1;
    }
    if (unlink(kept) != 0 && errno != ENOENT) {
        nano_log_error("cannot remove %s: %s", kept, strerror(errno));
        return -1;
    }
    if (link(path, kept) == 0) {
        /* the sweep takes an old <id>.png.* for a write a crash left:
         * the old picture's time is renewed, or the sweep could remove
         * it before the commit */
        if (utimensat(AT_FDCWD, kept, NULL, 0) != 0) {
            nano_log_warn("cannot touch %s: %s", kept, strerror(errno));
        }
        return 1;
    }
    if (errno == ENOENT) {
        return 0;
    }
    nano_log_error("cannot keep the avatar %s: %s", path, strerror(errno));
    return -1;
}

/* After the row's change: the kept picture dropped when the new one
 * stands, else put back over it (none kept: the new one removed), so a
 * failed commit leaves the disk as the row is (until 2026-12-07 the new
 * picture stayed; found by an earlier probe). */
static void
platform_avatar_settle(const char *media, const char *path,
    const char *kept, int had, int stands)
{
    char  dir[PATH_MAX];

    if (stands) {
        if (had && unlink(kept) != 0 && errno != ENOENT) {
            nano_log_warn("cannot remove %s: %s", kept, strerror(errno));
        }
        return;
    }
    if ((had ? rename(kept, path) : unlink(path)) != 0 && errno != ENOENT) {
        nano_log_error("cannot put back the avatar %s: %s", path,
                       strerror(errno));
        return;
    }
    if (snprintf(dir, sizeof(dir), "%s/" PLATFORM_AVATAR_DIR, media)
        < (int) sizeof(dir) && nano_file_sync(dir) != 0)
    {
        nano_log_warn("cannot sync %s: %s", dir, strerror(errno));
    }
}

/* Reads the uploaded file (at most PLATFORM_AVATAR_MAX bytes) into a new
 * buffer.  NULL when it cannot be read. */
static unsigned char *
platform_avatar_read(const char *path, size_t size)
{
    unsigned char  *buf;
    size_t          off = 0;
    ssize_t         n;
    int             fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    buf = malloc(size > 0 ? size : 1);
    while (buf != NULL && off < size) {
        n = read(fd, buf + off, size - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            free(buf);
            buf = NULL;
            break;
        }
        off += (size_t) n;
    }
    close(fd);
    return buf;
}

/* Replaces one owned string of the user (NULL: none).  0 or -1. */
static int
platform_profile_set(char **field, const char *value)
{
    char  *copy = NULL;

    if (value != NULL && (copy = strdup(value)) == NULL) {
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

/*
 * The answer to a changed profile: the cookie re-issued for the user as
 * it now is (same session id), and {"name","image"}.
 */
static int
platform_profile_done(nano_req_t *req, nano_res_t *res, nano_db_t *db,
    platform_session_t *ps)
{
    nano_db_status_t  st;
    long long         issued;
    int               live = 0;

    /* the change stands (the session lived when it began); the session
     * gets no new life if it ended meanwhile */
    st = platform_session_recheck(db, ps, 0, &live);
    if (st != NANO_DB_OK) {
        return nano_server_db_error(res, db, st);
    }
    if (!live) {
        return platform_session_ended(req, res, ps);
    }
    st = platform_session_start(req, res, db, &ps->user,
                                ps->token.claims.jti.len > 0
                                ? ps->token.claims.jti.data : NULL, &issued);
    if (st != NANO_DB_OK || !issued) {
        /* the change stands; the next renewal carries it */
        nano_log_error("user %s: profile changed, but the session could not"
                       " be re-issued", ps->user.id);
    }
    return nano_res_json(res, 200,
                         json_pack("{s:s?, s:s?}", "name", ps->user.name,
                                   "image", ps->user.image));
}

int
platform_account_profile(nano_req_t *req, nano_res_t *res)
{
    platform_session_t   ps;
    nano_form_t          f;
    nano_db_status_t     st;
    nano_db_t           *db = NULL;
    const char          *why;
    char                *name = NULL;
    int                  status;

    platform_session_init(&ps);
    nano_form_init(&f);
    status = platform_account_begin(req, res, &db, &ps, &f);
    if (status != 0) {
        goto out;
    }
    if (nano_form_get(&f, "name") == NULL || !nano_form_is_text(&f, "name")) {
        status = nano_res_error(res, 400, "invalid_name",
                                "name is a required string");
        goto out;
    }
    name = strdup(nano_form_get(&f, "name"));
    if (name == NULL) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    if ((why = platform_name_problem(name, 1)) != NULL) {
        status = nano_res_error(res, 400, "invalid_name", why);
        goto out;
    }
    st = platform_user_set_name(db, ps.user.id, name);
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    if (platform_profile_set(&ps.user.name, name) != 0) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    nano_log_info("user %s changed the name", ps.user.id);
    status = platform_profile_done(req, res, db, &ps);
out:
    free(name);
    nano_form_cleanup(&f);
    platform_session_cleanup(&ps);
    return status;
}

/* The avatar's image field: its URL with the time it changed, so a
 * browser never shows an old one from its cache. */
static void
platform_avatar_url(char *url, size_t len, const char *id)
{
    snprintf(url, len, NANO_PAGE_AVATAR_PATH "%s?v=%lld", id,
             (long long) time(NULL));
}

/*
 * Opens the transaction in which the avatar's file and the column that
 * names it change together, under the user's row lock: a removal, an
 * upload or the account's deletion at the same time comes wholly before
 * or after.  0, or the answer made (the account is gone: 401).
 */
static int
platform_avatar_lock(nano_req_t *req, nano_res_t *res, nano_db_t *db,
    const platform_session_t *ps)
{
    nano_db_status_t  st;
    int               found = 0;

    st = nano_db_begin(db);
    if (st == NANO_DB_OK) {
        st = platform_user_lock(db, ps->user.id, &found);
    }
    if (st != NANO_DB_OK || !found) {
        nano_db_rollback(db);
        return st != NANO_DB_OK ? nano_server_db_error(res, db, st)
                                : platform_session_ended(req, res, ps);
    }
    return 0;
}

int
platform_account_avatar_put(nano_req_t *req, nano_res_t *res)
{
    const nano_upload_t   *up;
    platform_session_t     ps;
    nano_scale_status_t    sc;
    nano_db_status_t       st;
    nano_db_t             *db = NULL;
    unsigned char         *data = NULL, *png = NULL;
    size_t                 png_len = 0;
    char                   why[256], path[PATH_MAX], kept[PATH_MAX + 8];
    char                   url[160];
    int                    status, had, sent;

    platform_session_init(&ps);
    status = platform_account_session(req, res, 1, &db, &ps);
    if (status != 0) {
        goto out;
    }
    if (!nano_req_is_content_type(req, "multipart/form-data")) {
        status = nano_res_error(res, 415, "unsupported_media_type",
                                "send the image as multipart/form-data");
        goto out;
    }
    up = nano_req_upload(req, "image");
    if (up == NULL) {
        status = nano_res_field_error(res, "image", "send the picture as the"
                                      " file field image");
        goto out;
    }
    if (up->size > PLATFORM_AVATAR_MAX) {
        status = nano_res_error(res, 413, "payload_too_large",
                                "a picture may be at most 5 MiB");
        goto out;
    }
    if (up->mime == NULL) {
        status = nano_res_error(res, 415, "unsupported_image",
                                "the file is not a PNG, JPEG or WebP image");
        goto out;
    }
    if (platform_avatar_path(req->config->media_dir, ps.user.id, path,
                             sizeof(path)) != 0)
    {
        status = nano_res_error(res, 500, "internal",
                                "no place for this user's avatar");
        goto out;
    }
    data = platform_avatar_read(up->path, up->size);
    if (data == NULL) {
        status = nano_res_error(res, 500, "internal",
                                "cannot read the upload");
        goto out;
    }
    /* no database connection held while the picture waits for a decode
     * and is decoded (half a second for 25 megapixels): a burst of
     * uploads held the pool, and other requests answered 503 (found by
     * the limits probe) */
    nano_server_db_release(req);
    if (platform_decode_enter() != 0) {
        nano_res_header(res, "Retry-After", "2");
        status = nano_res_error(res, 503, "busy", "too many pictures are"
                                " being processed; try again in a"
                                " moment");
        goto out;
    }
    sc = nano_image_square_png(data, up->size, PLATFORM_AVATAR_SIDE,
                               NANO_IMAGE_PIXELS_MAX, &png, &png_len, why,
                               sizeof(why));
    platform_decode_leave();
    switch (sc) {
    case NANO_SCALE_OK:
        break;
    case NANO_SCALE_TOO_LARGE:
        nano_log_info("user %s: avatar refused: %s", ps.user.id, why);
        status = nano_res_error(res, 413, "image_too_large", why);
        goto out;
    case NANO_SCALE_NOT_IMAGE:
        status = nano_res_error(res, 415, "unsupported_image", why);
        goto out;
    case NANO_SCALE_CORRUPT:
        nano_log_info("user %s: avatar refused: %s", ps.user.id, why);
        status = nano_res_error(res, 400, "invalid_image", why);
        goto out;
    default:
        status = nano_res_error(res, 503, "busy",
                                "not enough memory for this picture now");
        goto out;
    }
    db = nano_server_db(req);
    status = db != NULL ? platform_avatar_lock(req, res, db, &ps)
                        : nano_server_db_error(res, NULL,
                                               NANO_DB_UNAVAILABLE);
    if (status != 0) {
        goto out;
    }
    had = platform_avatar_keep(path, kept, sizeof(kept));
    if (had < 0
        || platform_avatar_write(req->config->media_dir, path, png, png_len)
           != 0)
    {
        if (had > 0) {
            (void) unlink(kept);
        }
        nano_db_rollback(db);
        status = nano_res_error(res, 500, "internal",
                                "cannot store the picture");
        goto out;
    }
    platform_avatar_url(url, sizeof(url), ps.user.id);
    st = platform_user_set_image(db, ps.user.id, url);
    sent = st == NANO_DB_OK;
    st = nano_db_finish(db, st);
    /* a commit whose answer was lost may have happened: the row may name
     * the new picture, which then stays */
    platform_avatar_settle(req->config->media_dir, path, kept, had,
                           st == NANO_DB_OK
                           || (sent && st == NANO_DB_UNAVAILABLE));
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    if (platform_profile_set(&ps.user.image, url) != 0) {
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    nano_log_info("user %s set an avatar (%zu bytes in, %zu out)",
                  ps.user.id, up->size, png_len);
    status = platform_profile_done(req, res, db, &ps);
out:
    free(png);
    free(data);
    platform_session_cleanup(&ps);
    return status;
}

int
platform_account_avatar_delete(nano_req_t *req, nano_res_t *res)
{
    platform_session_t   ps;
    nano_db_status_t     st;
    nano_db_t           *db = NULL;
    int                  status;

    platform_session_init(&ps);
    status = platform_account_session(req, res, 1, &db, &ps);
    if (status != 0) {
        goto out;
    }
    status = platform_avatar_lock(req, res, db, &ps);
    if (status != 0) {
        goto out;
    }
    st = nano_db_finish(db, platform_user_set_image(db, ps.user.id, NULL));
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    /* only once the row no longer names it: a failed commit keeps both */
    platform_avatar_remove(req->config->media_dir, ps.user.id);
    platform_profile_set(&ps.user.image, NULL);
    nano_log_info("user %s removed the avatar", ps.user.id);
    status = platform_profile_done(req, res, db, &ps);
out:
    platform_session_cleanup(&ps);
    return status;
}

/* Any signed-in user may see an avatar (it is shown beside a name);
 * nginx sends the file (X-Accel-Redirect to the internal /_nano_media/
 * over NANO_MEDIA_DIR). */
int
platform_account_avatar_get(nano_req_t *req, nano_res_t *res)
{
    const char   *id = nano_req_path_param(req, "id");
    struct stat   sb;
    char          path[PATH_MAX], uri[160];

    /* the gateway's verdict: nano_auth is on for /api/account/ */
    if (nano_req_param_str(req, "NANO_USER_ID")[0] == '\0') {
        return nano_res_error(res, 401, "unauthorized", "sign in first");
    }
    if (platform_avatar_path(req->config->media_dir, id, path, sizeof(path))
        != 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
    {
        return nano_res_error(res, 404, "not_found", "no such avatar");
    }
    snprintf(uri, sizeof(uri), "/_nano_media/" PLATFORM_AVATAR_DIR "/%s.png",
             id);
    if (nano_res_file(res, uri) != 0) {
        return nano_res_error(res, 500, "internal", "out of memory");
    }
    return 200;
}
