/* The process image and the symbolizer on this very process (a PIE
 * linking libsymtest.so), a dlopen()ed library, a deleted one, a forked
 * child that exits, a non-PIE program, the vDSO and the kernel; exec
 * generations, modules released when nothing maps them, and PLT stubs'
 * names against objdump's. */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cprof/image.h"
#include "cprof/profile.h"
#include "cprof/symbolize.h"
#include "image/elf-module.h"
#include "util/cleanup.h"
#include "symbolize/symtest.h"
#include "tap.h"

__attribute__((noinline, noipa)) int exe_function(int x);

int exe_function(int x) {
        __asm__ volatile("" ::: "memory");
        return x + 1;
}

static const char *base(const char *p) {
        const char *b = p ? strrchr(p, '/') : NULL;
        return b ? b + 1 : p;
}

static uintptr_t sym(const char *name) {
        return (uintptr_t) dlsym(RTLD_DEFAULT, name);
}

/* The load base of the object holding addr, from the dynamic loader. */
static uintptr_t load_base(uintptr_t addr) {
        Dl_info info;
        return dladdr((void *) addr, &info) ? (uintptr_t) info.dli_fbase : 0;
}

static struct image_store *img;

struct symbol {
        const char *name;   /* the function (root of the chain), NULL if none */
        const char *module; /* path, "[vdso]", "[kernel.kallsyms]" */
        uint64_t module_offset;
};

/* What the recorder does with one address, minus the profile. */
static int lookup_gen(struct symbolizer *s, pid_t pid, uint32_t gen, uint64_t addr, bool kernel,
                      struct symbol *ret) {
        struct symbol_frame chain[SYMBOL_MAX_CHAIN];
        struct image_addr ia;
        int r;

        *ret = (struct symbol) {};
        if (kernel) {
                r = symbolizer_kernel_addr(s, addr, chain, &ret->module);
                ret->name = chain[0].name;
                ret->module_offset = addr;
                return r < 0 ? r : 0;
        }
        r = image_resolve(img, pid, gen, addr, &ia);
        if (r < 0)
                return r;
        if (ia.kind != IMAGE_ADDR_MODULE)
                return -ENOENT;
        /* the path this process maps (a module first seen elsewhere has
         * its first path) */
        ret->module = ia.path;
        ret->module_offset = ia.addr;
        r = symbolizer_module_addr(s, ia.module, ia.addr, chain);
        if (r < 0)
                return r;
        ret->name = chain[0].name;
        return 0;
}

static int lookup(struct symbolizer *s, pid_t pid, uint64_t addr, bool kernel, struct symbol *ret) {
        return lookup_gen(s, pid, 0, addr, kernel, ret);
}

static int add_mapping(pid_t pid, uint32_t gen, uint64_t start, uint64_t len, const char *path) {
        struct image_mapping_info m = { .start = start, .len = len, .path = path };
        return image_add_mapping(img, pid, gen, &m);
}

static void test_self(struct symbolizer *s) {
        pid_t pid = getpid();
        struct symbol y;
        uintptr_t a;

        CHECK(image_load_process(img, pid) == 0, "load our own maps");

        a = (uintptr_t) exe_function;
        CHECK(lookup(s, pid, a, false, &y) == 0, "lookup in the PIE executable");
        CHECK_STREQ(y.name, "exe_function", "PIE function name");
        CHECK_STREQ(base(y.module), "test-symbolizer", "PIE module");
        CHECK(y.module_offset == a - load_base(a), "PIE module_offset is the ELF address (%#" PRIx64 ")",
              y.module_offset);
        CHECK(lookup(s, pid, a + 2, false, &y) == 0 && y.name && !strcmp(y.name, "exe_function"),
              "inside the PIE function");

        a = (uintptr_t) symtest_lib_work;
        CHECK(a == sym("symtest_lib_work"), "function pointer and dlsym agree");
        CHECK(lookup(s, pid, a, false, &y) == 0, "lookup in the shared library");
        CHECK_STREQ(y.name, "symtest_lib_work", "library function name");
        CHECK_STREQ(base(y.module), "libsymtest.so", "library module");
        CHECK(y.module_offset == a - load_base(a), "library module_offset");

        a = sym("symtest_gap_before");
        struct symbol g;
        CHECK(lookup(s, pid, a, false, &g) == 0 && g.name && !strcmp(g.name, "symtest_gap_before"),
              "sized symbol before the gap");
        CHECK(lookup(s, pid, a + 8, false, &y) == 0 && y.name == NULL, "no symbol in the gap");
        CHECK_STREQ(base(y.module), "libsymtest.so", "gap still has its module");
        CHECK(y.module_offset == g.module_offset + 8, "gap module_offset");

        a = sym("symtest_nosize");
        CHECK(lookup(s, pid, a + 20, false, &y) == 0 && y.name && !strcmp(y.name, "symtest_nosize"),
              "size-0 symbol covers up to the next one");

        CHECK(lookup(s, pid, 0x1000, false, &y) == -ENOENT, "no mapping at 0x1000");
}

