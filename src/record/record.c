/* The recording loop: polls the sampler, keeps the process image of each
 * target current while it lives (maps read when a process is first seen,
 * after exec, and again shortly after exec, when the dynamic loader has
 * mapped the libraries), turns raw samples into address stacks (unwind,
 * then the image resolves each address), and after each drain names the
 * new addresses and adds the new counts to the profile of the sample's
 * group (symbolize).
 *
 * Everything a window needs lives as long as the window: its addresses,
 * their names (interned in a dictionary profile), and the pins that keep
 * their modules. Taking a window hands over its profiles and drops the
 * rest; what lives across windows is per process (its image, name and
 * group) and is forgotten once the process is gone, so a recording that
 * runs for weeks under process churn stays flat. */
#include "cprof/record.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cprof/image.h"
#include "cprof/symbolize.h"
#include "cprof/target.h"
#include "cprof/unwind.h"
#include "record/addr-stacks.h"
#include "unwind/dwfl-check.h"
#include "unwind/kernel-tables.h"
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

/* An image replaced by an exec, or a process that exited, kept a while
 * for samples taken before it */
struct old_image {
        pid_t pid;
        uint32_t gen; /* ALL_IMAGES: the whole process */
        uint64_t at_ns; /* when to forget it */
};

/* Samples reach us up to two drains (about 0.4 s) after they were taken:
 * an image is kept well past that */
#define OLD_IMAGE_NS (2000 * 1000 * 1000ULL)
#define ALL_IMAGES UINT32_MAX
/* modules nothing maps any more are released this often */
#define COLLECT_NS (1000 * 1000 * 1000ULL)

/* One group's profile of the current window, and where each dictionary
 * frame went in it (frame id + 1, 0: not there yet) */
struct window {
        struct profile *p;
        VEC(uint32_t) xlat;
};

struct recorder {
        struct record_options opts;
        struct sampler *sampler;
        struct sampler_callbacks cb;
        struct image_store *img;
        struct symbolizer *sym;
        struct unwinder *unw;
        struct dwfl_check *check; /* --unwind-check */
        /* the in-kernel unwinder's tables (NULL: unwinding in userspace),
         * and the process images whose entry must be written again */
        struct kernel_tables *kt;
        VEC(struct old_image) ksync;
        struct addr_stacks stacks;
        /* the window's names: the frames of address chains and stack
         * prefixes; samples go to the windows' profiles */
        struct profile *dict;
        VEC(struct window) windows; /* by group */
        struct u64map groups;       /* tgid -> group, for groups other than 0 */
        /* tgid -> when recorder_add_process last set its group: an exec
         * match older than that (its record read late) does not undo it */
        struct u64map group_set_ns;
        VEC(uint64_t) group_samples; /* by group, since the start */
        uint64_t window_start_ns;
        size_t processes_seen;
        bool exec_seen; /* first_image_only: a target ran exec */
        uint64_t kernel_modules_hash; /* of /proc/modules when kallsyms was read */
        VEC(pid_t) roots;
        struct u64map names; /* tgid -> string id of the process name */
        VEC(struct reload) reloads;
        VEC(struct old_image) old_images;
        uint64_t start_ns, end_ns;
        uint64_t exit_seen_ns; /* when a process last exited */
        uint64_t unnamed_samples;
        uint64_t jit_unnamed_samples;
        uint64_t nosym_samples;
        uint64_t unwound_samples;
        uint64_t unwind_ends[_UNWIND_END_MAX];
        uint64_t unwind_copy_limited;
        uint64_t check_samples, check_agree;
        uint32_t truncated_name; /* string id of "[truncated]" */
        struct u64map nosym_modules; /* profile string id of a module path -> samples */
        uint64_t last_collect_ns;
        uint32_t unknown_name; /* string id of "[unknown]" */
        VEC(uint32_t) flush_ids; /* profile frame ids of one stack being flushed */
        VEC(uint32_t) new_modules; /* seen in the drain, prepared at the next flush */
        const char *end_reason;
        bool started, finished;
        /* one sample's frames (unwinder_max_frames) */
        struct unwound_frame *frames;
        uint32_t *addr_ids;
        uint64_t *check_pcs;
};


static int on_sample(void *userdata, const struct raw_sample *s);
static void on_process_event(void *userdata, const struct process_event *e);

/* A new dictionary, with the names every window uses. */
static int dict_start(struct recorder *r) {
        int k = profile_new(&r->dict);
        if (k >= 0)
                k = profile_intern_string(r->dict, "[unknown]", strlen("[unknown]"), &r->unknown_name);
        if (k >= 0)
                k = profile_intern_string(r->dict, "[truncated]", strlen("[truncated]"),
                                          &r->truncated_name);
        return k;
}

static void windows_release(struct recorder *r) {
        for (size_t i = 0; i < r->windows.n; i++) {
                profile_free(r->windows.v[i].p);
                vec_free(&r->windows.v[i].xlat);
        }
        vec_free(&r->windows);
}

static struct profile *window_profile_new(const struct recorder *r) {
        struct profile *p;
        if (profile_new(&p) < 0)
                return NULL;
        profile_set_frequency_hz(p, r->opts.sampler.frequency_hz);
        /* hours of recording must not grow with time, only with stacks */
        profile_set_keep_samples(p, false);
        return p;
}

/* The current window of group, made when first needed. */
static int window_of(struct recorder *r, uint32_t group, struct window **ret) {
        if (group >= r->windows.n) {
                int k = vec_reserve(&r->windows, (size_t) group + 1);
                if (k < 0)
                        return k;
                memset(r->windows.v + r->windows.n, 0, ((size_t) group + 1 - r->windows.n) * sizeof(*r->windows.v));
                r->windows.n = (size_t) group + 1;
        }
        struct window *w = &r->windows.v[group];
        if (!w->p && !(w->p = window_profile_new(r)))
                return -ENOMEM;
        *ret = w;
        return 0;
}

static int copy_string(const struct profile *from, uint32_t id, struct profile *to, uint32_t *ret) {
        if (id == 0) {
                *ret = 0;
                return 0;
        }
        return profile_intern_string(to, profile_string(from, id), profile_string_length(from, id), ret);
}

/* The frame of w's profile that dictionary frame id is, with its module's
 * build-id. */
