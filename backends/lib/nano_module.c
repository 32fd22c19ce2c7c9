/*
 * The module app: routes, page, models, generations, history, media.
 * Generation itself is in nano_module_generate.c.
 */

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nano_clock.h"
#include "nano_credits.h"
#include "nano_dbpool.h"
#include "nano_gen.h"
#include "nano_gen_options.h"
#include "nano_log.h"
#include "nano_module.h"
#include "nano_page.h"
#include "nano_provider_call.h"
#include "nano_registry.h"
#include "nano_schema.h"
#include "nano_server.h"
#include "nano_sweep.h"
#include "nano_wan.h"

/* generate's body: an image to edit comes as multipart up to 10 MiB
 * (or in JSON, which nano_server holds to NANO_ROUTE_INLINE_MAX); a
 * module that takes no image needs no more than its 50 messages. */
#define NANO_MODULE_UPLOAD_MAX  (11 * 1024 * 1024)
#define NANO_MODULE_BODY_MAX    (1024 * 1024)

static const nano_module_def_t  *nano_module_current;
static char                      nano_module_kind_name[16] = "text";
static int                       nano_module_is_offline = 1;
/* what it runs on, as reported to "ModuleStatus" (the dashboard's
 * provider): /api/models says the same */
static const char               *nano_module_provider_name;

/* not const: generate's body_max follows the module's image input */
static nano_route_t  nano_module_routes[] = {
    { "GET",    "/",                              nano_module_page, 0, 0 },
    { "GET",    "/api/me",                        nano_module_me, 0, 0 },
    { "GET",    "/api/models",                    nano_module_models, 0, 0 },
    { "POST",   "/api/generate",                  nano_module_generate,
      NANO_MODULE_UPLOAD_MAX, NANO_ROUTE_UPLOAD },
    { "GET",    "/api/generations/{id}",          nano_module_generation,
      0, 0 },
    { "DELETE", "/api/generations/{id}",          nano_module_delete, 0, 0 },
    { "POST",   "/api/generations/{id}/cancel",   nano_module_cancel, 0, 0 },
    { "GET",    "/api/history",                   nano_module_history, 0, 0 },
    { "GET",    "/media/{id}/{file}",             nano_module_media, 0, 0 },
};

const char *
nano_module_kind(void)
{
    return nano_module_kind_name;
}

int
nano_module_offline(void)
{
    return nano_module_is_offline;
}

const nano_module_def_t *
nano_module_def(void)
{
    return nano_module_current;
}

/* Fails every job it is given: see nano_module.h. */
static nano_job_next_t
nano_module_interrupted_start(nano_job_t *job)
{
    return nano_job_fail(job, "interrupted",
                         "the generation was cut short when its server"
                         " stopped; your credits were refunded");
}

static nano_job_next_t
nano_module_interrupted_step(nano_job_t *job, const nano_client_res_t *res)
{
    (void) res;
    return nano_module_interrupted_start(job);
}

const nano_job_provider_t  nano_module_interrupted = {
    .name = "interrupted",
    .offline = 1,
    .start = nano_module_interrupted_start,
    .step = nano_module_interrupted_step,
};

#define NANO_MODULE_REPORT_RETRY_MS  2000     /* nano_module_report */

/* Records what this module runs on ("ModuleStatus"), for the dashboard.
 * 0, or -1 when it could not (the last report stays in place; logged
 * when loud). */
