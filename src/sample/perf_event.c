/* The perf_event_open backend, for machines where BPF cannot load.
 *
 * One cpu-clock event per (thread, CPU) with inherit=1, so threads and
 * children created later are sampled too (inherit with cpu=-1 cannot be
 * mmapped). Each CPU has one ring; the other events of that CPU write into
 * it (PERF_EVENT_IOC_SET_OUTPUT). Besides samples the rings carry MMAP2,
 * COMM, FORK and EXIT records, so processes that exit before we look at
 * them are still symbolized. */
#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <poll.h>
#include <unistd.h>

#include "perf-ring.h"
#include "sampler-internal.h"
#include "util/cleanup.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/vec.h"

#define RING_PAGES 256 /* per CPU: 1 MiB, a few seconds at 10 kHz */

struct perf_sampler {
        struct sampler_options opts;
        int *cpus;
        int ncpus;
        struct perf_ring *rings;
        VEC(int) fds;
        struct u64map tids;      /* threads with events open */
        struct perf_procs procs; /* tgids whose samples we keep */
        struct sampler_stats stats;
        size_t ring_pages;   /* data pages per ring, a power of two */
        bool exclude_kernel; /* not allowed to sample the kernel */
        const char *notice;
        struct perf_batch batch; /* records of one drain, in time order */
        uint64_t lost_seen;      /* procs.lost already in stats */
        bool started;
};

static void perf_close(void *state) {
        struct perf_sampler *ps = state;

        if (!ps)
                return;
        for (size_t i = 0; i < ps->fds.n; i++)
                close(ps->fds.v[i]);
        vec_free(&ps->fds);
        if (ps->rings)
                for (int i = 0; i < ps->ncpus; i++)
                        perf_ring_unmap(&ps->rings[i]);
        free(ps->rings);
        free(ps->cpus);
        perf_batch_release(&ps->batch);
        u64map_release(&ps->tids);
        perf_procs_release(&ps->procs);
        free(ps);
}

static int perf_open(const struct sampler_options *o, void **ret_state) {
        struct perf_sampler *ps = calloc(1, sizeof(*ps));
        int r;

        if (!ps)
                return -ENOMEM;
        ps->opts = *o;
        ps->procs.children = o->children;
        r = sampler_online_cpus(&ps->cpus, &ps->ncpus);
        if (r < 0)
                goto fail;
        ps->rings = calloc((size_t) ps->ncpus, sizeof(*ps->rings));
        if (!ps->rings) {
                r = -ENOMEM;
                goto fail;
        }
        for (int i = 0; i < ps->ncpus; i++)
                ps->rings[i].fd = -1;

        /* Fail now, with the reason, rather than at the first target:
         * an event on ourselves needs the same permission. */
        struct perf_event_attr attr;
        sampler_cpu_clock_attr(o, &attr);
        int fd = (int) syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0 && (errno == EACCES || errno == EPERM) && o->user_stacks) {
                /* kernel.perf_event_paranoid=2 lets users sample their own
                 * processes in user mode only: do that, as perf does */
                attr.exclude_kernel = 1;
                attr.exclude_hv = 1;
                fd = (int) syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
                if (fd >= 0) {
                        ps->exclude_kernel = true;
                        ps->opts.kernel_stacks = false;
                        ps->notice = "kernel frames need root or CAP_PERFMON (or "
                                     "kernel.perf_event_paranoid <= 1): recording user frames only";
                }
        }
        if (fd < 0) {
                r = -errno;
                goto fail;
        }
        close(fd);
        ps->ring_pages = perf_ring_pages_allowed(RING_PAGES);
        *ret_state = ps;
        return 0;
fail:
        perf_close(ps);
        return r;
}

static int open_thread(struct perf_sampler *ps, pid_t tid) {
        uint64_t dummy;
        int r;

        if (u64map_get(&ps->tids, (uint64_t) tid, &dummy))
                return 0;

        for (int i = 0; i < ps->ncpus; i++) {
                struct perf_event_attr attr;
                sampler_cpu_clock_attr(&ps->opts, &attr);
                attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
                                   PERF_SAMPLE_CALLCHAIN;
                perf_attr_side_records(&attr);
                attr.inherit = 1;
                attr.exclude_callchain_user = !ps->opts.user_stacks;
                attr.exclude_callchain_kernel = !ps->opts.kernel_stacks;
                attr.exclude_kernel = ps->exclude_kernel;
                attr.exclude_hv = ps->exclude_kernel;
                attr.sample_max_stack = SAMPLE_MAX_STACK;
                attr.watermark = 1;
                attr.wakeup_watermark = (uint32_t) (ps->ring_pages * (size_t) getpagesize() / 4);
                attr.disabled = !ps->started;

                int fd = (int) syscall(SYS_perf_event_open, &attr, tid, ps->cpus[i], -1,
                                       PERF_FLAG_FD_CLOEXEC);
                if (fd < 0)
                        return -errno;
                r = vec_push(&ps->fds, fd);
                if (r < 0) {
                        close(fd);
                        return r;
                }

                struct perf_ring *ring = &ps->rings[i];
                if (ring->fd < 0) {
                        r = perf_ring_map(ring, fd, ps->ring_pages);
                        if (r < 0)
                                return r;
                } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, ring->fd) < 0) {
                        return -errno;
                }
        }
        return u64map_put(&ps->tids, (uint64_t) tid, 1);
}

/* Opens events for every thread of pid, again until no new thread shows
 * up: a thread created by one whose event was not open yet is not
 * inherited. */
