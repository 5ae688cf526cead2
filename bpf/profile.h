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

/* A process name that makes a process a target the moment it execs
 * (the exec'd file's name, as the kernel cuts it into task->comm), so
 * that processes living less than a scan interval are sampled whole.
 * The value is the caller's tag (unused by the program). */
struct profile_exec_comm {
        char comm[PROFILE_COMM_LEN]; /* NUL-padded */
};
#define PROFILE_MAX_EXEC_COMMS 256

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
        /* 0: user_stack_id is a frame-pointer stack in the stack store;
         * else the user stack was unwound here with CFI, user_stack_id is
         * its leaf chunk (see struct unwind_chunk) and this is the end
         * reason + 1 (enum unwind_end) */
        __u32 user_end;
};

/* In-kernel unwinding with CFI tables (src/unwind/kernel-tables.c loads
 * them). The values of enum cfi_cfa_rule / cfi_reg_rule and enum
 * unwind_end, which userspace checks at build time. */
#define UNWIND_CFA_NONE 0
#define UNWIND_CFA_RSP 1
#define UNWIND_CFA_RBP 2
#define UNWIND_CFA_DEREF_RSP 3
#define UNWIND_CFA_PLT 4
#define UNWIND_REG_UNDEFINED 0
#define UNWIND_REG_SAME 1
#define UNWIND_REG_AT_CFA 2
#define UNWIND_REG_AT_RSP 3
#define UNWIND_END_COMPLETE_ 0
#define UNWIND_END_NO_CFI_ 1
#define UNWIND_END_UNSUPPORTED_ 2
#define UNWIND_END_NOT_COPIED_ 3
#define UNWIND_END_DEPTH_ 4
#define UNWIND_END_BAD_FRAME_ 5

/* One table row: as struct cfi_row, with the pc as the low 32 bits of the
 * ELF address (modules whose code lies above 4 GiB are not loaded). */
struct unwind_row {
        __u32 pc;
        __s32 cfa_off;
        __s16 ra_off, rbp_off;
        __u8 cfa, ra, rbp;
        __u8 flags; /* bit 0: signal frame; bits 4-7: the PLT threshold */
};

#define UNWIND_ROW_SIGNAL 0x1
#define UNWIND_MAX_SPANS 512 /* executable mappings of one process */
#define UNWIND_NOT_LOADED 0xffffffffu

/* One executable mapping of a process. */
struct unwind_span {
        __u64 start, end;
        __u64 bias;      /* ELF address = address - bias */
        __u32 rows_first; /* UNWIND_NOT_LOADED: its table is not loaded (yet) */
        __u32 rows_n;     /* 0: no CFI (JIT code, or a module without any) */
};

struct unwind_proc_key {
        __u32 tgid, gen;
};

/* A process image's mappings, sorted by start. */
struct unwind_proc {
        __u32 n;
        __u32 pad;
        struct unwind_span spans[UNWIND_MAX_SPANS];
};

/* A user stack unwound here is stored in chunks, root chunk first in:
 * each chunk holds up to UNWIND_CHUNK frames leaf first and the id of
 * the chunk nearer the root (0 for the root one); chunks are aligned at
 * the root (the leaf's is the partial one), so stacks that share their
 * root part share its chunks. A frame whose pc is exact (the first,
 * and the one after a signal frame) has UNWIND_EXACT set. */
#define UNWIND_WALK_MAX 4096 /* frames the kernel walks at most per sample */
#define UNWIND_CHUNK 31
#define UNWIND_EXACT (1ULL << 63)
struct unwind_chunk {
        __u64 prev;
        __u64 ips[UNWIND_CHUNK];
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
        /* with check_mode: the kernel's own walk of this sample, n_walk
         * frames (as struct unwind_chunk's) after the copy; walk_end is
         * its end reason + 1, 0 when it handed the sample to the copy */
        __u32 n_walk;
        __u32 walk_end;
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
        __u64 kernel_unwound; /* user stacks unwound here */
        __u64 copy_fallback;  /* samples sent as a stack copy: table missing or over budget */
};
