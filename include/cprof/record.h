/* A recording: the pipeline target -> sample -> unwind -> symbolize ->
 * profile, driven for a time. The CLI and the daemon are thin drivers of
 * this one loop: `cprof record` runs it once (recorder_run), the daemon
 * steps it (recorder_poll) and cuts it into windows (recorder_take_window)
 * for weeks, with processes sorted into groups (its targets). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cprof/profile.h"
#include "cprof/sample.h"
#include "cprof/symbolize.h"
#include "cprof/unwind.h"

struct record_options {
        struct sampler_options sampler;
        bool threads;         /* a "comm-tid" frame after the process frame */
        uint64_t duration_ns; /* 0: until stopped or every root target exited */
        /* Run the loop at the lowest real-time priority, where allowed (as
         * `perf record -r` does): targets with thousands of busy threads
         * would otherwise starve it and push the end of the recording, and
         * the output, seconds past the duration. */
        bool realtime;
        struct symbolizer_options symbolize;
        /* how user stacks are unwound; sampler.stack_copy must be set for
         * any mode but UNWIND_FP */
        struct unwinder_options unwind;
        /* unwind every sample with libdwfl too and count agreement */
        bool unwind_check;
        /* frames without a name keep their address: "[libc.so.6+0x27249]"
         * instead of "[libc.so.6]" */
        bool addrs;
        /* only what the processes run until their first exec: samples
         * after it are dropped and the recording ends (an on-demand
         * recording by a user who may not profile what the process may
         * exec next: a setuid program) */
        bool first_image_only;
};

struct record_progress {
        uint64_t elapsed_ns;
        struct sampler_stats stats;
        size_t processes; /* processes seen so far */
        /* what is held now: processes and their images known (exited
         * ones are forgotten a few seconds later), modules open, unique
         * addresses of this window */
        size_t processes_now, images, modules, addresses;
        /* samples with a user frame outside every mapping known for its
         * process ("[unknown]"): what could not be named, counted */
        uint64_t unnamed_samples;
        /* samples with a frame in anonymous executable memory (JIT code)
         * that no perf map names */
        uint64_t jit_unnamed_samples;
        /* samples with a frame in a module that no symbol or DWARF names
         * ("[libfoo.so]") */
        uint64_t nosym_samples;
        /* samples whose user stack was unwound here (DWARF), and how each
         * ended (UNWIND_END_COMPLETE: reached the outermost frame) */
        uint64_t unwound_samples;
        uint64_t unwind_ends[_UNWIND_END_MAX];
        /* of the NOT_COPIED ones: the copy had reached its size limit */
        uint64_t unwind_copy_limited;
        /* --unwind-check: samples compared with libdwfl, and agreeing */
        uint64_t check_samples, check_agree;
        struct unwinder_stats unwinder;
        /* the in-kernel unwinder's tables: modules loaded, not loaded (no
         * room), kernel memory they take */
        uint64_t kernel_modules, kernel_modules_not_loaded, kernel_table_bytes;
};

struct recorder;

/* Moves the calling process to the lowest real-time priority now, where
 * allowed (see record_options.realtime); once. A driver calls it first
 * thing: with 2,000 busy threads on two CPUs a normal task runs a few
 * milliseconds every few seconds, so even parsing options and opening
 * the target took tens of seconds. */
bool record_raise_priority(void); /* true: at real-time priority */

int recorder_new(const struct record_options *o, struct recorder **ret,
                 const char **ret_fallback_reason);
struct recorder *recorder_free(struct recorder *r);

/* Adds a process to sample. The recording ends when every root process
 * has exited; children followed on the way are not roots. */
int recorder_add_pid(struct recorder *r, pid_t pid, bool root);
/* The same, with the process's samples in group's profile (0 is the
 * default group); children it forks later are in its group too. Adding a
 * process again moves it to group. */
int recorder_add_process(struct recorder *r, pid_t pid, bool root, uint32_t group);
/* Processes that exec into one of these names (their comm) are added the
 * moment they exec, each to the group of its name, before any scan of
 * /proc could see them: a process living 50 ms is sampled whole. Replaces
 * what was watched before; an empty set watches nothing. -EOPNOTSUPP on
 * the perf backend (see sampler_watch_execs). */
struct recorder_exec_watch {
        const char *comm;
        uint32_t group;
};
int recorder_watch_execs(struct recorder *r, const struct recorder_exec_watch *w, size_t n);
/* A root process launched here and held before its exec (see
 * target_launch): its image is learnt from the exec. */
int recorder_add_launched(struct recorder *r, pid_t pid);
int recorder_start(struct recorder *r);

/* Samples until the duration ends, *stop becomes non-zero, or all roots
 * exited; calls progress (may be NULL) about four times a second. Then
 * stops the sampler and takes in everything still buffered
 * (recorder_finish). */
int recorder_run(struct recorder *r, volatile sig_atomic_t *stop,
                 void (*progress)(void *userdata, const struct record_progress *p), void *userdata);

/* One step of recorder_run, for a driver with an event loop of its own:
 * starts sampling if not started, waits up to timeout_ms (0: not at all)
 * for samples and takes them in, names what they brought, and does the
 * housekeeping (maps read again after exec, exited processes forgotten,
 * unused modules released). Returns 1 when the recording should end (the
 * duration is over, or every root exited: see recorder_end_reason), 0 to
 * go on, or -errno. */
int recorder_poll(struct recorder *r, int timeout_ms);
/* Stops the sampler and takes in everything still buffered. The profiles
 * are complete after it. Once; later calls return 0. */
int recorder_finish(struct recorder *r);

/* Ends the current window and starts the next one without stopping the
 * sampler: everything recorded since the last window (or the start) is
 * named now and handed over as one profile per group, ret[g] for every
 * g < n_groups (owned by the caller, empty for a group without samples;
 * a group >= n_groups loses its window). What only the ended window
 * needed is released: its addresses and names, and the pins on modules,
 * so that modules no process maps any more are closed. */
int recorder_take_window(struct recorder *r, struct profile **ret, size_t n_groups);
/* Moves every process of group from to group to (0: the default). */
void recorder_move_group(struct recorder *r, uint32_t from, uint32_t to);
/* The processes known now (not exited) and their groups: up to max of
 * them; returns how many there are. */
size_t recorder_processes(const struct recorder *r, pid_t *pids, uint32_t *groups, size_t max);
/* Samples of group since the start, and its processes known now. */
uint64_t recorder_group_samples(const struct recorder *r, uint32_t group);
size_t recorder_group_processes(const struct recorder *r, uint32_t group);

/* The profile of group 0 recorded so far in this window (borrowed, lives
 * until the next recorder_take_window or recorder_free; NULL when out of
 * memory). */
struct profile *recorder_profile(struct recorder *r);
void recorder_get_progress(const struct recorder *r, struct record_progress *ret);
const char *recorder_backend_name(const struct recorder *r);
/* See sampler_notice(). */
const char *recorder_notice(const struct recorder *r);
/* The modules whose frames had no names, most samples first: up to max
 * paths (borrowed, live as long as r) and, when ret_samples is not NULL,
 * the samples that had such a frame of each. Returns how many modules
 * there are (may be more than max). */
size_t recorder_nosym_modules(const struct recorder *r, const char **ret, uint64_t *ret_samples,
                              size_t max);
/* Why the recording ended: "duration", "stopped", "targets exited". */
const char *recorder_end_reason(const struct recorder *r);
