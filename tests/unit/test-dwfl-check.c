/* The libdwfl reference unwinder on this very process, built -O2
 * -fomit-frame-pointer so that only CFI gets from one frame to the next.
 *
 * chain_c captures its own registers and copies its stack (from rsp to
 * the top of the stack's mapping) like a PERF_SAMPLE_STACK_USER record;
 * the copy is then unwound after the fact. Expected frames, leaf first:
 *   chain_c chain_b chain_a main __libc_start_call_main
 *       __libc_start_main _start                       (main thread)
 *   chain_c chain_b chain_a thread_fn start_thread __clone3   (pthread)
 *   chain_c chain_b dso_call run_dso test_dlopen main ...   (dlopen'd library)
 * Names come from a second Dwfl of our own (libc's local names from
 * libc6-dbg). Also: a copy cut to 64 and 0 bytes, no tid, a frame limit, a pid
 * that is gone, a pc in the vDSO, forgetting a process, and the cost of
 * 1000 unwinds of one sample. */
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "unwind/dwfl-check.h"
#include "util/cleanup.h"
#include "util/time-util.h"

#define STACK_COPY_MAX (64 * 1024)
#define MAX_FRAMES 128

static uint64_t stack_copy[STACK_COPY_MAX / 8];
static struct dwfl_check_sample captured;

/* The end of the mapping of /proc/self/maps that holds addr: the top of
 * the stack addr is on. */
static uint64_t mapping_end(uint64_t addr) {
        FILE *f = fopen("/proc/self/maps", "re");
        char line[512];
        uint64_t start, end, found = 0;

        if (!f)
                abort();
        while (!found && fgets(line, sizeof(line), f))
                if (sscanf(line, "%" SCNx64 "-%" SCNx64, &start, &end) == 2 && addr >= start &&
                    addr < end)
                        found = end;
        fclose(f);
        if (!found)
                abort();
        return found;
}

/* Copies the stack word by word: memcpy under ASan would check (and
 * reject) the redzones of the frames above. */
static __attribute__((noipa, no_sanitize_address)) void capture(uint64_t ip, uint64_t sp,
                                                                 uint64_t bp) {
        uint64_t top = mapping_end(sp);
        size_t len = top - sp < sizeof(stack_copy) ? top - sp : sizeof(stack_copy);
        const volatile uint64_t *src = (const volatile uint64_t *) (uintptr_t) sp;

        for (size_t i = 0; i < len / 8; i++)
                stack_copy[i] = src[i];
        captured = (struct dwfl_check_sample) {
                .pid = getpid(), .tid = gettid(), .ip = ip, .sp = sp, .bp = bp,
                .stack = stack_copy, .stack_addr = sp, .stack_len = len / 8 * 8,
        };
}

static __attribute__((noipa)) int chain_c(int x) {
        uint64_t ip, sp, bp;

        /* the three at one instant, as a sample's registers */
        __asm__ volatile("lea 0(%%rip), %0\n\t"
                         "mov %%rsp, %1\n\t"
                         "mov %%rbp, %2"
                         : "=r"(ip), "=r"(sp), "=r"(bp));
        capture(ip, sp, bp);
        return x + 1;
}

/* the arithmetic after each call keeps it out of tail position */
static __attribute__((noipa)) int chain_b(int x) {
        return chain_c(x) * 3;
}

static __attribute__((noipa)) int chain_a(int x) {
        return chain_b(x) + 5;
}

static __attribute__((noipa)) void *thread_fn(void *arg) {
        return (void *) (intptr_t) (chain_a((int) (intptr_t) arg) + 1);
}

static __attribute__((noipa)) int run_dso(int (*dso_call)(int (*)(int), int)) {
        return dso_call(chain_b, 4) - 2;
}

/* A sample that owns its copy of the stack. */
struct owned_sample {
        struct dwfl_check_sample s;
        void *buf;
};

static struct owned_sample take_captured(void) {
        struct owned_sample o = { .s = captured, .buf = malloc(captured.stack_len) };

        if (!o.buf)
                abort();
        memcpy(o.buf, captured.stack, captured.stack_len);
        o.s.stack = o.buf;
        return o;
}

/* Names every pc with a Dwfl of this process as it is mapped now. */
static Dwfl *symbolizer_new(void) {
        static char *debuginfo_path;
        static const Dwfl_Callbacks cb = {
                .find_elf = dwfl_linux_proc_find_elf,
                .find_debuginfo = dwfl_standard_find_debuginfo,
                .debuginfo_path = &debuginfo_path,
        };
        Dwfl *d = dwfl_begin(&cb);

        if (!d || dwfl_linux_proc_report(d, getpid()) != 0 || dwfl_report_end(d, NULL, NULL) != 0)
                abort();
        return d;
}

