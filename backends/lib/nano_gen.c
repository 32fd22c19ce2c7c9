/*
 * The "Generation" table: its rows read, created with their debit, the
 * owner's reads, cancel and delete, the sweep's names.  The runner's
 * side (claims, leases, ends) is nano_gen_runner.c, a conversation's
 * turns nano_gen_conversation.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_config.h"
#include "nano_credits.h"
#include "nano_gen.h"
#include "nano_gen_options.h"
#include "nano_gen_row.h"
#include "nano_log.h"

void
nano_gen_init(nano_gen_t *g)
{
    memset(g, 0, sizeof(*g));
}

void
nano_gen_cleanup(nano_gen_t *g)
{
    char  **s[] = { &g->id, &g->user_id, &g->module, &g->model, &g->kind,
                    &g->status, &g->prompt, &g->text, &g->conversation_id,
                    &g->provider_task_id, &g->phase, &g->created_at,
                    &g->started_at, &g->finished_at };
    size_t  i;

    if (g == NULL) {
        return;
    }
    for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        free(*s[i]);
    }
    json_decref(g->params);
    json_decref(g->outputs);
    json_decref(g->error);
    nano_gen_init(g);
}

/* Column name of row i as a new string in *out (NULL for SQL NULL);
 * -1 when out of memory or the column is missing. */
static int
nano_gen_str(const PGresult *r, int i, const char *name, char **out)
{
    int  col = PQfnumber(r, name);

    *out = NULL;
    if (col < 0) {
        return -1;
    }
    if (PQgetisnull(r, i, col)) {
        return 0;
    }
    *out = strdup(PQgetvalue(r, i, col));
    return *out != NULL ? 0 : -1;
}

int
nano_gen_jsonb_refused(const json_error_t *err)
{
    /* jansson 2.14's loader never says json_error_out_of_memory: a
     * failed allocation leaves no message, or makes the token it was
     * reading look malformed; PostgreSQL's jsonb text is well formed,
     * so a syntax error there can only be that */
    if (err->text[0] == '\0') {
        return 0;
    }
    switch (json_error_code(err)) {
    case json_error_out_of_memory:
    case json_error_invalid_syntax:
    case json_error_premature_end_of_input:
        return 0;
    default:
        return 1;
    }
}

/* A JSONB column as a new reference in *out (NULL for SQL NULL): 0; 1
 * when jansson refuses it; -1 when out of memory or the column is
 * missing. */
static int
nano_gen_jsonb(const PGresult *r, int i, const char *name, json_t **out)
{
    json_error_t  err;
    int           col = PQfnumber(r, name);

    *out = NULL;
    if (col < 0) {
        return -1;
    }
    if (PQgetisnull(r, i, col)) {
        return 0;
    }
    *out = json_loads(PQgetvalue(r, i, col), JSON_DECODE_ANY, &err);
    if (*out != NULL) {
        return 0;
    }
    return nano_gen_jsonb_refused(&err) ? 1 : -1;
}

/* The jsonb columns of a row, each with its NANO_GEN_UNREADABLE_ bit. */
static const struct {
    const char  *name;
    unsigned     bit;
} nano_gen_jsonb_cols[] = {
    { "params", NANO_GEN_UNREADABLE_PARAMS },
    { "outputs", NANO_GEN_UNREADABLE_OUTPUTS },
    { "error", NANO_GEN_UNREADABLE_ERROR },
};

#define NANO_GEN_JSONB_COLS                                                   \
    (sizeof(nano_gen_jsonb_cols) / sizeof(nano_gen_jsonb_cols[0]))

const char *
nano_gen_unreadable_names(unsigned bits, char *buf, size_t cap)
{
    size_t  k, len = 0;
    int     n;

    buf[0] = '\0';
    for (k = 0; k < NANO_GEN_JSONB_COLS && len < cap; k++) {
        if (bits & nano_gen_jsonb_cols[k].bit) {
            n = snprintf(buf + len, cap - len, "%s%s", len > 0 ? ", " : "",
                         nano_gen_jsonb_cols[k].name);
            len += n > 0 ? (size_t) n : 0;
        }
    }
    return buf;
}

