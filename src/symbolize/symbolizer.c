/* The symbolizer: per-process mapping lists, a module cache shared by all
 * processes, the vDSO and the kernel's symbols, and the per-profile frame
 * caches that make each unique address resolve once.
 *
 * Modules are identified eagerly, when a mapping becomes known and the
 * process is still alive (so /proc/PID/map_files and /proc/PID/root work),
 * and cached by build-id, else by the file's identity (dev, inode, size,
 * mtime); their symbol tables are read on the first lookup. Nothing is
 * evicted: a module stays mapped until symbolizer_free(). */
#include "cprof/symbolize.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "symbolize/elf-module.h"
#include "symbolize/kallsyms.h"
#include "symbolize/maps.h"
#include "util/cleanup.h"
#include "util/read-file.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/time-util.h"
#include "util/vec.h"

/* An address outside every known mapping re-reads the maps (dlopen) at
 * most this often per process. */
#define RELOAD_INTERVAL_NS (100 * 1000 * 1000ULL)

#define KERNEL_MODULE_NAME "[kernel.kallsyms]"

/* Interned C strings that live until symbolizer_free(): module paths are
 * handed out as borrowed pointers and must outlive forgotten processes. */
struct strpool {
        VEC(char *) strs;
        struct idindex index;
};

struct pool_key {
        const char *s;
        size_t len;
};

static bool pool_eq(const void *ctx, uint32_t id, const void *key) {
        const struct strpool *sp = ctx;
        const struct pool_key *k = key;
        const char *s = sp->strs.v[id];
        return strncmp(s, k->s, k->len) == 0 && s[k->len] == '\0';
}

static int strpool_add(struct strpool *sp, const char *s, size_t len, const char **ret) {
        struct pool_key key = { s, len };
        uint32_t h = (uint32_t) hash_bytes(s, len, 7), id;
        int r;

        if (idindex_find(&sp->index, h, pool_eq, sp, &key, &id)) {
                *ret = sp->strs.v[id];
                return 0;
        }
        if (sp->strs.n >= UINT32_MAX)
                return -ENOMEM;
        r = vec_reserve(&sp->strs, sp->strs.n + 1);
        if (r < 0)
                return r;
        char *copy = strndup(s, len);
        if (!copy)
                return -ENOMEM;
        r = idindex_insert(&sp->index, h, (uint32_t) sp->strs.n);
        if (r < 0) {
                free(copy);
                return r;
        }
        sp->strs.v[sp->strs.n++] = copy;
        *ret = copy;
        return 0;
}

static void strpool_release(struct strpool *sp) {
        for (size_t i = 0; i < sp->strs.n; i++)
                free(sp->strs.v[i]);
        vec_free(&sp->strs);
        idindex_release(&sp->index);
}

struct module {
        struct elf_module *elf; /* NULL: not an ELF file (e.g. JIT memfd) */
        /* the file it was first read from; all zero for the vDSO */
        uint64_t dev, ino, size;
        int64_t mtime_ns;
};

/* One image of a process: what it maps between two execs. A process that
 * execs gets a new image (its generation counts the execs), and the old
 * one stays until forgotten, for samples taken before the exec that are
 * symbolized after it. */
struct process {
        pid_t pid;
        uint32_t gen;
        struct mapping_list maps;
        bool loaded; /* maps were read (or tried) at least once */
        bool gone;   /* /proc/PID is gone: no more re-reads */
        uint64_t last_reload_ns;
        struct u64map frames; /* lookup address -> frame id in the profile */
};

struct symbolizer {
        struct strpool strings;
        VEC(struct module) modules;
        struct u64map by_build_id; /* hash -> module index */
        struct u64map by_file;     /* hash of the file identity -> module index */
        VEC(struct process *) procs;
        struct u64map pid_index;   /* image_key(pid, gen) -> index in procs (slots are reused) */
        struct u64map current_gen; /* pid -> the generation its next loads describe */
        uint32_t vdso_module;    /* index + 1, 0 none */
        bool vdso_tried;
        struct kallsyms *kallsyms;
        bool kallsyms_tried;
        const struct profile *frames_profile; /* the profile the frame caches belong to */
        struct u64map kernel_frames;
};

