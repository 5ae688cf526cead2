/* ELF modules: build-id, offset translation and symbols of a real shared
 * library (libsymtest.so, see symbolize/symtest.h) opened from its file
 * and from memory, a non-PIE executable, broken inputs, and PLT stubs of
 * programs gcc builds here, checked against objdump. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/elf-module.h"
#include "util/cleanup.h"
#include "symbolize/symtest.h"
#include "tap.h"

/* What the dynamic loader knows of libsymtest.so, read independently of
 * the code under test. */
struct loaded {
        uintptr_t base;
        const ElfW(Phdr) *phdr;
        int phnum;
        uint8_t build_id[64];
        size_t build_id_len;
};

static int find_lib(struct dl_phdr_info *info, size_t size, void *ud) {
        struct loaded *l = ud;
        (void) size;
        if (!strstr(info->dlpi_name, "libsymtest.so"))
                return 0;
        l->base = info->dlpi_addr;
        l->phdr = info->dlpi_phdr;
        l->phnum = info->dlpi_phnum;
        for (int i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                if (ph->p_type != PT_NOTE)
                        continue;
                const char *p = (const char *) (info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
                while (p + sizeof(ElfW(Nhdr)) <= end) {
                        const ElfW(Nhdr) *nh = (const void *) p;
                        const char *name = p + sizeof(*nh);
                        const char *desc = name + ((nh->n_namesz + 3) & ~3u);
                        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_descsz <= 64) {
                                memcpy(l->build_id, desc, nh->n_descsz);
                                l->build_id_len = nh->n_descsz;
                        }
                        p = desc + ((nh->n_descsz + 3) & ~3u);
                }
        }
        return 1;
}

/* The file offset of a loaded address, from the program headers. */
static uint64_t file_offset(const struct loaded *l, uintptr_t addr) {
        uint64_t vaddr = addr - l->base;
        for (int i = 0; i < l->phnum; i++) {
                const ElfW(Phdr) *ph = &l->phdr[i];
                if (ph->p_type == PT_LOAD && vaddr >= ph->p_vaddr && vaddr < ph->p_vaddr + ph->p_filesz)
                        return vaddr - ph->p_vaddr + ph->p_offset;
        }
        return UINT64_MAX;
}

static void check_module(struct elf_module *m, const struct loaded *l, const char *how) {
        size_t len = 0;
        const uint8_t *bid = elf_module_build_id(m, &len);
        uintptr_t work = (uintptr_t) symtest_lib_work;
        uint64_t vaddr = 0, start = 0;

        CHECK(bid && len == l->build_id_len && len > 0 && memcmp(bid, l->build_id, len) == 0,
              "%s: build-id matches the loaded one (%zu bytes)", how, len);
        CHECK(!elf_module_is_fixed(m), "%s: a shared library is not ET_EXEC", how);
        CHECK(elf_module_offset_to_vaddr(m, file_offset(l, work), &vaddr) == 0 && vaddr == work - l->base,
              "%s: file offset -> ELF address", how);
        CHECK(elf_module_offset_to_vaddr(m, UINT64_MAX - 5, &vaddr) == -ENOENT,
              "%s: offset outside every segment", how);
        CHECK_STREQ(elf_module_symbolize(m, work - l->base, &start), "symtest_lib_work", "%s: start", how);
        CHECK(start == work - l->base, "%s: symbol start", how);
        CHECK_STREQ(elf_module_symbolize(m, work - l->base + 3, NULL), "symtest_lib_work", "%s: inside", how);
        uintptr_t b = (uintptr_t) dlsym(RTLD_DEFAULT, "symtest_adj_b") - l->base;
        CHECK_STREQ(elf_module_symbolize(m, b, NULL), "symtest_adj_b", "%s: adjacent B", how);
        CHECK_STREQ(elf_module_symbolize(m, b - 1, NULL), "symtest_adj_a", "%s: byte before B is A", how);
        uintptr_t g = (uintptr_t) dlsym(RTLD_DEFAULT, "symtest_gap_before") - l->base;
        CHECK_STREQ(elf_module_symbolize(m, g, NULL), "symtest_gap_before", "%s: sized symbol", how);
        CHECK(elf_module_symbolize(m, g + 8, NULL) == NULL, "%s: no symbol in the gap", how);
        uintptr_t n = (uintptr_t) dlsym(RTLD_DEFAULT, "symtest_nosize") - l->base;
        CHECK_STREQ(elf_module_symbolize(m, n + SYMTEST_NOSIZE_BYTES - 1, NULL), "symtest_nosize",
                    "%s: size-0 symbol reaches the next one", how);
        CHECK_STREQ(elf_module_symbolize(m, n + SYMTEST_NOSIZE_BYTES, NULL), "symtest_after_nosize",
                    "%s: ... and not further", how);
        CHECK(elf_module_symbolize(m, 0, NULL) == NULL, "%s: the ELF header is no function", how);
        CHECK(elf_module_symbol_count(m) >= 8, "%s: symbols (%zu)", how, elf_module_symbol_count(m));
}

