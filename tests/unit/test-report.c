/* Report writer: self/total arithmetic on a crafted profile (recursion
 * counted once per stack, same name in user and kernel kept apart, frames
 * that differ only in line merged, process frames left out), sorting,
 * percentages, --top, and the JSON keys. */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>

#include "cprof/output.h"
#include "cprof/profile.h"
#include "tap.h"

static char *write_text(const struct profile *p, unsigned top) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f || report_write_text(p, f, &(struct report_options) { .top = top }) < 0)
                abort();
        fclose(f);
        return buf;
}

static json_t *write_json(const struct profile *p, unsigned top) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f || report_write_json(p, f, &(struct report_options) { .top = top }) < 0)
                abort();
        fclose(f);
        json_t *j = json_loadb(buf, len, 0, NULL);
        free(buf);
        return j;
}

static uint32_t frame(struct profile *p, const char *name, enum frame_kind kind, uint32_t line) {
        struct profile_frame fr = { .kind = kind, .line = line };
        uint32_t id;
        if (profile_intern_string(p, name, strlen(name), &fr.name) < 0 || profile_intern_frame(p, &fr, &id) < 0)
                abort();
        return id;
}

static void add(struct profile *p, const uint32_t *ids, size_t n, double v) {
        double vals[2] = { v, v };
        if (profile_add_sample(p, ids, n, vals, 0, 0) < 0)
                abort();
}

static bool row_is(json_t *table, size_t i, const char *name, const char *kind, double samples, double total) {
        json_t *row = json_array_get(table, i);
        const char *n = json_string_value(json_object_get(row, "name"));
        const char *k = json_string_value(json_object_get(row, "kind"));
        double pct = json_number_value(json_object_get(row, "percent"));
        bool ok = n && k && strcmp(n, name) == 0 && strcmp(k, kind) == 0 &&
                  json_number_value(json_object_get(row, "samples")) == samples &&
                  fabs(pct - 100.0 * samples / total) < 1e-9;
        if (!ok)
                printf("# row %zu: %s %s %g %g\n", i, n ? n : "?", k ? k : "?",
                       json_number_value(json_object_get(row, "samples")), pct);
        return ok;
}

