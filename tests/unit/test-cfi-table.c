/* CFI tables against binutils' readelf: for Debian's libc.so.6 and for
 * tests/data/cfi/frames.c compiled here (gcc -O2 -fomit-frame-pointer,
 * -fno-omit-frame-pointer, and -g without unwind tables so its functions
 * have .debug_frame only), and libstdc++.so.6, every row `readelf --debug-dump=frames-interp`
 * prints (LOC, CFA, rbp, ra) must be what cfi_table_find gives at LOC.
 * Where readelf only says "exp", the expression is read from the raw
 * `readelf --debug-dump=frames` of the same FDE and must be one the table
 * models with the same operands (PLT entries, __restore_rt), or the row
 * must say UNSUPPORTED. Then: every FDE's first and last byte are
 * covered and the byte after an FDE is not (unless another starts
 * there), the PLT's rule, __restore_rt's signal flag (named by
 * libc6-dbg's symbol table), _start's undefined return address, and
 * addresses outside every FDE. Last, separate debug files (objcopy
 * --only-keep-debug, compressed): their .debug_frame fills in only where
 * the binary's own CFI has no row. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unwind/cfi-table.h"
#include "util/cleanup.h"
#include "util/vec.h"
#include "tap.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"
#define MAX_COLS 40

static char tmpdir[] = "/tmp/test-cfi-table.XXXXXX";

struct file {
        int fd;
        Elf *elf;
        struct cfi_table *t;
};

static bool file_open(struct file *f, const char *path) {
        f->t = NULL;
        f->fd = open(path, O_RDONLY | O_CLOEXEC);
        f->elf = f->fd >= 0 ? elf_begin(f->fd, ELF_C_READ_MMAP, NULL) : NULL;
        return f->elf != NULL;
}

static void file_close(struct file *f) {
        cfi_table_free(f->t);
        if (f->elf)
                elf_end(f->elf);
        if (f->fd >= 0)
                close(f->fd);
}

/* A function symbol's address from .symtab, read independently of the
 * code under test. */
static bool find_symbol(Elf *elf, const char *name, uint64_t *ret_addr) {
        Elf_Scn *scn = NULL;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || sh.sh_entsize == 0)
                        continue;
                Elf_Data *data = elf_getdata(scn, NULL);
                for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
                        GElf_Sym s;
                        const char *n;
                        if (!gelf_getsym(data, (int) i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC)
                                continue;
                        n = elf_strptr(elf, sh.sh_link, s.st_name);
                        if (n && strcmp(n, name) == 0) {
                                *ret_addr = s.st_value;
                                return true;
                        }
                }
        }
        return false;
}

static bool find_section_addr(Elf *elf, const char *name, uint64_t *ret_addr, uint64_t *ret_size) {
        size_t shstrndx;
        Elf_Scn *scn = NULL;
        if (elf_getshdrstrndx(elf, &shstrndx) != 0)
                return false;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                const char *n;
                if (!gelf_getshdr(scn, &sh))
                        continue;
                n = elf_strptr(elf, shstrndx, sh.sh_name);
                if (n && strcmp(n, name) == 0) {
                        *ret_addr = sh.sh_addr;
                        *ret_size = sh.sh_size;
                        return true;
                }
        }
        return false;
}

/* What readelf says about one FDE: its range, its CIE's signal flag, and
 * from the raw dump the expressions it uses (the last one of each kind,
 * and how many there were). */
struct fde {
        bool debug_frame;
        char key[32];  /* "section-offset" as readelf prints it */
        uint64_t lo, hi;
        bool signal, has_rows;
        char cie_row[256]; /* the CIE's initial row, for FDEs without rows */
        char cie_cols[256];
        unsigned n_cfa_exp, n_ra_exp, n_rbp_exp;
        char cfa_exp[256], ra_exp[256], rbp_exp[256];
};

struct cie {
        bool debug_frame;
        char off[16];
        bool signal;
        char cols[256], row[256];
};

typedef VEC(struct fde) fde_vec;
typedef VEC(struct cie) cie_vec;

static void chomp(char *s) {
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
                s[--n] = '\0';
}

static void copy_str(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src);
}

static FILE *run_readelf(const char *mode, const char *path) {
        char cmd[1024];
        /* -wN: not into a debug file found by build-id (libc6-dbg's has
         * a NOBITS .eh_frame, which makes readelf fail) */
        snprintf(cmd, sizeof(cmd), "readelf -wN --debug-dump=%s '%s'", mode, path);
        return popen(cmd, "r");
}

static bool is_hex_row(const char *line) {
        for (int i = 0; i < 16; i++)
                if (!((line[i] >= '0' && line[i] <= '9') || (line[i] >= 'a' && line[i] <= 'f')))
                        return false;
        return line[16] == ' ';
}

/* "00000018 0000000000000024 0000001c FDE cie=00000000 pc=A..B" */
static bool parse_fde_line(const char *line, char *key_off, uint64_t *lo, uint64_t *hi, char *cie_off) {
        char off[16], len[32], id[32];
        return sscanf(line, "%15s %31s %31s FDE cie=%15s pc=%" SCNx64 "..%" SCNx64, off, len, id, cie_off, lo, hi) ==
                       6 &&
               (strcpy(key_off, off), true);
}

/* The text inside the outermost parentheses after `prefix`. */
static void paren_text(const char *line, char *out, size_t size) {
        const char *p = strchr(line, '(');
        const char *q = strrchr(line, ')');
        if (!p || !q || q <= p) {
                copy_str(out, size, "");
                return;
        }
        snprintf(out, size, "%.*s", (int) (q - p - 1), p + 1);
}

