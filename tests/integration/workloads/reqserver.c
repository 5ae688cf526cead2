/* reqserver: a thread-per-request server. A listener thread accepts TCP
 * connections on the loopback; each connection gets a new thread that
 * reads a request, works on it and answers, then exits. A client thread
 * in the same process keeps CLIENTS requests in flight.
 *
 * Expected frames (root first):
 *   reqserver;...;handle_request;request_work   most samples
 *
 * Usage: reqserver WORK_US CLIENTS SECONDS
 *   prints "reqserver: ready pid N", serves for SECONDS of wall time (0:
 *   until killed), then prints "reqserver: cpu S user U work W requests N"
 *   (the process's CPU seconds, the user-mode part of them, the handlers'
 *   CPU seconds inside request_work, the requests served) and exits 0.
 *   SIGUSR1 prints that line at once. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "common.h"

static uint64_t request_ns, duration_ns;
static int listen_fd;
static struct sockaddr_in addr;
static atomic_long requests;
static atomic_ullong work_ns; /* thread CPU time spent in request_work */

DEFINE_CPU_SPIN(request_work, 2862933555777941757ull)

__attribute__((noipa)) void *handle_request(void *arg) {
        int fd = (int) (intptr_t) arg;
        char buf[64];
        uint64_t r = 0;

        if (read(fd, buf, sizeof(buf)) > 0) {
                uint64_t t0 = thread_cpu_ns();
                r = request_work(request_ns);
                atomic_fetch_add(&work_ns, thread_cpu_ns() - t0);
                if (write(fd, "ok\n", 3) != 3)
                        r = 0;
                atomic_fetch_add(&requests, 1);
        }
        close(fd);
        KEEP_FRAME(r);
        return NULL;
}

static void *listener(void *arg) {
        pthread_attr_t attr;

        (void) arg;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 128 * 1024);
        for (;;) {
                pthread_t t;
                int fd = accept(listen_fd, NULL, NULL);
                if (fd < 0)
                        continue;
                if (pthread_create(&t, &attr, handle_request, (void *) (intptr_t) fd) != 0)
                        close(fd);
        }
        return NULL;
}

/* one request after the other on a new connection each time */
static void *client(void *arg) {
        (void) arg;
        for (;;) {
                char buf[8];
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        continue;
                if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) == 0 &&
                    write(fd, "GET\n", 4) == 4)
                        (void) !read(fd, buf, sizeof(buf));
                close(fd);
        }
        return NULL;
}

static void print_cpu(void) {
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        double user = (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6;
        double sys = (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
        printf("reqserver: cpu %.4f user %.4f work %.4f requests %ld\n", user + sys, user,
               (double) atomic_load(&work_ns) / 1e9, (long) atomic_load(&requests));
        fflush(stdout);
}

int main(int argc, char **argv) {
        socklen_t len = sizeof(addr);
        pthread_t t;
        long clients;

        if (argc != 4) {
                fprintf(stderr, "usage: reqserver WORK_US CLIENTS SECONDS\n");
                return 2;
        }
        request_ns = (uint64_t) atol(argv[1]) * 1000u;
        clients = atol(argv[2]);
        duration_ns = parse_seconds_ns(argv[3]);
        if (request_ns == 0 || clients < 1 || clients > 64) {
                fprintf(stderr, "bad arguments\n");
                return 2;
        }
        listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        addr = (struct sockaddr_in) { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 ||
            listen(listen_fd, 128) < 0 || getsockname(listen_fd, (struct sockaddr *) &addr, &len) < 0) {
                perror("listen");
                return 1;
        }
        /* only the main thread takes SIGUSR1, in sigtimedwait */
        sigset_t usr1;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &usr1, NULL);
        if (pthread_create(&t, NULL, listener, NULL) != 0)
                return 1;
        for (long i = 0; i < clients; i++)
                if (pthread_create(&t, NULL, client, NULL) != 0)
                        return 1;
        print_ready("reqserver");
        uint64_t end = wall_ns() + duration_ns;
        for (uint64_t now = wall_ns(); duration_ns == 0 || now < end; now = wall_ns()) {
                uint64_t left = duration_ns == 0 ? 3600000000000ull : end - now;
                struct timespec ts = { .tv_sec = (time_t) (left / 1000000000u),
                                       .tv_nsec = (long) (left % 1000000000u) };
                if (sigtimedwait(&usr1, NULL, &ts) == SIGUSR1)
                        print_cpu();
        }
        print_cpu();
        _exit(0);
}
