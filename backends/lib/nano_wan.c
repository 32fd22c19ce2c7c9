/*
 * DashScope asynchronous video (wan2.5): submit, poll, errors, backoff.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pthread.h>

#include "nano_wan.h"

typedef struct {
    const char  *size;
    const char  *resolution;
    int          offered;       /* by the generate API and the page */
} nano_wan_size_t;

/* The one list of video sizes: what wan2.5 accepts, and which of them a
 * generation may ask for (nano_wan_size_offered).  The generate API kept
 * a second list of its own, which nothing held to this one: a size added
 * there alone would have been admitted and charged, then refused here at
 * the submit. */
static const nano_wan_size_t  nano_wan_sizes[] = {
    { "1280*720", "720P", 1 }, { "720*1280", "720P", 1 },
    { "832*480", "480P", 1 }, { "480*832", "480P", 1 },
    { "1920*1080", "1080P", 1 }, { "1080*1920", "1080P", 1 },
    { "624*624", "480P", 0 }, { "960*960", "720P", 0 },
    { "1088*832", "720P", 0 }, { "832*1088", "720P", 0 },
    { "1440*1440", "1080P", 0 }, { "1632*1248", "1080P", 0 },
    { "1248*1632", "1080P", 0 },
};

#define NANO_WAN_NSIZES  (sizeof(nano_wan_sizes) / sizeof(*nano_wan_sizes))

static pthread_once_t  nano_wan_rule_once = PTHREAD_ONCE_INIT;
static char            nano_wan_rule[256];

static const char  *nano_wan_status_names[] = {
    "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN",
};

const char *
nano_wan_submit_path(void)
{
    return "/api/v1/services/aigc/video-generation/video-synthesis";
}

static int
nano_wan_task_id_ok(const char *id)
{
    size_t  n;

    if (id == NULL || id[0] == '\0') {
        return 0;
    }
    for (n = 0; id[n]; n++) {
        if (!isalnum((unsigned char) id[n]) && id[n] != '-' && id[n] != '_') {
            return 0;
        }
    }
    return n < NANO_WAN_TASK_ID_MAX;
}

