/* inline: hot code inside always_inline chains, for inline frames.
 *
 * Expected frames (root first; outer_a and outer_b are real functions, the
 * others are always_inline and exist only as DWARF inlined subroutines):
 *   inline;...;main;run;outer_a;mid_a_[i];inner_a_[i]             60%
 *   inline;...;main;run;outer_a;mid_a_[i]                         15%
 *   inline;...;main;run;outer_b;b_mid_[i];b_inner_[i];b_core_[i]  25%
 * (plus a little in outer_a, outer_b, run and clock_gettime between chunks).
 * Chain a is two levels of inlining with work at both levels: each call of
 * mid_a spins 4 units in inner_a, then 1 in its own loop. Chain b is three
 * levels, all its work in the innermost. The split between the chains is
 * by the thread's own CPU clock, 3:1 in phases of about 3 ms and 1 ms.
 *
 * Usage: inline [SECONDS]  run SECONDS of wall time (0 or none: until
 *                          killed). Prints "inline: ready pid N" first. */
#include "common.h"

#define UNIT_ITERS 5000u

static volatile uint64_t sink;

/* Every loop does the same dependent multiply-add per iteration, so
 * iterations cost the same wherever they are and the 4:1 split inside
 * mid_a holds. The empty asm keeps gcc from fusing or vectorising them. */
static inline __attribute__((always_inline)) uint64_t inner_a(uint64_t x) {
        for (unsigned i = 0; i < 4 * UNIT_ITERS; i++) {
                x = x * 2862933555777941757ull + 3037000493ull;
                asm volatile("" : "+r"(x));
        }
        return x;
}

static inline __attribute__((always_inline)) uint64_t mid_a(uint64_t x) {
        x = inner_a(x);
        for (unsigned i = 0; i < UNIT_ITERS; i++) {
                x = x * 3202034522624059733ull + 1442695040888963407ull;
                asm volatile("" : "+r"(x));
        }
        return x;
}

static inline __attribute__((always_inline)) uint64_t b_core(uint64_t x) {
        for (unsigned i = 0; i < 5 * UNIT_ITERS; i++) {
                x = x * 6364136223846793005ull + 1ull;
                asm volatile("" : "+r"(x));
        }
        return x;
}

static inline __attribute__((always_inline)) uint64_t b_inner(uint64_t x) {
        return b_core(x ^ 0x9e3779b97f4a7c15ull);
}

static inline __attribute__((always_inline)) uint64_t b_mid(uint64_t x) {
        return b_inner(x + 11);
}

/* The real functions that the chains are inlined into: each spins its
 * chain until it has used ns of the thread's CPU time. */
__attribute__((noipa)) uint64_t outer_a(uint64_t x, uint64_t ns) {
        uint64_t t0 = thread_cpu_ns();

        do
                x = mid_a(x);
        while (thread_cpu_ns() - t0 < ns);
        KEEP_FRAME(x);
        return x;
}

__attribute__((noipa)) uint64_t outer_b(uint64_t x, uint64_t ns) {
        uint64_t t0 = thread_cpu_ns();

        do
                x = b_mid(x);
        while (thread_cpu_ns() - t0 < ns);
        KEEP_FRAME(x);
        return x;
}

__attribute__((noipa)) uint64_t run(uint64_t duration_ns) {
        uint64_t rng = (uint64_t) getpid();
        uint64_t x = 1, start = wall_ns();

        for (;;) {
                /* 2.4 .. 3.6 ms in chain a, then a third of it in chain b */
                uint64_t a_ns = 2400000 + next_rand(&rng) % 1200000;

                x = outer_a(x, a_ns);
                x = outer_b(x, a_ns / 3);
                if (duration_ns > 0 && wall_ns() - start >= duration_ns)
                        break;
        }
        KEEP_FRAME(x);
        return x;
}

int main(int argc, char **argv) {
        uint64_t duration = argc >= 2 ? parse_seconds_ns(argv[1]) : 0;

        print_ready("inline");
        sink = run(duration);
        return 0;
}
