/* The eBPF backend: bpf/profile.bpf.c samples on a cpu-clock event per
 * CPU and aggregates in kernel maps (a content-keyed stack store and a
 * counts hash); this file loads it, feeds it target tgids, flips its
 * double-buffered maps and drains the idle set. Forks, execs and mappings
 * come from the perf side stream (perf-side.c), read before each drain,
 * so every drained sample finds the image it ran. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/membarrier.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "copy-reader.h"
#include "cprof/target.h"
#include "profile.h"
#include "profile.skel.h"
#include "sampler-internal.h"
#include "util/cleanup.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/time-util.h"
#include "util/vec.h"

/* the inode of the initial PID namespace (include/linux/proc_ns.h) */
#define PROC_PID_INIT_INO 0xEFFFFFFCU
#define STACK_MAP_ENTRIES 16384
#define COUNT_MAP_ENTRIES 16384
#define DRAIN_INTERVAL_NS (200 * 1000 * 1000ULL)
/* The stack copy ring, and how full it gets before it wakes its reader:
 * at 999 Hz on two CPUs samples of a few KiB each fill 1 MiB in about
 * 100 ms. The reader is a thread of its own (copy-reader.h), so the ring
 * covers its wakeups, not the loop's pauses: when the loop emptied it,
 * building a large binary's table (cc1: several hundred ms) while every
 * sample of it was a copy overflowed 8 MiB under `make -j2`. */
#define COPY_RING_BYTES (8u << 20)
#define COPY_RING_WAKEUP (1u << 20)
/* In-kernel unwinding: table rows (16 bytes each; libc has 28,000),
 * process images, and the chunks user stacks are stored in */
#define UNWIND_ROWS (1u << 20)
#define UNWIND_PROCS 4096
#define CHUNK_MAP_ENTRIES 16384
/* table lookups and frames the kernel walks per sample before it sends a
 * copy instead (see bench/bench-bpf-cost.py) */
#define KERNEL_UNWIND_BUDGET 256
#define KERNEL_WALK_FRAMES 512


struct bpf_sampler {
        struct sampler_options opts;
        struct profile_bpf *skel;
        int *perf_fds;
        struct bpf_link **links;
        int ncpus;
        struct ring_buffer *events;
        struct copy_reader *copies; /* NULL without stack copies */
        const struct sampler_callbacks *cb; /* during poll/stop */
        uint64_t last_drain_ns;
        uint64_t delivered;
        VEC(uint64_t) frames;      /* the stacks of the set being drained */
        struct u64map stack_ids;   /* store id -> offset << 8 | length in frames */
        VEC(struct unwind_chunk) chunks; /* the chunks of the set being drained */
        struct u64map chunk_ids;   /* chunk id -> index in chunks */
        VEC(uint64_t) user;        /* one kernel-unwound user stack, rebuilt */
        VEC(uint32_t) exited; /* tgids whose last thread exited, still in the target set */
        /* The process events (fork, exec, mmap, exit) come from perf
         * records: mappings are known from the moment they are made */
        struct perf_side *side;
        uint64_t side_lost;
        uint64_t copied_bytes;
        struct bpf_program *prog; /* the sampling program loaded */
        bool kernel_unwind;       /* it unwinds user stacks itself */
        void *rows_mem;           /* unwind_rows, mapped (rows_len bytes) */
        size_t rows_len;
        const char *notice;
        bool started, stopped;
};


static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        if (level == LIBBPF_DEBUG || log_get_max_level() < LOG_LEVEL_DEBUG)
                return 0;
        return vfprintf(stderr, fmt, ap);
}

static void bpf_close(void *state) {
        struct bpf_sampler *b = state;

        if (!b)
                return;
        copy_reader_free(b->copies);
        ring_buffer__free(b->events);
        for (int i = 0; i < b->ncpus; i++) {
                if (b->links)
                        bpf_link__destroy(b->links[i]);
                if (b->perf_fds && b->perf_fds[i] >= 0)
                        close(b->perf_fds[i]);
        }
        free(b->links);
        free(b->perf_fds);
        if (b->rows_mem)
                munmap(b->rows_mem, b->rows_len);
        profile_bpf__destroy(b->skel);
        vec_free(&b->frames);
        u64map_release(&b->stack_ids);
        vec_free(&b->chunks);
        u64map_release(&b->chunk_ids);
        vec_free(&b->user);
        vec_free(&b->exited);
        perf_side_free(b->side);
        free(b);
}

