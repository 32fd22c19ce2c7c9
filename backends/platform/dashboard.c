/*
 * GET /api/dashboard: the signed-in user's modules, balance, recent
 * generations and 30 days of usage with its chart (docs/PLATFORM.md).
 * One statement, one round trip; each of its parts reads an index.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nano_chart.h"
#include "nano_credits.h"
#include "nano_log.h"
#include "nano_registry.h"
#include "nano_server.h"
#include "platform.h"

#define PLATFORM_DASH_DAYS     30
#define PLATFORM_DASH_RECENT   "12"
#define PLATFORM_DASH_PROMPT   "200"     /* characters of a prompt shown */
#define PLATFORM_DASH_SERIES   64        /* modules in the chart, at most */

#define PLATFORM_DASH_ISO(col)                                                \
    "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/*
 * $1 the user, $2 the first day of the window (UTC midnight).  Prices
 * and module status are small tables read whole; the recent rows come
 * from "Generation_user_idx", the usage from
 * "CreditLedger_userId_createdAt_idx" (sql/007): credits spent per day
 * and module are debits less refunds.  A refund counts on its debit's
 * day (found by "CreditLedger_debit_once"), and not at all when that
 * day is before the window: on its own day, a refund after midnight
 * showed as credits spent below zero.
 */
static const char  platform_dash_sql[] =
    "SELECT"
    " (SELECT \"balance\" FROM \"CreditAccount\" WHERE \"userId\" = $1)"
    " AS balance,"
    " (SELECT coalesce(json_agg(json_build_array(\"module\", \"model\","
    " \"label\", \"credits\") ORDER BY \"module\", \"sort\", \"model\"),"
    " '[]') FROM \"ModelPrice\") AS prices,"
    " (SELECT coalesce(json_agg(json_build_array(\"module\", \"provider\","
    " \"offline\")), '[]') FROM \"ModuleStatus\") AS status,"
    " (SELECT coalesce(json_agg(json_build_array(r.\"id\", r.\"module\","
    " r.\"kind\", r.\"status\", r.\"prompt\", r.\"at\", r.\"file\","
    " r.\"mime\") ORDER BY r.\"createdAt\" DESC, r.\"id\" DESC), '[]')"
    " FROM (SELECT \"id\", \"module\", \"kind\", \"status\","
    " left(\"prompt\", " PLATFORM_DASH_PROMPT ") AS \"prompt\", \"createdAt\","
    " " PLATFORM_DASH_ISO("\"createdAt\"") " AS \"at\","
    " \"outputs\"->0->>'file' AS \"file\","
    " \"outputs\"->0->>'mime' AS \"mime\""
    " FROM \"Generation\" WHERE \"userId\" = $1"
    " ORDER BY \"createdAt\" DESC, \"id\" DESC"
    " LIMIT " PLATFORM_DASH_RECENT ") r) AS recent,"
    " (SELECT coalesce(json_agg(json_build_array(u.\"day\", u.\"module\","
    " u.\"spent\") ORDER BY u.\"module\", u.\"day\"), '[]')"
    " FROM (SELECT to_char(c.\"at\", 'YYYY-MM-DD') AS \"day\", c.\"module\","
    " -sum(c.\"delta\") AS \"spent\" FROM (SELECT l.\"module\", l.\"delta\","
    " coalesce((SELECT d.\"createdAt\" FROM \"CreditLedger\" d"
    " WHERE l.\"reason\" = 'refund' AND d.\"reason\" = 'debit'"
    " AND d.\"generationId\" = l.\"generationId\"), l.\"createdAt\") AS \"at\""
    " FROM \"CreditLedger\" l"
    " WHERE l.\"userId\" = $1 AND l.\"createdAt\" >= $2::timestamp"
    " AND l.\"reason\" IN ('debit', 'refund') AND l.\"module\" IS NOT NULL) c"
    " WHERE c.\"at\" >= $2::timestamp GROUP BY 1, 2) u) AS usage";