static int window_frame(struct recorder *r, struct window *w, uint32_t id, uint32_t *ret) {
        if (id < w->xlat.n && w->xlat.v[id]) {
                *ret = w->xlat.v[id] - 1;
                return 0;
        }
        const struct profile_frame *f = profile_frame(r->dict, id);
        struct profile_frame g = { .kind = f->kind, .line = f->line, .addr = f->addr };
        uint32_t bid = f->module ? profile_build_id(r->dict, f->module) : 0;
        int k = copy_string(r->dict, f->name, w->p, &g.name);
        if (k >= 0)
                k = copy_string(r->dict, f->module, w->p, &g.module);
        if (k >= 0)
                k = copy_string(r->dict, f->file, w->p, &g.file);
        if (k >= 0 && bid && !profile_build_id(w->p, g.module))
                k = profile_set_build_id(w->p, g.module, profile_string(r->dict, bid));
        if (k >= 0)
                k = profile_intern_frame(w->p, &g, ret);
        if (k >= 0 && id >= w->xlat.n) {
                k = vec_reserve(&w->xlat, (size_t) id + 1);
                if (k >= 0) {
                        memset(w->xlat.v + w->xlat.n, 0, ((size_t) id + 1 - w->xlat.n) * sizeof(uint32_t));
                        w->xlat.n = (size_t) id + 1;
                }
        }
        if (k < 0)
                return k;
        w->xlat.v[id] = *ret + 1;
        return 0;
}

/* kallsyms is read again when the kernel's modules change (a daemon runs
 * across module loads); FNV-1a of the names and sizes in /proc/modules
 * says whether they did (not of the use counts, which change all the
 * time). */
static uint64_t kernel_modules_hash(void) {
        char line[512], name[128];
        unsigned long size;
        uint64_t h = 0xcbf29ce484222325ULL;
        FILE *f = fopen("/proc/modules", "re");

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "%127s %lu", name, &size) == 2) {
                        for (const char *p = name; *p; p++)
                                h = (h ^ (uint8_t) *p) * 0x100000001b3ULL;
                        h = (h ^ size) * 0x100000001b3ULL;
                }
        fclose(f);
        return h;
}

static uint32_t group_of(const struct recorder *r, pid_t pid) {
        uint64_t g;
        return u64map_get(&r->groups, (uint64_t) pid, &g) ? (uint32_t) g : 0;
}

/* SCHED_FIFO 1 is above every normal task and below every real-time one;
 * children we fork later do not inherit it. Not allowed (no
 * CAP_SYS_NICE, RLIMIT_RTPRIO 0): stay as we are. */
bool record_raise_priority(void) {
        static bool done, raised;
        struct sched_param sp = { .sched_priority = 1 };

        if (done)
                return raised;
        done = true;
        raised = sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) == 0;
        if (!raised)
                log_debug_errno(errno, "record: cannot run at real-time priority, skipping");
        return raised;
}

/* The unwinder's hook: a module's debug file, for its .debug_frame. */
static void find_debug_file(void *userdata, uint32_t module) {
        struct recorder *r = userdata;
        symbolizer_find_debug_file(r->sym, module);
}

int recorder_new(const struct record_options *o, struct recorder **ret,
                 const char **ret_fallback_reason) {
        struct recorder *r = calloc(1, sizeof(*r));
        int k;

        if (!r)
                return -ENOMEM;
        r->opts = *o;
        r->cb = (struct sampler_callbacks) {
                .sample = on_sample,
                .process_event = on_process_event,
                .userdata = r,
        };
        /* first: loading the BPF program (its maps are allocated and
         * cleared now), kallsyms and the targets' maps are part of the
         * recording's time too, and a busy target would starve them */
        if (o->realtime)
                (void) record_raise_priority();
        k = dict_start(r);
        if (k >= 0)
                k = image_store_new(&r->img);
        if (k >= 0)
                k = symbolizer_new(&o->symbolize, r->img, &r->sym);
        struct unwinder_options uo = o->unwind;
        uo.find_debug_file = find_debug_file;
        uo.userdata = r;
        if (k >= 0)
                k = unwinder_new(r->img, &uo, &r->unw);
        if (k >= 0 && o->unwind_check)
                k = dwfl_check_new(&r->check);
        if (k >= 0) {
                size_t max = unwinder_max_frames(r->unw);
                r->frames = calloc(max, sizeof(*r->frames));
                r->addr_ids = calloc(max, sizeof(*r->addr_ids));
                r->check_pcs = calloc(max, sizeof(*r->check_pcs));
                if (!r->frames || !r->addr_ids || !r->check_pcs)
                        k = -ENOMEM;
        }
        if (k >= 0)
                k = sampler_new(&o->sampler, &r->sampler, ret_fallback_reason);
        struct sampler_unwind_maps um;
        if (k >= 0 && sampler_unwind_maps(r->sampler, &um) >= 0)
                k = kernel_tables_new(r->unw, r->img, &um, &r->kt);
        if (k < 0) {
                recorder_free(r);
                return k;
        }
        if (o->sampler.kernel_stacks) {
                symbolizer_load_kernel(r->sym);
                r->kernel_modules_hash = kernel_modules_hash();
        }
        *ret = r;
        return 0;
}

struct recorder *recorder_free(struct recorder *r) {
        if (!r)
                return NULL;
        sampler_free(r->sampler);
        symbolizer_free(r->sym);
        vec_free(&r->ksync);
        unwinder_free(r->unw);
        dwfl_check_free(r->check);
        free(r->frames);
        free(r->addr_ids);
        free(r->check_pcs);
        /* modules give their kernel rows back as they go: tables after */
        image_store_free(r->img);
        kernel_tables_free(r->kt);
        addr_stacks_release(&r->stacks);
        u64map_release(&r->nosym_modules);
        vec_free(&r->flush_ids);
        vec_free(&r->new_modules);
        profile_free(r->dict);
        windows_release(r);
        u64map_release(&r->groups);
        u64map_release(&r->group_set_ns);
        vec_free(&r->group_samples);
        vec_free(&r->roots);
        vec_free(&r->reloads);
        vec_free(&r->old_images);
        u64map_release(&r->names);
        free(r);
        return NULL;
}

/* The unwinder must learn what the image layer just learnt of a process:
 * its modules' tables are built, and the kernel unwinder's entry written,
 * at the next flush, off the drain path. */
