/* Process images: the mappings of each image of each process, kept
 * current from /proc/PID/maps and perf records, and address resolution
 * through them. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "image/image-internal.h"
#include "image/elf-module.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/read-file.h"
#include "util/time-util.h"

/* An address outside every known mapping re-reads the maps (dlopen) at
 * most this often per process. */
#define RELOAD_INTERVAL_NS (100 * 1000 * 1000ULL)

int image_store_new(struct image_store **ret) {
        struct image_store *st = calloc(1, sizeof(*st));
        if (!st)
                return -ENOMEM;
        *ret = st;
        return 0;
}

static struct process_image *image_free(struct process_image *p) {
        if (!p)
                return NULL;
        mapping_list_release(&p->maps);
        free(p);
        return NULL;
}

struct image_store *image_store_free(struct image_store *st) {
        if (!st)
                return NULL;
        for (size_t i = 0; i < st->images.n; i++)
                image_free(st->images.v[i]);
        vec_free(&st->images);
        vec_free(&st->free_images);
        u64map_release(&st->image_index);
        u64map_release(&st->current_gen);
        image_modules_release(st);
        strpool_release(&st->paths);
        free(st);
        return NULL;
}

size_t image_store_image_count(const struct image_store *st) {
        return st->image_index.count;
}

static uint64_t image_key(pid_t pid, uint32_t gen) {
        return (uint64_t) gen << 32 | (uint32_t) pid;
}

static uint32_t current_gen(const struct image_store *st, pid_t pid) {
        uint64_t gen = 0;
        (void) u64map_get(&st->current_gen, (uint64_t) pid, &gen);
        return (uint32_t) gen;
}

static struct process_image *image_get(struct image_store *st, pid_t pid, uint32_t gen, bool create) {
        uint64_t idx, key = image_key(pid, gen);

        if (u64map_get(&st->image_index, key, &idx))
                return st->images.v[idx];
        if (!create)
                return NULL;
        struct process_image *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->pid = pid;
        p->gen = gen;
        bool reused = st->free_images.n > 0;
        idx = reused ? st->free_images.v[--st->free_images.n] : st->images.n;
        if ((!reused && vec_push(&st->images, NULL) < 0) || u64map_put(&st->image_index, key, idx) < 0) {
                if (reused)
                        st->free_images.n++;
                else if (st->images.n > idx)
                        st->images.n = idx;
                free(p);
                return NULL;
        }
        st->images.v[idx] = p;
        return p;
}

/* The image that /proc/PID/maps describes now. */
static struct process_image *process_get(struct image_store *st, pid_t pid, bool create) {
        return image_get(st, pid, current_gen(st, pid), create);
}

struct load_ctx {
        struct image_store *st;
        struct process_image *p;
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

        /* only code is ever resolved */
        if (!e->exec)
                return 0;
        if (e->path) {
                r = strpool_add_str(&c->st->paths, e->path, e->path_len, &m.path);
                if (r < 0)
                        return r;
        }
        /* known unchanged: keep its module, no reopening */
        const struct mapping *old = mapping_list_find(&c->p->maps, m.start);
        if (old && old->start == m.start && old->end == m.end && old->pgoff == m.pgoff &&
            old->inode == m.inode && old->dev == m.dev && old->path == m.path &&
            image_module(c->st, old->module)) {
                m.module = old->module;
                m.copies_checked = old->copies_checked;
                m.copies_of = old->copies_of;
        } else
                m.module = image_module_for_mapping(c->st, c->proc_pid, &m);
        return vec_push(&c->fresh, m);
}

/* The main thread may have exited (pthread_exit) while others run: its
 * maps are empty, a live thread's are not. */
static pid_t live_thread_maps(pid_t pid, char **buf, size_t *len) {
        char path[96];
        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        _cleanup_(closedirp) DIR *d = opendir(path);
        struct dirent *de;

        while (d && (de = readdir(d))) {
                int tid = atoi(de->d_name);
                if (tid <= 0 || tid == pid)
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/maps", tid);
                free(*buf);
                *buf = NULL;
                if (read_full_file(path, buf, len) >= 0 && *len > 0)
                        return tid;
                *len = 0;
        }
        return pid;
}

