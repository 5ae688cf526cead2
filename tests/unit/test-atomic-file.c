/* util/atomic-file: whole or nothing (even after SIGKILL), never replacing
 * what is not a regular file, the protected_symlinks rule in sticky
 * directories, the named fallback removed by signals, fsync and a full
 * disk. The symlink and full-disk cases plant files owned by another uid
 * and mount a tmpfs: they need root, as CI runs. Filesystems without
 * O_TMPFILE are played by a seccomp filter that fails it with EOPNOTSUPP,
 * as vfat or an old NFS would. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "util/atomic-file.h"
#include "util/cleanup.h"

#define NOBODY 65534

static char dir[] = "/tmp/cprof-atomic-XXXXXX";

static int count_in(const char *d) {
        int n = 0;
        DIR *dp = opendir(d);
        if (!dp)
                return -1;
        for (struct dirent *e; (e = readdir(dp));)
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
                        n++;
        closedir(dp);
        return n;
}

static int count_entries(void) {
        return count_in(dir);
}

static char *slurp(const char *path) {
        static char buf[256];
        int fd = open(path, O_RDONLY);
        ssize_t k = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0)
                close(fd);
        buf[k > 0 ? k : 0] = '\0';
        return buf;
}

static void put(const char *path, const char *text, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
        if (fd >= 0) {
                if (write(fd, text, strlen(text)) < 0)
                        perror("write");
                fchmod(fd, mode);
                close(fd);
        }
}

static void clear_dir(const char *d) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'/* '%s'/.[!.]*", d, d);
        if (system(cmd) != 0)
                fprintf(stderr, "# cannot clear %s\n", d);
}

/* The calling process gets errno err for syscall nr (when its argument
 * argi has a bit of mask, if mask != 0). */
static int fail_syscall(int nr, int argi, unsigned mask, int err) {
        struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned) nr, 0, 3),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[argi])),
                BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, mask ? mask : ~0u, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned) err),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(f), .filter = f };
        if (mask == 0)
                /* unconditional: jump from the nr match straight to ERRNO */
                f[1] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned) nr, 2, 3);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 ? -errno : 0;
}

static int no_tmpfile(void) {
        return fail_syscall(SYS_openat, 2, 020000000 /* __O_TMPFILE */, EOPNOTSUPP);
}

/* A child opens path (with no O_TMPFILE if asked), writes 1 MiB, reports
 * how many entries its directory holds and waits to be killed by sig.
 * Returns the entries seen while it wrote, or -1. */
static int kill_mid_write(const char *path, bool named, int sig, int *ret_status) {
        int p[2];
        if (pipe(p) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                struct atomic_file af;
                static char block[65536];
                close(p[0]);
                setrlimit(RLIMIT_CORE, &(struct rlimit) {}); /* SIGQUIT: no core file */
                /* the writer's own disposition, not one inherited: a shell
                 * that starts the suite in the background ignores SIGINT
                 * and SIGQUIT, nohup SIGHUP, a parent may block them, and
                 * the kill would never come */
                signal(sig, SIG_DFL);
                sigset_t set;
                sigemptyset(&set);
                sigaddset(&set, sig);
                sigprocmask(SIG_UNBLOCK, &set, NULL);
                if ((named && no_tmpfile() < 0) || atomic_file_open(path, &af) < 0)
                        _exit(1);
                memset(block, 'x', sizeof(block));
                for (int i = 0; i < 16; i++)
                        fwrite(block, 1, sizeof(block), af.f);
                fflush(af.f);
                char n = (char) count_entries();
                if (write(p[1], &n, 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(p[1]);
        char n = -1;
        if (read(p[0], &n, 1) != 1)
                n = -1;
        close(p[0]);
        kill(pid, sig);
        waitpid(pid, ret_status, 0);
        return n;
}

static void test_kills(void) {
        char path[128];
        int status, seen;

        snprintf(path, sizeof(path), "%s/out.svg", dir);
        seen = kill_mid_write(path, false, SIGKILL, &status);
        CHECK(seen == 0, "O_TMPFILE: nothing in the directory while writing (saw %d)", seen);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && count_entries() == 0,
              "O_TMPFILE: a writer killed by SIGKILL leaves nothing (%d entries)", count_entries());

        put(path, "old\n", 0644);
        seen = kill_mid_write(path, false, SIGKILL, &status);
        CHECK(seen == 1 && count_entries() == 1 && strcmp(slurp(path), "old\n") == 0,
              "O_TMPFILE: SIGKILL while replacing keeps the old file alone");
        unlink(path);

        static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGXFSZ };
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                seen = kill_mid_write(path, true, sigs[i], &status);
                CHECK(seen == 1, "named fallback: one hidden file while writing (saw %d)", seen);
                CHECK(WIFSIGNALED(status) && WTERMSIG(status) == sigs[i] && count_entries() == 0,
                      "named fallback: %s removes it and still ends the process (%d entries, status %#x)",
                      strsignal(sigs[i]), count_entries(), status);
                clear_dir(dir);
        }
}

