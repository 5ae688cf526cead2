/* Target matching: a walk of /proc that reads, per process, only what the
 * added matches ask about (see include/cprof/target.h), or, when every
 * match stands for a set of pids (pid, pid file, cgroup, unit), a look at
 * those pids alone. The daemon scans about once a second, so the walk is
 * kept to a few syscalls per process: one directory fd on /proc opened
 * once, openat() relative to it, stack buffers, no allocation per
 * process. */
#include "cprof/target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/read-file.h"

#define COMM_MAX 15
#define PF_KTHREAD_FLAG 0x00200000u /* include/linux/sched.h */
/* cgroup trees are walked this deep through cgroup2 (systemd's are 5 or 6) */
#define CGROUP_MAX_DEPTH 64
#define CGROUP_DENTS_SIZE 4096

struct match_entry {
        uint32_t target;
        enum target_match_kind kind;
        char *value; /* COMM, PIDFILE, EXE, CGROUP (normalized), SYSTEMD_UNIT */
        size_t value_len;
        pid_t pid; /* PID; PIDFILE: the pid read at this scan, 0 for none */
        /* EXE: the file as stat()ed at this scan */
        bool exe_ok;
        dev_t exe_dev;
        ino_t exe_ino;
        /* PIDFILE, EXE: the last refresh failed and said so at debug level */
        bool reported;
        /* CGROUP, SYSTEMD_UNIT: the processes of the cgroups concerned, read
         * from their cgroup.procs at this scan, sorted; when that could not
         * be done (pids_ok false), each process's /proc/PID/cgroup is read */
        bool pids_ok;
        pid_t *pids;
        size_t n_pids, n_alloc_pids;
};

struct target_matcher {
        int proc_fd;
        struct match_entry *entries;
        size_t n_entries, n_alloc;
        /* some match needs a look at every process (COMM, EXE, ALL); else
         * a scan looks only at the pids the others stand for */
        bool walk;
        /* the cgroup2 mount and the cgroup it shows as its root, looked up
         * at the first CGROUP or SYSTEMD_UNIT match; NULL: not mounted */
        bool cg_looked_up;
        char *cg_mount, *cg_root;
        /* a getdents buffer per level of a cgroup walk, made when first
         * needed and kept: each level goes on with its own listing after a
         * subdirectory, rather than listing its siblings again */
        char *cg_dents[CGROUP_MAX_DEPTH];
};

/* What one process has shown of itself so far during its evaluation:
 * each file is read at most once, and only when a match needs it. */
struct proc_view {
        pid_t pid;
        bool have_comm, have_cgroup, have_exe;
        bool exe_ok, cgroup_ok;
        char comm[64];
        size_t comm_len;
        struct stat exe;
        char cgroup[PATH_MAX + 64];
        size_t cgroup_len;
};

int target_matcher_new(struct target_matcher **ret) {
        struct target_matcher *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->proc_fd < 0) {
                int r = -errno;
                free(m);
                return r;
        }
        *ret = m;
        return 0;
}

struct target_matcher *target_matcher_free(struct target_matcher *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_entries; i++) {
                free(m->entries[i].value);
                free(m->entries[i].pids);
        }
        free(m->entries);
        free(m->cg_mount);
        free(m->cg_root);
        for (size_t i = 0; i < CGROUP_MAX_DEPTH; i++)
                free(m->cg_dents[i]);
        if (m->proc_fd >= 0)
                close(m->proc_fd);
        free(m);
        return NULL;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s) {
        char *w = s;
        for (char *p = s; *p; p++) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
                    p[3] >= '0' && p[3] <= '7') {
                        *w++ = (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 3;
                } else
                        *w++ = *p;
        }
        *w = '\0';
}

/* The first cgroup2 mount of /proc/self/mountinfo: its mount point and
 * the cgroup it shows as its root (fields 5 and 4). */
