/*
 * Unit tests for image sniffing and base64 images (nano_image): each
 * format's size, truncated and fake headers, base64 in both alphabets,
 * with and without padding, as a data: URL, and every refusal with its
 * return code and what it leaves on disk.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_table.h"
#include "unit_tmpdir.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nano_image.h"

/* ---- fixtures ---------------------------------------------------------- */

#define PNG_SIG   "\x89PNG\r\n\x1a\n"
#define IHDR(w, h)  "\x00\x00\x00\x0dIHDR" w h "\x08\x06\x00\x00\x00" \
                    "\x00\x00\x00\x00"
#define BE32(a, b, c, d)  a b c d

/* 640 x 480 */
#define PNG_640  PNG_SIG IHDR(BE32("\x00", "\x00", "\x02", "\x80"), \
                              BE32("\x00", "\x00", "\x01", "\xe0"))

#define SOI      "\xff\xd8"
#define APP0     "\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00" \
                 "\x00"
#define DHT      "\xff\xc4\x00\x05\x00\x00\x00"
/* SOFn, 8 bits, height 300, width 400, 1 component */
#define SOF(n)   "\xff" n "\x00\x0b\x08\x01\x2c\x01\x90\x01\x01\x11\x00"
#define SOS      "\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"

#define RIFF     "RIFF\x24\x00\x00\x00WEBP"
/* VP8 key frame 320 x 240 (scale bits in the top two bits of each) */
#define VP8      RIFF "VP8 \x18\x00\x00\x00\x30\x01\x00\x9d\x01\x2a" \
                 "\x40\x41\xf0\x00" "\x00\x00"
/* VP8L 100 x 50: 14 bits width - 1 (99), 14 bits height - 1 (49) */
#define VP8L     RIFF "VP8L\x0a\x00\x00\x00\x2f\x63\x40\x0c\x00" \
                 "\x00\x00\x00\x00\x00"
/* VP8X canvas 1024 x 768 */
#define VP8X     RIFF "VP8X\x0a\x00\x00\x00\x10\x00\x00\x00" \
                 "\xff\x03\x00\xff\x02\x00"

typedef struct {
    const char  *name;
    const char  *bytes;
    size_t       len;
    const char  *mime;      /* NULL: refused */
    int          width;
    int          height;
} sniff_case_t;

#define B(s)  s, sizeof(s) - 1

