#include "daemon/ondemand.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/pidfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cprof/output.h"
#include "cprof/record.h"
#include "daemon/record-options.h"
#include "util/log.h"
#include "util/vec.h"

/* A recording starts on a thread of its own: loading the BPF program and
 * its maps takes about 0.3 s, which the daemon's loop (the continuous
 * sampler, the socket) must not wait for. The loop owns the run again
 * once `started` is set; only the loop replies on the connection. */
struct ondemand {
        struct recorder *rec;
        struct control_conn *conn;
        pid_t pid;
        char **debug_dirs; /* the recorder borrows them */
        size_t n_debug_dirs;
        struct record_options opts;
        int pidfd;         /* a dup of the server's, the starter closes it */
        pthread_t starter;
        bool starting;     /* the starter is to be joined */
        atomic_bool started;
        int start_error;   /* the starter's result: 0, -ESRCH (gone) or an errno */
};

struct ondemand_set {
        VEC(struct ondemand *) runs;
        unsigned max;
        uint64_t max_duration_ns;
        bool kernel_stacks;
        char *unwind;
        char **debug_dirs;
        size_t n_debug_dirs;
};

static void free_dirs(char **dirs, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(dirs[i]);
        free(dirs);
}

static int copy_dirs(char *const *dirs, size_t n, char ***ret) {
        char **v = calloc(n ? n : 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(v[i] = strdup(dirs[i]))) {
                        free_dirs(v, i);
                        return -ENOMEM;
                }
        *ret = v;
        return 0;
}

static int configure(struct ondemand_set *s, const struct cprofd_config *c) {
        char **dirs;
        char *unwind = c->unwind ? strdup(c->unwind) : NULL;
        if ((c->unwind && !unwind) || copy_dirs(c->debug_dirs, c->n_debug_dirs, &dirs) < 0) {
                free(unwind);
                return -ENOMEM;
        }
        free(s->unwind);
        free_dirs(s->debug_dirs, s->n_debug_dirs);
        s->unwind = unwind;
        s->debug_dirs = dirs;
        s->n_debug_dirs = c->n_debug_dirs;
        s->max = c->max_ondemand;
        s->max_duration_ns = (uint64_t) c->ondemand_max_duration_s * 1000000000ULL;
        s->kernel_stacks = c->kernel_stacks;
        return 0;
}

int ondemand_set_new(const struct cprofd_config *c, struct ondemand_set **ret) {
        struct ondemand_set *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        int k = configure(s, c);
        if (k < 0) {
                free(s);
                return k;
        }
        *ret = s;
        return 0;
}

void ondemand_set_config(struct ondemand_set *s, const struct cprofd_config *c) {
        if (configure(s, c) < 0)
                log_warning("cannot apply the on-demand settings: out of memory");
}

size_t ondemand_count(const struct ondemand_set *s) {
        return s ? s->runs.n : 0;
}

size_t ondemand_starting(const struct ondemand_set *s) {
        size_t n = 0;
        for (size_t i = 0; s && i < s->runs.n; i++)
                n += s->runs.v[i]->starting;
        return n;
}

void ondemand_reply_profile(struct control_conn *c, const struct profile *p, unsigned windows) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        int k = f ? folded_write(p, f) : -errno;
        if (f && fclose(f) != 0 && k >= 0)
                k = -EIO;
        json_t *reply = k < 0 ? NULL : json_pack("{s:b, s:s%, s:f, s:I}", "ok", 1, "folded", text, len,
                                                 "samples", profile_total(p, 0), "windows", (json_int_t) windows);
        free(text);
        if (reply)
                control_reply(c, reply);
        else
                control_reply_error(c, "cannot make the profile: %s", strerror(k < 0 ? -k : ENOMEM));
}

static void run_free(struct ondemand *o) {
        recorder_free(o->rec);
        free_dirs(o->debug_dirs, o->n_debug_dirs);
        free(o);
}

/* Answers and frees run i. */
static void finish(struct ondemand_set *s, size_t i) {
        struct ondemand *o = s->runs.v[i];
        int k = recorder_finish(o->rec);
        struct profile *p = k < 0 ? NULL : recorder_profile(o->rec);
        if (p) {
                log_info("on-demand recording of process %d done: %.0f samples", (int) o->pid, profile_total(p, 0));
                ondemand_reply_profile(o->conn, p, 0);
        } else {
                control_reply_error(o->conn, "the recording failed: %s", strerror(k < 0 ? -k : ENOMEM));
        }
        run_free(o);
        s->runs.v[i] = s->runs.v[--s->runs.n];
}

