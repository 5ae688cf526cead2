#include "symbolize/dwarf-lines.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/vec.h"

#define NODE_NONE UINT32_MAX
/* DIE nesting the walk follows; deeper trees (only seen in broken input)
 * lose their innermost levels. */
#define WALK_DEPTH_MAX 128
/* Range list entries read per DIE; a corrupt list could be endless. */
#define RANGES_MAX 65536
/* abstract_origin / specification links followed for a name. */
#define ORIGIN_MAX 8

/* A subprogram or inlined subroutine with code. Nodes are stored in DIE
 * pre-order, so a parent always has a smaller index than its children
 * and a parent walk cannot loop. */
struct dw_node {
        void *die;         /* Dwarf_Die.addr, to find the name (see node_name) */
        const char *name;  /* valid once `named` */
        uint32_t parent;   /* NODE_NONE for a subprogram */
        uint32_t call_file;
        uint32_t call_line;
        bool named;
};

/* Disjoint pieces of the address space, sorted: piece i runs from at[i]
 * to at[i + 1] and belongs to what[i] (NODE_NONE: nothing). Two arrays,
 * not one of structs, so 12 bytes a piece and the search touches only
 * addresses. */
struct pieces {
        uint64_t *at;
        uint32_t *what;
        size_t n;
};

/* A CU's line table, compact: row i holds from at[i] to at[i + 1], with
 * what[i] = file index << 32 | line, or ROW_NONE after an end of
 * sequence. Rows that repeat the one before (a new column, is_stmt, view)
 * are dropped: the answer is the same. */
struct rows {
        uint64_t *at;
        uint64_t *what;
        size_t n;
};
#define ROW_NONE UINT64_MAX

struct dw_cu {
        Dwarf_Die die;
        bool indexed;
        uint32_t used_tick; /* the caller's tick of its last lookup */
        struct rows rows;
        struct dw_node *nodes;
        size_t n_nodes;
        struct pieces pieces;
        Dwarf_Files *files; /* file names, read on first use */
        size_t n_files;
        bool files_read;
        bool numbered_from_one; /* DWARF < 5: file 0 means none */
        /* a relative name joined to DW_AT_comp_dir, by file index, made
         * on first use (NULL: not yet, or the name needs no joining) */
        char **joined;
        bool *joined_done;
};

struct dwarf_lines {
        Dwarf *dwarf;
        bool cus_read;
        struct dw_cu *cus;
        size_t n_cus;
        struct pieces cu_pieces; /* what[] is an index into cus */
        uint32_t tick;           /* advanced by dwarf_lines_tick */
        size_t cus_indexed;
        /* names by the offset of the DIE an abstract_origin or
         * specification points to (see die_name) */
        struct u64map origin_names;
        /* C++ and Rust functions known only by a plain DW_AT_name, with
         * the scopes around them (see qualified_name): DIE offset ->
         * malloc'd "ns::Class::name", and the CUs walked for them */
        struct u64map qualified;
        struct u64map qualified_cus;
        VEC(char *) qualified_names;
};

/* A range before flattening. */
struct range {
        uint64_t lo, hi;
        uint32_t what;
        uint32_t depth;
};

static bool has_debug_info(Elf *elf) {
        size_t shstrndx;
        Elf_Scn *scn = NULL;

        if (elf_getshdrstrndx(elf, &shstrndx) < 0)
                return false;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                const char *name;
                if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS || sh.sh_size == 0)
                        continue;
                name = elf_strptr(elf, shstrndx, sh.sh_name);
                if (name && (strcmp(name, ".debug_info") == 0 || strcmp(name, ".zdebug_info") == 0))
                        return true;
        }
        return false;
}

int dwarf_lines_open(Elf *elf, struct dwarf_lines **ret) {
        struct dwarf_lines *d;

        if (!elf || elf_kind(elf) != ELF_K_ELF || !has_debug_info(elf))
                return -ENODATA;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->dwarf = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
        if (!d->dwarf) {
                log_debug("dwarf: cannot read: %s", dwarf_errmsg(-1));
                free(d);
                return -ENODATA;
        }
        *ret = d;
        return 0;
}

