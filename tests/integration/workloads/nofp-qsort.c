/* nofp-qsort: calls through the PLT into libc and back out through a
 * callback, without frame pointers (-fomit-frame-pointer; Debian's libc
 * keeps none either).
 *
 * Expected frames (root first):
 *   nofp-qsort;_start;__libc_start_main_impl;__libc_start_call_main;main;
 *     sorter;qsort;...libc's sort frames (__qsort_r, msort_with_tmp...);
 *     cmp_slow                                most of the CPU time
 * and a little in sorter's refill between sorts. cmp_slow does a bit of
 * work per comparison so that most samples are in it, below libc's
 * frames: an unwinder must get from cmp_slow through libc (no frame
 * pointers, CFI only) back to sorter and main.
 *
 * Usage: nofp-qsort SECONDS  (wall time, 0: until killed). Prints
 *   "nofp-qsort: ready pid N" first. */
#include "common.h"

#define NELEM 100000u

static volatile uint64_t sink;
static uint64_t keys[NELEM];

/* Compares two keys after a little hashing of each: ~100 ns a call */
__attribute__((noipa)) int cmp_slow(const void *pa, const void *pb) {
        uint64_t a = *(const uint64_t *) pa, b = *(const uint64_t *) pb;
        uint64_t ha = a, hb = b;

        for (unsigned i = 0; i < 24; i++) {
                ha = ha * 6364136223846793005ull + a;
                hb = hb * 6364136223846793005ull + b;
                asm volatile("" : "+r"(ha), "+r"(hb));
        }
        sink = ha ^ hb;
        return a < b ? -1 : a > b;
}

/* Sorts freshly shuffled keys until the time is up; returns the sorts */
__attribute__((noipa)) uint64_t sorter(uint64_t duration_ns) {
        uint64_t rng = (uint64_t) getpid(), start = wall_ns(), sorts = 0;

        do {
                for (unsigned i = 0; i < NELEM; i++)
                        keys[i] = ((uint64_t) next_rand(&rng) << 32) | next_rand(&rng);
                qsort(keys, NELEM, sizeof(keys[0]), cmp_slow);
                sorts++;
        } while (duration_ns == 0 || wall_ns() - start < duration_ns);
        asm volatile("" : "+r"(sorts));
        return sorts;
}

int main(int argc, char **argv) {
        uint64_t sorts;

        if (argc != 2) {
                fprintf(stderr, "usage: nofp-qsort SECONDS\n");
                return 2;
        }
        uint64_t ns = parse_seconds_ns(argv[1]);

        print_ready("nofp-qsort");
        sorts = sorter(ns);
        asm volatile("" : "+r"(sorts));
        sink = sorts;
        return 0;
}