/* Adjacent functions: the recorder looks a return address up one byte
 * back, inside the call; that byte must belong to the caller. */
static void test_adjacent(struct symbolizer *s) {
        pid_t pid = getpid();
        uintptr_t b = sym("symtest_adj_b");
        struct symbol y;

        CHECK(lookup(s, pid, b - 1, false, &y) == 0 && y.name && !strcmp(y.name, "symtest_adj_a"),
              "the byte before B belongs to A");
        CHECK(lookup(s, pid, b, false, &y) == 0 && y.name && !strcmp(y.name, "symtest_adj_b"),
              "B's first byte is B");
        CHECK(lookup(s, pid, 0x1000, false, &y) == -ENOENT, "no mapping at 0x1000");
}

static void test_dlopen(struct symbolizer *s) {
        pid_t pid = getpid();
        struct symbol y;

        /* a library that appears after the maps were read: found by a
         * re-read, at most one per 100 ms (earlier tests missed already) */
        usleep(110 * 1000);
        void *h = dlopen(SYMTEST_DL_PATH, RTLD_NOW);
        CHECK(h != NULL, "dlopen %s", SYMTEST_DL_PATH);
        uintptr_t a = (uintptr_t) dlsym(h, "symtest_dl_fn");
        CHECK(lookup(s, pid, a, false, &y) == 0 && y.name && !strcmp(y.name, "symtest_dl_fn"),
              "dlopen()ed library found by re-reading the maps");
        CHECK_STREQ(base(y.module), "libsymtest-dl.so", "dlopen()ed module");

        /* a deleted library: only /proc/PID/map_files still has it */
        char tmp[] = "/tmp/cprof-symtest-XXXXXX";
        int fd = mkstemp(tmp), in = open(SYMTEST_DL_PATH, O_RDONLY);
        char buf[65536];
        ssize_t k;
        while (fd >= 0 && in >= 0 && (k = read(in, buf, sizeof(buf))) > 0)
                if (write(fd, buf, (size_t) k) != k)
                        break;
        close(in);
        close(fd);
        void *h2 = dlopen(tmp, RTLD_NOW | RTLD_LOCAL);
        unlink(tmp);
        CHECK(h2 != NULL && h2 != h, "dlopen a copy");
        uintptr_t a2 = h2 ? (uintptr_t) dlsym(h2, "symtest_dl_fn") : 0;
        CHECK(a2 && a2 != a, "the copy is mapped elsewhere");
        CHECK(lookup(s, pid, a2 + 1, false, &y) == -ENOENT,
              "right after a re-read, a miss does not read the maps again");
        usleep(110 * 1000);
        CHECK(lookup(s, pid, a2 + 1, false, &y) == 0 && y.name && !strcmp(y.name, "symtest_dl_fn"),
              "deleted library symbolized through map_files");
        CHECK_STREQ(y.module, tmp, "deleted module path without ' (deleted)'");
        if (h2)
                dlclose(h2);
}

static void test_exited_child(struct symbolizer *s) {
        struct symbol y;
        int status;
        pid_t child = fork();

        if (child == 0) {
                pause();
                _exit(0);
        }
        CHECK(child > 0 && image_load_process(img, child) == 0, "load a child's maps");
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        CHECK(lookup(s, child, (uintptr_t) symtest_lib_work, false, &y) == 0 && y.name &&
                      !strcmp(y.name, "symtest_lib_work"),
              "a process that exited is still symbolized");
        CHECK(image_load_process(img, child) == -ESRCH, "loading a gone process: -ESRCH");
        image_forget_process(img, child);
        CHECK(lookup(s, child, (uintptr_t) symtest_lib_work, false, &y) == -ENOENT,
              "forgotten: nothing known");
}