/* The window: PLATFORM_DASH_DAYS UTC days ending today. */
typedef struct {
    char         text[PLATFORM_DASH_DAYS][11];
    const char  *day[PLATFORM_DASH_DAYS];
} platform_days_t;

static void
platform_dash_days(platform_days_t *d, time_t now)
{
    struct tm  tm;
    time_t     t;
    int        i;

    now -= now % 86400;
    for (i = 0; i < PLATFORM_DASH_DAYS; i++) {
        t = now - (time_t) (PLATFORM_DASH_DAYS - 1 - i) * 86400;
        gmtime_r(&t, &tm);
        strftime(d->text[i], sizeof(d->text[i]), "%Y-%m-%d", &tm);
        d->day[i] = d->text[i];
    }
}

/* A JSON string's text, or "" for anything else. */
static const char *
platform_dash_str(const json_t *v)
{
    const char  *s = json_string_value(v);

    return s != NULL ? s : "";
}

/* A JSON column of row 0, parsed (a new reference), or NULL. */
static json_t *
platform_dash_column(PGresult *r, const char *name)
{
    int  col = PQfnumber(r, name);

    if (col < 0 || PQgetisnull(r, 0, col)) {
        return NULL;
    }
    return json_loads(PQgetvalue(r, 0, col), 0, NULL);
}

