/*
 * Image jobs: Gemini generateContent (nano-banana, with an image to
 * edit), Ark images/generations (seedream, downloading a URL answer at
 * once), and the offline PNG.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_ark.h"
#include "nano_gemini.h"
#include "nano_image.h"
#include "nano_jobgen.h"
#include "nano_log.h"
#include "nano_module.h"
#include "nano_offline_image.h"
#include "nano_provider_call.h"

#define NANO_JOBGEN_IMAGE_TIMEOUT_MS  180000
#define NANO_JOBGEN_INPUT_MAX         (10 * 1024 * 1024)
#define NANO_JOBGEN_OFFLINE_DELAY_MS  600     /* an offline job shows its
                                                 progress like a real one */

nano_job_next_t
nano_jobgen_failed_call(nano_job_t *job, int provider,
    const nano_client_res_t *res)
{
    nano_provider_error_t  err;

    nano_provider_error_init(&err);
    nano_provider_call_error((nano_provider_t) provider, res, &err);
    return nano_job_fail(job, err.code, err.message);
}

nano_job_next_t
nano_jobgen_not_stored(nano_job_t *job, const char *noun, const char *path)
{
    char  msg[64];

    if (path != NULL) {
        nano_log_error("job %s: cannot write %s: %s", job->gen.id, path,
                       errno != 0 ? strerror(errno) : "the encoder failed");
    }
    snprintf(msg, sizeof(msg), "the server could not store the %s", noun);
    return nano_job_fail(job, NANO_JOB_ERR_STORAGE, msg);
}

nano_job_next_t
nano_jobgen_post_json(nano_job_t *job, nano_provider_t provider,
    const char *path, long timeout_ms)
{
    nano_provider_error_t  err;

    nano_provider_error_init(&err);
    nano_client_call_init(&job->call, "POST");
    if (nano_provider_call(&job->call, provider, path, &err) != 0) {
        return nano_job_fail(job, err.code, err.message);
    }
    nano_client_call_header(&job->call, "Content-Type: application/json");
    job->call.body = job->body;
    job->call.body_len = strlen(job->body);
    job->call.timeout_ms = timeout_ms;
    job->posting = 1;
    return NANO_JOB_CALL;
}

const char *
nano_jobgen_param(const nano_job_t *job, const char *name)
{
    return json_string_value(json_object_get(job->gen.params, name));
}

long long
nano_jobgen_param_int(const nano_job_t *job, const char *name, long long dflt)
{
    json_t  *v = json_object_get(job->gen.params, name);

    return json_is_integer(v) ? (long long) json_integer_value(v) : dflt;
}

/* Stores an image answer, sniffed for its type and size. */
static nano_job_next_t
nano_jobgen_store_image(nano_job_t *job, const unsigned char *data,
    size_t len)
{
    nano_image_info_t  info;

    if (nano_image_sniff(data, len, &info) != 0) {
        return nano_job_fail(job, NANO_PERR_BAD_RESPONSE,
                             "the provider's image is not a PNG, JPEG or"
                             " WebP");
    }
    /* a JPEG without a frame header before its scan or its end has no
     * size and cannot be shown: it was stored and charged as 0 x 0 */
    if (info.width <= 0 || info.height <= 0) {
        return nano_job_fail(job, NANO_PERR_BAD_RESPONSE,
                             "the provider's image is damaged: its size"
                             " cannot be read");
    }
    /* the end of its format missing: a download whose connection closed
     * early with no length to tell, stored and charged as a success */
    if (!nano_image_whole(data, len, &info)) {
        return nano_job_fail(job, NANO_PERR_BAD_RESPONSE,
                             "the provider's image is cut short");
    }
    if (nano_job_store(job, data, len, info.mime, info.ext, info.width,
                       info.height) != 0)
    {
        return nano_jobgen_not_stored(job, "image", NULL);
    }
    return NANO_JOB_DONE;
}

/* The input image of an edit (params.inputImage), read whole; NULL when
 * there is none.  *len, *mime set. */
