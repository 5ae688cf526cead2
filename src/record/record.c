/* The recording loop: polls the sampler, turns raw samples into profile
 * stacks (unwind, symbolize) and keeps the symbolizer's view of each
 * process current while the process lives: maps are read when a process
 * is first seen, after exec, and again shortly after exec, when the
 * dynamic loader has mapped the libraries. */
#include "cprof/record.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cprof/symbolize.h"
#include "cprof/target.h"
#include "cprof/unwind.h"
#include "util/cleanup.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/time-util.h"
#include "util/vec.h"

#define POLL_MS 100
#define PROGRESS_NS (250 * 1000 * 1000ULL)

struct reload {
        pid_t pid;
        uint64_t at_ns;
        unsigned round;
};

/* An image replaced by an exec, kept a while for samples taken before it */
struct old_image {
        pid_t pid;
        uint32_t gen;
        uint64_t at_ns; /* when to forget it */
};

/* Samples reach us up to two drains (about 0.4 s) after they were taken:
 * an image is kept well past that */
#define OLD_IMAGE_NS (2000 * 1000 * 1000ULL)

struct recorder {
        struct record_options opts;
        struct sampler *sampler;
        struct symbolizer *sym;
        struct profile *profile;
        VEC(pid_t) roots;
        struct u64map names; /* tgid -> string id of the process name */
        VEC(struct reload) reloads;
        VEC(struct old_image) old_images;
        uint64_t start_ns, end_ns;
        uint64_t exit_seen_ns; /* when a process last exited */
        uint64_t unnamed_samples;
        uint32_t unknown_name; /* string id of "[unknown]" */
        const char *end_reason;
        bool started, finished;
        struct unwound_frame frames[UNWIND_MAX_FRAMES];
        uint32_t ids[UNWIND_MAX_FRAMES + 2];
};


/* SCHED_FIFO 1 is above every normal task and below every real-time one;
 * children we fork later do not inherit it. Not allowed (no
 * CAP_SYS_NICE, RLIMIT_RTPRIO 0): stay as we are. */
static void raise_priority(void) {
        struct sched_param sp = { .sched_priority = 1 };
        if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0)
                log_debug_errno(errno, "record: cannot run at real-time priority, skipping");
}

int recorder_new(const struct record_options *o, struct recorder **ret,
                 const char **ret_fallback_reason) {
        struct recorder *r = calloc(1, sizeof(*r));
        int k;

        if (!r)
                return -ENOMEM;
        r->opts = *o;
        /* first: loading the BPF program (its maps are allocated and
         * cleared now), kallsyms and the targets' maps are part of the
         * recording's time too, and a busy target would starve them */
        if (o->realtime)
                raise_priority();
        k = profile_new(&r->profile);
        if (k >= 0)
                k = symbolizer_new(&r->sym);
        if (k >= 0)
                k = sampler_new(&o->sampler, &r->sampler, ret_fallback_reason);
        if (k < 0) {
                recorder_free(r);
                return k;
        }
        if (o->sampler.kernel_stacks)
                symbolizer_load_kernel(r->sym);
        profile_set_frequency_hz(r->profile, o->sampler.frequency_hz);
        k = profile_intern_string(r->profile, "[unknown]", strlen("[unknown]"), &r->unknown_name);
        if (k < 0) {
                recorder_free(r);
                return k;
        }
        /* hours of recording must not grow with time, only with stacks */
        profile_set_keep_samples(r->profile, false);
        *ret = r;
        return 0;
}

struct recorder *recorder_free(struct recorder *r) {
        if (!r)
                return NULL;
        sampler_free(r->sampler);
        symbolizer_free(r->sym);
        profile_free(r->profile);
        vec_free(&r->roots);
        vec_free(&r->reloads);
        vec_free(&r->old_images);
        u64map_release(&r->names);
        free(r);
        return NULL;
}

static int set_name(struct recorder *r, pid_t pid, const char *name) {
        uint32_t id;
        int k = profile_intern_string(r->profile, name, strlen(name), &id);
        if (k < 0)
                return k;
        return u64map_put(&r->names, (uint64_t) pid, id);
}

/* The process frame's name. The BPF backend reads it at sample time, so
 * it follows exec and renames exactly; otherwise it is what events said
 * (COMM records, in time order), else /proc, else the thread's name. */
