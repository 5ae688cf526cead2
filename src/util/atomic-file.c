#include "atomic-file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

#define MAX_SYMLINKS 40 /* the kernel's limit */

/* ---- the reason of the last refusal, for atomic_file_strerror() ---- */

static _Thread_local char refusal[PATH_MAX + 128];
static _Thread_local bool refused;

const char *atomic_file_strerror(int r) {
        if (r == -EACCES && refused)
                return refusal;
        return strerror(-r);
}

/* ---- named temporary files, removed by terminating signals ---- */

/* Only the fallback without O_TMPFILE and the moment between linking and
 * renaming have a name on disk; few files are open at once. */
#define MAX_TEMPORARIES 16

static struct {
        atomic_bool used;
        atomic_int dir_fd;
        _Atomic(const char *) name; /* set last: the handler reads it first */
} temporaries[MAX_TEMPORARIES];

/* Signals whose default action ends the process without a chance to clean
 * up. SIGKILL cannot be caught: that is what O_TMPFILE is for. */
static const int fatal_signals[] = {
        SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM, SIGUSR1,
        SIGUSR2, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGPWR,
};

static pthread_mutex_t handlers_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned handlers_users;
static bool handler_installed[ELEMENTSOF(fatal_signals)];

void atomic_file_remove_temporaries(void) {
        int saved = errno;
        for (size_t i = 0; i < MAX_TEMPORARIES; i++) {
                const char *name = atomic_load(&temporaries[i].name);
                if (name)
                        unlinkat(atomic_load(&temporaries[i].dir_fd), name, 0);
        }
        errno = saved;
}

void atomic_file_raise(int sig) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t set;

        atomic_file_remove_temporaries();
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
        /* a handler runs with its signal blocked */
        sigemptyset(&set);
        sigaddset(&set, sig);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
}

static void on_fatal_signal(int sig) {
        atomic_file_raise(sig);
}

/* Our handler goes only where the action is the default: a caller's own
 * handler (record stops cleanly on SIGINT) or SIG_IGN (nohup) stays. */
static void handlers_ref(void) {
        pthread_mutex_lock(&handlers_lock);
        if (handlers_users++ == 0)
                for (size_t i = 0; i < ELEMENTSOF(fatal_signals); i++) {
                        struct sigaction old, sa = {
                                .sa_handler = on_fatal_signal,
                        };
                        sigemptyset(&sa.sa_mask);
                        handler_installed[i] = sigaction(fatal_signals[i], NULL, &old) == 0 &&
                                               !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL &&
                                               sigaction(fatal_signals[i], &sa, NULL) == 0;
                }
        pthread_mutex_unlock(&handlers_lock);
}

static void handlers_unref(void) {
        pthread_mutex_lock(&handlers_lock);
        if (--handlers_users == 0)
                for (size_t i = 0; i < ELEMENTSOF(fatal_signals); i++) {
                        struct sigaction old;
                        if (handler_installed[i] && sigaction(fatal_signals[i], NULL, &old) == 0 &&
                            old.sa_handler == on_fatal_signal)
                                signal(fatal_signals[i], SIG_DFL);
                        handler_installed[i] = false;
                }
        pthread_mutex_unlock(&handlers_lock);
}

/* Blocks the fatal signals on this thread while a name is created and
 * registered (or renamed and unregistered), so that no signal lands in
 * between and leaves the name behind. */
static void block_fatal_signals(sigset_t *ret_old) {
        sigset_t set;
        sigemptyset(&set);
        for (size_t i = 0; i < ELEMENTSOF(fatal_signals); i++)
                sigaddset(&set, fatal_signals[i]);
        pthread_sigmask(SIG_BLOCK, &set, ret_old);
}

static void restore_signals(const sigset_t *old) {
        pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* name must stay valid until temporary_remove(). Returns the slot. */
static int temporary_add(int dir_fd, const char *name) {
        for (int i = 0; i < MAX_TEMPORARIES; i++) {
                bool expected = false;
                if (atomic_compare_exchange_strong(&temporaries[i].used, &expected, true)) {
                        handlers_ref();
                        atomic_store(&temporaries[i].dir_fd, dir_fd);
                        atomic_store(&temporaries[i].name, name);
                        return i;
                }
        }
        return -EMFILE;
}

static void temporary_remove(int slot) {
        atomic_store(&temporaries[slot].name, NULL);
        atomic_store(&temporaries[slot].used, false);
        handlers_unref();
}

static int find_temporary(const char *name) {
        for (int i = 0; i < MAX_TEMPORARIES; i++)
                if (atomic_load(&temporaries[i].name) == name)
                        return i;
        return -1;
}

/* ".NAME.XXXXXX", the name cut so that the whole fits NAME_MAX */
static void temporary_name(const char *name, char *buf, size_t size) {
        static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        static atomic_uint counter;
        uint64_t v;

        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v)) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                v = ((uint64_t) ts.tv_nsec << 20) ^ (uint64_t) ts.tv_sec ^ ((uint64_t) getpid() << 40) ^
                    atomic_fetch_add(&counter, 1);
        }
        char suffix[7];
        for (int i = 0; i < 6; i++, v /= 62)
                suffix[i] = chars[v % 62];
        suffix[6] = '\0';
        snprintf(buf, size, ".%.*s.%s", NAME_MAX - 8, name, suffix);
}

