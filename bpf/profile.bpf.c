// SPDX-License-Identifier: GPL-2.0
/* cprof's sampler: runs on every cpu-clock tick of every CPU, keeps the
 * target processes' samples and aggregates identical (task, user stack,
 * kernel stack) in kernel maps.
 *
 * The maps come in two sets; `active` says which one the program fills.
 * Userspace flips it, then drains and clears the other set at leisure, so
 * it never races with the program and long recordings never fill a map. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "profile.h"

char LICENSE[] SEC("license") = "GPL";

#define EEXIST_ 17 /* errno.h's, which BPF programs cannot include */

const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile bool follow_children = true;
/* bytes of user stack to copy per sample (a multiple of the page size);
 * 0: frame-pointer stacks walked by the kernel, aggregated here */
const volatile __u32 stack_copy = 0;
/* CFI only: no frame-pointer step where a module has no CFI */
const volatile bool dwarf_only = false;
/* table lookups per sample at most (a frame in the same row as one
 * before it, as in recursion, needs none): deeper stacks go as a copy, so
 * a sample never costs the kernel more than this (it throttles sampling
 * when handlers take too long) */
const volatile __u32 unwind_budget = 256;
/* frames walked here at most (each costs two user reads, ~110 ns in all:
 * a 2,500-frame walk took 285 us, past what the kernel allows a sample,
 * while copying such a stack takes 30 us) */
const volatile __u32 walk_frames = 512;
/* every sample goes as a copy too, with the kernel's walk of it, for
 * userspace to check the walk against libdwfl (--unwind-check) */
const volatile bool check_mode = false;
/* user frames kept at most (--max-depth) */
const volatile __u32 max_depth = 4096;
/* wake userspace when this much waits in the copy ring */
const volatile __u64 copies_wakeup = 1 << 20;
/* cprof's PID namespace (the inode of /proc/self/ns/pid) when it is not
 * the initial one: every pid the program hands out or looks up is a pid
 * as cprof sees it, so targets, events and samples agree with /proc */
const volatile bool in_pidns = false;
const volatile __u32 pidns_inum = 0;

/* which map set the program fills, flipped by userspace */
__u32 active = 0;
/* the level of cprof's PID namespace, plus one, once found */
__u32 pidns_level1 = 0;

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __type(key, __u32);   /* tgid */
        __type(value, __u32); /* execs so far: tells samples of old and new image apart */
        __uint(max_entries, 16384);
} targets SEC(".maps");

/* names that make a process a target at exec (see profile.h) */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __type(key, struct profile_exec_comm);
        __type(value, __u32);
        __uint(max_entries, PROFILE_MAX_EXEC_COMMS);
} exec_comms SEC(".maps");

/* The stack store: stack content -> id. Keyed by the whole stack, unlike
 * a STACK_TRACE map, which drops a stack whose hash bucket is taken. */
struct stack_map {
        __uint(type, BPF_MAP_TYPE_HASH);
        __type(key, struct profile_stack);
        __type(value, __u64);
        __uint(max_entries, 16384); /* resized by userspace before load */
};

struct stack_map stacks0 SEC(".maps");
struct stack_map stacks1 SEC(".maps");

struct count_map {
        __uint(type, BPF_MAP_TYPE_HASH);
        __type(key, struct profile_key);
        __type(value, __u64);
        __uint(max_entries, 16384);
};

struct count_map counts0 SEC(".maps");
struct count_map counts1 SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __type(key, __u32);
        __type(value, struct profile_stats);
        __uint(max_entries, 1);
} stats SEC(".maps");

/* Per-CPU room for the stacks of one sample (too big for the BPF stack),
 * and the counter that makes store ids unique without atomics: an id is
 * (counter << 16 | cpu), and a CPU runs one sample at a time. */
struct scratch {
        __u64 next_id;
        struct profile_stack user, kernel;
};

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __type(key, __u32);
        __type(value, struct scratch);
        __uint(max_entries, 1);
} scratch SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Samples with a stack copy, one record each. */
struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 16 * 1024 * 1024); /* resized by userspace */
} copies SEC(".maps");

/* A sample record is built here (too big for the BPF stack and for a
 * per-CPU value, whose limit is 32 KiB) and then copied into the ring at
 * its real length: reserving the maximum would fill the ring with
 * unused bytes. One entry per CPU (max_entries set by userspace), its
 * value cut by userspace to the copy size in use: the type is the
 * largest it may be. */
struct copy_scratch {
        struct profile_sample h;
        __u8 stack[PROFILE_MAX_COPY + UNWIND_WALK_MAX * 8]; /* the copy, then the walk */
};

