/* Target matching on real processes: children this test forks and names,
 * a pid file rewritten between scans, a copied /bin/sleep replaced under
 * its running process, cgroups made in the cgroup2 hierarchy (also one
 * named like a systemd unit, since PID 1 here is not systemd), the
 * first-target-wins rule, ALL without ourselves and kernel threads, and
 * processes that exit (reaped, or left as zombies) before a scan. Needs
 * root (cgroups) and a cgroup2 mount: without one the test fails. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cprof/target.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/log.h"

#define MAX_HITS 4096

struct hits {
        size_t n;
        pid_t pid[MAX_HITS];
        uint32_t target[MAX_HITS];
        int stop_after; /* >0: return 7 from the callback after that many */
};

static int collect(void *userdata, pid_t pid, uint32_t target) {
        struct hits *h = userdata;
        if (h->n < MAX_HITS) {
                h->pid[h->n] = pid;
                h->target[h->n] = target;
        }
        h->n++;
        if (h->stop_after > 0 && (int) h->n >= h->stop_after)
                return 7;
        return 0;
}

static int scan(struct target_matcher *m, struct hits *h) {
        h->n = 0;
        return target_matcher_scan(m, collect, h);
}

/* How often pid was reported, and under which target (the last). */
static int times(const struct hits *h, pid_t pid, uint32_t *ret_target) {
        int n = 0;
        for (size_t i = 0; i < h->n && i < MAX_HITS; i++)
                if (h->pid[i] == pid) {
                        n++;
                        if (ret_target)
                                *ret_target = h->target[i];
                }
        return n;
}

static void *sleeper_thread(void *arg) {
        (void) arg;
        for (;;)
                pause();
        return NULL;
}

/* A child named name (NULL: keep ours) that waits until killed. With
 * leader_exits, its main thread calls pthread_exit() and a second thread
 * keeps the process alive. Returns once the child is ready. */
static pid_t spawn(const char *name, bool leader_exits) {
        int p[2];
        if (pipe(p) < 0)
                abort();
        pid_t pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                close(p[0]);
                if (name)
                        prctl(PR_SET_NAME, name);
                if (leader_exits) {
                        pthread_t t;
                        if (pthread_create(&t, NULL, sleeper_thread, NULL) != 0)
                                _exit(1);
                }
                if (write(p[1], "x", 1) != 1)
                        _exit(1);
                close(p[1]);
                if (leader_exits)
                        pthread_exit(NULL);
                for (;;)
                        pause();
        }
        close(p[1]);
        char c;
        if (read(p[0], &c, 1) != 1)
                abort();
        close(p[0]);
        return pid;
}

/* Runs path (with one argument) and returns once it has exec'd: the
 * close-on-exec pipe reads as EOF then. */
static pid_t spawn_exec(const char *path, const char *arg) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                abort();
        pid_t pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                close(p[0]);
                execl(path, path, arg, (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        char c;
        if (read(p[0], &c, 1) != 0)
                abort();
        close(p[0]);
        return pid;
}

static void stop(pid_t pid) {
        if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
}

static int write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, text, strlen(text));
        int r = n == (ssize_t) strlen(text) ? 0 : -errno;
        close(fd);
        return r;
}

static int copy_file(const char *from, const char *to) {
        char cmd[PATH_MAX * 2 + 16];
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
        return system(cmd) == 0 ? 0 : -EIO;
}

