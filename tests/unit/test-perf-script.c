/* perf script reader: the model it builds (kinds, root frame, values,
 * tids), its callbacks, and the regex corner cases that decide bytes. The
 * byte-for-byte comparison with stackcollapse-perf.pl is in
 * tests/collapse/ (golden files). */
#include <errno.h>
#include <stdbool.h>

#include "cprof/profile.h"
#include "tap.h"

struct seen {
        int bad;
        unsigned bad_line;
        char kept[64], dropped[64];
};

static void on_bad(void *ud, const char *file, unsigned line, const char *reason) {
        struct seen *s = ud;
        (void) file;
        (void) reason;
        s->bad++;
        s->bad_line = line;
}

static void on_filtered(void *ud, const char *kept, const char *dropped) {
        struct seen *s = ud;
        snprintf(s->kept, sizeof(s->kept), "%s", kept);
        snprintf(s->dropped, sizeof(s->dropped), "%s", dropped);
}

struct reason_buf {
        int n;
        char text[256];
};

static void on_reason(void *ud, const char *file, unsigned line, const char *reason) {
        struct reason_buf *rs = ud;
        (void) file;
        if (line == 0)
                snprintf(rs->text, sizeof(rs->text), "%s", reason);
        rs->n++;
}

static struct profile *read_str(const char *s, struct perf_script_options *o, struct seen *seen, int *ret) {
        struct profile *p;
        *seen = (struct seen) {};
        o->on_bad_line = on_bad;
        o->on_event_filtered = on_filtered;
        o->userdata = seen;
        if (profile_new(&p) < 0)
                abort();
        *ret = perf_script_read_buffer(p, "t.perf", s, strlen(s), o);
        return p;
}

static const struct profile_frame *frame(struct profile *p, uint32_t stack, size_t i) {
        size_t depth;
        const uint32_t *f = profile_stack_frames(p, stack, &depth);
        return i < depth ? profile_frame(p, f[i]) : NULL;
}

static const char *name(struct profile *p, uint32_t stack, size_t i) {
        const struct profile_frame *f = frame(p, stack, i);
        return f ? profile_string(p, f->name) : NULL;
}

static size_t depth(struct profile *p, uint32_t stack) {
        size_t d;
        profile_stack_frames(p, stack, &d);
        return d;
}

static const char sample[] =
        "# comment\n"
        "my prog 100/101 [000] 1.5: 250 cpu-clock: \n"
        "\tffffffff81000000 do_syscall_64+0x71 ([kernel.kallsyms])\n"
        "\t    401000 leaf(int)+0x10 (/bin/prog)\n"
        "\t    400f00 main+0x2 (/bin/prog)\n"
        "\n"
        "my prog 100/102 [001] 1.6: 250 cpu-clock: \n"
        "\t    401000 leaf+0x20 (/bin/prog)\n"
        "\t    400f00 main+0x9 (/bin/prog)\n"
        "\n";

