/* Writers: each reads a profile (never changes it) and writes one format
 * to a FILE. They return 0 or -errno (-EIO when the stream failed); the
 * caller owns the FILE and its atomic replacement (util/atomic-file.h). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "cprof/profile.h"

/* ---- folded stacks (src/output/folded.c) ---- */

/* One line per stack, "frame;...;leaf COUNT", root first, frames suffixed
 * by kind (_[k], _[i], _[j]), lines in byte order (the order of Perl's
 * sort, so the output of `cprof collapse` matches stackcollapse-perf.pl).
 * A differential profile writes "stack BEFORE AFTER". Stacks whose values
 * are all zero are left out. */
int folded_write(const struct profile *p, FILE *f);

/* Appends the folded form of frame `id` (name plus kind suffix) to buf;
 * shared by writers that print folded names. */
int folded_frame_name(const struct profile *p, uint32_t id, char **buf, size_t *len, size_t *cap);

/* ---- more writers are declared below by the files that add them ---- */
