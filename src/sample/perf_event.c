/* The perf_event_open backend, for machines where BPF cannot load.
 *
 * Two ways to sample, chosen at open:
 *
 * - System-wide (root, CAP_PERFMON or kernel.perf_event_paranoid <= 0):
 *   one cpu-clock event per CPU for every task, as the BPF backend does,
 *   and the target set is applied here from the FORK/COMM/EXIT records the
 *   same rings carry. A per-CPU timer samples whatever runs when it fires,
 *   so a thread or child on a CPU for less than one period is sampled in
 *   proportion to its time, and nothing needs a descriptor per thread.
 *
 * - Per task (everyone else: paranoid 2 allows only one's own tasks): one
 *   cpu-clock event per (thread, CPU) with inherit=1, so threads and
 *   children created later are sampled too (inherit with cpu=-1 cannot be
 *   mmapped), their records sent into one ring per CPU
 *   (PERF_EVENT_IOC_SET_OUTPUT). The kernel gives every inherited event a
 *   timer of its own that starts with a full period, and drops what is
 *   left of it when the task exits: a child or a thread living less than
 *   one period was never sampled, and each lost on average half a period.
 *   The events therefore run PER_TASK_OVERSAMPLE times faster and one
 *   sample of each run of that many is kept (at a random place in it), so
 *   a task loses at most a fraction of the requested period.
 *
 * Besides samples the rings carry MMAP2, COMM, FORK and EXIT records, so
 * processes that exit before we look at them are still symbolized. */
#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "perf-ring.h"
#include "sampler-internal.h"
#include "util/cleanup.h"
#include "util/time-util.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/vec.h"

#define RING_PAGES 256             /* per CPU: 1 MiB, a few seconds at 10 kHz */
#define SYSTEM_WIDE_RING_PAGES 512 /* every task's samples pass through it */
/* with stack copies: 8 MiB per CPU at most (locked memory, per CPU), a
 * few hundred 16K records; the wakeup watermark drains it at a quarter */
#define COPY_RING_MAX_PAGES 2048
/* The per-task events' rate over the requested one, and the highest rate
 * that buys. Each sample interrupt costs the target: on a 2-CPU VM, a
 * CPU-bound program ran 1% longer at 999 Hz, 6% at 2 kHz, 9% at 4 kHz and
 * 19% at 8 kHz, while 0.5 ms children got 2%, 92%, 92% and 94% of their
 * samples. */
#define PER_TASK_OVERSAMPLE 4
#define PER_TASK_MAX_HZ 4000

struct perf_sampler {
        struct sampler_options opts;
        int *cpus;
        int ncpus;
        struct perf_ring *rings;
        VEC(int) fds;
        VEC(pid_t) fd_tids;      /* per task: the thread of each of fds */
        struct u64map tids;      /* per task: threads with events open */
        uint64_t last_sweep_ns;  /* per task: when events of gone threads were last closed */
        bool *ring_hup;          /* per CPU: the ring's own event hung up (see perf_poll) */
        struct perf_procs procs; /* tgids whose samples we keep */
        struct sampler_stats stats;
        size_t ring_pages;   /* data pages per ring, a power of two */
        bool system_wide;    /* one event per CPU for all tasks */
        bool exclude_kernel; /* not allowed to sample the kernel */
        bool nofile_raised;
        const char *notice;
        struct perf_batch batch; /* records of one drain, in time order */
        uint64_t lost_seen;      /* procs.lost already in stats */
        /* per task: keep one sample of each run of `thin` (see the top) */
        unsigned thin;
        unsigned thin_left; /* samples left in the current run */
        unsigned thin_pick; /* the one of them to keep, counted down */
        uint64_t rng;
        bool started;
};

static void close_events(struct perf_sampler *ps) {
        if (ps->rings)
                for (int i = 0; i < ps->ncpus; i++)
                        perf_ring_unmap(&ps->rings[i]);
        for (size_t i = 0; i < ps->fds.n; i++)
                close(ps->fds.v[i]);
        ps->fds.n = ps->fd_tids.n = 0;
}

