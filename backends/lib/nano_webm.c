/*
 * WebM writing: EBML elements into memory buffers, assembled at the end.
 */

#include <stdlib.h>
#include <string.h>

#include "nano_webm.h"

/* Bytes of the track's fixed values. */
#define NANO_WEBM_TRACK    1
#define NANO_WEBM_MS_NS    1000000

static void
nano_webm_put(nano_buf_t *b, const void *p, size_t n)
{
    nano_buf_append(b, p, n);
}

/* An element id: its bytes as written (the marker bits are in the id). */
static void
nano_webm_id(nano_buf_t *b, uint32_t id)
{
    unsigned char  v[4];
    int            n = id > 0xFFFFFF ? 4 : id > 0xFFFF ? 3 : id > 0xFF ? 2 : 1;
    int            i;

    for (i = 0; i < n; i++) {
        v[i] = (unsigned char) (id >> (8 * (n - 1 - i)));
    }
    nano_webm_put(b, v, (size_t) n);
}

/* A size as an EBML variable-length integer: the fewest bytes, or
 * exactly width bytes when width > 0. */
static void
nano_webm_size(nano_buf_t *b, uint64_t size, int width)
{
    unsigned char  v[8];
    int            n, i;

    n = width;
    if (n == 0) {
        for (n = 1; n < 8 && size >= (1ULL << (7 * n)) - 1; n++) {
            /* find the length */
        }
    }
    for (i = 0; i < n; i++) {
        v[i] = (unsigned char) (size >> (8 * (n - 1 - i)));
    }
    v[0] |= (unsigned char) (0x80 >> (n - 1));
    nano_webm_put(b, v, (size_t) n);
}

/* An unsigned integer element in the fewest bytes (width > 0: exactly). */
static void
nano_webm_uint(nano_buf_t *b, uint32_t id, uint64_t value, int width)
{
    unsigned char  v[8];
    int            n = width, i;

    if (n == 0) {
        for (n = 1; n < 8 && (value >> (8 * n)) != 0; n++) {
            /* find the length */
        }
    }
    for (i = 0; i < n; i++) {
        v[i] = (unsigned char) (value >> (8 * (n - 1 - i)));
    }
    nano_webm_id(b, id);
    nano_webm_size(b, (uint64_t) n, 0);
    nano_webm_put(b, v, (size_t) n);
}

static void
nano_webm_float(nano_buf_t *b, uint32_t id, double value)
{
    unsigned char  v[8];
    uint64_t       bits;
    int            i;

    memcpy(&bits, &value, sizeof(bits));
    for (i = 0; i < 8; i++) {
        v[i] = (unsigned char) (bits >> (8 * (7 - i)));
    }
    nano_webm_id(b, id);
    nano_webm_size(b, 8, 0);
    nano_webm_put(b, v, 8);
}

static void
nano_webm_bytes(nano_buf_t *b, uint32_t id, const void *p, size_t n)
{
    nano_webm_id(b, id);
    nano_webm_size(b, n, 0);
    nano_webm_put(b, p, n);
}

static void
nano_webm_string(nano_buf_t *b, uint32_t id, const char *s)
{
    nano_webm_bytes(b, id, s, strlen(s));
}

/* Appends a master element holding the bytes of inner. */
static void
nano_webm_master(nano_buf_t *b, uint32_t id, const nano_buf_t *inner)
{
    nano_webm_bytes(b, id, inner->data ? inner->data : "", inner->len);
}

int
nano_webm_init(nano_webm_t *w, int width, int height, int fps)
{
    memset(w, 0, sizeof(*w));
    nano_buf_init(&w->clusters);
    nano_buf_init(&w->cluster);
    if (width < 1 || height < 1 || width > 16383 || height > 16383
        || fps < 1 || fps > 1000)
    {
        w->failed = 1;
        return -1;
    }
    w->width = width;
    w->height = height;
    w->fps = fps;
    return 0;
}

void
nano_webm_cleanup(nano_webm_t *w)
{
    if (w == NULL) {
        return;
    }
    nano_buf_cleanup(&w->clusters);
    nano_buf_cleanup(&w->cluster);
    free(w->cue_ms);
    free(w->cue_at);
    w->cue_ms = w->cue_at = NULL;
    w->ncues = w->cue_cap = 0;
    w->open = 0;
    w->frames = 0;
}

static uint64_t
nano_webm_frame_ms(const nano_webm_t *w, uint64_t n)
{
    return (n * 1000 + (uint64_t) w->fps / 2) / (uint64_t) w->fps;
}

uint64_t
nano_webm_duration_ms(const nano_webm_t *w)
{
    return nano_webm_frame_ms(w, w->frames);
}

