/* Feeding the in-kernel unwinder (bpf/profile.bpf.c): module tables into
 * its row array, process images' mappings into its per-process map. The
 * record loop syncs a process image after it changed (new process, exec,
 * new mappings) and forgets it when the image layer does. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "cprof/sample.h"

struct unwinder;
struct image_store;
struct kernel_tables;

struct kernel_tables_stats {
        uint64_t modules;           /* modules whose rows are loaded */
        uint64_t modules_not_loaded; /* modules whose rows did not fit */
        uint64_t rows;              /* rows in use */
        uint64_t bytes;             /* kernel memory the rows and process entries take */
        uint64_t syncs;             /* process entries written */
};

int kernel_tables_new(struct unwinder *u, struct image_store *img, const struct sampler_unwind_maps *maps,
                      struct kernel_tables **ret);
struct kernel_tables *kernel_tables_free(struct kernel_tables *kt);

/* Writes the kernel's entry for image gen of pid from what the image
 * layer knows now, loading the tables of modules it maps. -ESRCH when
 * nothing is known of the process, -ENOSPC when the map is full. */
int kernel_tables_sync(struct kernel_tables *kt, pid_t pid, uint32_t gen);
#define KERNEL_TABLES_ALL UINT32_MAX
/* Drops the entry of image gen of pid (KERNEL_TABLES_ALL: every image). */
void kernel_tables_forget(struct kernel_tables *kt, pid_t pid, uint32_t gen);
/* Gives back the rows of a released module (once no process image that
 * mapped it has an entry: the image layer releases a module only after
 * every image mapping it was forgotten). */
void kernel_tables_release_rows(struct kernel_tables *kt, uint32_t first, uint32_t n);
void kernel_tables_get_stats(const struct kernel_tables *kt, struct kernel_tables_stats *ret);