int symbolizer_new(struct symbolizer **ret) {
        struct symbolizer *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static struct process *process_free(struct process *p) {
        if (!p)
                return NULL;
        mapping_list_release(&p->maps);
        u64map_release(&p->frames);
        free(p);
        return NULL;
}

struct symbolizer *symbolizer_free(struct symbolizer *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->procs.n; i++)
                process_free(s->procs.v[i]);
        vec_free(&s->procs);
        u64map_release(&s->pid_index);
        u64map_release(&s->current_gen);
        for (size_t i = 0; i < s->modules.n; i++)
                elf_module_free(s->modules.v[i].elf);
        vec_free(&s->modules);
        u64map_release(&s->by_build_id);
        u64map_release(&s->by_file);
        kallsyms_free(s->kallsyms);
        u64map_release(&s->kernel_frames);
        strpool_release(&s->strings);
        free(s);
        return NULL;
}


/* Modules. */

static int module_push(struct symbolizer *s, const struct module *m, uint32_t *ret_id) {
        if (s->modules.n >= UINT32_MAX - 1)
                return -ENOMEM;
        int r = vec_push(&s->modules, *m);
        if (r < 0)
                return r;
        *ret_id = (uint32_t) s->modules.n; /* index + 1 */
        return 0;
}

static uint64_t file_key(const struct stat *st) {
        uint64_t k[4] = { st->st_dev, st->st_ino, (uint64_t) st->st_size,
                          (uint64_t) st->st_mtim.tv_sec * 1000000000ULL + (uint64_t) st->st_mtim.tv_nsec };
        return hash_bytes(k, sizeof(k), 11);
}

static bool module_is_file(const struct module *m, const struct stat *st) {
        return m->dev == st->st_dev && m->ino == st->st_ino && m->size == (uint64_t) st->st_size &&
               m->mtime_ns == (int64_t) st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* map_files names exactly the mapped file, even deleted or in another
 * mount namespace; /proc/PID/root reaches a container's files; the plain
 * path is the last resort (and wrong for a deleted file, so not tried). */
static int open_mapped_file(pid_t pid, const struct mapping *m) {
        char p[64 + PATH_MAX];
        int fd;

        if (pid > 0) {
                snprintf(p, sizeof(p), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int) pid, m->start,
                         m->end);
                fd = open(p, O_RDONLY | O_CLOEXEC);
                if (fd >= 0)
                        return fd;
        }
        if (m->deleted)
                return -ENOENT;
        if (pid > 0 && strlen(m->path) < PATH_MAX) {
                snprintf(p, sizeof(p), "/proc/%d/root%s", (int) pid, m->path);
                fd = open(p, O_RDONLY | O_CLOEXEC);
                if (fd >= 0)
                        return fd;
        }
        fd = open(m->path, O_RDONLY | O_CLOEXEC);
        return fd >= 0 ? fd : -errno;
}

struct vdso_find {
        uint64_t base, len;
};

static int find_vdso(void *userdata, const struct maps_entry *e) {
        struct vdso_find *v = userdata;
        if (e->start == v->base && e->path && e->path_len == 6 && memcmp(e->path, "[vdso]", 6) == 0)
                v->len = e->end - e->start;
        return 0;
}

static uint32_t vdso_module(struct symbolizer *s) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        struct vdso_find f = { getauxval(AT_SYSINFO_EHDR), 0 };

        if (s->vdso_tried)
                return s->vdso_module;
        s->vdso_tried = true;
        /* The target's vDSO is the image the same kernel gave us: read ours
         * (its size from our own maps, so we never read past it). */
        if (f.base == 0 || read_full_file("/proc/self/maps", &buf, &len) < 0)
                return 0;
        maps_parse(buf, len, find_vdso, &f);
        if (f.len == 0)
                return 0;
        struct module m = {};
        if (elf_module_from_memory((const void *) (uintptr_t) f.base, f.len, &m.elf) < 0)
                return 0;
        if (module_push(s, &m, &s->vdso_module) < 0) {
                elf_module_free(m.elf);
                return 0;
        }
        return s->vdso_module;
}

/* The module id (index + 1) of a mapping's file, 0 when there is none or
 * it cannot be opened. */
