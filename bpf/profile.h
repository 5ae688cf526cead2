/* Types shared by bpf/profile.bpf.c and src/sample/bpf.c. */
#pragma once

#define PROFILE_MAX_STACK 127 /* perf_event_max_stack: 128 x 8 gives EINVAL */
#define PROFILE_COMM_LEN 16

/* One aggregation key: identical (task, stacks) samples share a counter. */
struct profile_key {
        __u32 tgid;
        __u32 tid;
        __s32 user_stack_id;   /* < 0: none */
        __s32 kernel_stack_id; /* < 0: none (-EFAULT when the sample hit user mode) */
        char comm[PROFILE_COMM_LEN];         /* the thread's name */
        char process_comm[PROFILE_COMM_LEN]; /* the main thread's: the process name */
        __u32 exec_gen; /* execs of the process before this sample: which image ran */
        __u32 pad;
};

enum profile_event_type {
        PROFILE_EVENT_FORK = 1, /* a target forked a new process, now a target too */
        PROFILE_EVENT_EXEC = 2,
        PROFILE_EVENT_EXIT = 3, /* the last thread of a target exited */
};

struct profile_event {
        __u32 type;
        __u32 pid;
        __u32 ppid;
        __u32 exec_gen; /* EXEC: the process's exec count after it */
        char comm[PROFILE_COMM_LEN];
};

/* Per-CPU counters of what the program could not record. */
struct profile_stats {
        __u64 samples;
        __u64 lost_stackmap; /* stack map full or hash collision (-EEXIST) */
        __u64 lost_counts;   /* aggregation map full */
        __u64 lost_events;   /* ring buffer full */
        __u64 lost_targets;  /* a child not followed: target set full */
};
