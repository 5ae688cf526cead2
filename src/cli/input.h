/* What the commands share about their input: reading folded files (for
 * flamegraph, diff, report, convert) and reporting bad options, so that
 * bad input is worded the same everywhere. */
#pragma once

#include <getopt.h>
#include <stddef.h>

#include "cprof/profile.h"

/* Reads each path ("-" is standard input) into p. Bad lines become
 * "file:line: reason, skipping" warnings (the first ten, then a count).
 * Returns the number of accepted lines (at least one), or -errno after
 * logging the one line that says why: a file could not be read, holds
 * another format (binary, perf.data, perf script, JSON: -EBADMSG,
 * -EMEDIUMTYPE, with what to run instead), no valid stack was found, or
 * every count is zero ("no samples in 'FILE'"; both -ENODATA). Files are
 * read as streams; call profile_set_keep_samples(p, false) first unless
 * the input order matters, so that memory grows with unique stacks only. */
int cli_read_folded(struct profile *p, char *const *paths, size_t n);

/* Logs the one line for a bad option after getopt returned c (':' for a
 * missing value, '?' for an unknown option; call getopt with opterr = 0 and
 * an option string starting with ':'). With the command's options (the
 * table given to getopt_long, zero-terminated), a mistyped long option
 * gets "did you mean '--NAME'?", an ambiguous prefix is called ambiguous
 * and a value given to a flag is refused as such. Returns -EINVAL. */
int cli_bad_option(int c, char **argv, const char *command, const struct option *options);
/* cli_bad_option without the command's options: no suggestion. */
int cli_option_error(int c, char **argv, const char *command);

/* The name among names[0..n) within two edits of word (len bytes) and
 * closest to it, or NULL when none is close enough to be a typo. */
const char *cli_closest_name(const char *word, size_t len, const char *const *names, size_t n);