/* The program's own events say only which targets exited: they leave the
 * target set once they are gone (prune_exited). */
static int handle_event(void *ctx, void *data, size_t size) {
        struct bpf_sampler *b = ctx;
        const struct profile_event *e = data;

        if (size < sizeof(*e) || e->type != PROFILE_EVENT_EXIT)
                return 0;
        return vec_push(&b->exited, e->pid) < 0 ? -ENOMEM : 0;
}

static int deliver_side_events(struct bpf_sampler *b);

/* A sample with a stack copy. Side events first, whenever records wait:
 * the mapping a sample ran in was made before it, so its record is in the
 * side rings, but maybe written after the last delivery (a process that
 * forked, exec'd and was sampled within one poll). */
static int handle_copy(void *ctx, void *data, size_t size) {
        struct bpf_sampler *b = ctx;
        const struct profile_sample *h = data;
        char comm[PROFILE_COMM_LEN + 1], pcomm[PROFILE_COMM_LEN + 1];
        uint64_t regs[SAMPLE_NREGS];

        if (size < sizeof(*h) || h->copy_len > size - sizeof(*h) || h->n_kstack > PROFILE_MAX_STACK ||
            h->n_walk > (size - sizeof(*h) - h->copy_len) / 8)
                return 0;
        if (b->side && perf_side_pending(b->side)) {
                int r = deliver_side_events(b);
                if (r < 0)
                        return r;
        }
        memcpy(comm, h->comm, PROFILE_COMM_LEN);
        comm[PROFILE_COMM_LEN] = '\0';
        memcpy(pcomm, h->process_comm, PROFILE_COMM_LEN);
        pcomm[PROFILE_COMM_LEN] = '\0';
        struct raw_sample s = {
                .tgid = h->tgid,
                .tid = h->tid,
                .count = 1,
                .time_ns = h->time_ns,
                .exec_gen = h->exec_gen,
                .comm = comm,
                .process_comm = pcomm,
                .kstack = (const uint64_t *) h->kstack,
                .n_kstack = h->n_kstack,
        };
        if (h->flags & PROFILE_COPY_REGS) {
                regs[SAMPLE_REG_IP] = h->ip;
                regs[SAMPLE_REG_SP] = h->sp;
                regs[SAMPLE_REG_BP] = h->bp;
                s.uregs = regs;
                s.ustack_copy = (const char *) data + sizeof(*h);
                s.ustack_copy_addr = h->copy_addr;
                s.ustack_copy_len = h->copy_len;
                s.ustack_copy_full = h->flags & PROFILE_COPY_FULL;
        }
        if (h->walk_end) {
                s.ustack = (const uint64_t *) ((const char *) data + sizeof(*h) + h->copy_len);
                s.n_ustack = h->n_walk;
                s.ustack_unwound = true;
                s.ustack_end = (uint8_t) (h->walk_end - 1);
        }
        b->delivered++;
        return b->cb && b->cb->sample ? b->cb->sample(b->cb->userdata, &s) : 0;
}