static int find_cgroup2_mount(char *ret_mount, size_t mount_size, char *ret_root, size_t root_size) {
        _cleanup_close_ int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct line_reader lr;
        line_reader_init(&lr, fd, 0);
        const char *line;
        size_t len;
        int r, found = -ENOENT;
        while ((r = line_reader_next(&lr, &line, &len)) != 0) {
                if (r < 0) {
                        if (r == -E2BIG)
                                continue;
                        found = r;
                        break;
                }
                /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS" */
                const char *sep = memmem(line, len, " - ", 3);
                if (!sep || (size_t) (line + len - (sep + 3)) < 8 || memcmp(sep + 3, "cgroup2 ", 8) != 0)
                        continue;
                char root[PATH_MAX], mount[PATH_MAX];
                _cleanup_free_ char *copy = strndup(line, (size_t) (sep - line));
                if (!copy) {
                        found = -ENOMEM;
                        break;
                }
                if (sscanf(copy, "%*s %*s %*s %4095s %4095s", root, mount) != 2)
                        continue;
                unescape_octal(root);
                unescape_octal(mount);
                if (strlen(mount) >= mount_size || strlen(root) >= root_size) {
                        found = -ENAMETOOLONG;
                        break;
                }
                strcpy(ret_mount, mount);
                strcpy(ret_root, root);
                found = 0;
                break;
        }
        line_reader_release(&lr);
        return found;
}

int target_cgroup2_mount(char *buf, size_t size) {
        char root[PATH_MAX];
        return find_cgroup2_mount(buf, size, root, sizeof(root));
}

/* A cgroup value as the kernel writes paths: one '/' between components,
 * none at the end (but for "/" itself); a path inside the cgroup2 mount
 * becomes the cgroup it names. */
static int normalize_cgroup(const struct target_matcher *m, const char *value, char **ret) {
        const char *rest = value;
        const char *prefix = "";

        if (value[0] != '/')
                return -EINVAL;
        if (m->cg_mount && strcmp(m->cg_mount, "/") != 0) {
                size_t ml = strlen(m->cg_mount);
                if (strncmp(value, m->cg_mount, ml) == 0 && (value[ml] == '/' || value[ml] == '\0')) {
                        rest = value + ml;
                        prefix = strcmp(m->cg_root, "/") == 0 ? "" : m->cg_root;
                }
        }
        size_t cap = strlen(prefix) + strlen(rest) + 2;
        char *s = malloc(cap), *w = s;
        if (!s)
                return -ENOMEM;
        for (const char *p = prefix; *p; p++)
                if (*p != '/' || w == s || w[-1] != '/')
                        *w++ = *p;
        *w++ = '/';
        for (const char *p = rest; *p; p++)
                if (*p != '/' || w[-1] != '/')
                        *w++ = *p;
        while (w - s > 1 && w[-1] == '/')
                w--;
        *w = '\0';
        *ret = s;
        return 0;
}

int target_matcher_add(struct target_matcher *m, uint32_t target, const struct target_match *match) {
        struct match_entry e = { .target = target, .kind = match->kind };
        const char *v = match->value;
        int r;

        if ((match->kind == TARGET_MATCH_CGROUP || match->kind == TARGET_MATCH_SYSTEMD_UNIT) && !m->cg_looked_up) {
                char mount[PATH_MAX], root[PATH_MAX];
                if (find_cgroup2_mount(mount, sizeof(mount), root, sizeof(root)) == 0) {
                        m->cg_mount = strdup(mount);
                        m->cg_root = strdup(root);
                        if (!m->cg_mount || !m->cg_root) {
                                free(m->cg_mount);
                                free(m->cg_root);
                                m->cg_mount = m->cg_root = NULL;
                                return -ENOMEM;
                        }
                }
                m->cg_looked_up = true;
        }

        switch (match->kind) {
        case TARGET_MATCH_PID:
                if (match->pid <= 0)
                        return -EINVAL;
                e.pid = match->pid;
                break;
        case TARGET_MATCH_ALL:
                break;
        case TARGET_MATCH_COMM:
                if (!v || !v[0] || strlen(v) > COMM_MAX)
                        return -EINVAL;
                e.value = strdup(v);
                break;
        case TARGET_MATCH_PIDFILE:
        case TARGET_MATCH_EXE:
                if (!v || !v[0])
                        return -EINVAL;
                e.value = strdup(v);
                break;
        case TARGET_MATCH_CGROUP:
                if (!v)
                        return -EINVAL;
                r = normalize_cgroup(m, v, &e.value);
                if (r < 0)
                        return r;
                break;
        case TARGET_MATCH_SYSTEMD_UNIT:
                if (!v || !v[0] || strchr(v, '/'))
                        return -EINVAL;
                if (asprintf(&e.value, "%s%s", v, strchr(v, '.') ? "" : ".service") < 0)
                        e.value = NULL;
                break;
        default:
                return -EINVAL;
        }
        if (match->kind != TARGET_MATCH_PID && match->kind != TARGET_MATCH_ALL && !e.value)
                return -ENOMEM;
        e.value_len = e.value ? strlen(e.value) : 0;

        if (m->n_entries == m->n_alloc) {
                size_t n = m->n_alloc ? m->n_alloc * 2 : 8;
                struct match_entry *a = realloc(m->entries, n * sizeof(*a));
                if (!a) {
                        free(e.value);
                        return -ENOMEM;
                }
                m->entries = a;
                m->n_alloc = n;
        }
        m->entries[m->n_entries++] = e;
        if (match->kind == TARGET_MATCH_COMM || match->kind == TARGET_MATCH_EXE || match->kind == TARGET_MATCH_ALL)
                m->walk = true;
        return 0;
}

