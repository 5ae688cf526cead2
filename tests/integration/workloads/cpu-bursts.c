/* cpu-bursts: CPU time in pieces too small for a per-thread sample clock.
 *
 * Expected frames (root first):
 *   cpu-bursts;...;thread_main;burst_spin       cpu-bursts threads NTHREADS SECONDS
 *   cpu-bursts;...;main;child_main;burst_spin   cpu-bursts forks NCHILDREN CHILD_MS
 * A profiler should get about (CPU time x frequency) samples; the total CPU
 * time is printed at the end, so a test can compare.
 *
 * Usage:
 *   cpu-bursts threads NTHREADS SECONDS  NTHREADS threads, each spinning 20 us
 *                                    of its CPU time every 5 ms, for
 *                                    SECONDS of wall time
 *   cpu-bursts forks NCHILDREN CHILD_MS  NCHILDREN children one after the
 *                                    other, each spinning CHILD_MS of CPU
 *                                    time, then exiting
 * Prints "cpu-bursts: ready pid N" first and "cpu SECONDS" (its own and its
 * children's user + system time) last. */
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "common.h"

DEFINE_CPU_SPIN(burst_spin, 2862933555777941757ull)

static uint64_t run_ns;

__attribute__((noipa)) static void *thread_main(void *arg) {
        uint64_t start = wall_ns();
        (void) arg;
        while (wall_ns() - start < run_ns) {
                struct timespec ts = { 0, 5 * 1000 * 1000 };
                burst_spin(20 * 1000);
                nanosleep(&ts, NULL);
        }
        return NULL;
}

__attribute__((noipa)) static int child_main(uint64_t cpu_ns) {
        burst_spin(cpu_ns);
        return 0;
}

static double cpu_seconds(int who) {
        struct rusage ru;
        getrusage(who, &ru);
        return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
        if (argc != 4 || (strcmp(argv[1], "threads") != 0 && strcmp(argv[1], "forks") != 0)) {
                fprintf(stderr, "usage: cpu-bursts threads NTHREADS SECONDS | forks NCHILDREN CHILD_MS\n");
                return 2;
        }
        int n = atoi(argv[2]);
        print_ready("cpu-bursts");
        if (strcmp(argv[1], "threads") == 0) {
                pthread_t *t = calloc((size_t) n, sizeof(*t));
                run_ns = parse_seconds_ns(argv[3]);
                for (int i = 0; i < n; i++)
                        if (pthread_create(&t[i], NULL, thread_main, NULL) != 0) {
                                fprintf(stderr, "cpu-bursts: pthread_create failed\n");
                                return 1;
                        }
                for (int i = 0; i < n; i++)
                        pthread_join(t[i], NULL);
                free(t);
        } else {
                uint64_t child_ns = (uint64_t) atoi(argv[3]) * 1000000u;
                for (int i = 0; i < n; i++) {
                        pid_t pid = fork();
                        if (pid < 0) {
                                perror("fork");
                                return 1;
                        }
                        if (pid == 0)
                                _exit(child_main(child_ns));
                        waitpid(pid, NULL, 0);
                }
        }
        printf("cpu %.6f\n", cpu_seconds(RUSAGE_SELF) + cpu_seconds(RUSAGE_CHILDREN));
        return 0;
}
