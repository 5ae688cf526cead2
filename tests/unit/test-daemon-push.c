/* Pyroscope push against tests/integration/pyroscope_receiver.py, run as a
 * child process on loopback: folded and pprof windows arrive well formed
 * and unchanged; with the server stopped, pushes stay fast, the oldest
 * windows beyond queue_max are dropped and counted, and the rest arrive
 * once it is back on the same port; a 400 drops a window without retries,
 * a 503 is retried; pusher_free keeps to its grace period, also with a
 * request in flight to a server that never answers; one log line per
 * state change, not per retry. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "cprof/output.h"
#include "cprof/profile.h"
#include "daemon/push.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/time-util.h"

#define RECEIVER TEST_DATA_DIR "/../integration/pyroscope_receiver.py"
#define QUEUE_MAX 4
#define BASE_FROM 1700000000ULL
#define MS 1000000ULL

static char log_path[] = "/tmp/test-daemon-push-XXXXXX";
static size_t log_seen; /* log lines already looked at */

struct receiver { pid_t pid; unsigned port; };

static struct receiver receiver_start(unsigned port, int fail_with) {
        struct receiver r = { -1, 0 };
        int fds[2];
        char portbuf[16], failbuf[16];
        snprintf(portbuf, sizeof portbuf, "%u", port);
        snprintf(failbuf, sizeof failbuf, "%d", fail_with);
        if (pipe(fds) < 0)
                abort();
        r.pid = fork();
        if (r.pid < 0)
                abort();
        if (r.pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                close(fds[0]);
                close(fds[1]);
                execl("/usr/bin/python3", "python3", RECEIVER, "--port", portbuf, "--log", log_path,
                      "--fail-with", failbuf, (char *) NULL);
                _exit(127);
        }
        close(fds[1]);
        char line[32] = "";
        size_t n = 0;
        while (n < sizeof line - 1) { /* the port is the first line */
                ssize_t k = read(fds[0], line + n, 1);
                if (k <= 0 || line[n] == '\n')
                        break;
                n++;
        }
        line[n] = '\0';
        close(fds[0]);
        r.port = (unsigned) strtoul(line, NULL, 10);
        return r;
}

static void receiver_stop(struct receiver *r) {
        if (r->pid > 0) {
                kill(r->pid, SIGTERM);
                waitpid(r->pid, NULL, 0);
                r->pid = -1;
        }
}

/* Log lines after the ones seen so far; marks them seen. */
static json_t *new_log_lines(void) {
        json_t *lines = json_array();
        FILE *f = fopen(log_path, "r");
        char *line = NULL;
        size_t cap = 0, no = 0;
        while (f && getline(&line, &cap, f) > 0) {
                if (no++ < log_seen)
                        continue;
                json_t *j = json_loads(line, 0, NULL);
                json_array_append_new(lines, j ? j : json_null());
        }
        log_seen = no;
        free(line);
        if (f)
                fclose(f);
        return lines;
}

static struct profile *make_profile(unsigned seed) {
        struct profile *p;
        if (profile_new(&p) < 0)
                abort();
        const char *names[] = { "app", "main", "serve", "parse", "hash" };
        for (unsigned i = 0; i < 3 + seed % 3; i++) {
                uint32_t ids[5];
                size_t depth = 2 + (i + seed) % 4;
                for (size_t d = 0; d < depth; d++)
                        profile_intern_named_frame(p, names[(d + i) % 5], strlen(names[(d + i) % 5]),
                                                   d == 0 ? FRAME_PROCESS : FRAME_USER, &ids[d]);
                double v = 1 + i * 7 + seed;
                profile_add_sample(p, ids, depth, &v, 0, 0);
        }
        profile_set_frequency_hz(p, 19);
        profile_set_duration_ns(p, 60ULL * 1000000000ULL);
        return p;
}

static char *serialized(const struct profile *p, bool pprof, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f || (pprof ? pprof_write(p, f) : folded_write(p, f)) < 0)
                abort();
        fclose(f);
        *ret_len = len;
        return buf;
}

