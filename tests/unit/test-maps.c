/* The /proc/PID/maps parser on fixed text, and the mapping list: sorted
 * lookups, newer mappings cutting older ones, old ones staying known. */
#include <errno.h>
#include <stdbool.h>

#include "image/maps.h"
#include "util/cleanup.h"
#include "tap.h"

struct entries {
        struct maps_entry e[32];
        char path[32][128];
        int n;
};

static int collect(void *ud, const struct maps_entry *e) {
        struct entries *x = ud;
        if (x->n >= 32)
                return -E2BIG;
        x->e[x->n] = *e;
        snprintf(x->path[x->n], sizeof(x->path[0]), "%.*s", (int) e->path_len, e->path ? e->path : "");
        x->n++;
        return 0;
}

static int stop_at_first(void *ud, const struct maps_entry *e) {
        (void) e;
        (*(int *) ud)++;
        return -ECANCELED;
}

static const char sample[] =
        "55d0c8a00000-55d0c8a02000 r--p 00000000 08:01 1311                       /usr/bin/cat\n"
        "55d0c8a02000-55d0c8a07000 r-xp 00002000 08:01 1311                       /usr/bin/cat\n"
        "7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 \n"
        "7f1c2b028000-7f1c2b1bd000 r-xp 00028000 fe:01 917533                     /opt/my app/lib space.so\n"
        "7f1c2b400000-7f1c2b401000 r-xp 00001000 00:2a 42                         /tmp/gone.so (deleted)\n"
        "7ffd5a1e5000-7ffd5a206000 rw-p 00000000 00:00 0                          [stack]\n"
        "7ffd5a3f8000-7ffd5a3fa000 r-xp 00000000 00:00 0                          [vdso]\n"
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
        "this is not a maps line\n"
        "1000-0800 r-xp 00000000 00:00 0 /backwards\n"
        "12345678901234567-12345678901234568 r-xp 00000000 00:00 0 /too/long\n"
        "1000-2000 r-xp 00000000 00:00 0x5 /bad/inode\n"
        "2000-3000 r-xp zz 00:00 0 /bad/offset\n"
        "3000-4000 r-x 00000000 00:00 0 /short/perms\n"
        "5000-6000 r-xp 00000000 00:00 7"; /* no newline at the end */

