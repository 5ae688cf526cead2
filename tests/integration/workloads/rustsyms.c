/* rustsyms: hot functions whose symbols are Rust-mangled, one in each
 * scheme, for demangling on a real process (no Rust toolchain needed to
 * build it: the names are asm labels on C functions).
 *
 * Expected frames (root first), demangled by libiberty:
 *   rustsyms;...;main;run;rustsyms::inner::hot_legacy   50% of the thread's CPU time
 *       raw _ZN8rustsyms5inner10hot_legacy17h3db54b2a0f274f59E (legacy: hash dropped)
 *   rustsyms;...;main;run;rustsyms::inner::hot_v0       25%
 *       raw _RNvNtCs1z8OXfD9LaI_8rustsyms5inner6hot_v0 (v0: crate disambiguator dropped)
 *   rustsyms;...;main;run;hot_plain                     25%  (a C name: left as it is)
 * (plus a little in run and clock_gettime between phases). The v0 name is
 * what rustc 1.95 gives `rustsyms::inner::hot_v0` with
 * -C symbol-mangling-version=v0; the legacy one is rustc's default scheme
 * with the function renamed. The split is by the thread's own CPU clock,
 * in phases of about 2, 1 and 1 ms with jitter.
 *
 * Usage: rustsyms [SECONDS]   run SECONDS of wall time (0 or none: until
 *                             killed). Prints "rustsyms: ready pid N" first. */
#include "common.h"

uint64_t hot_legacy(uint64_t cpu_ns) __asm__("_ZN8rustsyms5inner10hot_legacy17h3db54b2a0f274f59E");
uint64_t hot_v0(uint64_t cpu_ns) __asm__("_RNvNtCs1z8OXfD9LaI_8rustsyms5inner6hot_v0");
uint64_t hot_plain(uint64_t cpu_ns);

DEFINE_CPU_SPIN(hot_legacy, 2862933555777941757ull)
DEFINE_CPU_SPIN(hot_v0, 3202034522624059733ull)
DEFINE_CPU_SPIN(hot_plain, 6364136223846793005ull)

static volatile uint64_t sink;

__attribute__((noipa)) uint64_t run(uint64_t duration_ns) {
        uint64_t rng = (uint64_t) getpid();
        uint64_t x = 0, start = wall_ns();

        for (;;) {
                /* 1.6 .. 2.4 ms, then half of it in each of the others */
                uint64_t slice = 1600000 + next_rand(&rng) % 800000;

                x += hot_legacy(slice);
                x += hot_v0(slice / 2);
                x += hot_plain(slice / 2);
                if (duration_ns > 0 && wall_ns() - start >= duration_ns)
                        break;
        }
        KEEP_FRAME(x);
        return x;
}

int main(int argc, char **argv) {
        uint64_t duration = argc >= 2 ? parse_seconds_ns(argv[1]) : 0;

        print_ready("rustsyms");
        sink = run(duration);
        return 0;
}
