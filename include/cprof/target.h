/* Targets: which processes to sample. PIDs given by the user (all their
 * threads), or a command we launch ourselves. A launched command is held
 * before exec until the sampler is ready, so its first instructions are
 * sampled too. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* 0 when pid exists and we may read its memory maps; -ESRCH when there
 * is no such process, -EACCES/-EPERM when we may not trace it. */
int target_check_pid(pid_t pid);

/* The process (thread group) a task id belongs to: pid itself for a
 * process, its process for a thread id. -ESRCH when gone. */
int target_tgid(pid_t pid, pid_t *ret);

/* True while any thread of pid runs (the main thread may have exited). */
bool target_alive(pid_t pid);

/* The process name (/proc/PID/comm) into buf. -ESRCH when gone. */
int target_comm(pid_t pid, char *buf, size_t size);

/* CPU time (user + system, all threads) pid has used so far, in ns, from
 * /proc/PID/stat; with children, plus that of the children it has waited
 * for (a child counts only once reaped). Readable from a zombie until it
 * is reaped. -ESRCH when gone. */
int target_cpu_time_ns(pid_t pid, bool children, uint64_t *ret);

/* When pid started, in clock ticks since boot (/proc/PID/stat starttime);
 * with the pid, it names one process. 0 when gone. */
uint64_t target_start_ticks(pid_t pid);

/* A launched command runs in a process group of its own (its pid is the
 * group id), so that everything it starts can be stopped with it. When
 * the profiler is in the terminal's foreground group, the command's group
 * gets the terminal while it runs: Ctrl-C and terminal reads go to it. */
struct launched {
        pid_t pid;
        int go_fd;  /* write end: one byte lets the child exec */
        int err_fd; /* read end: the child writes errno here if exec fails */
        int tty_fd; /* the terminal handed to the command's group, or -1 */
        bool reaped;
        int status;           /* wait status once reaped */
        struct rusage rusage; /* once reaped: the command and the children it waited for */
};

/* Forks a child that waits, then execs argv (PATH searched). Makes the
 * calling process a child subreaper, so that the command's orphans are
 * reaped here. */
int target_launch(char *const *argv, struct launched *ret);
/* Hands the terminal over if we have it, and lets the child exec.
 * Returns -errno of a failed exec (e.g. -ENOENT). */
int target_launch_go(struct launched *l);
/* Call now and then while the command runs. When the command was stopped
 * from the terminal we handed it (Ctrl-Z), stops us too, so that our shell
 * gets the terminal back; once continued ("fg"), hands the terminal to the
 * command again and continues it. Returns 1 when that happened. */
int target_launch_follow_stop(struct launched *l);
/* Reaps the child if it exited (non-blocking unless block). Returns 1
 * when reaped (status in l->status), 0 when still running. */
int target_launch_reap(struct launched *l, bool block);
/* Ends whatever still runs in the command's process group: SIGTERM (and
 * SIGCONT, for stopped members), then SIGKILL after grace_ns; reaps the
 * command and takes the terminal back. Returns 1 when the command itself
 * was still running, 0 when it had already exited on its own. */
int target_launch_stop(struct launched *l, uint64_t grace_ns);
/* Kills a child that never got to exec, and reaps it. */
void target_launch_abort(struct launched *l);

/* Matching: which running processes belong to a named target (the
 * daemon's [target NAME] sections). A process matches a target when any
 * one of its matches does; a scan of /proc reports each matching process
 * once, under the first target (in the order they were added) that it
 * matches. Kernel threads and the calling process never match. */
enum target_match_kind {
        TARGET_MATCH_COMM,         /* /proc/PID/comm equals value (at most 15 bytes) */
        TARGET_MATCH_PID,          /* the process pid */
        TARGET_MATCH_PIDFILE,      /* the pid in the file at value, read at every scan */
        TARGET_MATCH_EXE,          /* /proc/PID/exe is the file at value (same device and inode) */
        TARGET_MATCH_CGROUP,       /* in the cgroup v2 path value ("/system.slice/x.service") or below */
        TARGET_MATCH_SYSTEMD_UNIT, /* in the cgroup of the systemd unit value ("nginx.service") */
        TARGET_MATCH_ALL,          /* every process */
};

struct target_match {
        enum target_match_kind kind;
        const char *value; /* NULL for PID and ALL */
        pid_t pid;         /* TARGET_MATCH_PID */
};

