/* Unwinding: a raw sample becomes a list of code addresses, leaf first.
 *
 * Frame-pointer stacks (src/unwind/fp.c) come from the kernel already
 * walked: this stage only joins them and marks which addresses are return
 * addresses. A sample with registers and a copy of its user stack is
 * unwound here (src/unwind/dwarf.c) with DWARF CFI: compact tables built
 * once per module from its .eh_frame (src/unwind/cfi-table.c) and hung on
 * the module in the process image, so every process mapping it shares
 * them and they go when the module goes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cprof/sample.h"

struct image_store;

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

enum unwind_mode {
        UNWIND_AUTO,  /* DWARF CFI where a module has it, frame pointers elsewhere (JIT code) */
        UNWIND_FP,    /* the kernel's frame-pointer walk */
        UNWIND_DWARF, /* DWARF CFI only */
};

/* Why a user stack ended. */
enum unwind_end {
        UNWIND_END_COMPLETE,    /* at a frame whose return address CFI leaves undefined */
        UNWIND_END_NO_CFI,      /* code that no CFI describes (and no frame pointer, in auto) */
        UNWIND_END_UNSUPPORTED, /* a CFI rule the tables do not model */
        UNWIND_END_NOT_COPIED,  /* it needed stack memory outside the copy (or, in the
                                   kernel, a page that is not resident) */
        UNWIND_END_DEPTH,       /* the depth limit */
        UNWIND_END_BAD_FRAME,   /* the frame led nowhere: its CFA was not above the stack
                                   pointer, or its return address in no mapping */
        _UNWIND_END_MAX,
};

const char *unwind_end_name(enum unwind_end e);

#define UNWIND_DEFAULT_DEPTH 4096

struct unwinder_options {
        enum unwind_mode mode;
        size_t max_depth; /* user frames kept at most (0: UNWIND_DEFAULT_DEPTH) */
        /* Called once per module before its table is built, to attach its
         * separate debug file from disk (see symbolizer_find_debug_file),
         * whose .debug_frame then counts; NULL: the module's own file
         * only. A debug file that comes later (debuginfod) is not waited
         * for: the table stays as built. */
        void (*find_debug_file)(void *userdata, uint32_t module);
        void *userdata;
};

struct unwinder_stats {
        uint64_t tables;       /* modules whose tables were built */
        uint64_t table_rows;   /* their rows */
        uint64_t table_bytes;  /* the memory they hold */
        uint64_t table_build_ns;
};

struct unwinder;

int unwinder_new(struct image_store *img, const struct unwinder_options *o, struct unwinder **ret);
struct unwinder *unwinder_free(struct unwinder *u);

/* Builds the tables of every module image gen of pid maps now, so that
 * its samples find them ready (a large library takes a good part of a
 * second: never in the drain if it can be helped). */
int unwinder_prepare_process(struct unwinder *u, pid_t pid, uint32_t gen);

/* Room out[] needs for one sample. */
size_t unwinder_max_frames(const struct unwinder *u);

/* Unwinds one sample: kernel frames as the kernel walked them, then the
 * user stack: with DWARF CFI over the sample's copy when it has one,
 * else its frame-pointer chain. Fills out[] leaf first; *ret_end says why
 * the user stack ended (only meaningful when *ret_unwound is true: the
 * sample had a copy and was unwound here). Returns the number of frames. */
size_t unwinder_unwind(struct unwinder *u, const struct raw_sample *s, bool user, bool kernel,
                       struct unwound_frame *out, enum unwind_end *ret_end, bool *ret_unwound);

void unwinder_get_stats(const struct unwinder *u, struct unwinder_stats *ret);
