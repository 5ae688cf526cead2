/* CFI -> compact unwind tables (see cfi-table.h).
 *
 * FDEs are enumerated with dwarf_next_cfi, and their address ranges
 * decoded here from the FDE bytes (libdw has no public call that gives
 * them). Each FDE is then walked row by row: dwarf_cfi_addrframe at the
 * row's first address, dwarf_frame_info for where the row ends, and on
 * from there, so libdw runs the CFI program once per row, not once per
 * byte. Every pointer and length read from the file is checked before
 * use; libdw checks the CFI programs themselves. */
#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/cfi-table.h"
#include "util/cleanup.h"
#include "util/vec.h"

/* DWARF register numbers on x86-64 */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RIP 16

struct cfi_table {
        struct cfi_row *rows;
        size_t n;
        struct cfi_table_stats stats;
};

/* One row of one FDE with its end, before the table is assembled. */
struct piece {
        uint64_t start, end;
        uint64_t seq; /* reading order: ties between overlapping FDEs */
        struct cfi_row row;
};

typedef VEC(struct piece) piece_vec;

struct cfi_table *cfi_table_free(struct cfi_table *t) {
        if (t) {
                free(t->rows);
                free(t);
        }
        return NULL;
}

DEFINE_FREEP(struct cfi_table, cfi_table_free)

static bool fits_int32(int64_t v) {
        return v >= INT32_MIN && v <= INT32_MAX;
}

static bool fits_int16(int64_t v) {
        return v >= INT16_MIN && v <= INT16_MAX;
}

/* A DW_OP_bregN or DW_OP_bregx: its register and offset. */
static bool op_breg(const Dwarf_Op *op, uint64_t *ret_reg, int64_t *ret_off) {
        if (op->atom >= DW_OP_breg0 && op->atom <= DW_OP_breg31) {
                *ret_reg = op->atom - DW_OP_breg0;
                *ret_off = (int64_t) op->number;
                return true;
        }
        if (op->atom == DW_OP_bregx) {
                *ret_reg = op->number;
                *ret_off = (int64_t) op->number2;
                return true;
        }
        return false;
}

static bool op_lit(const Dwarf_Op *op, uint8_t *ret) {
        if (op->atom < DW_OP_lit0 || op->atom > DW_OP_lit31)
                return false;
        *ret = op->atom - DW_OP_lit0;
        return true;
}

/* The binutils .plt form: breg7 K; breg16 0; lit15; and; litT; ge; lit3;
 * shl; plus, i.e. rsp + K + ((rip & 15) >= T ? 8 : 0): the first T bytes
 * of each 16-byte entry run before its push. */
static bool match_plt(const Dwarf_Op *ops, size_t n, int64_t *ret_off, uint8_t *ret_threshold) {
        uint64_t reg, reg16;
        int64_t off, off16;
        uint8_t lit, t, shift;

        if (n != 9 || !op_breg(&ops[0], &reg, &off) || reg != REG_RSP)
                return false;
        if (!op_breg(&ops[1], &reg16, &off16) || reg16 != REG_RIP || off16 != 0)
                return false;
        if (!op_lit(&ops[2], &lit) || lit != 15 || ops[3].atom != DW_OP_and)
                return false;
        if (!op_lit(&ops[4], &t) || ops[5].atom != DW_OP_ge)
                return false;
        if (!op_lit(&ops[6], &shift) || shift != 3 || ops[7].atom != DW_OP_shl || ops[8].atom != DW_OP_plus)
                return false;
        *ret_off = off;
        *ret_threshold = t;
        return true;
}

/* dwarf_frame_cfa gives DW_OP_bregx reg off for DW_CFA_def_cfa and the
 * expression itself for DW_CFA_def_cfa_expression. */