static const sniff_case_t  sniff_cases[] = {
    /* PNG */
    { "png", B(PNG_640 "\x00\x00\x00\x00IDAT"), "image/png", 640, 480 },
    { "png, exactly the header", B(PNG_640), "image/png", 640, 480 },
    { "png truncated in IHDR", PNG_640, 20, NULL, 0, 0 },
    { "png signature only", B(PNG_SIG), NULL, 0, 0 },
    { "png signature, then no IHDR",
      B(PNG_SIG "\x00\x00\x00\x0dIDAT\x00\x00\x02\x80\x00\x00\x01\xe0"),
      NULL, 0, 0 },
    { "png IHDR of a wrong length",
      B(PNG_SIG "\x00\x00\x00\x0cIHDR\x00\x00\x02\x80\x00\x00\x01\xe0"),
      NULL, 0, 0 },
    { "png zero width", B(PNG_SIG IHDR(BE32("\x00", "\x00", "\x00", "\x00"),
                                       BE32("\x00", "\x00", "\x01", "\x00"))),
      NULL, 0, 0 },
    { "png width over 2^31-1",
      B(PNG_SIG IHDR(BE32("\x80", "\x00", "\x00", "\x00"),
                     BE32("\x00", "\x00", "\x01", "\x00"))), NULL, 0, 0 },
    { "png signature damaged", B("\x89PNG\r\n\x1a\r" "\x00\x00\x00\x0dIHDR"
                                 "\x00\x00\x02\x80\x00\x00\x01\xe0"),
      NULL, 0, 0 },
    /* JPEG */
    { "jpeg baseline", B(SOI APP0 SOF("\xc0") SOS), "image/jpeg", 400, 300 },
    { "jpeg progressive", B(SOI APP0 SOF("\xc2") SOS), "image/jpeg", 400,
      300 },
    { "jpeg DHT is not a frame", B(SOI DHT SOF("\xc1")), "image/jpeg", 400,
      300 },
    { "jpeg fill bytes", B(SOI "\xff\xff" APP0 "\xff" SOF("\xc0")),
      "image/jpeg", 400, 300 },
    { "jpeg size beyond the bytes", B(SOI APP0), "image/jpeg", 0, 0 },
    { "jpeg cut inside the frame header", B(SOI APP0 "\xff\xc0\x00\x0b\x08"),
      "image/jpeg", 0, 0 },
    { "jpeg cut inside a segment length", B(SOI APP0 "\xff\xdb\x00"),
      "image/jpeg", 0, 0 },
    { "jpeg scan before any frame", B(SOI APP0 SOS SOF("\xc0")),
      "image/jpeg", 0, 0 },
    { "jpeg garbage where a marker must be", B(SOI APP0 "\x12\x34"), NULL, 0,
      0 },
    { "jpeg segment length below 2", B(SOI "\xff\xe1\x00\x01"), NULL, 0, 0 },
    { "jpeg SOI alone", B(SOI), NULL, 0, 0 },
    { "jpeg SOI then not a marker", B(SOI "\xff\x00\x00\x00"), NULL, 0, 0 },
    { "jpeg SOI then text", B(SOI "hello"), NULL, 0, 0 },
    /* WebP */
    { "webp lossy", B(VP8), "image/webp", 320, 240 },
    { "webp lossless", B(VP8L), "image/webp", 100, 50 },
    { "webp extended", B(VP8X), "image/webp", 1024, 768 },
    { "webp lossy, bad start code",
      B(RIFF "VP8 \x18\x00\x00\x00\x30\x01\x00\x9d\x01\x2b\x40\x01\xf0\x00"
        "\x00\x00"), NULL, 0, 0 },
    { "webp lossless, bad signature",
      B(RIFF "VP8L\x0a\x00\x00\x00\x2e\x63\x40\x0c\x00\x00\x00\x00\x00\x00"),
      NULL, 0, 0 },
    { "webp unknown chunk", B(RIFF "VP9 \x0a\x00\x00\x00\x2f\x63\x40\x0c\x00"
                              "\x00\x00\x00\x00\x00"), NULL, 0, 0 },
    { "riff but wave", B("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01"
                         "\x00\x02\x00\x44\xac\x00\x00\x10\xb1"), NULL, 0, 0 },
    { "webp truncated", VP8, 20, NULL, 0, 0 },
    /* others */
    { "gif", B("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
               "\x21\xf9\x04\x01\x00\x00\x00\x00"), NULL, 0, 0 },
    { "text", B("hello, this is not an image at all, really"), NULL, 0, 0 },
    { "svg", B("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\"/>"),
      NULL, 0, 0 },
    { "empty", "", 0, NULL, 0, 0 },
};