static void unwind_mark(struct recorder *r, pid_t pid, uint32_t gen) {
        if (r->opts.unwind.mode == UNWIND_FP)
                return;
        for (size_t i = 0; i < r->ksync.n; i++)
                if (r->ksync.v[i].pid == pid && r->ksync.v[i].gen == gen)
                        return;
        (void) vec_push(&r->ksync, ((struct old_image) { .pid = pid, .gen = gen }));
}

static void unwind_sync(struct recorder *r) {
        for (size_t i = 0; i < r->ksync.n; i++) {
                pid_t pid = r->ksync.v[i].pid;
                uint32_t gen = r->ksync.v[i].gen;
                int k = r->kt ? kernel_tables_sync(r->kt, pid, gen) : unwinder_prepare_process(r->unw, pid, gen);
                if (k < 0 && k != -ESRCH)
                        log_debug_errno(k, "unwind: cannot prepare pid %d: %s", (int) pid, strerror(-k));
        }
        r->ksync.n = 0;
}

static int set_name(struct recorder *r, pid_t pid, const char *name) {
        uint32_t id;
        int k = profile_intern_string(r->dict, name, strlen(name), &id);
        if (k < 0)
                return k;
        if (!u64map_get(&r->names, (uint64_t) pid, NULL))
                r->processes_seen++;
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
                        return profile_intern_string(r->dict, s->process_comm,
                                                     strlen(s->process_comm), ret_id);
                *ret_id = (uint32_t) id;
                return 0;
        }
        /* first sight of this process: learn its maps while it lives */
        (void) image_load_process(r->img, pid);
        unwind_mark(r, pid, s->exec_gen);
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
                int loaded = image_load_process(r->img, rl->pid);
                if (loaded >= 0)
                        unwind_mark(r, rl->pid, image_current_gen(r->img, rl->pid));
                if (loaded >= 0 && rl->round < 3) {
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
                if (r->kt)
                        kernel_tables_forget(r->kt, o->pid, o->gen == ALL_IMAGES ? KERNEL_TABLES_ALL : o->gen);
                if (o->gen == ALL_IMAGES) {
                        u64map_remove(&r->names, (uint64_t) o->pid);
                        u64map_remove(&r->groups, (uint64_t) o->pid);
                        u64map_remove(&r->group_set_ns, (uint64_t) o->pid);
                        image_forget_process(r->img, o->pid);
                        if (r->check)
                                dwfl_check_forget(r->check, o->pid);
                        symbolizer_forget_process(r->sym, o->pid);
                } else {
                        image_forget_image(r->img, o->pid, o->gen);
                }
                r->old_images.v[i] = r->old_images.v[--r->old_images.n];
        }
}

/* The group of a watched name a process exec'd into, unless the caller
 * placed the process after that exec (a scan that read its target rules
 * whole, while the exec's record waited in a ring). */
static void exec_match_group(struct recorder *r, pid_t pid, const struct process_event *e) {
        uint64_t set_ns;
        if (u64map_get(&r->group_set_ns, (uint64_t) pid, &set_ns) && e->time_ns && set_ns >= e->time_ns)
                return;
        if (e->match)
                (void) u64map_put(&r->groups, (uint64_t) pid, e->match);
        else
                u64map_remove(&r->groups, (uint64_t) pid);
}

/* A new process under a reused pid: the old process's pending forget is
 * not this one's. */
static void cancel_forget(struct recorder *r, pid_t pid) {
        for (size_t i = 0; i < r->old_images.n;)
                if (r->old_images.v[i].pid == pid && r->old_images.v[i].gen == ALL_IMAGES)
                        r->old_images.v[i] = r->old_images.v[--r->old_images.n];
                else
                        i++;
}

