/*
 * Unit tests for the offline providers: images (PNG read back with
 * libpng at the requested size; same inputs same bytes, another seed
 * other bytes; the edit case), text (deterministic, bounded, paced,
 * says it is offline) and video (the WebM parsed back with an EBML
 * reader of its own: doctype, sizes, VP8 track, frame count, the first
 * block a keyframe, Cues pointing at Clusters; deterministic bytes).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

#include "nano_offline.h"
#include "nano_offline_image.h"
#include "nano_offline_text.h"
#include "nano_offline_video.h"
#include "nano_webm.h"
#include "unit_tmpdir.h"

static char  tmpdir[64];

static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE           *f = fopen(path, "rb");
    unsigned char  *buf;
    long            n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t) n + 1);
    assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
    fclose(f);
    *len = (size_t) n;
    return buf;
}

static void
path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

/* ---- images ------------------------------------------------------- */

static void
write_png(const char *name, const char *prompt, long long seed, int w, int h,
    const char *input, nano_offline_image_info_t *info)
{
    nano_offline_image_request_t  r = { 0 };
    char                          path[256];

    r.prompt = prompt;
    r.model = "gemini-2.5-flash-image";
    r.seed = seed;
    r.width = w;
    r.height = h;
    r.input_path = input;
    path_of(path, sizeof(path), name);
    assert_int_equal(nano_offline_image_png(&r, path, info), 0);
}

static void
test_image_png_size(void **state)
{
    nano_offline_image_info_t  info;
    png_image                  img;
    char                       path[256];

    (void) state;
    write_png("a.png", "a banana on the moon", 7, 320, 200, NULL, &info);
    assert_int_equal(info.width, 320);
    assert_int_equal(info.height, 200);
    assert_int_equal(info.edited, 0);
    assert_true(info.bytes > 1000);
    path_of(path, sizeof(path), "a.png");
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&img, path));
    assert_int_equal(img.width, 320);
    assert_int_equal(img.height, 200);
    png_image_free(&img);
}

static void
test_image_deterministic(void **state)
{
    nano_offline_image_info_t  info;
    unsigned char             *a, *b, *c, *d;
    size_t                     la, lb, lc, ld;
    char                       path[256];

    (void) state;
    write_png("d1.png", "same prompt", 1, 128, 96, NULL, &info);
    write_png("d2.png", "same prompt", 1, 128, 96, NULL, &info);
    write_png("d3.png", "same prompt", 2, 128, 96, NULL, &info);
    write_png("d4.png", "other prompt", 1, 128, 96, NULL, &info);
    path_of(path, sizeof(path), "d1.png");
    a = slurp(path, &la);
    path_of(path, sizeof(path), "d2.png");
    b = slurp(path, &lb);
    path_of(path, sizeof(path), "d3.png");
    c = slurp(path, &lc);
    path_of(path, sizeof(path), "d4.png");
    d = slurp(path, &ld);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_true(la != lc || memcmp(a, c, la) != 0);
    assert_true(la != ld || memcmp(a, d, la) != 0);
    free(a);
    free(b);
    free(c);
    free(d);
}

static void
test_image_edit(void **state)
{
    nano_offline_image_info_t  info;
    char                       in[256], junk[256];
    FILE                      *f;
    png_image                  img;
    char                       path[256];

    (void) state;
    write_png("src.png", "source", 3, 64, 64, NULL, &info);
    path_of(in, sizeof(in), "src.png");
    write_png("edit.png", "make it blue", 3, 200, 100, in, &info);
    assert_int_equal(info.edited, 1);
    assert_int_equal(info.width, 200);
    path_of(path, sizeof(path), "edit.png");
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&img, path));
    assert_int_equal(img.width, 200);
    assert_int_equal(img.height, 100);
    png_image_free(&img);
    /* an input that is not a PNG is accepted: it only feeds the seed */
    path_of(junk, sizeof(junk), "in.jpg");
    f = fopen(junk, "wb");
    fputs("\xff\xd8\xff not really a jpeg", f);
    fclose(f);
    write_png("edit2.png", "make it blue", 3, 64, 64, junk, &info);
    assert_int_equal(info.edited, 0);
}

/*
 * Editing an offline image (the page's "Edit this image" on a machine
 * without keys): the edit's band hides the input's own "OFFLINE" label.
 * Its band showed the picture through at 38 %, and the old label with it,
 * behind the new "OFFLINE EDIT".  From the bottom up, every row of the
 * band (52 rows at 400 x 400: scale 4, 7 x 4 of text and 2 x 12 of
 * padding) holds only its dark colour, the yellow mark and white text.
 */
