/*
 * Unit tests for decoding, scaling and encoding images
 * (nano_image_scale): each format decoded (PNG and lossless WebP to the
 * exact pixels, JPEG close to them), corrupt and cut-short files,
 * decompression bombs refused from the header alone, JPEGs with
 * hundreds of scans, EXIF orientation, DCT scaling, the centre crop for
 * wide and tall images, area averaging, upscaling, alpha, and the PNG
 * written.  Test images are made here with libpng, libjpeg and libwebp.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "nano_image_scale.h"

#define WHY  char why[256] = ""

/* ---- making test images ----------------------------------------------- */

typedef void (*paint_fn)(int x, int y, int w, int h, unsigned char *rgba);

static void
paint_pixels(nano_pixels_t *p, int w, int h, paint_fn paint)
{
    int  x, y;

    p->px = malloc((size_t) w * h * 4);
    assert_non_null(p->px);
    p->width = w;
    p->height = h;
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            paint(x, y, w, h, p->px + ((size_t) y * w + x) * 4);
        }
    }
}

static void
set_rgba(unsigned char *q, int r, int g, int b, int a)
{
    q[0] = (unsigned char) r;
    q[1] = (unsigned char) g;
    q[2] = (unsigned char) b;
    q[3] = (unsigned char) a;
}

/* A gradient with some alpha: every pixel different. */
static void
paint_gradient(int x, int y, int w, int h, unsigned char *q)
{
    set_rgba(q, x * 255 / w, y * 255 / h, (x + y) % 256, 128 + (x % 128));
}

static void
paint_opaque(int x, int y, int w, int h, unsigned char *q)
{
    set_rgba(q, x * 255 / w, y * 255 / h, 90, 255);
}

/* Thirds across: red, green, blue (wide images). */
static void
paint_thirds_across(int x, int y, int w, int h, unsigned char *q)
{
    (void) y;
    (void) h;
    if (x < w / 3) {
        set_rgba(q, 255, 0, 0, 255);
    } else if (x < 2 * w / 3) {
        set_rgba(q, 0, 255, 0, 255);
    } else {
        set_rgba(q, 0, 0, 255, 255);
    }
}

/* Thirds down: red, green, blue (tall images). */
static void
paint_thirds_down(int x, int y, int w, int h, unsigned char *q)
{
    paint_thirds_across(y, x, h, w, q);
}

static void
paint_checker(int x, int y, int w, int h, unsigned char *q)
{
    int  v = (x + y) % 2 ? 255 : 0;

    (void) w;
    (void) h;
    set_rgba(q, v, v, v, 255);
}

/* Left half red, right half blue. */
static void
paint_halves(int x, int y, int w, int h, unsigned char *q)
{
    (void) y;
    (void) h;
    if (x < w / 2) {
        set_rgba(q, 220, 20, 20, 255);
    } else {
        set_rgba(q, 20, 20, 220, 255);
    }
}

/* White where opaque, black where fully transparent, alternating. */
static void
paint_alpha_stripes(int x, int y, int w, int h, unsigned char *q)
{
    (void) y;
    (void) w;
    (void) h;
    if (x % 2) {
        set_rgba(q, 255, 255, 255, 255);
    } else {
        set_rgba(q, 0, 0, 0, 0);
    }
}

static void
make_png(const nano_pixels_t *p, unsigned char **out, size_t *len)
{
    assert_int_equal(nano_pixels_png(p, out, len), 0);
}

typedef struct {
    unsigned char  *buf;
    unsigned long   len;
} jpeg_out_t;

/* A JPEG of p (RGB, quality 95); orientation > 1 adds an EXIF APP1
 * (big-endian when big); many_scans writes a progressive file of one
 * DC scan and one scan per AC coefficient and component (190 scans). */
