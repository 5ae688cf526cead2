/* nofp-chain: a known call chain built without frame pointers
 * (-fomit-frame-pointer), for the DWARF CFI unwinder.
 *
 * Expected frames (root first), in every thread that runs the chain:
 *   nofp-chain;_start;__libc_start_main_impl;__libc_start_call_main;main;
 *     alpha;beta;gamma[;leaf_a]   60% of the thread's CPU time
 *     alpha;beta;delta[;leaf_b]   40%
 * With NTHREADS > 1 the extra threads run the same chain from
 *   nofp-chain;clone3;start_thread;chain_thread;alpha;beta;...
 * gamma and delta spend most of their time calling the tiny leaves leaf_a
 * and leaf_b in a tight loop; the leaves save and restore callee-saved
 * registers (push/pop), so many samples land in a prologue or epilogue,
 * where the CFA is not where the body has it. Every stack must still
 * unwind to main and _start (or clone3). The split is by the thread's own
 * CPU clock, in phases of ~3 ms and ~2 ms with jitter.
 *
 * Usage: nofp-chain SECONDS [NTHREADS]  (SECONDS of wall time, 0: until
 *   killed; NTHREADS chains in all, default 1). Prints "nofp-chain: ready
 *   pid N" first and "nofp-chain: cpu SECONDS" (the process's CPU time)
 *   when done. */
#include <pthread.h>

#include "common.h"

/* Calls between checks of the thread's CPU clock (a system call) */
#define LEAF_CALLS 4000u

static volatile uint64_t sink;
static uint64_t duration_ns;

/* The clobbers make gcc save rbx, r12..r15 in the prologue and restore
 * them in the epilogue: about half of a leaf's instructions are pushes
 * and pops, each with its own CFA offset. */
__attribute__((noipa)) uint64_t leaf_a(uint64_t x) {
        asm volatile("" : "+r"(x) : : "rbx", "r12", "r13", "r14", "r15");
        return x * 2862933555777941757ull + 3037000493ull;
}

__attribute__((noipa)) uint64_t leaf_b(uint64_t x) {
        asm volatile("" : "+r"(x) : : "rbx", "r12", "r13");
        return x * 3202034522624059733ull + 1ull;
}

__attribute__((noipa)) uint64_t gamma_(uint64_t x, uint64_t ns) __asm__("gamma");
__attribute__((noipa)) uint64_t gamma_(uint64_t x, uint64_t ns) {
        uint64_t t0 = thread_cpu_ns();

        do
                for (unsigned i = 0; i < LEAF_CALLS; i++)
                        x = leaf_a(x);
        while (thread_cpu_ns() - t0 < ns);
        asm volatile("" : "+r"(x));
        return x;
}

__attribute__((noipa)) uint64_t delta(uint64_t x, uint64_t ns) {
        uint64_t t0 = thread_cpu_ns();

        do
                for (unsigned i = 0; i < LEAF_CALLS; i++)
                        x = leaf_b(x);
        while (thread_cpu_ns() - t0 < ns);
        asm volatile("" : "+r"(x));
        return x;
}

/* Alternates phases: gamma for 2.4..3.6 ms of this thread's CPU time,
 * then delta for two thirds of that (60:40). */
__attribute__((noipa)) uint64_t beta(uint64_t x) {
        uint64_t rng = (uint64_t) getpid() ^ (uint64_t) (uintptr_t) &rng;
        uint64_t start = wall_ns();

        do {
                uint64_t g_ns = 2400000 + next_rand(&rng) % 1200000;

                x = gamma_(x, g_ns);
                x = delta(x, g_ns * 2 / 3);
        } while (duration_ns == 0 || wall_ns() - start < duration_ns);
        asm volatile("" : "+r"(x));
        return x;
}

/* The asm after each call keeps it out of tail position: a tail call
 * would take the caller's frame off the stack. */
__attribute__((noipa)) uint64_t alpha(uint64_t x) {
        x = beta(x);
        asm volatile("" : "+r"(x));
        return x + 1;
}

__attribute__((noipa)) void *chain_thread(void *arg) {
        uint64_t x = alpha((uint64_t) (uintptr_t) arg);

        asm volatile("" : "+r"(x));
        sink = x;
        return NULL;
}

int main(int argc, char **argv) {
        pthread_t tids[16];
        long n = 1;
        uint64_t x;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: nofp-chain SECONDS [NTHREADS]\n");
                return 2;
        }
        duration_ns = parse_seconds_ns(argv[1]);
        if (argc == 3)
                n = atol(argv[2]);
        if (n < 1 || n > 16) {
                fprintf(stderr, "bad number of threads '%s'\n", argv[2]);
                return 2;
        }
        print_ready("nofp-chain");
        for (long i = 1; i < n; i++)
                if (pthread_create(&tids[i], NULL, chain_thread, (void *) i) != 0) {
                        fprintf(stderr, "pthread_create failed\n");
                        return 1;
                }
        x = alpha(1);
        asm volatile("" : "+r"(x));
        sink = x;
        for (long i = 1; i < n; i++)
                pthread_join(tids[i], NULL);
        printf("nofp-chain: cpu %.3f\n", (double) clock_ns(CLOCK_PROCESS_CPUTIME_ID) / 1e9);
        return 0;
}