int
nano_wan_poll_path(const char *task_id, char *buf, size_t size)
{
    int  n;

    if (!nano_wan_task_id_ok(task_id)) {
        return -1;
    }
    n = snprintf(buf, size, "/api/v1/tasks/%s", task_id);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

static const nano_wan_size_t *
nano_wan_size_find(const char *size)
{
    size_t  i;

    for (i = 0; size && i < NANO_WAN_NSIZES; i++) {
        if (strcmp(size, nano_wan_sizes[i].size) == 0) {
            return &nano_wan_sizes[i];
        }
    }
    return NULL;
}

const char *
nano_wan_size_offered(const char *s)
{
    const char  *e;
    size_t       i, j;

    for (i = 0; s != NULL && i < NANO_WAN_NSIZES; i++) {
        e = nano_wan_sizes[i].size;
        for (j = 0; e[j] != '\0'; j++) {
            if (s[j] != e[j] && !(e[j] == '*' && s[j] == 'x')) {
                break;
            }
        }
        if (e[j] == '\0' && s[j] == '\0' && nano_wan_sizes[i].offered) {
            return e;
        }
    }
    return NULL;
}

int
nano_wan_size_offered_nth(size_t n, char *buf, size_t size)
{
    const char  *e;
    size_t       i, j;

    for (i = 0; i < NANO_WAN_NSIZES; i++) {
        if (!nano_wan_sizes[i].offered || n-- > 0) {
            continue;
        }
        e = nano_wan_sizes[i].size;
        if (strlen(e) >= size) {
            return -1;
        }
        for (j = 0; e[j] != '\0'; j++) {
            buf[j] = e[j] == '*' ? 'x' : e[j];
        }
        buf[j] = '\0';
        return 0;
    }
    return -1;
}

static void
nano_wan_rule_make(void)
{
    const char  *sep = " ";
    size_t       i, n;

    n = (size_t) snprintf(nano_wan_rule, sizeof(nano_wan_rule),
                          "size must be one of");
    for (i = 0; i < NANO_WAN_NSIZES && n < sizeof(nano_wan_rule); i++) {
        if (nano_wan_sizes[i].offered) {
            n += (size_t) snprintf(nano_wan_rule + n,
                                   sizeof(nano_wan_rule) - n, "%s%s", sep,
                                   nano_wan_sizes[i].size);
            sep = ", ";
        }
    }
}

const char *
nano_wan_sizes_offered_rule(void)
{
    pthread_once(&nano_wan_rule_once, nano_wan_rule_make);
    return nano_wan_rule;
}

char *
nano_wan_submit_body(const nano_wan_request_t *r)
{
    json_t                 *root = NULL, *input, *params;
    const nano_wan_size_t  *sz;
    const char             *model;
    char                   *body = NULL;
    int                     duration;

    if (r == NULL || r->prompt == NULL || r->prompt[0] == '\0') {
        return NULL;
    }
    sz = nano_wan_size_find(r->size ? r->size : "1280*720");
    duration = r->duration ? r->duration : 5;
    if (sz == NULL || (duration != 5 && duration != 10)) {
        return NULL;
    }
    model = r->model ? r->model
                     : r->img_url ? NANO_WAN_I2V_MODEL : NANO_WAN_DEFAULT_MODEL;
    root = json_pack("{s:s, s:{s:s}, s:{s:i}}", "model", model,
                     "input", "prompt", r->prompt,
                     "parameters", "duration", duration);
    if (root == NULL) {
        return NULL;
    }
    input = json_object_get(root, "input");
    params = json_object_get(root, "parameters");
    if ((r->negative_prompt != NULL
         && json_object_set_new(input, "negative_prompt",
                                json_string(r->negative_prompt)) != 0)
        || (r->img_url != NULL
            && json_object_set_new(input, "img_url",
                                   json_string(r->img_url)) != 0)
        || json_object_set_new(params, r->img_url ? "resolution" : "size",
               json_string(r->img_url ? sz->resolution : sz->size)) != 0
        || (r->seed >= 0
            && json_object_set_new(params, "seed",
                                   json_integer(r->seed)) != 0)
        || (r->prompt_extend >= 0
            && json_object_set_new(params, "prompt_extend",
                                   json_boolean(r->prompt_extend)) != 0)
        || (r->audio >= 0
            && json_object_set_new(params, "audio",
                                   json_boolean(r->audio)) != 0))
    {
        goto out;
    }
    body = json_dumps(root, JSON_COMPACT);

out:
    json_decref(root);
    return body;
}

/* Maps a DashScope code and message for status (0: a failed task). */
static int
nano_wan_map(long status, const char *code, const char *message,
    nano_provider_error_t *err)
{
    char  clean[200], shown[NANO_PROVIDER_CODE_MAX];

    nano_provider_clean_message(message, clean, sizeof(clean));
    if (code == NULL) {
        code = "";
    }
    nano_provider_clean_code(code, shown, sizeof(shown));
    if (strcmp(code, "DataInspectionFailed") == 0
        || strstr(code, "DataInspection") != NULL
        || strcmp(code, "IPInfringementSuspect") == 0)
    {
        return nano_provider_error_set(err, NANO_PERR_BLOCKED, 0,
            "DashScope's content check refused the video (%s)", shown);
    }
    /* the model not bought (AccessDenied.Unpurchased) and its kin are
     * about what the account may use, not its key: the operator needs
     * the words */
    if (strncmp(code, "AccessDenied", 12) == 0) {
        return nano_provider_error_set(err, NANO_PERR_PROVIDER, 0,
            "DashScope refused the request (%s)%s%s", shown,
            clean[0] ? ": " : "", clean);
    }
    if (strcmp(code, "InvalidApiKey") == 0 || status == 401
        || status == 403)
    {
        return nano_provider_error_auth(err, NANO_PROVIDER_WAN, status);
    }
    if (strcmp(code, "Arrearage") == 0) {
        return nano_provider_error_set(err, NANO_PERR_QUOTA, 0,
            "DashScope's account is in arrears%s%s",
            clean[0] ? ": " : "", clean);
    }
    if (strncmp(code, "Throttling", 10) == 0) {
        return nano_provider_error_set(err, NANO_PERR_QUOTA, status != 0,
            "DashScope's rate limit or quota was reached (%s)%s%s", shown,
            clean[0] ? ": " : "", clean);
    }
    if (status == 0) {
        return nano_provider_error_set(err, NANO_PERR_PROVIDER, 0,
            "DashScope's video task failed (%s)%s%s",
            shown[0] ? shown : "no code", clean[0] ? ": " : "", clean);
    }
    return nano_provider_error_from_status(err, NANO_PROVIDER_WAN, status,
                                           clean);
}

int
nano_wan_parse_submit(const char *body, size_t len, char *task_id,
    nano_provider_error_t *err)
{
    json_t      *root;
    const char  *id;
    int          rc = -1;

    task_id[0] = '\0';
    root = nano_provider_json_parse(NANO_PROVIDER_WAN, body, len, err);
    if (root == NULL) {
        return -1;
    }
    id = nano_provider_json_str(json_object_get(root, "output"), "task_id");
    if (id == NULL) {
        if (nano_provider_json_str(root, "code") != NULL) {
            nano_wan_map(400, nano_provider_json_str(root, "code"),
                         nano_provider_json_str(root, "message"), err);
        } else {
            nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
                "DashScope's answer has no task id");
        }
        goto out;
    }
    if (!nano_wan_task_id_ok(id)) {
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "DashScope's task id is not usable");
        goto out;
    }
    snprintf(task_id, NANO_WAN_TASK_ID_MAX, "%s", id);
    rc = 0;

