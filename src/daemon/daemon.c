/* cprofd's loop (see daemon.h). One pass, at most every 100 ms:
 *  - the recorder takes in samples (waiting for them is the loop's sleep);
 *  - signals and the control socket are served;
 *  - on-demand recordings are stepped, and answered when they end;
 *  - about once a second /proc is scanned for processes that match a
 *    target and are not sampled yet (a restarted service, a new worker);
 *  - at the end of a window each target's profile is written, pushed,
 *    and the store trimmed to its budget. */
#include "daemon/daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#if defined(__SANITIZE_ADDRESS__)
/* libasan's (gcc installs no header for them) */
size_t __sanitizer_get_current_allocated_bytes(void);
size_t __sanitizer_get_free_bytes(void);
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cprof/output.h"
#include "cprof/profile.h"
#include "cprof/record.h"
#include "cprof/target.h"
#include "daemon/control.h"
#include "daemon/ondemand.h"
#include "daemon/push.h"
#include "daemon/record-options.h"
#include "daemon/store.h"
#include "util/cleanup.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/time-util.h"
#include "util/vec.h"

#define LOOP_MS 100
#define SCAN_NS (1000 * 1000000ULL)
#define PUSH_GRACE_NS (1000 * 1000000ULL)

struct daemon {
        struct cprofd_config *cfg;
        char *config_path;
        struct recorder *rec;
        struct target_matcher *matcher;
        struct control_server *ctl;
        struct pusher *push;
        struct ondemand_set *ondemand;
        int sigfd, epfd;
        /* processes a scan added: pid -> start time (a reused pid is a
         * new process) */
        struct u64map added;
        /* recorder group g (>= 1) is the target named group_names[g - 1];
         * names stay when a reload drops a target, so groups never move */
        VEC(char *) group_names;
        VEC(uint64_t) group_windows; /* windows written, by group */
        VEC(uint32_t) target_groups; /* config target index -> group */
        uint64_t window_start_unix_ns, window_end_ns;
        uint64_t next_scan_ns, next_watchdog_ns, watchdog_usec;
        struct store_usage usage;
        uint64_t windows_written, windows_failed;
        bool stop;
};

/* Pings the service manager's watchdog when half its interval passed:
 * from the loop, and from the long steps (a scan adding many processes,
 * the end of a window, a reload). */
static void watchdog_ping(struct daemon *d) {
        uint64_t now = now_ns();
        if (!d->watchdog_usec || now < d->next_watchdog_ns)
                return;
        sd_notify(0, "WATCHDOG=1");
        d->next_watchdog_ns = now + d->watchdog_usec * 1000ULL / 2;
}

static uint64_t now_unix_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* Where the first window ends: at a multiple of the window length in
 * wall-clock time, so windows of different hosts line up. */
static void start_window(struct daemon *d) {
        uint64_t unix_now = now_unix_ns(), w = d->cfg->window_ns;
        uint64_t left = w - unix_now % w;
        d->window_start_unix_ns = unix_now;
        d->window_end_ns = now_ns() + left;
}

static int group_for(struct daemon *d, const char *name, uint32_t *ret) {
        for (size_t i = 0; i < d->group_names.n; i++)
                if (strcmp(d->group_names.v[i], name) == 0) {
                        *ret = (uint32_t) i + 1;
                        return 0;
                }
        char *copy = strdup(name);
        if (!copy || vec_push(&d->group_names, copy) < 0) {
                free(copy);
                return -ENOMEM;
        }
        if (vec_push(&d->group_windows, 0) < 0)
                return -ENOMEM;
        *ret = (uint32_t) d->group_names.n;
        return 0;
}

/* The recorder for the continuous profile: every target, children
 * followed, at the configured rate. */
static int new_recorder(const struct cprofd_config *c, struct recorder **ret) {
        struct record_options o;
        int k = daemon_record_options(c->unwind, c->kernel_stacks, c->frequency_hz,
                                      (const char *const *) c->debug_dirs, c->n_debug_dirs, &o);
        return k < 0 ? k : daemon_recorder_new(&o, ret);
}