/* Opens, sizes and loads the program. */
static int load_skel(struct bpf_sampler *b, const struct sampler_options *o, bool kernel_unwind) {
        int r;

        b->skel = profile_bpf__open();
        if (!b->skel)
                return -errno;
        b->skel->rodata->user_stacks = o->user_stacks;
        b->skel->rodata->kernel_stacks = o->kernel_stacks;
        b->skel->rodata->follow_children = o->children;
        /* In a PID namespace (a container, unshare --pid) the program
         * must speak cprof's pids, not the initial namespace's. */
        struct stat ns;
        if (stat("/proc/self/ns/pid", &ns) == 0 && ns.st_ino != PROC_PID_INIT_INO) {
                b->skel->rodata->in_pidns = true;
                b->skel->rodata->pidns_inum = (__u32) ns.st_ino;
        }
        bpf_map__set_max_entries(b->skel->maps.stacks0, STACK_MAP_ENTRIES);
        bpf_map__set_max_entries(b->skel->maps.stacks1, STACK_MAP_ENTRIES);
        bpf_map__set_max_entries(b->skel->maps.counts0, COUNT_MAP_ENTRIES);
        bpf_map__set_max_entries(b->skel->maps.counts1, COUNT_MAP_ENTRIES);
        if (o->user_stacks && o->stack_copy > 0) {
                uint32_t copy = o->stack_copy == SAMPLE_COPY_DEFAULT ? SAMPLE_BPF_DEFAULT_COPY :
                                MIN(o->stack_copy, (uint32_t) PROFILE_MAX_COPY);
                b->skel->rodata->stack_copy = MAX(copy / 4096u, 1u) * 4096u;
                b->skel->rodata->copies_wakeup = COPY_RING_WAKEUP;
                bpf_map__set_max_entries(b->skel->maps.copies, COPY_RING_BYTES);
                int ncpu = libbpf_num_possible_cpus();
                bpf_map__set_max_entries(b->skel->maps.copy_scratch, ncpu > 0 ? (uint32_t) ncpu : 1);
                /* a machine with 240 possible CPUs must not pay 512K each */
                bpf_map__set_value_size(b->skel->maps.copy_scratch, (uint32_t) sizeof(struct profile_sample) +
                                        b->skel->rodata->stack_copy + UNWIND_WALK_MAX * 8);
        }
        /* one sampling program of three: the others are not loaded */
        bool copies = o->user_stacks && o->stack_copy > 0;
        kernel_unwind = kernel_unwind && copies;
        b->prog = kernel_unwind ? b->skel->progs.on_sample_unwind :
                  copies ? b->skel->progs.on_sample_copy : b->skel->progs.on_sample;
        bpf_program__set_autoload(b->skel->progs.on_sample, b->prog == b->skel->progs.on_sample);
        bpf_program__set_autoload(b->skel->progs.on_sample_copy, b->prog == b->skel->progs.on_sample_copy);
        bpf_program__set_autoload(b->skel->progs.on_sample_unwind, b->prog == b->skel->progs.on_sample_unwind);
        b->kernel_unwind = kernel_unwind;
        if (kernel_unwind) {
                int ncpu = libbpf_num_possible_cpus();
                b->skel->rodata->dwarf_only = o->dwarf_only;
                b->skel->rodata->check_mode = o->check_walk;
                b->skel->rodata->unwind_budget = KERNEL_UNWIND_BUDGET;
                b->skel->rodata->walk_frames = KERNEL_WALK_FRAMES;
                b->skel->rodata->max_depth = o->max_depth ? o->max_depth : 4096;
                bpf_map__set_max_entries(b->skel->maps.unwind_rows, UNWIND_ROWS);
                bpf_map__set_max_entries(b->skel->maps.unwind_procs, UNWIND_PROCS);
                bpf_map__set_max_entries(b->skel->maps.chunks0, CHUNK_MAP_ENTRIES);
                bpf_map__set_max_entries(b->skel->maps.chunks1, CHUNK_MAP_ENTRIES);
                /* The unwinder needs a kernel that allocates hash map
                 * elements in any context (6.1: unwind_procs is not
                 * preallocated), so the stores it shares with the other
                 * programs need not be either: preallocated, the kernel
                 * stacks' 16,384 keys of 1 KiB cost two 17 MiB areas
                 * zeroed at every start. The chunk maps stay preallocated:
                 * the first sample of a deep stack inserts a hundred
                 * chunks at once, more than the allocator keeps ready. */
                bpf_map__set_map_flags(b->skel->maps.stacks0, BPF_F_NO_PREALLOC);
                bpf_map__set_map_flags(b->skel->maps.stacks1, BPF_F_NO_PREALLOC);
                bpf_map__set_map_flags(b->skel->maps.counts0, BPF_F_NO_PREALLOC);
                bpf_map__set_map_flags(b->skel->maps.counts1, BPF_F_NO_PREALLOC);
                bpf_map__set_max_entries(b->skel->maps.walks, ncpu > 0 ? (uint32_t) ncpu : 1);
        }
        if (!(o->user_stacks && o->stack_copy > 0)) {
                /* unused: the smallest a ring and an array can be */
                bpf_map__set_max_entries(b->skel->maps.copies, 4096);
                bpf_map__set_max_entries(b->skel->maps.copy_scratch, 1);
                bpf_map__set_value_size(b->skel->maps.copy_scratch, sizeof(struct profile_sample));
        }

        uint64_t t0 = now_ns();
        r = profile_bpf__load(b->skel);
        /* most of it is the verifier: a fixed cost of every recording */
        log_debug("BPF program %s loaded in %.1f ms", bpf_program__name(b->prog), (double) (now_ns() - t0) / 1e6);
        if (r < 0) {
                log_debug_errno(r, "cannot load the BPF program%s: %s",
                                kernel_unwind ? " with its unwinder" : "", strerror(-r));
                profile_bpf__destroy(b->skel);
                b->skel = NULL;
                return r;
        }
        if (kernel_unwind) {
                /* without the mapping, rows go in by batch updates */
                size_t len = (size_t) bpf_map__max_entries(b->skel->maps.unwind_rows) * sizeof(struct unwind_row);
                void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
                                 bpf_map__fd(b->skel->maps.unwind_rows), 0);
                if (mem != MAP_FAILED) {
                        b->rows_mem = mem;
                        b->rows_len = len;
                } else
                        log_debug_errno(errno, "cannot map the unwind rows: %s", strerror(errno));
        }
        return r;
}

