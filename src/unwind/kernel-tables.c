/* The in-kernel unwinder's tables: each module's CFI table converted to
 * the BPF program's rows (bpf/profile.h) and loaded once into the row
 * array, and per process image its executable mappings with where their
 * module's rows are. A module whose rows do not fit (the array is full,
 * or its code lies above 4 GiB) is marked not loaded: its samples come as
 * stack copies and are unwound in userspace, so nothing is lost. */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cprof/image.h"
#include "cprof/unwind.h"
#include "kernel-tables.h"
#include "profile.h"
#include "unwind-internal.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/vec.h"

_Static_assert(UNWIND_CFA_NONE == CFI_CFA_NONE && UNWIND_CFA_RSP == CFI_CFA_RSP &&
               UNWIND_CFA_RBP == CFI_CFA_RBP && UNWIND_CFA_DEREF_RSP == CFI_CFA_DEREF_RSP &&
               UNWIND_CFA_PLT == CFI_CFA_PLT, "CFA rules");
_Static_assert(UNWIND_REG_UNDEFINED == CFI_REG_UNDEFINED && UNWIND_REG_SAME == CFI_REG_SAME &&
               UNWIND_REG_AT_CFA == CFI_REG_AT_CFA && UNWIND_REG_AT_RSP == CFI_REG_AT_RSP, "register rules");
_Static_assert(UNWIND_END_COMPLETE_ == UNWIND_END_COMPLETE && UNWIND_END_NO_CFI_ == UNWIND_END_NO_CFI &&
               UNWIND_END_UNSUPPORTED_ == UNWIND_END_UNSUPPORTED &&
               UNWIND_END_NOT_COPIED_ == UNWIND_END_NOT_COPIED && UNWIND_END_DEPTH_ == UNWIND_END_DEPTH &&
               UNWIND_END_BAD_FRAME_ == UNWIND_END_BAD_FRAME, "end reasons");
_Static_assert(UNWIND_ROW_SIGNAL == CFI_ROW_SIGNAL, "signal flag");

struct loaded {
        pid_t pid;
        uint32_t gen;
};

struct range {
        uint32_t first, n;
};

struct kernel_tables {
        struct unwinder *u;
        struct image_store *img;
        struct sampler_unwind_maps maps;
        uint32_t rows_used;            /* rows below this were handed out once */
        VEC(struct range) free_rows;   /* of those, given back: sorted, merged */
        uint64_t rows_free;
        VEC(struct loaded) loaded; /* process images with an entry */
        struct unwind_proc *proc;  /* 8 KiB: one entry being built */
        struct kernel_tables_stats stats;
};

int kernel_tables_new(struct unwinder *u, struct image_store *img, const struct sampler_unwind_maps *maps,
                      struct kernel_tables **ret) {
        struct kernel_tables *kt = calloc(1, sizeof(*kt));

        if (!kt || !(kt->proc = malloc(sizeof(*kt->proc)))) {
                free(kt);
                return -ENOMEM;
        }
        kt->u = u;
        kt->img = img;
        kt->maps = *maps;
        *ret = kt;
        return 0;
}

struct kernel_tables *kernel_tables_free(struct kernel_tables *kt) {
        if (!kt)
                return NULL;
        vec_free(&kt->loaded);
        vec_free(&kt->free_rows);
        free(kt->proc);
        free(kt);
        return NULL;
}

void kernel_tables_get_stats(const struct kernel_tables *kt, struct kernel_tables_stats *ret) {
        *ret = kt->stats;
        ret->rows = kt->rows_used - kt->rows_free;
        /* the row array is allocated whole; process entries as written */
        ret->bytes = (uint64_t) kt->maps.rows_max * sizeof(struct unwind_row) +
                     (uint64_t) kt->loaded.n * sizeof(struct unwind_proc);
}