static const char *frame_name(Dwfl *d, const uint64_t *pcs, int i) {
        /* a return address may be the first byte of the next function */
        Dwarf_Addr a = i == 0 ? pcs[i] : pcs[i] - 1;
        Dwfl_Module *m = dwfl_addrmodule(d, a);
        const char *n = m ? dwfl_module_addrname(m, a) : NULL;

        return n ? n : "?";
}

static void print_frames(Dwfl *d, const uint64_t *pcs, int n) {
        for (int i = 0; i < n; i++)
                printf("#   %2d 0x%" PRIx64 " %s\n", i, pcs[i], frame_name(d, pcs, i));
}

/* pcs[0..] are named expect[0..] in this order */
static bool names_are(Dwfl *d, const uint64_t *pcs, int n, const char *const *expect,
                      size_t n_expect) {
        if (n < (int) n_expect)
                return false;
        for (size_t i = 0; i < n_expect; i++)
                if (strcmp(frame_name(d, pcs, (int) i), expect[i]) != 0)
                        return false;
        return true;
}

static bool last_is_one_of(Dwfl *d, const uint64_t *pcs, int n, const char *const *names,
                           size_t n_names) {
        if (n < 1)
                return false;
        const char *last = frame_name(d, pcs, n - 1);
        for (size_t i = 0; i < n_names; i++)
                if (strcmp(last, names[i]) == 0)
                        return true;
        return false;
}

static const char *const process_roots[] = { "_start", "__libc_start_main",
                                             "__libc_start_main@@GLIBC_2.34",
                                             "__libc_start_main_impl" };
static const char *const thread_roots[] = { "__clone3", "clone3", "__clone", "clone" };

/* The address of a dynamic symbol of our vDSO, 0 when there is none. */
static uint64_t vdso_symbol(const char *want) {
        const Elf64_Ehdr *eh = (const void *) getauxval(AT_SYSINFO_EHDR);
        uint64_t addr = 0;

        if (!eh)
                return 0;
        size_t len = eh->e_shoff + (size_t) eh->e_shnum * eh->e_shentsize;
        char *img = malloc(len);
        if (!img)
                abort();
        memcpy(img, eh, len);
        Elf *elf = elf_memory(img, len);
        uint64_t load_vaddr = 0;
        size_t nph = 0;
        GElf_Phdr ph;
        if (elf_getphdrnum(elf, &nph) == 0)
                for (size_t i = 0; i < nph; i++)
                        if (gelf_getphdr(elf, (int) i, &ph) && ph.p_type == PT_LOAD) {
                                load_vaddr = ph.p_vaddr;
                                break;
                        }
        for (Elf_Scn *scn = NULL; !addr && (scn = elf_nextscn(elf, scn));) {
                GElf_Shdr sh;
                Elf_Data *data;
                if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM ||
                    !(data = elf_getdata(scn, NULL)))
                        continue;
                for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
                        GElf_Sym sym;
                        const char *name;
                        if (gelf_getsym(data, (int) i, &sym) &&
                            (name = elf_strptr(elf, sh.sh_link, sym.st_name)) &&
                            strcmp(name, want) == 0 && sym.st_value) {
                                addr = (uint64_t) (uintptr_t) eh + sym.st_value - load_vaddr;
                                break;
                        }
                }
        }
        elf_end(elf);
        free(img);
        return addr;
}

static void test_main_thread(struct dwfl_check *c, Dwfl *sym, struct owned_sample *main_s,
                             uint64_t *main_pcs, int *main_n) {
        static const char *const expect[] = { "chain_c", "chain_b", "chain_a", "main",
                                              "__libc_start_call_main" };

        *main_n = dwfl_check_unwind(c, &main_s->s, main_pcs, MAX_FRAMES);
        printf("# main thread: %d frames from a %zu-byte copy\n", *main_n, main_s->s.stack_len);
        print_frames(sym, main_pcs, *main_n);
        CHECK(*main_n >= (int) ELEMENTSOF(expect) + 1, "main thread: %d frames", *main_n);
        CHECK(*main_n >= 1 && main_pcs[0] == main_s->s.ip, "main thread: frame 0 is the ip");
        CHECK(names_are(sym, main_pcs, *main_n, expect, ELEMENTSOF(expect)),
              "main thread: chain_c chain_b chain_a main __libc_start_call_main");
        CHECK(last_is_one_of(sym, main_pcs, *main_n, process_roots, ELEMENTSOF(process_roots)),
              "main thread: the walk ends at _start or __libc_start_main");
}

