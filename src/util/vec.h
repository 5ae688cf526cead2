/* Growable arrays: the one growable buffer of cprof.
 *
 * VEC(T) is an anonymous struct { T *v; size_t n, cap; }. Zero-initialise
 * it, push with vec_push() or vec_append(), and free v when done (or with
 * vec_free()). Every operation that can fail returns -ENOMEM and leaves the
 * vector as it was. struct charvec is VEC(char) with a name, for the
 * byte buffers that functions take as arguments; charvec_append() keeps
 * its text NUL terminated (the NUL is not counted in n). */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define VEC(type)                                       \
        struct {                                        \
                type *v;                                \
                size_t n, cap;                          \
        }

/* Make room for at least `need` elements of `elsize` bytes. */
static inline int vec_reserve_(void **v, size_t *cap, size_t need, size_t elsize) {
        if (need <= *cap)
                return 0;
        size_t max = PTRDIFF_MAX / elsize; /* no object may be larger */
        if (need > max)
                return -ENOMEM;
        size_t ncap = *cap ? *cap : 16;
        while (ncap < need)
                ncap = ncap > max / 2 ? need : ncap * 2; /* no overflow near the top */
        void *nv = realloc(*v, ncap * elsize);
        if (!nv)
                return -ENOMEM;
        *v = nv;
        *cap = ncap;
        return 0;
}

/* The most elements a vector can hold. */
#define VEC_MAX_(vec) ((size_t) PTRDIFF_MAX / sizeof(*(vec)->v))

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

/* For _cleanup_(vec_freep) on any VEC: v is its first member, so this is
 * freep() of cleanup.h applied to it (n and cap die with the variable). */
static inline void vec_freep(void *vec) {
        free(*(void **) vec);
}

/* Appends n elements copied from src (which must not point into vec). */
#define vec_append(vec, src, count)                                             \
        ({                                                                      \
                size_t _c = (count);                                            \
                int _r = _c > VEC_MAX_(vec) - (vec)->n ? -ENOMEM                \
                                                       : vec_reserve((vec), (vec)->n + _c); \
                if (_r >= 0 && _c > 0) {                                        \
                        memcpy((vec)->v + (vec)->n, (src), _c * sizeof(*(vec)->v)); \
                        (vec)->n += _c;                                         \
                }                                                               \
                _r;                                                             \
        })

struct charvec {
        char *v;
        size_t n, cap;
};

/* Appends s[0..len) and a NUL after it, so v is a C string. */
static inline int charvec_append(struct charvec *b, const char *s, size_t len) {
        if (len > SIZE_MAX - b->n - 1)
                return -ENOMEM;
        int r = vec_reserve(b, b->n + len + 1);
        if (r < 0)
                return r;
        if (len > 0)
                memcpy(b->v + b->n, s, len);
        b->n += len;
        b->v[b->n] = '\0';
        return 0;
}

static inline int charvec_append_str(struct charvec *b, const char *s) {
        return charvec_append(b, s, strlen(s));
}