static int
nano_module_report_once(const char *provider, int loud)
{
    static const char   sql[] =
        "INSERT INTO \"ModuleStatus\" (\"module\", \"kind\", \"provider\","
        " \"offline\") VALUES ($1, $2, $3, $4) ON CONFLICT (\"module\") DO"
        " UPDATE SET \"kind\" = EXCLUDED.\"kind\", \"provider\" ="
        " EXCLUDED.\"provider\", \"offline\" = EXCLUDED.\"offline\","
        " \"updatedAt\" = (now() AT TIME ZONE 'utc')";
    const char         *params[4];
    nano_db_status_t    st;
    nano_db_t          *db;

    db = nano_server_db_get(2000);
    if (db == NULL) {
        if (loud) {
            nano_log_warn("cannot report the module's provider: no"
                          " database connection");
        }
        return -1;
    }
    params[0] = nano_module_current->name;
    params[1] = nano_module_kind_name;
    params[2] = provider;
    params[3] = nano_module_is_offline ? "true" : "false";
    PQclear(nano_db_exec(db, sql, 4, params, PGRES_COMMAND_OK, &st));
    if (st != NANO_DB_OK && loud) {
        nano_log_warn("cannot report the module's provider: %s; trying"
                      " again every %d s", nano_db_last_error(db),
                      NANO_MODULE_REPORT_RETRY_MS / 1000);
    }
    nano_server_db_put(db);
    return st == NANO_DB_OK ? 0 : -1;
}

/*
 * A report that failed at the start (the database out of reach: a host's
 * boot before PostgreSQL, a restart during a failover) is sent again
 * every NANO_MODULE_REPORT_RETRY_MS until it lands.  Sent once only, the
 * last process's report stayed for as long as this one ran: a provider
 * key added showed the module offline on the dashboard, a key removed
 * showed the provider while it made offline placeholders (found by the
 * failures probe).
 */
static struct {
    pthread_mutex_t  lock;
    pthread_cond_t   wake;
    pthread_t        thread;
    int              running;
    int              stopping;
    const char      *provider;
} nano_module_reporter = {
    .lock = PTHREAD_MUTEX_INITIALIZER
};

static void *
nano_module_reporter_run(void *arg)
{
    struct timespec  until;
    int              done = 0;

    (void) arg;
    pthread_mutex_lock(&nano_module_reporter.lock);
    while (!nano_module_reporter.stopping && !done) {
        nano_clock_after(CLOCK_MONOTONIC, NANO_MODULE_REPORT_RETRY_MS,
                         &until);
        while (!nano_module_reporter.stopping
               && pthread_cond_timedwait(&nano_module_reporter.wake,
                                         &nano_module_reporter.lock, &until)
                  != ETIMEDOUT)
        {
        }
        if (nano_module_reporter.stopping) {
            break;
        }
        pthread_mutex_unlock(&nano_module_reporter.lock);
        done = nano_module_report_once(nano_module_reporter.provider, 0)
               == 0;
        pthread_mutex_lock(&nano_module_reporter.lock);
    }
    pthread_mutex_unlock(&nano_module_reporter.lock);
    if (done) {
        nano_log_info("reported the module's provider");
    }
    return NULL;
}

/* Reports now, and keeps trying in a thread of its own when that fails. */
static void
nano_module_report(const char *provider)
{
    pthread_condattr_t  attr;

    if (nano_module_report_once(provider, 1) == 0) {
        return;
    }
    /* waits are timed on the monotonic clock: a clock step never makes
     * one last an hour */
    if (pthread_condattr_init(&attr) != 0) {
        return;
    }
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0
        && pthread_cond_init(&nano_module_reporter.wake, &attr) == 0)
    {
        nano_module_reporter.provider = provider;
        nano_module_reporter.stopping = 0;
        if (pthread_create(&nano_module_reporter.thread, NULL,
                           nano_module_reporter_run, NULL) == 0)
        {
            nano_module_reporter.running = 1;
        } else {
            pthread_cond_destroy(&nano_module_reporter.wake);
            nano_log_warn("cannot start the module's report retries");
        }
    }
    pthread_condattr_destroy(&attr);
}

static void
nano_module_report_stop(void)
{
    if (!nano_module_reporter.running) {
        return;
    }
    pthread_mutex_lock(&nano_module_reporter.lock);
    nano_module_reporter.stopping = 1;
    pthread_cond_signal(&nano_module_reporter.wake);
    pthread_mutex_unlock(&nano_module_reporter.lock);
    pthread_join(nano_module_reporter.thread, NULL);
    pthread_cond_destroy(&nano_module_reporter.wake);
    nano_module_reporter.running = 0;
}

