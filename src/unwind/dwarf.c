/* DWARF CFI unwinding of a copied user stack, x86-64.
 *
 * Each step finds the frame's module through the process image, the row
 * of its unwind table (cfi-table.c, built on first use and kept on the
 * module) covering the pc, and from the row's rules the caller's stack
 * pointer (the CFA), return address and rbp, reading saved values only
 * from the sample's stack copy. Memory outside the copy is never read:
 * the target is not touched.
 *
 * In auto mode, code without any CFI (JIT code in anonymous memory, a
 * module built without unwind tables) is stepped through by its frame
 * pointer, which is how such code keeps its frames. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfi-table.h"
#include "kernel-tables.h"
#include "unwind-internal.h"
#include "cprof/image.h"
#include "cprof/unwind.h"
#include "image/elf-module.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/time-util.h"

struct unwinder {
        struct image_store *img;
        struct unwinder_options opts;
        struct unwinder_stats stats;
};

const char *unwind_end_name(enum unwind_end e) {
        static const char *const names[_UNWIND_END_MAX] = {
                [UNWIND_END_COMPLETE] = "complete",
                [UNWIND_END_NO_CFI] = "no CFI",
                [UNWIND_END_UNSUPPORTED] = "unsupported CFI",
                [UNWIND_END_NOT_COPIED] = "stack not readable",
                [UNWIND_END_DEPTH] = "depth limit",
                [UNWIND_END_BAD_FRAME] = "bad frame",
        };
        return (unsigned) e < _UNWIND_END_MAX ? names[e] : "?";
}

int unwinder_new(struct image_store *img, const struct unwinder_options *o, struct unwinder **ret) {
        struct unwinder *u = calloc(1, sizeof(*u));

        if (!u)
                return -ENOMEM;
        u->img = img;
        u->opts = *o;
        if (u->opts.max_depth == 0)
                u->opts.max_depth = UNWIND_DEFAULT_DEPTH;
        *ret = u;
        return 0;
}

struct unwinder *unwinder_free(struct unwinder *u) {
        free(u);
        return NULL;
}

size_t unwinder_max_frames(const struct unwinder *u) {
        return SAMPLE_MAX_STACK + MAX(u->opts.max_depth, (size_t) SAMPLE_MAX_STACK);
}

void unwinder_get_stats(const struct unwinder *u, struct unwinder_stats *ret) {
        *ret = u->stats;
}

void unwinder_count_table(struct unwinder *u, const struct cfi_table *t) {
        struct cfi_table_stats ts;
        cfi_table_get_stats(t, &ts);
        u->stats.tables++;
        u->stats.table_rows += ts.rows;
        u->stats.table_bytes += ts.bytes;
}

static void module_unwind_free(void *data) {
        struct module_unwind *mu = data;
        if (!mu)
                return;
        module_unwind_free(mu->copies);
        if (mu->kt && mu->kernel_loaded)
                kernel_tables_release_rows(mu->kt, mu->kernel_first, mu->kernel_n);
        cfi_table_free(mu->table);
        free(mu);
}

/* The Elf for cfi_table_build: libdw reads a .debug_frame through
 * dwarf_begin_elf, which wants the debug sections inflated first; a file
 * without one is only read for .eh_frame, and inflates nothing. */
static Elf *cfi_elf(struct elf_module *m) {
        return elf_module_has_section(m, ".debug_frame") ? elf_module_dwarf_elf(m) : elf_module_elf(m);
}

