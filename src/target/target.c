#include "cprof/target.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/time-util.h"

int target_check_pid(pid_t pid) {
        char path[64];

        if (kill(pid, 0) < 0 && errno == ESRCH)
                return -ESRCH;
        /* reading maps takes the same ptrace access check as symbolizing */
        snprintf(path, sizeof(path), "/proc/%d/maps", pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        char c;
        if (read(fd, &c, 1) < 0)
                return -errno;
        return 0;
}

int target_tgid(pid_t pid, pid_t *ret) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        while (fgets(line, sizeof(line), f)) {
                int tgid;
                if (sscanf(line, "Tgid: %d", &tgid) == 1 && tgid > 0) {
                        *ret = tgid;
                        return 0;
                }
        }
        return -EIO;
}

/* The fields of /proc/PID/stat after the name, from the state on, into
 * buf. The name may hold spaces and parentheses: they follow the last ')'. */
static const char *proc_stat_fields(pid_t pid, char *buf, size_t size) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        ssize_t n = read(fd, buf, size - 1);
        if (n <= 0)
                return NULL;
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        return p && p[1] == ' ' ? p + 2 : NULL;
}

static char proc_state(pid_t pid) {
        char buf[1024];
        const char *f = proc_stat_fields(pid, buf, sizeof(buf));
        return f ? f[0] : 0;
}

static bool state_alive(char st) {
        return st != 0 && st != 'Z' && st != 'X';
}

/* pid if it runs, else a thread of it that still runs (the main thread
 * may have called pthread_exit()), else 0 */
static pid_t live_thread(pid_t pid) {
        if (state_alive(proc_state(pid)))
                return pid;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/task", pid);
        _cleanup_(closedirp) DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                int tid = atoi(de->d_name);
                if (tid > 0 && tid != pid && state_alive(proc_state(tid)))
                        return tid;
        }
        return 0;
}

bool target_alive(pid_t pid) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
                return false;
        /* the process lives as long as any of its threads */
        return live_thread(pid) != 0;
}

int target_comm(pid_t pid, char *buf, size_t size) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/comm", pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        ssize_t n = read(fd, buf, size - 1);
        if (n <= 0)
                return n < 0 ? -errno : -ESRCH;
        if (buf[n - 1] == '\n')
                n--;
        buf[n] = '\0';
        return 0;
}

int target_cpu_time_ns(pid_t pid, bool children, uint64_t *ret) {
        char buf[1024];
        unsigned long long utime, stime, cutime, cstime;
        const char *f = proc_stat_fields(pid, buf, sizeof(buf));
        if (!f)
                return -ESRCH;
        /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
         * cmajflt utime stime cutime cstime */
        if (sscanf(f, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &utime, &stime,
                   &cutime, &cstime) != 4)
                return -EIO;
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t ticks = utime + stime + (children ? cutime + cstime : 0);
        *ret = ticks * (1000000000ULL / (uint64_t) (hz > 0 ? hz : 100));
        return 0;
}

uint64_t target_start_ticks(pid_t pid) {
        char buf[1024];
        unsigned long long t;
        const char *f = proc_stat_fields(pid, buf, sizeof(buf));
        /* ... cutime cstime priority nice num_threads itrealvalue starttime */
        if (!f || sscanf(f, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                         &t) != 1)
                return 0;
        return t;
}

int target_launch(char *const *argv, struct launched *ret) {
        int go[2], err[2];

        *ret = (struct launched) { .pid = -1, .go_fd = -1, .err_fd = -1, .tty_fd = -1 };
        /* the command's orphans (its children once it exited) are ours to
         * reap, so that its process group empties when they die, whatever
         * PID 1 does; the kernel refuses this for nobody */
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1);
        if (pipe2(go, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(err, O_CLOEXEC) < 0) {
                int r = -errno;
                close(go[0]);
                close(go[1]);
                return r;
        }

        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(go[0]);
                close(go[1]);
                close(err[0]);
                close(err[1]);
                return r;
        }
        if (pid == 0) {
                char c;
                close(go[1]);
                close(err[0]);
                /* the profiler's own signal handling is not the command's */
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                signal(SIGHUP, SIG_DFL);
                signal(SIGQUIT, SIG_DFL);
                /* a group of its own: stopping it stops what it started */
                (void) setpgid(0, 0);
                /* die with the profiler if it dies before letting us go */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                /* the few samples taken before exec completes belong to the
                 * command, not to a process called "cprof" */
                const char *base = strrchr(argv[0], '/');
                prctl(PR_SET_NAME, base ? base + 1 : argv[0]);
                /* tell the parent we are named: it starts sampling after */
                if (write(err[1], "r", 1) != 1)
                        _exit(127);
                if (read(go[0], &c, 1) != 1)
                        _exit(127);
                prctl(PR_SET_PDEATHSIG, 0);
                execvp(argv[0], argv);
                int e = errno;
                (void) !write(err[1], &e, sizeof(e));
                _exit(127);
        }
        /* also here, so that the group exists whichever of us runs first */
        (void) setpgid(pid, pid);
        close(go[0]);
        close(err[1]);
        ret->pid = pid;
        ret->go_fd = go[1];
        ret->err_fd = err[0];

        char c;
        ssize_t n;
        do
                n = read(ret->err_fd, &c, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1) {
                target_launch_abort(ret);
                return -ECHILD;
        }
        return 0;
}