static int bpf_open(const struct sampler_options *o, void **ret_state) {
        struct bpf_sampler *b = calloc(1, sizeof(*b));
        /* declared before the first goto: cleanup must never see garbage */
        _cleanup_free_ int *cpus = NULL;
        int r;

        if (!b)
                return -ENOMEM;
        b->opts = *o;
        libbpf_set_print(libbpf_print);

        /* a kernel whose verifier refuses the unwinder still samples,
         * with stack copies unwound in userspace */
        r = load_skel(b, o, o->kernel_unwind);
        if (r < 0 && o->kernel_unwind) {
                r = load_skel(b, o, false);
                if (r >= 0)
                        b->notice = "this kernel refuses cprof's in-kernel unwinder (it needs Linux 6.1): "
                                    "unwinding stack copies in cprof, at a higher cost per sample";
        }
        if (r < 0)
                goto fail;
        r = profile_bpf__attach(b->skel); /* the tracepoints */
        if (r < 0)
                goto fail;

        r = perf_side_open(o, &b->side);
        if (r < 0) {
                log_debug_errno(r, "cannot open the perf side events: %s", strerror(-r));
                goto fail;
        }
        b->events = ring_buffer__new(bpf_map__fd(b->skel->maps.events), handle_event, b, NULL);
        if (!b->events) {
                r = -errno;
                goto fail;
        }
        if (b->skel->rodata->stack_copy) {
                r = copy_reader_new(bpf_map__fd(b->skel->maps.copies), &b->copies);
                if (r < 0)
                        goto fail;
        }

        r = sampler_online_cpus(&cpus, &b->ncpus);
        if (r < 0)
                goto fail;
        b->perf_fds = malloc((size_t) b->ncpus * sizeof(int));
        b->links = calloc((size_t) b->ncpus, sizeof(*b->links));
        if (!b->perf_fds || !b->links) {
                r = -ENOMEM;
                goto fail;
        }
        for (int i = 0; i < b->ncpus; i++)
                b->perf_fds[i] = -1;

        for (int i = 0; i < b->ncpus; i++) {
                struct perf_event_attr attr;
                sampler_cpu_clock_attr(o, &attr);
                b->perf_fds[i] = (int) syscall(SYS_perf_event_open, &attr, -1, cpus[i], -1,
                                               PERF_FLAG_FD_CLOEXEC);
                if (b->perf_fds[i] < 0) {
                        r = -errno;
                        goto fail;
                }
                b->links[i] = bpf_program__attach_perf_event(b->prog, b->perf_fds[i]);
                if (!b->links[i]) {
                        r = -errno;
                        goto fail;
                }
                /* libbpf enables the event when it attaches: until
                 * bpf_start(), its interrupts (100,000 a second at -F
                 * 100000) would only slow our start-up */
                if (ioctl(b->perf_fds[i], PERF_EVENT_IOC_DISABLE, 0) < 0) {
                        r = -errno;
                        goto fail;
                }
        }
        *ret_state = b;
        return 0;

fail:
        bpf_close(b);
        return r < 0 ? r : -EIO;
}

