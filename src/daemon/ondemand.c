#include "daemon/ondemand.h"

#include <errno.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cprof/output.h"
#include "cprof/record.h"
#include "daemon/record-options.h"
#include "util/log.h"
#include "util/vec.h"

struct ondemand {
        struct recorder *rec;
        struct control_conn *conn;
        pid_t pid;
        char **debug_dirs; /* the recorder borrows them */
        size_t n_debug_dirs;
};

struct ondemand_set {
        VEC(struct ondemand) runs;
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

/* Answers and frees run i. */
static void finish(struct ondemand_set *s, size_t i) {
        struct ondemand *o = &s->runs.v[i];
        int k = recorder_finish(o->rec);
        struct profile *p = k < 0 ? NULL : recorder_profile(o->rec);
        if (p) {
                log_info("on-demand recording of process %d done: %.0f samples", (int) o->pid, profile_total(p, 0));
                ondemand_reply_profile(o->conn, p, 0);
        } else {
                control_reply_error(o->conn, "the recording failed: %s", strerror(k < 0 ? -k : ENOMEM));
        }
        recorder_free(o->rec);
        free_dirs(o->debug_dirs, o->n_debug_dirs);
        s->runs.v[i] = s->runs.v[--s->runs.n];
}

void ondemand_start(struct ondemand_set *s, struct control_conn *c, const struct control_request *req,
                    int pidfd, bool privileged) {
        struct ondemand o = { .conn = c, .pid = req->pid };
        struct record_options opts;
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
        k = copy_dirs(s->debug_dirs, s->n_debug_dirs, &o.debug_dirs);
        if (k < 0) {
                control_reply_error(c, "out of memory");
                return;
        }
        o.n_debug_dirs = s->n_debug_dirs;
        k = daemon_record_options(s->unwind, s->kernel_stacks, req->frequency_hz,
                                  (const char *const *) o.debug_dirs, o.n_debug_dirs, &opts);
        opts.duration_ns = req->duration_ns;
        if (!privileged) {
                opts.sampler.children = false;
                opts.first_image_only = true;
        }
        if (k >= 0)
                k = daemon_recorder_new(&opts, &o.rec);
        if (k >= 0) {
                k = recorder_add_pid(o.rec, req->pid, true);
                /* the pid the server checked is still that process (the
                 * pidfd it holds would fail once the process is gone, and a
                 * new one may have the pid) */
                if (k == -ESRCH || (k >= 0 && pidfd >= 0 && pidfd_send_signal(pidfd, 0, NULL, 0) < 0)) {
                        control_reply_error(c, "process %d has exited", (int) req->pid);
                        goto fail;
                }
        }
        if (k >= 0)
                k = vec_push(&s->runs, o);
        if (k < 0) {
                control_reply_error(c, "cannot record process %d: %s", (int) req->pid, strerror(-k));
                goto fail;
        }
        return;
fail:
        recorder_free(o.rec);
        free_dirs(o.debug_dirs, o.n_debug_dirs);
}

void ondemand_step(struct ondemand_set *s, bool stop) {
        for (size_t i = 0; i < s->runs.n;) {
                /* a client that gave up frees its slot now */
                int k = stop || control_conn_peer_gone(s->runs.v[i].conn) ? 1 : recorder_poll(s->runs.v[i].rec, 0);
                if (k == 0) {
                        i++;
                        continue;
                }
                if (k < 0)
                        log_warning("on-demand recording of process %d: %s", (int) s->runs.v[i].pid, strerror(-k));
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