static int new_matcher(struct daemon *d) {
        struct target_matcher *m;
        int k = target_matcher_new(&m);
        if (k < 0)
                return k;
        d->target_groups.n = 0;
        for (size_t i = 0; i < d->cfg->n_targets; i++) {
                const struct cprofd_target_config *t = &d->cfg->targets[i];
                uint32_t g;
                k = group_for(d, t->name, &g);
                if (k >= 0)
                        k = vec_push(&d->target_groups, g);
                for (size_t j = 0; k >= 0 && j < t->n_matches; j++)
                        k = target_matcher_add(m, (uint32_t) i, &t->matches[j]);
                if (k < 0) {
                        target_matcher_free(m);
                        return k;
                }
        }
        target_matcher_free(d->matcher);
        d->matcher = m;
        return 0;
}

/* Targets by comm are also matched in the kernel, at exec: a process that
 * lives less than a scan interval is sampled whole. The scan still finds
 * every kind of match, renamed processes, and what runs already. */
static void watch_execs(struct daemon *d) {
        VEC(struct recorder_exec_watch) w = {};
        int k = 0;
        for (size_t i = 0; k >= 0 && i < d->cfg->n_targets && i < d->target_groups.n; i++) {
                const struct cprofd_target_config *t = &d->cfg->targets[i];
                for (size_t j = 0; k >= 0 && j < t->n_matches; j++)
                        if (t->matches[j].kind == TARGET_MATCH_COMM)
                                k = vec_push(&w, ((struct recorder_exec_watch) {
                                        .comm = t->matches[j].value, .group = d->target_groups.v[i] }));
        }
        if (k >= 0)
                k = recorder_watch_execs(d->rec, w.v, w.n);
        if (k == -EOPNOTSUPP)
                log_info("targets by comm are found by scans of /proc only (%s backend): processes living "
                         "under a second may be missed", recorder_backend_name(d->rec));
        else if (k < 0 && recorder_watch_execs(d->rec, NULL, 0) >= 0)
                log_warning("cannot watch execs for targets by comm (%s): found by scans of /proc only",
                            strerror(-k));
        else if (k < 0)
                log_warning("cannot watch execs for targets by comm: %s; the names watched before stay",
                            strerror(-k));
        vec_free(&w);
}

/* d->added: a process's start time (a reused pid is a new process), with
 * this bit once the log has said it is sampled */
#define ADDED_LOGGED (1ULL << 63)

/* How long ago a process started, from its start time in clock ticks. */
static double process_age_s(uint64_t start_ticks) {
        struct timespec ts;
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9 - (double) start_ticks / (double) sysconf(_SC_CLK_TCK);
}

/* A process a scan found: sampled from now on in its target's group. The
 * log names each process once it has lived a second: a line for every
 * short-lived one (matched at its exec) would flood the journal. */
static int on_match(void *userdata, pid_t pid, uint32_t target) {
        struct daemon *d = userdata;
        uint64_t seen, start = target_start_ticks(pid);
        const char *name = target < d->cfg->n_targets ? d->cfg->targets[target].name : NULL;

        if (start == 0 || target >= d->target_groups.n || !name)
                return 0;
        if (u64map_get(&d->added, (uint64_t) pid, &seen) && (seen & ~ADDED_LOGGED) == start) {
                if (seen & ADDED_LOGGED || process_age_s(start) < 1)
                        return 0;
                log_info("target %s: sampling process %d", name, (int) pid);
                return u64map_put(&d->added, (uint64_t) pid, start | ADDED_LOGGED);
        }
        watchdog_ping(d);
        int k = recorder_add_process(d->rec, pid, false, d->target_groups.v[target]);
        if (k == -ESRCH)
                return 0;
        if (k < 0) {
                /* not again at every scan */
                log_warning("target %s: cannot sample process %d: %s", name, (int) pid, strerror(-k));
                start |= ADDED_LOGGED;
        } else if (process_age_s(start) >= 1) {
                log_info("target %s: sampling process %d", name, (int) pid);
                start |= ADDED_LOGGED;
        }
        return u64map_put(&d->added, (uint64_t) pid, start);
}