static int bpf_add_process(void *state, pid_t pid) {
        struct bpf_sampler *b = state;
        __u32 key = (__u32) pid, gen = 0;

        if (kill(pid, 0) < 0 && errno == ESRCH)
                return -ESRCH;
        if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.targets), &key, &gen, BPF_ANY) < 0)
                return -errno;
        return perf_side_add_process(b->side, pid);
}

static int bpf_watch_execs(void *state, const struct sampler_exec_watch *w, size_t n) {
        struct bpf_sampler *b = state;
        int fd = bpf_map__fd(b->skel->maps.exec_comms);
        struct profile_exec_comm key;

        if (n > PROFILE_MAX_EXEC_COMMS)
                return -E2BIG;
        /* the new names first, then the old ones go: a name in both sets
         * is never missing for a moment */
        for (size_t i = 0; i < n; i++) {
                bool first = true;
                for (size_t j = 0; j < i; j++)
                        first &= strcmp(w[j].comm, w[i].comm) != 0;
                memset(&key, 0, sizeof(key));
                if (!first || strlen(w[i].comm) >= sizeof(key.comm))
                        continue;
                strcpy(key.comm, w[i].comm);
                if (bpf_map_update_elem(fd, &key, &w[i].tag, BPF_ANY) < 0)
                        return -errno;
        }
        struct profile_exec_comm stale[PROFILE_MAX_EXEC_COMMS];
        size_t n_stale = 0;
        bool more = bpf_map_get_next_key(fd, NULL, &key) == 0;
        while (more && n_stale < PROFILE_MAX_EXEC_COMMS) {
                bool kept = false;
                for (size_t i = 0; i < n && !kept; i++)
                        kept = strncmp(w[i].comm, key.comm, sizeof(key.comm)) == 0 &&
                               strlen(w[i].comm) < sizeof(key.comm);
                if (!kept)
                        stale[n_stale++] = key;
                struct profile_exec_comm next;
                more = bpf_map_get_next_key(fd, &key, &next) == 0;
                key = next;
        }
        for (size_t i = 0; i < n_stale; i++)
                if (bpf_map_delete_elem(fd, &stale[i]) < 0 && errno != ENOENT)
                        return -errno;
        return perf_side_watch_execs(b->side, w, n);
}

/* Both halves: the kernel's set, and the side stream that reports its
 * mappings (the kernel may hold a process whose exec record was lost) */
static bool bpf_follows(const void *state, pid_t pid) {
        const struct bpf_sampler *b = state;
        __u32 key = (__u32) pid, gen;
        return bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.targets), &key, &gen) == 0 &&
               perf_side_follows(b->side, pid);
}

static int bpf_start(void *state) {
        struct bpf_sampler *b = state;

        for (int i = 0; i < b->ncpus; i++)
                if (ioctl(b->perf_fds[i], PERF_EVENT_IOC_ENABLE, 0) < 0)
                        return -errno;
        int r = perf_side_start(b->side);
        if (r < 0)
                return r;
        b->started = true;
        b->last_drain_ns = now_ns();
        return 0;
}

static int deliver_sample(struct bpf_sampler *b, const struct profile_key *k, uint64_t count,
                          const uint64_t *kstack, uint32_t nk, const uint64_t *ustack, uint32_t nu) {
        char comm[PROFILE_COMM_LEN + 1], pcomm[PROFILE_COMM_LEN + 1];

        memcpy(comm, k->comm, PROFILE_COMM_LEN);
        comm[PROFILE_COMM_LEN] = '\0';
        memcpy(pcomm, k->process_comm, PROFILE_COMM_LEN);
        pcomm[PROFILE_COMM_LEN] = '\0';
        struct raw_sample s = {
                .tgid = k->tgid,
                .tid = k->tid,
                .count = count,
                .exec_gen = k->exec_gen,
                .comm = comm,
                .process_comm = pcomm,
                .kstack = kstack,
                .n_kstack = nk,
                .ustack = ustack,
                .n_ustack = nu,
                .ustack_unwound = k->user_end != 0,
                .ustack_end = (uint8_t) (k->user_end ? k->user_end - 1 : 0),
        };
        b->delivered += count;
        return b->cb && b->cb->sample ? b->cb->sample(b->cb->userdata, &s) : 0;
}