int
nano_gen_read(const PGresult *r, int i, nano_gen_t *g)
{
    json_t  **json[NANO_GEN_JSONB_COLS] = { &g->params, &g->outputs,
                                            &g->error };
    struct { const char *name; char **out; } cols[] = {
        { "id", &g->id }, { "user_id", &g->user_id },
        { "module", &g->module }, { "model", &g->model },
        { "kind", &g->kind }, { "status", &g->status },
        { "prompt", &g->prompt }, { "text", &g->text },
        { "conversation_id", &g->conversation_id },
        { "provider_task_id", &g->provider_task_id },
        { "phase", &g->phase }, { "created_at", &g->created_at },
        { "started_at", &g->started_at },
        { "finished_at", &g->finished_at },
    };
    size_t  k;
    int     col, rc;

    for (k = 0; k < sizeof(cols) / sizeof(cols[0]); k++) {
        if (nano_gen_str(r, i, cols[k].name, cols[k].out) != 0) {
            goto failed;
        }
    }
    for (k = 0; k < NANO_GEN_JSONB_COLS; k++) {
        rc = nano_gen_jsonb(r, i, nano_gen_jsonb_cols[k].name, json[k]);
        if (rc < 0) {
            goto failed;
        }
        if (rc > 0) {
            g->unreadable |= nano_gen_jsonb_cols[k].bit;
        }
    }
    col = PQfnumber(r, "cost");
    g->cost = col >= 0 ? strtoll(PQgetvalue(r, i, col), NULL, 10) : 0;
    col = PQfnumber(r, "offline");
    g->offline = col >= 0 && PQgetvalue(r, i, col)[0] == 't';
    if (g->id == NULL) {
        goto failed;
    }
    return 0;

failed:
    nano_gen_cleanup(g);
    return -1;
}

/* ---- creating ----------------------------------------------------------- */

static int  nano_gen_inflight_max = NANO_GEN_INFLIGHT_MAX;

int
nano_gen_configure(char *err, size_t errlen)
{
    return nano_config_env_int("NANO_MAX_INFLIGHT_PER_USER",
                               NANO_GEN_INFLIGHT_MAX, 1, 1000000,
                               &nano_gen_inflight_max, err, errlen);
}

/* The outcomes of "nano_gen_admit" (sql/010_admission.sql). */
static const struct {
    const char        *name;
    nano_gen_admit_t   admit;
} nano_gen_outcomes[] = {
    { "admitted", NANO_GEN_ADMITTED },
    { "no_credits", NANO_GEN_NO_CREDITS },
    { "too_many", NANO_GEN_TOO_MANY },
    { "no_model", NANO_GEN_NO_MODEL },
    { "no_price", NANO_GEN_NO_PRICE },
    { "replayed", NANO_GEN_REPLAYED },
    { "key_reused", NANO_GEN_KEY_REUSED },
    /* still no account after nano_credits_ensure: no such user */
    { "no_account", NANO_GEN_NO_USER },
};

/* "nano_gen_admit"'s first 13 arguments, less the closing parenthesis;
 * $12 is the lease's length: its end (p_lease_until) is reckoned here
 * by the database's clock, NULL without an owner. */
#define NANO_GEN_ADMIT_CALL                                                  \
    "\"nano_gen_admit\"($1, $2,"                                            \
    " $3, $4, $5, $6, $7, $8::jsonb, $9::boolean, $10, $11, "                \
    NANO_GEN_EPOCH " + $12::bigint, $13::bigint"
#define NANO_GEN_ADMIT_OUT      "SELECT o_outcome, o_model, o_cost"

/* The same admission in two statements (sql/018_admit_split.sql), for
 * in->early: the debit answers, the rows are written behind its answer.
 * The rows' $9 is the lease's length, as the admission's $12. */
#define NANO_GEN_DEBIT_SQL                                                   \
    NANO_GEN_ADMIT_OUT " FROM \"nano_gen_admit_debit\"($1, $2, $3, $4,"      \
    " $5::bigint)"
#define NANO_GEN_ROWS_SQL                                                    \
    "SELECT \"nano_gen_admit_rows\"($1, $2, $3, $4, $5::jsonb,"             \
    " $6::boolean, $7, $8, " NANO_GEN_EPOCH " + $9::bigint)"

/*
 * nano_db runs a statement once more on a new connection when the one
 * it had open dies during the call (db_run_as): a server that died after
 * the admission's commit, before its answer, leaves the second run to
 * meet the first one's work, as the debit's unique violation or as a
 * refusal for the credits or the room the first one took.  out->id is
 * new to this call, so a row with it, its user and module is this
 * admission's own: read back, *outcome becomes "admitted" with the row's
 * model and cost.  Without the row, st; a failed read, its status.
 */
static nano_db_status_t
nano_gen_admit_lost(nano_db_t *db, const nano_gen_new_t *in,
    nano_gen_admission_t *out, char **outcome, nano_db_status_t st)
{
    nano_gen_t        g;
    nano_db_status_t  rst;
    int               found;

    nano_gen_init(&g);
    rst = nano_gen_get(db, out->id, in->user_id, &g, &found);
    if (rst != NANO_DB_OK) {
        return rst;
    }
    if (found && strcmp(g.module, in->module) == 0) {
        snprintf(out->model, sizeof(out->model), "%s", g.model);
        out->cost = g.cost;
        nano_log_warn("generation %s: admitted before its answer was lost",
                      out->id);
        free(*outcome);
        *outcome = strdup("admitted");
        st = *outcome != NULL ? NANO_DB_OK : NANO_DB_FAILED;
    }
    nano_gen_cleanup(&g);
    return st;
}

