/* threads: worker threads created late, after a profiler has attached.
 *
 * Expected frames (root first), for each worker i:
 *   threads;[spin-i-TID;]...;worker_main;worker_spin
 * The main thread sleeps (no samples); each worker names itself "spin-i"
 * (its comm), so the process frame must stay "threads" while a --threads
 * frame carries the worker's own name and tid.
 *
 * Usage: threads NWORKERS DELAY SECONDS
 *   prints "threads: ready pid N", sleeps DELAY seconds, starts NWORKERS
 *   threads, each printing "worker I tid T" and spinning SECONDS of wall
 *   time (0: until killed). */
#include <pthread.h>
#include <sys/syscall.h>

#include "common.h"

static uint64_t spin_ns;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noipa)) uint64_t worker_spin(uint64_t duration_ns) {
        uint64_t x = 1, start = wall_ns();

        do {
                for (unsigned i = 0; i < 20000; i++) {
                        x = x * 2862933555777941757ull + 3037000493ull;
                        asm volatile("" : "+r"(x));
                }
        } while (duration_ns == 0 || wall_ns() - start < duration_ns);
        KEEP_FRAME(x);
        return x;
}

__attribute__((noipa)) void *worker_main(void *arg) {
        long i = (long) arg;
        char name[16];
        uint64_t r;

        snprintf(name, sizeof(name), "spin-%ld", i);
        pthread_setname_np(pthread_self(), name);
        pthread_mutex_lock(&print_lock);
        printf("worker %ld tid %ld\n", i, (long) syscall(SYS_gettid));
        fflush(stdout);
        pthread_mutex_unlock(&print_lock);
        r = worker_spin(spin_ns);
        KEEP_FRAME(r);
        return NULL;
}

int main(int argc, char **argv) {
        pthread_t tids[64];
        long n;
        uint64_t delay;
        struct timespec ts;

        if (argc != 4) {
                fprintf(stderr, "usage: threads NWORKERS DELAY SECONDS\n");
                return 2;
        }
        n = atol(argv[1]);
        if (n < 1 || n > 64) {
                fprintf(stderr, "bad number of workers '%s'\n", argv[1]);
                return 2;
        }
        delay = parse_seconds_ns(argv[2]);
        spin_ns = parse_seconds_ns(argv[3]);

        print_ready("threads");
        ts.tv_sec = (time_t) (delay / 1000000000u);
        ts.tv_nsec = (long) (delay % 1000000000u);
        nanosleep(&ts, NULL);

        for (long i = 0; i < n; i++)
                if (pthread_create(&tids[i], NULL, worker_main, (void *) i) != 0) {
                        fprintf(stderr, "pthread_create failed\n");
                        return 1;
                }
        for (long i = 0; i < n; i++)
                pthread_join(tids[i], NULL);
        return 0;
}