/* Empties an idle hash map in a few syscalls, handing each entry to fn.
 * Batches of BATCH entries; a bucket holding more than a batch (ENOSPC)
 * doubles it. */
#define BATCH 256
static int drain_map(int fd, size_t key_size, size_t value_size,
                     int (*fn)(struct bpf_sampler *b, const void *key, const void *value),
                     struct bpf_sampler *b) {
        size_t cap = BATCH;
        /* zeroed: valgrind does not know that the batch call fills them */
        _cleanup_free_ char *keys = calloc(cap, key_size), *values = calloc(cap, value_size);
        __u32 in = 0, out = 0;
        bool first = true;

        if (!keys || !values)
                return -ENOMEM;
        for (;;) {
                __u32 n = (__u32) cap;
                int r = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, keys, values,
                                                        &n, NULL);
                if (r < 0)
                        r = -errno;
                if (r == -ENOSPC && n == 0) {
                        cap *= 2;
                        free(keys);
                        free(values);
                        keys = calloc(cap, key_size);
                        values = calloc(cap, value_size);
                        if (!keys || !values)
                                return -ENOMEM;
                        continue;
                }
                if (r < 0 && r != -ENOENT)
                        return r;
                for (__u32 i = 0; i < n; i++) {
                        int k = fn(b, keys + i * key_size, values + i * value_size);
                        if (k < 0)
                                return k;
                }
                if (r == -ENOENT) /* that was the last batch */
                        return 0;
                in = out;
                first = false;
        }
}

/* A stack from the store: kept in b->frames, found by its id. */
static int take_stack(struct bpf_sampler *b, const void *key, const void *value) {
        const struct profile_stack *st = key;
        uint64_t id;
        uint32_t n = 0;

        memcpy(&id, value, sizeof(id));
        while (n < PROFILE_MAX_STACK && st->ips[n])
                n++;
        int r = vec_reserve(&b->frames, b->frames.n + n);
        if (r < 0)
                return r;
        uint64_t off = b->frames.n;
        memcpy(b->frames.v + off, st->ips, n * sizeof(uint64_t));
        b->frames.n += n;
        return u64map_put(&b->stack_ids, id, off << 8 | n);
}

/* The frames of stack id (none for 0 or an id the store did not have). */
static uint32_t find_stack(struct bpf_sampler *b, uint64_t id, const uint64_t **ret) {
        uint64_t v;

        *ret = NULL;
        if (!id || !u64map_get(&b->stack_ids, id, &v))
                return 0;
        *ret = b->frames.v + (v >> 8);
        return (uint32_t) (v & 0xff);
}

static int take_chunk(struct bpf_sampler *b, const void *key, const void *value) {
        uint64_t id;

        memcpy(&id, value, sizeof(id));
        int r = vec_push(&b->chunks, *(const struct unwind_chunk *) key);
        return r < 0 ? r : u64map_put(&b->chunk_ids, id, b->chunks.n - 1);
}

/* A user stack unwound in the kernel, from its leaf chunk to the root:
 * into b->user. A chunk missing (the store was full) ends it there. */
static uint32_t rebuild_user(struct bpf_sampler *b, uint64_t id) {
        b->user.n = 0;
        for (size_t guard = 0; id && guard < b->chunks.n; guard++) {
                uint64_t i;
                if (!u64map_get(&b->chunk_ids, id, &i))
                        break;
                const struct unwind_chunk *c = &b->chunks.v[i];
                for (int j = 0; j < UNWIND_CHUNK && c->ips[j]; j++)
                        if (vec_push(&b->user, c->ips[j]) < 0)
                                return (uint32_t) b->user.n;
                id = c->prev;
        }
        return (uint32_t) b->user.n;
}