/* ---- resolving a path under the protected_symlinks rule ---- */

enum kind {
        KIND_NEW,      /* nothing there yet */
        KIND_REGULAR,  /* a regular file, to be replaced */
        KIND_IN_PLACE, /* a device, FIFO or socket: written in place */
        KIND_KERNEL,   /* reached /proc: name is the rest, for the kernel */
};

struct resolved {
        int dir_fd;
        char *name;
        struct stat st; /* of the final file, unless KIND_NEW */
        enum kind kind;
};

/* The directory walked so far as text, for the message only. */
static void text_push(char *t, const char *comp) {
        size_t n = strlen(t), len = strlen(comp);
        if (n + 1 + len + 1 > PATH_MAX)
                return;
        if (n > 0 && t[n - 1] != '/')
                t[n++] = '/';
        memcpy(t + n, comp, len + 1);
}

static void text_pop(char *t) {
        char *s = strrchr(t, '/');
        if (s == t)
                t[1] = '\0';
        else if (s)
                *s = '\0';
}

static int reopen_dir(int *fd, const char *path) {
        int nfd = openat(*fd, path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0)
                return -errno;
        close(*fd);
        *fd = nfd;
        return 0;
}

/* fs/namei.c may_follow_link(), whatever fs.protected_symlinks says */
static int check_symlink(int dir_fd, const struct stat *link, const char *dir_text) {
        struct stat dir;

        if (fstat(dir_fd, &dir) < 0)
                return -errno;
        if (!(dir.st_mode & S_ISVTX) || !(dir.st_mode & S_IWOTH) || link->st_uid == geteuid() ||
            link->st_uid == dir.st_uid)
                return 0;
        snprintf(refusal, sizeof(refusal), "refusing to follow symlink owned by uid %u in sticky directory '%s'",
                 (unsigned) link->st_uid, dir_text);
        refused = true;
        return -EACCES;
}

/* Walks path one component at a time from fds opened without following
 * links, so what is checked is what is used: the final directory stays
 * open, and commit works relative to it. */
static int resolve(const char *path, struct resolved *ret) {
        _cleanup_free_ char *todo = NULL;
        _cleanup_close_ int fd = -1;
        char text[PATH_MAX];
        unsigned links = 0;
        int r;

        refused = false;
        if (!*path)
                return -ENOENT;
        todo = strdup(path);
        if (!todo)
                return -ENOMEM;
        fd = open(path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (path[0] == '/')
                strcpy(text, "/");
        else if (!getcwd(text, sizeof(text)))
                strcpy(text, ".");

        char *p = todo;
        for (;;) {
                struct stat st;

                while (*p == '/')
                        p++;
                if (!*p)
                        return -EISDIR; /* "/", ".", "dir/" */
                char *end = strchrnul(p, '/');
                bool last = *end == '\0';
                char *rest = end;
                while (*rest == '/')
                        rest++;
                char saved = *end;
                *end = '\0';

                if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
                        if (last)
                                return -EISDIR;
                        if (p[1] == '.') {
                                r = reopen_dir(&fd, "..");
                                if (r < 0)
                                        return r;
                                text_pop(text);
                        }
                        p = rest;
                        continue;
                }

                if (fstatat(fd, p, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT || !last)
                                return -errno;
                        *ret = (struct resolved) { .kind = KIND_NEW };
                } else if (S_ISLNK(st.st_mode)) {
                        struct statfs sfs;
                        /* /proc/self and /proc/self/fd/N are not text to
                         * walk (readlink says "pipe:[123]"): the kernel
                         * follows them, and /proc has no sticky directory */
                        if (fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC) {
                                *end = saved;
                                *ret = (struct resolved) { .kind = KIND_KERNEL };
                                goto done;
                        }
                        r = check_symlink(fd, &st, text);
                        if (r < 0)
                                return r;
                        if (++links > MAX_SYMLINKS)
                                return -ELOOP;
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(fd, p, target, sizeof(target));
                        if (n < 0)
                                return -errno;
                        if ((size_t) n >= sizeof(target))
                                return -ENAMETOOLONG;
                        char *next;
                        /* a trailing slash ("link/") keeps meaning "a directory" */
                        if (asprintf(&next, "%.*s%s%s", (int) n, target, last ? "" : "/", rest) < 0)
                                return -ENOMEM;
                        free(todo);
                        p = todo = next;
                        if (target[0] == '/') {
                                r = reopen_dir(&fd, "/");
                                if (r < 0)
                                        return r;
                                strcpy(text, "/");
                        }
                        continue;
                } else if (last) {
                        if (S_ISDIR(st.st_mode))
                                return -EISDIR;
                        *ret = (struct resolved) {
                                .st = st,
                                .kind = S_ISREG(st.st_mode) ? KIND_REGULAR : KIND_IN_PLACE,
                        };
                } else {
                        if (!S_ISDIR(st.st_mode))
                                return -ENOTDIR;
                        r = reopen_dir(&fd, p);
                        if (r < 0)
                                return r;
                        text_push(text, p);
                        p = rest;
                        continue;
                }
        done:
                ret->name = strdup(p);
                if (!ret->name)
                        return -ENOMEM;
                ret->dir_fd = TAKE_FD(fd);
                return 0;
        }
}