static void test_nopie(struct symbolizer *s) {
        int out[2], in[2];
        char line[64] = "";
        struct symbol y;

        if (pipe(out) < 0 || pipe(in) < 0)
                abort();
        pid_t child = fork();
        if (child == 0) {
                dup2(in[0], 0);
                dup2(out[1], 1);
                close(in[1]);
                close(out[0]);
                execl(SYMTEST_NOPIE_PATH, "symtest-nopie", (char *) NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        ssize_t k = read(out[0], line, sizeof(line) - 1);
        uint64_t a = k > 0 ? strtoull(line, NULL, 16) : 0;
        CHECK(a != 0, "non-PIE child prints its function address (%s)", k > 0 ? "ok" : "nothing");
        CHECK(lookup(s, child, a + 1, false, &y) == 0 && y.name && !strcmp(y.name, "nopie_function"),
              "non-PIE (ET_EXEC) function");
        CHECK(y.module_offset == a + 1, "ET_EXEC: module_offset is the absolute address");
        close(in[1]);
        close(out[0]);
        waitpid(child, NULL, 0);
}

static void test_vdso(struct symbolizer *s) {
        struct symbol y = {};

        if (getauxval(AT_SYSINFO_EHDR) == 0) {
                /* valgrind hides the vDSO: a [vdso] mapping must then still
                 * be a module, just without names */
                printf("# no vDSO in this process\n");
                CHECK(add_mapping(getpid(), 0, 0x10000, 0x2000, "[vdso]") == 0, "fake [vdso]");
                CHECK(lookup(s, getpid(), 0x10010, false, &y) == 0 && y.name == NULL &&
                              y.module_offset == 0x10,
                      "no vDSO image: no name, offset 0x%" PRIx64, y.module_offset);
                CHECK_STREQ(y.module, "[vdso]", "vDSO module");
                return;
        }
        void *h = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
        uintptr_t a = h ? (uintptr_t) dlsym(h, "__vdso_clock_gettime") : 0;

        CHECK(a != 0, "the loader knows the vDSO's __vdso_clock_gettime");
        CHECK(lookup(s, getpid(), a, false, &y) == 0, "vDSO lookup");
        CHECK(y.name && strncmp(y.name, "__vdso_", 7) == 0, "vDSO name '%s'", y.name ? y.name : "(null)");
        CHECK_STREQ(y.module, "[vdso]", "vDSO module");
}

/* An exec starts a new image; samples of the old one keep their names
 * until it is forgotten. A fake pid keeps /proc out of it: only what the
 * mapping events said is known. */
static void test_images(struct symbolizer *s) {
        const pid_t pid = 0x7ffffff0; /* no such process */
        uintptr_t a = (uintptr_t) symtest_lib_work;
        struct symbol y;
        Dl_info info;

        if (!dladdr(symtest_lib_work, &info))
                abort();
        /* image 0 maps the library where it is in this process, image 1
         * maps another file over the same range */
        uint64_t base = (uintptr_t) info.dli_fbase;
        CHECK(image_exec_process(img, pid, 0) == 0, "image 0");
        CHECK(add_mapping(pid, 0, base, a - base + 4096, info.dli_fname) == 0, "image 0 maps the library");
        CHECK(image_exec_process(img, pid, 1) == 0, "exec: image 1");
        CHECK(add_mapping(pid, 1, base, a - base + 4096, "/nonexistent/new-image") == 0,
              "image 1 maps another file");
        CHECK(lookup_gen(s, pid, 0, a, false, &y) == 0 && y.name && !strcmp(y.name, "symtest_lib_work"),
              "a sample of image 0 after the exec keeps its name");
        CHECK(lookup_gen(s, pid, 1, a, false, &y) == 0 && !y.name && !strcmp(y.module, "/nonexistent/new-image"),
              "a sample of image 1 is in the new file");
        image_forget_image(img, pid, 0);
        CHECK(lookup_gen(s, pid, 0, a, false, &y) == 0 && !strcmp(y.module, "/nonexistent/new-image"),
              "a forgotten image falls back to the newest");
        /* a fork under the same pid starts from nothing old */
        CHECK(image_fork_process(img, 0x7ffffff1, pid) == 0, "fork reuses the pid");
        CHECK(lookup_gen(s, pid, 0, a, false, &y) == -ENOENT, "a reused pid has none of the old images");
}

/* Modules live while an image maps them or something pins them. */
static void test_lifetimes(void) {
        const pid_t pid = 0x7ffffff2;
        struct symbolizer_options o = {};
        struct image_store *outer = img;
        struct symbolizer *s;
        uintptr_t a = (uintptr_t) symtest_lib_work;
        struct image_addr ia;
        Dl_info info;

        if (!dladdr(symtest_lib_work, &info) || image_store_new(&img) < 0 || symbolizer_new(&o, img, &s) < 0)
                abort();
        CHECK(image_load_process(img, getpid()) == 0 && image_store_module_count(img) > 2, "our modules");
        CHECK(image_store_collect(img) == 0, "nothing released while mapped");
        image_forget_process(img, getpid());
        size_t n = image_store_collect(img);
        CHECK(n > 2 && image_store_module_count(img) == 0,
              "forgetting every image releases every module (%zu released)", n);
        uint64_t base = (uintptr_t) info.dli_fbase;
        CHECK(add_mapping(pid, 0, base, a - base + 4096, info.dli_fname) == 0, "map the library again");
        CHECK(image_resolve(img, pid, 0, a, &ia) == 0 && ia.kind == IMAGE_ADDR_MODULE && ia.module,
              "resolved to a module");
        struct symbol y;
        CHECK(lookup(s, pid, a, false, &y) == 0 && y.name && !strcmp(y.name, "symtest_lib_work"),
              "named (its symbols hang on the module)");
        image_module_pin(img, ia.module);
        image_forget_process(img, pid);
        CHECK(image_store_collect(img) == 0 && image_module(img, ia.module), "a pinned module stays");
        image_module_unpin(img, ia.module);
        CHECK(image_store_collect(img) == 1 && !image_module(img, ia.module), "unpinned: released");
        CHECK(image_store_image_count(img) == 0, "no image left");
        symbolizer_free(s);
        image_store_free(img);
        img = outer;
}

static void test_kernel(struct symbolizer *s) {
        FILE *f = fopen("/proc/kallsyms", "r");
        char type, name[256];
        unsigned long long a = 0, addr = 0;
        struct symbol y;

        while (f && fscanf(f, "%llx %c %255s%*[^\n]", &a, &type, name) == 3)
                if (strcmp(name, "do_syscall_64") == 0) {
                        addr = a;
                        break;
                }
        if (f)
                fclose(f);
        CHECK(lookup(s, getpid(), addr + 1, true, &y) == 0, "kernel lookup");
        CHECK_STREQ(y.module, "[kernel.kallsyms]", "kernel module");
        if (geteuid() == 0) {
                CHECK(addr != 0, "root sees kernel addresses");
                CHECK_STREQ(y.name, "do_syscall_64", "kernel symbol");
        } else {
                /* addresses hidden: still a kernel frame, never a crash */
                CHECK(addr != 0 || y.name == NULL, "hidden kernel addresses give no name");
        }
}

/* PLT stubs are named "X@plt", as perf and objdump name them: the "@plt"
 * is no symbol version to strip, while a real version is stripped, and a
 * C++ stub is demangled before its "@plt" (objdump -C's labels). */

struct plt_label {
        uint64_t addr, offset;
        char name[160];
};

/* "ADDR <NAME@plt> (File Offset: 0xOFF):" labels of objdump -d -F (-C:
 * demangled), IRELATIVE stubs ("*ABS*+0x...@plt") left out. */
static size_t objdump_plt_labels(const char *path, bool demangle, struct plt_label *out, size_t max) {
        char cmd[600], line[512];
        size_t n = 0;

        snprintf(cmd, sizeof(cmd), "objdump -d -F %s --no-show-raw-insn '%s'", demangle ? "-C" : "", path);
        FILE *f = popen(cmd, "r");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f) && n < max) {
                unsigned long long a, off;
                char *lt = strchr(line, '<'), *gt = strstr(line, "@plt> (File Offset: ");
                /* labels start the line; "call 5030 <puts@plt> (File ...)" is indented */
                if (!isxdigit((unsigned char) line[0]) || !lt || !gt || gt < lt || sscanf(line, "%llx", &a) != 1 ||
                    sscanf(gt, "@plt> (File Offset: %llx)", &off) != 1 || strncmp(lt + 1, "*ABS*", 5) == 0 ||
                    (size_t) (gt - lt) + 4 > sizeof(out->name))
                        continue;
                out[n] = (struct plt_label) { .addr = a, .offset = off };
                memcpy(out[n].name, lt + 1, (size_t) (gt - lt - 1));
                strcpy(out[n].name + (gt - lt - 1), "@plt");
                n++;
        }
        pclose(f);
        return n;
}