/* Sized, not typed: a BTF value type would no longer match the size
 * userspace sets, and the kernel would refuse the map once before libbpf
 * retried it without BTF. */
struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(key_size, sizeof(__u32));
        __uint(value_size, sizeof(struct copy_scratch));
        __uint(max_entries, 1);
} copy_scratch SEC(".maps");

/* In-kernel unwinding: the rows of every loaded module's table, and per
 * process image its mappings with where their rows are. */
struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __type(key, __u32);
        __type(value, struct unwind_row);
        __uint(max_entries, 1); /* resized by userspace */
        /* userspace writes rows through a mapping: a batch update
         * syscall copied them one element at a time */
        __uint(map_flags, BPF_F_MMAPABLE);
} unwind_rows SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __type(key, struct unwind_proc_key);
        __type(value, struct unwind_proc);
        __uint(max_entries, 1); /* resized by userspace */
        __uint(map_flags, BPF_F_NO_PREALLOC);
} unwind_procs SEC(".maps");

struct chunk_map {
        __uint(type, BPF_MAP_TYPE_HASH);
        __type(key, struct unwind_chunk);
        __type(value, __u64);
        __uint(max_entries, 1); /* resized by userspace */
};

struct chunk_map chunks0 SEC(".maps");
struct chunk_map chunks1 SEC(".maps");

#define WALK_MAX UNWIND_WALK_MAX /* unwind_budget is at most this */

/* One walk, per CPU (too big for the BPF stack and for a per-CPU value). */
struct walk {
        __u64 pc, sp, bp;
        __u32 n;
        __u32 bp_known, exact;
        /* where the frame's rbp is saved, read only when a rule needs rbp
         * (0: bp holds it): code without frame pointers rarely does, and a
         * user read is most of what a frame costs here */
        __u64 bp_slot;
        __u32 end;    /* enum unwind_end, once done */
        __u32 done;   /* 1: ended (end says why); 2: needs the copy path */
        __u32 set;
        __u64 next_id;
        /* binary search bounds: kept in map memory rather than registers,
         * so the verifier sees every step of a search alike (values it
         * tracks exactly would make it walk each path of the search) */
        __u32 lo, hi, rpc, rfailed; /* row or span search bounds, row key */
        __u64 span_key;             /* span search key */
        __u32 lookups; /* full table lookups so far: the budget */
        /* the row the last lookup found, and where it applies */
        __u32 cached, c_ri, c_lo, c_hi;
        __u64 c_start, c_end, c_bias;
        struct unwind_chunk chunk; /* the key being stored */
        __u64 frames[WALK_MAX];
};

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __type(key, __u32);
        __type(value, struct walk);
        __uint(max_entries, 1); /* one per CPU, set by userspace */
} walks SEC(".maps");

static __always_inline struct profile_stats *get_stats(void) {
        __u32 zero = 0;
        return bpf_map_lookup_elem(&stats, &zero);
}

#define PIDNS_MAX_LEVEL 32 /* MAX_PID_NS_LEVEL */

/* A task's number in cprof's PID namespace: the pid struct keeps one per
 * level from the initial namespace down to the task's own. Returns 0
 * when the task is not visible there (another namespace). */
static __always_inline __u32 ns_nr(struct pid *pid) {
        unsigned int level = BPF_CORE_READ(pid, level);
        __u32 lvl1 = pidns_level1;
        struct upid up;

        if (lvl1) {
                if (level < lvl1 - 1)
                        return 0;
                if (bpf_core_read(&up, sizeof(up), &pid->numbers[lvl1 - 1]) < 0)
                        return 0;
                return BPF_CORE_READ(up.ns, ns.inum) == pidns_inum ? (__u32) up.nr : 0;
        }
        /* the first task seen at cprof's level tells which level that is:
         * a namespace's level never changes */
        for (__u32 i = 0; i < PIDNS_MAX_LEVEL; i++) {
                if (i > level)
                        break;
                if (bpf_core_read(&up, sizeof(up), &pid->numbers[i]) < 0)
                        return 0;
                if (BPF_CORE_READ(up.ns, ns.inum) == pidns_inum) {
                        pidns_level1 = i + 1;
                        return (__u32) up.nr;
                }
        }
        return 0;
}

