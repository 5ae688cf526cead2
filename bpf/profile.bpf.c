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

#define EEXIST 17
#define ENOMEM 12

char LICENSE[] SEC("license") = "GPL";

const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile bool follow_children = true;

/* which map set the program fills, flipped by userspace */
__u32 active = 0;

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __type(key, __u32);   /* tgid */
        __type(value, __u32); /* execs so far: tells samples of old and new image apart */
        __uint(max_entries, 16384);
} targets SEC(".maps");

struct stack_map {
        __uint(type, BPF_MAP_TYPE_STACK_TRACE);
        __uint(key_size, sizeof(__u32));
        __uint(value_size, PROFILE_MAX_STACK * sizeof(__u64));
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

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline struct profile_stats *get_stats(void) {
        __u32 zero = 0;
        return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline bool stack_lost(long id) {
        return id == -EEXIST || id == -ENOMEM;
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

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx) {
        __u64 id = bpf_get_current_pid_tgid();
        __u32 tgid = id >> 32, tid = (__u32) id;
        struct profile_stats *st;
        struct profile_key key = {};

        if (tid == 0)
                return 0;
        __u32 *gen = bpf_map_lookup_elem(&targets, &tgid);
        if (!gen)
                return 0;
        st = get_stats();
        /* read the set once: userspace may flip it while we run */
        __u32 set = *(volatile __u32 *) &active & 1;

        key.tgid = tgid;
        key.tid = tid;
        key.user_stack_id = -1;
        key.kernel_stack_id = -1;
        key.exec_gen = *gen;
        bpf_get_current_comm(key.comm, sizeof(key.comm));
        /* the process name as it is now: names follow exec and prctl
         * (bpf_get_current_task, not _btf: that one needs 5.11) */
        struct task_struct *task = (struct task_struct *) bpf_get_current_task();
        BPF_CORE_READ_STR_INTO(&key.process_comm, task, group_leader, comm);

        /* Each branch names its maps directly: the verifier wants a map
         * pointer it can see, not one chosen at run time. */
        if (set) {
                if (kernel_stacks)
                        key.kernel_stack_id = bpf_get_stackid(ctx, &stacks1, 0);
                if (user_stacks)
                        key.user_stack_id = bpf_get_stackid(ctx, &stacks1, BPF_F_USER_STACK);
        } else {
                if (kernel_stacks)
                        key.kernel_stack_id = bpf_get_stackid(ctx, &stacks0, 0);
                if (user_stacks)
                        key.user_stack_id = bpf_get_stackid(ctx, &stacks0, BPF_F_USER_STACK);
        }
        if (stack_lost(key.kernel_stack_id) || stack_lost(key.user_stack_id)) {
                if (st)
                        __sync_fetch_and_add(&st->lost_stackmap, 1);
                return 0;
        }
        if (set)
                count(&counts1, &key, st);
        else
                count(&counts0, &key, st);
        if (st)
                __sync_fetch_and_add(&st->samples, 1);
        return 0;
}

static __always_inline void emit(__u32 type, __u32 pid, __u32 ppid, __u32 exec_gen,
                                 struct task_struct *task) {
        struct profile_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

        if (!e) {
                struct profile_stats *st = get_stats();
                if (st)
                        __sync_fetch_and_add(&st->lost_events, 1);
                return;
        }
        e->type = type;
        e->pid = pid;
        e->ppid = ppid;
        e->exec_gen = exec_gen;
        BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
        bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child) {
        __u32 ptgid = BPF_CORE_READ(parent, tgid);
        __u32 ctgid = BPF_CORE_READ(child, tgid);
        __u32 zero = 0;

        /* a new thread shares its tgid and is a target already */
        if (!follow_children || ctgid == ptgid || !bpf_map_lookup_elem(&targets, &ptgid))
                return 0;
        if (bpf_map_update_elem(&targets, &ctgid, &zero, BPF_ANY) < 0) {
                struct profile_stats *st = get_stats();
                if (st)
                        __sync_fetch_and_add(&st->lost_targets, 1);
                return 0;
        }
        emit(PROFILE_EVENT_FORK, ctgid, ptgid, 0, child);
        return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
        __u32 tgid = BPF_CORE_READ(p, tgid);
        __u32 *gen = bpf_map_lookup_elem(&targets, &tgid);

        /* exec runs alone in its process (other threads are gone by now),
         * so a plain increment is safe; fetch-and-add would need BPF v3 */
        if (gen) {
                __u32 g = *gen + 1;
                *gen = g;
                emit(PROFILE_EVENT_EXEC, tgid, 0, g, p);
        }
        return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p) {
        __u32 tgid = BPF_CORE_READ(p, tgid);

        if (!bpf_map_lookup_elem(&targets, &tgid))
                return 0;
        /* signal->live drops to zero before this tracepoint when the last
         * thread of the group exits: only then is the process gone */
        if (BPF_CORE_READ(p, signal, live.counter) != 0)
                return 0;
        /* userspace removes it from the set once it is really gone: on
         * recent kernels this runs before the address space is torn down,
         * and that teardown is the process's to pay for */
        emit(PROFILE_EVENT_EXIT, tgid, 0, 0, p);
        return 0;
}