static int process_name(struct recorder *r, const struct raw_sample *s, uint32_t *ret_id) {
        pid_t pid = (pid_t) s->tgid;
        uint64_t id;
        char buf[64];
        int k;

        if (u64map_get(&r->names, (uint64_t) pid, &id)) {
                if (s->process_comm && *s->process_comm)
                        return profile_intern_string(r->profile, s->process_comm,
                                                     strlen(s->process_comm), ret_id);
                *ret_id = (uint32_t) id;
                return 0;
        }
        /* first sight of this process: learn its maps while it lives */
        (void) symbolizer_load_process(r->sym, pid);
        if (s->process_comm && *s->process_comm)
                snprintf(buf, sizeof(buf), "%s", s->process_comm);
        else if (target_comm(pid, buf, sizeof(buf)) < 0) {
                if (s->tid == s->tgid && s->comm && *s->comm)
                        snprintf(buf, sizeof(buf), "%s", s->comm);
                else
                        snprintf(buf, sizeof(buf), "[pid %d]", pid);
        }
        k = set_name(r, pid, buf);
        if (k < 0)
                return k;
        u64map_get(&r->names, (uint64_t) pid, &id);
        *ret_id = (uint32_t) id;
        return 0;
}

static void schedule_reloads(struct recorder *r, pid_t pid) {
        (void) vec_push(&r->reloads, ((struct reload) { .pid = pid, .at_ns = now_ns() + 10000000ULL }));
}

/* After exec the loader maps libraries within milliseconds: read the maps
 * again at 10 ms, 50 ms, 250 ms and 1.25 s. */
static void run_reloads(struct recorder *r) {
        uint64_t now = now_ns();

        for (size_t i = 0; i < r->reloads.n;) {
                struct reload *rl = &r->reloads.v[i];
                if (rl->at_ns > now) {
                        i++;
                        continue;
                }
                if (symbolizer_load_process(r->sym, rl->pid) >= 0 && rl->round < 3) {
                        rl->round++;
                        rl->at_ns = now + 10000000ULL * (rl->round == 1 ? 5 : rl->round == 2 ? 25 : 125);
                        i++;
                        continue;
                }
                r->reloads.v[i] = r->reloads.v[--r->reloads.n];
        }
}

static void forget_old_images(struct recorder *r) {
        uint64_t now = now_ns();

        for (size_t i = 0; i < r->old_images.n;) {
                struct old_image *o = &r->old_images.v[i];
                if (o->at_ns > now) {
                        i++;
                        continue;
                }
                symbolizer_forget_image(r->sym, o->pid, o->gen);
                r->old_images.v[i] = r->old_images.v[--r->old_images.n];
        }
}

static void on_process_event(void *userdata, const struct process_event *e) {
        struct recorder *r = userdata;
        pid_t pid = (pid_t) e->pid;

        switch (e->type) {
        case PROCESS_EVENT_NEW: {
                /* until it execs, a child runs its parent's image, under
                 * its parent's name */
                uint64_t parent_name;
                (void) symbolizer_fork_process(r->sym, (pid_t) e->ppid, pid);
                (void) symbolizer_load_process(r->sym, pid);
                if (e->comm)
                        (void) set_name(r, pid, e->comm);
                else if (u64map_get(&r->names, e->ppid, &parent_name))
                        (void) u64map_put(&r->names, (uint64_t) pid, parent_name);
                break;
        }
        case PROCESS_EVENT_EXEC:
                (void) symbolizer_exec_process(r->sym, pid, e->exec_gen);
                if (e->exec_gen > 0)
                        (void) vec_push(&r->old_images, ((struct old_image) {
                                .pid = pid, .gen = e->exec_gen - 1, .at_ns = now_ns() + OLD_IMAGE_NS }));
                (void) symbolizer_load_process(r->sym, pid);
                if (e->comm)
                        (void) set_name(r, pid, e->comm);
                schedule_reloads(r, pid);
                break;
        case PROCESS_EVENT_RENAME:
                if (e->comm)
                        (void) set_name(r, pid, e->comm);
                break;
        case PROCESS_EVENT_MMAP:
                (void) symbolizer_add_mapping(r->sym, pid, e->exec_gen, e->start, e->len, e->pgoff,
                                              e->path);
                break;
        case PROCESS_EVENT_EXIT:
                /* the event comes from inside the exit: /proc shows the
                 * process gone a moment later, so look again soon (roots
                 * only: they are what ends the recording) */
                for (size_t i = 0; i < r->roots.n; i++)
                        if (r->roots.v[i] == pid)
                                r->exit_seen_ns = now_ns();
                break;
        }
}

static int thread_frame(struct recorder *r, const struct raw_sample *s, uint32_t *ret_id) {
        char name[64], comm[32];

        /* the perf backend gives no name: /proc/TID/comm works for threads */
        if (s->comm && *s->comm)
                snprintf(comm, sizeof(comm), "%s", s->comm);
        else if (target_comm((pid_t) s->tid, comm, sizeof(comm)) < 0)
                snprintf(comm, sizeof(comm), "[thread]");
        snprintf(name, sizeof(name), "%s-%u", comm, s->tid);
        return profile_intern_named_frame(r->profile, name, strlen(name), FRAME_THREAD, ret_id);
}

