/*
 * The check shared by the unit tests and the fuzzer of nano_json_lift:
 * a tree parsed with lifting equals jansson's own parse of the same
 * document once every string is read through nano_json_lift_str.
 */

#ifndef JSON_LIFT_EQUAL_H
#define JSON_LIFT_EQUAL_H

#include <string.h>

#include <jansson.h>

#include "nano_json_lift.h"

/* 1 when the lifted tree a (strings through l) equals jansson's b. */
static int
json_lift_equal(const nano_json_lift_t *l, json_t *a, json_t *b)
{
    const char  *sa;
    json_t      *va;
    void        *iter;
    size_t       i, na;

    if (json_typeof(a) != json_typeof(b)) {
        return 0;
    }
    switch (json_typeof(b)) {
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b)) {
            return 0;
        }
        for (iter = json_object_iter(b); iter != NULL;
             iter = json_object_iter_next(b, iter))
        {
            va = json_object_getn(a, json_object_iter_key(iter),
                                  json_object_iter_key_len(iter));
            if (va == NULL
                || !json_lift_equal(l, va, json_object_iter_value(iter)))
            {
                return 0;
            }
        }
        return 1;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b)) {
            return 0;
        }
        for (i = 0; i < json_array_size(b); i++) {
            if (!json_lift_equal(l, json_array_get(a, i),
                                 json_array_get(b, i)))
            {
                return 0;
            }
        }
        return 1;
    case JSON_STRING:
        sa = nano_json_lift_str(l, a, &na);
        return sa != NULL && na == json_string_length(b)
               && memcmp(sa, json_string_value(b), na) == 0;
    default:
        return json_equal(a, b);
    }
}

#endif /* JSON_LIFT_EQUAL_H */
