/* The module table: one module per distinct file (by build-id, else by
 * file identity), opened when a mapping of it becomes known and the
 * process is still alive, and released when nothing maps or pins it.
 * Symbol tables and DWARF are read later, by the stages that need them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "image/image-internal.h"
#include "image/elf-module.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/read-file.h"

#define OVERLAYFS_MAGIC 0x794c7630

struct image_module *image_module(const struct image_store *st, uint32_t id) {
        if (id == 0 || id > st->modules.n)
                return NULL;
        struct image_module *m = st->modules.v[id - 1];
        return m && m->live ? m : NULL;
}

uint32_t image_module_id(const struct image_module *m) {
        return m->id;
}

const char *image_module_path(const struct image_module *m) {
        return m->path;
}

pid_t image_module_pid(const struct image_module *m) {
        return m->pid;
}

struct elf_module *image_module_elf(const struct image_module *m) {
        return m->elf;
}

const uint8_t *image_module_build_id(const struct image_module *m, size_t *ret_len) {
        if (!m->elf) {
                *ret_len = 0;
                return NULL;
        }
        return elf_module_build_id(m->elf, ret_len);
}

void *image_module_data(const struct image_module *m, enum image_slot slot) {
        return m->data[slot];
}

void image_module_set_data(struct image_module *m, enum image_slot slot, void *data,
                           void (*free_fn)(void *data)) {
        if (m->data[slot] && m->data_free[slot] && m->data[slot] != data)
                m->data_free[slot](m->data[slot]);
        m->data[slot] = data;
        m->data_free[slot] = free_fn;
}

void image_module_pin(struct image_store *st, uint32_t id) {
        struct image_module *m = image_module(st, id);
        if (m)
                m->pins++;
}

void image_module_unpin(struct image_store *st, uint32_t id) {
        struct image_module *m = image_module(st, id);
        if (m && m->pins > 0)
                m->pins--;
}

size_t image_store_module_count(const struct image_store *st) {
        size_t n = 0;
        for (size_t i = 0; i < st->modules.n; i++)
                n += st->modules.v[i] && st->modules.v[i]->live;
        return n;
}

static void module_free(struct image_module *m) {
        for (int i = 0; i < _IMAGE_SLOT_MAX; i++)
                if (m->data[i] && m->data_free[i])
                        m->data_free[i](m->data[i]);
        elf_module_free(m->elf);
        free(m);
}

static void module_release(struct image_store *st, struct image_module *m) {
        uint64_t id;
        /* the indexes may point at another module with the same key */
        if (m->file_key && u64map_get(&st->by_file, m->file_key, &id) && id == m->id)
                u64map_remove(&st->by_file, m->file_key);
        if (m->build_id_key && u64map_get(&st->by_build_id, m->build_id_key, &id) && id == m->id)
                u64map_remove(&st->by_build_id, m->build_id_key);
        if (st->vdso_module == m->id) {
                st->vdso_module = 0;
                st->vdso_tried = false;
        }
        uint32_t slot = m->id;
        st->modules.v[slot - 1] = NULL;
        module_free(m);
        (void) vec_push(&st->free_ids, slot); /* on failure the slot is only not reused */
}

void image_modules_release(struct image_store *st) {
        for (size_t i = 0; i < st->modules.n; i++)
                if (st->modules.v[i])
                        module_free(st->modules.v[i]);
        vec_free(&st->modules);
        vec_free(&st->free_ids);
        u64map_release(&st->by_build_id);
        u64map_release(&st->by_file);
}

void image_for_each_module(struct image_store *st, void (*fn)(void *userdata, struct image_module *m),
                           void *userdata) {
        for (size_t i = 0; i < st->modules.n; i++)
                if (st->modules.v[i] && st->modules.v[i]->live)
                        fn(userdata, st->modules.v[i]);
}

size_t image_store_collect(struct image_store *st) {
        size_t released = 0;

        for (size_t i = 0; i < st->modules.n; i++)
                if (st->modules.v[i])
                        st->modules.v[i]->marked = false;
        for (size_t i = 0; i < st->images.n; i++) {
                struct process_image *p = st->images.v[i];
                if (!p)
                        continue;
                for (size_t j = 0; j < p->maps.m.n; j++) {
                        const struct mapping *mp = &p->maps.m.v[j];
                        struct image_module *m = image_module(st, mp->module);
                        if (m)
                                m->marked = true;
                        /* the module whose code fills anonymous memory */
                        if ((m = image_module(st, mp->copies_of)))
                                m->marked = true;
                }
        }
        for (size_t i = 0; i < st->modules.n; i++) {
                struct image_module *m = st->modules.v[i];
                if (m && !m->marked && m->pins == 0) {
                        module_release(st, m);
                        released++;
                }
        }
        return released;
}

static int module_add(struct image_store *st, struct image_module *m) {
        uint32_t id;

        if (st->free_ids.n) {
                id = st->free_ids.v[--st->free_ids.n];
        } else {
                if (st->modules.n >= UINT32_MAX - 1)
                        return -ENOMEM;
                int r = vec_push(&st->modules, NULL);
                if (r < 0)
                        return r;
                id = (uint32_t) st->modules.n;
        }
        m->id = id;
        m->live = true;
        st->modules.v[id - 1] = m;
        return 0;
}

