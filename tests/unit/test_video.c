/*
 * Unit tests for video sniffing (nano_video): the frame size of a WebM
 * made by the offline encoder and of a hand-built MP4 (tkhd versions 0
 * and 1, a 64-bit box size), headers without a size, and every prefix of
 * both files, which must never read past the end.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "nano_offline_video.h"
#include "nano_video.h"

static size_t
put_be(unsigned char *p, uint64_t v, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        p[n - 1 - i] = (unsigned char) (v >> (8 * i));
    }
    return n;
}

/* ftyp, then moov > trak > tkhd (version 0 or 1) declaring w x h. */
static size_t
make_mp4(unsigned char *buf, int version, int w, int h, int large_moov)
{
    size_t  n = 0, moov, trak, tkhd, tkhd_body;

    n += put_be(buf + n, 16, 4);
    memcpy(buf + n, "ftypisom", 8);
    n += 8;
    n += put_be(buf + n, 0x200, 4);

    tkhd_body = 4 + (version == 1 ? 32 : 20) + 52 + 8;
    moov = n;
    n += large_moov ? 16 : 8;
    trak = n;
    n += 8;
    tkhd = n;
    n += put_be(buf + n, 8 + tkhd_body, 4);
    memcpy(buf + n, "tkhd", 4);
    n += 4;
    memset(buf + n, 0, tkhd_body);
    buf[n] = (unsigned char) version;
    put_be(buf + n + tkhd_body - 8, (uint64_t) w << 16, 4);
    put_be(buf + n + tkhd_body - 4, (uint64_t) h << 16, 4);
    n += tkhd_body;

    put_be(buf + trak, n - trak, 4);
    memcpy(buf + trak + 4, "trak", 4);
    if (large_moov) {
        put_be(buf + moov, 1, 4);
        memcpy(buf + moov + 4, "moov", 4);
        put_be(buf + moov + 8, n - moov, 8);
    } else {
        put_be(buf + moov, n - moov, 4);
        memcpy(buf + moov + 4, "moov", 4);
    }
    (void) tkhd;
    return n;
}

/* A one-second WebM of w x h from the offline encoder (free it). */
static unsigned char *
make_webm(const char *prompt, int seed, int w, int h, size_t *len,
    nano_offline_video_info_t *made)
{
    nano_offline_video_request_t  r;

    memset(&r, 0, sizeof(r));
    r.prompt = prompt;
    r.seed = seed;
    r.width = w;
    r.height = h;
    r.seconds = 1;
    return nano_offline_video_webm_mem(&r, len, made);
}

static void
webm_size(void **state)
{
    nano_offline_video_info_t     made;
    nano_video_info_t             info;
    unsigned char                *p;
    size_t                        len, cut;

    (void) state;
    p = make_webm("a size test", 1, 320, 180, &len, &made);
    assert_non_null(p);
    assert_int_equal(nano_video_sniff(p, len, &info), 0);
    assert_string_equal(info.mime, "video/webm");
    assert_string_equal(info.ext, "webm");
    assert_int_equal(info.width, made.width);
    assert_int_equal(info.height, made.height);
    assert_int_equal(info.width, 320);

    /* every prefix: a WebM with or without a size, never a crash */
    for (cut = 0; cut < len && cut < 4096; cut++) {
        if (nano_video_sniff(p, cut, &info) == 0) {
            assert_true(cut >= 4);
            assert_true(info.width == 0 || info.width == 320);
            assert_true((info.width == 0) == (info.height == 0));
        }
    }
    free(p);
}

