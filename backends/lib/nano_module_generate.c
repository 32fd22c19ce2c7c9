/*
 * POST /<m>/api/generate: a text answer on this request (streamed or
 * whole), or an image or video job for the runner.  Either way the
 * debit is taken in the transaction that creates the generation.
 */

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nano_chat.h"
#include "nano_config.h"
#include "nano_file.h"
#include "nano_gen.h"
#include "nano_image.h"
#include "nano_image_scale.h"
#include "nano_log.h"
#include "nano_module.h"
#include "nano_multipart.h"
#include "nano_server.h"
#include "nano_stream.h"

#define NANO_GEN_TURNS_MAX      20      /* earlier turns sent again */
#define NANO_GEN_BEHIND_WAIT    5       /* s, at most */
/* Why a text answer's end updated no row: its lease ran out and another
 * process holds it, or the row went with its account (or was deleted). */
#define NANO_GEN_NOT_HELD  "the row is gone (a deleted account) or another" \
                           " process holds it"
/* A whole (not streamed) answer's time, retries included: under nginx's
 * fastcgi_read_timeout (60 s as shipped), past which its client gets a
 * 504 from nginx and this process a closed connection.  Ending first
 * answers the 504 here, with the generation's id and its refund. */
#define NANO_GEN_TEXT_WHOLE_MS  50000
/* How long a whole answer waits for a stream slot before its 429 */
#define NANO_GEN_SLOT_WAIT_MS   2000

static int  nano_gen_text_whole_ms = NANO_GEN_TEXT_WHOLE_MS;

int
nano_module_generate_configure(char *err, size_t errlen)
{
    return nano_config_env_int("NANO_TEXT_WHOLE_TIMEOUT_MS",
                               NANO_GEN_TEXT_WHOLE_MS, 1000, 3600000,
                               &nano_gen_text_whole_ms, err, errlen);
}

/* The answer to a refused admission. */
static int
nano_gen_refused(nano_res_t *res, nano_gen_admit_t admit)
{
    if (admit == NANO_GEN_NO_CREDITS) {
        return nano_res_error(res, 402, "insufficient_credits",
                              "you do not have enough credits for this");
    }
    if (admit == NANO_GEN_NO_MODEL) {
        return nano_res_field_error(res, "model", "no such model here");
    }
    if (admit == NANO_GEN_KEY_REUSED) {
        return nano_res_error(res, 422, "idempotency_key_reused",
                              "this Idempotency-Key was sent before with"
                              " another request");
    }
    if (admit == NANO_GEN_NO_USER) {
        /* deleted while its session was still good: a request on the
         * way when the gateway learnt of it, or a slow upload */
        return nano_module_user_gone(res);
    }
    if (admit == NANO_GEN_NO_PRICE) {
        nano_log_error("no price for this module (ModelPrice)");
        return nano_res_error(res, 500, "internal", "this module has no"
                              " price list");
    }
    /* RFC 6585's hint, which HTTP clients' retry logic reads: a
     * generation takes seconds */
    nano_res_header(res, "Retry-After", "5");
    return nano_res_error(res, 429, "too_many_in_flight",
                          "you already have too many generations running in"
                          " this module; wait for one to finish");
}

/* ---- text ---------------------------------------------------------------- */

typedef struct {
    nano_req_t  *req;
    int          stream;
    int          pending;    /* the debit's commit is not known durable */
    int          lost;       /* and it did not commit (or it is unknown) */
} nano_gen_sink_t;

/*
 * The debit commits while the provider is asked (nano_db_exec_early);
 * nothing of the answer reaches the user before it is durable.  Settles
 * it, without waiting unless wait: 1 settled (the connection then goes
 * back to the pool for the rest of the answer), 0 not yet, -1 it did not
 * commit.
 */
static int
nano_gen_settle(nano_gen_sink_t *sink, int wait)
{
    nano_db_t         *db = sink->req->db;
    nano_db_status_t   st;

    if (!sink->pending) {
        return sink->lost ? -1 : 1;
    }
    if (!wait && nano_db_settle_ready(db) == 0) {
        return 0;
    }
    st = nano_db_settle(db);
    sink->pending = 0;
    if (st != NANO_DB_OK) {
        nano_log_error("a generation's debit did not commit: %s",
                       nano_db_last_error(db));
        sink->lost = 1;
    }
    nano_server_db_release(sink->req);
    return sink->lost ? -1 : 1;
}

/* A token count for the answer (new): null when the provider reported
 * none (no usage chunk), never the -1 that stands for it. */
static json_t *
nano_gen_count(long long n)
{
    return n >= 0 ? json_integer((json_int_t) n) : json_null();
}

static int
nano_gen_on_watch(void *arg)
{
    return nano_gen_settle(arg, 0);
}

static int
nano_gen_on_delta(const char *text, size_t len, void *arg)
{
    nano_gen_sink_t  *sink = arg;

    if (nano_gen_settle(sink, 1) < 0) {
        return -1;
    }
    if (!sink->stream) {
        return 0;
    }
    return nano_sse_event(sink->req, "delta",
                          json_pack("{s:s%}", "text", text, len));
}

