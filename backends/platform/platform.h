/*
 * The platform app: the only login authority (NextAuth v4-compatible
 * /api/auth/...), registration and the public pages.  Declarations shared
 * by its files.
 */

#ifndef PLATFORM_H
#define PLATFORM_H

#include "nano_db.h"
#include "nano_http.h"
#include "nano_session.h"

#define PLATFORM_CALLBACK_MAX  2048   /* bytes of a remembered callbackUrl */

/* A row of "User"; every field is owned (NULL for SQL NULL). */
typedef struct {
    char  *id;
    char  *email;
    char  *name;
    char  *image;
    char  *password;
} platform_user_t;

/* auth.c: /api/auth/... */
int platform_auth_csrf(nano_req_t *req, nano_res_t *res);
int platform_auth_providers(nano_req_t *req, nano_res_t *res);
int platform_auth_session(nano_req_t *req, nano_res_t *res);
int platform_auth_signin_page(nano_req_t *req, nano_res_t *res);
int platform_auth_signout_page(nano_req_t *req, nano_res_t *res);
int platform_auth_error_page(nano_req_t *req, nano_res_t *res);
int platform_auth_callback_credentials(nano_req_t *req, nano_res_t *res);
int platform_auth_signout(nano_req_t *req, nano_res_t *res);

/* register.c: POST /api/register */
int platform_register(nano_req_t *req, nano_res_t *res);

/* pages.c: GET / and GET /signup */
int platform_home(nano_req_t *req, nano_res_t *res);
int platform_signup_page(nano_req_t *req, nano_res_t *res);

/* users.c: the "User" table. */
void platform_user_init(platform_user_t *u);
void platform_user_cleanup(platform_user_t *u);

/* Finds a user by normalised email; *found says whether one exists. */
nano_db_status_t platform_user_find(nano_db_t *db, const char *email,
    platform_user_t *u, int *found);

/* Inserts a user; *created is 0 when the email (in any case) is taken. */
nano_db_status_t platform_user_create(nano_db_t *db, const char *id,
    const char *email, const char *name, const char *hash, int *created);

/* Answers a database failure: 503 when unreachable, else 500. */
int platform_db_error(nano_res_t *res, nano_db_t *db, nano_db_status_t st);

/* Trims and lower-cases an email in place; returns it. */
char *platform_email_normalise(char *email);

/* util.c */

/* Strips leading and trailing spaces and tabs in place; returns s. */
char *platform_trim(char *s);

/* origin + path, a new string (caller frees), or NULL. */
char *platform_url(const nano_req_t *req, const char *path);

/* A redirect as NextAuth answers it: 302 Location, or {"url": ...} with
 * json_status when the client posted json=true. */
int platform_redirect(nano_res_t *res, const char *url, int json,
    int json_status);

/*
 * The CSRF token for this browser: the one in its genuine csrf cookie, or
 * a new one whose cookie is added to res.  token receives
 * NANO_CSRF_TOKEN_LEN + 1 bytes.  Returns 0 or -1.
 */
int platform_csrf_token(const nano_req_t *req, nano_res_t *res, char *token);

/* 1 when the POST's csrfToken matches the genuine csrf cookie. */
int platform_csrf_ok(const nano_req_t *req, const char *submitted);

/* The name to show for a verified session (name, else email), borrowed
 * from s; NULL when s is not a valid session. */
const char *platform_session_name(const nano_session_t *s);

/*
 * Where to go after signing in or out: the callbackUrl given, else the
 * one remembered in NextAuth's callback-url cookie, checked to be
 * relative or same-origin (the origin otherwise).  Remembers a given one
 * in that cookie.  A new string (caller frees), or NULL.
 */
char *platform_callback(const nano_req_t *req, nano_res_t *res,
    const char *given);

/* path?callbackUrl=<encoded callback>, a new string (caller frees), or
 * NULL: the sign-in and sign-up pages link to each other this way. */
char *platform_link_with_callback(const char *path, const char *callback);

/* platform_callback() with the request's ?callbackUrl=. */
char *platform_query_callback(const nano_req_t *req, nano_res_t *res);

#endif /* PLATFORM_H */