static int move_to_cgroup(const char *dir, pid_t pid) {
        char path[PATH_MAX], text[32];
        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        snprintf(text, sizeof(text), "%d\n", (int) pid);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = write(fd, text, strlen(text)) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static struct target_matcher *matcher(void) {
        struct target_matcher *m = NULL;
        if (target_matcher_new(&m) < 0)
                abort();
        return m;
}

static int add(struct target_matcher *m, uint32_t target, enum target_match_kind kind, const char *value,
               pid_t pid) {
        struct target_match tm = { .kind = kind, .value = value, .pid = pid };
        return target_matcher_add(m, target, &tm);
}

static void test_invalid(void) {
        struct target_matcher *m = matcher();
        CHECK(add(m, 0, TARGET_MATCH_COMM, "sixteen-bytes-xx", 0) == -EINVAL, "a comm of 16 bytes is refused");
        CHECK(add(m, 0, TARGET_MATCH_COMM, "fifteen-bytes-x", 0) == 0, "a comm of 15 bytes is taken");
        CHECK(add(m, 0, TARGET_MATCH_COMM, "", 0) == -EINVAL, "an empty comm is refused");
        CHECK(add(m, 0, TARGET_MATCH_PID, NULL, 0) == -EINVAL, "pid 0 is refused");
        CHECK(add(m, 0, TARGET_MATCH_PIDFILE, NULL, 0) == -EINVAL, "a pidfile without a path is refused");
        CHECK(add(m, 0, TARGET_MATCH_EXE, "", 0) == -EINVAL, "an exe without a path is refused");
        CHECK(add(m, 0, TARGET_MATCH_CGROUP, "system.slice", 0) == -EINVAL, "a relative cgroup is refused");
        CHECK(add(m, 0, TARGET_MATCH_SYSTEMD_UNIT, "a/b.service", 0) == -EINVAL, "a unit with a '/' is refused");
        CHECK(add(m, 0, (enum target_match_kind) 99, "x", 0) == -EINVAL, "an unknown kind is refused");
        target_matcher_free(m);
}

static void *tid_thread(void *arg) {
        *(pid_t *) arg = gettid();
        for (;;)
                pause();
        return NULL;
}

static void test_comm_pid(const char *tag) {
        char na[16], nb[16];
        snprintf(na, sizeof(na), "cpmA%s", tag);
        snprintf(nb, sizeof(nb), "cpmB%s", tag);
        pid_t a = spawn(na, false), b = spawn(nb, false);
        struct hits h = { 0 };
        uint32_t t = 99;

        struct target_matcher *m = matcher();
        CHECK(add(m, 0, TARGET_MATCH_COMM, na, 0) == 0 && add(m, 1, TARGET_MATCH_COMM, nb, 0) == 0, "comm matches added");
        /* under the same name as a target, we still never match ourselves */
        char self_name[16] = "";
        prctl(PR_GET_NAME, self_name);
        prctl(PR_SET_NAME, na);
        CHECK(scan(m, &h) == 0, "comm scan");
        CHECK(times(&h, a, &t) == 1 && t == 0, "comm: the child named '%s' is reported once, under target 0", na);
        CHECK(times(&h, b, &t) == 1 && t == 1, "comm: the child named '%s' under target 1", nb);
        CHECK(h.n == 2, "comm: nothing else (not ourselves, though named '%s'): %zu reported", na, h.n);
        CHECK(target_matcher_match_pid(m, a, &t) == 1 && t == 0, "match_pid: the first child matches target 0");
        CHECK(target_matcher_match_pid(m, getpid(), &t) == 0, "match_pid: we never match");
        prctl(PR_SET_NAME, self_name);
        target_matcher_free(m);

        /* by pid: the pid of a live child; not a thread id, not kthreadd */
        pid_t tid = 0;
        pthread_t th;
        pthread_create(&th, NULL, tid_thread, &tid);
        while (!__atomic_load_n(&tid, __ATOMIC_SEQ_CST))
                usleep(1000);
        m = matcher();
        CHECK(add(m, 4, TARGET_MATCH_PID, NULL, b) == 0 && add(m, 5, TARGET_MATCH_PID, NULL, tid) == 0 &&
                      add(m, 6, TARGET_MATCH_PID, NULL, 2) == 0 && add(m, 7, TARGET_MATCH_PID, NULL, b) == 0,
              "pid matches added");
        CHECK(scan(m, &h) == 0 && h.n == 1 && times(&h, b, &t) == 1 && t == 4,
              "pid: only the child is reported, once, under its first target (%zu reported)", h.n);
        CHECK(target_matcher_match_pid(m, tid, &t) == 0, "match_pid: a thread id is no process");
        CHECK(target_matcher_match_pid(m, 2, &t) == 0, "match_pid: kthreadd is a kernel thread");
        /* the same with a walk of /proc (a comm match makes one) */
        CHECK(add(m, 8, TARGET_MATCH_COMM, "kthreadd", 0) == 0, "comm kthreadd added");
        CHECK(scan(m, &h) == 0 && h.n == 1 && times(&h, b, &t) == 1 && t == 4,
              "pid with a walk: only the child (%zu reported)", h.n);
        stop(b);
        CHECK(target_matcher_match_pid(m, b, &t) == -ESRCH, "match_pid: a reaped child is gone");
        CHECK(scan(m, &h) == 0 && h.n == 0, "pid: a reaped child is not reported (%zu reported)", h.n);
        target_matcher_free(m);
        pthread_cancel(th);
        pthread_join(th, NULL);
        stop(a);
}

static void test_pidfile(const char *dir, const char *tag) {
        char path[PATH_MAX], name[16], errpath[PATH_MAX];
        snprintf(path, sizeof(path), "%s/app.pid", dir);
        snprintf(name, sizeof(name), "cpmP%s", tag);
        pid_t a = spawn(name, false), b = spawn(name, false);
        struct hits h = { 0 };
        uint32_t t;
        char text[32];

        for (int walk = 0; walk < 2; walk++) {
                struct target_matcher *m = matcher();
                CHECK(add(m, 3, TARGET_MATCH_PIDFILE, path, 0) == 0, "pidfile match added");
                if (walk)
                        CHECK(add(m, 9, TARGET_MATCH_COMM, "cpm-nothing", 0) == 0, "and a comm match, for a walk");
                snprintf(text, sizeof(text), "%d\n", (int) a);
                write_file(path, text);
                CHECK(scan(m, &h) == 0 && h.n == 1 && times(&h, a, &t) == 1 && t == 3,
                      "pidfile (walk %d): the pid in the file (%zu reported)", walk, h.n);
                snprintf(text, sizeof(text), "  %d \n", (int) b);
                write_file(path, text);
                CHECK(scan(m, &h) == 0 && h.n == 1 && times(&h, b, &t) == 1,
                      "pidfile (walk %d): rewritten, the new pid only (%zu reported)", walk, h.n);
                CHECK(target_matcher_match_pid(m, b, &t) == 1 && target_matcher_match_pid(m, a, &t) == 0,
                      "pidfile (walk %d): match_pid reads the file too", walk);
                write_file(path, "12x\n");
                CHECK(scan(m, &h) == 0 && h.n == 0, "pidfile (walk %d): garbled, nothing", walk);
                unlink(path);
                CHECK(scan(m, &h) == 0 && h.n == 0, "pidfile (walk %d): missing, nothing", walk);
                target_matcher_free(m);
        }

        /* a missing file is logged once, at debug level, not at each scan;
         * once readable again, a new failure is logged again */
        snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
        fflush(stderr);
        int saved = dup(2), fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        dup2(fd, 2);
        close(fd);
        log_set_max_level(LOG_LEVEL_DEBUG);
        struct target_matcher *m = matcher();
        add(m, 0, TARGET_MATCH_PIDFILE, path, 0);
        for (int i = 0; i < 3; i++)
                scan(m, &h);
        snprintf(text, sizeof(text), "%d\n", (int) a);
        write_file(path, text);
        scan(m, &h);
        unlink(path);
        scan(m, &h);
        scan(m, &h);
        target_matcher_free(m);
        fflush(stderr);
        log_set_max_level(LOG_LEVEL_INFO);
        dup2(saved, 2);
        close(saved);
        FILE *f = fopen(errpath, "re");
        int lines = 0;
        char line[PATH_MAX + 128];
        while (f && fgets(line, sizeof(line), f))
                lines += strstr(line, path) != NULL;
        if (f)
                fclose(f);
        CHECK(lines == 2, "pidfile: 5 failed scans in two spells logged twice (%d)", lines);
        unlink(errpath);
        stop(a);
        stop(b);
}

static void test_exe(const char *dir) {
        char exe[PATH_MAX], next[PATH_MAX];
        snprintf(exe, sizeof(exe), "%s/cpm-sleep", dir);
        snprintf(next, sizeof(next), "%s/cpm-sleep.new", dir);
        CHECK(copy_file("/bin/sleep", exe) == 0, "exe: /bin/sleep copied");
        pid_t old = spawn_exec(exe, "1000");
        pid_t other = spawn_exec("/bin/sleep", "1000");
        struct hits h = { 0 };
        uint32_t t;

        struct target_matcher *m = matcher();
        CHECK(add(m, 2, TARGET_MATCH_EXE, exe, 0) == 0, "exe match added");
        CHECK(scan(m, &h) == 0 && times(&h, old, &t) == 1 && t == 2 && times(&h, other, NULL) == 0 && h.n == 1,
              "exe: the copy's process only, not /bin/sleep's (%zu reported)", h.n);
        /* reinstalled: a new file renamed over the old name */
        CHECK(copy_file("/bin/sleep", next) == 0 && rename(next, exe) == 0, "exe: replaced by rename");
        CHECK(scan(m, &h) == 0 && times(&h, old, NULL) == 0 && h.n == 0,
              "exe: the process of the old inode no longer matches (%zu reported)", h.n);
        pid_t new = spawn_exec(exe, "1000");
        CHECK(scan(m, &h) == 0 && times(&h, new, NULL) == 1 && h.n == 1, "exe: a process of the new file does");
        unlink(exe);
        CHECK(scan(m, &h) == 0 && h.n == 0, "exe: a missing file matches nothing");
        target_matcher_free(m);
        stop(old);
        stop(other);
        stop(new);
}

static bool is_kernel_thread(pid_t pid) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        unsigned long flags = 0;
        return p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags) == 1 && (flags & 0x00200000);
}