static uint32_t resolve_module(struct symbolizer *s, pid_t pid, const struct mapping *m) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        uint64_t key, idx;
        struct module mod = {};
        uint32_t id;
        int r;

        if (!m->path)
                return 0;
        if (strcmp(m->path, "[vdso]") == 0)
                return vdso_module(s);
        if (m->path[0] != '/')
                return 0; /* [vsyscall], [anon:...], ... */
        fd = open_mapped_file(pid, m);
        if (fd < 0 || fstat(fd, &st) < 0) {
                log_debug("symbolize: cannot open '%s' of pid %d, skipping", m->path, (int) pid);
                return 0;
        }
        key = file_key(&st);
        if (u64map_get(&s->by_file, key, &idx) && idx < s->modules.n &&
            module_is_file(&s->modules.v[idx], &st))
                return (uint32_t) idx + 1;

        r = elf_module_open_fd(fd, &mod.elf);
        if (r == -ENOMEM)
                return 0;
        if (r < 0)
                log_debug_errno(r, "symbolize: '%s' is not a readable ELF file", m->path);

        size_t bid_len = 0;
        const uint8_t *bid = mod.elf ? elf_module_build_id(mod.elf, &bid_len) : NULL;
        uint64_t bkey = bid ? hash_bytes(bid, bid_len, 13) : 0;
        if (bid && u64map_get(&s->by_build_id, bkey, &idx) && idx < s->modules.n) {
                size_t other_len;
                const uint8_t *other = elf_module_build_id(s->modules.v[idx].elf, &other_len);
                if (other_len == bid_len && memcmp(other, bid, bid_len) == 0) {
                        /* the same build in another file: read once */
                        elf_module_free(mod.elf);
                        if (!u64map_get(&s->by_file, key, &(uint64_t) { 0 }))
                                (void) u64map_put(&s->by_file, key, idx);
                        return (uint32_t) idx + 1;
                }
        }

        mod.dev = st.st_dev;
        mod.ino = st.st_ino;
        mod.size = (uint64_t) st.st_size;
        mod.mtime_ns = (int64_t) st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        if (module_push(s, &mod, &id) < 0) {
                elf_module_free(mod.elf);
                return 0;
        }
        /* a failed index insert only costs a second read later */
        if (!u64map_get(&s->by_file, key, &idx))
                (void) u64map_put(&s->by_file, key, id - 1);
        if (bid && !u64map_get(&s->by_build_id, bkey, &idx))
                (void) u64map_put(&s->by_build_id, bkey, id - 1);
        return id;
}

/* Processes. */

static uint64_t image_key(pid_t pid, uint32_t gen) {
        return (uint64_t) gen << 32 | (uint32_t) pid;
}

static uint32_t current_gen(const struct symbolizer *s, pid_t pid) {
        uint64_t gen = 0;
        (void) u64map_get(&s->current_gen, (uint64_t) pid, &gen);
        return (uint32_t) gen;
}

static struct process *image_get(struct symbolizer *s, pid_t pid, uint32_t gen, bool create) {
        uint64_t idx, key = image_key(pid, gen);
        bool have_slot = u64map_get(&s->pid_index, key, &idx);

        if (have_slot && s->procs.v[idx])
                return s->procs.v[idx];
        if (!create)
                return NULL;
        struct process *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->pid = pid;
        p->gen = gen;
        if (!have_slot) {
                idx = s->procs.n;
                if (vec_push(&s->procs, NULL) < 0 || u64map_put(&s->pid_index, key, idx) < 0) {
                        if (s->procs.n > idx)
                                s->procs.n = idx;
                        free(p);
                        return NULL;
                }
        }
        s->procs.v[idx] = p;
        return p;
}

/* The image that /proc/PID/maps describes now. */
static struct process *process_get(struct symbolizer *s, pid_t pid, bool create) {
        return image_get(s, pid, current_gen(s, pid), create);
}

struct load_ctx {
        struct symbolizer *s;
        struct process *p;
        pid_t proc_pid; /* whose /proc entries to open: the process or a live thread */
        VEC(struct mapping) fresh;
};

