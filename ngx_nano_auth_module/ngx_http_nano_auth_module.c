
/*
 * ngx_http_nano_auth_module: the gateway's session check.  Verifies the
 * platform's HS256 session cookie on every request, sends browsers
 * without a session to sign in, answers APIs with 401, and exposes the
 * verified identity as variables for fastcgi_param.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "nano_token.h"
#include "nano_cookie.h"


#define NGX_HTTP_NANO_AUTH_MAX_COOKIE_HEADERS  16


typedef struct {
    ngx_flag_t                 enable;
    ngx_str_t                  secret_file;
    nano_keyring_t            *keyring;
    ngx_str_t                  cookie;
    ngx_str_t                  secure_cookie;
    ngx_str_t                  login_url;
    time_t                     leeway;
} ngx_http_nano_auth_loc_conf_t;


typedef struct {
    nano_token_status_t        status;
    nano_claims_t              claims;
} ngx_http_nano_auth_ctx_t;


typedef enum {
    NGX_HTTP_NANO_AUTH_VAR_USER_ID = 0,
    NGX_HTTP_NANO_AUTH_VAR_USER_EMAIL,
    NGX_HTTP_NANO_AUTH_VAR_USER_NAME,
    NGX_HTTP_NANO_AUTH_VAR_SESSION_ID
} ngx_http_nano_auth_var_e;


static ngx_int_t ngx_http_nano_auth_handler(ngx_http_request_t *r);
static ngx_http_nano_auth_ctx_t *ngx_http_nano_auth_evaluate(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_nano_auth_find_token(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf, ngx_str_t *token);
static ngx_uint_t ngx_http_nano_auth_wants_401(ngx_http_request_t *r);
static ngx_int_t ngx_http_nano_auth_unauthorized(ngx_http_request_t *r);
static ngx_int_t ngx_http_nano_auth_redirect(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf);
static ngx_int_t ngx_http_nano_auth_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *location, ngx_str_t *type,
    ngx_str_t *body);
static ngx_int_t ngx_http_nano_auth_add_header(ngx_http_request_t *r,
    const char *key, void *value, size_t len);
static ngx_int_t ngx_http_nano_auth_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_nano_auth_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_nano_auth_add_variables(ngx_conf_t *cf);
static void *ngx_http_nano_auth_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_nano_auth_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_nano_auth_secret_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void ngx_http_nano_auth_keyring_cleanup(void *data);
static ngx_int_t ngx_http_nano_auth_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_nano_auth_commands[] = {

    { ngx_string("nano_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_nano_auth_loc_conf_t, enable),
      NULL },

    { ngx_string("nano_auth_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_nano_auth_secret_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_nano_auth_loc_conf_t, secret_file),
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

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_nano_auth_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_http_nano_auth_html_type =
    ngx_string("text/html");
static ngx_str_t  ngx_http_nano_auth_401_body =
    ngx_string("{\"error\":\"unauthorized\"}\n");
static ngx_str_t  ngx_http_nano_auth_302_body =
    ngx_string("<!doctype html><title>Sign in</title>"
               "<p>Please <a href=\"/api/auth/signin\">sign in</a>.</p>\n");


static ngx_int_t
ngx_http_nano_auth_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_http_nano_auth_ctx_t       *ctx;
    ngx_http_nano_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_nano_auth_module);

    if (!alcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_nano_auth_evaluate(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->status == NANO_TOKEN_OK) {
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "nano auth: session %s",
                   nano_token_status_name(ctx->status));

    if (ngx_http_nano_auth_wants_401(r)) {
        rc = ngx_http_nano_auth_unauthorized(r);

    } else {
        rc = ngx_http_nano_auth_redirect(r, alcf);
    }

    ngx_http_finalize_request(r, rc);
    return NGX_DONE;
}


/*
 * Verifies the session once per request; the handler and every
 * variable share the result.  Returns NULL only when out of memory.
 */
