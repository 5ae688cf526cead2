#include "atomic-file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

/* Something that is not a regular file (/dev/null, a FIFO, a terminal,
 * /proc/self/fd/1) is written in place: renaming over it would replace a
 * device node or a pipe with a file. */
static int open_in_place(const char *path, struct atomic_file *ret) {
        /* O_APPEND: /dev/stdout reopened would otherwise write from
         * offset 0 over what a `>>` redirection keeps */
        int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        ret->f = fdopen(fd, "w");
        if (!ret->f) {
                int r = -errno;
                close(fd);
                return r;
        }
        return 0;
}

bool atomic_file_in_place(const char *path) {
        struct stat st;
        /* /dev/stdout and /proc/self/fd/N lead to whatever the shell set up
         * (a pipe, a file opened for appending): write there, never replace */
        if (strncmp(path, "/dev/", 5) == 0 || strncmp(path, "/proc/", 6) == 0)
                return true;
        return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

int atomic_file_open(const char *path, struct atomic_file *ret) {
        _cleanup_free_ char *resolved = NULL, *copy = NULL, *copy2 = NULL, *tmp = NULL;
        struct stat st;
        mode_t mode;
        int fd;

        *ret = (struct atomic_file) {};
        if (atomic_file_in_place(path))
                return open_in_place(path, ret);
        if (stat(path, &st) == 0) {
                if (S_ISDIR(st.st_mode))
                        return -EISDIR;
                if (access(path, W_OK) < 0)
                        return -errno;
                /* replace the file a symlink points to, not the symlink,
                 * and keep its permissions */
                resolved = realpath(path, NULL);
                if (!resolved)
                        return -errno;
                mode = st.st_mode & 07777;
        } else {
                if (errno != ENOENT)
                        return -errno;
                resolved = strdup(path);
                if (!resolved)
                        return -ENOMEM;
                mode_t mask = umask(0);
                umask(mask);
                mode = 0666 & ~mask;
        }

        copy = strdup(resolved);
        copy2 = strdup(resolved);
        if (!copy || !copy2)
                return -ENOMEM;
        if (asprintf(&tmp, "%s/.%s.XXXXXX", dirname(copy), basename(copy2)) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        (void) fchmod(fd, mode);

        ret->f = fdopen(fd, "w");
        if (!ret->f) {
                int r = -errno;
                close(fd);
                unlink(tmp);
                return r;
        }
        ret->tmp = TAKE_PTR(tmp);
        ret->path = TAKE_PTR(resolved);
        return 0;
}

int atomic_file_commit(struct atomic_file *af) {
        int r = 0;

        if (fflush(af->f) != 0 || ferror(af->f))
                r = -(errno ? errno : EIO);
        if (fclose(af->f) != 0 && r == 0)
                r = -errno;
        af->f = NULL;
        if (af->tmp) {
                if (r == 0 && rename(af->tmp, af->path) < 0)
                        r = -errno;
                if (r < 0)
                        unlink(af->tmp);
        }
        free(af->tmp);
        free(af->path);
        *af = (struct atomic_file) {};
        return r;
}

void atomic_file_abort(struct atomic_file *af) {
        if (af->f)
                fclose(af->f);
        if (af->tmp)
                unlink(af->tmp);
        free(af->tmp);
        free(af->path);
        *af = (struct atomic_file) {};
}
