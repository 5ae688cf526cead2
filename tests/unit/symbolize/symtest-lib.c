/* The shared library the symbolizer tests look into (see symtest.h). */
#include "symtest.h"

__attribute__((noinline, noipa)) int symtest_lib_work(int x) {
        __asm__ volatile("" ::: "memory");
        return x * 3 + 1;
}

/* Never run: only the layout and the symbols matter. */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl symtest_adj_a\n"
        ".type symtest_adj_a, @function\n"
        "symtest_adj_a:\n"
        "        push %rbp\n"
        "        call abort@PLT\n"
        ".size symtest_adj_a, . - symtest_adj_a\n"
        ".globl symtest_adj_b\n"
        ".type symtest_adj_b, @function\n"
        "symtest_adj_b:\n"
        "        ret\n"
        ".size symtest_adj_b, . - symtest_adj_b\n"
        ".globl symtest_gap_before\n"
        ".type symtest_gap_before, @function\n"
        "symtest_gap_before:\n"
        "        ret\n"
        ".size symtest_gap_before, . - symtest_gap_before\n"
        "        .fill 64, 1, 0xcc\n"
        ".globl symtest_gap_after\n"
        ".type symtest_gap_after, @function\n"
        "symtest_gap_after:\n"
        "        ret\n"
        ".size symtest_gap_after, . - symtest_gap_after\n"
        ".globl symtest_nosize\n"
        ".type symtest_nosize, @function\n"
        "symtest_nosize:\n"
        "        .fill 32, 1, 0x90\n"
        "        ret\n"
        ".globl symtest_after_nosize\n"
        ".type symtest_after_nosize, @function\n"
        "symtest_after_nosize:\n"
        "        ret\n"
        ".size symtest_after_nosize, . - symtest_after_nosize\n");