static void pieces_free(struct pieces *p) {
        free(p->at);
        free(p->what);
        *p = (struct pieces) {};
}

struct dwarf_lines *dwarf_lines_free(struct dwarf_lines *d) {
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->n_cus; i++) {
                struct dw_cu *cu = &d->cus[i];
                free(cu->nodes);
                pieces_free(&cu->pieces);
                free(cu->rows.at);
                free(cu->rows.what);
                if (cu->joined)
                        for (size_t k = 0; k < cu->n_files; k++)
                                free(cu->joined[k]);
                free(cu->joined);
                free(cu->joined_done);
        }
        free(d->cus);
        pieces_free(&d->cu_pieces);
        u64map_release(&d->origin_names);
        u64map_release(&d->qualified);
        u64map_release(&d->qualified_cus);
        for (size_t i = 0; i < d->qualified_names.n; i++)
                free(d->qualified_names.v[i]);
        vec_free(&d->qualified_names);
        if (d->dwarf)
                dwarf_end(d->dwarf);
        free(d);
        return NULL;
}

/* Flattening nested ranges into pieces. */

static int range_cmp(const void *a, const void *b) {
        const struct range *x = a, *y = b;

        if (x->lo != y->lo)
                return x->lo < y->lo ? -1 : 1;
        /* an outer range before the ranges it holds */
        if (x->depth != y->depth)
                return x->depth < y->depth ? -1 : 1;
        if (x->hi != y->hi)
                return x->hi > y->hi ? -1 : 1;
        return x->what < y->what ? -1 : x->what > y->what;
}

/* A boundary at `at` from which `what` holds. Boundaries come in
 * increasing order; a later one at the same address replaces the
 * earlier (a range ending where the next begins). */
static void pieces_put(struct pieces *p, uint64_t at, uint32_t what) {
        if (p->n > 0 && p->at[p->n - 1] == at) {
                p->what[p->n - 1] = what;
                /* the replacement may now repeat the piece before it */
                if (p->n > 1 && p->what[p->n - 2] == what)
                        p->n--;
                return;
        }
        if (p->n > 0 && p->what[p->n - 1] == what)
                return;
        p->at[p->n] = at;
        p->what[p->n] = what;
        p->n++;
}

/* Gives back what an array allocated for the worst case did not use. */
static void *shrink(void *p, size_t n, size_t size) {
        void *q = n ? realloc(p, n * size) : NULL;
        if (!n) {
                free(p);
                return NULL;
        }
        return q ? q : p;
}

/* Sorts r[] and turns it into pieces where each address belongs to the
 * innermost (last opened) range holding it. Ranges are expected to nest;
 * one that sticks out of the range it starts in is cut at that range's
 * end, so broken input gives odd names, never overlapping pieces. */
static int pieces_build(struct pieces *p, struct range *r, size_t n) {
        _cleanup_free_ struct range *stack = NULL;
        size_t depth = 0;

        *p = (struct pieces) {};
        if (n == 0)
                return 0;
        qsort(r, n, sizeof(*r), range_cmp);
        /* each range opens one boundary and closes at most one */
        p->at = malloc(2 * n * sizeof(*p->at));
        p->what = malloc(2 * n * sizeof(*p->what));
        stack = malloc(n * sizeof(*stack));
        if (!p->at || !p->what || !stack) {
                pieces_free(p);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                struct range cur = r[i];
                while (depth > 0 && stack[depth - 1].hi <= cur.lo) {
                        depth--;
                        pieces_put(p, stack[depth].hi, depth > 0 ? stack[depth - 1].what : NODE_NONE);
                }
                if (depth > 0 && cur.hi > stack[depth - 1].hi)
                        cur.hi = stack[depth - 1].hi;
                if (cur.lo >= cur.hi)
                        continue;
                pieces_put(p, cur.lo, cur.what);
                stack[depth++] = cur;
        }
        while (depth > 0) {
                depth--;
                pieces_put(p, stack[depth].hi, depth > 0 ? stack[depth - 1].what : NODE_NONE);
        }
        p->at = shrink(p->at, p->n, sizeof(*p->at));
        p->what = shrink(p->what, p->n, sizeof(*p->what));
        return 0;
}