static int take_count(struct bpf_sampler *b, const void *key, const void *value) {
        const struct profile_key *k = key;
        const uint64_t *kstack, *ustack;
        uint64_t count;

        memcpy(&count, value, sizeof(count));
        if (count == 0)
                return 0;
        uint32_t nk = find_stack(b, k->kernel_stack_id, &kstack);
        if (k->user_end) {
                uint32_t nu = rebuild_user(b, k->user_stack_id);
                return deliver_sample(b, k, count, kstack, nk, b->user.v, nu);
        }
        uint32_t nu = find_stack(b, k->user_stack_id, &ustack);
        return deliver_sample(b, k, count, kstack, nk, ustack, nu);
}

/* Drains an idle map set: the stacks first, so that every count finds
 * its stacks, then the counts. Both maps are left empty, so hours of
 * recording never fill them. */
static int drain_set(struct bpf_sampler *b, unsigned set) {
        int counts_fd = bpf_map__fd(set ? b->skel->maps.counts1 : b->skel->maps.counts0);
        int stacks_fd = bpf_map__fd(set ? b->skel->maps.stacks1 : b->skel->maps.stacks0);
        int r;

        b->frames.n = 0;
        u64map_clear(&b->stack_ids);
        b->chunks.n = 0;
        u64map_clear(&b->chunk_ids);
        r = drain_map(stacks_fd, sizeof(struct profile_stack), sizeof(uint64_t), take_stack, b);
        if (r >= 0 && b->kernel_unwind)
                r = drain_map(bpf_map__fd(set ? b->skel->maps.chunks1 : b->skel->maps.chunks0),
                              sizeof(struct unwind_chunk), sizeof(uint64_t), take_chunk, b);
        if (r >= 0)
                r = drain_map(counts_fd, sizeof(struct profile_key), sizeof(uint64_t), take_count, b);
        return r;
}

/* Waits until every program run that may have read the old `active` has
 * finished. The program runs with preemption off, inside an RCU read-side
 * section, so an RCU grace period (what MEMBARRIER_CMD_GLOBAL waits for)
 * covers it: unlike a fixed sleep, this holds on a preempted vCPU too. */
static void wait_for_programs(void) {
        if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
                return;
        struct timespec ts = { 0, 10 * 1000 * 1000 }; /* nohz_full kernels refuse it */
        nanosleep(&ts, NULL);
}

/* Takes processes that are really gone (reaped, or zombies that run no
 * more code) out of the target set: it stays small over hours of forks,
 * and a process that reuses the pid is not sampled. */
static void prune_exited(struct bpf_sampler *b) {
        int fd = bpf_map__fd(b->skel->maps.targets);
        for (size_t i = 0; i < b->exited.n;) {
                uint32_t pid = b->exited.v[i];
                if (target_alive((pid_t) pid)) {
                        i++;
                        continue;
                }
                bpf_map_delete_elem(fd, &pid);
                b->exited.v[i] = b->exited.v[--b->exited.n];
        }
}

/* Process events up to now: fork, exec and mmap records are written when
 * they happen, so after a flip every image a drained sample ran is known
 * (its generation in the sample picks it). */
static int deliver_side_events(struct bpf_sampler *b) {
        int r = perf_side_drain(b->side, b->cb);
        if (r < 0)
                return r;
        b->side_lost = (uint64_t) r;
        return 0;
}

static int drain(struct bpf_sampler *b) {
        unsigned old = b->skel->bss->active & 1;

        __atomic_store_n(&b->skel->bss->active, old ^ 1, __ATOMIC_SEQ_CST);
        wait_for_programs();
        b->last_drain_ns = now_ns();
        prune_exited(b);
        int r = deliver_side_events(b);
        return r < 0 ? r : drain_set(b, old);
}

