/* DWARF inline chains and lines against binutils' addr2line: fixtures in
 * tests/data/dwarf/ are compiled here with gcc/g++ -g -O2, and every byte
 * of their functions is looked up by dwarf_lines and by one
 * `addr2line -i -f -a` process; the frame chains (names, file:line) must
 * be identical. Then libc6-dbg's libc debug file (NOBITS .text, compressed
 * DWARF 5) names an address of __libc_start_call_main, and the handle
 * counts the CUs it parsed against those used lately. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/dwarf-lines.h"
#include "image/elf-module.h"
#include "util/cleanup.h"
#include "tap.h"

#define FRAMES_MAX 16

static char tmpdir[] = "/tmp/test-dwarf-lines.XXXXXX";

struct file {
        int fd;
        Elf *elf;
};

static bool file_open(struct file *f, const char *path) {
        f->fd = open(path, O_RDONLY | O_CLOEXEC);
        f->elf = f->fd >= 0 ? elf_begin(f->fd, ELF_C_READ_MMAP, NULL) : NULL;
        return f->elf != NULL;
}

static void file_close(struct file *f) {
        if (f->elf)
                elf_end(f->elf);
        if (f->fd >= 0)
                close(f->fd);
}

/* A function symbol's address and size from .symtab, read independently
 * of the code under test. */
static bool find_symbol(Elf *elf, const char *name, uint64_t *ret_addr, uint64_t *ret_size) {
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
                        if (n && strcmp(n, name) == 0 && s.st_size > 0) {
                                *ret_addr = s.st_value;
                                *ret_size = s.st_size;
                                return true;
                        }
                }
        }
        return false;
}

/* One address as addr2line prints it (innermost first). */
struct a2l {
        uint64_t addr;
        size_t n;
        char name[FRAMES_MAX][256];
        char file[FRAMES_MAX][512];
        unsigned line[FRAMES_MAX];
};

static void copy_str(char *dst, size_t size, const char *src) {
        size_t n = strlen(src);
        if (n >= size)
                n = size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
}

static void chomp(char *s) {
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
                s[--n] = '\0';
}

/* "file:line" or "file:line (discriminator N)"; "??:0" and "??:?" are
 * unknown. eu-addr2line adds ":column" after the line. */
static void parse_location(const char *s, bool eu, char *file, size_t size, unsigned *line) {
        char buf[1024];
        copy_str(buf, sizeof(buf), s);
        char *d = strstr(buf, " (discriminator ");
        if (d)
                *d = '\0';
        char *colon = strrchr(buf, ':');
        if (eu && colon && colon > buf) {
                char *prev = colon - 1;
                while (prev > buf && *prev >= '0' && *prev <= '9')
                        prev--;
                if (*prev == ':' && prev < colon - 1) {
                        *colon = '\0';
                        colon = prev;
                }
        }
        *line = 0;
        if (colon) {
                *colon = '\0';
                *line = (unsigned) strtoul(colon + 1, NULL, 10);
        }
        copy_str(file, size, strcmp(buf, "??") == 0 ? "" : buf);
}

/* Runs addr2line (or eu-addr2line) once over addrs[]; fills out[] (same order). */
static bool run_tool(const char *tool, const char *bin, const uint64_t *addrs, size_t n, struct a2l *out) {
        bool eu = strncmp(tool, "eu-", 3) == 0;
        char in_path[256], out_path[256], cmd[1024], line[2048];
        snprintf(in_path, sizeof(in_path), "%s/addrs", tmpdir);
        snprintf(out_path, sizeof(out_path), "%s/a2l.out", tmpdir);
        FILE *f = fopen(in_path, "w");
        if (!f)
                return false;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "0x%" PRIx64 "\n", addrs[i]);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "%s -i -f -a -e '%s' < '%s' > '%s'", tool, bin, in_path, out_path);
        if (system(cmd) != 0)
                return false;
        _cleanup_fclose_ FILE *r = fopen(out_path, "r");
        if (!r)
                return false;
        ssize_t cur = -1;
        while (fgets(line, sizeof(line), r)) {
                chomp(line);
                if (strncmp(line, "0x", 2) == 0) {
                        cur++;
                        if ((size_t) cur >= n)
                                return false;
                        out[cur].addr = strtoull(line, NULL, 16);
                        out[cur].n = 0;
                        continue;
                }
                if (cur < 0)
                        return false;
                struct a2l *a = &out[cur];
                if (a->n >= FRAMES_MAX)
                        continue;
                copy_str(a->name[a->n], sizeof(a->name[0]), strcmp(line, "??") == 0 ? "" : line);
                if (!fgets(line, sizeof(line), r))
                        return false;
                chomp(line);
                parse_location(line, eu, a->file[a->n], sizeof(a->file[0]), &a->line[a->n]);
                a->n++;
        }
        return (size_t) cur + 1 == n;
}