struct module_unwind *unwinder_module(struct unwinder *u, uint32_t module) {
        struct image_module *m = image_module(u->img, module);
        if (!m)
                return NULL;
        struct module_unwind *mu = image_module_data(m, IMAGE_SLOT_UNWIND);
        if (mu)
                return mu;
        struct elf_module *em = image_module_elf(m);
        if (!em)
                return NULL;
        mu = calloc(1, sizeof(*mu));
        if (!mu)
                return NULL;
        uint64_t t0 = now_ns();
        if (u->opts.find_debug_file)
                u->opts.find_debug_file(u->opts.userdata, module);
        struct elf_module *debug = elf_module_debug(em);
        int r = cfi_table_build(cfi_elf(em), debug ? cfi_elf(debug) : NULL, &mu->table);
        if (r < 0) {
                log_debug_errno(r, "unwind: no table for %s: %s", image_module_path(m), strerror(-r));
                free(mu);
                return NULL;
        }
        struct cfi_table_stats ts;
        cfi_table_get_stats(mu->table, &ts);
        unwinder_count_table(u, mu->table);
        u->stats.table_build_ns += now_ns() - t0;
        log_debug("unwind: %s: %zu rows from %zu FDEs in %.1f ms", image_module_path(m), ts.rows,
                  ts.fdes, (double) (now_ns() - t0) / 1e6);
        image_module_set_data(m, IMAGE_SLOT_UNWIND, mu, module_unwind_free);
        return mu;
}

static int prepare_span(void *userdata, const struct image_span *span) {
        if (span->module)
                (void) unwinder_module(userdata, span->module);
        else if (span->copies)
                (void) unwinder_copies(userdata, span->copies);
        return 0;
}

int unwinder_prepare_process(struct unwinder *u, pid_t pid, uint32_t gen) {
        if (u->opts.mode == UNWIND_FP)
                return 0;
        return image_for_each_span(u->img, pid, gen, prepare_span, u);
}

/* The module's table, built on first use; NULL when it has no ELF file
 * to build one from. A module without CFI gets an empty table, so it is
 * looked at once. */
static const struct cfi_table *module_table(struct unwinder *u, uint32_t module) {
        struct module_unwind *mu = unwinder_module(u, module);
        return mu ? mu->table : NULL;
}

/* The registers of one frame being unwound. */
struct regs {
        uint64_t pc, sp, bp;
        bool bp_known;
        bool exact; /* pc is where the frame was interrupted, not a return address */
};

struct copy {
        const uint8_t *data;
        uint64_t addr, len;
};

static bool read_u64(const struct copy *c, uint64_t addr, uint64_t *ret) {
        if (addr < c->addr || addr - c->addr > c->len || c->len - (addr - c->addr) < 8)
                return false;
        memcpy(ret, c->data + (addr - c->addr), 8);
        return true;
}

/* Where a register was saved by this frame, per its rule. */
static enum unwind_end saved_reg(const struct copy *c, uint8_t rule, int16_t off, uint64_t cfa,
                                 const struct regs *r, uint64_t *ret, bool *ret_known) {
        *ret_known = false;
        switch (rule) {
        case CFI_REG_UNDEFINED:
                return UNWIND_END_COMPLETE;
        case CFI_REG_SAME:
                *ret_known = true;
                return UNWIND_END_COMPLETE;
        case CFI_REG_AT_CFA:
                if (!read_u64(c, cfa + (uint64_t) (int64_t) off, ret))
                        return UNWIND_END_NOT_COPIED;
                *ret_known = true;
                return UNWIND_END_COMPLETE;
        case CFI_REG_AT_RSP:
                if (!read_u64(c, r->sp + (uint64_t) (int64_t) off, ret))
                        return UNWIND_END_NOT_COPIED;
                *ret_known = true;
                return UNWIND_END_COMPLETE;
        default:
                return UNWIND_END_UNSUPPORTED;
        }
}

/* One step by CFI. Returns COMPLETE with *ret_done set at the outermost
 * frame, COMPLETE with the caller in *r otherwise, or why it stopped. */