static struct unwind_row kernel_row(const struct cfi_row *r) {
        return (struct unwind_row) {
                .pc = (uint32_t) r->start,
                .cfa_off = r->cfa_off,
                .ra_off = r->ra_off,
                .rbp_off = r->rbp_off,
                .cfa = r->cfa,
                .ra = r->ra,
                .rbp = r->rbp,
                .flags = (uint8_t) ((r->flags & CFI_ROW_SIGNAL) | (r->plt_threshold & 15) << 4),
        };
}

#define LOAD_BATCH 4096

static void range_remove(struct kernel_tables *kt, size_t i) {
        memmove(kt->free_rows.v + i, kt->free_rows.v + i + 1, (kt->free_rows.n - i - 1) * sizeof(struct range));
        kt->free_rows.n--;
}

static int range_insert(struct kernel_tables *kt, size_t i, struct range r) {
        int k = vec_reserve(&kt->free_rows, kt->free_rows.n + 1);
        if (k < 0)
                return k;
        memmove(kt->free_rows.v + i + 1, kt->free_rows.v + i, (kt->free_rows.n - i) * sizeof(struct range));
        kt->free_rows.v[i] = r;
        kt->free_rows.n++;
        return 0;
}

/* n rows of the array: a range given back that is large enough (first
 * fit), else the untouched end. False when neither has room. */
static bool alloc_rows(struct kernel_tables *kt, uint32_t n, uint32_t *ret_first) {
        for (size_t i = 0; i < kt->free_rows.n; i++) {
                struct range *r = &kt->free_rows.v[i];
                if (r->n < n)
                        continue;
                *ret_first = r->first;
                r->first += n;
                r->n -= n;
                kt->rows_free -= n;
                if (r->n == 0)
                        range_remove(kt, i);
                return true;
        }
        if (n > kt->maps.rows_max - kt->rows_used)
                return false;
        *ret_first = kt->rows_used;
        kt->rows_used += n;
        return true;
}

void kernel_tables_release_rows(struct kernel_tables *kt, uint32_t first, uint32_t n) {
        size_t i = 0;

        if (n == 0)
                return;
        while (i < kt->free_rows.n && kt->free_rows.v[i].first < first)
                i++;
        if (range_insert(kt, i, (struct range) { first, n }) < 0)
                return; /* no memory: those rows stay unused */
        kt->rows_free += n;
        /* merge with the neighbours */
        if (i + 1 < kt->free_rows.n && first + n == kt->free_rows.v[i + 1].first) {
                kt->free_rows.v[i].n += kt->free_rows.v[i + 1].n;
                range_remove(kt, i + 1);
        }
        if (i > 0 && kt->free_rows.v[i - 1].first + kt->free_rows.v[i - 1].n == first) {
                kt->free_rows.v[i - 1].n += kt->free_rows.v[i].n;
                range_remove(kt, i);
        }
}

/* Writes n rows at first: through the mapping of the row array, else by
 * batch updates. -errno. */
static int write_rows(struct kernel_tables *kt, const struct cfi_row *rows, size_t n, uint32_t first) {
        if (kt->maps.rows_mem) {
                /* the program reads them only once a process entry points
                 * at them, and that entry comes by a later system call */
                struct unwind_row *mem = kt->maps.rows_mem;
                for (size_t i = 0; i < n; i++)
                        mem[first + i] = kernel_row(&rows[i]);
                return 0;
        }
        uint32_t keys[LOAD_BATCH];
        struct unwind_row vals[LOAD_BATCH];
        for (size_t done = 0; done < n;) {
                uint32_t count = (uint32_t) MIN((size_t) LOAD_BATCH, n - done);
                for (uint32_t i = 0; i < count; i++) {
                        keys[i] = first + (uint32_t) (done + i);
                        vals[i] = kernel_row(&rows[done + i]);
                }
                if (bpf_map_update_batch(kt->maps.rows_fd, keys, vals, &count, NULL) < 0)
                        return -errno;
                done += count;
        }
        return 0;
}