static void perf_close(void *state) {
        struct perf_sampler *ps = state;

        if (!ps)
                return;
        close_events(ps);
        vec_free(&ps->fds);
        vec_free(&ps->fd_tids);
        free(ps->ring_hup);
        free(ps->rings);
        free(ps->cpus);
        perf_batch_release(&ps->batch);
        u64map_release(&ps->tids);
        perf_procs_release(&ps->procs);
        free(ps);
}

/* x86-64 perf register numbers (arch/x86/include/uapi/asm/perf_regs.h):
 * a record's registers come in the order of their bits */
#define PERF_REG_BP 6
#define PERF_REG_SP 7
#define PERF_REG_IP 8
#define PERF_REGS_MASK ((1ULL << PERF_REG_BP) | (1ULL << PERF_REG_SP) | (1ULL << PERF_REG_IP))

static bool copies_stack(const struct perf_sampler *ps) {
        return ps->opts.user_stacks && ps->opts.stack_copy > 0;
}

/* Data pages per ring: a stack copy takes its full size in the ring
 * whatever was copied, so the ring holds as many records as without. */
static size_t ring_pages_for(const struct perf_sampler *ps, size_t pages) {
        if (!copies_stack(ps))
                return pages;
        size_t want = pages * (1 + ps->opts.stack_copy / 4096);
        size_t p = 1;
        while (p < want && p < COPY_RING_MAX_PAGES)
                p <<= 1;
        return p;
}

/* The attr of every sampling event of this backend. */
static void sample_attr(const struct perf_sampler *ps, struct perf_event_attr *attr) {
        sampler_cpu_clock_attr(&ps->opts, attr);
        attr->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CALLCHAIN;
        perf_attr_side_records(attr);
        if (copies_stack(ps)) {
                /* after TID|TIME in the record: REGS_USER and STACK_USER
                 * come after every bit perf_attr_side_records adds */
                attr->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
                attr->sample_regs_user = PERF_REGS_MASK;
                attr->sample_stack_user = ps->opts.stack_copy;
        }
        /* with a stack copy the user stack is unwound here, not walked */
        attr->exclude_callchain_user = !ps->opts.user_stacks || copies_stack(ps);
        attr->exclude_callchain_kernel = !ps->opts.kernel_stacks;
        attr->exclude_kernel = ps->exclude_kernel;
        attr->exclude_hv = ps->exclude_kernel;
        attr->sample_max_stack = SAMPLE_MAX_STACK;
        attr->watermark = 1;
        attr->wakeup_watermark = (uint32_t) (ps->ring_pages * (size_t) getpagesize() / 4);
        attr->disabled = !ps->started;
        if (ps->thin > 1) {
                /* cpu-clock periods are nanoseconds */
                attr->freq = 0;
                attr->sample_period = 1000000000ULL / ((uint64_t) ps->opts.frequency_hz * ps->thin);
        }
}

/* Opens one event per CPU for every task. -EACCES/-EPERM without the
 * privilege; on any failure nothing stays open. */
static int open_system_wide(struct perf_sampler *ps) {
        int r = 0;

        ps->ring_pages = ring_pages_for(ps, SYSTEM_WIDE_RING_PAGES);
        for (int i = 0; i < ps->ncpus && r >= 0; i++) {
                struct perf_event_attr attr;
                sample_attr(ps, &attr);
                /* an idle CPU's samples would all be thrown away */
                attr.exclude_idle = 1;
                int fd = (int) syscall(SYS_perf_event_open, &attr, -1, ps->cpus[i], -1, PERF_FLAG_FD_CLOEXEC);
                if (fd < 0) {
                        r = -errno;
                        break;
                }
                r = vec_reserve(&ps->fd_tids, ps->fds.n + 1);
                if (r >= 0)
                        r = vec_push(&ps->fds, fd);
                if (r < 0) {
                        close(fd);
                        break;
                }
                ps->fd_tids.v[ps->fd_tids.n++] = -1;
                r = perf_ring_map(&ps->rings[i], fd, ps->ring_pages);
        }
        if (r < 0)
                close_events(ps);
        return r;
}

