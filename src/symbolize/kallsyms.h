/* Kernel text symbols from /proc/kallsyms ("ADDR TYPE NAME [MODULE]").
 *
 * Only code symbols (types t, T, w, W) are named, sorted by address; a
 * module name is stored once however many symbols carry it. The file is
 * read as a stream, line by line. kallsyms carries no sizes: a symbol
 * reaches the next one, and at most KALLSYMS_MAX_EXTENT past its start
 * where the next symbol belongs to another module or there is none, so an
 * address in a gap between the kernel and its modules is not credited to
 * whatever comes last. A module's data symbols (d, b, r) name nothing but
 * end the code below them the same way: each module's text and data are
 * separate allocations, and one module's data may follow another's code. Without privileges the kernel prints every address
 * as zero; the table then reports no addresses and names nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KALLSYMS_MAX_EXTENT (64 * 1024)

struct kallsyms;

/* Malformed lines are skipped. -ENOMEM. */
int kallsyms_parse(const char *buf, size_t len, struct kallsyms **ret);
/* Reads and parses a file (normally "/proc/kallsyms"). -errno. */
int kallsyms_load(const char *path, struct kallsyms **ret);
struct kallsyms *kallsyms_free(struct kallsyms *k);

size_t kallsyms_count(const struct kallsyms *k);
/* False when every address was zero (kptr_restrict, not root). */
bool kallsyms_has_addresses(const struct kallsyms *k);

/* The text symbol covering addr: 0 and its name, its module ("[mod]" as
 * kallsyms prints it, or NULL for the kernel itself) and its start;
 * -ENOENT when none does. Strings live as long as k. */
int kallsyms_lookup(const struct kallsyms *k, uint64_t addr, const char **ret_name,
                    const char **ret_module, uint64_t *ret_start);
