/*
 * nano-provider: the provider wire formats from the command line, so
 * tests can send bodies the C code builds to the fake providers and read
 * their answers with the C parsers (no transport involved).
 *
 *   nano-provider request gemini|ark|wan|openai|xai|dashscope
 *       [--prompt TEXT] [--model M] [--stream] [--size S] [--aspect R]
 *       [--image FILE --mime TYPE] [--url] [--seed N] [--duration N]
 *     prints {"path": "...", "body": <the request JSON>, "async": bool}
 *   nano-provider parse PROVIDER response|error|stream|submit|poll
 *       [--status N] [--retry-after V]   (the body on stdin)
 *     prints {"ok":true,…} or {"ok":false,"code","message","retryable",
 *     "retryAfterMs"}
 * Exit 0 when it printed, 2 on bad usage.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nano_ark.h"
#include "nano_buf.h"
#include "nano_chat.h"
#include "nano_gemini.h"
#include "nano_provider.h"
#include "nano_wan.h"

typedef struct {
    const char  *prompt;
    const char  *model;
    const char  *size;
    const char  *aspect;
    const char  *image;
    const char  *mime;
    const char  *retry_after;
    long long    seed;
    long         status;
    int          stream;
    int          url;
    int          duration;
} cli_opts_t;

static int
usage(void)
{
    fprintf(stderr, "usage: nano-provider request PROVIDER [options] | "
            "nano-provider parse PROVIDER WHAT [--status N] "
            "[--retry-after V] < body\n");
    return 2;
}

static int
parse_opts(int argc, char **argv, int from, cli_opts_t *o)
{
    int  i;

    memset(o, 0, sizeof(*o));
    o->seed = -1;
    o->status = 200;
    for (i = from; i < argc; i++) {
        if (strcmp(argv[i], "--stream") == 0) {
            o->stream = 1;
        } else if (strcmp(argv[i], "--url") == 0) {
            o->url = 1;
        } else if (i + 1 >= argc) {
            return -1;
        } else if (strcmp(argv[i], "--prompt") == 0) {
            o->prompt = argv[++i];
        } else if (strcmp(argv[i], "--model") == 0) {
            o->model = argv[++i];
        } else if (strcmp(argv[i], "--size") == 0) {
            o->size = argv[++i];
        } else if (strcmp(argv[i], "--aspect") == 0) {
            o->aspect = argv[++i];
        } else if (strcmp(argv[i], "--image") == 0) {
            o->image = argv[++i];
        } else if (strcmp(argv[i], "--mime") == 0) {
            o->mime = argv[++i];
        } else if (strcmp(argv[i], "--retry-after") == 0) {
            o->retry_after = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0) {
            o->seed = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--status") == 0) {
            o->status = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--duration") == 0) {
            o->duration = atoi(argv[++i]);
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads a whole stream into a new buffer. */
static char *
slurp(FILE *f, size_t *len)
{
    nano_buf_t  b;
    char        chunk[65536];
    size_t      n;

    nano_buf_init(&b);
    nano_buf_puts(&b, "");
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        nano_buf_append(&b, chunk, n);
    }
    *len = b.len;
    return nano_buf_steal(&b);
}

