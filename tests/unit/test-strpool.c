#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/strpool.h"
#include "tap.h"

int main(void) {
        struct strpool t;
        uint32_t a, b, c, e;

        CHECK(strpool_init(&t) == 0, "init");
        CHECK(strpool_add(&t, "", 0, &e) == 0 && e == 0, "empty string is id 0");
        CHECK(strpool_add(&t, "main", 4, &a) == 0, "add main");
        CHECK(strpool_add(&t, "mainx", 4, &b) == 0 && a == b, "same bytes, same id");
        CHECK(strpool_add(&t, "main\xff", 5, &c) == 0 && c != a, "non-UTF-8 byte is kept");
        CHECK_STREQ(strpool_get(&t, a), "main", "get returns the string");
        CHECK(strpool_len(&t, c) == 5, "length of a string with a high byte");

        /* many strings force the index to grow and rehash */
        char buf[32];
        bool all = true;
        for (int i = 0; i < 20000; i++) {
                uint32_t id, id2;
                int n = snprintf(buf, sizeof(buf), "fn_%d", i);
                if (strpool_add(&t, buf, (size_t) n, &id) < 0 || strpool_add(&t, buf, (size_t) n, &id2) < 0 ||
                    id != id2 || strcmp(strpool_get(&t, id), buf) != 0)
                        all = false;
        }
        CHECK(all, "20000 strings intern and read back");
        CHECK(t.str.n == 20000 + 3, "no duplicates stored");

        /* pointers never move: the pool hands them out as borrowed names */
        const char *early = strpool_get(&t, a);
        static char big[100000];
        memset(big, 'x', sizeof(big) - 1);
        uint32_t bid;
        CHECK(strpool_add(&t, big, sizeof(big) - 1, &bid) == 0 && strpool_len(&t, bid) == sizeof(big) - 1,
              "a string longer than a chunk");
        for (int i = 0; i < 20000; i++) {
                uint32_t id;
                int n = snprintf(buf, sizeof(buf), "later_%d", i);
                (void) strpool_add(&t, buf, (size_t) n, &id);
        }
        CHECK(early == strpool_get(&t, a) && strcmp(early, "main") == 0, "an early pointer stays valid");
        const char *s2;
        CHECK(strpool_add_str(&t, "later_7", 7, &s2) == 0 && strcmp(s2, "later_7") == 0, "add_str finds it");
        struct strpool z = {};
        uint32_t zid;
        CHECK(strpool_add(&z, "q", 1, &zid) == 0 && zid == 1 && strpool_len(&z, 0) == 0,
              "a zeroed pool gives id 0 to the empty string");
        strpool_release(&z);
        strpool_release(&t);
        return tap_done();
}