static void test_cgroup(const char *tag) {
        char mount[256], top[512], sub[1024], home[PATH_MAX], home_dir[PATH_MAX * 2], v[PATH_MAX * 2];
        int r = target_cgroup2_mount(mount, sizeof(mount));
        CHECK(r == 0, "cgroup2 is mounted (at '%s'): this test needs it", r == 0 ? mount : "nowhere");
        if (r < 0)
                return;
        snprintf(top, sizeof(top), "%s/cprof-test-%s", mount, tag);
        snprintf(sub, sizeof(sub), "%s/sub", top);
        CHECK(mkdir(top, 0755) == 0 && mkdir(sub, 0755) == 0, "made '%s'", sub);
        char name[16];
        snprintf(name, sizeof(name), "cpmC%s", tag);
        pid_t c = spawn(name, false), outside = spawn(name, false);
        CHECK(target_cgroup_path(c, home, sizeof(home)) == 0, "the child's cgroup is '%s'", home);
        snprintf(home_dir, sizeof(home_dir), "%s%s", mount, home);
        CHECK(move_to_cgroup(sub, c) == 0, "child moved into '%s'", sub);
        char path[PATH_MAX];
        snprintf(v, sizeof(v), "/cprof-test-%s/sub", tag);
        CHECK(target_cgroup_path(c, path, sizeof(path)) == 0 && strcmp(path, v) == 0,
              "target_cgroup_path: '%s'", path);

        struct hits h = { 0 };
        uint32_t t;
        struct target_matcher *m;
        /* alone, a cgroup match is read from cgroup.procs; with a comm match
         * beside it, /proc is walked and looked up in what was read */
        for (int walk = 0; walk < 2; walk++) {
                m = matcher();
                snprintf(v, sizeof(v), "/cprof-test-%s", tag);
                CHECK(add(m, 1, TARGET_MATCH_CGROUP, v, 0) == 0, "cgroup '%s' added", v);
                if (walk)
                        add(m, 2, TARGET_MATCH_COMM, "cpm-nothing", 0);
                CHECK(scan(m, &h) == 0 && times(&h, c, &t) == 1 && t == 1 && h.n == 1,
                      "cgroup (walk %d): the child in a sub-cgroup matches its parent's path (%zu reported)", walk, h.n);
                CHECK(target_matcher_match_pid(m, c, &t) == 1 && target_matcher_match_pid(m, outside, &t) == 0,
                      "cgroup (walk %d): match_pid", walk);
                target_matcher_free(m);

                m = matcher();
                snprintf(v, sizeof(v), "/cprof-test-%s-none", tag);
                CHECK(add(m, 1, TARGET_MATCH_CGROUP, v, 0) == 0, "cgroup '%s' added", v);
                if (walk)
                        add(m, 2, TARGET_MATCH_COMM, "cpm-nothing", 0);
                CHECK(scan(m, &h) == 0 && h.n == 0, "cgroup (walk %d): a cgroup that does not exist: nothing", walk);
                target_matcher_free(m);

                /* "/": every process, but not ourselves nor kernel threads */
                m = matcher();
                CHECK(add(m, 1, TARGET_MATCH_CGROUP, "/", 0) == 0, "cgroup '/' added");
                if (walk)
                        add(m, 2, TARGET_MATCH_COMM, "cpm-nothing", 0);
                size_t kernel = 0;
                CHECK(scan(m, &h) == 0, "cgroup (walk %d): '/' scan", walk);
                for (size_t i = 0; i < h.n && i < MAX_HITS; i++)
                        kernel += is_kernel_thread(h.pid[i]);
                CHECK(times(&h, c, NULL) == 1 && times(&h, outside, NULL) == 1 && times(&h, getpid(), NULL) == 0 &&
                              times(&h, 2, NULL) == 0 && kernel == 0,
                      "cgroup (walk %d): '/' has both children, not us, no kernel thread (%zu reported)", walk, h.n);
                target_matcher_free(m);

                /* first target wins between a cgroup and a pid, both ways */
                m = matcher();
                snprintf(v, sizeof(v), "/cprof-test-%s", tag);
                add(m, 0, TARGET_MATCH_CGROUP, v, 0);
                add(m, 1, TARGET_MATCH_PID, NULL, c);
                add(m, 1, TARGET_MATCH_PID, NULL, outside);
                if (walk)
                        add(m, 2, TARGET_MATCH_COMM, "cpm-nothing", 0);
                CHECK(scan(m, &h) == 0 && h.n == 2 && times(&h, c, &t) == 1 && t == 0 && times(&h, outside, &t) == 1 && t == 1,
                      "cgroup (walk %d): cgroup before pid: the cgroup's target", walk);
                target_matcher_free(m);
                m = matcher();
                add(m, 1, TARGET_MATCH_PID, NULL, c);
                add(m, 0, TARGET_MATCH_CGROUP, v, 0);
                if (walk)
                        add(m, 2, TARGET_MATCH_COMM, "cpm-nothing", 0);
                CHECK(scan(m, &h) == 0 && h.n == 1 && times(&h, c, &t) == 1 && t == 1,
                      "cgroup (walk %d): pid before cgroup: the pid's target", walk);
                target_matcher_free(m);
        }

        /* deeper than the cgroup.procs walk goes (64): each process's own
         * /proc/PID/cgroup decides instead, with the same answer */
        char deep[PATH_MAX];
        size_t dl = (size_t) snprintf(deep, sizeof(deep), "%s", top);
        bool made = true;
        for (int i = 0; i < 70 && made; i++) {
                dl += (size_t) snprintf(deep + dl, sizeof(deep) - dl, "/d");
                made = mkdir(deep, 0755) == 0;
        }
        CHECK(made, "made a cgroup 70 levels below '%s'", top);
        pid_t low = spawn(name, false);
        CHECK(move_to_cgroup(deep, low) == 0, "a child moved there");
        m = matcher();
        snprintf(v, sizeof(v), "/cprof-test-%s", tag);
        add(m, 1, TARGET_MATCH_CGROUP, v, 0);
        CHECK(scan(m, &h) == 0 && h.n == 2 && times(&h, c, NULL) == 1 && times(&h, low, NULL) == 1,
              "cgroup: a tree too deep for the walk still matches (%zu reported)", h.n);
        target_matcher_free(m);
        stop(low);
        while (dl > strlen(top)) {
                rmdir(deep);
                dl -= 2;
                deep[dl] = '\0';
        }

        m = matcher();
        v[strlen(v) - 1] = '\0';
        CHECK(add(m, 1, TARGET_MATCH_CGROUP, v, 0) == 0, "cgroup '%s' added", v);
        CHECK(scan(m, &h) == 0 && h.n == 0, "cgroup: '%s' is not a prefix of a component (%zu reported)", v, h.n);
        target_matcher_free(m);

        /* the same cgroup written with a trailing and a doubled '/', and as a
         * path inside the cgroup2 mount */
        m = matcher();
        snprintf(v, sizeof(v), "/cprof-test-%s//sub/", tag);
        CHECK(add(m, 1, TARGET_MATCH_CGROUP, v, 0) == 0, "cgroup '%s' added", v);
        CHECK(scan(m, &h) == 0 && times(&h, c, NULL) == 1 && h.n == 1, "cgroup: '%s' is the sub-cgroup", v);
        target_matcher_free(m);
        m = matcher();
        CHECK(add(m, 1, TARGET_MATCH_CGROUP, top, 0) == 0, "cgroup '%s' added", top);
        CHECK(scan(m, &h) == 0 && times(&h, c, NULL) == 1 && h.n == 1, "cgroup: '%s' names the cgroup", top);
        target_matcher_free(m);

        /* moved back: no longer a match */
        m = matcher();
        snprintf(v, sizeof(v), "/cprof-test-%s", tag);
        add(m, 1, TARGET_MATCH_CGROUP, v, 0);
        CHECK(move_to_cgroup(home_dir, c) == 0, "child moved back to '%s'", home_dir);
        CHECK(scan(m, &h) == 0 && h.n == 0, "cgroup: moved out, not reported (%zu reported)", h.n);
        target_matcher_free(m);
        stop(c);
        stop(outside);
        CHECK(rmdir(sub) == 0 && rmdir(top) == 0, "cgroups removed");
}