/* The first line of a pid file as a pid, or -EINVAL. A FIFO or a huge
 * file cannot stall or flood us: one non-blocking read of a few bytes. */
static int read_pidfile(const char *path, pid_t *ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        char buf[64];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl)
                *nl = '\0';
        else if (n == (ssize_t) sizeof(buf) - 1)
                return -EINVAL;
        char *s = buf;
        while (*s == ' ' || *s == '\t')
                s++;
        char *end = s + strlen(s);
        while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                *--end = '\0';
        int pid;
        int r = parse_pid(s, &pid);
        if (r < 0)
                return -EINVAL;
        *ret = pid;
        return 0;
}

/* Collecting the processes of cgroups from the cgroup2 file system:
 * a cgroup's cgroup.procs lists the processes in it (not those below), so
 * a subtree is walked, and for a unit the whole tree, looking for
 * directories named after it. That costs a few syscalls per cgroup,
 * where reading /proc/PID/cgroup costs three per process, for every
 * process; and a scan with nothing but pid-like matches need not walk
 * /proc at all. */

struct cg_walk {
        struct target_matcher *m;
        struct match_entry *e;
        const char *unit; /* SYSTEMD_UNIT: the name that starts collecting */
};

static int push_pid(struct match_entry *e, pid_t pid) {
        if (e->n_pids == e->n_alloc_pids) {
                size_t n = e->n_alloc_pids ? e->n_alloc_pids * 2 : 64;
                pid_t *a = realloc(e->pids, n * sizeof(*a));
                if (!a)
                        return -ENOMEM;
                e->pids = a;
                e->n_alloc_pids = n;
        }
        e->pids[e->n_pids++] = pid;
        return 0;
}

/* Adds the pids of dfd's cgroup.procs. A threaded cgroup has none to
 * show (-EOPNOTSUPP): its processes are listed by its threaded domain,
 * above it, and counted there. */
static int read_cgroup_procs(int dfd, const struct cg_walk *w) {
        char buf[4096];
        _cleanup_close_ int fd = openat(dfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        pid_t cur = 0;
        bool digits = false;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EOPNOTSUPP || errno == ENODEV ? 0 : -errno;
                }
                if (n == 0)
                        break;
                for (ssize_t i = 0; i < n; i++) {
                        char c = buf[i];
                        if (c >= '0' && c <= '9') {
                                cur = cur * 10 + (c - '0');
                                digits = true;
                        } else if (digits) {
                                int r = push_pid(w->e, cur);
                                if (r < 0)
                                        return r;
                                cur = 0;
                                digits = false;
                        }
                }
        }
        return digits ? push_pid(w->e, cur) : 0;
}

