/*
 * Form and query-string parsing.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_form.h"
#include "nano_utf8.h"

void
nano_form_init(nano_form_t *form)
{
    form->pairs = NULL;
    form->n = 0;
    form->left_out = NULL;
    form->refused = NULL;
}

void
nano_form_cleanup(nano_form_t *form)
{
    size_t  i;

    if (form == NULL) {
        return;
    }
    /* values may be passwords: leave none in freed memory */
    for (i = 0; i < form->n; i++) {
        free(form->pairs[i].key);
        explicit_bzero(form->pairs[i].value, strlen(form->pairs[i].value));
        free(form->pairs[i].value);
    }
    free(form->pairs);
    free(form->left_out);
    free(form->refused);
    nano_form_init(form);
}

static int
nano_form_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

long
nano_form_decode(char *out, const char *in, size_t len, int plus_is_space)
{
    size_t  i, n = 0;
    int     hi, lo;

    for (i = 0; i < len; i++) {
        if (in[i] == '%' && i + 2 < len
            && (hi = nano_form_hexval(in[i + 1])) >= 0
            && (lo = nano_form_hexval(in[i + 2])) >= 0)
        {
            out[n] = (char) (hi * 16 + lo);
            i += 2;
        } else if (in[i] == '+' && plus_is_space) {
            out[n] = ' ';
        } else {
            out[n] = in[i];
        }
        if (out[n] == '\0') {
            return -1;
        }
        n++;
    }
    out[n] = '\0';
    return (long) n;
}

/* Decodes in[0..len) into a new string in *out. */
static nano_form_status_t
nano_form_dup_decoded(char **out, const char *in, size_t len)
{
    *out = malloc(len + 1);
    if (*out == NULL) {
        return NANO_FORM_NOMEM;
    }
    if (nano_form_decode(*out, in, len, 1) < 0) {
        free(*out);
        *out = NULL;
        return NANO_FORM_INVALID;
    }
    return NANO_FORM_OK;
}

nano_form_status_t
nano_form_parse(nano_form_t *form, const char *s, size_t len)
{
    const char          *end = s + len, *amp, *eq;
    nano_form_pair_t    *pair;
    nano_form_status_t   rc = NANO_FORM_OK;
    int                  bad_utf8 = 0;

    form->pairs = calloc(NANO_FORM_PAIRS_MAX, sizeof(nano_form_pair_t));
    if (form->pairs == NULL) {
        return NANO_FORM_NOMEM;
    }

    while (s < end) {
        amp = memchr(s, '&', (size_t) (end - s));
        if (amp == NULL) {
            amp = end;
        }
        if (amp == s) {             /* "a=1&&b=2": skip the empty piece */
            s++;
            continue;
        }
        if (form->n == NANO_FORM_PAIRS_MAX) {
            rc = NANO_FORM_INVALID;
            goto out;
        }
        eq = memchr(s, '=', (size_t) (amp - s));
        if (eq == NULL) {
            eq = amp;
        }
        pair = &form->pairs[form->n];
        rc = nano_form_dup_decoded(&pair->key, s, (size_t) (eq - s));
        if (rc != NANO_FORM_OK) {
            goto out;
        }
        rc = nano_form_dup_decoded(&pair->value, eq < amp ? eq + 1 : amp,
                                   (size_t) (amp - (eq < amp ? eq + 1 : amp)));
        if (rc != NANO_FORM_OK) {
            free(pair->key);
            pair->key = NULL;
            goto out;
        }
        s = amp < end ? amp + 1 : end;
        if (!nano_utf8_valid(pair->key) || !nano_utf8_valid(pair->value)) {
            if (form->left_out == NULL && nano_utf8_valid(pair->key)) {
                form->left_out = pair->key;
            } else {
                free(pair->key);
            }
            free(pair->value);
            pair->key = pair->value = NULL;
            bad_utf8 = 1;
            continue;
        }
        form->n++;
    }

out:
    if (rc != NANO_FORM_OK) {
        nano_form_cleanup(form);
        return rc;
    }
    return bad_utf8 ? NANO_FORM_BAD_UTF8 : NANO_FORM_OK;
}

