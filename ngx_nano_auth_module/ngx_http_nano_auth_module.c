
/*
 * ngx_http_nano_auth_module: the gateway's session check.  Verifies the
 * platform's session cookie (HS256 JWS, or NextAuth v4's JWE) and its
 * revocation on every request, through a per-worker cache of verified
 * tokens; refuses a request without a valid session in nginx's access
 * phase with 401 (so satisfy, auth_delay and error_page apply), and a
 * cross-site state change in the preaccess phase with 403; turns nginx's
 * plain 401 or 403 for such a refusal into the gateway's answer (JSON for
 * APIs, a 302 to sign in for pages), and exposes the verified identity
 * and the reason for a refusal as variables.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "nano_token.h"
#include "nano_jwe.h"
#include "nano_cookie.h"
#include "nano_revoke.h"


#define NGX_HTTP_NANO_AUTH_REVOKE_CHECK  1000   /* ms between two stat()s */
#define NGX_HTTP_NANO_AUTH_REVOKE_LOG    10     /* s between two errors */
#define NGX_HTTP_NANO_AUTH_REVOKE_STALE  60     /* s: an old snapshot */

/* The verified-token cache of one key file, per worker: 512 slots of
 * 1.5 KiB (768 KiB), each holding a whole token and its claims; a token
 * whose claims do not fit is verified every time. */
#define NGX_HTTP_NANO_AUTH_CACHE_BITS    9
#define NGX_HTTP_NANO_AUTH_CACHE_DATA    1536


/*
 * The revocation file's state, made by the directive and shared by every
 * location that inherits it.  Each worker mutates its own copy (forked
 * after the configuration was read), so it needs no lock.
 */
typedef struct {
    ngx_str_t                  path;          /* NUL-terminated */
    nano_revoke_t             *snapshot;      /* NULL: none read yet */
    ngx_msec_t                 checked;       /* the last stat() */
    time_t                     logged;        /* the last error logged */
    time_t                     grace;         /* the largest leeway */
    dev_t                      dev;           /* the snapshot's file */
    ino_t                      ino;
    off_t                      size;
    struct timespec            mtime;
    unsigned                   checked_once:1;
    unsigned                   have_file:1;   /* dev ... mtime are set */
} ngx_http_nano_auth_revocation_t;


/*
 * One verified token: the whole token (the key; a MAC or tag alone
 * would let a forged token borrow another's claims) and the claims read
 * from it, which point into data.  Only the clock and the revocation
 * file are looked at again on a hit.
 */
typedef struct {
    size_t                     token_len;     /* 0: empty */
    nano_token_format_t        format;
    nano_claims_t              claims;
    u_char                     data[NGX_HTTP_NANO_AUTH_CACHE_DATA];
} ngx_http_nano_auth_slot_t;


/*
 * A key file's state, made by nano_auth_secret_file and shared by every
 * location that inherits it.  The cache and the cipher context are made
 * by each worker on its first request (after the fork), so they need no
 * lock; a reload reads the key file into a new state with an empty cache.
 */
typedef struct {
    nano_keyring_t            *keyring;
    ngx_http_nano_auth_slot_t *cache;         /* NULL: not made yet */
    nano_jwe_ctx_t            *jwe;           /* NULL: not made yet */
    unsigned                   cache_failed:1;
} ngx_http_nano_auth_keys_t;


typedef struct {
    ngx_flag_t                 enable;
    ngx_flag_t                 csrf;
    ngx_flag_t                 log_query;     /* off: the request line's
                                                 query is not logged */
    ngx_str_t                  secret_file;
    ngx_http_nano_auth_keys_t *keys;
    ngx_array_t               *origins;       /* of ngx_str_t */
    ngx_uint_t                 secure;        /* the origins are https */
    ngx_http_nano_auth_revocation_t  *revocation;
    ngx_str_t                  cookie;
    ngx_str_t                  login_url;
    ngx_str_t                  login_page;    /* the 302's body */
    ngx_str_t                  challenge;     /* the 401's WWW-Authenticate */
    time_t                     leeway;
    time_t                     max_age;       /* 0: exp alone */
    time_t                     hsts;          /* 0: no HSTS header */
    ngx_str_t                  hsts_value;    /* "max-age=<hsts>" */
} ngx_http_nano_auth_loc_conf_t;


/* The answer the module wants for its refusal. */
typedef enum {
    NGX_HTTP_NANO_AUTH_ADMIT = 0,
    NGX_HTTP_NANO_AUTH_JSON,
    NGX_HTTP_NANO_AUTH_REDIRECT,
    NGX_HTTP_NANO_AUTH_CSRF                   /* 403 JSON */
} ngx_http_nano_auth_answer_e;


typedef struct {
    nano_token_status_t        status;
    nano_token_reason_t        reason;
    nano_claims_t              claims;
    ngx_str_t                 *body;          /* set: our answer replaces
                                                 nginx's 401 or 403 */
    unsigned                   answer:2;
    unsigned                   evaluated:1;
    unsigned                   body_sent:1;
} ngx_http_nano_auth_ctx_t;


typedef enum {
    NGX_HTTP_NANO_AUTH_VAR_USER_ID = 0,
    NGX_HTTP_NANO_AUTH_VAR_USER_EMAIL,
    NGX_HTTP_NANO_AUTH_VAR_USER_NAME,
    NGX_HTTP_NANO_AUTH_VAR_SESSION_ID
} ngx_http_nano_auth_var_e;


static ngx_int_t ngx_http_nano_auth_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_nano_auth_csrf_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_nano_auth_log_query_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_nano_auth_cross_site(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf);
static ngx_int_t ngx_http_nano_auth_admitted(ngx_http_request_t *r);
static ngx_http_nano_auth_ctx_t *ngx_http_nano_auth_get_ctx(
    ngx_http_request_t *r);
