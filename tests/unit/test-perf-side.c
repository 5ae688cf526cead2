/* The perf side-event stream (src/sample/perf-side.c) on real processes:
 * a target that forks a child and execs, all within ~20 ms and over before
 * the first drain, is reported with NEW/EXEC/MMAP/EXIT events carrying the
 * right exec generations and paths; a process outside the target set is
 * not reported; a process that execs into a watched name is. Needs root or CAP_PERFMON (system-wide events). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sample/sampler-internal.h"
#include "tap.h"

struct ev {
        enum process_event_type type;
        uint32_t pid, ppid, exec_gen, match;
        uint64_t start, len, pgoff;
        char comm[16];
        char path[PATH_MAX];
};

static struct ev evs[4096];
static size_t nevs;

static void on_event(void *userdata, const struct process_event *e) {
        (void) userdata;
        if (nevs == sizeof(evs) / sizeof(evs[0]))
                return;
        struct ev *v = &evs[nevs++];
        *v = (struct ev) { .type = e->type, .pid = e->pid, .ppid = e->ppid, .exec_gen = e->exec_gen,
                               .match = e->match, .start = e->start, .len = e->len, .pgoff = e->pgoff };
        if (e->comm)
                snprintf(v->comm, sizeof(v->comm), "%s", e->comm);
        if (e->path)
                snprintf(v->path, sizeof(v->path), "%s", e->path);
}

/* The first event of pid of that type (and path, for MMAP) at or after
 * index *from, or -1. */
static int find(uint32_t pid, enum process_event_type type, const char *path, int from) {
        for (size_t i = (size_t) from; i < nevs; i++)
                if (evs[i].pid == pid && evs[i].type == type && (!path || strcmp(evs[i].path, path) == 0))
                        return (int) i;
        return -1;
}

static size_t count(uint32_t pid) {
        size_t n = 0;
        for (size_t i = 0; i < nevs; i++)
                n += evs[i].pid == pid;
        return n;
}

/* A child stopped on a pipe until go() so it can be added first: it then
 * forks a grandchild running `env true` (two execs) and execs `sleep 0.02`. */
static pid_t spawn_target(int *ret_go) {
        int p[2];
        if (pipe(p) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                char c;
                close(p[1]);
                if (read(p[0], &c, 1) != 1)
                        _exit(1);
                pid_t g = fork();
                if (g == 0) {
                        execl("/usr/bin/env", "env", "/bin/true", (char *) NULL);
                        _exit(127);
                }
                int st;
                waitpid(g, &st, 0);
                execl("/bin/sleep", "sleep", "0.02", (char *) NULL);
                _exit(127);
        }
        close(p[0]);
        *ret_go = p[1];
        return pid;
}

/* A child (never added) that execs argv, waited for. */
static pid_t run_exec(char *const argv[]) {
        pid_t pid = fork();
        if (pid == 0) {
                execv(argv[0], argv);
                _exit(127);
        }
        int st;
        waitpid(pid, &st, 0);
        return pid;
}

/* Names watched at exec: a process that execs into one is a target from
 * that exec on, generation 0; others, and all once the set is empty, are
 * not reported. */
