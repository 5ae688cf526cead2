/* Small jansson helpers shared by the JSON writers (speedscope.c and
 * report.c). Each returns a new reference or NULL on allocation failure. */
#pragma once

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "output/utf8.h"

/* Integral values print as integers (counts stay "12", not "12.0"). */
static inline json_t *json_number_new(double v) {
        if (v == floor(v) && v >= -9.0e15 && v <= 9.0e15)
                return json_integer((json_int_t) v);
        if (!isfinite(v))
                return json_null();
        return json_real(v);
}

/* A JSON string from bytes that need not be UTF-8 (see utf8.h). */
static inline json_t *json_bytes_new(const char *s, size_t len) {
        if (utf8_is_valid(s, len))
                return json_stringn(s, len);
        struct charvec buf = {};
        if (utf8_append_sanitized(s, len, &buf) < 0)
                return NULL;
        json_t *j = json_stringn(buf.v, buf.n);
        vec_free(&buf);
        return j;
}

/* Set/append that take v's reference in every case (jansson's _new calls
 * do, even on failure) and treat a NULL v as the allocation failure it is. */
static inline int json_set_new(json_t *obj, const char *key, json_t *v) {
        return v && json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

static inline int json_append_new(json_t *arr, json_t *v) {
        return v && json_array_append_new(arr, v) == 0 ? 0 : -ENOMEM;
}
