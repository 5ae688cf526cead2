/* The control socket: the request parser (every error), and the server in
 * this process driven by a pump loop, with clients that are root (here),
 * nobody outside the group, and nobody in a group made for the test
 * (forked children that drop their privileges), plus the misbehaving
 * clients: malformed, oversized, silent, too many, and one that never
 * reads its reply. Needs root (it makes a group and changes uid). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/control-protocol.h"
#include "daemon/control.h"
#include "tap.h"
#include "util/time-util.h"

#define NOBODY 65534

/* ---- the parser ---- */

static int parse(const char *s, struct control_request *req, char *err, size_t errsize) {
        err[0] = '\0';
        return control_request_parse(s, strlen(s), req, err, errsize);
}

static void expect_error(const char *req_text, const char *want) {
        struct control_request req;
        char err[256];
        char shown[128];
        size_t n = 0;
        /* one TAP line whatever the request holds */
        for (const char *p = req_text; *p && n + 3 < sizeof(shown); p++) {
                if (*p == '\n') {
                        shown[n++] = '\\';
                        shown[n++] = 'n';
                } else
                        shown[n++] = *p;
        }
        shown[n] = '\0';
        int r = parse(req_text, &req, err, sizeof(err));
        CHECK(r < 0 && strstr(err, want) != NULL, "parse '%s': error '%s'", shown, want);
        if (!(r < 0 && strstr(err, want)))
                printf("# r=%d err='%s'\n", r, err);
}