/* Depth first, keeping one directory fd and one listing buffer per level. */
static int walk_cgroup(int dfd, bool collecting, unsigned depth, const struct cg_walk *w) {
        int r;
        if (collecting) {
                r = read_cgroup_procs(dfd, w);
                if (r < 0)
                        return r;
        }
        if (depth >= CGROUP_MAX_DEPTH)
                return -ELOOP;
        char **dents = &w->m->cg_dents[depth];
        if (!*dents) {
                *dents = malloc(CGROUP_DENTS_SIZE);
                if (!*dents)
                        return -ENOMEM;
        }
        for (;;) {
                ssize_t n = getdents64(dfd, *dents, CGROUP_DENTS_SIZE);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                for (ssize_t off = 0; off < n;) {
                        struct dirent64 *de = (struct dirent64 *) (*dents + off);
                        off += de->d_reclen;
                        if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        bool child_collecting = collecting || (w->unit && strcmp(de->d_name, w->unit) == 0);
                        _cleanup_close_ int cfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (cfd < 0) {
                                if (errno == ENOENT) /* removed since listed */
                                        continue;
                                return -errno;
                        }
                        r = walk_cgroup(cfd, child_collecting, depth + 1, w);
                        if (r < 0)
                                return r;
                }
        }
}

static int cmp_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return x < y ? -1 : x > y;
}

/* Whether the path p (a cgroup's, as /proc shows it) has the component c. */
static bool path_has_component(const char *p, size_t len, const char *c, size_t clen) {
        const char *end = p + len;
        while (p < end) {
                while (p < end && *p == '/')
                        p++;
                const char *s = p;
                while (p < end && *p != '/')
                        p++;
                if ((size_t) (p - s) == clen && memcmp(s, c, clen) == 0)
                        return true;
        }
        return false;
}

/* The processes of a CGROUP or SYSTEMD_UNIT match, from the cgroup2
 * mount. Returns 0 with the sorted pids, or < 0 when the mount does not
 * show the cgroups concerned (not mounted, a cgroup outside the mount's
 * root, a tree too deep): then each process's own file decides. */
static int collect_cgroup_pids(struct target_matcher *m, struct match_entry *e) {
        e->n_pids = 0;
        if (!m->cg_mount)
                return -ENOENT;
        size_t rl = strcmp(m->cg_root, "/") == 0 ? 0 : strlen(m->cg_root);
        char path[PATH_MAX];
        bool collecting;
        struct cg_walk walk = { .m = m, .e = e }, *w = &walk;
        if (e->kind == TARGET_MATCH_CGROUP) {
                const char *v = e->value;
                if (rl == 0 || (strncmp(v, m->cg_root, rl) == 0 && (v[rl] == '/' || v[rl] == '\0')))
                        v += rl; /* at or below the mount's root */
                else if (e->value_len == 1 ||
                         (strncmp(m->cg_root, v, e->value_len) == 0 && m->cg_root[e->value_len] == '/'))
                        v = ""; /* above it: all that the mount shows */
                else
                        return -ENOENT;
                collecting = true;
                if (snprintf(path, sizeof(path), "%s%s", m->cg_mount, v) >= (int) sizeof(path))
                        return -ENAMETOOLONG;
        } else {
                w->unit = e->value;
                collecting = path_has_component(m->cg_root, strlen(m->cg_root), e->value, e->value_len);
                snprintf(path, sizeof(path), "%s", m->cg_mount);
        }
        int r = 0;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                r = errno == ENOENT && e->kind == TARGET_MATCH_CGROUP ? 0 : -errno; /* no such cgroup: no process */
        else
                r = walk_cgroup(fd, collecting, 0, w);
        if (r < 0) {
                e->n_pids = 0;
                return r;
        }
        if (e->n_pids > 1)
                qsort(e->pids, e->n_pids, sizeof(pid_t), cmp_pid);
        return 0;
}

/* What PIDFILE and EXE matches stand for now: read once per scan, not
 * once per process. A failure makes the match empty for this scan and
 * is logged once, not at every scan while it lasts. With sets, also the
 * processes of CGROUP and SYSTEMD_UNIT matches. Returns whether the scan
 * has to look at every process. */
