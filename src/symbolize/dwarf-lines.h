/* DWARF names for code addresses: function, inline chain, file:line (libdw).
 *
 * The handle owns a libdw Dwarf over a borrowed Elf and an index built
 * lazily, one compile unit at a time: opening reads nothing; the first
 * lookup lists the CUs and their address ranges; the first lookup inside
 * a CU walks that CU's DIE tree once, keeping only subprograms and inlined
 * subroutines that have code (their address ranges flattened into sorted
 * disjoint pieces, each naming its innermost node, with parent links),
 * and lets libdw read its line table. A lookup is then two binary searches
 * plus a parent walk; names and call-site files are resolved on first use
 * and kept. Nothing is freed before dwarf_lines_free (see
 * dwarf_lines_tick), and nothing is cached per address. One thread at a time per handle.
 *
 * Not covered: split DWARF (.dwo), CUs that state no address range (no
 * low_pc/high_pc or DW_AT_ranges; .debug_aranges is not read), code described only by partial units
 * (dwz puts types and abstract instances there, which are followed), and
 * ranges starting at address 0 or at a -1/-2 tombstone (code the linker
 * discarded). */
#pragma once

#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dwarf_lines;

/* elf: the file whose DWARF to read (a separate debug file or the binary itself); borrowed,
 * must outlive the handle. -ENODATA when it has no .debug_info. Nothing is parsed yet. */
int dwarf_lines_open(Elf *elf, struct dwarf_lines **ret);
struct dwarf_lines *dwarf_lines_free(struct dwarf_lines *d);

struct dwarf_frame {
        const char *name;  /* linkage name (mangled) if the DIE has one, else DW_AT_name; NULL if none */
        const char *file;  /* source file path as DWARF gives it (comp_dir joined if relative), may be NULL */
        uint32_t line;     /* 0 if unknown */
        bool inlined;      /* an inlined subroutine (every frame after the first) */
};

/* vaddr: ELF virtual address (as in the symbol table). Fills out[] ROOT FIRST: [0] is the outermost
 * (real, not inlined) function, then each inlined call, the innermost last. Lines as `addr2line -i`
 * gives them: the innermost frame gets the line of vaddr, each outer frame the line of the call site
 * (DW_AT_call_file/call_line) of the frame inside it. Returns the number of frames (<= max),
 * 0 when no DWARF covers vaddr, -ENOMEM. Strings live as long as the handle.
 *
 * A chain longer than max keeps out[0] (the root) and the max - 1 innermost frames; the root
 * keeps the line of its own call site (of the first frame cut), so every line still belongs to
 * the function it is printed with. An address inside a CU's line table but in no
 * subprogram (assembly sources) gives one frame with name NULL and its file:line. */
int dwarf_lines_lookup(struct dwarf_lines *d, uint64_t vaddr, struct dwarf_frame *out, size_t max);

/* What the index holds against what is used: CUs indexed since open, and
 * those looked into in the last span ticks (this one included); then
 * starts a new tick. libdw keeps what it read of a CU (its line table, its
 * abbreviations) until dwarf_end, and so does the index, so a reader that
 * runs for weeks grows with every CU it ever touched: the caller (one tick
 * per window) reopens a handle whose index outgrew what it uses. */
struct dwarf_lines_usage {
        size_t cus_indexed, cus_recent;
};
void dwarf_lines_tick(struct dwarf_lines *d, uint32_t span, struct dwarf_lines_usage *ret);

/* Builds the whole index now (every CU), so that later lookups parse nothing: for a
 * long-running reader and for measuring warm lookups. 0 or -ENOMEM. (An extension of the
 * interface the symbolizer does not need to call.) */
int dwarf_lines_preload(struct dwarf_lines *d);