static void test_parse(void) {
        struct control_request req;
        char err[256];

        CHECK(parse("{\"command\": \"status\"}\n", &req, err, sizeof(err)) == 0 && req.command == CONTROL_STATUS,
              "status");
        CHECK(parse("{\"command\":\"snapshot\",\"target\":\"api\"}", &req, err, sizeof(err)) == 0 &&
              req.command == CONTROL_SNAPSHOT && strcmp(req.target, "api") == 0 &&
              req.last_ns == 300ULL * 1000000000ULL, "snapshot: default last 5 min");
        CHECK(parse("{\"command\":\"snapshot\",\"target\":\"a.b_c-9\",\"last_s\":2.5}", &req, err, sizeof(err)) == 0 &&
              req.last_ns == 2500000000ULL, "snapshot: last_s 2.5");
        CHECK(parse("{\"command\":\"record\",\"pid\":1234}", &req, err, sizeof(err)) == 0 &&
              req.command == CONTROL_RECORD && req.pid == 1234 && req.duration_ns == 30000000000ULL &&
              req.frequency_hz == 99, "record: defaults 30 s, 99 Hz");
        CHECK(parse("{\"command\":\"record\",\"pid\":7,\"duration_s\":3600,\"frequency_hz\":10000}", &req, err,
                    sizeof(err)) == 0 && req.duration_ns == 3600000000000ULL && req.frequency_hz == 10000,
              "record: the upper limits");
        CHECK(parse("{\"command\":\"snapshot\",\"target\":\"x\",\"last_s\":2592000}", &req, err, sizeof(err)) == 0,
              "snapshot: last 30 d");

        expect_error("", "empty request");
        expect_error("\n", "empty request");
        expect_error("{", "malformed JSON");
        expect_error("{\"command\": \"status\"} x", "malformed JSON");
        expect_error("{\"command\":\"status\",\"command\":\"status\"}", "malformed JSON: duplicate object key");
        expect_error("[1,2]", "a request must be a JSON object");
        expect_error("{}", "missing 'command'");
        expect_error("{\"command\": 3}", "'command' must be a string");
        expect_error("{\"command\": \"stop\"}", "unknown command 'stop'");
        expect_error("{\"command\": \"st\\u0001op\"}", "unknown command 'st?op'");
        expect_error("{\"command\": \"status\", \"pid\": 3}", "unknown key 'pid' for command 'status'");
        expect_error("{\"command\": \"record\", \"pid\": 3, \"target\": \"a\"}",
                     "unknown key 'target' for command 'record'");
        expect_error("{\"command\": \"snapshot\"}", "missing 'target'");
        expect_error("{\"command\": \"snapshot\", \"target\": 5}", "'target' must be a string");
        expect_error("{\"command\": \"snapshot\", \"target\": \"\"}", "invalid target name ''");
        expect_error("{\"command\": \"snapshot\", \"target\": \"..\"}", "invalid target name '..'");
        expect_error("{\"command\": \"snapshot\", \"target\": \"a/b\"}", "invalid target name 'a/b'");
        expect_error("{\"command\": \"snapshot\", \"target\": "
                     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                     "invalid target name");
        expect_error("{\"command\": \"snapshot\", \"target\": \"a\", \"last_s\": 0}",
                     "'last_s' must be a number of seconds from 1 to 2592000");
        expect_error("{\"command\": \"snapshot\", \"target\": \"a\", \"last_s\": 2592001}", "'last_s' must be");
        expect_error("{\"command\": \"snapshot\", \"target\": \"a\", \"last_s\": \"5m\"}", "'last_s' must be");
        expect_error("{\"command\": \"record\"}", "missing 'pid'");
        expect_error("{\"command\": \"record\", \"pid\": 0}", "'pid' must be a positive integer");
        expect_error("{\"command\": \"record\", \"pid\": -4}", "'pid' must be a positive integer");
        expect_error("{\"command\": \"record\", \"pid\": 1.5}", "'pid' must be a positive integer");
        expect_error("{\"command\": \"record\", \"pid\": \"12\"}", "'pid' must be a positive integer");
        expect_error("{\"command\": \"record\", \"pid\": true}", "'pid' must be a positive integer");
        expect_error("{\"command\": \"record\", \"pid\": 4294967297}", "'pid' must be a positive integer");
        expect_error("{\"command\": \"record\", \"pid\": 1, \"duration_s\": 0.5}",
                     "'duration_s' must be a number of seconds from 1 to 3600");
        expect_error("{\"command\": \"record\", \"pid\": 1, \"duration_s\": 3601}", "'duration_s' must be");
        expect_error("{\"command\": \"record\", \"pid\": 1, \"frequency_hz\": 0}",
                     "'frequency_hz' must be an integer from 1 to 10000");
        expect_error("{\"command\": \"record\", \"pid\": 1, \"frequency_hz\": 10001}", "'frequency_hz' must be");
        expect_error("{\"command\": \"record\", \"pid\": 1, \"frequency_hz\": 99.5}", "'frequency_hz' must be");

        /* a newline inside jansson's quoted context must not reach the reply */
        int r = parse("{\"command\": \"a\n", &req, err, sizeof(err));
        CHECK(r < 0 && !strchr(err, '\n'), "an error message is one line: '%s'", err);

        /* the size limit comes before parsing */
        size_t big = CONTROL_REQUEST_MAX + 1;
        char *buf = malloc(big);
        memset(buf, ' ', big);
        memcpy(buf, "{\"command\":\"status\"}", 20);
        r = control_request_parse(buf, big, &req, err, sizeof(err));
        CHECK(r == -EMSGSIZE && strstr(err, "request too large"), "a 64 KiB + 1 request: %s", err);
        r = control_request_parse(buf, big - 1, &req, err, sizeof(err));
        CHECK(r == 0, "a 64 KiB request (padded with spaces) is parsed");
        free(buf);
        /* not NUL-terminated: only len bytes are read */
        const char exact[] = "{\"command\":\"status\"}garbage";
        CHECK(control_request_parse(exact, 20, &req, err, sizeof(err)) == 0, "only len bytes are parsed");

        /* what the client encodes reads back the same */
        struct control_request in = { .command = CONTROL_RECORD, .pid = 42, .duration_ns = 2500000000ULL,
                                      .frequency_hz = 997 }, out;
        json_t *j = NULL;
        CHECK(control_request_to_json(&in, &j) == 0, "to_json");
        char *text = json_dumps(j, JSON_COMPACT);
        CHECK(text && control_request_parse(text, strlen(text), &out, err, sizeof(err)) == 0 && out.pid == 42 &&
              out.duration_ns == 2500000000ULL && out.frequency_hz == 997, "record round trip: %s", text);
        free(text);
        json_decref(j);
        struct control_request sn = { .command = CONTROL_SNAPSHOT, .last_ns = 600000000000ULL };
        strcpy(sn.target, "api");
        CHECK(control_request_to_json(&sn, &j) == 0, "to_json snapshot");
        text = json_dumps(j, JSON_COMPACT);
        CHECK_STREQ(text, "{\"command\":\"snapshot\",\"target\":\"api\",\"last_s\":600}", "snapshot encoding");
        free(text);
        json_decref(j);
}