static int refresh(struct target_matcher *m, bool sets) {
        bool walk = m->walk;
        for (size_t i = 0; i < m->n_entries; i++) {
                struct match_entry *e = &m->entries[i];
                int r;

                if (e->kind == TARGET_MATCH_PIDFILE) {
                        pid_t pid = 0;
                        r = read_pidfile(e->value, &pid);
                        e->pid = r < 0 ? 0 : pid;
                        if (r == -EINVAL && !e->reported)
                                log_debug("'%s' holds no pid, matching nothing", e->value);
                        else if (r < 0 && !e->reported)
                                log_debug("cannot read '%s': %s, matching nothing", e->value, strerror(-r));
                        e->reported = r < 0;
                } else if (e->kind == TARGET_MATCH_EXE) {
                        struct stat st;
                        r = stat(e->value, &st) < 0 ? -errno : 0;
                        e->exe_ok = r == 0;
                        if (r == 0) {
                                e->exe_dev = st.st_dev;
                                e->exe_ino = st.st_ino;
                        } else if (!e->reported)
                                log_debug("cannot stat '%s': %s, matching nothing", e->value, strerror(-r));
                        e->reported = r < 0;
                } else if (sets && (e->kind == TARGET_MATCH_CGROUP || e->kind == TARGET_MATCH_SYSTEMD_UNIT)) {
                        r = collect_cgroup_pids(m, e);
                        if (r == -ENOMEM)
                                return r;
                        e->pids_ok = r == 0;
                        walk = walk || !e->pids_ok;
                }
        }
        return walk;
}

/* openat() of /proc/PID/NAME; -ESRCH when the process is gone. */
static int proc_open(int proc_fd, pid_t pid, const char *name) {
        char path[64];
        snprintf(path, sizeof(path), "%d/%s", (int) pid, name);
        int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        return fd;
}

/* Reads a small /proc file whole into buf (NUL-terminated). Returns its
 * length; -ESRCH when the process is gone (an exiting process may also
 * fail the read with ESRCH, or read as empty). */
static ssize_t proc_read(int proc_fd, pid_t pid, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = proc_open(proc_fd, pid, name);
        if (fd < 0)
                return fd;
        size_t have = 0;
        while (have < size - 1) {
                ssize_t n = read(fd, buf + have, size - 1 - have);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == ESRCH ? -ESRCH : -errno;
                }
                if (n == 0)
                        break;
                have += (size_t) n;
        }
        buf[have] = '\0';
        return have == 0 ? -ESRCH : (ssize_t) have;
}

/* stat() of /proc/PID/exe into v->exe. No file (ENOENT: a kernel
 * thread, a zombie, or gone) or no right to look (EACCES) is not an error:
 * v->exe_ok says whether there is one. */
static int load_exe(int proc_fd, struct proc_view *v) {
        char path[64];
        snprintf(path, sizeof(path), "%d/exe", (int) v->pid);
        int r = fstatat(proc_fd, path, &v->exe, 0) < 0 ? -errno : 0;
        if (r < 0 && r != -ENOENT && r != -ESRCH && r != -EACCES && r != -EPERM)
                return r;
        v->exe_ok = r == 0;
        v->have_exe = true;
        return 0;
}

/* 1 for a process that may be sampled; 0 for a kernel thread; -ESRCH for
 * one that is gone, or a zombie with no thread left (its leader is a
 * zombie and counted alone: num_threads drops only as threads are
 * released, and a leader is released last). A leader that called
 * pthread_exit() is a zombie too, but its other threads count. */
static int proc_check_user(int proc_fd, pid_t pid) {
        char buf[1024];
        ssize_t n = proc_read(proc_fd, pid, "stat", buf, sizeof(buf));
        if (n < 0)
                return (int) n;
        /* the name may hold spaces and parentheses: fields follow the last ')' */
        char *p = strrchr(buf, ')');
        if (!p || p[1] != ' ' || !p[2])
                return -EIO;
        char state = p[2];
        p += 3;
        unsigned long long flags = 0, threads = 0;
        /* after the state (field 3): field 9 is flags, field 20 num_threads */
        for (int field = 4; field <= 20; field++) {
                char *end;
                errno = 0;
                long long v = strtoll(p, &end, 10);
                if (end == p || errno)
                        return -EIO;
                if (field == 9)
                        flags = (unsigned long long) v;
                else if (field == 20)
                        threads = (unsigned long long) v;
                p = end;
        }
        if (flags & PF_KTHREAD_FLAG)
                return 0;
        if ((state == 'Z' || state == 'X') && threads <= 1)
                return -ESRCH;
        return 1;
}