/* In a child: commit with the fallback, or with a failing fsync. */
static void test_fallback_and_sync(void) {
        char path[128];
        int status;

        snprintf(path, sizeof(path), "%s/out.folded", dir);
        pid_t pid = fork();
        if (pid == 0) {
                struct atomic_file af;
                if (no_tmpfile() < 0 || atomic_file_open(path, &af) < 0 || !af.tmp)
                        _exit(10);
                fputs("named\n", af.f);
                if (atomic_file_commit(&af) < 0)
                        _exit(11);
                /* handlers are gone once nothing is registered: the default
                 * action again */
                struct sigaction sa;
                sigaction(SIGTERM, NULL, &sa);
                _exit(sa.sa_handler == SIG_DFL ? 0 : 12);
        }
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strcmp(slurp(path), "named\n") == 0 &&
                      count_entries() == 1,
              "named fallback: commit renames it into place and restores SIG_DFL (status %#x)", status);

        /* a caller's own handler is left alone */
        pid = fork();
        if (pid == 0) {
                struct atomic_file af;
                struct sigaction sa = { .sa_handler = SIG_IGN }, now;
                sigaction(SIGTERM, &sa, NULL);
                if (no_tmpfile() < 0 || atomic_file_open(path, &af) < 0)
                        _exit(10);
                sigaction(SIGTERM, NULL, &now);
                atomic_file_abort(&af);
                _exit(now.sa_handler == SIG_IGN ? 0 : 12);
        }
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && count_entries() == 1,
              "named fallback: an ignored signal stays ignored, abort removes the file");

        /* a caller's handler that ends the process through atomic_file_raise() */
        int p[2];
        if (pipe(p) < 0)
                return;
        pid = fork();
        if (pid == 0) {
                struct atomic_file af;
                struct sigaction sa = { .sa_handler = atomic_file_raise };
                close(p[0]);
                sigaction(SIGTERM, &sa, NULL);
                if (no_tmpfile() < 0 || atomic_file_open(path, &af) < 0 || !af.tmp)
                        _exit(10);
                fputs("partial", af.f);
                if (write(p[1], "x", 1) != 1)
                        _exit(11);
                for (;;)
                        pause();
        }
        close(p[1]);
        char c;
        bool ready = read(p[0], &c, 1) == 1;
        close(p[0]);
        int named = count_entries();
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
        CHECK(ready && named == 2 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM && count_entries() == 1,
              "atomic_file_raise() in a caller's handler removes the temporary and dies by the signal");

        struct atomic_file af;
        CHECK(atomic_file_open_flags(path, ATOMIC_FILE_SYNC, &af) == 0, "open with ATOMIC_FILE_SYNC");
        fputs("synced\n", af.f);
        CHECK(atomic_file_commit(&af) == 0 && strcmp(slurp(path), "synced\n") == 0, "a synced commit");

        for (int flags = ATOMIC_FILE_SYNC; flags >= 0; flags -= ATOMIC_FILE_SYNC) {
                pid = fork();
                if (pid == 0) {
                        struct atomic_file a;
                        if (fail_syscall(SYS_fsync, 0, 0, EIO) < 0 || atomic_file_open_flags(path, flags, &a) < 0)
                                _exit(10);
                        fputs("lost\n", a.f);
                        int r = atomic_file_commit(&a);
                        _exit(r == 0 ? 0 : r == -EIO ? 5 : 11);
                }
                waitpid(pid, &status, 0);
                if (flags)
                        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 5 && strcmp(slurp(path), "synced\n") == 0 &&
                                      count_entries() == 1,
                              "ATOMIC_FILE_SYNC: a failing fsync fails the commit, the old file stays (status %#x)",
                              status);
                else
                        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strcmp(slurp(path), "lost\n") == 0,
                              "without ATOMIC_FILE_SYNC no fsync is made");
        }
        unlink(path);
}