static bool run_addr2line(const char *bin, const uint64_t *addrs, size_t n, struct a2l *out) {
        return run_tool("addr2line", bin, addrs, n, out);
}

/* Compares our chain (root first) with addr2line's (innermost first).
 * Returns true when equal; prints the first difference otherwise. */
static bool same_chain(const struct a2l *a, const struct dwarf_frame *f, int n) {
        /* addr2line prints "??" / "??:0" for an address without DWARF */
        if (n == 0)
                return a->n == 1 && !a->name[0][0] && !a->file[0][0];
        if ((size_t) n != a->n) {
                printf("# 0x%" PRIx64 ": %d frames, addr2line %zu\n", a->addr, n, a->n);
                return false;
        }
        for (int k = 0; k < n; k++) {
                size_t j = a->n - 1 - (size_t) k;
                const char *name = f[k].name ? f[k].name : "", *file = f[k].file ? f[k].file : "";
                if (strcmp(name, a->name[j]) != 0 || strcmp(file, a->file[j]) != 0 || f[k].line != a->line[j] ||
                    f[k].inlined != (k > 0)) {
                        printf("# 0x%" PRIx64 " frame %d: %s %s:%u, addr2line %s %s:%u\n", a->addr, k, name,
                               file, f[k].line, a->name[j], a->file[j], a->line[j]);
                        return false;
                }
        }
        return true;
}

static bool compile(const char *compiler, const char *src, const char *out) {
        char cmd[2048];
        snprintf(cmd, sizeof(cmd), "%s -g -O2 -o '%s' '%s'", compiler, out, src);
        return system(cmd) == 0;
}

/* Looks up every byte of `func` in both tools. Returns the number of
 * addresses compared; *ret_diff gets how many differed. Sets
 * *ret_deep to an address with the most frames. */
static size_t compare_function(const char *bin, Elf *elf, struct dwarf_lines *d, const char *func,
                               size_t *ret_diff, uint64_t *ret_deep, int *ret_deep_n) {
        uint64_t start, size;
        if (!find_symbol(elf, func, &start, &size) || size > 65536)
                return 0;
        _cleanup_free_ uint64_t *addrs = calloc(size, sizeof(*addrs));
        _cleanup_free_ struct a2l *a = calloc(size, sizeof(*a));
        if (!addrs || !a)
                return 0;
        for (uint64_t i = 0; i < size; i++)
                addrs[i] = start + i;
        if (!run_addr2line(bin, addrs, size, a))
                return 0;
        *ret_diff = 0;
        *ret_deep_n = -1;
        for (uint64_t i = 0; i < size; i++) {
                struct dwarf_frame f[FRAMES_MAX];
                int n = dwarf_lines_lookup(d, addrs[i], f, FRAMES_MAX);
                if (!same_chain(&a[i], f, n) && ++*ret_diff > 20)
                        break;
                if (n > *ret_deep_n) {
                        *ret_deep_n = n;
                        *ret_deep = addrs[i];
                }
        }
        return size;
}