/* The name libc6-dbg's symbol table gives the libc address a, as it is:
 * pooled in a static buffer. */
static const char *raw_libc_name(uintptr_t a) {
        static char name[128];
        struct elf_module *libc = NULL, *dbg = NULL;
        char path[512];
        size_t len = 0;
        int fd = open("/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY | O_CLOEXEC);

        if (fd < 0 || elf_module_open_fd(fd, &libc) < 0)
                libc = NULL;
        if (fd >= 0)
                close(fd);
        const uint8_t *id = libc ? elf_module_build_id(libc, &len) : NULL;
        if (!id || len < 2) {
                elf_module_free(libc);
                return NULL;
        }
        int k = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", id[0]);
        for (size_t i = 1; i < len; i++)
                k += snprintf(path + k, sizeof(path) - (size_t) k, "%02x", id[i]);
        snprintf(path + k, sizeof(path) - (size_t) k, ".debug");
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || elf_module_open_fd(fd, &dbg) < 0)
                dbg = NULL;
        if (fd >= 0)
                close(fd);
        const char *n = dbg ? elf_module_symbolize(dbg, a - load_base(a), NULL) : NULL;
        snprintf(name, sizeof(name), "%s", n ? n : "");
        elf_module_free(dbg);
        elf_module_free(libc);
        return n ? name : NULL;
}