static int perf_open(const struct sampler_options *o, void **ret_state) {
        struct perf_sampler *ps = calloc(1, sizeof(*ps));
        int r;

        if (!ps)
                return -ENOMEM;
        ps->opts = *o;
        ps->opts.stack_copy = o->stack_copy == SAMPLE_COPY_DEFAULT ? SAMPLE_PERF_DEFAULT_COPY :
                              MIN(o->stack_copy, SAMPLE_PERF_MAX_COPY) & ~7u;
        ps->procs.children = o->children;
        ps->rng = (uint64_t) getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t) time(NULL);
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

        r = open_system_wide(ps);
        if (r >= 0) {
                ps->system_wide = true;
                *ret_state = ps;
                return 0;
        }
        log_debug("perf: no system-wide events (%s), sampling per task", strerror(-r));

        unsigned thin = PER_TASK_MAX_HZ / o->frequency_hz;
        ps->thin = MAX(1u, MIN(thin, (unsigned) PER_TASK_OVERSAMPLE));
        ps->ring_pages = perf_ring_pages_allowed(ring_pages_for(ps, RING_PAGES));

        /* Fail now, with the reason, rather than at the first target:
         * an event on ourselves needs the same permission. */
        struct perf_event_attr attr;
        sample_attr(ps, &attr);
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
        *ret_state = ps;
        return 0;
fail:
        perf_close(ps);
        return r;
}

/* Two events per thread on two CPUs: 2,000 threads need 4,000
 * descriptors. Raised when the first process is added rather than at
 * open, so that a command launched in between keeps the usual limit
 * (select() fails on descriptors above 1023). */
static void raise_nofile(struct perf_sampler *ps) {
        struct rlimit rl;

        if (ps->nofile_raised)
                return;
        ps->nofile_raised = true;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_debug("perf: cannot raise the descriptor limit: %s", strerror(errno));
}

/* Opens the events of one thread; 1 when opened, 0 when it was already,
 * -errno when one of them could not be (those opened stay). */
static int open_thread(struct perf_sampler *ps, pid_t tid) {
        uint64_t dummy;
        int r = 0;

        if (u64map_get(&ps->tids, (uint64_t) tid, &dummy))
                return 0;

        for (int i = 0; i < ps->ncpus && r >= 0; i++) {
                struct perf_event_attr attr;
                sample_attr(ps, &attr);
                attr.inherit = 1;

                int fd = (int) syscall(SYS_perf_event_open, &attr, tid, ps->cpus[i], -1,
                                       PERF_FLAG_FD_CLOEXEC);
                if (fd < 0) {
                        r = -errno;
                        break;
                }
                r = vec_reserve(&ps->fd_tids, ps->fds.n + 1);
                if (r >= 0)
                        r = vec_push(&ps->fds, fd);
                if (r < 0) {
                        close(fd);
                        break;
                }
                ps->fd_tids.v[ps->fd_tids.n++] = tid;
                struct perf_ring *ring = &ps->rings[i];
                if (ring->fd < 0)
                        r = perf_ring_map(ring, fd, ps->ring_pages);
                else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, ring->fd) < 0)
                        r = -errno;
        }
        /* remembered even when half open: opening it again would sample
         * it twice on the CPUs that worked */
        int k = u64map_put(&ps->tids, (uint64_t) tid, 1);
        return r < 0 ? r : k < 0 ? k : 1;
}

/* Errors that cost one thread its events, not the whole process. */
static bool thread_error_is_local(int r) {
        return r == -EMFILE || r == -ENFILE || r == -ENOMEM || r == -ENOSPC;
}

/* Opens events for every thread of pid, again until no new thread shows
 * up: a thread created by one whose event was not open yet is not
 * inherited. */
static int add_threads(struct perf_sampler *ps, pid_t pid) {
        char path[64];
        int r, opened = 0, failed = 0;

        raise_nofile(ps);
        snprintf(path, sizeof(path), "/proc/%d/task", pid);
        for (int round = 0; round < 10; round++) {
                _cleanup_(closedirp) DIR *d = opendir(path);
                struct dirent *de;
                bool added = false;

                if (!d)
                        return errno == ENOENT ? -ESRCH : -errno;
                while ((de = readdir(d))) {
                        int tid = atoi(de->d_name);
                        if (tid <= 0)
                                continue;
                        r = open_thread(ps, tid);
                        if (r == -ESRCH || r == 0)
                                continue; /* exited meanwhile, or known */
                        if (r < 0 && !thread_error_is_local(r))
                                return r;
                        if (r < 0) {
                                /* the process is followed, this thread not */
                                if (failed++ == 0)
                                        log_debug("perf: cannot open events of thread %d: %s", tid, strerror(-r));
                                ps->stats.threads_missed++;
                                if (opened == 0 && failed == 1 && tid == pid)
                                        return r;
                                continue;
                        }
                        opened++;
                        added = true;
                }
                if (!added)
                        break;
        }
        return 0;
}

