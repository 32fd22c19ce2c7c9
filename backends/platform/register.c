/*
 * POST /api/register: creates a credentials user in V1's "User" table.
 */

#include <stdlib.h>
#include <string.h>

#include "nano_log.h"
#include "nano_password.h"
#include "nano_rand.h"
#include "nano_server.h"
#include "platform.h"

#define PLATFORM_EMAIL_MAX     254      /* RFC 5321 path limit */
#define PLATFORM_LOCAL_MAX     64
#define PLATFORM_NAME_MAX      100      /* bytes */
#define PLATFORM_PASSWORD_MIN  8        /* characters */
#define PLATFORM_PASSWORD_MAX  200      /* bytes */

/* The fields of a sign-up, copied out of the body (owned). */
typedef struct {
    char  *email;
    char  *name;
    char  *password;
} platform_signup_t;

static void
platform_signup_cleanup(platform_signup_t *s)
{
    free(s->email);
    free(s->name);
    if (s->password != NULL) {
        explicit_bzero(s->password, strlen(s->password));
        free(s->password);
    }
    memset(s, 0, sizeof(*s));
}

/* A browser's cross-site request carries a foreign Origin or
 * Sec-Fetch-Site; clients without either (curl) are not browsers. */
static int
platform_cross_site(const nano_req_t *req)
{
    const char  *origin = nano_req_param(req, "HTTP_ORIGIN");
    const char  *site = nano_req_param(req, "HTTP_SEC_FETCH_SITE");
    const char  *rest;
    char         o[NANO_ORIGIN_MAX];

    if (site != NULL && strcmp(site, "same-origin") != 0
        && strcmp(site, "none") != 0)
    {
        return 1;
    }
    if (origin != NULL
        && (nano_callback_origin(origin, o, sizeof(o), &rest) != 0
            || rest[0] != '\0' || strcmp(o, req->config->origin) != 0))
    {
        return 1;          /* also "null", as sandboxed frames send it */
    }
    return 0;
}

/* NULL when email looks deliverable, else the reason. */
static const char *
platform_email_problem(const char *email)
{
    const char  *at, *domain, *p;
    size_t       len = strlen(email);

    if (len == 0) {
        return "an email address is required";
    }
    if (len > PLATFORM_EMAIL_MAX) {
        return "the email address is too long";
    }
    for (p = email; *p != '\0'; p++) {
        if ((unsigned char) *p <= 0x20 || *p == 0x7f
            || strchr("<>()[]\\,;:\"", *p) != NULL)
        {
            return "the email address contains a character that is not"
                   " allowed";
        }
    }
    at = strchr(email, '@');
    if (at == NULL || at != strrchr(email, '@') || at == email
        || at[1] == '\0')
    {
        return "the email address needs one @ with text on both sides";
    }
    if ((size_t) (at - email) > PLATFORM_LOCAL_MAX) {
        return "the part before the @ is too long";
    }
    domain = at + 1;
    if (strchr(domain, '.') == NULL || domain[0] == '.' || domain[0] == '-'
        || email[len - 1] == '.' || email[len - 1] == '-'
        || strstr(domain, "..") != NULL)
    {
        return "the email address needs a domain such as example.com";
    }
    return NULL;
}

/* Validates UTF-8 and counts its characters; -1 when invalid. */
static long
platform_utf8_chars(const char *s)
{
    const unsigned char  *p = (const unsigned char *) s;
    long                  n = 0;
    int                   more, i;

    while (*p != '\0') {
        if (*p < 0x80) {
            more = 0;
        } else if ((*p & 0xe0) == 0xc0 && *p >= 0xc2) {
            more = 1;
        } else if ((*p & 0xf0) == 0xe0) {
            more = 2;
        } else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4) {
            more = 3;
        } else {
            return -1;
        }
        for (i = 1; i <= more; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return -1;
            }
        }
        p += more + 1;
        n++;
    }
    return n;
}

/* NULL when the password is acceptable, else the reason. */
static const char *
platform_password_problem(const char *password)
{
    long  chars;

    if (strlen(password) > PLATFORM_PASSWORD_MAX) {
        return "the password must be at most 200 bytes long";
    }
    chars = platform_utf8_chars(password);
    if (chars < 0) {
        return "the password is not valid UTF-8";
    }
    if (chars < PLATFORM_PASSWORD_MIN) {
        return "the password must be at least 8 characters long";
    }
    return NULL;
}

/* Trims name in place; NULL when acceptable, else the reason. */
static const char *
platform_name_problem(char *name)
{
    const char  *p;
    size_t       len = strlen(platform_trim(name));

    if (len > PLATFORM_NAME_MAX) {
        return "the name must be at most 100 bytes long";
    }
    if (platform_utf8_chars(name) < 0) {
        return "the name is not valid UTF-8";
    }
    for (p = name; *p != '\0'; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            return "the name contains a control character";
        }
    }
    return NULL;
}

/* Copies the fields from a JSON or form body; answers 4xx itself
 * (returns the status) or returns 0. */