int main(void) {
        struct entries x = {};
        int r = maps_parse(sample, sizeof(sample) - 1, collect, &x);

        CHECK(r == 9 && x.n == 9, "nine good lines, malformed ones skipped (r=%d)", r);
        CHECK(x.e[0].start == 0x55d0c8a00000 && x.e[0].end == 0x55d0c8a02000 && !x.e[0].exec &&
                      x.e[0].read,
              "range and permissions");
        CHECK(x.e[1].exec && x.e[1].pgoff == 0x2000 && x.e[1].inode == 1311 && x.e[1].dev_major == 8 &&
                      x.e[1].dev_minor == 1,
              "offset, device and inode");
        CHECK_STREQ(x.path[1], "/usr/bin/cat", "path");
        CHECK(x.e[2].path == NULL && x.e[2].write, "anonymous mapping has no path");
        CHECK_STREQ(x.path[3], "/opt/my app/lib space.so", "path with spaces");
        CHECK(x.e[3].dev_major == 0xfe && !x.e[3].deleted, "hex device major");
        CHECK_STREQ(x.path[4], "/tmp/gone.so", "' (deleted)' is cut from the path");
        CHECK(x.e[4].deleted, "deleted flag");
        CHECK_STREQ(x.path[5], "[stack]", "[stack]");
        CHECK_STREQ(x.path[6], "[vdso]", "[vdso]");
        CHECK(x.e[6].exec, "[vdso] is code");
        CHECK(x.e[7].start == 0xffffffffff600000 && x.e[7].exec, "[vsyscall] at the top of memory");
        CHECK(x.e[8].start == 0x5000 && x.e[8].inode == 7 && x.e[8].path == NULL,
              "last line without a newline");

        x = (struct entries) {};
        CHECK(maps_parse("", 0, collect, &x) == 0 && x.n == 0, "empty text");
        static const char two[] = "1000-2000 r-xp 0 0:0 0 /a\n3000-4000 r-xp 0 0:0 0 /b\n";
        int calls = 0;
        CHECK(maps_parse(two, sizeof(two) - 1, stop_at_first, &calls) == -ECANCELED && calls == 1,
              "a callback error stops the parse");
        static const char nul[] = "1000-2000 r-xp 0 0:0 0 /a\0b\n3000-4000 r-xp 0 0:0 0 /c\n";
        x = (struct entries) {};
        r = maps_parse(nul, sizeof(nul) - 1, collect, &x);
        CHECK(r == 1 && x.n == 1 && strcmp(x.path[0], "/c") == 0, "a line with a NUL is skipped");

        /* mapping lists */
        struct mapping_list l = {};
        struct mapping first[] = {
                { .start = 0x3000, .end = 0x4000, .pgoff = 0, .path = "/b" },
                { .start = 0x1000, .end = 0x2000, .pgoff = 0x1000, .path = "/a" },
                { .start = 0x1800, .end = 0x2800, .path = "/overlap" }, /* overlaps /a: dropped */
                { .start = 0x5000, .end = 0x5000, .path = "/empty" },   /* empty: dropped */
                { .start = 0x8000, .end = 0x10000, .pgoff = 0x10000, .path = "/big" },
        };
        CHECK(mapping_list_add(&l, first, ELEMENTSOF(first)) == 0 && l.m.n == 3, "add three");
        CHECK(l.m.v[0].start == 0x1000 && l.m.v[1].start == 0x3000 && l.m.v[2].start == 0x8000, "sorted");
        const struct mapping *m = mapping_list_find(&l, 0x1fff);
        CHECK(m && strcmp(m->path, "/a") == 0, "find at the last byte");
        CHECK(mapping_list_find(&l, 0x2000) == NULL, "end is exclusive");
        CHECK(mapping_list_find(&l, 0xfff) == NULL, "below the first");
        CHECK(mapping_list_find(&l, 0x10000) == NULL, "above the last");

        /* a new mapping in the middle of /big cuts it in two */
        struct mapping mid = { .start = 0xa000, .end = 0xb000, .path = "/new" };
        CHECK(mapping_list_add(&l, &mid, 1) == 0 && l.m.n == 5, "cut in two (n=%zu)", l.m.n);
        m = mapping_list_find(&l, 0xa800);
        CHECK(m && strcmp(m->path, "/new") == 0, "new mapping wins");
        m = mapping_list_find(&l, 0xb000);
        CHECK(m && strcmp(m->path, "/big") == 0 && m->pgoff == 0x13000, "right piece keeps its file offset");
        m = mapping_list_find(&l, 0x9fff);
        CHECK(m && strcmp(m->path, "/big") == 0 && m->pgoff == 0x10000 && m->end == 0xa000, "left piece");
        m = mapping_list_find(&l, 0x3000);
        CHECK(m && strcmp(m->path, "/b") == 0, "untouched mappings stay known");

        /* one new mapping covering several old ones replaces them */
        struct mapping wide = { .start = 0x800, .end = 0x3800, .path = "/wide" };
        CHECK(mapping_list_add(&l, &wide, 1) == 0, "add wide");
        m = mapping_list_find(&l, 0x1000);
        CHECK(m && strcmp(m->path, "/wide") == 0, "covered mapping replaced");
        m = mapping_list_find(&l, 0x3800);
        CHECK(m && strcmp(m->path, "/b") == 0 && m->start == 0x3800 && m->pgoff == 0x800,
              "partly covered mapping trimmed");
        for (size_t i = 1; i < l.m.n; i++)
                CHECK(l.m.v[i - 1].end <= l.m.v[i].start, "disjoint and sorted at %zu", i);
        mapping_list_release(&l);
        return tap_done();
}