/* ---- the server ---- */

static struct control_server *S;
static uint64_t max_dispatch_ns;
static char sock_path[256], group_name[64];
static gid_t group_gid;
static bool peer_gone_seen;
static pid_t last_record_pid;
static int last_record_pidfd_ok;

struct pending {
        struct control_conn *c;
        pid_t pid;
        uint64_t due_ns;
};
static struct pending pending[128];
static size_t n_pending;

static char *big_folded(size_t size) {
        char *s = malloc(size + 1);
        size_t n = 0;
        while (n + 16 < size)
                n += (size_t) sprintf(s + n, "a;b;c%06zu 1\n", n % 1000000);
        s[n] = '\0';
        return s;
}

static void on_request(void *userdata, struct control_conn *c, const struct control_request *req,
                       const struct control_peer *peer, int pidfd) {
        (void) userdata;
        json_t *o = json_object();
        switch (req->command) {
        case CONTROL_STATUS:
                json_object_set_new(o, "ok", json_true());
                json_object_set_new(o, "targets", json_array());
                json_object_set_new(o, "uid", json_integer(peer->uid));
                json_object_set_new(o, "privileged", json_boolean(peer->privileged));
                control_reply(c, o);
                return;
        case CONTROL_SNAPSHOT:
                json_object_set_new(o, "ok", json_true());
                if (strcmp(req->target, "big") == 0) {
                        char *s = big_folded(10u << 20);
                        json_object_set_new(o, "folded", json_string(s));
                        free(s);
                } else {
                        json_object_set_new(o, "folded", json_string("a;b 3\n"));
                }
                control_reply(c, o);
                return;
        case CONTROL_RECORD:
                json_decref(o);
                last_record_pid = req->pid;
                last_record_pidfd_ok = pidfd >= 0 && pidfd_send_signal(pidfd, 0, NULL, 0) == 0;
                /* replied later, as a recording would */
                pending[n_pending++] = (struct pending) { c, req->pid, now_ns() + 200000000ULL };
                return;
        }
}

static void pump(int ms) {
        struct pollfd p = { .fd = control_server_fd(S), .events = POLLIN };
        (void) poll(&p, 1, ms);
        uint64_t t0 = now_ns();
        int r = control_server_dispatch(S);
        uint64_t dt = now_ns() - t0;
        if (dt > max_dispatch_ns)
                max_dispatch_ns = dt;
        if (r < 0)
                printf("# dispatch: %s\n", strerror(-r));
        uint64_t now = now_ns();
        for (size_t i = 0; i < n_pending;) {
                if (now < pending[i].due_ns) {
                        i++;
                        continue;
                }
                struct control_conn *c = pending[i].c;
                if (control_conn_peer_gone(c))
                        peer_gone_seen = true;
                json_t *o = json_object();
                json_object_set_new(o, "ok", json_true());
                json_object_set_new(o, "pid", json_integer(pending[i].pid));
                json_object_set_new(o, "folded", json_string("x;y 1\n"));
                pending[i] = pending[--n_pending];
                control_reply(c, o);
        }
}

