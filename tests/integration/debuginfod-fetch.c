/* Test driver for symbolize/debuginfod (run by test_debuginfod.py against
 * a real debuginfod server and against a server that never answers).
 *
 *   debuginfod-fetch fetch HEX OUT LIMIT_S   request, poll until an answer
 *                                            or LIMIT_S, copy the file to OUT
 *   debuginfod-fetch cancel HEX DELAY_S      request, sleep, free (timed)
 *   debuginfod-fetch wait HEX DEADLINE_S     request, fetcher_wait (timed)
 *   debuginfod-fetch new                     fetcher_new's result only
 *
 * Prints "key value" lines; the Python side asserts on them.
 * DRIVER_DEBUGINFOD_URLS, when set, becomes DEBUGINFOD_URLS inside the
 * driver only (valgrind would query a server named in its environment). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "symbolize/debuginfod.h"
#include "util/time-util.h"

static size_t parse_hex(const char *s, uint8_t *out, size_t max) {
        size_t n = 0;
        while (s[0] && s[1] && n < max) {
                unsigned v;
                if (sscanf(s, "%2x", &v) != 1)
                        return 0;
                out[n++] = (uint8_t) v;
                s += 2;
        }
        return n;
}

static double secs(uint64_t ns) {
        return (double) ns / 1e9;
}

static int copy_fd(int fd, const char *out) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        char buf[65536];
        ssize_t k;
        if (o < 0)
                return -errno;
        while ((k = read(fd, buf, sizeof(buf))) > 0)
                if (write(o, buf, (size_t) k) != k) {
                        close(o);
                        return -EIO;
                }
        close(o);
        return k < 0 ? -errno : 0;
}

/* The blocked-signal mask of the fetcher's worker (the process's one other
 * thread), from /proc. */
static void print_worker_sigblk(void) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *e;
        while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.' || atoi(e->d_name) == getpid())
                        continue;
                char p[300], line[256];
                snprintf(p, sizeof(p), "/proc/self/task/%s/status", e->d_name);
                FILE *fp = fopen(p, "r");
                while (fp && fgets(line, sizeof(line), fp))
                        if (strncmp(line, "SigBlk:", 7) == 0)
                                printf("worker_sigblk %s", line + 8);
                if (fp)
                        fclose(fp);
        }
        if (d)
                closedir(d);
}

int main(int argc, char **argv) {
        struct debuginfod_fetcher *f = NULL;
        uint8_t id[64];
        size_t len = 0;

        /* line by line: a killed driver still shows how far it got */
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc < 2)
                return 2;
        /* valgrind runs debuginfod-find for its own symbols when it sees
         * DEBUGINFOD_URLS: under valgrind, pass the URLs in this one */
        const char *urls = getenv("DRIVER_DEBUGINFOD_URLS");
        if (urls)
                setenv("DEBUGINFOD_URLS", urls, 1);
        int r = debuginfod_fetcher_new(&f);
        printf("new %d\n", r);
        if (strcmp(argv[1], "new") == 0 && f) {
                print_worker_sigblk();
                printf("timeout_s %.3f\n", secs(debuginfod_fetcher_timeout_ns(f)));
        }
        if (strcmp(argv[1], "new") == 0 || r < 0) {
                printf("fetcher %s\n", f ? "set" : "null");
                debuginfod_fetcher_free(f);
                return 0;
        }
        if (argc < 4 || !(len = parse_hex(argv[2], id, sizeof(id))))
                return 2;

        uint64_t t0 = now_ns();
        r = debuginfod_fetcher_request(f, id, len);
        printf("request %d\n", r);
        printf("request_s %.6f\n", secs(now_ns() - t0));

        if (strcmp(argv[1], "fetch") == 0 && argc == 5) {
                uint64_t limit = (uint64_t) (atof(argv[4]) * 1e9), max_poll = 0;
                int fd = -1;
                do {
                        uint64_t p0 = now_ns();
                        r = debuginfod_fetcher_poll(f, id, len, &fd);
                        uint64_t d = now_ns() - p0;
                        max_poll = d > max_poll ? d : max_poll;
                        if (r != 0)
                                break;
                        struct timespec ts = { 0, 2000000 };
                        nanosleep(&ts, NULL);
                } while (now_ns() - t0 < limit);
                printf("poll %d\n", r);
                printf("elapsed_s %.3f\n", secs(now_ns() - t0));
                printf("max_poll_s %.6f\n", secs(max_poll));
                if (r == 1) {
                        printf("copy %d\n", copy_fd(fd, argv[3]));
                        close(fd);
                        /* a second poll hands out another fd of the same file */
                        int fd2 = -1;
                        printf("poll_again %d\n", debuginfod_fetcher_poll(f, id, len, &fd2));
                        if (fd2 >= 0)
                                close(fd2);
                }
                uint8_t other[20] = { 1 };
                printf("poll_unrequested %d\n", debuginfod_fetcher_poll(f, other, sizeof(other), &fd));
        } else if (strcmp(argv[1], "cancel") == 0) {
                struct timespec ts = { 0, (long) (atof(argv[3]) * 1e9) % 1000000000L };
                ts.tv_sec = (time_t) atof(argv[3]);
                nanosleep(&ts, NULL);
                int fd = -1;
                uint64_t p0 = now_ns();
                printf("poll %d\n", debuginfod_fetcher_poll(f, id, len, &fd));
                printf("poll_s %.6f\n", secs(now_ns() - p0));
                uint64_t f0 = now_ns();
                f = debuginfod_fetcher_free(f);
                printf("free_s %.3f\n", secs(now_ns() - f0));
        } else if (strcmp(argv[1], "wait") == 0) {
                uint64_t w0 = now_ns();
                r = debuginfod_fetcher_wait(f, w0 + (uint64_t) (atof(argv[3]) * 1e9));
                printf("wait %d\n", r);
                printf("wait_s %.3f\n", secs(now_ns() - w0));
        } else
                return 2;
        uint64_t f0 = now_ns();
        debuginfod_fetcher_free(f);
        printf("final_free_s %.3f\n", secs(now_ns() - f0));
        return 0;
}