/* A stream's heartbeat; for a whole answer, whether nginx still waits
 * for it (past its read timeout it closed the connection, and its
 * client was answered 504: the call stops, and is refunded). */
static int
nano_gen_on_idle(void *arg)
{
    nano_gen_sink_t  *sink = arg;

    if (sink->stream) {
        return nano_sse_heartbeat(sink->req);
    }
    return nano_stream_peer_closed(sink->req) ? -1 : 0;
}

/* The HTTP status of a provider error for a whole (not streamed) answer. */
static int
nano_gen_error_status(const char *code)
{
    if (strcmp(code, "blocked") == 0) {
        return 422;
    }
    if (strcmp(code, "bad_request") == 0) {
        return 400;
    }
    if (strcmp(code, "timeout") == 0) {
        return 504;
    }
    if (strcmp(code, "provider_quota") == 0) {
        return 503;
    }
    return 502;
}

/* Builds the messages for the provider: earlier turns of the
 * conversation (none when it is new: fresh), then the new ones (o, as
 * nano_gen_text_options checked them).  A new reference, or NULL after
 * answering. */
static json_t *
nano_gen_messages(nano_req_t *req, nano_res_t *res,
    const nano_gen_text_opts_t *o, const char *user,
    const char *conversation, int fresh)
{
    json_t            *messages = NULL, *m;
    nano_db_t         *db;
    nano_db_status_t   st;
    int                found;

    if (fresh) {
        /* an id made for this request has no earlier turns to read */
        messages = json_array();
        if (messages == NULL) {
            nano_res_error(res, 500, "internal", "out of memory");
            return NULL;
        }
    } else {
        /* the last answer may still be on its way to its row */
        nano_module_behind_wait(user);
        db = nano_server_db(req);
        if (db == NULL) {
            nano_server_db_error(res, NULL, NANO_DB_UNAVAILABLE);
            return NULL;
        }
        /* a connection the database's restart broke says unavailable:
         * a 503, as for a new conversation, not a 500 */
        st = nano_gen_conversation(db, conversation, user, req->app->name,
                                   NANO_GEN_TURNS_MAX,
                                   NANO_CHAT_MAX_MESSAGES
                                   - (o->messages != NULL
                                      ? json_array_size(o->messages) : 1),
                                   &messages, &found);
        if (st != NANO_DB_OK) {
            nano_server_db_error(res, db, st);
            return NULL;
        }
        /* not held while a whole answer waits for a stream slot (up to
         * 2 s): a burst of them held the pool, and the module's other
         * requests answered 503 (found by the limits probe); the
         * admission takes one again */
        nano_server_db_release(req);
        /* an id of no conversation of this user here (another user's,
         * another module's, one deleted, a typo) was answered, and
         * charged, as a new conversation without the turns asked for */
        if (!found) {
            json_decref(messages);
            nano_res_field_error(res, "conversationId", "no conversation"
                                 " of yours in this module has this id");
            return NULL;
        }
    }
    if (o->messages != NULL) {
        json_array_extend(messages, o->messages);
    } else {
        m = json_pack("{s:s, s:s}", "role", "user", "content", o->prompt);
        if (m == NULL || json_array_append_new(messages, m) != 0) {
            json_decref(messages);
            nano_res_error(res, 500, "internal", "out of memory");
            return NULL;
        }
    }
    return messages;
}

/*
 * A whole answer's record, read after the reply went out.  Until then it
 * is on nano_gen_behind_list, so that its owner's next read in this
 * process waits for it (nano_module_behind_wait).
 */
typedef struct nano_gen_behind_s  nano_gen_behind_t;

struct nano_gen_behind_s {
    nano_gen_record_t   rec;
    nano_gen_behind_t  *next;
    char               *text;       /* for the runner, if it must write it */
    char                id[NANO_RAND_UUID_LEN + 1];
    char                user[];
};

static pthread_mutex_t     nano_gen_behind_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t      nano_gen_behind_done = PTHREAD_COND_INITIALIZER;
static nano_gen_behind_t  *nano_gen_behind_list;

/* 1 when a record of user's is still being written (lock held). */
static int
nano_gen_behind_pending(const char *user)
{
    nano_gen_behind_t  *b;

    for (b = nano_gen_behind_list; b != NULL; b = b->next) {
        if (strcmp(b->user, user) == 0) {
            return 1;
        }
    }
    return 0;
}

void
nano_module_behind_wait(const char *user)
{
    struct timespec  until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += NANO_GEN_BEHIND_WAIT;
    pthread_mutex_lock(&nano_gen_behind_lock);
    while (nano_gen_behind_pending(user)) {
        if (pthread_cond_timedwait(&nano_gen_behind_done,
                                   &nano_gen_behind_lock, &until) != 0)
        {
            /* the record's own read is stuck on the database; this read
             * answers what the database has */
            break;
        }
    }
    pthread_mutex_unlock(&nano_gen_behind_lock);
}