/* (tgid, tid) of a task as cprof sees them; false when it cannot see it */
static __always_inline bool task_ids(struct task_struct *task, __u32 *tgid, __u32 *tid) {
        if (!in_pidns) {
                *tgid = BPF_CORE_READ(task, tgid);
                *tid = BPF_CORE_READ(task, pid);
                return true;
        }
        *tid = ns_nr(BPF_CORE_READ(task, thread_pid));
        *tgid = ns_nr(BPF_CORE_READ(task, group_leader, thread_pid));
        return *tid && *tgid;
}

static __always_inline void count(void *counts, struct profile_key *key, struct profile_stats *st) {
        __u64 one = 1, *val;

        val = bpf_map_lookup_elem(counts, key);
        if (val) {
                __sync_fetch_and_add(val, 1);
                return;
        }
        if (bpf_map_update_elem(counts, key, &one, BPF_NOEXIST) == 0)
                return;
        /* another CPU may have inserted the same key meanwhile */
        val = bpf_map_lookup_elem(counts, key);
        if (val)
                __sync_fetch_and_add(val, 1);
        else if (st)
                __sync_fetch_and_add(&st->lost_counts, 1);
}

/* The id of a stack in the store, adding it if new; 0 when the store is
 * full (counted) or the stack is empty. */
static __always_inline __u64 store_stack(void *store, struct profile_stack *stack, long size,
                                         struct scratch *sc, struct profile_stats *st) {
        __u64 *idp, id;

        if (size <= 0)
                return 0;
        idp = bpf_map_lookup_elem(store, stack);
        if (idp)
                return *idp;
        id = (++sc->next_id << 16) | (bpf_get_smp_processor_id() & 0xffff);
        if (bpf_map_update_elem(store, stack, &id, BPF_NOEXIST) == 0)
                return id;
        idp = bpf_map_lookup_elem(store, stack); /* another CPU was first */
        if (idp)
                return *idp;
        if (st)
                __sync_fetch_and_add(&st->lost_stackmap, 1);
        return ~0ULL;
}

#define PAGE 4096ULL

static long vma_end(struct task_struct *task, struct vm_area_struct *vma, void *data) {
        *(__u64 *) data = BPF_CORE_READ(vma, vm_end);
        return 0;
}

/* One sample with the user registers and a copy of the user stack, for
 * userspace to unwind with DWARF CFI. The copy runs page by page from the
 * page holding sp to the end of the stack's mapping (bpf_find_vma) or
 * stack_copy bytes: a single read fails as a whole on a page that is not
 * resident, and pages are where such holes are. */
static __always_inline int copy_sample(struct bpf_perf_event_data *ctx, struct task_struct *task,
                                       __u32 tgid, __u32 tid, __u32 gen, struct profile_stats *st,
                                       struct walk *w, __u32 walk_end) {
        __u32 cpu = bpf_get_smp_processor_id();
        struct copy_scratch *sc = bpf_map_lookup_elem(&copy_scratch, &cpu);
        struct profile_sample *h;
        __u64 end = 0;
        long k;

        if (!sc)
                return 0;
        h = &sc->h;
        h->tgid = tgid;
        h->tid = tid;
        h->exec_gen = gen;
        h->time_ns = bpf_ktime_get_ns();
        h->flags = 0;
        h->copy_len = 0;
        h->n_kstack = 0;
        bpf_get_current_comm(h->comm, sizeof(h->comm));
        BPF_CORE_READ_STR_INTO(&h->process_comm, task, group_leader, comm);
        if (kernel_stacks) {
                k = bpf_get_stack(ctx, h->kstack, sizeof(h->kstack), 0);
                if (k > 0)
                        h->n_kstack = (__u32) (k / 8);
        }

        struct task_struct *t = bpf_get_current_task_btf();
        struct pt_regs *regs = (struct pt_regs *) bpf_task_pt_regs(t);
        if (user_stacks && regs && BPF_CORE_READ(t, mm)) {
                h->ip = BPF_CORE_READ(regs, ip);
                h->sp = BPF_CORE_READ(regs, sp);
                h->bp = BPF_CORE_READ(regs, bp);
                h->flags = PROFILE_COPY_REGS;
                __u64 base = h->sp & ~(PAGE - 1);
                h->copy_addr = base;
                /* it fails when the mmap lock is taken (the task is in
                 * brk or mmap): copy until a page cannot be read */
                if (bpf_find_vma(t, h->sp, vma_end, &end, 0) < 0 || !end)
                        end = ~0ULL;
                __u32 pages = stack_copy / PAGE;
                for (__u32 i = 0; i < PROFILE_MAX_COPY / PAGE; i++) {
                        if (i >= pages)
                                break;
                        if (base + (i + 1) * PAGE > end)
                                break;
                        if (bpf_probe_read_user(&sc->stack[i * PAGE], PAGE, (void *) (base + i * PAGE)) < 0)
                                break;
                        h->copy_len = (i + 1) * PAGE;
                }
                if (h->copy_len == pages * PAGE)
                        h->flags |= PROFILE_COPY_FULL;
        }

        /* the scratch value is sized by userspace to stack_copy plus a
         * walk: every access below is bounded by those, not the maximum */
        __u32 off = h->copy_len;
        if (off > stack_copy)
                return 0;
        h->n_walk = 0;
        h->walk_end = walk_end;
        if (w && walk_end) {
                __u32 nw = w->n;
                if (nw > WALK_MAX)
                        nw = WALK_MAX;
                bpf_probe_read_kernel(&sc->stack[off], WALK_MAX * 8, w->frames);
                h->n_walk = nw;
                off += nw * 8;
        }
        __u64 len = sizeof(*h) + off;
        if (len > sizeof(*h) + (__u64) stack_copy + WALK_MAX * 8)
                return 0;
        __u64 flags = bpf_ringbuf_query(&copies, BPF_RB_AVAIL_DATA) + len >= copies_wakeup ?
                BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
        if (bpf_ringbuf_output(&copies, sc, len, flags) < 0) {
                if (st)
                        __sync_fetch_and_add(&st->lost_copies, 1);
                return 0;
        }
        if (st)
                __sync_fetch_and_add(&st->samples, 1);
        return 0;
}

