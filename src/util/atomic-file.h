/* Output files that appear whole or not at all: write to a temporary file
 * beside the target, then rename it into place. A reader never sees half
 * a file, and a failed or interrupted run leaves nothing behind. A symlink
 * is followed (its target is replaced, keeping its mode); what is not a
 * regular file (/dev/null, a FIFO) is written in place. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

struct atomic_file {
        char *path; /* final name */
        char *tmp;  /* temporary name in the same directory, NULL when
                       writing in place */
        FILE *f;
};

/* True when path is written in place, not replaced: a device, a FIFO, a
 * socket, or anything under /dev or /proc (/dev/stdout). */
bool atomic_file_in_place(const char *path);
/* -errno (e.g. -EACCES, -ENOENT for a missing directory). */
int atomic_file_open(const char *path, struct atomic_file *ret);
/* Flushes, closes and renames. On failure the temporary file is removed. */
int atomic_file_commit(struct atomic_file *af);
/* Closes and removes the temporary file; safe on a zeroed struct. */
void atomic_file_abort(struct atomic_file *af);