/* The raw dump: which FDEs use expressions, and which. */
static bool read_raw(const char *path, fde_vec *fdes) {
        FILE *f = run_readelf("frames", path);
        char line[4096];
        bool dbg = false;
        struct fde *cur = NULL;
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                chomp(line);
                if (strstr(line, "Contents of the .debug_frame section"))
                        dbg = true;
                else if (strstr(line, "Contents of the .eh_frame section"))
                        dbg = false;
                char off[16], cie[16];
                uint64_t lo, hi;
                if (parse_fde_line(line, off, &lo, &hi, cie)) {
                        struct fde e = { .debug_frame = dbg, .lo = lo, .hi = hi };
                        snprintf(e.key, sizeof(e.key), "%d-%s", dbg, off);
                        if (vec_push(fdes, e) < 0)
                                return false;
                        cur = &fdes->v[fdes->n - 1];
                        continue;
                }
                if (line[0] != ' ')
                        cur = NULL;
                if (!cur)
                        continue;
                if (strstr(line, "DW_CFA_def_cfa_expression")) {
                        cur->n_cfa_exp++;
                        paren_text(line, cur->cfa_exp, sizeof(cur->cfa_exp));
                } else if (strstr(line, "DW_CFA_expression: r16 ") || strstr(line, "DW_CFA_val_expression: r16 ")) {
                        cur->n_ra_exp++;
                        paren_text(strchr(line, ')') + 1, cur->ra_exp, sizeof(cur->ra_exp));
                        if (strstr(line, "val_expression"))
                                copy_str(cur->ra_exp, sizeof(cur->ra_exp), "val");
                } else if (strstr(line, "DW_CFA_expression: r6 ") || strstr(line, "DW_CFA_val_expression: r6 ")) {
                        cur->n_rbp_exp++;
                        paren_text(strchr(line, ')') + 1, cur->rbp_exp, sizeof(cur->rbp_exp));
                        if (strstr(line, "val_expression"))
                                copy_str(cur->rbp_exp, sizeof(cur->rbp_exp), "val");
                }
        }
        return pclose(f) == 0;
}

static struct fde *fde_by_key(fde_vec *fdes, const char *key) {
        for (size_t i = 0; i < fdes->n; i++)
                if (strcmp(fdes->v[i].key, key) == 0)
                        return &fdes->v[i];
        return NULL;
}

struct expect {
        uint8_t cfa, ra, rbp;
        int64_t cfa_off, ra_off, rbp_off;
        int plt_threshold; /* -1: not checked */
};

static bool parse_int(const char *s, int64_t *ret) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end)
                return false;
        *ret = v;
        return true;
}

/* "DW_OP_breg7 (rsp): 160; DW_OP_deref" and friends -> a CFA rule */
static void expect_cfa_exp(const char *exp, struct expect *e) {
        int64_t k;
        int t, n = 0;
        char tail[64];
        e->cfa = CFI_CFA_UNSUPPORTED;
        e->cfa_off = 0;
        if (sscanf(exp, "DW_OP_breg7 (rsp): %" SCNd64 "; DW_OP_breg16 (rip): 0; DW_OP_lit15; DW_OP_and; DW_OP_lit%d; "
                        "DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus%n",
                   &k, &t, &n) == 2 &&
            n > 0 && exp[n] == '\0') {
                e->cfa = CFI_CFA_PLT;
                e->cfa_off = k;
                e->plt_threshold = t;
        } else if (sscanf(exp, "DW_OP_breg7 (rsp): %" SCNd64 "; DW_OP_deref%n", &k, &n) == 1 && n > 0 &&
                   exp[n] == '\0') {
                e->cfa = CFI_CFA_DEREF_RSP;
                e->cfa_off = k;
        } else if (sscanf(exp, "DW_OP_breg7 (rsp): %" SCNd64 "%63s", &k, tail) == 1) {
                e->cfa = CFI_CFA_RSP;
                e->cfa_off = k;
        }
}

/* "DW_OP_breg7 (rsp): 168" -> saved at rsp + 168 */
static void expect_reg_exp(const char *exp, uint8_t *rule, int64_t *off) {
        int64_t k;
        char tail[64];
        *rule = CFI_REG_UNSUPPORTED;
        *off = 0;
        if (sscanf(exp, "DW_OP_breg7 (rsp): %" SCNd64 "%63s", &k, tail) == 1) {
                *rule = CFI_REG_AT_RSP;
                *off = k;
        }
}

/* One readelf column -> a register rule. "u" for rbp (or no column) is
 * readelf's "not mentioned yet", which x86-64 defines as same value
 * (callee-saved); for ra the CIE always mentions it, so "u" is a real
 * DW_CFA_undefined. */
static bool expect_reg(const char *col, bool is_ra, unsigned n_exp, const char *exp, uint8_t *rule, int64_t *off) {
        *off = 0;
        if (!col || (strcmp(col, "u") == 0 && !is_ra)) {
                *rule = CFI_REG_SAME;
        } else if (strcmp(col, "u") == 0) {
                *rule = CFI_REG_UNDEFINED;
        } else if (strcmp(col, "s") == 0) {
                *rule = CFI_REG_SAME;
        } else if (strncmp(col, "c", 1) == 0 && parse_int(col + 1, off)) {
                *rule = CFI_REG_AT_CFA;
        } else if (strcmp(col, "exp") == 0) {
                if (n_exp != 1)
                        return false; /* several expressions: which one is unknown */
                expect_reg_exp(exp, rule, off);
        } else {
                *rule = CFI_REG_UNSUPPORTED; /* vexp, v+N, another register */
        }
        return true;
}