/* /tmp-like: a sticky 1777 directory, links owned by another uid. */
static void test_symlinks(void) {
        char sticky[128], secret[160], link[160], own[160], via[200], sub[160];
        struct atomic_file af;
        FILE *f;
        int r;

        CHECK(geteuid() == 0, "running as root (the cases below plant files owned by uid %d)", NOBODY);
        snprintf(sticky, sizeof(sticky), "%s/sticky", dir);
        snprintf(secret, sizeof(secret), "%s/secret", dir);
        snprintf(link, sizeof(link), "%s/evil.folded", sticky);
        snprintf(own, sizeof(own), "%s/own.folded", sticky);
        mkdir(sticky, 0777);
        chmod(sticky, 01777);
        put(secret, "root only\n", 0600);

        CHECK(symlink(secret, link) == 0 && lchown(link, NOBODY, NOBODY) == 0, "plant a link owned by nobody");
        r = atomic_file_open(link, &af);
        CHECK(r == -EACCES, "a link of another uid in a sticky directory is refused (%d)", r);
        char want[300];
        snprintf(want, sizeof(want), "refusing to follow symlink owned by uid %d in sticky directory '%s'", NOBODY,
                 sticky);
        CHECK_STREQ(atomic_file_strerror(r), want, "the reason names the owner and the directory");
        CHECK_STREQ(slurp(secret), "root only\n", "the target is unchanged");
        CHECK(atomic_file_open_read(link, &f) == -EACCES, "reading through it is refused too");
        CHECK(!atomic_file_in_place(link), "the refused link is not taken for a device");
        CHECK_STREQ(atomic_file_strerror(-ENOENT), "No such file or directory", "other errors are strerror");

        /* the same link as a directory component */
        snprintf(sub, sizeof(sub), "%s/evil-dir", sticky);
        CHECK(symlink(dir, sub) == 0 && lchown(sub, NOBODY, NOBODY) == 0, "plant a directory link owned by nobody");
        snprintf(via, sizeof(via), "%s/secret", sub);
        CHECK(atomic_file_open(via, &af) == -EACCES && strcmp(slurp(secret), "root only\n") == 0,
              "a link in the middle of the path is refused as well");

        CHECK(symlink(secret, own) == 0, "a link owned by the caller");
        CHECK(atomic_file_open(own, &af) == 0, "is followed");
        fputs("mine\n", af.f);
        CHECK(atomic_file_commit(&af) == 0 && strcmp(slurp(secret), "mine\n") == 0, "and its target replaced");
        struct stat st;
        CHECK(stat(secret, &st) == 0 && (st.st_mode & 07777) == 0600, "keeping the target's mode");

        /* the directory's owner may plant links in it */
        CHECK(chown(sticky, NOBODY, NOBODY) == 0 && atomic_file_open(link, &af) == 0,
              "a link owned by the directory's owner is followed");
        atomic_file_abort(&af);
        /* not sticky, or not world-writable: the rule does not apply */
        CHECK(chown(sticky, 0, 0) == 0 && chmod(sticky, 0777) == 0 && atomic_file_open(link, &af) == 0,
              "world-writable without the sticky bit: followed, as the kernel does");
        atomic_file_abort(&af);
        CHECK(chmod(sticky, 01755) == 0 && atomic_file_open(link, &af) == 0,
              "sticky but not world-writable: followed");
        atomic_file_abort(&af);
        CHECK(count_in(sticky) == 3 && strcmp(slurp(secret), "mine\n") == 0, "aborts leave nothing");
        clear_dir(dir);
}

static void test_full_disk(void) {
        char mnt[128], path[160];
        struct atomic_file af;
        static char block[65536];

        snprintf(mnt, sizeof(mnt), "%s/small", dir);
        mkdir(mnt, 0755);
        CHECK(mount("none", mnt, "tmpfs", 0, "size=64k") == 0, "mount a 64 KiB tmpfs");
        snprintf(path, sizeof(path), "%s/out.svg", mnt);
        memset(block, 'x', sizeof(block));
        for (int named = 0; named <= 1; named++) {
                int status;
                pid_t pid = fork();
                if (pid == 0) {
                        if ((named && no_tmpfile() < 0) || atomic_file_open(path, &af) < 0)
                                _exit(10);
                        for (int i = 0; i < 4; i++)
                                fwrite(block, 1, sizeof(block), af.f);
                        int r = atomic_file_commit(&af);
                        _exit(r == -ENOSPC ? 0 : 11);
                }
                waitpid(pid, &status, 0);
                CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && count_in(mnt) == 0,
                      "%s: a full disk is ENOSPC and leaves nothing (status %#x, %d entries)",
                      named ? "named fallback" : "O_TMPFILE", status, count_in(mnt));
        }
        umount(mnt);
        rmdir(mnt);
}