static enum unwind_end step_cfi(const struct copy *c, const struct cfi_row *row, struct regs *r,
                                bool *ret_done) {
        uint64_t cfa, base, ra, bp = r->bp;
        bool known, bp_known;
        enum unwind_end e;

        *ret_done = false;
        switch (row->cfa) {
        case CFI_CFA_RSP:
                cfa = r->sp + (uint64_t) (int64_t) row->cfa_off;
                break;
        case CFI_CFA_RBP:
                if (!r->bp_known)
                        return UNWIND_END_BAD_FRAME;
                cfa = r->bp + (uint64_t) (int64_t) row->cfa_off;
                break;
        case CFI_CFA_DEREF_RSP:
                if (!read_u64(c, r->sp + (uint64_t) (int64_t) row->cfa_off, &cfa))
                        return UNWIND_END_NOT_COPIED;
                break;
        case CFI_CFA_PLT:
                base = r->sp + (uint64_t) (int64_t) row->cfa_off;
                cfa = base + ((r->pc & 15) >= row->plt_threshold ? 8 : 0);
                break;
        default:
                return UNWIND_END_UNSUPPORTED;
        }

        if (row->ra == CFI_REG_UNDEFINED) {
                *ret_done = true;
                return UNWIND_END_COMPLETE;
        }
        e = saved_reg(c, row->ra, row->ra_off, cfa, r, &ra, &known);
        if (e != UNWIND_END_COMPLETE)
                return e;
        if (!known) /* "same value" for the return address: no caller */
                return UNWIND_END_BAD_FRAME;
        /* rbp is needed only by a caller whose CFA is rbp-based: a slot
         * it cannot be read from makes it unknown, not the stack cut
         * (epilogues keep the rule for a slot already popped, below sp,
         * where a copy from sp does not reach) */
        e = saved_reg(c, row->rbp, row->rbp_off, cfa, r, &bp, &bp_known);
        if (row->rbp == CFI_REG_SAME)
                bp_known = r->bp_known;
        else if (e != UNWIND_END_COMPLETE)
                bp_known = false;

        /* the stack grows down: a caller's frame is above ours, except
         * across a signal frame (the handler may run on sigaltstack) */
        if ((cfa <= r->sp && !(row->flags & CFI_ROW_SIGNAL)) || ra == 0)
                return UNWIND_END_BAD_FRAME;
        r->exact = row->flags & CFI_ROW_SIGNAL;
        r->pc = ra;
        r->sp = cfa;
        r->bp = bp;
        r->bp_known = bp_known;
        return UNWIND_END_COMPLETE;
}

/* One step by frame pointer: the frame's rbp points at the caller's
 * saved rbp, the return address above it. rbp 0 is the ABI's mark of the
 * outermost frame. */
static enum unwind_end step_fp(const struct copy *c, struct regs *r, bool *ret_done) {
        uint64_t bp, ra;

        *ret_done = false;
        if (!r->bp_known)
                return UNWIND_END_NO_CFI;
        if (r->bp == 0) {
                *ret_done = true;
                return UNWIND_END_COMPLETE;
        }
        if (r->bp < r->sp || (r->bp & 7))
                return UNWIND_END_NO_CFI;
        if (!read_u64(c, r->bp, &bp) || !read_u64(c, r->bp + 8, &ra))
                return UNWIND_END_NOT_COPIED;
        if (ra == 0)
                return UNWIND_END_BAD_FRAME;
        r->exact = false;
        r->sp = r->bp + 16;
        r->pc = ra;
        r->bp = bp;
        return UNWIND_END_COMPLETE;
}

/* Unwinds the user stack of s into out[] (room for max); returns the
 * number of frames and why it ended. */