static char *read_all(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc(n > 0 ? (size_t) n : 1);
        if (buf && fread(buf, 1, (size_t) n, f) != (size_t) n) {
                free(buf);
                buf = NULL;
        }
        fclose(f);
        *len = (size_t) n;
        return buf;
}

static struct elf_module *open_path(const char *path) {
        struct elf_module *m = NULL;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        if (elf_module_open_fd(fd, &m) < 0)
                m = NULL;
        close(fd);
        return m;
}

/* libsymtest.so stripped (only .dynsym left) plus its debug file made by
 * objcopy --only-keep-debug (NOBITS .text, full .symtab): the size rules
 * hold through the debug file's symbols, segments stay the binary's. */
static void test_stripped_with_debug_file(const char *path, const struct loaded *l) {
        char dir[] = "/tmp/test-elf.XXXXXX", stripped[256], debug[256], cmd[1024];
        struct elf_module *m, *d, *plain;

        CHECK(mkdtemp(dir) != NULL, "scratch directory");
        snprintf(stripped, sizeof(stripped), "%s/libsymtest.so", dir);
        snprintf(debug, sizeof(debug), "%s/libsymtest.debug", dir);
        snprintf(cmd, sizeof(cmd), "objcopy --only-keep-debug '%s' '%s' && strip --strip-all -o '%s' '%s'", path,
                 debug, stripped, path);
        CHECK(system(cmd) == 0, "objcopy --only-keep-debug + strip");
        m = open_path(stripped);
        d = open_path(debug);
        plain = open_path(path);
        CHECK(m && d && plain, "open the stripped library and its debug file");
        if (m && d && plain) {
                size_t alone = elf_module_symbol_count(m);
                CHECK(elf_module_use_symbols_from(m, d) == 0, "use the debug file's symbols");
                CHECK(elf_module_debug(m) == d, "the debug module is kept");
                check_module(m, l, "stripped + debug file");
                /* the debug .symtab has what the unstripped file has,
                 * locals included, which .dynsym lacks */
                CHECK(elf_module_symbol_count(m) == elf_module_symbol_count(plain) &&
                      elf_module_symbol_count(m) > alone,
                      "symbols: %zu from the debug file, %zu unstripped, %zu from .dynsym",
                      elf_module_symbol_count(m), elf_module_symbol_count(plain), alone);
                struct elf_module *again = open_path(debug);
                CHECK(again && elf_module_use_symbols_from(m, again) == -EBUSY, "a second debug file: -EBUSY");
                elf_module_free(again);
                d = NULL;
        }
        elf_module_free(d);
        elf_module_free(m);
        elf_module_free(plain);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0, "clean up");
}

/* A function symbol of one symbol table (SHT_SYMTAB or SHT_DYNSYM), read
 * with plain libelf: the highest one at or below addr (*ret_below) and
 * the one named `name`. */