static void
sniff_row(void **state)
{
    const sniff_case_t  *c = *state;
    nano_image_info_t    info = { "untouched", "x", -1, -1 };
    unsigned char       *copy;
    int                  rc;

    /* an allocation of exactly len bytes: ASan sees any read past it */
    copy = malloc(c->len ? c->len : 1);
    assert_non_null(copy);
    memcpy(copy, c->bytes, c->len);
    rc = nano_image_sniff(copy, c->len, &info);
    free(copy);
    if (c->mime == NULL) {
        assert_int_equal(rc, -1);
        assert_string_equal(info.mime, "untouched");
        return;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(info.mime, c->mime);
    assert_int_equal(info.width, c->width);
    assert_int_equal(info.height, c->height);
    assert_string_equal(info.ext, strcmp(c->mime, "image/png") == 0 ? "png"
                                  : strcmp(c->mime, "image/jpeg") == 0
                                  ? "jpg" : "webp");
}

/* ---- files and base64 -------------------------------------------------- */

static char  dir[64];

static int
make_dir(void **state)
{
    (void) state;
    return unit_tmpdir(dir, sizeof(dir), "image");
}

static int
remove_dir(void **state)
{
    (void) state;
    return unit_tmpdir_remove(dir);
}

static const char *
path_in_dir(const char *name)
{
    static char  path[128];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

/* Reads a whole file (caller frees); *len its size; NULL when absent. */
static unsigned char *
slurp(const char *path, size_t *len)
{
    unsigned char  *buf;
    struct stat     st;
    FILE           *f = fopen(path, "rb");

    if (f == NULL) {
        return NULL;
    }
    assert_int_equal(fstat(fileno(f), &st), 0);
    buf = malloc((size_t) st.st_size + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, (size_t) st.st_size, f);
    fclose(f);
    return buf;
}

static char *
b64(const unsigned char *p, size_t len, int url, int pad)
{
    const char  *abc = url
        ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char        *out = malloc(len / 3 * 4 + 8), *o = out;
    size_t       i;
    uint32_t     v;

    assert_non_null(out);
    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = abc[(v >> 6) & 63];
        *o++ = abc[v & 63];
    }
    if (len - i == 1) {
        v = (uint32_t) p[i] << 16;
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        if (pad) {
            *o++ = '=';
            *o++ = '=';
        }
    } else if (len - i == 2) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8;
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = abc[(v >> 6) & 63];
        if (pad) {
            *o++ = '=';
        }
    }
    *o = '\0';
    return out;
}

/* A PNG header and then bytes that encode to '+' and '/' (or '-' '_'),
 * 32 bytes: base64 needs one pad. */
static const unsigned char  png_plus[] =
    PNG_640 "\xfb\xff\xbf\xfb\xff\xbf\xfb\xff";

static void
expect_file(const char *path, const unsigned char *p, size_t len)
{
    unsigned char  *got;
    size_t          glen = 0;
    struct stat     st;

    got = slurp(path, &glen);
    assert_non_null(got);
    assert_int_equal(glen, len);
    assert_memory_equal(got, p, len);
    free(got);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
}

static void
b64_variants(void **state)
{
    static const struct { int url, pad; const char *prefix; } v[] = {
        { 0, 1, "" }, { 0, 0, "" }, { 1, 1, "" }, { 1, 0, "" },
        { 0, 1, "data:image/jpeg;base64," },     /* the type is ignored */
        { 1, 0, "DATA:image/png;BASE64," },
        { 0, 1, "data:;base64," },
    };
    nano_image_info_t  info;
    const char        *path = path_in_dir("v.png");
    char              *enc, *text;
    size_t             i, len = sizeof(png_plus) - 1;

    (void) state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        enc = b64(png_plus, len, v[i].url, v[i].pad);
        assert_non_null(strpbrk(enc, v[i].url ? "-_" : "+/"));
        text = malloc(strlen(v[i].prefix) + strlen(enc) + 1);
        assert_non_null(text);
        strcpy(text, v[i].prefix);
        strcat(text, enc);
        unlink(path);
        assert_int_equal(nano_image_from_base64(text, strlen(text),
                                                NANO_IMAGE_B64_MAX, path,
                                                &info), 0);
        assert_string_equal(info.mime, "image/png");
        assert_int_equal(info.width, 640);
        assert_int_equal(info.height, 480);
        expect_file(path, png_plus, len);
        free(text);
        free(enc);
    }
}

typedef struct {
    const char  *name;
    const char  *text;
    int          rc;
} b64_refusal_t;

/* V is a valid base64 PNG header (33 bytes, no padding needed); each
 * refusal spoils it in one way. */
#define V  "iVBORw0KGgoAAAANSUhEUgAAAoAAAAHgCAYAAAAAAAAA"

