/* util/atomic-file: whole or nothing, and never replacing what is not a
 * regular file. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "util/atomic-file.h"

static char dir[] = "/tmp/cprof-atomic-XXXXXX";

static int count_entries(void) {
        int n = 0;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", dir);
        FILE *p = popen(cmd, "r");
        if (!p || fscanf(p, "%d", &n) != 1)
                n = -1;
        if (p)
                pclose(p);
        return n;
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
        CHECK(atomic_file_commit(&af) == 0, "commit");
        CHECK_STREQ(slurp(path), "a;b 1\n", "content in place after commit");
        CHECK(count_entries() == 1, "no temporary file left");

        chmod(path, 0600);
        CHECK(atomic_file_open(path, &af) == 0, "open over an existing file");
        fputs("new\n", af.f);
        atomic_file_abort(&af);
        CHECK_STREQ(slurp(path), "a;b 1\n", "abort keeps the old content");
        CHECK(count_entries() == 1, "abort removes the temporary file");

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
        CHECK(atomic_file_open("/dev/null", &af) == 0 && af.tmp == NULL, "/dev/null opened in place");
        fputs("x", af.f);
        CHECK(atomic_file_commit(&af) == 0 && stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode),
              "/dev/null is still a device");

        CHECK(atomic_file_open(dir, &af) == -EISDIR, "a directory is refused");
        char missing[160];
        snprintf(missing, sizeof(missing), "%s/no/such/dir/x", dir);
        CHECK(atomic_file_open(missing, &af) == -ENOENT, "a missing directory is ENOENT");

        unlink(link);
        unlink(path);
        unlink(fifo);
        rmdir(dir);
        return tap_done();
}