static int on_sample(void *userdata, const struct raw_sample *s) {
        struct recorder *r = userdata;
        size_t n = unwind_sample(s, r->opts.sampler.user_stacks, r->opts.sampler.kernel_stacks, r->frames);
        size_t depth = 0;
        uint32_t name;
        int k;

        k = process_name(r, s, &name);
        if (k < 0)
                return k;
        struct profile_frame pf = { .name = name, .kind = FRAME_PROCESS };
        k = profile_intern_frame(r->profile, &pf, &r->ids[depth++]);
        if (k < 0)
                return k;
        if (r->opts.threads) {
                k = thread_frame(r, s, &r->ids[depth++]);
                if (k < 0)
                        return k;
        }
        /* leaf first in, root first out */
        bool unnamed = false;
        for (size_t i = n; i-- > 0;) {
                k = symbolizer_frame(r->sym, r->profile, (pid_t) s->tgid, s->exec_gen, &r->frames[i],
                                     &r->ids[depth]);
                if (k < 0)
                        return k;
                unnamed |= profile_frame(r->profile, r->ids[depth])->name == r->unknown_name;
                depth++;
        }
        if (unnamed)
                r->unnamed_samples += s->count;
        double v = (double) s->count;
        return profile_add_sample(r->profile, r->ids, depth, &v, s->tid, s->time_ns);
}

int recorder_add_pid(struct recorder *r, pid_t pid, bool root) {
        int k = sampler_add_process(r->sampler, pid);
        if (k < 0)
                return k;
        (void) symbolizer_load_process(r->sym, pid);
        if (root) {
                k = vec_push(&r->roots, pid);
                if (k < 0)
                        return k;
        }
        return 0;
}

int recorder_start(struct recorder *r) {
        int k = sampler_start(r->sampler);
        if (k < 0)
                return k;
        r->started = true;
        r->start_ns = now_ns();
        return 0;
}

static bool roots_alive(struct recorder *r) {
        for (size_t i = 0; i < r->roots.n; i++)
                if (target_alive(r->roots.v[i]))
                        return true;
        return false;
}

int recorder_run(struct recorder *r, volatile sig_atomic_t *stop,
                 void (*progress)(void *userdata, const struct record_progress *p), void *userdata) {
        struct sampler_callbacks cb = {
                .sample = on_sample,
                .process_event = on_process_event,
                .userdata = r,
        };
        uint64_t last_progress = 0;
        int k = 0;

        if (!r->started) {
                k = recorder_start(r);
                if (k < 0)
                        return k;
        }
        for (;;) {
                uint64_t now = now_ns();
                if (stop && *stop) {
                        r->end_reason = "stopped";
                        break;
                }
                if (r->opts.duration_ns && now - r->start_ns >= r->opts.duration_ns) {
                        r->end_reason = "duration";
                        break;
                }
                if (r->roots.n && !roots_alive(r)) {
                        r->end_reason = "targets exited";
                        break;
                }
                int timeout = now - r->exit_seen_ns < 200 * 1000000ULL ? 5 : POLL_MS;
                if (r->opts.duration_ns) {
                        uint64_t left_ms = (r->start_ns + r->opts.duration_ns - now) / 1000000ULL + 1;
                        if (left_ms < (uint64_t) timeout)
                                timeout = (int) left_ms;
                }
                k = sampler_poll(r->sampler, timeout, &cb);
                if (k < 0 && k != -EINTR)
                        break;
                k = 0;
                run_reloads(r);
                forget_old_images(r);
                if (progress && now - last_progress >= PROGRESS_NS) {
                        struct record_progress p;
                        recorder_get_progress(r, &p);
                        progress(userdata, &p);
                        last_progress = now;
                }
        }
        r->end_ns = now_ns();
        int k2 = sampler_stop(r->sampler, &cb);
        if (k >= 0)
                k = k2;
        profile_set_duration_ns(r->profile, r->end_ns - r->start_ns);
        r->finished = true;
        return k;
}

struct profile *recorder_profile(struct recorder *r) {
        return r->profile;
}

void recorder_get_progress(const struct recorder *r, struct record_progress *ret) {
        *ret = (struct record_progress) {
                .elapsed_ns = (r->finished ? r->end_ns : now_ns()) - r->start_ns,
                .processes = r->names.count,
                .unnamed_samples = r->unnamed_samples,
        };
        sampler_get_stats(r->sampler, &ret->stats);
}

const char *recorder_backend_name(const struct recorder *r) {
        return sampler_backend_name(r->sampler);
}

const char *recorder_notice(const struct recorder *r) {
        return sampler_notice(r->sampler);
}

const char *recorder_end_reason(const struct recorder *r) {
        return r->end_reason ? r->end_reason : "stopped";
}