static bool scan_symbols(struct elf_module *m, GElf_Word type, const char *name, uint64_t addr,
                         GElf_Sym *ret_named, GElf_Sym *ret_below, const char **ret_below_name) {
        Elf *elf = elf_module_elf(m);
        Elf_Scn *scn = NULL;
        bool found = false;

        ret_below->st_value = 0;
        *ret_below_name = NULL;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || sh.sh_entsize == 0)
                        continue;
                Elf_Data *data = elf_getdata(scn, NULL);
                for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
                        GElf_Sym s;
                        if (!gelf_getsym(data, (int) i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
                            s.st_shndx == SHN_UNDEF)
                                continue;
                        const char *n = elf_strptr(elf, sh.sh_link, s.st_name);
                        if (name && n && strcmp(n, name) == 0) {
                                *ret_named = s;
                                found = true;
                        }
                        if (s.st_value <= addr && s.st_value >= ret_below->st_value) {
                                *ret_below = s;
                                *ret_below_name = n;
                        }
                }
        }
        return found;
}

/* libc as Debian ships it: .dynsym only; libc6-dbg's debug file (found by
 * build-id) names the local __libc_start_call_main, every stack's root. */
static void test_libc_debug_file(void) {
        struct elf_module *libc = open_path("/lib/x86_64-linux-gnu/libc.so.6"), *dbg = NULL;
        char path[512];
        size_t len = 0;
        GElf_Sym main_sym = {}, below, unused;
        const char *below_name = NULL, *unused_name;

        CHECK(libc != NULL, "open libc");
        if (!libc)
                return;
        const uint8_t *id = elf_module_build_id(libc, &len);
        int k = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", len ? id[0] : 0);
        for (size_t i = 1; i < len; i++)
                k += snprintf(path + k, sizeof(path) - (size_t) k, "%02x", id[i]);
        snprintf(path + k, sizeof(path) - (size_t) k, ".debug");
        dbg = open_path(path);
        CHECK(dbg != NULL, "libc6-dbg's '%s'", path);
        if (!dbg)
                goto out;
        CHECK(scan_symbols(dbg, SHT_SYMTAB, "__libc_start_call_main", 0, &main_sym, &unused, &unused_name) &&
              main_sym.st_size > 0, "__libc_start_call_main in the debug .symtab");
        uint64_t a = main_sym.st_value + main_sym.st_size / 2;
        /* what .dynsym has below it: an exported function that ends before it */
        scan_symbols(libc, SHT_DYNSYM, NULL, a, &unused, &below, &below_name);
        CHECK(below_name && below.st_value + below.st_size <= main_sym.st_value,
              "nearest exported function below: %s", below_name ? below_name : "(none)");
        const char *alone = elf_module_symbolize(libc, a, NULL);
        CHECK(alone == NULL, "without the debug file: no name, not the exported one past its end (%s)",
              alone ? alone : "NULL");
        CHECK(elf_module_use_symbols_from(libc, dbg) == 0, "use the debug file's symbols");
        uint64_t start = 0;
        CHECK_STREQ(elf_module_symbolize(libc, a, &start), "__libc_start_call_main", "with the debug file");
        CHECK(start == main_sym.st_value, "its start");
        size_t blen = 0;
        CHECK(elf_module_build_id(libc, &blen) == id && blen == len, "build-id stays the binary's");
        dbg = NULL;

        /* a debug file of another build is refused */
        struct elf_module *other = open_path(SYMTEST_DL_PATH), *fresh = open_path("/lib/x86_64-linux-gnu/libc.so.6");
        CHECK(other && fresh && elf_module_use_symbols_from(fresh, other) == -ESTALE, "another build-id: -ESTALE");
        CHECK(fresh && elf_module_debug(fresh) == NULL, "... and not taken");
        elf_module_free(other);
        elf_module_free(fresh);
out:
        elf_module_free(dbg);
        elf_module_free(libc);
}

/* PLT stubs. A program calling puts and strlen (through .plt, or
 * .plt.sec with IBT) and qsort, whose address it also takes (so the call
 * goes through .plt.got and a GLOB_DAT slot): every "<X@plt>" label that
 * objdump prints must be named "X@plt" by the module. */

static const char plt_prog[] =
        "#include <stdio.h>\n"
        "#include <stdlib.h>\n"
        "#include <string.h>\n"
        "static int cmp(const void *a, const void *b) { return *(const int *) a - *(const int *) b; }\n"
        "void *volatile keep;\n"
        "int main(int argc, char **argv) {\n"
        "        int v[3] = { 3, 1, argc };\n"
        "        keep = (void *) &qsort;\n"
        "        qsort(v, 3, sizeof(int), cmp);\n"
        "        puts(argv[0]);\n"
        "        return (int) strlen(argv[0]) + v[0];\n"
        "}\n";

