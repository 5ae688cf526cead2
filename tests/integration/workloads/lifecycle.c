/* lifecycle: process life events that a profiler must follow exactly.
 *
 * lifecycle forkexec PROG ARG   forks 6 children one after the other; each
 *                               spins ~0.15 s of CPU in pre_exec_spin, then
 *                               execs PROG ARG. Expected: every
 *                               pre_exec_spin sample under the process
 *                               "lifecycle", with main below it; none named
 *                               [unknown] under PROG's name.
 * lifecycle mainexit SECONDS    main starts a thread and calls pthread_exit;
 *                               the thread spins SECONDS of CPU in
 *                               orphan_spin. Expected: the recording lasts
 *                               until the thread ends, orphan_spin named. */
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>

#include "common.h"

DEFINE_CPU_SPIN(pre_exec_spin, 2862933555777941757ull)
DEFINE_CPU_SPIN(orphan_spin, 6364136223846793005ull)

static uint64_t orphan_ns;

static void *orphan_main(void *arg) {
        (void) arg;
        orphan_spin(orphan_ns);
        return NULL;
}

int main(int argc, char **argv) {
        if (argc == 4 && strcmp(argv[1], "forkexec") == 0) {
                for (int i = 0; i < 6; i++) {
                        pid_t p = fork();
                        if (p < 0)
                                return 1;
                        if (p == 0) {
                                pre_exec_spin(150000000ull);
                                execl(argv[2], argv[2], argv[3], (char *) NULL);
                                _exit(127);
                        }
                        int st;
                        if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                                return 1;
                }
                return 0;
        }
        if (argc == 3 && strcmp(argv[1], "mainexit") == 0) {
                pthread_t t;
                orphan_ns = parse_seconds_ns(argv[2]);
                if (pthread_create(&t, NULL, orphan_main, NULL) != 0)
                        return 1;
                pthread_exit(NULL);
        }
        fprintf(stderr, "usage: lifecycle forkexec PROG ARG | lifecycle mainexit SECONDS\n");
        return 2;
}