static void test_c(void) {
        char bin[256];
        struct file f = { -1, NULL };
        struct dwarf_lines *d = NULL;
        size_t diff = 0, n;
        uint64_t deep = 0;
        int deep_n = 0;

        snprintf(bin, sizeof(bin), "%s/inline-chain", tmpdir);
        CHECK(compile("gcc", SRCDIR "/tests/data/dwarf/inline-chain.c", bin), "gcc -g -O2 inline-chain.c");
        CHECK(file_open(&f, bin) && dwarf_lines_open(f.elf, &d) == 0, "open the C fixture's DWARF");
        if (!d)
                return;

        n = compare_function(bin, f.elf, d, "chain_root", &diff, &deep, &deep_n);
        CHECK(n > 32 && diff == 0, "chain_root: %zu addresses as addr2line -i -f gives them (%zu differ)", n, diff);
        n = compare_function(bin, f.elf, d, "main", &diff, &deep, &deep_n);
        CHECK(n > 8 && diff == 0, "main: %zu addresses as addr2line -i -f gives them (%zu differ)", n, diff);

        /* an address inside the innermost inline: four frames, root first */
        uint64_t start, size;
        CHECK(find_symbol(f.elf, "chain_root", &start, &size), "chain_root in .symtab");
        struct dwarf_frame fr[FRAMES_MAX];
        uint64_t inner = 0;
        int k = 0;
        for (uint64_t a = start; a < start + size && !inner; a++) {
                k = dwarf_lines_lookup(d, a, fr, FRAMES_MAX);
                if (k == 4)
                        inner = a;
        }
        CHECK(inner != 0, "an address of chain_root has 4 frames (0x%" PRIx64 ")", inner);
        if (!inner)
                goto out;
        static const char *const names[] = { "chain_root", "chain_level1", "chain_level2", "chain_level3" };
        for (int i = 0; i < 4; i++) {
                CHECK_STREQ(fr[i].name, names[i], "frame %d name", i);
                CHECK(fr[i].inlined == (i > 0), "frame %d inlined=%d", i, fr[i].inlined);
                CHECK(fr[i].file && strstr(fr[i].file, "inline-chain.c") && fr[i].line > 0, "frame %d at %s:%u", i,
                      fr[i].file ? fr[i].file : "(null)", fr[i].line);
        }
        /* every outer frame's line is a call site, the innermost its own */
        CHECK(fr[0].line > fr[1].line && fr[1].line > fr[2].line && fr[2].line > fr[3].line,
              "lines are call sites: %u %u %u %u", fr[0].line, fr[1].line, fr[2].line, fr[3].line);

        /* too small a buffer: the root and the innermost frame; the
         * root keeps its own call-site line */
        struct dwarf_frame small[2];
        CHECK(dwarf_lines_lookup(d, inner, small, 2) == 2, "max=2 gives 2 frames");
        CHECK_STREQ(small[0].name, "chain_root", "max=2: root kept");
        CHECK(small[0].line == fr[0].line, "max=2: root's line is still its call site");
        CHECK_STREQ(small[1].name, "chain_level3", "max=2: innermost kept");
        CHECK(small[1].line == fr[3].line && small[1].inlined, "max=2: innermost line");
        CHECK(dwarf_lines_lookup(d, inner, small, 1) == 1 && strcmp(small[0].name, "chain_root") == 0,
              "max=1: the root only");

        CHECK(dwarf_lines_lookup(d, 0, fr, FRAMES_MAX) == 0, "address 0: no frame");
        CHECK(dwarf_lines_lookup(d, UINT64_MAX, fr, FRAMES_MAX) == 0, "address -1: no frame");
        CHECK(dwarf_lines_preload(d) == 0, "preload");
        CHECK(dwarf_lines_lookup(d, inner, fr, FRAMES_MAX) == 4, "after preload: still 4 frames");
out:
        dwarf_lines_free(d);
        file_close(&f);
}