struct plt_label {
        uint64_t addr;
        char name[128]; /* without "@plt" */
};

/* objdump's view: "<X@plt>:" labels and the start of .plt (*ret_plt0,
 * 0 without): the resolver stub PLT0, labelled "<.plt>" or after its
 * neighbour ("<puts@plt-0x10>"). IRELATIVE stubs ("*ABS*+0x9f550@plt")
 * have no symbol to be named after: left out. */
static size_t objdump_plt_labels(const char *path, struct plt_label *out, size_t max, uint64_t *ret_plt0) {
        char cmd[600], line[512];
        size_t n = 0;
        bool in_plt = false;

        *ret_plt0 = 0;
        snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn '%s'", path);
        FILE *f = popen(cmd, "r");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long a;
                char label[256];
                if (strncmp(line, "Disassembly of section ", 23) == 0) {
                        in_plt = strcmp(line + 23, ".plt:\n") == 0;
                        continue;
                }
                if (sscanf(line, "%llx <%255[^>]>:", &a, label) != 2)
                        continue;
                size_t len = strlen(label);
                if (in_plt && !*ret_plt0)
                        *ret_plt0 = a;
                if (len > 4 && strcmp(label + len - 4, "@plt") == 0 && strncmp(label, "*ABS*", 5) != 0 &&
                         len - 4 < sizeof(out->name) && n < max) {
                        out[n].addr = a;
                        memcpy(out[n].name, label, len - 4);
                        out[n].name[len - 4] = '\0';
                        n++;
                }
        }
        if (pclose(f) != 0)
                return 0;
        return n;
}

static bool has_label(const struct plt_label *l, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(l[i].name, name) == 0)
                        return true;
        return false;
}

/* Every objdump label of path named by m; returns how many labels. */
static size_t check_plt_labels(struct elf_module *m, const char *path, const char *how) {
        static struct plt_label l[1024];
        uint64_t plt0, start;
        size_t n = objdump_plt_labels(path, l, ELEMENTSOF(l), &plt0), bad = 0;
        char want[140];

        for (size_t i = 0; i < n; i++) {
                snprintf(want, sizeof(want), "%s@plt", l[i].name);
                start = 0;
                const char *got = elf_module_symbolize(m, l[i].addr, &start);
                const char *inside = elf_module_symbolize(m, l[i].addr + 7, NULL);
                if (!got || strcmp(got, want) != 0 || start != l[i].addr || !inside || strcmp(inside, want) != 0) {
                        printf("# %s: %#llx: got '%s' (start %#llx), +7 '%s', objdump says '%s'\n", how,
                               (unsigned long long) l[i].addr, got ? got : "(null)", (unsigned long long) start,
                               inside ? inside : "(null)", want);
                        bad++;
                }
        }
        CHECK(n > 0 && bad == 0, "%s: %zu of %zu objdump <X@plt> labels named X@plt, with their start", how,
              n - bad, n);
        CHECK(plt0 && elf_module_symbolize(m, plt0, NULL) == NULL && elf_module_symbolize(m, plt0 + 15, NULL) == NULL,
              "%s: PLT0 (the resolver stub, %#llx) has no name", how, (unsigned long long) plt0);
        return n;
}

/* The stubs' GOT slots named through .dynsym entries past its end, or
 * bytes that are not a jmp: no names, no crash. */
