/* Functions with known names and layout for the symbolizer tests, in
 * libsymtest.so (symtest-lib.c). */
#pragma once

int symtest_lib_work(int x);
/* Hand-laid code (x86-64 assembly): symtest_adj_a ends with a call, so
 * its return address is the first byte of symtest_adj_b; 64 bytes with no
 * symbol follow symtest_gap_before (1 byte long); symtest_nosize has no
 * size and 33 bytes until symtest_after_nosize. */
void symtest_adj_a(void);
void symtest_adj_b(void);
void symtest_gap_before(void);
void symtest_gap_after(void);
void symtest_nosize(void);
void symtest_after_nosize(void);

#define SYMTEST_GAP_BYTES 64
#define SYMTEST_NOSIZE_BYTES 33