static int
print_request(const char *path, char *body, int async)
{
    json_t  *parsed, *out;

    if (body == NULL) {
        fprintf(stderr, "nano-provider: the request was refused\n");
        return 1;
    }
    parsed = json_loads(body, 0, NULL);
    out = json_pack("{s:s, s:o, s:b}", "path", path, "body", parsed,
                    "async", async);
    free(body);
    if (out == NULL) {
        return 1;
    }
    json_dumpf(out, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(out);
    return 0;
}

static int
cmd_request(const char *provider, const cli_opts_t *o)
{
    char                   path[256];
    unsigned char         *img = NULL;
    size_t                 img_len = 0;
    int                    p = nano_provider_by_name(provider), rc;

    if (strcmp(provider, "gemini") == 0) {
        nano_gemini_request_t  r = { 0 };
        FILE                  *f;

        if (o->image != NULL) {
            f = fopen(o->image, "rb");
            if (f == NULL) {
                return 1;
            }
            img = (unsigned char *) slurp(f, &img_len);
            fclose(f);
        }
        r.prompt = o->prompt;
        r.image = img;
        r.image_len = img_len;
        r.image_mime = o->mime;
        r.aspect_ratio = o->aspect;
        r.seed = -1;
        if (nano_gemini_path(o->model, path, sizeof(path)) != 0) {
            free(img);
            return 1;
        }
        rc = print_request(path, nano_gemini_request_body(&r), 0);
        free(img);
        return rc;
    }
    if (strcmp(provider, "ark") == 0) {
        nano_ark_request_t  r = { 0 };

        r.model = o->model;
        r.prompt = o->prompt;
        r.size = o->size;
        r.seed = o->seed;
        r.want_url = o->url;
        return print_request(nano_ark_path(), nano_ark_request_body(&r), 0);
    }
    if (strcmp(provider, "wan") == 0) {
        nano_wan_request_t  r = { 0 };

        r.model = o->model;
        r.prompt = o->prompt;
        r.size = o->size;
        r.duration = o->duration;
        r.seed = o->seed;
        r.prompt_extend = -1;
        r.audio = -1;
        return print_request(nano_wan_submit_path(),
                             nano_wan_submit_body(&r), 1);
    }
    if (p == NANO_PROVIDER_OPENAI || p == NANO_PROVIDER_XAI
        || p == NANO_PROVIDER_DASHSCOPE)
    {
        nano_chat_message_t  m[2] = {
            { "system", "You are brief." }, { "user", o->prompt },
        };
        nano_chat_request_t  r = { 0 };

        r.model = o->model ? o->model : "test-model";
        r.messages = m;
        r.nmessages = 2;
        r.stream = o->stream;
        r.temperature = -1;
        r.seed = -1;
        return print_request(nano_chat_path((nano_provider_t) p),
                             nano_chat_request_body(&r), 0);
    }
    return usage();
}

static int
print_error(const nano_provider_error_t *e)
{
    json_t  *out = json_pack("{s:b, s:s, s:s, s:b, s:I}", "ok", 0,
                             "code", e->code, "message", e->message,
                             "retryable", e->retryable,
                             "retryAfterMs", (json_int_t) e->retry_after_ms);

    json_dumpf(out, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(out);
    return 0;
}

static int
print_ok(json_t *out)
{
    json_object_set_new(out, "ok", json_true());
    json_dumpf(out, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(out);
    return 0;
}

static int
cmd_parse(const char *provider, const char *what, const cli_opts_t *o)
{
    nano_provider_error_t  e;
    char                  *body;
    size_t                 len;
    int                    p = nano_provider_by_name(provider), rc = 0;

    if (p < 0) {
        return usage();
    }
    nano_provider_error_init(&e);
    body = slurp(stdin, &len);
    if (body == NULL) {
        return 1;
    }
    if (strcmp(what, "error") == 0) {
        nano_provider_error_from_http((nano_provider_t) p, o->status,
                                      o->retry_after, body, len, &e);
        rc = print_error(&e);
    } else if (strcmp(what, "response") == 0 && p == NANO_PROVIDER_GEMINI) {
        nano_gemini_result_t  r;

        nano_gemini_result_init(&r);
        rc = nano_gemini_parse_response(body, len, &r, &e) == 0
             ? print_ok(json_pack("{s:s, s:I, s:s?}", "mime", r.mime,
                                  "bytes", (json_int_t) r.image_len,
                                  "text", r.text))
             : print_error(&e);
        nano_gemini_result_cleanup(&r);
    } else if (strcmp(what, "response") == 0 && p == NANO_PROVIDER_ARK) {
        nano_ark_result_t  r;

        nano_ark_result_init(&r);
        rc = nano_ark_parse_response(body, len, &r, &e) == 0
             ? print_ok(json_pack("{s:I, s:s?, s:i, s:i}",
                                  "bytes", (json_int_t) r.image_len,
                                  "url", r.url, "width", r.width,
                                  "height", r.height))
             : print_error(&e);
        nano_ark_result_cleanup(&r);
    } else if (strcmp(what, "submit") == 0 && p == NANO_PROVIDER_WAN) {
        char  id[NANO_WAN_TASK_ID_MAX];

        rc = nano_wan_parse_submit(body, len, id, &e) == 0
             ? print_ok(json_pack("{s:s}", "taskId", id)) : print_error(&e);
    } else if (strcmp(what, "poll") == 0 && p == NANO_PROVIDER_WAN) {
        nano_wan_task_t  t;

        nano_wan_task_init(&t);
        rc = nano_wan_parse_poll(body, len, &t, &e) == 0
             ? print_ok(json_pack("{s:s, s:s?, s:f}", "status",
                                  nano_wan_status_name(t.status),
                                  "videoUrl", t.video_url,
                                  "duration", t.video_duration))
             : print_error(&e);
        nano_wan_task_cleanup(&t);
    } else if (strcmp(what, "response") == 0) {
        nano_chat_result_t  r;

        nano_chat_result_init(&r);
        rc = nano_chat_parse_response((nano_provider_t) p, body, len, &r,
                                      &e) == 0
             ? print_ok(json_pack("{s:s, s:s, s:I}", "text", r.text,
                                  "finish", r.finish_reason, "total",
                                  (json_int_t) r.usage.total_tokens))
             : print_error(&e);
        nano_chat_result_cleanup(&r);
    } else if (strcmp(what, "stream") == 0) {
        nano_chat_stream_t  s;

        nano_chat_stream_init(&s, (nano_provider_t) p, 0, NULL, NULL);
        if (nano_chat_stream_feed(&s, body, len, &e) == NANO_CHAT_STREAM_OK
            && nano_chat_stream_finish(&s, &e) == 0)
        {
            rc = print_ok(json_pack("{s:s, s:s, s:I, s:b}",
                                    "text", s.result.text,
                                    "finish", s.result.finish_reason,
                                    "total",
                                    (json_int_t) s.result.usage.total_tokens,
                                    "done", s.done));
        } else {
            rc = print_error(&e);
        }
        nano_chat_stream_cleanup(&s);
    } else {
        rc = usage();
    }
    free(body);
    return rc;
}

int
main(int argc, char **argv)
{
    cli_opts_t  o;

    if (argc >= 3 && strcmp(argv[1], "request") == 0
        && parse_opts(argc, argv, 3, &o) == 0)
    {
        return cmd_request(argv[2], &o);
    }
    if (argc >= 4 && strcmp(argv[1], "parse") == 0
        && parse_opts(argc, argv, 4, &o) == 0)
    {
        return cmd_parse(argv[2], argv[3], &o);
    }
    return usage();
}