static void
test_image_edit_hides_the_input_label(void **state)
{
    nano_offline_image_info_t  info;
    png_image                  img;
    unsigned char             *rgb, *p, *band;
    char                       in[256], path[256];
    int                        x, y, rows = 0, clean;

    (void) state;
    write_png("label.png", "source", 5, 400, 400, NULL, &info);
    path_of(in, sizeof(in), "label.png");
    write_png("relabel.png", "add sunglasses", 5, 400, 400, in, &info);
    assert_int_equal(info.edited, 1);
    path_of(path, sizeof(path), "relabel.png");
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&img, path));
    img.format = PNG_FORMAT_RGB;
    rgb = malloc(PNG_IMAGE_SIZE(img));
    assert_non_null(rgb);
    assert_true(png_image_finish_read(&img, NULL, rgb, 0, NULL));
    band = rgb + ((size_t) 399 * 400) * 3;
    for (y = 399; y >= 0; y--) {
        clean = 1;
        for (x = 0; x < 400 && clean; x++) {
            p = rgb + ((size_t) y * 400 + x) * 3;
            clean = memcmp(p, band, 3) == 0
                    || (p[0] == 255 && p[1] == 255 && p[2] == 255)
                    || (p[0] == 255 && p[1] == 214 && p[2] == 10);
        }
        if (!clean) {
            break;
        }
        rows++;
    }
    assert_int_equal(rows, 52);
    free(rgb);
}

static void
test_image_refusals(void **state)
{
    nano_offline_image_request_t  r = { 0 };
    char                          path[256];
    int                           w, h;

    (void) state;
    path_of(path, sizeof(path), "never.png");
    r.width = 8;
    r.height = 100;
    assert_int_equal(nano_offline_image_png(&r, path, NULL), -1);
    r.width = 5000;
    assert_int_equal(nano_offline_image_png(&r, path, NULL), -1);
    r.width = 100;
    r.input_path = "/nonexistent/input.png";
    assert_int_equal(nano_offline_image_png(&r, path, NULL), -1);
    assert_int_equal(access(path, F_OK), -1);
    r.input_path = NULL;
    assert_int_equal(nano_offline_image_png(&r, "/nonexistent/dir/x.png",
                                            NULL), -1);
    assert_int_equal(nano_offline_image_size("1024x768", &w, &h), 0);
    assert_int_equal(w, 1024);
    assert_int_equal(h, 768);
    assert_int_equal(nano_offline_image_size("1280*720", &w, &h), 0);
    assert_int_equal(nano_offline_image_size("2K", &w, &h), -1);
    assert_int_equal(nano_offline_image_size("8x8", &w, &h), -1);
    assert_int_equal(nano_offline_image_size("100x", &w, &h), -1);
    assert_int_equal(nano_offline_image_aspect("16:9", 1024, &w, &h), 0);
    assert_int_equal(w, 1024);
    assert_int_equal(h, 576);
    assert_int_equal(nano_offline_image_aspect("9:16", 1024, &w, &h), 0);
    assert_int_equal(w, 576);
    assert_int_equal(h, 1024);
    assert_int_equal(nano_offline_image_aspect("1:0", 1024, &w, &h), -1);
    assert_int_equal(nano_offline_image_aspect("x", 1024, &w, &h), -1);
}

/* ---- text --------------------------------------------------------- */

static char *
collect_text(const char *prompt, const char *model, long long seed,
    unsigned *ntok, long *delay_sum)
{
    nano_offline_text_t  t;
    const char          *tok;
    size_t               len, total = 0;
    int                  delay;
    char                *out = malloc(4096);

    *ntok = 0;
    *delay_sum = 0;
    assert_int_equal(nano_offline_text_init(&t, prompt, model, seed), 0);
    while (nano_offline_text_next(&t, &tok, &len, &delay)) {
        assert_true(delay >= 35 && delay <= 65);
        assert_true(len > 0);
        assert_true(total + len < 4096);
        memcpy(out + total, tok, len);
        total += len;
        (*ntok)++;
        *delay_sum += delay;
    }
    out[total] = '\0';
    assert_string_equal(out, nano_offline_text_full(&t));
    assert_int_equal(*ntok, t.total);
    nano_offline_text_cleanup(&t);
    nano_offline_text_cleanup(&t);
    return out;
}