static int on_maps_entry(void *userdata, const struct maps_entry *e) {
        struct load_ctx *c = userdata;
        struct mapping m = {
                .start = e->start,
                .end = e->end,
                .pgoff = e->pgoff,
                .dev = makedev(e->dev_major, e->dev_minor),
                .inode = e->inode,
                .deleted = e->deleted,
        };
        int r;

        /* only code is ever symbolized */
        if (!e->exec)
                return 0;
        if (e->path) {
                r = strpool_add(&c->s->strings, e->path, e->path_len, &m.path);
                if (r < 0)
                        return r;
        }
        /* known unchanged: keep its module, no reopening */
        const struct mapping *old = mapping_list_find(&c->p->maps, m.start);
        if (old && old->start == m.start && old->end == m.end && old->pgoff == m.pgoff &&
            old->inode == m.inode && old->dev == m.dev && old->path == m.path)
                m.module = old->module;
        else
                m.module = resolve_module(c->s, c->proc_pid, &m);
        return vec_push(&c->fresh, m);
}

static int process_load(struct symbolizer *s, struct process *p) {
        _cleanup_free_ char *buf = NULL;
        char path[64];
        size_t len;
        int r;

        p->loaded = true;
        snprintf(path, sizeof(path), "/proc/%d/maps", (int) p->pid);
        r = read_full_file(path, &buf, &len);
        if (r == -ENOENT || r == -ESRCH) {
                p->gone = true;
                return -ESRCH;
        }
        if (r < 0)
                return r;
        pid_t proc_pid = p->pid;
        if (len == 0) {
                /* The main thread may have exited (pthread_exit) while others
                 * run: its maps are empty, a live thread's are not. */
                char tpath[96];
                snprintf(tpath, sizeof(tpath), "/proc/%d/task", (int) p->pid);
                _cleanup_(closedirp) DIR *d = opendir(tpath);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        int tid = atoi(de->d_name);
                        if (tid <= 0 || tid == p->pid)
                                continue;
                        snprintf(tpath, sizeof(tpath), "/proc/%d/maps", tid);
                        free(buf);
                        buf = NULL;
                        if (read_full_file(tpath, &buf, &len) >= 0 && len > 0) {
                                proc_pid = tid;
                                break;
                        }
                        len = 0;
                }
                if (!buf) {
                        buf = strdup("");
                        if (!buf)
                                return -ENOMEM;
                }
        }
        struct load_ctx c = { .s = s, .p = p, .proc_pid = proc_pid };
        r = maps_parse(buf, len, on_maps_entry, &c);
        if (r >= 0)
                r = mapping_list_add(&p->maps, c.fresh.v, c.fresh.n);
        vec_free(&c.fresh);
        if (r < 0)
                return r;
        /* an empty maps file: a zombie, whose memory is already gone */
        if (len == 0)
                p->gone = true;
        return 0;
}

int symbolizer_load_process(struct symbolizer *s, pid_t pid) {
        if (pid <= 0)
                return -EINVAL;
        struct process *p = process_get(s, pid, true);
        if (!p)
                return -ENOMEM;
        return process_load(s, p);
}

int symbolizer_fork_process(struct symbolizer *s, pid_t parent, pid_t child) {
        /* a new process: whatever is known under its pid is of an earlier
         * one that had the same pid */
        int r = symbolizer_exec_process(s, child, 0);
        if (r < 0)
                return r;
        struct process *pp = process_get(s, parent, false);
        if (!pp || pp->maps.m.n == 0)
                return 0;
        struct process *c = process_get(s, child, true);
        if (!c)
                return -ENOMEM;
        /* the child starts with a copy of the parent's address space;
         * module ids and pooled paths are shared by the whole symbolizer */
        return mapping_list_add(&c->maps, pp->maps.m.v, pp->maps.m.n);
}

void symbolizer_forget_image(struct symbolizer *s, pid_t pid, uint32_t gen) {
        uint64_t idx;
        if (u64map_get(&s->pid_index, image_key(pid, gen), &idx))
                s->procs.v[idx] = process_free(s->procs.v[idx]);
}

void symbolizer_forget_process(struct symbolizer *s, pid_t pid) {
        symbolizer_forget_image(s, pid, current_gen(s, pid));
}

int symbolizer_exec_process(struct symbolizer *s, pid_t pid, uint32_t gen) {
        if (pid <= 0)
                return -EINVAL;
        /* a stale image under this key (a reused pid) is not this one */
        symbolizer_forget_image(s, pid, gen);
        int r = u64map_put(&s->current_gen, (uint64_t) pid, gen);
        if (r < 0)
                return r;
        return image_get(s, pid, gen, true) ? 0 : -ENOMEM;
}

