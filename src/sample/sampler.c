/* Backend choice and dispatch. AUTO tries BPF first and falls back to
 * perf_event_open when BPF cannot load (no CAP_BPF, old kernel, no BTF),
 * telling the caller why. */
#include <errno.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler-internal.h"
#include "util/cleanup.h"
#include "util/vec.h"

struct sampler {
        const struct sampler_ops *ops;
        void *state;
};

void sampler_cpu_clock_attr(const struct sampler_options *o, struct perf_event_attr *attr) {
        *attr = (struct perf_event_attr) {
                .size = sizeof(*attr),
                .type = PERF_TYPE_SOFTWARE,
                .config = PERF_COUNT_SW_CPU_CLOCK,
                .freq = 1,
                .sample_freq = o->frequency_hz,
                .disabled = 1,
        };
}

int sampler_online_cpus(int **ret_cpus, int *ret_n) {
        _cleanup_fclose_ FILE *f = fopen("/sys/devices/system/cpu/online", "re");
        _cleanup_(vec_freep) VEC(int) cpus = {};
        char buf[4096];

        if (!f)
                return -errno;
        if (!fgets(buf, sizeof(buf), f))
                return -EIO;
        char *save = NULL;
        /* strtok_r: on-demand recordings open their samplers on threads */
        for (char *tok = strtok_r(buf, ",\n", &save); tok; tok = strtok_r(NULL, ",\n", &save)) {
                int a, b;
                int k = sscanf(tok, "%d-%d", &a, &b);
                if (k == 1)
                        b = a;
                else if (k != 2)
                        return -EIO;
                for (int c = a; c <= b; c++)
                        if (cpus.n >= INT_MAX || vec_push(&cpus, c) < 0)
                                return -ENOMEM;
        }
        if (cpus.n == 0)
                return -EIO;
        *ret_n = (int) cpus.n;
        *ret_cpus = TAKE_PTR(cpus.v);
        return 0;
}

int sampler_new(const struct sampler_options *o, struct sampler **ret,
                const char **ret_fallback_reason) {
        _cleanup_free_ struct sampler *s = calloc(1, sizeof(*s));
        int r;

        if (ret_fallback_reason)
                *ret_fallback_reason = NULL;
        if (!s)
                return -ENOMEM;
        if (o->frequency_hz == 0)
                return -EINVAL;

        switch (o->backend) {
        case SAMPLER_BACKEND_BPF:
                s->ops = &sampler_bpf_ops;
                break;
        case SAMPLER_BACKEND_PERF:
                s->ops = &sampler_perf_ops;
                break;
        case SAMPLER_BACKEND_AUTO:
                s->ops = &sampler_bpf_ops;
                r = s->ops->open(o, &s->state);
                if (r >= 0) {
                        *ret = TAKE_PTR(s);
                        return 0;
                }
                if (ret_fallback_reason)
                        *ret_fallback_reason =
                                r == -EPERM || r == -EACCES ? "loading BPF programs needs CAP_BPF and CAP_PERFMON"
                                : r == -ENOENT || r == -ESRCH ? "the kernel lacks BTF or a needed BPF feature"
                                : "the BPF program did not load";
                s->ops = &sampler_perf_ops;
                break;
        }
        r = s->ops->open(o, &s->state);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

struct sampler *sampler_free(struct sampler *s) {
        if (!s)
                return NULL;
        if (s->state)
                s->ops->close(s->state);
        free(s);
        return NULL;
}

int sampler_add_process(struct sampler *s, pid_t pid) {
        return s->ops->add_process(s->state, pid);
}

int sampler_start(struct sampler *s) {
        return s->ops->start(s->state);
}

int sampler_poll(struct sampler *s, int timeout_ms, const struct sampler_callbacks *cb) {
        return s->ops->poll(s->state, timeout_ms, cb);
}

int sampler_stop(struct sampler *s, const struct sampler_callbacks *cb) {
        return s->ops->stop(s->state, cb);
}

void sampler_get_stats(const struct sampler *s, struct sampler_stats *ret) {
        *ret = (struct sampler_stats) {};
        s->ops->get_stats(s->state, ret);
}

const char *sampler_backend_name(const struct sampler *s) {
        return s->ops->name;
}

const char *sampler_notice(const struct sampler *s) {
        return s->ops->notice ? s->ops->notice(s->state) : NULL;
}

bool sampler_follows(const struct sampler *s, pid_t pid) {
        return s->ops->follows(s->state, pid);
}

int sampler_watch_execs(struct sampler *s, const struct sampler_exec_watch *w, size_t n) {
        return s->ops->watch_execs ? s->ops->watch_execs(s->state, w, n) : -EOPNOTSUPP;
}

int sampler_unwind_maps(const struct sampler *s, struct sampler_unwind_maps *ret) {
        return s->ops->unwind_maps ? s->ops->unwind_maps(s->state, ret) : -EOPNOTSUPP;
}