static void decode_cfa(Dwarf_Frame *f, struct cfi_row *r) {
        Dwarf_Op *ops;
        size_t n;
        uint64_t reg;
        int64_t off;
        uint8_t t;

        r->cfa = CFI_CFA_UNSUPPORTED;
        r->cfa_off = 0;
        if (dwarf_frame_cfa(f, &ops, &n) != 0 || !ops || n == 0)
                return;
        if (n == 1 && op_breg(&ops[0], &reg, &off) && (reg == REG_RSP || reg == REG_RBP) && fits_int32(off)) {
                r->cfa = reg == REG_RSP ? CFI_CFA_RSP : CFI_CFA_RBP;
                r->cfa_off = (int32_t) off;
        } else if (n == 2 && op_breg(&ops[0], &reg, &off) && reg == REG_RSP && ops[1].atom == DW_OP_deref &&
                   fits_int32(off)) {
                /* glibc's __restore_rt: the interrupted rsp saved in the ucontext */
                r->cfa = CFI_CFA_DEREF_RSP;
                r->cfa_off = (int32_t) off;
        } else if (match_plt(ops, n, &off, &t) && fits_int32(off)) {
                r->cfa = CFI_CFA_PLT;
                r->cfa_off = (int32_t) off;
                r->plt_threshold = t;
        }
}

/* A constant pushed by one op (DW_OP_constNs/u, DW_OP_consts/u). */
static bool op_const(const Dwarf_Op *op, int64_t *ret) {
        switch (op->atom) {
        case DW_OP_const1s:
        case DW_OP_const2s:
        case DW_OP_const4s:
        case DW_OP_const8s:
        case DW_OP_consts:
        case DW_OP_const1u:
        case DW_OP_const2u:
        case DW_OP_const4u:
        case DW_OP_const8u:
        case DW_OP_constu:
                *ret = (int64_t) op->number;
                return true;
        default:
                return false;
        }
}

/* How libdw 0.188 describes a register rule (dwarf_frame_register.c):
 * same value: ops NULL; undefined: no ops; offset(N): call_frame_cfa,
 * plus_uconst N (N as an unsigned 64-bit word, so -8 wraps; no second op
 * for 0); val_offset(N): the same plus stack_value (a value, not a
 * location: not modelled); register(R): regx R; expression E:
 * call_frame_cfa (pushed first, as DWARF says) and then E. */
static uint8_t decode_reg(Dwarf_Frame *f, int regno, int16_t *ret_off) {
        Dwarf_Op mem[3], *ops;
        size_t n;
        uint64_t reg;
        int64_t off;

        *ret_off = 0;
        if (regno < 0 || dwarf_frame_register(f, regno, mem, &ops, &n) != 0)
                return CFI_REG_UNSUPPORTED;
        if (!ops)
                return CFI_REG_SAME;
        if (n == 0)
                return CFI_REG_UNDEFINED;
        if (n == 1 && ops[0].atom == DW_OP_regx && ops[0].number == (uint64_t) regno)
                return CFI_REG_SAME;
        if (ops[0].atom != DW_OP_call_frame_cfa)
                return CFI_REG_UNSUPPORTED;
        if (n == 1)
                return CFI_REG_AT_CFA;
        if (n == 2 && ops[1].atom == DW_OP_plus_uconst)
                off = (int64_t) ops[1].number;
        else if (n == 3 && op_const(&ops[1], &off) && ops[2].atom == DW_OP_plus)
                ;
        else if (n == 2 && op_breg(&ops[1], &reg, &off) && reg == REG_RSP) {
                /* expression(DW_OP_breg7 K): the CFA pushed first is left
                 * under the result, which is the address rsp + K */
                if (!fits_int16(off))
                        return CFI_REG_UNSUPPORTED;
                *ret_off = (int16_t) off;
                return CFI_REG_AT_RSP;
        } else
                return CFI_REG_UNSUPPORTED;
        if (!fits_int16(off))
                return CFI_REG_UNSUPPORTED;
        *ret_off = (int16_t) off;
        return CFI_REG_AT_CFA;
}