static void
test_text(void **state)
{
    char     *a, *b, *c, *d;
    unsigned  n;
    long      delays;
    nano_offline_text_t  t;
    long      pt, ct;

    (void) state;
    a = collect_text("Tell me about gardening in winter", "qwen-plus", 1, &n,
                     &delays);
    assert_non_null(strstr(a, "This is an offline reply from qwen-plus"));
    assert_non_null(strstr(a, "You wrote about gardening, winter."));
    assert_true(n >= 20 && n <= NANO_OFFLINE_TEXT_MAX_TOKENS);
    /* about 20 tokens a second */
    assert_true(delays / n >= 40 && delays / n <= 60);
    b = collect_text("Tell me about gardening in winter", "qwen-plus", 1, &n,
                     &delays);
    assert_string_equal(a, b);
    c = collect_text("Tell me about gardening in winter", "qwen-plus", 2, &n,
                     &delays);
    assert_string_not_equal(a, c);
    d = collect_text(NULL, NULL, -1, &n, &delays);
    assert_non_null(strstr(d, "offline reply from the offline model"));
    assert_null(strstr(d, "You wrote about"));
    free(a);
    free(b);
    free(c);
    free(d);
    assert_int_equal(nano_offline_text_init(&t, "one two three", "m", 0), 0);
    nano_offline_text_usage(&t, &pt, &ct);
    assert_int_equal(pt, 3);
    assert_int_equal(ct, t.total);
    nano_offline_text_cleanup(&t);
}

/* ---- video: an EBML reader ---------------------------------------- */

typedef struct {
    const unsigned char  *p;
    size_t                len;
} span_t;

/* Reads an element id (1-4 bytes, marker kept); 0 on error. */
static uint32_t
ebml_id(const unsigned char *p, size_t n, size_t *used)
{
    int       len, i;
    uint32_t  id;

    if (n == 0 || p[0] == 0) {
        return 0;
    }
    for (len = 1; len <= 4 && !(p[0] & (0x80 >> (len - 1))); len++) {
        /* count */
    }
    if (len > 4 || (size_t) len > n) {
        return 0;
    }
    for (id = 0, i = 0; i < len; i++) {
        id = id << 8 | p[i];
    }
    *used = (size_t) len;
    return id;
}

/* Reads a vint size; (uint64_t) -1 on error. */
static uint64_t
ebml_size(const unsigned char *p, size_t n, size_t *used)
{
    int       len, i;
    uint64_t  v;

    if (n == 0 || p[0] == 0) {
        return (uint64_t) -1;
    }
    for (len = 1; len <= 8 && !(p[0] & (0x80 >> (len - 1))); len++) {
        /* count */
    }
    if ((size_t) len > n) {
        return (uint64_t) -1;
    }
    v = p[0] & (0xff >> len);
    for (i = 1; i < len; i++) {
        v = v << 8 | p[i];
    }
    *used = (size_t) len;
    return v;
}

/* Finds the first child id inside s; its data in *out.  1 when found. */
static int
ebml_find(span_t s, uint32_t want, span_t *out)
{
    size_t    off = 0, a, b;
    uint32_t  id;
    uint64_t  size;

    while (off < s.len) {
        id = ebml_id(s.p + off, s.len - off, &a);
        assert_true(id != 0);
        size = ebml_size(s.p + off + a, s.len - off - a, &b);
        assert_true(size <= s.len - off - a - b);
        if (id == want) {
            out->p = s.p + off + a + b;
            out->len = (size_t) size;
            return 1;
        }
        off += a + b + (size_t) size;
    }
    assert_int_equal(off, s.len);     /* children fill the parent exactly */
    return 0;
}

static uint64_t
ebml_uint(span_t s)
{
    uint64_t  v = 0;
    size_t    i;

    for (i = 0; i < s.len; i++) {
        v = v << 8 | s.p[i];
    }
    return v;
}

typedef struct {
    unsigned  clusters;
    unsigned  blocks;
    unsigned  keyframes;
    int       first_is_key;
    long      last_ms;
    unsigned  cues;
} webm_summary_t;