static uint32_t pieces_find(const struct pieces *p, uint64_t addr) {
        size_t lo = 0, hi = p->n;

        /* the first boundary above addr */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (p->at[mid] <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo == 0 ? NODE_NONE : p->what[lo - 1];
}

/* Code the linker threw away keeps its DWARF with address 0 or a
 * tombstone; it would shadow real code at low addresses. */
static bool range_is_real(uint64_t lo, uint64_t hi) {
        return lo != 0 && lo < hi && lo < UINT64_MAX - 1;
}

/* Appends die's address ranges to r. */
static int collect_ranges(Dwarf_Die *die, uint32_t what, uint32_t depth, void *rvec) {
        VEC(struct range) *r = rvec;
        Dwarf_Addr base, lo, hi;
        ptrdiff_t off = 0;
        int n = 0;

        for (int i = 0; i < RANGES_MAX; i++) {
                off = dwarf_ranges(die, off, &base, &lo, &hi);
                if (off <= 0)
                        break;
                if (!range_is_real(lo, hi))
                        continue;
                struct range x = { lo, hi, what, depth };
                if (vec_push(r, x) < 0)
                        return -ENOMEM;
                n++;
        }
        return n;
}

/* The CU list. */

static int read_cus(struct dwarf_lines *d) {
        VEC(struct dw_cu) cus = {};
        VEC(struct range) ranges = {};
        Dwarf_CU *cu = NULL, *next;
        Dwarf_Half version;
        uint8_t unit_type;
        Dwarf_Die cudie, subdie;
        int r = 0;

        d->cus_read = true;
        while (dwarf_get_units(d->dwarf, cu, &next, &version, &unit_type, &cudie, &subdie) == 0) {
                cu = next;
                /* partial units hold what compile units import (types,
                 * abstract instances); type and split units no code */
                if (unit_type != DW_UT_compile || dwarf_tag(&cudie) != DW_TAG_compile_unit)
                        continue;
                if (cus.n >= UINT32_MAX - 1)
                        break;
                struct dw_cu c = { .die = cudie, .numbered_from_one = version < 5 };
                int k = collect_ranges(&cudie, (uint32_t) cus.n, 0, &ranges);
                if (k < 0) {
                        r = k;
                        goto out;
                }
                if (k == 0)
                        continue;
                if (vec_push(&cus, c) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        r = pieces_build(&d->cu_pieces, ranges.v, ranges.n);
        if (r < 0)
                goto out;
        d->n_cus = cus.n;
        d->cus = shrink(TAKE_PTR(cus.v), d->n_cus, sizeof(*d->cus));
out:
        vec_free(&cus);
        vec_free(&ranges);
        return r;
}

/* One CU's index. */

static bool tag_holds_code(int tag) {
        switch (tag) {
        case DW_TAG_lexical_block:
        case DW_TAG_try_block:
        case DW_TAG_catch_block:
        case DW_TAG_namespace:
        case DW_TAG_module:
        case DW_TAG_with_stmt:
        case DW_TAG_common_block:
                return true;
        default:
                return false;
        }
}

static uint32_t attr_udata(Dwarf_Die *die, unsigned name) {
        Dwarf_Attribute a;
        Dwarf_Word w;

        if (!dwarf_attr(die, name, &a) || dwarf_formudata(&a, &w) != 0 || w > UINT32_MAX)
                return 0;
        return (uint32_t) w;
}

/* Copies libdw's line table (sorted by address) into cu->rows. Among
 * rows at one address the last wins, and an end of sequence ends the
 * row before it: what dwarf_getsrc_die() answers, in a third of the
 * memory and without its 40-odd-byte records to search through. */
static int index_lines(struct dw_cu *cu) {
        Dwarf_Lines *lines;
        size_t n;
        struct rows *r = &cu->rows;

        if (dwarf_getsrclines(&cu->die, &lines, &n) != 0 || n == 0)
                return 0;
        r->at = malloc(n * sizeof(*r->at));
        r->what = malloc(n * sizeof(*r->what));
        if (!r->at || !r->what) {
                free(r->at);
                free(r->what);
                *r = (struct rows) {};
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                Dwarf_Line *l = dwarf_onesrcline(lines, i);
                Dwarf_Addr addr;
                Dwarf_Files *files;
                size_t idx;
                bool end;
                int lineno;
                uint64_t what;

                if (!l || dwarf_lineaddr(l, &addr) != 0 || dwarf_lineendsequence(l, &end) != 0)
                        continue;
                if (end)
                        what = ROW_NONE;
                else {
                        if (dwarf_line_file(l, &files, &idx) != 0 || idx >= UINT32_MAX)
                                idx = UINT32_MAX;
                        if (dwarf_lineno(l, &lineno) != 0 || lineno < 0)
                                lineno = 0;
                        what = (uint64_t) idx << 32 | (uint32_t) lineno;
                }
                if (r->n > 0 && r->at[r->n - 1] == addr) {
                        r->what[r->n - 1] = what;
                        if (r->n > 1 && r->what[r->n - 2] == what)
                                r->n--;
                        continue;
                }
                if (r->n > 0 && (addr < r->at[r->n - 1] || r->what[r->n - 1] == what))
                        continue;
                r->at[r->n] = addr;
                r->what[r->n] = what;
                r->n++;
        }
        r->at = shrink(r->at, r->n, sizeof(*r->at));
        r->what = shrink(r->what, r->n, sizeof(*r->what));
        return 0;
}

static uint64_t rows_find(const struct rows *r, uint64_t addr) {
        size_t lo = 0, hi = r->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (r->at[mid] <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo == 0 ? ROW_NONE : r->what[lo - 1];
}

static int index_cu(struct dw_cu *cu) {
        VEC(struct dw_node) nodes = {};
        VEC(struct range) ranges = {};
        Dwarf_Die stack[WALK_DEPTH_MAX];
        uint32_t parent_at[WALK_DEPTH_MAX], depth_at[WALK_DEPTH_MAX];
        int top = 0, r = 0;

        cu->indexed = true;
        if (dwarf_child(&cu->die, &stack[0]) != 0)
                return 0;
        parent_at[0] = NODE_NONE;
        depth_at[0] = 0;
        while (top >= 0) {
                Dwarf_Die *die = &stack[top];
                int tag = dwarf_tag(die);
                uint32_t self = parent_at[top], self_depth = depth_at[top];
                bool descend = false;

                if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
                        bool inl = tag == DW_TAG_inlined_subroutine;
                        uint32_t parent = inl ? parent_at[top] : NODE_NONE;
                        uint32_t depth = parent == NODE_NONE ? 0 : depth_at[top] + 1;
                        if (nodes.n >= NODE_NONE - 1)
                                break;
                        int k = collect_ranges(die, (uint32_t) nodes.n, depth, &ranges);
                        if (k < 0) {
                                r = k;
                                goto out;
                        }
                        /* abstract instances and declarations have no
                         * code, and neither has anything inside them */
                        if (k > 0) {
                                struct dw_node n = {
                                        .die = die->addr,
                                        .parent = parent,
                                        .call_file = inl ? attr_udata(die, DW_AT_call_file) : 0,
                                        .call_line = inl ? attr_udata(die, DW_AT_call_line) : 0,
                                };
                                if (vec_push(&nodes, n) < 0) {
                                        r = -ENOMEM;
                                        goto out;
                                }
                                self = (uint32_t) nodes.n - 1;
                                self_depth = depth;
                                descend = true;
                        }
                } else
                        descend = tag_holds_code(tag);

                if (descend && top + 1 < WALK_DEPTH_MAX && dwarf_haschildren(die) &&
                    dwarf_child(die, &stack[top + 1]) == 0) {
                        top++;
                        parent_at[top] = self;
                        depth_at[top] = self_depth;
                        continue;
                }
                /* next sibling, else up to the parent's next sibling */
                while (top >= 0 && dwarf_siblingof(&stack[top], &stack[top]) != 0)
                        top--;
        }
        r = pieces_build(&cu->pieces, ranges.v, ranges.n);
        if (r < 0)
                goto out;
        r = index_lines(cu);
        if (r < 0) {
                pieces_free(&cu->pieces);
                goto out;
        }
        cu->n_nodes = nodes.n;
        cu->nodes = shrink(TAKE_PTR(nodes.v), cu->n_nodes, sizeof(*cu->nodes));
out:
        vec_free(&nodes);
        vec_free(&ranges);
        return r;
}

static struct dw_cu *find_cu(struct dwarf_lines *d, uint64_t vaddr, int *ret_err) {
        uint32_t i;
        int r;

        *ret_err = 0;
        if (!d->cus_read) {
                r = read_cus(d);
                if (r < 0) {
                        *ret_err = r;
                        d->cus_read = false;
                        return NULL;
                }
        }
        i = pieces_find(&d->cu_pieces, vaddr);
        if (i == NODE_NONE || i >= d->n_cus)
                return NULL;
        struct dw_cu *cu = &d->cus[i];
        if (!cu->indexed) {
                r = index_cu(cu);
                if (r < 0) {
                        *ret_err = r;
                        cu->indexed = false;
                        return NULL;
                }
                d->cus_indexed++;
        }
        cu->used_tick = d->tick;
        return cu;
}

static bool cu_files(struct dw_cu *cu);

int dwarf_lines_preload(struct dwarf_lines *d) {
        int r;

        if (!d->cus_read && (r = read_cus(d)) < 0) {
                d->cus_read = false;
                return r;
        }
        for (size_t i = 0; i < d->n_cus; i++) {
                struct dw_cu *cu = &d->cus[i];
                if (!cu->indexed) {
                        if ((r = index_cu(cu)) < 0) {
                                cu->indexed = false;
                                return r;
                        }
                        d->cus_indexed++;
                }
                (void) cu_files(cu);
        }
        return 0;
}

void dwarf_lines_tick(struct dwarf_lines *d, uint32_t span, struct dwarf_lines_usage *ret) {
        size_t recent = 0;
        for (size_t i = 0; i < d->n_cus; i++)
                recent += d->cus[i].indexed && d->tick - d->cus[i].used_tick < span;
        *ret = (struct dwarf_lines_usage) { .cus_indexed = d->cus_indexed, .cus_recent = recent };
        d->tick++;
}

/* Names and files. */

static const char *attr_string(Dwarf_Die *die, unsigned name) {
        Dwarf_Attribute a;
        return dwarf_attr(die, name, &a) ? dwarf_formstring(&a) : NULL;
}

struct name_scan {
        const char *linkage, *plain;
        Dwarf_Attribute origin;
        bool has_origin;
};

static int name_scan_attr(Dwarf_Attribute *a, void *arg) {
        struct name_scan *s = arg;
        const char *str;

        switch (dwarf_whatattr(a)) {
        case DW_AT_linkage_name:
        case DW_AT_MIPS_linkage_name:
                str = dwarf_formstring(a);
                if (str && *str)
                        s->linkage = str;
                break;
        case DW_AT_name:
                str = dwarf_formstring(a);
                if (str && *str)
                        s->plain = str;
                break;
        case DW_AT_abstract_origin:
        case DW_AT_specification:
                if (!s->has_origin) {
                        s->origin = *a;
                        s->has_origin = true;
                }
                break;
        }
        return DWARF_CB_OK;
}

/* The name of the chain of DIEs from start along abstract_origin /
 * specification: the first linkage name in it, else the first plain name.
 * *ret_linkage says which it is. */
static const char *chain_name(Dwarf_Die *start, bool *ret_linkage, Dwarf_Die *ret_plain_die) {
        Dwarf_Die cur = *start;
        const char *plain = NULL;

        *ret_linkage = false;
        for (int i = 0; i < ORIGIN_MAX; i++) {
                struct name_scan s = {};
                if (dwarf_getattrs(&cur, name_scan_attr, &s, 0) < 0)
                        break;
                if (s.linkage) {
                        *ret_linkage = true;
                        return s.linkage;
                }
                if (!plain && s.plain) {
                        plain = s.plain;
                        *ret_plain_die = cur;
                }
                if (!s.has_origin || !dwarf_formref_die(&s.origin, &cur))
                        break;
        }
        return plain;
}

/* Qualified names.
 *
 * A function with internal linkage (an anonymous namespace, a lambda's
 * operator()) has no DW_AT_linkage_name: its DW_AT_name is bare
 * ("operator()", "helper"). The scopes it sits in are its DIE's parents,
 * and libdw keeps no parent links (dwarf_getscopes_die walks from the CU
 * root on every call), so a CU is walked once, the first time one of its
 * functions needs them, noting the qualified name of every named
 * function inside a scope. Scope names as GCC writes them in its own
 * DWARF type names: "(anonymous namespace)", "<lambda>" for a class
 * without a name inside a function. */
#define SCOPE_DEPTH_MAX 32

struct scope_walk {
        struct dwarf_lines *d;
        const char *scope[SCOPE_DEPTH_MAX];
        int depth;
        int fn_depth; /* scopes that are functions */
        int level;    /* DIE nesting, bounded: blocks open no scope */
};

static bool is_qualified_language(Dwarf_Die *cudie) {
        switch (dwarf_srclang(cudie)) {
        case DW_LANG_C_plus_plus:
        case DW_LANG_C_plus_plus_03:
        case DW_LANG_C_plus_plus_11:
        case DW_LANG_C_plus_plus_14:
        case DW_LANG_Rust:
                return true;
        default:
                return false;
        }
}

/* "a::b::name" from the scopes and name; NULL without memory. */
static char *join_scopes(const struct scope_walk *w, const char *name) {
        size_t len = strlen(name) + 1;
        for (int i = 0; i < w->depth; i++)
                len += strlen(w->scope[i]) + 2;
        char *out = malloc(len), *p = out;
        if (!out)
                return NULL;
        for (int i = 0; i < w->depth; i++)
                p = stpcpy(stpcpy(p, w->scope[i]), "::");
        strcpy(p, name);
        return out;
}

static int note_qualified(struct scope_walk *w, Dwarf_Die *die, const char *name) {
        struct dwarf_lines *d = w->d;
        char *q = join_scopes(w, name);
        int r;

        if (!q)
                return -ENOMEM;
        r = vec_push(&d->qualified_names, q);
        if (r < 0) {
                free(q);
                return r;
        }
        return u64map_put(&d->qualified, dwarf_dieoffset(die), (uint64_t) (uintptr_t) q);
}

/* The name a DIE gives the scope it opens, or NULL when it opens none. */
static const char *scope_name(struct scope_walk *w, Dwarf_Die *die, int tag) {
        const char *name = attr_string(die, DW_AT_name);

        switch (tag) {
        case DW_TAG_namespace:
                return name ? name : "(anonymous namespace)";
        case DW_TAG_class_type:
        case DW_TAG_structure_type:
        case DW_TAG_union_type:
                if (name)
                        return name;
                return w->fn_depth > 0 ? "<lambda>" : "{unnamed type}";
        case DW_TAG_subprogram: {
                /* an out-of-line member function: its declaration's
                 * qualified name, noted when its class was walked */
                Dwarf_Attribute a;
                Dwarf_Die spec;
                uint64_t v;
                if (dwarf_attr(die, DW_AT_specification, &a) && dwarf_formref_die(&a, &spec) &&
                    u64map_get(&w->d->qualified, dwarf_dieoffset(&spec), &v))
                        return (const char *) (uintptr_t) v;
                return name;
        }
        default:
                return NULL;
        }
}

static int walk_scopes(struct scope_walk *w, Dwarf_Die *parent) {
        Dwarf_Die child;
        int r = 0;

        if (w->level >= WALK_DEPTH_MAX || dwarf_child(parent, &child) != 0)
                return 0; /* too deep (broken input), no children, or unreadable */
        w->level++;
        do {
                int tag = dwarf_tag(&child);
                bool fn = tag == DW_TAG_subprogram;
                if (fn && w->depth > 0) {
                        const char *name = attr_string(&child, DW_AT_name);
                        if (name && *name && (r = note_qualified(w, &child, name)) < 0)
                                break;
                }
                /* only what may hold functions: scopes, function bodies
                 * (lambdas, local classes) and their blocks */
                const char *scope = scope_name(w, &child, tag);
                if (tag == DW_TAG_lexical_block) {
                        if ((r = walk_scopes(w, &child)) < 0)
                                break;
                } else if (scope && dwarf_haschildren(&child) && w->depth < SCOPE_DEPTH_MAX) {
                        /* a function scope is its full name already */
                        bool full = fn && scope != attr_string(&child, DW_AT_name);
                        int saved = w->depth;
                        if (full)
                                w->depth = 0;
                        w->scope[w->depth++] = scope;
                        w->fn_depth += fn;
                        r = walk_scopes(w, &child);
                        w->fn_depth -= fn;
                        w->depth = saved;
                        if (r < 0)
                                break;
                }
                r = 0;
        } while (dwarf_siblingof(&child, &child) == 0);
        w->level--;
        return r;
}

/* name qualified with the scopes of named (the DIE that carries it), or
 * name itself for C and what the walk did not reach. */
static const char *qualified_name(struct dwarf_lines *d, Dwarf_Die *named, const char *name) {
        Dwarf_Die cudie;
        uint64_t v;

        if (!name || !dwarf_diecu(named, &cudie, NULL, NULL) || !is_qualified_language(&cudie))
                return name;
        uint64_t cu_off = dwarf_dieoffset(&cudie);
        if (!u64map_get(&d->qualified_cus, cu_off, &v)) {
                struct scope_walk w = { .d = d };
                if (walk_scopes(&w, &cudie) < 0 || u64map_put(&d->qualified_cus, cu_off, 1) < 0)
                        log_debug("dwarf: out of memory for qualified names");
        }
        if (u64map_get(&d->qualified, dwarf_dieoffset(named), &v))
                return (const char *) (uintptr_t) v;
        return name;
}

/* Cached values: the name pointer, bit 63 set for a linkage name (user
 * space pointers never have it); 0 for no name. */
#define NAME_IS_LINKAGE (1ULL << 63)

/* The linkage name anywhere along the chain (C++ keeps it on the
 * declaration inside the class), else the first plain name met. The
 * origin's part of the answer is cached by the origin's offset: one
 * inline function inlined a thousand times is resolved once. */
static const char *die_name(struct dwarf_lines *d, Dwarf_Die *die) {
        struct name_scan s = {};
        Dwarf_Die origin;
        const char *name;
        bool linkage;
        uint64_t v;

        if (dwarf_getattrs(die, name_scan_attr, &s, 0) < 0)
                return NULL;
        if (s.linkage)
                return s.linkage;
        if (!s.has_origin || !dwarf_formref_die(&s.origin, &origin))
                return qualified_name(d, die, s.plain);
        uint64_t off = dwarf_dieoffset(&origin);
        if (u64map_get(&d->origin_names, off, &v)) {
                linkage = v & NAME_IS_LINKAGE;
                name = (const char *) (uintptr_t) (v & ~NAME_IS_LINKAGE);
        } else {
                Dwarf_Die plain_die;
                name = chain_name(&origin, &linkage, &plain_die);
                if (name && !linkage)
                        name = qualified_name(d, &plain_die, name);
                v = (uint64_t) (uintptr_t) name;
                if (!(v & NAME_IS_LINKAGE) &&
                    u64map_put(&d->origin_names, off, v | (linkage ? NAME_IS_LINKAGE : 0)) < 0)
                        log_debug("dwarf: out of memory for the name cache, skipping");
        }
        /* this DIE's own plain name comes before the origin's plain one */
        return linkage || !s.plain ? name : qualified_name(d, die, s.plain);
}

static const char *node_name(struct dwarf_lines *d, struct dw_cu *cu, struct dw_node *n) {
        if (!n->named) {
                /* A DIE is its address in the section and its CU, as
                 * dwarf_offdie() makes it (abbrev found on first use);
                 * this skips dwarf_offdie's search for the CU. */
                Dwarf_Die die = { .addr = n->die, .cu = cu->die.cu };
                n->named = true;
                n->name = die_name(d, &die);
        }
        return n->name;
}

static bool cu_files(struct dw_cu *cu) {
        if (!cu->files_read) {
                cu->files_read = true;
                if (dwarf_getsrcfiles(&cu->die, &cu->files, &cu->n_files) != 0) {
                        cu->files = NULL;
                        cu->n_files = 0;
                }
        }
        return cu->files != NULL;
}

/* File idx of the CU's table, a relative name prefixed with the CU's
 * comp_dir as addr2line prints it. NULL for none, or when out of memory
 * (the frame keeps its name and loses only the file). */
static const char *cu_file(struct dw_cu *cu, size_t idx) {
        const char *f, *dir;

        if (!cu_files(cu) || idx >= cu->n_files || (idx == 0 && cu->numbered_from_one))
                return NULL;
        f = dwarf_filesrc(cu->files, idx, NULL, NULL);
        /* "???" is libdw's placeholder for a missing entry */
        if (!f || !*f || strcmp(f, "???") == 0)
                return NULL;
        if (f[0] == '/')
                return f;
        if (!cu->joined) {
                cu->joined = calloc(cu->n_files, sizeof(*cu->joined));
                cu->joined_done = calloc(cu->n_files, sizeof(*cu->joined_done));
                if (!cu->joined || !cu->joined_done) {
                        free(cu->joined);
                        free(cu->joined_done);
                        cu->joined = NULL;
                        cu->joined_done = NULL;
                        return f;
                }
        }
        if (!cu->joined_done[idx]) {
                cu->joined_done[idx] = true;
                dir = attr_string(&cu->die, DW_AT_comp_dir);
                if (dir && *dir && asprintf(&cu->joined[idx], "%s/%s", dir, f) < 0)
                        cu->joined[idx] = NULL;
        }
        return cu->joined[idx] ? cu->joined[idx] : f;
}

int dwarf_lines_lookup(struct dwarf_lines *d, uint64_t vaddr, struct dwarf_frame *out, size_t max) {
        uint32_t chain[WALK_DEPTH_MAX];
        size_t depth = 0;
        const char *file = NULL;
        uint32_t line = 0;
        int r;

        if (max == 0)
                return 0;
        struct dw_cu *cu = find_cu(d, vaddr, &r);
        if (!cu)
                return r;

        uint64_t row = rows_find(&cu->rows, vaddr);
        if (row != ROW_NONE) {
                file = cu_file(cu, (size_t) (row >> 32));
                line = (uint32_t) row;
        }

        /* innermost first, then parents */
        for (uint32_t i = pieces_find(&cu->pieces, vaddr); i < cu->n_nodes && depth < WALK_DEPTH_MAX;
             i = cu->nodes[i].parent)
                chain[depth++] = i;
        if (depth == 0) {
                if (row == ROW_NONE)
                        return 0;
                out[0] = (struct dwarf_frame) { .file = file, .line = line };
                return 1;
        }

        /* chain[depth - 1] is the root; keep it and the innermost ones */
        size_t n = MIN(depth, max);
        for (size_t k = 0; k < n; k++) {
                size_t c = k == 0 ? depth - 1 : n - 1 - k;
                struct dw_node *node = &cu->nodes[chain[c]];
                struct dwarf_frame *f = &out[k];
                f->name = node_name(d, cu, node);
                f->inlined = k > 0;
                if (c == 0) {
                        f->file = file;
                        f->line = line;
                } else {
                        /* the call into the frame inside this one */
                        struct dw_node *inner = &cu->nodes[chain[c - 1]];
                        f->file = cu_file(cu, inner->call_file);
                        f->line = inner->call_line;
                }
        }
        return (int) n;
}