static void
make_jpeg(const nano_pixels_t *p, int orientation, int big, int many_scans,
    jpeg_out_t *o)
{
    struct jpeg_compress_struct  c;
    struct jpeg_error_mgr        e;
    jpeg_scan_info              *scans = NULL;
    unsigned char               *row;
    JSAMPROW                     rp;
    int                          x, y, k, n = 0;

    o->buf = NULL;
    o->len = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &o->buf, &o->len);
    c.image_width = (JDIMENSION) p->width;
    c.image_height = (JDIMENSION) p->height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    if (many_scans) {
        scans = calloc(1 + 3 * 63, sizeof(*scans));
        assert_non_null(scans);
        scans[n].comps_in_scan = 3;
        for (k = 0; k < 3; k++) {
            scans[n].component_index[k] = k;
        }
        n++;
        for (k = 0; k < 3; k++) {
            for (x = 1; x <= 63; x++, n++) {
                scans[n].comps_in_scan = 1;
                scans[n].component_index[0] = k;
                scans[n].Ss = x;
                scans[n].Se = x;
            }
        }
        c.scan_info = scans;
        c.num_scans = n;
    }
    jpeg_start_compress(&c, TRUE);
    if (orientation > 1) {
        /* Exif header, TIFF header, IFD0 of one entry: 0x0112 SHORT 1 */
        unsigned char  app1[6 + 8 + 2 + 12 + 4] = "Exif\0\0";
        unsigned char *t = app1 + 6;

        memcpy(t, big ? "MM\0*\0\0\0\x08" : "II*\0\x08\0\0\0", 8);
        memcpy(t + 8, big ? "\0\x01" : "\x01\0", 2);
        memcpy(t + 10, big ? "\x01\x12\0\x03\0\0\0\x01" : "\x12\x01\x03\0"
               "\x01\0\0\0", 8);
        t[18] = big ? 0 : (unsigned char) orientation;
        t[19] = big ? (unsigned char) orientation : 0;
        t[20] = t[21] = 0;
        jpeg_write_marker(&c, JPEG_APP0 + 1, app1, sizeof(app1));
    }
    row = malloc((size_t) p->width * 3);
    assert_non_null(row);
    for (y = 0; y < p->height; y++) {
        for (x = 0; x < p->width; x++) {
            memcpy(row + x * 3, p->px + ((size_t) y * p->width + x) * 4, 3);
        }
        rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    free(scans);
}

static void
make_webp(const nano_pixels_t *p, int lossless, unsigned char **out,
    size_t *len)
{
    *len = lossless
           ? WebPEncodeLosslessRGBA(p->px, p->width, p->height, p->width * 4,
                                    out)
           : WebPEncodeRGBA(p->px, p->width, p->height, p->width * 4, 90,
                            out);
    assert_true(*len > 0);
}

/* PNG's CRC-32 (ISO 3309), bit by bit: small and enough here. */
static uint32_t
crc32_of(const unsigned char *p, size_t n)
{
    uint32_t  c = 0xffffffffu;
    size_t    i;
    int       k;

    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) {
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        }
    }
    return c ^ 0xffffffffu;
}

/* A PNG that declares w x h in its (correctly checksummed) IHDR and
 * holds almost no data: what a decompression bomb's header looks like. */
static size_t
make_png_header(unsigned char *buf, uint32_t w, uint32_t h)
{
    static const unsigned char  sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n',
                                           0x1a, '\n' };
    unsigned char               ihdr[17] = "IHDR";
    uint32_t                    crc;
    size_t                      n = 0;

    memcpy(buf, sig, 8);
    n = 8;
    ihdr[4] = (unsigned char) (w >> 24);
    ihdr[5] = (unsigned char) (w >> 16);
    ihdr[6] = (unsigned char) (w >> 8);
    ihdr[7] = (unsigned char) w;
    ihdr[8] = (unsigned char) (h >> 24);
    ihdr[9] = (unsigned char) (h >> 16);
    ihdr[10] = (unsigned char) (h >> 8);
    ihdr[11] = (unsigned char) h;
    ihdr[12] = 8;       /* depth */
    ihdr[13] = 6;       /* RGBA */
    memcpy(buf + n, "\0\0\0\x0d", 4);
    memcpy(buf + n + 4, ihdr, 17);
    crc = crc32_of(ihdr, 17);
    n += 21;
    buf[n++] = (unsigned char) (crc >> 24);
    buf[n++] = (unsigned char) (crc >> 16);
    buf[n++] = (unsigned char) (crc >> 8);
    buf[n++] = (unsigned char) crc;
    /* an empty IDAT and IEND: never reached */
    memcpy(buf + n, "\0\0\0\0IDAT\x35\xaf\x06\x1e\0\0\0\0IEND\xae\x42\x60\x82",
           24);
    return n + 24;
}

static void
assert_near(int got, int want, int tolerance, const char *what)
{
    if (abs(got - want) > tolerance) {
        fail_msg("%s: %d, expected %d (within %d)", what, got, want,
                 tolerance);
    }
}

static const unsigned char *
px_at(const nano_pixels_t *p, int x, int y)
{
    return p->px + ((size_t) y * p->width + x) * 4;
}

/* ---- decoding --------------------------------------------------------- */

/* data decodes to exactly the pixels of src (lossless formats). */
static void
assert_decodes_to(const unsigned char *data, size_t len,
    const nano_pixels_t *src)
{
    nano_pixels_t  got;
    WHY;

    assert_int_equal(nano_image_decode(data, len, NANO_IMAGE_PIXELS_MAX, 0,
                                       &got, why, sizeof(why)),
                     NANO_SCALE_OK);
    assert_int_equal(got.width, src->width);
    assert_int_equal(got.height, src->height);
    assert_memory_equal(got.px, src->px,
                        (size_t) src->width * (size_t) src->height * 4);
    nano_pixels_cleanup(&got);
}