/* Every module of the registry with its prices and what it runs on. */
static json_t *
platform_dash_modules(json_t *prices, json_t *status)
{
    const nano_registry_module_t  *m;
    const char                    *provider;
    json_t                        *out, *models, *row, *st, *offline;
    size_t                         i, j, n;

    out = json_array();
    m = nano_registry_modules(&n);
    for (i = 0; out != NULL && i < n; i++) {
        models = json_array();
        json_array_foreach(prices, j, row) {
            if (strcmp(platform_dash_str(json_array_get(row, 0)),
                       m[i].name) == 0)
            {
                json_array_append_new(models,
                    json_pack("{s:O, s:O, s:O}",
                              "id", json_array_get(row, 1),
                              "label", json_array_get(row, 2),
                              "cost", json_array_get(row, 3)));
            }
        }
        /* as the module reported it at start; before that, the
         * registry's word, and offline unknown unless it says so */
        provider = m[i].provider;
        offline = strcmp(provider, "offline") == 0 ? json_true()
                                                   : json_null();
        json_array_foreach(status, j, st) {
            if (strcmp(platform_dash_str(json_array_get(st, 0)),
                       m[i].name) == 0)
            {
                if (json_is_string(json_array_get(st, 1))) {
                    provider = json_string_value(json_array_get(st, 1));
                }
                json_decref(offline);
                offline = json_incref(json_array_get(st, 2));
                break;
            }
        }
        if (json_array_append_new(out,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
                          "name", m[i].name, "title", m[i].title,
                          "kind", m[i].kind, "path", m[i].path,
                          "provider", provider, "offline", offline,
                          "models", models)) != 0)
        {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

/* The recent generations: where each is seen, and a thumbnail for an
 * image that was made (its module's media route, for its owner). */
static json_t *
platform_dash_recent(json_t *rows)
{
    const nano_registry_module_t  *m;
    const char                    *id, *module, *kind, *status, *file, *mime;
    const char                    *name;
    char                           thumb[512], url[128];
    json_t                        *out, *row;
    size_t                         i;
    int                            has_thumb;

    out = json_array();
    json_array_foreach(rows, i, row) {
        id = json_string_value(json_array_get(row, 0));
        module = json_string_value(json_array_get(row, 1));
        kind = json_string_value(json_array_get(row, 2));
        status = json_string_value(json_array_get(row, 3));
        file = json_string_value(json_array_get(row, 6));
        mime = json_string_value(json_array_get(row, 7));
        if (id == NULL || module == NULL || kind == NULL || status == NULL) {
            continue;
        }
        m = nano_registry_find(module);
        snprintf(url, sizeof(url), "%s/", m != NULL ? m->path : "");
        name = file != NULL ? strrchr(file, '/') : NULL;
        name = name != NULL ? name + 1 : file;
        has_thumb = m != NULL && name != NULL && mime != NULL
                    && strncmp(mime, "image/", 6) == 0
                    && strcmp(status, "succeeded") == 0
                    && snprintf(thumb, sizeof(thumb), "%s/media/%s/%s",
                                m->path, id, name) < (int) sizeof(thumb);
        if (json_array_append_new(out,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:s?, s:s?}",
                          "id", id, "module", module,
                          "title", m != NULL ? m->title : module,
                          "kind", kind, "status", status,
                          "prompt", json_array_get(row, 4),
                          "createdAt", json_array_get(row, 5),
                          "thumb", has_thumb ? thumb : NULL,
                          "url", m != NULL ? url : NULL)) != 0)
        {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* One module's layer of the chart. */
typedef struct {
    const char  *name;
    const char  *title;
    int          colour;
    int          rank;                   /* registry order first */
    long long    v[PLATFORM_DASH_DAYS];
} platform_dash_series_t;

static int
platform_dash_series_cmp(const void *a, const void *b)
{
    const platform_dash_series_t  *x = a, *y = b;

    return x->rank - y->rank;
}

/*
 * usage {"days","modules","series"} from the rows [day, module, spent],
 * and the chart of the same numbers appended to svg.  0 or -1.
 */
static int
platform_dash_usage(json_t *rows, const platform_days_t *d, json_t **usage,
    nano_buf_t *svg)
{
    const nano_registry_module_t  *reg;
    platform_dash_series_t        *s = NULL;
    nano_chart_series_t           *layers = NULL;
    nano_chart_t                   chart;
    const char                    *day, *module;
    json_t                        *row, *days, *names, *series, *vals;
    long long                      total = 0;
    size_t                         i, j, n = 0, nreg;
    char                           label[128];
    int                            k, status = -1;

    *usage = NULL;
    reg = nano_registry_modules(&nreg);
    s = calloc(PLATFORM_DASH_SERIES, sizeof(*s));
    layers = calloc(PLATFORM_DASH_SERIES, sizeof(*layers));
    if (s == NULL || layers == NULL) {
        goto out;
    }
    json_array_foreach(rows, i, row) {
        day = json_string_value(json_array_get(row, 0));
        module = json_string_value(json_array_get(row, 1));
        if (day == NULL || module == NULL) {
            continue;
        }
        for (j = 0; j < n && strcmp(s[j].name, module) != 0; j++) {
            /* rows come ordered by module: usually the last one */
        }
        if (j == n) {
            if (n == PLATFORM_DASH_SERIES) {
                continue;
            }
            s[n].name = module;
            s[n].title = module;
            s[n].rank = (int) (nreg + n);
            for (k = 0; k < (int) nreg; k++) {
                if (strcmp(reg[k].name, module) == 0) {
                    s[n].title = reg[k].title;
                    s[n].rank = k;
                }
            }
            s[n].colour = s[n].rank;
            n++;
        }
        for (k = 0; k < PLATFORM_DASH_DAYS; k++) {
            if (strcmp(d->day[k], day) == 0) {
                s[j].v[k] += json_integer_value(json_array_get(row, 2));
                total += json_integer_value(json_array_get(row, 2));
            }
        }
    }
    qsort(s, n, sizeof(*s), platform_dash_series_cmp);

    days = json_array();
    names = json_array();
    series = json_object();
    for (k = 0; k < PLATFORM_DASH_DAYS; k++) {
        json_array_append_new(days, json_string(d->day[k]));
    }
    for (i = 0; i < n; i++) {
        vals = json_array();
        for (k = 0; k < PLATFORM_DASH_DAYS; k++) {
            json_array_append_new(vals, json_integer(s[i].v[k]));
        }
        json_array_append_new(names, json_string(s[i].name));
        json_object_set_new(series, s[i].name, vals);
        layers[i].key = s[i].name;
        layers[i].label = s[i].title;
        layers[i].colour = s[i].colour;
        layers[i].values = s[i].v;
    }
    *usage = json_pack("{s:o, s:o, s:o}", "days", days, "modules", names,
                       "series", series);

    snprintf(label, sizeof(label), "Credits spent per day from %s to %s"
             " (UTC), by module: %lld in all", d->day[0],
             d->day[PLATFORM_DASH_DAYS - 1], total);
    chart.label = label;
    chart.empty = "No credits spent in the last 30 days";
    chart.bars = d->day;
    chart.nbars = PLATFORM_DASH_DAYS;
    chart.series = layers;
    chart.nseries = n;
    if (*usage != NULL && nano_chart_stacked_svg(svg, &chart) == 0) {
        status = 0;
    }
out:
    free(layers);
    free(s);
    return status;
}

int
platform_dashboard(nano_req_t *req, nano_res_t *res)
{
    const char        *user = nano_req_param_str(req, "NANO_USER_ID");
    const char        *params[2];
    platform_days_t    days;
    nano_db_status_t   st;
    nano_db_t         *db;
    nano_buf_t         svg;
    PGresult          *r = NULL;
    json_t            *prices = NULL, *status = NULL, *recent_rows = NULL;
    json_t            *usage_rows = NULL, *modules = NULL, *usage = NULL;
    json_t            *recent = NULL;
    long long          balance = 0;
    int                code, col, found;

    /* the gateway's verdict (revocations included), as /api/credits */
    if (user[0] == '\0') {
        return nano_res_error(res, 401, "unauthorized", "sign in first");
    }
    nano_buf_init(&svg);
    platform_dash_days(&days, time(NULL));
    params[0] = user;
    params[1] = days.day[0];
    db = nano_server_db(req);
    r = db != NULL ? nano_db_exec(db, platform_dash_sql, 2, params,
                                  PGRES_TUPLES_OK, &st)
                   : NULL;
    if (r == NULL) {
        code = nano_server_db_error(res, db, db != NULL ? st
                                                      : NANO_DB_UNAVAILABLE);
        goto out;
    }
    col = PQfnumber(r, "balance");
    if (PQntuples(r) != 1 || col < 0) {
        code = nano_res_error(res, 500, "internal", "unexpected answer");
        goto out;
    }
    if (PQgetisnull(r, 0, col)) {
        /* no account yet (a V1 user's first visit): opened with its
         * grant, as any first use does; still none, no such user */
        st = nano_credits_ensure(db, user);
        if (st == NANO_DB_OK) {
            st = nano_credits_balance_read(db, user, &balance, &found);
        }
        if (st != NANO_DB_OK) {
            code = nano_server_db_error(res, db, st);
            goto out;
        }
        if (!found) {
            code = platform_no_account(res, user);
            goto out;
        }
    } else {
        balance = strtoll(PQgetvalue(r, 0, col), NULL, 10);
    }
    prices = platform_dash_column(r, "prices");
    status = platform_dash_column(r, "status");
    recent_rows = platform_dash_column(r, "recent");
    usage_rows = platform_dash_column(r, "usage");
    modules = platform_dash_modules(prices, status);
    recent = platform_dash_recent(recent_rows);
    if (modules == NULL || recent == NULL
        || platform_dash_usage(usage_rows, &days, &usage, &svg) != 0
        || svg.failed)
    {
        code = nano_res_error(res, 500, "internal",
                              "cannot build the dashboard");
        goto out;
    }
    code = nano_res_json(res, 200,
                         json_pack("{s:I, s:O, s:O, s:O, s:s}",
                                   "balance", (json_int_t) balance,
                                   "modules", modules, "recent", recent,
                                   "usage", usage, "chart", svg.data));
out:
    PQclear(r);
    json_decref(prices);
    json_decref(status);
    json_decref(recent_rows);
    json_decref(usage_rows);
    json_decref(modules);
    json_decref(recent);
    json_decref(usage);
    nano_buf_cleanup(&svg);
    return code;
}