static const char *cfa_name(uint8_t c) {
        static const char *n[] = { "none", "rsp", "rbp", "deref-rsp", "plt", "unsupported" };
        return c < ELEMENTSOF(n) ? n[c] : "?";
}

static const char *reg_name(uint8_t r) {
        static const char *n[] = { "undefined", "same", "at-cfa", "at-rsp", "unsupported" };
        return r < ELEMENTSOF(n) ? n[r] : "?";
}

struct counts {
        size_t rows, exp_rows, bad, skipped_overlap, skipped_ambiguous;
        size_t signal_rows, bad_signal;
};

static void report_bad(struct counts *c, uint64_t loc, const char *what, const struct cfi_row *r, const char *line) {
        c->bad++;
        if (c->bad > 12)
                return;
        if (!r)
                printf("# 0x%" PRIx64 ": %s: no row; readelf: %s\n", loc, what, line);
        else
                printf("# 0x%" PRIx64 ": %s: got cfa=%s%+d ra=%s%+d rbp=%s%+d flags=%u; readelf: %s\n", loc, what,
                       cfa_name(r->cfa), r->cfa_off, reg_name(r->ra), r->ra_off, reg_name(r->rbp), r->rbp_off,
                       r->flags, line);
}

/* Is addr inside an .eh_frame FDE? (.debug_frame rows there lose.) */
static bool in_eh_fde(const fde_vec *fdes, uint64_t addr) {
        for (size_t i = 0; i < fdes->n; i++)
                if (!fdes->v[i].debug_frame && addr >= fdes->v[i].lo && addr < fdes->v[i].hi)
                        return true;
        return false;
}

static void check_row(const struct cfi_table *t, const struct fde *fde, const char *cols, const char *row,
                      struct counts *c) {
        char colbuf[512], rowbuf[512];
        char *cn[MAX_COLS], *cv[MAX_COLS];
        size_t ncol = 0, nval = 0;
        copy_str(colbuf, sizeof(colbuf), cols);
        copy_str(rowbuf, sizeof(rowbuf), row);
        for (char *s = strtok(colbuf, " "); s && ncol < MAX_COLS; s = strtok(NULL, " "))
                cn[ncol++] = s;
        /* a register rule prints as "r9 (r9)": one value */
        for (char *s = strtok(rowbuf, " "); s && nval < MAX_COLS; s = strtok(NULL, " "))
                if (s[0] != '(' || nval == 0)
                        cv[nval++] = s;
        if (ncol < 2 || nval != ncol || strcmp(cn[0], "LOC") || strcmp(cn[1], "CFA")) {
                report_bad(c, 0, "cannot parse readelf", NULL, row);
                return;
        }
        uint64_t loc = strtoull(cv[0], NULL, 16);
        const char *ra = NULL, *rbp = NULL;
        for (size_t i = 2; i < ncol; i++) {
                if (strcmp(cn[i], "ra") == 0)
                        ra = cv[i];
                else if (strcmp(cn[i], "rbp") == 0)
                        rbp = cv[i];
        }
        if (loc < fde->lo || loc >= fde->hi)
                return;
        c->rows++;

        struct expect e = { .plt_threshold = -1 };
        const char *cfa = cv[1];
        if (strcmp(cfa, "exp") == 0) {
                c->exp_rows++;
                if (fde->n_cfa_exp != 1) {
                        c->skipped_ambiguous++;
                        return;
                }
                expect_cfa_exp(fde->cfa_exp, &e);
        } else if (strncmp(cfa, "rsp", 3) == 0 && parse_int(cfa + 3, &e.cfa_off)) {
                e.cfa = CFI_CFA_RSP;
        } else if (strncmp(cfa, "rbp", 3) == 0 && parse_int(cfa + 3, &e.cfa_off)) {
                e.cfa = CFI_CFA_RBP;
        } else {
                e.cfa = CFI_CFA_UNSUPPORTED; /* another base register, vexp */
                e.cfa_off = 0;
        }
        if (!ra || !expect_reg(ra, true, fde->n_ra_exp, fde->ra_exp, &e.ra, &e.ra_off) ||
            !expect_reg(rbp, false, fde->n_rbp_exp, fde->rbp_exp, &e.rbp, &e.rbp_off)) {
                c->skipped_ambiguous++;
                return;
        }

        const struct cfi_row *r = cfi_table_find(t, loc);
        if (!r) {
                report_bad(c, loc, "no row", NULL, row);
                return;
        }
        /* an UNSUPPORTED CFA carries no offset and no register rules that
         * matter: the frame cannot be found */
        bool ok = r->cfa == e.cfa && (e.cfa == CFI_CFA_UNSUPPORTED || r->cfa_off == e.cfa_off) &&
                  (e.plt_threshold < 0 || r->plt_threshold == e.plt_threshold) && r->ra == e.ra &&
                  r->ra_off == e.ra_off && r->rbp == e.rbp && r->rbp_off == e.rbp_off;
        if (!ok)
                report_bad(c, loc, "differs", r, row);
        if (fde->signal)
                c->signal_rows++;
        if (!!(r->flags & CFI_ROW_SIGNAL) != fde->signal) {
                c->bad_signal++;
                report_bad(c, loc, "signal flag differs", r, row);
        }
}

/* Compares t with readelf over every row of every FDE. Returns the FDEs
 * (from the raw dump) for further checks. */