/* Adds what matches now and forgets added processes that are gone. */
static void scan(struct daemon *d) {
        int k = target_matcher_scan(d->matcher, on_match, d);
        if (k < 0)
                log_warning("cannot scan processes: %s", strerror(-k));
        for (size_t i = 0; d->added.keys && i <= d->added.mask; i++) {
                if (!d->added.used[i])
                        continue;
                pid_t pid = (pid_t) d->added.keys[i];
                if (target_start_ticks(pid) != (d->added.vals[i] & ~ADDED_LOGGED) &&
                    u64map_remove(&d->added, (uint64_t) pid))
                        i--; /* the backward shift may have moved an entry into slot i */
        }
        d->next_scan_ns = now_ns() + SCAN_NS;
}

static unsigned store_outputs(unsigned config_outputs) {
        return (config_outputs & CPROFD_OUTPUT_SVG ? STORE_OUTPUT_SVG : 0) |
               (config_outputs & CPROFD_OUTPUT_PPROF ? STORE_OUTPUT_PPROF : 0);
}

static void apply_retention(struct daemon *d) {
        int k = store_apply_retention(d->cfg->output_dir, d->cfg->max_age_ns, d->cfg->max_size, now_unix_ns(),
                                      &d->usage);
        if (k < 0)
                log_warning("retention in '%s': %s", d->cfg->output_dir, store_strerror(k));
}

/* Writes each target's profile of the window that ends now. */
static int end_window(struct daemon *d) {
        size_t n = d->group_names.n + 1;
        _cleanup_free_ struct profile **p = calloc(n, sizeof(*p));
        uint64_t start = d->window_start_unix_ns, end = now_unix_ns();

        if (!p)
                return -ENOMEM;
        int k = recorder_take_window(d->rec, p, n);
        if (k < 0)
                return k;
        for (size_t g = 1; g < n; g++) {
                const char *name = d->group_names.v[g - 1];
                double samples = profile_total(p[g], 0);
                bool current = false;
                for (size_t i = 0; i < d->target_groups.n; i++)
                        current |= d->target_groups.v[i] == g;
                /* a target a reload removed writes no more windows */
                if (samples <= 0 || !current)
                        continue;
                watchdog_ping(d);
                char title[256];
                time_t t = (time_t) (start / 1000000000ULL);
                struct tm tm;
                gmtime_r(&t, &tm);
                snprintf(title, sizeof(title), "cpu: %s, %04d-%02d-%02d %02d:%02d:%02dZ, %.0f s", name,
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                         (double) (end - start) / 1e9);
                k = store_write_window(d->cfg->output_dir, name, start, p[g], store_outputs(d->cfg->outputs),
                                       title);
                if (k < 0) {
                        d->windows_failed++;
                        log_error("target %s: window not written: %s", name, store_strerror(k));
                } else {
                        d->windows_written++;
                        d->group_windows.v[g - 1]++;
                        log_debug("target %s: window of %.0f samples written", name, samples);
                }
                if (d->push)
                        (void) pusher_push(d->push, d->cfg->pyroscope_app ? d->cfg->pyroscope_app : name, name,
                                           p[g], start / 1000000000ULL, end / 1000000000ULL,
                                           d->cfg->frequency_hz);
        }
        for (size_t g = 0; g < n; g++)
                profile_free(p[g]);
        apply_retention(d);
        /* a window frees what the last one built (its addresses, names and
         * profiles), in holes glibc keeps mapped unless asked: give them
         * back, or RssAnon creeps with fragmentation, not with use */
        (void) malloc_trim(0);
        d->window_start_unix_ns = end;
        /* on the grid start_window chose, whatever this one took; a
         * window missed (the machine stopped) is skipped */
        d->window_end_ns += d->cfg->window_ns;
        while (d->window_end_ns <= now_ns())
                d->window_end_ns += d->cfg->window_ns;
        return 0;
}