/* Parses the whole file, checking structure on the way. */
static void
webm_check(const unsigned char *data, size_t len, int width, int height,
    long duration_ms, webm_summary_t *sum)
{
    span_t    file = { data, len }, ebml, seg, info, tracks, entry, video, v;
    span_t    cl, cues, cp, pos;
    size_t    off, a, b, boff, segstart;
    uint32_t  id;
    uint64_t  size, ctime;
    double    dur;
    unsigned char  be[8];
    int       i, first = 1;

    memset(sum, 0, sizeof(*sum));
    assert_true(ebml_find(file, NANO_WEBM_EBML, &ebml));
    assert_true(ebml_find(ebml, NANO_WEBM_DOCTYPE, &v));
    assert_int_equal(v.len, 4);
    assert_memory_equal(v.p, "webm", 4);
    assert_true(ebml_find(file, NANO_WEBM_SEGMENT, &seg));
    assert_int_equal(seg.p + seg.len, data + len);    /* known size: all */
    segstart = (size_t) (seg.p - data);

    assert_true(ebml_find(seg, NANO_WEBM_INFO, &info));
    assert_true(ebml_find(info, NANO_WEBM_TIMESCALE, &v));
    assert_int_equal(ebml_uint(v), 1000000);
    assert_true(ebml_find(info, NANO_WEBM_DURATION, &v));
    assert_int_equal(v.len, 8);
    for (i = 0; i < 8; i++) {
        be[i] = v.p[7 - i];
    }
    memcpy(&dur, be, 8);
    assert_true((long) dur == duration_ms);

    assert_true(ebml_find(seg, NANO_WEBM_TRACKS, &tracks));
    assert_true(ebml_find(tracks, NANO_WEBM_TRACKENTRY, &entry));
    assert_true(ebml_find(entry, NANO_WEBM_CODECID, &v));
    assert_int_equal(v.len, 5);
    assert_memory_equal(v.p, "V_VP8", 5);
    assert_true(ebml_find(entry, NANO_WEBM_VIDEO, &video));
    assert_true(ebml_find(video, NANO_WEBM_PIXELWIDTH, &v));
    assert_int_equal(ebml_uint(v), width);
    assert_true(ebml_find(video, NANO_WEBM_PIXELHEIGHT, &v));
    assert_int_equal(ebml_uint(v), height);

    /* the clusters and their blocks */
    for (off = 0; off < seg.len; ) {
        id = ebml_id(seg.p + off, seg.len - off, &a);
        size = ebml_size(seg.p + off + a, seg.len - off - a, &b);
        if (id == NANO_WEBM_CLUSTER) {
            cl.p = seg.p + off + a + b;
            cl.len = (size_t) size;
            sum->clusters++;
            assert_true(ebml_find(cl, NANO_WEBM_TIMECODE, &v));
            ctime = ebml_uint(v);
            for (boff = 0; boff < cl.len; ) {
                size_t    a2, b2;
                uint32_t  id2 = ebml_id(cl.p + boff, cl.len - boff, &a2);
                uint64_t  s2 = ebml_size(cl.p + boff + a2,
                                         cl.len - boff - a2, &b2);
                const unsigned char  *blk = cl.p + boff + a2 + b2;

                if (id2 == NANO_WEBM_SIMPLEBLOCK) {
                    int   key = (blk[3] & 0x80) != 0;
                    long  ms = (long) ctime + (int16_t) (blk[1] << 8 | blk[2]);

                    assert_int_equal(blk[0], 0x81);      /* track 1 */
                    if (first) {
                        sum->first_is_key = key;
                        first = 0;
                    }
                    /* each cluster starts with a keyframe */
                    if (boff == (size_t) (v.p + v.len - cl.p)) {
                        assert_true(key);
                    }
                    assert_true(ms >= sum->last_ms);
                    sum->last_ms = ms;
                    sum->blocks++;
                    sum->keyframes += (unsigned) key;
                }
                boff += a2 + b2 + (size_t) s2;
            }
            assert_int_equal(boff, cl.len);
        }
        off += a + b + (size_t) size;
    }
    assert_int_equal(off, seg.len);

    /* every cue points at a cluster */
    assert_true(ebml_find(seg, NANO_WEBM_CUES, &cues));
    for (off = 0; off < cues.len; ) {
        id = ebml_id(cues.p + off, cues.len - off, &a);
        size = ebml_size(cues.p + off + a, cues.len - off - a, &b);
        assert_int_equal(id, NANO_WEBM_CUEPOINT);
        cp.p = cues.p + off + a + b;
        cp.len = (size_t) size;
        assert_true(ebml_find(cp, NANO_WEBM_CUEPOSITIONS, &pos));
        assert_true(ebml_find(pos, NANO_WEBM_CUECLUSTER, &v));
        size = ebml_uint(v);
        assert_true(segstart + size + 4 <= len);
        off += a + b + cp.len;
        assert_int_equal(ebml_id(data + segstart + size, 4, &a),
                         NANO_WEBM_CLUSTER);
        sum->cues++;
    }
}