/* An early admission (text: no key, no job to wake): the debit's answer,
 * with the rows written behind it, from nano_gen_admit_once's params. */
static PGresult *
nano_gen_admit_early(nano_db_t *db, const nano_gen_new_t *in,
    const char *const *params, nano_db_status_t *st)
{
    const char      *debit[5], *rows[9];
    nano_db_stmt_t   tail;

    if (in->key != NULL || in->caller_wakes) {
        *st = NANO_DB_INVALID;
        return NULL;
    }
    debit[0] = params[0];       /* id */
    debit[1] = params[1];       /* user */
    debit[2] = params[2];       /* module */
    debit[3] = params[3];       /* model */
    debit[4] = params[12];      /* the in-flight limit */
    rows[0] = params[0];
    rows[1] = params[4];        /* kind */
    rows[2] = params[5];        /* status */
    rows[3] = params[6];        /* prompt */
    rows[4] = params[7];        /* params (json) */
    rows[5] = params[8];        /* offline */
    rows[6] = params[9];        /* conversation */
    rows[7] = params[10];       /* lease owner */
    rows[8] = params[11];       /* lease length */
    memset(&tail, 0, sizeof(tail));
    tail.sql = NANO_GEN_ROWS_SQL;
    tail.nparams = 9;
    tail.params = rows;
    tail.prepare = 1;
    return nano_db_exec_early(db, NANO_GEN_DEBIT_SQL, 5, debit,
                              PGRES_TUPLES_OK, &tail, st);
}

/* One call of "nano_gen_admit": its outcome in *outcome (a new string),
 * the model and price in out. */
static nano_db_status_t
nano_gen_admit_once(nano_db_t *db, const nano_gen_new_t *in,
    const char *pjson, nano_gen_admission_t *out, char **outcome)
{
    /* the same arguments; the waking one adds sql/013's p_caller_wakes,
     * the keyed one that and sql/014's key, with the key's row */
    static const char   sql[] = NANO_GEN_ADMIT_OUT " FROM "
                                NANO_GEN_ADMIT_CALL ")";
    static const char   sql_waking[] = NANO_GEN_ADMIT_OUT " FROM "
                                       NANO_GEN_ADMIT_CALL ", true)";
    static const char   sql_keyed[] = NANO_GEN_ADMIT_OUT ", o_id, o_status"
                                      " FROM " NANO_GEN_ADMIT_CALL
                                      ", $14::boolean, $15)";
    const char         *query = in->key != NULL ? sql_keyed
                                : in->caller_wakes ? sql_waking : sql;
    int                 nparams = in->key != NULL ? 15 : 13;
    const char         *params[15], *name;
    char                lease[24], maxs[24];
    nano_db_status_t    st;
    PGresult           *r;
    unsigned            conn = nano_db_connection(db);

    *outcome = NULL;
    snprintf(lease, sizeof(lease), "%d", in->lease_secs);
    snprintf(maxs, sizeof(maxs), "%d", nano_gen_inflight_max);
    params[0] = out->id;
    params[1] = in->user_id;
    params[2] = in->module;
    params[3] = in->model;
    params[4] = in->kind;
    params[5] = in->status;
    params[6] = in->prompt;
    params[7] = pjson;
    params[8] = in->offline ? "true" : "false";
    params[9] = in->conversation_id;
    params[10] = in->owner;
    params[11] = in->owner != NULL ? lease : NULL;
    params[12] = maxs;
    params[13] = in->caller_wakes ? "true" : "false";
    params[14] = in->key;
    r = in->early ? nano_gen_admit_early(db, in, params, &st)
                  : nano_db_exec_retried(db, query, nparams, params,
                                         PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st == NANO_DB_CONFLICT
               ? nano_gen_admit_lost(db, in, out, outcome, st) : st;
    }
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        PQclear(r);
        return NANO_DB_FAILED;
    }
    if (!PQgetisnull(r, 0, 1)) {
        snprintf(out->model, sizeof(out->model), "%s", PQgetvalue(r, 0, 1));
        out->cost = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    }
    name = PQgetvalue(r, 0, 0);
    if (nparams == 15 && !PQgetisnull(r, 0, 3) && !PQgetisnull(r, 0, 4)) {
        /* the key's row: this call's id when admitted, else the first's */
        if (strcmp(name, "replayed") == 0
            && strcmp(PQgetvalue(r, 0, 3), out->id) == 0)
        {
            /* this call's own row, met by nano_gen_create's second run:
             * to the client, its first answer */
            nano_log_warn("generation %s: admitted before its answer was"
                          " lost", out->id);
            name = "admitted";
        }
        snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(r, 0, 3));
        snprintf(out->status, sizeof(out->status), "%s",
                 PQgetvalue(r, 0, 4));
    }
    *outcome = strdup(name);
    PQclear(r);
    if (*outcome == NULL) {
        return NANO_DB_FAILED;
    }
    /* such a second run ran on a connection opened during the call (so
     * does a first call: then the read finds nothing, one round trip on
     * a refusal) */
    if ((strcmp(*outcome, "no_credits") == 0
         || strcmp(*outcome, "too_many") == 0)
        && nano_db_connection(db) != conn)
    {
        return nano_gen_admit_lost(db, in, out, outcome, NANO_DB_OK);
    }
    return NANO_DB_OK;
}

