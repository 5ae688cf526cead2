/* forker: a parent that forks children, with and without exec, one after
 * the other, each child under its own process name.
 *
 * Expected frames (root first):
 *   forker;...;main;parent_spin                   ~0.3 s of CPU, the parent
 *   fk-noexec;...;main;child_spin                 ~0.25 s of CPU, a forked
 *                                                 child renamed by prctl,
 *                                                 no exec
 *   hot;...;main;run;hot_a / hot_b                exec'd ./hot 0.6
 *   syscalls;...;main;run;spin_getppid/spin_read  exec'd ./syscalls 0.25,
 *                                                 short-lived
 * The exec'd workloads are looked up next to this executable.
 *
 * Usage: forker [--wait]
 *   with --wait, start only after reading a line from stdin (so that a
 *   profiler can attach by PID first); exits 0 when every child exited 0 */
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "common.h"

DEFINE_CPU_SPIN(parent_spin, 2862933555777941757ull)
DEFINE_CPU_SPIN(child_spin, 3202034522624059733ull)

static int wait_child(pid_t pid, const char *what) {
        int status;

        if (waitpid(pid, &status, 0) < 0) {
                perror("waitpid");
                return -1;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "forker: child %s failed (status 0x%x)\n", what, status);
                return -1;
        }
        return 0;
}

static int spawn_exec(const char *dir, const char *name, const char *arg) {
        char path[PATH_MAX];
        pid_t pid;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        pid = fork();
        if (pid < 0) {
                perror("fork");
                return -1;
        }
        if (pid == 0) {
                /* the exec'd workloads print their ready line; keep the
                 * parent's stdout for the test to read */
                execl(path, name, arg, (char *) NULL);
                perror(path);
                _exit(127);
        }
        return wait_child(pid, name);
}

int main(int argc, char **argv) {
        char self[PATH_MAX], *dir;
        ssize_t n;
        pid_t pid;
        int failed = 0;
        uint64_t r;

        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0) {
                perror("/proc/self/exe");
                return 1;
        }
        self[n] = '\0';
        dir = dirname(self);

        print_ready("forker");
        if (argc >= 2 && strcmp(argv[1], "--wait") == 0) {
                char line[64];

                if (!fgets(line, sizeof(line), stdin))
                        return 2;
        }
        r = parent_spin(300000000);
        KEEP_FRAME(r);

        pid = fork();
        if (pid < 0) {
                perror("fork");
                return 1;
        }
        if (pid == 0) {
                prctl(PR_SET_NAME, "fk-noexec", 0, 0, 0);
                r = child_spin(250000000);
                KEEP_FRAME(r);
                _exit(0);
        }
        if (wait_child(pid, "fk-noexec") < 0)
                failed = 1;
        if (spawn_exec(dir, "hot", "0.6") < 0)
                failed = 1;
        if (spawn_exec(dir, "syscalls", "0.25") < 0)
                failed = 1;
        return failed;
}
