/* nofp-mixed: frame-pointer code without CFI (JIT-like, in an anonymous
 * executable mapping) between C functions built without frame pointers.
 *
 * Expected frames (root first):
 *   nofp-mixed;_start;__libc_start_main_impl;__libc_start_call_main;main;
 *     caller;jit_stub_[j];hot_c              nearly all samples
 * jit_stub is 8 hand-written bytes in an mmap'ed RWX buffer:
 *   55        push %rbp
 *   48 89 e5  mov %rsp,%rbp
 *   ff d7     call *%rdi
 *   5d        pop %rbp
 *   c3        ret
 * named in /tmp/perf-PID.map. caller calls it with hot_c's address in
 * %rdi. Unwinding out of hot_c uses its CFI; the stub has none, so only
 * its frame pointer gets to caller: --unwind auto does that, --unwind
 * dwarf must stop there and say the stack was cut (no CFI).
 *
 * Usage: nofp-mixed SECONDS  (wall time, 0: until killed). Prints
 *   "nofp-mixed: ready pid N" once the map is written. The map is left
 *   behind for the profiler; the test removes it. */
#include <string.h>
#include <sys/mman.h>

#include "common.h"

static const unsigned char stub_code[] = { 0x55, 0x48, 0x89, 0xe5, 0xff, 0xd7, 0x5d, 0xc3 };

typedef uint64_t (*stub_fn)(uint64_t (*fn)(void));

static volatile uint64_t sink;

/* One chunk of work; called by the stub */
__attribute__((noipa)) uint64_t hot_c(void) {
        uint64_t x = sink;

        for (unsigned i = 0; i < 200000; i++) {
                x = x * 2862933555777941757ull + 3037000493ull;
                asm volatile("" : "+r"(x));
        }
        asm volatile("" : "+r"(x) : : "rbx", "r12");
        return x;
}

__attribute__((noipa)) uint64_t caller(stub_fn stub, uint64_t duration_ns) {
        uint64_t x = 0, start = wall_ns();

        do
                x += stub(hot_c);
        while (duration_ns == 0 || wall_ns() - start < duration_ns);
        asm volatile("" : "+r"(x));
        return x;
}

int main(int argc, char **argv) {
        char path[64];
        unsigned char *code;
        FILE *f;
        uint64_t x;

        if (argc != 2) {
                fprintf(stderr, "usage: nofp-mixed SECONDS\n");
                return 2;
        }
        uint64_t ns = parse_seconds_ns(argv[1]);

        code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (code == MAP_FAILED) {
                perror("nofp-mixed: mmap");
                return 1;
        }
        memcpy(code, stub_code, sizeof(stub_code));
        snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int) getpid());
        f = fopen(path, "w");
        if (!f) {
                perror(path);
                return 1;
        }
        fprintf(f, "%lx %zx jit_stub\n", (unsigned long) (uintptr_t) code, sizeof(stub_code));
        if (fclose(f) != 0) {
                perror(path);
                return 1;
        }
        print_ready("nofp-mixed");
        x = caller((stub_fn) (uintptr_t) code, ns);
        asm volatile("" : "+r"(x));
        sink = x;
        return 0;
}