static void on_process_event(void *userdata, const struct process_event *e) {
        struct recorder *r = userdata;
        pid_t pid = (pid_t) e->pid;

        switch (e->type) {
        case PROCESS_EVENT_NEW: {
                cancel_forget(r, pid);
                u64map_remove(&r->group_set_ns, (uint64_t) pid);
                /* until it execs, a child runs its parent's image, under
                 * its parent's name */
                uint64_t parent_name, parent_group;
                if (u64map_get(&r->groups, e->ppid, &parent_group))
                        (void) u64map_put(&r->groups, (uint64_t) pid, parent_group);
                else
                        u64map_remove(&r->groups, (uint64_t) pid);
                (void) image_fork_process(r->img, (pid_t) e->ppid, pid);
                (void) image_load_process(r->img, pid);
                unwind_mark(r, pid, 0);
                if (e->comm)
                        (void) set_name(r, pid, e->comm);
                else if (u64map_get(&r->names, e->ppid, &parent_name))
                        (void) u64map_put(&r->names, (uint64_t) pid, parent_name);
                break;
        }
        case PROCESS_EVENT_MATCHED:
                cancel_forget(r, pid);
                exec_match_group(r, pid, e);
                /* its image so far: the exec's own mappings come as MMAP
                 * events, the rest from /proc while it lives */
                (void) image_forget_process(r->img, pid);
                (void) image_exec_process(r->img, pid, 0);
                (void) image_load_process(r->img, pid);
                unwind_mark(r, pid, 0);
                if (e->comm)
                        (void) set_name(r, pid, e->comm);
                schedule_reloads(r, pid);
                break;
        case PROCESS_EVENT_EXEC:
                if (e->match)
                        exec_match_group(r, pid, e);
                if (r->opts.first_image_only) {
                        r->exec_seen = true;
                        break;
                }
                (void) image_exec_process(r->img, pid, e->exec_gen);
                if (r->check)
                        dwfl_check_forget(r->check, pid);
                if (e->exec_gen > 0)
                        (void) vec_push(&r->old_images, ((struct old_image) {
                                .pid = pid, .gen = e->exec_gen - 1, .at_ns = now_ns() + OLD_IMAGE_NS }));
                (void) image_load_process(r->img, pid);
                unwind_mark(r, pid, e->exec_gen);
                if (e->comm)
                        (void) set_name(r, pid, e->comm);
                schedule_reloads(r, pid);
                break;
        case PROCESS_EVENT_RENAME:
                if (e->comm)
                        (void) set_name(r, pid, e->comm);
                break;
        case PROCESS_EVENT_MMAP: {
                struct image_mapping_info m = {
                        .start = e->start, .len = e->len, .pgoff = e->pgoff,
                        .dev = e->dev, .inode = e->inode, .path = e->path,
                };
                (void) image_add_mapping(r->img, pid, e->exec_gen, &m);
                unwind_mark(r, pid, e->exec_gen);
                break;
        }
        case PROCESS_EVENT_EXIT:
                /* the event comes from inside the exit: /proc shows the
                 * process gone a moment later, so look again soon (roots
                 * only: they are what ends the recording) */
                for (size_t i = 0; i < r->roots.n; i++)
                        if (r->roots.v[i] == pid)
                                r->exit_seen_ns = now_ns();
                /* its samples may still be in the maps or rings: forget it
                 * once they are surely drained; what is known of it is
                 * then no longer needed (its addresses are resolved) */
                (void) vec_push(&r->old_images, ((struct old_image) {
                        .pid = pid, .gen = ALL_IMAGES, .at_ns = now_ns() + OLD_IMAGE_NS }));
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
        return profile_intern_named_frame(r->dict, name, strlen(name), FRAME_THREAD, ret_id);
}

/* The address key of one unwound frame. */
static int frame_key(struct recorder *r, const struct raw_sample *s, const struct unwound_frame *f,
                     struct addr_key *ret) {
        /* a return address points after the call: look inside the call */
        uint64_t addr = f->exact || f->addr == 0 ? f->addr : f->addr - 1;
        struct image_addr ia;
        int k;

        if (f->kernel) {
                *ret = (struct addr_key) { .kind = ADDR_KERNEL, .addr = addr };
                return 0;
        }
        k = image_resolve(r->img, (pid_t) s->tgid, s->exec_gen, addr, &ia);
        if (k < 0)
                return k;
        switch (ia.kind) {
        case IMAGE_ADDR_MODULE:
                if (ia.module) {
                        *ret = (struct addr_key) { .kind = ADDR_MODULE, .id = ia.module, .addr = ia.addr };
                        return 0;
                }
                uint32_t path;
                k = profile_intern_string(r->dict, ia.path, strlen(ia.path), &path);
                if (k < 0)
                        return k;
                *ret = (struct addr_key) { .kind = ADDR_FILE, .id = path, .addr = ia.addr };
                return 0;
        case IMAGE_ADDR_ANON:
                *ret = (struct addr_key) { .kind = ADDR_JIT, .id = s->tgid, .addr = addr };
                return 0;
        case IMAGE_ADDR_UNKNOWN:
                break;
        }
        *ret = (struct addr_key) { .kind = ADDR_UNKNOWN };
        return 0;
}

/* --unwind-check: libdwfl unwinds the same sample; agreement is the same
 * user pcs in the same order. */
static void check_unwind(struct recorder *r, const struct raw_sample *s, const struct unwound_frame *user,
                         size_t n_user, enum unwind_end end) {
        struct dwfl_check_sample ds = {
                .pid = (pid_t) s->tgid, .tid = (pid_t) s->tid,
                .ip = s->uregs[SAMPLE_REG_IP], .sp = s->uregs[SAMPLE_REG_SP], .bp = s->uregs[SAMPLE_REG_BP],
                .stack = s->ustack_copy, .stack_addr = s->ustack_copy_addr, .stack_len = s->ustack_copy_len,
        };
        int n = dwfl_check_unwind(r->check, &ds, r->check_pcs, unwinder_max_frames(r->unw));
        if (n < 0)
                return; /* gone before we looked: not compared */
        r->check_samples += s->count;
        bool same = (size_t) n == n_user;
        for (size_t i = 0; same && i < n_user; i++)
                same = r->check_pcs[i] == user[i].addr;
        if (same) {
                r->check_agree += s->count;
                return;
        }
        if (log_get_max_level() >= LOG_LEVEL_DEBUG) {
                size_t i = 0;
                while (i < n_user && i < (size_t) n && r->check_pcs[i] == user[i].addr)
                        i++;
                log_debug("unwind check: pid %u: %zu frames here (%s, %s), %d by libdwfl, first difference "
                          "at frame %zu (0x%" PRIx64 " here, 0x%" PRIx64 " libdwfl), copy of %u bytes, pc 0x%" PRIx64 " sp 0x%" PRIx64,
                          s->tgid, n_user, s->ustack_unwound ? "kernel" : "user", unwind_end_name(end), n, i,
                          i < n_user ? user[i].addr : 0, i < (size_t) n ? r->check_pcs[i] : 0,
                          s->ustack_copy_len, s->uregs[SAMPLE_REG_IP], s->uregs[SAMPLE_REG_SP]);
        }
}

/* In the drain: unwinding, image lookups and counting, no symbolization. */
static int on_sample(void *userdata, const struct raw_sample *s) {
        struct recorder *r = userdata;
        uint32_t prefix[3], name;
        size_t n_prefix = 0;
        enum unwind_end end;
        bool unwound, cut;
        int k;

        /* what the process runs after an exec (maybe a setuid program)
         * is not this recording's */
        if (r->opts.first_image_only && s->exec_gen > 0)
                return 0;
        /* first: a process seen for the first time has its maps read,
         * which the unwinder needs */
        k = process_name(r, s, &name);
        if (k < 0)
                return k;
        size_t n = unwinder_unwind(r->unw, s, r->opts.sampler.user_stacks, r->opts.sampler.kernel_stacks,
                                   r->frames, &end, &unwound);
        if (unwound) {
                r->unwound_samples += s->count;
                r->unwind_ends[end] += s->count;
                if (end == UNWIND_END_NOT_COPIED && s->ustack_copy_full)
                        r->unwind_copy_limited += s->count;
                cut = end != UNWIND_END_COMPLETE;
                /* a checked sample has a copy, unless its task had no
                 * user memory left to copy (it was exiting) */
                if (r->check && s->uregs) {
                        size_t nk = 0;
                        while (nk < n && r->frames[nk].kernel)
                                nk++;
                        check_unwind(r, s, r->frames + nk, n - nk, end);
                }
        } else {
                /* frame-pointer stacks as the kernel walked them: it cannot
                 * tell where a walk ended early, so neither can we */
                cut = false;
        }

        struct profile_frame pf = { .name = name, .kind = FRAME_PROCESS };
        k = profile_intern_frame(r->dict, &pf, &prefix[n_prefix++]);
        if (k < 0)
                return k;
        if (r->opts.threads) {
                k = thread_frame(r, s, &prefix[n_prefix++]);
                if (k < 0)
                        return k;
        }
        /* a stack that does not reach its root says so at the root */
        if (cut) {
                struct profile_frame tf = { .name = r->truncated_name, .kind = FRAME_USER };
                k = profile_intern_frame(r->dict, &tf, &prefix[n_prefix++]);
                if (k < 0)
                        return k;
        }
        /* leaf first in, root first out */
        for (size_t i = 0; i < n; i++) {
                struct addr_key key;
                bool fresh;
                k = frame_key(r, s, &r->frames[i], &key);
                if (k >= 0)
                        k = addr_stacks_intern_addr(&r->stacks, &key, &r->addr_ids[n - 1 - i], &fresh);
                if (k < 0)
                        return k;
                /* the module must outlive the address that names it */
                if (fresh && key.kind == ADDR_MODULE) {
                        image_module_pin(r->img, key.id);
                        /* its debug files are looked for after the
                         * drain, never in it */
                        k = vec_push(&r->new_modules, key.id);
                        if (k < 0)
                                return k;
                } else if (fresh && key.kind == ADDR_JIT) {
                        symbolizer_prepare_jit(r->sym, (pid_t) key.id);
                }
        }
        uint32_t group = group_of(r, (pid_t) s->tgid);
        if (group < r->group_samples.n)
                r->group_samples.v[group] += s->count;
        return addr_stacks_add(&r->stacks, prefix, n_prefix, r->addr_ids, n, s->count, s->tid, group);
}

/* Symbolize. */

/* "[libc.so.6]" or, with --addrs, "[libc.so.6+0x1f2a0]"; pseudo paths
 * such as "[vdso]" lose their brackets first. */
static void module_frame_name(const char *module, uint64_t addr, bool with_addr, char *buf, size_t len) {
        const char *b = strrchr(module, '/');
        size_t n;

        b = b ? b + 1 : module;
        n = strlen(b);
        if (n >= 2 && b[0] == '[' && b[n - 1] == ']') {
                b++;
                n -= 2;
        }
        n = MIN(n, (size_t) 4096);
        if (with_addr)
                snprintf(buf, len, "[%.*s+0x%" PRIx64 "]", (int) n, b, addr);
        else
                snprintf(buf, len, "[%.*s]", (int) n, b);
}

static int intern(struct recorder *r, const char *s, uint32_t *ret) {
        if (!s) {
                *ret = 0;
                return 0;
        }
        return profile_intern_string(r->dict, s, strlen(s), ret);
}

/* Names one address: its chain of profile frames. */
static int symbolize_addr(struct recorder *r, struct addr_entry *e) {
        struct symbol_frame chain[SYMBOL_MAX_CHAIN];
        const struct addr_key *key = &e->key;
        const char *module = NULL, *kmodule = NULL;
        char buf[4200];
        int n = 1, k;

        switch (key->kind) {
        case ADDR_MODULE: {
                struct image_module *m = image_module(r->img, key->id);
                module = m ? image_module_path(m) : NULL;
                n = symbolizer_module_addr(r->sym, key->id, key->addr, chain);
                break;
        }
        case ADDR_FILE:
                module = profile_string(r->dict, key->id);
                chain[0] = (struct symbol_frame) { .kind = FRAME_USER };
                break;
        case ADDR_JIT:
                n = symbolizer_jit_addr(r->sym, (pid_t) key->id, key->addr, chain);
                break;
        case ADDR_KERNEL:
                n = symbolizer_kernel_addr(r->sym, key->addr, chain, &kmodule);
                module = kmodule;
                break;
        default:
                chain[0] = (struct symbol_frame) { .kind = FRAME_USER };
                break;
        }
        if (n < 0)
                return n;
        if (n < 1 || n > SYMBOL_MAX_CHAIN)
                n = 1;
        if (r->stacks.chains.n + (size_t) n > UINT32_MAX)
                return -ENOMEM;
        k = vec_reserve(&r->stacks.chains, r->stacks.chains.n + (size_t) n);
        if (k < 0)
                return k;
        e->chain = (uint32_t) r->stacks.chains.n;
        e->chain_len = (uint32_t) n;
        for (int i = 0; i < n; i++) {
                struct profile_frame f = { .kind = chain[i].kind, .line = chain[i].line };
                const char *name = chain[i].name;
                if (!name) {
                        /* a JIT frame without a perf map is no JIT frame
                         * we know of: plain [unknown] */
                        if (key->kind == ADDR_JIT)
                                f.kind = FRAME_USER;
                        if (key->kind == ADDR_UNKNOWN || key->kind == ADDR_JIT || !module)
                                name = "[unknown]";
                        else if (key->kind == ADDR_KERNEL)
                                /* kernel addresses without kallsyms are
                                 * random (KASLR): one frame for all */
                                name = kmodule;
                        else {
                                module_frame_name(module, key->addr, r->opts.addrs, buf, sizeof(buf));
                                name = buf;
                                e->nosym = true;
                                /* pprof keeps it, to be named later */
                                f.addr = key->addr;
                        }
                }
                k = intern(r, name, &f.name);
                if (k >= 0)
                        k = intern(r, module, &f.module);
                if (k >= 0)
                        k = intern(r, chain[i].file, &f.file);
                if (k >= 0)
                        k = profile_intern_frame(r->dict, &f, &r->stacks.chains.v[r->stacks.chains.n]);
                if (k < 0)
                        return k;
                r->stacks.chains.n++;
        }
        uint32_t module_id = profile_frame(r->dict, r->stacks.chains.v[e->chain])->module;
        if (e->nosym)
                e->module_name = module_id;
        if (key->kind == ADDR_MODULE && module_id && !profile_build_id(r->dict, module_id)) {
                struct image_module *m = image_module(r->img, key->id);
                size_t len = 0;
                const uint8_t *bid = m ? image_module_build_id(m, &len) : NULL;
                char hex[2 * 64 + 1];
                for (size_t i = 0; bid && i < len && i < 64; i++)
                        snprintf(hex + 2 * i, 3, "%02x", bid[i]);
                if (bid && len && (k = profile_set_build_id(r->dict, module_id, hex)) < 0)
                        return k;
        }
        e->symbolized = true;
        return 0;
}

static int count_nosym(struct recorder *r, const struct addr_stack *st, const uint32_t *addrs) {
        bool any = false;

        for (size_t i = 0; i < st->n_addrs; i++) {
                const struct addr_entry *e = &r->stacks.addrs.v[addrs[i]];
                if (!e->nosym)
                        continue;
                /* each module once per stack */
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++) {
                        const struct addr_entry *o = &r->stacks.addrs.v[addrs[j]];
                        seen = o->nosym && o->module_name == e->module_name;
                }
                if (seen)
                        continue;
                uint64_t c = 0;
                (void) u64map_get(&r->nosym_modules, e->module_name, &c);
                int k = u64map_put(&r->nosym_modules, e->module_name, c + st->pending);
                if (k < 0)
                        return k;
                any = true;
        }
        if (any)
                r->nosym_samples += st->pending;
        return 0;
}