/*
 * An answer's end that could not be written (the database out of reach
 * or refusing it): the runner writes it once the database answers, so
 * that the row does not hold one of its owner's in-flight places until
 * its lease runs out.
 */
static void
nano_gen_text_end_later(nano_db_t *db, nano_db_status_t st, const char *id,
    const char *status, const char *text, json_t *error, int refund)
{
    const char  *why = db != NULL ? nano_db_last_error(db)
                                  : "no database connection";

    /* a parameter the database can never take is not tried again */
    if (st != NANO_DB_INVALID
        && nano_jobs_answer_later(id, status, text, error, refund) == 0)
    {
        nano_log_error("generation %s: cannot record its end: %s; it is"
                       " written once the database answers", id, why);
    } else {
        nano_log_error("generation %s: cannot record its end: %s; its"
                       " lease ends it", id, why);
    }
}

static void
nano_gen_text_recorded(void *arg, nano_db_t *db)
{
    nano_gen_behind_t   *b = arg, **p;
    nano_db_status_t     st;
    int                  done;

    st = nano_gen_record_recv(db, &b->rec, &done);
    if (st != NANO_DB_OK) {
        nano_gen_text_end_later(db, st, b->id, "succeeded", b->text, NULL,
                                0);
    } else if (!done) {
        nano_log_error("generation %s: cannot record its end: %s", b->id,
                       NANO_GEN_NOT_HELD);
    }
    pthread_mutex_lock(&nano_gen_behind_lock);
    for (p = &nano_gen_behind_list; *p != NULL; p = &(*p)->next) {
        if (*p == b) {
            *p = b->next;
            break;
        }
    }
    pthread_cond_broadcast(&nano_gen_behind_done);
    pthread_mutex_unlock(&nano_gen_behind_lock);
    free(b);
}

/*
 * A whole (not streamed) answer that succeeded: its record is sent now
 * and read once the reply went out, so the reply does not wait for it.
 * Its WAL flush was never waited for (nano_gen_record_send); a refund
 * is never written behind.
 */
static nano_db_status_t
nano_gen_text_record_behind(nano_req_t *req, nano_db_t *db, const char *id,
    const char *user, const nano_textgen_res_t *tr)
{
    nano_gen_behind_t  *b;
    nano_db_status_t    st;
    const char         *text = tr->text.data != NULL ? tr->text.data : "";
    size_t              len = strlen(user) + 1, tlen = strlen(text) + 1;

    b = malloc(sizeof(*b) + len + tlen);
    if (b == NULL) {
        return NANO_DB_FAILED;
    }
    snprintf(b->id, sizeof(b->id), "%s", id);
    memcpy(b->user, user, len);
    b->text = b->user + len;
    memcpy(b->text, text, tlen);
    st = nano_gen_record_send(db, id, nano_jobs_owner(), "succeeded", text,
                              NULL, &b->rec);
    if (st != NANO_DB_OK) {
        free(b);
        return st;
    }
    pthread_mutex_lock(&nano_gen_behind_lock);
    b->next = nano_gen_behind_list;
    nano_gen_behind_list = b;
    pthread_mutex_unlock(&nano_gen_behind_lock);
    req->after = nano_gen_text_recorded;
    req->after_arg = b;
    return NANO_DB_OK;
}

/*
 * The debit did not commit, or its outcome was lost with its connection:
 * a row that did commit is running, held by this process, and would hold
 * one of its owner's in-flight places until its lease ran out.  It is
 * failed and refunded now, on another connection (nothing when it is not
 * there); when the database is out of reach (a restart), by the runner
 * once it answers again.
 */
static void
nano_gen_text_abandon(nano_req_t *req, const char *id)
{
    nano_db_t  *db = nano_server_db(req);
    int         done = 0;

    if (db != NULL
        && nano_gen_finish_lost(db, id, nano_jobs_owner(), &done)
           == NANO_DB_OK)
    {
        return;
    }
    if (nano_jobs_answer_lost(id) != 0) {
        nano_log_error("generation %s: its debit's outcome is unknown; its"
                       " lease ends it", id);
    }
}