static void test_thread(struct dwfl_check *c, Dwfl *sym) {
        static const char *const expect[] = { "chain_c", "chain_b", "chain_a", "thread_fn",
                                              "start_thread" };
        uint64_t pcs[MAX_FRAMES];
        pthread_t t;
        void *res;

        if (pthread_create(&t, NULL, thread_fn, (void *) (intptr_t) 2) != 0 ||
            pthread_join(t, &res) != 0 || (intptr_t) res != 15)
                abort();
        /* the thread has exited: its sample still unwinds, as a queued
         * sample of a finished thread must */
        struct owned_sample o = take_captured();
        int n = dwfl_check_unwind(c, &o.s, pcs, MAX_FRAMES);
        printf("# thread %d: %d frames from a %zu-byte copy\n", (int) o.s.tid, n, o.s.stack_len);
        print_frames(sym, pcs, n);
        CHECK(o.s.tid != o.s.pid, "thread: sampled on its own tid");
        CHECK(names_are(sym, pcs, n, expect, ELEMENTSOF(expect)),
              "thread: chain_c chain_b chain_a thread_fn start_thread");
        CHECK(last_is_one_of(sym, pcs, n, thread_roots, ELEMENTSOF(thread_roots)),
              "thread: the walk ends at clone3");
        free(o.buf);
}

static void test_cut(struct dwfl_check *c, const struct owned_sample *main_s,
                     const uint64_t *main_pcs, int main_n) {
        uint64_t pcs[MAX_FRAMES];
        struct dwfl_check_sample s = main_s->s;
        int n;

        s.stack_len = 64;
        n = dwfl_check_unwind(c, &s, pcs, MAX_FRAMES);
        CHECK(n >= 1 && n < main_n, "64-byte copy: %d frames, fewer than %d", n, main_n);
        CHECK(n >= 1 && memcmp(pcs, main_pcs, (size_t) n * sizeof(*pcs)) == 0,
              "64-byte copy: the frames it has are the full copy's");

        s.stack_len = 0;
        s.stack = NULL;
        n = dwfl_check_unwind(c, &s, pcs, MAX_FRAMES);
        CHECK(n == 1 && pcs[0] == s.ip, "no copy at all: just the ip (%d frames)", n);

        s = main_s->s;
        s.tid = 0;
        n = dwfl_check_unwind(c, &s, pcs, MAX_FRAMES);
        CHECK(n == main_n && memcmp(pcs, main_pcs, (size_t) n * sizeof(*pcs)) == 0,
              "no tid: unwound as the main thread (%d frames)", n);

        n = dwfl_check_unwind(c, &main_s->s, pcs, 3);
        CHECK(n == 3 && memcmp(pcs, main_pcs, 3 * sizeof(*pcs)) == 0,
              "a limit of 3 frames: the first 3 (%d)", n);
}

static void test_dead_pid(struct dwfl_check *c, const struct owned_sample *main_s) {
        uint64_t pcs[MAX_FRAMES];
        struct dwfl_check_sample s = main_s->s;
        fflush(stdout);
        pid_t pid = fork();

        if (pid < 0)
                abort();
        if (pid == 0)
                _exit(0);
        if (waitpid(pid, NULL, 0) != pid)
                abort();
        s.pid = s.tid = pid;
        int r = dwfl_check_unwind(c, &s, pcs, MAX_FRAMES);
        CHECK(r == -ESRCH, "a pid that is gone: -ESRCH (%d)", r);
}

static __attribute__((noipa)) void test_dlopen(struct dwfl_check *c) {
        static const char *const expect[] = { "chain_c", "chain_b", "dso_call", "run_dso",
                                              "test_dlopen" };
        uint64_t pcs[MAX_FRAMES];
        void *h = dlopen(DSO_PATH, RTLD_NOW);
        int (*dso_call)(int (*)(int), int) = h ? (int (*)(int (*)(int), int)) dlsym(h, "dso_call")
                                               : NULL;

        if (!dso_call) {
                CHECK(false, "dlopen '%s': %s", DSO_PATH, dlerror());
                return;
        }
        /* Named by modules as mapped now: libelf maps the files it opens
         * (once dwfl_check_unwind reads the library), and such a mapping
         * next to the library's own would widen its module in a later
         * report of this process. */
        Dwfl *sym = symbolizer_new();
        /* modules are re-read at most every 100 ms */
        usleep(150 * 1000);
        if (run_dso(dso_call) != (4 + 1) * 3 * 7 + 1 - 2)
                abort();
        struct owned_sample o = take_captured();
        int n = dwfl_check_unwind(c, &o.s, pcs, MAX_FRAMES);
        printf("# through a library loaded after the first unwind: %d frames\n", n);
        print_frames(sym, pcs, n);
        CHECK(names_are(sym, pcs, n, expect, ELEMENTSOF(expect)),
              "dlopen: chain_c chain_b dso_call run_dso test_dlopen");
        CHECK(last_is_one_of(sym, pcs, n, process_roots, ELEMENTSOF(process_roots)),
              "dlopen: the walk ends at _start or __libc_start_main");
        dwfl_end(sym);
        free(o.buf);
        dlclose(h);
}

