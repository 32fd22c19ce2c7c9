/*
 * How many values a JSON text can hold, counted on the text before it is
 * parsed.  jansson turns each value into an allocation of 40 to 200
 * bytes, so "[[],[],…]" or "[1,1,…]" costs 30 to 80 times its length:
 * an 11 MiB body once held half a gigabyte.  A request body is refused
 * before jansson sees it when it could hold more values than any request
 * needs.
 */

#ifndef NANO_JSON_SIZE_H
#define NANO_JSON_SIZE_H

#include <stddef.h>

/* The most values a request body may hold (generate's 50 messages with
 * their members are about 200). */
#define NANO_JSON_VALUES_MAX  10000

/*
 * An upper bound on the values of the JSON text buf[0..len): one, plus
 * one for each '[', '{' and ',' outside strings, counted up to max + 1
 * (the scan stops there).  A valid text never holds more; an invalid one
 * is refused by the parser anyway.
 */
size_t nano_json_values(const char *buf, size_t len, size_t max);

/*
 * The top-level member of the JSON object text buf[0..len) whose value
 * holds byte offset pos (where jansson stopped, json_error_t's
 * position): *key points at its key's text as written between the
 * quotes, escapes not undone, *keylen bytes.  Returns 0, or -1 when pos
 * is not inside a member's value of a top-level object.
 */
int nano_json_member_at(const char *buf, size_t len, size_t pos,
    const char **key, size_t *keylen);

#endif /* NANO_JSON_SIZE_H */
