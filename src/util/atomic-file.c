#include "atomic-file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

int atomic_file_open(const char *path, struct atomic_file *ret) {
        _cleanup_free_ char *copy = strdup(path), *copy2 = strdup(path);
        _cleanup_free_ char *tmp = NULL, *final = NULL;
        int fd;

        *ret = (struct atomic_file) {};
        if (!copy || !copy2)
                return -ENOMEM;
        if (asprintf(&tmp, "%s/.%s.XXXXXX", dirname(copy), basename(copy2)) < 0)
                return -ENOMEM;
        final = strdup(path);
        if (!final)
                return -ENOMEM;

        /* An existing directory at the final path would only fail at rename. */
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                return -EISDIR;

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        mode_t mask = umask(0);
        umask(mask);
        (void) fchmod(fd, 0666 & ~mask);

        ret->f = fdopen(fd, "w");
        if (!ret->f) {
                int r = -errno;
                close(fd);
                unlink(tmp);
                return r;
        }
        ret->tmp = TAKE_PTR(tmp);
        ret->path = TAKE_PTR(final);
        return 0;
}

int atomic_file_commit(struct atomic_file *af) {
        int r = 0;

        if (fflush(af->f) != 0 || ferror(af->f))
                r = -(errno ? errno : EIO);
        if (fclose(af->f) != 0 && r == 0)
                r = -errno;
        af->f = NULL;
        if (r == 0 && rename(af->tmp, af->path) < 0)
                r = -errno;
        if (r < 0)
                unlink(af->tmp);
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