static void test_watch_execs(struct perf_side *ps, const struct sampler_callbacks *cb, const char *sleep_path) {
        int pipefd[2];
        if (pipe(pipefd) < 0) {
                CHECK(false, "pipe");
                return;
        }
        int go_read = pipefd[0], go_write = pipefd[1];
        const struct sampler_exec_watch w[] = {
                { "sleep", 7 }, { "sleep", 8 }, { "a-name-of-16-chars", 9 },
        };
        CHECK(perf_side_watch_execs(ps, w, 3) == 0, "watch sleep");
        size_t from = nevs;
        pid_t s = run_exec((char *[]) { "/bin/sleep", "0.01", NULL });
        pid_t t = run_exec((char *[]) { "/bin/true", NULL });
        CHECK(perf_side_drain(ps, cb) == 0, "drain after the execs");
        int m = find((uint32_t) s, PROCESS_EVENT_MATCHED, NULL, (int) from);
        CHECK(m >= 0 && evs[m].match == 7 && evs[m].exec_gen == 0, "MATCHED for the exec of sleep, "
              "tagged by the first of equal names, generation 0");
        if (m >= 0)
                CHECK_STREQ(evs[m].comm, "sleep", "MATCHED carries the new name");
        int mm = find((uint32_t) s, PROCESS_EVENT_MMAP, sleep_path, (int) from);
        CHECK(mm > m && m >= 0 && evs[mm].exec_gen == 0, "its MMAP of %s after, generation 0", sleep_path);
        int x = find((uint32_t) s, PROCESS_EVENT_EXIT, NULL, (int) from);
        CHECK(x > mm && mm >= 0, "and its EXIT");
        CHECK(count((uint32_t) t) == 0, "nothing of an exec into a name not watched");

        /* a target that execs into a watched name: an EXEC with its tag */
        int go;
        pid_t c = fork();
        if (c == 0) {
                char ch;
                if (read(go_read, &ch, 1) != 1)
                        _exit(1);
                execl("/bin/sleep", "sleep", "0.01", (char *) NULL);
                _exit(127);
        }
        go = go_write;
        CHECK(c > 0 && perf_side_add_process(ps, c) == 0, "add a target that will exec sleep");
        from = nevs;
        if (write(go, "x", 1) != 1)
                CHECK(false, "release it");
        waitpid(c, NULL, 0);
        CHECK(perf_side_drain(ps, cb) == 0, "drain after its exec");
        int e = find((uint32_t) c, PROCESS_EVENT_EXEC, NULL, (int) from);
        CHECK(e >= 0 && evs[e].match == 7 && evs[e].exec_gen == 1, "EXEC of a target into a watched name "
              "carries its tag (match %u, generation %u)", e >= 0 ? evs[e].match : 0, e >= 0 ? evs[e].exec_gen : 0);
        CHECK(find((uint32_t) c, PROCESS_EVENT_MATCHED, NULL, (int) from) < 0, "and is no MATCHED");

        CHECK(perf_side_watch_execs(ps, NULL, 0) == 0, "watch nothing");
        s = run_exec((char *[]) { "/bin/sleep", "0.01", NULL });
        CHECK(perf_side_drain(ps, cb) == 0 && count((uint32_t) s) == 0, "then sleep is not reported");
        close(go_read);
        close(go_write);
}