/* The app's start hook: picks the provider, starts the runner. */
static int
nano_module_start(const nano_config_t *config)
{
    const nano_module_def_t    *def = nano_module_current;
    const nano_job_provider_t  *jobs;
    const char                 *key;
    char                        err[256];
    int                         real;

    if (nano_page_check(config->root, def->name, "index.html", err,
                        sizeof(err)) != 0
        || nano_gen_configure(err, sizeof(err)) != 0
        || nano_credits_configure(err, sizeof(err)) != 0
        || nano_module_generate_configure(err, sizeof(err)) != 0)
    {
        nano_log_error("%s", err);
        return -1;
    }
    /* the job runner keeps one of the pool's connections for as long as
     * it runs (its LISTEN): with one, every request waited for it, then
     * answered 503 (found by the limits probe) */
    if (nano_server_db_pool_size() < 2) {
        nano_log_error("NANO_DB_POOL must be a number from 2 to %d in a"
                       " module (not 1): its job runner keeps one"
                       " connection", NANO_DBPOOL_MAX);
        return -1;
    }
    if (nano_client_global_init() != 0) {
        nano_log_error("cannot initialise libcurl");
        return -1;
    }
    key = def->key_env != NULL ? getenv(def->key_env) : NULL;
    real = key != NULL && key[0] != '\0';
    if (real && nano_provider_env_check(def->key_env, err, sizeof(err)) != 0)
    {
        nano_log_error("%s", err);
        return -1;
    }
    if (strcmp(nano_module_kind_name, "text") == 0) {
        nano_module_is_offline = !real || def->text == NULL;
        nano_log_info("%s: text from %s%s", def->name,
                      nano_module_is_offline ? def->text_offline->name
                                             : def->text->name,
                      nano_module_is_offline && def->key_env != NULL
                      ? " (no key in the environment)" : "");
        nano_module_provider_name = nano_module_is_offline
                                    ? def->text_offline->name
                                    : def->text->name;
        nano_module_report(nano_module_provider_name);
        /* its runner only renews its answers' leases (and fails what a
         * dead process left); its sweep has no media of its own, only
         * its uploads in tmp/, which only this process's user may
         * remove there */
        jobs = &nano_module_interrupted;
    } else {
        nano_module_is_offline = !real || def->jobs == NULL;
        jobs = nano_module_is_offline ? def->jobs_offline : def->jobs;
        nano_module_provider_name = jobs->name;
        nano_module_report(nano_module_provider_name);
    }
    nano_schema_check(config->root);
    if (nano_jobs_start(def->name, jobs, config->media_dir) != 0) {
        return -1;
    }
    if (nano_sweep_start(def->name, nano_job_media_root(), err,
                         sizeof(err)) != 0)
    {
        nano_log_error("%s", err);
        nano_jobs_stop();
        return -1;
    }
    return 0;
}

/* The stop signal: the job runner drains while the workers still serve,
 * so that the module answers throughout (a job admitted meanwhile waits
 * queued for the next process). */
static void
nano_module_stopping(void)
{
    nano_jobs_drain();
    nano_jobs_wait_drained();
}

static void
nano_module_stop(void)
{
    nano_module_report_stop();
    nano_sweep_stop();
    nano_jobs_stop();
}