static int
platform_signup_read(nano_req_t *req, nano_res_t *res, platform_signup_t *s)
{
    json_t       *root = NULL, *email = NULL, *name = NULL, *password = NULL;
    json_error_t  err;
    nano_form_t   form;
    const char   *e, *n, *p;
    int           status = 0;

    nano_form_init(&form);
    if (nano_req_is_content_type(req, "application/json")) {
        root = nano_req_json(req);
        if (root == NULL) {
            status = nano_res_error(res, 400, "invalid_json",
                                    "the body must be a JSON object");
            goto out;
        }
        if (json_unpack_ex(root, &err, 0, "{s?o, s?o, s?o}", "email", &email,
                           "name", &name, "password", &password) != 0
            || (email != NULL && !json_is_string(email))
            || (name != NULL && !json_is_string(name) && !json_is_null(name))
            || (password != NULL && !json_is_string(password)))
        {
            status = nano_res_error(res, 400, "invalid_field",
                                    "email, name and password must be"
                                    " strings");
            goto out;
        }
        e = email ? json_string_value(email) : "";
        n = name && json_is_string(name) ? json_string_value(name) : "";
        p = password ? json_string_value(password) : "";
        /* jansson allows "\u0000" inside strings: refuse it. */
        if ((email && strlen(e) != json_string_length(email))
            || (name && json_is_string(name) && strlen(n)
                                                != json_string_length(name))
            || (password && strlen(p) != json_string_length(password)))
        {
            status = nano_res_error(res, 400, "invalid_field",
                                    "a field contains a NUL character");
            goto out;
        }
    } else if (nano_req_is_content_type(req,
                                        "application/x-www-form-urlencoded"))
    {
        if (nano_req_form(req, &form) != NANO_FORM_OK) {
            status = nano_res_error(res, 400, "bad_request",
                                    "malformed form body");
            goto out;
        }
        e = nano_form_get(&form, "email") ? nano_form_get(&form, "email") : "";
        n = nano_form_get(&form, "name") ? nano_form_get(&form, "name") : "";
        p = nano_form_get(&form, "password")
            ? nano_form_get(&form, "password") : "";
    } else {
        status = nano_res_error(res, 415, "unsupported_media_type",
                                "send application/json or"
                                " application/x-www-form-urlencoded");
        goto out;
    }

    s->email = strdup(e);
    s->name = strdup(n);
    s->password = strdup(p);
    if (s->email == NULL || s->name == NULL || s->password == NULL) {
        status = nano_res_error(res, 500, "internal", "out of memory");
    }
out:
    json_decref(root);
    nano_form_cleanup(&form);
    return status;
}

int
platform_register(nano_req_t *req, nano_res_t *res)
{
    platform_signup_t   s = { NULL, NULL, NULL };
    nano_db_status_t    st;
    nano_db_t          *db;
    const char         *why;
    char                id[NANO_RAND_CUID_LEN + 1];
    char               *hash = NULL;
    int                 status, created = 0;

    if (platform_cross_site(req)) {
        nano_log_warn("cross-site sign-up refused");
        return nano_res_error(res, 403, "cross_site",
                              "sign-up is only accepted from this site");
    }
    status = platform_signup_read(req, res, &s);
    if (status != 0) {
        goto out;
    }

    platform_email_normalise(s.email);
    if ((why = platform_email_problem(s.email)) != NULL) {
        status = nano_res_error(res, 400, "invalid_email", why);
        goto out;
    }
    if ((why = platform_password_problem(s.password)) != NULL) {
        status = nano_res_error(res, 400, "invalid_password", why);
        goto out;
    }
    if ((why = platform_name_problem(s.name)) != NULL) {
        status = nano_res_error(res, 400, "invalid_name", why);
        goto out;
    }

    /* Before the slow hash: an outage answers at once. */
    db = nano_server_db(req);
    if (db == NULL) {
        status = platform_db_error(res, NULL, NANO_DB_UNAVAILABLE);
        goto out;
    }
    hash = nano_password_hash(s.password);
    if (hash == NULL || nano_rand_cuid(id) != 0) {
        nano_log_error("cannot hash a password or make an id");
        status = nano_res_error(res, 500, "internal", "cannot create user");
        goto out;
    }

    st = platform_user_create(db, id, s.email,
                              s.name[0] != '\0' ? s.name : NULL, hash,
                              &created);
    if (st != NANO_DB_OK) {
        status = platform_db_error(res, db, st);
        goto out;
    }
    if (!created) {
        status = nano_res_error(res, 409, "email_taken",
                                "an account with this email already exists");
        goto out;
    }
    nano_log_info("user %s registered", id);
    status = nano_res_json(res, 201,
                           json_pack("{s:s, s:s, s:s?}", "id", id,
                                     "email", s.email, "name",
                                     s.name[0] != '\0' ? s.name : NULL));
out:
    free(hash);
    platform_signup_cleanup(&s);
    return status;
}
