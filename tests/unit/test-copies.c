/* The unwind rows of CPython's perf trampolines (src/unwind/copies.c):
 * the decoder on the instruction sequences trampolines are made of
 * (3.12/3.13's sub/call/add/ret, frame-pointer builds' push/mov/pop and
 * leave), on everything it must refuse, then one period of copies laid
 * out as a table, and last the real _Py_trampoline_func_start of the
 * pyenv Pythons 3.12 and 3.13 (every machine here has them), read from their
 * libpython as the recorder reads it. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "cprof/image.h"
#include "image/elf-module.h"
#include "unwind/unwind-internal.h"
#include "tap.h"

static struct cfi_row rows[IMAGE_COPIES_MAX_SIZE + 1];
static size_t n;

static bool decode(const uint8_t *code, size_t len) {
        n = 0;
        return copies_decode(code, len, rows, &n);
}

/* The row in effect at off: the last one starting at or before it. */
static const struct cfi_row *row_at(uint64_t off) {
        const struct cfi_row *r = NULL;
        for (size_t i = 0; i < n && rows[i].start <= off; i++)
                r = &rows[i];
        return r;
}

/* CFA = rsp + cfa_off, return address at CFA - 8, rbp saved at
 * CFA + rbp_off (0: not saved) */
static bool is_frame(const struct cfi_row *r, int32_t cfa_off, int16_t rbp_off) {
        return r && r->cfa == CFI_CFA_RSP && r->cfa_off == cfa_off && r->ra == CFI_REG_AT_CFA &&
               r->ra_off == -8 &&
               (rbp_off ? r->rbp == CFI_REG_AT_CFA && r->rbp_off == rbp_off : r->rbp == CFI_REG_SAME);
}

static void test_sub_call_add(void) {
        /* sub $8,%rsp; call *%rcx; add $8,%rsp; ret (3.12.1, 3.13.0) */
        static const uint8_t code[] = { 0x48, 0x83, 0xec, 0x08, 0xff, 0xd1, 0x48, 0x83, 0xc4, 0x08, 0xc3 };

        CHECK(decode(code, sizeof(code)), "sub/call/add/ret decodes");
        CHECK(n == 4, "one row per instruction (%zu)", n);
        CHECK(is_frame(row_at(0), 8, 0) && is_frame(row_at(3), 8, 0), "before sub: CFA = rsp+8");
        CHECK(is_frame(row_at(4), 16, 0), "at the call: CFA = rsp+16");
        CHECK(is_frame(row_at(6), 16, 0), "at the return address (after the call): CFA = rsp+16");
        CHECK(is_frame(row_at(10), 8, 0), "at ret: CFA = rsp+8");
}

static void test_frame_pointer(void) {
        /* endbr64; push %rbp; mov %rsp,%rbp; call *%rax; pop %rbp; ret */
        static const uint8_t code[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5, 0xff, 0xd0, 0x5d, 0xc3 };

        CHECK(decode(code, sizeof(code)), "push/mov/pop decodes");
        CHECK(is_frame(row_at(0), 8, 0) && is_frame(row_at(4), 8, 0), "endbr64 and push: CFA = rsp+8");
        CHECK(is_frame(row_at(5), 16, -16), "after push: CFA = rsp+16, rbp at CFA-16");
        CHECK(is_frame(row_at(10), 16, -16), "at the return address: rbp still saved");
        CHECK(is_frame(row_at(11), 8, 0), "after pop: CFA = rsp+8, rbp restored");

        /* push %rbp; mov %rsp,%rbp; sub $16,%rsp; call *%rcx; leave; ret */
        static const uint8_t leave[] = { 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0xff, 0xd1, 0xc9, 0xc3 };
        CHECK(decode(leave, sizeof(leave)), "leave decodes");
        CHECK(is_frame(row_at(10), 32, -16), "before leave: CFA = rsp+32");
        CHECK(is_frame(row_at(11), 8, 0), "after leave: CFA = rsp+8");

        /* push %rbp; mov %rsp,%rbp; sub $0x100,%rsp (imm32); call rel32; mov %rbp,%rsp; pop %rbp; ret */
        static const uint8_t imm32[] = { 0x55, 0x48, 0x89, 0xe5, 0x48, 0x81, 0xec, 0x00, 0x01, 0x00, 0x00,
                                         0xe8, 0x00, 0x00, 0x00, 0x00, 0x48, 0x89, 0xec, 0x5d, 0xc3 };
        CHECK(decode(imm32, sizeof(imm32)), "imm32 sub, call rel32, mov %%rbp,%%rsp decode");
        CHECK(is_frame(row_at(16), 16 + 0x100, -16), "after the call: CFA = rsp+0x110");
        CHECK(is_frame(row_at(19), 16, -16), "after mov %%rbp,%%rsp: CFA = rsp+16");
}

