/* The backend interface behind include/cprof/sample.h: each backend fills
 * a struct sampler_ops, and sampler.c dispatches to it. */
#pragma once

#include "cprof/sample.h"

struct sampler_ops {
        const char *name;
        int (*open)(const struct sampler_options *o, void **ret_state);
        void (*close)(void *state);
        int (*add_process)(void *state, pid_t pid);
        int (*start)(void *state);
        int (*poll)(void *state, int timeout_ms, const struct sampler_callbacks *cb);
        int (*stop)(void *state, const struct sampler_callbacks *cb);
        void (*get_stats)(const void *state, struct sampler_stats *ret);
        /* what the user should know about how sampling runs, or NULL */
        const char *(*notice)(const void *state);
};

extern const struct sampler_ops sampler_bpf_ops;
extern const struct sampler_ops sampler_perf_ops;

/* Shared by both backends: the perf_event_attr of a cpu-clock sampling
 * event at o->frequency_hz. */
struct perf_event_attr;
void sampler_cpu_clock_attr(const struct sampler_options *o, struct perf_event_attr *attr);
/* Online CPUs as a list of ids (from /sys/devices/system/cpu/online). */
int sampler_online_cpus(int **ret_cpus, int *ret_n);
