/* The backend interface behind include/cprof/sample.h: each backend fills
 * a struct sampler_ops, and sampler.c dispatches to it. */
#pragma once

#include "cprof/sample.h"

struct sampler_ops {
        const char *name;
        int (*open)(const struct sampler_options *o, void **ret_state);
        void (*close)(void *state);
        int (*add_process)(void *state, pid_t pid);
        /* whether pid is in the target set now */
        bool (*follows)(const void *state, pid_t pid);
        int (*start)(void *state);
        int (*poll)(void *state, int timeout_ms, const struct sampler_callbacks *cb);
        int (*stop)(void *state, const struct sampler_callbacks *cb);
        void (*get_stats)(const void *state, struct sampler_stats *ret);
        /* what the user should know about how sampling runs, or NULL */
        const char *(*notice)(const void *state);
        /* may be NULL: not supported */
        int (*watch_execs)(void *state, const struct sampler_exec_watch *w, size_t n);
        /* may be NULL: not supported */
        int (*unwind_maps)(const void *state, struct sampler_unwind_maps *ret);
};

extern const struct sampler_ops sampler_bpf_ops;
extern const struct sampler_ops sampler_perf_ops;

/* Shared by both backends: the perf_event_attr of a cpu-clock sampling
 * event at o->frequency_hz. */
struct perf_event_attr;
void sampler_cpu_clock_attr(const struct sampler_options *o, struct perf_event_attr *attr);
/* Online CPUs as a list of ids (from /sys/devices/system/cpu/online). */
int sampler_online_cpus(int **ret_cpus, int *ret_n);

/* Process life events without sampling, for the BPF backend (which has no
 * MMAP records of its own): one system-wide PERF_COUNT_SW_DUMMY event per
 * CPU with mmap2, comm, comm_exec, task and sample_id_all, read by the same
 * record handling as the perf backend's rings. It follows the target set
 * through FORK records (when o->children) and delivers, through
 * cb->process_event, for target processes only and in time order:
 * NEW (fork, exec_gen 0), EXEC (COMM with PERF_RECORD_MISC_COMM_EXEC: the
 * process's generation + 1, which matches the BPF program's count), MMAP
 * (executable file mappings, with the generation current at the time),
 * RENAME and EXIT. Samples (there are none) are never delivered. */
struct perf_side;
int perf_side_open(const struct sampler_options *o, struct perf_side **ret);
struct perf_side *perf_side_free(struct perf_side *ps);
/* A target process (before or after start): its later mappings and
 * children are reported; those it has now are for /proc/PID/maps. */
int perf_side_add_process(struct perf_side *ps, pid_t pid);
int perf_side_start(struct perf_side *ps);
/* Whether pid is in the side stream's target set now. */
bool perf_side_follows(const struct perf_side *ps, pid_t pid);
/* Processes whose exec gives them one of these names become targets as
 * of that exec (MATCHED, exec_gen 0), as the BPF program decides. */
int perf_side_watch_execs(struct perf_side *ps, const struct sampler_exec_watch *w, size_t n);
/* Delivers every record written so far. */
int perf_side_drain(struct perf_side *ps, const struct sampler_callbacks *cb);
bool perf_side_pending(const struct perf_side *ps);