static int new_pusher(const struct cprofd_config *c, struct pusher **ret) {
        *ret = NULL;
        if (!c->pyroscope_url)
                return 0;
        struct pusher_options o = {
                .url = c->pyroscope_url,
                .format = c->pyroscope_format == CPROFD_PUSH_PPROF ? PUSH_PPROF : PUSH_FOLDED,
                .queue_max = c->pyroscope_queue,
        };
        return pusher_new(&o, ret);
}

/* ---- the control socket ---- */

static long rss_bytes(void) {
        char line[256];
        long kib = 0;
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld", &kib) == 1)
                        break;
        return kib * 1024;
}

/* The heap in use and what the allocator holds free. A sanitizer build
 * has ASan's allocator, for which mallinfo2 says nothing. */
static void heap_usage(uint64_t *in_use, uint64_t *held_free) {
#if defined(__SANITIZE_ADDRESS__)
        *in_use = __sanitizer_get_current_allocated_bytes();
        *held_free = __sanitizer_get_free_bytes();
#else
        struct mallinfo2 mi = mallinfo2();
        *in_use = mi.uordblks + mi.hblkhd;
        *held_free = mi.fordblks;
#endif
}

static json_t *status_reply(struct daemon *d) {
        struct record_progress p;
        struct rusage ru;
        json_t *targets = json_array();

        recorder_get_progress(d->rec, &p);
        getrusage(RUSAGE_SELF, &ru);
        for (size_t i = 0; i < d->cfg->n_targets; i++) {
                uint32_t g = d->target_groups.v[i];
                json_array_append_new(targets, json_pack("{s:s, s:I, s:I, s:I}",
                        "name", d->cfg->targets[i].name,
                        "processes", (json_int_t) recorder_group_processes(d->rec, g),
                        "samples", (json_int_t) recorder_group_samples(d->rec, g),
                        "windows", (json_int_t) d->group_windows.v[g - 1]));
        }
        double cpu = (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec +
                     ru.ru_stime.tv_usec / 1e6;
        /* in use against held but free: tells a leak from fragmentation */
        uint64_t heap_in_use, heap_free;
        heap_usage(&heap_in_use, &heap_free);
        json_t *reply = json_pack("{s:b, s:o, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I}",
                "ok", 1, "targets", targets,
                "samples", (json_int_t) p.stats.samples,
                "lost", (json_int_t) p.stats.lost,
                "processes", (json_int_t) p.processes_now,
                "cpu_s", cpu,
                "rss_bytes", (json_int_t) rss_bytes(),
                "heap_in_use_bytes", (json_int_t) heap_in_use,
                "heap_free_bytes", (json_int_t) heap_free,
                "disk_bytes", (json_int_t) d->usage.bytes,
                "disk_files", (json_int_t) d->usage.files,
                "windows_written", (json_int_t) d->windows_written,
                "windows_failed", (json_int_t) d->windows_failed,
                "backend", recorder_backend_name(d->rec),
                "ondemand", (json_int_t) ondemand_count(d->ondemand),
                "ondemand_starting", (json_int_t) ondemand_starting(d->ondemand));
        if (reply && d->push) {
                struct pusher_stats ps;
                pusher_get_stats(d->push, &ps);
                json_object_set_new(reply, "push", json_pack("{s:I, s:I, s:I, s:I}",
                        "queued", (json_int_t) ps.queued, "sent", (json_int_t) ps.sent,
                        "failed_attempts", (json_int_t) ps.failed_attempts, "dropped", (json_int_t) ps.dropped));
        }
        return reply;
}

static const struct cprofd_target_config *find_target(const struct daemon *d, const char *name) {
        for (size_t i = 0; i < d->cfg->n_targets; i++)
                if (strcmp(d->cfg->targets[i].name, name) == 0)
                        return &d->cfg->targets[i];
        return NULL;
}

static void snapshot(struct daemon *d, struct control_conn *c, const struct control_request *req) {
        struct profile *p = NULL;

        if (!find_target(d, req->target)) {
                control_reply_error(c, "no target '%s'", req->target);
                return;
        }
        uint64_t now = now_unix_ns(), since = req->last_ns < now ? now - req->last_ns : 0;
        int k = profile_new(&p);
        int n = k < 0 ? k : store_read_since(d->cfg->output_dir, req->target, since, p);
        if (n < 0) {
                control_reply_error(c, "cannot read the windows of '%s': %s", req->target, strerror(-n));
                profile_free(p);
                return;
        }
        ondemand_reply_profile(c, p, (unsigned) n);
        profile_free(p);
}

static void on_request(void *userdata, struct control_conn *c, const struct control_request *req,
                       const struct control_peer *peer, int pidfd) {
        struct daemon *d = userdata;

        switch (req->command) {
        case CONTROL_STATUS: {
                json_t *reply = status_reply(d);
                if (reply)
                        control_reply(c, reply);
                else
                        control_reply_error(c, "out of memory");
                break;
        }
        case CONTROL_SNAPSHOT:
                snapshot(d, c, req);
                break;
        case CONTROL_RECORD:
                log_info("on-demand recording of process %d for %.0f s at %u Hz, asked by uid %u",
                         (int) req->pid, (double) req->duration_ns / 1e9, req->frequency_hz, (unsigned) peer->uid);
                ondemand_start(d->ondemand, c, req, pidfd, peer->privileged);
                break;
        }
}

/* ---- reload ---- */

static bool sampler_changed(const struct cprofd_config *a, const struct cprofd_config *b) {
        if (a->frequency_hz != b->frequency_hz || a->kernel_stacks != b->kernel_stacks ||
            strcmp(a->unwind ? a->unwind : "auto", b->unwind ? b->unwind : "auto") != 0 ||
            a->n_debug_dirs != b->n_debug_dirs)
                return true;
        for (size_t i = 0; i < a->n_debug_dirs; i++)
                if (strcmp(a->debug_dirs[i], b->debug_dirs[i]) != 0)
                        return true;
        return false;
}

static bool str_changed(const char *a, const char *b) {
        return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Answers everything the socket still owes (on-demand recordings end now
 * with what they have), for at most a second, then closes it. */
static void close_control(struct daemon *d) {
        if (!d->ctl)
                return;
        ondemand_step(d->ondemand, true);
        uint64_t end = now_ns() + 1000 * 1000000ULL;
        while (control_server_connections(d->ctl) > 0 && now_ns() < end) {
                (void) control_server_dispatch(d->ctl);
                usleep(10000);
        }
        epoll_ctl(d->epfd, EPOLL_CTL_DEL, control_server_fd(d->ctl), NULL);
        d->ctl = control_server_free(d->ctl);
}

static int open_control(struct daemon *d) {
        struct control_handlers h = { .request = on_request };
        struct control_server *s;
        /* the old socket first: a new one on the same path would find it
         * listening */
        close_control(d);
        int k = control_server_new(d->cfg->socket_path, d->cfg->group, &h, d, &s);
        if (k < 0)
                return log_error("cannot listen on '%s': %s", d->cfg->socket_path, strerror(-k)), k;
        d->ctl = s;
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, control_server_fd(s), &ev) < 0)
                return -errno;
        return 0;
}