static int
nano_gen_text(nano_req_t *req, nano_res_t *res, const char *user)
{
    const nano_module_def_t        *def = nano_module_def();
    const nano_textgen_provider_t  *provider;
    nano_textgen_req_t              tq;
    nano_textgen_res_t              tr;
    nano_gen_new_t                  in;
    nano_gen_admission_t            adm;
    nano_gen_sink_t                 sink;
    nano_db_status_t                st;
    nano_db_t                      *db;
    json_t                         *body, *messages = NULL, *error = NULL;
    json_t                         *usage = NULL, *params = NULL;
    const char                     *role;
    nano_gen_text_opts_t            o;
    nano_gen_refusal_t              why;
    const char                     *id = NULL;
    char                            conversation[NANO_RAND_UUID_LEN + 1];
    long long                       cost;
    unsigned                        sends;
    int                             status, stream, done, ok, charged;
    int                             named, answering = 0;

    provider = nano_module_offline() ? def->text_offline : def->text;
    nano_textgen_res_init(&tr);
    if (!nano_req_is_content_type(req, "application/json")) {
        return nano_res_error(res, 415, "unsupported_media_type",
                              "send application/json in UTF-8");
    }
    status = nano_req_json(req, &body);
    if (status == 413) {
        return nano_res_json_too_large(res);
    }
    if (status != 0) {
        named = nano_res_json_named(req, res);
        return named != 0 ? named
                          : nano_res_error(res, 400, "invalid_json",
                                           "send a JSON object: {\"prompt\"}"
                                           " or {\"messages\"} (UTF-8, no"
                                           " NUL characters)");
    }
    if (nano_gen_text_options(body, &o, &why) != 0) {
        status = nano_res_field_error(res, why.field, why.message);
        goto out;
    }
    stream = o.stream;
    if (o.conversation != NULL) {
        snprintf(conversation, sizeof(conversation), "%s", o.conversation);
    } else if (nano_rand_uuid(conversation) != 0) {
        status = nano_res_error(res, 500, "internal", "no randomness");
        goto out;
    }
    messages = nano_gen_messages(req, res, &o, user, conversation,
                                 o.conversation == NULL);
    if (messages == NULL) {
        status = res->status;
        goto out;
    }
    /* before any debit: a refusal here costs nothing */
    if (stream && nano_stream_acquire(req) != 0) {
        nano_res_header(res, "Retry-After", "1");
        status = nano_res_error(res, 429, "too_many_streams",
                                "too many answers are streaming right now;"
                                " try again in a moment");
        goto out;
    }
    /* a whole answer holds its worker as long: without a slot, 64 of
     * them (four users' in-flight limits) held every worker, and the
     * module's pages and reads waited behind them (found by a probe) */
    if (!stream && nano_stream_acquire_wait(req, NANO_GEN_SLOT_WAIT_MS)
                   != 0)
    {
        nano_res_header(res, "Retry-After", "1");
        status = nano_res_error(res, 429, "too_many_answers",
                                "too many answers are being written right"
                                " now; try again in a moment");
        goto out;
    }
    /* a whole answer's reader who left while it waited (for a slot, the
     * pool, an earlier record) was debited and charged for an answer
     * asked only after they left (found by a probe); nginx's 499.  The
     * pool's connection is taken first: a wait for it came after this
     * check, and was charged the same way (found by the limits probe) */
    db = nano_server_db(req);
    if (!stream && nano_stream_peer_closed(req)) {
        status = nano_res_error(res, 499, "client_gone",
                                "the reader left before the answer was"
                                " asked");
        goto out;
    }

    memset(&in, 0, sizeof(in));
    in.user_id = user;
    in.module = req->app->name;
    in.model = o.model;         /* the price comes with the admission */
    in.kind = "text";
    in.prompt = o.prompt;
    in.conversation_id = conversation;
    /* the messages as asked, for the conversation's later turns (the
     * prompt column holds only the last user message, all there is of a
     * lone user message) */
    role = json_string_value(json_object_get(json_array_get(o.messages, 0),
                                             "role"));
    if (o.messages != NULL
        && (json_array_size(o.messages) != 1 || role == NULL
            || strcmp(role, "user") != 0))
    {
        in.params = params = json_pack("{s:O}", "messages", o.messages);
        if (params == NULL) {
            status = nano_res_error(res, 500, "internal", "out of memory");
            goto out;
        }
    }
    in.status = "running";
    in.owner = nano_jobs_owner();
    in.lease_secs = NANO_JOBS_LEASE_SECS;
    in.offline = provider->offline;
    in.early = 1;
    db = nano_server_db(req);
    memset(&adm, 0, sizeof(adm));
    sends = nano_db_sends(db);
    st = db != NULL ? nano_gen_create(db, &in, &adm) : NANO_DB_UNAVAILABLE;
    if (st != NANO_DB_OK) {
        if (st == NANO_DB_UNAVAILABLE && adm.id[0] != '\0'
            && nano_db_sends(db) != sends)
        {
            /* the commit goes without waiting for this side: it may have
             * happened before the answer was lost (nothing was sent when
             * the database could not be reached at all) */
            nano_gen_text_abandon(req, adm.id);
        }
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    if (adm.admit != NANO_GEN_ADMITTED) {
        status = nano_gen_refused(res, adm.admit);
        goto out;
    }
    id = adm.id;
    cost = adm.cost;
    /* its lease is renewed while it is answered, and only then */
    answering = nano_jobs_answer_begin(id) == 0;
    if (!answering) {
        nano_log_error("generation %s: no room to renew its lease", id);
    }

    /* the debit's commit overlaps the provider's call; once durable, the
     * pool's connection goes back for the answer's length (it may take
     * minutes), and one is taken again to record the end */
    memset(&sink, 0, sizeof(sink));
    sink.req = req;
    sink.stream = stream;
    sink.pending = nano_db_pending(db);
    if (!sink.pending) {
        nano_server_db_release(req);
    }
    /* and a comment at once: nginx holds the headers until body bytes
     * come, so the client learnt the answer had begun (and its balance
     * changed) only with the provider's first text, up to 5 s later
     * (found by a probe) */
    if (stream && (nano_stream_begin(req, 200, "text/event-stream", NULL) != 0
                   || nano_sse_heartbeat(req) != 0))
    {
        tr.client_gone = 1;
    }

    /* the commit's answer may have come with the debit's and been read
     * with it into libpq's buffer, where no poll of the socket sees it:
     * the connection stayed held until the first delta or the end (a
     * burst of one user's answers, whose debits wait for each other's
     * lock: the module's other requests got 503; found by the limits
     * probe) */
    (void) nano_gen_settle(&sink, 0);

    memset(&tq, 0, sizeof(tq));
    tq.model = adm.model;
    tq.messages = messages;
    tq.seed = o.seed;
    tq.stream = stream;
    tq.timeout_ms = stream ? 0 : nano_gen_text_whole_ms;
    tq.on_delta = nano_gen_on_delta;
    tq.on_idle = nano_gen_on_idle;
    /* a connection already given back is another request's to read */
    tq.watch_fd = sink.pending ? nano_db_socket(db) : -1;
    tq.on_watch = sink.pending ? nano_gen_on_watch : NULL;
    tq.arg = &sink;
    ok = !tr.client_gone && !sink.lost && provider->generate(&tq, &tr) == 0;
    if (nano_gen_settle(&sink, 1) < 0) {
        nano_gen_text_abandon(req, id);
        if (!stream) {
            status = nano_server_db_error(res, NULL, NANO_DB_UNAVAILABLE);
            goto out;
        }
        nano_sse_event(req, "error",
                       json_pack("{s:s, s:s}", "error",
                                 "database_unavailable", "message",
                                 "the database is unavailable; try again"
                                 " soon"));
        status = NANO_STREAMED;
        goto out;
    }

    /* a reader who left once text came is charged: the provider charged
     * for what it made; one who left before any came is not */
    charged = ok || (tr.client_gone && tr.output);
    if (tr.client_gone) {
        error = json_pack("{s:s, s:s}", "code", "client_gone",
                          "message", tr.output
                          ? "the answer was cut short when its reader left"
                          : "the reader left before any answer came");
    } else if (!ok) {
        error = json_pack("{s:s, s:s}", "code", tr.error_code[0]
                          ? tr.error_code : "provider_error",
                          "message", tr.error_message[0]
                          ? tr.error_message : "the provider failed");
        /* the provider, its HTTP status and its own words, as the person
         * reads them (the key scrubbed); until 2026-12-06 a text
         * generation's failure left only its status in the log */
        nano_log((nano_log_level_t) nano_gen_error_level(tr.error_code),
                 "generation %s failed (%s): %s", id,
                 json_string_value(json_object_get(error, "code")),
                 json_string_value(json_object_get(error, "message")));
    }
    db = nano_server_db(req);
    done = 1;
    if (db != NULL && ok && !stream) {
        st = nano_gen_text_record_behind(req, db, id, user, &tr);
    } else {
        st = db == NULL ? NANO_DB_UNAVAILABLE
             : nano_gen_finish_answer(db, id, nano_jobs_owner(),
                                      charged ? "succeeded" : "failed",
                                      tr.text.data != NULL ? tr.text.data
                                                           : "",
                                      error, !charged, &done);
    }
    if (st != NANO_DB_OK) {
        nano_gen_text_end_later(db, st, id,
                                charged ? "succeeded" : "failed",
                                tr.text.data != NULL ? tr.text.data : "",
                                error, !charged);
    } else if (!done) {
        nano_log_error("generation %s: cannot record its end: %s", id,
                       NANO_GEN_NOT_HELD);
    }
    if (answering) {
        nano_jobs_answer_end(id);
        answering = 0;
    }
    usage = json_pack("{s:o, s:o, s:o}",
                "promptTokens", nano_gen_count(tr.prompt_tokens),
                "completionTokens", nano_gen_count(tr.completion_tokens),
                "totalTokens", tr.prompt_tokens < 0 || tr.completion_tokens < 0
                               ? json_null()
                               : nano_gen_count(tr.prompt_tokens
                                                + tr.completion_tokens));

    if (stream) {
        if (!tr.client_gone) {
            if (ok) {
                nano_sse_event(req, "done",
                               json_pack("{s:s, s:s, s:O, s:I}", "id", id,
                                         "conversationId", conversation,
                                         "usage", usage,
                                         "cost", (json_int_t) cost));
            } else {
                nano_sse_event(req, "error",
                               json_pack("{s:O, s:O, s:s}",
                                         "error", json_object_get(error,
                                                                  "code"),
                                         "message", json_object_get(error,
                                                                    "message"),
                                         "id", id));
            }
        }
        status = NANO_STREAMED;
        goto out;
    }
    if (!ok) {
        status = nano_res_json(res, nano_gen_error_status(tr.error_code),
                               json_pack("{s:O, s:O, s:s}",
                                         "error", json_object_get(error,
                                                                  "code"),
                                         "message", json_object_get(error,
                                                                    "message"),
                                         "id", id));
        goto out;
    }
    status = nano_res_json(res, 200,
                           json_pack("{s:s, s:s, s:s, s:O, s:I}", "id", id,
                                     "conversationId", conversation,
                                     "text", tr.text.data ? tr.text.data : "",
                                     "usage", usage,
                                     "cost", (json_int_t) cost));
out:
    if (answering) {
        nano_jobs_answer_end(id);
    }
    json_decref(usage);
    json_decref(error);
    json_decref(params);
    json_decref(messages);
    json_decref(body);
    nano_textgen_res_cleanup(&tr);
    return status;
}

/* ---- image and video jobs ---------------------------------------------- */

typedef struct {
    nano_req_t         *req;
    const char         *b64;        /* NULL: the upload */
    const char         *path;
    nano_image_info_t   info;
    int                 rc;         /* nano_image_from_base64's; -3 also for
                                     * an upload not moved */
} nano_gen_input_t;

/* nano_job_mkdirs_put's put: the upload moved, or base64 decoded, to
 * in->path. */
static int
nano_gen_input_put(void *arg)
{
    nano_gen_input_t  *in = arg;

    if (in->b64 == NULL) {
        in->rc = nano_req_upload_keep(in->req, "image", in->path) == 0
                 ? 0 : -3;
    } else {
        in->rc = nano_image_from_base64(in->b64, strlen(in->b64),
                                        NANO_IMAGE_B64_MAX, in->path,
                                        &in->info);
    }
    return in->rc == 0 ? 0 : -1;
}

/* Stores the input image (an upload, or base64 in a JSON field) under
 * media/<module>/<user>/inputs and records it in params, with its
 * SHA-256 when digest (a keyed request: sql/015 compares it).  0, or
 * the status answered. */
/* An input image refused once stored: the file goes, and the user's
 * inputs/ folder with it when that left it empty, as a refusal for
 * credits does (nano_gen_input_discard); until 2026-12-07 an image cut
 * short, without a size or too large left the folder it had made for
 * good (found by the soak probe).  rmdir takes only an empty folder;
 * another request of the user storing meanwhile makes it again
 * (nano_job_mkdirs_put). */
static void
nano_gen_input_drop(const char *path, const char *dir)
{
    unlink(path);
    rmdir(dir);
}

static int
nano_gen_input_image(nano_req_t *req, nano_res_t *res, const char *user,
    const char *b64, int digest, json_t *params)
{
    const nano_upload_t  *up = nano_req_upload(req, "image");
    nano_gen_input_t      in = { req, up != NULL ? NULL : b64, NULL,
                                 { 0 }, -3 };
    char                  dir[PATH_MAX], path[PATH_MAX], named[PATH_MAX];
    char                  name[NANO_RAND_UUID_LEN + 1];
    char                  sha[NANO_FILE_SHA256_SIZE];
    const char           *root = nano_job_media_root(), *mime, *ext;
    json_t               *image;
    int                   whole;

    if (up == NULL && b64 == NULL) {
        return 0;
    }
    if (up != NULL && up->mime == NULL) {
        return nano_res_field_error(res, "image", "the image must be a"
                                    " PNG, JPEG or WebP file");
    }
    mime = up != NULL ? up->mime : NULL;
    ext = mime == NULL ? "img"
          : strcmp(mime, "image/png") == 0 ? "png"
          : strcmp(mime, "image/jpeg") == 0 ? "jpg" : "webp";
    if (nano_rand_uuid(name) != 0
        || snprintf(dir, sizeof(dir), "%s/%s/%s/inputs", root,
                    req->app->name, user) >= (int) sizeof(dir)
        || snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext)
           >= (int) sizeof(path))
    {
        return nano_res_error(res, 500, "internal", "no room for the file");
    }
    in.path = path;
    if (nano_job_mkdirs_put(dir, nano_gen_input_put, &in) == -2) {
        nano_log_error("cannot make %s: %s", dir, strerror(errno));
        return nano_res_error(res, 500, "internal", "cannot store the"
                              " image");
    }
    if (in.rc != 0) {
        /* nothing stored (nano_image_from_base64 removes what it began):
         * the folder made for it goes too when empty */
        rmdir(dir);
    }
    if (in.rc == -2) {
        return nano_res_error(res, 413, "payload_too_large",
                              "a base64 image may be at most 4 MiB");
    }
    if (in.rc == -3) {
        /* ours, not the image's: a full disk is not a bad request */
        nano_log_error("cannot write an input image under %s", root);
        return nano_res_error(res, 500, "internal", "cannot store the"
                              " image");
    }
    if (in.rc != 0) {
        return nano_res_field_error(res, "image", "the image must be a"
                                    " base64 PNG, JPEG or WebP");
    }
    if (mime == NULL) {
        /* base64's type is known only now: name the file by it */
        mime = in.info.mime;
        if (snprintf(named, sizeof(named), "%s/%s.%s", dir, name,
                     in.info.ext) >= (int) sizeof(named)
            || rename(path, named) != 0)
        {
            nano_log_error("cannot name %s: %s", path, strerror(errno));
            nano_gen_input_drop(path, dir);
            return nano_res_error(res, 500, "internal", "cannot store the"
                                  " image");
        }
        memcpy(path, named, sizeof(path));
    }
    /* the header's size (the upload's sniffed as it came), before
     * anything decodes it: a PNG of zeros of 16384 x 16384 takes 800 KB
     * and decodes to 800 MB (found by a probe); the avatar's limit */
    if (up != NULL) {
        in.info.mime = mime;
        in.info.ext = ext;
        in.info.width = up->width;
        in.info.height = up->height;
    }
    /* a JPEG without a frame header before its scan or its end has no
     * size, so no limit could be checked: it cannot be decoded either */
    if (in.info.width <= 0 || in.info.height <= 0) {
        nano_gen_input_drop(path, dir);
        return nano_res_field_error(res, "image", "the image is damaged:"
                                    " its size cannot be read");
    }
    if ((long long) in.info.width * in.info.height > NANO_IMAGE_PIXELS_MAX) {
        nano_gen_input_drop(path, dir);
        return nano_res_error(res, 413, "payload_too_large", "the image may"
                              " have at most 25 megapixels");
    }
    /* a file cut short (an upload that broke off, a base64 string
     * copied in part) would be sent, charged and then refused by the
     * provider, or edited as a half-grey picture */
    whole = nano_image_whole_file(path, &in.info);
    if (whole < 0) {
        nano_log_error("cannot read back %s: %s", path, strerror(errno));
        nano_gen_input_drop(path, dir);
        return nano_res_error(res, 500, "internal", "cannot store the"
                              " image");
    }
    if (whole == 0) {
        nano_gen_input_drop(path, dir);
        return nano_res_field_error(res, "image", "the image is cut short:"
                                    " its end is missing");
    }
    if (digest && nano_file_sha256(path, sha) != 0) {
        nano_log_error("cannot read back %s: %s", path, strerror(errno));
        nano_gen_input_drop(path, dir);
        return nano_res_error(res, 500, "internal", "cannot store the"
                              " image");
    }
    image = json_pack("{s:s, s:s}", "file", path + strlen(root) + 1,
                      "mime", mime);
    if (image == NULL
        || (digest && json_object_set_new(image, "sha256",
                                          json_string(sha)) != 0))
    {
        json_decref(image);
        image = NULL;
    }
    /* json_object_set_new takes image even when it fails */
    if (image == NULL
        || json_object_set_new(params, "inputImage", image) != 0)
    {
        nano_gen_input_drop(path, dir);
        return nano_res_error(res, 500, "internal", "out of memory");
    }
    return 0;
}

