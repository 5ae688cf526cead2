/* nofp-signal: a signal handler interrupting a deep call, without frame
 * pointers (-fomit-frame-pointer).
 *
 * Expected frames (root first):
 *   nofp-signal;_start;__libc_start_main_impl;__libc_start_call_main;main;
 *     d1;d2;d3;spin                            ~5/6 of the CPU time
 *     d1;d2;d3;spin;__restore_rt;handler;handler_work      ~1/6
 * SIGPROF comes from setitimer(ITIMER_PROF) every 5 ms of the process's
 * CPU time, and the handler spins ~1 ms in handler_work. Unwinding out of
 * the handler goes through the kernel's signal frame: __restore_rt's CFI
 * says where the interrupted registers were saved, and from there the
 * unwind must continue into spin (interrupted at any instruction, its
 * return address is not a call site) up to main and _start.
 *
 * Usage: nofp-signal SECONDS  (wall time, 0: until killed). Prints
 *   "nofp-signal: ready pid N" first. */
#include <signal.h>
#include <string.h>
#include <sys/time.h>

#include "common.h"

#define HANDLER_NS 1000000u

static volatile uint64_t sink;
static volatile uint64_t handled;

__attribute__((noipa)) uint64_t handler_work(uint64_t ns) {
        uint64_t x = ns, t0 = thread_cpu_ns();

        do
                for (unsigned i = 0; i < 5000; i++) {
                        x = x * 3202034522624059733ull + 1ull;
                        asm volatile("" : "+r"(x));
                }
        while (thread_cpu_ns() - t0 < ns);
        return x;
}

__attribute__((noipa)) void handler(int sig) {
        uint64_t x = handler_work(HANDLER_NS);

        asm volatile("" : "+r"(x));
        sink = x + (uint64_t) sig;
        handled++;
}

__attribute__((noipa)) uint64_t spin(uint64_t duration_ns) {
        uint64_t x = 1, start = wall_ns();

        do
                for (unsigned i = 0; i < 20000; i++) {
                        x = x * 2862933555777941757ull + 3037000493ull;
                        asm volatile("" : "+r"(x));
                }
        while (duration_ns == 0 || wall_ns() - start < duration_ns);
        return x;
}

/* The asm after each call keeps it out of tail position */
__attribute__((noipa)) uint64_t d3(uint64_t ns) {
        uint64_t x = spin(ns);

        asm volatile("" : "+r"(x));
        return x + 3;
}

__attribute__((noipa)) uint64_t d2(uint64_t ns) {
        uint64_t x = d3(ns);

        asm volatile("" : "+r"(x));
        return x + 2;
}

__attribute__((noipa)) uint64_t d1(uint64_t ns) {
        uint64_t x = d2(ns);

        asm volatile("" : "+r"(x));
        return x + 1;
}

int main(int argc, char **argv) {
        struct sigaction sa;
        struct itimerval it = {
                .it_interval = { .tv_sec = 0, .tv_usec = 5000 },
                .it_value = { .tv_sec = 0, .tv_usec = 5000 },
        };
        uint64_t x;

        if (argc != 2) {
                fprintf(stderr, "usage: nofp-signal SECONDS\n");
                return 2;
        }
        uint64_t ns = parse_seconds_ns(argv[1]);

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        if (sigaction(SIGPROF, &sa, NULL) < 0 || setitimer(ITIMER_PROF, &it, NULL) < 0) {
                perror("nofp-signal: SIGPROF timer");
                return 1;
        }
        print_ready("nofp-signal");
        x = d1(ns);
        asm volatile("" : "+r"(x));
        sink = x;
        return handled > 0 ? 0 : 1;
}
