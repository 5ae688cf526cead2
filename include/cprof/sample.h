/* Sampling: a backend turns target processes and a rate into raw samples.
 *
 * Two backends sit behind this one interface: eBPF (src/sample/bpf.c, the
 * default; identical stacks are aggregated in kernel maps) and plain
 * perf_event_open ring buffers (src/sample/perf_event.c, the fallback).
 * Both deliver the same struct raw_sample, so every later stage is blind
 * to which one ran. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SAMPLE_MAX_STACK 127 /* perf_event_max_stack on the kernels we target */

enum sampler_backend {
        SAMPLER_BACKEND_AUTO, /* bpf, falling back to perf */
        SAMPLER_BACKEND_BPF,
        SAMPLER_BACKEND_PERF,
};

/* A frame found by other means than the native stack walk (later: Python
 * frames read by the BPF program), spliced in by the unwinder. */
struct raw_frame {
        uint64_t id;   /* backend-defined, e.g. a code object address */
        uint64_t data; /* e.g. an instruction offset */
        uint32_t kind; /* enum frame_kind */
};

enum sample_reg {
        SAMPLE_REG_IP,
        SAMPLE_REG_SP,
        SAMPLE_REG_BP,
        SAMPLE_NREGS,
};

struct raw_sample {
        uint32_t tgid, tid;
        uint64_t count;   /* samples aggregated into this record */
        uint64_t time_ns; /* CLOCK_MONOTONIC of the sample, 0 if aggregated */
        /* Execs of the process since it became a target, before this
         * sample: which image ran (0 for the image it had then). */
        uint32_t exec_gen;
        const char *comm;         /* the thread's name at sample time, may be NULL */
        const char *process_comm; /* the process's name at sample time, may be NULL */
        /* frame-pointer stacks, leaf first; [0] is the interrupted address */
        const uint64_t *kstack;
        uint32_t n_kstack;
        const uint64_t *ustack;
        uint32_t n_ustack;
        /* for DWARF unwinding (sampler_options.stack_copy): the user
         * registers (SAMPLE_NREGS, indexed by enum sample_reg; NULL when
         * not captured: a kernel thread, or no copy asked for) and a copy
         * of user memory from ustack_copy_addr up, which holds the stack
         * from the stack pointer up to where the copy ended */
        const uint64_t *uregs;
        const void *ustack_copy;
        uint64_t ustack_copy_addr;
        uint32_t ustack_copy_len;
        /* the copy stopped at its size limit, not at the end of the stack */
        bool ustack_copy_full;
        /* The backend unwound the user stack with CFI itself (in the
         * kernel; with check_walk the copy is there as well): ustack holds all of it, leaf first, n_ustack may exceed
         * SAMPLE_MAX_STACK, frames whose pc is exact (not a return
         * address) have SAMPLE_FRAME_EXACT set, and ustack_end says why it
         * ended (enum unwind_end). */
        bool ustack_unwound;
        uint8_t ustack_end;
        /* extra frames (NULL/0 when none) */
        const struct raw_frame *extra;
        uint32_t n_extra;
};

/* What happened to a target process, for the symbolizer: read its maps
 * while it lives, forget it when it is gone. */
enum process_event_type {
        PROCESS_EVENT_NEW,  /* a new process (fork/exec) to sample */
        /* a process that became a target at exec, its new name being one
         * sampler_watch_execs() was given: match says which (a target
         * that execs into such a name is an EXEC with match set) */
        PROCESS_EVENT_MATCHED,
        PROCESS_EVENT_EXEC, /* the process replaced its image */
        PROCESS_EVENT_RENAME, /* the main thread changed its name (prctl) */
        PROCESS_EVENT_MMAP, /* a new executable mapping (perf backend) */
        PROCESS_EVENT_EXIT,
};

struct process_event {
        enum process_event_type type;
        uint32_t pid;
        uint32_t ppid; /* for NEW */
        /* MATCHED, and EXEC into a watched name: the tag of the name (0:
         * no watched name) */
        uint32_t match;
        uint64_t time_ns; /* when it happened (CLOCK_MONOTONIC), 0 if unknown */
        const char *comm; /* the process name after NEW/EXEC/RENAME, may be NULL */
        /* EXEC: the new image's generation (see raw_sample.exec_gen);
         * MMAP: the generation of the image the mapping belongs to */
        uint32_t exec_gen;
        /* for MMAP (dev and inode 0 when not known) */
        uint64_t start, len, pgoff;
        uint64_t dev, inode;
        const char *path;
};

struct sampler_callbacks {
        /* return < 0 to stop polling with that error */
        int (*sample)(void *userdata, const struct raw_sample *s);
        void (*process_event)(void *userdata, const struct process_event *e);
        void *userdata;
};