static int strip_deleted(const char *path, size_t *len, bool *deleted) {
        static const char suffix[] = " (deleted)";
        size_t n = strlen(path), k = sizeof(suffix) - 1;
        *deleted = n > k && strcmp(path + n - k, suffix) == 0;
        *len = *deleted ? n - k : n;
        return 0;
}

int symbolizer_add_mapping(struct symbolizer *s, pid_t pid, uint32_t gen, uint64_t start,
                           uint64_t len, uint64_t pgoff, const char *path) {
        struct mapping m = { .start = start, .end = start + len, .pgoff = pgoff };
        size_t plen = 0;
        int r;

        if (pid <= 0 || len == 0 || m.end < start)
                return -EINVAL;
        struct process *p = image_get(s, pid, gen, true);
        if (!p)
                return -ENOMEM;
        if (path && path[0]) {
                strip_deleted(path, &plen, &m.deleted);
                r = strpool_add(&s->strings, path, plen, &m.path);
                if (r < 0)
                        return r;
        }
        m.module = resolve_module(s, pid, &m);
        return mapping_list_add(&p->maps, &m, 1);
}

/* Lookups. */

void symbolizer_load_kernel(struct symbolizer *s) {
        if (s->kallsyms_tried)
                return;
        s->kallsyms_tried = true;
        int r = kallsyms_load("/proc/kallsyms", &s->kallsyms);
        if (r < 0)
                log_debug_errno(r, "symbolize: cannot read /proc/kallsyms, skipping");
}

static int lookup_kernel(struct symbolizer *s, uint64_t addr, struct symbol *ret) {
        const char *name = NULL, *module = NULL;

        symbolizer_load_kernel(s);
        if (s->kallsyms)
                (void) kallsyms_lookup(s->kallsyms, addr, &name, &module, NULL);
        /* without kallsyms (or its addresses) a kernel frame is still a
         * kernel frame */
        *ret = (struct symbol) {
                .name = name,
                .module = module ? module : KERNEL_MODULE_NAME,
                .module_offset = addr,
        };
        return 0;
}

static const struct mapping *find_mapping(struct symbolizer *s, struct process *p, uint64_t addr) {
        const struct mapping *m;

        /* /proc shows the current image only: an older one is what events
         * and earlier reads made of it */
        bool current = p->gen == current_gen(s, p->pid);
        if (!p->loaded && current)
                (void) process_load(s, p);
        m = mapping_list_find(&p->maps, addr);
        if (m || p->gone || !current)
                return m;
        /* maybe dlopen()ed since: re-read, but not for every stray address */
        uint64_t now = now_ns();
        if (p->last_reload_ns && now - p->last_reload_ns < RELOAD_INTERVAL_NS)
                return NULL;
        p->last_reload_ns = now;
        log_debug("symbolize: %#" PRIx64 " outside the maps of pid %d, re-reading them", addr,
                  (int) p->pid);
        (void) process_load(s, p);
        return mapping_list_find(&p->maps, addr);
}

static int lookup_user(struct symbolizer *s, struct process *p, uint64_t addr, struct symbol *ret) {
        const struct mapping *m = find_mapping(s, p, addr);
        /* anonymous code (JIT) is known but has no name here; perf maps
         * will come in here */
        if (!m || !m->path)
                return -ENOENT;

        uint64_t offset = addr - m->start + m->pgoff, vaddr = offset;
        const char *name = NULL;
        struct module *mod = m->module && m->module <= s->modules.n ? &s->modules.v[m->module - 1] : NULL;
        if (mod && mod->elf && elf_module_offset_to_vaddr(mod->elf, offset, &vaddr) == 0)
                name = elf_module_symbolize(mod->elf, vaddr, NULL);
        *ret = (struct symbol) { .name = name, .module = m->path, .module_offset = vaddr };
        return 0;
}

int symbolizer_lookup(struct symbolizer *s, pid_t pid, uint64_t addr, bool kernel,
                      struct symbol *ret) {
        if (kernel)
                return lookup_kernel(s, addr, ret);
        if (pid <= 0)
                return -ENOENT;
        struct process *p = process_get(s, pid, true);
        if (!p)
                return -ENOMEM;
        return lookup_user(s, p, addr, ret);
}