static const b64_refusal_t  b64_refusals[] = {
    { "empty", "", -1 },
    { "only line breaks and spaces", " \r\n\t\n ", -1 },
    { "a form feed inside", "iVBORw0K\fGgoAAAANSUhEUgAAAoAAAAHgCAYAAAAAAAAA",
      -1 },
    { "both alphabets", V "+_8A", -1 },
    { "padding inside", "iVBO=w0KGgoAAAANSUhEUgAAAoAAAAHgCAYAAAAAAAAA", -1 },
    { "three pads", V "A===", -1 },
    { "pad to a length not a multiple of 4", V "AA=", -1 },
    { "one character too many", V "A", -1 },
    { "stray bits in the last character", V "AB", -1 },
    { "a character outside both alphabets",
      "iVBORw0KGgoAAAANSUhEUgAAAoAAAAHgCAYAAAAAAAA*", -1 },
    { "data: URL that is not base64", "data:image/png," V, -1 },
    { "data: URL without a comma", "data:image/png;base64", -1 },
    { "data: URL, nothing after the comma", "data:image/png;base64,", -1 },
    { "base64 of text", "aGVsbG8sIHRoaXMgaXMgbm90IGFuIGltYWdlIGF0IGFsbA==",
      -1 },
    { "base64 of a GIF",
      "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==", -1 },
};

/* The unspoilt ones are accepted, and so are spaces and line breaks
 * anywhere (`base64` and MIME wrap at 76 columns): until 2026-12-06 they
 * were refused as "not base64". */
static void
b64_valid_bases(void **state)
{
    static const char *const  ok[] = {
        V, V "AA", V "AA==", V "+/8A", V "-_8A", "data:x;base64," V,
        "iVBORw0K GgoAAAANSUhEUgAAAoAAAAHgCAYAAAAAAAAA",
        "iVBORw0KGgo\nAAAANSUhEUgAAAoAAAAHgCAYAAAAAAAAA",
        "iVBORw0KGgo\r\nAAAANSUhEUgAAAoAAAAHgCAYAAAAAAAAA\r\n",
        V "\n", " " V, "\t" V "A\nA=\n=", "data:x;base64,\n" V,
    };
    nano_image_info_t         info;
    size_t                    i;

    (void) state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(nano_image_from_base64(ok[i], strlen(ok[i]),
                                                NANO_IMAGE_B64_MAX,
                                                path_in_dir("ok.png"),
                                                &info), 0);
    }
}

static void
b64_refusal_row(void **state)
{
    const b64_refusal_t  *c = *state;
    nano_image_info_t     info;
    const char           *path = path_in_dir("refused.png");
    struct stat           st;

    unlink(path);
    assert_int_equal(nano_image_from_base64(c->text, strlen(c->text),
                                            NANO_IMAGE_B64_MAX, path, &info),
                     c->rc);
    assert_int_equal(stat(path, &st), -1);     /* no file left */
}

static void
b64_sizes(void **state)
{
    nano_image_info_t  info;
    const char        *path = path_in_dir("size.png");
    char              *enc;
    size_t             len = sizeof(png_plus) - 1;
    struct stat        st;

    (void) state;
    enc = b64(png_plus, len, 0, 1);
    unlink(path);
    assert_int_equal(nano_image_from_base64(enc, strlen(enc), len - 1, path,
                                            &info), -2);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(nano_image_from_base64(enc, strlen(enc), len, path,
                                            &info), 0);
    expect_file(path, png_plus, len);
    /* only len bytes of text count: the rest is not read */
    assert_int_equal(nano_image_from_base64(enc, 12, len, path, &info), -1);
    assert_int_equal(nano_image_from_base64(NULL, 0, len, path, &info), -1);
    free(enc);
}

static void
b64_unwritable(void **state)
{
    nano_image_info_t  info;
    char              *enc;
    size_t             len = sizeof(png_plus) - 1;

    (void) state;
    enc = b64(png_plus, len, 0, 1);
    assert_int_equal(nano_image_from_base64(enc, strlen(enc), len,
                                            path_in_dir("no/such/dir.png"),
                                            &info), -3);
    assert_int_equal(nano_image_from_base64(enc, strlen(enc), len, dir,
                                            &info), -3);
    free(enc);
}

