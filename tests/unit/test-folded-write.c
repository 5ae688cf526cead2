/* Folded writer: sorted bytewise on the joined stack, suffixes by kind,
 * integral counts as integers, differential columns, round trip. */
#include <stdbool.h>

#include "cprof/output.h"
#include "cprof/profile.h"
#include "tap.h"

static char *write_str(struct profile *p) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f || folded_write(p, f) < 0)
                abort();
        fclose(f);
        return buf;
}

static void add(struct profile *p, const char *const *names, const enum frame_kind *kinds,
                size_t n, double v) {
        uint32_t ids[16];
        double vals[2] = { v, v };
        for (size_t i = 0; i < n; i++)
                profile_intern_named_frame(p, names[i], strlen(names[i]), kinds ? kinds[i] : FRAME_USER, &ids[i]);
        profile_add_sample(p, ids, n, vals, 0, 0);
}

int main(void) {
        struct profile *p;
        char *out;

        profile_new(&p);
        add(p, (const char *[]) { "a", "b" }, NULL, 2, 1);
        add(p, (const char *[]) { "a!x" }, NULL, 1, 2);
        add(p, (const char *[]) { "a", "sys_read", "vfs" },
            (enum frame_kind[]) { FRAME_PROCESS, FRAME_KERNEL, FRAME_KERNEL }, 3, 3);
        add(p, (const char *[]) { "a", "b" }, NULL, 2, 4);
        add(p, (const char *[]) { "z" }, NULL, 1, 0.5);
        out = write_str(p);
        /* "a!x" < "a;..." because '!' < ';' in bytes: the joined text decides */
        CHECK_STREQ(out, "a!x 2\na;b 5\na;sys_read_[k];vfs_[k] 3\nz 0.5\n", "sorted bytewise with suffixes");

        struct profile *q;
        profile_new(&q);
        int r = folded_read_buffer(q, "rt", out, strlen(out), NULL);
        char *again = write_str(q);
        CHECK(r == 4, "written output reads back");
        CHECK_STREQ(again, out, "round trip is identical");
        free(again);
        free(out);
        profile_free(q);
        profile_free(p);

        profile_new(&p);
        profile_set_value_count(p, 2);
        {
                uint32_t id;
                double v[2] = { 3, 7 };
                profile_intern_named_frame(p, "m", 1, FRAME_USER, &id);
                profile_add_sample(p, &id, 1, v, 0, 0);
        }
        out = write_str(p);
        CHECK_STREQ(out, "m 3 7\n", "differential writes two columns");
        free(out);
        profile_free(p);

        profile_new(&p);
        add(p, (const char *[]) { "a;b\nzz", "leaf" },
            (enum frame_kind[]) { FRAME_PROCESS, FRAME_USER }, 2, 1e18);
        add(p, (const char *[]) { "c" }, NULL, 1, 0.25);
        out = write_str(p);
        CHECK_STREQ(out, "a:b zz;leaf 1000000000000000000\nc 0.25\n",
                    "separators in names are replaced, big and fractional counts stay numbers");
        {
                struct profile *q;
                profile_new(&q);
                CHECK(folded_read_buffer(q, "rt", out, strlen(out), NULL) == 2,
                      "sanitized output reads back whole");
                profile_free(q);
        }
        free(out);
        profile_free(p);

        /* unnamed frames that differ only by the address pprof keeps read
         * the same: one line, their counts summed */
        profile_new(&p);
        {
                uint32_t root, n1, n2;
                profile_intern_named_frame(p, "main", 4, FRAME_USER, &root);
                struct profile_frame u = { .kind = FRAME_USER, .addr = 0x10 };
                profile_intern_string(p, "[libnone.so]", 12, &u.name);
                profile_intern_frame(p, &u, &n1);
                u.addr = 0x20;
                profile_intern_frame(p, &u, &n2);
                double v = 3;
                profile_add_sample(p, (uint32_t[]) { root, n1 }, 2, &v, 0, 0);
                v = 4;
                profile_add_sample(p, (uint32_t[]) { root, n2 }, 2, &v, 0, 0);
                profile_add_sample(p, (uint32_t[]) { root }, 1, &v, 0, 0);
        }
        out = write_str(p);
        CHECK_STREQ(out, "main 4\nmain;[libnone.so] 7\n", "stacks that read the same are one line");
        free(out);
        profile_free(p);

        profile_new(&p);
        out = write_str(p);
        CHECK_STREQ(out, "", "empty profile writes nothing");
        free(out);
        profile_free(p);
        return tap_done();
}