static void check_plt_broken(const char *path, const char *how) {
        size_t len = 0;
        _cleanup_free_ char *image = read_all(path, &len);
        struct elf_module *m;
        uint64_t plt0;
        static struct plt_label l[64];
        size_t n = objdump_plt_labels(path, l, ELEMENTSOF(l), &plt0);
        size_t named = 0;

        CHECK(image && len > sizeof(ElfW(Ehdr)), "%s: read", how);
        if (!image || len <= sizeof(ElfW(Ehdr)))
                return;
        ElfW(Ehdr) *eh = (ElfW(Ehdr) *) image;
        ElfW(Shdr) *sh = (ElfW(Shdr) *) (image + eh->e_shoff);
        const char *shstr = image + sh[eh->e_shstrndx].sh_offset;
        for (int i = 0; i < eh->e_shnum; i++) {
                const char *name = shstr + sh[i].sh_name;
                if (sh[i].sh_type == SHT_RELA)
                        for (size_t k = 0; k + sizeof(ElfW(Rela)) <= sh[i].sh_size; k += sizeof(ElfW(Rela))) {
                                ElfW(Rela) *r = (ElfW(Rela) *) (image + sh[i].sh_offset + k);
                                r->r_info = ELF64_R_INFO(0x7ffffff0u, ELF64_R_TYPE(r->r_info));
                        }
                /* and one stub whose jmp is no jmp */
                if (strcmp(name, ".plt.got") == 0 && sh[i].sh_size >= 8)
                        memset(image + sh[i].sh_offset, 0xcc, 8);
        }
        CHECK(elf_module_from_memory(image, len, &m) == 0, "%s: open", how);
        for (size_t i = 0; i < n; i++) {
                const char *s = elf_module_symbolize(m, l[i].addr, NULL);
                named += s && strstr(s, "@plt");
        }
        CHECK(n > 0 && named == 0, "%s: symbol indexes out of bounds: none of %zu stubs named", how, n);
        elf_module_free(m);

        /* the section header string table index out of range */
        _cleanup_free_ char *image2 = read_all(path, &len);
        ((ElfW(Ehdr) *) image2)->e_shstrndx = 0xfff0;
        int r = elf_module_from_memory(image2, len, &m);
        CHECK(r < 0 || (elf_module_symbolize(m, l[0].addr, NULL), true), "%s: bad e_shstrndx: r=%d", how, r);
        if (r >= 0)
                elf_module_free(m);
}

