#include "symbolize/kallsyms.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/parse.h"
#include "util/read-file.h"
#include "util/strpool.h"
#include "util/vec.h"

struct ksym {
        uint64_t addr;
        uint32_t name;   /* offset in text */
        uint32_t module; /* id in modules, 0 ("") for the kernel itself */
        uint32_t seq;    /* input order, to keep sorting deterministic */
        uint8_t rank;    /* 2 x (0 global T, 1 weak W/w, 2 local t), +1 for a 32-bit alias;
                          * RANK_BOUNDARY for a module's data */
};

/* A module's data symbols name nothing, but mark where its code is not:
 * since 6.4 a module's text, data and rodata are separate allocations, so
 * another module's code can sit right below them. Ranked last, so code
 * at the same address wins. */
#define RANK_BOUNDARY UINT8_MAX

/* Symbol names are appended to one buffer as they come, not interned:
 * the kernel's 120,000-odd names are nearly all distinct, and hashing
 * each one took a third of the parse. Module names repeat on every line
 * of their module and are pooled. */
struct kallsyms {
        VEC(struct ksym) syms; /* boundaries included */
        VEC(char) text;        /* NUL-terminated symbol names */
        struct strpool modules; /* "[module]" names, each once */
        uint32_t last_module;   /* the previous line's, to skip its lookup */
        size_t last_module_len;
        size_t n_boundaries;
        bool has_addresses;
};

static bool is_space(char c) {
        return c == ' ' || c == '\t';
}

/* Returns 1 for a kept line, 0 for a skipped one, -ENOMEM. */
static int parse_line(struct kallsyms *k, const char *s, const char *end) {
        uint64_t addr = 0;
        int digits = 0;

        for (; s < end && !is_space(*s); s++) {
                int d = hex_digit(*s);
                if (d < 0)
                        return 0;
                if (++digits > 16)
                        return 0;
                addr = addr << 4 | (unsigned) d;
        }
        if (digits == 0 || end - s < 4 || s[0] != ' ' || !is_space(s[2]))
                return 0;
        char type = s[1];
        uint8_t rank;
        switch (type) {
        case 'T':
                rank = 0;
                break;
        case 'W':
        case 'w':
                rank = 1;
                break;
        case 't':
                rank = 2;
                break;
        case 'd':
        case 'D':
        case 'b':
        case 'B':
        case 'r':
        case 'R':
                rank = RANK_BOUNDARY; /* kept only for a module */
                break;
        default:
                return 0; /* absolute, ... */
        }
        s += 3;
        const char *name = s;
        while (s < end && !is_space(*s))
                s++;
        size_t name_len = (size_t) (s - name);
        if (name_len == 0 || memchr(name, '\0', name_len))
                return 0;
        while (s < end && is_space(*s))
                s++;
        const char *mod = s;
        while (s < end && !is_space(*s))
                s++;
        size_t mod_len = (size_t) (s - mod);
        if (mod_len > 0 && (mod_len < 3 || mod[0] != '[' || mod[mod_len - 1] != ']' ||
                            memchr(mod, '\0', mod_len)))
                return 0;

        /* x86-64 kernels alias each syscall entry for 32-bit callers at the
         * same address, listed first; a 64-bit profile wants the 64-bit
         * name (as perf shows it) */
        if (rank == RANK_BOUNDARY && mod_len == 0)
                return 0; /* the kernel's data sits apart from its text */
        if (rank != RANK_BOUNDARY) {
                rank *= 2;
                if (name_len > 7 && memcmp(name, "__ia32_", 7) == 0)
                        rank++;
        }

        struct ksym sym = { .addr = addr, .rank = rank };
        int r = 0;
        if (rank != RANK_BOUNDARY) {
                if (k->text.n + name_len + 1 > UINT32_MAX)
                        return -E2BIG;
                sym.name = (uint32_t) k->text.n;
                r = vec_reserve(&k->text, k->text.n + name_len + 1);
                if (r < 0)
                        return r;
                memcpy(k->text.v + k->text.n, name, name_len);
                k->text.v[k->text.n + name_len] = '\0';
                k->text.n += name_len + 1;
        }
        if (mod_len > 0) {
                if (k->last_module && k->last_module_len == mod_len &&
                    memcmp(strpool_get(&k->modules, k->last_module), mod, mod_len) == 0)
                        sym.module = k->last_module;
                else {
                        r = strpool_add(&k->modules, mod, mod_len, &sym.module);
                        if (r < 0)
                                return r;
                        k->last_module = sym.module;
                        k->last_module_len = mod_len;
                }
        }
        sym.seq = (uint32_t) MIN(k->syms.n, (size_t) UINT32_MAX);
        r = vec_push(&k->syms, sym);
        if (r < 0)
                return r;
        if (addr != 0)
                k->has_addresses = true;
        return 1;
}

