/* What the files of the unwind stage share: the per-module data the
 * unwinder hangs on each image module (IMAGE_SLOT_UNWIND). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfi-table.h"

struct unwinder;
struct kernel_tables;

struct module_unwind {
        struct cfi_table *table;
        /* where kernel-tables.c put its rows in the kernel's row array */
        uint32_t kernel_first, kernel_n;
        struct kernel_tables *kt; /* where they go back when the module goes */
        bool kernel_loaded, kernel_failed;
        /* the rows of one period of copies of the module's function in
         * anonymous memory (copies.c), NULL when none could be made */
        struct module_unwind *copies;
        bool copies_tried;
};

/* The module's unwind data, its table built on first use; NULL when it
 * has no ELF file to build one from (or no memory). */
struct module_unwind *unwinder_module(struct unwinder *u, uint32_t module);
/* Counts a table built in the unwinder's statistics. */
void unwinder_count_table(struct unwinder *u, const struct cfi_table *t);

struct image_copies;
/* copies.c: the unwind data of a period of copies, built on first use
 * and hung on the module copied; NULL when its frame is not known. */
struct module_unwind *unwinder_copies(struct unwinder *u, const struct image_copies *c);
/* Rows for code[0, len) from its instructions (offsets from 0), for the
 * few that trampolines use; false for any other. out has room for len + 1. */
bool copies_decode(const uint8_t *code, size_t len, struct cfi_row *out, size_t *ret_n);
/* The table of one period of c's copies: fn (fn_n rows, offsets from the
 * function's start) again every c->stride bytes, no CFI between copies
 * nor after the last whole one. -EINVAL for a stride shorter than the
 * function or longer than the period, -ENOMEM. */
int copies_lay_out(const struct image_copies *c, const struct cfi_row *fn, size_t fn_n, struct cfi_table **ret);
