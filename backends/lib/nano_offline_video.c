/*
 * Offline video: the painter's scene, frame by frame, encoded with
 * libvpx's VP8 and muxed into WebM by nano_webm.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#include "nano_offline.h"
#include "nano_offline_video.h"
#include "nano_webm.h"

/* RGB (packed) to the I420 planes of img (BT.601, limited range). */
static void
nano_offline_rgb_to_i420(const unsigned char *rgb, int w, int h,
    vpx_image_t *img)
{
    unsigned char        *yp, *up, *vp;
    const unsigned char  *p;
    int                   x, y, r, g, b, i, j;

    for (y = 0; y < h; y++) {
        yp = img->planes[VPX_PLANE_Y] + (size_t) y * img->stride[VPX_PLANE_Y];
        for (x = 0; x < w; x++) {
            p = rgb + ((size_t) y * w + x) * 3;
            yp[x] = (unsigned char) (((66 * p[0] + 129 * p[1] + 25 * p[2]
                                       + 128) >> 8) + 16);
        }
    }
    for (y = 0; y < h / 2; y++) {
        up = img->planes[VPX_PLANE_U] + (size_t) y * img->stride[VPX_PLANE_U];
        vp = img->planes[VPX_PLANE_V] + (size_t) y * img->stride[VPX_PLANE_V];
        for (x = 0; x < w / 2; x++) {
            r = g = b = 0;
            for (j = 0; j < 2; j++) {
                for (i = 0; i < 2; i++) {
                    p = rgb + ((size_t) (2 * y + j) * w + 2 * x + i) * 3;
                    r += p[0];
                    g += p[1];
                    b += p[2];
                }
            }
            r /= 4;
            g /= 4;
            b /= 4;
            up[x] = (unsigned char) (((-38 * r - 74 * g + 112 * b + 128) >> 8)
                                     + 128);
            vp[x] = (unsigned char) (((112 * r - 94 * g - 18 * b + 128) >> 8)
                                     + 128);
        }
    }
}

/* Hands every compressed frame the encoder has to the muxer. */
static int
nano_offline_drain(vpx_codec_ctx_t *codec, nano_webm_t *webm,
    unsigned *keyframes)
{
    vpx_codec_iter_t          iter = NULL;
    const vpx_codec_cx_pkt_t *pkt;
    int                       key;

    while ((pkt = vpx_codec_get_cx_data(codec, &iter)) != NULL) {
        if (pkt->kind != VPX_CODEC_CX_FRAME_PKT) {
            continue;
        }
        key = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
        if (nano_webm_add_frame(webm, pkt->data.frame.buf,
                                pkt->data.frame.sz, key) != 0)
        {
            return -1;
        }
        *keyframes += (unsigned) key;
    }
    return 0;
}

/* The size actually encoded: the request scaled to fit, even. */
static int
nano_offline_video_size(const nano_offline_video_request_t *r, int *w,
    int *h)
{
    double  k;

    *w = r->width ? r->width : 640;
    *h = r->height ? r->height : 360;
    if (*w < 16 || *h < 16 || *w > 8192 || *h > 8192) {
        return -1;
    }
    k = 1;
    if (*w > NANO_OFFLINE_VIDEO_MAX_WIDTH) {
        k = (double) NANO_OFFLINE_VIDEO_MAX_WIDTH / *w;
    }
    if (*h * k > NANO_OFFLINE_VIDEO_MAX_HEIGHT) {
        k = (double) NANO_OFFLINE_VIDEO_MAX_HEIGHT / *h;
    }
    *w = (int) (*w * k) & ~1;
    *h = (int) (*h * k) & ~1;
    return *w >= 16 && *h >= 16 ? 0 : -1;
}

