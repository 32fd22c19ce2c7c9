/*
 * Image sniffing (PNG, JPEG, WebP by their bytes) and base64 images.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nano_image.h"
#include "nano_log.h"

#define NANO_IMAGE_SNIFF_MAX  (64 * 1024)   /* bytes read for the size */
#define NANO_IMAGE_B64_CHUNK  65535         /* decoded bytes per write (3n) */
#define NANO_IMAGE_B64_STEP   (NANO_IMAGE_B64_CHUNK / 3 * 4)   /* characters */

static const unsigned char  nano_image_png_sig[8] = {
    0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'
};

static uint32_t
nano_image_be32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}

static unsigned
nano_image_be16(const unsigned char *p)
{
    return (unsigned) p[0] << 8 | p[1];
}

static unsigned
nano_image_le16(const unsigned char *p)
{
    return (unsigned) p[1] << 8 | p[0];
}

static uint32_t
nano_image_le24(const unsigned char *p)
{
    return (uint32_t) p[2] << 16 | (uint32_t) p[1] << 8 | p[0];
}

static void
nano_image_set(nano_image_info_t *info, const char *mime, const char *ext,
    uint32_t width, uint32_t height)
{
    info->mime = mime;
    info->ext = ext;
    info->width = (int) width;
    info->height = (int) height;
}

/* The signature, then IHDR as the first chunk: length 13, width and
 * height 1..2^31-1 (PNG's own limits). */
static int
nano_image_png(const unsigned char *p, size_t len, nano_image_info_t *info)
{
    uint32_t  w, h;

    if (len < 24 || memcmp(p, nano_image_png_sig, 8) != 0
        || nano_image_be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4) != 0)
    {
        return -1;
    }
    w = nano_image_be32(p + 16);
    h = nano_image_be32(p + 20);
    if (w == 0 || h == 0 || w > INT32_MAX || h > INT32_MAX) {
        return -1;
    }
    nano_image_set(info, "image/png", "png", w, h);
    return 0;
}

/* 1 for the start-of-frame markers that carry the image size: SOF0..15
 * but DHT (C4), JPG (C8) and DAC (CC). */
static int
nano_image_jpeg_sof(unsigned m)
{
    return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
}

/*
 * Walks JPEG markers in p[*at, len) up to an SOFn, whose segment holds
 * the size.  0: the walk ended (*w, *h set when a frame header came
 * before the scan or the end); 1: the next marker or frame header lies
 * beyond len (*at is where it starts, to go on from in the following
 * bytes); -1: a byte that is not a marker where one must stand, so it
 * is no JPEG.
 */
static int
nano_image_jpeg_walk(const unsigned char *p, size_t len, size_t *at,
    uint32_t *w, uint32_t *h)
{
    size_t    off = *at, start;
    unsigned  m, seg;

    while (off < len) {
        if (p[off] != 0xff) {
            return -1;
        }
        start = off;
        while (off < len && p[off] == 0xff) {     /* fill bytes */
            off++;
        }
        if (off >= len) {
            *at = off - 1;      /* one 0xff is enough to go on from */
            return 1;
        }
        m = p[off++];
        if (m != 0x01 && m < 0xc0) {
            return -1;          /* not a marker (reserved, or stuffing) */
        }
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {   /* no length */
            continue;
        }
        if (m == 0xd8 || m == 0xd9 || m == 0xda) {
            return 0;           /* no frame header before the data */
        }
        if (off + 2 > len) {
            *at = start;
            return 1;
        }
        seg = nano_image_be16(p + off);
        if (seg < 2) {
            return -1;
        }
        if (nano_image_jpeg_sof(m)) {
            if (seg < 7) {
                return 0;
            }
            if (off + 7 > len) {
                *at = start;
                return 1;
            }
            *h = nano_image_be16(p + off + 3);
            *w = nano_image_be16(p + off + 5);
            return 0;
        }
        off += seg;
    }
    *at = off;
    return 1;
}

/*
 * SOI, then markers up to an SOFn.  The size may lie beyond the bytes
 * given (large EXIF blocks): then it is 0, and nano_image_sniff_file
 * reads on.
 */
static int
nano_image_jpeg(const unsigned char *p, size_t len, nano_image_info_t *info)
{
    size_t    off = 2;
    uint32_t  w = 0, h = 0;

    if (len < 4 || p[0] != 0xff || p[1] != 0xd8 || p[2] != 0xff) {
        return -1;
    }
    if (nano_image_jpeg_walk(p, len, &off, &w, &h) < 0) {
        return -1;
    }
    nano_image_set(info, "image/jpeg", "jpg", w, h);
    return 0;
}

