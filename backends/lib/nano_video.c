/*
 * Only the few elements on the path to a track's frame size are read:
 * WebM Segment > Tracks > TrackEntry > Video > PixelWidth/PixelHeight,
 * MP4 moov > trak > tkhd.  Every length is checked against what is left
 * of the buffer, since the bytes come from outside.
 */

#include <stdint.h>
#include <string.h>

#include "nano_video.h"

#define NANO_EBML_MAGIC        0x1A45DFA3u
#define NANO_EBML_SEGMENT      0x18538067u
#define NANO_EBML_TRACKS       0x1654AE6Bu
#define NANO_EBML_TRACK_ENTRY  0xAEu
#define NANO_EBML_VIDEO        0xE0u
#define NANO_EBML_PIXEL_WIDTH  0xB0u
#define NANO_EBML_PIXEL_HEIGHT 0xBAu

#define NANO_VIDEO_DIM_MAX     65535

/*
 * An EBML variable-length integer: the count of leading zero bits of the
 * first byte says how many bytes follow.  keep_marker is set for element
 * ids, which are compared with their marker bit.  *unknown is set for a
 * size of all ones (a live stream's "until the end").
 */
static int
nano_ebml_vint(const unsigned char *p, size_t len, size_t *used,
    uint64_t *value, int keep_marker, int *unknown)
{
    unsigned  n, i;
    uint64_t  v, ones;

    if (len == 0 || p[0] == 0) {
        return -1;
    }
    for (n = 1; (p[0] & (0x80 >> (n - 1))) == 0; n++) {
        /* n stops at 8: p[0] is not zero */
    }
    if (n > 8 || n > len) {
        return -1;
    }
    v = keep_marker ? p[0] : (p[0] & (0xFF >> n));
    ones = 0xFF >> n;
    for (i = 1; i < n; i++) {
        v = (v << 8) | p[i];
        ones = (ones << 8) | 0xFF;
    }
    if (unknown != NULL) {
        *unknown = !keep_marker && v == ones;
    }
    *used = n;
    *value = v;
    return 0;
}

/* An element's header: its id (with the marker bit), its size (*unknown
 * for "until the end") and the header's length in *used; -1 when the
 * header does not fit in len. */
static int
nano_ebml_head(const unsigned char *p, size_t len, uint64_t *id,
    uint64_t *size, int *unknown, size_t *used)
{
    size_t  a, b;

    if (nano_ebml_vint(p, len, &a, id, 1, NULL) != 0
        || nano_ebml_vint(p + a, len - a, &b, size, 0, unknown) != 0)
    {
        return -1;
    }
    *used = a + b;
    return 0;
}

static uint64_t
nano_be(const unsigned char *p, size_t n)
{
    uint64_t  v = 0;

    while (n-- > 0) {
        v = (v << 8) | *p++;
    }
    return v;
}

/* Walks one level of elements; descends into the masters on the path. */
static void
nano_webm_walk(const unsigned char *p, size_t len, nano_video_info_t *info,
    int depth)
{
    uint64_t  id, size;
    size_t    head;
    int       unknown;

    while (len > 0 && depth < 8) {
        if (nano_ebml_head(p, len, &id, &size, &unknown, &head) != 0) {
            return;
        }
        p += head;
        len -= head;
        if (unknown || size > len) {
            size = len;
        }
        switch (id) {
        case NANO_EBML_SEGMENT:
        case NANO_EBML_TRACKS:
        case NANO_EBML_TRACK_ENTRY:
        case NANO_EBML_VIDEO:
            nano_webm_walk(p, (size_t) size, info, depth + 1);
            if (info->width > 0 && info->height > 0) {
                return;
            }
            break;
        case NANO_EBML_PIXEL_WIDTH:
        case NANO_EBML_PIXEL_HEIGHT:
            if (size >= 1 && size <= 8
                && nano_be(p, (size_t) size) <= NANO_VIDEO_DIM_MAX)
            {
                if (id == NANO_EBML_PIXEL_WIDTH) {
                    info->width = (int) nano_be(p, (size_t) size);
                } else {
                    info->height = (int) nano_be(p, (size_t) size);
                }
            }
            break;
        }
        p += size;
        len -= (size_t) size;
    }
}

