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

#include "sampler-internal.h"
#include "util/cleanup.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/vec.h"

#define RING_PAGES 256 /* per CPU: 1 MiB, a few seconds at 10 kHz */

struct ring {
        int fd;
        void *base;  /* control page followed by the data pages */
        size_t size; /* data size */
};

struct perf_sampler {
        struct sampler_options opts;
        int *cpus;
        int ncpus;
        struct ring *rings;
        VEC(int) fds;
        struct u64map tids;    /* threads with events open */
        struct u64map targets; /* tgids whose samples we keep */
        struct sampler_stats stats;
        size_t ring_pages;   /* data pages per ring, a power of two */
        bool exclude_kernel; /* not allowed to sample the kernel */
        const char *notice;
        VEC(char) batch;              /* records of one drain, copied out of the rings */
        VEC(struct batch_rec) recs;   /* where they are, to sort by time */
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
                        if (ps->rings[i].base)
                                munmap(ps->rings[i].base, ps->rings[i].size + (size_t) getpagesize());
        free(ps->rings);
        free(ps->cpus);
        vec_free(&ps->batch);
        vec_free(&ps->recs);
        u64map_release(&ps->tids);
        u64map_release(&ps->targets);
        free(ps);
}

/* Root may lock any amount; other users share kernel.perf_event_mlock_kb
 * per CPU among all their rings (one control page each). Sized to fit up
 * front, so that the wakeup watermark (a quarter ring) is right. */
static size_t ring_pages_allowed(int ncpus) {
        size_t pages = RING_PAGES;
        int kb = 516;

        (void) ncpus; /* the limit is per CPU, as are our rings */
        if (geteuid() == 0)
                return pages;
        _cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/perf_event_mlock_kb", "re");
        if (f && fscanf(f, "%d", &kb) != 1)
                kb = 516;
        while (pages > 8 && (pages + 1) * (size_t) getpagesize() / 1024 > (size_t) kb)
                pages /= 2;
        return pages;
}