struct walk_ctx {
        struct walk *w;
        struct unwind_proc *proc;
};

static __always_inline int read_user(__u64 addr, __u64 *ret) {
        return bpf_probe_read_user(ret, sizeof(*ret), (const void *) addr);
}

/* Ends the walk: 1 stops bpf_loop. */
static __always_inline long walk_end(struct walk *w, __u32 end) {
        w->end = end;
        w->done = 1;
        return 1;
}

static __always_inline long walk_fallback(struct walk *w) {
        w->done = 2;
        return 1;
}

/* A saved register per its rule; 0, or an end reason + 1. */
static __always_inline __u32 saved_reg(__u8 rule, __s16 off, __u64 cfa, __u64 sp, __u64 *val,
                                       __u32 *known) {
        *known = 0;
        if (rule == UNWIND_REG_UNDEFINED)
                return 0;
        if (rule == UNWIND_REG_SAME) {
                *known = 1;
                return 0;
        }
        __u64 base = rule == UNWIND_REG_AT_CFA ? cfa : rule == UNWIND_REG_AT_RSP ? sp : 0;
        if (!base)
                return UNWIND_END_UNSUPPORTED_ + 1;
        if (read_user(base + (__s64) off, val) < 0)
                return UNWIND_END_NOT_COPIED_ + 1;
        *known = 1;
        return 0;
}

/* One step of the binary search for the mapping holding w->span_key (a
 * callback, verified once, where an unrolled loop multiplied the
 * verifier's states in walk_step). */
static long span_search_step(__u32 i, void *data) {
        struct walk_ctx *c = data;
        struct walk *w = c->w;
        __u32 lo = w->lo, hi = w->hi;

        if (lo >= hi)
                return 1;
        __u32 mid = (lo + hi) / 2;
        if (w->span_key < c->proc->spans[mid & (UNWIND_MAX_SPANS - 1)].start)
                w->hi = mid;
        else
                w->lo = mid + 1;
        return 0;
}

static long row_search_step(__u32 i, void *data) {
        struct walk *w = ((struct walk_ctx *) data)->w;
        __u32 lo = w->lo, hi = w->hi;

        if (lo >= hi)
                return 1;
        __u32 mid = lo + (hi - lo) / 2;
        struct unwind_row *r = bpf_map_lookup_elem(&unwind_rows, &mid);
        if (!r) {
                w->rfailed = 1;
                return 1;
        }
        if (w->rpc < r->pc)
                w->hi = mid;
        else
                w->lo = mid + 1;
        return 0;
}

/* rbp's value, read from its slot now if it is still there; false when
 * it is not known (lost, or its slot cannot be read: as in userspace, an
 * unreadable slot makes rbp unknown, it does not end the walk) */
static __always_inline bool need_bp(struct walk *w) {
        if (!w->bp_known)
                return false;
        if (w->bp_slot) {
                __u64 v;
                if (read_user(w->bp_slot, &v) < 0) {
                        w->bp_known = 0;
                        w->bp_slot = 0;
                        return false;
                }
                w->bp = v;
                w->bp_slot = 0;
        }
        return true;
}

