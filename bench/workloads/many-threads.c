/* many-threads: N threads, each doing about 20 us of work every 5 ms, the
 * shape of a thread-per-request server under load. With 2,000 threads on
 * 2 CPUs the run queues are never empty: a profiler that runs as one more
 * normal thread gets a 1/2000 share of the machine.
 *
 * Usage: many-threads NTHREADS SECONDS  (0 seconds: until killed)
 * Prints "many-threads: ready pid N" once every thread runs. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double run_s;
static atomic_int started;

static double now(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

__attribute__((noipa)) unsigned long handle_request(unsigned long seed) {
        volatile unsigned long x = seed;
        for (int i = 0; i < 20000; i++)
                x = x * 6364136223846793005ul + 1;
        return x;
}

__attribute__((noipa)) void *worker(void *arg) {
        unsigned long seed = (unsigned long) arg;
        double end = now() + run_s;

        atomic_fetch_add(&started, 1);
        while (run_s == 0 || now() < end) {
                seed = handle_request(seed);
                usleep(5000);
        }
        return NULL;
}

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: many-threads NTHREADS SECONDS\n");
                return 2;
        }
        int n = atoi(argv[1]);
        run_s = atof(argv[2]);
        pthread_t *t = calloc((size_t) n, sizeof(*t));
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 64 * 1024);
        for (long i = 0; i < n; i++)
                if (pthread_create(&t[i], &at, worker, (void *) (i + 1)) != 0) {
                        fprintf(stderr, "pthread_create failed at %ld\n", i);
                        return 1;
                }
        while (atomic_load(&started) < n)
                usleep(1000);
        printf("many-threads: ready pid %d\n", (int) getpid());
        fflush(stdout);
        for (int i = 0; i < n; i++)
                pthread_join(t[i], NULL);
        return 0;
}