static void
png_exact(void **state)
{
    nano_pixels_t  src;
    unsigned char *png;
    size_t         len;

    (void) state;
    paint_pixels(&src, 37, 23, paint_gradient);
    make_png(&src, &png, &len);
    assert_decodes_to(png, len, &src);
    nano_pixels_cleanup(&src);
    free(png);
}

static void
jpeg_close(void **state)
{
    nano_pixels_t  src, got;
    jpeg_out_t     j;
    int            x, y, k;
    WHY;

    (void) state;
    paint_pixels(&src, 64, 48, paint_halves);
    make_jpeg(&src, 1, 0, 0, &j);
    assert_int_equal(nano_image_decode(j.buf, j.len, NANO_IMAGE_PIXELS_MAX,
                                       0, &got, why, sizeof(why)),
                     NANO_SCALE_OK);
    assert_int_equal(got.width, 64);
    assert_int_equal(got.height, 48);
    /* away from the edge between the halves, JPEG keeps the colours */
    for (y = 0; y < 48; y += 7) {
        for (x = 0; x < 64; x += 5) {
            if (x >= 24 && x < 40) {
                continue;
            }
            for (k = 0; k < 3; k++) {
                assert_near(px_at(&got, x, y)[k], px_at(&src, x, y)[k], 12,
                            "jpeg channel");
            }
            assert_int_equal(px_at(&got, x, y)[3], 255);
        }
    }
    nano_pixels_cleanup(&got);
    nano_pixels_cleanup(&src);
    free(j.buf);
}

/*
 * A CMYK JPEG as print tools write it, left half red and right half
 * blue: with an Adobe marker (Photoshop's, ink stored inverted; as CMYK
 * or as YCCK) and without one (ink as is).  Photos for an avatar or an
 * edit come this way from print workflows.
 */
static void
make_cmyk_jpeg(int adobe, J_COLOR_SPACE stored, jpeg_out_t *o)
{
    struct jpeg_compress_struct  c;
    struct jpeg_error_mgr        e;
    unsigned char                row[64 * 4], *rp = row, *q;
    int                          x, red;

    memset(o, 0, sizeof(*o));
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &o->buf, &o->len);
    c.image_width = 64;
    c.image_height = 48;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, stored);
    jpeg_set_quality(&c, 95, TRUE);
    c.write_Adobe_marker = adobe ? TRUE : FALSE;
    jpeg_start_compress(&c, TRUE);
    for (x = 0; x < 64; x++) {
        q = row + x * 4;
        red = x < 32;
        /* red: magenta and yellow ink; blue: cyan and magenta */
        q[0] = red ? 0 : 255;
        q[1] = 255;
        q[2] = red ? 255 : 0;
        q[3] = 0;
        if (adobe) {
            q[0] = (unsigned char) (255 - q[0]);
            q[1] = (unsigned char) (255 - q[1]);
            q[2] = (unsigned char) (255 - q[2]);
            q[3] = (unsigned char) (255 - q[3]);
        }
    }
    while (c.next_scanline < c.image_height) {
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
}

static void
jpeg_cmyk(void **state)
{
    static const struct {
        int            adobe;
        J_COLOR_SPACE  stored;
    } cases[] = { { 1, JCS_CMYK }, { 1, JCS_YCCK }, { 0, JCS_CMYK } };
    nano_pixels_t  got;
    jpeg_out_t     j;
    size_t         i;
    int            x, y;
    WHY;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        make_cmyk_jpeg(cases[i].adobe, cases[i].stored, &j);
        assert_int_equal(nano_image_decode(j.buf, j.len,
                                           NANO_IMAGE_PIXELS_MAX, 0, &got,
                                           why, sizeof(why)),
                         NANO_SCALE_OK);
        assert_int_equal(got.width, 64);
        assert_int_equal(got.height, 48);
        for (y = 0; y < 48; y += 7) {
            for (x = 0; x < 64; x += 5) {
                if (x >= 24 && x < 40) {
                    continue;
                }
                assert_near(px_at(&got, x, y)[0], x < 32 ? 255 : 0, 16,
                            "cmyk red");
                assert_near(px_at(&got, x, y)[1], 0, 16, "cmyk green");
                assert_near(px_at(&got, x, y)[2], x < 32 ? 0 : 255, 16,
                            "cmyk blue");
                assert_int_equal(px_at(&got, x, y)[3], 255);
            }
        }
        nano_pixels_cleanup(&got);
        free(j.buf);
    }
}

