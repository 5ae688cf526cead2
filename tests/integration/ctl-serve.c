/* A stand-in cprofd for `cprof ctl` tests: the real control server
 * (src/daemon/control.c) with canned answers. Usage: ctl-serve SOCKET
 * [GROUP]. Prints "ready" once listening; runs until SIGTERM. status
 * answers one target "api"; snapshot answers two stacks of the target;
 * record answers, after 100 ms, one stack that names the pid it was
 * handed. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "daemon/control.h"
#include "util/time-util.h"

static volatile sig_atomic_t stop;
static struct control_conn *pending;
static pid_t pending_pid;
static uint64_t pending_due;

static void on_term(int sig) {
        (void) sig;
        stop = 1;
}

static void on_request(void *userdata, struct control_conn *c, const struct control_request *req,
                       const struct control_peer *peer, int pidfd) {
        (void) userdata;
        (void) pidfd;
        char folded[600];
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_true());
        switch (req->command) {
        case CONTROL_STATUS:
                json_object_set_new(o, "targets", json_pack("[{s:s,s:i,s:i,s:i,s:i}]", "name", "api",
                                                            "processes", 1, "samples", 10, "lost", 0,
                                                            "windows", 2));
                json_object_set_new(o, "samples", json_integer(10));
                json_object_set_new(o, "peer_uid", json_integer(peer->uid));
                control_reply(c, o);
                return;
        case CONTROL_SNAPSHOT:
                snprintf(folded, sizeof(folded), "%s;main;work 7\n%s;main;idle 3\n", req->target, req->target);
                json_object_set_new(o, "folded", json_string(folded));
                control_reply(c, o);
                return;
        case CONTROL_RECORD:
                json_decref(o);
                if (pending) {
                        control_reply_error(c, "busy");
                        return;
                }
                pending = c;
                pending_pid = req->pid;
                pending_due = now_ns() + 100000000ULL;
                return;
        }
}

int main(int argc, char **argv) {
        static const struct control_handlers h = { .request = on_request };
        struct control_server *s = NULL;

        if (argc < 2)
                return 2;
        signal(SIGTERM, on_term);
        signal(SIGPIPE, SIG_IGN);
        int r = control_server_new(argv[1], argc > 2 ? argv[2] : NULL, &h, NULL, &s);
        if (r < 0) {
                fprintf(stderr, "ctl-serve: %s\n", strerror(-r));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        while (!stop) {
                struct pollfd p = { .fd = control_server_fd(s), .events = POLLIN };
                (void) poll(&p, 1, 20);
                control_server_dispatch(s);
                if (pending && now_ns() >= pending_due) {
                        char folded[128];
                        snprintf(folded, sizeof(folded), "proc-%d;work 5\n", (int) pending_pid);
                        json_t *o = json_pack("{s:b,s:s,s:i}", "ok", 1, "folded", folded, "samples", 5);
                        struct control_conn *c = pending;
                        pending = NULL;
                        control_reply(c, o);
                }
        }
        control_server_free(s);
        return 0;
}