static void test_cxx(void) {
        char bin[256];
        struct file f = { -1, NULL };
        struct dwarf_lines *d = NULL;
        size_t diff = 0, n;
        uint64_t deep = 0;
        int deep_n = 0;

        snprintf(bin, sizeof(bin), "%s/inline-chain-cxx", tmpdir);
        CHECK(compile("g++", SRCDIR "/tests/data/dwarf/inline-chain.cc", bin), "g++ -g -O2 inline-chain.cc");
        CHECK(file_open(&f, bin) && dwarf_lines_open(f.elf, &d) == 0, "open the C++ fixture's DWARF");
        if (!d)
                return;
        n = compare_function(bin, f.elf, d, "_ZN6corpus6Runner3runEj", &diff, &deep, &deep_n);
        CHECK(n > 16 && diff == 0, "Runner::run: %zu addresses as addr2line -i -f gives them (%zu differ)", n,
              diff);
        struct dwarf_frame fr[FRAMES_MAX];
        CHECK(deep_n == 2 && dwarf_lines_lookup(d, deep, fr, FRAMES_MAX) == 2, "an address with an inlined step()");
        if (deep_n == 2) {
                CHECK_STREQ(fr[0].name, "_ZN6corpus6Runner3runEj", "root: linkage name through DW_AT_specification");
                CHECK_STREQ(fr[1].name, "_ZN6corpus6Runner4stepEj", "inlined: linkage name through abstract_origin");
        }
        dwarf_lines_free(d);
        file_close(&f);
}

/* Inlined functions without a linkage name get the scopes around them:
 * every address of Runner::go, and the names of its inline frames. */
static void test_qualified(void) {
        static const char *const want[] = { "qual::Runner::go::<lambda>::operator()",
                                            "qual::(anonymous namespace)::mix_in" };
        char bin[256];
        struct file f = { -1, NULL };
        struct dwarf_lines *d = NULL;
        uint64_t start = 0, size = 0;
        bool seen[2] = {};
        size_t bare = 0;

        snprintf(bin, sizeof(bin), "%s/qualified", tmpdir);
        CHECK(compile("g++", SRCDIR "/tests/data/dwarf/qualified.cc", bin), "g++ -g -O2 qualified.cc");
        CHECK(file_open(&f, bin) && dwarf_lines_open(f.elf, &d) == 0, "open the fixture's DWARF");
        CHECK(d && find_symbol(f.elf, "_ZN4qual6Runner2goEj", &start, &size) && size > 0,
              "Runner::go in .symtab");
        for (uint64_t a = start; d && a < start + size; a++) {
                struct dwarf_frame fr[FRAMES_MAX];
                int n = dwarf_lines_lookup(d, a, fr, FRAMES_MAX);
                for (int i = 1; i < n; i++) {
                        for (size_t k = 0; k < 2; k++)
                                seen[k] |= fr[i].name && strcmp(fr[i].name, want[k]) == 0;
                        bare += fr[i].name && (!strcmp(fr[i].name, "operator()") || !strcmp(fr[i].name, "mix_in"));
                }
        }
        for (size_t k = 0; k < 2; k++)
                CHECK(seen[k], "an inline frame is named '%s'", want[k]);
        CHECK(bare == 0, "no inline frame keeps a bare name (%zu do)", bare);
        dwarf_lines_free(d);
        file_close(&f);
}