static int perf_open(const struct sampler_options *o, void **ret_state) {
        struct perf_sampler *ps = calloc(1, sizeof(*ps));
        int r;

        if (!ps)
                return -ENOMEM;
        ps->opts = *o;
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
        ps->ring_pages = ring_pages_allowed(ps->ncpus);
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
                attr.inherit = 1;
                attr.mmap = 1;
                attr.mmap2 = 1;
                attr.comm = 1;
                attr.comm_exec = 1;
                attr.task = 1;
                attr.sample_id_all = 1; /* side records carry a time too */
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

                struct ring *ring = &ps->rings[i];
                if (ring->fd < 0) {
                        size_t pages = ps->ring_pages;
                        void *base = MAP_FAILED;
                        /* unprivileged users are limited by perf_event_mlock_kb */
                        for (; pages >= 8; pages /= 2) {
                                base = mmap(NULL, (pages + 1) * (size_t) getpagesize(),
                                            PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                                if (base != MAP_FAILED || errno != EPERM)
                                        break;
                        }
                        if (base == MAP_FAILED)
                                return -errno;
                        ring->fd = fd;
                        ring->base = base;
                        ring->size = pages * (size_t) getpagesize();
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

        r = u64map_put(&ps->targets, (uint64_t) pid, 1);
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

static bool is_target(struct perf_sampler *ps, uint32_t pid) {
        uint64_t dummy;
        return u64map_get(&ps->targets, pid, &dummy);
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

        if (!is_target(ps, pid))
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

static void handle_side_record(struct perf_sampler *ps, const struct perf_event_header *h,
                               const char *rec, size_t size, const struct sampler_callbacks *cb) {
        const char *p = rec + sizeof(*h), *end = rec + size;
        struct process_event e = {};
        uint32_t pid, tid;

        switch (h->type) {
        case PERF_RECORD_MMAP2: {
                /* pid, tid, addr, len, pgoff, maj, min, ino, ino_gen, prot, flags, filename */
                if (p + 8 + 24 + 24 + 8 > end)
                        return;
                uint32_t prot;
                memcpy(&pid, p, 4);
                memcpy(&e.start, p + 8, 8);
                memcpy(&e.len, p + 16, 8);
                memcpy(&e.pgoff, p + 24, 8);
                memcpy(&prot, p + 56, 4);
                const char *name = p + 64;
                if (!(prot & 4 /* PROT_EXEC */) || !is_target(ps, pid) ||
                    !memchr(name, '\0', (size_t) (end - name)))
                        return;
                e.type = PROCESS_EVENT_MMAP;
                e.pid = pid;
                e.path = name;
                break;
        }
        case PERF_RECORD_COMM: {
                if (p + 9 > end)
                        return;
                memcpy(&pid, p, 4);
                memcpy(&tid, p + 4, 4);
                const char *comm = p + 8;
                if (pid != tid || !is_target(ps, pid) || !memchr(comm, '\0', (size_t) (end - comm)))
                        return;
                e.type = h->misc & PERF_RECORD_MISC_COMM_EXEC ? PROCESS_EVENT_EXEC : PROCESS_EVENT_RENAME;
                e.pid = pid;
                e.comm = comm;
                break;
        }
        case PERF_RECORD_FORK:
        case PERF_RECORD_EXIT: {
                uint32_t ppid;
                if (p + 16 > end)
                        return;
                memcpy(&pid, p, 4);
                memcpy(&ppid, p + 4, 4);
                memcpy(&tid, p + 8, 4);
                if (pid != tid)
                        return; /* a thread, not a process */
                if (h->type == PERF_RECORD_FORK) {
                        if (pid == ppid || !ps->opts.children || !is_target(ps, ppid))
                                return;
                        if (u64map_put(&ps->targets, pid, 1) < 0)
                                return;
                        e.type = PROCESS_EVENT_NEW;
                        e.ppid = ppid;
                } else {
                        if (!is_target(ps, pid))
                                return;
                        e.type = PROCESS_EVENT_EXIT;
                }
                e.pid = pid;
                break;
        }
        case PERF_RECORD_LOST: {
                uint64_t lost;
                if (p + 16 > end)
                        return;
                memcpy(&lost, p + 8, 8);
                ps->stats.lost_ring += lost;
                ps->stats.lost += lost;
                return;
        }
        default:
                return;
        }
        if (cb && cb->process_event)
                cb->process_event(cb->userdata, &e);
}

struct batch_rec {
        uint64_t time;
        size_t off; /* in the batch buffer */
        uint32_t len;
        uint32_t seq;
};

/* Every record ends in its time: samples carry PERF_SAMPLE_TIME, the
 * others a sample_id trailer (sample_id_all) whose last field it is. */
static uint64_t record_time(const struct perf_event_header *h, const char *rec) {
        uint64_t t = 0;
        if (h->type == PERF_RECORD_SAMPLE) {
                if (h->size >= sizeof(*h) + 24)
                        memcpy(&t, rec + sizeof(*h) + 16, 8);
        } else if (h->size >= sizeof(*h) + 16) {
                memcpy(&t, rec + h->size - 8, 8);
        }
        return t;
}

/* Copies the records of one ring between tail and head into the batch. */
static int collect_ring(struct perf_sampler *ps, struct ring *ring, uint64_t tail, uint64_t head) {
        const char *data = (const char *) ring->base + getpagesize();
        int r;

        while (tail < head) {
                size_t off = tail % ring->size;
                struct perf_event_header h;
                if (off + sizeof(h) <= ring->size) {
                        memcpy(&h, data + off, sizeof(h));
                } else {
                        size_t first = ring->size - off;
                        memcpy(&h, data + off, first);
                        memcpy((char *) &h + first, data, sizeof(h) - first);
                }
                if (h.size < sizeof(h) || h.size > head - tail)
                        break;

                r = vec_reserve(&ps->batch, ps->batch.n + h.size);
                if (r < 0)
                        return r;
                char *dst = ps->batch.v + ps->batch.n;
                size_t first = MIN((size_t) h.size, ring->size - off);
                memcpy(dst, data + off, first);
                memcpy(dst + first, data, h.size - first);

                struct batch_rec br = {
                        .time = record_time(&h, dst),
                        .off = ps->batch.n,
                        .len = h.size,
                        .seq = (uint32_t) ps->recs.n,
                };
                r = vec_push(&ps->recs, br);
                if (r < 0)
                        return r;
                ps->batch.n += h.size;
                tail += h.size;
        }
        return 0;
}

static int batch_rec_cmp(const void *a, const void *b) {
        const struct batch_rec *x = a, *y = b;
        if (x->time != y->time)
                return x->time < y->time ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Takes in every ring's records and handles them in time order across
 * CPUs: an exec or an mmap reported on one CPU applies to the samples
 * taken after it on another, and not to those taken before. */
static int drain_rings(struct perf_sampler *ps, const struct sampler_callbacks *cb) {
        uint64_t heads[ps->ncpus], tails[ps->ncpus];
        int r = 0;

        ps->batch.n = 0;
        ps->recs.n = 0;
        /* all heads first, in one quick pass: the batch is then (nearly) a
         * cut through time, and what comes after waits for the next one */
        for (int i = 0; i < ps->ncpus; i++) {
                struct perf_event_mmap_page *pg = ps->rings[i].base;
                if (!pg)
                        continue;
                heads[i] = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
                tails[i] = pg->data_tail;
        }
        for (int i = 0; i < ps->ncpus && r >= 0; i++) {
                struct perf_event_mmap_page *pg = ps->rings[i].base;
                if (!pg)
                        continue;
                r = collect_ring(ps, &ps->rings[i], tails[i], heads[i]);
                /* the records are copied: hand the space back at once */
                __atomic_store_n(&pg->data_tail, heads[i], __ATOMIC_RELEASE);
        }
        if (r < 0)
                return r;

        qsort(ps->recs.v, ps->recs.n, sizeof(*ps->recs.v), batch_rec_cmp);
        for (size_t i = 0; i < ps->recs.n && r >= 0; i++) {
                const char *rec = ps->batch.v + ps->recs.v[i].off;
                struct perf_event_header h;
                memcpy(&h, rec, sizeof(h));
                if (h.type == PERF_RECORD_SAMPLE)
                        r = handle_sample(ps, rec, h.size, cb);
                else
                        handle_side_record(ps, &h, rec, h.size, cb);
        }
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