static int push_window(struct pusher *ps, unsigned i, uint64_t *ret_ns) {
        struct profile *p = make_profile(i);
        uint64_t t0 = now_ns();
        int r = pusher_push(ps, "myapp", "api", p, BASE_FROM + i * 60, BASE_FROM + i * 60 + 60, 19);
        if (ret_ns)
                *ret_ns = now_ns() - t0;
        profile_free(p);
        return r;
}

static struct pusher_stats stats_of(struct pusher *ps) {
        struct pusher_stats s;
        pusher_get_stats(ps, &s);
        return s;
}

/* Polls until the field reaches want or timeout_ms passes. */
#define WAIT_FOR(ps, field, want, timeout_ms)                                   \
        ({                                                                      \
                uint64_t _end = now_ns() + (timeout_ms) * MS;                   \
                while (stats_of(ps).field < (want) && now_ns() < _end)          \
                        usleep(10000);                                          \
                stats_of(ps).field >= (want);                                   \
        })

static const char *jstr(json_t *o, const char *k) {
        return json_string_value(json_object_get(o, k));
}

static bool record_ok(json_t *rec, const char *format, unsigned window) {
        json_t *labels = json_object_get(rec, "labels");
        bool ok = json_is_true(json_object_get(rec, "valid")) &&
                  strcmp(jstr(rec, "format") ?: "", format) == 0 &&
                  strcmp(jstr(rec, "app") ?: "", "myapp") == 0 &&
                  strcmp(jstr(labels, "host") ?: "", "testhost") == 0 &&
                  strcmp(jstr(labels, "target") ?: "", "api") == 0 &&
                  strcmp(jstr(labels, "service_name") ?: "", "myapp") == 0 &&
                  json_integer_value(json_object_get(rec, "from")) == (json_int_t) (BASE_FROM + window * 60) &&
                  json_integer_value(json_object_get(rec, "until")) == (json_int_t) (BASE_FROM + window * 60 + 60) &&
                  json_integer_value(json_object_get(rec, "sample_rate")) == 19;
        if (!ok) {
                char *dump = json_dumps(rec, JSON_COMPACT);
                printf("# record: %s\n", dump ? dump : "(null)");
                free(dump);
        }
        return ok;
}

static bool folded_body_is(json_t *rec, unsigned window) {
        struct profile *p = make_profile(window);
        size_t len;
        char *want = serialized(p, false, &len);
        bool eq = jstr(rec, "body") && strcmp(jstr(rec, "body"), want) == 0;
        if (!eq)
                printf("# body '%s', expected '%s'\n", jstr(rec, "body") ?: "(none)", want);
        free(want);
        profile_free(p);
        return eq;
}

static size_t count_in(const char *path, const char *needle) {
        FILE *f = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0, n = 0;
        while (f && getline(&line, &cap, f) > 0)
                n += strstr(line, needle) != NULL;
        free(line);
        if (f)
                fclose(f);
        return n;
}

static void test_arguments(void) {
        struct pusher *ps = NULL;
        struct pusher_options o = { .url = "ftp://x", .queue_max = 1, .host = "h" };
        CHECK(pusher_new(&o, &ps) == -EINVAL, "an ftp:// URL is refused");
        o.url = "http://127.0.0.1:9";
        o.queue_max = 0;
        CHECK(pusher_new(&o, &ps) == -EINVAL, "queue_max 0 is refused");
        o.queue_max = 1;
        o.host = "a,b";
        CHECK(pusher_new(&o, &ps) == -EINVAL, "a host label with ',' is refused");
        o.host = "h";
        CHECK(pusher_new(&o, &ps) == 0, "a pusher starts");
        struct profile *p = make_profile(0);
        CHECK(pusher_push(ps, "my app", "api", p, 10, 20, 19) == -EINVAL, "an app name with a space is refused");
        CHECK(pusher_push(ps, "app", "a}b", p, 10, 20, 19) == -EINVAL, "a target with '}' is refused");
        CHECK(pusher_push(ps, "app", "api", p, 20, 20, 19) == -EINVAL, "from == until is refused");
        CHECK(stats_of(ps).queued == 0, "nothing refused was queued");
        profile_free(p);
        pusher_free(ps, 0);
}

