/*
 * libFuzzer harness for the WebM writer (nano_webm) against the two
 * readers of what it writes: nano_video's sniff and whole-file check
 * (which judge the videos a module stores) and an EBML reader here, as
 * strict as the one in tests/unit/test_offline.c but bounded by the
 * bytes it is given.
 *
 * Input: one byte for the size and rate (bits 0-2 the width, 3-5 the
 * height, 6-7 the frame rate), then frames: each is one byte (bit 7: a
 * keyframe, bits 0-6 the length, 0 to 127) and that many bytes, the
 * last one cut where the input ends.  The file written must:
 *   - be refused (no file) exactly when the first frame is no keyframe;
 *   - sniff as video/webm of that size, and be whole;
 *   - hold an EBML header and one Segment of known size that ends with
 *     the file, whose children fill it exactly; Clusters that hold the
 *     frames in order, unchanged, with their keyframe flags and rising
 *     times, the first a keyframe; as many Cues as Clusters;
 *   - not be whole once cut short anywhere.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_video.h"
#include "nano_webm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const unsigned char  *p;
    size_t                len;
} fuzz_span_t;

/* An element's header at p (n bytes): its id with the marker, its data
 * size, the header's length.  0, or -1 when it does not fit. */
static int
fuzz_ebml_head(const unsigned char *p, size_t n, uint32_t *id,
    uint64_t *size, size_t *used)
{
    size_t  a, b, i;

    if (n == 0 || p[0] == 0) {
        return -1;
    }
    for (a = 1; a <= 4 && !(p[0] & (0x80 >> (a - 1))); a++) {
        /* count */
    }
    if (a > 4 || a >= n || p[a] == 0) {
        return -1;
    }
    for (*id = 0, i = 0; i < a; i++) {
        *id = *id << 8 | p[i];
    }
    for (b = 1; b <= 8 && !(p[a] & (0x80 >> (b - 1))); b++) {
        /* count */
    }
    if (a + b > n) {
        return -1;
    }
    *size = p[a] & (0xff >> b);
    for (i = 1; i < b; i++) {
        *size = *size << 8 | p[a + i];
    }
    if (*size > n - a - b) {
        return -1;
    }
    *used = a + b;
    return 0;
}

/* The children of s, one by one: 1 with the next one, 0 at the end
 * (which must be exactly the end of s). */
static int
fuzz_ebml_next(fuzz_span_t s, size_t *off, uint32_t *id, fuzz_span_t *out)
{
    uint64_t  size;
    size_t    used;

    if (*off == s.len) {
        return 0;
    }
    if (fuzz_ebml_head(s.p + *off, s.len - *off, id, &size, &used) != 0) {
        fprintf(stderr, "a bad element at %zu\n", *off);
        abort();
    }
    out->p = s.p + *off + used;
    out->len = (size_t) size;
    *off += used + (size_t) size;
    return 1;
}

static uint64_t
fuzz_uint(fuzz_span_t s)
{
    uint64_t  v = 0;
    size_t    i;

    for (i = 0; i < s.len; i++) {
        v = v << 8 | s.p[i];
    }
    return v;
}

