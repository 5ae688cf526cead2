/* Rings, time-sorted batches and process tracking shared by the perf
 * backend and the side-event stream (see perf-ring.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "perf-ring.h"
#include "util/cleanup.h"

int perf_ring_map(struct perf_ring *ring, int fd, size_t pages) {
        void *base = MAP_FAILED;

        for (; pages >= 1; pages /= 2) {
                base = mmap(NULL, (pages + 1) * (size_t) getpagesize(), PROT_READ | PROT_WRITE,
                            MAP_SHARED, fd, 0);
                if (base != MAP_FAILED || errno != EPERM)
                        break;
        }
        if (base == MAP_FAILED)
                return -errno;
        ring->fd = fd;
        ring->base = base;
        ring->size = pages * (size_t) getpagesize();
        return 0;
}

void perf_ring_unmap(struct perf_ring *ring) {
        if (ring->base)
                munmap(ring->base, ring->size + (size_t) getpagesize());
        ring->base = NULL;
        ring->fd = -1;
}

/* Root may lock any amount; other users share kernel.perf_event_mlock_kb
 * per CPU among all their rings (one control page each). Sized to fit up
 * front, so that a wakeup watermark computed from it is right. */
size_t perf_ring_pages_allowed(size_t want) {
        size_t pages = want;
        int kb = 516;

        if (geteuid() == 0)
                return pages;
        _cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/perf_event_mlock_kb", "re");
        if (f && fscanf(f, "%d", &kb) != 1)
                kb = 516;
        while (pages > 8 && (pages + 1) * (size_t) getpagesize() / 1024 > (size_t) kb)
                pages /= 2;
        return pages;
}

void perf_attr_side_records(struct perf_event_attr *attr) {
        attr->sample_type |= PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
        attr->mmap = 1;
        attr->mmap2 = 1;
        attr->comm = 1;
        attr->comm_exec = 1;
        attr->task = 1;
        attr->sample_id_all = 1; /* side records carry a time too */
        /* the same clock as now_ns() and bpf_ktime_get_ns(), so records
         * order against the BPF backend's samples and our own add times */
        attr->use_clockid = 1;
        attr->clockid = CLOCK_MONOTONIC;
}

/* Every record ends in its time: samples carry PERF_SAMPLE_TIME at a
 * known offset, the others a sample_id trailer whose last field it is. */
static uint64_t record_time(const struct perf_event_header *h, const char *rec,
                            size_t sample_time_off) {
        uint64_t t = 0;

        if (h->type == PERF_RECORD_SAMPLE) {
                if (h->size >= sizeof(*h) + sample_time_off + 8)
                        memcpy(&t, rec + sizeof(*h) + sample_time_off, 8);
        } else if (h->size >= sizeof(*h) + 16) {
                memcpy(&t, rec + h->size - 8, 8);
        }
        return t;
}

/* Copies the records of one ring between tail and head into the batch. */
static int collect_ring(struct perf_batch *b, const struct perf_ring *ring, uint64_t tail,
                        uint64_t head, size_t sample_time_off) {
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

                r = vec_reserve(&b->buf, b->buf.n + h.size);
                if (r < 0)
                        return r;
                char *dst = b->buf.v + b->buf.n;
                size_t first = MIN((size_t) h.size, ring->size - off);
                memcpy(dst, data + off, first);
                memcpy(dst + first, data, h.size - first);

                struct perf_batch_rec br = {
                        .time = record_time(&h, dst, sample_time_off),
                        .off = b->buf.n,
                        .len = h.size,
                        .seq = (uint32_t) b->recs.n,
                };
                r = vec_push(&b->recs, br);
                if (r < 0)
                        return r;
                b->buf.n += h.size;
                tail += h.size;
        }
        return 0;
}

static int batch_rec_cmp(const void *a, const void *b) {
        const struct perf_batch_rec *x = a, *y = b;
        if (x->time != y->time)
                return x->time < y->time ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

bool perf_rings_empty(const struct perf_ring *rings, int nrings) {
        for (int i = 0; i < nrings; i++) {
                const struct perf_event_mmap_page *pg = rings[i].base;
                if (pg && __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE) != pg->data_tail)
                        return false;
        }
        return true;
}