static void *start_thread_main(void *arg) {
        struct ondemand *o = arg;
        int k = daemon_recorder_new(&o->opts, &o->rec);
        if (k >= 0) {
                k = recorder_add_pid(o->rec, o->pid, true);
                /* the pid the server checked is still that process (the
                 * pidfd would fail once the process is gone, and a new one
                 * may have the pid) */
                if (k >= 0 && o->pidfd >= 0 && pidfd_send_signal(o->pidfd, 0, NULL, 0) < 0)
                        k = -ESRCH;
        }
        if (o->pidfd >= 0)
                close(o->pidfd);
        o->pidfd = -1;
        o->start_error = k < 0 ? k : 0;
        atomic_store(&o->started, true);
        return NULL;
}

enum start_state { START_RUNNING, START_PENDING, START_FAILED };

/* Joins run i's starter if it is done (or, with wait, when it is); answers
 * and frees the run if it could not start (run i is then another one). */
static enum start_state settle_start(struct ondemand_set *s, size_t i, bool wait) {
        struct ondemand *o = s->runs.v[i];
        if (!o->starting)
                return START_RUNNING;
        if (!wait && !atomic_load(&o->started))
                return START_PENDING;
        pthread_join(o->starter, NULL);
        o->starting = false;
        if (o->start_error == 0)
                return START_RUNNING;
        if (o->start_error == -ESRCH)
                control_reply_error(o->conn, "process %d has exited", (int) o->pid);
        else
                control_reply_error(o->conn, "cannot record process %d: %s", (int) o->pid, strerror(-o->start_error));
        run_free(o);
        s->runs.v[i] = s->runs.v[--s->runs.n];
        return START_FAILED;
}

void ondemand_start(struct ondemand_set *s, struct control_conn *c, const struct control_request *req,
                    int pidfd, bool privileged) {
        struct ondemand *o;
        int k;

        if (s->runs.n >= s->max) {
                control_reply_error(c, "%u on-demand recordings are running already: try again later", s->max);
                return;
        }
        if (s->max_duration_ns && req->duration_ns > s->max_duration_ns) {
                control_reply_error(c, "duration over the limit of %.0f s (ondemand-max-duration)",
                                    (double) s->max_duration_ns / 1e9);
                return;
        }
        o = calloc(1, sizeof(*o));
        if (!o || copy_dirs(s->debug_dirs, s->n_debug_dirs, &o->debug_dirs) < 0) {
                free(o);
                control_reply_error(c, "out of memory");
                return;
        }
        *o = (struct ondemand) { .conn = c, .pid = req->pid, .debug_dirs = o->debug_dirs,
                                 .n_debug_dirs = s->n_debug_dirs, .pidfd = -1 };
        k = daemon_record_options(s->unwind, s->kernel_stacks, req->frequency_hz,
                                  (const char *const *) o->debug_dirs, o->n_debug_dirs, &o->opts);
        o->opts.duration_ns = req->duration_ns;
        if (!privileged) {
                o->opts.sampler.children = false;
                o->opts.first_image_only = true;
        }
        /* the starter's own copy: what it checks, it closes when done */
        if (k >= 0 && pidfd >= 0 && (o->pidfd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3)) < 0)
                k = -errno;
        if (k >= 0)
                k = vec_push(&s->runs, o);
        if (k >= 0) {
                k = -pthread_create(&o->starter, NULL, start_thread_main, o);
                if (k < 0)
                        s->runs.n--;
        }
        if (k < 0) {
                control_reply_error(c, "cannot record process %d: %s", (int) req->pid, strerror(-k));
                if (o->pidfd >= 0)
                        close(o->pidfd);
                run_free(o);
                return;
        }
        o->starting = true;
}

void ondemand_step(struct ondemand_set *s, bool stop) {
        for (size_t i = 0; i < s->runs.n;) {
                enum start_state st = settle_start(s, i, stop);
                if (st == START_PENDING)
                        i++;
                if (st != START_RUNNING)
                        continue;
                /* a client that gave up frees its slot now */
                int k = stop || control_conn_peer_gone(s->runs.v[i]->conn) ? 1 : recorder_poll(s->runs.v[i]->rec, 0);
                if (k == 0) {
                        i++;
                        continue;
                }
                if (k < 0)
                        log_warning("on-demand recording of process %d: %s", (int) s->runs.v[i]->pid, strerror(-k));
                finish(s, i);
        }
}

struct ondemand_set *ondemand_set_free(struct ondemand_set *s) {
        if (!s)
                return NULL;
        ondemand_step(s, true);
        vec_free(&s->runs);
        free(s->unwind);
        free_dirs(s->debug_dirs, s->n_debug_dirs);
        free(s);
        return NULL;
}