static bool compare_with_readelf(const char *name, const char *path, const struct cfi_table *t, fde_vec *fdes,
                                 struct counts *c) {
        _cleanup_(vec_freep) cie_vec cies = {};
        char line[4096], cols[512] = "";
        bool dbg = false;
        struct fde *cur = NULL;
        struct cie *cur_cie = NULL;

        if (!read_raw(path, fdes))
                return false;
        FILE *f = run_readelf("frames-interp", path);
        if (!f)
                return false;
        /* rows are checked one behind, so that of two rows at one LOC only
         * the last (the one in force) is checked */
        char pending[512] = "", pending_cols[512] = "";
        struct fde *pending_fde = NULL;
        while (fgets(line, sizeof(line), f)) {
                chomp(line);
                bool row = is_hex_row(line);
                if (pending_fde && (!row || strncmp(line, pending, 16) != 0)) {
                        check_row(t, pending_fde, pending_cols, pending, c);
                        pending_fde = NULL;
                }
                if (strstr(line, "Contents of the .debug_frame section")) {
                        dbg = true;
                        continue;
                }
                if (strstr(line, "Contents of the .eh_frame section")) {
                        dbg = false;
                        continue;
                }
                char off[16], cie[16], len[32], id[32], aug[64];
                uint64_t lo, hi;
                if (parse_fde_line(line, off, &lo, &hi, cie)) {
                        char key[32];
                        snprintf(key, sizeof(key), "%d-%s", dbg, off);
                        cur = fde_by_key(fdes, key);
                        cur_cie = NULL;
                        if (!cur)
                                continue;
                        for (size_t i = 0; i < cies.n; i++)
                                if (cies.v[i].debug_frame == dbg && strcmp(cies.v[i].off, cie) == 0) {
                                        cur->signal = cies.v[i].signal;
                                        copy_str(cur->cie_row, sizeof(cur->cie_row), cies.v[i].row);
                                        copy_str(cur->cie_cols, sizeof(cur->cie_cols), cies.v[i].cols);
                                }
                        /* .debug_frame rows inside .eh_frame FDEs are
                         * replaced by those, by design */
                        if (dbg && (in_eh_fde(fdes, lo) || in_eh_fde(fdes, hi - 1))) {
                                c->skipped_overlap++;
                                cur = NULL;
                        }
                        continue;
                }
                if (strstr(line, " CIE \"") && sscanf(line, "%15s %31s %31s", off, len, id) == 3) {
                        const char *q = strstr(line, " CIE \"") + 6;
                        const char *qe = strchr(q, '"');
                        snprintf(aug, sizeof(aug), "%.*s", qe ? (int) (qe - q) : 0, q);
                        struct cie ce = { .debug_frame = dbg, .signal = strchr(aug, 'S') != NULL };
                        copy_str(ce.off, sizeof(ce.off), off);
                        if (vec_push(&cies, ce) < 0)
                                return false;
                        cur_cie = &cies.v[cies.n - 1];
                        cur = NULL;
                        continue;
                }
                if (strncmp(line, "   LOC", 6) == 0) {
                        copy_str(cols, sizeof(cols), line);
                        if (cur_cie)
                                copy_str(cur_cie->cols, sizeof(cur_cie->cols), line);
                        continue;
                }
                if (!is_hex_row(line))
                        continue;
                if (cur_cie) {
                        copy_str(cur_cie->row, sizeof(cur_cie->row), line);
                        continue;
                }
                if (!cur)
                        continue;
                cur->has_rows = true;
                copy_str(pending, sizeof(pending), line);
                copy_str(pending_cols, sizeof(pending_cols), cols);
                pending_fde = cur;
        }
        if (pending_fde)
                check_row(t, pending_fde, pending_cols, pending, c);
        if (pclose(f) != 0)
                return false;

        /* FDEs without instructions: the CIE's initial row at their start */
        for (size_t i = 0; i < fdes->n; i++) {
                struct fde *e = &fdes->v[i];
                if (e->has_rows || !e->cie_row[0] || (e->debug_frame && in_eh_fde(fdes, e->lo)))
                        continue;
                char row[300];
                snprintf(row, sizeof(row), "%016" PRIx64 "%s", e->lo, e->cie_row + 16);
                check_row(t, e, e->cie_cols, row, c);
        }
        printf("# %s: %zu FDEs, %zu readelf rows (%zu exp), %zu signal-frame rows, %zu .debug_frame FDEs under "
               ".eh_frame ones, %zu ambiguous\n",
               name, fdes->n, c->rows, c->exp_rows, c->signal_rows, c->skipped_overlap, c->skipped_ambiguous);
        return true;
}

/* Every FDE's first and last byte have a row; the byte after its end has
 * none unless another FDE covers it. */
static void check_coverage(const char *name, const struct cfi_table *t, const fde_vec *fdes) {
        size_t bad = 0, ends = 0;
        for (size_t i = 0; i < fdes->n; i++) {
                const struct fde *e = &fdes->v[i];
                if (e->hi <= e->lo)
                        continue;
                if (!cfi_table_find(t, e->lo) || !cfi_table_find(t, e->hi - 1)) {
                        if (bad++ < 5)
                                printf("# %s: FDE %" PRIx64 "..%" PRIx64 " not covered\n", name, e->lo, e->hi);
                        continue;
                }
                bool covered = false;
                for (size_t j = 0; j < fdes->n && !covered; j++)
                        covered = fdes->v[j].lo <= e->hi && e->hi < fdes->v[j].hi;
                if (!covered) {
                        ends++;
                        if (cfi_table_find(t, e->hi) && bad++ < 5)
                                printf("# %s: a row after FDE %" PRIx64 "..%" PRIx64 "\n", name, e->lo, e->hi);
                }
        }
        CHECK(bad == 0, "%s: every FDE covered, and the %zu bytes after FDEs with nothing after them are not", name,
              ends);
}

