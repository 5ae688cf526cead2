/* debuginfod fetches on one worker thread (see debuginfod.h). */
#include <dlfcn.h>
#include <elfutils/debuginfod.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "symbolize/debuginfod.h"
#include "util/cleanup.h"
#include "util/time-util.h"
#include "util/vec.h"

/* libdebuginfod is opened only when DEBUGINFOD_URLS asks for it, as
 * libdw does: linked, it brings libcurl and some thirty libraries with
 * it, whose loading is most of cprof's start-up, and start-up is what a
 * saturated machine (2,000 busy threads on 2 CPUs) makes slow. */
static struct {
        bool tried, ok;
        debuginfod_client *(*begin)(void);
        void (*end)(debuginfod_client *c);
        int (*find_debuginfo)(debuginfod_client *c, const unsigned char *id, int len, char **path);
        void (*set_progressfn)(debuginfod_client *c, debuginfod_progressfn_t fn);
        void (*set_user_data)(debuginfod_client *c, void *data);
        void *(*get_user_data)(debuginfod_client *c);
} lib;

static bool load_library(void) {
        if (lib.tried)
                return lib.ok;
        lib.tried = true;
        void *h = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return false;
        /* POSIX: a void * from dlsym converts to a function pointer */
        *(void **) &lib.begin = dlsym(h, "debuginfod_begin");
        *(void **) &lib.end = dlsym(h, "debuginfod_end");
        *(void **) &lib.find_debuginfo = dlsym(h, "debuginfod_find_debuginfo");
        *(void **) &lib.set_progressfn = dlsym(h, "debuginfod_set_progressfn");
        *(void **) &lib.set_user_data = dlsym(h, "debuginfod_set_user_data");
        *(void **) &lib.get_user_data = dlsym(h, "debuginfod_get_user_data");
        lib.ok = lib.begin && lib.end && lib.find_debuginfo && lib.set_progressfn && lib.set_user_data &&
                 lib.get_user_data;
        return lib.ok;
}

#define BUILD_ID_MAX 64

enum fetch_state { FETCH_QUEUED, FETCH_RUNNING, FETCH_DONE, FETCH_FAILED };

struct fetch {
        uint8_t build_id[BUILD_ID_MAX];
        size_t len;
        enum fetch_state state;
        int fd; /* FETCH_DONE: the fetcher's own, dup'ed for callers */
};

struct debuginfod_fetcher {
        pthread_mutex_t lock;
        pthread_cond_t changed; /* a fetch was queued or finished, or stop */
        VEC(struct fetch) fetches;
        size_t pending; /* queued + running */
        bool stop;
        atomic_bool cancel; /* read by the progress callback, unlocked */
        uint64_t timeout_ns;     /* 0: none */
        uint64_t fetch_start_ns; /* worker only */
        bool started;
        pthread_t worker;
        debuginfod_client *client;
};

static struct fetch *find(struct debuginfod_fetcher *f, const uint8_t *id, size_t len) {
        for (size_t i = 0; i < f->fetches.n; i++)
                if (f->fetches.v[i].len == len && memcmp(f->fetches.v[i].build_id, id, len) == 0)
                        return &f->fetches.v[i];
        return NULL;
}

/* Called by libdebuginfod about once a second while it waits. Non-zero
 * stops the fetch: when the fetcher is being freed, and when no download
 * has begun within DEBUGINFOD_TIMEOUT of the fetch's start. libdebuginfod
 * applies that timeout to each attempt and retries
 * (DEBUGINFOD_RETRY_LIMIT, 2 by default in 0.188), so a silent server
 * would hold a fetch for three timeouts; this makes it one. In 0.188, b
 * stays 0 until a server answers with the file's size (a then counts
 * bytes; before, it only counts calls). */
static int progress(debuginfod_client *c, long a, long b) {
        struct debuginfod_fetcher *f = lib.get_user_data(c);
        (void) a;
        if (atomic_load(&f->cancel))
                return 1;
        if (f->timeout_ns && b <= 0 && now_ns() - f->fetch_start_ns >= f->timeout_ns)
                return 1;
        return 0;
}

/* DEBUGINFOD_TIMEOUT as libdebuginfod 0.188 reads it: seconds, 90 when
 * unset, none when zero or negative. */
static uint64_t read_timeout_ns(void) {
        const char *v = getenv("DEBUGINFOD_TIMEOUT");
        long t = v ? atol(v) : 90;
        return t > 0 ? (uint64_t) t * 1000000000ULL : 0;
}

/* A read-only fd of its own (own offset: libdebuginfod hands out the fd
 * it wrote a fresh download through, positioned at the end). */
static int reopen_fd(int fd) {
        char p[64];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        int r = open(p, O_RDONLY | O_CLOEXEC);
        if (r >= 0)
                return r;
        /* no /proc: a duplicate, rewound (it shares the offset) */
        r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (r < 0)
                return -errno;
        if (lseek(r, 0, SEEK_SET) < 0) {
                int e = errno;
                close(r);
                return -e;
        }
        return r;
}