static void test_systemd_unit(const char *tag) {
        char mount[256], slice[512], unit[1024], sub[2048], v[128];
        if (target_cgroup2_mount(mount, sizeof(mount)) < 0) {
                CHECK(false, "systemd-unit: cgroup2 is mounted");
                return;
        }
        /* as systemd lays it out: slice, unit, a sub-cgroup the unit made */
        snprintf(slice, sizeof(slice), "%s/cprof-test-%s.slice", mount, tag);
        snprintf(unit, sizeof(unit), "%s/cprof-test-%s.service", slice, tag);
        snprintf(sub, sizeof(sub), "%s/worker", unit);
        CHECK(mkdir(slice, 0755) == 0 && mkdir(unit, 0755) == 0 && mkdir(sub, 0755) == 0, "made '%s'", sub);
        char name[16], home[PATH_MAX], home_dir[PATH_MAX * 2];
        snprintf(name, sizeof(name), "cpmU%s", tag);
        pid_t d = spawn(name, false);
        target_cgroup_path(d, home, sizeof(home));
        snprintf(home_dir, sizeof(home_dir), "%s%s", mount, home);
        CHECK(move_to_cgroup(sub, d) == 0, "child moved into the unit's sub-cgroup");

        struct { const char *fmt; bool match; } cases[] = {
                { "cprof-test-%s.service", true },
                { "cprof-test-%s", true }, /* ".service" is implied */
                { "cprof-test-%s.slice", true },
                { "cprof-test-%s.servic", false },
                { "prof-test-%s.service", false },
                { "worker", false }, /* has no '.': it is "worker.service" */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(v, sizeof(v), cases[i].fmt, tag);
                for (int walk = 0; walk < 2; walk++) {
                        struct target_matcher *m = matcher();
                        struct hits h = { 0 };
                        uint32_t t;
                        CHECK(add(m, 0, TARGET_MATCH_SYSTEMD_UNIT, v, 0) == 0, "unit '%s' added", v);
                        if (walk)
                                add(m, 2, TARGET_MATCH_COMM, "cpm-nothing", 0);
                        CHECK(scan(m, &h) == 0 && times(&h, d, NULL) == (cases[i].match ? 1 : 0) &&
                                      h.n == (cases[i].match ? 1u : 0u),
                              "systemd-unit '%s' (walk %d): %s (%zu reported)", v, walk,
                              cases[i].match ? "matches" : "does not match", h.n);
                        CHECK(target_matcher_match_pid(m, d, &t) == (cases[i].match ? 1 : 0),
                              "systemd-unit '%s' (walk %d): match_pid agrees", v, walk);
                        target_matcher_free(m);
                }
        }
        move_to_cgroup(home_dir, d);
        stop(d);
        CHECK(rmdir(sub) == 0 && rmdir(unit) == 0 && rmdir(slice) == 0, "unit cgroups removed");
}