/* A frame without CFI: by its frame pointer, in auto mode (dwarf: the
 * end, counted as no CFI). */
static __always_inline long fp_step(struct walk *w) {
        __u64 bp, ra;

        if (dwarf_only || !need_bp(w))
                return walk_end(w, UNWIND_END_NO_CFI_);
        if (w->bp == 0)
                return walk_end(w, UNWIND_END_COMPLETE_);
        if (w->bp < w->sp || (w->bp & 7))
                return walk_end(w, UNWIND_END_NO_CFI_);
        if (read_user(w->bp, &bp) < 0 || read_user(w->bp + 8, &ra) < 0)
                return walk_end(w, UNWIND_END_NOT_COPIED_);
        if (ra == 0)
                return walk_end(w, UNWIND_END_BAD_FRAME_);
        w->sp = w->bp + 16;
        w->pc = ra;
        w->bp = bp;
        w->exact = 0;
        w->cached = 0;
        return 0;
}

/* One frame: record it, find its row, step to the caller. */
static long walk_step(__u32 i, void *data) {
        struct walk_ctx *c = data;
        struct walk *w = c->w;
        struct unwind_proc *p = c->proc;
        __u32 n = w->n;

        if (n >= max_depth)
                return walk_end(w, UNWIND_END_DEPTH_);
        if (n >= WALK_MAX || n >= walk_frames)
                return walk_fallback(w); /* deeper than is cheap here: a copy */
        w->frames[n & (WALK_MAX - 1)] = w->pc | (w->exact ? UNWIND_EXACT : 0);
        w->n = n + 1;

        __u64 look = w->exact ? w->pc : w->pc - 1;
        __u32 ri;
        if (w->cached && look >= w->c_start && look < w->c_end && look - w->c_bias >= w->c_lo &&
            look - w->c_bias < w->c_hi) {
                /* the same row as a frame before: recursion, loops of calls */
                ri = w->c_ri;
        } else {
                if (++w->lookups > unwind_budget)
                        return walk_fallback(w); /* too deep for here: a copy */
                /* the mapping: the last span starting at or below the pc */
                w->lo = 0;
                w->hi = p->n < UNWIND_MAX_SPANS ? p->n : UNWIND_MAX_SPANS;
                w->span_key = look;
                bpf_loop(10, span_search_step, c, 0);
                __u32 lo = w->lo;
                if (lo == 0)
                        return walk_fallback(w); /* maybe mapped since userspace looked */
                struct unwind_span *sp = &p->spans[(lo - 1) & (UNWIND_MAX_SPANS - 1)];
                if (look >= sp->end || sp->rows_first == UNWIND_NOT_LOADED)
                        return walk_fallback(w);
                if (sp->rows_n == 0)
                        return fp_step(w);

                __u64 elf = look - sp->bias;
                if (elf >> 32)
                        return walk_fallback(w);
                /* the row: the last one starting at or below elf */
                __u32 first = sp->rows_first, end = first + sp->rows_n;
                w->lo = first;
                w->hi = end;
                w->rpc = (__u32) elf;
                w->rfailed = 0;
                bpf_loop(32, row_search_step, c, 0);
                if (w->rfailed)
                        return walk_fallback(w);
                if (w->lo == first)
                        return fp_step(w); /* before the module's first FDE */
                ri = w->lo - 1;
                /* remember the row's range: the next row's start ends it */
                __u32 next = ri + 1;
                struct unwind_row *nr = next < end ? bpf_map_lookup_elem(&unwind_rows, &next) : NULL;
                struct unwind_row *cr = bpf_map_lookup_elem(&unwind_rows, &ri);
                if (nr && cr) {
                        w->cached = 1;
                        w->c_start = sp->start;
                        w->c_end = sp->end;
                        w->c_bias = sp->bias;
                        w->c_lo = cr->pc;
                        w->c_hi = nr->pc;
                        w->c_ri = ri;
                } else {
                        w->cached = 0;
                }
        }
        struct unwind_row *row = bpf_map_lookup_elem(&unwind_rows, &ri);
        if (!row)
                return walk_fallback(w);
        /* code between FDEs (V8's builtins embedded in node, hand-written
         * assembly): its frame pointer, in auto mode, as libdwfl does */
        if (row->cfa == UNWIND_CFA_NONE)
                return fp_step(w);
        if (row->flags & UNWIND_ROW_SIGNAL)
                w->frames[n & (WALK_MAX - 1)] |= UNWIND_EXACT; /* named at __restore_rt itself */

        __u64 cfa;
        if (row->cfa == UNWIND_CFA_RSP) {
                cfa = w->sp + (__s64) row->cfa_off;
        } else if (row->cfa == UNWIND_CFA_RBP) {
                if (!need_bp(w))
                        return walk_end(w, UNWIND_END_BAD_FRAME_);
                cfa = w->bp + (__s64) row->cfa_off;
        } else if (row->cfa == UNWIND_CFA_DEREF_RSP) {
                if (read_user(w->sp + (__s64) row->cfa_off, &cfa) < 0)
                        return walk_end(w, UNWIND_END_NOT_COPIED_);
        } else if (row->cfa == UNWIND_CFA_PLT) {
                cfa = w->sp + (__s64) row->cfa_off + ((w->pc & 15) >= (row->flags >> 4) ? 8 : 0);
        } else {
                return walk_end(w, UNWIND_END_UNSUPPORTED_);
        }

        if (row->ra == UNWIND_REG_UNDEFINED)
                return walk_end(w, UNWIND_END_COMPLETE_);
        __u64 ra = 0;
        __u32 known, e;
        e = saved_reg(row->ra, row->ra_off, cfa, w->sp, &ra, &known);
        if (e)
                return walk_end(w, e - 1);
        if (!known)
                return walk_end(w, UNWIND_END_BAD_FRAME_);
        /* the stack grows down: a caller's frame is above ours, except
         * across a signal frame (the handler may run on sigaltstack) */
        if ((cfa <= w->sp && !(row->flags & UNWIND_ROW_SIGNAL)) || ra == 0)
                return walk_end(w, UNWIND_END_BAD_FRAME_);
        /* the caller's rbp: where it is saved, read when needed */
        if (row->rbp == UNWIND_REG_AT_CFA) {
                w->bp_slot = cfa + (__s64) row->rbp_off;
                w->bp_known = 1;
        } else if (row->rbp == UNWIND_REG_AT_RSP) {
                w->bp_slot = w->sp + (__s64) row->rbp_off;
                w->bp_known = 1;
        } else if (row->rbp != UNWIND_REG_SAME) {
                w->bp_slot = 0;
                w->bp_known = 0;
        }
        w->exact = row->flags & UNWIND_ROW_SIGNAL;
        w->pc = ra;
        w->sp = cfa;
        return 0;
}

