/* util/vec: the growable buffer every stage uses (vec_push, vec_append,
 * struct charvec), including the failures that must leave it untouched. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "util/vec.h"

struct pair {
        uint32_t a;
        uint64_t b;
};

int main(void) {
        VEC(struct pair) pv = {};
        struct pair src[3] = { { 1, 10 }, { 2, 20 }, { 3, 30 } };
        bool ok = true;

        CHECK(vec_append(&pv, src, 0) == 0 && pv.n == 0, "appending nothing to an empty vector");
        for (int i = 0; i < 1000; i++)
                if (vec_append(&pv, src, 3) < 0)
                        ok = false;
        for (size_t i = 0; i < pv.n; i++)
                if (pv.v[i].a != src[i % 3].a || pv.v[i].b != src[i % 3].b)
                        ok = false;
        CHECK(ok && pv.n == 3000 && pv.cap >= 3000, "3000 elements appended three at a time, in order");

        /* counts that cannot be allocated fail cleanly instead of wrapping;
         * volatile: as constants gcc warns about the memcpy it cannot
         * prove unreachable, and real counts are never constants */
        volatile size_t huge = SIZE_MAX, huge_bytes = SIZE_MAX / sizeof(struct pair);
        struct pair *before = pv.v;
        size_t n = pv.n, cap = pv.cap;
        CHECK(vec_append(&pv, src, huge) == -ENOMEM, "appending SIZE_MAX elements is -ENOMEM");
        CHECK(vec_append(&pv, src, huge_bytes) == -ENOMEM,
              "a byte size past SIZE_MAX is -ENOMEM");
        CHECK(pv.v == before && pv.n == n && pv.cap == cap && pv.v[2999].b == 30,
              "a failed append leaves the vector untouched");
        vec_free(&pv);
        CHECK(!pv.v && pv.n == 0 && pv.cap == 0, "vec_free empties");

        /* one byte elements: doubling the capacity must not wrap around
         * (it used to loop forever for a need above SIZE_MAX / 2) */
        VEC(char) cv = {};
        CHECK(vec_push(&cv, 'x') == 0, "push a byte");
        CHECK(vec_reserve(&cv, SIZE_MAX) == -ENOMEM && cv.n == 1 && cv.v[0] == 'x',
              "reserving SIZE_MAX bytes is -ENOMEM, contents kept");
        CHECK(vec_reserve(&cv, SIZE_MAX / 2 + 2) == -ENOMEM && cv.n == 1,
              "reserving just above half the address space is -ENOMEM");
        CHECK(vec_reserve(&cv, 100) == 0 && cv.cap >= 100 && cv.cap <= 256, "small reserves double");
        vec_free(&cv);

        struct charvec s = {};
        CHECK(charvec_append(&s, NULL, 0) == 0 && s.n == 0 && s.v && s.v[0] == '\0',
              "an empty append makes an empty C string");
        CHECK(charvec_append(&s, "abc", 3) == 0 && charvec_append_str(&s, ";de") == 0 && s.n == 6,
              "two appends");
        CHECK_STREQ(s.v, "abc;de", "charvec text is NUL terminated");
        CHECK(charvec_append(&s, "xyz", 1) == 0 && s.n == 7, "append a prefix of a string");
        CHECK_STREQ(s.v, "abc;dex", "only len bytes are copied");
        char big[5000];
        memset(big, 'q', sizeof(big));
        CHECK(charvec_append(&s, big, sizeof(big)) == 0 && s.n == 5007 && s.v[5007] == '\0' &&
                      s.v[5006] == 'q' && memcmp(s.v, "abc;dex", 7) == 0,
              "growth keeps the old text and the terminator");
        char *sv = s.v;
        CHECK(charvec_append(&s, "a", huge - s.n) == -ENOMEM && s.v == sv && s.n == 5007,
              "a length that leaves no room for the NUL is -ENOMEM, text untouched");
        s.n = 0; /* reuse as scratch, as the writers do */
        CHECK(charvec_append(&s, "z", 1) == 0 && strcmp(s.v, "z") == 0, "reuse after n = 0");
        vec_free(&s);
        return tap_done();
}
