/* dlopen-host: loads a library with dlopen() after the profiler started,
 * then spends its CPU time in that library.
 *
 * Expected frames (root first), once the library is loaded:
 *   dlopen-host;...;main;run_library;dl_work;dl_spin   (see dlopen-lib.c)
 * Before that the host only sleeps or blocks (no samples).
 *
 * Usage: dlopen-host LIBRARY SECONDS [--wait]
 *   prints "dlopen-host: ready pid N", then waits 0.5 s (with --wait: until
 *   a line arrives on stdin), dlopen()s LIBRARY, prints "loaded", runs
 *   its dl_work for SECONDS of its CPU time, dlclose()s it (unmapped: the
 *   profiler must have learnt of the mapping while it was there), prints
 *   "unloaded" and sleeps 0.3 s before it exits. */
#include <dlfcn.h>
#include <string.h>

#include "common.h"

/* Built twice (tests/integration/meson.build): as dlopen-host, and
 * without frame pointers as nofp-dlopen, which loads libnofpdl.so
 * (nofp-dlopen-lib.c) and calls its nofp_dl_work: its stacks are then
 *   nofp-dlopen;_start;__libc_start_main;__libc_start_call_main;main;
 *     run_library;nofp_dl_work;nofp_dl_spin
 * and the library's CFI exists only once it is mapped. */
#ifndef HOST_NAME
#define HOST_NAME "dlopen-host"
#endif
#ifndef WORK_SYMBOL
#define WORK_SYMBOL "dl_work"
#endif

typedef uint64_t (*dl_work_fn)(uint64_t ns);

static volatile uint64_t sink;

__attribute__((noipa)) uint64_t run_library(dl_work_fn work, uint64_t ns) {
        uint64_t x = work(ns);

        KEEP_FRAME(x);
        return x;
}

int main(int argc, char **argv) {
        void *lib;
        dl_work_fn work;
        uint64_t ns;
        char line[64];
        struct timespec half = { .tv_sec = 0, .tv_nsec = 500000000 };
        struct timespec linger = { .tv_sec = 0, .tv_nsec = 300000000 };

        if (argc < 3) {
                fprintf(stderr, "usage: " HOST_NAME " LIBRARY SECONDS [--wait]\n");
                return 2;
        }
        ns = parse_seconds_ns(argv[2]);
        print_ready(HOST_NAME);
        if (argc >= 4 && strcmp(argv[3], "--wait") == 0) {
                if (!fgets(line, sizeof(line), stdin))
                        return 2;
        } else
                nanosleep(&half, NULL);

        lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
                fprintf(stderr, HOST_NAME ": %s\n", dlerror());
                return 1;
        }
        work = (dl_work_fn) dlsym(lib, WORK_SYMBOL);
        if (!work) {
                fprintf(stderr, HOST_NAME ": %s\n", dlerror());
                return 1;
        }
        printf("loaded\n");
        fflush(stdout);
        sink = run_library(work, ns);
        if (dlclose(lib) != 0) {
                fprintf(stderr, HOST_NAME ": %s\n", dlerror());
                return 1;
        }
        printf("unloaded\n");
        fflush(stdout);
        nanosleep(&linger, NULL);
        return 0;
}
