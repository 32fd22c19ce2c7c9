/*
 * nano-offline: the offline providers from the command line, for tests
 * and for looking at what they make.
 *
 *   nano-offline image --out FILE [--size WxH] [--input FILE] [common]
 *   nano-offline video --out FILE [--size WxH] [--seconds N] [common]
 *   nano-offline text [--no-delay] [common]
 *   common: --prompt TEXT --model NAME --seed N
 *
 * image and video print {"file",…,"bytes"} on stdout; text prints the
 * reply token by token at its pace (or at once with --no-delay).
 * Exit 0, 1 on failure, 2 on bad usage.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_offline_image.h"
#include "nano_offline_text.h"
#include "nano_offline_video.h"

typedef struct {
    const char  *prompt;
    const char  *model;
    const char  *out;
    const char  *input;
    long long    seed;
    int          width;        /* from --size; 0: the default */
    int          height;
    int          seconds;
    int          no_delay;
} nano_cli_opts_t;

static int
nano_cli_usage(void)
{
    fprintf(stderr,
        "usage: nano-offline image|video|text [--prompt TEXT] [--model NAME]"
        " [--seed N]\n"
        "       [--out FILE] [--size WxH] [--input FILE] [--seconds N]"
        " [--no-delay]\n");
    return 2;
}

static int
nano_cli_parse(int argc, char **argv, nano_cli_opts_t *o)
{
    int  i;

    memset(o, 0, sizeof(*o));
    o->seed = -1;
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--no-delay") == 0) {
            o->no_delay = 1;
            continue;
        }
        if (i + 1 >= argc) {
            return -1;
        }
        if (strcmp(argv[i], "--prompt") == 0) {
            o->prompt = argv[++i];
        } else if (strcmp(argv[i], "--model") == 0) {
            o->model = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0) {
            o->seed = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--out") == 0) {
            o->out = argv[++i];
        } else if (strcmp(argv[i], "--input") == 0) {
            o->input = argv[++i];
        } else if (strcmp(argv[i], "--size") == 0) {
            if (nano_offline_image_size(argv[++i], &o->width, &o->height)
                != 0)
            {
                return -1;
            }
        } else if (strcmp(argv[i], "--seconds") == 0) {
            o->seconds = atoi(argv[++i]);
        } else {
            return -1;
        }
    }
    return 0;
}

static int
nano_cli_image(const nano_cli_opts_t *o)
{
    nano_offline_image_request_t  r = { 0 };
    nano_offline_image_info_t     info;

    r.prompt = o->prompt;
    r.model = o->model;
    r.seed = o->seed;
    r.input_path = o->input;
    r.width = o->width ? o->width : 512;
    r.height = o->height ? o->height : 512;
    if (o->out == NULL) {
        return nano_cli_usage();
    }
    if (nano_offline_image_png(&r, o->out, &info) != 0) {
        fprintf(stderr, "nano-offline: image: %s\n", strerror(errno));
        return 1;
    }
    printf("{\"file\":\"%s\",\"mime\":\"image/png\",\"width\":%d,"
           "\"height\":%d,\"bytes\":%zu,\"edited\":%s}\n", o->out, info.width,
           info.height, info.bytes, info.edited ? "true" : "false");
    return 0;
}

static int
nano_cli_video(const nano_cli_opts_t *o)
{
    nano_offline_video_request_t  r = { 0 };
    nano_offline_video_info_t     info;

    r.prompt = o->prompt;
    r.model = o->model;
    r.seed = o->seed;
    r.seconds = o->seconds;
    r.width = o->width;
    r.height = o->height;
    if (o->out == NULL) {
        return nano_cli_usage();
    }
    if (nano_offline_video_webm(&r, o->out, &info) != 0) {
        fprintf(stderr, "nano-offline: video: %s\n", strerror(errno));
        return 1;
    }
    printf("{\"file\":\"%s\",\"mime\":\"video/webm\",\"width\":%d,"
           "\"height\":%d,\"fps\":%d,\"frames\":%u,\"keyframes\":%u,"
           "\"durationMs\":%ld,\"bytes\":%zu}\n", o->out, info.width,
           info.height, info.fps, info.frames, info.keyframes,
           info.duration_ms, info.bytes);
    return 0;
}

static int
nano_cli_text(const nano_cli_opts_t *o)
{
    nano_offline_text_t  t;
    const char          *tok;
    size_t               len;
    int                  delay;
    struct timespec      ts;

    if (nano_offline_text_init(&t, o->prompt, o->model, o->seed) != 0) {
        fprintf(stderr, "nano-offline: text: out of memory\n");
        return 1;
    }
    while (nano_offline_text_next(&t, &tok, &len, &delay)) {
        if (!o->no_delay) {
            ts.tv_sec = 0;
            ts.tv_nsec = (long) delay * 1000000L;
            nanosleep(&ts, NULL);
        }
        fwrite(tok, 1, len, stdout);
        fflush(stdout);
    }
    putchar('\n');
    nano_offline_text_cleanup(&t);
    return 0;
}

int
main(int argc, char **argv)
{
    nano_cli_opts_t  o;

    if (argc < 2 || nano_cli_parse(argc, argv, &o) != 0) {
        return nano_cli_usage();
    }
    if (strcmp(argv[1], "image") == 0) {
        return nano_cli_image(&o);
    }
    if (strcmp(argv[1], "video") == 0) {
        return nano_cli_video(&o);
    }
    if (strcmp(argv[1], "text") == 0) {
        return nano_cli_text(&o);
    }
    return nano_cli_usage();
}