/* A set of matches, each tagged with the caller's target number, and the
 * scan that applies them to the processes running now. The matcher holds
 * a directory fd on /proc and copies of the values; it keeps no state
 * about processes between scans, so a process that execs, renames itself
 * or changes cgroup is judged afresh at the next scan, and one that exits
 * is simply no longer reported.
 *
 * Which processes count: thread-group leaders (a thread id is never
 * reported, and target_matcher_match_pid() answers 0 for one), not kernel
 * threads (PF_KTHREAD), not the calling process, and not a zombie whose
 * threads have all exited (one whose main thread alone has exited still
 * counts: its other threads run). A process that vanishes during a scan
 * is skipped without an error.
 *
 * What each kind reads, so that a scan costs only what its matches need
 * (bench/bench-target-scan.py measures it):
 *  - COMM: /proc/PID/comm, the name of the main thread (prctl
 *    PR_SET_NAME, or the exec'd file name cut to 15 bytes); exact match.
 *  - PID: nothing but that pid.
 *  - PIDFILE: the file, once per scan: its first line must be a decimal
 *    pid; a missing or garbled file matches nothing (logged once at debug
 *    level until it is readable again).
 *  - EXE: the file at value is stat()ed once per scan, so a reinstalled
 *    binary (a new inode) is followed: processes still running the old
 *    one stop matching and new ones match. Each process's /proc/PID/exe
 *    is compared by device and inode.
 *  - CGROUP: the cgroup v2 path of the process, the "0::PATH" line of
 *    /proc/PID/cgroup (relative to our cgroup namespace, as /proc shows
 *    it; this works on hybrid v1/v2 hierarchies too). A scan does not
 *    read that file per process but, once, the cgroup.procs files of the
 *    cgroup and those below it in the cgroup2 mount (found in
 *    /proc/self/mountinfo), which costs per cgroup, not per process; only
 *    when the mount does not show the cgroup (not mounted, outside the
 *    mount's root, nested over 64 deep) is each process's file read.
 *    target_matcher_match_pid() reads the process's file. value must start
 *    with '/'; it matches that cgroup and every cgroup below it ("/a/b"
 *    matches "/a/b" and "/a/b/c", not "/a/bc"); "/" matches every process.
 *    A path inside the cgroup2 mount ("/sys/fs/cgroup/unified/a/b" where
 *    cgroup2 is mounted at /sys/fs/cgroup/unified) is taken as the
 *    cgroup it names ("/a/b").
 *  - SYSTEMD_UNIT: systemd puts a unit's processes in a cgroup named
 *    after the unit, below the cgroups of its slices:
 *    "/system.slice/nginx.service", or for a user's manager
 *    "/user.slice/user-1000.slice/user@1000.service/app.slice/x.service";
 *    a service that delegates makes sub-cgroups below its own. So a
 *    process is in unit U when any component of its cgroup v2 path is
 *    exactly U. A value without a '.' gets ".service" appended, as
 *    systemctl does ("nginx" is "nginx.service"). A slice ("user.slice")
 *    matches everything below it, as systemd's accounting counts it.
 *    A scan walks the whole cgroup2 tree for directories of that name and
 *    reads the cgroup.procs below them (as for CGROUP, with the same
 *    fallback).
 *  - ALL: nothing more.
 * Kernel threads and zombies are told apart only for a process that
 * matched otherwise (or for every process, with ALL): one with an
 * executable (/proc/PID/exe) is neither; for the rest /proc/PID/stat
 * decides. */
struct target_matcher;

int target_matcher_new(struct target_matcher **ret);
struct target_matcher *target_matcher_free(struct target_matcher *m);
/* target: the caller's index (e.g. the config's target index). Copies
 * match->value. -EINVAL for a value that can never match: NULL or empty
 * where one is needed, a COMM longer than 15 bytes, a PID <= 0, a CGROUP
 * that does not start with '/', a SYSTEMD_UNIT with a '/'. */
int target_matcher_add(struct target_matcher *m, uint32_t target, const struct target_match *match);
/* Scans /proc once; calls fn for each matching process (thread-group
 * leaders only) with the first matching target, in the order matches were
 * added. A non-zero return from fn stops the scan and is returned. fn may
 * call target_matcher_match_pid(), but not add matches. When every match
 * is a PID, PIDFILE, CGROUP or SYSTEMD_UNIT, only the pids they stand for
 * are looked at, not all of /proc. */
int target_matcher_scan(struct target_matcher *m,
                        int (*fn)(void *userdata, pid_t pid, uint32_t target), void *userdata);
/* Whether one pid matches now (for a single check); -ESRCH when gone.
 * Returns 1/0 and *ret_target (set when 1). */
int target_matcher_match_pid(struct target_matcher *m, pid_t pid, uint32_t *ret_target);

/* Where the cgroup v2 hierarchy is mounted (from /proc/self/mountinfo,
 * e.g. "/sys/fs/cgroup" or, on hybrid systems, "/sys/fs/cgroup/unified"),
 * into buf. -ENOENT when it is not mounted, -ENAMETOOLONG when buf is too
 * small. */
int target_cgroup2_mount(char *buf, size_t size);
/* The cgroup v2 path of pid ("/system.slice/x.service"), the "0::" line
 * of /proc/PID/cgroup, into buf. -ESRCH when gone, -ENOENT when the
 * kernel shows no cgroup v2 line. */
int target_cgroup_path(pid_t pid, char *buf, size_t size);