int main(void) {
        struct profile *p;

        profile_new(&p);
        uint32_t proc = frame(p, "app", FRAME_PROCESS, 0), thr = frame(p, "app-7", FRAME_THREAD, 0);
        uint32_t mainf = frame(p, "main", FRAME_USER, 0), a = frame(p, "a", FRAME_USER, 0);
        uint32_t b = frame(p, "b", FRAME_USER, 0), b5 = frame(p, "b", FRAME_USER, 5);
        uint32_t ka = frame(p, "a", FRAME_KERNEL, 0), kc = frame(p, "c", FRAME_KERNEL, 0);
        add(p, (uint32_t[]) { proc, thr, mainf, a, a, b }, 6, 2); /* recursion: a once in total */
        add(p, (uint32_t[]) { proc, thr, mainf, a }, 4, 2);
        add(p, (uint32_t[]) { proc, thr, mainf, kc }, 4, 1);
        add(p, (uint32_t[]) { proc, thr, mainf, ka }, 4, 4);
        add(p, (uint32_t[]) { proc }, 1, 1);                   /* counts in the total only */
        add(p, (uint32_t[]) { proc, thr, mainf, b5 }, 4, 1);   /* b at another line: same function */
        add(p, (uint32_t[]) { proc, thr, mainf, a, a, b }, 6, 1);
        /* total 12 in 6 unique stacks; self: a_[k] 4, b 4, a 2, c_[k] 1;
         * total: main 11, a 5, a_[k] 4, b 4, c_[k] 1 */

        char *text = write_text(p, 0);
        CHECK_STREQ(text,
                    "total: 12 samples, 6 unique stacks\n"
                    "\n"
                    "self: 4 of 4 functions, by value where the function is the leaf\n"
                    "  samples  percent  function\n"
                    "        4   33.33%  a_[k]\n"
                    "        4   33.33%  b\n"
                    "        2   16.67%  a\n"
                    "        1    8.33%  c_[k]\n"
                    "\n"
                    "total: 5 of 5 functions, by value where the function is anywhere in the stack\n"
                    "  samples  percent  function\n"
                    "       11   91.67%  main\n"
                    "        5   41.67%  a\n"
                    "        4   33.33%  a_[k]\n"
                    "        4   33.33%  b\n"
                    "        1    8.33%  c_[k]\n"
                    "\n"
                    "processes: 2 of 2 processes and threads, by value in their stacks\n"
                    "  samples  percent  kind     name\n"
                    "       12  100.00%  process  app\n"
                    "       11   91.67%  thread   app-7\n",
                    "text report: self and total tables, recursion once, process/thread listed apart");
        free(text);

        text = write_text(p, 2);
        CHECK(strstr(text, "self: top 2 of 4 functions") && strstr(text, "total: top 2 of 5 functions"),
              "--top announces the cut");
        CHECK(strstr(text, "  a_[k]\n") && strstr(text, "  b\n") && !strstr(text, "  c_[k]\n") &&
              strstr(text, "  main\n") && !strstr(text, "  33.33%  a_[k]\n        4   33.33%  b\n        1"),
              "--top 2 keeps the first two rows of each table");
        free(text);

        json_t *j = write_json(p, 0);
        CHECK(j != NULL, "JSON parses");
        CHECK_STREQ(json_string_value(json_object_get(j, "unit")), "samples", "unit");
        CHECK(json_number_value(json_object_get(j, "total_samples")) == 12, "total_samples");
        CHECK(json_integer_value(json_object_get(j, "sample_count")) == 12, "sample_count counts samples, not input lines");
        CHECK(json_integer_value(json_object_get(j, "unique_stacks")) == 6, "unique_stacks");
        CHECK(json_object_get(j, "duration_ns") == NULL, "no duration when unknown");
        CHECK(json_integer_value(json_object_get(j, "functions")) == 5, "functions");
        json_t *self = json_object_get(j, "self"), *total = json_object_get(j, "total");
        CHECK(json_array_size(self) == 4 && json_array_size(total) == 5, "table sizes");
        CHECK(row_is(self, 0, "a_[k]", "kernel", 4, 12) && row_is(self, 1, "b", "user", 4, 12) &&
              row_is(self, 2, "a", "user", 2, 12) && row_is(self, 3, "c_[k]", "kernel", 1, 12), "self rows");
        CHECK(row_is(total, 0, "main", "user", 11, 12) && row_is(total, 1, "a", "user", 5, 12) &&
              row_is(total, 4, "c_[k]", "kernel", 1, 12), "total rows");
        json_t *procs = json_object_get(j, "processes");
        CHECK(json_array_size(procs) == 2 && row_is(procs, 0, "app", "process", 12, 12) &&
              row_is(procs, 1, "app-7", "thread", 11, 12), "process and thread rows, with their kinds");
        json_decref(j);

        j = write_json(p, 1);
        CHECK(json_array_size(json_object_get(j, "self")) == 1 && json_array_size(json_object_get(j, "total")) == 1 &&
              json_integer_value(json_object_get(j, "functions")) == 5, "--top 1 in JSON");
        json_decref(j);
        profile_free(p);

        /* nanoseconds, duration, fractional values */
        profile_new(&p);
        profile_set_unit(p, PROFILE_UNIT_NANOSECONDS);
        profile_set_duration_ns(p, 1500000000);
        uint32_t x = frame(p, "x", FRAME_USER, 0), y = frame(p, "y", FRAME_USER, 0);
        add(p, (uint32_t[]) { x, y }, 2, 0.5);
        add(p, (uint32_t[]) { x }, 1, 1.5);
        text = write_text(p, 0);
        static const char header[] = "total: 2 nanoseconds, 2 unique stacks, duration 1.500 s\n";
        CHECK(strncmp(text, header, strlen(header)) == 0,
              "header with unit and duration");
        CHECK(strstr(text, "  nanoseconds  percent  function\n         1.50   75.00%  x\n") != NULL,
              "column sized to the unit, fractional value");
        free(text);
        j = write_json(p, 0);
        CHECK_STREQ(json_string_value(json_object_get(j, "unit")), "nanoseconds", "JSON unit");
        CHECK(json_integer_value(json_object_get(j, "duration_ns")) == 1500000000, "JSON duration_ns");
        CHECK(row_is(json_object_get(j, "total"), 0, "x", "user", 2, 2), "x is in every stack: 100%%");
        json_decref(j);
        profile_free(p);

        /* huge counts: six significant digits, not 63 digits of a cut
         * 101-digit number in a column padded to 300 */
        profile_new(&p);
        {
                uint32_t h = frame(p, "huge", FRAME_USER, 0), s5 = frame(p, "small", FRAME_USER, 0);
                add(p, (uint32_t[]) { h }, 1, 1e100);
                add(p, (uint32_t[]) { s5 }, 1, 5);
                add(p, (uint32_t[]) { frame(p, "big", FRAME_USER, 0) }, 1, 1.8e19);
                text = write_text(p, 0);
                CHECK(strncmp(text, "total: 1e+100 samples, 3 unique stacks\n", 39) == 0, "huge total");
                CHECK(strstr(text, "  samples  percent  function\n"
                                   "   1e+100  100.00%  huge\n"
                                   "  1.8e+19    0.00%  big\n"
                                   "        5    0.00%  small\n") != NULL,
                      "huge counts in a narrow column");
                size_t longest = 0;
                for (char *l = text; *l;) {
                        char *nl = strchr(l, '\n');
                        size_t n = nl ? (size_t) (nl - l) : strlen(l);
                        longest = n > longest ? n : longest;
                        l += n + (nl != NULL);
                }
                CHECK(longest < 90, "no line is padded wide (longest %zu)", longest);
                free(text);
        }
        profile_free(p);

        /* empty profile: no rows, no division by zero */
        profile_new(&p);
        text = write_text(p, 0);
        CHECK(strstr(text, "total: 0 samples, 0 unique stacks\n") && strstr(text, "self: 0 of 0 functions"),
              "empty profile");
        free(text);
        profile_free(p);
        return tap_done();
}