static uint64_t file_key(const struct stat *st) {
        uint64_t k[4] = { st->st_dev, st->st_ino, (uint64_t) st->st_size,
                          (uint64_t) st->st_mtim.tv_sec * 1000000000ULL + (uint64_t) st->st_mtim.tv_nsec };
        return hash_bytes(k, sizeof(k), 11) | 1;
}

static bool module_is_file(const struct image_module *m, const struct stat *st) {
        return m->dev == st->st_dev && m->ino == st->st_ino && m->size == (uint64_t) st->st_size &&
               m->mtime_ns == (int64_t) st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* Whether fd is the file the mapping maps. Unknown identity (a perf
 * record without it) trusts the path. On overlayfs, /proc/PID/maps may
 * show the lower file's device while the path gives the overlay's, so
 * the inode alone decides there. */
static bool is_mapped_file(int fd, const struct mapping *m) {
        struct stat st;
        struct statfs sf;

        if (m->inode == 0)
                return true;
        if (fstat(fd, &st) < 0 || st.st_ino != m->inode)
                return false;
        if (st.st_dev == m->dev)
                return true;
        return fstatfs(fd, &sf) == 0 && (unsigned long) sf.f_type == OVERLAYFS_MAGIC;
}

/* map_files names exactly the mapped file, even deleted or in another
 * mount namespace, but needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE;
 * /proc/PID/root reaches a container's files, checked to be the mapped
 * one; the plain path is the last resort, checked the same way. */
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
                if (fd >= 0) {
                        if (is_mapped_file(fd, m))
                                return fd;
                        log_debug("image: '%s' of pid %d is not the mapped file (replaced?), skipping",
                                  m->path, (int) pid);
                        close(fd);
                        return -ESTALE;
                }
        }
        fd = open(m->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (!is_mapped_file(fd, m)) {
                close(fd);
                return -ESTALE;
        }
        return fd;
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

static uint32_t vdso_module(struct image_store *st) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        struct vdso_find f = { getauxval(AT_SYSINFO_EHDR), 0 };

        if (st->vdso_tried)
                return st->vdso_module;
        st->vdso_tried = true;
        /* The target's vDSO is the image the same kernel gave us: read ours
         * (its size from our own maps, so we never read past it). */
        if (f.base == 0 || read_full_file("/proc/self/maps", &buf, &len) < 0)
                return 0;
        maps_parse(buf, len, find_vdso, &f);
        if (f.len == 0)
                return 0;
        struct image_module *m = calloc(1, sizeof(*m));
        if (!m)
                return 0;
        if (elf_module_from_memory((const void *) (uintptr_t) f.base, f.len, &m->elf) < 0 ||
            strpool_add_str(&st->paths, "[vdso]", 6, &m->path) < 0 || module_add(st, m) < 0) {
                module_free(m);
                return 0;
        }
        st->vdso_module = m->id;
        return m->id;
}

uint32_t image_module_for_mapping(struct image_store *st, pid_t pid, const struct mapping *m) {
        _cleanup_close_ int fd = -1;
        struct stat sb;
        uint64_t key, id;
        int r;

        if (!m->path)
                return 0;
        if (strcmp(m->path, "[vdso]") == 0)
                return vdso_module(st);
        if (m->path[0] != '/')
                return 0; /* [vsyscall], [anon:...], ... */
        fd = open_mapped_file(pid, m);
        if (fd < 0 || fstat(fd, &sb) < 0) {
                log_debug("image: cannot open '%s' of pid %d, skipping", m->path, (int) pid);
                return 0;
        }
        key = file_key(&sb);
        struct image_module *known;
        if (u64map_get(&st->by_file, key, &id) && (known = image_module(st, (uint32_t) id)) &&
            module_is_file(known, &sb))
                return known->id;

        struct image_module *mod = calloc(1, sizeof(*mod));
        if (!mod)
                return 0;
        r = elf_module_open_fd(fd, &mod->elf);
        if (r == -ENOMEM) {
                free(mod);
                return 0;
        }
        if (r < 0)
                log_debug_errno(r, "image: '%s' is not a readable ELF file", m->path);

        size_t bid_len = 0;
        const uint8_t *bid = mod->elf ? elf_module_build_id(mod->elf, &bid_len) : NULL;
        uint64_t bkey = bid ? hash_bytes(bid, bid_len, 13) | 1 : 0;
        if (bid && u64map_get(&st->by_build_id, bkey, &id) && (known = image_module(st, (uint32_t) id))) {
                size_t other_len;
                const uint8_t *other = image_module_build_id(known, &other_len);
                if (other_len == bid_len && memcmp(other, bid, bid_len) == 0) {
                        /* the same build in another file: read once (the
                         * file index keeps the first file only: another
                         * entry could not be removed with the module) */
                        module_free(mod);
                        return known->id;
                }
        }

        mod->pid = pid;
        mod->dev = sb.st_dev;
        mod->ino = sb.st_ino;
        mod->size = (uint64_t) sb.st_size;
        mod->mtime_ns = (int64_t) sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
        mod->path = m->path; /* pooled by the caller */
        if (module_add(st, mod) < 0) {
                module_free(mod);
                return 0;
        }
        /* a failed index insert only costs a second read later */
        if (!u64map_get(&st->by_file, key, &id) && u64map_put(&st->by_file, key, mod->id) >= 0)
                mod->file_key = key;
        if (bid && !u64map_get(&st->by_build_id, bkey, &id) && u64map_put(&st->by_build_id, bkey, mod->id) >= 0)
                mod->build_id_key = bkey;
        return mod->id;
}
