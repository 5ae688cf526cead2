/* What the perf backend (perf_event.c) and the side-event stream for the
 * BPF backend (perf-side.c) share: mmapped perf rings, batches of their
 * records in time order across CPUs, and the process tracking that turns
 * MMAP2/COMM/FORK/EXIT records into process events.
 *
 * Every event feeding these rings has sample_id_all with TID|TIME as the
 * last sample_id fields, and use_clockid with CLOCK_MONOTONIC: each side
 * record then ends in its time, and times compare with now_ns() and with
 * bpf_ktime_get_ns(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cprof/sample.h"
#include "util/hash.h"
#include "util/vec.h"

struct perf_event_attr;

struct perf_ring {
        int fd;      /* -1 when not mapped */
        void *base;  /* control page followed by the data pages */
        size_t size; /* data size */
};

/* Maps fd's ring with `pages` data pages (a power of two), halving them
 * while the locked-memory limit of unprivileged users (EPERM) refuses. */
int perf_ring_map(struct perf_ring *ring, int fd, size_t pages);
void perf_ring_unmap(struct perf_ring *ring);
/* Data pages an unprivileged user can lock per CPU for one ring
 * (kernel.perf_event_mlock_kb), at most `want`. */
size_t perf_ring_pages_allowed(size_t want);

/* Sets the attr fields every event of these rings needs: side records
 * with a CLOCK_MONOTONIC time (comm, mmap2, task, sample_id_all) and
 * sample_type TID|TIME (callers may add bits before TID only). */
void perf_attr_side_records(struct perf_event_attr *attr);

struct perf_batch_rec {
        uint64_t time;
        size_t off; /* in the batch buffer */
        uint32_t len;
        uint32_t seq;
};

/* The records of one drain, copied out of the rings and sorted by time. */
struct perf_batch {
        VEC(char) buf;
        VEC(struct perf_batch_rec) recs;
};

/* Takes every record written so far out of the rings (handing their space
 * back) into b, sorted by time; sample_time_off is where a SAMPLE record's
 * time sits after its header. Returns the number of records. */
int perf_batch_fill(struct perf_batch *b, struct perf_ring *rings, int nrings,
                    size_t sample_time_off);
static inline const char *perf_batch_record(const struct perf_batch *b, size_t i) {
        return b->buf.v + b->recs.v[i].off;
}
void perf_batch_release(struct perf_batch *b);
/* True when no ring holds a record: two loads per ring. */
bool perf_rings_empty(const struct perf_ring *rings, int nrings);

/* The target set and what is known of each process in it. A pid stays in
 * the table once seen; `target` says whether it still is one (a pid reused
 * by a process forked outside the set is not). */
struct perf_proc {
        uint64_t since_ns;  /* records older than this are not its own */
        uint32_t exec_gen;  /* execs since it became a target */
        bool target;
        char comm[16];
        uint32_t pid;
        uint64_t exited_ns; /* when its main thread exited, 0 while it runs */
};

/* A name that makes an exec'ing process a target (sampler_watch_execs) */
struct perf_exec_watch {
        char comm[16];
        uint32_t tag;
};

struct perf_procs {
        struct u64map index; /* pid -> slot in procs */
        VEC(struct perf_proc) procs;
        bool children;       /* follow forks of targets */
        VEC(struct perf_exec_watch) watch; /* a handful: searched in order */
        uint64_t lost;       /* records the kernel dropped (PERF_RECORD_LOST) */
};

/* Makes pid a target from now on (its name read from /proc). */
int perf_procs_add(struct perf_procs *pp, pid_t pid);
bool perf_procs_is_target(const struct perf_procs *pp, uint32_t pid);
/* The entry of a target, or NULL; valid until the next add or handle. */
const struct perf_proc *perf_procs_target(const struct perf_procs *pp, uint32_t pid);
/* Replaces the names that make a process a target at exec. */
int perf_procs_watch_execs(struct perf_procs *pp, const struct sampler_exec_watch *w, size_t n);
/* Handles one record other than a SAMPLE: updates the set, counts losses
 * and reports what happened to targets through cb->process_event. */
void perf_procs_handle(struct perf_procs *pp, const char *rec, size_t size,
                       const struct sampler_callbacks *cb);
/* Drops what is known of processes that exited over a grace period
 * before now_ns (CLOCK_MONOTONIC) and of pids that left the set, so the
 * set holds what lives, not every process ever seen. Call after a drain. */
void perf_procs_prune(struct perf_procs *pp, uint64_t now_ns);
void perf_procs_release(struct perf_procs *pp);