static size_t unwind_user(struct unwinder *u, const struct raw_sample *s, struct unwound_frame *out,
                          size_t max, enum unwind_end *ret_end) {
        struct copy c = { s->ustack_copy, s->ustack_copy_addr, s->ustack_copy_len };
        struct regs r = {
                .pc = s->uregs[SAMPLE_REG_IP], .sp = s->uregs[SAMPLE_REG_SP],
                .bp = s->uregs[SAMPLE_REG_BP], .bp_known = true, .exact = true,
        };
        size_t n = 0;

        for (;;) {
                enum unwind_end e;
                bool done;

                if (n == max) {
                        *ret_end = UNWIND_END_DEPTH;
                        return n;
                }
                out[n++] = (struct unwound_frame) { .addr = r.pc, .exact = r.exact };

                /* a return address is looked up inside the call */
                uint64_t look = r.exact ? r.pc : r.pc - 1;
                struct image_addr ia;
                if (image_resolve(u->img, (pid_t) s->tgid, s->exec_gen, look, &ia) < 0) {
                        *ret_end = UNWIND_END_BAD_FRAME;
                        return n;
                }
                const struct cfi_table *t = NULL;
                uint64_t at = ia.addr;
                if (ia.kind == IMAGE_ADDR_MODULE && ia.module) {
                        t = module_table(u, ia.module);
                } else if (ia.kind == IMAGE_ADDR_ANON && ia.copies) {
                        /* a copy of a function: as the function */
                        struct module_unwind *cu = unwinder_copies(u, ia.copies);
                        t = cu ? cu->table : NULL;
                        at = ia.copy_off;
                }
                const struct cfi_row *row = t ? cfi_table_find(t, at) : NULL;
                /* A signal frame's "return address" is where the handler
                 * returns to, __restore_rt, which the kernel wrote: no call
                 * precedes it (its CFI starts a byte early for the look
                 * above), so it is named at the address itself. */
                if (row && (row->flags & CFI_ROW_SIGNAL))
                        out[n - 1].exact = true;

                if (row)
                        e = step_cfi(&c, row, &r, &done);
                else if (ia.kind == IMAGE_ADDR_UNKNOWN)
                        e = UNWIND_END_BAD_FRAME;
                else if (u->opts.mode == UNWIND_AUTO)
                        /* JIT code, a module without CFI, or code between
                         * its FDEs (V8's builtins embedded in node): the
                         * frame pointer, as libdwfl falls back to */
                        e = step_fp(&c, &r, &done);
                else
                        e = UNWIND_END_NO_CFI;
                if (e != UNWIND_END_COMPLETE || done) {
                        *ret_end = e;
                        return n;
                }
        }
}

/* A user stack the backend unwound (in the kernel). */
static size_t take_unwound(const struct raw_sample *s, struct unwound_frame *out, size_t max,
                           enum unwind_end *ret_end) {
        size_t n = MIN((size_t) s->n_ustack, max);
        for (size_t i = 0; i < n; i++)
                out[i] = (struct unwound_frame) {
                        .addr = s->ustack[i] & ~SAMPLE_FRAME_EXACT,
                        .exact = i == 0 || (s->ustack[i] & SAMPLE_FRAME_EXACT),
                };
        *ret_end = s->ustack_end < _UNWIND_END_MAX ? (enum unwind_end) s->ustack_end : UNWIND_END_BAD_FRAME;
        if (n < s->n_ustack)
                *ret_end = UNWIND_END_DEPTH;
        return n;
}

size_t unwinder_unwind(struct unwinder *u, const struct raw_sample *s, bool user, bool kernel,
                       struct unwound_frame *out, enum unwind_end *ret_end, bool *ret_unwound) {
        *ret_end = UNWIND_END_COMPLETE;
        *ret_unwound = false;
        if (user && s->ustack_unwound) {
                size_t n = unwind_sample(s, false, kernel, out);
                *ret_unwound = true;
                return n + take_unwound(s, out + n, u->opts.max_depth, ret_end);
        }
        if (u->opts.mode == UNWIND_FP || !s->uregs || !user)
                return unwind_sample(s, user, kernel, out);

        size_t n = unwind_sample(s, false, kernel, out);
        *ret_unwound = true;
        return n + unwind_user(u, s, out + n, u->opts.max_depth, ret_end);
}
