/* workload-collapse: a known CPU split for the live `cprof collapse` test.
 *
 * Expected frames (root first), by share of this thread's CPU time:
 *   workload-collapse;...;main;collapse_hot    ~80%
 *   workload-collapse;...;main;collapse_cold   ~20%
 * Work is split by the thread's own CPU clock, so the shares hold on a
 * busy machine. noipa keeps both functions out of line and unmerged.
 *
 * Usage: workload-collapse [MILLISECONDS]   (default 600) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

__attribute__((noipa)) double collapse_hot(double x, double until_ms) {
        while (cpu_ms() < until_ms)
                for (int i = 0; i < 20000; i++)
                        x = x * 1.0000001 + 0.5;
        return x;
}

__attribute__((noipa)) double collapse_cold(double x, double until_ms) {
        while (cpu_ms() < until_ms)
                for (int i = 0; i < 20000; i++)
                        x = x * 0.9999999 + 0.25;
        return x;
}

int main(int argc, char **argv) {
        double total = argc > 1 ? atof(argv[1]) : 600;
        double x = 1, start = cpu_ms();

        /* alternate in 10 ms slices: 8 hot, 2 cold */
        for (double t = 0; t < total; t += 10) {
                x = collapse_hot(x, start + t + 8);
                x = collapse_cold(x, start + t + 10);
        }
        printf("%g\n", x);
        return 0;
}