int main(void) {
        struct atomic_file af;
        char path[128], link[128], fifo[128];
        struct stat st;

        if (!mkdtemp(dir))
                return 1;
        snprintf(path, sizeof(path), "%s/out.folded", dir);

        CHECK(atomic_file_open(path, &af) == 0, "open a new file");
        fputs("a;b 1\n", af.f);
        CHECK(access(path, F_OK) < 0, "nothing at the path before commit");
        CHECK(count_entries() == 0, "not even a temporary name");
        CHECK(atomic_file_commit(&af) == 0, "commit");
        CHECK_STREQ(slurp(path), "a;b 1\n", "content in place after commit");
        CHECK(count_entries() == 1, "no temporary file left");
        mode_t mask = umask(022);
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask), "a new file gets 0666 less the umask");
        umask(mask);

        chmod(path, 0600);
        CHECK(atomic_file_open(path, &af) == 0, "open over an existing file");
        fputs("new\n", af.f);
        atomic_file_abort(&af);
        CHECK_STREQ(slurp(path), "a;b 1\n", "abort keeps the old content");
        CHECK(count_entries() == 1, "abort removes the temporary file");

        CHECK(atomic_file_open(path, &af) == 0, "open over an existing file again");
        fputs("replaced\n", af.f);
        CHECK(atomic_file_commit(&af) == 0 && strcmp(slurp(path), "replaced\n") == 0 && count_entries() == 1,
              "commit replaces it, nothing else left");
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "the replaced file keeps its mode");

        char late[128];
        snprintf(late, sizeof(late), "%s/late.folded", dir);
        CHECK(atomic_file_open(late, &af) == 0, "open a name that is free");
        put(late, "raced\n", 0644);
        fputs("ours\n", af.f);
        CHECK(atomic_file_commit(&af) == 0 && strcmp(slurp(late), "ours\n") == 0 && count_entries() == 2,
              "a file created meanwhile is replaced, not an error");
        unlink(late);

        snprintf(link, sizeof(link), "%s/link.folded", dir);
        CHECK(symlink(path, link) == 0, "make a symlink");
        CHECK(atomic_file_open(link, &af) == 0, "open through the symlink");
        fputs("via link\n", af.f);
        CHECK(atomic_file_commit(&af) == 0, "commit through the symlink");
        CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the symlink stays a symlink");
        CHECK_STREQ(slurp(path), "via link\n", "its target got the content");
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "the target keeps its mode");

        snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
        CHECK(mkfifo(fifo, 0600) == 0, "make a FIFO");
        CHECK(atomic_file_in_place(fifo) && atomic_file_in_place("/dev/stdout") &&
                      atomic_file_in_place("/dev/null") && !atomic_file_in_place(path),
              "FIFOs and /dev are written in place, regular files replaced");
        CHECK(atomic_file_open("/dev/null", &af) == 0 && af.name == NULL, "/dev/null opened in place");
        fputs("x", af.f);
        CHECK(atomic_file_commit(&af) == 0 && stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode),
              "/dev/null is still a device");

        /* /dev/stdout is a regular file opened by the shell with >>: append */
        fflush(stdout);
        int saved = dup(1), fd = open(path, O_WRONLY | O_APPEND);
        dup2(fd, 1);
        close(fd);
        int r = atomic_file_open("/dev/stdout", &af);
        if (r == 0) {
                fputs("+more\n", af.f);
                r = atomic_file_commit(&af);
        }
        dup2(saved, 1);
        close(saved);
        CHECK(r == 0 && strcmp(slurp(path), "via link\n+more\n") == 0 && count_entries() == 3,
              "/dev/stdout on a regular file is appended to, in place");

        CHECK(atomic_file_open(dir, &af) == -EISDIR, "a directory is refused");
        char missing[160];
        snprintf(missing, sizeof(missing), "%s/no/such/dir/x", dir);
        CHECK(atomic_file_open(missing, &af) == -ENOENT, "a missing directory is ENOENT");
        snprintf(missing, sizeof(missing), "%s/out.folded/x", dir);
        CHECK(atomic_file_open(missing, &af) == -ENOTDIR, "a file as a directory is ENOTDIR");
        CHECK(atomic_file_open_read(missing, &(FILE *) { NULL }) == -ENOTDIR, "for reading too");

        unlink(link);
        unlink(path);
        unlink(fifo);
        CHECK(count_entries() == 0, "the directory is empty again");

        test_kills();
        test_fallback_and_sync();
        test_symlinks();
        test_full_disk();

        clear_dir(dir);
        rmdir(dir);
        return tap_done();
}
