#include "read-file.h"

#include <errno.h>
#include <string.h>
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

/* The first chunk: big enough for the 64 KiB a reader sniffs, and for a
 * regular file few enough read() calls. */
#define LINE_READER_CHUNK (256u << 10)

void line_reader_init(struct line_reader *lr, int fd, size_t max_line) {
        *lr = (struct line_reader) { .fd = fd, .max_line = max_line ? max_line : LINE_READER_MAX_LINE };
}

void line_reader_release(struct line_reader *lr) {
        free(lr->buf);
        lr->buf = NULL;
        lr->cap = lr->pos = lr->end = lr->last = 0;
}

/* Makes room after end (dropping what lies before the last line returned,
 * then growing) and reads once. Returns bytes read, 0 at the end, -errno. */
static ssize_t fill(struct line_reader *lr) {
        if (lr->eof)
                return 0;
        if (lr->end == lr->cap && lr->last > 0) {
                memmove(lr->buf, lr->buf + lr->last, lr->end - lr->last);
                lr->pos -= lr->last;
                lr->end -= lr->last;
                lr->last = 0;
        }
        if (lr->end == lr->cap) {
                size_t ncap = lr->cap ? lr->cap * 2 : LINE_READER_CHUNK;
                char *nb = realloc(lr->buf, ncap);
                if (!nb)
                        return -ENOMEM;
                lr->buf = nb;
                lr->cap = ncap;
        }
        for (;;) {
                ssize_t k = read(lr->fd, lr->buf + lr->end, lr->cap - lr->end);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        lr->eof = true;
                lr->end += (size_t) k;
                return k;
        }
}

int line_reader_peek(struct line_reader *lr, size_t want, const char **ret, size_t *ret_len) {
        while (lr->end - lr->pos < want && !lr->eof) {
                ssize_t k = fill(lr);
                if (k < 0)
                        return (int) k;
        }
        *ret = lr->buf ? lr->buf + lr->pos : "";
        *ret_len = MIN(lr->end - lr->pos, want);
        return 0;
}

int line_reader_next(struct line_reader *lr, const char **ret_line, size_t *ret_len) {
        size_t scanned = lr->pos;

        for (;;) {
                char *nl = lr->buf ? memchr(lr->buf + scanned, '\n', lr->end - scanned) : NULL;
                if (nl) {
                        size_t start = lr->pos, len = (size_t) (nl - lr->buf) - start;
                        lr->pos = start + len + 1;
                        lr->lineno++;
                        if (lr->skipping) {
                                /* the end of an overlong line: what follows is new */
                                lr->skipping = false;
                                scanned = lr->pos;
                                continue;
                        }
                        lr->last = start;
                        *ret_line = lr->buf + start;
                        *ret_len = len;
                        return 1;
                }
                if (lr->end - lr->pos > lr->max_line || (lr->skipping && lr->end > lr->pos)) {
                        /* drop the overlong line's bytes as they come, keeping
                         * only the previous line valid */
                        bool first = !lr->skipping;
                        lr->end = lr->pos;
                        lr->skipping = true;
                        if (first)
                                return -E2BIG;
                }
                scanned = lr->end;
                size_t pos_before = lr->pos;
                ssize_t k = fill(lr);
                if (k < 0)
                        return (int) k;
                scanned -= pos_before - lr->pos; /* fill() may have moved the data */
                if (k == 0) {
                        if (lr->pos == lr->end) {
                                if (lr->skipping)
                                        lr->lineno++, lr->skipping = false;
                                return 0;
                        }
                        size_t start = lr->pos, len = lr->end - start;
                        lr->pos = lr->end;
                        lr->lineno++;
                        lr->last = start;
                        *ret_line = lr->buf + start;
                        *ret_len = len;
                        return 1;
                }
        }
}
