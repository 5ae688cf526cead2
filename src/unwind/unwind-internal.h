/* What the files of the unwind stage share: the per-module data the
 * unwinder hangs on each image module (IMAGE_SLOT_UNWIND). */
#pragma once

#include <stdbool.h>
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
};

/* The module's unwind data, its table built on first use; NULL when it
 * has no ELF file to build one from (or no memory). */
struct module_unwind *unwinder_module(struct unwinder *u, uint32_t module);