static int connect_to(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        strcpy(sa.sun_path, path);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                errno = e;
                return -1;
        }
        return fd;
}

/* Reads fd to its end (or to a newline-terminated reply followed by a
 * reset) within ms; with pumping when this is the server's process. */
static char *read_reply(int fd, int ms, bool do_pump) {
        size_t cap = 1 << 16, n = 0;
        char *buf = malloc(cap);
        uint64_t end = now_ns() + (uint64_t) ms * 1000000ULL;
        while (now_ns() < end) {
                if (do_pump)
                        pump(5);
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, do_pump ? 0 : 50) <= 0)
                        continue;
                if (n + 4096 > cap)
                        buf = realloc(buf, cap *= 2);
                ssize_t k = recv(fd, buf + n, cap - n - 1, MSG_DONTWAIT);
                if (k > 0) {
                        n += (size_t) k;
                        continue;
                }
                if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                        buf[n] = '\0';
                        return buf;
                }
        }
        free(buf);
        return NULL;
}

/* One request, the client's way: write, shut down the write side, read. */
static char *request(const char *text, bool do_pump) {
        int fd = connect_to(sock_path);
        if (fd < 0)
                return NULL;
        (void) send(fd, text, strlen(text), MSG_NOSIGNAL);
        shutdown(fd, SHUT_WR);
        char *r = read_reply(fd, 10000, do_pump);
        close(fd);
        return r;
}

static bool reply_ok(const char *r) {
        return r && strncmp(r, "{\"ok\":true", 10) == 0;
}

/* ---- clients in children ---- */

static int fail_child(const char *what, const char *reply) {
        printf("# child: %s: %s\n", what, reply ? reply : "(no reply)");
        fflush(stdout);
        return 1;
}

