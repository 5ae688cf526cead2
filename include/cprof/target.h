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
