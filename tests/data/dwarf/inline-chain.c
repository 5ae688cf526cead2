/* Fixture for tests/unit/test-dwarf-lines.c, compiled by the test itself
 * with `gcc -g -O2`: an always_inline chain three levels deep inside a
 * noinline function, so an address in level3's loop has four frames:
 *   chain_root -> chain_level1 -> chain_level2 -> chain_level3 (innermost)
 * Each level does work of its own around the call, so each call site has
 * code and a line. */
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned sink;

static inline __attribute__((always_inline)) unsigned chain_level3(unsigned x) {
        unsigned acc = 0;
        for (unsigned i = 0; i < x; i++)
                acc = acc * 31 + (i ^ sink);
        return acc;
}

static inline __attribute__((always_inline)) unsigned chain_level2(unsigned x) {
        sink = x;
        unsigned v = chain_level3(x + 2);
        return v ^ sink;
}

static inline __attribute__((always_inline)) unsigned chain_level1(unsigned x) {
        sink = x * 3;
        unsigned v = chain_level2(x * 5);
        return v + sink;
}

__attribute__((noinline, noipa)) unsigned chain_root(unsigned x) {
        sink = x + 7;
        unsigned v = chain_level1(x);
        return v * sink;
}

int main(int argc, char **argv) {
        (void) argv;
        printf("%u\n", chain_root((unsigned) argc + 10));
        return 0;
}
