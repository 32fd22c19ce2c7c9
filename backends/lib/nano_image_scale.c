/*
 * Decode (PNG, JPEG, WebP), scale (centre crop; area averaging down,
 * bilinear up) and encode (PNG) images in plain C, with the declared
 * size checked before any pixel is decoded.
 */

#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>

#include "nano_image.h"
#include "nano_image_scale.h"

/* A progressive JPEG may hold any number of scans, each a pass over the
 * whole image: a few hundred bytes can cost minutes.  Real ones have
 * about ten. */
#define NANO_JPEG_SCANS_MAX  100

void
nano_pixels_init(nano_pixels_t *p)
{
    p->px = NULL;
    p->width = 0;
    p->height = 0;
}

void
nano_pixels_cleanup(nano_pixels_t *p)
{
    if (p == NULL) {
        return;
    }
    free(p->px);
    nano_pixels_init(p);
}

/* Allocates w x h RGBA pixels (uninitialised).  0 or -1. */
static int
nano_pixels_alloc(nano_pixels_t *p, int w, int h)
{
    p->px = malloc((size_t) w * (size_t) h * 4);
    if (p->px == NULL) {
        return -1;
    }
    p->width = w;
    p->height = h;
    return 0;
}

static nano_scale_status_t
nano_scale_refuse(nano_scale_status_t st, char *why, size_t whylen,
    const char *reason)
{
    snprintf(why, whylen, "%s", reason);
    return st;
}

/* The declared size against the limits. */
static nano_scale_status_t
nano_scale_check_size(long long w, long long h, long max_pixels, char *why,
    size_t whylen)
{
    if (w <= 0 || h <= 0) {
        return nano_scale_refuse(NANO_SCALE_CORRUPT, why, whylen,
                                 "the image has no pixels");
    }
    if (w > NANO_IMAGE_SIDE_MAX || h > NANO_IMAGE_SIDE_MAX
        || w * h > (long long) max_pixels)
    {
        snprintf(why, whylen, "the image is %lldx%lld pixels; at most %ld"
                 " pixels and %d on a side are accepted", w, h, max_pixels,
                 NANO_IMAGE_SIDE_MAX);
        return NANO_SCALE_TOO_LARGE;
    }
    return NANO_SCALE_OK;
}

/* ---- PNG -------------------------------------------------------------- */

static nano_scale_status_t
nano_decode_png(const unsigned char *data, size_t len, long max_pixels,
    nano_pixels_t *out, char *why, size_t whylen)
{
    png_image            img;
    nano_scale_status_t  st;

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, len)) {
        snprintf(why, whylen, "the PNG is corrupt: %s", img.message);
        png_image_free(&img);
        return NANO_SCALE_CORRUPT;
    }
    st = nano_scale_check_size(img.width, img.height, max_pixels, why,
                               whylen);
    if (st != NANO_SCALE_OK) {
        png_image_free(&img);
        return st;
    }
    img.format = PNG_FORMAT_RGBA;
    if (nano_pixels_alloc(out, (int) img.width, (int) img.height) != 0) {
        png_image_free(&img);
        return NANO_SCALE_NO_MEMORY;
    }
    if (!png_image_finish_read(&img, NULL, out->px, 0, NULL)) {
        snprintf(why, whylen, "the PNG is corrupt: %s", img.message);
        png_image_free(&img);
        nano_pixels_cleanup(out);
        return NANO_SCALE_CORRUPT;
    }
    return NANO_SCALE_OK;
}

/* ---- JPEG ------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr        pub;
    struct jpeg_progress_mgr     progress;
    jmp_buf                      jump;
    char                         msg[JMSG_LENGTH_MAX];
    int                          warnings;
} nano_jpeg_err_t;

static void
nano_jpeg_error_exit(j_common_ptr c)
{
    nano_jpeg_err_t  *e = (nano_jpeg_err_t *) c->err;

    (*c->err->format_message)(c, e->msg);
    longjmp(e->jump, 1);
}

/* Warnings (level -1) are corrupt data: the decoder would fill in gray. */
static void
nano_jpeg_emit(j_common_ptr c, int level)
{
    if (level < 0) {
        ((nano_jpeg_err_t *) c->err)->warnings++;
    }
}