static void test_refused(void) {
        static const uint8_t r15[] = { 0x41, 0x57, 0xff, 0xd1, 0x41, 0x5f, 0xc3 };     /* push %r15 */
        static const uint8_t unbalanced[] = { 0x48, 0x83, 0xec, 0x08, 0xff, 0xd1, 0xc3 }; /* no add */
        static const uint8_t no_ret[] = { 0x48, 0x83, 0xec, 0x08, 0xff, 0xd1, 0x48, 0x83, 0xc4, 0x08 };
        static const uint8_t leave_alone[] = { 0x55, 0xc9, 0xc3 };                     /* rbp never set */
        static const uint8_t truncated[] = { 0x48, 0x83 };
        static const uint8_t odd[] = { 0x48, 0x83, 0xec, 0x04, 0x48, 0x83, 0xc4, 0x04, 0xc3 }; /* rsp-4 */
        static const uint8_t popped[] = { 0x5d, 0x55, 0xc3 };                          /* pop first */

        CHECK(!decode(r15, sizeof(r15)), "an instruction outside the subset is refused");
        CHECK(!decode(unbalanced, sizeof(unbalanced)), "a ret with rsp still moved is refused");
        CHECK(!decode(no_ret, sizeof(no_ret)), "code without ret is refused");
        CHECK(!decode(leave_alone, sizeof(leave_alone)), "leave without mov %%rsp,%%rbp is refused");
        CHECK(!decode(truncated, sizeof(truncated)), "an instruction cut by the end is refused");
        CHECK(!decode(odd, sizeof(odd)), "rsp moved by other than 8-byte steps is refused");
        CHECK(!decode(popped, sizeof(popped)), "a pop above the return address is refused");
        CHECK(!decode(NULL, 0), "no bytes is refused");

        /* ret; nop: the nop is past the function */
        static const uint8_t tail[] = { 0xc3, 0x90 };
        CHECK(decode(tail, sizeof(tail)) && n == 2 && rows[1].start == 1 && rows[1].cfa == CFI_CFA_NONE,
              "bytes after ret have no CFI");
}

static void test_lay_out(void) {
        static const uint8_t code[] = { 0x48, 0x83, 0xec, 0x08, 0xff, 0xd1, 0x48, 0x83, 0xc4, 0x08, 0xc3 };
        struct image_copies c = { .size = sizeof(code), .stride = sizeof(code), .period = 64 };
        struct cfi_table *t = NULL;
        struct cfi_table_stats st;

        /* 3.12: copies side by side */
        CHECK(decode(code, sizeof(code)), "decoded for lay-out");
        CHECK(copies_lay_out(&c, rows, n, &t) == 0 && t, "one period laid out, stride 11");
        if (!t)
                return;
        bool all = true;
        for (uint64_t k = 0; k < 5; k++) {
                const struct cfi_row *at_ra = cfi_table_find(t, k * 11 + 6);
                const struct cfi_row *at_ret = cfi_table_find(t, k * 11 + 10);
                const struct cfi_row *at_start = cfi_table_find(t, k * 11);
                all = all && is_frame(at_ra, 16, 0) && is_frame(at_ret, 8, 0) && is_frame(at_start, 8, 0);
        }
        CHECK(all, "each of the 5 whole copies has the function's rows");
        const struct cfi_row *past = cfi_table_find(t, 55);
        CHECK(!past || past->cfa == CFI_CFA_NONE, "the 9 bytes after the last whole copy have no CFI");
        cfi_table_get_stats(t, &st);
        /* equal neighbours merge: the frame is rsp+8 or rsp+16 by turns, so
         * per copy two rows, then rsp+8 at the last ret and the NONE row */
        CHECK(st.rows == 5 * 2 + 2, "neighbouring equal rows merged (%zu rows)", st.rows);
        cfi_table_free(t);

        /* 3.13: a copy every 16 bytes, zeros between them */
        c.stride = 16;
        t = NULL;
        CHECK(copies_lay_out(&c, rows, n, &t) == 0 && t, "one period laid out, stride 16");
        if (!t)
                return;
        all = true;
        for (uint64_t k = 0; k < 4; k++) {
                const struct cfi_row *at_ra = cfi_table_find(t, k * 16 + 6);
                const struct cfi_row *at_ret = cfi_table_find(t, k * 16 + 10);
                const struct cfi_row *gap = cfi_table_find(t, k * 16 + 11);
                const struct cfi_row *gap_end = cfi_table_find(t, k * 16 + 15);
                all = all && is_frame(at_ra, 16, 0) && is_frame(at_ret, 8, 0) && (!gap || gap->cfa == CFI_CFA_NONE) &&
                      (!gap_end || gap_end->cfa == CFI_CFA_NONE);
        }
        CHECK(all, "each of the 4 copies 16 bytes apart has the function's rows, the gaps none");
        cfi_table_free(t);

        c.stride = 10;
        t = NULL;
        CHECK(copies_lay_out(&c, rows, n, &t) == -EINVAL && !t, "a stride shorter than the function is refused");
        c.stride = 128;
        CHECK(copies_lay_out(&c, rows, n, &t) == -EINVAL && !t, "a stride longer than the period is refused");

        struct cfi_row unsorted[2] = { { .start = 4, .cfa = CFI_CFA_NONE }, { .start = 0, .cfa = CFI_CFA_NONE } };
        CHECK(cfi_table_from_rows(unsorted, 2, &t) < 0 && !t, "unsorted rows are refused");
}

