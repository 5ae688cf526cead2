/* Hashing and two small hash tables.
 *
 * struct idindex maps keys that live elsewhere (in a string table, a frame
 * array ...) to dense uint32 ids: it stores only ids and their hashes, and
 * asks the caller's eq() to compare a candidate id against the key. That
 * keeps every interning table in cprof one allocation per entry cheaper.
 *
 * struct u64map maps uint64 keys to uint64 values (address caches). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);

static inline uint64_t hash_u64(uint64_t x) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ULL;
        x ^= x >> 33;
        return x;
}

struct idindex {
        uint32_t *slots;  /* id + 1, 0 = empty */
        uint32_t *hashes; /* hash of the entry in the same slot */
        size_t mask;      /* capacity - 1, capacity a power of two */
        size_t count;
};

typedef bool (*idindex_eq_fn)(const void *ctx, uint32_t id, const void *key);

/* Returns true and sets *ret_id when an entry equal to key exists. */
bool idindex_find(const struct idindex *ix, uint32_t hash, idindex_eq_fn eq, const void *ctx,
                  const void *key, uint32_t *ret_id);
/* Adds id under hash (the caller has checked it is not present). -ENOMEM. */
int idindex_insert(struct idindex *ix, uint32_t hash, uint32_t id);
void idindex_release(struct idindex *ix);

struct u64map {
        uint64_t *keys;
        uint64_t *vals;
        uint8_t *used;
        size_t mask;
        size_t count;
};

/* ret_val may be NULL: only whether key is there */
bool u64map_get(const struct u64map *m, uint64_t key, uint64_t *ret_val);
/* Inserts or replaces. -ENOMEM. */
int u64map_put(struct u64map *m, uint64_t key, uint64_t val);
/* Removes key; false when it was not there. */
bool u64map_remove(struct u64map *m, uint64_t key);
/* Empties m and keeps its memory for the next use. */
void u64map_clear(struct u64map *m);
void u64map_release(struct u64map *m);