/* Several decoding chunks (64 KiB each), every byte value. */
static void
b64_large(void **state)
{
    nano_image_info_t  info;
    const char        *path = path_in_dir("large.png");
    unsigned char     *img;
    char              *enc, *wrapped;
    size_t             len = 300001, i, n, w;

    (void) state;
    img = malloc(len);
    assert_non_null(img);
    memcpy(img, PNG_640, sizeof(PNG_640) - 1);
    for (i = sizeof(PNG_640) - 1; i < len; i++) {
        img[i] = (unsigned char) (i * 7 + (i >> 8));
    }
    enc = b64(img, len, 1, 0);
    assert_int_equal(nano_image_from_base64(enc, strlen(enc), len, path,
                                            &info), 0);
    expect_file(path, img, len);
    /* as MIME wraps it: lines of 76 and CR LF, across the chunks */
    n = strlen(enc);
    wrapped = malloc(n + n / 76 * 2 + 1);
    assert_non_null(wrapped);
    for (i = 0, w = 0; i < n; i++) {
        if (i > 0 && i % 76 == 0) {
            wrapped[w++] = '\r';
            wrapped[w++] = '\n';
        }
        wrapped[w++] = enc[i];
    }
    unlink(path);
    assert_int_equal(nano_image_from_base64(wrapped, w, len, path, &info), 0);
    expect_file(path, img, len);
    free(wrapped);
    /* a file that existed is replaced (here by a shorter one: the
     * 2-character tail and 8 whole groups left out) */
    assert_int_equal(nano_image_from_base64(enc, strlen(enc) - 2 - 8 * 4,
                                            len, path, &info), 0);
    expect_file(path, img, len - 1 - 8 * 3);
    free(enc);
    free(img);
}

static void
sniff_files(void **state)
{
    nano_image_info_t  info;
    const char        *path = path_in_dir("sniff.jpg");
    FILE              *f;
    static const char  jpeg[] = SOI APP0 SOF("\xc0") SOS;

    (void) state;
    f = fopen(path, "wb");
    assert_non_null(f);
    /* a PNG named .jpg is a PNG */
    assert_int_equal(fwrite(PNG_640, 1, sizeof(PNG_640) - 1, f),
                     sizeof(PNG_640) - 1);
    fclose(f);
    assert_int_equal(nano_image_sniff_file(path, &info), 0);
    assert_string_equal(info.mime, "image/png");

    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(jpeg, 1, sizeof(jpeg) - 1, f), sizeof(jpeg) - 1);
    fclose(f);
    assert_int_equal(nano_image_sniff_file(path, &info), 0);
    assert_string_equal(info.mime, "image/jpeg");
    assert_int_equal(info.width, 400);

    f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(nano_image_sniff_file(path, &info), -1);
    assert_int_equal(nano_image_sniff_file(path_in_dir("absent"), &info), -1);
}

/* A JPEG whose frame header follows EXIF-sized segments: at offset
 * where of a file of len bytes (segments of 65535, then one of the
 * length that puts the frame header there), 60000 x 50000. */
static unsigned char *
jpeg_far(size_t where, size_t len)
{
    unsigned char  *p = calloc(1, len);
    size_t          off = 2, seg;
    static const unsigned char  sof[] = "\xff\xc0\x00\x0b\x08\xc3\x50"
                                        "\xea\x60\x01\x01\x11\x00";

    assert_non_null(p);
    p[0] = 0xff;
    p[1] = 0xd8;
    while (off < where) {
        seg = where - off - 2 > 65535 ? 65535 : where - off - 2;
        if (where - off - 2 - seg > 0 && where - off - 2 - seg < 4) {
            seg -= 8;           /* room for one more segment */
        }
        assert_true(seg >= 2);
        p[off] = 0xff;
        p[off + 1] = 0xe1;
        p[off + 2] = (unsigned char) (seg >> 8);
        p[off + 3] = (unsigned char) seg;
        off += 2 + seg;
    }
    assert_int_equal(off, where);
    memcpy(p + where, sof, sizeof(sof) - 1);
    memcpy(p + where + sizeof(sof) - 1, SOS, sizeof(SOS) - 1);
    return p;
}

