/*
 * A small WebM (Matroska) writer for one VP8 video track: EBML header,
 * a Segment of known size with SeekHead, Info (TimecodeScale 1 ms,
 * Duration), Tracks, Clusters of SimpleBlocks (a new Cluster at every
 * keyframe, so each starts with one) and Cues (one per Cluster, so a
 * player can seek).  Frames are gathered in memory and the file is
 * written once at the end: the sizes are all known then.
 */

#ifndef NANO_WEBM_H
#define NANO_WEBM_H

#include <stddef.h>
#include <stdint.h>

#include "nano_buf.h"

typedef struct {
    int          width;
    int          height;
    int          fps;
    uint64_t     frames;
    nano_buf_t   clusters;    /* the closed Clusters, back to back */
    nano_buf_t   cluster;     /* the open Cluster's SimpleBlocks */
    uint64_t    *cue_ms;      /* per Cluster: its timecode … */
    uint64_t    *cue_at;      /* … and offset within clusters */
    size_t       ncues;
    size_t       cue_cap;
    uint64_t     cluster_ms;  /* the open Cluster's timecode */
    int          open;        /* a Cluster is open */
    int          failed;
} nano_webm_t;

/* Prepares w for width x height frames at fps frames a second (the
 * frame n has timecode n * 1000 / fps ms).  0, or -1 for bad values. */
int nano_webm_init(nano_webm_t *w, int width, int height, int fps);

/* Frees what w holds; accepts NULL, may run twice. */
void nano_webm_cleanup(nano_webm_t *w);

/*
 * Adds the next frame (a VP8 frame as libvpx emits it, copied).  The
 * first frame must be a keyframe.  0, or -1 (no memory, or the first
 * frame is not a keyframe: w is then failed).
 */
int nano_webm_add_frame(nano_webm_t *w, const void *data, size_t len,
    int keyframe);

/* The whole file in a new buffer (caller frees), or NULL when w failed
 * or has no frame.  w may take more frames afterwards. */
unsigned char *nano_webm_finish(nano_webm_t *w, size_t *len);

/* The duration of the frames so far, in ms. */
uint64_t nano_webm_duration_ms(const nano_webm_t *w);

/* Element ids, for readers (the tests). */
#define NANO_WEBM_EBML         0x1A45DFA3u
#define NANO_WEBM_DOCTYPE      0x4282u
#define NANO_WEBM_SEGMENT      0x18538067u
#define NANO_WEBM_SEEKHEAD     0x114D9B74u
#define NANO_WEBM_SEEK         0x4DBBu
#define NANO_WEBM_SEEKID       0x53ABu
#define NANO_WEBM_SEEKPOS      0x53ACu
#define NANO_WEBM_INFO         0x1549A966u
#define NANO_WEBM_TIMESCALE    0x2AD7B1u
#define NANO_WEBM_DURATION     0x4489u
#define NANO_WEBM_TRACKS       0x1654AE6Bu
#define NANO_WEBM_TRACKENTRY   0xAEu
#define NANO_WEBM_CODECID      0x86u
#define NANO_WEBM_VIDEO        0xE0u
#define NANO_WEBM_PIXELWIDTH   0xB0u
#define NANO_WEBM_PIXELHEIGHT  0xBAu
#define NANO_WEBM_CLUSTER      0x1F43B675u
#define NANO_WEBM_TIMECODE     0xE7u
#define NANO_WEBM_SIMPLEBLOCK  0xA3u
#define NANO_WEBM_CUES         0x1C53BB6Bu
#define NANO_WEBM_CUEPOINT     0xBBu
#define NANO_WEBM_CUETIME      0xB3u
#define NANO_WEBM_CUEPOSITIONS 0xB7u
#define NANO_WEBM_CUETRACK     0xF7u
#define NANO_WEBM_CUECLUSTER   0xF1u

#endif /* NANO_WEBM_H */