int
nano_module_main(int argc, char **argv, const nano_module_def_t *def)
{
    const nano_registry_module_t  *reg;
    const char                    *root = getenv("NANO_ROOT");
    char                           err[512];
    static char                    help[512];
    const nano_provider_info_t    *info;
    const char                    *base_env = "no base URL";
    nano_app_t                     app;
    size_t                         i;
    int                            p;

    memset(&app, 0, sizeof(app));
    app.name = def->name;
    app.title = def->name;
    app.routes = nano_module_routes;
    app.nroutes = sizeof(nano_module_routes) / sizeof(nano_module_routes[0]);
    app.env_help = help;
    for (p = 0; def->key_env != NULL && p < NANO_PROVIDER_COUNT; p++) {
        info = nano_provider_info((nano_provider_t) p);
        if (strcmp(info->key_env, def->key_env) == 0) {
            base_env = info->base_env;
            break;
        }
    }
    snprintf(help, sizeof(help),
             "Module: %s (unset: the offline provider), %s,\n"
             "NANO_MAX_INFLIGHT_PER_USER, NANO_JOBS_MAX, NANO_JOBS_BODY_MB,\n"
             "NANO_JOBS_DOWNLOAD_MB, NANO_JOBS_DRAIN_SECS,\n"
             "NANO_TEXT_WHOLE_TIMEOUT_MS.\n",
             def->key_env != NULL ? def->key_env : "no provider key",
             base_env);
    /* --help needs no registry: it is for finding out how to set one */
    for (i = 1; i < (size_t) argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            return nano_server_main(argc, argv, &app);
        }
    }

    /* the registry says the kind, and the kind the default worker count,
     * which the server needs before it reads the rest of the config */
    if (nano_registry_load(root != NULL && root[0] != '\0' ? root : ".", err,
                           sizeof(err)) != 0)
    {
        fprintf(stderr, "%s: %s\n", def->name, err);
        return 1;
    }
    reg = nano_registry_find(def->name);
    if (reg == NULL) {
        fprintf(stderr, "%s: not in the module registry (modules.conf)\n",
                def->name);
        return 1;
    }
    /* the kind is the registry's, the providers are compiled in: a kind
     * edited in modules.conf left the offline provider NULL, and the
     * start a segfault that make run restarted over and over */
    if (strcmp(reg->kind, "text") == 0 ? def->text_offline == NULL
                                       : def->jobs_offline == NULL)
    {
        fprintf(stderr, "%s: the module registry says %s, and this app"
                " generates %s\n", def->name, reg->kind,
                def->text_offline != NULL ? "text" : "image or video");
        return 1;
    }
    snprintf(nano_module_kind_name, sizeof(nano_module_kind_name), "%s",
             reg->kind);
    nano_module_current = def;

    for (i = 0; i < sizeof(nano_module_routes) / sizeof(nano_module_routes[0]);
         i++)
    {
        if (nano_module_routes[i].handler == nano_module_generate) {
            nano_module_routes[i].body_max = def->rules.image_input
                                             ? NANO_MODULE_UPLOAD_MAX
                                             : NANO_MODULE_BODY_MAX;
        }
    }

    /* a text call holds its worker for its whole length */
    app.workers = strcmp(reg->kind, "text") == 0 ? 64 : 8;
    app.start = nano_module_start;
    app.stop = nano_module_stop;
    app.stopping = nano_module_stopping;
    return nano_server_main(argc, argv, &app);
}

const char *
nano_module_user(nano_req_t *req, nano_res_t *res)
{
    const char  *id = nano_req_param_str(req, "NANO_USER_ID");

    /* the gateway always passes it for a signed-in user; without it the
     * location lacks `nano_auth on`, and we fail closed */
    if (id[0] == '\0') {
        nano_res_error(res, 401, "unauthorized", "no identity from the"
                       " gateway");
        return NULL;
    }
    return id;
}

int
nano_module_user_gone(nano_res_t *res)
{
    return nano_res_error(res, 401, "unauthorized", "this account no"
                          " longer exists");
}

/* The registry's title of this module. */
static const char *
nano_module_title(const nano_req_t *req)
{
    const nano_registry_module_t  *reg = nano_registry_find(req->app->name);

    return reg != NULL ? reg->title : req->app->name;
}

int
nano_module_page(nano_req_t *req, nano_res_t *res)
{
    const char  *name;

    if (nano_module_user(req, res) == NULL) {
        return 401;
    }
    name = nano_page_user(req);

    const nano_page_var_t  vars[] = {
        { "title",      nano_module_title(req),                0 },
        { "user_name",  name,                                  0 },
        { "user_email", nano_req_param_str(req, "NANO_USER_EMAIL"), 0 },
        { "base",       req->script_name,                      0 },
        { "module",     req->app->name,                        0 },
        { "kind",       nano_module_kind_name,                 0 },
        { "offline",    nano_module_is_offline ? "true" : "false", 0 },
    };
    return nano_page_render(req, res, 200, "index.html", name, vars,
                            sizeof(vars) / sizeof(vars[0]));
}