static void
write_file(const char *path, const unsigned char *p, size_t len)
{
    FILE  *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* The size of a pixel bomb whose frame header lies past the first 64
 * KiB, in a file and from base64: until 2026-12-06 it read as 0 x 0,
 * which passed the 25-megapixel check (found by a probe). */
static void
sniff_jpeg_far(void **state)
{
    static const size_t  at[] = {
        65536 - 6,          /* the frame header cut by the window */
        65536 - 1,          /* its marker's 0xff the window's last byte */
        65536 + 100, 3 * 65536 + 7, 9 * 1024 * 1024
    };
    nano_image_info_t    info;
    const char          *path = path_in_dir("far.jpg");
    unsigned char       *img;
    char                *enc;
    size_t               i, len;

    (void) state;
    for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        len = at[i] + 64;
        img = jpeg_far(at[i], len);
        write_file(path, img, len);
        memset(&info, 0, sizeof(info));
        assert_int_equal(nano_image_sniff_file(path, &info), 0);
        assert_string_equal(info.mime, "image/jpeg");
        assert_int_equal(info.width, 60000);
        assert_int_equal(info.height, 50000);
        if (len <= 4 * 1024 * 1024) {
            enc = b64(img, len, 0, 1);
            memset(&info, 0, sizeof(info));
            assert_int_equal(nano_image_from_base64(enc, strlen(enc), len,
                                                    path, &info), 0);
            assert_int_equal(info.width, 60000);
            assert_int_equal(info.height, 50000);
            free(enc);
        }
        free(img);
    }
    /* fill bytes across the window, then the frame header */
    len = 3 * 65536;
    img = jpeg_far(65536 + 10, len);
    memmove(img + 65536 + 10 + 40000, img + 65536 + 10, 30);
    memset(img + 65536 + 10, 0xff, 40000);
    write_file(path, img, len);
    assert_int_equal(nano_image_sniff_file(path, &info), 0);
    assert_int_equal(info.width, 60000);
    free(img);
    /* no frame header at all, or segments running past the end: no size */
    len = 2 * 65536;
    img = jpeg_far(len - 64, len);
    memcpy(img + len - 64, "\xff\xd9", 2);
    write_file(path, img, len);
    assert_int_equal(nano_image_sniff_file(path, &info), 0);
    assert_int_equal(info.width, 0);
    write_file(path, img, len - 70);
    assert_int_equal(nano_image_sniff_file(path, &info), 0);
    assert_int_equal(info.width, 0);
    free(img);
}

/* An image's end (nano_image_whole): each format whole, with a little
 * padding after its end marker, and cut short.  A download whose
 * connection closed early was stored as a success (found by the images
 * probe). */
#define IEND  "\x00\x00\x00\x00IEND\xae\x42\x60\x82"
#define EOI   "\xff\xd9"

typedef struct {
    const char  *name;
    const char  *bytes;
    size_t       len;
    int          whole;
} whole_case_t;