static int drop_to(uid_t uid, gid_t gid, size_t n, const gid_t *groups) {
        if (setgroups(n, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
                return -1;
        /* changing uid made us non-dumpable; a user's own programs are
         * dumpable (they were exec'd) */
        return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

/* A process of this child's user that waits for SIGKILL; dumpable or not. */
static pid_t spawn_sleeper(bool dumpable) {
        int p[2];
        if (pipe(p) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                if (!dumpable)
                        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
                (void) !write(p[1], "x", 1);
                for (;;)
                        pause();
        }
        char x;
        (void) !read(p[0], &x, 1);
        close(p[0]);
        close(p[1]);
        return pid;
}

static int child_status_refused(void *arg) {
        (void) arg;
        char want[128];
        snprintf(want, sizeof(want), "permission denied: not root and not in group '%s'", group_name);
        char *r = request("{\"command\":\"status\"}\n", false);
        if (!r || !strstr(r, want) || strncmp(r, "{\"ok\":false", 11) != 0)
                return fail_child("status should be refused", r);
        free(r);
        r = request("{\"command\":\"snapshot\",\"target\":\"api\"}", false);
        if (!r || !strstr(r, want))
                return fail_child("snapshot should be refused", r);
        return 0;
}

static int child_status_ok(void *arg) {
        (void) arg;
        char *r = request("{\"command\":\"status\"}", false);
        if (!reply_ok(r) || !strstr(r, "\"privileged\":true"))
                return fail_child("status should be allowed to a member", r);
        return 0;
}

static int child_record_own(void *arg) {
        (void) arg;
        pid_t kid = spawn_sleeper(true);
        char req[128], want[64];
        snprintf(req, sizeof(req), "{\"command\":\"record\",\"pid\":%d,\"duration_s\":1}", (int) kid);
        snprintf(want, sizeof(want), "\"pid\":%d", (int) kid);
        char *r = request(req, false);
        kill(kid, SIGKILL);
        waitpid(kid, NULL, 0);
        if (!reply_ok(r) || !strstr(r, want))
                return fail_child("record of an own process should be accepted", r);
        return 0;
}

static int child_record_root(void *arg) {
        pid_t root_pid = *(pid_t *) arg;
        char req[128], want[128];
        snprintf(req, sizeof(req), "{\"command\":\"record\",\"pid\":%d}", (int) root_pid);
        snprintf(want, sizeof(want), "permission denied: process %d belongs to another user", (int) root_pid);
        char *r = request(req, false);
        if (!r || !strstr(r, want))
                return fail_child("record of a root process should be refused", r);
        return 0;
}

static int child_record_undumpable(void *arg) {
        (void) arg;
        pid_t kid = spawn_sleeper(false);
        char req[128], want[128];
        snprintf(req, sizeof(req), "{\"command\":\"record\",\"pid\":%d}", (int) kid);
        snprintf(want, sizeof(want), "permission denied: process %d is not dumpable", (int) kid);
        char *r = request(req, false);
        kill(kid, SIGKILL);
        waitpid(kid, NULL, 0);
        if (!r || !strstr(r, want))
                return fail_child("record of a non-dumpable process should be refused", r);
        return 0;
}

static int child_record_gone(void *arg) {
        (void) arg;
        pid_t kid = spawn_sleeper(true);
        kill(kid, SIGKILL);
        waitpid(kid, NULL, 0);
        char req[128], want[128];
        snprintf(req, sizeof(req), "{\"command\":\"record\",\"pid\":%d}", (int) kid);
        snprintf(want, sizeof(want), "no process with PID %d", (int) kid);
        char *r = request(req, false);
        if (!r || !strstr(r, want))
                return fail_child("record of a process that exited should be refused", r);
        return 0;
}

/* Root, from a new PID namespace: its "pid 1" is not cprofd's pid 1. */
static int child_other_pidns(void *arg) {
        (void) arg;
        if (unshare(CLONE_NEWPID) < 0)
                return fail_child("unshare(CLONE_NEWPID)", strerror(errno));
        pid_t pid = fork();
        if (pid == 0) {
                char *r = request("{\"command\":\"record\",\"pid\":1}", false);
                if (!r || !strstr(r, "the client is in another PID namespace"))
                        _exit(fail_child("record from another PID namespace should be refused", r));
                _exit(0);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid)
                return 1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* Runs fn in a child with those credentials (uid 0: as it is) while this
 * process serves. */
static int run_as(uid_t uid, gid_t gid, size_t n, const gid_t *groups, int (*fn)(void *), void *arg) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                /* the server's fds stay the server's: a copy here would
                 * keep connections open that the server closed */
                close_range(3, ~0U, 0);
                if (uid != 0 && drop_to(uid, gid, n, groups) < 0)
                        _exit(90);
                _exit(fn(arg));
        }
        uint64_t end = now_ns() + 20000000000ULL;
        int st;
        while (now_ns() < end) {
                pump(10);
                pid_t w = waitpid(pid, &st, WNOHANG);
                if (w == pid)
                        return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return 99;
}

static void *sleeping_thread(void *arg) {
        int *tid = arg;
        *tid = (int) syscall(SYS_gettid);
        for (;;)
                pause();
        return NULL;
}

static void remove_group(void) {
        char cmd[128];
        if (group_name[0]) {
                snprintf(cmd, sizeof(cmd), "groupdel %s 2>/dev/null", group_name);
                (void) !system(cmd);
        }
}

static void test_server(void) {
        static const struct control_handlers handlers = { .request = on_request };
        char dir[] = "/tmp/cprof-control-XXXXXX";
        struct stat st;
        char cmd[160];
        int r;

        if (!mkdtemp(dir) || chmod(dir, 0755) < 0) {
                CHECK(false, "temporary directory: %s", strerror(errno));
                return;
        }
        snprintf(sock_path, sizeof(sock_path), "%s/cprofd.sock", dir);
        snprintf(group_name, sizeof(group_name), "cprofct%d", (int) getpid());
        atexit(remove_group);
        snprintf(cmd, sizeof(cmd), "groupadd %s", group_name);
        CHECK(system(cmd) == 0, "groupadd %s", group_name);
        struct group *gr = getgrnam(group_name);
        CHECK(gr != NULL, "the test group exists");
        if (!gr)
                return;
        group_gid = gr->gr_gid;

        r = control_server_new(sock_path, group_name, &handlers, NULL, &S);
        CHECK(r == 0, "server on %s: %s", sock_path, strerror(-r));
        if (r < 0)
                return;
        CHECK(stat(sock_path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0666 &&
              st.st_gid == group_gid, "the socket is 0666 and belongs to the group (mode %o gid %u)",
              st.st_mode & 07777, st.st_gid);
        struct control_server *other = NULL;
        r = control_server_new(sock_path, group_name, &handlers, NULL, &other);
        CHECK(r == -EADDRINUSE && !other, "a second server on a live socket is refused: %s", strerror(-r));

        /* (a) root */
        char *rep = request("{\"command\":\"status\"}", true);
        CHECK(reply_ok(rep) && strstr(rep, "\"privileged\":true"), "root: status ok: %s", rep ? rep : "(none)");
        CHECK(rep && rep[strlen(rep) - 1] == '\n', "a reply is one line ended by a newline");
        free(rep);

        fflush(stdout);
        pid_t root_kid = fork();
        if (root_kid == 0) {
                close_range(3, ~0U, 0);
                for (;;)
                        pause();
        }
        char req[160], want[64];
        snprintf(req, sizeof(req), "{\"command\":\"record\",\"pid\":%d}", (int) root_kid);
        snprintf(want, sizeof(want), "\"pid\":%d", (int) root_kid);
        uint64_t t0 = now_ns();
        rep = request(req, true);
        CHECK(reply_ok(rep) && strstr(rep, want) && last_record_pid == root_kid && last_record_pidfd_ok,
              "root: record of a child is handed over with a live pidfd, replied later: %s", rep ? rep : "(none)");
        CHECK(now_ns() - t0 >= 150000000ULL, "the record reply came when the handler gave it");
        free(rep);
        kill(root_kid, SIGKILL);
        waitpid(root_kid, NULL, 0);

        /* a thread id means its process */
        int tid = 0;
        pthread_t th;
        pthread_create(&th, NULL, sleeping_thread, &tid);
        while (!__atomic_load_n(&tid, __ATOMIC_SEQ_CST))
                usleep(1000);
        snprintf(req, sizeof(req), "{\"command\":\"record\",\"pid\":%d}", tid);
        snprintf(want, sizeof(want), "\"pid\":%d", (int) getpid());
        rep = request(req, true);
        CHECK(reply_ok(rep) && strstr(rep, want) && last_record_pid == getpid(),
              "record of thread %d records its process %d: %s", tid, (int) getpid(), rep ? rep : "(none)");
        free(rep);
        pthread_cancel(th);
        pthread_join(th, NULL);

        rep = request("{\"command\": \"status\"", true);
        CHECK(rep && strstr(rep, "\"ok\":false") && strstr(rep, "malformed JSON"), "malformed JSON: %s",
              rep ? rep : "(none)");
        free(rep);
        rep = request("{\"command\": \"record\", \"pid\": 0}", true);
        CHECK(rep && strstr(rep, "'pid' must be a positive integer"), "bad pid: %s", rep ? rep : "(none)");
        free(rep);

        /* 100 KB: refused once 64 KiB are in, without waiting for the rest */
        size_t bigsz = 100000;
        char *big = malloc(bigsz + 1);
        memset(big, ' ', bigsz);
        big[bigsz] = '\0';
        memcpy(big, "{\"command\":\"status\"", 19);
        rep = request(big, true);
        CHECK(rep && strstr(rep, "request too large"), "a 100 KB request: %s", rep ? rep : "(none)");
        free(rep);
        free(big);

        /* a newline ends the request without a shutdown */
        int fd = connect_to(sock_path);
        (void) !write(fd, "{\"command\":\"status\"}\n", 21);
        rep = read_reply(fd, 5000, true);
        CHECK(reply_ok(rep), "a request ended by a newline, write side open: %s", rep ? rep : "(none)");
        free(rep);
        close(fd);

        /* a client that sends nothing */
        fd = connect_to(sock_path);
        t0 = now_ns();
        rep = read_reply(fd, 6000, true);
        double waited = (double) (now_ns() - t0) / 1e9;
        CHECK(rep && strstr(rep, "timed out") && waited > 1.5 && waited < 3.5,
              "a silent client gets a timeout reply after %.2f s: %s", waited, rep ? rep : "(none)");
        free(rep);
        close(fd);
        /* and one that sends half a request */
        fd = connect_to(sock_path);
        (void) !write(fd, "{\"command\":", 11);
        rep = read_reply(fd, 6000, true);
        CHECK(rep && strstr(rep, "timed out"), "half a request times out too: %s", rep ? rep : "(none)");
        free(rep);
        close(fd);

        /* 70 at once: 64 served, 6 told to come back */
        int fds[70], refused = 0, ok = 0;
        for (int i = 0; i < 70; i++)
                fds[i] = connect_to(sock_path);
        for (int i = 0; i < 50; i++)
                pump(5);
        CHECK(control_server_connections(S) == 64, "64 connections served (%zu)", control_server_connections(S));
        for (int i = 0; i < 70; i++) {
                struct pollfd p = { .fd = fds[i], .events = POLLIN };
                if (poll(&p, 1, 0) == 1) {
                        char b[256] = "";
                        ssize_t k = recv(fds[i], b, sizeof(b) - 1, MSG_DONTWAIT);
                        if (k > 0 && strstr(b, "too many connections"))
                                refused++;
                        close(fds[i]);
                        fds[i] = -1;
                }
        }
        CHECK(refused == 6, "6 connections refused with an error reply (%d)", refused);
        for (int i = 0; i < 70; i++)
                if (fds[i] >= 0) {
                        (void) !write(fds[i], "{\"command\":\"status\"}\n", 21);
                        rep = read_reply(fds[i], 5000, true);
                        ok += reply_ok(rep);
                        free(rep);
                        close(fds[i]);
                }
        CHECK(ok == 64, "the 64 got their replies (%d)", ok);
        for (int i = 0; i < 10; i++)
                pump(5);
        CHECK(control_server_connections(S) == 0, "no connection left (%zu)", control_server_connections(S));

        /* a reader that never reads a 10 MB reply */
        control_server_set_timeouts(S, 0, 1000000000ULL);
        max_dispatch_ns = 0;
        int stuck = connect_to(sock_path);
        (void) !write(stuck, "{\"command\":\"snapshot\",\"target\":\"big\"}\n", 39);
        for (int i = 0; i < 20; i++)
                pump(5);
        CHECK(control_server_connections(S) == 1, "the stuck reader is still being served");
        /* from here on the reply is built: what is left is writing it */
        max_dispatch_ns = 0;
        t0 = now_ns();
        rep = request("{\"command\":\"status\"}", true);
        CHECK(reply_ok(rep) && now_ns() - t0 < 500000000ULL, "others are served meanwhile (%.3f s)",
              (double) (now_ns() - t0) / 1e9);
        free(rep);
        CHECK(max_dispatch_ns < 50000000ULL, "no dispatch took long (max %.3f s)", (double) max_dispatch_ns / 1e9);
        for (int i = 0; i < 200 && control_server_connections(S); i++)
                pump(10);
        CHECK(control_server_connections(S) == 0, "a reader that does not read is dropped after the write timeout");
        close(stuck);
        control_server_set_timeouts(S, 0, CONTROL_WRITE_TIMEOUT_NS);

        /* a client that gives up while its recording runs */
        fd = connect_to(sock_path);
        snprintf(req, sizeof(req), "{\"command\":\"record\",\"pid\":%d}\n", (int) getpid());
        (void) !write(fd, req, strlen(req));
        for (int i = 0; i < 5; i++)
                pump(5);
        close(fd);
        peer_gone_seen = false;
        for (int i = 0; i < 60 && n_pending; i++)
                pump(10);
        CHECK(peer_gone_seen && n_pending == 0, "a client that went away: the handler sees it, its reply is dropped");
        for (int i = 0; i < 5; i++)
                pump(5);
        CHECK(control_server_connections(S) == 0, "and its connection is gone");

        CHECK(run_as(0, 0, 0, NULL, child_other_pidns, NULL) == 0,
              "record from another PID namespace is refused, root or not");

        /* (b) nobody, in no group */
        pid_t self = getpid();
        CHECK(run_as(NOBODY, NOBODY, 0, NULL, child_status_refused, NULL) == 0,
              "nobody: status and snapshot refused");
        CHECK(run_as(NOBODY, NOBODY, 0, NULL, child_record_own, NULL) == 0,
              "nobody: record of its own process accepted, the handler sees the pid");
        CHECK(run_as(NOBODY, NOBODY, 0, NULL, child_record_root, &self) == 0,
              "nobody: record of a root process refused");
        CHECK(run_as(NOBODY, NOBODY, 0, NULL, child_record_undumpable, NULL) == 0,
              "nobody: record of a non-dumpable process of its own refused");
        CHECK(run_as(NOBODY, NOBODY, 0, NULL, child_record_gone, NULL) == 0,
              "nobody: record of a process that exited refused");
        /* (c) in the group: supplementary (SO_PEERGROUPS) or primary (SO_PEERCRED) */
        CHECK(run_as(NOBODY, NOBODY, 1, &group_gid, child_status_ok, NULL) == 0,
              "a member by supplementary group: status ok");
        CHECK(run_as(NOBODY, group_gid, 0, NULL, child_status_ok, NULL) == 0, "a member by primary group: status ok");

        S = control_server_free(S);
        CHECK(lstat(sock_path, &st) < 0 && errno == ENOENT, "the socket file is removed with the server");

        /* a stale socket (a killed daemon) is replaced; a file that is not
         * a socket is left alone */
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, sock_path);
        int stale = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK(bind(stale, (struct sockaddr *) &sa, sizeof(sa)) == 0, "a stale socket file");
        close(stale);
        r = control_server_new(sock_path, NULL, &handlers, NULL, &S);
        CHECK(r == 0, "a stale socket is replaced: %s", strerror(-r));
        rep = request("{\"command\":\"status\"}", true);
        CHECK(reply_ok(rep), "and the new server answers");
        free(rep);
        S = control_server_free(S);
        int plain = open(sock_path, O_CREAT | O_WRONLY, 0644);
        close(plain);
        r = control_server_new(sock_path, NULL, &handlers, NULL, &S);
        CHECK(r == -EEXIST && lstat(sock_path, &st) == 0 && S_ISREG(st.st_mode),
              "a regular file at the path is not removed: %s", strerror(-r));
        unlink(sock_path);

        /* no group configured: non-root is told so */
        r = control_server_new(sock_path, "cprof-no-such-group", &handlers, NULL, &S);
        CHECK(r == 0, "a server whose group does not exist");
        snprintf(group_name, sizeof(group_name), "cprof-no-such-group");
        CHECK(run_as(NOBODY, NOBODY, 0, NULL, child_status_refused, NULL) == 0,
              "with a missing group, nobody is still refused");
        S = control_server_free(S);
        snprintf(group_name, sizeof(group_name), "cprofct%d", (int) getpid());
        rmdir(dir);
}

int main(void) {
        test_parse();
        if (geteuid() != 0) {
                CHECK(false, "the server tests need root (they make a group and change uid)");
                return tap_done();
        }
        signal(SIGPIPE, SIG_IGN);
        test_server();
        remove_group();
        group_name[0] = '\0';
        return tap_done();
}
