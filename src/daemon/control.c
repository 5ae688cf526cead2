/* cprofd's control socket server: accepting, reading one request, deciding
 * who may ask for what, and writing one reply, all without blocking. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/control.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/time-util.h"
#include "util/vec.h"

/* how long accept() rests after running out of file descriptors, so a
 * listening socket that stays readable does not spin the daemon */
#define ACCEPT_PAUSE_NS (100ULL * 1000000ULL)
#define SOCKET_MODE 0666

enum conn_state {
        CONN_READING, /* waiting for the request */
        CONN_WAITING, /* the handler has it */
        CONN_WRITING, /* the reply is being sent */
        CONN_DEAD,    /* closed, freed at the end of dispatch */
};

struct control_conn {
        struct control_server *server;
        struct control_conn *prev, *next; /* in server->conns, or server->dead */
        int fd;
        enum conn_state state;
        bool peer_gone;
        uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0: none */
        struct control_peer peer;
        struct control_request req;
        int pidfd;
        char *in;
        size_t in_len, in_cap;
        char *out;
        size_t out_len, out_pos;
};

struct control_server {
        int epoll_fd, listen_fd, timer_fd;
        char *path;
        char *group;           /* the configured name, for messages; NULL: none */
        bool have_gid;
        gid_t gid;
        dev_t sock_dev;        /* the socket file we bound, removed only if still ours */
        ino_t sock_ino;
        struct control_handlers handlers;
        void *userdata;
        struct control_conn *conns, *dead;
        size_t n_conns;
        bool dispatching;
        uint64_t accept_paused_until;
        uint64_t request_timeout_ns, write_timeout_ns;
};

/* epoll tags for the two fds that are not connections */
static char tag_listen, tag_timer;

static void list_remove(struct control_conn **head, struct control_conn *c) {
        if (c->prev)
                c->prev->next = c->next;
        else
                *head = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
}

static void list_push(struct control_conn **head, struct control_conn *c) {
        c->prev = NULL;
        c->next = *head;
        if (*head)
                (*head)->prev = c;
        *head = c;
}

static void conn_free(struct control_conn *c) {
        if (c->fd >= 0)
                close(c->fd);
        if (c->pidfd >= 0)
                close(c->pidfd);
        free(c->in);
        free(c->out);
        free(c);
}

/* Reads and drops what the client sent beyond its request, so that
 * closing does not turn the reply it is reading into ECONNRESET (a unix
 * socket closed with unread data resets its peer). Bounded: the client
 * may still be writing. */
static void drain_input(int fd) {
        char buf[4096];
        for (int i = 0; i < 16; i++)
                if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
                        break;
}

static void conn_close(struct control_conn *c) {
        struct control_server *s = c->server;

        if (c->state == CONN_DEAD)
                return;
        if (c->fd >= 0) {
                drain_input(c->fd);
                (void) epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
        }
        list_remove(&s->conns, c);
        s->n_conns--;
        c->state = CONN_DEAD;
        /* an event for it may still be in the batch being dispatched */
        if (s->dispatching)
                list_push(&s->dead, c);
        else
                conn_free(c);
}