static const whole_case_t  whole_cases[] = {
    { "png whole", B(PNG_640 "\x00\x00\x00\x00IDAT\x01\x02\x03\x04" IEND),
      1 },
    { "png, padding after IEND", B(PNG_640 IEND "\x00\x00\x00\x00"), 1 },
    { "png, data after IEND", B(PNG_640 IEND "\x89PNG more than padding, as"
                                 " long as a file after it may be"), 1 },
    { "png cut in IEND", PNG_640 IEND, sizeof(PNG_640 IEND) - 2, 0 },
    { "png without IEND", B(PNG_640 "\x00\x00\x00\x00IDAT\x01\x02"), 0 },
    { "jpeg whole", B(SOI APP0 SOF("\xc0") SOS "\x12\xff\x00\x34" EOI), 1 },
    { "jpeg, padding after EOI", B(SOI APP0 SOF("\xc0") SOS "\x12" EOI
                                   "\x00\x00"), 1 },
    { "jpeg cut in its scan", B(SOI APP0 SOF("\xc0") SOS "\x12\xff\x00\x34"),
      0 },
    { "jpeg cut in EOI", B(SOI APP0 SOF("\xc0") SOS "\x12\xff"), 0 },
    { "jpeg, a video after EOI", B(SOI APP0 SOF("\xc0") SOS "\x12" EOI
                                   "\x00\x00\x00\x18" "ftypmp42 a motion"
                                   " photo's video"), 1 },
    /* an EXIF thumbnail's own EOI comes before the main scan */
    { "jpeg with a thumbnail, cut in its scan",
      B(SOI "\xff\xe1\x00\x0a" "Exif" SOI EOI SOF("\xc0") SOS "\x12\x34"),
      0 },
    { "jpeg with a thumbnail, whole",
      B(SOI "\xff\xe1\x00\x0a" "Exif" SOI EOI SOF("\xc0") SOS "\x12\x34"
        EOI), 1 },
    { "jpeg with no scan", B(SOI APP0 SOF("\xc0") EOI), 0 },
    /* RIFF's 0x24: 36 bytes after its first 8 (VP8 is 32 in all) */
    { "webp whole", B(VP8 "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
      1 },
    { "webp cut", B(VP8), 0 },
};

static void
whole_row(void **state)
{
    const whole_case_t  *c = *state;
    nano_image_info_t    info;

    memset(&info, 0, sizeof(info));
    assert_int_equal(nano_image_sniff((const unsigned char *) c->bytes,
                                      c->len, &info), 0);
    assert_int_equal(nano_image_whole((const unsigned char *) c->bytes,
                                      c->len, &info), c->whole);
    /* no type, no end to find */
    info.ext = NULL;
    assert_int_equal(nano_image_whole((const unsigned char *) c->bytes,
                                      c->len, &info), 0);
}

/* The same judged on a file (an upload, a decoded base64 image): the
 * whole table's images written out, an empty file, none at all. */
static void
whole_files(void **state)
{
    const char         *path = path_in_dir("whole.img");
    nano_image_info_t   info;
    size_t              i;

    (void) state;
    for (i = 0; i < sizeof(whole_cases) / sizeof(whole_cases[0]); i++) {
        write_file(path, (const unsigned char *) whole_cases[i].bytes,
                   whole_cases[i].len);
        assert_int_equal(nano_image_sniff_file(path, &info), 0);
        assert_int_equal(nano_image_whole_file(path, &info),
                         whole_cases[i].whole);
    }
    write_file(path, (const unsigned char *) "", 0);
    assert_int_equal(nano_image_whole_file(path, &info), 0);
    assert_int_equal(nano_image_whole_file(path_in_dir("absent"), &info), -1);
}

int
main(void)
{
    static const struct CMUnitTest  files[] = {
        cmocka_unit_test(b64_variants),
        cmocka_unit_test(b64_valid_bases),
        cmocka_unit_test(b64_sizes),
        cmocka_unit_test(b64_unwritable),
        cmocka_unit_test(b64_large),
        cmocka_unit_test(sniff_files),
        cmocka_unit_test(sniff_jpeg_far),
        cmocka_unit_test(whole_files),
    };
    int  rc = 0;

    rc |= unit_run_table("image_sniff", sniff_cases,
                         sizeof(sniff_cases) / sizeof(sniff_cases[0]),
                         sizeof(sniff_cases[0]), sniff_row, NULL, 0);
    rc |= unit_run_table("image_whole", whole_cases,
                         sizeof(whole_cases) / sizeof(whole_cases[0]),
                         sizeof(whole_cases[0]), whole_row, NULL, 0);
    if (make_dir(NULL) != 0) {
        return 1;
    }
    rc |= unit_run_table("image_base64", b64_refusals,
                         sizeof(b64_refusals) / sizeof(b64_refusals[0]),
                         sizeof(b64_refusals[0]), b64_refusal_row, files,
                         sizeof(files) / sizeof(files[0]));
    remove_dir(NULL);
    return rc;
}
