/* nofp-recurse: a deep recursion without frame pointers
 * (-fomit-frame-pointer), hot at the bottom.
 *
 * Expected frames (root first), nearly all samples:
 *   nofp-recurse;_start;__libc_start_main_impl;__libc_start_call_main;main;
 *     recurse x (DEPTH + 1);bottom
 * recurse(n) calls recurse(n - 1) down to recurse(0), which calls bottom;
 * bottom spins for the rest of the run. Each recurse frame is 48 bytes
 * (return address, a 32-byte local whose address escapes, alignment): the
 * default 3,000 levels take ~141 KiB of stack, more than the perf
 * backend's 64 KiB copy and well inside a 256 KiB one. A frame-pointer
 * walk or a callchain capped at 127 frames cannot reach main.
 *
 * Usage: nofp-recurse SECONDS [DEPTH]  (wall time, 0: until killed; DEPTH
 *   default 3000). Prints "nofp-recurse: ready pid N", then "frame N
 *   bytes" (measured: the distance between two levels' locals), and
 *   "nofp-recurse: cpu SECONDS" (the process's CPU time) when done. */
#include "common.h"

static volatile uint64_t sink;
static uintptr_t level_addr[2];

__attribute__((noipa)) uint64_t bottom(uint64_t duration_ns) {
        uint64_t x = 1, start = wall_ns();

        do
                for (unsigned i = 0; i < 20000; i++) {
                        x = x * 2862933555777941757ull + 3037000493ull;
                        asm volatile("" : "+r"(x));
                }
        while (duration_ns == 0 || wall_ns() - start < duration_ns);
        return x;
}

/* The local escapes into an asm after the call: the frame cannot be
 * dropped (no tail call, no turning the recursion into a loop) */
__attribute__((noipa)) uint64_t recurse(unsigned n, uint64_t ns) {
        char pad[32];
        uint64_t x;

        if (n < 2)
                level_addr[n] = (uintptr_t) pad;
        asm volatile("" : : "r"(pad) : "memory");
        x = n == 0 ? bottom(ns) : recurse(n - 1, ns);
        asm volatile("" : "+r"(x) : "r"(pad) : "memory");
        return x + 1;
}

int main(int argc, char **argv) {
        unsigned depth = 3000;
        uint64_t x;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: nofp-recurse SECONDS [DEPTH]\n");
                return 2;
        }
        uint64_t ns = parse_seconds_ns(argv[1]);

        if (argc == 3)
                depth = (unsigned) strtoul(argv[2], NULL, 10);
        if (depth < 1) {
                fprintf(stderr, "bad depth '%s'\n", argv[2]);
                return 2;
        }
        print_ready("nofp-recurse");
        /* one level down and back (one chunk in bottom), for the frame size */
        recurse(1, 1);
        printf("frame %ld bytes\n", (long) (level_addr[1] - level_addr[0]));
        fflush(stdout);
        x = recurse(depth, ns);
        asm volatile("" : "+r"(x));
        sink = x;
        printf("nofp-recurse: cpu %.3f\n", (double) clock_ns(CLOCK_PROCESS_CPUTIME_ID) / 1e9);
        return 0;
}