struct sampler_options {
        enum sampler_backend backend;
        unsigned frequency_hz;
        bool user_stacks;   /* collect user stacks */
        bool kernel_stacks; /* collect kernel stacks */
        bool children;      /* follow processes forked by the targets */
        /* 0: user stacks are frame-pointer chains the kernel walked.
         * Else each sample carries the user registers and a copy of up to
         * this many bytes of user stack (for DWARF unwinding); the copy
         * ends earlier at the end of the stack. The perf backend's limit
         * is SAMPLE_PERF_MAX_COPY. */
        uint32_t stack_copy;
        /* BPF: unwind user stacks in the kernel with the CFI tables loaded
         * into the maps of sampler_unwind_maps(); what cannot be unwound
         * there comes as a copy (needs stack_copy) */
        bool kernel_unwind;
        bool dwarf_only;    /* no frame-pointer step where there is no CFI */
        /* kernel_unwind: send every sample as a copy too, with the
         * kernel's walk in ustack, to check the walk (--unwind-check) */
        bool check_walk;
        uint32_t max_depth; /* user frames kept at most */
};

/* The kernel unwinder's tables (bpf/profile.h: struct unwind_row in an
 * array of rows_max, struct unwind_proc per (tgid, exec generation)). */
struct sampler_unwind_maps {
        int rows_fd;
        uint32_t rows_max;
        void *rows_mem; /* the row array mapped writable, or NULL (update rows_fd) */
        int procs_fd;
        uint32_t procs_max;
};

#define SAMPLE_FRAME_EXACT (1ULL << 63)

/* sampler_options.stack_copy: the backend's default size */
#define SAMPLE_COPY_DEFAULT UINT32_MAX
#define SAMPLE_BPF_DEFAULT_COPY (256u * 1024u)
#define SAMPLE_PERF_DEFAULT_COPY (16u * 1024u)
/* What perf_event_open copies at most (sample_stack_user is a u16 record
 * size in the kernel, less the record's other fields). */
#define SAMPLE_PERF_MAX_COPY 65528u
/* What the BPF program copies at most: its per-CPU scratch. */
#define SAMPLE_BPF_MAX_COPY (512u * 1024u)

struct sampler_stats {
        uint64_t samples;       /* samples delivered */
        uint64_t lost;          /* all samples lost, the sum of: */
        uint64_t lost_ring;     /* ring buffer overflow */
        uint64_t lost_stackmap; /* stack store full (BPF) */
        uint64_t lost_counts;   /* aggregation map full */
        /* not samples, but what they may be missing */
        uint64_t lost_events;     /* process events (fork, exec) lost */
        uint64_t children_missed; /* children not followed: target set full */
        /* perf backend: what it knows it could not follow (its lost ring
         * records are in lost_ring) */
        uint64_t threads_missed; /* threads whose events could not be opened */
        uint64_t throttled;      /* times the kernel throttled sampling */
        /* BPF with kernel_unwind: user stacks unwound in the kernel, and
         * samples sent as a copy instead (a table not loaded yet, or a
         * stack deeper than the kernel's per-sample budget) */
        uint64_t kernel_unwound;
        uint64_t copy_fallback;
        /* bytes of sample records with a stack copy the kernel handed over */
        uint64_t copied_bytes;
};

struct sampler;

/* Opens the backend (for AUTO: bpf, else perf; *ret_fallback_reason is set
 * to a static string saying why bpf was not used, or NULL). */
int sampler_new(const struct sampler_options *o, struct sampler **ret,
                const char **ret_fallback_reason);
struct sampler *sampler_free(struct sampler *s);

/* Adds a process (all its threads, and those it creates later) before or
 * after sampler_start(). -ESRCH when it does not exist. */
int sampler_add_process(struct sampler *s, pid_t pid);
int sampler_start(struct sampler *s);
/* Waits up to timeout_ms for data and delivers what arrived. */
int sampler_poll(struct sampler *s, int timeout_ms, const struct sampler_callbacks *cb);
/* Stops sampling and delivers everything still buffered. */
int sampler_stop(struct sampler *s, const struct sampler_callbacks *cb);
void sampler_get_stats(const struct sampler *s, struct sampler_stats *ret);
const char *sampler_backend_name(const struct sampler *s);
/* -EOPNOTSUPP unless the backend unwinds in the kernel. */
int sampler_unwind_maps(const struct sampler *s, struct sampler_unwind_maps *ret);
/* Names that make a process a target the moment it execs, before its
 * first instruction (replacing any set before), so that processes living
 * less than a scan of /proc are sampled whole: a PROCESS_EVENT_MATCHED
 * carries the tag of the name matched. Names as in /proc/PID/comm (an
 * exec sets the file's name cut to 15 bytes; a longer one never matches);
 * the first of equal names wins. -EOPNOTSUPP for a backend that cannot
 * (perf: it sees only the processes it follows), -E2BIG past 256 names. */
struct sampler_exec_watch {
        const char *comm;
        uint32_t tag;
};
int sampler_watch_execs(struct sampler *s, const struct sampler_exec_watch *w, size_t n);
/* Whether pid is in the target set now: added, or followed from a target
 * (an exited one leaves it). */
bool sampler_follows(const struct sampler *s, pid_t pid);
/* A one-line notice for the user about how sampling runs (e.g. user frames
 * only for lack of privileges), or NULL. */
const char *sampler_notice(const struct sampler *s);
