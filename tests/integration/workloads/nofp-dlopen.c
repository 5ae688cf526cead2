/* nofp-dlopen: loads a library built without frame pointers
 * (nofp-dlopen-lib.c, libnofpdl.so) with dlopen() after the profiler
 * started, then spends its CPU time in it. The library's CFI exists only
 * once it is mapped: the unwinder must learn of the new mapping.
 *
 * Expected frames (root first), once the library is loaded:
 *   nofp-dlopen;_start;__libc_start_main_impl;__libc_start_call_main;main;
 *     run_library;nofp_dl_work;nofp_dl_spin
 * Before that the host only sleeps or blocks (no samples).
 *
 * Usage: nofp-dlopen LIBRARY SECONDS [--wait]
 *   prints "nofp-dlopen: ready pid N", then waits 0.5 s (with --wait:
 *   until a line arrives on stdin), dlopen()s LIBRARY, prints "loaded" and
 *   runs its nofp_dl_work for SECONDS of its CPU time, then exits (the
 *   library stays mapped). */
#include <dlfcn.h>
#include <string.h>

#include "common.h"

typedef uint64_t (*dl_work_fn)(uint64_t ns);

static volatile uint64_t sink;

__attribute__((noipa)) uint64_t run_library(dl_work_fn work, uint64_t ns) {
        uint64_t x = work(ns);

        asm volatile("" : "+r"(x));
        return x + 1;
}

int main(int argc, char **argv) {
        void *lib;
        dl_work_fn work;
        char line[64];
        struct timespec half = { .tv_sec = 0, .tv_nsec = 500000000 };
        uint64_t x;

        if (argc < 3) {
                fprintf(stderr, "usage: nofp-dlopen LIBRARY SECONDS [--wait]\n");
                return 2;
        }
        uint64_t ns = parse_seconds_ns(argv[2]);

        print_ready("nofp-dlopen");
        if (argc >= 4 && strcmp(argv[3], "--wait") == 0) {
                if (!fgets(line, sizeof(line), stdin))
                        return 2;
        } else
                nanosleep(&half, NULL);

        lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
                fprintf(stderr, "nofp-dlopen: %s\n", dlerror());
                return 1;
        }
        work = (dl_work_fn) dlsym(lib, "nofp_dl_work");
        if (!work) {
                fprintf(stderr, "nofp-dlopen: %s\n", dlerror());
                return 1;
        }
        printf("loaded\n");
        fflush(stdout);
        x = run_library(work, ns);
        asm volatile("" : "+r"(x));
        sink = x;
        return 0;
}
