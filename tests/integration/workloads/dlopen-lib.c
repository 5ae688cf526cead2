/* dlopen-lib: the library that dlopen-host loads while it is profiled.
 *
 * Expected frames (root first):
 *   dlopen-host;...;main;run_library;dl_work;dl_spin
 * dl_work is exported (.dynsym and .symtab); dl_spin is static, so only
 * the library's .symtab or DWARF can name it: a symbolizer that reads just
 * the dynamic symbols, or that never learns of the new mapping, shows
 * [libdlhot.so] or [unknown] there. */
#include "common.h"

static __attribute__((noipa)) uint64_t dl_spin(uint64_t x) {
        for (unsigned i = 0; i < 20000; i++) {
                x = x * 2862933555777941757ull + 3037000493ull;
                asm volatile("" : "+r"(x));
        }
        KEEP_FRAME(x);
        return x;
}

/* Spins in dl_spin for ns of the calling thread's CPU time. */
__attribute__((noipa, visibility("default"))) uint64_t dl_work(uint64_t ns) {
        uint64_t x = 1, t0 = thread_cpu_ns();

        do
                x = dl_spin(x);
        while (thread_cpu_ns() - t0 < ns);
        KEEP_FRAME(x);
        return x;
}