/* Names what the last drains brought and adds their counts to the
 * profile. Addresses in a module whose debug file is still being fetched
 * wait, with their stacks, unless this is the last flush: the end of a
 * recording never waits for a server. */
static int flush(struct recorder *r, bool final) {
        struct addr_stacks *t = &r->stacks;
        size_t kept = 0;
        int k;

        /* the unwinder first: samples wait for its tables */
        unwind_sync(r);
        /* before naming anything: debug files found, fetches started */
        for (size_t i = 0; i < r->new_modules.n; i++)
                symbolizer_prepare_module(r->sym, r->new_modules.v[i]);
        r->new_modules.n = 0;
        for (size_t i = 0; i < t->unsymbolized.n; i++) {
                struct addr_entry *e = &t->addrs.v[t->unsymbolized.v[i]];
                /* named by a flush that failed later */
                if (e->symbolized)
                        continue;
                if (!final && e->key.kind == ADDR_MODULE && symbolizer_module_pending(r->sym, e->key.id)) {
                        t->unsymbolized.v[kept++] = t->unsymbolized.v[i];
                        continue;
                }
                k = symbolize_addr(r, e);
                if (k < 0)
                        return k;
        }
        t->unsymbolized.n = kept;
        kept = 0;
        for (size_t i = 0; i < t->dirty.n; i++) {
                struct addr_stack *st = &t->stacks.v[t->dirty.v[i]];
                const uint32_t *w = addr_stack_words(t, st), *addrs = w + st->n_prefix;
                bool unknown = false, waiting = false, jit_unnamed = false;

                /* added by a flush that failed later */
                if (st->pending == 0)
                        continue;
                for (size_t j = 0; j < st->n_addrs && !waiting; j++)
                        waiting = !t->addrs.v[addrs[j]].symbolized;
                if (waiting) {
                        t->dirty.v[kept++] = t->dirty.v[i];
                        continue;
                }

                r->flush_ids.n = 0;
                for (size_t j = 0; j < st->n_prefix; j++) {
                        k = vec_push(&r->flush_ids, w[j]);
                        if (k < 0)
                                return k;
                }
                for (size_t j = 0; j < st->n_addrs; j++) {
                        const struct addr_entry *e = &t->addrs.v[addrs[j]];
                        unknown |= e->key.kind == ADDR_UNKNOWN;
                        jit_unnamed |= e->key.kind == ADDR_JIT &&
                                       profile_frame(r->dict, t->chains.v[e->chain])->name == r->unknown_name;
                        k = vec_reserve(&r->flush_ids, r->flush_ids.n + e->chain_len);
                        if (k < 0)
                                return k;
                        memcpy(r->flush_ids.v + r->flush_ids.n, t->chains.v + e->chain,
                               e->chain_len * sizeof(uint32_t));
                        r->flush_ids.n += e->chain_len;
                }
                if (unknown)
                        r->unnamed_samples += st->pending;
                if (jit_unnamed)
                        r->jit_unnamed_samples += st->pending;
                k = count_nosym(r, st, addrs);
                if (k < 0)
                        return k;
                struct window *win;
                k = window_of(r, st->group, &win);
                for (size_t j = 0; k >= 0 && j < r->flush_ids.n; j++)
                        k = window_frame(r, win, r->flush_ids.v[j], &r->flush_ids.v[j]);
                double v = (double) st->pending;
                if (k >= 0)
                        k = profile_add_sample(win->p, r->flush_ids.v, r->flush_ids.n, &v, st->tid, 0);
                if (k < 0)
                        return k;
                st->pending = 0;
        }
        t->dirty.n = kept;
        return 0;
}

