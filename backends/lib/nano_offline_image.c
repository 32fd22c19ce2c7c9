/*
 * Offline images: the painter's picture written as PNG with libpng.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <png.h>

#include "nano_image_scale.h"
#include "nano_offline.h"
#include "nano_offline_image.h"

#define NANO_OFFLINE_INPUT_MAX  (64 * 1024 * 1024)

int
nano_offline_image_size(const char *size, int *w, int *h)
{
    char  *end;
    long   a, b;

    if (size == NULL || *size < '1' || *size > '9') {
        return -1;
    }
    a = strtol(size, &end, 10);
    if (*end != 'x' && *end != '*') {
        return -1;
    }
    if (end[1] < '1' || end[1] > '9') {
        return -1;
    }
    b = strtol(end + 1, &end, 10);
    if (*end != '\0' || a < 16 || b < 16 || a > NANO_OFFLINE_MAX_SIDE
        || b > NANO_OFFLINE_MAX_SIDE)
    {
        return -1;
    }
    *w = (int) a;
    *h = (int) b;
    return 0;
}

int
nano_offline_image_aspect(const char *ratio, int side, int *w, int *h)
{
    char  *end;
    long   a, b;

    if (ratio == NULL || side < 16 || side > NANO_OFFLINE_MAX_SIDE
        || *ratio < '1' || *ratio > '9')
    {
        return -1;
    }
    a = strtol(ratio, &end, 10);
    if (*end != ':' || end[1] < '1' || end[1] > '9') {
        return -1;
    }
    b = strtol(end + 1, &end, 10);
    if (*end != '\0' || a > 64 || b > 64) {
        return -1;
    }
    if (a >= b) {
        *w = side;
        *h = (int) (side * b / a) & ~1;
    } else {
        *h = side;
        *w = (int) (side * a / b) & ~1;
    }
    if (*w < 16 || *h < 16) {
        return -1;
    }
    return 0;
}

/* Reads a whole file (at most max bytes) into a new buffer. */
static unsigned char *
nano_offline_read_file(const char *path, size_t max, size_t *len)
{
    FILE           *f;
    unsigned char  *buf = NULL;
    long            n;

    *len = 0;
    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || (size_t) n > max || fseek(f, 0, SEEK_SET) != 0)
    {
        goto out;
    }
    buf = malloc(n ? (size_t) n : 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        free(buf);
        buf = NULL;
        goto out;
    }
    *len = (size_t) n;

out:
    fclose(f);
    return buf;
}

/* Decodes a PNG in memory to RGB scaled (nearest) to w x h into rgb;
 * 0, or -1 when it is not a PNG libpng can read. */
static int
nano_offline_png_scaled(const unsigned char *data, size_t len,
    unsigned char *rgb, int w, int h)
{
    png_image       img;
    unsigned char  *src = NULL;
    int             x, y, sx, sy, rc = -1;

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, len)) {
        return -1;
    }
    img.format = PNG_FORMAT_RGB;
    /* admission refuses more; a job admitted before that still must not
     * decode a bomb */
    if (img.width == 0 || img.height == 0
        || (long long) img.width * img.height > NANO_IMAGE_PIXELS_MAX)
    {
        goto out;
    }
    src = malloc(PNG_IMAGE_SIZE(img));
    if (src == NULL
        || !png_image_finish_read(&img, NULL, src, 0, NULL))
    {
        goto out;
    }
    for (y = 0; y < h; y++) {
        sy = (int) ((long long) y * img.height / h);
        for (x = 0; x < w; x++) {
            sx = (int) ((long long) x * img.width / w);
            memcpy(rgb + ((size_t) y * w + x) * 3,
                   src + ((size_t) sy * img.width + sx) * 3, 3);
        }
    }
    rc = 0;

out:
    png_image_free(&img);
    free(src);
    return rc;
}

int
nano_offline_image_png(const nano_offline_image_request_t *r,
    const char *path, nano_offline_image_info_t *info)
{
    png_image       img;
    unsigned char  *rgb = NULL, *input = NULL;
    size_t          input_len = 0;
    uint64_t        seed;
    struct stat     st;
    FILE           *f = NULL;
    int             fd, edited = 0, rc = -1, saved;

    if (r == NULL || path == NULL || r->width < 16 || r->height < 16
        || r->width > NANO_OFFLINE_MAX_SIDE
        || r->height > NANO_OFFLINE_MAX_SIDE)
    {
        errno = EINVAL;
        return -1;
    }
    seed = nano_offline_seed(r->prompt, r->model, r->seed);
    if (r->input_path != NULL) {
        input = nano_offline_read_file(r->input_path, NANO_OFFLINE_INPUT_MAX,
                                       &input_len);
        if (input == NULL) {
            return -1;
        }
        seed = nano_offline_mix(seed, input, input_len);
    }
    rgb = malloc((size_t) r->width * r->height * 3);
    if (rgb == NULL) {
        goto out;
    }
    if (input != NULL
        && nano_offline_png_scaled(input, input_len, rgb, r->width,
                                   r->height) == 0)
    {
        nano_offline_tint(rgb, r->width, r->height, seed, "OFFLINE EDIT");
        edited = 1;
    } else {
        nano_offline_paint(rgb, r->width, r->height, seed, 0,
                           input ? "OFFLINE EDIT" : "OFFLINE");
    }

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        goto out;
    }
    f = fdopen(fd, "wb");
    if (f == NULL) {
        close(fd);
        goto fail;
    }
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32) r->width;
    img.height = (png_uint_32) r->height;
    img.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_stdio(&img, f, 0, rgb, 0, NULL)) {
        png_image_free(&img);
        goto fail;
    }
    png_image_free(&img);
    if (fflush(f) != 0 || fstat(fileno(f), &st) != 0) {
        goto fail;
    }
    if (fclose(f) != 0) {
        f = NULL;
        goto fail;
    }
    f = NULL;
    if (info != NULL) {
        info->width = r->width;
        info->height = r->height;
        info->bytes = (size_t) st.st_size;
        info->edited = edited;
    }
    rc = 0;
    goto out;

fail:
    saved = errno;
    if (f != NULL) {
        fclose(f);
        f = NULL;
    }
    unlink(path);
    errno = saved;

out:
    free(rgb);
    free(input);
    return rc;
}