static bool rows_equal(const struct cfi_row *a, const struct cfi_row *b) {
        return a->cfa == b->cfa && a->cfa_off == b->cfa_off && a->ra == b->ra && a->ra_off == b->ra_off &&
               a->rbp == b->rbp && a->rbp_off == b->rbp_off && a->flags == b->flags &&
               a->plt_threshold == b->plt_threshold;
}

/* libdw runs an FDE's program from its start for every row, so a row
 * costs the whole program (the CIE's initial program is run once and
 * kept). Past this many instruction bytes (and state copies) run for
 * one FDE, its remaining rows are dropped, so crafted CFI cannot make a
 * build take minutes; the largest real FDEs stay far below it. */
#define FDE_WORK_MAX ((size_t) 1 << 27)

/* Walks [lo, hi) of one FDE row by row; row_cost is what libdw runs for
 * one row. A row libdw cannot compute ends the FDE: what came before it
 * is kept. */
static int walk_fde(Dwarf_CFI *cfi, uint64_t lo, uint64_t hi, size_t row_cost, uint64_t *seq, piece_vec *out) {
        uint64_t addr = lo;
        size_t work = 0;

        while (addr < hi && row_cost <= FDE_WORK_MAX - work) {
                work += row_cost;
                Dwarf_Frame *f = NULL;
                Dwarf_Addr start, end;
                bool signal = false;

                if (dwarf_cfi_addrframe(cfi, addr, &f) != 0 || !f)
                        break;
                int ra_reg = dwarf_frame_info(f, &start, &end, &signal);
                /* another FDE that libdw found first may hold addr: its row
                 * still holds addr, and only [addr, end) of it is used */
                if (ra_reg < 0 || start > addr || end <= addr) {
                        free(f);
                        break;
                }
                struct piece p = {
                        .start = addr,
                        .end = MIN((uint64_t) end, hi),
                        .seq = (*seq)++,
                };
                decode_cfa(f, &p.row);
                p.row.ra = decode_reg(f, ra_reg, &p.row.ra_off);
                p.row.rbp = decode_reg(f, REG_RBP, &p.row.rbp_off);
                p.row.flags = signal ? CFI_ROW_SIGNAL : 0;
                free(f);
                if (vec_push(out, p) < 0)
                        return -ENOMEM;
                addr = p.end;
        }
        return 0;
}

static bool read_uleb(const uint8_t **p, const uint8_t *end, uint64_t *ret) {
        uint64_t v = 0;
        for (unsigned shift = 0; *p < end; shift += 7) {
                uint8_t b = *(*p)++;
                if (shift >= 64 || (shift == 63 && (b & 0x7e)))
                        return false;
                v |= (uint64_t) (b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *ret = v;
                        return true;
                }
        }
        return false;
}

static bool read_sleb(const uint8_t **p, const uint8_t *end, int64_t *ret) {
        uint64_t v = 0;
        unsigned shift = 0;
        while (*p < end) {
                uint8_t b = *(*p)++;
                if (shift >= 64)
                        return false;
                v |= (uint64_t) (b & 0x7f) << shift;
                shift += 7;
                if (!(b & 0x80)) {
                        if (shift < 64 && (b & 0x40))
                                v |= ~(uint64_t) 0 << shift;
                        *ret = (int64_t) v;
                        return true;
                }
        }
        return false;
}

/* Little-endian: the builder only takes ELFDATA2LSB files. */
static bool read_fixed(const uint8_t **p, const uint8_t *end, size_t size, bool is_signed, uint64_t *ret) {
        uint64_t v = 0;

        if ((size_t) (end - *p) < size)
                return false;
        for (size_t i = 0; i < size; i++)
                v |= (uint64_t) (*p)[i] << (8 * i);
        if (is_signed && size < 8 && (v >> (8 * size - 1)) & 1)
                v |= ~(uint64_t) 0 << (8 * size);
        *p += size;
        *ret = v;
        return true;
}

