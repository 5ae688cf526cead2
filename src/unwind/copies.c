/* Unwind rows for memory filled with copies of one function (see
 * struct image_copies: CPython's perf trampolines).
 *
 * The function's frame is taken from its module's CFI where that covers
 * it, else decoded from its bytes: trampolines are hand-written assembly
 * without CFI directives, a handful of instructions that only move rsp
 * and rbp (push/pop %rbp, sub/add $n,%rsp, mov %rsp,%rbp, leave, calls,
 * ret). Any other instruction gives no rows: the code stays without CFI.
 * The rows are then laid out once per copy over one period, so the
 * table is an ordinary one (both unwinders look a pc up as in a module),
 * shared by every mapping of those copies in every process. */
#include <errno.h>
#include <stdlib.h>

#include "cprof/image.h"
#include "unwind-internal.h"
#include "util/cleanup.h"
#include "util/log.h"

static struct cfi_row frame_row(uint64_t off, int64_t height, int64_t rbp_at) {
        return (struct cfi_row) {
                .start = off,
                .cfa = CFI_CFA_RSP,
                .cfa_off = (int32_t) (8 + height),
                .ra = CFI_REG_AT_CFA,
                .ra_off = -8,
                .rbp = rbp_at ? CFI_REG_AT_CFA : CFI_REG_SAME,
                .rbp_off = (int16_t) rbp_at,
        };
}

/* One row per instruction of code[0, len), offsets from 0; false for an
 * instruction outside the subset, or a frame that does not add up. */
bool copies_decode(const uint8_t *code, size_t len, struct cfi_row *out, size_t *ret_n) {
        int64_t height = 0;  /* bytes below the return address */
        int64_t rbp_at = 0;  /* where rbp is saved, from the CFA; 0: not saved */
        int64_t fp_height = -1; /* the height when rbp took rsp's value */
        size_t off = 0, n = 0;

        while (off < len) {
                const uint8_t *p = code + off;
                size_t left = len - off, step;

                out[n++] = frame_row(off, height, rbp_at);
                if (p[0] == 0x90) { /* nop */
                        step = 1;
                } else if (left >= 4 && p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa) {
                        step = 4; /* endbr64 */
                } else if (p[0] == 0x55) { /* push %rbp */
                        height += 8;
                        rbp_at = -(8 + height);
                        step = 1;
                } else if (p[0] == 0x5d) { /* pop %rbp */
                        height -= 8;
                        rbp_at = 0;
                        step = 1;
                } else if (p[0] == 0xc9) { /* leave: mov %rbp,%rsp; pop %rbp */
                        if (fp_height < 0)
                                return false;
                        height = fp_height - 8;
                        rbp_at = 0;
                        step = 1;
                } else if (left >= 3 && p[0] == 0x48 && p[1] == 0x89 && p[2] == 0xe5) {
                        fp_height = height; /* mov %rsp,%rbp */
                        step = 3;
                } else if (left >= 3 && p[0] == 0x48 && p[1] == 0x89 && p[2] == 0xec) {
                        if (fp_height < 0) /* mov %rbp,%rsp */
                                return false;
                        height = fp_height;
                        step = 3;
                } else if (left >= 4 && p[0] == 0x48 && p[1] == 0x83 && (p[2] == 0xec || p[2] == 0xc4)) {
                        int64_t imm = (int8_t) p[3]; /* sub/add $imm8,%rsp */
                        height += p[2] == 0xec ? imm : -imm;
                        step = 4;
                } else if (left >= 7 && p[0] == 0x48 && p[1] == 0x81 && (p[2] == 0xec || p[2] == 0xc4)) {
                        int64_t imm = (int32_t) ((uint32_t) p[3] | (uint32_t) p[4] << 8 | (uint32_t) p[5] << 16 |
                                                 (uint32_t) p[6] << 24);
                        height += p[2] == 0xec ? imm : -imm;
                        step = 7;
                } else if (left >= 2 && p[0] == 0xff && p[1] >= 0xd0 && p[1] <= 0xd7) {
                        step = 2; /* call *%reg: the callee's frame is its own */
                } else if (left >= 5 && p[0] == 0xe8) {
                        step = 5; /* call rel32 */
                } else if (p[0] == 0xc3) { /* ret */
                        if (height != 0)
                                return false;
                        off += 1;
                        /* what follows the ret is not this function */
                        if (off < len)
                                out[n++] = (struct cfi_row) { .start = off, .cfa = CFI_CFA_NONE };
                        *ret_n = n;
                        return true;
                } else {
                        return false;
                }
                if (height < 0 || height > 4096 || (height & 7))
                        return false;
                off += step;
        }
        return false; /* no ret: not a function that returns */
}

/* The function's rows from its module's own CFI, if that covers all of it. */
static bool rows_from_cfi(const struct cfi_table *t, const struct image_copies *c, struct cfi_row *out,
                          size_t *ret_n) {
        size_t n = 0;

        for (uint32_t off = 0; off < c->size; off++) {
                const struct cfi_row *r = cfi_table_find(t, c->vaddr + off);
                if (!r || r->cfa == CFI_CFA_PLT)
                        return false;
                struct cfi_row row = *r;
                row.start = off;
                out[n++] = row;
        }
        *ret_n = n;
        return true;
}

int copies_lay_out(const struct image_copies *c, const struct cfi_row *fn, size_t fn_n, struct cfi_table **ret) {
        if (c->size == 0 || c->stride < c->size || c->period < c->stride)
                return -EINVAL;
        size_t copies = c->period / c->stride;
        _cleanup_free_ struct cfi_row *rows = malloc((copies * (fn_n + 1) + 1) * sizeof(*rows));

        if (!rows)
                return -ENOMEM;
        size_t n = 0;
        for (size_t k = 0; k < copies; k++) {
                for (size_t i = 0; i < fn_n; i++) {
                        rows[n] = fn[i];
                        rows[n++].start += k * c->stride;
                }
                /* the gap up to the next copy is not code */
                if (c->stride > c->size)
                        rows[n++] = (struct cfi_row) { .start = k * c->stride + c->size, .cfa = CFI_CFA_NONE };
        }
        rows[n++] = (struct cfi_row) { .start = copies * c->stride, .cfa = CFI_CFA_NONE };
        return cfi_table_from_rows(rows, n, ret);
}

struct module_unwind *unwinder_copies(struct unwinder *u, const struct image_copies *c) {
        struct module_unwind *mu = unwinder_module(u, c->module);
        struct cfi_row fn[IMAGE_COPIES_MAX_SIZE + 1];
        size_t fn_n = 0;

        if (!mu || mu->copies_tried)
                return mu ? mu->copies : NULL;
        mu->copies_tried = true;
        if (c->size == 0 || c->size > IMAGE_COPIES_MAX_SIZE || c->stride < c->size || c->period < c->stride)
                return NULL;
        if (!rows_from_cfi(mu->table, c, fn, &fn_n) && !copies_decode(c->bytes, c->size, fn, &fn_n)) {
                log_debug("unwind: the function copied from %#llx is not one the unwinder can step through",
                          (unsigned long long) c->vaddr);
                return NULL;
        }
        struct module_unwind *cu = calloc(1, sizeof(*cu));
        if (!cu)
                return NULL;
        int r = copies_lay_out(c, fn, fn_n, &cu->table);
        if (r < 0) {
                free(cu);
                return NULL;
        }
        unwinder_count_table(u, cu->table);
        mu->copies = cu;
        return cu;
}