static void test_first_target_wins(const char *tag) {
        char name[16];
        snprintf(name, sizeof(name), "cpmF%s", tag);
        pid_t a = spawn(name, false);
        struct hits h = { 0 };
        uint32_t t;

        struct target_matcher *m = matcher();
        add(m, 0, TARGET_MATCH_COMM, name, 0);
        add(m, 1, TARGET_MATCH_PID, NULL, a);
        add(m, 2, TARGET_MATCH_ALL, NULL, 0);
        CHECK(scan(m, &h) == 0 && times(&h, a, &t) == 1 && t == 0, "first target wins: once, under 0");
        target_matcher_free(m);

        /* the order of adding decides, not the target numbers */
        m = matcher();
        add(m, 5, TARGET_MATCH_PID, NULL, a);
        add(m, 0, TARGET_MATCH_COMM, name, 0);
        add(m, 5, TARGET_MATCH_COMM, "cpm-nothing", 0);
        CHECK(scan(m, &h) == 0 && times(&h, a, &t) == 1 && t == 5 && h.n == 1, "first added wins: once, under 5");
        CHECK(target_matcher_match_pid(m, a, &t) == 1 && t == 5, "match_pid agrees");
        target_matcher_free(m);
        stop(a);
}

static void test_all(const char *tag) {
        char name[16];
        snprintf(name, sizeof(name), "cpmL%s", tag);
        pid_t a = spawn(name, false);
        struct hits h = { 0 };
        uint32_t t;

        struct target_matcher *m = matcher();
        add(m, 0, TARGET_MATCH_ALL, NULL, 0);
        CHECK(scan(m, &h) == 0 && times(&h, a, &t) == 1 && t == 0, "all: our child");
        CHECK(times(&h, getpid(), NULL) == 0, "all: not ourselves");
        CHECK(times(&h, 2, NULL) == 0, "all: not kthreadd");
        size_t kernel = 0, listed = 0;
        for (size_t i = 0; i < h.n && i < MAX_HITS; i++)
                kernel += is_kernel_thread(h.pid[i]);
        /* there are kernel threads to skip, so the check above can fail */
        DIR *d = opendir("/proc");
        struct dirent *de;
        while (d && (de = readdir(d)))
                listed += atoi(de->d_name) > 2 && is_kernel_thread(atoi(de->d_name));
        closedir(d);
        CHECK(kernel == 0 && listed > 0, "all: no kernel thread among %zu reported (of %zu on this machine)", h.n, listed);
        CHECK(target_matcher_match_pid(m, 1, &t) == (is_kernel_thread(1) ? 0 : 1), "all: match_pid(1)");

        h.stop_after = 2;
        CHECK(scan(m, &h) == 7 && h.n == 2, "a non-zero return from the callback ends the scan and is returned");
        target_matcher_free(m);
        stop(a);
}