static void
webp_lossless_exact(void **state)
{
    nano_pixels_t  src;
    unsigned char *w;
    size_t         len;

    (void) state;
    paint_pixels(&src, 50, 30, paint_gradient);
    make_webp(&src, 1, &w, &len);
    assert_decodes_to(w, len, &src);
    nano_pixels_cleanup(&src);
    WebPFree(w);
}

static void
webp_lossy_close(void **state)
{
    nano_pixels_t  src, got;
    unsigned char *w;
    size_t         len;
    WHY;

    (void) state;
    paint_pixels(&src, 64, 64, paint_halves);
    make_webp(&src, 0, &w, &len);
    assert_int_equal(nano_image_decode(w, len, NANO_IMAGE_PIXELS_MAX, 0,
                                       &got, why, sizeof(why)),
                     NANO_SCALE_OK);
    assert_int_equal(got.width, 64);
    assert_near(px_at(&got, 8, 8)[0], 220, 16, "webp red");
    assert_near(px_at(&got, 56, 8)[2], 220, 16, "webp blue");
    nano_pixels_cleanup(&got);
    nano_pixels_cleanup(&src);
    WebPFree(w);
}

/* ---- refusals --------------------------------------------------------- */

static void
not_images(void **state)
{
    static const char  text[] = "this is plain text and no image at all, "
                                "certainly not a PNG";
    static const char  gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff"
                               "\xff\x00\x00\x00\x21\xf9\x04\x01\x00";
    nano_pixels_t      got;
    WHY;

    (void) state;
    assert_int_equal(nano_image_decode((const unsigned char *) text,
                                       sizeof(text) - 1, NANO_IMAGE_PIXELS_MAX,
                                       0, &got, why, sizeof(why)),
                     NANO_SCALE_NOT_IMAGE);
    assert_string_equal(why, "the file is not a PNG, JPEG or WebP image");
    assert_null(got.px);
    assert_int_equal(nano_image_decode((const unsigned char *) gif,
                                       sizeof(gif) - 1, NANO_IMAGE_PIXELS_MAX,
                                       0, &got, why, sizeof(why)),
                     NANO_SCALE_NOT_IMAGE);
    assert_int_equal(nano_image_decode((const unsigned char *) "", 0,
                                       NANO_IMAGE_PIXELS_MAX, 0, &got, why,
                                       sizeof(why)),
                     NANO_SCALE_NOT_IMAGE);
}

static void
corrupt_png(void **state)
{
    nano_pixels_t  src, got;
    unsigned char *png;
    size_t         len, i;
    WHY;

    (void) state;
    paint_pixels(&src, 40, 40, paint_gradient);
    make_png(&src, &png, &len);
    /* damage the compressed data after the headers */
    for (i = 60; i < len - 20; i += 3) {
        png[i] ^= 0x5a;
    }
    assert_int_equal(nano_image_decode(png, len, NANO_IMAGE_PIXELS_MAX, 0,
                                       &got, why, sizeof(why)),
                     NANO_SCALE_CORRUPT);
    assert_non_null(strstr(why, "the PNG is corrupt"));
    assert_null(got.px);
    free(png);
    /* cut short */
    make_png(&src, &png, &len);
    assert_int_equal(nano_image_decode(png, len / 2, NANO_IMAGE_PIXELS_MAX, 0,
                                       &got, why, sizeof(why)),
                     NANO_SCALE_CORRUPT);
    assert_null(got.px);
    free(png);
    nano_pixels_cleanup(&src);
}

static void
corrupt_jpeg(void **state)
{
    nano_pixels_t  src, got;
    jpeg_out_t     j;
    size_t         i;
    WHY;

    (void) state;
    paint_pixels(&src, 64, 64, paint_gradient);
    make_jpeg(&src, 1, 0, 0, &j);
    /* cut short: libjpeg would pad with gray and warn */
    assert_int_equal(nano_image_decode(j.buf, j.len / 2, NANO_IMAGE_PIXELS_MAX,
                                       0, &got, why, sizeof(why)),
                     NANO_SCALE_CORRUPT);
    assert_string_equal(why, "the JPEG is corrupt or cut short");
    assert_null(got.px);
    /* a broken header: garbage in place of the tables */
    for (i = 4; i < 200 && i < j.len; i++) {
        j.buf[i] = 0x17;
    }
    assert_int_not_equal(nano_image_decode(j.buf, j.len, NANO_IMAGE_PIXELS_MAX,
                                           0, &got, why, sizeof(why)),
                         NANO_SCALE_OK);
    assert_null(got.px);
    j.buf[2] = 0xff;
    j.buf[3] = 0xdb;            /* a DQT marker whose length is garbage */
    assert_int_not_equal(nano_image_decode(j.buf, j.len, NANO_IMAGE_PIXELS_MAX,
                                           0, &got, why, sizeof(why)),
                         NANO_SCALE_OK);
    assert_null(got.px);
    free(j.buf);
    nano_pixels_cleanup(&src);
}

