/* Helpers shared by the integration-test workloads.
 *
 * The workloads are profiled by cprof and their expected frames are
 * asserted by name, so everything here is static inline (never a frame of
 * its own) and every function a test names lives in the workload file,
 * marked noipa so gcc neither inlines it nor clones it (.constprop, .isra). */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t clock_ns(clockid_t id) {
        struct timespec ts;

        if (clock_gettime(id, &ts) < 0) {
                perror("clock_gettime");
                exit(111);
        }
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Work is split by the calling thread's own CPU clock, so the expected
 * shares hold when the machine is busy and the thread gets less CPU. */
static inline uint64_t thread_cpu_ns(void) {
        return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static inline uint64_t wall_ns(void) {
        return clock_ns(CLOCK_MONOTONIC);
}

/* Seconds as a decimal ("2", "0.3"); 0 means "forever". */
static inline uint64_t parse_seconds_ns(const char *s) {
        char *end;
        double d;

        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || d < 0) {
                fprintf(stderr, "bad number of seconds '%s'\n", s);
                exit(2);
        }
        return (uint64_t) (d * 1e9);
}

/* A cheap LCG for jitter: phase lengths vary so that the phases never
 * line up with the sampling period. */
static inline uint32_t next_rand(uint64_t *state) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        return (uint32_t) (*state >> 33);
}

/* Keeps a leaf function's frame: the local's address escapes into an asm
 * that clobbers memory, so gcc must give the function a stack slot and,
 * with -fno-omit-frame-pointer, a frame pointer. */
#define KEEP_FRAME(var) asm volatile("" : : "r"(&(var)) : "memory")

static inline void print_ready(const char *name) {
        printf("%s: ready pid %ld\n", name, (long) getpid());
        fflush(stdout);
}

/* Defines `uint64_t NAME(uint64_t cpu_ns)`, a named frame that spins for
 * cpu_ns of the thread's own CPU time: a frame-keeping leaf apart from the
 * clock reads between chunks. MUL makes each spinner's loop its own. */
#define DEFINE_CPU_SPIN(name, mul)                                                 \
        __attribute__((noipa)) uint64_t name(uint64_t cpu_ns) {                    \
                uint64_t x = 1, t0 = thread_cpu_ns();                             \
                do {                                                              \
                        for (unsigned i = 0; i < 20000; i++) {                    \
                                x = x * (mul) + 3037000493ull;                    \
                                asm volatile("" : "+r"(x));                       \
                        }                                                         \
                } while (thread_cpu_ns() - t0 < cpu_ns);                          \
                KEEP_FRAME(x);                                                    \
                return x;                                                         \
        }
