/*
 * A module app: its page, its API (docs/MODULES.md "Module API") and its
 * job runner, the same for every module.  A module's main.c names its
 * registry entry and its providers; everything else is here.
 */

#ifndef NANO_MODULE_H
#define NANO_MODULE_H

#include "nano_gen_options.h"
#include "nano_http.h"
#include "nano_job_call.h"
#include "nano_job_store.h"
#include "nano_jobs.h"
#include "nano_jobs_answers.h"
#include "nano_textgen.h"

/* A module: its name in the registry and what generates for it.  A real
 * provider is used when key_env is set in the environment, the offline
 * one otherwise. */
typedef struct {
    const char                     *name;
    const char                     *key_env;     /* "GEMINI_API_KEY" */
    const nano_job_provider_t      *jobs;        /* image, video */
    const nano_job_provider_t      *jobs_offline;
    const nano_textgen_provider_t  *text;        /* text */
    const nano_textgen_provider_t  *text_offline;
    nano_gen_rules_t                rules;       /* images, video */
} nano_module_def_t;

/*
 * Runs the module app: the registry's title and kind, the routes of the
 * module API, the provider chosen by key_env, the job runner (which for
 * text modules ends generations whose process died).  Returns an exit
 * code (nano_server_main's).
 */
int nano_module_main(int argc, char **argv, const nano_module_def_t *def);

/* The job provider a text module's runner uses: it fails what it is
 * given (text generations are never queued; a running one whose lease ran
 * out lost its process) with a refund. */
extern const nano_job_provider_t  nano_module_interrupted;

/* The module's registry kind and whether its provider is offline, for
 * the handlers. */
const char *nano_module_kind(void);
int nano_module_offline(void);
const nano_module_def_t *nano_module_def(void);

/* The caller's id from the gateway, or answers 401 (returns NULL). */
const char *nano_module_user(nano_req_t *req, nano_res_t *res);

/* The 401 of a caller whose account the database no longer has. */
int nano_module_user_gone(nano_res_t *res);

/* Reads generate's settings from the environment once at start
 * (NANO_TEXT_WHOLE_TIMEOUT_MS); 0, or -1 with err set. */
int nano_module_generate_configure(char *err, size_t errlen);

/* Handlers (nano_module.c, nano_module_generate.c). */
int nano_module_page(nano_req_t *req, nano_res_t *res);
int nano_module_me(nano_req_t *req, nano_res_t *res);
int nano_module_models(nano_req_t *req, nano_res_t *res);
int nano_module_generate(nano_req_t *req, nano_res_t *res);
int nano_module_generation(nano_req_t *req, nano_res_t *res);
int nano_module_history(nano_req_t *req, nano_res_t *res);
int nano_module_delete(nano_req_t *req, nano_res_t *res);
int nano_module_cancel(nano_req_t *req, nano_res_t *res);
int nano_module_media(nano_req_t *req, nano_res_t *res);

/*
 * Waits (5 s at most) until no answer of user's is still being recorded
 * behind its reply in this process, so that user reads what they were
 * just answered (docs/MODULES.md "The answer's record").
 */
void nano_module_behind_wait(const char *user);

#endif /* NANO_MODULE_H */