static void
corrupt_webp(void **state)
{
    nano_pixels_t  src, got;
    unsigned char *w, *copy;
    size_t         len;
    WHY;

    (void) state;
    paint_pixels(&src, 64, 64, paint_gradient);
    make_webp(&src, 0, &w, &len);
    assert_int_equal(nano_image_decode(w, len * 2 / 3, NANO_IMAGE_PIXELS_MAX,
                                       0, &got, why, sizeof(why)),
                     NANO_SCALE_CORRUPT);
    assert_null(got.px);
    copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, w, len);
    memset(copy + 40, 0xff, len - 40);
    assert_int_equal(nano_image_decode(copy, len, NANO_IMAGE_PIXELS_MAX, 0,
                                       &got, why, sizeof(why)),
                     NANO_SCALE_CORRUPT);
    assert_null(got.px);
    free(copy);
    WebPFree(w);
    nano_pixels_cleanup(&src);
}

/* A bomb is refused from its header: quickly, and before any pixel. */
static void
bomb_png(void **state)
{
    unsigned char  buf[128];
    nano_pixels_t  got;
    size_t         len;
    clock_t        t0 = clock();
    WHY;

    (void) state;
    len = make_png_header(buf, 50000, 50000);
    assert_int_equal(nano_image_decode(buf, len, NANO_IMAGE_PIXELS_MAX, 0,
                                       &got, why, sizeof(why)),
                     NANO_SCALE_TOO_LARGE);
    assert_string_equal(why, "the image is 50000x50000 pixels; at most"
                        " 25000000 pixels and 16384 on a side are accepted");
    assert_null(got.px);
    /* within the area but a side too long */
    len = make_png_header(buf, 20000, 10);
    assert_int_equal(nano_image_decode(buf, len, NANO_IMAGE_PIXELS_MAX, 0,
                                       &got, why, sizeof(why)),
                     NANO_SCALE_TOO_LARGE);
    /* 5001 x 5000 is just over 25 megapixels */
    len = make_png_header(buf, 5001, 5000);
    assert_int_equal(nano_image_decode(buf, len, NANO_IMAGE_PIXELS_MAX, 0,
                                       &got, why, sizeof(why)),
                     NANO_SCALE_TOO_LARGE);
    assert_true(clock() - t0 < CLOCKS_PER_SEC / 10);
}

static void
bomb_jpeg(void **state)
{
    /* SOI, DQT-free SOF0 of 60000 x 60000, 1 component: the header is
     * all libjpeg reads before the size check */
    static const unsigned char  hdr[] =
        "\xff\xd8"
        "\xff\xdb\x00\x43\x00" "\x01\x01\x01\x01\x01\x01\x01\x01"
        "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
        "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
        "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
        "\x01\x01\x01\x01\x01\x01\x01\x01"
        "\xff\xc0\x00\x0b\x08\xea\x60\xea\x60\x01\x01\x11\x00"
        "\xff\xc4\x00\x14" "\x00" "\x01\x00\x00\x00\x00\x00\x00\x00"
        "\x00\x00\x00\x00\x00\x00\x00\x00" "\x00"
        "\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" "\x00\x00\x00\x00"
        "\xff\xd9";
    nano_pixels_t               got;
    WHY;

    (void) state;
    assert_int_equal(nano_image_decode(hdr, sizeof(hdr) - 1,
                                       NANO_IMAGE_PIXELS_MAX, 0, &got, why,
                                       sizeof(why)),
                     NANO_SCALE_TOO_LARGE);
    assert_string_equal(why, "the image is 60000x60000 pixels; at most"
                        " 25000000 pixels and 16384 on a side are accepted");
    assert_null(got.px);
}

static void
bomb_webp(void **state)
{
    /* a lossless header of 16000 x 16000 (width - 1 and height - 1 in
     * 14 bits each) and a few bytes of data */
    static const unsigned char  hdr[] =
        "RIFF\x16\x00\x00\x00WEBP"
        "VP8L\x0a\x00\x00\x00\x2f\x7f\xfe\x9f\x0f\x00\x00\x00\x00\x00";
    nano_pixels_t               got;
    WHY;

    (void) state;
    assert_int_equal(nano_image_decode(hdr, sizeof(hdr) - 1,
                                       NANO_IMAGE_PIXELS_MAX, 0, &got, why,
                                       sizeof(why)),
                     NANO_SCALE_TOO_LARGE);
    assert_null(got.px);
}