/* proc_check_user(), but first the cheaper test: a process with an
 * executable (/proc/PID/exe resolves) has memory, so it is neither a
 * kernel thread nor a dead zombie. That settles most processes in a few
 * microseconds less than formatting and parsing /proc/PID/stat (a third
 * of the cost of a scan with ALL); the rest (no exe: kernel threads,
 * zombies, a leader that called pthread_exit(); or no right to look) get
 * the full test. */
static int proc_check_exe_or_stat(int proc_fd, struct proc_view *v) {
        if (!v->have_exe) {
                int r = load_exe(proc_fd, v);
                if (r < 0)
                        return r;
        }
        if (v->exe_ok)
                return 1;
        return proc_check_user(proc_fd, v->pid);
}

/* The "0::PATH" line of /proc/PID/cgroup into v->cgroup. The file has one
 * line per hierarchy (the v2 one last on hybrid systems), each up to a
 * path's length: it is read through the buffer line by line. */
static int load_cgroup(int proc_fd, struct proc_view *v) {
        _cleanup_close_ int fd = proc_open(proc_fd, v->pid, "cgroup");
        if (fd < 0)
                return fd;
        char *buf = v->cgroup;
        size_t size = sizeof(v->cgroup), have = 0;
        bool skipping = false, eof = false, any = false;

        while (!eof) {
                ssize_t n = read(fd, buf + have, size - 1 - have);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == ESRCH ? -ESRCH : -errno;
                }
                if (n == 0) {
                        eof = true;
                        if (have > 0 && !skipping && buf[have - 1] != '\n')
                                buf[have++] = '\n'; /* a last line without '\n' */
                }
                any = any || n > 0;
                have += (size_t) n;
                size_t start = 0;
                for (;;) {
                        char *nl = memchr(buf + start, '\n', have - start);
                        if (!nl)
                                break;
                        size_t len = (size_t) (nl - (buf + start));
                        if (!skipping && len >= 3 && memcmp(buf + start, "0::", 3) == 0) {
                                memmove(buf, buf + start + 3, len - 3);
                                buf[len - 3] = '\0';
                                v->cgroup_len = len - 3;
                                return 0;
                        }
                        skipping = false;
                        start += len + 1;
                }
                memmove(buf, buf + start, have - start);
                have -= start;
                if (have == size - 1) {
                        /* longer than any path the kernel prints: not ours to parse */
                        skipping = true;
                        have = 0;
                }
        }
        return any ? -ENOENT : -ESRCH;
}

int target_cgroup_path(pid_t pid, char *buf, size_t size) {
        _cleanup_close_ int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (proc_fd < 0)
                return -errno;
        struct proc_view *v = malloc(sizeof(*v));
        if (!v)
                return -ENOMEM;
        v->pid = pid;
        int r = load_cgroup(proc_fd, v);
        if (r == 0) {
                if (v->cgroup_len >= size)
                        r = -ENAMETOOLONG;
                else
                        memcpy(buf, v->cgroup, v->cgroup_len + 1);
        }
        free(v);
        return r;
}

static bool cgroup_below(const struct proc_view *v, const struct match_entry *e) {
        if (e->value_len == 1) /* "/" */
                return true;
        return v->cgroup_len >= e->value_len && memcmp(v->cgroup, e->value, e->value_len) == 0 &&
               (v->cgroup_len == e->value_len || v->cgroup[e->value_len] == '/');
}

static bool entry_has_pid(const struct match_entry *e, pid_t pid) {
        switch (e->kind) {
        case TARGET_MATCH_PID:
        case TARGET_MATCH_PIDFILE:
                return e->pid == pid;
        case TARGET_MATCH_CGROUP:
        case TARGET_MATCH_SYSTEMD_UNIT:
                return e->n_pids > 0 && bsearch(&pid, e->pids, e->n_pids, sizeof(pid_t), cmp_pid);
        default:
                return false;
        }
}