/* SIGHUP: a config that does not parse leaves everything as it was. */
static void reload(struct daemon *d) {
        char err[512];
        struct cprofd_config *c;

        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_ns() / 1000);
        int k = cprofd_config_load(d->config_path, &c, err, sizeof(err));
        if (k < 0) {
                log_error("%s; keeping the configuration in force", err);
                sd_notify(0, "READY=1");
                return;
        }
        struct cprofd_config *old = d->cfg;
        bool restart = sampler_changed(old, c);
        /* the window so far belongs to the old settings */
        if (restart || old->window_ns != c->window_ns)
                (void) end_window(d);
        d->cfg = c;
        if (!restart) {
                /* the running recorder borrows the debug directories (equal
                 * in both, or it would restart): keep its arrays */
                char **dirs = c->debug_dirs;
                size_t n = c->n_debug_dirs;
                c->debug_dirs = old->debug_dirs;
                c->n_debug_dirs = old->n_debug_dirs;
                old->debug_dirs = dirs;
                old->n_debug_dirs = n;
        } else {
                struct recorder *r;
                k = new_recorder(c, &r);
                if (k < 0) {
                        log_error("cannot restart sampling with the new configuration: %s; keeping the old one",
                                  strerror(-k));
                        d->cfg = old;
                        cprofd_config_free(c);
                        sd_notify(0, "READY=1");
                        return;
                }
                /* the old one's processes, children of targets included,
                 * go on in their groups */
                (void) recorder_finish(d->rec);
                size_t n = recorder_processes(d->rec, NULL, NULL, 0);
                _cleanup_free_ pid_t *pids = calloc(n ? n : 1, sizeof(*pids));
                _cleanup_free_ uint32_t *groups = calloc(n ? n : 1, sizeof(*groups));
                if (pids && groups) {
                        n = recorder_processes(d->rec, pids, groups, n);
                        for (size_t i = 0; i < n; i++)
                                if (groups[i])
                                        (void) recorder_add_process(r, pids[i], false, groups[i]);
                }
                recorder_free(d->rec);
                d->rec = r;
        }
        if (new_matcher(d) < 0)
                log_error("cannot apply the new targets: out of memory");
        watch_execs(d);
        /* processes of targets that are gone leave their group; the next
         * scan puts every match where the new targets say */
        for (uint32_t g = 1; g <= d->group_names.n; g++) {
                bool current = false;
                for (size_t i = 0; i < d->target_groups.n; i++)
                        current |= d->target_groups.v[i] == g;
                if (!current)
                        recorder_move_group(d->rec, g, 0);
        }
        u64map_clear(&d->added);
        if (str_changed(old->socket_path, c->socket_path) || str_changed(old->group, c->group))
                (void) open_control(d);
        watchdog_ping(d);
        if (str_changed(old->pyroscope_url, c->pyroscope_url) || old->pyroscope_format != c->pyroscope_format ||
            old->pyroscope_queue != c->pyroscope_queue) {
                d->push = pusher_free(d->push, PUSH_GRACE_NS);
                if ((k = new_pusher(c, &d->push)) < 0)
                        log_error("cannot push to '%s': %s", c->pyroscope_url, strerror(-k));
        }
        ondemand_set_config(d->ondemand, c);
        if (old->window_ns != c->window_ns || restart)
                start_window(d);
        cprofd_config_free(old);
        scan(d);
        apply_retention(d);
        log_info("configuration reloaded: %zu targets", c->n_targets);
        sd_notify(0, "READY=1");
}