static void
mp4_sizes(void **state)
{
    unsigned char      buf[512];
    nano_video_info_t  info;
    size_t             len, cut;

    (void) state;
    len = make_mp4(buf, 0, 1280, 720, 0);
    assert_int_equal(nano_video_sniff(buf, len, &info), 0);
    assert_string_equal(info.mime, "video/mp4");
    assert_int_equal(info.width, 1280);
    assert_int_equal(info.height, 720);

    len = make_mp4(buf, 1, 832, 480, 1);
    assert_int_equal(nano_video_sniff(buf, len, &info), 0);
    assert_int_equal(info.width, 832);
    assert_int_equal(info.height, 480);

    for (cut = 0; cut < len; cut++) {
        if (nano_video_sniff(buf, cut, &info) == 0) {
            assert_true(info.width == 0 || info.width == 832);
        }
    }

    /* an audio-only track declares 0 x 0 */
    len = make_mp4(buf, 0, 0, 0, 0);
    assert_int_equal(nano_video_sniff(buf, len, &info), 0);
    assert_int_equal(info.width, 0);
    assert_int_equal(info.height, 0);
}

static void
refusals(void **state)
{
    static const unsigned char  png[] = "\x89PNG\r\n\x1a\n\0\0\0\0IHDR";
    static const unsigned char  html[] = "<html><body>nope</body></html>";
    /* EBML magic, then a box length larger than everything */
    static const unsigned char  ebml[] = "\x1a\x45\xdf\xa3\x01\xff\xff\xff"
                                         "\xff\xff\xff\xff\x18\x53\x80\x67";
    nano_video_info_t           info;

    (void) state;
    assert_int_equal(nano_video_sniff(png, sizeof(png) - 1, &info), -1);
    assert_int_equal(nano_video_sniff(html, sizeof(html) - 1, &info), -1);
    assert_int_equal(nano_video_sniff(html, 0, &info), -1);
    assert_int_equal(nano_video_sniff(ebml, sizeof(ebml) - 1, &info), 0);
    assert_int_equal(info.width, 0);
}

/* A download cut short with no length to tell: every prefix of a WebM
 * and of an MP4 is not whole, the files themselves are. */
static void
whole(void **state)
{
    nano_offline_video_info_t     made;
    nano_video_info_t             info;
    unsigned char                *p, buf[1024];
    size_t                        len, cut;

    (void) state;
    p = make_webm("a whole test", 2, 160, 90, &len, &made);
    assert_non_null(p);
    assert_int_equal(nano_video_sniff(p, len, &info), 0);
    assert_int_equal(nano_video_whole(p, len, &info), 1);
    for (cut = 0; cut < len; cut += cut < 64 || len - cut < 64 ? 1 : 61) {
        if (nano_video_sniff(p, cut, &info) == 0) {
            assert_int_equal(nano_video_whole(p, cut, &info), 0);
        }
    }
    free(p);

    len = make_mp4(buf, 0, 1280, 720, 0);
    len += put_be(buf + len, 8 + 100, 4);
    memcpy(buf + len, "mdat", 4);
    len += 4;
    memset(buf + len, 0x55, 100);
    len += 100;
    assert_int_equal(nano_video_sniff(buf, len, &info), 0);
    assert_int_equal(nano_video_whole(buf, len, &info), 1);
    for (cut = 0; cut < len; cut++) {
        if (nano_video_sniff(buf, cut, &info) == 0) {
            assert_int_equal(nano_video_whole(buf, cut, &info), 0);
        }
    }
    /* bytes after the last box, and a file without its mdat */
    memset(buf + len, 0, 3);
    assert_int_equal(nano_video_whole(buf, len + 3, &info), 0);
    len = make_mp4(buf, 0, 1280, 720, 0);
    assert_int_equal(nano_video_sniff(buf, len, &info), 0);
    assert_int_equal(nano_video_whole(buf, len, &info), 0);
}

int
main(void)
{
    static const struct CMUnitTest  tests[] = {
        cmocka_unit_test(webm_size),
        cmocka_unit_test(mp4_sizes),
        cmocka_unit_test(refusals),
        cmocka_unit_test(whole),
    };

    return cmocka_run_group_tests_name("video_sniff", tests, NULL, NULL);
}
