/*
 * libFuzzer harness for what users send the backends besides multipart:
 * form and query strings, uploaded images (sniffed, then decoded,
 * scaled and encoded by libpng, libjpeg-turbo and libwebp through our
 * wrappers, whose error paths jump) and request paths against the
 * module API's routes.  Input: one byte, then the data (copied to an
 * allocation of its exact size).  The byte's low 2 bits pick the mode:
 *   0  nano_form_parse: every pair kept is strict UTF-8 without NUL,
 *      at most NANO_FORM_PAIRS_MAX of them, each found by its key; a
 *      key named as left out is UTF-8, and only when pairs were;
 *   1  nano_image_sniff: an accepted image has one of the three types;
 *   2  nano_image_decode within 512 x 512 pixels (bits 2-3 pick the
 *      scaling floor): a decoded image was sniffed as an image, is
 *      within the limits, and survives a cover to 16 x 16, a PNG
 *      encoding and a decode of that PNG with its size; a refusal says
 *      why;
 *   3  nano_route_match of the data as a path against the module API's
 *      patterns: captured values are whole, non-empty segments.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nano_form.h"
#include "nano_image.h"
#include "nano_image_scale.h"
#include "nano_route.h"
#include "nano_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PIXELS_MAX  (512L * 512)

static void
fuzz_form(const char *s, size_t len)
{
    nano_form_t         f;
    nano_form_status_t  st;
    size_t              i;

    nano_form_init(&f);
    st = nano_form_parse(&f, s, len);
    if (st != NANO_FORM_OK && st != NANO_FORM_INVALID
        && st != NANO_FORM_NOMEM && st != NANO_FORM_BAD_UTF8)
    {
        abort();
    }
    if (f.n > NANO_FORM_PAIRS_MAX
        || (f.left_out != NULL && (st != NANO_FORM_BAD_UTF8
                                   || !nano_utf8_valid(f.left_out))))
    {
        abort();
    }
    for (i = 0; st != NANO_FORM_INVALID && i < f.n; i++) {
        if (f.pairs[i].key == NULL || f.pairs[i].value == NULL
            || !nano_utf8_valid(f.pairs[i].key)
            || !nano_utf8_valid(f.pairs[i].value)
            || nano_form_get(&f, f.pairs[i].key) == NULL)
        {
            abort();
        }
    }
    nano_form_cleanup(&f);
}

static int
fuzz_image_type(const nano_image_info_t *info)
{
    return info->mime != NULL && info->ext != NULL
           && (strcmp(info->mime, "image/png") == 0
               || strcmp(info->mime, "image/jpeg") == 0
               || strcmp(info->mime, "image/webp") == 0)
           && info->width >= 0 && info->height >= 0;
}

static void
fuzz_sniff(const unsigned char *p, size_t len)
{
    nano_image_info_t  info;

    memset(&info, 0, sizeof(info));
    if (nano_image_sniff(p, len, &info) == 0 && !fuzz_image_type(&info)) {
        abort();
    }
}

static void
fuzz_decode(unsigned mode, const unsigned char *p, size_t len)
{
    static const int     floors[] = { 0, 8, 32, 128 };
    nano_pixels_t        px, sq, back;
    nano_image_info_t    info;
    nano_scale_status_t  st;
    unsigned char       *png = NULL;
    size_t               png_len = 0;
    char                 why[128];
    volatile unsigned char  sink;

    nano_pixels_init(&px);
    nano_pixels_init(&sq);
    nano_pixels_init(&back);
    memset(why, 0x55, sizeof(why));
    st = nano_image_decode(p, len, FUZZ_PIXELS_MAX, floors[(mode >> 2) & 3],
                           &px, why, sizeof(why));
    if (st != NANO_SCALE_OK) {
        if (px.px != NULL || memchr(why, '\0', sizeof(why)) == NULL
            || why[0] == '\0')
        {
            abort();
        }
        return;
    }
    memset(&info, 0, sizeof(info));
    if (nano_image_sniff(p, len, &info) != 0 || !fuzz_image_type(&info)
        || px.px == NULL || px.width < 1 || px.height < 1
        || (long) px.width * px.height > FUZZ_PIXELS_MAX)
    {
        abort();
    }
    /* the pixels are all there: ASan sees a read past them */
    sink = px.px[(size_t) px.width * px.height * 4 - 1];
    (void) sink;
    if (nano_pixels_cover(&px, 16, 16, &sq) != 0
        || nano_pixels_png(&sq, &png, &png_len) != 0
        || nano_image_decode(png, png_len, FUZZ_PIXELS_MAX, 0, &back, why,
                             sizeof(why)) != NANO_SCALE_OK
        || back.width != 16 || back.height != 16)
    {
        abort();
    }
    free(png);
    nano_pixels_cleanup(&px);
    nano_pixels_cleanup(&sq);
    nano_pixels_cleanup(&back);
}

static void
fuzz_route(const char *path)
{
    static const char *const  patterns[] = {
        "/", "/api/models", "/api/generate", "/api/history",
        "/api/generations/{id}", "/api/generations/{id}/cancel",
        "/media/{user}/{file}",
    };
    nano_route_params_t       params;
    size_t                    i, k, n;

    for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        memset(&params, 0, sizeof(params));
        if (!nano_route_match(patterns[i], path, &params)) {
            if (params.n != 0) {
                abort();
            }
            continue;
        }
        if (path[0] != '/' || params.n > NANO_ROUTE_PARAMS_MAX) {
            abort();
        }
        for (k = 0; k < params.n; k++) {
            n = strlen(params.values[k]);
            if (n == 0 || memchr(params.values[k], '/', n) != NULL
                || strstr(path, params.values[k]) == NULL)
            {
                abort();
            }
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned  mode;
    char     *buf;

    if (size < 1) {
        return 0;
    }
    mode = data[0];
    size--;
    /* exactly the data; a path gets its NUL */
    buf = malloc((mode & 3) == 3 ? size + 1 : (size ? size : 1));
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data + 1, size);
    if ((mode & 3) == 3) {
        buf[size] = '\0';
    }

    switch (mode & 3) {
    case 0:
        fuzz_form(buf, size);
        break;
    case 1:
        fuzz_sniff((const unsigned char *) buf, size);
        break;
    case 2:
        fuzz_decode(mode, (const unsigned char *) buf, size);
        break;
    default:
        if (strlen(buf) == size && size <= NANO_ROUTE_PATH_MAX) {
            fuzz_route(buf);
        }
        break;
    }

    free(buf);
    return 0;
}