/* Closes the open Cluster into w->clusters and notes its cue. */
static void
nano_webm_close_cluster(nano_webm_t *w)
{
    nano_buf_t   c;
    uint64_t    *ms, *at;
    size_t       cap;

    if (!w->open) {
        return;
    }
    if (w->ncues == w->cue_cap) {
        cap = w->cue_cap ? w->cue_cap * 2 : 16;
        ms = realloc(w->cue_ms, cap * sizeof(*ms));
        if (ms != NULL) {
            w->cue_ms = ms;
        }
        at = realloc(w->cue_at, cap * sizeof(*at));
        if (at != NULL) {
            w->cue_at = at;
        }
        if (ms == NULL || at == NULL) {
            w->failed = 1;
            return;
        }
        w->cue_cap = cap;
    }
    w->cue_ms[w->ncues] = w->cluster_ms;
    w->cue_at[w->ncues] = w->clusters.len;
    w->ncues++;

    nano_buf_init(&c);
    nano_webm_uint(&c, NANO_WEBM_TIMECODE, w->cluster_ms, 0);
    nano_webm_put(&c, w->cluster.data ? w->cluster.data : "", w->cluster.len);
    nano_webm_master(&w->clusters, NANO_WEBM_CLUSTER, &c);
    if (c.failed) {
        w->failed = 1;
    }
    nano_buf_cleanup(&c);
    w->cluster.len = 0;
    w->open = 0;
}

/* The Cues element: one CuePoint per Cluster, positions relative to the
 * Segment's data (base: where the clusters start). */
static void
nano_webm_cues(const nano_webm_t *w, nano_buf_t *out, uint64_t base)
{
    nano_buf_t  all, cue, pos;
    size_t      i;

    nano_buf_init(&all);
    for (i = 0; i < w->ncues; i++) {
        nano_buf_init(&cue);
        nano_buf_init(&pos);
        nano_webm_uint(&pos, NANO_WEBM_CUETRACK, NANO_WEBM_TRACK, 0);
        nano_webm_uint(&pos, NANO_WEBM_CUECLUSTER, base + w->cue_at[i], 0);
        nano_webm_uint(&cue, NANO_WEBM_CUETIME, w->cue_ms[i], 0);
        nano_webm_master(&cue, NANO_WEBM_CUEPOSITIONS, &pos);
        nano_webm_master(&all, NANO_WEBM_CUEPOINT, &cue);
        if (cue.failed || pos.failed) {
            all.failed = 1;
        }
        nano_buf_cleanup(&cue);
        nano_buf_cleanup(&pos);
    }
    nano_webm_master(out, NANO_WEBM_CUES, &all);
    if (all.failed) {
        out->failed = 1;
    }
    nano_buf_cleanup(&all);
}

int
nano_webm_add_frame(nano_webm_t *w, const void *data, size_t len,
    int keyframe)
{
    unsigned char  head[4];
    uint64_t       ms;
    int64_t        rel;

    if (w->failed || (w->frames == 0 && !keyframe) || data == NULL) {
        w->failed = 1;
        return -1;
    }
    ms = nano_webm_frame_ms(w, w->frames);
    rel = (int64_t) (ms - w->cluster_ms);
    if (keyframe || !w->open || rel > 30000) {
        nano_webm_close_cluster(w);
        w->open = 1;
        w->cluster_ms = ms;
        rel = 0;
    }
    head[0] = 0x80 | NANO_WEBM_TRACK;         /* track number as a vint */
    head[1] = (unsigned char) ((uint16_t) rel >> 8);
    head[2] = (unsigned char) rel;
    head[3] = keyframe ? 0x80 : 0x00;
    nano_webm_id(&w->cluster, NANO_WEBM_SIMPLEBLOCK);
    nano_webm_size(&w->cluster, len + 4, 0);
    nano_webm_put(&w->cluster, head, 4);
    nano_webm_put(&w->cluster, data, len);
    if (w->cluster.failed) {
        w->failed = 1;
        return -1;
    }
    w->frames++;
    return 0;
}

/* The SeekHead naming where Info, Tracks and Cues start. */
static void
nano_webm_seekhead(nano_buf_t *out, uint64_t info, uint64_t tracks,
    uint64_t cues)
{
    static const uint32_t  ids[3] = {
        NANO_WEBM_INFO, NANO_WEBM_TRACKS, NANO_WEBM_CUES
    };
    uint64_t               pos[3];
    nano_buf_t             head, seek, idb;
    int                    i;

    pos[0] = info;
    pos[1] = tracks;
    pos[2] = cues;
    nano_buf_init(&head);
    for (i = 0; i < 3; i++) {
        nano_buf_init(&seek);
        nano_buf_init(&idb);
        nano_webm_id(&idb, ids[i]);
        nano_webm_bytes(&seek, NANO_WEBM_SEEKID, idb.data, idb.len);
        nano_webm_uint(&seek, NANO_WEBM_SEEKPOS, pos[i], 8);
        nano_webm_master(&head, NANO_WEBM_SEEK, &seek);
        if (seek.failed || idb.failed) {
            head.failed = 1;
        }
        nano_buf_cleanup(&seek);
        nano_buf_cleanup(&idb);
    }
    nano_webm_master(out, NANO_WEBM_SEEKHEAD, &head);
    if (head.failed) {
        out->failed = 1;
    }
    nano_buf_cleanup(&head);
}