static void test_plt(void) {
        static const struct {
                const char *how, *flags;
                bool ibt;
        } variants[] = {
                { "plt", "-O2", false },
                { "plt -z now", "-O2 -Wl,-z,now", false },
                { "plt non-PIE", "-O2 -no-pie -fno-pie", false },
                { "plt IBT", "-O2 -fcf-protection=full -Wl,-z,ibtplt", true },
                { "plt IBT -z now", "-O2 -fcf-protection=full -Wl,-z,ibtplt -Wl,-z,now", true },
        };
        char dir[] = "/tmp/test-elf-plt.XXXXXX", src[256], prog[256], cmd[1024];

        CHECK(mkdtemp(dir) != NULL, "plt: scratch directory");
        snprintf(src, sizeof(src), "%s/prog.c", dir);
        FILE *f = fopen(src, "w");
        CHECK(f && fputs(plt_prog, f) >= 0 && fclose(f) == 0, "plt: write %s", src);
        for (size_t v = 0; v < ELEMENTSOF(variants); v++) {
                const char *how = variants[v].how;
                snprintf(prog, sizeof(prog), "%s/prog%zu", dir, v);
                snprintf(cmd, sizeof(cmd), "gcc %s -o '%s' '%s' 2>'%s.err'", variants[v].flags, prog, src, prog);
                if (system(cmd) != 0 && variants[v].ibt) {
                        /* only the IBT flags may be missing from a toolchain */
                        printf("# %s: skipped, gcc or ld refused '%s':\n", how, variants[v].flags);
                        snprintf(cmd, sizeof(cmd), "sed 's/^/# /' '%s.err'", prog);
                        (void) system(cmd);
                        continue;
                }
                struct elf_module *m = open_path(prog);
                CHECK(m != NULL, "%s: gcc %s, open", how, variants[v].flags);
                if (!m)
                        continue;
                static struct plt_label l[64];
                uint64_t plt0;
                size_t n = objdump_plt_labels(prog, l, ELEMENTSOF(l), &plt0);
                CHECK(has_label(l, n, "puts") && has_label(l, n, "strlen") && has_label(l, n, "qsort"),
                      "%s: objdump labels puts, strlen and qsort stubs (%zu labels)", how, n);
                check_plt_labels(m, prog, how);
                size_t count = elf_module_symbol_count(m);
                CHECK(count >= n + 1, "%s: the count includes the %zu stubs (%zu)", how, n, count);
                if (variants[v].ibt) {
                        /* .plt.sec holds the stubs: .plt's lazy entries after PLT0 are not them */
                        uint64_t start = 0;
                        CHECK(plt0 && elf_module_symbolize(m, plt0 + 16, &start) == NULL,
                              "%s: .plt's lazy-binding entry 1 is no stub", how);
                }
                elf_module_free(m);

                /* stripped to nothing but .dynsym, the stubs still have names */
                snprintf(cmd, sizeof(cmd), "strip --strip-all -o '%s.stripped' '%s'", prog, prog);
                char stripped[300];
                snprintf(stripped, sizeof(stripped), "%s.stripped", prog);
                CHECK(system(cmd) == 0 && (m = open_path(stripped)) != NULL, "%s: strip", how);
                if (m) {
                        char what[100];
                        snprintf(what, sizeof(what), "%s stripped", how);
                        size_t seen = check_plt_labels(m, stripped, what), count = elf_module_symbol_count(m);
                        /* .dynsym has no function of the program's own */
                        CHECK(seen == n && count == n, "%s: objdump sees the same %zu stubs, the count is theirs (%zu)",
                              what, seen, count);
                        elf_module_free(m);
                }
                if (v == 0)
                        check_plt_broken(prog, "plt broken");
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0, "plt: clean up");

        /* libc: JUMP_SLOT stubs among IRELATIVE ones (which stay nameless),
         * and the stubs kept when its names come from libc6-dbg's file,
         * whose .plt is NOBITS */
        const char *libc_path = "/lib/x86_64-linux-gnu/libc.so.6";
        struct elf_module *libc = open_path(libc_path);
        CHECK(libc != NULL, "open libc");
        if (!libc)
                return;
        check_plt_labels(libc, libc_path, "libc");
        char path[512];
        size_t len = 0;
        const uint8_t *id = elf_module_build_id(libc, &len);
        int k = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", len ? id[0] : 0);
        for (size_t i = 1; i < len; i++)
                k += snprintf(path + k, sizeof(path) - (size_t) k, "%02x", id[i]);
        snprintf(path + k, sizeof(path) - (size_t) k, ".debug");
        struct elf_module *dbg = open_path(path);
        int r = dbg ? elf_module_use_symbols_from(libc, dbg) : -ENOENT;
        CHECK(r == 0, "libc: use '%s'", path);
        if (r == 0)
                check_plt_labels(libc, libc_path, "libc + debug file");
        else
                elf_module_free(dbg);
        elf_module_free(libc);
}

/* ld.so's _start is a NOTYPE label of size 0 (glibc's RTLD_START): it is
 * named from libc6-dbg's debug file because it is the entry point, where
 * other size-0 labels (_dl_start_user, just after it) are not. */
static void test_entry_label(void) {
        const char *ld = "/lib64/ld-linux-x86-64.so.2";
        struct elf_module *m = open_path(ld);
        char debug[128];
        size_t n = 0;

        CHECK(m != NULL, "open %s", ld);
        if (!m)
                return;
        const uint8_t *id = elf_module_build_id(m, &n);
        CHECK(id && n > 1, "%s has a build-id", ld);
        int k = snprintf(debug, sizeof(debug), "/usr/lib/debug/.build-id/%02x/", id ? id[0] : 0);
        for (size_t i = 1; id && i < n && k > 0 && (size_t) k + 3 < sizeof(debug); i++)
                k += snprintf(debug + k, sizeof(debug) - (size_t) k, "%02x", id[i]);
        snprintf(debug + k, sizeof(debug) - (size_t) k, ".debug");
        struct elf_module *d = open_path(debug);
        CHECK(d != NULL, "libc6-dbg has ld.so's debug file %s", debug);
        if (d) {
                GElf_Ehdr eh;
                int fd = open(ld, O_RDONLY | O_CLOEXEC);
                Elf *e = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
                CHECK(e && gelf_getehdr(e, &eh), "read %s's ELF header", ld);
                CHECK(elf_module_use_symbols_from(m, d) == 0, "use ld.so's debug symbols");
                if (e && gelf_getehdr(e, &eh)) {
                        /* the return address of _start's call to _dl_start, minus one */
                        CHECK_STREQ(elf_module_symbolize(m, eh.e_entry + 7, NULL), "_start",
                                    "ld.so's entry point + 7");
                        CHECK_STREQ(elf_module_symbolize(m, eh.e_entry, NULL), "_start", "ld.so's entry point");
                }
                if (e)
                        elf_end(e);
                if (fd >= 0)
                        close(fd);
        }
        elf_module_free(m); /* frees d with it */
}