/* tkhd: the width and height are 16.16 fixed point, its last 8 bytes. */
static void
nano_mp4_tkhd(const unsigned char *p, size_t len, nano_video_info_t *info)
{
    size_t    at;
    uint64_t  w, h;

    if (len < 4) {
        return;
    }
    at = p[0] == 1 ? 4 + 32 + 52 : 4 + 20 + 52;
    if (len < at + 8) {
        return;
    }
    w = nano_be(p + at, 4) >> 16;
    h = nano_be(p + at + 4, 4) >> 16;
    if (w > 0 && h > 0 && w <= NANO_VIDEO_DIM_MAX && h <= NANO_VIDEO_DIM_MAX) {
        info->width = (int) w;
        info->height = (int) h;
    }
}

/* An MP4 box's header: its whole size (a 64-bit one after size 1, the
 * rest of the buffer for size 0) and the header's length; -1 when it
 * does not fit in len. */
static int
nano_mp4_box(const unsigned char *p, size_t len, uint64_t *size,
    size_t *head)
{
    if (len < 8) {
        return -1;
    }
    *size = nano_be(p, 4);
    *head = 8;
    if (*size == 1) {
        if (len < 16) {
            return -1;
        }
        *size = nano_be(p + 8, 8);
        *head = 16;
    } else if (*size == 0) {
        *size = len;
    }
    return *size < *head || *size > len ? -1 : 0;
}

static void
nano_mp4_walk(const unsigned char *p, size_t len, nano_video_info_t *info,
    int depth)
{
    uint64_t  size;
    size_t    head;

    while (len >= 8 && depth < 8 && info->width == 0) {
        if (nano_mp4_box(p, len, &size, &head) != 0) {
            return;
        }
        if (memcmp(p + 4, "moov", 4) == 0 || memcmp(p + 4, "trak", 4) == 0) {
            nano_mp4_walk(p + head, (size_t) size - head, info, depth + 1);
        } else if (memcmp(p + 4, "tkhd", 4) == 0) {
            nano_mp4_tkhd(p + head, (size_t) size - head, info);
        }
        p += size;
        len -= (size_t) size;
    }
}

int
nano_video_sniff(const unsigned char *p, size_t len, nano_video_info_t *info)
{
    memset(info, 0, sizeof(*info));
    if (len >= 4 && nano_be(p, 4) == NANO_EBML_MAGIC) {
        info->mime = "video/webm";
        info->ext = "webm";
        nano_webm_walk(p, len, info, 0);
    } else if (len >= 12 && memcmp(p + 4, "ftyp", 4) == 0) {
        info->mime = "video/mp4";
        info->ext = "mp4";
        nano_mp4_walk(p, len, info, 0);
    } else {
        return -1;
    }
    if (info->width == 0 || info->height == 0) {
        info->width = info->height = 0;
    }
    return 0;
}

/* WebM: the Segment, when its size is known, ends within the file; its
 * children (clusters) walked either way, each known size within what is
 * left.  A live-written file's clusters of unknown size cannot tell. */
static int
nano_webm_whole(const unsigned char *p, size_t len)
{
    uint64_t  id, size;
    size_t    head, in;
    int       unknown, segment = 0;

    while (len > 0) {
        if (nano_ebml_head(p, len, &id, &size, &unknown, &head) != 0) {
            return 0;
        }
        p += head;
        len -= head;
        if (id == NANO_EBML_SEGMENT) {
            segment = 1;
            in = unknown ? len : (size_t) size;
            if (!unknown && size > len) {
                return 0;
            }
            /* the segment's own children: a cut one runs past the end */
            while (in > 0) {
                if (nano_ebml_head(p, in, &id, &size, &unknown, &head) != 0) {
                    return 0;
                }
                if (unknown) {
                    return 1;
                }
                if (size > in - head) {
                    return 0;
                }
                p += head + size;
                in -= head + (size_t) size;
                len -= head + (size_t) size;
            }
            continue;
        }
        if (unknown || size > len) {
            return 0;
        }
        p += size;
        len -= (size_t) size;
    }
    return segment;
}

/* MP4: top-level boxes that end exactly at the file's end, a moov and
 * an mdat among them. */
static int
nano_mp4_whole(const unsigned char *p, size_t len)
{
    uint64_t  size;
    size_t    head;
    int       moov = 0, mdat = 0;

    while (len > 0) {
        if (nano_mp4_box(p, len, &size, &head) != 0) {
            return 0;
        }
        moov |= memcmp(p + 4, "moov", 4) == 0;
        mdat |= memcmp(p + 4, "mdat", 4) == 0;
        p += size;
        len -= (size_t) size;
    }
    return moov && mdat;
}

int
nano_video_whole(const unsigned char *p, size_t len,
    const nano_video_info_t *info)
{
    if (info->mime != NULL && strcmp(info->mime, "video/webm") == 0) {
        return nano_webm_whole(p, len);
    }
    return nano_mp4_whole(p, len);
}