static ngx_http_nano_auth_ctx_t *ngx_http_nano_auth_evaluate(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_nano_auth_verify(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf, ngx_str_t *token,
    ngx_http_nano_auth_ctx_t *ctx);
static ngx_http_nano_auth_slot_t *ngx_http_nano_auth_cache_slot(
    ngx_http_nano_auth_keys_t *keys, ngx_str_t *token);
static ngx_uint_t ngx_http_nano_auth_cache_equal(const u_char *a,
    const u_char *b, size_t len);
static void ngx_http_nano_auth_cache_store(ngx_http_nano_auth_slot_t *slot,
    ngx_str_t *token, nano_token_format_t format,
    const nano_claims_t *claims);
static ngx_int_t ngx_http_nano_auth_claims_copy(ngx_pool_t *pool,
    const nano_claims_t *src, nano_claims_t *dst);
static size_t ngx_http_nano_auth_claims_size(const nano_claims_t *c);
static void ngx_http_nano_auth_claims_put(u_char *p,
    const nano_claims_t *src, nano_claims_t *dst);
static ngx_int_t ngx_http_nano_auth_find_token(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf, ngx_str_t *token,
    nano_token_reason_t *reason);
static void ngx_http_nano_auth_revocation_refresh(ngx_http_request_t *r,
    ngx_http_nano_auth_revocation_t *rv);
static void ngx_http_nano_auth_revocation_read(ngx_http_request_t *r,
    ngx_http_nano_auth_revocation_t *rv);
static void ngx_http_nano_auth_revocation_failed(ngx_http_request_t *r,
    ngx_http_nano_auth_revocation_t *rv, ngx_err_t err, const char *what);
static ngx_uint_t ngx_http_nano_auth_wants_401(ngx_http_request_t *r);
static ngx_int_t ngx_http_nano_auth_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_nano_auth_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_nano_auth_location(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf, ngx_str_t *location);
static u_char *ngx_http_nano_auth_uri_component(u_char *p, u_char *src,
    u_char *last);
static ngx_int_t ngx_http_nano_auth_add_header(ngx_http_request_t *r,
    const char *key, void *value, size_t len);
static ngx_int_t ngx_http_nano_auth_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_nano_auth_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_nano_auth_reason_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_nano_auth_origin_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_nano_auth_found(ngx_http_variable_value_t *v,
    u_char *data, size_t len);
static ngx_int_t ngx_http_nano_auth_add_variables(ngx_conf_t *cf);
static void *ngx_http_nano_auth_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_nano_auth_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_uint_t ngx_http_nano_auth_tchar(u_char c);
static char *ngx_http_nano_auth_login_page(ngx_conf_t *cf,
    ngx_http_nano_auth_loc_conf_t *conf);
static char *ngx_http_nano_auth_challenge(ngx_conf_t *cf,
    ngx_http_nano_auth_loc_conf_t *conf);
static char *ngx_http_nano_auth_secret_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void ngx_http_nano_auth_keys_cleanup(void *data);
static char *ngx_http_nano_auth_origin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static const char *ngx_http_nano_auth_parse_origin(ngx_pool_t *pool,
    ngx_str_t *in, ngx_str_t *out);
static char *ngx_http_nano_auth_revocation_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void ngx_http_nano_auth_revocation_cleanup(void *data);
static char *ngx_http_nano_auth_leeway(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_nano_auth_max_age(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_nano_auth_init(ngx_conf_t *cf);


static ngx_conf_post_handler_pt  ngx_http_nano_auth_leeway_p =
    ngx_http_nano_auth_leeway;

static ngx_conf_post_handler_pt  ngx_http_nano_auth_max_age_p =
    ngx_http_nano_auth_max_age;


static ngx_command_t  ngx_http_nano_auth_commands[] = {

    { ngx_string("nano_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_nano_auth_loc_conf_t, enable),
      NULL },

    { ngx_string("nano_auth_csrf"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_nano_auth_loc_conf_t, csrf),
      NULL },

    { ngx_string("nano_auth_log_query"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_nano_auth_loc_conf_t, log_query),
      NULL },

    { ngx_string("nano_auth_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_nano_auth_secret_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_nano_auth_loc_conf_t, secret_file),
      NULL },

    { ngx_string("nano_auth_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_nano_auth_origin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("nano_auth_revocation_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_nano_auth_revocation_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("nano_auth_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_nano_auth_loc_conf_t, cookie),
      NULL },

    { ngx_string("nano_auth_login_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_nano_auth_loc_conf_t, login_url),
      NULL },

    { ngx_string("nano_auth_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_nano_auth_loc_conf_t, leeway),
      &ngx_http_nano_auth_leeway_p },

    { ngx_string("nano_auth_max_age"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_nano_auth_loc_conf_t, max_age),
      &ngx_http_nano_auth_max_age_p },

    { ngx_string("nano_auth_hsts"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_nano_auth_loc_conf_t, hsts),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_nano_auth_module_ctx = {
    ngx_http_nano_auth_add_variables,      /* preconfiguration */
    ngx_http_nano_auth_init,               /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_nano_auth_create_loc_conf,    /* create location configuration */
    ngx_http_nano_auth_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_nano_auth_module = {
    NGX_MODULE_V1,
    &ngx_http_nano_auth_module_ctx,        /* module context */
    ngx_http_nano_auth_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_nano_auth_vars[] = {

    { ngx_string("nano_user_id"), NULL,
      ngx_http_nano_auth_user_variable,
      NGX_HTTP_NANO_AUTH_VAR_USER_ID, 0, 0 },

    { ngx_string("nano_user_email"), NULL,
      ngx_http_nano_auth_user_variable,
      NGX_HTTP_NANO_AUTH_VAR_USER_EMAIL, 0, 0 },

    { ngx_string("nano_user_name"), NULL,
      ngx_http_nano_auth_user_variable,
      NGX_HTTP_NANO_AUTH_VAR_USER_NAME, 0, 0 },

    { ngx_string("nano_session_id"), NULL,
      ngx_http_nano_auth_user_variable,
      NGX_HTTP_NANO_AUTH_VAR_SESSION_ID, 0, 0 },

    { ngx_string("nano_auth_status"), NULL,
      ngx_http_nano_auth_status_variable, 0, 0, 0 },

    { ngx_string("nano_auth_reason"), NULL,
      ngx_http_nano_auth_reason_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("nano_auth_origin"), NULL,
      ngx_http_nano_auth_origin_variable, 0, 0, 0 },

      ngx_http_null_variable
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_nano_auth_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_http_nano_auth_html_type =
    ngx_string("text/html");
/* with a message as the backends' refusals (their 401 says the same) */
static ngx_str_t  ngx_http_nano_auth_401_body =
    ngx_string("{\"error\":\"unauthorized\","
               "\"message\":\"sign in first\"}\n");
static ngx_str_t  ngx_http_nano_auth_403_body =
    ngx_string("{\"error\":\"csrf\","
               "\"message\":\"this request came from another site\"}\n");


/*
 * Refuses with 401 as nginx's own access modules do; which answer the
 * client gets is kept in the ctx for the header filter.
 */
static ngx_int_t
ngx_http_nano_auth_handler(ngx_http_request_t *r)
{
    ngx_http_nano_auth_ctx_t       *ctx;
    ngx_http_nano_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_nano_auth_module);

    if (!alcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_nano_auth_evaluate(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->status == NANO_TOKEN_OK) {
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "nano auth: session %s",
                   nano_token_reason_name(ctx->reason));

    ctx->answer = ngx_http_nano_auth_wants_401(r) ? NGX_HTTP_NANO_AUTH_JSON
                                                  : NGX_HTTP_NANO_AUTH_REDIRECT;

    return NGX_HTTP_UNAUTHORIZED;
}


/*
 * Rewrite phase: under "nano_auth_log_query off", the request line
 * nginx's error log names ("request: ...") loses its query, written
 * "?(not logged)" as the shipped access log writes it.  An OAuth
 * callback's query holds the provider's code and the state, a credential
 * until redeemed, and nginx logs the request line with every error of
 * the request (an upstream that failed, a limit_req refusal), whatever
 * the log's level.  $request changes with it; the upstream is sent
 * $uri and $args, which stay.  Idempotent: a location reached again
 * after an internal redirect makes the same line.
 */
static ngx_int_t
ngx_http_nano_auth_log_query_handler(ngx_http_request_t *r)
{
    size_t                          len;
    u_char                         *p, *q, *end, *tail;
    ngx_http_nano_auth_loc_conf_t  *alcf;

    static u_char  hidden[] = "?(not logged)";

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_nano_auth_module);

    if (alcf->log_query || r != r->main || r->request_line.len == 0) {
        return NGX_DECLINED;
    }

    p = r->request_line.data;
    end = p + r->request_line.len;

    q = ngx_strlchr(p, end, '?');
    if (q == NULL) {
        return NGX_DECLINED;
    }

    /* the protocol, when there is one, follows the URI after a space
     * (HTTP/2's line is made so too; HTTP/0.9's has none) */
    for (tail = end; tail > q && tail[-1] != ' '; tail--) {
        /* back to the last space */
    }
    if (tail > q && end - tail > 5 && ngx_strncmp(tail, "HTTP/", 5) == 0) {
        tail--;
    } else {
        tail = end;
    }

    len = (q - p) + sizeof(hidden) - 1 + (end - tail);

    if (len == r->request_line.len
        && ngx_strncmp(q, hidden, sizeof(hidden) - 1) == 0)
    {
        return NGX_DECLINED;
    }

    r->request_line.data = ngx_pnalloc(r->pool, len);
    if (r->request_line.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q = ngx_cpymem(r->request_line.data, p, q - p);
    q = ngx_cpymem(q, hidden, sizeof(hidden) - 1);
    ngx_memcpy(q, tail, end - tail);
    r->request_line.len = len;

    return NGX_DECLINED;
}


/*
 * Preaccess phase: under "nano_auth on" and "nano_auth_csrf on", a
 * request that may change state (any method but GET, HEAD and OPTIONS)
 * sent from another site is refused with 403 before anything else looks
 * at it.  Not an access check, so "satisfy any" cannot let it through.
 */
static ngx_int_t
ngx_http_nano_auth_csrf_handler(ngx_http_request_t *r)
{
    ngx_http_nano_auth_ctx_t       *ctx;
    ngx_http_nano_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_nano_auth_module);

    if (!alcf->enable || !alcf->csrf || r != r->main
        || (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_OPTIONS)))
    {
        return NGX_DECLINED;
    }

    if (!ngx_http_nano_auth_cross_site(r, alcf)) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_nano_auth_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "nano auth: cross-site request refused");

    ctx->answer = NGX_HTTP_NANO_AUTH_CSRF;

    return NGX_HTTP_FORBIDDEN;
}


/*
 * Sec-Fetch-Site is "cross-site", or an Origin is not one of the
 * deployment's origins (compared normalised, as nano_auth_origin keeps
 * them; "null" and anything unreadable are foreign).  Same-site requests
 * pass on Sec-Fetch-Site: the sibling subdomains of phase 2 are listed
 * origins, and their Origin header is what tells them apart.
 */
static ngx_uint_t
ngx_http_nano_auth_cross_site(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf)
{
    ngx_str_t        *origin, norm;
    ngx_uint_t        i, j;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    origin = alcf->origins->elts;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Sec-Fetch-Site") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Sec-Fetch-Site",
                               sizeof("Sec-Fetch-Site") - 1) == 0)
        {
            if (h[i].value.len == sizeof("cross-site") - 1
                && ngx_strncasecmp(h[i].value.data, (u_char *) "cross-site",
                                   sizeof("cross-site") - 1) == 0)
            {
                return 1;
            }
            continue;
        }

        if (h[i].key.len != sizeof("Origin") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Origin",
                               sizeof("Origin") - 1) != 0)
        {
            continue;
        }

        if (ngx_http_nano_auth_parse_origin(r->pool, &h[i].value, &norm)) {
            return 1;
        }

        for (j = 0; j < alcf->origins->nelts; j++) {
            if (norm.len == origin[j].len
                && ngx_strncmp(norm.data, origin[j].data, norm.len) == 0)
            {
                break;
            }
        }

        if (j == alcf->origins->nelts) {
            return 1;
        }
    }

    return 0;
}


/*
 * Precontent phase: a request that got this far was admitted (another
 * access module under "satisfy any"), so a later 401 is not our refusal.
 */
static ngx_int_t
ngx_http_nano_auth_admitted(ngx_http_request_t *r)
{
    ngx_http_nano_auth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_nano_auth_module);
    if (ctx) {
        ctx->answer = NGX_HTTP_NANO_AUTH_ADMIT;
    }

    return NGX_DECLINED;
}


/* The request's ctx, made empty on first use; NULL when out of memory. */
static ngx_http_nano_auth_ctx_t *
ngx_http_nano_auth_get_ctx(ngx_http_request_t *r)
{
    ngx_http_nano_auth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_nano_auth_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_nano_auth_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_nano_auth_module);

    return ctx;
}


/*
 * Verifies the session once per request; the handler and every
 * variable share the result.  Returns NULL only when out of memory.
 */
static ngx_http_nano_auth_ctx_t *
ngx_http_nano_auth_evaluate(ngx_http_request_t *r)
{
    ngx_str_t                       token;
    ngx_http_nano_auth_ctx_t       *ctx;
    ngx_http_nano_auth_loc_conf_t  *alcf;

    ctx = ngx_http_nano_auth_get_ctx(r);
    if (ctx == NULL || ctx->evaluated) {
        return ctx;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_nano_auth_module);

    ctx->reason = NANO_TOKEN_REASON_MISSING;

    if (alcf->keys
        && ngx_http_nano_auth_find_token(r, alcf, &token, &ctx->reason)
           != NGX_OK)
    {
        return NULL;
    }

    if (ctx->reason == NANO_TOKEN_REASON_OK
        && ngx_http_nano_auth_verify(r, alcf, &token, ctx) != NGX_OK)
    {
        return NULL;
    }

    if (ctx->reason == NANO_TOKEN_REASON_OK && alcf->revocation) {
        ngx_http_nano_auth_revocation_refresh(r, alcf->revocation);

        if (nano_revoke_check(alcf->revocation->snapshot, &ctx->claims)) {
            ctx->reason = NANO_TOKEN_REASON_REVOKED;
        }
    }

    if (ctx->reason != NANO_TOKEN_REASON_OK) {
        ngx_memzero(&ctx->claims, sizeof(nano_claims_t));
    }

    ctx->status = nano_token_reason_status(ctx->reason);
    ctx->evaluated = 1;

    return ctx;
}


/*
 * Authenticates the token through the worker's cache: a hit (the whole
 * token equal to a verified one) costs a compare and a copy of its
 * claims; a miss verifies it (nano_token_open) and keeps it when valid.
 * The clock is checked on every request.  Sets ctx->reason and, when
 * valid, ctx->claims (request pool memory); NGX_ERROR when out of memory.
 */
static ngx_int_t
ngx_http_nano_auth_verify(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf, ngx_str_t *token,
    ngx_http_nano_auth_ctx_t *ctx)
{
    u_char                     *scratch;
    nano_token_format_t         format;
    ngx_http_nano_auth_keys_t  *keys;
    ngx_http_nano_auth_slot_t  *slot;

    keys = alcf->keys;
    slot = ngx_http_nano_auth_cache_slot(keys, token);

    if (slot && slot->token_len == token->len
        && ngx_http_nano_auth_cache_equal(slot->data, token->data,
                                          token->len))
    {
        ctx->reason = nano_token_check_session(&slot->claims, slot->format,
                                               (long long) ngx_time(),
                                               (long long) alcf->leeway,
                                               (long long) alcf->max_age);

        if (ctx->reason == NANO_TOKEN_REASON_EXPIRED) {
            slot->token_len = 0;
        }

        if (ctx->reason != NANO_TOKEN_REASON_OK) {
            return NGX_OK;
        }

        /* the slot may be taken by another request before this one ends */
        return ngx_http_nano_auth_claims_copy(r->pool, &slot->claims,
                                              &ctx->claims);
    }

    if (keys->jwe == NULL) {
        /* NULL again when out of memory: each JWE then makes its own */
        keys->jwe = nano_jwe_ctx_new();
    }

    scratch = ngx_pnalloc(r->pool, token->len + 1);
    if (scratch == NULL) {
        return NGX_ERROR;
    }

    ctx->reason = nano_token_open(keys->keyring, keys->jwe,
                                  (char *) token->data, token->len,
                                  (char *) scratch, token->len + 1,
                                  &ctx->claims, &format);

    if (ctx->reason != NANO_TOKEN_REASON_OK) {
        return NGX_OK;
    }

    ctx->reason = nano_token_check_session(&ctx->claims, format,
                                           (long long) ngx_time(),
                                           (long long) alcf->leeway,
                                           (long long) alcf->max_age);

    if (ctx->reason == NANO_TOKEN_REASON_OK && slot) {
        ngx_http_nano_auth_cache_store(slot, token, format, &ctx->claims);
    }

    return NGX_OK;
}


/*
 * The slot a token would live in, the cache made on first use; NULL
 * when there is no cache (out of memory).  The index comes from the
 * token's last bytes, its MAC or GCM tag: only verified tokens are
 * stored, and no one can choose the tag of a token that verifies, so no
 * one can aim tokens at another's slot.
 */
static ngx_http_nano_auth_slot_t *
ngx_http_nano_auth_cache_slot(ngx_http_nano_auth_keys_t *keys,
    ngx_str_t *token)
{
    uint64_t  h;

    if (keys->cache == NULL) {
        if (keys->cache_failed) {
            return NULL;
        }

        /* calloc: pages no token ever used are never touched */
        keys->cache = ngx_calloc(sizeof(ngx_http_nano_auth_slot_t)
                                 << NGX_HTTP_NANO_AUTH_CACHE_BITS,
                                 ngx_cycle->log);
        if (keys->cache == NULL) {
            keys->cache_failed = 1;
            return NULL;
        }
    }

    if (token->len < sizeof(uint64_t)) {
        return NULL;
    }

    ngx_memcpy(&h, token->data + token->len - sizeof(uint64_t),
               sizeof(uint64_t));

    h = (h ^ token->len) * 0x9e3779b97f4a7c15ULL;

    return &keys->cache[h >> (64 - NGX_HTTP_NANO_AUTH_CACHE_BITS)];
}


/*
 * Constant time comparison of two byte strings of the same length, eight
 * bytes at a time: how much of a cached token a guess shares must not
 * show in the time it takes.
 */
static ngx_uint_t
ngx_http_nano_auth_cache_equal(const u_char *a, const u_char *b, size_t len)
{
    size_t    i;
    uint64_t  x, y, d;

    d = 0;

    for (i = 0; i + sizeof(uint64_t) <= len; i += sizeof(uint64_t)) {
        ngx_memcpy(&x, a + i, sizeof(uint64_t));
        ngx_memcpy(&y, b + i, sizeof(uint64_t));
        d |= x ^ y;
    }

    for ( /* void */ ; i < len; i++) {
        d |= a[i] ^ b[i];
    }

    return d == 0;
}


/* Keeps a verified token and its claims in slot, when they fit. */
static void
ngx_http_nano_auth_cache_store(ngx_http_nano_auth_slot_t *slot,
    ngx_str_t *token, nano_token_format_t format, const nano_claims_t *claims)
{
    u_char  *p;

    if (token->len + ngx_http_nano_auth_claims_size(claims)
        > NGX_HTTP_NANO_AUTH_CACHE_DATA)
    {
        return;
    }

    /* the claims' strings follow the token */
    p = ngx_cpymem(slot->data, token->data, token->len);
    ngx_http_nano_auth_claims_put(p, claims, &slot->claims);

    slot->token_len = token->len;
    slot->format = format;
}


/* Copies claims into one allocation from pool; NGX_ERROR when out of
 * memory. */
static ngx_int_t
ngx_http_nano_auth_claims_copy(ngx_pool_t *pool, const nano_claims_t *src,
    nano_claims_t *dst)
{
    u_char  *p;

    p = ngx_pnalloc(pool, ngx_http_nano_auth_claims_size(src));
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_http_nano_auth_claims_put(p, src, dst);

    return NGX_OK;
}


/* The bytes the claims' strings take, each with its NUL. */
static size_t
ngx_http_nano_auth_claims_size(const nano_claims_t *c)
{
    return c->sub.len + c->email.len + c->name.len + c->picture.len
           + c->jti.len + 5;
}


/* Copies src into dst with its strings written at p (room for
 * ngx_http_nano_auth_claims_size bytes). */
static void
ngx_http_nano_auth_claims_put(u_char *p, const nano_claims_t *src,
    nano_claims_t *dst)
{
    ngx_uint_t         i;
    nano_str_t        *d[5];
    const nano_str_t  *s[5];

    *dst = *src;

    s[0] = &src->sub;     d[0] = &dst->sub;
    s[1] = &src->email;   d[1] = &dst->email;
    s[2] = &src->name;    d[2] = &dst->name;
    s[3] = &src->picture; d[3] = &dst->picture;
    s[4] = &src->jti;     d[4] = &dst->jti;

    for (i = 0; i < 5; i++) {
        if (s[i]->data == NULL) {
            continue;
        }

        d[i]->data = (char *) p;
        p = ngx_cpymem(p, s[i]->data, s[i]->len);
        *p++ = '\0';
    }
}


/*
 * Finds the session cookie by the one rule (nano_cookie_session_token):
 * sets *reason to OK with the token, MISSING when there is none,
 * MALFORMED when what is there cannot be a token (too big, a bad chunk)
 * or CONFLICT (one name twice with different values).  NGX_ERROR only
 * when out of memory.
 */
static ngx_int_t
ngx_http_nano_auth_find_token(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf, ngx_str_t *token,
    nano_token_reason_t *reason)
{
    size_t                 n, total, len;
    u_char                *buf;
    nano_str_t             headers[NANO_COOKIE_HEADERS_MAX];
    nano_cookie_result_t   res;
#if (nginx_version >= 1023000)
    ngx_table_elt_t       *h;
#else
    ngx_uint_t             i;
    ngx_table_elt_t      **h;
#endif

    ngx_str_null(token);
    n = 0;
    total = 0;
    *reason = NANO_TOKEN_REASON_MALFORMED;

#if (nginx_version >= 1023000)
    for (h = r->headers_in.cookie; h; h = h->next) {
        if (n == NANO_COOKIE_HEADERS_MAX) {
            return NGX_OK;
        }
        headers[n].data = (char *) h->value.data;
        headers[n].len = h->value.len;
        total += h->value.len;
        n++;
    }
#else
    h = r->headers_in.cookies.elts;
    for (i = 0; i < r->headers_in.cookies.nelts; i++) {
        if (n == NANO_COOKIE_HEADERS_MAX) {
            return NGX_OK;
        }
        headers[n].data = (char *) h[i]->value.data;
        headers[n].len = h[i]->value.len;
        total += h[i]->value.len;
        n++;
    }
#endif

    if (n == 0) {
        *reason = NANO_TOKEN_REASON_MISSING;
        return NGX_OK;
    }

    if (total > NANO_COOKIE_HEADER_MAX) {
        return NGX_OK;
    }

    /* the joined token is never longer than the headers it came from */
    len = ngx_min(total, NANO_TOKEN_MAX_LEN) + 1;

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    res = nano_cookie_session_token(headers, n, (char *) alcf->cookie.data,
                                    alcf->cookie.len, (int) alcf->secure,
                                    (char *) buf, len, &token->len);

    switch (res) {

    case NANO_COOKIE_FOUND:
        token->data = buf;
        *reason = NANO_TOKEN_REASON_OK;
        break;

    case NANO_COOKIE_ABSENT:
        *reason = NANO_TOKEN_REASON_MISSING;
        break;

    case NANO_COOKIE_CONFLICT:
        *reason = NANO_TOKEN_REASON_CONFLICT;
        break;

    default: /* NANO_COOKIE_MALFORMED */
        break;
    }

    return NGX_OK;
}


/*
 * Re-reads the revocation file when it changed, looking at most once a
 * second: a stat() compares device, inode, size and mtime (ns) with the
 * file the snapshot came from.  A file that cannot be read, or is
 * malformed, leaves the last good snapshot in force.
 */
static void
ngx_http_nano_auth_revocation_refresh(ngx_http_request_t *r,
    ngx_http_nano_auth_revocation_t *rv)
{
    ngx_file_info_t  fi;

    if (rv->checked_once
        && ngx_current_msec - rv->checked < NGX_HTTP_NANO_AUTH_REVOKE_CHECK)
    {
        return;
    }

    rv->checked = ngx_current_msec;
    rv->checked_once = 1;

    if (ngx_file_info(rv->path.data, &fi) == NGX_FILE_ERROR) {
        rv->have_file = 0;
        ngx_http_nano_auth_revocation_failed(r, rv, ngx_errno,
                                             ngx_file_info_n);
        return;
    }

    if (rv->have_file
        && fi.st_dev == rv->dev && fi.st_ino == rv->ino
        && fi.st_size == rv->size
        && fi.st_mtim.tv_sec == rv->mtime.tv_sec
        && fi.st_mtim.tv_nsec == rv->mtime.tv_nsec)
    {
        return;
    }

    ngx_http_nano_auth_revocation_read(r, rv);
}


/*
 * Reads and parses the file.  The stat of the open descriptor is what
 * the next check compares with, so a file renamed over it meanwhile is
 * read again.  A short read (not the writer's atomic rename) is retried
 * at the next check; a malformed file only once it changes.
 */
static void
ngx_http_nano_auth_revocation_read(ngx_http_request_t *r,
    ngx_http_nano_auth_revocation_t *rv)
{
    char              err[NGX_MAX_ERROR_STR];
    u_char           *buf;
    size_t            size, n;
    ssize_t           got;
    ngx_fd_t          fd;
    ngx_err_t         e;
    nano_revoke_t    *snapshot;
    ngx_file_info_t   fi;

    fd = ngx_open_file(rv->path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_http_nano_auth_revocation_failed(r, rv, ngx_errno,
                                             ngx_open_file_n);
        return;
    }

    buf = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_http_nano_auth_revocation_failed(r, rv, ngx_errno, ngx_fd_info_n);
        goto done;
    }

    if (!ngx_is_file(&fi) || ngx_file_size(&fi) > NANO_REVOKE_FILE_MAX) {
        ngx_http_nano_auth_revocation_failed(r, rv, 0,
            "not a regular file of at most 64 MiB:");
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    buf = ngx_alloc(size + 1, r->connection->log);
    if (buf == NULL) {
        goto done;
    }

    for (n = 0; n < size; n += got) {
        got = ngx_read_fd(fd, buf + n, size - n);

        if (got == -1) {
            e = ngx_errno;
            if (e == NGX_EINTR) {
                got = 0;
                continue;
            }
            ngx_http_nano_auth_revocation_failed(r, rv, e, ngx_read_fd_n);
            goto done;
        }

        if (got == 0) {
            ngx_http_nano_auth_revocation_failed(r, rv, 0,
                "shorter than its size (not replaced by rename?):");
            goto done;
        }
    }

    rv->have_file = 1;
    rv->dev = fi.st_dev;
    rv->ino = fi.st_ino;
    rv->size = fi.st_size;
    rv->mtime = fi.st_mtim;

    /* kept a leeway longer: exp is accepted that much late too */
    snapshot = nano_revoke_parse((char *) buf, size,
                                 (long long) (ngx_time() - rv->grace),
                                 err, sizeof(err));
    if (snapshot == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "nano_auth_revocation_file \"%V\" refused: %s; %s",
                      &rv->path, err,
                      rv->snapshot ? "the last good snapshot stays in force"
                                   : "no revocations known");
        goto done;
    }

    nano_revoke_free(rv->snapshot);
    rv->snapshot = snapshot;
    rv->logged = 0;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "nano_auth_revocation_file \"%V\" read, entries kept: %uz",
                  &rv->path, nano_revoke_count(snapshot));

    if (ngx_time() - (time_t) nano_revoke_generated(snapshot)
        > NGX_HTTP_NANO_AUTH_REVOKE_STALE)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "nano_auth_revocation_file \"%V\" was generated %T s "
                      "ago; it is enforced, but is the platform's publisher "
                      "running?", &rv->path,
                      ngx_time() - (time_t) nano_revoke_generated(snapshot));
    }

done:

    if (buf) {
        ngx_free(buf);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &rv->path);
    }
}