/* The trampoline of a real libpython, as src/image/copies.c reads it:
 * the newest pyenv build of that version. */
static void test_real(const char *version) {
        char pattern[256], path[256] = "";
        glob_t g;

        snprintf(pattern, sizeof(pattern), "%s/versions/%s.*/lib/libpython%s.so.1.0",
                 getenv("PYENV_ROOT") ? getenv("PYENV_ROOT") : "/root/.pyenv", version, version);
        if (glob(pattern, 0, NULL, &g) == 0) {
                snprintf(path, sizeof(path), "%s", g.gl_pathv[g.gl_pathc - 1]);
                globfree(&g);
        }
        CHECK(path[0], "a pyenv Python %s is installed (%s)", version, pattern);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct elf_module *m = NULL;
        uint64_t start = 0, end = 0;
        uint8_t code[IMAGE_COPIES_MAX_SIZE];

        CHECK(fd >= 0 && elf_module_open_fd(fd, &m) == 0, "%s opens", path);
        if (fd >= 0)
                close(fd);
        if (!m)
                return;
        CHECK(elf_module_find_dynamic_symbol(m, "_Py_trampoline_func_start", &start) == 0 &&
                      elf_module_find_dynamic_symbol(m, "_Py_trampoline_func_end", &end) == 0 && end > start &&
                      end - start <= sizeof(code),
              "%s: the trampoline's bounds (%#llx, %llu bytes)", version, (unsigned long long) start,
              (unsigned long long) (end - start));
        size_t len = end > start ? end - start : 0;
        if (len == 0 || len > sizeof(code) || elf_module_read(m, start, code, len) != 0) {
                CHECK(false, "%s: the trampoline's bytes read", version);
                elf_module_free(m);
                return;
        }
        CHECK(decode(code, len), "%s: the trampoline decodes", version);
        /* the frame the unwinder meets: the address after call *%rcx */
        size_t call = 0;
        while (call + 1 < len && !(code[call] == 0xff && code[call + 1] >= 0xd0 && code[call + 1] <= 0xd7))
                call++;
        CHECK(call + 1 < len, "%s: the trampoline calls through a register", version);
        const struct cfi_row *r = row_at(call + 2);
        CHECK(r && r->cfa == CFI_CFA_RSP && r->ra == CFI_REG_AT_CFA && r->ra_off == -8 && r->cfa_off >= 16,
              "%s: at the return address the CFA is above the trampoline's frame (rsp+%d)", version,
              r ? r->cfa_off : -1);
        elf_module_free(m);
}

int main(void) {
        test_sub_call_add();
        test_frame_pointer();
        test_refused();
        test_lay_out();
        test_real("3.12");
        test_real("3.13");
        return tap_done();
}
