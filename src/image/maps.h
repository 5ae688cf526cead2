/* Process address maps: the /proc/PID/maps parser and the sorted mapping
 * list the symbolizer keeps per process.
 *
 * A mapping_list is sorted by start and its mappings never overlap. It
 * does not own the path strings: the owner interns them and keeps them
 * alive at least as long as the list. Newer knowledge wins: adding
 * mappings cuts away whatever older mappings they overlap (munmap + mmap
 * at the same address), and everything else stays, so a process that
 * has exited, or unmapped a library, is still symbolized. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/vec.h"

/* One line of /proc/PID/maps. path points into the parsed buffer (not
 * NUL-terminated: use path_len), without the " (deleted)" suffix; path is
 * NULL for an anonymous mapping. */
struct maps_entry {
        uint64_t start, end, pgoff;
        uint32_t dev_major, dev_minor;
        uint64_t inode;
        bool read, write, exec, shared;
        bool deleted; /* the file was unlinked or replaced after mapping */
        const char *path;
        size_t path_len;
};

/* Called for each well-formed line; a negative return stops the parse
 * and is returned. */
typedef int (*maps_entry_fn)(void *userdata, const struct maps_entry *e);

/* Parses maps text. Malformed lines (the text comes from the kernel, but
 * the parser is fuzzed and must take anything) are skipped. Returns the
 * number of entries passed to fn, or fn's negative return. */
int maps_parse(const char *buf, size_t len, maps_entry_fn fn, void *userdata);

struct mapping {
        uint64_t start, end, pgoff;
        uint64_t dev, inode;
        const char *path; /* borrowed (see above); NULL for anonymous memory */
        bool deleted;
        uint32_t module;  /* the image module id (ids start at 1); 0 = none */
        /* anonymous memory: whether it was checked for copies of a
         * function, and of which module's (0: none) */
        bool copies_checked;
        uint32_t copies_of;
};

struct mapping_list {
        VEC(struct mapping) m;
};

/* The mapping covering addr, or NULL. O(log n). */
const struct mapping *mapping_list_find(const struct mapping_list *l, uint64_t addr);
/* Adds mappings (in any order; among themselves, later ones overlapping
 * earlier ones are dropped), cutting the older mappings they overlap.
 * -ENOMEM leaves the list unchanged. */
int mapping_list_add(struct mapping_list *l, const struct mapping *add, size_t n);
void mapping_list_release(struct mapping_list *l);