/* ---- the loop ---- */

int daemon_new(struct cprofd_config *config, const char *config_path, struct daemon **ret) {
        struct daemon *d = calloc(1, sizeof(*d));
        sigset_t mask;
        int k;

        if (!d) {
                cprofd_config_free(config);
                return -ENOMEM;
        }
        d->cfg = config;
        d->sigfd = d->epfd = -1;
        d->config_path = config_path ? strdup(config_path) : NULL;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        d->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (d->sigfd < 0 || d->epfd < 0) {
                k = -errno;
                daemon_free(d);
                return k;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };
        (void) epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sigfd, &ev);

        k = new_matcher(d);
        if (k >= 0)
                k = ondemand_set_new(config, &d->ondemand);
        if (k >= 0 && (k = new_recorder(config, &d->rec)) < 0)
                log_error("cannot start sampling: %s", strerror(-k));
        if (k >= 0)
                k = open_control(d);
        if (k >= 0 && (k = new_pusher(config, &d->push)) < 0)
                log_error("cannot push to '%s': %s", config->pyroscope_url, strerror(-k));
        if (k < 0) {
                daemon_free(d);
                return k;
        }
        *ret = d;
        return 0;
}

struct daemon *daemon_free(struct daemon *d) {
        if (!d)
                return NULL;
        ondemand_set_free(d->ondemand);
        control_server_free(d->ctl);
        recorder_free(d->rec);
        pusher_free(d->push, PUSH_GRACE_NS);
        target_matcher_free(d->matcher);
        u64map_release(&d->added);
        for (size_t i = 0; i < d->group_names.n; i++)
                free(d->group_names.v[i]);
        vec_free(&d->group_names);
        vec_free(&d->group_windows);
        vec_free(&d->target_groups);
        if (d->sigfd >= 0)
                close(d->sigfd);
        if (d->epfd >= 0)
                close(d->epfd);
        cprofd_config_free(d->cfg);
        free(d->config_path);
        free(d);
        return NULL;
}

