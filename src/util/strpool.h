/* The string pool: each distinct byte string is stored once, NUL
 * terminated, and named by a dense uint32 id; id 0 is the empty string.
 * Strings live in chunks that never move, so a pointer from
 * strpool_get() stays valid until strpool_release(): the profile, the
 * image store and the symbolizer all hand such pointers out. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"
#include "util/vec.h"

struct strpool {
        VEC(char *) chunks;
        size_t chunk_used, chunk_size; /* of the last chunk */
        VEC(const char *) str;         /* id -> string */
        VEC(uint32_t) length;          /* id -> length */
        struct idindex index;
};

/* Optional: a zeroed pool is ready (the first add makes id 0 ""). */
int strpool_init(struct strpool *p);
void strpool_release(struct strpool *p);
/* Interns s[0..len) (may hold any byte but NUL). -E2BIG, -ENOMEM. */
int strpool_add(struct strpool *p, const char *s, size_t len, uint32_t *ret_id);
/* The same, giving the pooled string. */
int strpool_add_str(struct strpool *p, const char *s, size_t len, const char **ret);

static inline const char *strpool_get(const struct strpool *p, uint32_t id) {
        return p->str.v[id];
}

static inline size_t strpool_len(const struct strpool *p, uint32_t id) {
        return p->length.v[id];
}

static inline size_t strpool_count(const struct strpool *p) {
        return p->str.n;
}
