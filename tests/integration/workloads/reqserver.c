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
 *   until killed), then prints "reqserver: requests N" and exits 0. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "common.h"

static uint64_t work_ns, duration_ns;
static int listen_fd;
static struct sockaddr_in addr;
static atomic_long requests;

DEFINE_CPU_SPIN(request_work, 2862933555777941757ull)

__attribute__((noipa)) void *handle_request(void *arg) {
        int fd = (int) (intptr_t) arg;
        char buf[64];
        uint64_t r = 0;

        if (read(fd, buf, sizeof(buf)) > 0) {
                r = request_work(work_ns);
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

int main(int argc, char **argv) {
        socklen_t len = sizeof(addr);
        pthread_t t;
        long clients;

        if (argc != 4) {
                fprintf(stderr, "usage: reqserver WORK_US CLIENTS SECONDS\n");
                return 2;
        }
        work_ns = (uint64_t) atol(argv[1]) * 1000u;
        clients = atol(argv[2]);
        duration_ns = parse_seconds_ns(argv[3]);
        if (work_ns == 0 || clients < 1 || clients > 64) {
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
        if (pthread_create(&t, NULL, listener, NULL) != 0)
                return 1;
        for (long i = 0; i < clients; i++)
                if (pthread_create(&t, NULL, client, NULL) != 0)
                        return 1;
        print_ready("reqserver");
        if (duration_ns == 0)
                for (;;)
                        pause();
        struct timespec ts = { .tv_sec = (time_t) (duration_ns / 1000000000u),
                               .tv_nsec = (long) (duration_ns % 1000000000u) };
        nanosleep(&ts, NULL);
        printf("reqserver: requests %ld\n", (long) atomic_load(&requests));
        fflush(stdout);
        _exit(0);
}