static ngx_http_nano_auth_ctx_t *
ngx_http_nano_auth_evaluate(ngx_http_request_t *r)
{
    u_char                         *scratch;
    ngx_int_t                       rc;
    ngx_str_t                       token;
    ngx_http_nano_auth_ctx_t       *ctx;
    ngx_http_nano_auth_loc_conf_t  *alcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_nano_auth_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_nano_auth_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_nano_auth_module);

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_nano_auth_module);

    if (alcf->keyring == NULL) {
        ctx->status = NANO_TOKEN_MISSING;
        return ctx;
    }

    rc = ngx_http_nano_auth_find_token(r, alcf, &token);
    if (rc == NGX_ERROR) {
        return NULL;
    }

    if (rc == NGX_DECLINED) {
        ctx->status = (token.len == 0) ? NANO_TOKEN_MISSING
                                       : NANO_TOKEN_INVALID;
        return ctx;
    }

    scratch = ngx_pnalloc(r->pool, token.len + 1);
    if (scratch == NULL) {
        return NULL;
    }

    ctx->status = nano_token_verify(alcf->keyring, (char *) token.data,
                                    token.len, (long long) ngx_time(),
                                    (long long) alcf->leeway,
                                    (char *) scratch, token.len + 1,
                                    &ctx->claims);
    return ctx;
}


/*
 * Finds the session cookie under either name, chunked or not.  NGX_OK
 * with the token, NGX_DECLINED with an empty token when there is none,
 * or with token.len 1 when what is there cannot be a token.
 */
static ngx_int_t
ngx_http_nano_auth_find_token(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf, ngx_str_t *token)
{
    size_t                 n, i, total, len;
    u_char                *buf;
    nano_str_t             headers[NGX_HTTP_NANO_AUTH_MAX_COOKIE_HEADERS];
    ngx_str_t             *name;
    nano_cookie_result_t   res;
#if (nginx_version >= 1023000)
    ngx_table_elt_t       *h;
#else
    ngx_table_elt_t      **h;
#endif

    ngx_str_null(token);
    n = 0;
    total = 0;

#if (nginx_version >= 1023000)
    for (h = r->headers_in.cookie; h; h = h->next) {
        if (n == NGX_HTTP_NANO_AUTH_MAX_COOKIE_HEADERS) {
            token->len = 1;
            return NGX_DECLINED;
        }
        headers[n].data = (char *) h->value.data;
        headers[n].len = h->value.len;
        total += h->value.len;
        n++;
    }
#else
    h = r->headers_in.cookies.elts;
    for (i = 0; i < r->headers_in.cookies.nelts; i++) {
        if (n == NGX_HTTP_NANO_AUTH_MAX_COOKIE_HEADERS) {
            token->len = 1;
            return NGX_DECLINED;
        }
        headers[n].data = (char *) h[i]->value.data;
        headers[n].len = h[i]->value.len;
        total += h[i]->value.len;
        n++;
    }
#endif

    if (n == 0) {
        return NGX_DECLINED;
    }

    if (total > NANO_COOKIE_HEADER_MAX) {
        token->len = 1;
        return NGX_DECLINED;
    }

    /* the joined token is never longer than the headers it came from */
    len = ngx_min(total, NANO_TOKEN_MAX_LEN) + 1;

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < 2; i++) {
        name = (i == 0) ? &alcf->cookie : &alcf->secure_cookie;

        res = nano_cookie_session(headers, n, (char *) name->data, name->len,
                                  (char *) buf, len, &token->len);

        if (res == NANO_COOKIE_FOUND) {
            token->data = buf;
            return NGX_OK;
        }

        if (res == NANO_COOKIE_MALFORMED) {
            token->len = 1;
            return NGX_DECLINED;
        }
    }

    token->len = 0;
    return NGX_DECLINED;
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


static ngx_int_t
ngx_http_nano_auth_unauthorized(ngx_http_request_t *r)
{
    return ngx_http_nano_auth_send(r, NGX_HTTP_UNAUTHORIZED, NULL,
                                   &ngx_http_nano_auth_json_type,
                                   &ngx_http_nano_auth_401_body);
}


/*
 * A relative redirect to the login URL carrying the raw path and query
 * as callbackUrl.  It is never built from the Host header, and leading
 * slashes and backslashes collapse to one, so "//evil" cannot come back
 * as a protocol-relative callback.
 */
static ngx_int_t
ngx_http_nano_auth_redirect(ngx_http_request_t *r,
    ngx_http_nano_auth_loc_conf_t *alcf)
{
    u_char      *p, *src, *last;
    ngx_str_t    location;
    static char  hex[] = "0123456789ABCDEF";

    src = r->unparsed_uri.data;
    last = src + r->unparsed_uri.len;

    while (src < last && (*src == '/' || *src == '\\')) {
        src++;
    }

    location.len = alcf->login_url.len + sizeof("?callbackUrl=%2F") - 1
                   + 3 * (last - src);
    location.data = ngx_pnalloc(r->pool, location.len);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(location.data, alcf->login_url.data, alcf->login_url.len);
    *p++ = ngx_strlchr(alcf->login_url.data,
                       alcf->login_url.data + alcf->login_url.len, '?')
           ? '&' : '?';
    p = ngx_cpymem(p, "callbackUrl=%2F", sizeof("callbackUrl=%2F") - 1);

    /* what encodeURIComponent leaves alone stays, the rest is escaped */
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

    location.len = p - location.data;

    return ngx_http_nano_auth_send(r, NGX_HTTP_MOVED_TEMPORARILY, &location,
                                   &ngx_http_nano_auth_html_type,
                                   &ngx_http_nano_auth_302_body);
}