static int bpf_poll(void *state, int timeout_ms, const struct sampler_callbacks *cb) {
        struct bpf_sampler *b = state;
        int r;

        b->cb = cb;
        r = ring_buffer__poll(b->events, timeout_ms);
        if (r < 0 && r != -EINTR) {
                b->cb = NULL;
                return r;
        }
        /* the copies the reader took from their ring since the last poll */
        if (b->copies) {
                r = copy_reader_take(b->copies, handle_copy, b);
                if (r < 0) {
                        b->cb = NULL;
                        return r;
                }
        }
        /* often, so that mappings are opened while their process lives */
        r = deliver_side_events(b);
        if (r >= 0 && b->started && now_ns() - b->last_drain_ns >= DRAIN_INTERVAL_NS)
                r = drain(b);
        b->cb = NULL;
        return r;
}

static int bpf_stop(void *state, const struct sampler_callbacks *cb) {
        struct bpf_sampler *b = state;
        int r;

        if (b->stopped)
                return 0;
        b->stopped = true;
        for (int i = 0; i < b->ncpus; i++)
                ioctl(b->perf_fds[i], PERF_EVENT_IOC_DISABLE, 0);
        b->cb = cb;
        r = ring_buffer__consume(b->events);
        if (r < 0) {
                b->cb = NULL;
                return r;
        }
        /* the events are off: once the programs still running are done,
         * both sets are idle and can be drained without a flip */
        wait_for_programs();
        if (b->copies) {
                copy_reader_stop(b->copies);
                log_debug("bpf: stack copies waited for the loop in a queue of %zu KiB at most",
                          copy_reader_peak(b->copies) >> 10);
                r = copy_reader_take(b->copies, handle_copy, b);
                if (r < 0) {
                        b->cb = NULL;
                        return r;
                }
        }
        r = deliver_side_events(b);
        if (r >= 0)
                r = drain_set(b, 0);
        if (r >= 0)
                r = drain_set(b, 1);
        b->cb = NULL;
        return r;
}

static void bpf_get_stats(const void *state, struct sampler_stats *ret) {
        const struct bpf_sampler *b = state;
        int ncpus = libbpf_num_possible_cpus();
        __u32 zero = 0;

        ret->samples = b->delivered;
        ret->copied_bytes = b->copied_bytes;
        if (ncpus <= 0)
                return;
        struct profile_stats *per = calloc((size_t) ncpus, sizeof(*per));
        if (!per)
                return;
        if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.stats), &zero, per) == 0)
                for (int i = 0; i < ncpus; i++) {
                        ret->lost_stackmap += per[i].lost_stackmap;
                        ret->lost_counts += per[i].lost_counts;
                        ret->lost_events += per[i].lost_events;
                        ret->children_missed += per[i].lost_targets;
                        ret->lost_ring += per[i].lost_copies;
                        ret->kernel_unwound += per[i].kernel_unwound;
                        ret->copy_fallback += per[i].copy_fallback;
                }
        free(per);
        ret->lost_events += b->side_lost;
        if (b->copies)
                ret->lost_ring += copy_reader_dropped(b->copies);
        ret->lost = ret->lost_stackmap + ret->lost_counts + ret->lost_ring;
}

static const char *bpf_notice(const void *state) {
        return ((const struct bpf_sampler *) state)->notice;
}

static int bpf_unwind_maps(const void *state, struct sampler_unwind_maps *ret) {
        const struct bpf_sampler *b = state;

        if (!b->kernel_unwind)
                return -EOPNOTSUPP;
        *ret = (struct sampler_unwind_maps) {
                .rows_fd = bpf_map__fd(b->skel->maps.unwind_rows),
                .rows_max = bpf_map__max_entries(b->skel->maps.unwind_rows),
                .rows_mem = b->rows_mem,
                .procs_fd = bpf_map__fd(b->skel->maps.unwind_procs),
                .procs_max = bpf_map__max_entries(b->skel->maps.unwind_procs),
        };
        return 0;
}

const struct sampler_ops sampler_bpf_ops = {
        .unwind_maps = bpf_unwind_maps,
        .follows = bpf_follows,
        .watch_execs = bpf_watch_execs,
        .notice = bpf_notice,
        .name = "bpf",
        .open = bpf_open,
        .close = bpf_close,
        .add_process = bpf_add_process,
        .start = bpf_start,
        .poll = bpf_poll,
        .stop = bpf_stop,
        .get_stats = bpf_get_stats,
};