/* The limit is the caller's: exactly max_pixels passes, one more not. */
static void
pixel_limit(void **state)
{
    nano_pixels_t  src, got;
    unsigned char *png;
    size_t         len;
    WHY;

    (void) state;
    paint_pixels(&src, 100, 100, paint_opaque);
    make_png(&src, &png, &len);
    assert_int_equal(nano_image_decode(png, len, 10000, 0, &got, why,
                                       sizeof(why)), NANO_SCALE_OK);
    nano_pixels_cleanup(&got);
    assert_int_equal(nano_image_decode(png, len, 9999, 0, &got, why,
                                       sizeof(why)), NANO_SCALE_TOO_LARGE);
    assert_null(got.px);
    free(png);
    nano_pixels_cleanup(&src);
}

static void
jpeg_many_scans(void **state)
{
    nano_pixels_t  src, got;
    jpeg_out_t     j;
    WHY;

    (void) state;
    paint_pixels(&src, 32, 32, paint_gradient);
    make_jpeg(&src, 1, 0, 1, &j);
    assert_int_equal(nano_image_decode(j.buf, j.len, NANO_IMAGE_PIXELS_MAX, 0,
                                       &got, why, sizeof(why)),
                     NANO_SCALE_CORRUPT);
    assert_string_equal(why, "the JPEG is corrupt: more than 100 scans");
    assert_null(got.px);
    free(j.buf);
    nano_pixels_cleanup(&src);
}

/* ---- orientation and DCT scaling --------------------------------------- */

static void
jpeg_orientation(void **state)
{
    static const struct { int o, big, w, h, top_red, left_red; } cases[] = {
        { 1, 0, 40, 20, -1, 1 },     /* as stored: red on the left */
        { 3, 1, 40, 20, -1, 0 },     /* 180: red on the right */
        { 6, 0, 20, 40, 1, -1 },     /* 90 clockwise: red on top */
        { 6, 1, 20, 40, 1, -1 },     /* the same, big-endian TIFF */
        { 8, 0, 20, 40, 0, -1 },     /* 90 counter-clockwise: red below */
    };
    nano_pixels_t  src, got;
    jpeg_out_t     j;
    size_t         i;
    WHY;

    (void) state;
    paint_pixels(&src, 40, 20, paint_halves);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        make_jpeg(&src, cases[i].o, cases[i].big, 0, &j);
        assert_int_equal(nano_image_decode(j.buf, j.len,
                                           NANO_IMAGE_PIXELS_MAX, 0, &got,
                                           why, sizeof(why)), NANO_SCALE_OK);
        assert_int_equal(got.width, cases[i].w);
        assert_int_equal(got.height, cases[i].h);
        if (cases[i].top_red >= 0) {
            assert_int_equal(px_at(&got, 10, 4)[0] > 128, cases[i].top_red);
            assert_int_equal(px_at(&got, 10, 35)[0] > 128,
                             !cases[i].top_red);
        } else {
            assert_int_equal(px_at(&got, 4, 10)[0] > 128, cases[i].left_red);
            assert_int_equal(px_at(&got, 35, 10)[0] > 128,
                             !cases[i].left_red);
        }
        nano_pixels_cleanup(&got);
        free(j.buf);
    }
    nano_pixels_cleanup(&src);
}

static void
jpeg_dct_scaling(void **state)
{
    nano_pixels_t  src, got;
    jpeg_out_t     j;
    WHY;

    (void) state;
    paint_pixels(&src, 2048, 1536, paint_opaque);
    make_jpeg(&src, 1, 0, 0, &j);
    /* for 256 both sides must stay >= 512: a half (a quarter would
     * give 384 rows) */
    assert_int_equal(nano_image_decode(j.buf, j.len, NANO_IMAGE_PIXELS_MAX,
                                       256, &got, why, sizeof(why)),
                     NANO_SCALE_OK);
    assert_int_equal(got.width, 1024);
    assert_int_equal(got.height, 768);
    nano_pixels_cleanup(&got);
    assert_int_equal(nano_image_decode(j.buf, j.len, NANO_IMAGE_PIXELS_MAX,
                                       64, &got, why, sizeof(why)),
                     NANO_SCALE_OK);
    assert_int_equal(got.width, 256);       /* an eighth */
    assert_int_equal(got.height, 192);
    nano_pixels_cleanup(&got);
    assert_int_equal(nano_image_decode(j.buf, j.len, NANO_IMAGE_PIXELS_MAX,
                                       0, &got, why, sizeof(why)),
                     NANO_SCALE_OK);
    assert_int_equal(got.width, 2048);      /* 0: full size */
    nano_pixels_cleanup(&got);
    free(j.buf);
    nano_pixels_cleanup(&src);
}

