/*
 * The offline video provider: a short WebM that Chromium plays in a
 * <video> element — VP8 frames from Debian's libvpx in the nano_webm
 * container — showing the offline painter's scene in motion, derived
 * from prompt, model and seed (the same inputs give the same bytes).
 */

#ifndef NANO_OFFLINE_VIDEO_H
#define NANO_OFFLINE_VIDEO_H

#include <stddef.h>

#define NANO_OFFLINE_VIDEO_FPS          24
/* a size asked is scaled to fit these, aspect kept: the encode is CPU */
#define NANO_OFFLINE_VIDEO_MAX_WIDTH    640
#define NANO_OFFLINE_VIDEO_MAX_HEIGHT   640
#define NANO_OFFLINE_VIDEO_MAX_SECONDS  10

typedef struct {
    const char  *prompt;       /* may be NULL */
    const char  *model;        /* may be NULL */
    long long    seed;         /* < 0: none */
    int          width;        /* requested; 0: 640 x 360 */
    int          height;
    int          seconds;      /* 1 … 10; 0: 3 */
    int          kbps;         /* target bitrate; 0: 600 */
} nano_offline_video_request_t;

typedef struct {
    int       width;           /* what was written: the request scaled */
    int       height;          /* down to fit 640 x 640, even */
    int       fps;
    unsigned  frames;
    unsigned  keyframes;
    long      duration_ms;
    size_t    bytes;
} nano_offline_video_info_t;

/*
 * Encodes and writes the WebM to path (created or truncated, 0640;
 * removed on failure).  Returns 0 with info (may be NULL) filled; -1 for
 * bad sizes or seconds, or when the encoder or the write failed.  A 3 s
 * 640 x 360 clip takes well under a second of CPU.
 */
int nano_offline_video_webm(const nano_offline_video_request_t *r,
    const char *path, nano_offline_video_info_t *info);

/* The same into a new buffer (caller frees); NULL on failure. */
unsigned char *nano_offline_video_webm_mem(
    const nano_offline_video_request_t *r, size_t *len,
    nano_offline_video_info_t *info);

#endif /* NANO_OFFLINE_VIDEO_H */
