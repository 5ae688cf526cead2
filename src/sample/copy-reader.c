/* The stack copy ring's own reader thread (see copy-reader.h). */
#include "copy-reader.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* The loop is behind by seconds past this: copies beyond it are
 * dropped (and counted as lost) rather than taking all memory. */
#define MAX_QUEUE (256u << 20)
/* After a burst, the pages of a queue past this go back to the kernel:
 * a heap buffer would keep them, and grow with each larger burst (a
 * daemon's memory must not creep). */
#define KEEP_RESIDENT (64u << 10)

/* Records, each a uint64_t size and its bytes, 8-aligned, in a mapping
 * of MAX_QUEUE bytes reserved up front (pages are only touched as
 * records come): it never moves, so nothing is copied as it grows. */
struct queue {
        char *v;
        size_t n;
};

struct copy_reader {
        struct ring_buffer *rb;
        /* Copies are submitted without a wakeup until a batch waits
         * (1 MiB): take() kicks the thread through this eventfd to read
         * what is there, so that a few copies do not sit in the ring
         * until the recording ends. A timeout instead would wake it
         * 50 times a second, which costs more than its copying here. */
        int kick_fd;
        bool stopping;
        pthread_t thread;
        bool running;
        pthread_mutex_t lock;
        /* take() waits until the thread has read the ring after its
         * kick, so copies reach the loop at the poll that sees them, as
         * when the loop read the ring itself */
        pthread_cond_t read_done;
        uint64_t kicks, kicks_read;
        struct queue queue; /* filled by the thread */
        struct queue work;  /* the batch take() is handing out */
        size_t peak;
        uint64_t dropped; /* records beyond MAX_QUEUE */
        int error; /* the thread's, returned by the next take() */
        int policy; /* the creator's scheduling, which the thread takes */
        struct sched_param param;
};

static size_t padded(size_t size) {
        return (size + 7) & ~(size_t) 7;
}

/* In the reader thread (and in stop(), once it has ended). */
static int stash(void *ctx, void *data, size_t size) {
        struct copy_reader *cr = ctx;
        uint64_t head = size;

        pthread_mutex_lock(&cr->lock);
        size_t at = cr->queue.n, need = at + sizeof(head) + padded(size);
        if (need > MAX_QUEUE) {
                cr->dropped++;
        } else {
                memcpy(cr->queue.v + at, &head, sizeof(head));
                memcpy(cr->queue.v + at + sizeof(head), data, size);
                cr->queue.n = need;
                if (need > cr->peak)
                        cr->peak = need;
        }
        pthread_mutex_unlock(&cr->lock);
        return 0;
}

static void set_error(struct copy_reader *cr, int r) {
        pthread_mutex_lock(&cr->lock);
        if (!cr->error)
                cr->error = r;
        pthread_mutex_unlock(&cr->lock);
}

static void *reader_main(void *arg) {
        struct copy_reader *cr = arg;
        /* SCHED_RESET_ON_FORK (see record_raise_priority) gave this
         * thread a normal task's share: on a busy machine the ring would
         * wait on it. Not allowed: stay as we are. */
        if (cr->policy == SCHED_FIFO || cr->policy == SCHED_RR)
                (void) sched_setscheduler(0, cr->policy | SCHED_RESET_ON_FORK, &cr->param);
        struct pollfd p[2] = {
                { .fd = ring_buffer__epoll_fd(cr->rb), .events = POLLIN },
                { .fd = cr->kick_fd, .events = POLLIN },
        };

        for (;;) {
                if (poll(p, 2, -1) < 0 && errno != EINTR) {
                        set_error(cr, -errno);
                        break;
                }
                if (p[1].revents & POLLIN) {
                        uint64_t n;
                        if (read(cr->kick_fd, &n, sizeof(n)) < 0) {
                                /* EAGAIN: another read took it */
                        }
                }
                if (__atomic_load_n(&cr->stopping, __ATOMIC_ACQUIRE))
                        break; /* stop() consumes what is left */
                pthread_mutex_lock(&cr->lock);
                uint64_t kicks = cr->kicks;
                pthread_mutex_unlock(&cr->lock);
                int r = ring_buffer__consume(cr->rb);
                if (r < 0)
                        set_error(cr, r);
                pthread_mutex_lock(&cr->lock);
                cr->kicks_read = kicks;
                pthread_cond_broadcast(&cr->read_done);
                pthread_mutex_unlock(&cr->lock);
                if (r < 0)
                        break;
        }
        return NULL;
}

