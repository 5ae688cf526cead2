/* A file's compressed DWARF sections, inflated for libdw beforehand.
 *
 * dwarf_begin_elf (elfutils 0.188) inflates every compressed debug
 * section with zlib before it reads any: libc6-dbg's libc debug file is
 * 10 MB inflated, 46 ms of CPU, a sixth of what a short recording cost.
 * libdeflate inflates the same whole buffers in 17 ms. The sections
 * cprof never reads (location lists, macros: 1.4 MB of libc's) are not
 * inflated at all but hidden from libdw: made SHT_NOBITS in libelf's
 * in-memory headers, which it skips. A section that does not inflate is
 * left as it was, for libdw to try and refuse.
 *
 * Call it on an Elf before the first dwarf_begin_elf; the buffers must
 * outlive the Elf (release them after elf_end). */
#pragma once

#include <libelf.h>
#include <stddef.h>

#include "util/vec.h"

struct debug_sections {
        VEC(void *) bufs; /* the inflated sections, ours */
        size_t inflated, hidden;
};

/* 0, or -ENOMEM (sections inflated so far stay inflated). */
int debug_sections_inflate(Elf *elf, struct debug_sections *d);
void debug_sections_release(struct debug_sections *d);