int main(void) {
        struct perf_script_options o = {};
        struct seen seen;
        struct profile *p;
        int r;

        p = read_str(sample, &o, &seen, &r);
        CHECK(r == 2 && seen.bad == 0, "two samples, no bad line (r=%d)", r);
        CHECK(profile_stack_count(p) == 2, "kernel frame makes a second stack");
        CHECK_STREQ(name(p, 0, 0), "my_prog", "root is the comm, spaces made '_'");
        CHECK(frame(p, 0, 0)->kind == FRAME_PROCESS, "root is a process frame");
        CHECK_STREQ(name(p, 0, 1), "main", "root first, offset stripped");
        CHECK_STREQ(name(p, 0, 2), "leaf", "arguments stripped");
        CHECK(frame(p, 0, 3)->kind == FRAME_USER, "no --kernel: kernel frame unannotated");
        CHECK(profile_stack(p, 0)->value[0] == 250, "period is the weight");
        CHECK(profile_total(p, 0) == 500, "total of periods");
        CHECK(profile_sample(p, 0)->tid == 101 && profile_sample(p, 1)->tid == 102, "tids kept");
        profile_free(p);

        o = (struct perf_script_options) { .annotate_kernel = true, .include_tid = true };
        p = read_str(sample, &o, &seen, &r);
        CHECK(frame(p, 0, 3)->kind == FRAME_KERNEL, "--kernel: kernel kind");
        CHECK_STREQ(name(p, 0, 3), "do_syscall_64", "suffix is the kind, not the name");
        CHECK_STREQ(name(p, 0, 0), "my_prog-100/101", "--tid root name");
        CHECK_STREQ(name(p, 1, 0), "my_prog-100/102", "another thread, another root");
        profile_free(p);

        /* an inline chain: the first part is the function, the others _[i] */
        o = (struct perf_script_options) {};
        p = read_str("xx 1 1.0: 1 cycles:\n\t1 a->b+0x1 (/m)\n\n", &o, &seen, &r);
        CHECK(depth(p, 0) == 3 && frame(p, 0, 2)->kind == FRAME_INLINE &&
              frame(p, 0, 1)->kind == FRAME_USER, "inline chain kinds");
        CHECK_STREQ(name(p, 0, 2), "b", "inline frame name without suffix");
        profile_free(p);

        /* the first event decides; the other is reported once */
        p = read_str("xx 1 1.0: 1 cycles:\n\t1 a (/m)\n\n"
                     "xx 1 1.1: 1 instructions:\n\t1 b (/m)\n\n"
                     "xx 1 1.2: 1 instructions:\n\t1 b (/m)\n\n", &o, &seen, &r);
        CHECK(r == 1 && profile_stack_count(p) == 1, "other events dropped (r=%d)", r);
        CHECK_STREQ(seen.kept, "cycles", "kept event reported");
        CHECK_STREQ(seen.dropped, "instructions", "dropped event reported");
        profile_free(p);

        o = (struct perf_script_options) { .event_filter = "instructions" };
        p = read_str("xx 1 1.0: 1 cycles:\n\t1 a (/m)\n\n"
                     "xx 1 1.1: 1 instructions:\n\t1 b (/m)\n\n", &o, &seen, &r);
        CHECK(r == 1 && strcmp(name(p, 0, 1), "b") == 0 && seen.kept[0] == '\0',
              "--event-filter keeps the named event, silently");
        profile_free(p);

        /* lazy comm: "a 1 2.0: ..." has a one-letter comm, which the
         * script's \S.+? cannot take; it matches further on */
        o = (struct perf_script_options) {};
        p = read_str("a 123 1.0: 7 cycles:\n\t1 f (/m)\n\n", &o, &seen, &r);
        CHECK_STREQ(name(p, 0, 0), "a_123_1.0:", "lazy comm as in Perl");
        CHECK(profile_stack(p, 0)->value[0] == 7, "period still read from the end");
        profile_free(p);

        /* unknown symbols and --addrs */
        o = (struct perf_script_options) { .include_addrs = true };
        p = read_str("xx 1 1.0: cycles:\n\t  abc [unknown] (/usr/lib/libz.so)\n\t  def [unknown] ([unknown])\n\n",
                     &o, &seen, &r);
        CHECK_STREQ(name(p, 0, 1), "[unknown <def>]", "unknown module");
        CHECK_STREQ(name(p, 0, 2), "[libz.so <abc>]", "module base name");
        CHECK(profile_stack(p, 0)->value[0] == 1, "no period: weight 1");
        profile_free(p);

        /* leniency: bad lines reported with their number, samples kept;
         * no blank line after the last sample: not counted */
        o = (struct perf_script_options) {};
        p = read_str("garbage\nxx 1 1.0: cycles:\n\t1 f (/m)\n\nyy 2 2.0: cycles:\n\t1 g (/m)\n", &o, &seen, &r);
        CHECK(seen.bad == 1 && seen.bad_line == 1, "bad line 1 reported");
        CHECK(r == 1, "unterminated last sample dropped, as the script does");
        profile_free(p);

        p = read_str("xx 1 1.0: cycles:\n\n", &o, &seen, &r);
        CHECK(r == 1 && depth(p, 0) == 1, "empty stack: the comm alone");
        profile_free(p);

        if (profile_new(&p) < 0)
                abort();
        r = perf_script_read_buffer(p, "bin", "ab\0cd", 5, NULL);
        CHECK(r == -EBADMSG, "NUL byte: not text");
        profile_free(p);

        /* CRLF line ends read like LF ones */
        {
                static const char lf[] = "xx 1 1.0: 3 cycles:\n\t1 f+0x1 (/m)\n\t2 main (/m)\n\n"
                                         "xx 1 1.0: 2 cycles:\n\t1 g (/m)\n\n";
                char crlf[256];
                size_t k = 0;
                for (const char *c = lf; *c; c++) {
                        if (*c == '\n')
                                crlf[k++] = '\r';
                        crlf[k++] = *c;
                }
                crlf[k] = '\0';
                o = (struct perf_script_options) {};
                p = read_str(crlf, &o, &seen, &r);
                CHECK(r == 2 && seen.bad == 0 && profile_stack_count(p) == 2 && profile_total(p, 0) == 5,
                      "CRLF: both samples, no bad line (r=%d bad=%d)", r, seen.bad);
                CHECK_STREQ(name(p, 0, 2), "f", "CRLF: frames without the CR");
                profile_free(p);
        }

        /* a 400-digit period: a bad line, its sample dropped, no inf */
        {
                char in[600];
                snprintf(in, sizeof(in), "xx 1 1.0: 1%0400d cycles:\n\t1 f (/m)\n\nxx 1 2.0: 7 cycles:\n\t1 g (/m)\n\n", 0);
                o = (struct perf_script_options) {};
                p = read_str(in, &o, &seen, &r);
                CHECK(r == 1 && seen.bad == 1 && seen.bad_line == 1 && profile_total(p, 0) == 7,
                      "huge period: sample dropped with a bad line (r=%d)", r);
                profile_free(p);
                snprintf(in, sizeof(in), "xx 1 1.0: 1%0400d cycles:\n\t1 f (/m)\n\n", 0);
                p = read_str(in, &o, &seen, &r);
                CHECK(r == -ENODATA && seen.bad_line == 0, "only a huge period: no samples is an error (%d)", r);
                profile_free(p);
        }

        /* input that gave no sample: the error and its reason */
        {
                struct reason_buf rs;
                struct { const char *in, *filter, *want; } cases[] = {
                        { "app;main;a 3\napp;main;b 1\n", NULL, "folded stacks, not perf script output" },
                        { "{\n  \"unit\": \"samples\"\n}\n", NULL, "JSON, not perf script output" },
                        { "xx 1 1.0: 1 cycles:\n\t1 f (/m)\n\n", "cpu-clock",
                          "no samples of event 'cpu-clock' (the input has 'cycles')" },
                        { "hello\nworld\n", NULL, "no perf script event headers" },
                };
                for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                        o = (struct perf_script_options) { .event_filter = cases[i].filter };
                        p = read_str(cases[i].in, &o, &seen, &r);
                        profile_free(p);
                        /* the reason: through on_bad_line as line 0 */
                        rs = (struct reason_buf) {};
                        o.on_bad_line = on_reason;
                        o.userdata = &rs;
                        if (profile_new(&p) < 0)
                                abort();
                        int r2 = perf_script_read_buffer(p, "t", cases[i].in, strlen(cases[i].in), &o);
                        CHECK(r == r2 && r < 0 && strncmp(rs.text, cases[i].want, strlen(cases[i].want)) == 0,
                              "no samples: %s (%d, '%s')", cases[i].want, r2, rs.text);
                        profile_free(p);
                }
                o = (struct perf_script_options) {};
                p = read_str("", &o, &seen, &r);
                CHECK(r == 0, "empty input: no samples, no error");
                profile_free(p);
                p = read_str("PERFILE2\x10", &o, &seen, &r);
                CHECK(r == -EMEDIUMTYPE, "perf.data: refused (%d)", r);
                profile_free(p);
        }

        return tap_done();
}