static int open_resolved(const struct resolved *res, int flags) {
        /* O_NOFOLLOW: what was checked is no symlink, and must not become one */
        int fd = openat(res->dir_fd, res->name,
                        flags | O_CLOEXEC | O_NOCTTY | (res->kind == KIND_KERNEL ? 0 : O_NOFOLLOW));
        return fd < 0 ? -errno : fd;
}

static void resolved_release(struct resolved *res) {
        if (res->name)
                close(res->dir_fd);
        free(res->name);
        *res = (struct resolved) {};
}

/* ---- the API ---- */

bool atomic_file_in_place(const char *path) {
        struct resolved res = {};
        bool in_place = resolve(path, &res) >= 0 && (res.kind == KIND_IN_PLACE || res.kind == KIND_KERNEL);
        resolved_release(&res);
        return in_place;
}

int atomic_file_open_read(const char *path, FILE **ret) {
        struct resolved res = {};
        int r = resolve(path, &res);

        if (r >= 0)
                r = res.kind == KIND_NEW ? -ENOENT : open_resolved(&res, O_RDONLY);
        resolved_release(&res);
        if (r < 0)
                return r;
        *ret = fdopen(r, "r");
        if (!*ret) {
                int e = -errno;
                close(r);
                return e;
        }
        return 0;
}