/* Whether pid exited and waits to be forgotten. */
static bool forget_pending(const struct recorder *r, pid_t pid) {
        for (size_t i = 0; i < r->old_images.n; i++)
                if (r->old_images.v[i].pid == pid && r->old_images.v[i].gen == ALL_IMAGES)
                        return true;
        return false;
}

int recorder_add_pid(struct recorder *r, pid_t pid, bool root) {
        return recorder_add_process(r, pid, root, 0);
}

int recorder_add_launched(struct recorder *r, pid_t pid) {
        /* not recorder_add_process: what the child runs until its exec is
         * our own image, waiting on a pipe; reading its maps and loading
         * unwind tables for our libraries would be wasted start-up time.
         * The exec brings the image that matters. */
        int k = sampler_add_process(r->sampler, pid);
        if (k >= 0)
                k = vec_push(&r->roots, pid);
        return k;
}

/* Room for group in the per-group counts. */
static int reserve_group(struct recorder *r, uint32_t group) {
        if (group < r->group_samples.n)
                return 0;
        int k = vec_reserve(&r->group_samples, (size_t) group + 1);
        if (k < 0)
                return k;
        memset(r->group_samples.v + r->group_samples.n, 0,
               ((size_t) group + 1 - r->group_samples.n) * sizeof(uint64_t));
        r->group_samples.n = (size_t) group + 1;
        return 0;
}

int recorder_watch_execs(struct recorder *r, const struct recorder_exec_watch *w, size_t n) {
        _cleanup_free_ struct sampler_exec_watch *sw = n ? calloc(n, sizeof(*sw)) : NULL;
        if (n && !sw)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int k = reserve_group(r, w[i].group);
                if (k < 0)
                        return k;
                sw[i] = (struct sampler_exec_watch) { .comm = w[i].comm, .tag = w[i].group };
        }
        return sampler_watch_execs(r->sampler, sw, n);
}