nano_db_status_t
nano_gen_create(nano_db_t *db, const nano_gen_new_t *in,
    nano_gen_admission_t *out)
{
    nano_db_status_t  st = NANO_DB_FAILED;
    char             *pjson = NULL, *outcome = NULL;
    size_t            i;

    memset(out, 0, sizeof(*out));
    out->admit = NANO_GEN_NO_PRICE;
    if (nano_rand_uuid(out->id) != 0) {
        goto out;
    }
    pjson = in->params != NULL ? json_dumps(in->params, JSON_COMPACT)
                               : strdup("{}");
    if (pjson == NULL) {
        goto out;
    }
    st = nano_gen_admit_once(db, in, pjson, out, &outcome);
    if (st == NANO_DB_UNAVAILABLE && !in->early) {
        /* Its commit may have happened on a connection nano_db opened
         * for the call, which it does not run again.  Here a second run
         * is safe: it waits for the first one's lock, then finds its
         * row by the key, or meets its id (nano_gen_admit_lost), or
         * admits when the first one did not commit.  (An early one is
         * a text answer: its lease fails and refunds it instead.) */
        nano_log_warn("generation %s: the admission's connection was lost;"
                      " running it again", out->id);
        st = nano_gen_admit_once(db, in, pjson, out, &outcome);
    }
    if (st == NANO_DB_OK && strcmp(outcome, "no_account") == 0) {
        /* the first use: the account and its grant (its statement reads
         * the refused admission's commit first), then once more */
        free(outcome);
        outcome = NULL;
        st = nano_credits_ensure(db, in->user_id);
        if (st == NANO_DB_OK) {
            st = nano_gen_admit_once(db, in, pjson, out, &outcome);
        }
    }
    if (st == NANO_DB_OK && strcmp(outcome, "admitted") != 0) {
        /* nothing was written: no need to keep its commit apart */
        st = nano_db_settle(db);
    }
    if (st != NANO_DB_OK) {
        goto out;
    }
    st = NANO_DB_FAILED;
    for (i = 0; i < sizeof(nano_gen_outcomes) / sizeof(nano_gen_outcomes[0]);
         i++)
    {
        if (strcmp(outcome, nano_gen_outcomes[i].name) == 0) {
            out->admit = nano_gen_outcomes[i].admit;
            st = NANO_DB_OK;
        }
    }
    if (st != NANO_DB_OK) {
        nano_log_error("nano_gen_admit answered %s", outcome);
    } else if (out->admit == NANO_GEN_ADMITTED && out->status[0] == '\0') {
        snprintf(out->status, sizeof(out->status), "%s", in->status);
    }
out:
    if (st != NANO_DB_OK && nano_db_pending(db)) {
        nano_db_settle(db);
    }
    free(outcome);
    free(pjson);
    return st;
}

/* ---- reading ------------------------------------------------------------ */