static int conn_watch(struct control_conn *c, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = c };
        return epoll_ctl(c->server->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

static void rearm_timer(struct control_server *s) {
        uint64_t next = s->accept_paused_until;
        for (struct control_conn *c = s->conns; c; c = c->next)
                if (c->deadline_ns && (!next || c->deadline_ns < next))
                        next = c->deadline_ns;
        struct itimerspec its = {};
        if (next) {
                its.it_value.tv_sec = (time_t) (next / 1000000000ULL);
                its.it_value.tv_nsec = (long) (next % 1000000000ULL);
        }
        /* an absolute time already past fires at once: never a missed deadline */
        if (timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
                log_debug("control: cannot arm the timer: %s", strerror(errno));
}

/* Writes what the socket takes now. */
static void conn_write(struct control_conn *c) {
        while (c->out_pos < c->out_len) {
                ssize_t k = send(c->fd, c->out + c->out_pos, c->out_len - c->out_pos, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                if (conn_watch(c, EPOLLOUT) < 0)
                                        conn_close(c);
                                return;
                        }
                        log_debug("control: client %d went away before its reply: %s", c->peer.pid, strerror(errno));
                        conn_close(c);
                        return;
                }
                c->out_pos += (size_t) k;
                /* the 30 s are for a reader that does not read, not for a big reply */
                c->deadline_ns = now_ns() + c->server->write_timeout_ns;
        }
        conn_close(c);
}

struct dump_buf {
        VEC(char) v;
};

static int dump_cb(const char *buf, size_t size, void *data) {
        struct dump_buf *d = data;
        if (vec_reserve(&d->v, d->v.n + size + 1) < 0)
                return -1;
        memcpy(d->v.v + d->v.n, buf, size);
        d->v.n += size;
        return 0;
}

static int conn_send_json(struct control_conn *c, json_t *reply) {
        struct dump_buf d = {};

        if (!reply || json_dump_callback(reply, dump_cb, &d, JSON_COMPACT) < 0 ||
            vec_reserve(&d.v, d.v.n + 1) < 0) {
                vec_free(&d.v);
                return -ENOMEM;
        }
        d.v.v[d.v.n++] = '\n'; /* one line: a client may read up to the newline */
        free(c->out);
        c->out = d.v.v;
        c->out_len = d.v.n;
        c->out_pos = 0;
        return 0;
}

/* Fallback when even building the reply failed: a fixed text. */
static const char reply_oom[] = "{\"ok\":false,\"error\":\"out of memory\"}\n";

static int conn_start_reply(struct control_conn *c, json_t *reply) {
        struct control_server *s = c->server;

        if (conn_send_json(c, reply) < 0) {
                free(c->out);
                c->out = strdup(reply_oom);
                c->out_len = c->out ? strlen(reply_oom) : 0;
                c->out_pos = 0;
        }
        c->state = CONN_WRITING;
        c->deadline_ns = now_ns() + s->write_timeout_ns;
        if (c->pidfd >= 0) {
                close(c->pidfd);
                c->pidfd = -1;
        }
        if (c->fd < 0 || !c->out) {
                conn_close(c);
                return 0;
        }
        conn_write(c);
        return 0;
}

int control_reply(struct control_conn *c, json_t *reply) {
        if (c->state != CONN_WAITING && c->state != CONN_READING) {
                json_decref(reply);
                return -EINVAL;
        }
        struct control_server *s = c->server;
        int r = conn_start_reply(c, reply);
        json_decref(reply);
        if (!s->dispatching)
                rearm_timer(s);
        return r;
}

static json_t *error_reply_new(const char *msg) {
        json_t *o = json_object();
        if (!o)
                return NULL;
        if (json_object_set_new(o, "ok", json_false()) < 0 ||
            json_object_set_new(o, "error", json_string(msg)) < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static void sanitize_line(char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
                        *s = '?';
}

int control_reply_error(struct control_conn *c, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        sanitize_line(msg);
        return control_reply(c, error_reply_new(msg));
}

bool control_conn_peer_gone(const struct control_conn *c) {
        return c->peer_gone;
}

/* ---- authorisation ---- */

static int read_peer(struct control_server *s, int fd, struct control_peer *ret) {
        struct ucred uc;
        socklen_t len = sizeof(uc);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
                return -errno;
        *ret = (struct control_peer) { .uid = uc.uid, .gid = uc.gid, .pid = uc.pid };
        if (uc.uid == 0) {
                ret->privileged = true;
                return 0;
        }
        if (!s->have_gid)
                return 0;
        if (uc.gid == s->gid) {
                ret->privileged = true;
                return 0;
        }
        /* SO_PEERCRED has the primary group only: the supplementary ones
         * (how users are usually put in a group) come from SO_PEERGROUPS */
        _cleanup_free_ gid_t *groups = NULL;
        len = 64 * sizeof(gid_t);
        for (int attempt = 0; attempt < 4; attempt++) {
                free(groups);
                groups = malloc(MAX(len, sizeof(gid_t)));
                if (!groups)
                        return -ENOMEM;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
                        break;
                if (errno != ERANGE)
                        return -errno;
                /* len now says how much is needed */
                if (attempt == 3)
                        return -ERANGE;
        }
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == s->gid) {
                        ret->privileged = true;
                        break;
                }
        return 0;
}

/* "Uid:\tR\tE\tS\tFS" (or Gid:) from /proc/PID/status: 1 when all four
 * equal want, 0 when one differs, -errno. */
static int status_ids_equal(const char *status, const char *field, unsigned want) {
        const char *p = strstr(status, field);
        unsigned v[4];

        if (!p || sscanf(p + strlen(field), "%u %u %u %u", &v[0], &v[1], &v[2], &v[3]) != 4)
                return -EBADMSG;
        for (int i = 0; i < 4; i++)
                if (v[i] != want)
                        return 0;
        return 1;
}

/* Reads PID/status; ret_st (when not NULL) gets the file's stat. */
static int read_status(int dir_fd, char *buf, size_t size, struct stat *ret_st) {
        _cleanup_close_ int fd = openat(dir_fd, "status", O_RDONLY | O_CLOEXEC);
        size_t n = 0;

        if (fd < 0)
                return -errno;
        if (ret_st && fstat(fd, ret_st) < 0)
                return -errno;
        while (n + 1 < size) {
                ssize_t k = read(fd, buf + n, size - 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = '\0';
        return 0;
}

/* The Tgid of a thread id, for a request that named a thread. */
static int thread_group_of(pid_t tid, pid_t *ret) {
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/%d", (int) tid);
        _cleanup_close_ int dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        int r = read_status(dir_fd, buf, sizeof(buf), NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        const char *p = strstr(buf, "\nTgid:");
        int tgid;
        if (!p || sscanf(p + 6, "%d", &tgid) != 1 || tgid <= 0)
                return -EBADMSG;
        *ret = tgid;
        return 0;
}

/* A pidfd for the process req->pid names; a thread id becomes its
 * process's id. Taken before any check, so that the checks and the
 * recording are about one process even if the pid is reused meanwhile. */
static int open_pidfd(struct control_request *req, int *ret) {
        int fd = pidfd_open(req->pid, 0);
        /* EINVAL (or ENOENT, by kernel version) for a thread id */
        if (fd < 0 && (errno == EINVAL || errno == ENOENT)) {
                /* not a thread-group leader: the recording is per process */
                pid_t tgid;
                int r = thread_group_of(req->pid, &tgid);
                if (r < 0)
                        return r;
                fd = pidfd_open(tgid, 0);
                if (fd >= 0)
                        req->pid = tgid;
        }
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

/* Whether peer could ptrace the process of pidfd, by the kernel's rule for
 * a caller without CAP_SYS_PTRACE (ptrace_may_access): the target's real,
 * effective, saved and fs uids all equal the caller's uid, the same for
 * the gids, and the target is dumpable.
 *
 * /proc/PID/status has the ids but not dumpability. That comes from the
 * owner of the files in /proc/PID: the kernel (task_dump_owner) makes them
 * root's when the task is not dumpable (a setuid or setgid program, or
 * prctl(PR_SET_DUMPABLE, 0)), else the task's euid's. Not the directory
 * /proc/PID itself: a 0555 directory is exempt and always shows the euid
 * (procps stats it for that), so stat(/proc/PID) cannot tell. The owner
 * of PID/status is set when it is looked up (pid_revalidate recomputes it
 * on every lookup), so the fstat() of status as opened here is current
 * and about the same task whose ids are read from it.
 *
 * The pidfd ties it together: /proc/PID is opened after the pidfd, and a
 * pidfd that still reaches a live process after the checks proves PID was
 * not reused in between (a pid number is not reused before its process is
 * reaped, and then signalling the pidfd fails). PIDFD_GET_INFO (6.13+)
 * would give the ids through the pidfd itself, but neither Debian 12's
 * headers nor older kernels have it, and it does not report dumpability
 * before 6.16. */
static int check_access(struct control_conn *c, int pidfd) {
        const struct control_peer *peer = &c->peer;
        pid_t pid = c->req.pid;
        char path[64], buf[4096];
        struct stat st;
        int r;

        snprintf(path, sizeof(path), "/proc/%d", (int) pid);
        _cleanup_close_ int dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return control_reply_error(c, "no process with PID %d", (int) pid), -ESRCH;
        r = read_status(dir_fd, buf, sizeof(buf), &st);
        if (r < 0)
                return control_reply_error(c, "no process with PID %d", (int) pid), -ESRCH;
        int uid_ok = status_ids_equal(buf, "\nUid:", peer->uid);
        int gid_ok = status_ids_equal(buf, "\nGid:", peer->gid);
        if (uid_ok < 0 || gid_ok < 0)
                return control_reply_error(c, "cannot read the credentials of process %d", (int) pid), -EBADMSG;
        if (!uid_ok || !gid_ok)
                return control_reply_error(c, "permission denied: process %d belongs to another user",
                                           (int) pid), -EPERM;
        if (st.st_uid != peer->uid)
                return control_reply_error(c, "permission denied: process %d is not dumpable (a setuid or "
                                           "setgid program, or it called prctl(PR_SET_DUMPABLE, 0))",
                                           (int) pid), -EPERM;
        if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0)
                return control_reply_error(c, "no process with PID %d", (int) pid), -ESRCH;
        return 0;
}

/* A PID in a request means the process of that number in the client's
 * PID namespace: a client in a container would name another process than
 * the one cprofd sees under that number. SO_PEERCRED gives pid 0 for a
 * client in a namespace that cannot be seen from ours. A client that has
 * exited meanwhile is let through: its reply goes nowhere. */
static bool same_pid_namespace(pid_t peer_pid) {
        struct stat ours, theirs;
        char path[64];

        if (peer_pid <= 0)
                return false;
        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int) peer_pid);
        if (stat("/proc/self/ns/pid", &ours) < 0 || stat(path, &theirs) < 0)
                return true;
        return ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
}

static void conn_request(struct control_conn *c) {
        struct control_server *s = c->server;
        char err[256];
        int r;

        c->deadline_ns = 0;
        r = control_request_parse(c->in, c->in_len, &c->req, err, sizeof(err));
        free(c->in);
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        if (r == -ENOMEM) {
                control_reply_error(c, "out of memory");
                return;
        }
        if (r < 0) {
                log_debug("control: bad request from pid %d: %s", c->peer.pid, err);
                control_reply_error(c, "%s", err);
                return;
        }
        if (c->req.command != CONTROL_RECORD && !c->peer.privileged) {
                log_debug("control: %s refused to uid %u", control_command_name(c->req.command), c->peer.uid);
                if (s->group)
                        control_reply_error(c, "permission denied: not root and not in group '%s'", s->group);
                else
                        control_reply_error(c, "permission denied: not root");
                return;
        }
        if (c->req.command == CONTROL_RECORD) {
                int pidfd = -1;
                if (!same_pid_namespace(c->peer.pid)) {
                        control_reply_error(c, "the client is in another PID namespace: its PIDs are not "
                                            "cprofd's (run cprof ctl on the host)");
                        return;
                }
                r = open_pidfd(&c->req, &pidfd);
                if (r == -ESRCH || r == -ENOENT) {
                        control_reply_error(c, "no process with PID %d", (int) c->req.pid);
                        return;
                }
                if (r < 0) {
                        control_reply_error(c, "cannot open process %d: %s", (int) c->req.pid, strerror(-r));
                        return;
                }
                c->pidfd = pidfd;
                if (!c->peer.privileged && check_access(c, pidfd) < 0) {
                        log_debug("control: record of %d refused to uid %u", (int) c->req.pid, c->peer.uid);
                        return;
                }
        }
        /* only a full hang-up matters now (EPOLLHUP and EPOLLERR are always
         * reported): the client's shutdown of its write side is normal */
        c->state = CONN_WAITING;
        if (conn_watch(c, 0) < 0) {
                conn_close(c);
                return;
        }
        s->handlers.request(s->userdata, c, &c->req, &c->peer, c->pidfd);
}

/* Reads what is there; a request ends at a newline or when the client
 * shuts down its write side. */
static void conn_read(struct control_conn *c) {
        for (;;) {
                if (c->in_len == c->in_cap) {
                        if (c->in_cap > CONTROL_REQUEST_MAX) {
                                control_reply_error(c, "request too large: more than %u bytes",
                                                    CONTROL_REQUEST_MAX);
                                return;
                        }
                        size_t ncap = c->in_cap ? MIN(c->in_cap * 2, CONTROL_REQUEST_MAX + 1) : 4096;
                        char *n = realloc(c->in, ncap);
                        if (!n) {
                                control_reply_error(c, "out of memory");
                                return;
                        }
                        c->in = n;
                        c->in_cap = ncap;
                }
                ssize_t k = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        log_debug("control: reading a request: %s", strerror(errno));
                        conn_close(c);
                        return;
                }
                if (k == 0) {
                        conn_request(c);
                        return;
                }
                char *nl = memchr(c->in + c->in_len, '\n', (size_t) k);
                c->in_len += (size_t) k;
                if (nl) {
                        c->in_len = (size_t) (nl - c->in) + 1;
                        if (c->in_len > CONTROL_REQUEST_MAX + 1) {
                                control_reply_error(c, "request too large: more than %u bytes",
                                                    CONTROL_REQUEST_MAX);
                                return;
                        }
                        conn_request(c);
                        return;
                }
        }
}

static void conn_event(struct control_conn *c, uint32_t events) {
        switch (c->state) {
        case CONN_READING:
                conn_read(c);
                break;
        case CONN_WAITING:
                if (events & (EPOLLHUP | EPOLLERR)) {
                        /* keep the connection for the handler; stop watching */
                        c->peer_gone = true;
                        (void) epoll_ctl(c->server->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
                        close(c->fd);
                        c->fd = -1;
                }
                break;
        case CONN_WRITING:
                if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                        conn_write(c);
                break;
        case CONN_DEAD:
                break;
        }
}

static void refuse_busy(int fd) {
        char msg[128];
        int n = snprintf(msg, sizeof(msg), "{\"ok\":false,\"error\":\"too many connections (%d): try again "
                         "later\"}\n", CONTROL_MAX_CONNECTIONS);
        /* a fresh socket's buffer takes this short line whole */
        (void) send(fd, msg, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL);
        drain_input(fd);
        close(fd);
}

static void do_accept(struct control_server *s) {
        for (;;) {
                int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                log_debug("control: cannot accept, pausing: %s", strerror(errno));
                                struct epoll_event ev = { .events = 0, .data.ptr = &tag_listen };
                                (void) epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev);
                                s->accept_paused_until = now_ns() + ACCEPT_PAUSE_NS;
                        }
                        return;
                }
                if (s->n_conns >= CONTROL_MAX_CONNECTIONS) {
                        refuse_busy(fd);
                        continue;
                }
                struct control_conn *c = calloc(1, sizeof(*c));
                if (!c) {
                        close(fd);
                        continue;
                }
                c->server = s;
                c->fd = fd;
                c->pidfd = -1;
                c->state = CONN_READING;
                int r = read_peer(s, fd, &c->peer);
                struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
                if (r < 0 || epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        log_debug("control: cannot take a connection: %s", strerror(r < 0 ? -r : errno));
                        conn_free(c);
                        continue;
                }
                c->deadline_ns = now_ns() + s->request_timeout_ns;
                list_push(&s->conns, c);
                s->n_conns++;
        }
}