static void
test_video_webm(void **state)
{
    nano_offline_video_request_t  r = { 0 };
    nano_offline_video_info_t     info;
    webm_summary_t                sum;
    unsigned char                *a, *b, *c;
    size_t                        la, lb, lc;

    (void) state;
    r.prompt = "a paper boat on a river";
    r.model = "wan2.5-t2v-preview";
    r.seed = 5;
    r.seconds = 2;
    a = nano_offline_video_webm_mem(&r, &la, &info);
    assert_non_null(a);
    assert_int_equal(info.width, 640);
    assert_int_equal(info.height, 360);
    assert_int_equal(info.fps, 24);
    assert_int_equal(info.frames, 48);
    assert_int_equal(info.duration_ms, 2000);
    assert_int_equal(info.bytes, la);
    webm_check(a, la, 640, 360, 2000, &sum);
    assert_int_equal(sum.blocks, 48);
    assert_int_equal(sum.first_is_key, 1);
    assert_int_equal(sum.keyframes, info.keyframes);
    assert_true(sum.keyframes >= 2);
    assert_int_equal(sum.clusters, sum.keyframes);
    assert_int_equal(sum.cues, sum.clusters);
    assert_int_equal(sum.last_ms, 1958);      /* frame 47 at 47000/24 */

    b = nano_offline_video_webm_mem(&r, &lb, NULL);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    r.seed = 6;
    c = nano_offline_video_webm_mem(&r, &lc, NULL);
    assert_true(la != lc || memcmp(a, c, la) != 0);
    free(a);
    free(b);
    free(c);
}

static void
test_video_sizes(void **state)
{
    nano_offline_video_request_t  r = { 0 };
    nano_offline_video_info_t     info;
    webm_summary_t                sum;
    unsigned char                *a;
    size_t                        la;
    char                          path[256];

    (void) state;
    r.seed = -1;
    r.width = 1280;
    r.height = 720;
    r.seconds = 1;
    path_of(path, sizeof(path), "v.webm");
    assert_int_equal(nano_offline_video_webm(&r, path, &info), 0);
    assert_int_equal(info.width, 640);
    assert_int_equal(info.height, 360);
    a = slurp(path, &la);
    assert_int_equal(la, info.bytes);
    webm_check(a, la, 640, 360, 1000, &sum);
    assert_int_equal(sum.blocks, 24);
    free(a);
    /* portrait is scaled to fit 640 high */
    r.width = 720;
    r.height = 1280;
    a = nano_offline_video_webm_mem(&r, &la, &info);
    assert_int_equal(info.width, 360);
    assert_int_equal(info.height, 640);
    free(a);
    r.seconds = 11;
    assert_null(nano_offline_video_webm_mem(&r, &la, NULL));
    r.seconds = 1;
    r.width = 8;
    assert_null(nano_offline_video_webm_mem(&r, &la, NULL));
}

static void
test_webm_writer(void **state)
{
    nano_webm_t     w;
    unsigned char  *out;
    size_t          len;

    (void) state;
    assert_int_equal(nano_webm_init(&w, 0, 10, 24), -1);
    nano_webm_cleanup(&w);
    assert_int_equal(nano_webm_init(&w, 16, 16, 24), 0);
    assert_null(nano_webm_finish(&w, &len));          /* no frame */
    assert_int_equal(nano_webm_add_frame(&w, "x", 1, 0), -1);  /* not key */
    assert_null(nano_webm_finish(&w, &len));
    nano_webm_cleanup(&w);
    nano_webm_cleanup(&w);
    assert_int_equal(nano_webm_init(&w, 16, 16, 10), 0);
    assert_int_equal(nano_webm_add_frame(&w, "key", 3, 1), 0);
    assert_int_equal(nano_webm_add_frame(&w, "d1", 2, 0), 0);
    assert_int_equal(nano_webm_add_frame(&w, "key2", 4, 1), 0);
    assert_int_equal(nano_webm_duration_ms(&w), 300);
    out = nano_webm_finish(&w, &len);
    assert_non_null(out);
    free(out);
    nano_webm_cleanup(&w);
}

static int
setup(void **state)
{
    (void) state;
    return unit_tmpdir(tmpdir, sizeof(tmpdir), "offline");
}

static int
teardown(void **state)
{
    (void) state;
    return unit_tmpdir_remove(tmpdir);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_image_png_size),
        cmocka_unit_test(test_image_deterministic),
        cmocka_unit_test(test_image_edit),
        cmocka_unit_test(test_image_edit_hides_the_input_label),
        cmocka_unit_test(test_image_refusals),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_video_webm),
        cmocka_unit_test(test_video_sizes),
        cmocka_unit_test(test_webm_writer),
    };

    return cmocka_run_group_tests_name("offline", tests, setup, teardown);
}
