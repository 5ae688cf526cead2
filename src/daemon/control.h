/* cprofd's control socket: the server side of `cprof ctl`.
 *
 * A SOCK_STREAM unix socket; one request and one reply per connection
 * (control-protocol.h). Everything is non-blocking and driven by the
 * daemon's event loop through one epoll fd (control_server_fd), which also
 * holds the server's own timer (a timerfd), so the daemon needs no timeout
 * of its own for it: when the fd is readable, call control_server_dispatch().
 *
 * Authorisation is from the peer's credentials at connect time
 * (SO_PEERCRED, SO_PEERGROUPS): root and members of the group (primary or
 * supplementary) are privileged and may use every command; anyone else may
 * only `record` a process they could ptrace themselves (every uid and gid
 * of the target equal to theirs and the target dumpable). That is why the
 * socket is 0666, not 0660: a user outside the group must be able to
 * connect to be told no in JSON, or to record their own process; the group
 * still owns the socket file. A `record` from a client in another PID
 * namespace is refused for everyone: its PIDs are not the daemon's.
 *
 * Limits, so that no client can stall the daemon or grow its memory: a
 * request must arrive whole within 2 s (else a timeout error reply), at
 * most 64 connections are served (the 65th is answered with an error and
 * closed), a reply is written as the peer reads it and a peer that reads
 * nothing for 30 s is dropped.
 *
 * Lifetimes: a connection (struct control_conn) handed to the handler
 * belongs to the handler until it calls control_reply() or
 * control_reply_error() on it, exactly once; it stays valid until then even
 * when the client has gone away (the reply is then dropped: see
 * control_conn_peer_gone). control_server_free() frees connections still
 * waiting for a reply too: the handler must not use them afterwards. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/control-protocol.h"

#define CONTROL_MAX_CONNECTIONS 64
#define CONTROL_REQUEST_TIMEOUT_NS (2ULL * 1000000000ULL)
#define CONTROL_WRITE_TIMEOUT_NS (30ULL * 1000000000ULL)

struct control_peer {
        uid_t uid;       /* effective ids of the client when it connected */
        gid_t gid;
        pid_t pid;       /* 0 when the client is in a PID namespace we cannot see */
        bool privileged; /* root or in the group */
};

struct control_conn;

struct control_handlers {
        /* An authorised, well-formed request. Reply now or later (RECORD) with control_reply*().
         * For RECORD by an unprivileged peer the server has already checked ptrace-like access to
         * req->pid and holds a pidfd; pidfd stays valid until the reply. For RECORD by a privileged
         * peer the pidfd is taken too (no access check); for other commands it is -1. req->pid is a
         * process id: a thread id in the request is replaced by its process's. req and peer stay
         * valid until the reply too. */
        void (*request)(void *userdata, struct control_conn *c, const struct control_request *req,
                        const struct control_peer *peer, int pidfd);
};

struct control_server;

/* Binds path (0666, see above; group `group` when that group exists; group NULL: none). A socket
 * file already at path is removed only when nothing answers on it: -EADDRINUSE when another
 * server listens there, -EEXIST when path is not a socket. */
int control_server_new(const char *path, const char *group, const struct control_handlers *h,
                       void *userdata, struct control_server **ret);
/* One fd (epoll) to wait on for readability; then call control_server_dispatch(). */
int control_server_fd(const struct control_server *s);
/* Accepts, reads, parses, authorises, times out slow clients (2 s to send a request), writes
 * replies without blocking. Never blocks. -errno only when the server itself failed (its epoll fd);
 * what goes wrong with one client ends that client only. */
int control_server_dispatch(struct control_server *s);
/* Takes the reference of reply (NULL counts as out of memory: the client gets an error); the
 * connection is closed once it is sent. The reply should end up UTF-8 valid JSON: build strings
 * with json_stringn() from valid UTF-8. 0, or -EINVAL when c has had its reply already. */
int control_reply(struct control_conn *c, json_t *reply);
/* {"ok": false, "error": "..."}: fmt is one lowercase line; non-ASCII and control characters
 * become '?'. */
int control_reply_error(struct control_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Connections being served or waiting for a reply. */
size_t control_server_connections(const struct control_server *s);
struct control_server *control_server_free(struct control_server *s);

/* ADDED to the interface: */

/* Whether the client of a connection waiting for a reply has closed its end (it gave up: an
 * on-demand recording for it may stop early; the reply is still required, and dropped). */
bool control_conn_peer_gone(const struct control_conn *c);
/* Replaces the two client timeouts (0 keeps one): for tests, which cannot wait 30 s. */
void control_server_set_timeouts(struct control_server *s, uint64_t request_ns, uint64_t write_ns);
