/* Interned strings: each distinct byte string is stored once, NUL
 * terminated, and named by a dense uint32 id. Id 0 is the empty string.
 * Pointers from strtab_get() stay valid until the next strtab_add(). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"
#include "util/vec.h"

struct strtab {
        VEC(char) data;       /* strings back to back, each NUL terminated */
        VEC(uint32_t) offset; /* id -> offset in data */
        VEC(uint32_t) length; /* id -> length */
        struct idindex index;
};

int strtab_init(struct strtab *t);
void strtab_release(struct strtab *t);
int strtab_add(struct strtab *t, const char *s, size_t len, uint32_t *ret_id);

static inline const char *strtab_get(const struct strtab *t, uint32_t id) {
        return t->data.v + t->offset.v[id];
}

static inline size_t strtab_len(const struct strtab *t, uint32_t id) {
        return t->length.v[id];
}
