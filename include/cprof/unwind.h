/* Unwinding: a raw sample becomes a list of code addresses, leaf first.
 *
 * For frame-pointer stacks (src/unwind/fp.c) the kernel already walked the
 * stacks; this stage only joins them and marks which addresses are return
 * addresses. DWARF CFI unwinding of a copied user stack (src/unwind/dwarf.c,
 * later) fills the same list. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cprof/sample.h"

struct unwound_frame {
        uint64_t addr;
        bool kernel;
        /* false for a return address: symbolize it at addr - 1, inside the
         * call instruction, or a call that ends a function would be
         * credited to the function after it */
        bool exact;
};

#define UNWIND_MAX_FRAMES (2 * SAMPLE_MAX_STACK)

/* Fills out[] (room for UNWIND_MAX_FRAMES) leaf first: kernel frames, then
 * user frames. Returns the number of frames. */
size_t unwind_sample(const struct raw_sample *s, bool user, bool kernel, struct unwound_frame *out);