/* One pointer in DW_EH_PE encoding enc at *p; field_vaddr is the ELF
 * address of the field (for pcrel). With apply false only the value's
 * format counts, as for an FDE's address_range. Bases the builder does
 * not know (textrel, datarel, funcrel, aligned) and indirect pointers are
 * rejected, never read as absolute. */
static bool read_encoded(uint8_t enc, const uint8_t **p, const uint8_t *end, uint64_t field_vaddr, bool apply,
                         uint64_t *ret) {
        uint64_t v;
        int64_t s;

        if (enc == DW_EH_PE_omit)
                return false;
        switch (enc & 0x0f) {
        case DW_EH_PE_absptr:
        case DW_EH_PE_udata8:
        case DW_EH_PE_sdata8:
                if (!read_fixed(p, end, 8, false, &v))
                        return false;
                break;
        case DW_EH_PE_udata2:
        case DW_EH_PE_sdata2:
                if (!read_fixed(p, end, 2, enc & DW_EH_PE_signed, &v))
                        return false;
                break;
        case DW_EH_PE_udata4:
        case DW_EH_PE_sdata4:
                if (!read_fixed(p, end, 4, enc & DW_EH_PE_signed, &v))
                        return false;
                break;
        case DW_EH_PE_uleb128:
                if (!read_uleb(p, end, &v))
                        return false;
                break;
        case DW_EH_PE_sleb128:
                if (!read_sleb(p, end, &s))
                        return false;
                v = (uint64_t) s;
                break;
        default:
                return false;
        }
        if (apply) {
                if (enc & DW_EH_PE_indirect)
                        return false;
                switch (enc & 0x70) {
                case DW_EH_PE_absptr:
                        break;
                case DW_EH_PE_pcrel:
                        v += field_vaddr;
                        break;
                default:
                        return false;
                }
        }
        *ret = v;
        return true;
}

/* The FDE pointer encoding a CIE gives in its "zR" augmentation data;
 * absptr without 'R'. False for augmentations that hide where 'R' is. */
static bool cie_fde_encoding(const Dwarf_CIE *cie, uint8_t *ret) {
        const char *aug = cie->augmentation;
        const uint8_t *p = cie->augmentation_data, *end = p + cie->augmentation_data_size;
        uint64_t skip;

        *ret = DW_EH_PE_absptr;
        if (aug[0] == '\0')
                return true;
        if (aug[0] != 'z')
                return false;
        for (aug++; *aug; aug++)
                switch (*aug) {
                case 'R':
                        if (p >= end)
                                return false;
                        *ret = *p;
                        return true;
                case 'L':
                        if (p >= end)
                                return false;
                        p++;
                        break;
                case 'P': {
                        if (p >= end)
                                return false;
                        uint8_t enc = *p++;
                        if (!read_encoded(enc, &p, end, 0, false, &skip))
                                return false;
                        break;
                }
                case 'S':
                case 'B':
                case 'G':
                        break;
                default:
                        return false;
                }
        return true;
}

/* Register numbers above this make the CFI unusable here: x86-64 has
 * about 150, and libdw grows every frame state to the highest register
 * named (up to 2 GiB for one DW_CFA_offset_extended), for every row. */
#define CFI_MAX_REGISTER 255

/* What libdw would be asked to run for one CIE or FDE program. */
struct program_cost {
        size_t bytes;     /* instruction bytes */
        size_t remembers; /* DW_CFA_remember_state: libdw copies the state */
};

/* Checks a CFI program before libdw runs it: every register operand at
 * most CFI_MAX_REGISTER, every operand inside the program. An opcode not
 * known here ends the scan: libdw stops at it too, so nothing after it
 * runs. fde_enc sizes DW_CFA_set_loc's operand. */