int main(void) {
        int fd = mkstemp(log_path);
        if (fd < 0)
                abort();
        close(fd);
        signal(SIGPIPE, SIG_IGN);

        test_arguments();

        struct receiver rx = receiver_start(0, 0);
        CHECK(rx.port > 0, "the receiver runs, on port %u", rx.port);
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%u/", rx.port); /* trailing '/' is dropped */

        /* folded, then pprof */
        struct pusher *ps = NULL;
        struct pusher_options o = { .url = url, .format = PUSH_FOLDED, .queue_max = QUEUE_MAX,
                                    .host = "testhost" };
        CHECK(pusher_new(&o, &ps) == 0, "folded pusher starts");
        CHECK(push_window(ps, 0, NULL) == 0, "window 0 pushed");
        CHECK(WAIT_FOR(ps, sent, 1u, 10000), "window 0 sent");
        json_t *lines = new_log_lines();
        CHECK(json_array_size(lines) == 1, "one request received (%zu)", json_array_size(lines));
        CHECK(record_ok(json_array_get(lines, 0), "folded", 0), "folded request valid, labels and window right");
        CHECK(folded_body_is(json_array_get(lines, 0), 0), "body is folded_write's output");
        json_decref(lines);

        struct pusher *pp = NULL;
        struct pusher_options po = o;
        po.format = PUSH_PPROF;
        CHECK(pusher_new(&po, &pp) == 0, "pprof pusher starts");
        struct profile *prof = make_profile(1);
        CHECK(pusher_push(pp, "myapp", "api", prof, BASE_FROM + 60, BASE_FROM + 120, 19) == 0, "pprof window pushed");
        size_t plen;
        char *pbuf = serialized(prof, true, &plen);
        profile_free(prof); /* the pusher has its own copy */
        CHECK(WAIT_FOR(pp, sent, 1u, 10000), "pprof window sent");
        lines = new_log_lines();
        json_t *rec = json_array_get(lines, 0);
        CHECK(json_array_size(lines) == 1 && record_ok(rec, "pprof", 1), "pprof request valid (a form with 'profile')");
        CHECK(json_integer_value(json_object_get(rec, "profile_len")) == (json_int_t) plen &&
              json_integer_value(json_object_get(rec, "profile_crc32")) ==
                      (json_int_t) crc32(0, (const Bytef *) pbuf, (uInt) plen),
              "the form's profile is pprof_write's output (%zu bytes)", plen);
        free(pbuf);
        json_decref(lines);
        uint64_t t0 = now_ns();
        pusher_free(pp, 5000 * MS);
        CHECK(now_ns() - t0 < 500 * MS, "pusher_free with nothing queued returns at once");

        /* the server goes away: pushes stay fast, the oldest are dropped */
        char errlog[] = "/tmp/test-daemon-push-stderr-XXXXXX";
        int errfd = mkstemp(errlog), saved_stderr = dup(STDERR_FILENO);
        fflush(stderr);
        dup2(errfd, STDERR_FILENO);

        receiver_stop(&rx);
        const unsigned extra = 3, first = 2, n = QUEUE_MAX + extra;
        uint64_t slowest = 0;
        bool all_ok = true;
        for (unsigned i = 0; i < n; i++) {
                uint64_t dt;
                all_ok &= push_window(ps, first + i, &dt) == 0;
                slowest = MAX(slowest, dt);
        }
        CHECK(all_ok, "%u windows pushed while the server is down", n);
        CHECK(slowest < 10 * MS, "every push returned within 10 ms (slowest %.3f ms)", slowest / 1e6);
        CHECK(WAIT_FOR(ps, failed_attempts, 2u, 5000), "the worker retried (%llu failed attempts)",
              (unsigned long long) stats_of(ps).failed_attempts);
        struct pusher_stats s = stats_of(ps);
        CHECK(s.dropped == extra, "dropped %llu == the excess %u", (unsigned long long) s.dropped, extra);
        CHECK(s.queued == 1 + n && s.sent == 1, "queued %llu, sent %llu", (unsigned long long) s.queued,
              (unsigned long long) s.sent);

        rx = receiver_start(rx.port, 0);
        CHECK(rx.pid > 0 && rx.port > 0, "the receiver is back on port %u", rx.port);
        CHECK(WAIT_FOR(ps, sent, 1u + QUEUE_MAX, 20000), "the queued windows arrive (sent %llu)",
              (unsigned long long) stats_of(ps).sent);
        lines = new_log_lines();
        bool newest = json_array_size(lines) == QUEUE_MAX;
        for (unsigned i = 0; newest && i < QUEUE_MAX; i++) {
                json_t *r = json_array_get(lines, i);
                newest = record_ok(r, "folded", first + extra + i) && folded_body_is(r, first + extra + i);
        }
        CHECK(newest, "exactly the %u newest windows arrived, in order, intact (%zu requests)", QUEUE_MAX,
              json_array_size(lines));
        json_decref(lines);

        fflush(stderr);
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        close(errfd);
        size_t down = count_in(errlog, "cannot push"), up = count_in(errlog, "reachable again"),
               full = count_in(errlog, "queue full");
        CHECK(down == 1 && up == 1 && full == 1,
              "one log line per state change: down %zu, up %zu, queue full %zu (not one per retry)", down, up, full);
        unlink(errlog);

        /* a 400 drops the window at once, no retry */
        receiver_stop(&rx);
        rx = receiver_start(rx.port, 400);
        s = stats_of(ps);
        CHECK(push_window(ps, 20, NULL) == 0, "window pushed to a server answering 400");
        CHECK(WAIT_FOR(ps, dropped, s.dropped + 1, 10000), "the refused window is dropped");
        usleep(1500 * 1000);
        struct pusher_stats s2 = stats_of(ps);
        lines = new_log_lines();
        CHECK(s2.failed_attempts == s.failed_attempts + 1 && s2.sent == s.sent && json_array_size(lines) == 1,
              "a 400 is not retried (%zu requests)", json_array_size(lines));
        json_decref(lines);

        /* a 503 is retried; pusher_free gives up at its grace period */
        receiver_stop(&rx);
        rx = receiver_start(rx.port, 503);
        s = stats_of(ps);
        CHECK(push_window(ps, 21, NULL) == 0, "window pushed to a server answering 503");
        CHECK(WAIT_FOR(ps, failed_attempts, s.failed_attempts + 2, 5000), "a 503 is retried");
        s2 = stats_of(ps);
        CHECK(s2.dropped == s.dropped && s2.sent == s.sent, "a 503 does not drop the window");
        t0 = now_ns();
        pusher_free(ps, 200 * MS);
        uint64_t dt = now_ns() - t0;
        CHECK(dt < 400 * MS, "pusher_free(200 ms) during backoff took %.0f ms", dt / 1e6);
        receiver_stop(&rx);

        /* a server that takes the connection and never answers */
        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t salen = sizeof sa;
        bool listening = lfd >= 0 && bind(lfd, (struct sockaddr *) &sa, sizeof sa) == 0 && listen(lfd, 8) == 0 &&
                         getsockname(lfd, (struct sockaddr *) &sa, &salen) == 0;
        CHECK(listening, "a silent server listens");
        snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(sa.sin_port));
        CHECK(pusher_new(&o, &ps) == 0, "pusher to the silent server starts");
        CHECK(push_window(ps, 30, NULL) == 0, "window pushed to the silent server");
        usleep(300 * 1000); /* connected, request sent, waiting for an answer */
        t0 = now_ns();
        pusher_free(ps, 200 * MS);
        dt = now_ns() - t0;
        CHECK(dt < 400 * MS, "pusher_free(200 ms) with a request in flight took %.0f ms", dt / 1e6);
        close(lfd);

        unlink(log_path);
        return tap_done();
}
