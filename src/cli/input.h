/* Reading folded files for the commands that take them (flamegraph, diff,
 * report, convert): one place decides how bad input is reported. */
#pragma once

#include <stddef.h>

#include "cprof/profile.h"

/* Reads each path ("-" is standard input) into p. Bad lines become
 * "file:line: reason, skipping" warnings (the first ten, then a count).
 * Returns the number of accepted lines, or -errno after logging the one
 * line that says why a file could not be read. */
int cli_read_folded(struct profile *p, char *const *paths, size_t n);