/* Records are handled in time order across CPUs: an exec or an mmap
 * reported on one CPU applies to the samples taken after it on another,
 * and not to those taken before. */
int perf_batch_fill(struct perf_batch *b, struct perf_ring *rings, int nrings,
                    size_t sample_time_off) {
        uint64_t heads[nrings > 0 ? nrings : 1], tails[nrings > 0 ? nrings : 1];
        int r = 0;

        b->buf.n = 0;
        b->recs.n = 0;
        /* all heads first, in one quick pass: the batch is then (nearly) a
         * cut through time, and what comes after waits for the next one */
        for (int i = 0; i < nrings; i++) {
                struct perf_event_mmap_page *pg = rings[i].base;
                if (!pg)
                        continue;
                heads[i] = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
                tails[i] = pg->data_tail;
        }
        for (int i = 0; i < nrings && r >= 0; i++) {
                struct perf_event_mmap_page *pg = rings[i].base;
                if (!pg || heads[i] == tails[i])
                        continue;
                r = collect_ring(b, &rings[i], tails[i], heads[i], sample_time_off);
                /* the records are copied: hand the space back at once */
                __atomic_store_n(&pg->data_tail, heads[i], __ATOMIC_RELEASE);
        }
        if (r < 0)
                return r;
        qsort(b->recs.v, b->recs.n, sizeof(*b->recs.v), batch_rec_cmp);
        return (int) MIN(b->recs.n, (size_t) INT32_MAX);
}

void perf_batch_release(struct perf_batch *b) {
        vec_free(&b->buf);
        vec_free(&b->recs);
}

static struct perf_proc *proc_get(const struct perf_procs *pp, uint32_t pid) {
        uint64_t slot;
        if (!u64map_get(&pp->index, pid, &slot))
                return NULL;
        return &pp->procs.v[slot];
}

/* The entry of pid, made a target as of since_ns, generation 0. */
static struct perf_proc *proc_reset(struct perf_procs *pp, uint32_t pid, uint64_t since_ns) {
        struct perf_proc *p = proc_get(pp, pid);

        if (!p) {
                if (vec_push(&pp->procs, (struct perf_proc) {}) < 0)
                        return NULL;
                if (u64map_put(&pp->index, pid, pp->procs.n - 1) < 0) {
                        pp->procs.n--;
                        return NULL;
                }
                p = &pp->procs.v[pp->procs.n - 1];
        }
        *p = (struct perf_proc) { .since_ns = since_ns, .target = true, .pid = pid };
        return p;
}

