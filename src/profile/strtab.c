#include "strtab.h"

#include <errno.h>
#include <string.h>

struct strtab_key {
        const char *s;
        size_t len;
};

static bool strtab_eq(const void *ctx, uint32_t id, const void *key) {
        const struct strtab *t = ctx;
        const struct strtab_key *k = key;
        return t->length.v[id] == k->len && memcmp(strtab_get(t, id), k->s, k->len) == 0;
}

int strtab_init(struct strtab *t) {
        uint32_t id;
        *t = (struct strtab) {};
        return strtab_add(t, "", 0, &id);
}

void strtab_release(struct strtab *t) {
        vec_free(&t->data);
        vec_free(&t->offset);
        vec_free(&t->length);
        idindex_release(&t->index);
}

int strtab_add(struct strtab *t, const char *s, size_t len, uint32_t *ret_id) {
        struct strtab_key key = { s, len };
        uint32_t h = (uint32_t) hash_bytes(s, len, 0);
        int r;

        if (idindex_find(&t->index, h, strtab_eq, t, &key, ret_id))
                return 0;
        if (t->data.n + len + 1 > UINT32_MAX || t->offset.n >= UINT32_MAX - 1)
                return -E2BIG;

        r = vec_reserve(&t->data, t->data.n + len + 1);
        if (r < 0)
                return r;
        r = vec_reserve(&t->offset, t->offset.n + 1);
        if (r < 0)
                return r;
        r = vec_reserve(&t->length, t->length.n + 1);
        if (r < 0)
                return r;

        uint32_t id = (uint32_t) t->offset.n;
        r = idindex_insert(&t->index, h, id);
        if (r < 0)
                return r;
        t->offset.v[t->offset.n++] = (uint32_t) t->data.n;
        t->length.v[t->length.n++] = (uint32_t) len;
        if (len)
                memcpy(t->data.v + t->data.n, s, len);
        t->data.v[t->data.n + len] = '\0';
        t->data.n += len + 1;
        *ret_id = id;
        return 0;
}