static void test_libc(void) {
        static const char libc[] = "/lib/x86_64-linux-gnu/libc.so.6";
        struct elf_module *m = NULL;
        struct file dbg = { -1, NULL };
        struct dwarf_lines *d = NULL;
        char path[512];
        size_t len = 0;
        int fd = open(libc, O_RDONLY | O_CLOEXEC);

        CHECK(fd >= 0 && elf_module_open_fd(fd, &m) == 0, "open '%s'", libc);
        if (fd >= 0)
                close(fd);
        if (!m)
                return;
        const uint8_t *id = elf_module_build_id(m, &len);
        CHECK(id && len > 1, "libc has a build-id");
        int k = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", id[0]);
        for (size_t i = 1; i < len; i++)
                k += snprintf(path + k, sizeof(path) - (size_t) k, "%02x", id[i]);
        snprintf(path + k, sizeof(path) - (size_t) k, ".debug");
        elf_module_free(m);

        CHECK(file_open(&dbg, path), "libc6-dbg's debug file '%s'", path);
        CHECK(dbg.elf && dwarf_lines_open(dbg.elf, &d) == 0, "open its DWARF");
        uint64_t start = 0, size = 0;
        CHECK(dbg.elf && find_symbol(dbg.elf, "__libc_start_call_main", &start, &size),
              "__libc_start_call_main in its .symtab");
        if (d && size) {
                uint64_t a = start + size / 2;
                struct dwarf_frame fr[FRAMES_MAX];
                struct a2l ref;
                int n = dwarf_lines_lookup(d, a, fr, FRAMES_MAX);
                CHECK(n >= 1, "0x%" PRIx64 " resolves (%d frames)", a, n);
                if (n >= 1) {
                        CHECK_STREQ(fr[0].name, "__libc_start_call_main", "its root");
                        CHECK(fr[0].file && strstr(fr[0].file, "libc_start_call_main.h") && fr[0].line > 0,
                              "in %s:%u", fr[0].file ? fr[0].file : "(null)", fr[0].line);
                }
                /* binutils 2.40 reads this DWARF 5 file table one entry
                 * off (libc-start.c for libc_start_call_main.h), so the
                 * reference here is elfutils */
                CHECK(run_tool("eu-addr2line", path, &a, 1, &ref) && same_chain(&ref, fr, n),
                      "as eu-addr2line -i -f gives it");

                /* usage by tick: CUs parsed, and those looked into lately */
                struct dwarf_lines_usage u[4];
                uint64_t qs = 0, qsize = 0;
                dwarf_lines_tick(d, 2, &u[0]);
                CHECK(find_symbol(dbg.elf, "qsort_r", &qs, &qsize) &&
                      dwarf_lines_lookup(d, qs + qsize / 2, fr, FRAMES_MAX) >= 1, "qsort_r resolves (another CU)");
                dwarf_lines_tick(d, 2, &u[1]);
                dwarf_lines_tick(d, 2, &u[2]);
                dwarf_lines_tick(d, 2, &u[3]);
                CHECK(u[0].cus_indexed == 1 && u[0].cus_recent == 1, "tick 0: 1 CU parsed, 1 in use (%zu, %zu)",
                      u[0].cus_indexed, u[0].cus_recent);
                CHECK(u[1].cus_indexed == 2 && u[1].cus_recent == 2, "tick 1: 2 parsed, 2 in the last 2 ticks (%zu, %zu)",
                      u[1].cus_indexed, u[1].cus_recent);
                CHECK(u[2].cus_indexed == 2 && u[2].cus_recent == 1, "tick 2: the first CU is out of the span (%zu, %zu)",
                      u[2].cus_indexed, u[2].cus_recent);
                CHECK(u[3].cus_indexed == 2 && u[3].cus_recent == 0, "tick 3: neither is in use (%zu, %zu)",
                      u[3].cus_indexed, u[3].cus_recent);
        }
        dwarf_lines_free(d);
        file_close(&dbg);
}

static void test_no_dwarf(void) {
        char bin[256], cmd[600];
        struct file f = { -1, NULL };
        struct dwarf_lines *d = NULL;

        snprintf(bin, sizeof(bin), "%s/stripped", tmpdir);
        snprintf(cmd, sizeof(cmd), "gcc -O2 -s -o '%s' '%s'", bin, SRCDIR "/tests/data/dwarf/inline-chain.c");
        CHECK(system(cmd) == 0 && file_open(&f, bin), "a stripped build");
        CHECK(f.elf && dwarf_lines_open(f.elf, &d) == -ENODATA, "no .debug_info: -ENODATA");
        file_close(&f);
        CHECK(dwarf_lines_open(NULL, &d) == -ENODATA, "no ELF: -ENODATA");
}

int main(void) {
        char cmd[300];

        if (elf_version(EV_CURRENT) == EV_NONE || !mkdtemp(tmpdir)) {
                printf("Bail out! setup\n");
                return 1;
        }
        test_c();
        test_cxx();
        test_qualified();
        test_libc();
        test_no_dwarf();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
                printf("# cannot remove %s\n", tmpdir);
        return tap_done();
}
