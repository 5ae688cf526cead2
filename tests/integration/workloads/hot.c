/* hot: one CPU-bound thread with two hot functions.
 *
 * Expected frames (root first):
 *   hot;...;main;run;hot_a   75% of the thread's CPU time
 *   hot;...;main;run;hot_b   25%
 * (plus a little in run and clock_gettime between phases). The split is by
 * the thread's own CPU clock, in phases of about 3 ms and 1 ms with jitter.
 *
 * Usage:
 *   hot [SECONDS [STATUS]]  run SECONDS of wall time (0 or none: until
 *                           killed), then exit with STATUS (default 0)
 *   hot --work ROUNDS [--wait]
 *                           a fixed amount of work (ROUNDS x 4 chunks, 3 in
 *                           hot_a, 1 in hot_b), then print "elapsed SECONDS
 *                           cpu SECONDS" (wall and process CPU time of the
 *                           work); with --wait, start the clocks only
 *                           after reading a line from stdin (for benchmarks:
 *                           the profiler attaches first)
 * Prints "hot: ready pid N" on stdout first. */
#include <string.h>

#include "common.h"

#define CHUNK_ITERS 20000u

static volatile uint64_t sink;

/* Each hot function is a leaf that keeps its frame (see common.h) and does
 * the same work per chunk, so the fixed-work mode splits 3:1 as well. */
__attribute__((noipa)) uint64_t hot_a(uint64_t seed) {
        uint64_t x = seed;

        for (unsigned i = 0; i < CHUNK_ITERS; i++) {
                x = x * 2862933555777941757ull + 3037000493ull;
                asm volatile("" : "+r"(x));
        }
        KEEP_FRAME(x);
        return x;
}

__attribute__((noipa)) uint64_t hot_b(uint64_t seed) {
        uint64_t x = seed;

        for (unsigned i = 0; i < CHUNK_ITERS; i++) {
                x = x * 3202034522624059733ull + 1ull;
                asm volatile("" : "+r"(x));
        }
        KEEP_FRAME(x);
        return x;
}

/* Alternates phases: hot_a for a ~3 ms slice of this thread's CPU time,
 * then hot_b for a third of that. */
__attribute__((noipa)) uint64_t run(uint64_t duration_ns) {
        uint64_t rng = (uint64_t) getpid();
        uint64_t x = 1, start = wall_ns();

        for (;;) {
                /* 2.4 .. 3.6 ms of hot_a, then a third of it in hot_b */
                uint64_t a_ns = 2400000 + next_rand(&rng) % 1200000;
                uint64_t t0 = thread_cpu_ns();

                do
                        x = hot_a(x);
                while (thread_cpu_ns() - t0 < a_ns);
                t0 = thread_cpu_ns();
                do
                        x = hot_b(x);
                while (thread_cpu_ns() - t0 < a_ns / 3);

                if (duration_ns > 0 && wall_ns() - start >= duration_ns)
                        break;
        }
        KEEP_FRAME(x);
        return x;
}

__attribute__((noipa)) uint64_t run_work(unsigned long rounds) {
        uint64_t x = 1;

        for (unsigned long r = 0; r < rounds; r++) {
                x = hot_a(x);
                x = hot_a(x);
                x = hot_a(x);
                x = hot_b(x);
        }
        KEEP_FRAME(x);
        return x;
}

int main(int argc, char **argv) {
        if (argc >= 3 && strcmp(argv[1], "--work") == 0) {
                unsigned long rounds = strtoul(argv[2], NULL, 10);
                char line[64];
                uint64_t t0, c0;

                print_ready("hot");
                if (argc >= 4 && strcmp(argv[3], "--wait") == 0 &&
                    !fgets(line, sizeof(line), stdin))
                        return 2;
                t0 = wall_ns();
                c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
                sink = run_work(rounds);
                printf("elapsed %.6f cpu %.6f\n",
                       (double) (wall_ns() - t0) / 1e9,
                       (double) (clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9);
                return 0;
        }

        uint64_t duration = argc >= 2 ? parse_seconds_ns(argv[1]) : 0;
        int status = argc >= 3 ? atoi(argv[2]) : 0;

        print_ready("hot");
        sink = run(duration);
        return status;
}
