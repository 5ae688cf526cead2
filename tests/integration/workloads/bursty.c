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
 *   end prints "bursty: cpu S user U work W" (the process's CPU seconds,
 *   the user-mode part of them, and the threads' CPU seconds inside
 *   burst_work) and exits 0. SIGUSR1 prints that line at once, for a
 *   profiler attached by PID to compare with what it got. */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "common.h"

static uint64_t burst_ns, period_ns, duration_ns;
static atomic_ullong work_ns; /* thread CPU time spent in burst_work */

/* Spins ns of wall time on the vDSO clock, all of it in user mode: a
 * thread CPU clock read is a system call, which would put a fair part of
 * a 20 us burst in the kernel. The clock is read every ~1 us only: a
 * sample inside the vDSO (no frame pointer) would skip this frame. The
 * caller measures the CPU time. */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
__attribute__((noipa)) uint64_t burst_work(uint64_t ns) {
        uint64_t x = 1, t0 = wall_ns();

        do {
                for (unsigned i = 0; i < 2000; i++) {
                        x = x * 6364136223846793005ull + 1442695040888963407ull;
                        asm volatile("" : "+r"(x));
                }
        } while (wall_ns() - t0 < ns);
        KEEP_FRAME(x);
        return x;
}

__attribute__((noipa)) void *burst_thread(void *arg) {
        uint64_t end = wall_ns() + duration_ns, seed = (uint64_t) (uintptr_t) arg, r = 0;

        while (wall_ns() < end) {
                struct timespec ts;
                /* +-20% jitter, so threads never march in step with the
                 * sampling period */
                uint64_t sleep_ns = period_ns * (80 + next_rand(&seed) % 41) / 100;

                /* The CPU time of a burst: the thread CPU clock is right
                 * when the thread was preempted, but its reads are system
                 * calls, a few us of kernel time each in a VM; the vDSO
                 * wall clock right around the call is exact otherwise. */
                uint64_t c0 = thread_cpu_ns(), w0 = wall_ns();
                r += burst_work(burst_ns);
                uint64_t w1 = wall_ns(), c1 = thread_cpu_ns();
                atomic_fetch_add_explicit(&work_ns, MIN(w1 - w0, c1 - c0), memory_order_relaxed);
                ts.tv_sec = (time_t) (sleep_ns / 1000000000u);
                ts.tv_nsec = (long) (sleep_ns % 1000000000u);
                nanosleep(&ts, NULL);
        }
        KEEP_FRAME(r);
        return NULL;
}

static void print_cpu(void) {
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        double user = (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6;
        double sys = (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
        printf("bursty: cpu %.4f user %.4f work %.4f\n", user + sys, user,
               (double) atomic_load(&work_ns) / 1e9);
        fflush(stdout);
}

int main(int argc, char **argv) {
        pthread_attr_t attr;
        pthread_t *tids;
        sigset_t usr1;
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
        /* No timer slack (threads inherit it): with the default 50 us the
         * kernel delays each wakeup to the next timer due, often the
         * sampling timer, and the bursts then start just after a sample
         * point and are sampled less than their CPU time says. */
        prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
        /* only the main thread takes SIGUSR1, in sigtimedwait */
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &usr1, NULL);
        print_ready("bursty");
        /* small stacks: thousands of threads */
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 128 * 1024);
        for (long i = 0; i < n; i++)
                if (pthread_create(&tids[i], &attr, burst_thread, (void *) (i + 1)) != 0) {
                        fprintf(stderr, "pthread_create failed\n");
                        return 1;
                }
        /* the threads are gone shortly after the end: answer SIGUSR1
         * until then */
        uint64_t end = wall_ns() + duration_ns;
        for (uint64_t now = wall_ns(); now < end; now = wall_ns()) {
                struct timespec ts = { .tv_sec = (time_t) ((end - now) / 1000000000u),
                                       .tv_nsec = (long) ((end - now) % 1000000000u) };
                if (sigtimedwait(&usr1, NULL, &ts) == SIGUSR1)
                        print_cpu();
        }
        for (long i = 0; i < n; i++)
                pthread_join(tids[i], NULL);
        print_cpu();
        return 0;
}
