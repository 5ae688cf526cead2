/* "Did you mean ...?": the known name a mistyped word most likely meant.
 * Shared by the command line (options, commands) and the daemon's config
 * (sections, keys), so that both call the same thing a typo. */
#pragma once

#include <stddef.h>

/* The name among names[0..n) within two edits of word (len bytes) and
 * closest to it, or NULL when none is close enough to be a typo. An edit
 * is an insertion, deletion, substitution or swap of adjacent bytes; a
 * name is only close when the edits are fewer than a third of the longer
 * of the two, so that short words suggest nothing at random. */
const char *closest_name(const char *word, size_t len, const char *const *names, size_t n);