int main(void) {
        struct loaded l = {};
        struct elf_module *m;
        Dl_info info;

        CHECK(dl_iterate_phdr(find_lib, &l) == 1 && l.build_id_len > 0, "libsymtest.so is loaded");
        CHECK(dladdr((void *) symtest_lib_work, &info) != 0, "dladdr");
        const char *path = info.dli_fname;

        int fd = open(path, O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0 && elf_module_open_fd(fd, &m) == 0, "open '%s'", path);
        close(fd); /* the module keeps no fd */
        check_module(m, &l, "file");
        elf_module_free(m);

        size_t len = 0;
        char *image = read_all(path, &len);
        CHECK(image && elf_module_from_memory(image, len, &m) == 0, "from memory");
        check_module(m, &l, "memory");
        elf_module_free(m);

        /* broken inputs: errors or fewer symbols, never a crash */
        static const size_t cuts[] = { 1, 16, 64, 200, 4096 };
        for (size_t i = 0; i < ELEMENTSOF(cuts); i++) {
                int r = elf_module_from_memory(image, cuts[i], &m);
                CHECK(r < 0 || (elf_module_symbolize(m, (uintptr_t) symtest_lib_work - l.base, NULL) == NULL),
                      "truncated to %zu bytes: r=%d, no symbols", cuts[i], r);
                if (r >= 0)
                        elf_module_free(m);
        }
        /* section headers pointing past the end */
        char *bad = malloc(len);
        memcpy(bad, image, len);
        ElfW(Ehdr) *eh = (ElfW(Ehdr) *) bad;
        eh->e_shoff = len - 8;
        int r = elf_module_from_memory(bad, len, &m);
        CHECK(r < 0 || elf_module_symbol_count(m) == 0, "section headers out of bounds: r=%d", r);
        if (r >= 0)
                elf_module_free(m);
        /* symbol names pointing past their string table */
        memcpy(bad, image, len);
        const ElfW(Shdr) *sh = (const ElfW(Shdr) *) (bad + eh->e_shoff);
        for (int i = 0; i < eh->e_shnum; i++)
                if (sh[i].sh_type == SHT_SYMTAB || sh[i].sh_type == SHT_DYNSYM)
                        for (size_t k = 0; k + sizeof(ElfW(Sym)) <= sh[i].sh_size; k += sizeof(ElfW(Sym)))
                                ((ElfW(Sym) *) (bad + sh[i].sh_offset + k))->st_name = 0x7fffffff;
        r = elf_module_from_memory(bad, len, &m);
        CHECK(r == 0 && elf_module_symbol_count(m) == 0, "names out of bounds are dropped");
        if (r >= 0)
                elf_module_free(m);
        free(bad);
        free(image);

        CHECK(elf_module_from_memory("hello, world", 12, &m) == -EBADMSG, "not an ELF file");
        CHECK(elf_module_from_memory("", 0, &m) == -EBADMSG, "empty");
        fd = open("/dev/null", O_RDONLY);
        CHECK(elf_module_open_fd(fd, &m) == -EBADMSG, "empty file");
        close(fd);

        /* a non-PIE executable: fixed addresses */
        fd = open(SYMTEST_NOPIE_PATH, O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0 && elf_module_open_fd(fd, &m) == 0, "open non-PIE program");
        close(fd);
        CHECK(elf_module_is_fixed(m), "non-PIE is ET_EXEC");
        CHECK(elf_module_symbol_count(m) > 0, "non-PIE has symbols");
        elf_module_free(m);

        test_stripped_with_debug_file(path, &l);
        test_entry_label();
        test_libc_debug_file();
        test_plt();
        return tap_done();
}
