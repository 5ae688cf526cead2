/* shortkids: a command forking many short-lived children one after the
 * other (a build, a test runner), each on a CPU for a few milliseconds.
 *
 * Expected frames (root first):
 *   shortkids;...;main;run_child;kid_work     nearly every sample
 * The parent only forks and waits.
 *
 * Usage: shortkids NCHILDREN WORK_US [PARALLEL]
 *   prints "shortkids: ready pid N", forks NCHILDREN children, PARALLEL
 *   (default 1) at a time, each doing WORK_US of CPU work and exiting 0;
 *   prints "shortkids: cpu S user U work W" (CPU seconds of the parent and
 *   all children, the user-mode part of them, and the children's CPU
 *   seconds inside kid_work)
 *   and exits 0 when every child did. */
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "common.h"

DEFINE_CPU_SPIN(kid_work, 3202034522624059733ull)

static atomic_ullong *work_total; /* shared: CPU time spent in kid_work */

__attribute__((noipa)) int run_child(uint64_t work_ns) {
        uint64_t t0 = thread_cpu_ns();
        uint64_t r = kid_work(work_ns);
        atomic_fetch_add(work_total, thread_cpu_ns() - t0);
        KEEP_FRAME(r);
        return 0;
}

static double seconds(const struct timeval *tv) {
        return (double) tv->tv_sec + (double) tv->tv_usec / 1e6;
}

int main(int argc, char **argv) {
        long n, parallel = 1, running = 0, failed = 0;
        uint64_t work_ns;
        struct rusage self, kids;
        int status;

        if (argc < 3 || argc > 4) {
                fprintf(stderr, "usage: shortkids NCHILDREN WORK_US [PARALLEL]\n");
                return 2;
        }
        n = atol(argv[1]);
        work_ns = (uint64_t) atol(argv[2]) * 1000u;
        if (argc == 4)
                parallel = atol(argv[3]);
        if (n < 1 || parallel < 1) {
                fprintf(stderr, "bad arguments\n");
                return 2;
        }
        work_total = mmap(NULL, sizeof(*work_total), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                          -1, 0);
        if (work_total == MAP_FAILED) {
                perror("mmap");
                return 1;
        }
        print_ready("shortkids");
        for (long i = 0; i < n; i++) {
                if (running == parallel) {
                        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                                failed++;
                        running--;
                }
                pid_t pid = fork();
                if (pid < 0) {
                        perror("fork");
                        return 1;
                }
                if (pid == 0)
                        _exit(run_child(work_ns));
                running++;
        }
        while (running-- > 0)
                if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        failed++;
        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &kids);
        double user = seconds(&self.ru_utime) + seconds(&kids.ru_utime);
        printf("shortkids: cpu %.4f user %.4f work %.4f\n",
               user + seconds(&self.ru_stime) + seconds(&kids.ru_stime), user,
               (double) atomic_load(work_total) / 1e9);
        return failed ? 1 : 0;
}