static void
nano_jpeg_progress(j_common_ptr c)
{
    nano_jpeg_err_t  *e = (nano_jpeg_err_t *) c->err;

    if (c->is_decompressor
        && ((j_decompress_ptr) c)->input_scan_number > NANO_JPEG_SCANS_MAX)
    {
        snprintf(e->msg, sizeof(e->msg), "more than %d scans",
                 NANO_JPEG_SCANS_MAX);
        longjmp(e->jump, 1);
    }
}

static unsigned
nano_exif_u16(const unsigned char *p, int big)
{
    return big ? (unsigned) (p[0] << 8 | p[1]) : (unsigned) (p[1] << 8 | p[0]);
}

static unsigned long
nano_exif_u32(const unsigned char *p, int big)
{
    return big ? (unsigned long) p[0] << 24 | (unsigned long) p[1] << 16
                 | (unsigned long) p[2] << 8 | p[3]
               : (unsigned long) p[3] << 24 | (unsigned long) p[2] << 16
                 | (unsigned long) p[1] << 8 | p[0];
}

/* The EXIF orientation (1..8) of an APP1 segment, or 1. */
static int
nano_exif_orientation(const unsigned char *p, size_t len)
{
    const unsigned char  *tiff;
    unsigned long         ifd;
    size_t                tlen, n, i;
    int                   big;

    if (len < 14 || memcmp(p, "Exif\0\0", 6) != 0) {
        return 1;
    }
    tiff = p + 6;
    tlen = len - 6;
    if (memcmp(tiff, "MM\0*", 4) == 0) {
        big = 1;
    } else if (memcmp(tiff, "II*\0", 4) == 0) {
        big = 0;
    } else {
        return 1;
    }
    ifd = nano_exif_u32(tiff + 4, big);
    if (ifd < 8 || ifd > tlen - 2) {
        return 1;
    }
    n = nano_exif_u16(tiff + ifd, big);
    for (i = 0; i < n && ifd + 2 + (i + 1) * 12 <= tlen; i++) {
        const unsigned char  *e = tiff + ifd + 2 + i * 12;
        unsigned              v;

        if (nano_exif_u16(e, big) == 0x0112 && nano_exif_u16(e + 2, big) == 3)
        {
            v = nano_exif_u16(e + 8, big);
            return v >= 1 && v <= 8 ? (int) v : 1;
        }
    }
    return 1;
}

/* Turns p upright for EXIF orientation o (2..8; 1 is upright). */
static int
nano_pixels_orient(nano_pixels_t *p, int o)
{
    nano_pixels_t   r;
    const uint32_t *src;
    uint32_t       *dst;
    int             w = p->width, h = p->height, x, y, sx, sy;
    int             swap = o >= 5;

    if (o <= 1 || o > 8) {
        return 0;
    }
    if (nano_pixels_alloc(&r, swap ? h : w, swap ? w : h) != 0) {
        return -1;
    }
    src = (const uint32_t *) (void *) p->px;
    dst = (uint32_t *) (void *) r.px;
    for (y = 0; y < r.height; y++) {
        for (x = 0; x < r.width; x++) {
            switch (o) {
            case 2:  sx = w - 1 - x; sy = y;         break;
            case 3:  sx = w - 1 - x; sy = h - 1 - y; break;
            case 4:  sx = x;         sy = h - 1 - y; break;
            case 5:  sx = y;         sy = x;         break;
            case 6:  sx = y;         sy = h - 1 - x; break;
            case 7:  sx = w - 1 - y; sy = h - 1 - x; break;
            default: sx = w - 1 - y; sy = x;         break;
            }
            dst[(size_t) y * r.width + x] = src[(size_t) sy * w + sx];
        }
    }
    nano_pixels_cleanup(p);
    *p = r;
    return 0;
}