int
nano_module_me(nano_req_t *req, nano_res_t *res)
{
    const char  *id;

    /* the identity the gateway passed, as it passed it: no read of the
     * account (history and generate refuse a deleted one themselves) */
    if ((id = nano_module_user(req, res)) == NULL) {
        return 401;
    }
    return nano_res_json(res, 200,
                         json_pack("{s:s, s:s, s:s, s:s}",
                                   "id", id,
                                   "email",
                                   nano_req_param_str(req, "NANO_USER_EMAIL"),
                                   "name",
                                   nano_req_param_str(req, "NANO_USER_NAME"),
                                   "module", req->app->name));
}

int
nano_module_models(nano_req_t *req, nano_res_t *res)
{
    static const char   sql[] =
        "SELECT \"model\", \"label\", \"credits\" FROM \"ModelPrice\""
        " WHERE \"module\" = $1 ORDER BY \"sort\", \"model\"";
    const nano_registry_module_t  *reg = nano_registry_find(req->app->name);
    const char         *params[1] = { req->app->name };
    nano_db_status_t    st;
    nano_db_t          *db;
    PGresult           *r;
    json_t             *models, *m, *answer, *sizes;
    char                size[16];
    size_t              k;
    int                 i, n;

    if (nano_module_user(req, res) == NULL) {
        return 401;
    }
    db = nano_server_db(req);
    r = db != NULL ? nano_db_exec(db, sql, 1, params, PGRES_TUPLES_OK, &st)
                   : NULL;
    if (r == NULL) {
        return nano_server_db_error(res, db, db != NULL ? st
                                                        : NANO_DB_UNAVAILABLE);
    }
    models = json_array();
    n = PQntuples(r);
    for (i = 0; i < n && models != NULL; i++) {
        m = json_pack("{s:s, s:s, s:I}", "id", PQgetvalue(r, i, 0),
                      "label", PQgetvalue(r, i, 1),
                      "cost", (json_int_t) strtoll(PQgetvalue(r, i, 2), NULL,
                                                   10));
        if (m == NULL || json_array_append_new(models, m) != 0) {
            json_decref(models);
            models = NULL;
        }
    }
    PQclear(r);
    answer = json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:o*}",
                       "module", req->app->name,
                       "title", nano_module_title(req),
                       "kind", nano_module_kind_name,
                       "provider",
                       nano_module_provider_name != NULL
                       ? nano_module_provider_name
                       : reg != NULL ? reg->provider : "offline",
                       "offline", nano_module_is_offline,
                       "promptMaxBytes", NANO_GEN_PROMPT_MAX,
                       "models", models);
    if (answer != NULL && strcmp(nano_module_kind_name, "video") == 0) {
        /* what generate takes, so that the page offers exactly that and
         * keeps no list of its own */
        sizes = json_array();
        for (k = 0; sizes != NULL
                    && nano_wan_size_offered_nth(k, size, sizeof(size)) == 0;
             k++)
        {
            json_array_append_new(sizes, json_string(size));
        }
        if (sizes == NULL
            || json_object_set_new(answer, "sizes", sizes) != 0
            || json_object_set_new(answer, "durations",
                                   json_pack("[i]", NANO_GEN_VIDEO_SECONDS))
               != 0)
        {
            json_decref(answer);
            answer = NULL;
        }
    }
    return nano_res_json(res, 200, answer);
}

/*
 * The path's {id} when it can name a generation (ids are UUIDs), else
 * NULL: anything else is answered 404, as another user's would be, and
 * costs no database read.
 */
static const char *
nano_module_gen_id(nano_req_t *req)
{
    const char  *id = nano_req_path_param(req, "id");

    return nano_gen_uuid_ok(id) ? id : NULL;
}

/*
 * 404 for a generation or file the user does not have; 401 when the
 * user is gone too (deleted, the gateway not yet told), as the history
 * answers, so that the page says to sign in.  The second read runs only
 * on this path.
 */
static int
nano_module_not_found(nano_res_t *res, nano_db_t *db, const char *user,
    const char *message)
{
    int  gone = 0;

    if (db != NULL && nano_gen_owner_gone(db, user, &gone) == NANO_DB_OK
        && gone)
    {
        return nano_module_user_gone(res);
    }
    return nano_res_error(res, 404, "not_found", message);
}

