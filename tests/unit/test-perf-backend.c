/* The perf backend. As root (events per CPU): a target that execs has its
 * later samples and mappings under exec generation 1. Without privileges
 * (events per task, one per thread and CPU), as user nobody: the soft
 * descriptor limit is raised to the hard one when a process is added; a
 * process with more threads than the hard limit allows is still followed,
 * and the threads left out are counted in sampler_stats.threads_missed
 * instead of failing the process. Run as root (to become nobody). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cprof/sample.h"
#include "tap.h"

#define NTHREADS 100

static void *sleeper(void *arg) {
        (void) arg;
        for (;;)
                pause();
        return NULL;
}

/* A process of NTHREADS + 1 threads that sleep until killed. */
static pid_t spawn_threads(void) {
        int p[2];
        char c;

        if (pipe(p) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                for (int i = 0; i < NTHREADS; i++) {
                        pthread_t t;
                        if (pthread_create(&t, NULL, sleeper, NULL) != 0)
                                _exit(1);
                }
                if (write(p[1], "x", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(p[1]);
        if (pid < 0 || read(p[0], &c, 1) != 1)
                pid = -1;
        close(p[0]);
        return pid;
}

static int open_sampler(struct sampler **ret) {
        struct sampler_options o = {
                .backend = SAMPLER_BACKEND_PERF,
                .frequency_hz = 99,
                .user_stacks = true,
                .kernel_stacks = true,
                .children = true,
        };
        return sampler_new(&o, ret, NULL);
}

static int count_fds(void) {
        int n = 0;
        for (int fd = 0; fd < 4096; fd++)
                n += fcntl(fd, F_GETFD) >= 0;
        return n;
}

static void raised_limit(void) {
        struct rlimit rl = { .rlim_cur = 64, .rlim_max = 1024 };
        struct sampler *s = NULL;
        struct sampler_stats st;

        CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "soft limit 64, hard 1024");
        pid_t target = spawn_threads();
        CHECK(target > 0, "a process of %d threads", NTHREADS + 1);
        int r = open_sampler(&s);
        CHECK(r == 0, "perf backend opens as nobody: %d", r);
        if (r < 0 || target < 0)
                return;
        int before = count_fds();
        r = sampler_add_process(s, target);
        CHECK(r == 0, "the process is added: %s", strerror(-r));
        sampler_get_stats(s, &st);
        CHECK(st.threads_missed == 0, "no thread missed (%llu)", (unsigned long long) st.threads_missed);
        CHECK(count_fds() - before >= 2 * (NTHREADS + 1) || sysconf(_SC_NPROCESSORS_ONLN) < 2,
              "one event per thread and CPU (%d descriptors)", count_fds() - before);
        getrlimit(RLIMIT_NOFILE, &rl);
        CHECK(rl.rlim_cur == 1024, "the soft limit was raised to the hard one (%llu)",
              (unsigned long long) rl.rlim_cur);
        sampler_free(s);
        kill(target, SIGKILL);
        waitpid(target, NULL, 0);
}

static void hard_limit(void) {
        struct rlimit rl = { .rlim_cur = 64, .rlim_max = 64 };
        struct sampler *s = NULL;
        struct sampler_stats st;

        CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "soft and hard limit 64");
        pid_t target = spawn_threads();
        int r = open_sampler(&s);
        if (r < 0 || target < 0) {
                CHECK(false, "sampler and target: %d, %d", r, target);
                return;
        }
        r = sampler_add_process(s, target);
        CHECK(r == 0, "the process is followed though not every thread fits: %s", strerror(-r));
        sampler_get_stats(s, &st);
        CHECK(st.threads_missed > 0 && st.threads_missed < NTHREADS + 1,
              "the threads left out are counted: %llu of %d", (unsigned long long) st.threads_missed,
              NTHREADS + 1);
        CHECK(sampler_start(s) == 0, "sampling starts");
        sampler_free(s);
        kill(target, SIGKILL);
        waitpid(target, NULL, 0);
}

struct gen_seen {
        size_t samples, gen0, gen1, other;
        bool exec_seen, mmap_gen1;
        uint32_t pid;
};

static int on_sample(void *userdata, const struct raw_sample *s) {
        struct gen_seen *g = userdata;
        if (s->tgid != g->pid)
                return 0;
        g->samples++;
        if (s->exec_gen == 0)
                g->gen0++;
        else if (s->exec_gen == 1 && g->exec_seen)
                g->gen1++;
        else
                g->other++;
        return 0;
}

static void on_event(void *userdata, const struct process_event *e) {
        struct gen_seen *g = userdata;
        if (e->pid != g->pid)
                return;
        if (e->type == PROCESS_EVENT_EXEC && e->exec_gen == 1)
                g->exec_seen = true;
        if (e->type == PROCESS_EVENT_MMAP && e->exec_gen == 1 && g->exec_seen && e->path &&
            strstr(e->path, "sh"))
                g->mmap_gen1 = true;
}

static void exec_generation(void) {
        struct gen_seen g = {};
        struct sampler_callbacks cb = { .sample = on_sample, .process_event = on_event, .userdata = &g };
        struct sampler *s = NULL;
        int p[2], st;
        char c;

        CHECK(open_sampler(&s) == 0 && pipe(p) == 0, "root: perf backend opens");
        pid_t pid = fork();
        if (pid == 0) {
                close(p[1]);
                if (read(p[0], &c, 1) != 1)
                        _exit(1);
                /* about 0.1-0.5 s of CPU in the new image */
                execl("/bin/sh", "sh", "-c", "i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done",
                      (char *) NULL);
                _exit(127);
        }
        close(p[0]);
        g.pid = (uint32_t) pid;
        CHECK(sampler_add_process(s, pid) == 0 && sampler_start(s) == 0, "root: target added, started");
        if (write(p[1], "x", 1) != 1)
                CHECK(false, "release the target");
        while (waitpid(pid, &st, WNOHANG) == 0)
                sampler_poll(s, 50, &cb);
        sampler_stop(s, &cb);
        CHECK(g.exec_seen, "root: EXEC with generation 1");
        CHECK(g.mmap_gen1, "root: the shell's mapping with generation 1");
        CHECK(g.samples > 50 && g.gen1 >= g.samples - 2 && g.other == 0,
              "root: samples after the exec have generation 1 (%zu of %zu, %zu with 0)", g.gen1,
              g.samples, g.gen0);
        sampler_free(s);
}

int main(void) {
        if (geteuid() != 0) {
                CHECK(false, "runs as root (to become nobody)");
                return tap_done();
        }
        exec_generation();
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                /* nobody, and ptrace-able by itself again (a change of
                 * credentials clears the dumpable flag) */
                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0 || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) {
                        CHECK(false, "become nobody: %s", strerror(errno));
                } else {
                        raised_limit();
                        hard_limit();
                }
                int rc = tap_done();
                fflush(stdout);
                _exit(rc);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
                return 1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
