/* The recorder's windows (include/cprof/record.h), on real processes: each
 * group's samples land in its own profile, windows follow one another
 * without stopping the sampler, and under process churn what the recorder
 * holds stays flat from window to window (processes forgotten, modules
 * released, addresses dropped with their window). Run as root (BPF). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cprof/output.h"
#include "cprof/profile.h"
#include "cprof/record.h"
#include "tap.h"
#include "util/time-util.h"

static volatile uint64_t sink;

__attribute__((noinline)) static void hot_alpha(void) {
        for (uint64_t i = 0; i < 1000000; i++)
                sink += i * 3;
}

__attribute__((noinline)) static void hot_beta(void) {
        for (uint64_t i = 0; i < 1000000; i++)
                sink += i * 5;
}

static pid_t spawn(void (*fn)(void)) {
        pid_t pid = fork();
        if (pid == 0) {
                for (;;)
                        fn();
        }
        return pid;
}

/* A process that starts about rate short-lived children a second, each
 * busy for a millisecond, as a service forking workers does. */
static pid_t spawn_churn(unsigned rate) {
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        for (;;) {
                pid_t c = fork();
                if (c == 0) {
                        uint64_t end = now_ns() + 1000000;
                        while (now_ns() < end)
                                hot_beta();
                        _exit(0);
                }
                if (c > 0)
                        waitpid(c, NULL, 0);
                struct timespec ts = { 0, 1000000000L / rate };
                nanosleep(&ts, NULL);
        }
}

static void stop(pid_t pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

/* Whether a frame of p is named name, and the samples of stacks with it. */
static double samples_in(const struct profile *p, const char *name) {
        double total = 0;
        for (size_t i = 0; i < profile_stack_count(p); i++) {
                size_t depth;
                const uint32_t *f = profile_stack_frames(p, (uint32_t) i, &depth);
                for (size_t j = 0; j < depth; j++)
                        if (strcmp(profile_string(p, profile_frame(p, f[j])->name), name) == 0) {
                                total += profile_stack(p, (uint32_t) i)->value[0];
                                break;
                        }
        }
        return total;
}

static int new_recorder(struct recorder **ret) {
        struct record_options o = {
                .sampler = {
                        .backend = SAMPLER_BACKEND_BPF,
                        .frequency_hz = 499,
                        .user_stacks = true,
                        .kernel_stacks = true,
                        .children = true,
                        .stack_copy = SAMPLE_COPY_DEFAULT,
                        .kernel_unwind = true,
                },
                .unwind = { .mode = UNWIND_AUTO },
        };
        return recorder_new(&o, ret, NULL);
}

static void poll_for(struct recorder *r, uint64_t ns) {
        uint64_t end = now_ns() + ns;
        while (now_ns() < end)
                (void) recorder_poll(r, 50);
}

static long rss_kib(void) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        long kib = -1;
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "RssAnon: %ld", &kib) == 1)
                        break;
        if (f)
                fclose(f);
        return kib;
}