/* A sample taken on the first instruction of a vDSO function called from
 * chain_c: the stack is chain_c's with the return address pushed. */
static void test_vdso(struct dwfl_check *c, Dwfl *sym, const struct owned_sample *main_s,
                      const uint64_t *main_pcs, int main_n) {
        uint64_t fn = vdso_symbol("__vdso_clock_gettime");
        uint64_t pcs[MAX_FRAMES];

        if (!fn) {
                /* valgrind hides the vDSO (no AT_SYSINFO_EHDR) */
                tap_n++;
                printf("ok %d # SKIP no vDSO in this process\n", tap_n);
                return;
        }
        uint64_t *buf = malloc(main_s->s.stack_len + 8);
        if (!buf)
                abort();
        buf[0] = main_s->s.ip;
        memcpy(buf + 1, main_s->s.stack, main_s->s.stack_len);
        struct dwfl_check_sample s = main_s->s;
        s.ip = fn;
        s.sp = s.stack_addr = main_s->s.sp - 8;
        s.stack = buf;
        s.stack_len = main_s->s.stack_len + 8;
        int n = dwfl_check_unwind(c, &s, pcs, MAX_FRAMES);
        printf("# a pc in the vDSO: %d frames\n", n);
        print_frames(sym, pcs, n);
        CHECK(n == main_n + 1 && pcs[0] == fn && memcmp(pcs + 1, main_pcs, (size_t) main_n * 8) == 0,
              "vDSO: its CFI leads back into chain_c and on to the same root");
        free(buf);
}

static void test_forget_and_time(struct dwfl_check *c, const struct owned_sample *main_s,
                                 const uint64_t *main_pcs, int main_n) {
        uint64_t pcs[MAX_FRAMES];
        int n, same = 0;

        dwfl_check_forget(c, main_s->s.pid);
        n = dwfl_check_unwind(c, &main_s->s, pcs, MAX_FRAMES);
        CHECK(n == main_n && memcmp(pcs, main_pcs, (size_t) n * 8) == 0,
              "after forgetting the process: the same frames again");

        uint64_t t0 = now_ns();
        for (int i = 0; i < 1000; i++) {
                n = dwfl_check_unwind(c, &main_s->s, pcs, MAX_FRAMES);
                same += n == main_n && memcmp(pcs, main_pcs, (size_t) n * 8) == 0;
        }
        uint64_t dt = now_ns() - t0;
        CHECK(same == 1000, "1000 unwinds of one sample agree (%d)", same);
        printf("# libdwfl reference: %.1f us per sample (%d frames, 1000 samples)\n",
               (double) dt / 1000.0 / 1000.0, main_n);

        /* what a process's first sample costs: maps read, modules opened,
         * their CFI parsed again */
        same = 0;
        t0 = now_ns();
        for (int i = 0; i < 20; i++) {
                dwfl_check_forget(c, main_s->s.pid);
                n = dwfl_check_unwind(c, &main_s->s, pcs, MAX_FRAMES);
                same += n == main_n && memcmp(pcs, main_pcs, (size_t) n * 8) == 0;
        }
        dt = now_ns() - t0;
        CHECK(same == 20, "20 first samples of a fresh Dwfl agree (%d)", same);
        printf("# libdwfl reference, first sample of a process: %.1f us\n",
               (double) dt / 20.0 / 1000.0);
}

int main(void) {
        struct dwfl_check *c = NULL;
        struct owned_sample main_s;
        uint64_t main_pcs[MAX_FRAMES];
        int main_n;

        if (dwfl_check_new(&c) < 0)
                abort();
        /* main -> chain_a directly, so that main is frame 3 */
        if (chain_a(1) != 11)
                abort();
        main_s = take_captured();
        Dwfl *sym = symbolizer_new();

        test_main_thread(c, sym, &main_s, main_pcs, &main_n);
        test_thread(c, sym);
        test_cut(c, &main_s, main_pcs, main_n);
        test_dead_pid(c, &main_s);
        test_vdso(c, sym, &main_s, main_pcs, main_n);
        test_dlopen(c);
        test_forget_and_time(c, &main_s, main_pcs, main_n);

        dwfl_end(sym);
        free(main_s.buf);
        dwfl_check_free(c);
        return tap_done();
}