/* The table's own invariants: sorted, gaps as NONE rows, no two equal
 * neighbours, and find() never returns a NONE row. */
static void check_invariants(const char *name, const struct cfi_table *t) {
        const struct cfi_row *rows;
        size_t n = cfi_table_rows(t, &rows), bad = 0;
        struct cfi_table_stats st;
        for (size_t i = 1; i < n; i++) {
                const struct cfi_row *a = &rows[i - 1], *b = &rows[i];
                if (a->start >= b->start)
                        bad++;
                if (a->cfa == b->cfa && a->cfa_off == b->cfa_off && a->ra == b->ra && a->ra_off == b->ra_off &&
                    a->rbp == b->rbp && a->rbp_off == b->rbp_off && a->flags == b->flags &&
                    a->plt_threshold == b->plt_threshold)
                        bad++;
        }
        for (size_t i = 0; i < n; i++) {
                const struct cfi_row *r = cfi_table_find(t, rows[i].start);
                if (rows[i].cfa == CFI_CFA_NONE ? r != NULL : r != &rows[i])
                        bad++;
        }
        cfi_table_get_stats(t, &st);
        CHECK(bad == 0 && n > 0 && rows[n - 1].cfa == CFI_CFA_NONE && st.rows == n && st.fdes > 0 &&
                      st.bytes >= n * sizeof(*rows),
              "%s: %zu rows sorted, merged, ending in a NONE row; stats agree (%zu FDEs, %zu bytes, %zu unsupported)",
              name, n, st.fdes, st.bytes, st.unsupported);
}

static bool build(struct file *f, const char *path) {
        if (!file_open(f, path))
                return false;
        return cfi_table_build(f->elf, NULL, &f->t) == 0 && f->t;
}

/* The PLT: .plt's first 16 bytes push twice, then every entry has the
 * binutils expression, whose operands the raw dump gives. */
static void check_plt(const char *name, struct file *f, fde_vec *fdes) {
        uint64_t plt, size;
        bool have = find_section_addr(f->elf, ".plt", &plt, &size);
        CHECK(have && size > 32, "%s: has a .plt", name);
        if (!have || size <= 32)
                return;
        struct fde *e = NULL;
        for (size_t i = 0; i < fdes->n; i++)
                if (fdes->v[i].lo == plt)
                        e = &fdes->v[i];
        CHECK(e && e->n_cfa_exp == 1, "%s: readelf shows the .plt FDE with one CFA expression", name);
        if (!e || e->n_cfa_exp != 1)
                return;
        struct expect x = { .plt_threshold = -1 };
        expect_cfa_exp(e->cfa_exp, &x);
        CHECK(x.cfa == CFI_CFA_PLT, "%s: readelf's .plt expression is the binutils form (%s)", name, e->cfa_exp);
        const struct cfi_row *r0 = cfi_table_find(f->t, plt);
        CHECK(r0 && r0->cfa == CFI_CFA_RSP && r0->cfa_off == 16 && r0->ra == CFI_REG_AT_CFA && r0->ra_off == -8,
              "%s: .plt+0 (push) has CFA rsp+16, ra at CFA-8", name);
        for (uint64_t a = plt + 16; a < plt + size && a < e->hi; a += 5) {
                const struct cfi_row *r = cfi_table_find(f->t, a);
                if (!r || r->cfa != CFI_CFA_PLT || r->cfa_off != x.cfa_off || r->plt_threshold != x.plt_threshold ||
                    r->ra != CFI_REG_AT_CFA || r->ra_off != -8) {
                        CHECK(false, "%s: .plt+0x%" PRIx64 " has the PLT rule", name, a - plt);
                        return;
                }
        }
        CHECK(true, "%s: every sampled entry byte of .plt has CFA plt rsp+%" PRId64 " threshold %d", name,
              x.cfa_off, x.plt_threshold);
}

/* libc's build-id -> libc6-dbg's debug file, whose .symtab names
 * __restore_rt (libc.so.6 itself has only .dynsym). */
static bool libc_debug_path(Elf *elf, char *out, size_t size) {
        Elf_Scn *scn = NULL;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
                        continue;
                Elf_Data *d = elf_getdata(scn, NULL);
                size_t off = 0, name_off, desc_off;
                GElf_Nhdr nh;
                while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
                        if (nh.n_type != NT_GNU_BUILD_ID || nh.n_descsz < 2)
                                continue;
                        const uint8_t *id = (const uint8_t *) d->d_buf + desc_off;
                        int n = snprintf(out, size, "/usr/lib/debug/.build-id/%02x/", id[0]);
                        for (size_t i = 1; i < nh.n_descsz && (size_t) n + 3 < size; i++)
                                n += snprintf(out + n, size - n, "%02x", id[i]);
                        snprintf(out + n, size - n, ".debug");
                        return true;
                }
        }
        return false;
}