/* Logs why the file was not read, at most every 10 seconds. */
static void
ngx_http_nano_auth_revocation_failed(ngx_http_request_t *r,
    ngx_http_nano_auth_revocation_t *rv, ngx_err_t err, const char *what)
{
    if (rv->logged
        && ngx_time() - rv->logged < NGX_HTTP_NANO_AUTH_REVOKE_LOG)
    {
        return;
    }

    rv->logged = ngx_time();

    ngx_log_error(NGX_LOG_ERR, r->connection->log, err,
                  "nano_auth_revocation_file: %s \"%V\"; %s", what,
                  &rv->path,
                  rv->snapshot ? "the last snapshot read stays in force"
                               : "no revocations known");
}


/*
 * APIs, state changes and clients that ask for JSON only get a 401;
 * a redirect to an HTML form would mean nothing to them.
 */
static ngx_uint_t
ngx_http_nano_auth_wants_401(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return 1;
    }

    /* "/api/..." or "/<module>/api" and below */
    p = r->uri.data;
    last = r->uri.data + r->uri.len;

    if (p < last && *p == '/') {
        p++;
        if (last - p >= 3 && ngx_strncmp(p, "api", 3) == 0
            && (last - p == 3 || p[3] == '/'))
        {
            return 1;
        }

        while (p < last && *p != '/') {
            p++;
        }

        if (last - p >= 4 && ngx_strncmp(p, "/api", 4) == 0
            && (last - p == 4 || p[4] == '/'))
        {
            return 1;
        }
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == 6
            && ngx_strncasecmp(h[i].key.data, (u_char *) "accept", 6) == 0
            && ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "json", 4 - 1)
            && !ngx_strlcasestrn(h[i].value.data,
                                 h[i].value.data + h[i].value.len,
                                 (u_char *) "html", 4 - 1))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Adds the HSTS header (nano_auth_hsts), and turns nginx's special 401
 * (or 403) response for our refusal into our answer.  Only that one: a
 * backend's 401 has no err_status, an "error_page 401" redirect starts
 * with a fresh ctx (the operator's page wins), and a 401 challenge
 * another access module set (WWW-Authenticate) stays as it is.
 */
static ngx_int_t
ngx_http_nano_auth_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                       location;
    ngx_http_nano_auth_ctx_t       *ctx;
    ngx_http_nano_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_nano_auth_module);

    /* every answer of the site, its error pages and files included: an
     * add_header would be lost in each location that has its own */
    if (alcf->hsts_value.len && r == r->main
        && ngx_http_nano_auth_add_header(r, "Strict-Transport-Security",
                                         alcf->hsts_value.data,
                                         alcf->hsts_value.len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_nano_auth_module);

    if (ctx == NULL || ctx->answer == NGX_HTTP_NANO_AUTH_ADMIT) {
        return ngx_http_next_header_filter(r);
    }

    if (ctx->answer == NGX_HTTP_NANO_AUTH_CSRF
        ? r->err_status != NGX_HTTP_FORBIDDEN
        : (r->err_status != NGX_HTTP_UNAUTHORIZED
           || r->headers_out.www_authenticate))
    {
        return ngx_http_next_header_filter(r);
    }

    if (ctx->answer == NGX_HTTP_NANO_AUTH_CSRF) {
        ctx->body = &ngx_http_nano_auth_403_body;
        r->headers_out.content_type = ngx_http_nano_auth_json_type;

    } else if (ctx->answer == NGX_HTTP_NANO_AUTH_JSON) {
        /* RFC 9110 wants a challenge with every 401; some HTTP clients
         * fail on one without it */
        if (ngx_http_nano_auth_add_header(r, "WWW-Authenticate",
                                          alcf->challenge.data,
                                          alcf->challenge.len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->body = &ngx_http_nano_auth_401_body;
        r->headers_out.content_type = ngx_http_nano_auth_json_type;

    } else {
        /* not headers_out.location: nginx would make it absolute */
        if (ngx_http_nano_auth_location(r, alcf, &location) != NGX_OK
            || ngx_http_nano_auth_add_header(r, "Location", location.data,
                                             location.len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->body = &alcf->login_page;
        r->err_status = NGX_HTTP_MOVED_TEMPORARILY;
        r->headers_out.status = NGX_HTTP_MOVED_TEMPORARILY;
        r->headers_out.content_type = ngx_http_nano_auth_html_type;
    }

    if (ngx_http_nano_auth_add_header(r, "Cache-Control", "no-store", 8)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = ctx->body->len;

    return ngx_http_next_header_filter(r);
}


/* Sends our body in place of nginx's special response page. */
static ngx_int_t
ngx_http_nano_auth_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                 *b;
    ngx_chain_t               *cl, out;
    ngx_http_nano_auth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_nano_auth_module);

    if (ctx == NULL || ctx->body == NULL || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
    }

    if (ctx->body_sent) {
        return ngx_http_next_body_filter(r, NULL);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->body->data;
    b->last = ctx->body->data + ctx->body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    ctx->body_sent = 1;

    return ngx_http_next_body_filter(r, &out);
}


/*
 * The redirect to the login URL carrying the raw path and query as
 * callbackUrl.  It is never built from the Host header, and leading
 * slashes and backslashes collapse to one, so "//evil" cannot come back
 * as a protocol-relative callback.  An absolute login URL (a module on
 * its own subdomain, phase 2) gets an absolute callbackUrl on this
 * server's first nano_auth_origin, so the person comes back here.
 */
static ngx_int_t
ngx_http_nano_auth_location(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf, ngx_str_t *location)
{
    u_char      *p, *src, *last;
    ngx_str_t    origin = ngx_null_string, *origins;

    src = r->unparsed_uri.data;
    last = src + r->unparsed_uri.len;

    while (src < last && (*src == '/' || *src == '\\')) {
        src++;
    }

    if (alcf->login_url.data[0] != '/' && alcf->origins != NULL) {
        origins = alcf->origins->elts;
        origin = origins[0];
    }

    location->len = alcf->login_url.len + sizeof("?callbackUrl=%2F") - 1
                    + 3 * (origin.len + (last - src));
    location->data = ngx_pnalloc(r->pool, location->len);
    if (location->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(location->data, alcf->login_url.data, alcf->login_url.len);
    *p++ = ngx_strlchr(alcf->login_url.data,
                       alcf->login_url.data + alcf->login_url.len, '?')
           ? '&' : '?';
    p = ngx_cpymem(p, "callbackUrl=", sizeof("callbackUrl=") - 1);
    p = ngx_http_nano_auth_uri_component(p, origin.data,
                                         origin.data + origin.len);
    p = ngx_cpymem(p, "%2F", sizeof("%2F") - 1);
    p = ngx_http_nano_auth_uri_component(p, src, last);

    location->len = p - location->data;

    return NGX_OK;
}


/* [src, last) escaped as encodeURIComponent does; returns the end. */
static u_char *
ngx_http_nano_auth_uri_component(u_char *p, u_char *src, u_char *last)
{
    static char  hex[] = "0123456789ABCDEF";

    for ( /* void */ ; src < last; src++) {
        if ((*src >= 'a' && *src <= 'z') || (*src >= 'A' && *src <= 'Z')
            || (*src >= '0' && *src <= '9')
            || (*src && ngx_strchr("-_.!~*'()", *src)))
        {
            *p++ = *src;

        } else {
            *p++ = '%';
            *p++ = hex[*src >> 4];
            *p++ = hex[*src & 0xf];
        }
    }

    return p;
}


/* The key is a literal; the value must live as long as the request. */
static ngx_int_t
ngx_http_nano_auth_add_header(ngx_http_request_t *r, const char *key,
    void *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_nano_auth_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    nano_str_t                *s;
    ngx_http_nano_auth_ctx_t  *ctx;

    ctx = ngx_http_nano_auth_evaluate(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->status != NANO_TOKEN_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {
    case NGX_HTTP_NANO_AUTH_VAR_USER_ID:
        s = &ctx->claims.sub;
        break;
    case NGX_HTTP_NANO_AUTH_VAR_USER_EMAIL:
        s = &ctx->claims.email;
        break;
    case NGX_HTTP_NANO_AUTH_VAR_USER_NAME:
        s = &ctx->claims.name;
        break;
    default: /* NGX_HTTP_NANO_AUTH_VAR_SESSION_ID */
        s = &ctx->claims.jti;
        break;
    }

    return ngx_http_nano_auth_found(v, (u_char *) (s->data ? s->data : ""),
                                    s->len);
}


static ngx_int_t
ngx_http_nano_auth_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const char                *name;
    ngx_http_nano_auth_ctx_t  *ctx;

    ctx = ngx_http_nano_auth_evaluate(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    name = nano_token_status_name(ctx->status);

    return ngx_http_nano_auth_found(v, (u_char *) name, ngx_strlen(name));
}


/*
 * Why this module refused the request: "csrf", or the session's reason
 * (nano_token_reason_name); not found when it did not refuse it
 * (nano_auth off, a valid session, or admitted by "satisfy any").  Not
 * cacheable: a refusal may come after an early look.
 */
static ngx_int_t
ngx_http_nano_auth_reason_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const char                *name;
    ngx_http_nano_auth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_nano_auth_module);

    if (ctx == NULL || ctx->answer == NGX_HTTP_NANO_AUTH_ADMIT) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = (ctx->answer == NGX_HTTP_NANO_AUTH_CSRF)
           ? "csrf" : nano_token_reason_name(ctx->reason);

    return ngx_http_nano_auth_found(v, (u_char *) name, ngx_strlen(name));
}


/* The first nano_auth_origin; needs no session. */
static ngx_int_t
ngx_http_nano_auth_origin_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                      *origin;
    ngx_http_nano_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_nano_auth_module);

    if (alcf->origins == NULL || alcf->origins == NGX_CONF_UNSET_PTR) {
        v->not_found = 1;
        return NGX_OK;
    }

    origin = alcf->origins->elts;

    return ngx_http_nano_auth_found(v, origin[0].data, origin[0].len);
}


/* A found value; data must live as long as the request. */
static ngx_int_t
ngx_http_nano_auth_found(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->data = data;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_nano_auth_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_nano_auth_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_nano_auth_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_nano_auth_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_nano_auth_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->secret_file = { 0, NULL };
     *     conf->keys = NULL;
     *     conf->secure = 0;
     *     conf->revocation = NULL;
     *     conf->cookie = { 0, NULL };
     *     conf->login_url = { 0, NULL };
     *     conf->login_page = { 0, NULL };
     *     conf->challenge = { 0, NULL };
     *     conf->hsts_value = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->csrf = NGX_CONF_UNSET;
    conf->log_query = NGX_CONF_UNSET;
    conf->origins = NGX_CONF_UNSET_PTR;
    conf->leeway = NGX_CONF_UNSET;
    conf->max_age = NGX_CONF_UNSET;
    conf->hsts = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_nano_auth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_nano_auth_loc_conf_t *prev = parent;
    ngx_http_nano_auth_loc_conf_t *conf = child;

    ngx_str_t   *origin;
    ngx_uint_t   i;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_value(conf->csrf, prev->csrf, 0);
    ngx_conf_merge_value(conf->log_query, prev->log_query, 1);
    ngx_conf_merge_str_value(conf->secret_file, prev->secret_file, "");
    ngx_conf_merge_ptr_value(conf->origins, prev->origins, NULL);
    ngx_conf_merge_str_value(conf->cookie, prev->cookie,
                             NANO_COOKIE_NAME_DEFAULT);
    ngx_conf_merge_str_value(conf->login_url, prev->login_url,
                             "/api/auth/signin");
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 60);
    ngx_conf_merge_sec_value(conf->max_age, prev->max_age, 0);
    ngx_conf_merge_sec_value(conf->hsts, prev->hsts, 0);

    if (conf->keys == NULL) {
        conf->keys = prev->keys;
    }

    if (conf->revocation == NULL) {
        conf->revocation = prev->revocation;
    }

    if (conf->enable && conf->keys == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"nano_auth on\" needs \"nano_auth_secret_file\"");
        return NGX_CONF_ERROR;
    }

    /* the origins' scheme decides which cookie name is read */
    if (conf->keys && conf->origins == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"nano_auth_secret_file\" needs "
                           "\"nano_auth_origin\" (e.g. "
                           "\"nano_auth_origin https://app.example.com;\")");
        return NGX_CONF_ERROR;
    }

    if (conf->origins) {
        origin = conf->origins->elts;
        conf->secure = (origin[0].data[4] == 's');
    }

    /* a browser honours it only over https, where it also means "never
     * plain http here again": an http site must not promise that */
    if (conf->hsts > 0 && !conf->secure) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"nano_auth_hsts\" needs https origins in "
                           "\"nano_auth_origin\"");
        return NGX_CONF_ERROR;
    }

    if (conf->hsts > 0) {
        if (prev->hsts == conf->hsts && prev->hsts_value.data) {
            conf->hsts_value = prev->hsts_value;

        } else {
            conf->hsts_value.data = ngx_pnalloc(cf->pool,
                                                sizeof("max-age=") - 1
                                                + NGX_TIME_T_LEN);
            if (conf->hsts_value.data == NULL) {
                return NGX_CONF_ERROR;
            }

            conf->hsts_value.len = ngx_sprintf(conf->hsts_value.data,
                                               "max-age=%T", conf->hsts)
                                   - conf->hsts_value.data;
        }
    }

    /* an exp accepted within the leeway must still find its revocation */
    if (conf->revocation && conf->leeway > conf->revocation->grace) {
        conf->revocation->grace = conf->leeway;
    }

    if (conf->login_url.len == 0
        || (conf->login_url.data[0] != '/'
            && ngx_strncmp(conf->login_url.data, "https://", 8) != 0
            && ngx_strncmp(conf->login_url.data, "http://", 7) != 0)
        || (conf->login_url.len > 1 && conf->login_url.data[0] == '/'
            && (conf->login_url.data[1] == '/'
                || conf->login_url.data[1] == '\\')))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"nano_auth_login_url\" must be a path "
                           "or an http(s) URL, not \"%V\"",
                           &conf->login_url);
        return NGX_CONF_ERROR;
    }

    /* it goes into the Location header as it is: "\r\n" would split it */
    for (i = 0; i < conf->login_url.len; i++) {
        if (conf->login_url.data[i] <= ' '
            || conf->login_url.data[i] == 0x7f)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"nano_auth_login_url\" must not hold "
                               "spaces or control characters "
                               "(percent-encode them): \"%V\"",
                               &conf->login_url);
            return NGX_CONF_ERROR;
        }
    }

    /* a cookie name is an RFC 6265 token: no browser sends another */
    for (i = 0; i < conf->cookie.len; i++) {
        if (!ngx_http_nano_auth_tchar(conf->cookie.data[i])) {
            break;
        }
    }

    if (conf->cookie.len == 0 || conf->cookie.len > NANO_COOKIE_BASE_MAX
        || i < conf->cookie.len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"nano_auth_cookie\" \"%V\": a cookie "
                           "name of 1 to %d letters, digits and "
                           "!#$%%&'*+-.^_`|~", &conf->cookie,
                           NANO_COOKIE_BASE_MAX);
        return NGX_CONF_ERROR;
    }

    /* both are made from the login URL, so they are inherited with it */
    if (conf->login_page.data == NULL) {
        if (prev->login_page.data
            && prev->login_url.data == conf->login_url.data)
        {
            conf->login_page = prev->login_page;
            conf->challenge = prev->challenge;

        } else if (ngx_http_nano_auth_login_page(cf, conf) != NGX_CONF_OK
                   || ngx_http_nano_auth_challenge(cf, conf) != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* An RFC 7230 token character, what a cookie name is made of. */
static ngx_uint_t
ngx_http_nano_auth_tchar(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && ngx_strchr("!#$%&'*+-.^_`|~", c) != NULL);
}


/* The 302's small body: it names the login URL, HTML-escaped. */
static char *
ngx_http_nano_auth_login_page(ngx_conf_t *cf,
    ngx_http_nano_auth_loc_conf_t *conf)
{
    u_char     *p;
    uintptr_t   escape;

    static u_char  head[] = "<!doctype html><title>Sign in</title>"
                            "<p>Please <a href=\"";
    static u_char  tail[] = "\">sign in</a>.</p>\n";

    escape = ngx_escape_html(NULL, conf->login_url.data, conf->login_url.len);

    conf->login_page.len = sizeof(head) - 1 + conf->login_url.len + escape
                           + sizeof(tail) - 1;
    conf->login_page.data = ngx_pnalloc(cf->pool, conf->login_page.len);
    if (conf->login_page.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(conf->login_page.data, head, sizeof(head) - 1);
    p = (u_char *) ngx_escape_html(p, conf->login_url.data,
                                   conf->login_url.len);
    ngx_memcpy(p, tail, sizeof(tail) - 1);

    return NGX_CONF_OK;
}


/*
 * The session is a cookie, for which HTTP has no registered scheme: the
 * challenge is draft-broyer-http-cookie-auth's "Cookie", naming the
 * sign-in page as a quoted-string.
 */
static char *
ngx_http_nano_auth_challenge(ngx_conf_t *cf,
    ngx_http_nano_auth_loc_conf_t *conf)
{
    u_char      *p;
    ngx_uint_t   i, quoted;

    static u_char  head[] = "Cookie realm=\"nano\", form-action=\"";

    quoted = 0;
    for (i = 0; i < conf->login_url.len; i++) {
        if (conf->login_url.data[i] == '"' || conf->login_url.data[i] == '\\')
        {
            quoted++;
        }
    }

    conf->challenge.len = sizeof(head) - 1 + conf->login_url.len + quoted + 1;
    conf->challenge.data = ngx_pnalloc(cf->pool, conf->challenge.len);
    if (conf->challenge.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(conf->challenge.data, head, sizeof(head) - 1);
    for (i = 0; i < conf->login_url.len; i++) {
        if (conf->login_url.data[i] == '"' || conf->login_url.data[i] == '\\')
        {
            *p++ = '\\';
        }
        *p++ = conf->login_url.data[i];
    }
    *p = '"';

    return NGX_CONF_OK;
}


/* The key file is read while the configuration is parsed, so a missing
 * or weak key stops nginx from starting instead of failing requests. */
static char *
ngx_http_nano_auth_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_nano_auth_loc_conf_t *alcf = conf;

    char                        err[NGX_MAX_ERROR_STR];
    char                       *rv;
    ngx_str_t                  *value;
    ngx_pool_cleanup_t         *cln;
    ngx_http_nano_auth_keys_t  *keys;

    if (alcf->keys) {
        return "is duplicate";
    }

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = &alcf->secret_file;

    if (ngx_conf_full_name(cf->cycle, value, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    keys = ngx_pcalloc(cf->pool, sizeof(ngx_http_nano_auth_keys_t));
    if (keys == NULL) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    keys->keyring = nano_keyring_load((char *) value->data, err,
                                      sizeof(err));
    if (keys->keyring == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "nano_auth_secret_file: %s",
                           err);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_nano_auth_keys_cleanup;
    cln->data = keys;

    alcf->keys = keys;

    return NGX_CONF_OK;
}


/* Frees the keys, and the cache and cipher context this process made
 * (each worker its own). */
static void
ngx_http_nano_auth_keys_cleanup(void *data)
{
    ngx_http_nano_auth_keys_t  *keys = data;

    nano_keyring_free(keys->keyring);
    nano_jwe_ctx_free(keys->jwe);

    if (keys->cache) {
        ngx_free(keys->cache);
    }

    keys->keyring = NULL;
    keys->jwe = NULL;
    keys->cache = NULL;
}


/*
 * nano_auth_origin <origin> ...: absolute http(s) origins, normalised
 * (lower-case scheme and host, no default port), all of one scheme.
 */
static char *
ngx_http_nano_auth_origin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_nano_auth_loc_conf_t *alcf = conf;

    ngx_str_t   *value, *origin;
    ngx_uint_t   i, j;
    const char  *why;

    if (alcf->origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    alcf->origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(ngx_str_t));
    if (alcf->origins == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        origin = ngx_array_push(alcf->origins);
        if (origin == NULL) {
            return NGX_CONF_ERROR;
        }

        why = ngx_http_nano_auth_parse_origin(cf->pool, &value[i], origin);
        if (why) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\" in \"%V\": %s",
                               &value[i], &cmd->name, why);
            return NGX_CONF_ERROR;
        }

        origin = alcf->origins->elts;

        /* "https:" and "http://" differ at their fifth byte */
        if (origin[i - 1].data[4] != origin[0].data[4]) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" mixes http and https origins: all "
                               "origins of a deployment share one scheme",
                               &cmd->name);
            return NGX_CONF_ERROR;
        }

        for (j = 0; j < i - 1; j++) {
            if (origin[j].len == origin[i - 1].len
                && ngx_strncmp(origin[j].data, origin[i - 1].data,
                               origin[j].len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate origin \"%V\" in \"%V\"",
                                   &origin[j], &cmd->name);
                return NGX_CONF_ERROR;
            }
        }
    }

    return NGX_CONF_OK;
}