static double cpu_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main(void) {
        struct sampler_options o = { .frequency_hz = 99, .children = true };
        struct sampler_callbacks cb = { .process_event = on_event };
        struct perf_side *ps = NULL;
        char env_path[PATH_MAX], true_path[PATH_MAX], sleep_path[PATH_MAX];
        int go, go_other, r, st;

        if (!realpath("/usr/bin/env", env_path) || !realpath("/bin/true", true_path) ||
            !realpath("/bin/sleep", sleep_path)) {
                CHECK(false, "env, true and sleep exist");
                return tap_done();
        }
        r = perf_side_open(&o, &ps);
        CHECK(r == 0, "perf_side_open: %d (needs root or CAP_PERFMON)", r);
        if (r < 0)
                return tap_done();

        pid_t target = spawn_target(&go);
        pid_t other = spawn_target(&go_other); /* same life, never added */
        CHECK(target > 0 && other > 0, "children forked");
        CHECK(perf_side_add_process(ps, target) == 0, "add the target");
        CHECK(perf_side_add_process(ps, 999999999) == -ESRCH, "a missing pid is -ESRCH");
        CHECK(perf_side_start(ps) == 0, "start");
        r = perf_side_drain(ps, &cb);
        CHECK(r == 0 && count((uint32_t) target) == 0,
              "nothing of the target before it runs (drain %d, %zu events)", r, count((uint32_t) target));

        /* everything happens, and is over, before the next drain */
        if (write(go, "x", 1) != 1 || write(go_other, "x", 1) != 1)
                CHECK(false, "release the children");
        CHECK(waitpid(target, &st, 0) == target && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the target exited 0");
        CHECK(waitpid(other, &st, 0) == other, "the other child exited");
        r = perf_side_drain(ps, &cb);
        CHECK(r == 0, "drain: %d records lost", r);

        /* the grandchild: NEW, then env (gen 1), then true (gen 2) */
        int i_new = -1;
        for (size_t i = 0; i < nevs; i++)
                if (evs[i].type == PROCESS_EVENT_NEW && evs[i].ppid == (uint32_t) target)
                        i_new = (int) i;
        CHECK(i_new >= 0, "NEW for the target's child");
        if (i_new >= 0) {
                uint32_t g = evs[i_new].pid;
                CHECK(evs[i_new].exec_gen == 0, "NEW has generation 0");
                CHECK_STREQ(evs[i_new].comm, "test-perf-side", "NEW carries the parent's name");
                int e1 = find(g, PROCESS_EVENT_EXEC, NULL, i_new);
                int e2 = e1 >= 0 ? find(g, PROCESS_EVENT_EXEC, NULL, e1 + 1) : -1;
                CHECK(e1 > i_new && evs[e1].exec_gen == 1, "child: EXEC generation 1 after NEW");
                CHECK(e2 > e1 && evs[e2].exec_gen == 2, "child: EXEC generation 2");
                if (e1 >= 0)
                        CHECK_STREQ(evs[e1].comm, "env", "child: first exec is env");
                if (e2 >= 0)
                        CHECK_STREQ(evs[e2].comm, "true", "child: second exec is true");
                int m1 = find(g, PROCESS_EVENT_MMAP, env_path, i_new);
                int m2 = find(g, PROCESS_EVENT_MMAP, true_path, i_new);
                CHECK(m1 > e1 && e1 >= 0 && evs[m1].exec_gen == 1 && m1 < e2,
                      "child: MMAP of %s with generation 1, between the execs", env_path);
                CHECK(m2 > e2 && e2 >= 0 && evs[m2].exec_gen == 2,
                      "child: MMAP of %s with generation 2", true_path);
                if (m2 >= 0)
                        CHECK(evs[m2].pgoff % 4096 == 0 && evs[m2].len > 0 && evs[m2].start > 0,
                              "child: mapping has start, length and page offset");
                int x = find(g, PROCESS_EVENT_EXIT, NULL, i_new);
                CHECK(x > m2 && m2 >= 0, "child: EXIT after its mappings");
        }

        /* the target itself: exec of sleep (gen 1) with its mapping, exit */
        int e = find((uint32_t) target, PROCESS_EVENT_EXEC, NULL, 0);
        CHECK(e >= 0 && evs[e].exec_gen == 1, "target: EXEC generation 1");
        if (e >= 0)
                CHECK_STREQ(evs[e].comm, "sleep", "target: exec'd sleep");
        int m = find((uint32_t) target, PROCESS_EVENT_MMAP, sleep_path, 0);
        CHECK(m > e && e >= 0 && evs[m].exec_gen == 1, "target: MMAP of %s, generation 1", sleep_path);
        CHECK(find((uint32_t) target, PROCESS_EVENT_NEW, NULL, 0) < 0, "target: no NEW for an added pid");
        int x = find((uint32_t) target, PROCESS_EVENT_EXIT, NULL, 0);
        CHECK(x > m && m >= 0, "target: EXIT after its mappings");

        CHECK(count((uint32_t) other) == 0, "nothing of a process outside the set (%zu events)",
              count((uint32_t) other));
        for (size_t i = 0; i < nevs; i++)
                if (evs[i].type == PROCESS_EVENT_NEW && evs[i].ppid == (uint32_t) other)
                        CHECK(false, "no NEW for the other process's child");

        test_watch_execs(ps, &cb, sleep_path);

        /* an idle drain is cheap: 1,000 of them take well under 50 ms */
        size_t before = nevs;
        double t0 = cpu_seconds();
        for (int i = 0; i < 1000; i++)
                perf_side_drain(ps, &cb);
        double dt = cpu_seconds() - t0;
        CHECK(dt < 0.05, "1000 drains with nothing to report: %.1f ms of CPU", dt * 1e3);
        CHECK(nevs == before, "no events from the idle drains");

        perf_side_free(ps);
        return tap_done();
}