/* Evaluates the matches in order for one process; the first that holds
 * gives the target. Returns 1 (and *ret_target), 0, -ESRCH for a process
 * that is gone, or another -errno that should end a scan (e.g. -EMFILE).
 * A file we may not read (-EACCES) just makes that match fail. */
static int proc_match(struct target_matcher *m, struct proc_view *v, bool scanning, uint32_t *ret_target) {
        for (size_t i = 0; i < m->n_entries; i++) {
                const struct match_entry *e = &m->entries[i];
                bool hit = false;
                ssize_t n;

                switch (e->kind) {
                case TARGET_MATCH_ALL:
                        hit = true;
                        break;
                case TARGET_MATCH_PID:
                case TARGET_MATCH_PIDFILE:
                        hit = e->pid == v->pid;
                        break;
                case TARGET_MATCH_COMM:
                        if (!v->have_comm) {
                                n = proc_read(m->proc_fd, v->pid, "comm", v->comm, sizeof(v->comm));
                                if (n < 0 && n != -EACCES && n != -EPERM)
                                        return (int) n;
                                v->comm_len = n < 0 ? 0 : (size_t) n;
                                if (v->comm_len > 0 && v->comm[v->comm_len - 1] == '\n')
                                        v->comm[--v->comm_len] = '\0';
                                v->have_comm = true;
                        }
                        hit = v->comm_len == e->value_len && memcmp(v->comm, e->value, e->value_len) == 0;
                        break;
                case TARGET_MATCH_EXE:
                        if (!e->exe_ok)
                                break;
                        if (!v->have_exe) {
                                int r = load_exe(m->proc_fd, v);
                                if (r < 0)
                                        return r;
                        }
                        hit = v->exe_ok && v->exe.st_dev == e->exe_dev && v->exe.st_ino == e->exe_ino;
                        break;
                case TARGET_MATCH_CGROUP:
                case TARGET_MATCH_SYSTEMD_UNIT:
                        if (scanning && e->pids_ok) {
                                hit = entry_has_pid(e, v->pid);
                                break;
                        }
                        if (!v->have_cgroup) {
                                int r = load_cgroup(m->proc_fd, v);
                                if (r < 0 && r != -ENOENT && r != -EACCES && r != -EPERM)
                                        return r;
                                v->cgroup_ok = r == 0;
                                v->have_cgroup = true;
                        }
                        if (v->cgroup_ok)
                                hit = e->kind == TARGET_MATCH_CGROUP ? cgroup_below(v, e)
                                                                     : path_has_component(v->cgroup, v->cgroup_len, e->value, e->value_len);
                        break;
                }
                if (!hit)
                        continue;
                if (scanning) {
                        int r = proc_check_exe_or_stat(m->proc_fd, v);
                        if (r <= 0)
                                return r;
                }
                *ret_target = e->target;
                return 1;
        }
        return 0;
}

static void proc_view_init(struct proc_view *v, pid_t pid) {
        v->pid = pid;
        v->have_comm = v->have_cgroup = v->have_exe = false;
}

/* Whether pid is a thread-group leader (the Tgid line of its status);
 * -ESRCH when gone. */
static int proc_is_leader(int proc_fd, pid_t pid) {
        char buf[2048];
        ssize_t n = proc_read(proc_fd, pid, "status", buf, sizeof(buf));
        if (n < 0)
                return (int) n;
        const char *t = strstr(buf, "\nTgid:");
        if (!t)
                return -EIO;
        return atoi(t + 6) == pid;
}

/* Everything that decides a single pid: the checks a walk of /proc gets
 * for free (a listed entry is a leader, not ourselves) are made here. */
static int match_one(struct target_matcher *m, struct proc_view *v, uint32_t *ret_target) {
        if (v->pid <= 0)
                return -ESRCH;
        if (v->pid == getpid())
                return kill(v->pid, 0) < 0 ? -ESRCH : 0;
        int r = proc_is_leader(m->proc_fd, v->pid);
        if (r <= 0)
                return r;
        r = proc_check_user(m->proc_fd, v->pid);
        if (r <= 0)
                return r;
        return proc_match(m, v, false, ret_target);
}

