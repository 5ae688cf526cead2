#include "util/strpool.h"

#include <errno.h>
#include <string.h>

#define CHUNK_SIZE (64 * 1024)

struct pool_key {
        const char *s;
        size_t len;
};

static bool pool_eq(const void *ctx, uint32_t id, const void *key) {
        const struct strpool *p = ctx;
        const struct pool_key *k = key;
        return p->length.v[id] == k->len && memcmp(p->str.v[id], k->s, k->len) == 0;
}

int strpool_init(struct strpool *p) {
        uint32_t id;
        *p = (struct strpool) {};
        return strpool_add(p, "", 0, &id);
}

void strpool_release(struct strpool *p) {
        for (size_t i = 0; i < p->chunks.n; i++)
                free(p->chunks.v[i]);
        vec_free(&p->chunks);
        vec_free(&p->str);
        vec_free(&p->length);
        idindex_release(&p->index);
        *p = (struct strpool) {};
}

/* Room for n bytes that will never move. A string longer than a chunk
 * gets a chunk of its own (before the current one, which keeps filling). */
static char *pool_alloc(struct strpool *p, size_t n) {
        if (p->chunks.n && p->chunk_size - p->chunk_used >= n) {
                char *at = p->chunks.v[p->chunks.n - 1] + p->chunk_used;
                p->chunk_used += n;
                return at;
        }
        if (vec_reserve(&p->chunks, p->chunks.n + 1) < 0)
                return NULL;
        size_t size = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
        char *c = malloc(size);
        if (!c)
                return NULL;
        if (size == n && p->chunks.n) {
                /* keep the partly used chunk last */
                p->chunks.v[p->chunks.n] = p->chunks.v[p->chunks.n - 1];
                p->chunks.v[p->chunks.n - 1] = c;
                p->chunks.n++;
                return c;
        }
        p->chunks.v[p->chunks.n++] = c;
        p->chunk_used = n;
        p->chunk_size = size;
        return c;
}

int strpool_add(struct strpool *p, const char *s, size_t len, uint32_t *ret_id) {
        struct pool_key key = { s, len };
        uint32_t h = (uint32_t) hash_bytes(s, len, 0);
        int r;

        if (p->str.n == 0 && len != 0) {
                r = strpool_init(p);
                if (r < 0)
                        return r;
        }
        if (idindex_find(&p->index, h, pool_eq, p, &key, ret_id))
                return 0;
        if (len >= UINT32_MAX || p->str.n >= UINT32_MAX - 1)
                return -E2BIG;
        r = vec_reserve(&p->str, p->str.n + 1);
        if (r < 0)
                return r;
        r = vec_reserve(&p->length, p->length.n + 1);
        if (r < 0)
                return r;
        char *copy = pool_alloc(p, len + 1);
        if (!copy)
                return -ENOMEM;
        uint32_t id = (uint32_t) p->str.n;
        r = idindex_insert(&p->index, h, id);
        if (r < 0)
                return r; /* the bytes stay in the chunk, unused */
        if (len)
                memcpy(copy, s, len);
        copy[len] = '\0';
        p->str.v[p->str.n++] = copy;
        p->length.v[p->length.n++] = (uint32_t) len;
        *ret_id = id;
        return 0;
}

int strpool_add_str(struct strpool *p, const char *s, size_t len, const char **ret) {
        uint32_t id;
        int r = strpool_add(p, s, len, &id);
        if (r < 0)
                return r;
        *ret = strpool_get(p, id);
        return 0;
}