int
nano_module_generation(nano_req_t *req, nano_res_t *res)
{
    const char        *user, *id = nano_module_gen_id(req);
    nano_gen_t         g;
    nano_db_status_t   st;
    nano_db_t         *db;
    char               names[64];
    int                found, status;

    if ((user = nano_module_user(req, res)) == NULL) {
        return 401;
    }
    if (id == NULL) {
        return nano_res_error(res, 404, "not_found", "no such generation");
    }
    nano_module_behind_wait(user);
    nano_gen_init(&g);
    db = nano_server_db(req);
    st = db != NULL ? nano_gen_get(db, id, user, &g, &found)
                    : NANO_DB_UNAVAILABLE;
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
    } else if (!found) {
        status = nano_module_not_found(res, db, user, "no such generation");
    } else if (strcmp(g.module, req->app->name) != 0) {
        status = nano_res_error(res, 404, "not_found",
                                "no such generation");
    } else {
        /* what can be read, the rest null and named (docs/MODULES.md) */
        if (g.unreadable != 0) {
            nano_log_warn("generation %s: its %s cannot be read; answered"
                          " without", id,
                          nano_gen_unreadable_names(g.unreadable, names,
                                                    sizeof(names)));
        }
        status = nano_res_json(res, 200, nano_gen_json(&g, req->script_name));
    }
    nano_gen_cleanup(&g);
    return status;
}

int
nano_module_history(nano_req_t *req, nano_res_t *res)
{
    const char        *user, *cursor;
    nano_form_t        q;
    nano_db_status_t   st;
    nano_db_t         *db;
    json_t            *items = NULL;
    char              *next = NULL;
    long               limit;
    int                status, gone = 0;

    if ((user = nano_module_user(req, res)) == NULL) {
        return 401;
    }
    status = nano_req_page(req, res, &q, NANO_GEN_HISTORY_LIMIT,
                           NANO_GEN_HISTORY_MAX, &limit, &cursor);
    if (status != 0) {
        goto out;
    }
    nano_module_behind_wait(user);
    db = nano_server_db(req);
    st = db != NULL ? nano_gen_history(db, user, req->app->name, (int) limit,
                                       cursor, req->script_name, &items,
                                       &next, &gone)
                    : NANO_DB_UNAVAILABLE;
    if (st == NANO_DB_OK && gone) {
        status = nano_module_user_gone(res);
    } else {
        status = nano_server_page(res, db, st, "items", &items, next);
    }
out:
    json_decref(items);
    free(next);
    nano_form_cleanup(&q);
    return status;
}

/* Removes a deleted generation's files and the folders left empty.  One
 * that cannot go (a read-only or immutable folder) is said in the log:
 * its row is gone, and the owner believes the picture is. */
static void
nano_module_remove_files(json_t *files)
{
    const char  *root = nano_job_media_root(), *file;
    char         path[PATH_MAX], *slash;
    json_t      *f;
    size_t       i;

    json_array_foreach(files, i, f) {
        file = json_string_value(f);
        if (file == NULL || strstr(file, "..") != NULL
            || snprintf(path, sizeof(path), "%s/%s", root, file)
               >= (int) sizeof(path))
        {
            continue;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            nano_log_warn("cannot remove %s of a deleted generation: %s",
                          path, strerror(errno));
        }
        if ((slash = strrchr(path, '/')) != NULL) {
            *slash = '\0';
            rmdir(path);
        }
    }
}