/* Stores chunk i counted from the root (the walk's frames are leaf
 * first): w->chunk.prev holds the id of the chunk before it. */
static long store_chunk(__u32 i, void *data) {
        struct walk *w = ((struct walk_ctx *) data)->w;
        __u32 n = w->n, chunks = (n + UNWIND_CHUNK - 1) / UNWIND_CHUNK;

        if (i >= chunks)
                return 1;
        /* chunk i counted from the root holds frames [lo, hi) (leaf
         * first, so the root is frame n - 1): aligned at the root, so
         * stacks that share their root part share its chunks whatever
         * their depth; the leaf's chunk is the partial one */
        __u32 hi = n - i * UNWIND_CHUNK, lo = hi > UNWIND_CHUNK ? hi - UNWIND_CHUNK : 0;
        for (__u32 j = 0; j < UNWIND_CHUNK; j++) {
                __u32 f = lo + j;
                w->chunk.ips[j] = f < hi ? w->frames[f & (WALK_MAX - 1)] : 0;
        }
        void *store = w->set ? (void *) &chunks1 : (void *) &chunks0;
        __u64 *idp = bpf_map_lookup_elem(store, &w->chunk);
        __u64 id;
        if (idp) {
                id = *idp;
        } else {
                id = (++w->next_id << 16) | (bpf_get_smp_processor_id() & 0xffff);
                if (bpf_map_update_elem(store, &w->chunk, &id, BPF_NOEXIST) < 0) {
                        idp = bpf_map_lookup_elem(store, &w->chunk); /* another CPU was first */
                        if (!idp) {
                                w->chunk.prev = ~0ULL;
                                return 1;
                        }
                        id = *idp;
                }
        }
        w->chunk.prev = id;
        return 0;
}

/* Unwinds the current task's user stack here. Returns the leaf chunk's
 * id and the end reason + 1 in *ret_end; 0 with *ret_end 0 when the
 * sample must go as a copy; ~0 when the store is full. */
