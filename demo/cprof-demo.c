/* cprof-demo: a small CPU-bound program for the README's Quick start.
 * Its time splits, by its own CPU clock, roughly:
 *   main -> serve_requests -> parse_request      ~20%
 *   main -> serve_requests -> compute_checksum   ~50%
 *   main -> serve_requests -> compress_reply     ~30% (plus a write syscall)
 * Usage: cprof-demo [SECONDS] (default 5). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t sink;

/* gcc gives a leaf function no frame even with -fno-omit-frame-pointer, and
 * a frame-pointer walk sampled in such a leaf loses the leaf's caller: a
 * local whose address escapes forces a real frame. */
#define KEEP_FRAME()                                            \
        volatile char frame_anchor;                             \
        __asm__ volatile("" : : "r"(&frame_anchor) : "memory")

static double cpu_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

__attribute__((noipa)) static uint64_t parse_request(uint64_t seed) {
        KEEP_FRAME();
        uint64_t h = seed;
        for (int i = 0; i < 20000; i++)
                h = h * 31 + (uint64_t) i;
        return h;
}

__attribute__((noipa)) static uint64_t compute_checksum(uint64_t seed) {
        KEEP_FRAME();
        uint64_t h = seed;
        for (int i = 0; i < 50000; i++)
                h ^= (h << 7) + (h >> 3) + (uint64_t) i;
        return h;
}

__attribute__((noipa)) static uint64_t compress_reply(uint64_t seed, int devnull) {
        uint64_t h = seed;
        char buf[64];
        for (int i = 0; i < 30000; i++)
                h = (h >> 1) ^ (-(h & 1) & 0xedb88320u);
        buf[0] = (char) h;
        if (write(devnull, buf, sizeof(buf)) < 0)
                h++;
        return h;
}

__attribute__((noipa)) static void serve_requests(double seconds) {
        int devnull = open("/dev/null", O_WRONLY);
        double end = cpu_seconds() + seconds;
        uint64_t h = 1;

        while (cpu_seconds() < end) {
                h += parse_request(h);
                h += compute_checksum(h);
                h += compress_reply(h, devnull);
        }
        sink = h;
        close(devnull);
}

int main(int argc, char **argv) {
        double seconds = argc > 1 ? atof(argv[1]) : 5;
        if (seconds <= 0)
                seconds = 5;
        serve_requests(seconds);
        printf("cprof-demo: served requests for %.1f s of CPU\n", seconds);
        return 0;
}
