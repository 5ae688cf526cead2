/* nofp-dlopen-lib: libnofpdl.so, the library nofp-dlopen loads while it is
 * profiled; built without frame pointers, like the host.
 *
 * Expected frames (root first):
 *   nofp-dlopen;...;main;run_library;nofp_dl_work;nofp_dl_spin
 * nofp_dl_spin saves callee-saved registers (the asm clobbers them), so its
 * CFA moves in its prologue and epilogue. */
#include "common.h"

static __attribute__((noipa)) uint64_t nofp_dl_spin(uint64_t x) {
        for (unsigned i = 0; i < 20000; i++) {
                x = x * 2862933555777941757ull + 3037000493ull;
                asm volatile("" : "+r"(x));
        }
        asm volatile("" : "+r"(x) : : "rbx", "r12");
        return x;
}

/* Spins in nofp_dl_spin for ns of the calling thread's CPU time */
__attribute__((noipa, visibility("default"))) uint64_t nofp_dl_work(uint64_t ns) {
        uint64_t x = 1, t0 = thread_cpu_ns();

        do
                x = nofp_dl_spin(x);
        while (thread_cpu_ns() - t0 < ns);
        asm volatile("" : "+r"(x));
        return x;
}