unsigned char *
nano_webm_finish(nano_webm_t *w, size_t *len)
{
    nano_buf_t      file, ebml, info, tracks, entry, video, seek;
    uint64_t        seglen;
    unsigned char  *out = NULL;

    *len = 0;
    if (w->failed || w->frames == 0) {
        return NULL;
    }
    nano_webm_close_cluster(w);
    nano_buf_init(&file);
    nano_buf_init(&ebml);
    nano_buf_init(&info);
    nano_buf_init(&tracks);
    nano_buf_init(&entry);
    nano_buf_init(&video);
    nano_buf_init(&seek);

    nano_webm_uint(&ebml, 0x4286, 1, 0);          /* EBMLVersion */
    nano_webm_uint(&ebml, 0x42F7, 1, 0);          /* EBMLReadVersion */
    nano_webm_uint(&ebml, 0x42F2, 4, 0);          /* EBMLMaxIDLength */
    nano_webm_uint(&ebml, 0x42F3, 8, 0);          /* EBMLMaxSizeLength */
    nano_webm_string(&ebml, NANO_WEBM_DOCTYPE, "webm");
    nano_webm_uint(&ebml, 0x4287, 4, 0);          /* DocTypeVersion */
    nano_webm_uint(&ebml, 0x4285, 2, 0);          /* DocTypeReadVersion */

    nano_webm_uint(&info, NANO_WEBM_TIMESCALE, NANO_WEBM_MS_NS, 0);
    nano_webm_float(&info, NANO_WEBM_DURATION,
                    (double) nano_webm_duration_ms(w));
    nano_webm_string(&info, 0x4D80, "nano_webm");   /* MuxingApp */
    nano_webm_string(&info, 0x5741, "nano-offline"); /* WritingApp */

    nano_webm_uint(&video, NANO_WEBM_PIXELWIDTH, (uint64_t) w->width, 0);
    nano_webm_uint(&video, NANO_WEBM_PIXELHEIGHT, (uint64_t) w->height, 0);
    nano_webm_uint(&entry, 0xD7, NANO_WEBM_TRACK, 0);   /* TrackNumber */
    nano_webm_uint(&entry, 0x73C5, 1, 0);               /* TrackUID */
    nano_webm_uint(&entry, 0x83, 1, 0);                 /* TrackType video */
    nano_webm_uint(&entry, 0x9C, 0, 0);                 /* FlagLacing */
    nano_webm_string(&entry, 0x22B59C, "und");          /* Language */
    nano_webm_string(&entry, NANO_WEBM_CODECID, "V_VP8");
    nano_webm_uint(&entry, 0x23E383,                    /* DefaultDuration */
                   1000000000ULL / (uint64_t) w->fps, 0);
    nano_webm_master(&entry, NANO_WEBM_VIDEO, &video);
    nano_webm_master(&tracks, NANO_WEBM_TRACKENTRY, &entry);

    /* the SeekHead's size does not depend on its (8-byte) values */
    nano_webm_seekhead(&seek, 0, 0, 0);
    {
        nano_buf_t  i2, t2, c2;
        uint64_t    at_info, at_tracks, at_clusters, at_cues;

        nano_buf_init(&i2);
        nano_buf_init(&t2);
        nano_buf_init(&c2);
        nano_webm_master(&i2, NANO_WEBM_INFO, &info);
        nano_webm_master(&t2, NANO_WEBM_TRACKS, &tracks);
        at_info = seek.len;
        at_tracks = at_info + i2.len;
        at_clusters = at_tracks + t2.len;
        at_cues = at_clusters + w->clusters.len;
        nano_webm_cues(w, &c2, at_clusters);
        seek.len = 0;
        nano_webm_seekhead(&seek, at_info, at_tracks, at_cues);

        seglen = seek.len + i2.len + t2.len + w->clusters.len + c2.len;
        nano_webm_master(&file, NANO_WEBM_EBML, &ebml);
        nano_webm_id(&file, NANO_WEBM_SEGMENT);
        nano_webm_size(&file, seglen, 8);
        nano_webm_put(&file, seek.data, seek.len);
        nano_webm_put(&file, i2.data, i2.len);
        nano_webm_put(&file, t2.data, t2.len);
        nano_webm_put(&file, w->clusters.data, w->clusters.len);
        nano_webm_put(&file, c2.data, c2.len);
        if (i2.failed || t2.failed || c2.failed) {
            file.failed = 1;
        }
        nano_buf_cleanup(&i2);
        nano_buf_cleanup(&t2);
        nano_buf_cleanup(&c2);
    }
    if (!(ebml.failed || info.failed || tracks.failed || entry.failed
          || video.failed || seek.failed || file.failed || w->failed))
    {
        *len = file.len;
        out = (unsigned char *) nano_buf_steal(&file);
    }
    nano_buf_cleanup(&file);
    nano_buf_cleanup(&ebml);
    nano_buf_cleanup(&info);
    nano_buf_cleanup(&tracks);
    nano_buf_cleanup(&entry);
    nano_buf_cleanup(&video);
    nano_buf_cleanup(&seek);
    if (out == NULL) {
        *len = 0;
    }
    return out;
}