static int perf_add_process(void *state, pid_t pid) {
        struct perf_sampler *ps = state;
        char path[64];
        int r;

        r = perf_procs_add(&ps->procs, pid);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "/proc/%d/task", pid);
        for (int round = 0; round < 10; round++) {
                _cleanup_(closedirp) DIR *d = opendir(path);
                struct dirent *de;
                bool added = false;

                if (!d)
                        return errno == ENOENT ? -ESRCH : -errno;
                while ((de = readdir(d))) {
                        int tid = atoi(de->d_name);
                        uint64_t dummy;
                        if (tid <= 0 || u64map_get(&ps->tids, (uint64_t) tid, &dummy))
                                continue;
                        r = open_thread(ps, tid);
                        if (r == -ESRCH)
                                continue; /* the thread exited meanwhile */
                        if (r < 0)
                                return r;
                        added = true;
                }
                if (!added)
                        break;
        }
        return 0;
}

static int perf_start(void *state) {
        struct perf_sampler *ps = state;

        for (size_t i = 0; i < ps->fds.n; i++)
                if (ioctl(ps->fds.v[i], PERF_EVENT_IOC_ENABLE, 0) < 0)
                        return -errno;
        ps->started = true;
        return 0;
}

static int handle_sample(struct perf_sampler *ps, const char *rec, size_t size,
                         const struct sampler_callbacks *cb) {
        const char *p = rec + sizeof(struct perf_event_header), *end = rec + size;
        uint64_t kstack[SAMPLE_MAX_STACK], ustack[SAMPLE_MAX_STACK];
        uint32_t nk = 0, nu = 0;

        /* IP, TID, TIME, CALLCHAIN: the order of sample_type bits */
        if (p + 8 + 8 + 8 + 8 > end)
                return 0;
        uint32_t pid, tid;
        uint64_t time, nr;
        memcpy(&pid, p + 8, 4);
        memcpy(&tid, p + 12, 4);
        memcpy(&time, p + 16, 8);
        memcpy(&nr, p + 24, 8);
        p += 32;
        if (nr > (uint64_t) (end - p) / 8)
                return 0;

        if (!perf_procs_is_target(&ps->procs, pid))
                return 0; /* an inherited child while --no-children */

        uint64_t *dst = NULL;
        uint32_t *dn = NULL;
        for (uint64_t i = 0; i < nr; i++) {
                uint64_t ip;
                memcpy(&ip, p + i * 8, 8);
                if (ip >= (uint64_t) PERF_CONTEXT_MAX) {
                        if (ip == (uint64_t) PERF_CONTEXT_KERNEL) {
                                dst = kstack;
                                dn = &nk;
                        } else if (ip == (uint64_t) PERF_CONTEXT_USER) {
                                dst = ustack;
                                dn = &nu;
                        } else {
                                dst = NULL; /* guest or hypervisor frames */
                        }
                        continue;
                }
                if (dst && *dn < SAMPLE_MAX_STACK)
                        dst[(*dn)++] = ip;
        }

        ps->stats.samples++;
        struct raw_sample s = {
                .tgid = pid, .tid = tid, .count = 1, .time_ns = time,
                .kstack = kstack, .n_kstack = nk, .ustack = ustack, .n_ustack = nu,
        };
        return cb && cb->sample ? cb->sample(cb->userdata, &s) : 0;
}

/* The sample's time follows IP and TID. */
#define SAMPLE_TIME_OFF 16

static int drain_rings(struct perf_sampler *ps, const struct sampler_callbacks *cb) {
        int r = perf_batch_fill(&ps->batch, ps->rings, ps->ncpus, SAMPLE_TIME_OFF);
        if (r < 0)
                return r;
        r = 0;
        for (size_t i = 0; i < ps->batch.recs.n && r >= 0; i++) {
                const char *rec = perf_batch_record(&ps->batch, i);
                struct perf_event_header h;
                memcpy(&h, rec, sizeof(h));
                if (h.type == PERF_RECORD_SAMPLE)
                        r = handle_sample(ps, rec, h.size, cb);
                else
                        perf_procs_handle(&ps->procs, rec, h.size, cb);
        }
        uint64_t lost = ps->procs.lost - ps->lost_seen;
        ps->lost_seen = ps->procs.lost;
        ps->stats.lost_ring += lost;
        ps->stats.lost += lost;
        return r;
}

static int perf_poll(void *state, int timeout_ms, const struct sampler_callbacks *cb) {
        struct perf_sampler *ps = state;
        struct pollfd pfds[ps->ncpus];
        int n = 0;

        for (int i = 0; i < ps->ncpus; i++)
                if (ps->rings[i].fd >= 0)
                        pfds[n++] = (struct pollfd) { .fd = ps->rings[i].fd, .events = POLLIN };
        if (n > 0 && poll(pfds, (nfds_t) n, timeout_ms) < 0 && errno != EINTR)
                return -errno;
        if (n == 0 && timeout_ms > 0)
                usleep((useconds_t) timeout_ms * 1000);
        return drain_rings(ps, cb);
}

static int perf_stop(void *state, const struct sampler_callbacks *cb) {
        struct perf_sampler *ps = state;

        for (size_t i = 0; i < ps->fds.n; i++)
                ioctl(ps->fds.v[i], PERF_EVENT_IOC_DISABLE, 0);
        return drain_rings(ps, cb);
}

static const char *perf_notice(const void *state) {
        const struct perf_sampler *ps = state;
        return ps->notice;
}

static void perf_get_stats(const void *state, struct sampler_stats *ret) {
        const struct perf_sampler *ps = state;
        *ret = ps->stats;
}

const struct sampler_ops sampler_perf_ops = {
        .name = "perf",
        .open = perf_open,
        .close = perf_close,
        .add_process = perf_add_process,
        .start = perf_start,
        .poll = perf_poll,
        .stop = perf_stop,
        .get_stats = perf_get_stats,
        .notice = perf_notice,
};