/*
 * Sends a complete small response.  Location goes into the header list
 * directly, not into headers_out.location, so that nginx does not make
 * it absolute from the Host header.
 */
static ngx_int_t
ngx_http_nano_auth_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *location, ngx_str_t *type, ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_length_n = body->len;

    if (ngx_http_nano_auth_add_header(r, "Cache-Control", "no-store", 8)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (location
        && ngx_http_nano_auth_add_header(r, "Location", location->data,
                                         location->len)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
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

    v->data = (u_char *) (s->data ? s->data : "");
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
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

    v->data = (u_char *) name;
    v->len = ngx_strlen(name);
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
     *     conf->keyring = NULL;
     *     conf->cookie = { 0, NULL };
     *     conf->secure_cookie = { 0, NULL };
     *     conf->login_url = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->leeway = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_nano_auth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_nano_auth_loc_conf_t *prev = parent;
    ngx_http_nano_auth_loc_conf_t *conf = child;

    u_char  *p;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_str_value(conf->secret_file, prev->secret_file, "");
    ngx_conf_merge_str_value(conf->cookie, prev->cookie,
                             NANO_COOKIE_NAME_DEFAULT);
    ngx_conf_merge_str_value(conf->login_url, prev->login_url,
                             "/api/auth/signin");
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 60);

    if (conf->keyring == NULL) {
        conf->keyring = prev->keyring;
    }

    if (conf->enable && conf->keyring == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"nano_auth on\" needs \"nano_auth_secret_file\"");
        return NGX_CONF_ERROR;
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

    if (conf->cookie.len == 0 || conf->cookie.len > 200
        || ngx_strlchr(conf->cookie.data,
                       conf->cookie.data + conf->cookie.len, '=')
        || ngx_strlchr(conf->cookie.data,
                       conf->cookie.data + conf->cookie.len, ';'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"nano_auth_cookie\" \"%V\"",
                           &conf->cookie);
        return NGX_CONF_ERROR;
    }

    if (conf->secure_cookie.data == NULL) {
        if (prev->secure_cookie.data && prev->cookie.data == conf->cookie.data)
        {
            conf->secure_cookie = prev->secure_cookie;

        } else {
            conf->secure_cookie.len = sizeof(NANO_COOKIE_SECURE_PREFIX) - 1
                                      + conf->cookie.len;
            conf->secure_cookie.data = ngx_pnalloc(cf->pool,
                                                   conf->secure_cookie.len);
            if (conf->secure_cookie.data == NULL) {
                return NGX_CONF_ERROR;
            }

            p = ngx_cpymem(conf->secure_cookie.data,
                           NANO_COOKIE_SECURE_PREFIX,
                           sizeof(NANO_COOKIE_SECURE_PREFIX) - 1);
            ngx_memcpy(p, conf->cookie.data, conf->cookie.len);
        }
    }

    return NGX_CONF_OK;
}


/* The key file is read while the configuration is parsed, so a missing
 * or weak key stops nginx from starting instead of failing requests. */
static char *
ngx_http_nano_auth_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_nano_auth_loc_conf_t *alcf = conf;

    char                 err[NGX_MAX_ERROR_STR];
    char                *rv;
    ngx_str_t           *value;
    ngx_pool_cleanup_t  *cln;

    if (alcf->keyring) {
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

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    alcf->keyring = nano_keyring_load((char *) value->data, err, sizeof(err));
    if (alcf->keyring == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "nano_auth_secret_file: %s",
                           err);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_nano_auth_keyring_cleanup;
    cln->data = alcf->keyring;

    return NGX_CONF_OK;
}


static void
ngx_http_nano_auth_keyring_cleanup(void *data)
{
    nano_keyring_free(data);
}


static ngx_int_t
ngx_http_nano_auth_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_nano_auth_handler;

    return NGX_OK;
}