/* Loads a module's rows once; false when they cannot be. */
static bool load_module(struct kernel_tables *kt, struct module_unwind *mu) {
        const struct cfi_row *rows;
        size_t n = cfi_table_rows(mu->table, &rows);

        if (mu->kernel_loaded || mu->kernel_failed)
                return mu->kernel_loaded;
        mu->kernel_failed = true;
        if (n == 0) {
                mu->kernel_loaded = true; /* no CFI: nothing to load */
                mu->kernel_failed = false;
                return true;
        }
        uint32_t first;
        if (rows[n - 1].start > UINT32_MAX || n > UINT32_MAX || !alloc_rows(kt, (uint32_t) n, &first)) {
                kt->stats.modules_not_loaded++;
                return false;
        }
        int r = write_rows(kt, rows, n, first);
        if (r < 0) {
                log_debug_errno(r, "unwind: cannot load rows into the kernel: %s", strerror(-r));
                kernel_tables_release_rows(kt, first, (uint32_t) n);
                kt->stats.modules_not_loaded++;
                return false;
        }
        mu->kernel_first = first;
        mu->kernel_n = (uint32_t) n;
        mu->kt = kt;
        mu->kernel_loaded = true;
        mu->kernel_failed = false;
        kt->stats.modules++;
        return true;
}

static int add_span(void *userdata, const struct image_span *span) {
        struct kernel_tables *kt = userdata;
        struct unwind_proc *p = kt->proc;

        if (p->n >= UNWIND_MAX_SPANS)
                return 1; /* addresses past the last span come as copies */
        struct unwind_span *s = &p->spans[p->n++];
        *s = (struct unwind_span) { .start = span->start, .end = span->end, .bias = span->bias };
        if (!span->module && !span->copies)
                return 0; /* JIT code: no CFI */
        /* copies of a function (CPython's trampolines): the rows of one
         * period of them, addressed from the span's start */
        struct module_unwind *mu = span->copies ? unwinder_copies(kt->u, span->copies)
                                                : unwinder_module(kt->u, span->module);
        if (!mu)
                return 0; /* no readable file: as userspace does, no CFI */
        if (!load_module(kt, mu)) {
                s->rows_first = UNWIND_NOT_LOADED;
                return 0;
        }
        s->rows_first = mu->kernel_first;
        s->rows_n = mu->kernel_n;
        return 0;
}

int kernel_tables_sync(struct kernel_tables *kt, pid_t pid, uint32_t gen) {
        struct unwind_proc_key key = { (uint32_t) pid, gen };
        bool known = false;

        kt->proc->n = 0;
        kt->proc->pad = 0;
        int r = image_for_each_span(kt->img, pid, gen, add_span, kt);
        if (r < 0)
                return r;
        for (size_t i = 0; i < kt->loaded.n && !known; i++)
                known = kt->loaded.v[i].pid == pid && kt->loaded.v[i].gen == gen;
        if (!known && kt->loaded.n >= kt->maps.procs_max)
                return -ENOSPC;
        /* only the spans in use: the rest of the value is never read */
        size_t len = offsetof(struct unwind_proc, spans) + kt->proc->n * sizeof(struct unwind_span);
        memset((char *) kt->proc + len, 0, sizeof(*kt->proc) - len);
        if (bpf_map_update_elem(kt->maps.procs_fd, &key, kt->proc, BPF_ANY) < 0)
                return -errno;
        kt->stats.syncs++;
        if (!known)
                return vec_push(&kt->loaded, ((struct loaded) { pid, gen }));
        return 0;
}

void kernel_tables_forget(struct kernel_tables *kt, pid_t pid, uint32_t gen) {
        for (size_t i = 0; i < kt->loaded.n;) {
                struct loaded *l = &kt->loaded.v[i];
                if (l->pid != pid || (gen != KERNEL_TABLES_ALL && l->gen != gen)) {
                        i++;
                        continue;
                }
                struct unwind_proc_key key = { (uint32_t) l->pid, l->gen };
                (void) bpf_map_delete_elem(kt->maps.procs_fd, &key);
                *l = kt->loaded.v[--kt->loaded.n];
        }
}
