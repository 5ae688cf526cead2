/* Folded reader: good lines, every malformed-line case, differential
 * input, kind suffixes, prefix reuse. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cprof/profile.h"
#include "tap.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

struct bad {
        unsigned line[32];
        char reason[32][64];
        int n;
};

static void on_bad(void *ud, const char *file, unsigned line, const char *reason) {
        struct bad *b = ud;
        (void) file;
        if (b->n < 32) {
                b->line[b->n] = line;
                snprintf(b->reason[b->n], 64, "%s", reason);
                b->n++;
        }
}

static struct profile *read_str(const char *s, struct bad *b, int *ret) {
        struct profile *p;
        struct folded_read_options o = { .on_bad_line = on_bad, .userdata = b };
        *b = (struct bad) {};
        if (profile_new(&p) < 0)
                abort();
        *ret = folded_read_buffer(p, "t.folded", s, strlen(s), &o);
        return p;
}

static const char *frame_name(struct profile *p, uint32_t stack, size_t i) {
        size_t depth;
        const uint32_t *f = profile_stack_frames(p, stack, &depth);
        return i < depth ? profile_string(p, profile_frame(p, f[i])->name) : NULL;
}

int main(void) {
        struct bad b;
        struct profile *p;
        int r;

        p = read_str("main;a;b 10\nmain;a;c 5\nmain;a;b 2\n", &b, &r);
        CHECK(r == 3 && b.n == 0, "three good lines (r=%d)", r);
        CHECK(profile_stack_count(p) == 2, "identical stacks merge");
        CHECK(profile_stack(p, 0)->value[0] == 12, "merged value is the sum");
        CHECK(profile_total(p, 0) == 17, "total");
        CHECK(profile_sample_count(p) == 3, "samples kept in input order");
        CHECK_STREQ(frame_name(p, 1, 2), "c", "prefix reuse keeps the right leaf");
        CHECK_STREQ(frame_name(p, 1, 0), "main", "root first");
        profile_free(p);

        p = read_str("a;b 1\n"
                     "a;b\n"             /* 2 missing count */
                     "a;b -3\n"          /* 3 negative */
                     "a;b x3\n"          /* 4 not a number */
                     " 5\n"              /* 5 empty stack */
                     ";;; 4\n"           /* 6 empty stack */
                     "a;b 3abc\n"        /* 7 not a number */
                     "\n"                /* blank: silently skipped */
                     "a;b 1.5\n"         /* fractional is fine */
                     "a;b 7.\n"          /* "7." is fine for flamegraph.pl */
                     "a;b .5\n"          /* 11 not a number */
                     "a;b \n",           /* 12 missing count */
                     &b, &r);
        CHECK(r == 3, "three good lines among bad ones (r=%d)", r);
        CHECK(b.n == 8, "eight bad lines reported (%d)", b.n);
        unsigned want[] = { 2, 3, 4, 5, 6, 7, 11, 12 };
        bool lines_ok = b.n == 8;
        for (int i = 0; i < b.n && i < 8; i++)
                lines_ok = lines_ok && b.line[i] == want[i];
        CHECK(lines_ok, "bad line numbers are right");
        CHECK_STREQ(b.reason[0], "missing count", "reason for no count");
        CHECK_STREQ(b.reason[1], "negative count", "reason for negative count");
        CHECK_STREQ(b.reason[2], "count is not a number", "reason for junk count");
        CHECK_STREQ(b.reason[3], "empty stack", "reason for empty stack");
        CHECK(profile_total(p, 0) == 1 + 1.5 + 7, "fractional counts add up");
        profile_free(p);

        p = read_str("a;b 1" "000000000000000000000000000000000000000000000000000000000000000000000000000"
                     "000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                     "000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                     "000000000000000000000000000000000000000000000000000000000000000000000000000000000\n",
                     &b, &r);
        CHECK(r == 0 && b.n == 1 && strcmp(b.reason[0], "count out of range") == 0,
              "a count beyond any double is refused, not read as infinity");
        profile_free(p);

        p = read_str("a;b;;c;; 2\n", &b, &r);
        CHECK(r == 1 && profile_stack(p, 0)->depth == 4, "trailing empty frames dropped, middle kept");
        profile_free(p);

        p = read_str("x\0y 1\n", &b, &r);
        (void) p;
        profile_free(p);
        {
                struct profile *q;
                struct folded_read_options o = { .on_bad_line = on_bad, .userdata = &b };
                profile_new(&q);
                b = (struct bad) {};
                r = folded_read_buffer(q, "bin", "x\0y 1\n", 6, &o);
                CHECK(r == -EBADMSG && b.n == 1, "binary data is refused");
                profile_free(q);
        }

        p = read_str("main;read_[k];vfs_read_[k] 4\nmain;inl_[i];jit_[j] 1\nmain;x_[z] 1\n", &b, &r);
        CHECK(r == 3, "suffixed frames read");
        {
                size_t d;
                const uint32_t *f = profile_stack_frames(p, 0, &d);
                CHECK(profile_frame(p, f[1])->kind == FRAME_KERNEL, "_[k] is a kernel frame");
                CHECK_STREQ(profile_string(p, profile_frame(p, f[1])->name), "read", "suffix removed");
                f = profile_stack_frames(p, 1, &d);
                CHECK(profile_frame(p, f[1])->kind == FRAME_INLINE, "_[i] is inline");
                CHECK(profile_frame(p, f[2])->kind == FRAME_JIT, "_[j] is jit");
                f = profile_stack_frames(p, 2, &d);
                CHECK(profile_frame(p, f[1])->kind == FRAME_USER, "unknown suffix stays in the name");
        }
        profile_free(p);

        p = read_str("a;b 3 5\na;c 0 2\na;d 4\n", &b, &r);
        CHECK(profile_value_count(p) == 2, "two counts make a differential profile");
        CHECK(r == 2 && b.n == 1, "a one-count line in a differential is bad");
        CHECK(profile_total(p, 0) == 3 && profile_total(p, 1) == 7, "before and after totals");
        profile_free(p);

        /* several files merge into one profile: same stacks add up */
        p = read_str("main;a 3\nmain;b 1\n", &b, &r);
        {
                struct folded_read_options o = { .on_bad_line = on_bad, .userdata = &b };
                const char *second = "main;b 4\nmain;c 2\n";
                int r2 = folded_read_buffer(p, "second.folded", second, strlen(second), &o);
                CHECK(r2 == 2 && profile_stack_count(p) == 3, "second file merges (3 stacks)");
                CHECK(profile_stack(p, 1)->value[0] == 5, "a stack in both files adds up");
                CHECK(profile_total(p, 0) == 10, "merged total");
                /* main;b ends the first file and opens the second: one longer sample */
                CHECK(profile_sample_count(p) == 3, "every line is a sample, in input order, repeats extend");
        }
        profile_free(p);

        /* a differential file does not merge into a single-count profile */
        p = read_str("m;x 1\n", &b, &r);
        {
                struct folded_read_options o = { .on_bad_line = on_bad, .userdata = &b };
                const char *diff = "m;x 1 2\nm;y 3\n";
                int r2 = folded_read_buffer(p, "diff.folded", diff, strlen(diff), &o);
                CHECK(r2 == 1 && b.n == 1 && b.line[0] == 1, "two-count line refused, one-count line kept");
                CHECK(profile_value_count(p) == 1 && profile_total(p, 0) == 4, "profile stays single-count");
        }
        profile_free(p);

        /* aggregate-only: one sample per stack, first-seen order */
        {
                struct profile *q;
                profile_new(&q);
                profile_set_keep_samples(q, false);
                const char *in = "m;x 1\nm;y 2\nm;x 3\n";
                int r2 = folded_read_buffer(q, "agg", in, strlen(in), NULL);
                CHECK(r2 == 3 && profile_sample_count(q) == 2, "aggregate-only keeps one sample per stack");
                CHECK(profile_sample(q, 0)->value[0] == 4 && profile_sample(q, 1)->value[0] == 2,
                      "aggregate-only samples carry the stack totals");
                profile_free(q);
        }

        p = read_str("a b;c d 9\r\n", &b, &r);
        CHECK(r == 1 && profile_total(p, 0) == 9, "spaces in names and CRLF");
        CHECK_STREQ(frame_name(p, 0, 1), "c d", "space kept in frame name");
        profile_free(p);

        /* the process frame and the thread frame `record --threads` adds */
        p = read_str("python3;python3-4242;main;f 3\npython3;worker-7;main 2\nsh;main 1\n"
                     "kworker_[k];x 1\napp;ends-in-0123;f 1\napp;a-very-long-thread-name-1;f 1\n", &b, &r);
        CHECK(r == 6, "six lines");
        CHECK(profile_frame_count(p) == 11, "each frame interned once, with its kind only (%zu)", profile_frame_count(p));
        {
                size_t d;
                const uint32_t *f = profile_stack_frames(p, 0, &d);
                CHECK(profile_frame(p, f[0])->kind == FRAME_PROCESS, "first frame: the process");
                CHECK(profile_frame(p, f[1])->kind == FRAME_THREAD, "comm-TID after it: a thread");
                CHECK(profile_frame(p, f[2])->kind == FRAME_USER, "then functions");
                f = profile_stack_frames(p, 1, &d);
                CHECK(profile_frame(p, f[1])->kind == FRAME_THREAD, "a thread named apart from its process");
                f = profile_stack_frames(p, 2, &d);
                CHECK(profile_frame(p, f[0])->kind == FRAME_PROCESS && profile_frame(p, f[1])->kind == FRAME_USER,
                      "no thread frame: the second frame is a function");
                f = profile_stack_frames(p, 3, &d);
                CHECK(profile_frame(p, f[0])->kind == FRAME_KERNEL, "a suffixed root keeps its kind");
                f = profile_stack_frames(p, 4, &d);
                CHECK(profile_frame(p, f[1])->kind == FRAME_USER, "'-0123' is no thread id");
                f = profile_stack_frames(p, 5, &d);
                CHECK(profile_frame(p, f[1])->kind == FRAME_USER, "a name longer than a comm is no thread");
        }
        profile_free(p);

        /* other formats: refused whole, one reason, no bad lines */
        {
                static const char perf_data[] = "PERFILE2\x68\0\0\0\0\0\0\0";
                struct profile *q;
                struct folded_read_options o = { .on_bad_line = on_bad, .userdata = &b };
                profile_new(&q);
                b = (struct bad) {};
                r = folded_read_buffer(q, "perf.data", perf_data, sizeof(perf_data) - 1, &o);
                CHECK(r == -EMEDIUMTYPE && b.n == 1 && b.line[0] == 0 &&
                      strstr(b.reason[0], "perf.data file: run 'perf script -i perf.data"),
                      "perf.data: refused with what to run (%d, %s)", r, b.reason[0]);
                profile_free(q);
        }
        p = read_str("{\n  \"unit\": \"samples\",\n  \"percent\": 100\n}\n", &b, &r);
        CHECK(r == -EMEDIUMTYPE && b.n == 1 && b.line[0] == 0 && strncmp(b.reason[0], "JSON", 4) == 0 &&
              profile_stack_count(p) == 0, "JSON: refused, not a one-line profile (%d)", r);
        profile_free(p);
        p = read_str("[unknown];f 2\n", &b, &r);
        CHECK(r == 1 && b.n == 0, "a root frame in brackets is no JSON");
        profile_free(p);
        p = read_str("[unknown];f\n[unknown];f 2\n", &b, &r);
        CHECK(r == 1 && b.n == 1, "nor is a bad first line that starts with one");
        profile_free(p);
        p = read_str("[\n  {\"name\": \"f\", \"value\": 1}\n]\n", &b, &r);
        CHECK(r == -EMEDIUMTYPE && strncmp(b.reason[0], "JSON", 4) == 0, "a JSON array is refused");
        profile_free(p);
        p = read_str("# ========\n# captured on: x\nprog 42 1.0: 1 cpu-clock:\n\t1 f+0x1 (/bin/prog)\n\n", &b, &r);
        CHECK(r == -EMEDIUMTYPE && b.n == 1 && strstr(b.reason[0], "perf script output, not folded stacks"),
              "perf script text: one refusal, the comment lines before it not reported (%d, n=%d)", r, b.n);
        profile_free(p);
        p = read_str("x\ny\na;b 1\nprog 42 1.0: 1 cpu-clock:\n", &b, &r);
        CHECK(r == 1 && b.n == 3 && b.line[0] == 1 && b.line[1] == 2 && b.line[2] == 4,
              "held-back bad lines are reported once a good line comes, in order");
        profile_free(p);

        /* binary: a NUL in the first 64 KiB refuses the input before any
         * line; one later is still refused, with its reason */
        {
                size_t len = 100000;
                char *buf = malloc(len);
                for (size_t i = 0; i < len; i += 6)
                        memcpy(buf + i, "a;b 1\n", MIN(6, len - i));
                buf[60000] = '\0';
                struct profile *q;
                struct folded_read_options o = { .on_bad_line = on_bad, .userdata = &b };
                profile_new(&q);
                b = (struct bad) {};
                r = folded_read_buffer(q, "bin", buf, len, &o);
                CHECK(r == -EBADMSG && b.n == 1 && strcmp(b.reason[0], "binary data, not folded stacks") == 0 &&
                      profile_stack_count(q) == 0, "NUL in the first 64 KiB: nothing read (%d %s)", r, b.reason[0]);
                profile_free(q);
                buf[60000] = 'x';
                buf[90000] = '\0';
                profile_new(&q);
                b = (struct bad) {};
                r = folded_read_buffer(q, "bin", buf, len, &o);
                CHECK(r == -EBADMSG && b.n == 1 && strstr(b.reason[0], "NUL"), "a later NUL byte: refused");
                profile_free(q);
                free(buf);
        }
        p = read_str("app;f\xff\xfe 2\n", &b, &r);
        CHECK(r == 1 && b.n == 0, "invalid UTF-8 in a symbol is not binary");
        profile_free(p);

        /* huge counts: exact, and a total that would overflow is refused */
        p = read_str("a;b 10000000000000000000000000000000000000000000000000000000000000000000000000000"
                     "000000000000000000000000\n", &b, &r);
        CHECK(r == 1 && profile_total(p, 0) == 1e100, "1 and 100 zeros is 1e100 exactly (%.17g)", profile_total(p, 0));
        profile_free(p);
        {
                /* 1e300 is the largest count a line may have: it takes 1e8
                 * lines to overflow, so try the model directly */
                struct profile *q;
                uint32_t id;
                double v[2] = { 1e308, 0 };
                profile_new(&q);
                profile_intern_named_frame(q, "a", 1, FRAME_USER, &id);
                int r1 = profile_add_sample(q, &id, 1, v, 0, 0);
                int r2 = profile_add_sample(q, &id, 1, v, 0, 0);
                CHECK(r1 == 0 && r2 == -ERANGE && profile_total(q, 0) == 1e308 && profile_sample_count(q) == 1,
                      "a total that would overflow: -ERANGE, nothing changed");
                profile_free(q);
        }

        /* a stream: a pipe, read as it comes */
        {
                int fds[2];
                if (pipe(fds) < 0)
                        abort();
                pid_t pid = fork();
                if (pid == 0) {
                        close(fds[0]);
                        for (int i = 0; i < 200000; i++)
                                if (write(fds[1], i % 2 ? "app;main;a 1\n" : "app;main;b 2\n", 13) != 13)
                                        _exit(1);
                        _exit(0);
                }
                close(fds[1]);
                struct profile *q;
                profile_new(&q);
                profile_set_keep_samples(q, false);
                r = folded_read_fd(q, "pipe", fds[0], NULL);
                CHECK(r == 200000 && profile_stack_count(q) == 2 && profile_sample_count(q) == 2 &&
                      profile_total(q, 0) == 300000, "a pipe of 200000 lines: 2 stacks, 2 samples (%d)", r);
                profile_free(q);
                close(fds[0]);
                waitpid(pid, NULL, 0);
        }
        /* the same stack again and again is one sample even in input order */
        {
                struct profile *q;
                profile_new(&q);
                const char *in = "a;b 1\na;b 1\na;b 1\na;c 1\na;b 1\n";
                r = folded_read_buffer(q, "rep", in, strlen(in), NULL);
                CHECK(r == 5 && profile_sample_count(q) == 3 && profile_sample(q, 0)->value[0] == 3,
                      "repeats extend the last sample, order kept");
                profile_free(q);
        }

        return tap_done();
}