nano_form_status_t
nano_form_add(nano_form_t *form, const char *key, const char *value)
{
    nano_form_pair_t  *pair;

    if (form->pairs == NULL) {
        form->pairs = calloc(NANO_FORM_PAIRS_MAX, sizeof(nano_form_pair_t));
        if (form->pairs == NULL) {
            return NANO_FORM_NOMEM;
        }
    }
    if (form->n == NANO_FORM_PAIRS_MAX) {
        return NANO_FORM_INVALID;
    }
    pair = &form->pairs[form->n];
    pair->key = strdup(key);
    pair->value = strdup(value);
    pair->not_text = 0;
    if (pair->key == NULL || pair->value == NULL) {
        free(pair->key);
        free(pair->value);
        pair->key = pair->value = NULL;
        return NANO_FORM_NOMEM;
    }
    form->n++;
    return NANO_FORM_OK;
}

/* The first pair of key, or NULL. */
static const nano_form_pair_t *
nano_form_find(const nano_form_t *form, const char *key)
{
    size_t  i;

    for (i = 0; i < form->n; i++) {
        if (strcmp(form->pairs[i].key, key) == 0) {
            return &form->pairs[i];
        }
    }
    return NULL;
}

/* nano_form_digits in base 8 or 10. */
static int
nano_form_digits_in(const char **p, int base, long long max, long long *n)
{
    const char  *s = *p;
    int          d;

    if (*s < '0' || *s >= '0' + base) {
        return -1;
    }
    for (*n = 0; *s >= '0' && *s < '0' + base; s++) {
        d = *s - '0';
        /* *n * base + d > max, asked without overflowing */
        if (d > max || *n > (max - d) / base) {
            return -1;
        }
        *n = *n * base + d;
    }
    *p = s;
    return 0;
}

int
nano_form_digits(const char **p, long long max, long long *n)
{
    return nano_form_digits_in(p, 10, max, n);
}

int
nano_form_number(const char *s, int base, long long max, long long *n)
{
    if (base != 8 && base != 10) {
        return -1;
    }
    return nano_form_digits_in(&s, base, max, n) == 0 && *s == '\0' ? 0
                                                                    : -1;
}

const char *
nano_form_get(const nano_form_t *form, const char *key)
{
    const nano_form_pair_t  *pair = nano_form_find(form, key);

    return pair != NULL ? pair->value : NULL;
}

size_t
nano_form_count(const nano_form_t *form, const char *key)
{
    size_t  i, n = 0;

    for (i = 0; i < form->n; i++) {
        n += strcmp(form->pairs[i].key, key) == 0;
    }
    return n;
}

const char *
nano_form_repeated(const nano_form_t *form)
{
    size_t  i;

    for (i = 0; i < form->n; i++) {
        if (nano_form_find(form, form->pairs[i].key) != &form->pairs[i]) {
            return form->pairs[i].key;
        }
    }
    return NULL;
}

/* NANO_FORM_INVALID for key's value, kept to be named (a JSON key is
 * UTF-8; one with a NUL is not named). */
static nano_form_status_t
nano_form_refuse(nano_form_t *form, const char *key)
{
    if (form->refused == NULL) {
        form->refused = strdup(key);
        if (form->refused == NULL) {
            return NANO_FORM_NOMEM;
        }
    }
    return NANO_FORM_INVALID;
}

nano_form_status_t
nano_form_from_json(nano_form_t *form, json_t *root, int numbers)
{
    nano_form_status_t   st;
    json_t              *v;
    const char          *key, *text;
    char                 num[32];

    if (!json_is_object(root)) {
        return NANO_FORM_INVALID;
    }
    json_object_foreach(root, key, v) {
        if (json_is_string(v)) {
            text = json_string_value(v);
            /* jansson keeps "\u0000"; C strings cannot */
            if (strlen(text) != json_string_length(v)) {
                return nano_form_refuse(form, key);
            }
        } else if (json_is_boolean(v)) {
            text = json_is_true(v) ? "true" : "false";
        } else if (numbers && json_is_integer(v)) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
            text = num;
        } else if (numbers && !json_is_null(v)) {
            return nano_form_refuse(form, key);
        } else {
            continue;
        }
        st = nano_form_add(form, key, text);
        if (st != NANO_FORM_OK) {
            return st;
        }
        form->pairs[form->n - 1].not_text = !json_is_string(v);
    }
    return NANO_FORM_OK;
}

int
nano_form_is_text(const nano_form_t *form, const char *key)
{
    const nano_form_pair_t  *pair = nano_form_find(form, key);

    return pair == NULL || !pair->not_text;
}