static void handle_signals(struct daemon *d) {
        struct signalfd_siginfo si;

        while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                        if (d->config_path)
                                reload(d);
                } else {
                        log_info("%s: writing the current window and stopping", strsignal((int) si.ssi_signo));
                        d->stop = true;
                }
        }
}

static void notify_status(struct daemon *d) {
        struct record_progress p;
        recorder_get_progress(d->rec, &p);
        sd_notifyf(0, "STATUS=%zu targets, %zu processes, %" PRIu64 " samples, %" PRIu64 " lost, %" PRIu64
                      " windows written",
                   d->cfg->n_targets, p.processes_now, p.stats.samples, p.stats.lost, d->windows_written);
}

int daemon_run(struct daemon *d) {
        struct epoll_event evs[4];
        int k = 0;

        start_window(d);
        watch_execs(d);
        scan(d);
        apply_retention(d);
        if (sd_watchdog_enabled(0, &d->watchdog_usec) <= 0)
                d->watchdog_usec = 0;
        log_info("sampling %zu targets at %u Hz (%s backend), windows of %.0f s in '%s'", d->cfg->n_targets,
                 d->cfg->frequency_hz, recorder_backend_name(d->rec), (double) d->cfg->window_ns / 1e9,
                 d->cfg->output_dir);
        sd_notify(0, "READY=1");
        notify_status(d);
        while (!d->stop) {
                uint64_t now = now_ns();
                int timeout = LOOP_MS;
                if (d->window_end_ns > now && (d->window_end_ns - now) / 1000000ULL < (uint64_t) timeout)
                        timeout = (int) ((d->window_end_ns - now) / 1000000ULL);
                k = recorder_poll(d->rec, timeout);
                if (k < 0) {
                        log_error("sampling failed: %s", strerror(-k));
                        break;
                }
                int n = epoll_wait(d->epfd, evs, (int) ELEMENTSOF(evs), 0);
                for (int i = 0; i < n; i++)
                        if (evs[i].data.u32 == 0)
                                handle_signals(d);
                if (d->ctl)
                        (void) control_server_dispatch(d->ctl);
                ondemand_step(d->ondemand, d->stop);
                now = now_ns();
                if (now >= d->next_scan_ns && !d->stop)
                        scan(d);
                if (now >= d->window_end_ns && !d->stop) {
                        k = end_window(d);
                        if (k < 0) {
                                log_error("cannot end the window: %s", strerror(-k));
                                break;
                        }
                        notify_status(d);
                }
                watchdog_ping(d);
        }
        sd_notify(0, "STOPPING=1");
        /* what on-demand recordings have so far goes to their clients;
         * the sampler stops, with what the kernel still holds taken in,
         * and the partial window is written */
        close_control(d);
        (void) recorder_finish(d->rec);
        int k2 = end_window(d);
        if (k2 < 0)
                log_error("cannot write the last window: %s", strerror(-k2));
        return k < 0 ? k : k2;
}