static void test_libc(void) {
        struct file f, dbg = { .fd = -1 };
        _cleanup_(vec_freep) fde_vec fdes = {};
        struct counts c = {};
        char debug[512];

        bool built = build(&f, LIBC);
        CHECK(built, "libc: table built");
        if (!built) {
                file_close(&f);
                return;
        }
        check_invariants("libc", f.t);
        CHECK(compare_with_readelf("libc", LIBC, f.t, &fdes, &c), "libc: readelf ran");
        CHECK(c.rows > 10000 && c.bad == 0, "libc: all %zu readelf rows agree (%zu differ)", c.rows, c.bad);
        CHECK(c.signal_rows > 0 && c.bad_signal == 0, "libc: signal flags agree (%zu signal rows)", c.signal_rows);
        CHECK(c.skipped_ambiguous == 0, "libc: no row left unchecked (%zu)", c.skipped_ambiguous);
        check_coverage("libc", f.t, &fdes);
        check_plt("libc", &f, &fdes);

        uint64_t rt = 0;
        bool named = libc_debug_path(f.elf, debug, sizeof(debug)) && file_open(&dbg, debug) &&
                     find_symbol(dbg.elf, "__restore_rt", &rt);
        CHECK(named, "libc6-dbg names __restore_rt (%s)", debug);
        if (named) {
                const struct cfi_row *r = cfi_table_find(f.t, rt);
                CHECK(r && (r->flags & CFI_ROW_SIGNAL), "__restore_rt (0x%" PRIx64 ") is a signal frame", rt);
                CHECK(r && r->cfa == CFI_CFA_DEREF_RSP && r->cfa_off == 160 && r->ra == CFI_REG_AT_RSP &&
                              r->ra_off == 168 && r->rbp == CFI_REG_AT_RSP && r->rbp_off == 120,
                      "__restore_rt: CFA *(rsp+160), rip at rsp+168, rbp at rsp+120 (the ucontext)");
                const struct cfi_row *p = cfi_table_find(f.t, rt - 1);
                CHECK(p && (p->flags & CFI_ROW_SIGNAL), "the byte before __restore_rt is in its FDE too");
        }
        CHECK(cfi_table_find(f.t, 0) == NULL && cfi_table_find(f.t, UINT64_MAX) == NULL,
              "libc: the ELF header and the last address have no row");
        file_close(&dbg);
        file_close(&f);
}

/* A C++ library: CIEs with "zPLR" (personality and LSDA before the FDE
 * encoding in the augmentation data). */
static void test_readelf_only(const char *name, const char *path) {
        struct file f;
        _cleanup_(vec_freep) fde_vec fdes = {};
        struct counts c = {};

        bool built = build(&f, path);
        CHECK(built, "%s: table built", name);
        if (built) {
                check_invariants(name, f.t);
                CHECK(compare_with_readelf(name, path, f.t, &fdes, &c), "%s: readelf ran", name);
                CHECK(c.rows > 10000 && c.bad == 0 && c.skipped_ambiguous == 0,
                      "%s: all %zu readelf rows agree (%zu differ)", name, c.rows, c.bad);
                check_coverage(name, f.t, &fdes);
        }
        file_close(&f);
}

static const char *full_path(const char *name, char *buf, size_t size) {
        snprintf(buf, size, "%s/%s", tmpdir, name);
        return buf;
}

static bool compile(const char *out, const char *flags) {
        char cmd[2048];
        snprintf(cmd, sizeof(cmd), "gcc %s -o '%s/%s' '%s/tests/data/cfi/frames.c'", flags, tmpdir, out, SRCDIR);
        return system(cmd) == 0;
}

static void test_program(const char *name, const char *flags, bool want_debug_frame, bool want_rbp_cfa) {
        char path[512];
        struct file f;
        _cleanup_(vec_freep) fde_vec fdes = {};
        struct counts c = {};
        uint64_t a;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        bool ok = compile(name, flags);
        CHECK(ok, "%s: gcc %s", name, flags);
        if (!ok)
                return;
        bool built = build(&f, path);
        CHECK(built, "%s: table built", name);
        if (!built) {
                file_close(&f);
                return;
        }
        check_invariants(name, f.t);
        CHECK(compare_with_readelf(name, path, f.t, &fdes, &c), "%s: readelf ran", name);
        CHECK(c.rows > 20 && c.bad == 0 && c.skipped_ambiguous == 0, "%s: all %zu readelf rows agree (%zu differ)",
              name, c.rows, c.bad);
        size_t dbg_fdes = 0;
        for (size_t i = 0; i < fdes.n; i++)
                dbg_fdes += fdes.v[i].debug_frame;
        CHECK(want_debug_frame == (dbg_fdes > 0), "%s: %zu FDEs from .debug_frame", name, dbg_fdes);
        check_coverage(name, f.t, &fdes);
        check_plt(name, &f, &fdes);

        CHECK(find_symbol(f.elf, "_start", &a), "%s: has _start", name);
        const struct cfi_row *r = cfi_table_find(f.t, a);
        CHECK(r && r->ra == CFI_REG_UNDEFINED, "%s: _start's return address is undefined (the outermost frame)",
              name);

        /* an rbp-based CFA where the frame has a variable size (and in
         * every frame-pointer function) */
        bool rbp_cfa = false;
        if (find_symbol(f.elf, "vla", &a))
                for (uint64_t x = a; x < a + 0x60 && !rbp_cfa; x++)
                        rbp_cfa = (r = cfi_table_find(f.t, x)) && r->cfa == CFI_CFA_RBP && r->cfa_off == 16 &&
                                  r->rbp == CFI_REG_AT_CFA && r->rbp_off == -16;
        CHECK(rbp_cfa == want_rbp_cfa, "%s: vla's CFA is rbp+16 with rbp saved at CFA-16 inside its body", name);

        /* many_regs saves rbp somewhere and never keeps the CFA on it */
        bool saves_rbp = false;
        if (find_symbol(f.elf, "many_regs", &a))
                for (uint64_t x = a; x < a + 0x40; x++)
                        if ((r = cfi_table_find(f.t, x)) && r->rbp == CFI_REG_AT_CFA)
                                saves_rbp = true;
        CHECK(saves_rbp, "%s: many_regs saves rbp in its prologue", name);

        CHECK(cfi_table_find(f.t, 0) == NULL && cfi_table_find(f.t, UINT64_MAX) == NULL,
              "%s: the ELF header and the last address have no row", name);
        file_close(&f);
}

