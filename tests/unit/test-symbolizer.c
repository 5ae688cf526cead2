/* The symbolizer on this very process (a PIE linking libsymtest.so), a
 * dlopen()ed library, a deleted one, a forked child that exits, a non-PIE
 * program, the vDSO and the kernel; and the frames it interns. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cprof/profile.h"
#include "cprof/symbolize.h"
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

static const char *frame_name(struct profile *p, uint32_t id) {
        return profile_string(p, profile_frame(p, id)->name);
}

static uint32_t frame_gen(struct symbolizer *s, struct profile *p, pid_t pid, uint32_t gen,
                          uint64_t addr, bool kernel, bool exact) {
        struct unwound_frame f = { .addr = addr, .kernel = kernel, .exact = exact };
        uint32_t id = UINT32_MAX;
        int r = symbolizer_frame(s, p, pid, gen, &f, &id);
        if (r < 0)
                printf("# symbolizer_frame: %s\n", strerror(-r));
        return id;
}

static uint32_t frame(struct symbolizer *s, struct profile *p, pid_t pid, uint64_t addr, bool kernel,
                      bool exact) {
        return frame_gen(s, p, pid, 0, addr, kernel, exact);
}

static void test_self(struct symbolizer *s) {
        pid_t pid = getpid();
        struct symbol y;
        uintptr_t a;

        CHECK(symbolizer_load_process(s, pid) == 0, "load our own maps");

        a = (uintptr_t) exe_function;
        CHECK(symbolizer_lookup(s, pid, a, false, &y) == 0, "lookup in the PIE executable");
        CHECK_STREQ(y.name, "exe_function", "PIE function name");
        CHECK_STREQ(base(y.module), "test-symbolizer", "PIE module");
        CHECK(y.module_offset == a - load_base(a), "PIE module_offset is the ELF address (%#" PRIx64 ")",
              y.module_offset);
        CHECK(symbolizer_lookup(s, pid, a + 2, false, &y) == 0 && y.name && !strcmp(y.name, "exe_function"),
              "inside the PIE function");

        a = (uintptr_t) symtest_lib_work;
        CHECK(a == sym("symtest_lib_work"), "function pointer and dlsym agree");
        CHECK(symbolizer_lookup(s, pid, a, false, &y) == 0, "lookup in the shared library");
        CHECK_STREQ(y.name, "symtest_lib_work", "library function name");
        CHECK_STREQ(base(y.module), "libsymtest.so", "library module");
        CHECK(y.module_offset == a - load_base(a), "library module_offset");

        a = sym("symtest_gap_before");
        struct symbol g;
        CHECK(symbolizer_lookup(s, pid, a, false, &g) == 0 && g.name && !strcmp(g.name, "symtest_gap_before"),
              "sized symbol before the gap");
        CHECK(symbolizer_lookup(s, pid, a + 8, false, &y) == 0 && y.name == NULL, "no symbol in the gap");
        CHECK_STREQ(base(y.module), "libsymtest.so", "gap still has its module");
        CHECK(y.module_offset == g.module_offset + 8, "gap module_offset");

        a = sym("symtest_nosize");
        CHECK(symbolizer_lookup(s, pid, a + 20, false, &y) == 0 && y.name && !strcmp(y.name, "symtest_nosize"),
              "size-0 symbol covers up to the next one");

        CHECK(symbolizer_lookup(s, pid, 0x1000, false, &y) == -ENOENT, "no mapping at 0x1000");
}

static void test_frames(struct symbolizer *s) {
        pid_t pid = getpid();
        struct profile *p, *p2;
        uintptr_t b = sym("symtest_adj_b");
        struct symbol y;
        char expect[128];
        uint32_t id;

        if (profile_new(&p) < 0 || profile_new(&p2) < 0)
                abort();
        CHECK(symbolizer_lookup(s, pid, b - 1, false, &y) == 0 && y.name && !strcmp(y.name, "symtest_adj_a"),
              "the byte before B belongs to A (adjacent functions)");
        id = frame(s, p, pid, b, false, false);
        CHECK_STREQ(frame_name(p, id), "symtest_adj_a", "return address = first byte of B names A");
        id = frame(s, p, pid, b, false, true);
        CHECK_STREQ(frame_name(p, id), "symtest_adj_b", "exact address names B");
        CHECK(profile_frame(p, id)->kind == FRAME_USER, "user kind");
        CHECK_STREQ(base(profile_string(p, profile_frame(p, id)->module)), "libsymtest.so", "frame module");
        CHECK(frame(s, p, pid, b, false, true) == id, "same address, same frame");
        size_t nframes = profile_frame_count(p);
        frame(s, p, pid, b, false, true);
        CHECK(profile_frame_count(p) == nframes, "cached: no new frame");

        uintptr_t g = sym("symtest_gap_before");
        CHECK(symbolizer_lookup(s, pid, g, false, &y) == 0, "gap lookup");
        snprintf(expect, sizeof(expect), "[libsymtest.so+0x%" PRIx64 "]", y.module_offset + 8);
        id = frame(s, p, pid, g + 8, false, true);
        CHECK_STREQ(frame_name(p, id), expect, "no symbol: [basename+0xoffset]");

        id = frame(s, p, pid, 0x1000, false, true);
        CHECK_STREQ(frame_name(p, id), "[unknown]", "no mapping: [unknown]");
        CHECK(profile_frame(p, id)->module == 0, "[unknown] has no module");

        /* another profile: the caches must not hand out p's ids */
        id = frame(s, p2, pid, (uintptr_t) exe_function, false, true);
        CHECK(id < profile_frame_count(p2), "id valid in the new profile");
        CHECK_STREQ(frame_name(p2, id), "exe_function", "new profile names");
        id = frame(s, p2, pid, b, false, true);
        CHECK_STREQ(frame_name(p2, id), "symtest_adj_b", "cached address re-interned in the new profile");
        symbolizer_reset_frames(s);
        id = frame(s, p2, pid, b, false, true);
        CHECK_STREQ(frame_name(p2, id), "symtest_adj_b", "after an explicit reset");
        profile_free(p);
        profile_free(p2);
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
        CHECK(symbolizer_lookup(s, pid, a, false, &y) == 0 && y.name && !strcmp(y.name, "symtest_dl_fn"),
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
        CHECK(symbolizer_lookup(s, pid, a2 + 1, false, &y) == -ENOENT,
              "right after a re-read, a miss does not read the maps again");
        usleep(110 * 1000);
        CHECK(symbolizer_lookup(s, pid, a2 + 1, false, &y) == 0 && y.name && !strcmp(y.name, "symtest_dl_fn"),
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
        CHECK(child > 0 && symbolizer_load_process(s, child) == 0, "load a child's maps");
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        CHECK(symbolizer_lookup(s, child, (uintptr_t) symtest_lib_work, false, &y) == 0 && y.name &&
                      !strcmp(y.name, "symtest_lib_work"),
              "a process that exited is still symbolized");
        CHECK(symbolizer_load_process(s, child) == -ESRCH, "loading a gone process: -ESRCH");
        symbolizer_forget_process(s, child);
        CHECK(symbolizer_lookup(s, child, (uintptr_t) symtest_lib_work, false, &y) == -ENOENT,
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
        CHECK(symbolizer_lookup(s, child, a + 1, false, &y) == 0 && y.name && !strcmp(y.name, "nopie_function"),
              "non-PIE (ET_EXEC) function");
        CHECK(y.module_offset == a + 1, "ET_EXEC: module_offset is the absolute address");
        close(in[1]);
        close(out[0]);
        waitpid(child, NULL, 0);
}

static void test_vdso(struct symbolizer *s) {
        struct symbol y = {};
        struct profile *p;

        if (getauxval(AT_SYSINFO_EHDR) == 0) {
                /* valgrind hides the vDSO: a [vdso] mapping must then still
                 * be a module, just without names */
                printf("# no vDSO in this process\n");
                CHECK(symbolizer_add_mapping(s, getpid(), 0, 0x10000, 0x2000, 0, "[vdso]") == 0, "fake [vdso]");
                CHECK(symbolizer_lookup(s, getpid(), 0x10010, false, &y) == 0 && y.name == NULL &&
                              y.module_offset == 0x10,
                      "no vDSO image: no name, offset 0x%" PRIx64, y.module_offset);
                CHECK_STREQ(y.module, "[vdso]", "vDSO module");
                return;
        }
        void *h = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
        uintptr_t a = h ? (uintptr_t) dlsym(h, "__vdso_clock_gettime") : 0;

        CHECK(a != 0, "the loader knows the vDSO's __vdso_clock_gettime");
        CHECK(symbolizer_lookup(s, getpid(), a, false, &y) == 0, "vDSO lookup");
        CHECK(y.name && strncmp(y.name, "__vdso_", 7) == 0, "vDSO name '%s'", y.name ? y.name : "(null)");
        CHECK_STREQ(y.module, "[vdso]", "vDSO module");
        if (profile_new(&p) < 0)
                abort();
        uint32_t id = frame(s, p, getpid(), a + 1, false, false);
        CHECK(!strncmp(frame_name(p, id), "__vdso_", 7), "vDSO frame");
        profile_free(p);
}

/* An exec starts a new image; samples of the old one keep their names
 * until it is forgotten. A fake pid keeps /proc out of it: only what the
 * mapping events said is known. */
static void test_images(struct symbolizer *s) {
        const pid_t pid = 0x7ffffff0; /* no such process */
        struct profile *p;
        uintptr_t a = (uintptr_t) symtest_lib_work;
        Dl_info info;

        if (profile_new(&p) < 0 || !dladdr(symtest_lib_work, &info))
                abort();
        /* image 0 maps the library where it is in this process, image 1
         * maps the vDSO name over the same range */
        uint64_t base = (uintptr_t) info.dli_fbase;
        CHECK(symbolizer_exec_process(s, pid, 0) == 0, "image 0");
        CHECK(symbolizer_add_mapping(s, pid, 0, base, a - base + 4096, 0, info.dli_fname) == 0,
              "image 0 maps the library");
        CHECK(symbolizer_exec_process(s, pid, 1) == 0, "exec: image 1");
        CHECK(symbolizer_add_mapping(s, pid, 1, base, a - base + 4096, 0, "/nonexistent/new-image") == 0,
              "image 1 maps another file");
        CHECK_STREQ(frame_name(p, frame_gen(s, p, pid, 0, a, false, true)), "symtest_lib_work",
                    "a sample of image 0 after the exec keeps its name");
        CHECK(strncmp(frame_name(p, frame_gen(s, p, pid, 1, a, false, true)), "[new-image+", 11) == 0,
              "a sample of image 1 is in the new file ('%s')",
              frame_name(p, frame_gen(s, p, pid, 1, a, false, true)));
        symbolizer_forget_image(s, pid, 0);
        CHECK(strncmp(frame_name(p, frame_gen(s, p, pid, 0, a + 1, false, true)), "[new-image+", 11) == 0,
              "a forgotten image falls back to the newest");
        /* a fork under the same pid starts from nothing old */
        CHECK(symbolizer_fork_process(s, 0x7ffffff1, pid) == 0, "fork reuses the pid");
        CHECK_STREQ(frame_name(p, frame_gen(s, p, pid, 0, a + 2, false, true)), "[unknown]",
                    "a reused pid has none of the old images");
        profile_free(p);
}

static void test_kernel(struct symbolizer *s) {
        FILE *f = fopen("/proc/kallsyms", "r");
        char type, name[256];
        unsigned long long a = 0, addr = 0;
        struct profile *p;
        struct symbol y;

        while (f && fscanf(f, "%llx %c %255s%*[^\n]", &a, &type, name) == 3)
                if (strcmp(name, "do_syscall_64") == 0) {
                        addr = a;
                        break;
                }
        if (f)
                fclose(f);
        if (profile_new(&p) < 0)
                abort();
        CHECK(symbolizer_lookup(s, getpid(), addr + 1, true, &y) == 0, "kernel lookup");
        CHECK_STREQ(y.module, "[kernel.kallsyms]", "kernel module");
        uint32_t id = frame(s, p, getpid(), addr + 1, true, false);
        CHECK(profile_frame(p, id)->kind == FRAME_KERNEL, "kernel kind");
        if (geteuid() == 0) {
                CHECK(addr != 0, "root sees kernel addresses");
                CHECK_STREQ(y.name, "do_syscall_64", "kernel symbol");
                CHECK_STREQ(frame_name(p, id), "do_syscall_64", "kernel frame name is bare");
        } else {
                /* addresses hidden: still a kernel frame, never a crash */
                CHECK(addr != 0 || y.name == NULL, "hidden kernel addresses give no name");
                CHECK(addr != 0 || !strcmp(frame_name(p, id), "[kernel.kallsyms]"), "hidden: [kernel.kallsyms]");
        }
        CHECK(frame(s, p, 4242, addr + 1, true, false) == id, "kernel frames are shared across pids");
        profile_free(p);
}

int main(void) {
        struct symbolizer *s;

        CHECK(symbolizer_new(&s) == 0, "new");
        test_self(s);
        test_frames(s);
        test_dlopen(s);
        test_exited_child(s);
        test_nopie(s);
        test_vdso(s);
        test_images(s);
        test_kernel(s);
        symbolizer_free(s);
        return tap_done();
}