/* RIFF <size> WEBP, then the first chunk: VP8 (lossy key frame), VP8L
 * (lossless) or VP8X (extended: the canvas size). */
static int
nano_image_webp(const unsigned char *p, size_t len, nano_image_info_t *info)
{
    uint32_t  w, h, bits;

    if (len < 30 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WEBP", 4) != 0)
    {
        return -1;
    }
    if (memcmp(p + 12, "VP8 ", 4) == 0) {
        if (p[23] != 0x9d || p[24] != 0x01 || p[25] != 0x2a) {
            return -1;
        }
        w = nano_image_le16(p + 26) & 0x3fff;
        h = nano_image_le16(p + 28) & 0x3fff;
    } else if (memcmp(p + 12, "VP8L", 4) == 0) {
        if (p[20] != 0x2f) {
            return -1;
        }
        bits = (uint32_t) p[21] | (uint32_t) p[22] << 8
               | (uint32_t) p[23] << 16 | (uint32_t) p[24] << 24;
        w = (bits & 0x3fff) + 1;
        h = ((bits >> 14) & 0x3fff) + 1;
    } else if (memcmp(p + 12, "VP8X", 4) == 0) {
        w = nano_image_le24(p + 24) + 1;
        h = nano_image_le24(p + 27) + 1;
    } else {
        return -1;
    }
    if (w == 0 || h == 0) {
        return -1;
    }
    nano_image_set(info, "image/webp", "webp", w, h);
    return 0;
}

int
nano_image_sniff(const unsigned char *p, size_t len, nano_image_info_t *info)
{
    nano_image_info_t  found;
    int                rc = -1;

    if (p != NULL
        && (nano_image_png(p, len, &found) == 0
            || nano_image_jpeg(p, len, &found) == 0
            || nano_image_webp(p, len, &found) == 0))
    {
        *info = found;
        rc = 0;
    }
    return rc;
}

/* Where a JPEG's first scan starts (its SOS marker), or 0. */
static size_t
nano_image_jpeg_scan(const unsigned char *p, size_t len)
{
    size_t    off = 2;
    unsigned  m;

    while (off + 4 <= len && p[off] == 0xff) {
        m = p[off + 1];
        if (m == 0xff) {                        /* a fill byte */
            off++;
        } else if (m == 0xda) {
            return off;
        } else if (m == 0x01 || (m >= 0xd0 && m <= 0xd8)) {
            off += 2;                           /* no length */
        } else if (m == 0xd9) {
            return 0;
        } else {
            off += 2 + nano_image_be16(p + off + 2);
        }
    }
    return 0;
}

int
nano_image_whole(const unsigned char *p, size_t len,
    const nano_image_info_t *info)
{
    static const unsigned char  iend[8] = { 'I', 'E', 'N', 'D',
                                            0xae, 0x42, 0x60, 0x82 };
    static const unsigned char  eoi[2] = { 0xff, 0xd9 };
    size_t                      scan;

    if (p == NULL || info == NULL || info->ext == NULL) {
        return 0;
    }
    if (strcmp(info->ext, "webp") == 0) {
        /* RIFF's size counts what follows its first 8 bytes */
        return len >= 12
               && (uint64_t) (p[4] | p[5] << 8 | p[6] << 16
                              | (uint32_t) p[7] << 24) + 8 <= len;
    }
    /* anywhere, not last: data may follow the end (a phone's motion
     * photo appends a video to its JPEG) */
    if (strcmp(info->ext, "png") == 0) {
        return len > 16
               && (memcmp(p + len - 8, iend, sizeof(iend)) == 0
                   || memmem(p + 8, len - 8, iend, sizeof(iend)) != NULL);
    }
    /* after the first scan's start, as an EXIF thumbnail before it ends
     * with its own EOI; 0xff 0xd9 stands nowhere in a scan (0xff there
     * is followed by 0 or a restart marker) */
    scan = nano_image_jpeg_scan(p, len);
    return scan > 0
           && (memcmp(p + len - 2, eoi, sizeof(eoi)) == 0
               || memmem(p + scan, len - scan, eoi, sizeof(eoi)) != NULL);
}

/* Reads up to NANO_IMAGE_SNIFF_MAX bytes at off into buf; the count,
 * or -1. */
static ssize_t
nano_image_read_at(int fd, unsigned char *buf, off_t off)
{
    size_t   len = 0;
    ssize_t  n;

    while (len < NANO_IMAGE_SNIFF_MAX) {
        n = pread(fd, buf + len, NANO_IMAGE_SNIFF_MAX - len,
                  off + (off_t) len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        len += (size_t) n;
    }
    return (ssize_t) len;
}

/*
 * A JPEG's frame header may follow more than the first window of bytes
 * (two EXIF or ICC segments are enough): its markers are walked on
 * through the file, window by window, so that a size (a pixel bomb's)
 * is never missed for want of bytes.  Each step moves on by at least
 * one byte, and a file holds at most NANO_IMAGE_UPLOAD_MAX of them.
 */
static void
nano_image_jpeg_file(int fd, unsigned char *buf, size_t first,
    nano_image_info_t *info)
{
    off_t     base = 0;
    size_t    at = 2;
    ssize_t   len = (ssize_t) first;
    uint32_t  w = 0, h = 0;
    int       rc;

    for ( ;; ) {
        rc = nano_image_jpeg_walk(buf, (size_t) len, &at, &w, &h);
        if (rc != 1 || (size_t) len < NANO_IMAGE_SNIFF_MAX
            || (at == 0 && base > 0))
        {
            break;              /* the end, or no progress */
        }
        base += (off_t) at;
        at = 0;
        len = nano_image_read_at(fd, buf, base);
        if (len <= 0) {
            break;
        }
    }
    nano_image_set(info, "image/jpeg", "jpg", w, h);
}

int
nano_image_sniff_file(const char *path, nano_image_info_t *info)
{
    unsigned char  *buf = NULL;
    ssize_t         len;
    int             fd, rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        goto out;
    }
    buf = malloc(NANO_IMAGE_SNIFF_MAX);
    if (buf == NULL) {
        goto out;
    }
    len = nano_image_read_at(fd, buf, 0);
    if (len < 0) {
        goto out;
    }
    rc = nano_image_sniff(buf, (size_t) len, info);
    if (rc == 0 && info->width == 0 && strcmp(info->ext, "jpg") == 0
        && (size_t) len == NANO_IMAGE_SNIFF_MAX)
    {
        nano_image_jpeg_file(fd, buf, (size_t) len, info);
    }
out:
    free(buf);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

int
nano_image_whole_file(const char *path, const nano_image_info_t *info)
{
    struct stat   st;
    void         *map;
    int           fd, rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        goto out;
    }
    if (st.st_size == 0) {
        rc = 0;
        goto out;
    }
    map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
        rc = nano_image_whole(map, (size_t) st.st_size, info);
        munmap(map, (size_t) st.st_size);
    }
out:
    close(fd);
    return rc;
}