static void handle_deadlines(struct control_server *s) {
        uint64_t now = now_ns();

        if (s->accept_paused_until && now >= s->accept_paused_until) {
                s->accept_paused_until = 0;
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_listen };
                (void) epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev);
        }
        for (struct control_conn *c = s->conns, *next; c; c = next) {
                next = c->next;
                if (!c->deadline_ns || now < c->deadline_ns)
                        continue;
                if (c->state == CONN_READING) {
                        log_debug("control: pid %d sent no complete request in time", c->peer.pid);
                        control_reply_error(c, "timed out: no complete request within %llu ms",
                                            (unsigned long long) (s->request_timeout_ns / 1000000ULL));
                } else if (c->state == CONN_WRITING) {
                        log_debug("control: pid %d did not read its reply, dropped", c->peer.pid);
                        conn_close(c);
                }
        }
}

int control_server_dispatch(struct control_server *s) {
        struct epoll_event evs[32];
        int r = 0;

        s->dispatching = true;
        /* a bounded number of rounds: the daemon's loop comes back anyway
         * while the fd stays readable */
        for (int round = 0; round < 8; round++) {
                int n = epoll_wait(s->epoll_fd, evs, ELEMENTSOF(evs), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                for (int i = 0; i < n; i++) {
                        void *p = evs[i].data.ptr;
                        if (p == &tag_listen)
                                do_accept(s);
                        else if (p == &tag_timer) {
                                uint64_t ticks;
                                /* drained only; the deadlines are checked below. Not
                                 * (void) read(): with _FORTIFY_SOURCE (Debian's build
                                 * flags) that is still an unused-result error. */
                                if (read(s->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
                                        log_debug("control: cannot read the timer: %s", strerror(errno));
                        } else
                                conn_event(p, evs[i].events);
                }
        }
        handle_deadlines(s);
        while (s->dead) {
                struct control_conn *c = s->dead;
                list_remove(&s->dead, c);
                conn_free(c);
        }
        s->dispatching = false;
        rearm_timer(s);
        return r;
}

int control_server_fd(const struct control_server *s) {
        return s->epoll_fd;
}

size_t control_server_connections(const struct control_server *s) {
        return s->n_conns;
}

void control_server_set_timeouts(struct control_server *s, uint64_t request_ns, uint64_t write_ns) {
        if (request_ns)
                s->request_timeout_ns = request_ns;
        if (write_ns)
                s->write_timeout_ns = write_ns;
}

/* ---- setup ---- */

/* Removes a socket file nothing listens on (a daemon that was killed);
 * refuses to take over a live one or to remove what is not a socket. */
static int remove_stale_socket(const struct sockaddr_un *sa) {
        struct stat st;

        if (lstat(sa->sun_path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) sa, sizeof(*sa)) == 0 || errno == EAGAIN ||
            errno == EINPROGRESS)
                return -EADDRINUSE;
        if (errno != ECONNREFUSED)
                return -errno;
        if (unlink(sa->sun_path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int lookup_group(const char *name, gid_t *ret) {
        struct group gr, *res = NULL;
        long sz = sysconf(_SC_GETGR_R_SIZE_MAX);
        size_t bufsize = sz > 0 ? (size_t) sz : 16384;

        for (;;) {
                _cleanup_free_ char *buf = malloc(bufsize);
                if (!buf)
                        return -ENOMEM;
                int r = getgrnam_r(name, &gr, buf, bufsize, &res);
                if (r == ERANGE && bufsize < (1u << 20)) {
                        bufsize *= 2;
                        continue;
                }
                if (r != 0)
                        return -r;
                if (!res)
                        return -ENOENT;
                *ret = gr.gr_gid;
                return 0;
        }
}

DEFINE_FREEP(struct control_server, control_server_free)

int control_server_new(const char *path, const char *group, const struct control_handlers *h,
                       void *userdata, struct control_server **ret) {
        _cleanup_(control_server_freep) struct control_server *s = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        int r;

        if (!path || !*path || !h || !h->request)
                return -EINVAL;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->epoll_fd = s->listen_fd = s->timer_fd = -1;
        s->handlers = *h;
        s->userdata = userdata;
        s->request_timeout_ns = CONTROL_REQUEST_TIMEOUT_NS;
        s->write_timeout_ns = CONTROL_WRITE_TIMEOUT_NS;
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;
        if (group && *group) {
                s->group = strdup(group);
                if (!s->group)
                        return -ENOMEM;
                r = lookup_group(group, &s->gid);
                if (r == -ENOMEM)
                        return r;
                s->have_gid = r >= 0;
                if (r < 0)
                        log_warning("group '%s' does not exist: only root may ask for status and snapshots",
                                    group);
        }

        r = remove_stale_socket(&sa);
        if (r < 0)
                return r;
        s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->listen_fd < 0)
                return -errno;
        if (bind(s->listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        /* before listen(): until then nobody can connect, whatever the
         * umask made of the mode */
        if (lstat(path, &st) < 0)
                return -errno;
        s->sock_dev = st.st_dev;
        s->sock_ino = st.st_ino;
        if (fchmodat(AT_FDCWD, path, SOCKET_MODE, 0) < 0)
                return -errno;
        if (s->have_gid && fchownat(AT_FDCWD, path, (uid_t) -1, s->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (listen(s->listen_fd, 128) < 0)
                return -errno;

        s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (s->epoll_fd < 0)
                return -errno;
        s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (s->timer_fd < 0)
                return -errno;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_listen };
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0)
                return -errno;
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &tag_timer };
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->timer_fd, &ev) < 0)
                return -errno;
        *ret = TAKE_PTR(s);
        return 0;
}

struct control_server *control_server_free(struct control_server *s) {
        struct stat st;

        if (!s)
                return NULL;
        while (s->conns) {
                struct control_conn *c = s->conns;
                list_remove(&s->conns, c);
                conn_free(c);
        }
        while (s->dead) {
                struct control_conn *c = s->dead;
                list_remove(&s->dead, c);
                conn_free(c);
        }
        if (s->listen_fd >= 0) {
                /* a new daemon may have bound the path meanwhile: remove only our own */
                if (s->sock_ino && lstat(s->path, &st) == 0 && st.st_dev == s->sock_dev &&
                    st.st_ino == s->sock_ino)
                        (void) unlink(s->path);
                close(s->listen_fd);
        }
        if (s->timer_fd >= 0)
                close(s->timer_fd);
        if (s->epoll_fd >= 0)
                close(s->epoll_fd);
        free(s->path);
        free(s->group);
        free(s);
        return NULL;
}