/* A terminal of ours that our process group has in the foreground, or -1:
 * only then is it ours to hand over. */
static int foreground_tty(void) {
        for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
                if (isatty(fd) && tcgetpgrp(fd) == getpgrp())
                        return fd;
        return -1;
}

static void take_tty_back(struct launched *l) {
        if (l->tty_fd < 0)
                return;
        /* we are a background group now: tcsetpgrp() would stop us with
         * SIGTTOU unless it is ignored */
        struct sigaction ign = { .sa_handler = SIG_IGN }, old;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGTTOU, &ign, &old);
        (void) tcsetpgrp(l->tty_fd, getpgrp());
        sigaction(SIGTTOU, &old, NULL);
        l->tty_fd = -1;
}

int target_launch_go(struct launched *l) {
        int e = 0;
        ssize_t n;

        /* before exec: a command that reads the terminal at once must find
         * its group in the foreground, or it would be stopped by SIGTTIN */
        int tty = foreground_tty();
        if (tty >= 0 && tcsetpgrp(tty, l->pid) >= 0)
                l->tty_fd = tty;
        if (write(l->go_fd, "g", 1) != 1) {
                take_tty_back(l);
                return -errno;
        }
        close(l->go_fd);
        l->go_fd = -1;
        /* EOF (the pipe closed on exec) means success */
        do
                n = read(l->err_fd, &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        close(l->err_fd);
        l->err_fd = -1;
        if (n == (ssize_t) sizeof(e)) {
                target_launch_reap(l, true);
                take_tty_back(l);
                return -e;
        }
        return 0;
}

int target_launch_follow_stop(struct launched *l) {
        siginfo_t si = {};

        if (l->tty_fd < 0 || l->reaped)
                return 0;
        /* stop reports only: an exit is left for target_launch_reap() */
        if (waitid(P_PID, (id_t) l->pid, &si, WSTOPPED | WNOHANG) < 0 || si.si_pid != l->pid)
                return 0;
        if (si.si_status != SIGTSTP && si.si_status != SIGTTIN && si.si_status != SIGTTOU)
                return 0; /* a SIGSTOP from elsewhere is not the terminal's business */
        int tty = l->tty_fd;
        take_tty_back(l);
        /* our shell sees the job stopped and takes the terminal; "fg"
         * continues us in the foreground again */
        (void) raise(SIGTSTP);
        if (tcgetpgrp(tty) == getpgrp() && tcsetpgrp(tty, l->pid) >= 0)
                l->tty_fd = tty;
        (void) kill(-l->pid, SIGCONT);
        return 1;
}

int target_launch_reap(struct launched *l, bool block) {
        if (l->reaped)
                return 1;
        if (l->pid <= 0)
                return 0;
        for (;;) {
                pid_t r = wait4(l->pid, &l->status, block ? 0 : WNOHANG, &l->rusage);
                if (r == l->pid) {
                        l->reaped = true;
                        return 1;
                }
                if (r == 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

/* Reaps what of the group has died and is ours (the command, and its
 * orphans, since we are their subreaper). */
static void reap_group(struct launched *l) {
        for (;;) {
                int status;
                struct rusage ru;
                pid_t r = wait4(-l->pid, &status, WNOHANG, &ru);
                if (r <= 0) {
                        if (r < 0 && errno == EINTR)
                                continue;
                        return;
                }
                if (r == l->pid && !l->reaped) {
                        l->status = status;
                        l->rusage = ru;
                        l->reaped = true;
                }
        }
}

/* True while any process of the group exists, zombies included: an
 * orphan's zombie is gone only once reaped. */
static bool group_exists(const struct launched *l) {
        return kill(-l->pid, 0) == 0 || (!l->reaped && kill(l->pid, 0) == 0);
}

/* Sends sig to the group, and to the command should it have left it. */
static void signal_group(const struct launched *l, int sig) {
        (void) kill(-l->pid, sig);
        if (!l->reaped)
                (void) kill(l->pid, sig);
}

static bool wait_group(struct launched *l, uint64_t timeout_ns) {
        uint64_t deadline = now_ns() + timeout_ns;
        for (;;) {
                reap_group(l);
                if (!group_exists(l))
                        return true;
                if (now_ns() >= deadline)
                        return false;
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
}

int target_launch_stop(struct launched *l, uint64_t grace_ns) {
        if (l->pid <= 0)
                return 0;
        bool running = target_launch_reap(l, false) == 0;
        reap_group(l);
        if (group_exists(l)) {
                signal_group(l, SIGTERM);
                /* a stopped process handles SIGTERM only once continued */
                signal_group(l, SIGCONT);
                if (!wait_group(l, grace_ns)) {
                        signal_group(l, SIGKILL);
                        /* a zombie whose parent is outside the group (and
                         * not us) may linger: do not wait for it forever */
                        (void) wait_group(l, 1000 * 1000 * 1000ULL);
                }
        }
        if (!l->reaped) {
                signal_group(l, SIGKILL);
                target_launch_reap(l, true);
        }
        take_tty_back(l);
        return running ? 1 : 0;
}

void target_launch_abort(struct launched *l) {
        if (l->pid > 0 && !l->reaped) {
                signal_group(l, SIGKILL);
                target_launch_reap(l, true);
        }
        take_tty_back(l);
        if (l->go_fd >= 0)
                close(l->go_fd);
        if (l->err_fd >= 0)
                close(l->err_fd);
        l->go_fd = l->err_fd = -1;
}
