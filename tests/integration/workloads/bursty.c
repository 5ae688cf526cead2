/* bursty: many threads that each run briefly and sleep, as in a pool of
 * workers waiting on requests: a thread is on a CPU for a few tens of
 * microseconds at a time, far less than one sampling period.
 *
 * Expected frames (root first), for every thread:
 *   bursty;...;burst_thread;burst_work
 * The main thread only waits (no samples).
 *
 * Usage: bursty NTHREADS BURST_US PERIOD_MS SECONDS
 *   prints "bursty: ready pid N", starts NTHREADS threads, each doing
 *   BURST_US of CPU work every PERIOD_MS for SECONDS of wall time; at the
 *   end prints "bursty: cpu S user U" (the process's CPU seconds, and the
 *   user-mode part of them) and exits 0. */
#include <pthread.h>
#include <sys/resource.h>

#include "common.h"

static uint64_t burst_ns, period_ns, duration_ns;

DEFINE_CPU_SPIN(burst_work, 6364136223846793005ull)

__attribute__((noipa)) void *burst_thread(void *arg) {
        uint64_t end = wall_ns() + duration_ns, seed = (uint64_t) (uintptr_t) arg, r = 0;

        while (wall_ns() < end) {
                struct timespec ts;
                /* +-20% jitter, so threads never march in step with the
                 * sampling period */
                uint64_t sleep_ns = period_ns * (80 + next_rand(&seed) % 41) / 100;

                r += burst_work(burst_ns);
                ts.tv_sec = (time_t) (sleep_ns / 1000000000u);
                ts.tv_nsec = (long) (sleep_ns % 1000000000u);
                nanosleep(&ts, NULL);
        }
        KEEP_FRAME(r);
        return NULL;
}

int main(int argc, char **argv) {
        pthread_attr_t attr;
        pthread_t *tids;
        struct rusage ru;
        long n;

        if (argc != 5) {
                fprintf(stderr, "usage: bursty NTHREADS BURST_US PERIOD_MS SECONDS\n");
                return 2;
        }
        n = atol(argv[1]);
        burst_ns = (uint64_t) atol(argv[2]) * 1000u;
        period_ns = (uint64_t) atol(argv[3]) * 1000000u;
        duration_ns = parse_seconds_ns(argv[4]);
        if (n < 1 || n > 10000 || burst_ns == 0 || period_ns == 0) {
                fprintf(stderr, "bad arguments\n");
                return 2;
        }
        tids = calloc((size_t) n, sizeof(*tids));
        if (!tids)
                return 1;
        print_ready("bursty");
        /* small stacks: thousands of threads */
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 128 * 1024);
        for (long i = 0; i < n; i++)
                if (pthread_create(&tids[i], &attr, burst_thread, (void *) (i + 1)) != 0) {
                        fprintf(stderr, "pthread_create failed\n");
                        return 1;
                }
        for (long i = 0; i < n; i++)
                pthread_join(tids[i], NULL);
        getrusage(RUSAGE_SELF, &ru);
        double user = (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6;
        double sys = (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
        printf("bursty: cpu %.4f user %.4f\n", user + sys, user);
        return 0;
}