/* The image a sample of generation gen ran: that one if known, else the
 * newest (its exec event was lost, or it came from a backend without
 * generations). */
static struct process *sample_image(struct symbolizer *s, pid_t pid, uint32_t gen) {
        struct process *p = image_get(s, pid, gen, false);
        return p ? p : process_get(s, pid, true);
}

/* Frames. */

static void reset_frames(struct symbolizer *s) {
        for (size_t i = 0; i < s->procs.n; i++)
                if (s->procs.v[i])
                        u64map_release(&s->procs.v[i]->frames);
        u64map_release(&s->kernel_frames);
}

void symbolizer_reset_frames(struct symbolizer *s) {
        reset_frames(s);
        s->frames_profile = NULL;
}

/* "[libc.so.6+0x1f2a0]"; "[vdso]" style pseudo paths lose their brackets */
static int module_basename(const char *module, const char **ret, size_t *ret_len) {
        const char *b = strrchr(module, '/');
        size_t n;

        b = b ? b + 1 : module;
        n = strlen(b);
        if (n >= 2 && b[0] == '[' && b[n - 1] == ']') {
                b++;
                n -= 2;
        }
        *ret = b;
        *ret_len = n;
        return 0;
}

static const char unknown_name[] = "[unknown]";

/* The seam for demangling (a later issue): C++ and Rust names become
 * readable here, before they are interned. Today: the name as is. */
static const char *display_name(const char *symbol) {
        return symbol;
}

int symbolizer_frame(struct symbolizer *s, struct profile *p, pid_t pid, uint32_t gen,
                     const struct unwound_frame *f, uint32_t *ret_frame_id) {
        struct profile_frame frame = { .kind = f->kernel ? FRAME_KERNEL : FRAME_USER };
        struct u64map *cache;
        struct process *proc = NULL;
        struct symbol sym = {};
        char buf[PATH_MAX + 64];
        const char *name;
        uint64_t addr, id;
        int r;

        if (p != s->frames_profile) {
                reset_frames(s);
                s->frames_profile = p;
        }
        /* a return address points after the call: look inside the call */
        addr = f->exact || f->addr == 0 ? f->addr : f->addr - 1;
        if (f->kernel)
                cache = &s->kernel_frames;
        else {
                proc = pid > 0 ? sample_image(s, pid, gen) : NULL;
                if (pid > 0 && !proc)
                        return -ENOMEM;
                cache = proc ? &proc->frames : NULL;
        }
        /* a frame id beyond the profile means a new profile at the old
         * address: never hand out a stale id */
        if (cache && u64map_get(cache, addr, &id) && id < profile_frame_count(p)) {
                *ret_frame_id = (uint32_t) id;
                return 0;
        }

        if (f->kernel)
                r = lookup_kernel(s, addr, &sym);
        else
                r = proc ? lookup_user(s, proc, addr, &sym) : -ENOENT;
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == -ENOENT)
                name = unknown_name;
        else if (sym.name)
                name = display_name(sym.name);
        else {
                const char *base;
                size_t blen;
                module_basename(sym.module, &base, &blen);
                if (f->kernel)
                        /* kernel addresses without kallsyms are random
                         * (KASLR): one frame for all of them */
                        snprintf(buf, sizeof(buf), "[%.*s]", (int) MIN(blen, (size_t) PATH_MAX), base);
                else
                        snprintf(buf, sizeof(buf), "[%.*s+0x%" PRIx64 "]", (int) MIN(blen, (size_t) PATH_MAX),
                                 base, sym.module_offset);
                name = buf;
        }
        r = profile_intern_string(p, name, strlen(name), &frame.name);
        if (r < 0)
                return r;
        bool unknown = name == unknown_name;
        if (!unknown) {
                r = profile_intern_string(p, sym.module, strlen(sym.module), &frame.module);
                if (r < 0)
                        return r;
        }
        uint32_t fid;
        r = profile_intern_frame(p, &frame, &fid);
        if (r < 0)
                return r;
        id = fid;
        /* An unknown address of a live process may be known after the next
         * re-read of its maps (dlopen): do not pin it. */
        if (cache && (!unknown || !proc || proc->gone))
                (void) u64map_put(cache, addr, id);
        *ret_frame_id = (uint32_t) id;
        return 0;
}