/*
 * Parses "scheme://host[:port]" into its normalised form in out.
 * Returns NULL, or why it is not an origin.
 */
static const char *
ngx_http_nano_auth_parse_origin(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out)
{
    u_char      *p, *q, *last, *host, *host_end;
    ngx_uint_t   https, port;

    p = in->data;
    last = in->data + in->len;

    if (in->len > 8 && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0) {
        https = 1;
        p += 8;

    } else if (in->len > 7
               && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0)
    {
        https = 0;
        p += 7;

    } else {
        return "not an http:// or https:// origin";
    }

    for (q = p; q < last; q++) {
        if (*q == '/' || *q == '?' || *q == '#') {
            return "an origin has no path, query or fragment";
        }
        if (*q == '@') {
            return "an origin has no user name or password";
        }
    }

    host = p;

    if (*p == '[') {
        for (p++; p < last && *p != ']'; p++) {
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')
                  || (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
            {
                return "an invalid IPv6 address";
            }
        }
        if (p == last || p == host + 1) {
            return "an invalid IPv6 address";
        }
        p++;

    } else {
        for ( /* void */ ; p < last && *p != ':'; p++) {
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')
                  || (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '.'
                  || *p == '_'))
            {
                return "an invalid host name";
            }
        }
        if (p == host) {
            return "no host";
        }
    }

    host_end = p;
    port = 0;

    if (p < last) {
        if (*p++ != ':' || p == last) {
            return "an invalid port";
        }

        for ( /* void */ ; p < last; p++) {
            if (*p < '0' || *p > '9') {
                return "an invalid port";
            }
            port = port * 10 + (*p - '0');
            if (port > 65535) {
                return "an invalid port";
            }
        }

        if (port == 0) {
            return "an invalid port";
        }

        if (port == (https ? 443 : 80)) {
            port = 0;
        }
    }

    out->data = ngx_pnalloc(pool, sizeof("https://:65535") - 1
                                  + (host_end - host));
    if (out->data == NULL) {
        return "out of memory";
    }

    p = ngx_cpymem(out->data, https ? "https://" : "http://", https ? 8 : 7);

    while (host < host_end) {
        *p++ = ngx_tolower(*host);
        host++;
    }

    if (port) {
        p = ngx_sprintf(p, ":%ui", port);
    }

    out->len = p - out->data;

    return NULL;
}


