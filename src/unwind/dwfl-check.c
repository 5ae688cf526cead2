/* The libdwfl reference unwinder (see dwfl-check.h).
 *
 * One Dwfl per process, attached once with our own thread callbacks whose
 * argument is the process's entry: the entry points at the sample being
 * unwound, so a cached Dwfl (modules opened, CFI parsed) serves every
 * sample of the process. libdwfl keeps no thread state between
 * dwfl_getthread_frames calls unless asked to (dwfl_attach_thread), so
 * nothing of one sample leaks into the next.
 *
 * Modules come from the text of /proc/PID/maps, read into memory before
 * any module is dropped: a process that is gone by the time of a
 * re-report keeps the modules it had, and its queued samples still
 * unwind. libdwfl's own proc callbacks would read the vDSO and deleted
 * files out of /proc/PID/mem; here the vDSO is our own (the kernel maps
 * the same image into every 64-bit process) and deleted files get no ELF,
 * so libdwfl falls back to its frame-pointer step there. */
#include "unwind/dwfl-check.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "util/cleanup.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/read-file.h"
#include "util/time-util.h"

/* DWARF register numbers on x86-64 */
#define DWARF_RBP 6
#define DWARF_RSP 7
#define DWARF_RIP 16

/* A dlopen'd module shows up as pcs outside every module; re-reading maps
 * costs a few hundred microseconds, so a process whose pcs stay outside
 * (JIT code) pays it at most this often. */
#define REREPORT_INTERVAL_NS (100 * 1000 * 1000ULL)

/* The image of our vDSO is far smaller; anything larger is not one. */
#define VDSO_MAX_LEN (1u << 20)

struct dwfl_proc {
        struct dwfl_check *check;
        Dwfl *dwfl;
        pid_t pid;
        uint64_t reported_ns;

        /* the unwind in progress: set by dwfl_check_unwind, read by the
         * callbacks */
        const struct dwfl_check_sample *cur;
        pid_t tid;
        uint64_t *pcs;
        size_t max, n;
        bool outside; /* a pc fell outside every module */
};

struct dwfl_check {
        struct u64map procs; /* pid -> struct dwfl_proc * */
        /* A writable copy of our vDSO, the ELF image of every target's
         * vDSO module, and an Elf over it that tells libdwfl the machine
         * (so attaching does not depend on opening a target's file). Both
         * outlive every Dwfl. */
        char *vdso;
        size_t vdso_len;
        Elf *machine;
        /* NULL: libdwfl's default search (.debug next to the file,
         * /usr/lib/debug, build-id links) */
        char *debuginfo_path;
        Dwfl_Callbacks callbacks;
};

static struct dwfl_proc *dwfl_proc_free(struct dwfl_proc *p) {
        if (!p)
                return NULL;
        if (p->dwfl)
                dwfl_end(p->dwfl);
        free(p);
        return NULL;
}
DEFINE_FREEP(struct dwfl_proc, dwfl_proc_free)

static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
                    char **file_name, Elf **elfp) {
        if (strcmp(name, "[vdso]") == 0) {
                struct dwfl_check *c = *userdata;

                if (!c || !c->vdso)
                        return -1;
                *elfp = elf_memory(c->vdso, c->vdso_len);
                *file_name = NULL;
                return -1;
        }
        /* dwfl_linux_proc_find_elf would read a deleted file's image from
         * the target's memory */
        const char *sp = strrchr(name, ' ');
        if (sp && strcmp(sp, " (deleted)") == 0)
                return -1;
        return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
}

static void vdso_copy(struct dwfl_check *c) {
        const unsigned char *img = (const void *) getauxval(AT_SYSINFO_EHDR);
        const Elf64_Ehdr *eh = (const void *) img;

        if (!img || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
            eh->e_ident[EI_CLASS] != ELFCLASS64)
                return;
        /* the section headers come last in the kernel's vDSO image */
        size_t len = eh->e_shoff + (size_t) eh->e_shnum * eh->e_shentsize;
        len = MAX(len, eh->e_phoff + (size_t) eh->e_phnum * eh->e_phentsize);
        if (len < sizeof(*eh) || len > VDSO_MAX_LEN)
                return;
        c->vdso = malloc(len);
        if (!c->vdso)
                return;
        memcpy(c->vdso, img, len);
        c->vdso_len = len;
        c->machine = elf_memory(c->vdso, len);
}