int recorder_add_process(struct recorder *r, pid_t pid, bool root, uint32_t group) {
        int k = reserve_group(r, group);
        if (k < 0)
                return k;
        /* a process the sampler follows already (a target's child, or
         * added before) only changes group: adding it to the sampler
         * again would reset what the sampler counts of it (its execs) */
        bool known = sampler_follows(r->sampler, pid);
        if (!known) {
                k = sampler_add_process(r->sampler, pid);
                if (k < 0)
                        return k;
        }
        /* before its first samples are taken in */
        k = group ? u64map_put(&r->groups, (uint64_t) pid, group) : 0;
        if (k >= 0 && !group)
                u64map_remove(&r->groups, (uint64_t) pid);
        if (k >= 0)
                k = u64map_put(&r->group_set_ns, (uint64_t) pid, now_ns());
        if (k < 0)
                return k;
        if (!u64map_get(&r->names, (uint64_t) pid, NULL)) {
                char comm[64];
                if (target_comm(pid, comm, sizeof(comm)) >= 0)
                        (void) set_name(r, pid, comm);
        }
        if (!known) {
                (void) image_load_process(r->img, pid);
                /* before sampling starts: its first samples find the tables */
                unwind_mark(r, pid, image_current_gen(r->img, pid));
                unwind_sync(r);
        }
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
        r->start_ns = r->window_start_ns = now_ns();
        return 0;
}

static bool roots_alive(struct recorder *r) {
        for (size_t i = 0; i < r->roots.n; i++)
                if (target_alive(r->roots.v[i]))
                        return true;
        return false;
}

/* Why the recording should end now, or NULL. */
static const char *should_end(struct recorder *r, uint64_t now) {
        if (r->opts.duration_ns && now - r->start_ns >= r->opts.duration_ns)
                return "duration";
        if (r->roots.n && !roots_alive(r))
                return "targets exited";
        if (r->exec_seen)
                return "the process ran exec";
        return NULL;
}

int recorder_poll(struct recorder *r, int timeout_ms) {
        uint64_t now = now_ns();
        int k;

        if (!r->started) {
                k = recorder_start(r);
                if (k < 0)
                        return k;
        }
        if (r->finished)
                return 1;
        if ((r->end_reason = should_end(r, now)))
                return 1;
        if (timeout_ms > 0 && now - r->exit_seen_ns < 200 * 1000000ULL && timeout_ms > 5)
                timeout_ms = 5;
        if (timeout_ms > 0 && r->opts.duration_ns) {
                uint64_t left_ms = (r->start_ns + r->opts.duration_ns - now) / 1000000ULL + 1;
                if (left_ms < (uint64_t) timeout_ms)
                        timeout_ms = (int) left_ms;
        }
        k = sampler_poll(r->sampler, timeout_ms, &r->cb);
        if (k < 0 && k != -EINTR)
                return k;
        k = flush(r, false);
        if (k < 0)
                return k;
        run_reloads(r);
        forget_old_images(r);
        now = now_ns();
        if (now - r->last_collect_ns >= COLLECT_NS) {
                (void) image_store_collect(r->img);
                r->last_collect_ns = now;
        }
        return 0;
}

int recorder_finish(struct recorder *r) {
        int k;

        if (r->finished)
                return 0;
        if (!r->end_reason)
                r->end_reason = "stopped";
        r->end_ns = now_ns();
        k = r->started ? sampler_stop(r->sampler, &r->cb) : 0;
        uint64_t stopped = now_ns();
        size_t left = r->stacks.unsymbolized.n;
        log_debug("record: sampling stopped, %zu addresses left to name", left);
        /* whatever the stop brought in, and all of it on an error: the
         * samples taken so far are still written */
        int k2 = flush(r, true);
        if (k >= 0)
                k = k2;
        log_debug("record: %zu addresses named in %.3f s after sampling stopped (%zu in all)", left,
                  (double) (now_ns() - stopped) / 1e9, r->stacks.addrs.n);
        for (size_t i = 0; i < r->windows.n; i++)
                if (r->windows.v[i].p)
                        profile_set_duration_ns(r->windows.v[i].p, r->end_ns - r->window_start_ns);
        r->finished = true;
        return k;
}

int recorder_run(struct recorder *r, volatile sig_atomic_t *stop,
                 void (*progress)(void *userdata, const struct record_progress *p), void *userdata) {
        uint64_t last_progress = 0;
        int k = 0;

        for (;;) {
                if (stop && *stop) {
                        r->end_reason = "stopped";
                        break;
                }
                k = recorder_poll(r, POLL_MS);
                if (k != 0)
                        break;
                uint64_t now = now_ns();
                if (progress && now - last_progress >= PROGRESS_NS) {
                        struct record_progress p;
                        recorder_get_progress(r, &p);
                        progress(userdata, &p);
                        last_progress = now;
                }
        }
        int k2 = recorder_finish(r);
        return k < 0 ? k : k2;
}