out:
    json_decref(root);
    return rc;
}

const char *
nano_wan_status_name(nano_wan_status_t s)
{
    if ((int) s < 0 || s > NANO_WAN_UNKNOWN) {
        return "UNKNOWN";
    }
    return nano_wan_status_names[s];
}

void
nano_wan_task_init(nano_wan_task_t *t)
{
    memset(t, 0, sizeof(*t));
    t->status = NANO_WAN_UNKNOWN;
}

void
nano_wan_task_cleanup(nano_wan_task_t *t)
{
    if (t == NULL) {
        return;
    }
    free(t->video_url);
    nano_wan_task_init(t);
}

int
nano_wan_parse_poll(const char *body, size_t len, nano_wan_task_t *t,
    nano_provider_error_t *err)
{
    json_t      *root, *output, *usage, *d;
    const char  *status, *url, *code;
    size_t       i;
    int          rc = -1, found = 0;

    nano_wan_task_cleanup(t);
    root = nano_provider_json_parse(NANO_PROVIDER_WAN, body, len, err);
    if (root == NULL) {
        return -1;
    }
    output = json_object_get(root, "output");
    status = nano_provider_json_str(output, "task_status");
    for (i = 0; status && i <= NANO_WAN_UNKNOWN; i++) {
        if (strcmp(status, nano_wan_status_names[i]) == 0) {
            t->status = (nano_wan_status_t) i;
            found = 1;
        }
    }
    if (!found) {
        nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
            "DashScope's task answer has no known task_status");
        goto out;
    }
    code = nano_provider_json_str(output, "code");
    nano_provider_clean_code(code, t->code, sizeof(t->code));
    usage = json_object_get(root, "usage");
    d = json_object_get(usage, "video_duration");
    if (json_is_number(d)) {
        t->video_duration = json_number_value(d);
    } else if (json_is_number(json_object_get(usage, "duration"))) {
        t->video_duration = json_number_value(json_object_get(usage,
                                                              "duration"));
    }
    switch (t->status) {
    case NANO_WAN_PENDING:
    case NANO_WAN_RUNNING:
        rc = 0;
        break;
    case NANO_WAN_SUCCEEDED:
        url = nano_provider_json_str(output, "video_url");
        if (url == NULL || (strncmp(url, "https://", 8) != 0
                            && strncmp(url, "http://", 7) != 0))
        {
            nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
                "DashScope's finished task has no video url");
            break;
        }
        t->video_url = strdup(url);
        if (t->video_url == NULL) {
            nano_provider_error_set(err, NANO_PERR_BAD_RESPONSE, 0,
                "Out of memory while reading DashScope's answer");
            break;
        }
        rc = 0;
        break;
    case NANO_WAN_FAILED:
        nano_wan_map(0, code, nano_provider_json_str(output, "message"), err);
        break;
    case NANO_WAN_CANCELED:
        nano_provider_error_set(err, NANO_PERR_PROVIDER, 0,
            "DashScope's video task was canceled");
        break;
    case NANO_WAN_UNKNOWN:
        nano_provider_error_set(err, NANO_PERR_PROVIDER, 0,
            "DashScope does not know the video task (it may have expired)");
        break;
    }

out:
    json_decref(root);
    return rc;
}

int
nano_wan_parse_error(long status, const char *body, size_t len,
    nano_provider_error_t *err)
{
    json_t  *root;

    root = nano_provider_json_load(body, len);
    if (nano_provider_json_str(root, "code") != NULL
        || nano_provider_json_str(root, "message") != NULL)
    {
        nano_wan_map(status > 0 ? status : 400,
                     nano_provider_json_str(root, "code"),
                     nano_provider_json_str(root, "message"), err);
    } else {
        nano_provider_error_from_status(err, NANO_PROVIDER_WAN, status, NULL);
    }
    json_decref(root);
    return -1;
}

long
nano_wan_poll_delay_ms(unsigned attempt, uint32_t rnd)
{
    return nano_provider_backoff_ms(attempt, NANO_WAN_POLL_BASE_MS,
                                    NANO_WAN_POLL_CAP_MS, rnd, 0);
}