unsigned char *
nano_offline_video_webm_mem(const nano_offline_video_request_t *r,
    size_t *len, nano_offline_video_info_t *info)
{
    vpx_codec_enc_cfg_t   cfg;
    vpx_codec_ctx_t       codec;
    vpx_image_t           img;
    nano_webm_t           webm;
    unsigned char        *rgb = NULL, *out = NULL;
    unsigned              frames, i, keyframes = 0;
    uint64_t              seed;
    int                   w, h, seconds, fps = NANO_OFFLINE_VIDEO_FPS;
    int                   have_codec = 0, have_img = 0;

    *len = 0;
    memset(&webm, 0, sizeof(webm));
    seconds = r->seconds ? r->seconds : 3;
    if (nano_offline_video_size(r, &w, &h) != 0 || seconds < 1
        || seconds > NANO_OFFLINE_VIDEO_MAX_SECONDS)
    {
        errno = EINVAL;
        return NULL;
    }
    frames = (unsigned) (seconds * fps);
    seed = nano_offline_seed(r->prompt, r->model, r->seed);
    if (nano_webm_init(&webm, w, h, fps) != 0) {
        goto out;
    }
    rgb = malloc((size_t) w * h * 3);
    if (rgb == NULL || vpx_img_alloc(&img, VPX_IMG_FMT_I420, (unsigned) w,
                                     (unsigned) h, 16) == NULL)
    {
        goto out;
    }
    have_img = 1;
    if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0)
        != VPX_CODEC_OK)
    {
        goto out;
    }
    cfg.g_w = (unsigned) w;
    cfg.g_h = (unsigned) h;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = fps;
    cfg.g_threads = 1;              /* one thread: the same bytes each time */
    cfg.g_lag_in_frames = 0;
    cfg.g_pass = VPX_RC_ONE_PASS;
    cfg.rc_end_usage = VPX_VBR;
    cfg.rc_target_bitrate = (unsigned) (r->kbps > 0 ? r->kbps : 600);
    cfg.kf_mode = VPX_KF_AUTO;
    cfg.kf_max_dist = (unsigned) fps;
    if (vpx_codec_enc_init(&codec, vpx_codec_vp8_cx(), &cfg, 0)
        != VPX_CODEC_OK)
    {
        goto out;
    }
    have_codec = 1;
    /* good-quality mode keeps a fixed speed (realtime picks it from the
     * clock, which would make the bytes differ between runs) */
    vpx_codec_control(&codec, VP8E_SET_CPUUSED, 5);
    for (i = 0; i < frames; i++) {
        nano_offline_paint(rgb, w, h, seed, (double) i / fps, "OFFLINE VIDEO");
        nano_offline_rgb_to_i420(rgb, w, h, &img);
        if (vpx_codec_encode(&codec, &img, i, 1,
                             i % (unsigned) fps == 0 ? VPX_EFLAG_FORCE_KF : 0,
                             VPX_DL_GOOD_QUALITY) != VPX_CODEC_OK
            || nano_offline_drain(&codec, &webm, &keyframes) != 0)
        {
            goto out;
        }
    }
    if (vpx_codec_encode(&codec, NULL, -1, 1, 0, VPX_DL_GOOD_QUALITY)
        != VPX_CODEC_OK
        || nano_offline_drain(&codec, &webm, &keyframes) != 0)
    {
        goto out;
    }
    out = nano_webm_finish(&webm, len);
    if (out != NULL && info != NULL) {
        info->width = w;
        info->height = h;
        info->fps = fps;
        info->frames = (unsigned) webm.frames;
        info->keyframes = keyframes;
        info->duration_ms = (long) nano_webm_duration_ms(&webm);
        info->bytes = *len;
    }

out:
    if (have_codec) {
        vpx_codec_destroy(&codec);
    }
    if (have_img) {
        vpx_img_free(&img);
    }
    nano_webm_cleanup(&webm);
    free(rgb);
    return out;
}

int
nano_offline_video_webm(const nano_offline_video_request_t *r,
    const char *path, nano_offline_video_info_t *info)
{
    unsigned char  *data;
    size_t          len, off = 0;
    ssize_t         n;
    int             fd, rc = -1, saved;

    data = nano_offline_video_webm_mem(r, &len, info);
    if (data == NULL) {
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        goto out;
    }
    while (off < len) {
        n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        off += (size_t) n;
    }
    if (off == len && close(fd) == 0) {
        rc = 0;
    } else {
        saved = errno;
        if (off != len) {
            close(fd);
        }
        unlink(path);
        errno = saved;
    }

out:
    free(data);
    return rc;
}