static void test_exited(const char *tag) {
        char name[16];
        snprintf(name, sizeof(name), "cpmX%s", tag);
        pid_t gone = spawn(name, false), zombie = spawn(name, false), headless = spawn(name, true);
        struct hits h = { 0 };
        uint32_t t;

        stop(gone);
        kill(zombie, SIGKILL);
        /* until the zombie shows as one */
        for (int i = 0; i < 1000; i++) {
                char path[64], buf[512];
                snprintf(path, sizeof(path), "/proc/%d/stat", (int) zombie);
                FILE *f = fopen(path, "re");
                size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
                if (f)
                        fclose(f);
                buf[n] = '\0';
                char *p = strrchr(buf, ')');
                if (p && p[2] == 'Z')
                        break;
                usleep(1000);
        }
        struct target_matcher *m = matcher();
        add(m, 0, TARGET_MATCH_COMM, name, 0);
        CHECK(scan(m, &h) == 0, "exited: scan");
        CHECK(times(&h, gone, NULL) == 0, "exited: a reaped process is not reported");
        CHECK(times(&h, zombie, NULL) == 0, "exited: a zombie is not reported");
        CHECK(times(&h, headless, NULL) == 1 && h.n == 1,
              "exited: a process whose main thread exited, with a thread left, is reported");
        CHECK(target_matcher_match_pid(m, gone, &t) == -ESRCH, "match_pid: reaped: -ESRCH");
        CHECK(target_matcher_match_pid(m, zombie, &t) == -ESRCH, "match_pid: zombie: -ESRCH");
        CHECK(target_matcher_match_pid(m, headless, &t) == 1, "match_pid: main thread exited: 1");
        target_matcher_free(m);
        waitpid(zombie, NULL, 0);
        stop(headless);
}

int main(void) {
        char tag[16], dir[] = "/tmp/cprof-test-match-XXXXXX";
        /* names unique to this run: the machine may run other tests */
        snprintf(tag, sizeof(tag), "%d", (int) getpid());
        if (!mkdtemp(dir))
                abort();

        test_invalid();
        test_comm_pid(tag);
        test_pidfile(dir, tag);
        test_exe(dir);
        test_cgroup(tag);
        test_systemd_unit(tag);
        test_first_target_wins(tag);
        test_all(tag);
        test_exited(tag);

        rmdir(dir);
        return tap_done();
}