static __always_inline __u64 kernel_walk(__u32 tgid, __u32 gen, __u32 set, __u32 *ret_end) {
        __u32 cpu = bpf_get_smp_processor_id();
        struct unwind_proc_key pk = { tgid, gen };
        struct walk_ctx c;

        *ret_end = 0;
        c.proc = bpf_map_lookup_elem(&unwind_procs, &pk);
        c.w = bpf_map_lookup_elem(&walks, &cpu);
        if (!c.proc || !c.w)
                return 0;
        struct task_struct *t = bpf_get_current_task_btf();
        /* no user memory (exiting, io_uring workers): no user stack, as
         * bpf_get_stack has none either */
        if (!BPF_CORE_READ(t, mm) || (BPF_CORE_READ(t, flags) & 0x00200000 /* PF_KTHREAD */))
                return 0;
        struct pt_regs *regs = (struct pt_regs *) bpf_task_pt_regs(t);
        if (!regs)
                return 0;
        struct walk *w = c.w;
        w->pc = BPF_CORE_READ(regs, ip);
        w->sp = BPF_CORE_READ(regs, sp);
        w->bp = BPF_CORE_READ(regs, bp);
        w->bp_known = 1;
        w->bp_slot = 0;
        w->exact = 1;
        w->n = 0;
        w->done = 0;
        w->end = 0;
        w->set = set;
        w->lookups = 0;
        w->cached = 0;
        bpf_loop(WALK_MAX, walk_step, &c, 0);
        if (w->done != 1 || w->n == 0)
                return 0;
        w->chunk.prev = 0;
        /* checked samples go as copies, with the walk: no store */
        if (!check_mode)
                bpf_loop(WALK_MAX / UNWIND_CHUNK + 1, store_chunk, &c, 0);
        *ret_end = w->end + 1;
        return w->chunk.prev;
}

/* The body of the three sampling programs. copies and unwind are
 * constants in each: the frame-pointer program holds none of the code
 * the others need newer kernels for (bpf_loop callbacks 5.17,
 * bpf_find_vma 5.17, bpf_task_pt_regs 5.15; the unwinder's maps that are
 * not preallocated, 6.1), so it still loads on 5.8. */
static __always_inline int sample(struct bpf_perf_event_data *ctx, const bool copies, const bool unwind) {
        struct task_struct *task = (struct task_struct *) bpf_get_current_task();
        __u64 id = bpf_get_current_pid_tgid();
        __u32 tgid = id >> 32, tid = (__u32) id, zero = 0;
        struct profile_key key = {};
        struct profile_stats *st;
        struct scratch *sc;
        long ku = 0, kk = 0;

        if (tid == 0)
                return 0;
        if (in_pidns && !task_ids(task, &tgid, &tid))
                return 0;
        __u32 *gen = bpf_map_lookup_elem(&targets, &tgid);
        if (!gen)
                return 0;
        st = get_stats();
        /* read the set once: userspace may flip it while we run */
        __u32 set = *(volatile __u32 *) &active & 1;
        __u64 user_chunk = 0;
        __u32 user_end = 0;
        if (unwind && user_stacks) {
                user_chunk = kernel_walk(tgid, *gen, set, &user_end);
                if (user_chunk == ~0ULL) {
                        if (st)
                                __sync_fetch_and_add(&st->lost_stackmap, 1);
                        return 0;
                }
                if (!user_end && st)
                        __sync_fetch_and_add(&st->copy_fallback, 1);
                else if (st)
                        __sync_fetch_and_add(&st->kernel_unwound, 1);
        }
        if (copies && stack_copy && (!user_end || check_mode)) {
                struct walk *w = NULL;
                if (unwind && check_mode) {
                        __u32 cpu = bpf_get_smp_processor_id();
                        w = bpf_map_lookup_elem(&walks, &cpu);
                }
                return copy_sample(ctx, task, tgid, tid, *gen, st, w, user_end);
        }
        sc = bpf_map_lookup_elem(&scratch, &zero);
        if (!sc)
                return 0;

        key.tgid = tgid;
        key.tid = tid;
        key.exec_gen = *gen;
        bpf_get_current_comm(key.comm, sizeof(key.comm));
        /* the process name as it is now: names follow exec and prctl
         * (bpf_get_current_task, not _btf: that one needs 5.11) */
        BPF_CORE_READ_STR_INTO(&key.process_comm, task, group_leader, comm);

        if (kernel_stacks)
                kk = bpf_get_stack(ctx, &sc->kernel, sizeof(sc->kernel), 0);
        if (user_stacks && !user_end)
                ku = bpf_get_stack(ctx, &sc->user, sizeof(sc->user), BPF_F_USER_STACK);
        /* Each branch names its maps directly: the verifier wants a map
         * pointer it can see, not one chosen at run time. */
        if (set) {
                key.kernel_stack_id = store_stack(&stacks1, &sc->kernel, kk, sc, st);
                key.user_stack_id = user_end ? user_chunk : store_stack(&stacks1, &sc->user, ku, sc, st);
        } else {
                key.kernel_stack_id = store_stack(&stacks0, &sc->kernel, kk, sc, st);
                key.user_stack_id = user_end ? user_chunk : store_stack(&stacks0, &sc->user, ku, sc, st);
        }
        key.user_end = user_end;
        if (key.kernel_stack_id == ~0ULL || key.user_stack_id == ~0ULL)
                return 0;
        if (set)
                count(&counts1, &key, st);
        else
                count(&counts0, &key, st);
        if (st)
                __sync_fetch_and_add(&st->samples, 1);
        return 0;
}

