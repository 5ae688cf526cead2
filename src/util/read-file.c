#include "read-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

int read_full_fd(int fd, char **ret_buf, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        struct stat st;

        /* one read for a regular file: no realloc of a large input */
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
                cap = (size_t) st.st_size + 4096;
        for (;;) {
                if (cap - len < 4096 || !buf) {
                        size_t ncap = cap - len < 4096 ? (cap ? cap * 2 : 65536) : cap;
                        char *nb = realloc(buf, ncap + 1);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        cap = ncap;
                }
                ssize_t k = read(fd, buf + len, cap - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        buf[len] = '\0';
        *ret_buf = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int read_full_file(const char *path, char **ret_buf, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        return read_full_fd(fd, ret_buf, ret_len);
}
