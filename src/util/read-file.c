#include "read-file.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

int read_full_fd(int fd, char **ret_buf, size_t *ret_len) {
        _cleanup_(vec_freep) VEC(char) buf = {};
        size_t want = 65536; /* room for the next read, and its NUL */
        struct stat st;

        /* one read for a regular file: no realloc of a large input */
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
                want = (size_t) st.st_size + 4096 + 1;
        for (;;) {
                if (buf.cap - buf.n < 4096 + 1) {
                        int r = vec_reserve(&buf, MAX(want, buf.n + 4096 + 1));
                        if (r < 0)
                                return r;
                }
                ssize_t k = read(fd, buf.v + buf.n, buf.cap - buf.n - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                buf.n += (size_t) k;
        }
        buf.v[buf.n] = '\0';
        *ret_len = buf.n;
        *ret_buf = TAKE_PTR(buf.v);
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

/* The first chunk: big enough for the 64 KiB a reader sniffs, and for a
 * regular file few enough read() calls. */
#define LINE_READER_CHUNK (256u << 10)

void line_reader_init(struct line_reader *lr, int fd, size_t max_line) {
        *lr = (struct line_reader) { .fd = fd, .max_line = max_line ? max_line : LINE_READER_MAX_LINE };
}

void line_reader_release(struct line_reader *lr) {
        vec_free(&lr->buf);
        lr->pos = lr->last = 0;
}

/* Makes room after the data (dropping what lies before the last line returned,
 * then growing) and reads once. Returns bytes read, 0 at the end, -errno. */
static ssize_t fill(struct line_reader *lr) {
        if (lr->eof)
                return 0;
        if (lr->buf.n == lr->buf.cap && lr->last > 0) {
                memmove(lr->buf.v, lr->buf.v + lr->last, lr->buf.n - lr->last);
                lr->pos -= lr->last;
                lr->buf.n -= lr->last;
                lr->last = 0;
        }
        if (lr->buf.n == lr->buf.cap) {
                /* the first chunk, then doubling */
                int r = vec_reserve(&lr->buf, MAX(lr->buf.cap + 1, (size_t) LINE_READER_CHUNK));
                if (r < 0)
                        return r;
        }
        for (;;) {
                ssize_t k = read(lr->fd, lr->buf.v + lr->buf.n, lr->buf.cap - lr->buf.n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        lr->eof = true;
                lr->buf.n += (size_t) k;
                return k;
        }
}

int line_reader_peek(struct line_reader *lr, size_t want, const char **ret, size_t *ret_len) {
        while (lr->buf.n - lr->pos < want && !lr->eof) {
                ssize_t k = fill(lr);
                if (k < 0)
                        return (int) k;
        }
        *ret = lr->buf.v ? lr->buf.v + lr->pos : "";
        *ret_len = MIN(lr->buf.n - lr->pos, want);
        return 0;
}

int line_reader_next(struct line_reader *lr, const char **ret_line, size_t *ret_len) {
        size_t scanned = lr->pos;

        for (;;) {
                char *nl = lr->buf.v ? memchr(lr->buf.v + scanned, '\n', lr->buf.n - scanned) : NULL;
                if (nl) {
                        size_t start = lr->pos, len = (size_t) (nl - lr->buf.v) - start;
                        lr->pos = start + len + 1;
                        lr->lineno++;
                        if (lr->skipping) {
                                /* the end of an overlong line: what follows is new */
                                lr->skipping = false;
                                scanned = lr->pos;
                                continue;
                        }
                        lr->last = start;
                        *ret_line = lr->buf.v + start;
                        *ret_len = len;
                        return 1;
                }
                if (lr->buf.n - lr->pos > lr->max_line || (lr->skipping && lr->buf.n > lr->pos)) {
                        /* drop the overlong line's bytes as they come, keeping
                         * only the previous line valid */
                        bool first = !lr->skipping;
                        lr->buf.n = lr->pos;
                        lr->skipping = true;
                        if (first)
                                return -E2BIG;
                }
                scanned = lr->buf.n;
                size_t pos_before = lr->pos;
                ssize_t k = fill(lr);
                if (k < 0)
                        return (int) k;
                scanned -= pos_before - lr->pos; /* fill() may have moved the data */
                if (k == 0) {
                        if (lr->pos == lr->buf.n) {
                                if (lr->skipping)
                                        lr->lineno++, lr->skipping = false;
                                return 0;
                        }
                        size_t start = lr->pos, len = lr->buf.n - start;
                        lr->pos = lr->buf.n;
                        lr->lineno++;
                        lr->last = start;
                        *ret_line = lr->buf.v + start;
                        *ret_len = len;
                        return 1;
                }
        }
}
