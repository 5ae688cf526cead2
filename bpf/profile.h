/* Types shared by bpf/profile.bpf.c and src/sample/bpf.c. */
#pragma once

#define PROFILE_MAX_STACK 127 /* perf_event_max_stack: 128 x 8 gives EINVAL */
#define PROFILE_COMM_LEN 16

/* A stack as the store keys it: return addresses leaf first, zero after
 * the last (bpf_get_stack clears the rest of the buffer). The whole
 * content is the key, so two stacks never share an entry: the store can
 * only be full, never collide. */
struct profile_stack {
        __u64 ips[PROFILE_MAX_STACK];
};

/* One aggregation key: identical (task, stacks) samples share a counter.
 * Stack ids are the store's values: unique within one map set, 0 for no
 * stack (a sample in user mode has no kernel stack). */
struct profile_key {
        __u32 tgid; /* in cprof's PID namespace */
        __u32 tid;
        __u64 user_stack_id;
        __u64 kernel_stack_id;
        char comm[PROFILE_COMM_LEN];         /* the thread's name */
        char process_comm[PROFILE_COMM_LEN]; /* the main thread's: the process name */
        __u32 exec_gen; /* execs of the process before this sample: which image ran */
        __u32 pad;
};

/* What the program tells userspace by itself; forks, execs and mappings
 * come from perf records (src/sample/perf-side.c). */
enum profile_event_type {
        PROFILE_EVENT_EXIT = 3, /* the last thread of a target exited */
};

struct profile_event {
        __u32 type;
        __u32 pid;
        char comm[PROFILE_COMM_LEN];
};

/* With a stack copy (DWARF unwinding in userspace), each sample is one
 * record in the `copies` ring: this header, then copy_len bytes of user
 * memory from copy_addr (the page holding sp) up. */
#define PROFILE_MAX_COPY (512 * 1024) /* SAMPLE_BPF_MAX_COPY */
#define PROFILE_COPY_REGS 0x1 /* regs and the copy are there (a user task) */
#define PROFILE_COPY_FULL 0x2 /* the copy stopped at its size, not at the stack's end */

struct profile_sample {
        __u32 tgid, tid; /* in cprof's PID namespace */
        __u32 exec_gen;
        __u32 n_kstack; /* kernel frames in kstack */
        __u32 copy_len;
        __u32 flags;    /* PROFILE_COPY_* */
        __u64 time_ns;
        __u64 ip, sp, bp; /* user registers */
        __u64 copy_addr;
        char comm[PROFILE_COMM_LEN];
        char process_comm[PROFILE_COMM_LEN];
        __u64 kstack[PROFILE_MAX_STACK];
};

/* Per-CPU counters of what the program could not record. */
struct profile_stats {
        __u64 samples;
        __u64 lost_stackmap; /* stack store full */
        __u64 lost_counts;   /* aggregation map full */
        __u64 lost_events;   /* ring buffer full */
        __u64 lost_targets;  /* a child not followed: target set full */
        __u64 lost_copies;   /* stack copy ring full */
};
