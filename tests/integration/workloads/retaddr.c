/* retaddr: a caller whose very last instruction is a call.
 *
 * Expected frames (root first):
 *   retaddr;...;main;run;caller_tail;spin_noreturn
 * and never decoy_next.
 *
 * spin_noreturn is noreturn, so gcc ends caller_tail with `call
 * spin_noreturn` and no epilogue; this file is built with
 * -falign-functions=1 and caller_tail and decoy_next share a section, so
 * the return address pushed by that call is the first byte of decoy_next.
 * A frame-pointer profiler that symbolizes return addresses as they are,
 * instead of at address - 1, names caller_tail "decoy_next". The layout is
 * checked by test_retaddr.py with objdump before profiling.
 *
 * Usage: retaddr SECONDS  (wall time, then exit 0) */
#include "common.h"

__attribute__((noipa, noreturn)) void spin_noreturn(uint64_t duration_ns) {
        uint64_t x = 1, start = wall_ns();

        do {
                for (unsigned i = 0; i < 20000; i++) {
                        x = x * 2862933555777941757ull + 3037000493ull;
                        asm volatile("" : "+r"(x));
                }
        } while (wall_ns() - start < duration_ns);
        KEEP_FRAME(x);
        exit(0);
}

__attribute__((noipa, section(".text.retaddr"))) void caller_tail(uint64_t duration_ns) {
        uint64_t d = duration_ns;

        KEEP_FRAME(d);
        spin_noreturn(d);
}

__attribute__((noipa, section(".text.retaddr"))) uint64_t decoy_next(uint64_t x) {
        for (unsigned i = 0; i < 1000; i++) {
                x = x * 3202034522624059733ull + 1ull;
                asm volatile("" : "+r"(x));
        }
        KEEP_FRAME(x);
        return x;
}

__attribute__((noipa)) int run(uint64_t duration_ns) {
        int r = 0;

        caller_tail(duration_ns);
        KEEP_FRAME(r);
        return r;
}

int main(int argc, char **argv) {
        uint64_t duration = argc >= 2 ? parse_seconds_ns(argv[1]) : 2000000000u;
        int r;

        print_ready("retaddr");
        /* decoy_next is referenced so it is kept; it never runs */
        if (argc > 99)
                return (int) decoy_next(duration);
        r = run(duration);
        KEEP_FRAME(r);  /* keeps the call to run out of tail position */
        return r;
}