/* A change by the owner (cancel, delete) as an answer. */
static int
nano_module_change(nano_req_t *req, nano_res_t *res, int delete)
{
    const char         *user, *id = nano_module_gen_id(req);
    nano_gen_change_t   out;
    nano_db_status_t    st;
    nano_db_t          *db;
    json_t             *files = NULL;
    int                 status;

    if ((user = nano_module_user(req, res)) == NULL) {
        return 401;
    }
    if (nano_req_cross_site(req)) {
        return nano_res_error(res, 403, "csrf",
                              "this request came from another site");
    }
    if (id == NULL) {
        return nano_res_error(res, 404, "not_found", "no such generation");
    }
    nano_module_behind_wait(user);
    db = nano_server_db(req);
    if (db == NULL) {
        return nano_server_db_error(res, NULL, NANO_DB_UNAVAILABLE);
    }
    st = delete ? nano_gen_delete(db, id, user, req->app->name, &out, &files)
                : nano_gen_cancel(db, id, user, req->app->name, &out);
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
    } else if (out == NANO_GEN_NOT_FOUND) {
        status = nano_module_not_found(res, db, user, "no such generation");
    } else if (out == NANO_GEN_CONFLICT) {
        status = delete
                 ? nano_res_error(res, 409, "running",
                                  "it is still running; wait for it to"
                                  " finish")
                 : nano_res_error(res, 409, "not_queued",
                                  "only a generation that has not started"
                                  " can be canceled");
    } else if (delete) {
        nano_module_remove_files(files);
        status = nano_res_json(res, 200, json_pack("{s:b}", "ok", 1));
    } else {
        nano_log_info("generation %s canceled by its owner", id);
        status = nano_res_json(res, 200, json_pack("{s:s, s:s}", "id", id,
                                                   "status", "canceled"));
    }
    json_decref(files);
    return status;
}

int
nano_module_delete(nano_req_t *req, nano_res_t *res)
{
    return nano_module_change(req, res, 1);
}

int
nano_module_cancel(nano_req_t *req, nano_res_t *res)
{
    return nano_module_change(req, res, 0);
}

int
nano_module_media(nano_req_t *req, nano_res_t *res)
{
    const char        *user, *want = nano_req_path_param(req, "file");
    const char        *id = nano_module_gen_id(req), *file, *name;
    nano_gen_t         g;
    nano_db_status_t   st;
    nano_db_t         *db;
    json_t            *o;
    struct stat        sb;
    char               uri[PATH_MAX], path[PATH_MAX];
    size_t             i;
    int                found, status;

    if ((user = nano_module_user(req, res)) == NULL) {
        return 401;
    }
    if (id == NULL) {
        return nano_res_error(res, 404, "not_found", "no such file");
    }
    nano_gen_init(&g);
    db = nano_server_db(req);
    st = db != NULL ? nano_gen_get(db, id, user, &g, &found)
                    : NANO_DB_UNAVAILABLE;
    if (st != NANO_DB_OK) {
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    if (!found) {
        status = nano_module_not_found(res, db, user, "no such file");
        goto out;
    }
    /* only the owner's own outputs, by the name the row gave them */
    status = nano_res_error(res, 404, "not_found", "no such file");
    if (strcmp(g.module, req->app->name) != 0) {
        goto out;
    }
    json_array_foreach(g.outputs, i, o) {
        file = json_string_value(json_object_get(o, "file"));
        if (file == NULL || strstr(file, "..") != NULL) {
            continue;
        }
        name = strrchr(file, '/');
        name = name != NULL ? name + 1 : file;
        if (strcmp(name, want) != 0) {
            continue;
        }
        /* a file gone from the disk (removed by hand, a restore that
         * missed it) was nginx's HTML page, and no backend said which
         * generation lost what */
        if (snprintf(path, sizeof(path), "%s/%s", nano_job_media_root(),
                     file) >= (int) sizeof(path)
            || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        {
            nano_log_warn("generation %s: its file %s is not in the media"
                          " folder", id, file);
            status = nano_res_error(res, 404, "not_found", "the file is no"
                                    " longer on the server");
            goto out;
        }
        /* nginx sends the file itself, with ranges: /_nano_media/ is an
         * internal location over NANO_MEDIA_DIR */
        if (snprintf(uri, sizeof(uri), "/_nano_media/%s", file)
            >= (int) sizeof(uri)
            || nano_res_file(res, uri) != 0)
        {
            status = nano_res_error(res, 500, "internal", "bad file name");
            goto out;
        }
        status = 200;
        goto out;
    }
out:
    nano_gen_cleanup(&g);
    return status;
}