int recorder_take_window(struct recorder *r, struct profile **ret, size_t n_groups) {
        uint64_t now = now_ns();
        int k;

        for (size_t g = 0; g < n_groups; g++)
                ret[g] = NULL;
        /* everything so far named, even what waits for a debug file: the
         * addresses are about to go */
        k = r->finished ? 0 : flush(r, true);
        if (k < 0)
                return k;
        for (size_t g = 0; g < n_groups; g++) {
                struct profile *p = g < r->windows.n ? r->windows.v[g].p : NULL;
                if (g < r->windows.n)
                        r->windows.v[g].p = NULL;
                if (!p && !(p = window_profile_new(r))) {
                        for (size_t i = 0; i < g; i++)
                                ret[i] = profile_free(ret[i]);
                        return -ENOMEM;
                }
                profile_set_duration_ns(p, (r->finished ? r->end_ns : now) - r->window_start_ns);
                ret[g] = p;
        }
        windows_release(r);

        /* the window's addresses let go of their modules */
        for (size_t i = 0; i < r->stacks.addrs.n; i++)
                if (r->stacks.addrs.v[i].key.kind == ADDR_MODULE)
                        image_module_unpin(r->img, r->stacks.addrs.v[i].key.id);
        addr_stacks_release(&r->stacks);
        memset(&r->stacks, 0, sizeof(r->stacks));
        u64map_clear(&r->nosym_modules);

        /* a new dictionary, with the names of the processes still known;
         * the old one stays in force until the new one is whole */
        struct profile *old = r->dict;
        uint32_t old_unknown = r->unknown_name, old_truncated = r->truncated_name;
        size_t slots = r->names.keys ? r->names.mask + 1 : 0;
        _cleanup_free_ uint32_t *ids = slots ? calloc(slots, sizeof(*ids)) : NULL;
        k = slots && !ids ? -ENOMEM : dict_start(r);
        for (size_t i = 0; k >= 0 && i < slots; i++)
                if (r->names.used[i])
                        k = copy_string(old, (uint32_t) r->names.vals[i], r->dict, &ids[i]);
        if (k < 0) {
                if (r->dict != old)
                        profile_free(r->dict);
                r->dict = old;
                r->unknown_name = old_unknown;
                r->truncated_name = old_truncated;
                return k;
        }
        for (size_t i = 0; i < slots; i++)
                if (r->names.used[i])
                        r->names.vals[i] = ids[i];
        profile_free(old);
        /* the symbolizer's names were for the window's addresses */
        symbolizer_end_window(r->sym);
        /* a process whose exit was never seen (its record lost in a full
         * ring) is forgotten now that it is gone */
        for (size_t i = 0; r->names.keys && i <= r->names.mask; i++) {
                pid_t pid = (pid_t) r->names.keys[i];
                if (r->names.used[i] && !forget_pending(r, pid) && !target_alive(pid))
                        (void) vec_push(&r->old_images, ((struct old_image) {
                                .pid = pid, .gen = ALL_IMAGES, .at_ns = now + OLD_IMAGE_NS }));
        }
        (void) image_store_collect(r->img);
        r->last_collect_ns = now;
        if (r->opts.sampler.kernel_stacks) {
                uint64_t h = kernel_modules_hash();
                if (h != r->kernel_modules_hash) {
                        symbolizer_reload_kernel(r->sym);
                        r->kernel_modules_hash = h;
                }
        }
        r->window_start_ns = now;
        return 0;
}

void recorder_move_group(struct recorder *r, uint32_t from, uint32_t to) {
        for (size_t i = 0; r->groups.keys && i <= r->groups.mask; i++)
                if (r->groups.used[i] && r->groups.vals[i] == from)
                        r->groups.vals[i] = to;
        /* group 0 is the absence of an entry */
        for (size_t i = 0; to == 0 && r->groups.keys && i <= r->groups.mask; i++)
                if (r->groups.used[i] && r->groups.vals[i] == 0 && u64map_remove(&r->groups, r->groups.keys[i]))
                        i--; /* the backward shift may have moved an entry into slot i */
}

size_t recorder_processes(const struct recorder *r, pid_t *pids, uint32_t *groups, size_t max) {
        size_t n = 0;
        for (size_t i = 0; r->names.keys && i <= r->names.mask; i++) {
                if (!r->names.used[i])
                        continue;
                pid_t pid = (pid_t) r->names.keys[i];
                if (forget_pending(r, pid))
                        continue;
                if (n < max) {
                        pids[n] = pid;
                        groups[n] = group_of(r, pid);
                }
                n++;
        }
        return n;
}

uint64_t recorder_group_samples(const struct recorder *r, uint32_t group) {
        return group < r->group_samples.n ? r->group_samples.v[group] : 0;
}

size_t recorder_group_processes(const struct recorder *r, uint32_t group) {
        size_t n = 0;
        for (size_t i = 0; r->names.keys && i <= r->names.mask; i++)
                n += r->names.used[i] && group_of(r, (pid_t) r->names.keys[i]) == group;
        return n;
}

struct profile *recorder_profile(struct recorder *r) {
        struct window *w;
        return window_of(r, 0, &w) < 0 ? NULL : w->p;
}

void recorder_get_progress(const struct recorder *r, struct record_progress *ret) {
        *ret = (struct record_progress) {
                .elapsed_ns = (r->finished ? r->end_ns : now_ns()) - r->start_ns,
                .processes = r->processes_seen,
                .processes_now = r->names.count,
                .images = image_store_image_count(r->img),
                .modules = image_store_module_count(r->img),
                .addresses = r->stacks.addrs.n,
                .unnamed_samples = r->unnamed_samples,
                .jit_unnamed_samples = r->jit_unnamed_samples,
                .nosym_samples = r->nosym_samples,
                .unwound_samples = r->unwound_samples,
                .unwind_copy_limited = r->unwind_copy_limited,
                .check_samples = r->check_samples,
                .check_agree = r->check_agree,
        };
        memcpy(ret->unwind_ends, r->unwind_ends, sizeof(ret->unwind_ends));
        unwinder_get_stats(r->unw, &ret->unwinder);
        if (r->kt) {
                struct kernel_tables_stats ks;
                kernel_tables_get_stats(r->kt, &ks);
                ret->kernel_modules = ks.modules;
                ret->kernel_modules_not_loaded = ks.modules_not_loaded;
                ret->kernel_table_bytes = ks.bytes;
        }
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

struct nosym_pair {
        uint32_t module;
        uint64_t samples;
};

static int nosym_cmp(const void *a, const void *b) {
        const struct nosym_pair *x = a, *y = b;
        if (x->samples != y->samples)
                return x->samples > y->samples ? -1 : 1;
        return x->module < y->module ? -1 : x->module > y->module;
}

size_t recorder_nosym_modules(const struct recorder *r, const char **ret, uint64_t *ret_samples,
                              size_t max) {
        const struct u64map *m = &r->nosym_modules;
        _cleanup_free_ struct nosym_pair *v = NULL;
        size_t n = 0;

        if (m->count == 0 || !(v = calloc(m->count, sizeof(*v))))
                return 0;
        for (size_t i = 0; m->keys && i <= m->mask; i++)
                if (m->used[i])
                        v[n++] = (struct nosym_pair) { (uint32_t) m->keys[i], m->vals[i] };
        qsort(v, n, sizeof(*v), nosym_cmp);
        for (size_t i = 0; i < n && i < max; i++) {
                ret[i] = profile_string(r->dict, v[i].module);
                if (ret_samples)
                        ret_samples[i] = v[i].samples;
        }
        return n;
}