/* ---- base64 ------------------------------------------------------------ */

/* The value of a base64 character in either alphabet, -1 for others;
 * *url is set to 1 for '-' '_', 0 for '+' '/', left for the rest. */
static int
nano_image_b64_value(unsigned char c, int *url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        *url = c == '-';
        return 62;
    }
    if (c == '/' || c == '_') {
        *url = c == '_';
        return 63;
    }
    return -1;
}

/*
 * Strips a "data:...;base64," prefix, checks the characters (one
 * alphabet, padding only at the end and only to a multiple of 4, unused
 * bits zero) and sets the decoded length.  Returns 0 or -1.
 */
static int
nano_image_b64_check(const char **text, size_t *len, size_t *decoded)
{
    const unsigned char  *p;
    const char           *comma;
    size_t                n = *len, pad = 0, i;
    int                   url = -1, seen, v = 0;

    if (n >= 5 && strncasecmp(*text, "data:", 5) == 0) {
        comma = memchr(*text, ',', n);
        if (comma == NULL || comma - *text < 12
            || strncasecmp(comma - 7, ";base64", 7) != 0)
        {
            return -1;
        }
        n -= (size_t) (comma + 1 - *text);
        *text = comma + 1;
    }
    p = (const unsigned char *) *text;
    while (pad < 2 && pad < n && p[n - 1 - pad] == '=') {
        pad++;
    }
    if (n == 0 || (pad > 0 && n % 4 != 0) || (n - pad) % 4 == 1) {
        return -1;
    }
    for (i = 0; i < n - pad; i++) {
        seen = url;
        v = nano_image_b64_value(p[i], &url);
        if (v < 0 || (seen >= 0 && seen != url)) {
            return -1;
        }
    }
    /* the last character's bits beyond the data must be zero */
    if (((n - pad) % 4 == 2 && (v & 0x0f) != 0)
        || ((n - pad) % 4 == 3 && (v & 0x03) != 0))
    {
        return -1;
    }
    *len = n - pad;
    *decoded = (n - pad) / 4 * 3 + ((n - pad) % 4 ? (n - pad) % 4 - 1 : 0);
    return 0;
}

