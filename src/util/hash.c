#include "hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A multiply-mix hash over 8-byte words: much faster than FNV on the long
 * frame names of C++ code, and good enough for in-memory tables. */
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed) {
        const unsigned char *s = p;
        uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);

        while (n >= 8) {
                uint64_t w;
                memcpy(&w, s, 8);
                h = (h ^ hash_u64(w)) * 0x9e3779b97f4a7c15ULL;
                h ^= h >> 29;
                s += 8;
                n -= 8;
        }
        uint64_t w = 0;
        memcpy(&w, s, n);
        h = (h ^ hash_u64(w ^ n)) * 0x9e3779b97f4a7c15ULL;
        return hash_u64(h);
}

bool idindex_find(const struct idindex *ix, uint32_t hash, idindex_eq_fn eq, const void *ctx,
                  const void *key, uint32_t *ret_id) {
        if (!ix->slots)
                return false;
        for (size_t i = hash & ix->mask;; i = (i + 1) & ix->mask) {
                uint32_t slot = ix->slots[i];
                if (slot == 0)
                        return false;
                if (ix->hashes[i] == hash && eq(ctx, slot - 1, key)) {
                        *ret_id = slot - 1;
                        return true;
                }
        }
}

static void idindex_place(uint32_t *slots, uint32_t *hashes, size_t mask, uint32_t hash,
                          uint32_t slot) {
        size_t i = hash & mask;
        while (slots[i])
                i = (i + 1) & mask;
        slots[i] = slot;
        hashes[i] = hash;
}

int idindex_insert(struct idindex *ix, uint32_t hash, uint32_t id) {
        size_t cap = ix->slots ? ix->mask + 1 : 0;

        /* Keep the load factor under 1/2: probes stay short. */
        if ((ix->count + 1) * 2 > cap) {
                size_t ncap = cap ? cap * 2 : 64;
                uint32_t *slots = calloc(ncap, sizeof(uint32_t));
                uint32_t *hashes = malloc(ncap * sizeof(uint32_t));
                if (!slots || !hashes) {
                        free(slots);
                        free(hashes);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < cap; i++)
                        if (ix->slots[i])
                                idindex_place(slots, hashes, ncap - 1, ix->hashes[i], ix->slots[i]);
                free(ix->slots);
                free(ix->hashes);
                ix->slots = slots;
                ix->hashes = hashes;
                ix->mask = ncap - 1;
        }
        idindex_place(ix->slots, ix->hashes, ix->mask, hash, id + 1);
        ix->count++;
        return 0;
}

void idindex_release(struct idindex *ix) {
        free(ix->slots);
        free(ix->hashes);
        *ix = (struct idindex) {};
}

bool u64map_get(const struct u64map *m, uint64_t key, uint64_t *ret_val) {
        if (!m->keys)
                return false;
        for (size_t i = hash_u64(key) & m->mask;; i = (i + 1) & m->mask) {
                if (!m->used[i])
                        return false;
                if (m->keys[i] == key) {
                        if (ret_val)
                                *ret_val = m->vals[i];
                        return true;
                }
        }
}

static void u64map_place(struct u64map *m, uint64_t key, uint64_t val) {
        size_t i = hash_u64(key) & m->mask;
        while (m->used[i] && m->keys[i] != key)
                i = (i + 1) & m->mask;
        if (!m->used[i])
                m->count++;
        m->used[i] = 1;
        m->keys[i] = key;
        m->vals[i] = val;
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t val) {
        size_t cap = m->keys ? m->mask + 1 : 0;

        if ((m->count + 1) * 2 > cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct u64map n = {
                        .keys = malloc(ncap * sizeof(uint64_t)),
                        .vals = malloc(ncap * sizeof(uint64_t)),
                        .used = calloc(ncap, 1),
                        .mask = ncap - 1,
                };
                if (!n.keys || !n.vals || !n.used) {
                        u64map_release(&n);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < cap; i++)
                        if (m->used[i])
                                u64map_place(&n, m->keys[i], m->vals[i]);
                u64map_release(m);
                *m = n;
        }
        u64map_place(m, key, val);
        return 0;
}

bool u64map_remove(struct u64map *m, uint64_t key) {
        size_t i;

        if (!m->keys)
                return false;
        for (i = hash_u64(key) & m->mask;; i = (i + 1) & m->mask) {
                if (!m->used[i])
                        return false;
                if (m->keys[i] == key)
                        break;
        }
        /* Backward shift: pull later entries of the probe run into the
         * hole unless that would move one before its home slot. No
         * tombstones, so a table that churns never fills with them. */
        for (size_t j = (i + 1) & m->mask; m->used[j]; j = (j + 1) & m->mask) {
                size_t home = hash_u64(m->keys[j]) & m->mask;
                /* j's entry may move to i when home is not in (i, j] */
                bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
                if (stays)
                        continue;
                m->keys[i] = m->keys[j];
                m->vals[i] = m->vals[j];
                i = j;
        }
        m->used[i] = 0;
        m->count--;
        return true;
}

void u64map_release(struct u64map *m) {
        free(m->keys);
        free(m->vals);
        free(m->used);
        *m = (struct u64map) {};
}

void u64map_clear(struct u64map *m) {
        if (m->used)
                memset(m->used, 0, m->mask + 1);
        m->count = 0;
}