static void *worker_main(void *arg) {
        struct debuginfod_fetcher *f = arg;

        pthread_mutex_lock(&f->lock);
        for (;;) {
                struct fetch *next = NULL;
                for (size_t i = 0; !f->stop && i < f->fetches.n && !next; i++)
                        if (f->fetches.v[i].state == FETCH_QUEUED)
                                next = &f->fetches.v[i];
                if (f->stop)
                        break;
                if (!next) {
                        pthread_cond_wait(&f->changed, &f->lock);
                        continue;
                }
                /* the array may be reallocated while unlocked: copy the key */
                uint8_t id[BUILD_ID_MAX];
                size_t len = next->len;
                memcpy(id, next->build_id, len);
                next->state = FETCH_RUNNING;
                pthread_mutex_unlock(&f->lock);

                f->fetch_start_ns = now_ns();
                int fd = lib.find_debuginfo(f->client, id, (int) len, NULL);

                pthread_mutex_lock(&f->lock);
                struct fetch *e = find(f, id, len);
                if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
                        close(fd);
                        fd = -1;
                }
                e->state = fd >= 0 ? FETCH_DONE : FETCH_FAILED;
                e->fd = fd;
                f->pending--;
                pthread_cond_broadcast(&f->changed);
        }
        pthread_mutex_unlock(&f->lock);
        return NULL;
}

int debuginfod_fetcher_new(struct debuginfod_fetcher **ret) {
        const char *urls = getenv("DEBUGINFOD_URLS");
        struct debuginfod_fetcher *f;
        int r;

        *ret = NULL;
        if (!urls || !urls[strspn(urls, " \t")])
                return -ENOTSUP;
        if (!load_library())
                return -ENOTSUP;
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->changed, NULL);
        atomic_init(&f->cancel, false);
        f->timeout_ns = read_timeout_ns();
        f->client = lib.begin();
        if (!f->client) {
                debuginfod_fetcher_free(f);
                return -ENOMEM;
        }
        lib.set_user_data(f->client, f);
        lib.set_progressfn(f->client, progress);
        /* The worker takes no signals: cprof's handlers set flags that
         * the main loop must see through EINTR, and a SIGPIPE from a server
         * closing its socket must not end cprof. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = pthread_create(&f->worker, NULL, worker_main, f);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0) {
                debuginfod_fetcher_free(f);
                return -r;
        }
        f->started = true;
        *ret = f;
        return 0;
}

struct debuginfod_fetcher *debuginfod_fetcher_free(struct debuginfod_fetcher *f) {
        if (!f)
                return NULL;
        if (f->started) {
                atomic_store(&f->cancel, true);
                pthread_mutex_lock(&f->lock);
                f->stop = true;
                pthread_cond_broadcast(&f->changed);
                pthread_mutex_unlock(&f->lock);
                pthread_join(f->worker, NULL);
        }
        if (f->client)
                lib.end(f->client);
        for (size_t i = 0; i < f->fetches.n; i++)
                if (f->fetches.v[i].state == FETCH_DONE)
                        close(f->fetches.v[i].fd);
        vec_free(&f->fetches);
        pthread_cond_destroy(&f->changed);
        pthread_mutex_destroy(&f->lock);
        free(f);
        return NULL;
}

int debuginfod_fetcher_request(struct debuginfod_fetcher *f, const uint8_t *build_id, size_t len) {
        int r = 0;

        if (!build_id || len == 0 || len > BUILD_ID_MAX)
                return -EINVAL;
        pthread_mutex_lock(&f->lock);
        if (find(f, build_id, len))
                goto out;
        r = vec_reserve(&f->fetches, f->fetches.n + 1);
        if (r < 0)
                goto out;
        struct fetch *e = &f->fetches.v[f->fetches.n++];
        memset(e, 0, sizeof(*e));
        memcpy(e->build_id, build_id, len);
        e->len = len;
        e->state = FETCH_QUEUED;
        e->fd = -1;
        f->pending++;
        pthread_cond_broadcast(&f->changed);
out:
        pthread_mutex_unlock(&f->lock);
        return r;
}

int debuginfod_fetcher_poll(struct debuginfod_fetcher *f, const uint8_t *build_id, size_t len, int *ret_fd) {
        int r;

        if (!build_id || len == 0 || len > BUILD_ID_MAX)
                return -EINVAL;
        pthread_mutex_lock(&f->lock);
        struct fetch *e = find(f, build_id, len);
        if (!e)
                r = -ESRCH;
        else if (e->state == FETCH_QUEUED || e->state == FETCH_RUNNING)
                r = 0;
        else if (e->state == FETCH_FAILED)
                r = -ENOENT;
        else {
                int fd = reopen_fd(e->fd);
                if (fd < 0)
                        r = fd;
                else {
                        *ret_fd = fd;
                        r = 1;
                }
        }
        pthread_mutex_unlock(&f->lock);
        return r;
}

uint64_t debuginfod_fetcher_timeout_ns(const struct debuginfod_fetcher *f) {
        return f->timeout_ns;
}

int debuginfod_fetcher_wait(struct debuginfod_fetcher *f, uint64_t deadline_ns) {
        /* pthread_cond_timedwait takes CLOCK_REALTIME by default: convert
         * the monotonic deadline once, so a clock step only shifts it */
        struct timespec mono, real;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        clock_gettime(CLOCK_REALTIME, &real);
        uint64_t now = (uint64_t) mono.tv_sec * 1000000000ULL + (uint64_t) mono.tv_nsec;
        uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
        uint64_t abs_ns = (uint64_t) real.tv_sec * 1000000000ULL + (uint64_t) real.tv_nsec + left;
        struct timespec abs = { .tv_sec = (time_t) (abs_ns / 1000000000ULL),
                                .tv_nsec = (long) (abs_ns % 1000000000ULL) };
        int r = 0;

        pthread_mutex_lock(&f->lock);
        while (f->pending > 0 && r == 0)
                if (pthread_cond_timedwait(&f->changed, &f->lock, &abs) == ETIMEDOUT)
                        r = f->pending > 0 ? -ETIMEDOUT : 0;
        pthread_mutex_unlock(&f->lock);
        return r;
}