static int open_named_temporary(struct atomic_file *af, mode_t mode) {
        char name[NAME_MAX + 1];
        sigset_t old;

        for (int tries = 0; tries < 100; tries++) {
                temporary_name(af->name, name, sizeof(name));
                block_fatal_signals(&old);
                int fd = openat(af->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
                if (fd < 0) {
                        int e = errno;
                        restore_signals(&old);
                        if (e == EEXIST)
                                continue;
                        return -e;
                }
                af->tmp = strdup(name);
                int r = af->tmp ? temporary_add(af->dir_fd, af->tmp) : -ENOMEM;
                if (r < 0) {
                        unlinkat(af->dir_fd, name, 0);
                        close(fd);
                        free(af->tmp);
                        af->tmp = NULL;
                }
                restore_signals(&old);
                return r < 0 ? r : fd;
        }
        return -EEXIST;
}

int atomic_file_open_flags(const char *path, unsigned flags, struct atomic_file *ret) {
        struct resolved res = {};
        int fd, r;

        *ret = (struct atomic_file) { .dir_fd = -1, .flags = flags };
        r = resolve(path, &res);
        if (r < 0)
                return r;

        if (res.kind == KIND_IN_PLACE || res.kind == KIND_KERNEL) {
                /* O_APPEND: /dev/stdout reopened would otherwise write from
                 * offset 0 over what a `>>` redirection keeps */
                fd = open_resolved(&res, O_WRONLY | O_APPEND);
                resolved_release(&res);
                if (fd < 0)
                        return fd;
                ret->f = fdopen(fd, "w");
                if (!ret->f) {
                        r = -errno;
                        close(fd);
                        return r;
                }
                return 0;
        }

        ret->dir_fd = res.dir_fd;
        ret->name = TAKE_PTR(res.name);
        ret->replace = res.kind == KIND_REGULAR;
        /* a new file gets 0666 less the umask, as open(O_CREAT) would; a
         * replaced one keeps its mode */
        mode_t mode = ret->replace ? res.st.st_mode & 07777 : 0666;
        if (ret->replace && faccessat(ret->dir_fd, ret->name, W_OK, 0) < 0) {
                r = -errno;
                goto fail;
        }

        /* the unnamed file is linked through /proc/self/fd (AT_EMPTY_PATH
         * needs CAP_DAC_READ_SEARCH before Linux 6.10): without /proc
         * (a chroot, a bare container) it could never get its name */
        if (access("/proc/self/fd", X_OK) == 0) {
                fd = openat(ret->dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
                if (fd < 0)
                        fd = -errno;
        } else
                fd = -EOPNOTSUPP;
        if (fd == -EOPNOTSUPP || fd == -EISDIR)
                /* no O_TMPFILE on this filesystem (or kernel) */
                fd = open_named_temporary(ret, mode);
        if (fd < 0) {
                r = fd;
                goto fail;
        }
        if (ret->replace)
                (void) fchmod(fd, mode); /* the umask applied at creation */
        ret->f = fdopen(fd, "w");
        if (!ret->f) {
                r = -errno;
                close(fd);
                goto fail;
        }
        return 0;

fail:
        atomic_file_abort(ret);
        return r;
}

int atomic_file_open(const char *path, struct atomic_file *ret) {
        return atomic_file_open_flags(path, 0, ret);
}

/* Gives the unnamed file its name: straight to the final name when it is
 * free, else through a temporary name renamed over the existing file. */
static int link_unnamed(struct atomic_file *af) {
        char proc[64], name[NAME_MAX + 1];
        sigset_t old;
        int r = 0;

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fileno(af->f));
        if (!af->replace) {
                if (linkat(AT_FDCWD, proc, af->dir_fd, af->name, AT_SYMLINK_FOLLOW) == 0)
                        return 0;
                if (errno != EEXIST)
                        return -errno;
                /* a file appeared since open: replace it */
        }
        for (int tries = 0;; tries++) {
                if (tries == 100)
                        return -EEXIST;
                temporary_name(af->name, name, sizeof(name));
                block_fatal_signals(&old);
                if (linkat(AT_FDCWD, proc, af->dir_fd, name, AT_SYMLINK_FOLLOW) == 0)
                        break;
                r = -errno;
                restore_signals(&old);
                if (r != -EEXIST)
                        return r;
        }
        int slot = temporary_add(af->dir_fd, name);
        r = 0;
        if (renameat(af->dir_fd, name, af->dir_fd, af->name) < 0) {
                r = -errno;
                unlinkat(af->dir_fd, name, 0);
        }
        if (slot >= 0)
                temporary_remove(slot);
        restore_signals(&old);
        return r;
}

static int sync_dir(int dir_fd) {
        _cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

int atomic_file_commit(struct atomic_file *af) {
        int r = 0;

        if (fflush(af->f) != 0 || ferror(af->f))
                r = stdio_write_error();
        /* EINVAL: a pipe or a terminal written in place has nothing to sync */
        if (r == 0 && (af->flags & ATOMIC_FILE_SYNC) && fsync(fileno(af->f)) < 0 &&
            !(errno == EINVAL && !af->name))
                r = -errno;

        if (r == 0 && af->name && !af->tmp) {
                r = link_unnamed(af);
                /* nothing is named before this succeeds: a close error
                 * afterwards means the data may be incomplete */
                if (fclose(af->f) != 0 && r == 0) {
                        r = -errno;
                        unlinkat(af->dir_fd, af->name, 0);
                }
                af->f = NULL;
        } else {
                if (fclose(af->f) != 0 && r == 0)
                        r = -errno;
                af->f = NULL;
                if (r == 0 && af->tmp) {
                        sigset_t old;
                        block_fatal_signals(&old);
                        if (renameat(af->dir_fd, af->tmp, af->dir_fd, af->name) < 0)
                                r = -errno;
                        else if (find_temporary(af->tmp) >= 0)
                                temporary_remove(find_temporary(af->tmp));
                        restore_signals(&old);
                }
        }
        if (r == 0 && af->name && (af->flags & ATOMIC_FILE_SYNC))
                r = sync_dir(af->dir_fd);
        if (r < 0) {
                atomic_file_abort(af);
                return r;
        }
        /* the temporary is renamed: abort only frees */
        free(af->tmp);
        af->tmp = NULL;
        atomic_file_abort(af);
        return 0;
}

void atomic_file_abort(struct atomic_file *af) {
        if (af->f)
                fclose(af->f);
        if (af->tmp) {
                sigset_t old;
                block_fatal_signals(&old);
                unlinkat(af->dir_fd, af->tmp, 0);
                int slot = find_temporary(af->tmp);
                if (slot >= 0)
                        temporary_remove(slot);
                restore_signals(&old);
        }
        if (af->name)
                close(af->dir_fd);
        free(af->tmp);
        free(af->name);
        *af = (struct atomic_file) { .dir_fd = -1 };
}