static void test_groups(void) {
        struct recorder *r;
        struct profile *w1[3], *w2[3];
        int k = new_recorder(&r);
        CHECK(k >= 0, "recorder_new: %s", strerror(-k));
        if (k < 0)
                return;
        pid_t a = spawn(hot_alpha), b = spawn(hot_beta);
        CHECK(recorder_add_process(r, a, false, 1) >= 0, "add alpha to group 1");
        CHECK(recorder_add_process(r, b, false, 2) >= 0, "add beta to group 2");
        poll_for(r, 1200 * 1000000ULL);
        k = recorder_take_window(r, w1, 3);
        CHECK(k >= 0, "first window: %s", strerror(-k));
        poll_for(r, 1200 * 1000000ULL);
        k = recorder_take_window(r, w2, 3);
        CHECK(k >= 0, "second window: %s", strerror(-k));
        stop(a);
        stop(b);
        if (k < 0)
                return;
        for (int i = 0; i < 2; i++) {
                struct profile **w = i ? w2 : w1;
                double t1 = profile_total(w[1], 0), t2 = profile_total(w[2], 0);
                /* two CPUs, two busy processes, 499 Hz, 1.2 s: ~600 each on an
                 * idle machine, a third of that on a loaded one */
                CHECK(t1 > 100 && t2 > 100, "window %d: group 1 has %.0f samples, group 2 %.0f", i + 1, t1, t2);
                CHECK(profile_total(w[0], 0) == 0, "window %d: group 0 is empty (%.0f)", i + 1,
                      profile_total(w[0], 0));
                double a1 = samples_in(w[1], "hot_alpha"), b1 = samples_in(w[1], "hot_beta");
                double a2 = samples_in(w[2], "hot_alpha"), b2 = samples_in(w[2], "hot_beta");
                CHECK(a1 > 0.9 * t1 && b1 == 0, "window %d: group 1 is alpha's (%.0f of %.0f, beta %.0f)",
                      i + 1, a1, t1, b1);
                CHECK(b2 > 0.9 * t2 && a2 == 0, "window %d: group 2 is beta's (%.0f of %.0f, alpha %.0f)",
                      i + 1, b2, t2, a2);
                uint64_t d = profile_duration_ns(w[1]);
                CHECK(d > 1100 * 1000000ULL && d < 1800 * 1000000ULL, "window %d lasted %.2f s", i + 1, d / 1e9);
        }
        CHECK(recorder_group_samples(r, 1) >= profile_total(w1[1], 0) + profile_total(w2[1], 0),
              "group 1 counted %" PRIu64 " samples", recorder_group_samples(r, 1));
        /* the windows live on without the recorder */
        recorder_free(r);
        FILE *f = fopen("/dev/null", "we");
        CHECK(f && folded_write(w1[1], f) >= 0 && folded_write(w2[2], f) >= 0, "windows outlive the recorder");
        if (f)
                fclose(f);
        for (int g = 0; g < 3; g++) {
                profile_free(w1[g]);
                profile_free(w2[g]);
        }
}

static void test_churn(void) {
        struct recorder *r;
        struct record_progress p;
        int k = new_recorder(&r);
        CHECK(k >= 0, "recorder_new: %s", strerror(-k));
        if (k < 0)
                return;
        pid_t c = spawn_churn(400);
        CHECK(recorder_add_process(r, c, false, 1) >= 0, "add the forking process to group 1");
        long rss[12] = { 0 };
        size_t images[12] = { 0 }, known[12] = { 0 };
        double samples = 0;
        for (int w = 0; w < 12; w++) {
                struct profile *win[2];
                poll_for(r, 500 * 1000000ULL);
                k = recorder_take_window(r, win, 2);
                if (k < 0)
                        break;
                samples += profile_total(win[1], 0);
                profile_free(win[0]);
                profile_free(win[1]);
                recorder_get_progress(r, &p);
                rss[w] = rss_kib();
                images[w] = p.images;
                known[w] = p.processes_now;
        }
        stop(c);
        CHECK(k >= 0, "12 windows taken");
        recorder_get_progress(r, &p);
        printf("# %zu processes seen; per window: images %zu..%zu, processes %zu..%zu, RssAnon %ld..%ld KiB\n",
               p.processes, images[3], images[11], known[3], known[11], rss[3], rss[11]);
        CHECK(p.processes > 100, "%zu short-lived processes seen", p.processes);
        CHECK(samples > 100, "%.0f samples of them", samples);
        /* at 400 a second with a 2 s grace, about 800 are remembered */
        CHECK(images[11] < 2000 && known[11] < 2000, "images (%zu) and processes (%zu) known stay bounded",
              images[11], known[11]);
#if defined(__SANITIZE_ADDRESS__)
        /* ASan keeps freed memory in quarantine (256 MiB): RSS says
         * nothing there, the counts above do */
        printf("# RssAnon grew %ld KiB from window 4 to window 12 (ASan: not judged)\n", rss[11] - rss[3]);
#else
        CHECK(rss[11] - rss[3] < 512, "RssAnon grew %ld KiB from window 4 to window 12", rss[11] - rss[3]);
#endif
        recorder_free(r);
}

int main(void) {
        if (geteuid() != 0) {
                CHECK(false, "the recorder's window test needs root (BPF)");
                return tap_done();
        }
        test_groups();
        test_churn();
        return tap_done();
}
