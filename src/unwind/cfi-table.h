/* Compact unwind tables: for every address range of one ELF file, how to
 * find the caller's frame on x86-64, built once per module from its
 * .eh_frame (and .debug_frame for ranges .eh_frame does not cover) with
 * libdw, and then read by the unwinder for every sample.
 *
 * libdw interprets the CFI programs (dwarf_cfi_addrframe) and hands back
 * rules as DWARF expressions; the builder matches them against the few
 * forms compilers and glibc really emit and keeps only what unwinding
 * needs: the CFA (the caller's stack pointer), where the return address
 * and the caller's rbp are saved. Other callee-saved registers are not
 * tracked: only rsp, rbp and rip ever take part in finding a frame.
 * A form the table does not model is kept as UNSUPPORTED so the unwinder
 * can count it, never guessed. */
#pragma once

#include <libelf.h>
#include <stddef.h>
#include <stdint.h>

enum cfi_cfa_rule {
        CFI_CFA_NONE,        /* no CFI covers this range */
        CFI_CFA_RSP,         /* CFA = rsp + cfa_off */
        CFI_CFA_RBP,         /* CFA = rbp + cfa_off */
        CFI_CFA_DEREF_RSP,   /* CFA = *(rsp + cfa_off): signal frames */
        /* PLT entries: CFA = rsp + cfa_off + ((rip & 15) >= plt_threshold ? 8 : 0),
         * the expression binutils writes for .plt */
        CFI_CFA_PLT,
        CFI_CFA_UNSUPPORTED, /* another expression or base register */
};

enum cfi_reg_rule {
        CFI_REG_UNDEFINED,   /* ra: this is the outermost frame; rbp: lost */
        CFI_REG_SAME,        /* unchanged by this frame */
        CFI_REG_AT_CFA,      /* saved at CFA + off */
        CFI_REG_AT_RSP,      /* saved at rsp + off (signal frames: DW_OP_breg7 off) */
        CFI_REG_UNSUPPORTED,
};

/* The frame is a signal frame (the CIE's "S"): the caller's address is
 * where it was interrupted, not a return address. */
#define CFI_ROW_SIGNAL 0x1

struct cfi_row {
        /* ELF virtual address where the row starts; it ends where the
         * next row starts */
        uint64_t start;
        int32_t cfa_off;
        int16_t ra_off, rbp_off;
        uint8_t cfa;           /* enum cfi_cfa_rule */
        uint8_t ra, rbp;       /* enum cfi_reg_rule */
        uint8_t flags;         /* CFI_ROW_* */
        uint8_t plt_threshold; /* CFI_CFA_PLT only */
};

struct cfi_table;

struct cfi_table_stats {
        size_t fdes;        /* FDEs read */
        size_t rows;        /* rows kept, after merging equal neighbours */
        size_t unsupported; /* rows with an UNSUPPORTED CFA or ra rule */
        size_t bytes;       /* memory the table holds */
};

/* Builds the table of one ELF file. debug, when not NULL, is its separate
 * debug file (same build, same addresses): its .debug_frame is read when
 * elf has none of its own, as strip leaves it (code built without
 * .eh_frame, -fno-asynchronous-unwind-tables, has its CFI only there). A
 * file without CFI gives an empty table, not an error; CFI that libdw
 * cannot read gives what was read before it. -ENOMEM. -EINVAL for a NULL
 * elf.
 *
 * Details an unwinder may rely on: a file that is not x86-64 ELF64
 * little-endian gives an empty table. Where .eh_frame and .debug_frame
 * both cover an address, .eh_frame's row is kept. val_offset rules, and
 * a register rule that names another register, are UNSUPPORTED; so is
 * an offset that does not fit the row's field. An FDE whose program names
 * a register above 255, or whose pointers use a base other than absolute
 * or pc-relative, is left out (its range then has no row); an FDE so long
 * that libdw would run its program for minutes keeps only its first
 * rows. elf and debug stay the caller's and may be freed once this returns. */
int cfi_table_build(Elf *elf, Elf *debug, struct cfi_table **ret);
struct cfi_table *cfi_table_free(struct cfi_table *t);
/* A table of rows made elsewhere (code without CFI whose frames are
 * known another way), sorted by start; equal neighbours are merged and
 * of two rows at one address the later is kept. -EINVAL when unsorted. */
int cfi_table_from_rows(const struct cfi_row *rows, size_t n, struct cfi_table **ret);

/* The row covering an ELF virtual address, or NULL when no CFI covers it
 * (never a CFI_CFA_NONE row). */
const struct cfi_row *cfi_table_find(const struct cfi_table *t, uint64_t vaddr);
/* All rows, sorted by start, gaps as CFI_CFA_NONE rows (for tests and for
 * loading into BPF maps). */
size_t cfi_table_rows(const struct cfi_table *t, const struct cfi_row **ret_rows);
void cfi_table_get_stats(const struct cfi_table *t, struct cfi_table_stats *ret);
