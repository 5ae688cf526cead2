#include "cprof/target.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"

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

static char proc_state(pid_t pid) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        /* the name may hold spaces and parentheses: the state follows the last ')' */
        char *p = strrchr(buf, ')');
        return p && p[1] == ' ' ? p[2] : 0;
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

int target_launch(char *const *argv, struct launched *ret) {
        int go[2], err[2];

        *ret = (struct launched) { .pid = -1, .go_fd = -1, .err_fd = -1 };
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

int target_launch_go(struct launched *l) {
        int e = 0;
        ssize_t n;

        if (write(l->go_fd, "g", 1) != 1)
                return -errno;
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
                return -e;
        }
        return 0;
}

int target_launch_reap(struct launched *l, bool block) {
        if (l->reaped)
                return 1;
        if (l->pid <= 0)
                return 0;
        for (;;) {
                pid_t r = waitpid(l->pid, &l->status, block ? 0 : WNOHANG);
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

void target_launch_abort(struct launched *l) {
        if (l->pid > 0 && !l->reaped) {
                kill(l->pid, SIGKILL);
                target_launch_reap(l, true);
        }
        if (l->go_fd >= 0)
                close(l->go_fd);
        if (l->err_fd >= 0)
                close(l->err_fd);
        l->go_fd = l->err_fd = -1;
}