/* Checks the file against the frames (frames[i], lens[i], keys[i]). */
static void
fuzz_read(const unsigned char *file, size_t len,
    const unsigned char *const *frames, const size_t *lens, const int *keys,
    size_t nframes)
{
    fuzz_span_t  whole = { file, len }, el, seg, cl, v;
    size_t       off = 0, soff, coff, k = 0, clusters = 0, cues = 0;
    uint32_t     id, cid;
    uint64_t     ctime = 0;
    long         ms, last = -1;
    int          seen_seg = 0;

    while (fuzz_ebml_next(whole, &off, &id, &el)) {
        if (id != NANO_WEBM_SEGMENT) {
            continue;
        }
        if (seen_seg || off != len) {
            abort();                /* one Segment, to the end */
        }
        seen_seg = 1;
        seg = el;
        for (soff = 0; fuzz_ebml_next(seg, &soff, &id, &el); ) {
            if (id == NANO_WEBM_CUES) {
                for (coff = 0; fuzz_ebml_next(el, &coff, &cid, &v); ) {
                    cues += cid == NANO_WEBM_CUEPOINT;
                }
                continue;
            }
            if (id != NANO_WEBM_CLUSTER) {
                continue;
            }
            clusters++;
            cl = el;
            for (coff = 0; fuzz_ebml_next(cl, &coff, &cid, &v); ) {
                if (cid == NANO_WEBM_TIMECODE) {
                    ctime = fuzz_uint(v);
                    continue;
                }
                if (cid != NANO_WEBM_SIMPLEBLOCK) {
                    continue;
                }
                /* track 1, a 16-bit time, flags, then the frame */
                if (v.len < 4 || v.p[0] != 0x81 || k == nframes
                    || v.len - 4 != lens[k]
                    || memcmp(v.p + 4, frames[k], lens[k]) != 0
                    || ((v.p[3] & 0x80) != 0) != (keys[k] != 0)
                    || (k == 0 && !keys[k]))
                {
                    fprintf(stderr, "frame %zu differs\n", k);
                    abort();
                }
                ms = (long) ctime + (int16_t) (v.p[1] << 8 | v.p[2]);
                if (ms < last) {
                    abort();
                }
                last = ms;
                k++;
            }
        }
    }
    if (!seen_seg || k != nframes || clusters == 0 || cues != clusters) {
        fprintf(stderr, "%zu frames of %zu, %zu clusters, %zu cues\n", k,
                nframes, clusters, cues);
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int      sides[8] = { 2, 16, 64, 100, 320, 640, 1280,
                                       4096 };
    static const int      rates[4] = { 1, 8, 24, 30 };
    const unsigned char  *frames[1024];
    size_t                lens[1024], nframes = 0, at = 1, n, len = 0, cut;
    int                   keys[1024], width, height, rc, refused = 0;
    unsigned char        *copy, *file;
    nano_webm_t           w;
    nano_video_info_t     info;

    if (size < 1) {
        return 0;
    }
    copy = malloc(size);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    width = sides[copy[0] & 7];
    height = sides[copy[0] >> 3 & 7];
    if (nano_webm_init(&w, width, height, rates[copy[0] >> 6]) != 0) {
        abort();
    }
    while (at < size && nframes < 1024) {
        n = copy[at] & 0x7f;
        keys[nframes] = copy[at] >> 7;
        at++;
        if (n > size - at) {
            n = size - at;
        }
        frames[nframes] = copy + at;
        lens[nframes] = n;
        rc = nano_webm_add_frame(&w, copy + at, n, keys[nframes]);
        /* refused from a first frame that is no keyframe on */
        if ((rc != 0) != !keys[0]) {
            abort();
        }
        refused |= rc != 0;
        nframes++;
        at += n;
    }

    file = nano_webm_finish(&w, &len);
    if (file == NULL) {
        if (nframes > 0 && !refused) {
            abort();
        }
        goto out;
    }
    if (nframes == 0 || refused) {
        abort();
    }
    if (nano_video_sniff(file, len, &info) != 0
        || strcmp(info.ext, "webm") != 0 || info.width != width
        || info.height != height || nano_video_whole(file, len, &info) != 1)
    {
        fprintf(stderr, "sniffed %dx%d of %dx%d\n", info.width, info.height,
                width, height);
        abort();
    }
    fuzz_read(file, len, frames, lens, keys, nframes);
    /* cut short anywhere: not whole */
    for (cut = 1; cut < len; cut += 1 + cut / 4) {
        if (nano_video_whole(file, len - cut, &info) != 0) {
            fprintf(stderr, "whole with %zu of %zu bytes\n", len - cut, len);
            abort();
        }
    }
    free(file);
out:
    nano_webm_cleanup(&w);
    free(copy);
    return 0;
}
