/* util/hash: the u64 map (address caches) and the id index (interning). */
#include <stdbool.h>
#include <stdint.h>

#include "tap.h"
#include "util/hash.h"

static const uint64_t *eq_values;

static bool eq_u64(const void *ctx, uint32_t id, const void *key) {
        (void) ctx;
        return eq_values[id] == *(const uint64_t *) key;
}

int main(void) {
        struct u64map m = {};
        uint64_t v;

        CHECK(!u64map_get(&m, 0, &v), "empty map finds nothing");
        CHECK(u64map_put(&m, 0, 7) == 0 && u64map_get(&m, 0, &v) && v == 7, "key 0 is a key like any other");
        CHECK(u64map_put(&m, 0, 8) == 0 && u64map_get(&m, 0, &v) && v == 8 && m.count == 1,
              "put replaces, count unchanged");
        bool all = true;
        for (uint64_t k = 1; k <= 100000; k++)
                if (u64map_put(&m, k * 0x1000, k) < 0)
                        all = false;
        for (uint64_t k = 1; k <= 100000; k++)
                if (!u64map_get(&m, k * 0x1000, &v) || v != k)
                        all = false;
        CHECK(all && m.count == 100001, "100000 page-aligned keys survive growth");
        CHECK(!u64map_get(&m, 0x1001, &v), "a key never put is not found");
        /* removal under churn: a model array says what must be there */
        {
                struct u64map c = {};
                static uint8_t model[4096];
                uint64_t x = 12345;
                bool ok = true;
                for (int step = 0; step < 200000 && ok; step++) {
                        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                        uint64_t key = (x >> 33) % 4096;
                        if ((x >> 20) & 1) {
                                ok = u64map_put(&c, key * 7919, key) == 0;
                                model[key] = 1;
                        } else {
                                ok = u64map_remove(&c, key * 7919) == (model[key] != 0);
                                model[key] = 0;
                        }
                }
                size_t n = 0;
                for (uint64_t k = 0; k < 4096 && ok; k++) {
                        uint64_t got;
                        bool has = u64map_get(&c, k * 7919, &got);
                        ok = has == (model[k] != 0) && (!has || got == k);
                        n += model[k];
                }
                CHECK(ok && c.count == n, "put/remove churn agrees with a model (%zu left)", n);
                CHECK(!u64map_remove(&c, 99999999), "removing a missing key is false");
                u64map_release(&c);
        }
        u64map_release(&m);
        CHECK(m.count == 0 && !u64map_get(&m, 0, &v), "released map is empty and usable");

        /* id index: ids of equal keys, found through the caller's eq() */
        static uint64_t values[20000];
        struct idindex ix = {};
        eq_values = values;
        all = true;
        for (uint32_t id = 0; id < 20000; id++) {
                values[id] = (uint64_t) id * 2654435761u;
                uint32_t h = (uint32_t) hash_u64(values[id]) & 0xfff; /* many collisions on purpose */
                if (idindex_insert(&ix, h, id) < 0)
                        all = false;
        }
        for (uint32_t id = 0; id < 20000 && all; id++) {
                uint32_t got;
                uint32_t h = (uint32_t) hash_u64(values[id]) & 0xfff;
                if (!idindex_find(&ix, h, eq_u64, NULL, &values[id], &got) || got != id)
                        all = false;
        }
        CHECK(all, "20000 ids found again despite colliding hashes");
        uint64_t absent = 1;
        uint32_t got;
        CHECK(!idindex_find(&ix, (uint32_t) hash_u64(absent) & 0xfff, eq_u64, NULL, &absent, &got),
              "an absent key is not found");
        idindex_release(&ix);

        CHECK(hash_bytes("abc", 3, 0) == hash_bytes("abc", 3, 0), "hash_bytes is deterministic");
        CHECK(hash_bytes("abc", 3, 0) != hash_bytes("abd", 3, 0), "hash_bytes sees the last byte");
        CHECK(hash_bytes("abcdefghi", 9, 0) != hash_bytes("abcdefghj", 9, 0), "and the tail after 8 bytes");
        return tap_done();
}
