/* Growable arrays.
 *
 * VEC(T) is an anonymous struct { T *v; size_t n, cap; }. Zero-initialise
 * it, push with vec_push() (which returns -ENOMEM on failure and leaves the
 * vector untouched), and free v when done. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#define VEC(type)                                       \
        struct {                                        \
                type *v;                                \
                size_t n, cap;                          \
        }

/* Make room for at least `need` elements of `elsize` bytes. */
static inline int vec_reserve_(void **v, size_t *cap, size_t need, size_t elsize) {
        if (need <= *cap)
                return 0;
        size_t ncap = *cap ? *cap * 2 : 16;
        while (ncap < need)
                ncap *= 2;
        if (ncap > SIZE_MAX / elsize)
                return -ENOMEM;
        void *nv = realloc(*v, ncap * elsize);
        if (!nv)
                return -ENOMEM;
        *v = nv;
        *cap = ncap;
        return 0;
}

#define vec_reserve(vec, need) \
        vec_reserve_((void **) &(vec)->v, &(vec)->cap, (need), sizeof(*(vec)->v))

#define vec_push(vec, val)                                              \
        ({                                                              \
                int _r = vec_reserve((vec), (vec)->n + 1);              \
                if (_r >= 0)                                            \
                        (vec)->v[(vec)->n++] = (val);                   \
                _r;                                                     \
        })

#define vec_free(vec)                           \
        do {                                    \
                free((vec)->v);                 \
                (vec)->v = NULL;                \
                (vec)->n = (vec)->cap = 0;      \
        } while (0)
