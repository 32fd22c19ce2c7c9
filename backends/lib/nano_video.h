/*
 * Videos a provider sends back: which container it is (WebM or MP4),
 * judged by its bytes, and the frame size its header declares, so that
 * a generation's output can say its width and height.
 */

#ifndef NANO_VIDEO_H
#define NANO_VIDEO_H

#include <stddef.h>

typedef struct {
    const char  *mime;      /* "video/webm", "video/mp4" */
    const char  *ext;       /* "webm", "mp4" */
    int          width;     /* 0 when no track declares one */
    int          height;
} nano_video_info_t;

/*
 * Sniffs a whole file held in memory.  Returns 0 with info filled (the
 * size may be 0 x 0), or -1 when it is neither WebM nor MP4.
 */
int nano_video_sniff(const unsigned char *p, size_t len,
    nano_video_info_t *info);

/*
 * 1 when a sniffed video holds all its container says it holds (WebM:
 * the Segment and each of its children within the bytes; MP4: its
 * top-level boxes end at the end, a moov and an mdat among them); 0 when
 * it was cut short.  A download whose connection closed early with no
 * length to tell ends as if whole.
 */
int nano_video_whole(const unsigned char *p, size_t len,
    const nano_video_info_t *info);

#endif /* NANO_VIDEO_H */