/* CMYK as Photoshop writes it (inverted when there is an Adobe marker)
 * to RGBA, in place: both are four bytes a pixel. */
static void
nano_jpeg_cmyk(nano_pixels_t *p, int inverted)
{
    unsigned char  *q = p->px, c, m, y, k;
    size_t          i, n = (size_t) p->width * (size_t) p->height;

    for (i = 0; i < n; i++, q += 4) {
        c = q[0];
        m = q[1];
        y = q[2];
        k = q[3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        q[0] = (unsigned char) (c * k / 255);
        q[1] = (unsigned char) (m * k / 255);
        q[2] = (unsigned char) (y * k / 255);
        q[3] = 255;
    }
}

static nano_scale_status_t
nano_decode_jpeg(const unsigned char *data, size_t len, long max_pixels,
    int at_least, nano_pixels_t *out, char *why, size_t whylen)
{
    struct jpeg_decompress_struct   c;
    nano_jpeg_err_t                 e;
    jpeg_saved_marker_ptr           mk;
    JSAMPROW                        row;
    nano_scale_status_t             st;
    int                             cmyk, denom;
    volatile int                    orientation = 1;

    memset(&e, 0, sizeof(e));
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = nano_jpeg_error_exit;
    e.pub.emit_message = nano_jpeg_emit;
    e.progress.progress_monitor = nano_jpeg_progress;
    if (setjmp(e.jump)) {
        /* out->px is a struct member, not a local: longjmp keeps it */
        jpeg_destroy_decompress(&c);
        nano_pixels_cleanup(out);
        snprintf(why, whylen, "the JPEG is corrupt: %s", e.msg);
        return NANO_SCALE_CORRUPT;
    }
    jpeg_create_decompress(&c);
    c.progress = &e.progress;
    jpeg_mem_src(&c, data, (unsigned long) len);
    jpeg_save_markers(&c, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&c, TRUE);
    st = nano_scale_check_size(c.image_width, c.image_height, max_pixels,
                               why, whylen);
    if (st != NANO_SCALE_OK) {
        jpeg_destroy_decompress(&c);
        return st;
    }
    for (mk = c.marker_list; mk != NULL; mk = mk->next) {
        if (mk->marker == JPEG_APP0 + 1) {
            orientation = nano_exif_orientation(mk->data, mk->data_length);
            break;
        }
    }
    cmyk = c.jpeg_color_space == JCS_CMYK || c.jpeg_color_space == JCS_YCCK;
    c.out_color_space = cmyk ? JCS_CMYK : JCS_EXT_RGBA;
    for (denom = 8; denom > 1; denom /= 2) {
        if (at_least > 0
            && c.image_width / (unsigned) denom >= 2 * (unsigned) at_least
            && c.image_height / (unsigned) denom >= 2 * (unsigned) at_least)
        {
            break;
        }
    }
    c.scale_num = 1;
    c.scale_denom = (unsigned) (at_least > 0 ? denom : 1);
    jpeg_start_decompress(&c);
    if (c.output_components != 4
        || nano_pixels_alloc(out, (int) c.output_width,
                             (int) c.output_height) != 0)
    {
        jpeg_destroy_decompress(&c);
        return c.output_components != 4
               ? nano_scale_refuse(NANO_SCALE_CORRUPT, why, whylen,
                                   "the JPEG's colour space is not supported")
               : NANO_SCALE_NO_MEMORY;
    }
    while (c.output_scanline < c.output_height) {
        row = out->px + (size_t) c.output_scanline * c.output_width * 4;
        jpeg_read_scanlines(&c, &row, 1);
    }
    jpeg_finish_decompress(&c);
    if (cmyk) {
        nano_jpeg_cmyk(out, c.saw_Adobe_marker);
    }
    jpeg_destroy_decompress(&c);
    if (e.warnings > 0) {
        nano_pixels_cleanup(out);
        return nano_scale_refuse(NANO_SCALE_CORRUPT, why, whylen,
                                 "the JPEG is corrupt or cut short");
    }
    if (nano_pixels_orient(out, orientation) != 0) {
        nano_pixels_cleanup(out);
        return NANO_SCALE_NO_MEMORY;
    }
    return NANO_SCALE_OK;
}

/* ---- WebP ------------------------------------------------------------- */

static nano_scale_status_t
nano_decode_webp(const unsigned char *data, size_t len, long max_pixels,
    nano_pixels_t *out, char *why, size_t whylen)
{
    WebPBitstreamFeatures  f;
    nano_scale_status_t    st;
    size_t                 size;

    if (WebPGetFeatures(data, len, &f) != VP8_STATUS_OK) {
        return nano_scale_refuse(NANO_SCALE_CORRUPT, why, whylen,
                                 "the WebP is corrupt");
    }
    if (f.has_animation) {
        return nano_scale_refuse(NANO_SCALE_CORRUPT, why, whylen,
                                 "an animated WebP is not accepted");
    }
    st = nano_scale_check_size(f.width, f.height, max_pixels, why, whylen);
    if (st != NANO_SCALE_OK) {
        return st;
    }
    if (nano_pixels_alloc(out, f.width, f.height) != 0) {
        return NANO_SCALE_NO_MEMORY;
    }
    size = (size_t) f.width * (size_t) f.height * 4;
    if (WebPDecodeRGBAInto(data, len, out->px, size, f.width * 4) == NULL) {
        nano_pixels_cleanup(out);
        return nano_scale_refuse(NANO_SCALE_CORRUPT, why, whylen,
                                 "the WebP is corrupt or cut short");
    }
    return NANO_SCALE_OK;
}

nano_scale_status_t
nano_image_decode(const unsigned char *data, size_t len, long max_pixels,
    int at_least, nano_pixels_t *out, char *why, size_t whylen)
{
    nano_image_info_t  info;

    nano_pixels_init(out);
    if (whylen > 0) {
        why[0] = '\0';
    }
    if (nano_image_sniff(data, len, &info) != 0) {
        return nano_scale_refuse(NANO_SCALE_NOT_IMAGE, why, whylen,
                                 "the file is not a PNG, JPEG or WebP image");
    }
    if (strcmp(info.mime, "image/png") == 0) {
        return nano_decode_png(data, len, max_pixels, out, why, whylen);
    }
    if (strcmp(info.mime, "image/jpeg") == 0) {
        return nano_decode_jpeg(data, len, max_pixels, at_least, out, why,
                                whylen);
    }
    return nano_decode_webp(data, len, max_pixels, out, why, whylen);
}

/* ---- scaling ---------------------------------------------------------- */

/* Which source pixels make each output pixel along one axis, and how
 * much: count[o] weights from start[o], summing to 1. */
typedef struct {
    int     *start;
    int     *count;
    float   *w;           /* n * maxc */
    int      maxc;
} nano_axis_t;

static void
nano_axis_cleanup(nano_axis_t *a)
{
    free(a->start);
    free(a->count);
    free(a->w);
}

/*
 * Output pixel o of n covers [c0 + o*f, c0 + (o+1)*f) of the source's
 * len pixels (f = clen / n): each source pixel weighs what it overlaps
 * (area averaging) when f >= 1; the two nearest pixel centres weigh by
 * distance (bilinear) when the source is smaller.
 */
static int
nano_axis_make(nano_axis_t *a, int len, double c0, double clen, int n)
{
    double  f = clen / n, lo, hi, sum, center, t, ov;
    int     o, i, k, i0, first, last;

    a->maxc = (int) ceil(f) + 2;
    a->start = calloc((size_t) n, sizeof(int));
    a->count = calloc((size_t) n, sizeof(int));
    a->w = calloc((size_t) n * (size_t) a->maxc, sizeof(float));
    if (a->start == NULL || a->count == NULL || a->w == NULL) {
        return -1;
    }
    for (o = 0; o < n; o++) {
        float  *w = a->w + (size_t) o * a->maxc;

        if (f >= 1.0) {
            lo = c0 + o * f;
            hi = lo + f;
            i0 = (int) floor(lo);
            sum = 0;
            for (k = 0, i = i0; i < hi && k < a->maxc; i++) {
                ov = (i + 1 < hi ? i + 1 : hi) - (i > lo ? i : lo);
                if (ov <= 0 || i < 0 || i >= len) {
                    continue;
                }
                if (k == 0) {
                    a->start[o] = i;
                }
                w[k++] = (float) ov;
                sum += ov;
            }
            a->count[o] = k;
        } else {
            /* within the crop: nothing bleeds in from outside it */
            first = (int) floor(c0);
            last = (int) ceil(c0 + clen) - 1;
            first = first < 0 ? 0 : first;
            last = last >= len ? len - 1 : last;
            center = c0 + (o + 0.5) * f - 0.5;
            i0 = (int) floor(center);
            t = center - i0;
            if (i0 < first) {
                i0 = first;
                t = 0;
            }
            if (i0 >= last) {
                i0 = last;
                t = 0;
            }
            a->start[o] = i0;
            w[0] = (float) (1 - t);
            a->count[o] = 1;
            if (t > 0) {
                w[1] = (float) t;
                a->count[o] = 2;
            }
            sum = 1;
        }
        if (a->count[o] == 0 || sum <= 0) {
            /* rounding left nothing inside: the nearest pixel */
            i0 = (int) floor(c0 + (o + 0.5) * f);
            a->start[o] = i0 < 0 ? 0 : i0 >= len ? len - 1 : i0;
            a->count[o] = 1;
            w[0] = 1;
            sum = 1;
        }
        for (k = 0; k < a->count[o]; k++) {
            w[k] = (float) (w[k] / sum);
        }
    }
    return 0;
}

/* One source row resampled across: premultiplied r, g, b and a per
 * output column into acc (4 floats each), weighted by wy, added. */
static void
nano_scale_row(const unsigned char *row, const nano_axis_t *ax, int n,
    float wy, float *acc)
{
    const unsigned char  *p;
    const float          *w;
    float                 r, g, b, al, a;
    int                   o, k;

    for (o = 0; o < n; o++) {
        w = ax->w + (size_t) o * ax->maxc;
        p = row + (size_t) ax->start[o] * 4;
        r = g = b = al = 0;
        for (k = 0; k < ax->count[o]; k++, p += 4) {
            a = w[k] * p[3];
            r += a * p[0];
            g += a * p[1];
            b += a * p[2];
            al += a;
        }
        acc[o * 4] += wy * r;
        acc[o * 4 + 1] += wy * g;
        acc[o * 4 + 2] += wy * b;
        acc[o * 4 + 3] += wy * al;
    }
}

static unsigned char
nano_scale_byte(float v)
{
    return v <= 0 ? 0 : v >= 255 ? 255 : (unsigned char) (v + 0.5f);
}

int
nano_pixels_cover(const nano_pixels_t *in, int width, int height,
    nano_pixels_t *out)
{
    nano_axis_t    ax = { 0 }, ay = { 0 };
    double         cx = 0, cy = 0, cw = in->width, ch = in->height;
    float         *acc = NULL, a;
    unsigned char *q;
    int            oy, k, o, status = -1;

    nano_pixels_init(out);
    if (width <= 0 || height <= 0 || in->width <= 0 || in->height <= 0) {
        return -1;
    }
    /* the largest centred box of the wanted aspect ratio */
    if ((double) in->width * height > (double) in->height * width) {
        cw = (double) in->height * width / height;
        cx = (in->width - cw) / 2;
    } else {
        ch = (double) in->width * height / width;
        cy = (in->height - ch) / 2;
    }
    acc = malloc((size_t) width * 4 * sizeof(float));
    if (acc == NULL
        || nano_axis_make(&ax, in->width, cx, cw, width) != 0
        || nano_axis_make(&ay, in->height, cy, ch, height) != 0
        || nano_pixels_alloc(out, width, height) != 0)
    {
        goto out;
    }
    for (oy = 0; oy < height; oy++) {
        memset(acc, 0, (size_t) width * 4 * sizeof(float));
        for (k = 0; k < ay.count[oy]; k++) {
            nano_scale_row(in->px + (size_t) (ay.start[oy] + k) * in->width
                           * 4, &ax, width, ay.w[(size_t) oy * ay.maxc + k],
                           acc);
        }
        q = out->px + (size_t) oy * width * 4;
        for (o = 0; o < width; o++, q += 4) {
            a = acc[o * 4 + 3];
            if (a <= 0) {
                memset(q, 0, 4);
                continue;
            }
            q[0] = nano_scale_byte(acc[o * 4] / a);
            q[1] = nano_scale_byte(acc[o * 4 + 1] / a);
            q[2] = nano_scale_byte(acc[o * 4 + 2] / a);
            q[3] = nano_scale_byte(a);
        }
    }
    status = 0;
out:
    if (status != 0) {
        nano_pixels_cleanup(out);
    }
    nano_axis_cleanup(&ax);
    nano_axis_cleanup(&ay);
    free(acc);
    return status;
}

/* ---- PNG out ---------------------------------------------------------- */

int
nano_pixels_png(const nano_pixels_t *p, unsigned char **png, size_t *len)
{
    png_image            img;
    png_alloc_size_t     size = 0;
    unsigned char       *rgb = NULL, *buf = NULL;
    const unsigned char *src = p->px;
    size_t               i, n = (size_t) p->width * (size_t) p->height;
    int                  opaque = 1, status = -1;

    *png = NULL;
    *len = 0;
    for (i = 0; i < n && opaque; i++) {
        opaque = p->px[i * 4 + 3] == 255;
    }
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32) p->width;
    img.height = (png_uint_32) p->height;
    img.format = PNG_FORMAT_RGBA;
    if (opaque) {
        /* three bytes a pixel: a quarter smaller */
        rgb = malloc(n * 3);
        if (rgb == NULL) {
            goto out;
        }
        for (i = 0; i < n; i++) {
            memcpy(rgb + i * 3, p->px + i * 4, 3);
        }
        src = rgb;
        img.format = PNG_FORMAT_RGB;
    }
    if (!png_image_write_to_memory(&img, NULL, &size, 0, src, 0, NULL)
        || (buf = malloc(size)) == NULL
        || !png_image_write_to_memory(&img, buf, &size, 0, src, 0, NULL))
    {
        free(buf);
        goto out;
    }
    *png = buf;
    *len = size;
    status = 0;
out:
    png_image_free(&img);
    free(rgb);
    return status;
}

nano_scale_status_t
nano_image_square_png(const unsigned char *data, size_t len, int side,
    long max_pixels, unsigned char **png, size_t *png_len, char *why,
    size_t whylen)
{
    nano_pixels_t        in, sq;
    nano_scale_status_t  st;

    *png = NULL;
    *png_len = 0;
    nano_pixels_init(&sq);
    st = nano_image_decode(data, len, max_pixels, side, &in, why, whylen);
    if (st != NANO_SCALE_OK) {
        return st;
    }
    if (nano_pixels_cover(&in, side, side, &sq) != 0
        || nano_pixels_png(&sq, png, png_len) != 0)
    {
        st = NANO_SCALE_NO_MEMORY;
    }
    nano_pixels_cleanup(&in);
    nano_pixels_cleanup(&sq);
    return st;
}