int dwfl_check_new(struct dwfl_check **ret) {
        struct dwfl_check *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        elf_version(EV_CURRENT);
        c->callbacks = (Dwfl_Callbacks) {
                .find_elf = find_elf,
                .find_debuginfo = dwfl_standard_find_debuginfo,
                .debuginfo_path = &c->debuginfo_path,
        };
        /* without a vDSO image, samples in the vDSO stop there and the
         * machine comes from the target's first module */
        vdso_copy(c);
        *ret = c;
        return 0;
}

struct dwfl_check *dwfl_check_free(struct dwfl_check *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; c->procs.used && i <= c->procs.mask; i++)
                if (c->procs.used[i])
                        dwfl_proc_free((struct dwfl_proc *) (uintptr_t) c->procs.vals[i]);
        u64map_release(&c->procs);
        if (c->machine)
                elf_end(c->machine);
        free(c->vdso);
        free(c);
        return NULL;
}

void dwfl_check_forget(struct dwfl_check *c, pid_t pid) {
        uint64_t v;

        if (!c || !u64map_get(&c->procs, (uint64_t) pid, &v))
                return;
        u64map_remove(&c->procs, (uint64_t) pid);
        dwfl_proc_free((struct dwfl_proc *) (uintptr_t) v);
}

/* The [vdso] line of a maps text: 1 and its range, 0 when there is none. */
static int maps_find_vdso(const char *maps, uint64_t *ret_start, uint64_t *ret_end) {
        for (const char *l = maps; *l;) {
                const char *nl = strchrnul(l, '\n');
                size_t n = (size_t) (nl - l);
                uint64_t start, end;

                if (n >= 6 && memcmp(nl - 6, "[vdso]", 6) == 0 &&
                    sscanf(l, "%" SCNx64 "-%" SCNx64, &start, &end) == 2) {
                        *ret_start = start;
                        *ret_end = end;
                        return 1;
                }
                l = *nl ? nl + 1 : nl;
        }
        return 0;
}

/* (Re)reports the modules of p from /proc/PID/maps. Modules reported
 * again at the same place keep their open files and parsed CFI. */
static int proc_report(struct dwfl_proc *p) {
        _cleanup_free_ char *maps = NULL;
        char path[64];
        size_t len;
        int r;

        /* failures count too: a process that is gone is not asked
         * again on its every sample */
        p->reported_ns = now_ns();
        snprintf(path, sizeof(path), "/proc/%d/maps", (int) p->pid);
        r = read_full_file(path, &maps, &len);
        if (r == -ENOENT || r == -ESRCH)
                return -ESRCH;
        if (r < 0)
                return r;
        /* a zombie or a kernel thread: no user memory to unwind */
        if (len == 0)
                return -ESRCH;

        _cleanup_fclose_ FILE *f = fmemopen(maps, len, "r");
        if (!f)
                return -errno;

        dwfl_report_begin(p->dwfl);
        r = dwfl_linux_proc_maps_report(p->dwfl, f);
        uint64_t vs, ve;
        /* a mapping smaller than our image is not the same vDSO (a
         * 32-bit process's) */
        if (r == 0 && p->check->vdso && maps_find_vdso(maps, &vs, &ve) > 0 &&
            ve - vs >= p->check->vdso_len) {
                Dwfl_Module *mod = dwfl_report_module(p->dwfl, "[vdso]", vs, ve);
                void **userdata;

                if (mod && dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL,
                                            NULL))
                        *userdata = p->check;
        }
        if (dwfl_report_end(p->dwfl, NULL, NULL) != 0 && r == 0)
                r = -1;
        if (r > 0)
                return -r;
        if (r < 0) {
                log_debug("cannot report the modules of pid %d: %s", (int) p->pid,
                          dwfl_errmsg(-1));
                return -ENOMEM;
        }
        return 0;
}

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp) {
        struct dwfl_proc *p = arg;

        (void) dwfl;
        /* one thread, the sample's, once */
        if (*thread_argp)
                return 0;
        *thread_argp = p;
        return p->tid;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg) {
        const struct dwfl_check_sample *s = ((struct dwfl_proc *) thread_arg)->cur;
        const Dwarf_Word rbp_rsp[2] = { s->bp, s->sp };
        const Dwarf_Word rip = s->ip;

        return dwfl_thread_state_registers(thread, DWARF_RBP, 2, rbp_rsp) &&
               dwfl_thread_state_registers(thread, DWARF_RIP, 1, &rip);
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg) {
        const struct dwfl_check_sample *s = ((struct dwfl_proc *) arg)->cur;

        (void) dwfl;
        /* only the copy: never the target's memory */
        if (s->stack_len < sizeof(*result) || addr < s->stack_addr ||
            addr - s->stack_addr > s->stack_len - sizeof(*result))
                return false;
        memcpy(result, (const char *) s->stack + (addr - s->stack_addr), sizeof(*result));
        return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
        .next_thread = next_thread,
        .memory_read = memory_read,
        .set_initial_registers = set_initial_registers,
};