static int perf_add_process(void *state, pid_t pid) {
        struct perf_sampler *ps = state;
        int r;

        if (ps->system_wide) {
                char path[64];
                struct stat st;
                snprintf(path, sizeof(path), "/proc/%d", pid);
                if (stat(path, &st) < 0)
                        return errno == ENOENT ? -ESRCH : -errno;
        } else {
                r = add_threads(ps, pid);
                if (r < 0)
                        return r;
        }
        return perf_procs_add(&ps->procs, pid);
}

static int perf_start(void *state) {
        struct perf_sampler *ps = state;

        for (size_t i = 0; i < ps->fds.n; i++)
                if (ioctl(ps->fds.v[i], PERF_EVENT_IOC_ENABLE, 0) < 0)
                        return -errno;
        ps->started = true;
        return 0;
}

static uint32_t next_random(struct perf_sampler *ps) {
        ps->rng ^= ps->rng << 13;
        ps->rng ^= ps->rng >> 7;
        ps->rng ^= ps->rng << 17;
        return (uint32_t) (ps->rng >> 32);
}

/* Per task: whether to keep this sample, one of each run of ps->thin. */
static bool thin_keep(struct perf_sampler *ps) {
        if (ps->thin <= 1)
                return true;
        if (ps->thin_left == 0) {
                ps->thin_left = ps->thin;
                ps->thin_pick = next_random(ps) % ps->thin;
        }
        ps->thin_left--;
        return ps->thin_pick-- == 0;
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

        const struct perf_proc *proc = perf_procs_target(&ps->procs, pid);
        if (!proc)
                return 0; /* another process, or a child while --no-children */
        if (!thin_keep(ps))
                return 0;

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

        p += nr * 8;

        /* REGS_USER (abi, then bp, sp, ip when the task has user state),
         * STACK_USER (size, the bytes, then how many are real) */
        uint64_t regs[SAMPLE_NREGS];
        const char *copy = NULL;
        uint64_t copy_len = 0, copy_size = 0;
        bool have_regs = false;
        if (copies_stack(ps)) {
                uint64_t abi, r3[3];
                if (p + 8 > end)
                        return 0;
                memcpy(&abi, p, 8);
                p += 8;
                if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
                        if (p + sizeof(r3) > end)
                                return 0;
                        memcpy(r3, p, sizeof(r3));
                        p += sizeof(r3);
                        regs[SAMPLE_REG_BP] = r3[0];
                        regs[SAMPLE_REG_SP] = r3[1];
                        regs[SAMPLE_REG_IP] = r3[2];
                        have_regs = true;
                }
                if (p + 8 > end)
                        return 0;
                memcpy(&copy_size, p, 8);
                p += 8;
                if (copy_size > 0) {
                        if (copy_size > (uint64_t) (end - p) || (uint64_t) (end - p) - copy_size < 8)
                                return 0;
                        copy = p;
                        memcpy(&copy_len, p + copy_size, 8);
                        copy_len = MIN(copy_len, copy_size);
                }
        }

        ps->stats.samples++;
        if (have_regs)
                ps->stats.copied_bytes += size;
        struct raw_sample s = {
                .tgid = pid, .tid = tid, .count = 1, .time_ns = time,
                /* records are handled in time order: the image running now */
                .exec_gen = proc->exec_gen,
                .kstack = kstack, .n_kstack = nk, .ustack = ustack, .n_ustack = nu,
        };
        if (have_regs) {
                s.uregs = regs;
                s.ustack_copy = copy;
                s.ustack_copy_addr = regs[SAMPLE_REG_SP];
                s.ustack_copy_len = (uint32_t) copy_len;
                /* the kernel copies up to the end of the stack's mapping */
                s.ustack_copy_full = copy_len == copy_size && copy_size > 0;
        }
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
                else if (h.type == PERF_RECORD_THROTTLE)
                        ps->stats.throttled++;
                else
                        perf_procs_handle(&ps->procs, rec, h.size, cb);
        }
        perf_procs_prune(&ps->procs, now_ns());
        /* per task, the rings run `thin` times faster than the samples
         * we deliver: count what was lost at the delivered rate */
        uint64_t lost = ps->procs.lost - ps->lost_seen;
        if (ps->thin > 1)
                lost = (lost + ps->thin - 1) / ps->thin;
        ps->lost_seen = ps->procs.lost;
        ps->stats.lost_ring += lost;
        ps->stats.lost += lost;
        return r;
}