/*
 * A request refused after its image was stored leaves no file behind,
 * nor the inputs/ folder it emptied, as a DELETE does (an upload made it
 * again meanwhile: nano_job_mkdirs_put).  When the user is gone (gone:
 * the account was deleted while the request was on its way), its own
 * folder too, which the deletion had removed and the image made again:
 * before, media/<module>/<deleted id>/inputs/ stayed for good.  rmdir
 * only takes an empty one, and no job of a deleted user is admitted.
 */
static void
nano_gen_input_discard(json_t *params, int gone)
{
    const char  *file;
    char         path[PATH_MAX], *slash;
    int          level;

    file = json_string_value(json_object_get(
               json_object_get(params, "inputImage"), "file"));
    if (file == NULL
        || snprintf(path, sizeof(path), "%s/%s", nano_job_media_root(), file)
           >= (int) sizeof(path))
    {
        return;
    }
    unlink(path);
    /* <module>/<user>/inputs, then <module>/<user> when gone */
    for (level = 0; level < (gone ? 2 : 1); level++) {
        if ((slash = strrchr(path, '/')) == NULL) {
            break;
        }
        *slash = '\0';
        if (rmdir(path) != 0) {
            break;
        }
    }
}

/* key: a valid Idempotency-Key, or NULL */
static int
nano_gen_job(nano_req_t *req, nano_res_t *res, const char *user,
    const char *key)
{
    const char               *kind = nano_module_kind();
    const nano_module_def_t  *def = nano_module_def();
    const nano_upload_t      *up;
    const char               *files[NANO_MULTIPART_PARTS_MAX];
    nano_form_t               f;
    nano_gen_job_kind_t       kind_of;
    nano_gen_job_opts_t       o;
    nano_gen_refusal_t        why;
    nano_gen_new_t            in;
    nano_gen_admission_t      adm;
    nano_db_status_t          st;
    nano_db_t                *db;
    json_t                   *params = NULL;
    unsigned                  flags = NANO_FIELDS_NUMBERS
                                      | NANO_FIELDS_UTF8, sends;
    int                       status;
    int                       created = 0;  /* or may have: a row may name
                                             * the input image */

    nano_form_init(&f);
    memset(&adm, 0, sizeof(adm));   /* read at out, and when db is NULL */
    status = nano_req_fields(req, res, &f, &flags);
    if (status != 0) {
        goto out;
    }
    params = json_object();
    kind_of.video = strcmp(kind, "video") == 0;
    kind_of.rules = &def->rules;
    kind_of.files = files;
    kind_of.nfiles = 0;
    while (kind_of.nfiles < NANO_MULTIPART_PARTS_MAX
           && (up = nano_req_upload_nth(req, kind_of.nfiles)) != NULL)
    {
        files[kind_of.nfiles++] = up->field;
    }
    switch (params == NULL ? -2
            : nano_gen_job_options(&f, &kind_of, params, &o, &why))
    {
    case 0:
        break;
    case -1:
        status = nano_res_field_error(res, why.field, why.message);
        goto out;
    default:
        status = nano_res_error(res, 500, "internal", "out of memory");
        goto out;
    }
    status = nano_gen_input_image(req, res, user, o.image_b64, key != NULL,
                                  params);
    if (status != 0) {
        goto out;
    }

    memset(&in, 0, sizeof(in));
    in.user_id = user;
    in.module = req->app->name;
    in.model = o.model;         /* the price comes with the admission */
    in.kind = kind;
    in.prompt = o.prompt;
    in.params = params;
    in.status = "queued";
    in.caller_wakes = 1;        /* nano_jobs_queued, below */
    in.offline = nano_module_offline();
    in.key = key;
    db = nano_server_db(req);
    sends = nano_db_sends(db);
    st = db != NULL ? nano_gen_create(db, &in, &adm) : NANO_DB_UNAVAILABLE;
    if (st != NANO_DB_OK) {
        /* sent, its outcome unknown: a database that held it may run it
         * after this 503 (found by a probe: PostgreSQL stopped with
         * SIGSTOP); the runner cancels it then.  A keyed one is left to
         * its key: the client's retry gets it. */
        if (st == NANO_DB_UNAVAILABLE && adm.id[0] != '\0'
            && nano_db_sends(db) != sends)
        {
            /* the row, if it committed, names the input image: a keyed
             * one runs with it (the retry is given it), and it failed as
             * "the image to edit is gone" when it was removed below
             * (found by the limits probe); one that did not commit leaves
             * it to the media sweep */
            created = 1;
            if (key == NULL && nano_jobs_admit_lost(adm.id, user) != 0) {
                nano_log_error("job %s: its admission's outcome is unknown"
                               " and too many are watched already",
                               adm.id);
            }
        }
        status = nano_server_db_error(res, db, st);
        goto out;
    }
    if (adm.admit == NANO_GEN_REPLAYED) {
        /* the first request's generation, as it stands now; this
         * request's own input image is left out (below) */
        if (nano_res_header(res, "Idempotent-Replayed", "true") != 0) {
            status = nano_res_error(res, 500, "internal", "out of memory");
            goto out;
        }
    } else if (adm.admit != NANO_GEN_ADMITTED) {
        status = nano_gen_refused(res, adm.admit);
        goto out;
    } else {
        created = 1;
        /* with the request's context: the access log's id leads to the
         * job's own lines (claimed, retried, failed) */
        nano_log_info("job %s queued (cost %lld)", adm.id,
                      (long long) adm.cost);
        nano_jobs_queued(db, req->app->name);
    }
    status = nano_res_json(res, 202,
                           json_pack("{s:s, s:s, s:I}", "id", adm.id,
                                     "status", adm.status,
                                     "cost", (json_int_t) adm.cost));
out:
    if (!created) {
        nano_gen_input_discard(params, adm.admit == NANO_GEN_NO_USER);
    }
    json_decref(params);
    nano_form_cleanup(&f);
    return status;
}

