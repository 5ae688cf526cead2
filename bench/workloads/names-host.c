/* names-host: dlopen()s the NLIBS libraries DIR/libnames-N.so built from
 * names-lib.c and calls each one's hot function in turn, in two threads,
 * so that a recording maps 50 modules to name.
 *
 * Usage: names-host DIR NLIBS SECONDS  (0 seconds: until killed)
 * Prints "names-host: done" when it ends by itself. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef uint64_t (*hot_fn)(uint64_t);

static hot_fn *fns;
static int nlibs;
static double run_s;

static double now(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static void *worker(void *arg) {
        uint64_t x = (uint64_t) (uintptr_t) arg;
        double end = now() + run_s;
        do {
                for (int i = 0; i < nlibs; i++)
                        x = fns[i](x);
        } while (run_s <= 0 || now() < end);
        return (void *) (uintptr_t) x;
}

int main(int argc, char **argv) {
        if (argc != 4) {
                fprintf(stderr, "usage: names-host DIR NLIBS SECONDS\n");
                return 2;
        }
        nlibs = atoi(argv[2]);
        run_s = atof(argv[3]);
        fns = calloc((size_t) nlibs, sizeof(*fns));
        if (!fns)
                return 1;
        for (int i = 0; i < nlibs; i++) {
                char path[4096], sym[64];
                snprintf(path, sizeof(path), "%s/libnames-%d.so", argv[1], i);
                snprintf(sym, sizeof(sym), "names_lib_hot_%d", i);
                void *h = dlopen(path, RTLD_NOW);
                if (!h) {
                        fprintf(stderr, "names-host: %s\n", dlerror());
                        return 1;
                }
                fns[i] = (hot_fn) (uintptr_t) dlsym(h, sym);
                if (!fns[i]) {
                        fprintf(stderr, "names-host: no '%s' in '%s'\n", sym, path);
                        return 1;
                }
        }
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
                if (pthread_create(&t[i], NULL, worker, (void *) (uintptr_t) (i + 1)) != 0)
                        return 1;
        for (int i = 0; i < 2; i++)
                pthread_join(t[i], NULL);
        /* the bench times a profiler's write-out from this line */
        printf("names-host: done\n");
        return 0;
}