/* ---- scaling ---------------------------------------------------------- */

static void
cover_sizes(void **state)
{
    static const int  sizes[][4] = {
        { 1000, 1000, 256, 256 }, { 10, 10, 256, 256 }, { 1, 1, 256, 256 },
        { 3000, 17, 256, 256 }, { 17, 3000, 256, 256 }, { 640, 480, 200, 100 },
        { 256, 256, 256, 256 }, { 300, 200, 1, 1 },
    };
    nano_pixels_t     src, got;
    size_t            i;

    (void) state;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        paint_pixels(&src, sizes[i][0], sizes[i][1], paint_opaque);
        assert_int_equal(nano_pixels_cover(&src, sizes[i][2], sizes[i][3],
                                           &got), 0);
        assert_int_equal(got.width, sizes[i][2]);
        assert_int_equal(got.height, sizes[i][3]);
        assert_int_equal(px_at(&got, got.width / 2, got.height / 2)[3], 255);
        assert_int_equal(px_at(&got, 0, 0)[2], 90);
        nano_pixels_cleanup(&got);
        nano_pixels_cleanup(&src);
    }
    paint_pixels(&src, 4, 4, paint_opaque);
    assert_int_equal(nano_pixels_cover(&src, 0, 10, &got), -1);
    assert_null(got.px);
    nano_pixels_cleanup(&src);
}

/* A wide image keeps its middle third, a tall one too. */
static void
cover_crops_the_centre(void **state)
{
    nano_pixels_t  src, got;
    int            x, y;

    (void) state;
    paint_pixels(&src, 300, 100, paint_thirds_across);
    assert_int_equal(nano_pixels_cover(&src, 256, 256, &got), 0);
    for (y = 0; y < 256; y += 15) {
        for (x = 0; x < 256; x += 15) {
            assert_int_equal(px_at(&got, x, y)[0], 0);
            assert_int_equal(px_at(&got, x, y)[1], 255);
            assert_int_equal(px_at(&got, x, y)[2], 0);
        }
    }
    nano_pixels_cleanup(&got);
    nano_pixels_cleanup(&src);

    paint_pixels(&src, 90, 270, paint_thirds_down);
    assert_int_equal(nano_pixels_cover(&src, 256, 256, &got), 0);
    assert_int_equal(px_at(&got, 3, 3)[1], 255);
    assert_int_equal(px_at(&got, 250, 250)[1], 255);
    assert_int_equal(px_at(&got, 128, 128)[0], 0);
    nano_pixels_cleanup(&got);
    nano_pixels_cleanup(&src);
}

/* Halving a 1-pixel checkerboard averages each 2x2 block: mid gray,
 * never the black or white of a pixel picked. */
static void
cover_averages_area(void **state)
{
    nano_pixels_t  src, got;
    int            x, y;

    (void) state;
    paint_pixels(&src, 512, 512, paint_checker);
    assert_int_equal(nano_pixels_cover(&src, 256, 256, &got), 0);
    for (y = 0; y < 256; y += 9) {
        for (x = 0; x < 256; x += 9) {
            assert_near(px_at(&got, x, y)[0], 128, 1, "averaged gray");
        }
    }
    nano_pixels_cleanup(&got);
    nano_pixels_cleanup(&src);

    /* a third: 3x3 blocks of the checkerboard average to 4/9 or 5/9 */
    paint_pixels(&src, 768, 768, paint_checker);
    assert_int_equal(nano_pixels_cover(&src, 256, 256, &got), 0);
    assert_near(px_at(&got, 0, 0)[0], 113, 1, "4/9 white");
    assert_near(px_at(&got, 1, 0)[0], 142, 1, "5/9 white");
    nano_pixels_cleanup(&got);
    nano_pixels_cleanup(&src);
}

/* Growing 2 pixels to 256 blends between them (bilinear), no blocks. */
static void
cover_upscales_smoothly(void **state)
{
    nano_pixels_t  src, got;
    int            x, prev = -1, steps = 0;

    (void) state;
    paint_pixels(&src, 2, 2, paint_halves);
    assert_int_equal(nano_pixels_cover(&src, 256, 256, &got), 0);
    assert_near(px_at(&got, 0, 128)[0], 220, 1, "left edge red");
    assert_near(px_at(&got, 255, 128)[2], 220, 1, "right edge blue");
    for (x = 0; x < 256; x++) {
        int  r = px_at(&got, x, 128)[0];

        assert_true(prev < 0 || r <= prev);
        steps += prev >= 0 && r != prev;
        prev = r;
    }
    assert_true(steps > 50);
    nano_pixels_cleanup(&got);
    nano_pixels_cleanup(&src);
}

