#include "record/addr-stacks.h"

#include <errno.h>
#include <string.h>

void addr_stacks_release(struct addr_stacks *t) {
        vec_free(&t->addrs);
        idindex_release(&t->addr_index);
        vec_free(&t->unsymbolized);
        vec_free(&t->chains);
        vec_free(&t->stacks);
        vec_free(&t->words);
        idindex_release(&t->stack_index);
        vec_free(&t->dirty);
}

static uint32_t key_hash(const struct addr_key *k) {
        uint64_t h = hash_u64(k->addr ^ ((uint64_t) k->id << 8 | k->kind) * 0x9e3779b97f4a7c15ULL);
        return (uint32_t) (h ^ (h >> 32));
}

static bool addr_eq(const void *ctx, uint32_t id, const void *key) {
        const struct addr_stacks *t = ctx;
        const struct addr_key *a = &t->addrs.v[id].key, *b = key;
        return a->kind == b->kind && a->id == b->id && a->addr == b->addr;
}

int addr_stacks_intern_addr(struct addr_stacks *t, const struct addr_key *k, uint32_t *ret_id,
                            bool *ret_new) {
        uint32_t h = key_hash(k);
        int r;

        if (ret_new)
                *ret_new = false;
        if (idindex_find(&t->addr_index, h, addr_eq, t, k, ret_id))
                return 0;
        if (t->addrs.n >= UINT32_MAX - 1)
                return -ENOMEM;
        r = vec_reserve(&t->unsymbolized, t->unsymbolized.n + 1);
        if (r < 0)
                return r;
        r = vec_push(&t->addrs, ((struct addr_entry) { .key = *k }));
        if (r < 0)
                return r;
        uint32_t id = (uint32_t) t->addrs.n - 1;
        r = idindex_insert(&t->addr_index, h, id);
        if (r < 0) {
                t->addrs.n--;
                return r;
        }
        t->unsymbolized.v[t->unsymbolized.n++] = id;
        *ret_id = id;
        if (ret_new)
                *ret_new = true;
        return 0;
}

struct stack_key {
        const uint32_t *prefix, *addrs;
        size_t n_prefix, n_addrs;
        uint32_t group;
};

static bool stack_eq(const void *ctx, uint32_t id, const void *key) {
        const struct addr_stacks *t = ctx;
        const struct addr_stack *s = &t->stacks.v[id];
        const struct stack_key *k = key;
        const uint32_t *w = addr_stack_words(t, s);
        return s->group == k->group && s->n_prefix == k->n_prefix && s->n_addrs == k->n_addrs &&
               memcmp(w, k->prefix, k->n_prefix * sizeof(uint32_t)) == 0 &&
               memcmp(w + k->n_prefix, k->addrs, k->n_addrs * sizeof(uint32_t)) == 0;
}

int addr_stacks_add(struct addr_stacks *t, const uint32_t *prefix, size_t n_prefix,
                    const uint32_t *addrs, size_t n_addrs, uint64_t count, uint32_t tid,
                    uint32_t group) {
        struct stack_key k = { prefix, addrs, n_prefix, n_addrs, group };
        uint32_t id;
        int r;

        if (count == 0)
                return 0;
        if (n_prefix > UINT16_MAX || n_addrs > UINT16_MAX)
                return -E2BIG;
        uint64_t h = hash_bytes(prefix, n_prefix * sizeof(uint32_t), 3 + group);
        h = hash_bytes(addrs, n_addrs * sizeof(uint32_t), h);
        if (!idindex_find(&t->stack_index, (uint32_t) h, stack_eq, t, &k, &id)) {
                size_t n = n_prefix + n_addrs;
                if (t->words.n + n > UINT32_MAX || t->stacks.n >= UINT32_MAX - 1)
                        return -ENOMEM;
                r = vec_reserve(&t->words, t->words.n + n);
                if (r < 0)
                        return r;
                r = vec_reserve(&t->stacks, t->stacks.n + 1);
                if (r < 0)
                        return r;
                id = (uint32_t) t->stacks.n;
                r = idindex_insert(&t->stack_index, (uint32_t) h, id);
                if (r < 0)
                        return r;
                struct addr_stack *s = &t->stacks.v[t->stacks.n++];
                *s = (struct addr_stack) {
                        .offset = (uint32_t) t->words.n,
                        .n_prefix = (uint16_t) n_prefix,
                        .n_addrs = (uint16_t) n_addrs,
                        .group = group,
                };
                memcpy(t->words.v + t->words.n, prefix, n_prefix * sizeof(uint32_t));
                memcpy(t->words.v + t->words.n + n_prefix, addrs, n_addrs * sizeof(uint32_t));
                t->words.n += n;
        }
        struct addr_stack *s = &t->stacks.v[id];
        if (s->pending == 0) {
                r = vec_push(&t->dirty, id);
                if (r < 0)
                        return r;
                s->tid = tid;
        }
        s->pending += count;
        return 0;
}