int
nano_module_generate(nano_req_t *req, nano_res_t *res)
{
    const char  *user, *key;

    if ((user = nano_module_user(req, res)) == NULL) {
        return 401;
    }
    /* it spends credits: a browser on another site may not */
    if (nano_req_cross_site(req)) {
        nano_log_warn("cross-site generation refused");
        return nano_res_error(res, 403, "csrf",
                              "this request came from another site");
    }
    /* the first of two would be stored, and a retry with the other
     * charged again (nginx 1.23 on joins them with ", ", which the
     * key's syntax refuses below) */
    if (nano_req_param_repeated(req, "HTTP_IDEMPOTENCY_KEY")) {
        return nano_res_field_error(res, "Idempotency-Key", "send one"
                                    " Idempotency-Key header");
    }
    key = nano_req_param(req, "HTTP_IDEMPOTENCY_KEY");
    if (strcmp(nano_module_kind(), "text") == 0) {
        /* an answer already streamed to someone cannot be given again */
        if (key != NULL) {
            return nano_res_field_error(res, "Idempotency-Key",
                                        "text generations take no"
                                        " Idempotency-Key: an answer"
                                        " cannot be replayed");
        }
        return nano_gen_text(req, res, user);
    }
    if (key != NULL && !nano_gen_key_ok(key)) {
        return nano_res_field_error(res, "Idempotency-Key", "an"
                                    " Idempotency-Key is 1 to 255 visible"
                                    " ASCII characters");
    }
    return nano_gen_job(req, res, user, key);
}
