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

/* Per-CPU counters of what the program could not record. */
struct profile_stats {
        __u64 samples;
        __u64 lost_stackmap; /* stack store full */
        __u64 lost_counts;   /* aggregation map full */
        __u64 lost_events;   /* ring buffer full */
        __u64 lost_targets;  /* a child not followed: target set full */
};
