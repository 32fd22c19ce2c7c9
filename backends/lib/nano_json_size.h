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

#endif /* NANO_JSON_SIZE_H */