/* frame-pointer stacks walked by the kernel */
SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx) {
        return sample(ctx, false, false);
}

/* every user stack sent as a copy, unwound in userspace */
SEC("perf_event")
int on_sample_copy(struct bpf_perf_event_data *ctx) {
        return sample(ctx, true, false);
}

/* user stacks unwound here, copies only for what cannot be */
SEC("perf_event")
int on_sample_unwind(struct bpf_perf_event_data *ctx) {
        return sample(ctx, true, true);
}

static __always_inline void emit(__u32 type, __u32 pid, struct task_struct *task) {
        struct profile_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

        if (!e) {
                struct profile_stats *st = get_stats();
                if (st)
                        __sync_fetch_and_add(&st->lost_events, 1);
                return;
        }
        e->type = type;
        e->pid = pid;
        BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
        bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child) {
        __u32 ptgid = BPF_CORE_READ(parent, tgid);
        __u32 ctgid = BPF_CORE_READ(child, tgid);
        __u32 zero = 0, tid;

        /* a new thread shares its tgid and is a target already */
        if (ctgid == ptgid)
                return 0;
        /* the child is not current: translate both from their tasks */
        if (in_pidns && (!task_ids(parent, &ptgid, &tid) || !task_ids(child, &ctgid, &tid)))
                return 0;
        if (!follow_children || !bpf_map_lookup_elem(&targets, &ptgid)) {
                /* a new process outside the set: an entry under its pid is
                 * an earlier process's whose exit went unseen (userspace
                 * drops it from its own set at this fork too) */
                bpf_map_delete_elem(&targets, &ctgid);
                return 0;
        }
        if (bpf_map_update_elem(&targets, &ctgid, &zero, BPF_ANY) < 0) {
                struct profile_stats *st = get_stats();
                if (st)
                        __sync_fetch_and_add(&st->lost_targets, 1);
        }
        return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
        __u32 tgid = BPF_CORE_READ(p, tgid), tid;

        if (in_pidns && !task_ids(p, &tgid, &tid))
                return 0;
        __u32 *gen = bpf_map_lookup_elem(&targets, &tgid);

        /* exec runs alone in its process (other threads are gone by now),
         * so a plain increment is safe; fetch-and-add would need BPF v3.
         * Its COMM record, written just before, tells userspace (perf-side.c
         * counts the same execs). */
        if (gen) {
                *gen = *gen + 1;
                return 0;
        }
        /* A process whose new name is watched becomes a target before its
         * first instruction runs, as generation 0. Userspace decides the
         * same from the same COMM record (perf-ring.c), so both agree on
         * which samples are its and of which image. */
        struct profile_exec_comm key = {};
        BPF_CORE_READ_STR_INTO(&key.comm, p, comm);
        if (!bpf_map_lookup_elem(&exec_comms, &key))
                return 0;
        __u32 zero = 0;
        long err = bpf_map_update_elem(&targets, &tgid, &zero, BPF_NOEXIST);
        /* EEXIST: userspace added it in the meantime */
        if (err < 0 && err != -EEXIST_) {
                struct profile_stats *st = get_stats();
                if (st)
                        __sync_fetch_and_add(&st->lost_targets, 1);
        }
        return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p) {
        __u32 tgid = BPF_CORE_READ(p, tgid), tid;

        if (in_pidns && !task_ids(p, &tgid, &tid))
                return 0;
        if (!bpf_map_lookup_elem(&targets, &tgid))
                return 0;
        /* signal->live drops to zero before this tracepoint when the last
         * thread of the group exits: only then is the process gone */
        if (BPF_CORE_READ(p, signal, live.counter) != 0)
                return 0;
        /* userspace removes it from the set once it is really gone: on
         * recent kernels this runs before the address space is torn down,
         * and that teardown is the process's to pay for */
        emit(PROFILE_EVENT_EXIT, tgid, p);
        return 0;
}