int copy_reader_new(int ring_fd, struct copy_reader **ret) {
        struct copy_reader *cr = calloc(1, sizeof(*cr));
        sigset_t all, old;
        int r;

        if (!cr)
                return -ENOMEM;
        pthread_mutex_init(&cr->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&cr->read_done, &ca);
        pthread_condattr_destroy(&ca);
        cr->kick_fd = -1;
        cr->queue.v = mmap(NULL, MAX_QUEUE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        cr->work.v = mmap(NULL, MAX_QUEUE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (cr->queue.v == MAP_FAILED || cr->work.v == MAP_FAILED) {
                r = -errno;
                goto fail;
        }
        cr->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (cr->kick_fd < 0) {
                r = -errno;
                goto fail;
        }
        cr->rb = ring_buffer__new(ring_fd, stash, cr, NULL);
        if (!cr->rb) {
                r = -errno;
                goto fail;
        }
        /* the thread takes the loop's scheduling (real-time priority,
         * when raised), so a busy machine does not starve it */
        cr->policy = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
        if (sched_getparam(0, &cr->param) < 0)
                cr->policy = -1;
        /* signals are the loop thread's: it handles Ctrl-C and SIGCHLD */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = -pthread_create(&cr->thread, NULL, reader_main, cr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                goto fail;
        (void) pthread_setname_np(cr->thread, "cprof-copies");
        cr->running = true;
        *ret = cr;
        return 0;
fail:
        copy_reader_free(cr);
        return r;
}

static void kick(struct copy_reader *cr) {
        uint64_t one = 1;
        if (write(cr->kick_fd, &one, sizeof(one)) < 0) {
                /* only on overflow of the counter: it is set anyway */
        }
}

int copy_reader_take(struct copy_reader *cr, int (*fn)(void *userdata, void *data, size_t size), void *userdata) {
        int r;

        pthread_mutex_lock(&cr->lock);
        if (cr->running) {
                uint64_t want = ++cr->kicks;
                kick(cr);
                /* a few milliseconds at most: a thread that cannot run
                 * now leaves its records for the next take */
                struct timespec until;
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_nsec += 5 * 1000 * 1000;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                while (cr->kicks_read < want && !cr->error &&
                       pthread_cond_timedwait(&cr->read_done, &cr->lock, &until) == 0)
                        ;
        }
        struct queue batch = cr->queue;
        cr->queue = cr->work; /* empty */
        r = cr->error;
        pthread_mutex_unlock(&cr->lock);

        for (size_t at = 0; r >= 0 && at + sizeof(uint64_t) <= batch.n;) {
                uint64_t size;
                memcpy(&size, batch.v + at, sizeof(size));
                at += sizeof(size);
                r = fn(userdata, batch.v + at, (size_t) size);
                at += padded((size_t) size);
        }
        size_t used = (batch.n + 4095) & ~(size_t) 4095;
        if (used > KEEP_RESIDENT)
                (void) madvise(batch.v + KEEP_RESIDENT, used - KEEP_RESIDENT, MADV_DONTNEED);
        batch.n = 0;
        cr->work = batch;
        return r < 0 ? r : 0;
}

void copy_reader_stop(struct copy_reader *cr) {
        if (!cr || !cr->running)
                return;
        __atomic_store_n(&cr->stopping, true, __ATOMIC_RELEASE);
        kick(cr);
        pthread_join(cr->thread, NULL);
        cr->running = false;
        int r = ring_buffer__consume(cr->rb);
        if (r < 0)
                set_error(cr, r);
}

uint64_t copy_reader_dropped(struct copy_reader *cr) {
        pthread_mutex_lock(&cr->lock);
        uint64_t n = cr->dropped;
        pthread_mutex_unlock(&cr->lock);
        return n;
}

size_t copy_reader_peak(struct copy_reader *cr) {
        pthread_mutex_lock(&cr->lock);
        size_t peak = cr->peak;
        pthread_mutex_unlock(&cr->lock);
        return peak;
}

struct copy_reader *copy_reader_free(struct copy_reader *cr) {
        if (!cr)
                return NULL;
        copy_reader_stop(cr);
        ring_buffer__free(cr->rb);
        if (cr->kick_fd >= 0)
                close(cr->kick_fd);
        if (cr->queue.v && cr->queue.v != MAP_FAILED)
                munmap(cr->queue.v, MAX_QUEUE);
        if (cr->work.v && cr->work.v != MAP_FAILED)
                munmap(cr->work.v, MAX_QUEUE);
        pthread_cond_destroy(&cr->read_done);
        pthread_mutex_destroy(&cr->lock);
        free(cr);
        return NULL;
}
