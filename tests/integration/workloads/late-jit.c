/* late-jit: JIT-like code that appears after the recording started, in a
 * process that lives a moment. It waits DELAY seconds, then copies a
 * counting loop into fresh anonymous executable memory, writes
 * /tmp/perf-PID.map naming it jit_hot_loop, and runs it for RUN seconds
 * of its own CPU time; the map is left for the profiler (the test
 * removes it). Known leaf: jit_hot_loop (nearly all samples).
 * Usage: late-jit DELAY RUN */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/* x86-64: mov ecx, 0x100000; 1: dec ecx; jnz 1b; ret */
static const unsigned char loop[] = { 0xb9, 0x00, 0x00, 0x10, 0x00, 0xff, 0xc9, 0x75, 0xfc, 0xc3 };

int main(int argc, char **argv) {
        double delay = argc > 1 ? atof(argv[1]) : 0.3, run = argc > 2 ? atof(argv[2]) : 0.2;
        char path[64];

        usleep((useconds_t) (delay * 1e6));
        unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                                   -1, 0);
        if (code == MAP_FAILED)
                return perror("mmap"), 1;
        memcpy(code, loop, sizeof(loop));
        snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int) getpid());
        FILE *f = fopen(path, "w");
        if (!f)
                return perror(path), 1;
        fprintf(f, "%lx %zx jit_hot_loop\n", (unsigned long) (uintptr_t) code, sizeof(loop));
        fclose(f);
        void (*fn)(void) = (void (*)(void)) (uintptr_t) code;
        uint64_t t0 = thread_cpu_ns();
        while (thread_cpu_ns() - t0 < (uint64_t) (run * 1e9))
                fn();
        return 0;
}