static bool program_ok(const uint8_t *p, const uint8_t *end, uint8_t fde_enc, struct program_cost *cost) {
        uint64_t reg, v;
        int64_t sv;

        cost->bytes += (size_t) (end - p);
        while (p < end) {
                uint8_t op = *p++;
                switch (op >> 6) {
                case 1: /* DW_CFA_advance_loc */
                        continue;
                case 2: /* DW_CFA_offset */
                        if (!read_uleb(&p, end, &v))
                                return false;
                        continue;
                case 3: /* DW_CFA_restore */
                        continue;
                }
                switch (op) {
                case DW_CFA_nop:
                case DW_CFA_restore_state:
                case DW_CFA_GNU_window_save:
                        break;
                case DW_CFA_remember_state:
                        cost->remembers++;
                        break;
                case DW_CFA_set_loc:
                        if (!read_encoded(fde_enc, &p, end, 0, false, &v))
                                return false;
                        break;
                case DW_CFA_advance_loc1:
                case DW_CFA_advance_loc2:
                case DW_CFA_advance_loc4:
                case DW_CFA_MIPS_advance_loc8: {
                        size_t n = op == DW_CFA_advance_loc1 ? 1 : op == DW_CFA_advance_loc2 ? 2
                                                             : op == DW_CFA_advance_loc4 ? 4 : 8;
                        if ((size_t) (end - p) < n)
                                return false;
                        p += n;
                        break;
                }
                case DW_CFA_def_cfa_offset:
                case DW_CFA_GNU_args_size:
                        if (!read_uleb(&p, end, &v))
                                return false;
                        break;
                case DW_CFA_def_cfa_offset_sf:
                        if (!read_sleb(&p, end, &sv))
                                return false;
                        break;
                case DW_CFA_restore_extended:
                case DW_CFA_undefined:
                case DW_CFA_same_value:
                case DW_CFA_def_cfa_register:
                        if (!read_uleb(&p, end, &reg) || reg > CFI_MAX_REGISTER)
                                return false;
                        break;
                case DW_CFA_offset_extended:
                case DW_CFA_register:
                case DW_CFA_def_cfa:
                case DW_CFA_val_offset:
                case DW_CFA_GNU_negative_offset_extended:
                        if (!read_uleb(&p, end, &reg) || reg > CFI_MAX_REGISTER || !read_uleb(&p, end, &v))
                                return false;
                        if (op == DW_CFA_register && v > CFI_MAX_REGISTER)
                                return false;
                        break;
                case DW_CFA_offset_extended_sf:
                case DW_CFA_def_cfa_sf:
                case DW_CFA_val_offset_sf:
                        if (!read_uleb(&p, end, &reg) || reg > CFI_MAX_REGISTER || !read_sleb(&p, end, &sv))
                                return false;
                        break;
                case DW_CFA_def_cfa_expression:
                        if (!read_uleb(&p, end, &v) || v > (uint64_t) (end - p))
                                return false;
                        p += v;
                        break;
                case DW_CFA_expression:
                case DW_CFA_val_expression:
                        if (!read_uleb(&p, end, &reg) || reg > CFI_MAX_REGISTER || !read_uleb(&p, end, &v) ||
                            v > (uint64_t) (end - p))
                                return false;
                        p += v;
                        break;
                default:
                        return true;
                }
        }
        return true;
}

/* Reads every FDE of one CFI section (.eh_frame when eh, else
 * .debug_frame) at ELF address sec_vaddr into out. */