static unsigned char *
nano_jobgen_input(nano_job_t *job, size_t *len, const char **mime)
{
    json_t         *in = json_object_get(job->gen.params, "inputImage");
    const char     *file = json_string_value(json_object_get(in, "file"));
    char            path[PATH_MAX];
    unsigned char  *data;
    FILE           *f;

    *mime = json_string_value(json_object_get(in, "mime"));
    if (file == NULL || strstr(file, "..") != NULL
        || snprintf(path, sizeof(path), "%s/%s", nano_job_media_root(), file)
           >= (int) sizeof(path)
        || (f = fopen(path, "rb")) == NULL)
    {
        return NULL;
    }
    data = malloc(NANO_JOBGEN_INPUT_MAX + 1);
    if (data != NULL) {
        *len = fread(data, 1, NANO_JOBGEN_INPUT_MAX + 1, f);
        if (*len == 0 || *len > NANO_JOBGEN_INPUT_MAX) {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

/* ---- Gemini ------------------------------------------------------------- */

static nano_job_next_t
nano_jobgen_gemini_start(nano_job_t *job)
{
    nano_gemini_request_t   r;
    unsigned char          *image = NULL;
    char                    path[256];

    memset(&r, 0, sizeof(r));
    r.prompt = job->gen.prompt;
    r.aspect_ratio = nano_jobgen_param(job, "aspectRatio");
    r.seed = nano_jobgen_param_int(job, "seed", -1);
    if (json_object_get(job->gen.params, "inputImage") != NULL) {
        image = nano_jobgen_input(job, &r.image_len, &r.image_mime);
        if (image == NULL) {
            return nano_job_fail(job, NANO_PERR_BAD_REQUEST,
                                 "the image to edit is gone");
        }
        r.image = image;
    }
    job->body = nano_gemini_request_body(&r);
    free(image);
    if (job->body == NULL
        || nano_gemini_path(job->gen.model, path, sizeof(path)) != 0)
    {
        return nano_job_fail(job, NANO_PERR_BAD_REQUEST,
                             "the request cannot be sent to Gemini");
    }
    return nano_jobgen_post_json(job, NANO_PROVIDER_GEMINI, path,
                                 NANO_JOBGEN_IMAGE_TIMEOUT_MS);
}

static nano_job_next_t
nano_jobgen_gemini_step(nano_job_t *job, const nano_client_res_t *res)
{
    nano_gemini_result_t   out;
    nano_provider_error_t  err;
    nano_job_next_t        next;

    if (res->status != 200) {
        return nano_jobgen_failed_call(job, NANO_PROVIDER_GEMINI, res);
    }
    nano_gemini_result_init(&out);
    nano_provider_error_init(&err);
    if (nano_gemini_parse_response(res->body.data ? res->body.data : "",
                                   res->body.len, &out, &err) != 0)
    {
        next = nano_job_fail(job, err.code, err.message);
    } else {
        next = nano_jobgen_store_image(job, out.image, out.image_len);
    }
    nano_gemini_result_cleanup(&out);
    return next;
}

const nano_job_provider_t  nano_jobgen_gemini = {
    .name = "gemini",
    .start = nano_jobgen_gemini_start,
    .step = nano_jobgen_gemini_step,
};

/* ---- Ark (Seedream) ----------------------------------------------------- */

static nano_job_next_t
nano_jobgen_ark_start(nano_job_t *job)
{
    nano_ark_request_t  r;

    memset(&r, 0, sizeof(r));
    r.model = job->gen.model;
    r.prompt = job->gen.prompt;
    r.size = nano_jobgen_param(job, "size");
    r.seed = nano_jobgen_param_int(job, "seed", -1);
    job->body = nano_ark_request_body(&r);
    if (job->body == NULL) {
        return nano_job_fail(job, NANO_PERR_BAD_REQUEST,
                             "the request cannot be sent to Seedream");
    }
    return nano_jobgen_post_json(job, NANO_PROVIDER_ARK, nano_ark_path(),
                                 NANO_JOBGEN_IMAGE_TIMEOUT_MS);
}

static nano_job_next_t
nano_jobgen_ark_step(nano_job_t *job, const nano_client_res_t *res)
{
    nano_ark_result_t      out;
    nano_provider_error_t  err;
    nano_image_info_t      info;
    nano_job_next_t        next;

    /* the second call: the download of a url answer */
    if (job->polls > 0) {
        if (res->status != 200 || res->body.len == 0) {
            return nano_job_fail(job, NANO_PERR_PROVIDER,
                                 "Seedream's image could not be downloaded");
        }
        /* cut short though the transfer ended well (the connection closed
         * early, no length sent): a GET is fetched again, as a cut the
         * transfer saw is (NANO_JOBS_RETRIES times) */
        if (job->polls <= NANO_JOBS_RETRIES
            && nano_image_sniff((const unsigned char *) res->body.data,
                                res->body.len, &info) == 0
            && !nano_image_whole((const unsigned char *) res->body.data,
                                 res->body.len, &info))
        {
            job->polls++;
            nano_log_warn("job %s: Seedream's image came cut short (%zu"
                          " bytes); fetching it again", job->gen.id,
                          res->body.len);
            return NANO_JOB_CALL;
        }
        return nano_jobgen_store_image(job,
                                       (const unsigned char *) res->body.data,
                                       res->body.len);
    }
    if (res->status != 200) {
        return nano_jobgen_failed_call(job, NANO_PROVIDER_ARK, res);
    }
    nano_ark_result_init(&out);
    nano_provider_error_init(&err);
    if (nano_ark_parse_response(res->body.data ? res->body.data : "",
                                res->body.len, &out, &err) != 0)
    {
        next = nano_job_fail(job, err.code, err.message);
    } else if (out.image != NULL) {
        next = nano_jobgen_store_image(job, out.image, out.image_len);
    } else {
        /* it expires within a day: fetch it now, without our key */
        nano_client_call_cleanup(&job->call);
        nano_client_call_init(&job->call, "GET");
        if (nano_client_call_url(&job->call, out.url, "") != 0) {
            next = nano_job_fail(job, NANO_PERR_BAD_RESPONSE,
                                 "Seedream's image URL is too long");
        } else {
            job->call.timeout_ms = NANO_JOBGEN_IMAGE_TIMEOUT_MS;
            job->call.follow = 1;
            job->posting = 0;
            job->polls = 1;
            next = NANO_JOB_CALL;
        }
    }
    nano_ark_result_cleanup(&out);
    return next;
}

const nano_job_provider_t  nano_jobgen_ark = {
    .name = "ark",
    .start = nano_jobgen_ark_start,
    .step = nano_jobgen_ark_step,
};

/* ---- offline ------------------------------------------------------------ */

static nano_job_next_t
nano_jobgen_offline_start(nano_job_t *job)
{
    job->delay_ms = NANO_JOBGEN_OFFLINE_DELAY_MS;
    return NANO_JOB_WORK;
}

static nano_job_next_t
nano_jobgen_offline_image_work(nano_job_t *job)
{
    nano_offline_image_request_t  r;
    nano_offline_image_info_t     info;
    const char                   *size = nano_jobgen_param(job, "size");
    const char                   *ratio = nano_jobgen_param(job,
                                                            "aspectRatio");
    const nano_module_def_t      *def = nano_module_def();
    json_t                       *in;
    char                          path[PATH_MAX], input[PATH_MAX];

    /* none asked: the real provider's own default (seedream's 2K, where
     * the offline image was 1024 x 1024) */
    if (size == NULL && ratio == NULL && def != NULL) {
        size = def->rules.default_size;
    }
    memset(&r, 0, sizeof(r));
    r.prompt = job->gen.prompt;
    r.model = job->gen.model;
    r.seed = nano_jobgen_param_int(job, "seed", -1);
    r.width = r.height = 1024;
    if (size != NULL && nano_offline_image_size(size, &r.width, &r.height)
                        != 0)
    {
        /* "1K", "2K", "4K" */
        r.width = r.height = strcmp(size, "4K") == 0 ? 4096
                             : strcmp(size, "2K") == 0 ? 2048 : 1024;
    } else if (size == NULL && ratio != NULL) {
        nano_offline_image_aspect(ratio, 1024, &r.width, &r.height);
    }
    in = json_object_get(job->gen.params, "inputImage");
    if (json_string_value(json_object_get(in, "file")) != NULL
        && snprintf(input, sizeof(input), "%s/%s", nano_job_media_root(),
                    json_string_value(json_object_get(in, "file")))
           < (int) sizeof(input))
    {
        r.input_path = input;
    }
    if (nano_job_next_path(job, "png", path, sizeof(path)) != 0) {
        return nano_jobgen_not_stored(job, "image", NULL);
    }
    errno = 0;
    if (nano_offline_image_png(&r, path, &info) != 0) {
        return nano_jobgen_not_stored(job, "image", path);
    }
    if (nano_job_stored(job, path, "image/png", info.width, info.height)
        != 0)
    {
        return nano_jobgen_not_stored(job, "image", NULL);
    }
    return NANO_JOB_DONE;
}

const nano_job_provider_t  nano_jobgen_offline_image = {
    .name = "offline-image",
    .offline = 1,
    .start = nano_jobgen_offline_start,
    .work = nano_jobgen_offline_image_work,
};