nano_db_status_t
nano_gen_get(nano_db_t *db, const char *id, const char *user_id,
    nano_gen_t *g, int *found)
{
    static const char   sql[] =
        "SELECT " NANO_GEN_COLUMNS("") " FROM \"Generation\""
        " WHERE \"id\" = $1 AND ($2::text IS NULL OR \"userId\" = $2)";
    const char         *params[2] = { id, user_id };
    nano_db_status_t    st;
    PGresult           *r;

    *found = 0;
    r = nano_db_exec_hot(db, sql, 2, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    if (PQntuples(r) == 1) {
        if (nano_gen_read(r, 0, g) != 0) {
            st = NANO_DB_FAILED;
        } else {
            *found = 1;
        }
    }
    PQclear(r);
    return st;
}

/* The URL an output is served at: base/media/<id>/<name of its file>. */
static json_t *
nano_gen_output_json(const nano_gen_t *g, json_t *o, const char *base)
{
    const char  *file = json_string_value(json_object_get(o, "file"));
    const char  *name;
    char        *url;
    size_t       len;
    json_t      *out;

    if (file == NULL) {
        return NULL;
    }
    name = strrchr(file, '/');
    name = name != NULL ? name + 1 : file;
    len = strlen(base) + strlen(g->id) + strlen(name) + sizeof("/media//");
    url = malloc(len);
    if (url == NULL) {
        return NULL;
    }
    snprintf(url, len, "%s/media/%s/%s", base, g->id, name);
    out = json_pack("{s:s, s:O?, s:O?, s:O?}", "url", url,
                    "mime", json_object_get(o, "mime"),
                    "width", json_object_get(o, "width"),
                    "height", json_object_get(o, "height"));
    free(url);
    return out;
}

/* The names of the columns in g->unreadable as a new array. */
static json_t *
nano_gen_unreadable_json(const nano_gen_t *g)
{
    json_t  *names = json_array();
    size_t   k;

    for (k = 0; k < NANO_GEN_JSONB_COLS && names != NULL; k++) {
        if ((g->unreadable & nano_gen_jsonb_cols[k].bit)
            && json_array_append_new(names,
                   json_string(nano_gen_jsonb_cols[k].name)) != 0)
        {
            json_decref(names);
            names = NULL;
        }
    }
    return names;
}

json_t *
nano_gen_json(const nano_gen_t *g, const char *base)
{
    json_t  *outputs = NULL, *o, *v, *params = NULL, *j;
    size_t   i;
    int      partial;

    /* outputs that cannot be read are not "none": null */
    if (!(g->unreadable & NANO_GEN_UNREADABLE_OUTPUTS)) {
        outputs = json_array();
        if (outputs == NULL) {
            return NULL;
        }
    }
    json_array_foreach(g->outputs, i, v) {
        o = nano_gen_output_json(g, v, base);
        if (o == NULL || json_array_append_new(outputs, o) != 0) {
            json_decref(outputs);
            return NULL;
        }
    }
    /* a stream its reader left: charged, and shown as partial */
    partial = g->status != NULL && strcmp(g->status, "succeeded") == 0
              && g->error != NULL;
    /* the options as asked, without where the server keeps an input */
    if (g->params != NULL) {
        params = json_deep_copy(g->params);
        if (params == NULL) {
            json_decref(outputs);
            return NULL;
        }
        json_object_del(params, "inputImage");
    }
    j = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:b, s:o?, s:s?, s:O?,"
                  " s:b, s:s?, s:s?, s:s?, s:s?, s:o?}",
                  "id", g->id, "module", g->module, "model", g->model,
                  "status", g->status, "prompt", g->prompt,
                  "cost", (json_int_t) g->cost, "offline", g->offline,
                  "outputs", outputs, "text", g->text,
                  "error", g->error, "partial", partial,
                  "conversationId", g->conversation_id,
                  "createdAt", g->created_at, "startedAt", g->started_at,
                  "finishedAt", g->finished_at, "params", params);
    if (j != NULL && g->unreadable != 0
        && json_object_set_new(j, "unreadable",
                               nano_gen_unreadable_json(g)) != 0)
    {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/*
 * 1 when at is a time as PostgreSQL prints a TIMESTAMP(3):
 * "YYYY-MM-DD HH:MM:SS" and up to 6 fraction digits, a real day of year
 * 1 or later.  Anything else would reach the server only to fail there
 * and fill its log with "date/time field value out of range".
 */
int
nano_gen_cursor_time_ok(const char *at)
{
    static const char  shape[] = "dddd-dd-dd dd:dd:dd";
    static const int   days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                  31 };
    int                y, mo, d, h, mi, sec, leap;
    size_t             i, frac;

    for (i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd' ? at[i] < '0' || at[i] > '9' : at[i] != shape[i]) {
            return 0;
        }
    }
    if (at[i] == '.') {
        for (frac = 0, i++; at[i] >= '0' && at[i] <= '9'; i++) {
            frac++;
        }
        if (frac == 0 || frac > 6) {
            return 0;
        }
    }
    if (at[i] != '\0'
        || sscanf(at, "%4d-%2d-%2d %2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec)
           != 6)
    {
        return 0;
    }
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return y >= 1 && mo >= 1 && mo <= 12 && d >= 1
           && d <= days[mo - 1] + (mo == 2 && leap) && h <= 23 && mi <= 59
           && sec <= 59;
}

/* A history cursor is "<createdAt raw>|<id>", base64url-free: both are
 * plain ASCII the database gave us, checked before use.  The time is
 * to_char's, in one format: as PostgreSQL prints a timestamp it follows
 * the connection's DateStyle ("06/12/2026 01:58:45.413" under SQL, DMY),
 * and such a cursor was refused on the next page.  The id is a whole
 * generation id: a cursor cut short in its id was taken, and paged from
 * a place no row had (found by the pagination probe). */
static int
nano_gen_cursor_split(const char *cursor, char *at, size_t atcap, char *id,
    size_t idcap)
{
    const char  *bar = strchr(cursor, '|');
    size_t       n;

    if (bar == NULL || (size_t) (bar - cursor) >= atcap
        || strlen(bar + 1) >= idcap || bar == cursor
        || !nano_gen_uuid_ok(bar + 1))
    {
        return -1;
    }
    n = (size_t) (bar - cursor);
    memcpy(at, cursor, n);
    at[n] = '\0';
    if (!nano_gen_cursor_time_ok(at)) {
        return -1;
    }
    strcpy(id, bar + 1);
    return 0;
}

/*
 * A row with a column jansson cannot hold (nano_gen_read) is listed with
 * that column null and named in "unreadable", as its GET shows it: left
 * out, its owner could neither see nor delete it, and an export would
 * miss it.  Logged, since only an operator can mend it.
 */
static void
nano_gen_listed_unreadable(const nano_gen_t *g)
{
    char  names[64];

    nano_log_error("cannot read generation %s (its %s); listed without",
                   g->id,
                   nano_gen_unreadable_names(g->unreadable, names,
                                             sizeof(names)));
}

nano_db_status_t
nano_gen_history(nano_db_t *db, const char *user_id, const char *module,
    int limit, const char *cursor, const char *base, json_t **items,
    char **next, int *gone)
{
    /* the owner's "User" row in the same statement: no row at all when
     * the account is gone, one of NULLs when it has no generations */
    static const char   sql[] =
        "SELECT g.* FROM \"User\" u LEFT JOIN LATERAL"
        " (SELECT " NANO_GEN_COLUMNS("") " FROM \"Generation\""
        " WHERE \"userId\" = u.\"id\" AND \"module\" = $2"
        " AND ($3::timestamp IS NULL"
        " OR (\"createdAt\", \"id\") < ($3::timestamp, $4))"
        " ORDER BY \"createdAt\" DESC, \"id\" DESC LIMIT $5) g ON true"
        " WHERE u.\"id\" = $1 ORDER BY g.created_raw DESC, g.\"id\" DESC";
    const char         *params[5];
    char                at[40], id[NANO_GEN_ID_LEN + 1], lim[16];
    nano_db_status_t    st;
    nano_gen_t          g;
    PGresult           *r;
    json_t             *j;
    size_t              len;
    int                 i, n, shown, col;

    *items = NULL;
    *next = NULL;
    *gone = 0;
    params[2] = NULL;
    params[3] = NULL;
    if (cursor != NULL) {
        if (nano_gen_cursor_split(cursor, at, sizeof(at), id, sizeof(id))
            != 0)
        {
            return NANO_DB_INVALID;
        }
        params[2] = at;
        params[3] = id;
    }
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    params[0] = user_id;
    params[1] = module;
    params[4] = lim;
    r = nano_db_exec(db, sql, 5, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        /* a cursor PostgreSQL cannot read as a timestamp is the client's */
        return st == NANO_DB_FAILED && cursor != NULL ? NANO_DB_INVALID : st;
    }
    n = PQntuples(r);
    if (n == 0) {
        *gone = 1;
        PQclear(r);
        return NANO_DB_OK;
    }
    if (n == 1 && PQgetisnull(r, 0, 0)) {
        n = 0;                              /* the account, no rows */
    }
    shown = n > limit ? limit : n;
    *items = json_array();
    for (i = 0; i < shown && *items != NULL; i++) {
        nano_gen_init(&g);
        if (nano_gen_read(r, i, &g) != 0) {
            json_decref(*items);
            *items = NULL;
            break;
        }
        if (g.unreadable != 0) {
            nano_gen_listed_unreadable(&g);
        }
        j = nano_gen_json(&g, base);
        if (j == NULL || json_array_append_new(*items, j) != 0) {
            json_decref(*items);
            *items = NULL;
        }
        nano_gen_cleanup(&g);
    }
    if (*items != NULL && n > limit) {
        col = PQfnumber(r, "created_raw");
        len = strlen(PQgetvalue(r, shown - 1, col))
              + strlen(PQgetvalue(r, shown - 1, 0)) + 2;
        *next = malloc(len);
        if (*next == NULL) {
            json_decref(*items);
            *items = NULL;
        } else {
            snprintf(*next, len, "%s|%s", PQgetvalue(r, shown - 1, col),
                     PQgetvalue(r, shown - 1, 0));
        }
    }
    PQclear(r);
    return *items != NULL ? NANO_DB_OK : NANO_DB_FAILED;
}

nano_db_status_t
nano_gen_each(nano_db_t *db, const char *user_id, int batch,
    int (*each)(json_t *item, void *arg), void *arg)
{
    /* one cursor, not a page query each time: pages by keyset scanned
     * every row before their start again where the planner took the
     * (user, module) index, 20,000 rows in 200 pages took seconds */
    static const char   declare[] =
        "DECLARE \"nano_gen_each\" NO SCROLL CURSOR FOR"
        " SELECT " NANO_GEN_COLUMNS("") " FROM \"Generation\""
        " WHERE \"userId\" = $1 ORDER BY \"createdAt\" DESC, \"id\" DESC";
    const char         *params[1] = { user_id };
    char                base[NANO_GEN_BASE_MAX], fetch[64];
    nano_db_status_t    st;
    nano_gen_t          g;
    PGresult           *r;
    json_t             *j;
    int                 i, n, stop = 0;

    snprintf(fetch, sizeof(fetch), "FETCH FORWARD %d FROM \"nano_gen_each\"",
             batch);
    PQclear(nano_db_exec(db, declare, 1, params, PGRES_COMMAND_OK, &st));
    while (st == NANO_DB_OK && !stop) {
        r = nano_db_exec(db, fetch, 0, NULL, PGRES_TUPLES_OK, &st);
        if (r == NULL) {
            break;
        }
        n = PQntuples(r);
        for (i = 0; i < n && !stop; i++) {
            nano_gen_init(&g);
            if (nano_gen_read(r, i, &g) != 0) {
                st = NANO_DB_FAILED;
                break;
            }
            if (g.unreadable != 0) {
                nano_gen_listed_unreadable(&g);
            }
            j = snprintf(base, sizeof(base), "/%s", g.module)
                < (int) sizeof(base) ? nano_gen_json(&g, base) : NULL;
            nano_gen_cleanup(&g);
            if (j == NULL) {
                st = NANO_DB_FAILED;
                break;
            }
            stop = each(j, arg) != 0;
            json_decref(j);
        }
        PQclear(r);
        if (n < batch) {
            break;
        }
    }
    if (st == NANO_DB_OK) {
        PQclear(nano_db_exec(db, "CLOSE \"nano_gen_each\"", 0, NULL,
                             PGRES_COMMAND_OK, &st));
    }
    return st;
}

/* ---- changes by the owner ----------------------------------------------- */

typedef struct {
    const char         *id;
    const char         *user_id;
    const char         *module;     /* another module's is not found */
    const char         *owner;      /* nano_gen_cancel_lost's runner */
    int                 delete;     /* delete (1) or cancel (0) */
    nano_gen_change_t   out;
    json_t             *files;      /* its files, relative to the media root */
} nano_gen_change_ctx_t;

/*
 * The owner's status of id in module, locked for the transaction (NULL
 * when none), and the files it owns: its outputs and the image it was
 * given.  PostgreSQL picks the names out, so a row whose other values
 * jansson refuses (nano_gen_read) can still be canceled or deleted.  A
 * row running under runner (NULL: none) that it never began (no phase)
 * reads as queued.
 */
static nano_db_status_t
nano_gen_lock(nano_db_t *db, const char *id, const char *user_id,
    const char *module, const char *runner, char **status, json_t **files)
{
    static const char   sql[] =
        "SELECT CASE WHEN \"status\" = 'running' AND \"leaseOwner\" = $4"
        " AND \"phase\" IS NULL THEN 'queued' ELSE \"status\" END"
        " AS \"status\", jsonb_path_query_array(\"outputs\","
        " '$[*].file ? (@.type() == \"string\")')"
        " || jsonb_path_query_array(\"params\","
        " '$.inputImage.file ? (@.type() == \"string\")') AS \"files\""
        " FROM \"Generation\" WHERE \"id\" = $1 AND \"userId\" = $2"
        " AND \"module\" = $3 FOR UPDATE";
    const char         *params[4] = { id, user_id, module, runner };
    nano_db_status_t    st;
    PGresult           *r;

    *status = NULL;
    *files = NULL;
    r = nano_db_exec(db, sql, 4, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    /* an array of strings: only memory can fail it */
    if (PQntuples(r) == 1
        && (nano_gen_str(r, 0, "status", status) != 0
            || nano_gen_jsonb(r, 0, "files", files) != 0
            || !json_is_array(*files)))
    {
        st = NANO_DB_FAILED;
    }
    PQclear(r);
    return st;
}

static nano_db_status_t
nano_gen_change_tx(nano_db_t *db, void *arg)
{
    static const char   cancel[] =
        "UPDATE \"Generation\" SET \"status\" = 'canceled', \"finishedAt\" = "
        NANO_GEN_NOW ", \"error\" = '{\"code\":\"canceled\",\"message\":"
        "\"canceled before it started\"}', \"leaseOwner\" = NULL,"
        " \"leaseUntil\" = NULL WHERE \"id\" = $1";
    static const char   drop[] =
        "DELETE FROM \"Generation\" WHERE \"id\" = $1";
    nano_gen_change_ctx_t  *c = arg;
    const char             *params[1] = { c->id };
    nano_db_status_t        st;
    char                   *status = NULL;
    int                     queued, refunded;

    json_decref(c->files);
    c->files = NULL;
    c->out = NANO_GEN_CHANGED;
    st = nano_gen_lock(db, c->id, c->user_id, c->module, c->owner, &status,
                       &c->files);
    if (st != NANO_DB_OK) {
        goto out;
    }
    if (status == NULL) {
        c->out = NANO_GEN_NOT_FOUND;
        goto out;
    }
    queued = strcmp(status, "queued") == 0;
    /* a running job belongs to its runner until it ends; a finished one
     * cannot be canceled */
    if (strcmp(status, "running") == 0 || (!c->delete && !queued)) {
        c->out = NANO_GEN_CONFLICT;
        goto out;
    }
    if (queued) {
        st = nano_credits_refund(db, c->id, &refunded);
        if (st != NANO_DB_OK) {
            goto out;
        }
    }
    PQclear(nano_db_exec(db, c->delete ? drop : cancel, 1, params,
                         PGRES_COMMAND_OK, &st));
out:
    free(status);
    return st;
}

static nano_db_status_t
nano_gen_change(nano_db_t *db, nano_gen_change_ctx_t *c)
{
    nano_db_status_t  st;

    c->files = NULL;
    st = nano_db_tx(db, nano_gen_change_tx, c);
    if (st != NANO_DB_OK && c->out == NANO_GEN_CHANGED) {
        json_decref(c->files);
        c->files = NULL;
    }
    return st;
}

nano_db_status_t
nano_gen_cancel(nano_db_t *db, const char *id, const char *user_id,
    const char *module, nano_gen_change_t *out)
{
    return nano_gen_cancel_lost(db, id, user_id, module, NULL, out);
}

nano_db_status_t
nano_gen_cancel_lost(nano_db_t *db, const char *id, const char *user_id,
    const char *module, const char *runner, nano_gen_change_t *out)
{
    nano_gen_change_ctx_t  c = { id, user_id, module, runner, 0,
                                 NANO_GEN_CHANGED, NULL };
    nano_db_status_t       st;

    st = nano_gen_change(db, &c);
    json_decref(c.files);
    *out = c.out;
    return st;
}

nano_db_status_t
nano_gen_delete(nano_db_t *db, const char *id, const char *user_id,
    const char *module, nano_gen_change_t *out, json_t **files)
{
    nano_gen_change_ctx_t  c = { id, user_id, module, NULL, 1,
                                 NANO_GEN_CHANGED, NULL };
    nano_db_status_t       st;

    st = nano_gen_change(db, &c);
    *out = c.out;
    *files = NULL;
    if (st == NANO_DB_OK && c.out == NANO_GEN_CHANGED) {
        *files = c.files;
    } else {
        json_decref(c.files);
    }
    return st;
}

/* ---- the media sweep ---------------------------------------------------- */

static int
nano_gen_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

nano_db_status_t
nano_gen_media_names(nano_db_t *db, const char *module, const char *user_id,
    char ***names, size_t *n)
{
    /* one scan of the user's rows, each giving all its names; outputs
     * that are not an array, or items without a file, name nothing */
    static const char   sql[] =
        "SELECT n.name FROM \"Generation\" g CROSS JOIN LATERAL ("
        "SELECT o->>'file' FROM jsonb_array_elements("
        "CASE WHEN jsonb_typeof(g.\"outputs\") = 'array'"
        " THEN g.\"outputs\" ELSE '[]'::jsonb END) o"
        " UNION ALL SELECT g.\"params\"->'inputImage'->>'file'"
        " UNION ALL SELECT $2 || '/' || $1 || '/' || g.\"id\" || '/'"
        " WHERE g.\"status\" IN ('queued', 'running')) n(name)"
        " WHERE g.\"userId\" = $1 AND g.\"module\" = $2"
        " AND n.name IS NOT NULL";
    const char         *params[2] = { user_id, module };
    nano_db_status_t    st;
    PGresult           *r;
    char              **out;
    int                 i, rows;

    *names = NULL;
    *n = 0;
    r = nano_db_exec(db, sql, 2, params, PGRES_TUPLES_OK, &st);
    if (r == NULL) {
        return st;
    }
    rows = PQntuples(r);
    out = calloc(rows > 0 ? (size_t) rows : 1, sizeof(char *));
    if (out == NULL) {
        PQclear(r);
        return NANO_DB_FAILED;
    }
    for (i = 0; i < rows; i++) {
        if (PQgetisnull(r, i, 0)) {
            continue;
        }
        if ((out[*n] = strdup(PQgetvalue(r, i, 0))) == NULL) {
            PQclear(r);
            nano_gen_names_free(out, *n);
            *n = 0;
            return NANO_DB_FAILED;
        }
        (*n)++;
    }
    PQclear(r);
    qsort(out, *n, sizeof(char *), nano_gen_name_cmp);
    *names = out;
    return NANO_DB_OK;
}

void
nano_gen_names_free(char **names, size_t n)
{
    size_t  i;

    for (i = 0; i < n && names != NULL; i++) {
        free(names[i]);
    }
    free(names);
}

int
nano_gen_error_level(const char *code)
{
    static const char *const  theirs[] = {
        "bad_request", "blocked", "client_gone", "canceled", NULL
    };
    size_t                    i;

    if (code == NULL) {
        return NANO_LOG_WARN;
    }
    for (i = 0; theirs[i] != NULL; i++) {
        if (strcmp(code, theirs[i]) == 0) {
            return NANO_LOG_INFO;
        }
    }
    if (strcmp(code, "provider_auth") == 0 || strcmp(code, "internal") == 0) {
        return NANO_LOG_ERROR;
    }
    return NANO_LOG_WARN;
}