static int read_section(Dwarf_CFI *cfi, const unsigned char *ident, Elf_Data *data, uint64_t sec_vaddr, bool eh,
                        uint64_t *seq, piece_vec *out, struct cfi_table_stats *stats) {
        /* one CIE usually serves every FDE: remember the last one read */
        Dwarf_Off cie_off = (Dwarf_Off) -1;
        uint8_t cie_enc = 0;
        bool cie_ok = false, cie_z = false;
        const uint8_t *base = data->d_buf;

        for (Dwarf_Off off = 0;;) {
                Dwarf_CFI_Entry e;
                Dwarf_Off next = off;
                int r = dwarf_next_cfi(ident, data, eh, off, &next, &e);
                if (r > 0)
                        break;
                if (next <= off || next == (Dwarf_Off) -1)
                        break;
                off = next;
                if (r < 0 || dwarf_cfi_cie_p(&e))
                        continue;

                if (e.fde.CIE_pointer != cie_off) {
                        Dwarf_CFI_Entry c;
                        Dwarf_Off cnext;
                        struct program_cost cost = {};
                        cie_off = e.fde.CIE_pointer;
                        cie_ok = cie_off < data->d_size &&
                                 dwarf_next_cfi(ident, data, eh, cie_off, &cnext, &c) == 0 &&
                                 dwarf_cfi_cie_p(&c) && cie_fde_encoding(&c.cie, &cie_enc) &&
                                 program_ok(c.cie.initial_instructions, c.cie.initial_instructions_end, cie_enc,
                                            &cost);
                        cie_z = cie_ok && c.cie.augmentation[0] == 'z';
                }
                if (!cie_ok)
                        continue;

                const uint8_t *p = e.fde.start, *end = e.fde.end;
                uint64_t lo, range, aug_len;
                if (p < base || end > base + data->d_size || p > end)
                        continue;
                if (!read_encoded(cie_enc, &p, end, sec_vaddr + (uint64_t) (e.fde.start - base), true, &lo) ||
                    !read_encoded(cie_enc, &p, end, 0, false, &range))
                        continue;
                stats->fdes++;
                if (cie_z && (!read_uleb(&p, end, &aug_len) || aug_len > (uint64_t) (end - p)))
                        continue;
                if (cie_z)
                        p += aug_len;
                struct program_cost cost = {};
                if (!program_ok(p, end, cie_enc, &cost))
                        continue;
                if (range == 0 || lo > UINT64_MAX - range)
                        continue;
                int k = walk_fde(cfi, lo, lo + range, cost.bytes + 1 + cost.remembers * 64, seq, out);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int piece_cmp(const void *a, const void *b) {
        const struct piece *x = a, *y = b;
        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts pieces and cuts overlaps in favour of the piece that starts
 * first (of two that start together, the one read first), in place. */
static void pieces_untangle(piece_vec *v) {
        size_t k = 0;
        uint64_t covered = 0;

        if (v->n == 0)
                return;
        qsort(v->v, v->n, sizeof(v->v[0]), piece_cmp);
        for (size_t i = 0; i < v->n; i++) {
                struct piece p = v->v[i];
                if (k > 0 && p.start < covered)
                        p.start = covered;
                if (p.start >= p.end)
                        continue;
                v->v[k++] = p;
                covered = p.end;
        }
        v->n = k;
}

/* Appends to out the parts of dbg's pieces that no piece of eh covers;
 * both are untangled (sorted, disjoint, so eh's ends are sorted too). */
static int pieces_add_uncovered(piece_vec *out, const piece_vec *eh, const piece_vec *dbg) {
        for (size_t i = 0; i < dbg->n; i++) {
                struct piece p = dbg->v[i];
                /* the first eh piece that ends after p starts */
                size_t lo = 0, hi = eh->n;
                while (lo < hi) {
                        size_t mid = lo + (hi - lo) / 2;
                        if (eh->v[mid].end <= p.start)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                uint64_t cur = p.start;
                for (size_t j = lo; j < eh->n && eh->v[j].start < p.end && cur < p.end; j++) {
                        if (eh->v[j].start > cur) {
                                struct piece part = p;
                                part.start = cur;
                                part.end = eh->v[j].start;
                                if (vec_push(out, part) < 0)
                                        return -ENOMEM;
                        }
                        cur = MAX(cur, eh->v[j].end);
                }
                if (cur < p.end) {
                        p.start = cur;
                        if (vec_push(out, p) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

static int table_push(struct cfi_table *t, size_t *cap, const struct cfi_row *row) {
        if (t->n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 64;
                struct cfi_row *nr = realloc(t->rows, ncap * sizeof(*nr));
                if (!nr)
                        return -ENOMEM;
                t->rows = nr;
                *cap = ncap;
        }
        t->rows[t->n++] = *row;
        return 0;
}

/* Sorted disjoint pieces -> rows: equal neighbours merged, a NONE row
 * wherever a piece does not end where the next starts, and after the
 * last one. */
static int table_assemble(struct cfi_table *t, const piece_vec *all) {
        size_t cap = 0;
        const struct cfi_row none = { .cfa = CFI_CFA_NONE };

        for (size_t i = 0; i < all->n; i++) {
                const struct piece *p = &all->v[i];
                bool contiguous = i > 0 && all->v[i - 1].end == p->start;
                if (i > 0 && !contiguous) {
                        struct cfi_row gap = none;
                        gap.start = all->v[i - 1].end;
                        if (table_push(t, &cap, &gap) < 0)
                                return -ENOMEM;
                }
                if (contiguous && rows_equal(&t->rows[t->n - 1], &p->row))
                        continue;
                struct cfi_row r = p->row;
                r.start = p->start;
                if (table_push(t, &cap, &r) < 0)
                        return -ENOMEM;
        }
        if (all->n > 0) {
                struct cfi_row end = none;
                end.start = all->v[all->n - 1].end;
                if (table_push(t, &cap, &end) < 0)
                        return -ENOMEM;
        }
        if (t->n > 0 && t->n < cap) {
                struct cfi_row *nr = realloc(t->rows, t->n * sizeof(*nr));
                if (nr)
                        t->rows = nr;
        }
        for (size_t i = 0; i < t->n; i++)
                if (t->rows[i].cfa == CFI_CFA_UNSUPPORTED || t->rows[i].ra == CFI_REG_UNSUPPORTED)
                        t->stats.unsupported++;
        t->stats.rows = t->n;
        t->stats.bytes = sizeof(*t) + t->n * sizeof(t->rows[0]);
        return 0;
}

/* A section by name with its contents in the file (not NOBITS). */
static Elf_Scn *find_section(Elf *elf, const char *name, GElf_Shdr *ret_shdr) {
        size_t shstrndx;
        Elf_Scn *scn = NULL;

        if (elf_getshdrstrndx(elf, &shstrndx) != 0)
                return NULL;
        while ((scn = elf_nextscn(elf, scn))) {
                const char *n;
                if (!gelf_getshdr(scn, ret_shdr) || ret_shdr->sh_type == SHT_NOBITS)
                        continue;
                n = elf_strptr(elf, shstrndx, ret_shdr->sh_name);
                if (n && strcmp(n, name) == 0)
                        return scn;
        }
        return NULL;
}

static Elf_Data *section_data(Elf_Scn *scn) {
        Elf_Data *d = elf_getdata(scn, NULL);
        return d && d->d_buf && d->d_size > 0 ? d : NULL;
}

/* The rows of elf's .debug_frame into out; 0 when it has none. */
static int read_debug_frame(Elf *elf, const unsigned char *ident, uint64_t *seq, piece_vec *out,
                            struct cfi_table_stats *stats) {
        GElf_Shdr shdr;
        Elf_Scn *scn;
        Elf_Data *data;
        int r = 0;

        if (!find_section(elf, ".debug_frame", &shdr))
                return 0;
        /* dwarf_begin_elf decompresses .debug_frame in place, so the
         * section's data is read after it */
        Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
        Dwarf_CFI *cfi = dw ? dwarf_getcfi(dw) : NULL;
        scn = find_section(elf, ".debug_frame", &shdr);
        if (cfi && scn && (data = section_data(scn)))
                r = read_section(cfi, ident, data, 0, false, seq, out, stats);
        if (dw)
                dwarf_end(dw);
        return r;
}

int cfi_table_build(Elf *elf, Elf *debug, struct cfi_table **ret) {
        _cleanup_(cfi_table_freep) struct cfi_table *t = NULL;
        _cleanup_(vec_freep) piece_vec eh = {}, dbg = {};
        const unsigned char *ident;
        GElf_Ehdr ehdr;
        GElf_Shdr shdr;
        Elf_Scn *scn;
        Elf_Data *data;
        uint64_t seq = 0;
        int r = 0;

        if (!elf)
                return -EINVAL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->stats.bytes = sizeof(*t);

        /* register numbers and pointer sizes below are x86-64's */
        ident = (const unsigned char *) elf_getident(elf, NULL);
        if (!ident || !gelf_getehdr(elf, &ehdr) || ehdr.e_machine != EM_X86_64 || ident[EI_CLASS] != ELFCLASS64 ||
            ident[EI_DATA] != ELFDATA2LSB) {
                *ret = TAKE_PTR(t);
                return 0;
        }

        scn = find_section(elf, ".eh_frame", &shdr);
        if (scn && (data = section_data(scn))) {
                Dwarf_CFI *cfi = dwarf_getcfi_elf(elf);
                if (cfi) {
                        r = read_section(cfi, ident, data, shdr.sh_addr, true, &seq, &eh, &t->stats);
                        dwarf_cfi_end(cfi);
                        if (r < 0)
                                return r;
                }
        }

        /* the binary's own .debug_frame, else its debug file's (strip
         * moves it there with the rest of the debug sections) */
        bool own = find_section(elf, ".debug_frame", &shdr) != NULL;
        r = read_debug_frame(own || !debug ? elf : debug, ident, &seq, &dbg, &t->stats);
        if (r < 0)
                return r;

        pieces_untangle(&eh);
        pieces_untangle(&dbg);
        if (dbg.n > 0) {
                _cleanup_(vec_freep) piece_vec all = {};
                if (vec_append(&all, eh.v, eh.n) < 0 || pieces_add_uncovered(&all, &eh, &dbg) < 0)
                        return -ENOMEM;
                qsort(all.v, all.n, sizeof(all.v[0]), piece_cmp);
                r = table_assemble(t, &all);
        } else
                r = table_assemble(t, &eh);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

const struct cfi_row *cfi_table_find(const struct cfi_table *t, uint64_t vaddr) {
        size_t lo = 0, hi;

        if (!t)
                return NULL;
        /* the first row that starts after vaddr */
        hi = t->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (t->rows[mid].start <= vaddr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == 0 || t->rows[lo - 1].cfa == CFI_CFA_NONE)
                return NULL;
        return &t->rows[lo - 1];
}

size_t cfi_table_rows(const struct cfi_table *t, const struct cfi_row **ret_rows) {
        *ret_rows = t ? t->rows : NULL;
        return t ? t->n : 0;
}

void cfi_table_get_stats(const struct cfi_table *t, struct cfi_table_stats *ret) {
        *ret = t ? t->stats : (struct cfi_table_stats) {};
}

int cfi_table_from_rows(const struct cfi_row *rows, size_t n, struct cfi_table **ret) {
        _cleanup_(cfi_table_freep) struct cfi_table *t = calloc(1, sizeof(*t));
        size_t cap = 0;

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && rows[i].start < rows[i - 1].start)
                        return -EINVAL;
                /* a later row at the same address wins */
                if (t->n > 0 && t->rows[t->n - 1].start == rows[i].start)
                        t->n--;
                if (t->n > 0 && rows_equal(&t->rows[t->n - 1], &rows[i]))
                        continue;
                if (table_push(t, &cap, &rows[i]) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < t->n; i++)
                if (t->rows[i].cfa == CFI_CFA_UNSUPPORTED || t->rows[i].ra == CFI_REG_UNSUPPORTED)
                        t->stats.unsupported++;
        t->stats.rows = t->n;
        t->stats.bytes = sizeof(*t) + cap * sizeof(t->rows[0]);
        *ret = TAKE_PTR(t);
        return 0;
}
