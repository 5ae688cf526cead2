#include <stdbool.h>

#include "profile/strtab.h"
#include "tap.h"

int main(void) {
        struct strtab t;
        uint32_t a, b, c, e;

        CHECK(strtab_init(&t) == 0, "init");
        CHECK(strtab_add(&t, "", 0, &e) == 0 && e == 0, "empty string is id 0");
        CHECK(strtab_add(&t, "main", 4, &a) == 0, "add main");
        CHECK(strtab_add(&t, "mainx", 4, &b) == 0 && a == b, "same bytes, same id");
        CHECK(strtab_add(&t, "main\xff", 5, &c) == 0 && c != a, "non-UTF-8 byte is kept");
        CHECK_STREQ(strtab_get(&t, a), "main", "get returns the string");
        CHECK(strtab_len(&t, c) == 5, "length of a string with a high byte");

        /* many strings force the index to grow and rehash */
        char buf[32];
        bool all = true;
        for (int i = 0; i < 20000; i++) {
                uint32_t id, id2;
                int n = snprintf(buf, sizeof(buf), "fn_%d", i);
                if (strtab_add(&t, buf, (size_t) n, &id) < 0 || strtab_add(&t, buf, (size_t) n, &id2) < 0 ||
                    id != id2 || strcmp(strtab_get(&t, id), buf) != 0)
                        all = false;
        }
        CHECK(all, "20000 strings intern and read back");
        CHECK(t.offset.n == 20000 + 3, "no duplicates stored");
        strtab_release(&t);
        return tap_done();
}
