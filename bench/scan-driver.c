/* bench-target-scan.py's driver: the cost of target_matcher_scan() over
 * the processes of this machine plus --spawn N idle children of ours.
 *
 *     scan-driver [--spawn N] [--cgroups C] [--scans K] KIND=VALUE...
 *
 * KIND is comm, pid, pidfile, exe, cgroup, systemd-unit or all (all=yes);
 * "%p" in VALUE is the driver's pid. With --cgroups, the children are
 * spread over C cgroups made for them, /cprof-bench-PID/c0 ... (in the
 * cgroup2 mount; removed at the end), as a service's workers would be,
 * and the tree they make is what a systemd-unit match walks.
 * Prints "processes P matched M scans K cpu_us C wall_us W": the /proc
 * entries at the start, the processes the last scan reported, and this
 * process's CPU time (user + system) and wall time per scan, averaged.
 * The children are not counted in our CPU time (they are paused). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cprof/target.h"

static uint64_t now_ns(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int count(void *userdata, pid_t pid, uint32_t target) {
        (void) pid;
        (void) target;
        (*(unsigned *) userdata)++;
        return 0;
}

static const struct {
        const char *name;
        enum target_match_kind kind;
} kinds[] = {
        { "comm", TARGET_MATCH_COMM },       { "pid", TARGET_MATCH_PID },
        { "pidfile", TARGET_MATCH_PIDFILE }, { "exe", TARGET_MATCH_EXE },
        { "cgroup", TARGET_MATCH_CGROUP },   { "systemd-unit", TARGET_MATCH_SYSTEMD_UNIT },
        { "all", TARGET_MATCH_ALL },
};

int main(int argc, char **argv) {
        unsigned spawn = 0, scans = 100, cgroups = 0;
        char mount[512] = "", base[600] = "", dir[700], value[256];
        struct target_matcher *m;
        int r, i;

        if (target_matcher_new(&m) < 0)
                return 1;
        for (i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--spawn") == 0 && i + 1 < argc)
                        spawn = (unsigned) atoi(argv[++i]);
                else if (strcmp(argv[i], "--scans") == 0 && i + 1 < argc)
                        scans = (unsigned) atoi(argv[++i]);
                else if (strcmp(argv[i], "--cgroups") == 0 && i + 1 < argc)
                        cgroups = (unsigned) atoi(argv[++i]);
                else {
                        char *eq = strchr(argv[i], '=');
                        size_t k = 0;
                        while (eq && k < sizeof(kinds) / sizeof(kinds[0]) &&
                               (strlen(kinds[k].name) != (size_t) (eq - argv[i]) ||
                                strncmp(kinds[k].name, argv[i], (size_t) (eq - argv[i])) != 0))
                                k++;
                        if (!eq || k == sizeof(kinds) / sizeof(kinds[0])) {
                                fprintf(stderr, "scan-driver: bad match '%s'\n", argv[i]);
                                return 2;
                        }
                        char *pp = strstr(eq + 1, "%p");
                        if (pp)
                                snprintf(value, sizeof(value), "%.*s%d%s", (int) (pp - (eq + 1)), eq + 1,
                                         (int) getpid(), pp + 2);
                        else
                                snprintf(value, sizeof(value), "%s", eq + 1);
                        struct target_match tm = { .kind = kinds[k].kind, .value = value, .pid = atoi(value) };
                        if (tm.kind == TARGET_MATCH_PID || tm.kind == TARGET_MATCH_ALL)
                                tm.value = NULL;
                        r = target_matcher_add(m, (uint32_t) i, &tm);
                        if (r < 0) {
                                fprintf(stderr, "scan-driver: cannot add '%s': %s\n", argv[i], strerror(-r));
                                return 2;
                        }
                }
        }

        pid_t *kids = calloc(spawn ? spawn : 1, sizeof(pid_t));
        for (unsigned k = 0; k < spawn; k++) {
                kids[k] = fork();
                if (kids[k] < 0) {
                        fprintf(stderr, "scan-driver: fork: %s\n", strerror(errno));
                        spawn = k;
                        break;
                }
                if (kids[k] == 0) {
                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        prctl(PR_SET_NAME, "cpm-idle");
                        for (;;)
                                pause();
                }
        }

        if (cgroups > 0) {
                r = target_cgroup2_mount(mount, sizeof(mount));
                if (r < 0) {
                        fprintf(stderr, "scan-driver: no cgroup2 mount: %s\n", strerror(-r));
                        return 1;
                }
                snprintf(base, sizeof(base), "%s/cprof-bench-%d", mount, (int) getpid());
                if (mkdir(base, 0755) < 0) {
                        fprintf(stderr, "scan-driver: cannot make '%s': %s\n", base, strerror(errno));
                        return 1;
                }
                for (unsigned c = 0; c < cgroups; c++) {
                        snprintf(dir, sizeof(dir), "%s/c%u", base, c);
                        if (mkdir(dir, 0755) < 0)
                                fprintf(stderr, "scan-driver: cannot make '%s': %s\n", dir, strerror(errno));
                }
                for (unsigned k = 0; k < spawn; k++) {
                        snprintf(dir, sizeof(dir), "%s/c%u/cgroup.procs", base, k % cgroups);
                        FILE *f = fopen(dir, "we");
                        if (!f || fprintf(f, "%d\n", (int) kids[k]) < 0 || fclose(f) != 0)
                                fprintf(stderr, "scan-driver: cannot move %d into '%s'\n", (int) kids[k], dir);
                }
        }

        unsigned procs = 0;
        DIR *d = opendir("/proc");
        struct dirent *de;
        while (d && (de = readdir(d)))
                procs += de->d_name[0] >= '1' && de->d_name[0] <= '9';
        if (d)
                closedir(d);

        unsigned matched = 0;
        r = target_matcher_scan(m, count, &matched); /* warm the dentry caches */
        uint64_t cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), wall0 = now_ns(CLOCK_MONOTONIC);
        for (unsigned s = 0; s < scans && r >= 0; s++) {
                matched = 0;
                r = target_matcher_scan(m, count, &matched);
        }
        uint64_t cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0, wall = now_ns(CLOCK_MONOTONIC) - wall0;

        for (unsigned k = 0; k < spawn; k++)
                kill(kids[k], SIGKILL);
        for (unsigned k = 0; k < spawn; k++)
                waitpid(kids[k], NULL, 0);
        free(kids);
        if (cgroups > 0) {
                for (unsigned c = 0; c < cgroups; c++) {
                        snprintf(dir, sizeof(dir), "%s/c%u", base, c);
                        rmdir(dir);
                }
                rmdir(base);
        }
        target_matcher_free(m);
        if (r < 0) {
                fprintf(stderr, "scan-driver: scan: %s\n", strerror(-r));
                return 1;
        }
        printf("processes %u matched %u scans %u cpu_us %.1f wall_us %.1f\n", procs, matched, scans,
               scans ? cpu / 1e3 / scans : 0.0, scans ? wall / 1e3 / scans : 0.0);
        return 0;
}