static void test_plt(struct symbolizer *s) {
        static struct plt_label l[1024];
        char exe[512], dir[] = "/tmp/test-symbolizer-plt.XXXXXX", cmd[1024], src[300], prog[300];
        struct symbol y;
        size_t bad = 0;

        /* our own stubs (printf, dlsym, ...), in our own process */
        ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[k > 0 ? k : 0] = '\0';
        uintptr_t base = load_base((uintptr_t) exe_function);
        size_t n = objdump_plt_labels(exe, false, l, ELEMENTSOF(l));
        for (size_t i = 0; i < n; i++)
                if (lookup(s, getpid(), base + l[i].addr + 2, false, &y) < 0 || !y.name || strcmp(y.name, l[i].name)) {
                        printf("# %s: got '%s'\n", l[i].name, y.name ? y.name : "(null)");
                        bad++;
                }
        CHECK(n >= 3 && bad == 0, "our own %zu PLT stubs: named as objdump does, '@plt' kept (%zu wrong)", n, bad);

        /* a C++ program's stubs, mapped whole under a pid that does not exist */
        CHECK(mkdtemp(dir) != NULL, "scratch directory");
        snprintf(src, sizeof(src), "%s/prog.cc", dir);
        snprintf(prog, sizeof(prog), "%s/prog", dir);
        FILE *f = fopen(src, "w");
        CHECK(f && fputs("#include <string>\n"
                         "int main(int argc, char **argv) {\n"
                         "        int *p = new int(argc);\n"
                         "        std::string s(argv[0]);\n"
                         "        int r = *p + (int) s.size();\n"
                         "        delete p;\n"
                         "        return r;\n"
                         "}\n", f) >= 0 && fclose(f) == 0, "write %s", src);
        snprintf(cmd, sizeof(cmd), "g++ -O2 -o '%s' '%s'", prog, src);
        CHECK(system(cmd) == 0, "g++ -O2 %s", src);
        n = objdump_plt_labels(prog, true, l, ELEMENTSOF(l));
        const pid_t pid = 0x7fffffe0;
        struct stat st;
        CHECK(stat(prog, &st) == 0 && add_mapping(pid, 0, 0x10000000, ((uint64_t) st.st_size + 4095) & ~4095ull, prog) == 0,
              "map the C++ program at 0x10000000");
        bool op_new = false;
        bad = 0;
        for (size_t i = 0; i < n; i++) {
                op_new |= strncmp(l[i].name, "operator new(", 13) == 0;
                if (lookup(s, pid, 0x10000000 + l[i].offset, false, &y) < 0 || !y.name || strcmp(y.name, l[i].name)) {
                        printf("# %s: got '%s'\n", l[i].name, y.name ? y.name : "(null)");
                        bad++;
                }
        }
        CHECK(op_new && bad == 0, "C++: %zu PLT stubs demangled as objdump -C does (%zu wrong)", n, bad);
        image_forget_process(img, pid);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0, "clean up");

        /* libc6-dbg names pthread_mutex_destroy "pthread_mutex_destroy@@GLIBC_2.2.5" */
        uintptr_t a = sym("pthread_mutex_destroy");
        CHECK_STREQ(raw_libc_name(a), "pthread_mutex_destroy@@GLIBC_2.2.5", "libc6-dbg's name has a version");
        CHECK(lookup(s, getpid(), a, false, &y) == 0, "lookup pthread_mutex_destroy");
        CHECK_STREQ(y.name, "pthread_mutex_destroy", "the symbol version is stripped");
}

int main(void) {
        struct symbolizer_options o = {};
        struct symbolizer *s;

        CHECK(image_store_new(&img) == 0 && symbolizer_new(&o, img, &s) == 0, "new");
        test_self(s);
        test_adjacent(s);
        test_dlopen(s);
        test_exited_child(s);
        test_nopie(s);
        test_vdso(s);
        test_images(s);
        test_lifetimes();
        test_kernel(s);
        test_plt(s);
        symbolizer_free(s);
        image_store_free(img);
        return tap_done();
}