static int process_load(struct image_store *st, struct process_image *p) {
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
        if (len == 0)
                proc_pid = live_thread_maps(p->pid, &buf, &len);
        struct load_ctx c = { .st = st, .p = p, .proc_pid = proc_pid };
        r = buf ? maps_parse(buf, len, on_maps_entry, &c) : 0;
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

int image_load_process(struct image_store *st, pid_t pid) {
        if (pid <= 0)
                return -EINVAL;
        struct process_image *p = process_get(st, pid, true);
        if (!p)
                return -ENOMEM;
        return process_load(st, p);
}

void image_forget_image(struct image_store *st, pid_t pid, uint32_t gen) {
        uint64_t idx, key = image_key(pid, gen);
        if (!u64map_get(&st->image_index, key, &idx))
                return;
        st->images.v[idx] = image_free(st->images.v[idx]);
        u64map_remove(&st->image_index, key);
        (void) vec_push(&st->free_images, (uint32_t) idx); /* on failure: the slot is not reused */
}

void image_forget_process(struct image_store *st, pid_t pid) {
        uint32_t gen = current_gen(st, pid);
        /* older images go first: each exec left one behind, at most gen */
        for (uint32_t g = 0; g <= gen; g++)
                image_forget_image(st, pid, g);
        u64map_remove(&st->current_gen, (uint64_t) pid);
}

int image_exec_process(struct image_store *st, pid_t pid, uint32_t gen) {
        if (pid <= 0)
                return -EINVAL;
        /* a stale image under this key (a reused pid) is not this one */
        image_forget_image(st, pid, gen);
        int r = u64map_put(&st->current_gen, (uint64_t) pid, gen);
        if (r < 0)
                return r;
        return image_get(st, pid, gen, true) ? 0 : -ENOMEM;
}

int image_fork_process(struct image_store *st, pid_t parent, pid_t child) {
        /* a new process: whatever is known under its pid is of an earlier
         * one that had the same pid */
        image_forget_process(st, child);
        int r = image_exec_process(st, child, 0);
        if (r < 0)
                return r;
        struct process_image *pp = process_get(st, parent, false);
        if (!pp || pp->maps.m.n == 0)
                return 0;
        struct process_image *c = process_get(st, child, true);
        if (!c)
                return -ENOMEM;
        /* the child starts with a copy of the parent's address space;
         * module ids and pooled paths are shared by the whole store */
        return mapping_list_add(&c->maps, pp->maps.m.v, pp->maps.m.n);
}

int image_add_mapping(struct image_store *st, pid_t pid, uint32_t gen,
                      const struct image_mapping_info *info) {
        static const char deleted_suffix[] = " (deleted)";
        struct mapping m = {
                .start = info->start,
                .end = info->start + info->len,
                .pgoff = info->pgoff,
                .dev = info->dev,
                .inode = info->inode,
        };
        int r;

        if (pid <= 0 || info->len == 0 || m.end < m.start)
                return -EINVAL;
        struct process_image *p = image_get(st, pid, gen, true);
        if (!p)
                return -ENOMEM;
        /* perf names anonymous memory "//anon" (and memfd code
         * "/memfd:NAME (deleted)"): JIT code, not files */
        bool anon = info->path && (strncmp(info->path, "//anon", 6) == 0 ||
                                   strncmp(info->path, "/memfd:", 7) == 0);
        if (info->path && info->path[0] && !anon) {
                size_t n = strlen(info->path), k = sizeof(deleted_suffix) - 1;
                m.deleted = n > k && strcmp(info->path + n - k, deleted_suffix) == 0;
                r = strpool_add_str(&st->paths, info->path, m.deleted ? n - k : n, &m.path);
                if (r < 0)
                        return r;
        }
        m.module = image_module_for_mapping(st, pid, &m);
        return mapping_list_add(&p->maps, &m, 1);
}

static bool is_anon(const struct mapping *m) {
        return !m->path || (m->path[0] != '/' && strcmp(m->path, "[vdso]") != 0) ||
               strncmp(m->path, "/memfd:", 7) == 0;
}

static const struct mapping *find_mapping(struct image_store *st, struct process_image *p, uint64_t addr) {
        const struct mapping *m;

        /* /proc shows the current image only: an older one is what events
         * and earlier reads made of it */
        bool current = p->gen == current_gen(st, p->pid);
        if (!p->loaded && current)
                (void) process_load(st, p);
        m = mapping_list_find(&p->maps, addr);
        if (m || p->gone || !current)
                return m;
        /* maybe dlopen()ed since: re-read, but not for every stray address */
        uint64_t now = now_ns();
        if (p->last_reload_ns && now - p->last_reload_ns < RELOAD_INTERVAL_NS)
                return NULL;
        p->last_reload_ns = now;
        log_debug("image: %#" PRIx64 " outside the maps of pid %d, re-reading them", addr, (int) p->pid);
        (void) process_load(st, p);
        return mapping_list_find(&p->maps, addr);
}

int image_resolve(struct image_store *st, pid_t pid, uint32_t gen, uint64_t addr,
                  struct image_addr *ret) {
        *ret = (struct image_addr) { .kind = IMAGE_ADDR_UNKNOWN, .addr = addr };
        if (pid <= 0)
                return 0;
        /* the image a sample of generation gen ran: that one if known, else
         * the newest (its exec event was lost, or the backend has no
         * generations) */
        struct process_image *p = image_get(st, pid, gen, false);
        if (!p)
                p = process_get(st, pid, true);
        if (!p)
                return -ENOMEM;
        const struct mapping *m = find_mapping(st, p, addr);
        if (!m)
                return 0;
        /* no file: JIT code (also in a memfd), or pseudo mappings such
         * as [stack] */
        if (is_anon(m)) {
                ret->kind = IMAGE_ADDR_ANON;
                if (!m->path) {
                        image_check_copies(st, p, &p->maps.m.v[m - p->maps.m.v]);
                        ret->copies = image_mapping_copies(st, m);
                        if (ret->copies)
                                ret->copy_off = (addr - m->start) % ret->copies->period;
                }
                return 0;
        }
        uint64_t offset = addr - m->start + m->pgoff, vaddr = offset;
        struct image_module *mod = image_module(st, m->module);
        if (mod && mod->elf)
                (void) elf_module_offset_to_vaddr(mod->elf, offset, &vaddr);
        *ret = (struct image_addr) {
                .kind = IMAGE_ADDR_MODULE,
                .module = mod ? mod->id : 0,
                .addr = vaddr,
                .path = m->path,
        };
        return 0;
}

int image_for_each_span(struct image_store *st, pid_t pid, uint32_t gen,
                        int (*fn)(void *userdata, const struct image_span *span), void *userdata) {
        struct process_image *p = image_get(st, pid, gen, false);
        if (!p)
                p = process_get(st, pid, false);
        if (!p)
                return -ESRCH;
        if (!p->loaded && p->gen == current_gen(st, p->pid))
                (void) process_load(st, p);
        for (size_t i = 0; i < p->maps.m.n; i++) {
                struct mapping *m = &p->maps.m.v[i];
                struct image_span span = { .start = m->start, .end = m->end };
                struct image_module *mod = m->module ? image_module(st, m->module) : NULL;
                bool anon = is_anon(m);
                uint64_t vaddr;
                int r;
                if (!anon && mod && mod->elf && elf_module_offset_to_vaddr(mod->elf, m->pgoff, &vaddr) == 0) {
                        span.module = mod->id;
                        span.bias = m->start - vaddr;
                }
                if (anon && !m->path)
                        image_check_copies(st, p, m);
                const struct image_copies *c = anon ? image_mapping_copies(st, m) : NULL;
                if (c) {
                        /* one span per period, each from offset 0 */
                        for (uint64_t a = m->start; a < m->end; a += c->period) {
                                span = (struct image_span) {
                                        .start = a, .end = MIN(a + c->period, m->end), .bias = a, .copies = c,
                                };
                                if ((r = fn(userdata, &span)))
                                        return r;
                        }
                        continue;
                }
                if ((r = fn(userdata, &span)))
                        return r;
        }
        return 0;
}

uint32_t image_current_gen(const struct image_store *st, pid_t pid) {
        return current_gen(st, pid);
}