/* dwfl_addrmodule also answers for an address in the gap above a
 * module (it finds the segment below): check the module's range. */
static bool in_module(Dwfl *dwfl, Dwarf_Addr addr) {
        Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
        Dwarf_Addr low, high;

        return mod && dwfl_module_info(mod, NULL, &low, &high, NULL, NULL, NULL, NULL) &&
               addr >= low && addr < high;
}

static int frame_cb(Dwfl_Frame *frame, void *arg) {
        struct dwfl_proc *p = arg;
        Dwarf_Addr pc;

        if (!dwfl_frame_pc(frame, &pc, NULL))
                return DWARF_CB_ABORT;
        /* a return address may be the first byte after its module */
        if (!in_module(p->dwfl, p->n == 0 ? pc : pc - 1))
                p->outside = true;
        p->pcs[p->n++] = pc;
        return p->n < p->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static size_t proc_unwind(struct dwfl_proc *p, const struct dwfl_check_sample *s, uint64_t *pcs,
                          size_t max) {
        p->cur = s;
        /* a sample without a tid is taken as its process's main thread */
        p->tid = s->tid > 0 ? s->tid : s->pid;
        p->pcs = pcs;
        p->max = max;
        p->n = 0;
        p->outside = false;
        /* libdwfl ends every walk with -1 unless the last frame's return
         * address is undefined: the end of the copy, a pc without CFI
         * whose frame-pointer step fails, ... The frames before it are
         * the answer either way. */
        if (dwfl_getthread_frames(p->dwfl, p->tid, frame_cb, p) < 0)
                log_debug("libdwfl unwind of pid %d ended after %zu frames: %s",
                          (int) s->pid, p->n, dwfl_errmsg(-1));
        if (p->n == 0) {
                /* set_initial_registers failed: the sample's pc is all
                 * there is */
                pcs[0] = s->ip;
                p->n = 1;
        }
        size_t n = p->n;
        p->cur = NULL;
        p->pcs = NULL;
        return n;
}

static int proc_get(struct dwfl_check *c, pid_t pid, struct dwfl_proc **ret) {
        uint64_t v;
        int r;

        if (u64map_get(&c->procs, (uint64_t) pid, &v)) {
                *ret = (struct dwfl_proc *) (uintptr_t) v;
                return 0;
        }

        _cleanup_(dwfl_proc_freep) struct dwfl_proc *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->check = c;
        p->pid = pid;
        p->dwfl = dwfl_begin(&c->callbacks);
        if (!p->dwfl)
                return -ENOMEM;
        r = proc_report(p);
        if (r < 0)
                return r;
        if (!dwfl_attach_state(p->dwfl, c->machine, pid, &thread_callbacks, p)) {
                log_debug("cannot attach libdwfl state to pid %d: %s", (int) pid,
                          dwfl_errmsg(-1));
                /* no machine: neither our vDSO nor any module of the
                 * target could be opened */
                return -ENOENT;
        }
        r = u64map_put(&c->procs, (uint64_t) pid, (uint64_t) (uintptr_t) p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int dwfl_check_unwind(struct dwfl_check *c, const struct dwfl_check_sample *s, uint64_t *pcs,
                      size_t max) {
        struct dwfl_proc *p;
        int r;

        if (max == 0)
                return 0;
        r = proc_get(c, s->pid, &p);
        if (r < 0)
                return r;

        size_t n = proc_unwind(p, s, pcs, max);
        if (p->outside && now_ns() - p->reported_ns >= REREPORT_INTERVAL_NS) {
                /* a pc outside every module: maybe a dlopen since the last
                 * report. If the process is gone, its old modules stay and
                 * the first answer stands. */
                if (proc_report(p) >= 0)
                        n = proc_unwind(p, s, pcs, max);
        }
        return (int) MIN(n, (size_t) INT32_MAX);
}
