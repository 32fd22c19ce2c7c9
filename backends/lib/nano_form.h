/*
 * application/x-www-form-urlencoded parsing, for query strings and form
 * bodies, percent-decoding, and the plain numbers their values hold.
 */

#ifndef NANO_FORM_H
#define NANO_FORM_H

#include <stddef.h>

#include <jansson.h>

#define NANO_FORM_PAIRS_MAX  64

typedef struct {
    char  *key;
    char  *value;
    int    not_text;   /* from a JSON true, false or number */
} nano_form_pair_t;

typedef struct {
    nano_form_pair_t  *pairs;
    size_t             n;
    /* the key of the first pair left out for not being UTF-8, when the
     * key itself is (so a refusal can name the field), else NULL */
    char              *left_out;
    /* the key whose JSON value the form cannot hold (nano_form_from_json
     * answered NANO_FORM_INVALID for it), else NULL */
    char              *refused;
} nano_form_t;

typedef enum {
    NANO_FORM_OK = 0,
    NANO_FORM_INVALID,     /* a %00, or more than NANO_FORM_PAIRS_MAX */
    NANO_FORM_NOMEM,
    NANO_FORM_BAD_UTF8     /* parsed, but pairs that were not UTF-8 left out */
} nano_form_status_t;

void nano_form_init(nano_form_t *form);

/* Frees the pairs; accepts NULL and may run twice. */
void nano_form_cleanup(nano_form_t *form);

/*
 * Parses len bytes of "a=1&b=x+y%21" into form (which must be freshly
 * initialised).  '+' is a space; a malformed %-escape is kept as it is,
 * as browsers do; an encoded NUL makes the whole input invalid, because
 * C strings could not represent it faithfully.  A pair whose decoded key
 * or value is not strict UTF-8 is left out and the result is
 * NANO_FORM_BAD_UTF8 with the other pairs kept, so a caller can still
 * read, say, a csrfToken and refuse the rest in its own words.
 */
nano_form_status_t nano_form_parse(nano_form_t *form, const char *s,
    size_t len);

/* Appends a copy of key=value (a form built from another source, such
 * as a JSON body).  NANO_FORM_INVALID past NANO_FORM_PAIRS_MAX. */
nano_form_status_t nano_form_add(nano_form_t *form, const char *key,
    const char *value);

/*
 * Appends a JSON object's members as pairs: strings (without NUL), true
 * and false as "true" and "false", whole numbers as their digits when
 * numbers is set; null, and with numbers unset any other value, is left
 * out (NextAuth's update() sends {"data": {...}}).  With numbers set, a
 * value the form cannot hold (a fraction, an array, an object) is
 * NANO_FORM_INVALID: an option is refused, never dropped.
 */
nano_form_status_t nano_form_from_json(nano_form_t *form, json_t *root,
    int numbers);

/* The first value for key, borrowed from form, or NULL. */
const char *nano_form_get(const nano_form_t *form, const char *key);

/* How many pairs have key. */
size_t nano_form_count(const nano_form_t *form, const char *key);

/* The first key that comes a second time (its second pair's, borrowed
 * from form), or NULL when every key comes once. */
const char *nano_form_repeated(const nano_form_t *form);

/* 0 when key's first value came from a JSON true, false or number, so
 * that a field that must be text can refuse one; else 1. */
int nano_form_is_text(const nano_form_t *form, const char *key);

/*
 * Reads one or more plain digits at *p (no blank, no sign: strtol would
 * take " +2") into *n, leading zeros allowed, and advances *p past them.
 * 0, or -1 when there is no digit or the number exceeds max (then *p is
 * left as it was).
 */
int nano_form_digits(const char **p, long long max, long long *n);

/*
 * The whole of s as plain digits in base 8 or 10 (nothing before or
 * after them: no blank, no sign, no "0x"), at most max, into *n: the
 * numbers of settings, which strtol would take as " +4".  0, or -1.
 */
int nano_form_number(const char *s, int base, long long max, long long *n);

/*
 * Percent-decodes len bytes of in into out (at least len + 1 bytes),
 * '+' becoming a space when plus_is_space.  Returns the decoded length,
 * or -1 when the result would contain a NUL byte.
 */
long nano_form_decode(char *out, const char *in, size_t len,
    int plus_is_space);

#endif /* NANO_FORM_H */