static bool same_rule(const struct cfi_row *a, const struct cfi_row *b) {
        if (!a || !b)
                return a == b;
        return a->cfa == b->cfa && a->cfa_off == b->cfa_off && a->ra == b->ra && a->ra_off == b->ra_off &&
               a->rbp == b->rbp && a->rbp_off == b->rbp_off && a->flags == b->flags &&
               a->plt_threshold == b->plt_threshold;
}

/* .eh_frame and .debug_frame describing the same code differently: the
 * frame-pointer build's .debug_frame added to the no-frame-pointer build
 * (same addresses, other rules). Where .eh_frame covers an address its
 * rule wins; elsewhere .debug_frame's fills in. */
static void test_overlap(void) {
        char nofp[512], fpdbg[512], both[512], cmd[2048];
        struct file a, b, c;

        snprintf(nofp, sizeof(nofp), "%s/nofp", tmpdir);
        snprintf(fpdbg, sizeof(fpdbg), "%s/fpdbg", tmpdir);
        snprintf(both, sizeof(both), "%s/both", tmpdir);
        bool ok = compile("fpdbg", "-O2 -g -fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables");
        snprintf(cmd, sizeof(cmd),
                 "objcopy --dump-section .debug_frame='%s/fp.debug_frame' '%s' && "
                 "objcopy --add-section .debug_frame='%s/fp.debug_frame' '%s' '%s'",
                 tmpdir, fpdbg, tmpdir, nofp, both);
        ok = ok && system(cmd) == 0;
        CHECK(ok, "both: the no-frame-pointer build with the frame-pointer build's .debug_frame");
        if (!ok)
                return;
        bool built = build(&a, nofp) & build(&b, fpdbg) & build(&c, both);
        CHECK(built, "both: tables built");
        if (built) {
                size_t checked = 0, bad = 0, from_debug = 0, conflicts = 0;
                const struct cfi_table *ts[] = { a.t, b.t, c.t };
                for (size_t k = 0; k < ELEMENTSOF(ts); k++) {
                        const struct cfi_row *rows;
                        size_t n = cfi_table_rows(ts[k], &rows);
                        for (size_t i = 0; i < n; i++)
                                for (uint64_t addr = rows[i].start - 1; addr <= rows[i].start; addr++) {
                                        const struct cfi_row *eh = cfi_table_find(a.t, addr);
                                        const struct cfi_row *dbg = cfi_table_find(b.t, addr);
                                        const struct cfi_row *want = eh ? eh : dbg;
                                        checked++;
                                        from_debug += !eh && dbg;
                                        conflicts += eh && dbg && !same_rule(eh, dbg);
                                        if (!same_rule(cfi_table_find(c.t, addr), want) && bad++ < 5)
                                                printf("# both: 0x%" PRIx64 " differs\n", addr);
                                }
                }
                CHECK(conflicts > 0 && from_debug > 0,
                      "both: the two sections disagree at %zu addresses; .debug_frame alone covers %zu", conflicts,
                      from_debug);
                CHECK(bad == 0, "both: .eh_frame wins where it covers, .debug_frame fills the rest (%zu addresses)",
                      checked);
        }
        file_close(&a);
        file_close(&b);
        file_close(&c);
}

/* Every row start of t (and the byte before it), for comparisons. */
typedef VEC(uint64_t) addr_vec;

static bool add_boundaries(addr_vec *v, const struct cfi_table *t) {
        const struct cfi_row *rows;
        size_t n = cfi_table_rows(t, &rows);
        for (size_t i = 0; i < n; i++)
                if (vec_push(v, rows[i].start - 1) < 0 || vec_push(v, rows[i].start) < 0)
                        return false;
        return true;
}

struct layered {
        size_t checked, bad, from_debug, conflicts;
};

/* The table of bin with dbg as its debug file against the tables of
 * each alone: where bin's own CFI has a row, that row; elsewhere the
 * debug file's. */
static bool check_layered(const char *name, const char *bin, const char *dbg, struct layered *ret) {
        struct file a, b, c = { .fd = -1 };
        _cleanup_(vec_freep) addr_vec addrs = {};
        bool ok = build(&a, bin) & build(&b, dbg) && file_open(&c, bin) &&
                  cfi_table_build(c.elf, b.elf, &c.t) == 0;

        *ret = (struct layered) {};
        ok = ok && add_boundaries(&addrs, a.t) && add_boundaries(&addrs, b.t) && add_boundaries(&addrs, c.t);
        for (size_t i = 0; ok && i < addrs.n; i++) {
                const struct cfi_row *own = cfi_table_find(a.t, addrs.v[i]);
                const struct cfi_row *sep = cfi_table_find(b.t, addrs.v[i]);
                ret->checked++;
                ret->from_debug += !own && sep;
                ret->conflicts += own && sep && !same_rule(own, sep);
                if (!same_rule(cfi_table_find(c.t, addrs.v[i]), own ? own : sep) && ret->bad++ < 5)
                        printf("# %s: 0x%" PRIx64 " differs\n", name, addrs.v[i]);
        }
        if (ok)
                check_invariants(name, c.t);
        file_close(&a);
        file_close(&b);
        file_close(&c);
        return ok;
}

static bool section_compressed(const char *path, const char *name) {
        struct file f;
        uint64_t addr, size;
        bool compressed = false;

        if (file_open(&f, path) && find_section_addr(f.elf, name, &addr, &size)) {
                Elf_Scn *scn = NULL;
                size_t shstrndx;
                GElf_Shdr sh;
                if (elf_getshdrstrndx(f.elf, &shstrndx) == 0)
                        while ((scn = elf_nextscn(f.elf, scn)))
                                if (gelf_getshdr(scn, &sh) &&
                                    strcmp(elf_strptr(f.elf, shstrndx, sh.sh_name) ?: "", name) == 0)
                                        compressed = sh.sh_flags & SHF_COMPRESSED;
        }
        file_close(&f);
        return compressed;
}

