/* dbg-hot: hot functions that only a full symbol table names.
 *
 * Every function a test names is static (local): a binary stripped of
 * .symtab keeps none of them in .dynsym, so they are named only when the
 * profiler finds the debug file (debuglink, .debug/, build-id, debuginfod)
 * or the MiniDebugInfo, or reads the very file the process runs.
 *
 * Expected frames (root first):
 *   dbg-hot;...;main;dbg_run;dbg_spin_a   75% of the thread's CPU time
 *   dbg-hot;...;main;dbg_run;dbg_spin_b   25%
 * split by the thread's own CPU clock, in phases of about 3 ms and 1 ms.
 * Built with -DDBG_DECOY, the same code carries other names (decoy_...):
 * its debug file has the same layout and a different build-id, so a
 * profiler that takes it for the real one prints decoy names.
 *
 * Usage: dbg-hot [SECONDS]  run SECONDS of wall time (0 or none: until
 *                           killed). Prints "dbg-hot: ready pid N" first. */
#include "common.h"

#ifdef DBG_DECOY
#define dbg_spin_a decoy_spin_a
#define dbg_spin_b decoy_spin_b
#define dbg_run decoy_run
#endif

#define CHUNK_ITERS 20000u

static volatile uint64_t sink;

static __attribute__((noipa)) uint64_t dbg_spin_a(uint64_t seed) {
        uint64_t x = seed;

        for (unsigned i = 0; i < CHUNK_ITERS; i++) {
                x = x * 2862933555777941757ull + 3037000493ull;
                asm volatile("" : "+r"(x));
        }
        KEEP_FRAME(x);
        return x;
}

static __attribute__((noipa)) uint64_t dbg_spin_b(uint64_t seed) {
        uint64_t x = seed;

        for (unsigned i = 0; i < CHUNK_ITERS; i++) {
                x = x * 3202034522624059733ull + 1ull;
                asm volatile("" : "+r"(x));
        }
        KEEP_FRAME(x);
        return x;
}

static __attribute__((noipa)) uint64_t dbg_run(uint64_t duration_ns) {
        uint64_t rng = (uint64_t) getpid();
        uint64_t x = 1, start = wall_ns();

        for (;;) {
                uint64_t a_ns = 2400000 + next_rand(&rng) % 1200000;
                uint64_t t0 = thread_cpu_ns();

                do
                        x = dbg_spin_a(x);
                while (thread_cpu_ns() - t0 < a_ns);
                t0 = thread_cpu_ns();
                do
                        x = dbg_spin_b(x);
                while (thread_cpu_ns() - t0 < a_ns / 3);

                if (duration_ns > 0 && wall_ns() - start >= duration_ns)
                        break;
        }
        KEEP_FRAME(x);
        return x;
}

int main(int argc, char **argv) {
        uint64_t duration = argc >= 2 ? parse_seconds_ns(argv[1]) : 0;

        print_ready("dbg-hot");
        sink = dbg_run(duration);
        return 0;
}