int perf_procs_add(struct perf_procs *pp, pid_t pid) {
        struct timespec ts;
        char path[64];

        clock_gettime(CLOCK_MONOTONIC, &ts);
        struct perf_proc *p = proc_reset(pp, (uint32_t) pid,
                                         (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec);
        if (!p)
                return -ENOMEM;
        /* the name to hand to its children if it forks before any COMM */
        snprintf(path, sizeof(path), "/proc/%d/comm", pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                ssize_t n = read(fd, p->comm, sizeof(p->comm) - 1);
                if (n > 0 && p->comm[n - 1] == '\n')
                        n--;
                p->comm[n > 0 ? n : 0] = '\0';
        }
        return 0;
}

/* A target as of time t: records older than its addition belong to an
 * earlier life of the pid, or happened before we were asked to look. */
static struct perf_proc *target_at(const struct perf_procs *pp, uint32_t pid, uint64_t t) {
        struct perf_proc *p = proc_get(pp, pid);
        return p && p->target && t >= p->since_ns ? p : NULL;
}

const struct perf_proc *perf_procs_target(const struct perf_procs *pp, uint32_t pid) {
        struct perf_proc *p = proc_get(pp, pid);
        return p && p->target ? p : NULL;
}

bool perf_procs_is_target(const struct perf_procs *pp, uint32_t pid) {
        return perf_procs_target(pp, pid) != NULL;
}

int perf_procs_watch_execs(struct perf_procs *pp, const struct sampler_exec_watch *w, size_t n) {
        /* built aside: on failure the old set stays whole */
        VEC(struct perf_exec_watch) fresh = {};
        for (size_t i = 0; i < n; i++) {
                struct perf_exec_watch x = { .tag = w[i].tag };
                /* a name the kernel would cut can never be a comm */
                if (strlen(w[i].comm) >= sizeof(x.comm))
                        continue;
                strcpy(x.comm, w[i].comm);
                int r = vec_push(&fresh, x);
                if (r < 0) {
                        vec_free(&fresh);
                        return r;
                }
        }
        vec_free(&pp->watch);
        pp->watch.v = fresh.v;
        pp->watch.n = fresh.n;
        pp->watch.cap = fresh.cap;
        return 0;
}

static const struct perf_exec_watch *watched(const struct perf_procs *pp, const char *comm) {
        for (size_t i = 0; i < pp->watch.n; i++)
                if (strcmp(pp->watch.v[i].comm, comm) == 0)
                        return &pp->watch.v[i];
        return NULL;
}

static void set_comm(struct perf_proc *p, const char *comm) {
        snprintf(p->comm, sizeof(p->comm), "%s", comm);
}

void perf_procs_handle(struct perf_procs *pp, const char *rec, size_t size,
                       const struct sampler_callbacks *cb) {
        struct perf_event_header h;
        struct process_event e = {};
        struct perf_proc *p;
        uint32_t pid, tid;
        uint64_t t = 0;

        if (size < sizeof(h))
                return;
        memcpy(&h, rec, sizeof(h));
        const char *q = rec + sizeof(h), *end = rec + size;
        if (size >= sizeof(h) + 16)
                memcpy(&t, end - 8, 8);

        switch (h.type) {
        case PERF_RECORD_MMAP2: {
                /* pid, tid, addr, len, pgoff, maj, min, ino, ino_gen, prot, flags, filename */
                if (q + 8 + 24 + 24 + 8 > end)
                        return;
                uint32_t prot;
                memcpy(&pid, q, 4);
                memcpy(&e.start, q + 8, 8);
                memcpy(&e.len, q + 16, 8);
                memcpy(&e.pgoff, q + 24, 8);
                memcpy(&prot, q + 56, 4);
                const char *name = q + 64;
                if (!(prot & PROT_EXEC) || !(p = target_at(pp, pid, t)) ||
                    !memchr(name, '\0', (size_t) (end - name)))
                        return;
                e.type = PROCESS_EVENT_MMAP;
                e.pid = pid;
                e.path = name;
                /* the file's identity, unless the record carries a
                 * build-id in its place (attr.build_id, not asked for) */
                if (!(h.misc & PERF_RECORD_MISC_MMAP_BUILD_ID)) {
                        uint32_t maj, min;
                        memcpy(&maj, q + 32, 4);
                        memcpy(&min, q + 36, 4);
                        memcpy(&e.inode, q + 40, 8);
                        e.dev = makedev(maj, min);
                }
                e.exec_gen = p->exec_gen;
                break;
        }
        case PERF_RECORD_COMM: {
                if (q + 9 > end)
                        return;
                memcpy(&pid, q, 4);
                memcpy(&tid, q + 4, 4);
                const char *comm = q + 8;
                const struct perf_exec_watch *w;
                /* a thread's own name is not the process's; pid 0 is a
                 * process outside our PID namespace */
                if (pid != tid || pid == 0 || !memchr(comm, '\0', (size_t) (end - comm)))
                        return;
                if (!(p = target_at(pp, pid, t))) {
                        /* an exec into a watched name: a target from here
                         * on, as the BPF program decides at the same exec
                         * (not a target's record from before its addition) */
                        if (!(h.misc & PERF_RECORD_MISC_COMM_EXEC) || perf_procs_is_target(pp, pid) ||
                            !(w = watched(pp, comm)) || !(p = proc_reset(pp, pid, t)))
                                return;
                        set_comm(p, comm);
                        e.type = PROCESS_EVENT_MATCHED;
                        e.pid = pid;
                        e.match = w->tag;
                        e.time_ns = t;
                        e.comm = p->comm;
                        break;
                }
                set_comm(p, comm);
                if (h.misc & PERF_RECORD_MISC_COMM_EXEC) {
                        p->exec_gen++;
                        e.type = PROCESS_EVENT_EXEC;
                        /* a target's child that execs into a watched name
                         * (a worker started per task) joins that target */
                        if ((w = watched(pp, comm)))
                                e.match = w->tag;
                        e.time_ns = t;
                } else {
                        e.type = PROCESS_EVENT_RENAME;
                }
                e.pid = pid;
                e.comm = p->comm;
                e.exec_gen = p->exec_gen;
                break;
        }
        case PERF_RECORD_FORK:
        case PERF_RECORD_EXIT: {
                /* pid and ppid are process ids, tid and ptid thread ids;
                 * in a FORK, ppid/ptid name the creating thread, so a new
                 * thread has pid == ppid */
                uint32_t ppid;
                if (q + 16 > end)
                        return;
                memcpy(&pid, q, 4);
                memcpy(&ppid, q + 4, 4);
                memcpy(&tid, q + 8, 4);
                if (pid != tid)
                        return; /* a thread, not a process */
                if (h.type == PERF_RECORD_FORK) {
                        if (pid == ppid)
                                return;
                        struct perf_proc *parent = target_at(pp, ppid, t);
                        if (!parent || !pp->children) {
                                /* the pid now names a process outside the set
                                 * (a fork older than the pid's addition is
                                 * the one that made the added process) */
                                p = proc_get(pp, pid);
                                if (p && t >= p->since_ns)
                                        p->target = false;
                                return;
                        }
                        char comm[sizeof(parent->comm)];
                        memcpy(comm, parent->comm, sizeof(comm));
                        p = proc_reset(pp, pid, t); /* may move parent */
                        if (!p)
                                return;
                        memcpy(p->comm, comm, sizeof(comm));
                        e.type = PROCESS_EVENT_NEW;
                        e.ppid = ppid;
                        e.comm = p->comm[0] ? p->comm : NULL;
                } else {
                        if (!(p = target_at(pp, pid, t)))
                                return;
                        p->exited_ns = t ? t : 1;
                        /* the main thread ended: the process is gone, or
                         * about to be, once its other threads follow */
                        e.type = PROCESS_EVENT_EXIT;
                }
                e.pid = pid;
                break;
        }
        case PERF_RECORD_LOST: {
                uint64_t lost;
                if (q + 16 > end)
                        return;
                memcpy(&lost, q + 8, 8);
                pp->lost += lost;
                return;
        }
        default:
                return;
        }
        if (cb && cb->process_event)
                cb->process_event(cb->userdata, &e);
}

/* Records of a process come in for a while after its exit (the rings are
 * drained every 100 ms or so, and its other threads may run on) */
#define EXITED_GRACE_NS (2000 * 1000 * 1000ULL)

void perf_procs_prune(struct perf_procs *pp, uint64_t now_ns) {
        for (size_t i = 0; i < pp->procs.n;) {
                struct perf_proc *p = &pp->procs.v[i];
                bool drop = !p->target;
                if (!drop && p->exited_ns && now_ns - p->exited_ns > EXITED_GRACE_NS) {
                        /* its main thread is gone; the process is gone too
                         * unless other threads still run */
                        char path[32];
                        snprintf(path, sizeof(path), "/proc/%u/task", p->pid);
                        drop = access(path, F_OK) < 0;
                        if (!drop)
                                p->exited_ns = 0;
                }
                if (!drop) {
                        i++;
                        continue;
                }
                u64map_remove(&pp->index, p->pid);
                if (i != pp->procs.n - 1) {
                        *p = pp->procs.v[pp->procs.n - 1];
                        (void) u64map_put(&pp->index, p->pid, i); /* replaces: never allocates */
                }
                pp->procs.n--;
        }
}

void perf_procs_release(struct perf_procs *pp) {
        vec_free(&pp->watch);
        u64map_release(&pp->index);
        vec_free(&pp->procs);
}