/* objcopy --only-keep-debug of one of the builds above, with its .debug_*
 * sections compressed as libc6-dbg's are; into DIR/NAME.debug. */
static bool split_debug(const char *name, char *ret_debug, size_t size) {
        char cmd[2048];
        snprintf(ret_debug, size, "%s/%s.debug", tmpdir, name);
        snprintf(cmd, sizeof(cmd), "objcopy --only-keep-debug --compress-debug-sections=zlib '%s/%s' '%s'", tmpdir,
                 name, ret_debug);
        return system(cmd) == 0;
}

/* A build whose CFI is only in .debug_frame, stripped, with its debug
 * file beside it: the table from the pair is the unstripped file's. Then
 * the order of the sources: the binary's .eh_frame, then its own
 * .debug_frame, then the debug file's, each only where those before it
 * have no row (builds of the same code with other rules). */
static void test_debug_file(void) {
        char dbg[512], bin[512], full[512], cmd[2048];
        struct layered l;

        snprintf(full, sizeof(full), "%s/debugframe", tmpdir);
        snprintf(bin, sizeof(bin), "%s/debugframe.stripped", tmpdir);
        snprintf(cmd, sizeof(cmd), "objcopy --strip-debug '%s' '%s'", full, bin);
        bool ok = split_debug("debugframe", dbg, sizeof(dbg)) && system(cmd) == 0;
        CHECK(ok, "split: the .debug_frame-only build stripped, its debug file apart");
        if (!ok)
                return;
        CHECK(section_compressed(dbg, ".debug_frame"), "split: the debug file's .debug_frame is compressed");
        ok = check_layered("split", bin, dbg, &l);
        CHECK(ok && l.bad == 0 && l.from_debug > 0,
              "split: the debug file's rows fill in where the binary has none (%zu addresses, %zu from it)",
              l.checked, l.from_debug);

        struct file u, s = { .fd = -1 }, d = { .fd = -1 };
        _cleanup_(vec_freep) addr_vec addrs = {};
        size_t bad = 0;
        ok = build(&u, full) && file_open(&d, dbg) && file_open(&s, bin) && cfi_table_build(s.elf, d.elf, &s.t) == 0 &&
             add_boundaries(&addrs, u.t) && add_boundaries(&addrs, s.t);
        for (size_t i = 0; ok && i < addrs.n; i++)
                bad += !same_rule(cfi_table_find(s.t, addrs.v[i]), cfi_table_find(u.t, addrs.v[i]));
        file_close(&d);
        file_close(&s);
        CHECK(ok && bad == 0, "split: the pair's table is the unstripped build's (%zu of %zu addresses differ)", bad,
              addrs.n);
        /* without the debug file: only the start files' .eh_frame */
        uint64_t a = 0;
        ok = build(&s, bin) && find_symbol(u.elf, "many_regs", &a);
        CHECK(ok && cfi_table_find(s.t, a) == NULL && cfi_table_find(u.t, a) != NULL,
              "split: without its debug file the stripped binary has no row for many_regs");
        file_close(&s);
        file_close(&u);

        ok = split_debug("fpdbg", dbg, sizeof(dbg)) &&
             check_layered("eh first", full_path("nofp", bin, sizeof(bin)), dbg, &l);
        CHECK(ok && l.bad == 0 && l.conflicts > 0,
              "eh first: .eh_frame wins over the debug file's .debug_frame (%zu disagree, %zu addresses)",
              l.conflicts, l.checked);
        ok = split_debug("debugframe", dbg, sizeof(dbg)) &&
             check_layered("own first", full_path("fpdbg", bin, sizeof(bin)), dbg, &l);
        CHECK(ok && l.bad == 0 && l.conflicts > 0,
              "own first: the binary's .debug_frame wins over its debug file's (%zu disagree, %zu addresses)",
              l.conflicts, l.checked);
}

/* Files without CFI, or not x86-64 ELF at all, give an empty table. */
static void test_empty(void) {
        char path[600];
        snprintf(path, sizeof(path), "%s/empty.o", tmpdir);
        char cmd[800];
        snprintf(cmd, sizeof(cmd), "echo 'int x;' | gcc -x c -c -fno-asynchronous-unwind-tables -o '%s' -", path);
        CHECK(system(cmd) == 0, "an object without CFI compiled");
        struct file f;
        bool built = build(&f, path);
        const struct cfi_row *rows;
        CHECK(built && cfi_table_rows(f.t, &rows) == 0 && cfi_table_find(f.t, 0) == NULL,
              "a file without CFI gives an empty table");
        file_close(&f);
        CHECK(cfi_table_build(NULL, NULL, &f.t) == -EINVAL, "no Elf: -EINVAL");
}

static void cleanup(void) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void) !system(cmd);
}

int main(void) {
        elf_version(EV_CURRENT);
        if (!mkdtemp(tmpdir)) {
                printf("Bail out! cannot create a temporary directory\n");
                return 1;
        }
        test_libc();
        test_readelf_only("libstdc++", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
        test_program("nofp", "-O2 -fomit-frame-pointer", false, true);
        test_program("fp", "-O2 -fno-omit-frame-pointer", false, true);
        test_program("debugframe", "-O2 -g -fomit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables",
                     true, true);
        test_overlap();
        test_debug_file();
        test_empty();
        cleanup();
        return tap_done();
}
