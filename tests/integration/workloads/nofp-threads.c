/* nofp-threads: worker threads without frame pointers
 * (-fomit-frame-pointer), for unwinding to a thread's root.
 *
 * Expected frames (root first), in each of the NWORKERS workers:
 *   nofp-threads;clone3;start_thread;worker;work_a   ~2/3 of its CPU time
 *   nofp-threads;clone3;start_thread;worker;work_b   ~1/3
 * The main thread only waits in pthread_join (no samples). A thread's
 * stack ends at clone3, whose return address CFI marks undefined.
 *
 * Usage: nofp-threads NWORKERS SECONDS  (wall time, 0: until killed).
 *   Prints "nofp-threads: ready pid N" first, then starts the workers. */
#include <pthread.h>

#include "common.h"

static uint64_t duration_ns;
static volatile uint64_t sink;

__attribute__((noipa)) uint64_t work_a(uint64_t x) {
        for (unsigned i = 0; i < 40000; i++) {
                x = x * 2862933555777941757ull + 3037000493ull;
                asm volatile("" : "+r"(x));
        }
        return x;
}

__attribute__((noipa)) uint64_t work_b(uint64_t x) {
        for (unsigned i = 0; i < 20000; i++) {
                x = x * 3202034522624059733ull + 1ull;
                asm volatile("" : "+r"(x));
        }
        return x;
}

/* Equal iteration costs: work_a's loop is twice work_b's */
__attribute__((noipa)) void *worker(void *arg) {
        uint64_t x = (uint64_t) (uintptr_t) arg, start = wall_ns();

        do {
                x = work_a(x);
                x = work_b(x);
        } while (duration_ns == 0 || wall_ns() - start < duration_ns);
        asm volatile("" : "+r"(x));
        sink = x;
        return NULL;
}

int main(int argc, char **argv) {
        pthread_t tids[64];
        long n;

        if (argc != 3) {
                fprintf(stderr, "usage: nofp-threads NWORKERS SECONDS\n");
                return 2;
        }
        n = atol(argv[1]);
        if (n < 1 || n > 64) {
                fprintf(stderr, "bad number of workers '%s'\n", argv[1]);
                return 2;
        }
        duration_ns = parse_seconds_ns(argv[2]);
        print_ready("nofp-threads");
        for (long i = 0; i < n; i++)
                if (pthread_create(&tids[i], NULL, worker, (void *) (i + 1)) != 0) {
                        fprintf(stderr, "pthread_create failed\n");
                        return 1;
                }
        for (long i = 0; i < n; i++)
                pthread_join(tids[i], NULL);
        return 0;
}
