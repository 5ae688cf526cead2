/* Targets: which processes to sample. PIDs given by the user (all their
 * threads), or a command we launch ourselves. A launched command is held
 * before exec until the sampler is ready, so its first instructions are
 * sampled too. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
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

struct launched {
        pid_t pid;
        int go_fd;  /* write end: one byte lets the child exec */
        int err_fd; /* read end: the child writes errno here if exec fails */
        bool reaped;
        int status; /* wait status once reaped */
};

/* Forks a child that waits, then execs argv (PATH searched). */
int target_launch(char *const *argv, struct launched *ret);
/* Lets the child exec. Returns -errno of a failed exec (e.g. -ENOENT). */
int target_launch_go(struct launched *l);
/* Reaps the child if it exited (non-blocking unless block). Returns 1
 * when reaped (status in l->status), 0 when still running. */
int target_launch_reap(struct launched *l, bool block);
/* Kills a child that never got to exec, and reaps it. */
void target_launch_abort(struct launched *l);