/* Transparent pixels lend no colour: white stays white, half covered. */
static void
cover_weights_by_alpha(void **state)
{
    nano_pixels_t  src, got;

    (void) state;
    paint_pixels(&src, 512, 512, paint_alpha_stripes);
    assert_int_equal(nano_pixels_cover(&src, 256, 256, &got), 0);
    assert_int_equal(px_at(&got, 100, 100)[0], 255);
    assert_int_equal(px_at(&got, 100, 100)[2], 255);
    assert_near(px_at(&got, 100, 100)[3], 128, 1, "alpha");
    nano_pixels_cleanup(&got);
    nano_pixels_cleanup(&src);
}

/* ---- the whole: any format in, a 256 x 256 PNG out --------------------- */

/* Reads a PNG back: its size and colour type from IHDR. */
static void
png_read_back(const unsigned char *png, size_t len, int *w, int *h, int *ctype)
{
    png_image  img;

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_memory(&img, png, len));
    *w = (int) img.width;
    *h = (int) img.height;
    *ctype = png[25];
    png_image_free(&img);
}

static void
square_png_every_format(void **state)
{
    nano_pixels_t  opaque, alpha;
    unsigned char *in, *out;
    size_t         in_len, out_len;
    jpeg_out_t     j;
    int            w, h, ctype;
    WHY;

    (void) state;
    paint_pixels(&opaque, 800, 600, paint_opaque);
    paint_pixels(&alpha, 300, 500, paint_gradient);

    make_png(&alpha, &in, &in_len);
    assert_int_equal(nano_image_square_png(in, in_len, 256,
                                           NANO_IMAGE_PIXELS_MAX, &out,
                                           &out_len, why, sizeof(why)),
                     NANO_SCALE_OK);
    png_read_back(out, out_len, &w, &h, &ctype);
    assert_int_equal(w, 256);
    assert_int_equal(h, 256);
    assert_int_equal(ctype, 6);         /* RGBA: it has transparency */
    free(in);
    free(out);

    make_jpeg(&opaque, 6, 0, 0, &j);
    assert_int_equal(nano_image_square_png(j.buf, j.len, 256,
                                           NANO_IMAGE_PIXELS_MAX, &out,
                                           &out_len, why, sizeof(why)),
                     NANO_SCALE_OK);
    png_read_back(out, out_len, &w, &h, &ctype);
    assert_int_equal(w, 256);
    assert_int_equal(h, 256);
    assert_int_equal(ctype, 2);         /* RGB: every pixel opaque */
    free(j.buf);
    free(out);

    make_webp(&opaque, 0, &in, &in_len);
    assert_int_equal(nano_image_square_png(in, in_len, 256,
                                           NANO_IMAGE_PIXELS_MAX, &out,
                                           &out_len, why, sizeof(why)),
                     NANO_SCALE_OK);
    png_read_back(out, out_len, &w, &h, &ctype);
    assert_int_equal(w, 256);
    assert_int_equal(ctype, 2);
    WebPFree(in);
    free(out);

    /* refusals pass through, with nothing made */
    assert_int_equal(nano_image_square_png((const unsigned char *) "nope", 4,
                                           256, NANO_IMAGE_PIXELS_MAX, &out,
                                           &out_len, why, sizeof(why)),
                     NANO_SCALE_NOT_IMAGE);
    assert_null(out);
    assert_int_equal(out_len, 0);
    nano_pixels_cleanup(&opaque);
    nano_pixels_cleanup(&alpha);
}

int
main(void)
{
    static const struct CMUnitTest  tests[] = {
        cmocka_unit_test(png_exact),
        cmocka_unit_test(jpeg_close),
        cmocka_unit_test(jpeg_cmyk),
        cmocka_unit_test(webp_lossless_exact),
        cmocka_unit_test(webp_lossy_close),
        cmocka_unit_test(not_images),
        cmocka_unit_test(corrupt_png),
        cmocka_unit_test(corrupt_jpeg),
        cmocka_unit_test(corrupt_webp),
        cmocka_unit_test(bomb_png),
        cmocka_unit_test(bomb_jpeg),
        cmocka_unit_test(bomb_webp),
        cmocka_unit_test(pixel_limit),
        cmocka_unit_test(jpeg_many_scans),
        cmocka_unit_test(jpeg_orientation),
        cmocka_unit_test(jpeg_dct_scaling),
        cmocka_unit_test(cover_sizes),
        cmocka_unit_test(cover_crops_the_centre),
        cmocka_unit_test(cover_averages_area),
        cmocka_unit_test(cover_upscales_smoothly),
        cmocka_unit_test(cover_weights_by_alpha),
        cmocka_unit_test(square_png_every_format),
    };

    return cmocka_run_group_tests_name("image_scale", tests, NULL, NULL);
}