/*
 * nano_auth_revocation_file <path>: nothing is read here; every worker
 * reads the file on its first request and whenever it changes.
 */
static char *
ngx_http_nano_auth_revocation_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_nano_auth_loc_conf_t *alcf = conf;

    ngx_str_t                        *value;
    ngx_pool_cleanup_t               *cln;
    ngx_http_nano_auth_revocation_t  *rv;

    if (alcf->revocation) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "needs a path";
    }

    rv = ngx_pcalloc(cf->pool, sizeof(ngx_http_nano_auth_revocation_t));
    if (rv == NULL) {
        return NGX_CONF_ERROR;
    }

    rv->path = value[1];

    if (ngx_conf_full_name(cf->cycle, &rv->path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_nano_auth_revocation_cleanup;
    cln->data = rv;

    alcf->revocation = rv;

    return NGX_CONF_OK;
}


/* Frees the last snapshot this process read (workers each their own). */
static void
ngx_http_nano_auth_revocation_cleanup(void *data)
{
    ngx_http_nano_auth_revocation_t  *rv = data;

    nano_revoke_free(rv->snapshot);
    rv->snapshot = NULL;
}


/*
 * nano_auth_leeway is at most NANO_REVOKE_GRACE: the platform drops a
 * revocation that long after the token's exp, so a token still taken
 * later than that would come back to life once its entry is gone.
 */
static char *
ngx_http_nano_auth_leeway(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *sp = data;

    if (*sp > NANO_REVOKE_GRACE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"nano_auth_leeway\" must be at most %d s: "
                           "the platform forgets a revocation that long "
                           "after the token expired", NANO_REVOKE_GRACE);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * nano_auth_max_age is the platform's NANO_SESSION_MAX_AGE, in its range:
 * a token older than it (by iat) is expired, whatever its exp.
 */
static char *
ngx_http_nano_auth_max_age(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *sp = data;

    if (*sp < NANO_TOKEN_MIN_AGE || *sp > NANO_TOKEN_MAX_AGE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"nano_auth_max_age\" must be from %d s to %d s,"
                           " as the platform's NANO_SESSION_MAX_AGE",
                           NANO_TOKEN_MIN_AGE, NANO_TOKEN_MAX_AGE);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_nano_auth_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /* before limit_req (preaccess) and the upstream can log an error */
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_nano_auth_log_query_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_nano_auth_csrf_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_nano_auth_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_nano_auth_admitted;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_nano_auth_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_nano_auth_body_filter;

    return NGX_OK;
}
