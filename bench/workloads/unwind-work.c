/* unwind-work: the DWARF unwinding bench's workload (bench/bench-unwind.py).
 *
 * A fixed amount of CPU work in 1 or more threads, all of it below a call
 * chain of about 20-35 frames that runs into libc and back: qsort calling
 * a comparison callback that calls strcmp (glibc's merge sort recurses
 * about log2(n) frames deep on its own, without frame pointers), and
 * memcpy/strlen building the strings. meson builds it twice, with and
 * without frame pointers, so that the same work can be profiled by
 * frame-pointer and by DWARF unwinding.
 *
 * Frames (root first; thread runs start at clone3;start_thread instead
 * of _start;__libc_start_main;main):
 *   main;work_thread;descend x DEPTH;one_round;sort_phase;qsort;...;
 *     compare_records;compare_keys;strcmp
 *   main;work_thread;descend x DEPTH;one_round;fill_phase;memcpy|strlen
 *
 * Usage: unwind-work --work ROUNDS [--threads N] [--wait]
 *   each thread (N, default 1: the main thread itself) does ROUNDS rounds;
 *   with --wait, the clocks start only after a line is read from stdin (the
 *   profiler attaches first). Prints "unwind-work: ready pid N" first, then
 *   "elapsed SECONDS cpu SECONDS" (wall and process CPU time of the work). */
#include <pthread.h>
#include <string.h>

#include "common.h"

#define DEPTH 12
#define NKEYS 512
#define KEY_MAX 48

struct thread_work {
        unsigned long rounds;
        uint64_t rng;
        uint64_t result;
        pthread_t thread;
};

static const char pool[] = "the quick brown fox jumps over the lazy dog while "
                           "frame pointers are nowhere to be found in libc so "
                           "call frame information has to tell the unwinder ";

/* The frames kept after the calls (here and below) stop gcc from making
 * them tail calls, which would take these frames out of the stacks. */
__attribute__((noipa)) int compare_keys(const char *a, const char *b) {
        int r = strcmp(a, b);

        KEEP_FRAME(r);
        return r;
}

/* qsort's callback: a frame of ours called from inside libc */
__attribute__((noipa)) int compare_records(const void *a, const void *b) {
        int r = compare_keys(*(char *const *) a, *(char *const *) b);

        KEEP_FRAME(r);
        return r;
}

/* Fills the keys from random places in the pool: memcpy and strlen. */
__attribute__((noipa)) uint64_t fill_phase(char (*keys)[KEY_MAX], char **ptrs, uint64_t *rng) {
        uint64_t total = 0;

        for (unsigned i = 0; i < NKEYS; i++) {
                size_t len = 16 + next_rand(rng) % (KEY_MAX - 17);
                size_t off = next_rand(rng) % (sizeof(pool) - len);

                memcpy(keys[i], pool + off, len);
                keys[i][len] = '\0';
                ptrs[i] = keys[i];
                total += strlen(keys[i]);
        }
        return total;
}

__attribute__((noipa)) uint64_t sort_phase(char **ptrs) {
        qsort(ptrs, NKEYS, sizeof(ptrs[0]), compare_records);
        uint64_t x = (unsigned char) ptrs[NKEYS / 2][0];

        KEEP_FRAME(x);
        return x;
}

__attribute__((noipa)) uint64_t one_round(char (*keys)[KEY_MAX], char **ptrs, uint64_t *rng) {
        uint64_t x = fill_phase(keys, ptrs, rng);

        x += sort_phase(ptrs);
        KEEP_FRAME(x);
        return x;
}

/* DEPTH frames of recursion above the work (kept as frames, not turned
 * into a loop, by the same means). */
__attribute__((noipa)) uint64_t descend(unsigned depth, struct thread_work *w) {
        static __thread char keys[NKEYS][KEY_MAX];
        static __thread char *ptrs[NKEYS];
        uint64_t x = 0;

        if (depth > 0)
                x = descend(depth - 1, w);
        else
                for (unsigned long r = 0; r < w->rounds; r++)
                        x += one_round(keys, ptrs, &w->rng);
        KEEP_FRAME(x);
        return x + depth;
}

__attribute__((noipa)) void *work_thread(void *arg) {
        struct thread_work *w = arg;

        w->result = descend(DEPTH, w);
        KEEP_FRAME(w);
        return NULL;
}

static unsigned long parse_ulong(const char *s, const char *what) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v == 0) {
                fprintf(stderr, "unwind-work: bad %s '%s'\n", what, s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        unsigned long rounds = 0, threads = 1;
        int wait = 0;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--work") && i + 1 < argc)
                        rounds = parse_ulong(argv[++i], "number of rounds");
                else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
                        threads = parse_ulong(argv[++i], "number of threads");
                else if (!strcmp(argv[i], "--wait"))
                        wait = 1;
                else
                        rounds = 0, i = argc;
        }
        if (rounds == 0 || threads > 64) {
                fprintf(stderr, "usage: unwind-work --work ROUNDS [--threads N (1-64)] [--wait]\n");
                return 2;
        }

        struct thread_work w[64];
        for (unsigned long t = 0; t < threads; t++)
                w[t] = (struct thread_work) { .rounds = rounds, .rng = 12345 + t };

        printf("unwind-work: ready pid %d\n", (int) getpid());
        fflush(stdout);
        if (wait) {
                char line[16];
                if (!fgets(line, sizeof(line), stdin))
                        return 1;
        }

        uint64_t t0 = wall_ns(), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
        if (threads == 1)
                work_thread(&w[0]);
        else {
                for (unsigned long t = 0; t < threads; t++)
                        if (pthread_create(&w[t].thread, NULL, work_thread, &w[t]) != 0) {
                                fprintf(stderr, "unwind-work: cannot create a thread\n");
                                return 1;
                        }
                for (unsigned long t = 0; t < threads; t++)
                        pthread_join(w[t].thread, NULL);
        }
        uint64_t t1 = wall_ns(), c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);

        uint64_t sum = 0;
        for (unsigned long t = 0; t < threads; t++)
                sum += w[t].result;
        printf("elapsed %.6f cpu %.6f\n", (double) (t1 - t0) / 1e9, (double) (c1 - c0) / 1e9);
        /* the result goes somewhere, so the work is not optimized away */
        return sum == 0 ? 3 : 0;
}