int target_matcher_match_pid(struct target_matcher *m, pid_t pid, uint32_t *ret_target) {
        /* the view holds a path-sized buffer: too big for a caller's stack
         * in a callback, and this is not the per-process path of a scan */
        _cleanup_free_ struct proc_view *v = malloc(sizeof(*v));
        if (!v)
                return -ENOMEM;
        int r = refresh(m, false);
        if (r < 0)
                return r;
        proc_view_init(v, pid);
        return match_one(m, v, ret_target);
}

/* One candidate of a scan without a walk: pid, from entry i. An earlier
 * match that holds it reported it already. */
static int scan_candidate(struct target_matcher *m, size_t i, pid_t pid, struct proc_view *v,
                          int (*fn)(void *userdata, pid_t pid, uint32_t target), void *userdata) {
        const struct match_entry *e = &m->entries[i];
        int r;

        for (size_t j = 0; j < i; j++)
                if (entry_has_pid(&m->entries[j], pid))
                        return 0;
        if (pid == getpid())
                return 0;
        proc_view_init(v, pid);
        /* a pid from the user may be a thread's; cgroup.procs lists leaders */
        if (e->kind == TARGET_MATCH_PID || e->kind == TARGET_MATCH_PIDFILE) {
                r = proc_is_leader(m->proc_fd, pid);
                if (r <= 0)
                        return r == -ESRCH || r == -EACCES || r == -EPERM || r == -EIO ? 0 : r;
        }
        r = proc_check_exe_or_stat(m->proc_fd, v);
        if (r <= 0)
                return r == -ESRCH || r == -EIO ? 0 : r;
        return fn(userdata, pid, e->target);
}

/* Every match stands for a set of pids (PID, PIDFILE, and CGROUP or
 * SYSTEMD_UNIT read from cgroup.procs): look at those only, each once,
 * in the order of the matches. */
static int scan_pids(struct target_matcher *m, struct proc_view *v,
                     int (*fn)(void *userdata, pid_t pid, uint32_t target), void *userdata) {
        for (size_t i = 0; i < m->n_entries; i++) {
                const struct match_entry *e = &m->entries[i];
                int r = 0;

                if (e->kind == TARGET_MATCH_PID || e->kind == TARGET_MATCH_PIDFILE) {
                        if (e->pid > 0)
                                r = scan_candidate(m, i, e->pid, v, fn, userdata);
                } else
                        for (size_t k = 0; k < e->n_pids && r == 0; k++)
                                if (k == 0 || e->pids[k] != e->pids[k - 1])
                                        r = scan_candidate(m, i, e->pids[k], v, fn, userdata);
                if (r != 0)
                        return r;
        }
        return 0;
}

int target_matcher_scan(struct target_matcher *m,
                        int (*fn)(void *userdata, pid_t pid, uint32_t target), void *userdata) {
        struct proc_view v;
        int r;

        r = refresh(m, true);
        if (r < 0)
                return r;
        if (r == 0)
                return scan_pids(m, &v, fn, userdata);

        pid_t self = getpid();
        if (lseek(m->proc_fd, 0, SEEK_SET) < 0)
                return -errno;
        /* /proc lists thread-group leaders only (threads are under task/) */
        char buf[8192] __attribute__((aligned(8)));
        for (;;) {
                ssize_t n = getdents64(m->proc_fd, buf, sizeof(buf));
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                for (ssize_t off = 0; off < n;) {
                        struct dirent64 *de = (struct dirent64 *) (buf + off);
                        off += de->d_reclen;
                        const char *s = de->d_name;
                        if (*s < '1' || *s > '9')
                                continue;
                        pid_t pid = 0;
                        for (; *s >= '0' && *s <= '9'; s++)
                                pid = pid * 10 + (*s - '0');
                        if (*s || pid == self)
                                continue;
                        uint32_t target;
                        proc_view_init(&v, pid);
                        r = proc_match(m, &v, true, &target);
                        if (r == 0 || r == -ESRCH || r == -EIO)
                                continue;
                        if (r < 0)
                                return r;
                        r = fn(userdata, pid, target);
                        if (r != 0)
                                return r;
                }
        }
}
