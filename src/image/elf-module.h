/* One ELF module (executable, shared library, vDSO) as the symbolizer
 * needs it: its GNU build-id, its PT_LOAD segments (to turn a file offset
 * into the address the ELF's symbols use) and its function symbols.
 *
 * The file is kept mapped read-only (libelf's ELF_C_READ_MMAP) and no fd
 * is kept: symbol names are offsets into the mapped string table, so even
 * a 30 MB libxul-class symbol table costs 16 bytes per function symbol
 * plus the page cache. Keeping the mapping also keeps a deleted or
 * replaced file's contents. Symbols are read on the first lookup, so a
 * module opened only to learn its build-id (and found in the cache) costs
 * no more than its headers. Malformed files give fewer symbols, never a
 * crash: every offset and index from the file is checked. */
#pragma once

#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELF_BUILD_ID_MAX 64

struct elf_module;

/* Maps the file behind fd (the caller keeps and closes fd). -EBADMSG when
 * it is not an ELF file, -errno otherwise. */
int elf_module_open_fd(int fd, struct elf_module **ret);
/* The same from a buffer, which is copied (the vDSO image, fuzz input). */
int elf_module_from_memory(const void *data, size_t len, struct elf_module **ret);
struct elf_module *elf_module_free(struct elf_module *m);

/* The NT_GNU_BUILD_ID bytes, or NULL (*ret_len = 0) without one. */
const uint8_t *elf_module_build_id(const struct elf_module *m, size_t *ret_len);
/* True for ET_EXEC (fixed addresses), false for ET_DYN (PIE, .so, vDSO). */
bool elf_module_is_fixed(const struct elf_module *m);

/* A file offset of a mapped page -> the ELF virtual address (what the
 * symbols use): the PT_LOAD segment holding the offset decides.
 * -ENOENT when no segment holds it. */
int elf_module_offset_to_vaddr(const struct elf_module *m, uint64_t offset, uint64_t *ret_vaddr);

/* The function symbol covering an ELF virtual address, or NULL. The name
 * lives as long as the module. *ret_start (optional) gets its address.
 * Reads the symbol table on the first call (.symtab, else .dynsym).
 * Where no symbol covers vaddr, an x86-64 PLT stub does: "NAME@plt" (as
 * perf and objdump name it), NAME from the JUMP_SLOT relocation of the
 * GOT slot a .plt/.plt.sec stub jumps through, or the GLOB_DAT one of a
 * .plt.got stub; stubs that jump elsewhere or through an unrelocated slot
 * stay nameless. The stubs are always m's own (a debug file's .plt has
 * no bytes). */
const char *elf_module_symbolize(struct elf_module *m, uint64_t vaddr, uint64_t *ret_start);
/* Number of function symbols and named PLT stubs (reads them if not done
 * yet). */
size_t elf_module_symbol_count(struct elf_module *m);

/* Names m's addresses from `debug`, a separate debug file of the same
 * build (libc6-dbg's /usr/lib/debug/.build-id/NN/REST.debug, or one found
 * by .gnu_debuglink): its .symtab is full (local functions too) while
 * m's may be only .dynsym, and its sections are NOBITS, so segments,
 * build-id and offsets stay m's. Debug files carry the binary's section
 * addresses, so their symbols need no translation. m takes debug over
 * and frees it with itself; symbols read so far are dropped. If debug
 * has no function symbols, m keeps using its own. -ESTALE when both
 * have build-ids and they differ, -EBUSY when m already has one (debug
 * stays the caller's in both cases). */
int elf_module_use_symbols_from(struct elf_module *m, struct elf_module *debug);
/* The module given to elf_module_use_symbols_from, or NULL. */
struct elf_module *elf_module_debug(const struct elf_module *m);
/* The address of a defined symbol of .dynsym named name (a linear scan:
 * for a rare lookup, not for symbolization). -ENOENT. */
int elf_module_find_dynamic_symbol(const struct elf_module *m, const char *name, uint64_t *ret_vaddr);
/* len bytes of the file's loaded contents at ELF address vaddr (all in
 * one PT_LOAD segment's file part). -ENOENT when no segment holds them. */
int elf_module_read(const struct elf_module *m, uint64_t vaddr, void *buf, size_t len);
/* m's libelf handle; lives as long as m. */
Elf *elf_module_elf(const struct elf_module *m);
/* The same, for dwarf_begin_elf (dwarf_lines_open, CFI from .debug_frame):
 * its compressed debug sections inflated first, once (see
 * image/debug-sections.h). */
Elf *elf_module_dwarf_elf(struct elf_module *m);
/* Whether m has a section of that name with contents. */
bool elf_module_has_section(const struct elf_module *m, const char *name);