static bool is_ring_fd(const struct perf_sampler *ps, int fd) {
        for (int i = 0; i < ps->ncpus; i++)
                if (ps->rings[i].fd == fd)
                        return true;
        return false;
}

/* Per task, an event stays open after its thread exits; the kernel says
 * POLLHUP once the thread and every task that inherited the event (its
 * later threads and children) are gone. Those are closed, so that a long
 * recording of processes that come and go holds descriptors for what
 * lives. The events that own a ring stay: the others write into it. */
static void close_gone_events(struct perf_sampler *ps) {
        size_t n = ps->fds.n;
        _cleanup_free_ struct pollfd *pfds = n ? calloc(n, sizeof(*pfds)) : NULL;

        if (!pfds)
                return;
        for (size_t i = 0; i < n; i++)
                pfds[i] = (struct pollfd) { .fd = is_ring_fd(ps, ps->fds.v[i]) ? -1 : ps->fds.v[i] };
        if (poll(pfds, (nfds_t) n, 0) <= 0)
                return;
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
                if (!(pfds[i].revents & POLLHUP)) {
                        ps->fds.v[kept] = ps->fds.v[i];
                        ps->fd_tids.v[kept++] = ps->fd_tids.v[i];
                        continue;
                }
                close(ps->fds.v[i]);
                /* a pid used again is a new thread, to open again */
                u64map_remove(&ps->tids, (uint64_t) ps->fd_tids.v[i]);
        }
        if (kept < n)
                log_debug("perf: closed %zu events of threads that are gone", n - kept);
        ps->fds.n = ps->fd_tids.n = kept;
}

static int perf_poll(void *state, int timeout_ms, const struct sampler_callbacks *cb) {
        struct perf_sampler *ps = state;
        struct pollfd pfds[ps->ncpus];
        int ring[ps->ncpus];
        int n = 0;

        if (!ps->system_wide && now_ns() - ps->last_sweep_ns > 1000000000ULL) {
                close_gone_events(ps);
                ps->last_sweep_ns = now_ns();
        }
        /* a ring whose own event hung up would end every poll at once:
         * its data is taken at each drain, without waking us */
        for (int i = 0; i < ps->ncpus; i++)
                if (ps->rings[i].fd >= 0 && !(ps->ring_hup && ps->ring_hup[i])) {
                        ring[n] = i;
                        pfds[n++] = (struct pollfd) { .fd = ps->rings[i].fd, .events = POLLIN };
                }
        if (n > 0 && poll(pfds, (nfds_t) n, timeout_ms) < 0 && errno != EINTR)
                return -errno;
        if (n == 0 && timeout_ms > 0)
                usleep((useconds_t) timeout_ms * 1000);
        for (int j = 0; j < n; j++)
                if ((pfds[j].revents & POLLHUP) && !(pfds[j].revents & POLLIN)) {
                        if (!ps->ring_hup)
                                ps->ring_hup = calloc((size_t) ps->ncpus, sizeof(bool));
                        if (ps->ring_hup)
                                ps->ring_hup[ring[j]] = true;
                }
        return drain_rings(ps, cb);
}

static int perf_stop(void *state, const struct sampler_callbacks *cb) {
        struct perf_sampler *ps = state;

        for (size_t i = 0; i < ps->fds.n; i++)
                ioctl(ps->fds.v[i], PERF_EVENT_IOC_DISABLE, 0);
        return drain_rings(ps, cb);
}

static bool perf_follows(const void *state, pid_t pid) {
        const struct perf_sampler *ps = state;
        return perf_procs_is_target(&ps->procs, (uint32_t) pid);
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
        .follows = perf_follows,
};