static int ksym_cmp(const void *a, const void *b) {
        const struct ksym *x = a, *y = b;
        if (x->addr != y->addr)
                return x->addr < y->addr ? -1 : 1;
        if (x->rank != y->rank)
                return x->rank < y->rank ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int kallsyms_start(struct kallsyms **ret) {
        struct kallsyms *k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        int r = strpool_init(&k->modules); /* id 0 is "", the kernel's module */
        if (r < 0) {
                free(k);
                return r;
        }
        *ret = k;
        return 0;
}

static bool sorted(const struct kallsyms *k) {
        for (size_t i = 1; i < k->syms.n; i++)
                if (ksym_cmp(&k->syms.v[i - 1], &k->syms.v[i]) > 0)
                        return false;
        return true;
}

/* Sorted by address (the kernel lists its own symbols in that order,
 * modules after them in their own), then one symbol per address: the
 * global one, else the first listed. */
static void kallsyms_finish(struct kallsyms *k) {
        if (!sorted(k))
                qsort(k->syms.v, k->syms.n, sizeof(*k->syms.v), ksym_cmp);
        size_t n = 0;
        for (size_t i = 0; i < k->syms.n; i++)
                if (n == 0 || k->syms.v[i].addr != k->syms.v[n - 1].addr) {
                        k->syms.v[n++] = k->syms.v[i];
                        k->n_boundaries += k->syms.v[i].rank == RANK_BOUNDARY;
                }
        k->syms.n = n;
}

int kallsyms_parse(const char *buf, size_t len, struct kallsyms **ret) {
        const char *p = buf, *end = buf + len;
        struct kallsyms *k;
        int r = kallsyms_start(&k);

        if (r < 0)
                return r;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *eol = nl ? nl : end;
                r = parse_line(k, p, eol);
                if (r < 0) {
                        kallsyms_free(k);
                        return r;
                }
                p = nl ? nl + 1 : end;
        }
        kallsyms_finish(k);
        *ret = k;
        return 0;
}

/* Read as a stream: /proc/kallsyms is 5 MB of text that the kernel
 * formats as it is read, and nothing of a line is needed after it. */
int kallsyms_load(const char *path, struct kallsyms **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct line_reader lr;
        struct kallsyms *k;
        const char *line;
        size_t len;
        int r;

        if (fd < 0)
                return -errno;
        r = kallsyms_start(&k);
        if (r < 0)
                return r;
        line_reader_init(&lr, fd, 4096);
        while ((r = line_reader_next(&lr, &line, &len)) != 0) {
                if (r == -E2BIG)
                        continue; /* not a symbol line */
                if (r > 0)
                        r = parse_line(k, line, line + len);
                if (r < 0)
                        break;
        }
        line_reader_release(&lr);
        if (r < 0) {
                kallsyms_free(k);
                return r;
        }
        kallsyms_finish(k);
        *ret = k;
        return 0;
}

struct kallsyms *kallsyms_free(struct kallsyms *k) {
        if (!k)
                return NULL;
        vec_free(&k->syms);
        vec_free(&k->text);
        strpool_release(&k->modules);
        free(k);
        return NULL;
}

size_t kallsyms_count(const struct kallsyms *k) {
        return k->syms.n - k->n_boundaries;
}

bool kallsyms_has_addresses(const struct kallsyms *k) {
        return k->has_addresses;
}

int kallsyms_lookup(const struct kallsyms *k, uint64_t addr, const char **ret_name,
                    const char **ret_module, uint64_t *ret_start) {
        const struct ksym *s = k->syms.v;
        size_t lo = 0, hi = k->syms.n;

        if (!k->has_addresses)
                return -ENOENT;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s[mid].addr <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == 0)
                return -ENOENT;
        const struct ksym *c = &s[lo - 1];
        if (c->rank == RANK_BOUNDARY)
                return -ENOENT;
        uint64_t extent = KALLSYMS_MAX_EXTENT;
        if (lo < k->syms.n) {
                uint64_t gap = s[lo].addr - c->addr;
                /* a module's data is not in the allocation of its text */
                bool same = s[lo].module == c->module && s[lo].rank != RANK_BOUNDARY;
                extent = same ? gap : MIN(gap, extent);
        }
        if (addr - c->addr >= extent)
                return -ENOENT;
        if (ret_name)
                *ret_name = k->text.v + c->name;
        if (ret_module)
                *ret_module = c->module ? strpool_get(&k->modules, c->module) : NULL;
        if (ret_start)
                *ret_start = c->addr;
        return 0;
}
