/* The side-event stream of the BPF backend (declared in
 * sampler-internal.h): process life events from one system-wide dummy
 * event per CPU, so that mappings are known from the moment they are made,
 * also for processes gone before anyone reads /proc/PID/maps.
 *
 * System-wide rather than per target: a per-target inherited event would
 * need a descriptor per (thread, CPU), and the BPF backend needs
 * CAP_PERFMON anyway. The price is reading every process's records and
 * dropping those of non-targets, which is cheap next to a sample. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "perf-ring.h"
#include "sampler-internal.h"
#include "util/cleanup.h"
#include "util/time-util.h"

/* Per CPU: 1 MiB holds about 8,000 MMAP2 records, a burst of some 800
 * execs between two drains. */
#define SIDE_RING_PAGES 256

struct perf_side {
        int ncpus;
        struct perf_ring *rings;
        struct perf_procs procs;
        struct perf_batch batch;
        bool enabled;
};

struct perf_side *perf_side_free(struct perf_side *ps) {
        if (!ps)
                return NULL;
        if (ps->rings)
                for (int i = 0; i < ps->ncpus; i++) {
                        int fd = ps->rings[i].fd;
                        perf_ring_unmap(&ps->rings[i]);
                        if (fd >= 0)
                                close(fd);
                }
        free(ps->rings);
        perf_batch_release(&ps->batch);
        perf_procs_release(&ps->procs);
        free(ps);
        return NULL;
}

DEFINE_FREEP(struct perf_side, perf_side_free)

int perf_side_open(const struct sampler_options *o, struct perf_side **ret) {
        _cleanup_(perf_side_freep) struct perf_side *ps = calloc(1, sizeof(*ps));
        _cleanup_free_ int *cpus = NULL;
        int r;

        if (!ps)
                return -ENOMEM;
        ps->procs.children = o->children;
        r = sampler_online_cpus(&cpus, &ps->ncpus);
        if (r < 0)
                return r;
        ps->rings = calloc((size_t) ps->ncpus, sizeof(*ps->rings));
        if (!ps->rings)
                return -ENOMEM;
        for (int i = 0; i < ps->ncpus; i++)
                ps->rings[i].fd = -1;

        for (int i = 0; i < ps->ncpus; i++) {
                struct perf_event_attr attr = {
                        .size = sizeof(attr),
                        .type = PERF_TYPE_SOFTWARE,
                        .config = PERF_COUNT_SW_DUMMY,
                        .sample_period = 1,
                        /* enabled at the first target (see enable()) */
                        .disabled = 1,
                        .watermark = 1,
                        .wakeup_watermark = SIDE_RING_PAGES * (uint32_t) getpagesize() / 2,
                };
                perf_attr_side_records(&attr);
                _cleanup_close_ int fd = (int) syscall(SYS_perf_event_open, &attr, -1, cpus[i], -1,
                                                       PERF_FLAG_FD_CLOEXEC);
                if (fd < 0)
                        return -errno;
                r = perf_ring_map(&ps->rings[i], fd, perf_ring_pages_allowed(SIDE_RING_PAGES));
                if (r < 0)
                        return r;
                TAKE_FD(fd);
        }
        *ret = TAKE_PTR(ps);
        return 0;
}

/* From the first target on, not only at start: its mappings made between
 * its addition and perf_side_start are then kept. Not before it either,
 * so that no other process's records fill the rings (and count as lost)
 * while there is nobody to report. Older records are told apart by time. */
static int enable(struct perf_side *ps) {
        if (ps->enabled)
                return 0;
        for (int i = 0; i < ps->ncpus; i++)
                if (ps->rings[i].fd >= 0 && ioctl(ps->rings[i].fd, PERF_EVENT_IOC_ENABLE, 0) < 0)
                        return -errno;
        ps->enabled = true;
        return 0;
}

int perf_side_add_process(struct perf_side *ps, pid_t pid) {
        char path[64];
        struct stat st;
        int r;

        snprintf(path, sizeof(path), "/proc/%d", pid);
        if (stat(path, &st) < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        r = enable(ps);
        if (r < 0)
                return r;
        return perf_procs_add(&ps->procs, pid);
}

int perf_side_watch_execs(struct perf_side *ps, const struct sampler_exec_watch *w, size_t n) {
        int r = perf_procs_watch_execs(&ps->procs, w, n);
        /* a process that execs now is a target already */
        return r < 0 || n == 0 ? r : enable(ps);
}

bool perf_side_follows(const struct perf_side *ps, pid_t pid) {
        return perf_procs_is_target(&ps->procs, (uint32_t) pid);
}

int perf_side_start(struct perf_side *ps) {
        return enable(ps);
}

/* Whether records wait in the rings: a check of n_cpus ring heads, cheap
 * enough for every sample. */
bool perf_side_pending(const struct perf_side *ps) {
        return !perf_rings_empty(ps->rings, ps->ncpus);
}

/* Returns the number of records the kernel dropped since open (ring
 * overflow), for the caller's lost_events. */
int perf_side_drain(struct perf_side *ps, const struct sampler_callbacks *cb) {
        int r;

        if (!perf_rings_empty(ps->rings, ps->ncpus)) {
                r = perf_batch_fill(&ps->batch, ps->rings, ps->ncpus, 0);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < ps->batch.recs.n; i++) {
                        const char *rec = perf_batch_record(&ps->batch, i);
                        const struct perf_event_header *h = (const void *) rec;
                        if (h->type != PERF_RECORD_SAMPLE)
                                perf_procs_handle(&ps->procs, rec, ps->batch.recs.v[i].len, cb);
                }
        }
        perf_procs_prune(&ps->procs, now_ns());
        return (int) MIN(ps->procs.lost, (uint64_t) INT32_MAX);
}
