/* unique-stacks: threads that keep making stacks never seen before.
 *
 * Each thread walks a random path down a binary tree of calls, 16 levels
 * deep: at each level it calls left() or right(), so a path is one of
 * 65,536 distinct stacks. It spins a little at the leaf, then starts a new
 * path. Sampled at several kHz, nearly every sample is a stack the
 * aggregation maps have not seen in this drain interval.
 *
 * Expected frames (root first):
 *   unique-stacks;...;thread_main;descend;{left,right}x16;leaf
 *
 * Usage: unique-stacks NTHREADS SECONDS
 *   prints "unique-stacks: ready pid N", runs SECONDS of wall time. */
#include <pthread.h>

#include "common.h"

#define DEPTH 16

static uint64_t run_ns;

__attribute__((noipa)) uint64_t descend(uint64_t path, int level);

__attribute__((noipa)) uint64_t leaf(uint64_t path) {
        uint64_t x = path | 1;
        /* about 50 us of work: several samples' worth at 5 kHz would land
         * in one path, so keep it short */
        for (unsigned i = 0; i < 20000; i++) {
                x = x * 6364136223846793005ull + 1;
                asm volatile("" : "+r"(x));
        }
        KEEP_FRAME(x);
        return x;
}

__attribute__((noipa)) uint64_t left(uint64_t path, int level) {
        uint64_t r = descend(path, level + 1);
        KEEP_FRAME(r);
        return r + 1;
}

__attribute__((noipa)) uint64_t right(uint64_t path, int level) {
        uint64_t r = descend(path, level + 1);
        KEEP_FRAME(r);
        return r + 2;
}

__attribute__((noipa)) uint64_t descend(uint64_t path, int level) {
        uint64_t r;
        if (level == DEPTH)
                r = leaf(path);
        else if (path >> level & 1)
                r = right(path, level);
        else
                r = left(path, level);
        KEEP_FRAME(r);
        return r;
}

__attribute__((noipa)) void *thread_main(void *arg) {
        uint64_t seed = (uint64_t) (uintptr_t) arg * 0x9e3779b97f4a7c15ull + 1, sum = 0;
        uint64_t end = wall_ns() + run_ns;

        while (wall_ns() < end)
                sum += descend(next_rand(&seed), 0);
        KEEP_FRAME(sum);
        return NULL;
}

int main(int argc, char **argv) {
        pthread_t tids[16];
        long n;

        if (argc != 3 || (n = atol(argv[1])) < 1 || n > 16) {
                fprintf(stderr, "usage: unique-stacks NTHREADS(1-16) SECONDS\n");
                return 2;
        }
        run_ns = parse_seconds_ns(argv[2]);
        print_ready("unique-stacks");
        for (long i = 0; i < n; i++)
                if (pthread_create(&tids[i], NULL, thread_main, (void *) (i + 1)) != 0) {
                        fprintf(stderr, "pthread_create failed\n");
                        return 1;
                }
        for (long i = 0; i < n; i++)
                pthread_join(tids[i], NULL);
        return 0;
}