/* Decodes checked base64 characters [from, from + n) (n a multiple of
 * 4, or the tail) into out; returns the bytes written. */
static size_t
nano_image_b64_decode(const char *s, size_t n, unsigned char *out)
{
    size_t    i, o = 0, k;
    uint32_t  acc;
    int       url = 0;

    for (i = 0; i < n; i += 4) {
        acc = 0;
        for (k = 0; k < 4; k++) {
            acc <<= 6;
            if (i + k < n) {
                acc |= (uint32_t) nano_image_b64_value(
                           (unsigned char) s[i + k], &url);
            }
        }
        k = n - i >= 4 ? 3 : n - i - 1;
        out[o++] = (unsigned char) (acc >> 16);
        if (k > 1) {
            out[o++] = (unsigned char) (acc >> 8);
        }
        if (k > 2) {
            out[o++] = (unsigned char) acc;
        }
    }
    return o;
}

static int
nano_image_write_all(int fd, const unsigned char *p, size_t len)
{
    ssize_t  n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

#define NANO_IMAGE_B64_SPACE(c)                                           \
    ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

/*
 * base64 as `base64` and MIME write it comes in lines of 76 characters
 * (pasted into JSON, "\n" or "\r\n" between them): a copy of text
 * without its spaces, tabs and line breaks, or NULL with *copy NULL when
 * it has none.  -1 out of memory.
 */
static int
nano_image_b64_unwrap(const char *text, size_t len, char **copy,
    size_t *copy_len)
{
    size_t  i, n = 0;
    char   *out;

    *copy = NULL;
    for (i = 0; i < len && !NANO_IMAGE_B64_SPACE(text[i]); i++) {
        /* void */
    }
    if (i == len) {
        return 0;
    }
    out = malloc(len);
    if (out == NULL) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (!NANO_IMAGE_B64_SPACE(text[i])) {
            out[n++] = text[i];
        }
    }
    *copy = out;
    *copy_len = n;
    return 0;
}

int
nano_image_from_base64(const char *text, size_t len, size_t max,
    const char *path, nano_image_info_t *info)
{
    unsigned char  *buf = NULL;
    char           *unwrapped = NULL;
    size_t          decoded, done, step, n;
    int             fd = -1, made = 0, rc = -1;

    if (text != NULL && nano_image_b64_unwrap(text, len, &unwrapped, &n) != 0)
    {
        rc = -3;
        goto out;
    }
    if (unwrapped != NULL) {
        text = unwrapped;
        len = n;
    }
    if (text == NULL || nano_image_b64_check(&text, &len, &decoded) != 0) {
        goto out;
    }
    if (decoded > max) {
        rc = -2;
        goto out;
    }
    buf = malloc(NANO_IMAGE_B64_CHUNK);
    if (buf == NULL) {
        rc = -3;
        goto out;
    }
    /* the first chunk decides, before any file exists */
    step = len < NANO_IMAGE_B64_STEP ? len : NANO_IMAGE_B64_STEP;
    n = nano_image_b64_decode(text, step, buf);
    if (nano_image_sniff(buf, n, info) != 0) {
        goto out;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
              0640);
    made = fd >= 0;
    if (fd < 0 || fchmod(fd, 0640) != 0) {
        nano_log_error("cannot write %s: %s", path, strerror(errno));
        rc = -3;
        goto out;
    }
    for (done = 0; ; ) {
        if (nano_image_write_all(fd, buf, n) != 0) {
            nano_log_error("cannot write %s: %s", path, strerror(errno));
            rc = -3;
            goto out;
        }
        done += step;
        if (done == len) {
            break;
        }
        step = len - done < NANO_IMAGE_B64_STEP ? len - done
                                                : NANO_IMAGE_B64_STEP;
        n = nano_image_b64_decode(text + done, step, buf);
    }
    if (close(fd) != 0) {
        fd = -1;
        nano_log_error("cannot write %s: %s", path, strerror(errno));
        rc = -3;
        goto out;
    }
    fd = -1;
    /* the first chunk may end before a JPEG's frame header */
    if (info->width == 0 && nano_image_sniff_file(path, info) != 0) {
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0 && made) {
        unlink(path);
    }
    free(buf);
    free(unwrapped);
    return rc;
}
