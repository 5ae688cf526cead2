/* Line reader: lines across chunk boundaries, the previous line kept valid
 * while the next is read, a last line without '\n', an overlong line
 * skipped in bounded memory, peeking at the first bytes, and an endless
 * pipe read with a buffer that does not grow. */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "util/read-file.h"

/* A pipe fed by a child writing `data` `times` times (0: until killed). */
static pid_t feed(const char *data, size_t len, unsigned times, int *ret_fd) {
        int fds[2];
        if (pipe(fds) < 0)
                abort();
        pid_t pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                close(fds[0]);
                for (unsigned i = 0; times == 0 || i < times; i++) {
                        size_t off = 0;
                        while (off < len) {
                                ssize_t k = write(fds[1], data + off, len - off);
                                if (k <= 0)
                                        _exit(0);
                                off += (size_t) k;
                        }
                }
                _exit(0);
        }
        close(fds[1]);
        *ret_fd = fds[0];
        return pid;
}

static void reap(pid_t pid, int fd) {
        close(fd);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

int main(void) {
        struct line_reader lr;
        const char *l, *prev;
        size_t n, prev_n;
        int fd, r;
        pid_t pid;

        /* 100,000 lines of varying length through a pipe: every one whole,
         * and the line before still intact when the next comes */
        {
                char text[64];
                int len = snprintf(text, sizeof(text), "frame;frame;leaf_%s 1\n", "xxxxxxxxxxxxxxxxxxxxxxxxxxx");
                pid = feed(text, (size_t) len, 100000, &fd);
                line_reader_init(&lr, fd, 0);
                unsigned lines = 0, bad = 0;
                prev = NULL;
                prev_n = 0;
                while ((r = line_reader_next(&lr, &l, &n)) > 0) {
                        if (n != (size_t) len - 1 || memcmp(l, text, n) != 0)
                                bad++;
                        if (prev && (prev_n != n || memcmp(prev, text, prev_n) != 0))
                                bad++;
                        prev = l;
                        prev_n = n;
                        lines++;
                }
                CHECK(r == 0 && lines == 100000 && bad == 0 && lr.lineno == 100000,
                      "pipe: 100000 lines, each whole, the previous one intact (r=%d lines=%u bad=%u)", r, lines, bad);
                line_reader_release(&lr);
                reap(pid, fd);
        }

        /* a last line without a newline; an empty line; CR kept (the
         * readers decide about it) */
        {
                static const char s[] = "a 1\n\nb 2\r\nc 3";
                pid = feed(s, sizeof(s) - 1, 1, &fd);
                line_reader_init(&lr, fd, 0);
                const char *want[] = { "a 1", "", "b 2\r", "c 3" };
                bool ok = true;
                for (int i = 0; i < 4; i++) {
                        r = line_reader_next(&lr, &l, &n);
                        ok = ok && r == 1 && n == strlen(want[i]) && memcmp(l, want[i], n) == 0;
                }
                CHECK(ok && line_reader_next(&lr, &l, &n) == 0 && line_reader_next(&lr, &l, &n) == 0,
                      "last line without newline, empty line, then the end (twice)");
                line_reader_release(&lr);
                reap(pid, fd);
        }

        /* an overlong line is skipped (reported once) and the reader goes
         * on after it, with a buffer bounded by the limit */
        {
                char big[5000];
                memset(big, 'x', sizeof(big));
                int fds[2];
                if (pipe(fds) < 0)
                        abort();
                pid = fork();
                if (pid == 0) {
                        close(fds[0]);
                        if (write(fds[1], "ok 1\n", 5) != 5)
                                _exit(1);
                        for (int i = 0; i < 200; i++) /* 1 MB without a newline */
                                if (write(fds[1], big, sizeof(big)) != (ssize_t) sizeof(big))
                                        _exit(1);
                        if (write(fds[1], "\nafter 2\n", 9) != 9)
                                _exit(1);
                        _exit(0);
                }
                close(fds[1]);
                line_reader_init(&lr, fds[0], 1000);
                r = line_reader_next(&lr, &l, &n);
                CHECK(r == 1 && n == 4 && memcmp(l, "ok 1", 4) == 0, "line before the overlong one");
                prev = l;
                r = line_reader_next(&lr, &l, &n);
                CHECK(r == -E2BIG, "overlong line: -E2BIG (r=%d)", r);
                CHECK(memcmp(prev, "ok 1", 4) == 0, "the previous line survives the skip");
                r = line_reader_next(&lr, &l, &n);
                CHECK(r == 1 && n == 7 && memcmp(l, "after 2", 7) == 0, "reading goes on after it");
                CHECK(lr.lineno == 3, "the skipped line counts as a line (%llu)", (unsigned long long) lr.lineno);
                CHECK(lr.buf.cap <= 4 * 256 * 1024, "buffer stays bounded (%zu bytes)", lr.buf.cap);
                CHECK(line_reader_next(&lr, &l, &n) == 0, "then the end");
                line_reader_release(&lr);
                close(fds[0]);
                waitpid(pid, NULL, 0);
        }

        /* peek: the first 64 KiB of an endless stream, without reading on */
        {
                pid = feed("a;b 1\n", 6, 0, &fd);
                line_reader_init(&lr, fd, 0);
                r = line_reader_peek(&lr, 65536, &l, &n);
                CHECK(r == 0 && n == 65536 && memcmp(l, "a;b 1\na;b 1\n", 12) == 0, "peek 64 KiB of a pipe");
                r = line_reader_next(&lr, &l, &n);
                CHECK(r == 1 && n == 5 && memcmp(l, "a;b 1", 5) == 0, "lines start where the peek started");

                /* endless: a million lines later the buffer has not grown */
                size_t cap = lr.buf.cap;
                for (int i = 0; i < 1000000 && r > 0; i++)
                        r = line_reader_next(&lr, &l, &n);
                CHECK(r == 1 && lr.buf.cap == cap, "endless pipe: constant buffer (%zu -> %zu)", cap, lr.buf.cap);
                line_reader_release(&lr);
                reap(pid, fd);
        }

        /* peek past the end of a short input */
        {
                pid = feed("x 1\n", 4, 1, &fd);
                line_reader_init(&lr, fd, 0);
                r = line_reader_peek(&lr, 65536, &l, &n);
                CHECK(r == 0 && n == 4, "peek of a short input gives what there is");
                line_reader_release(&lr);
                reap(pid, fd);
        }

        /* empty input */
        {
                pid = feed("", 0, 1, &fd);
                line_reader_init(&lr, fd, 0);
                r = line_reader_peek(&lr, 65536, &l, &n);
                CHECK(r == 0 && n == 0 && line_reader_next(&lr, &l, &n) == 0, "empty input");
                line_reader_release(&lr);
                reap(pid, fd);
        }
        return tap_done();
}
