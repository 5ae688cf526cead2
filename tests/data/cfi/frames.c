/* Fixture for tests/unit/test-cfi-table.c, compiled by the test itself
 * (gcc -O2 with and without -fomit-frame-pointer, and with .debug_frame
 * instead of .eh_frame): functions whose CFI moves the CFA in the ways
 * the table models. many_regs pushes and pops every callee-saved
 * register; vla and with_alloca make the CFA rbp-based even without
 * frame pointers; the calls into libc go through the PLT, and qsort calls
 * back into cmp. The values depend on argc so nothing folds away. */
#include <alloca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noipa)) static int cmp(const void *a, const void *b) {
        long x = *(const long *) a, y = *(const long *) b;
        return x < y ? -1 : x > y;
}

__attribute__((noipa)) long many_regs(long *v, int n) {
        long a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5];
        for (int i = 0; i < n; i++) {
                qsort(v, 8, sizeof(*v), cmp);
                a += v[i & 7] * b;
                b ^= c + (long) strlen((const char *) v);
                c -= d * e;
                d += e ^ f;
                e = e * 3 + a;
                f += a ^ b;
        }
        return a + b + c + d + e + f;
}

__attribute__((noipa)) long vla(int n) {
        char buf[n + 16];
        memset(buf, 'x', (size_t) n);
        buf[n] = '\0';
        return (long) strlen(buf) + many_regs((long *) buf, 1);
}

__attribute__((noipa)) long with_alloca(int n) {
        char *p = alloca((size_t) n + 64);
        snprintf(p, (size_t) n + 64, "%d", n);
        return (long) strlen(p) + vla(n + 8);
}

int main(int argc, char **argv) {
        (void) argv;
        long v[8] = { argc, 7, 3, 9, 1, 5, 8, 2 };
        printf("%ld\n", many_regs(v, argc) + with_alloca(argc * 100));
        return 0;
}
