/* The recording options of cprofd's recorders, continuous and on demand:
 * what `cprof record` would use, with children followed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cprof/record.h"

/* unwind: "auto", "dwarf" or "fp" (NULL: auto), else -EINVAL. The
 * debug directories are borrowed by the recorder made from *ret: they
 * must outlive it. */
int daemon_record_options(const char *unwind, bool kernel_stacks, unsigned frequency_hz,
                          const char *const *debug_dirs, size_t n_debug_dirs, struct record_options *ret);
/* recorder_new and recorder_start, with the notices logged. */
int daemon_recorder_new(const struct record_options *o, struct recorder **ret);
