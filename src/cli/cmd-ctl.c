/* cprof ctl: ask a running cprofd through its control socket for its
 * status, a snapshot of a target's recent windows, or an on-demand
 * recording of one process. The daemon replies with folded text; the file
 * is written here, by the client, with the client's own permissions,
 * never by the daemon on a path the client chose. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "commands.h"
#include "input.h"
#include "cprof/output.h"
#include "cprof/profile.h"
#include "daemon/control-protocol.h"
#include "util/atomic-file.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/time-util.h"
#include "util/vec.h"

DEFINE_FREEP(struct profile, profile_free)

#define DEFAULT_SOCKET "/run/cprof/cprofd.sock"
/* how long to wait for a reply beyond the recording itself */
#define REPLY_SLACK_S 30
/* the biggest reply read: a snapshot of days of a busy target is large,
 * but not this large */
#define MAX_REPLY (1ULL << 30)

static const char *arg_socket = DEFAULT_SOCKET;
static bool arg_json, arg_quiet;
static const char *arg_output = "out.folded";
static const char *arg_format;
static struct control_request arg_req = {
        .last_ns = CONTROL_DEFAULT_LAST_NS,
        .duration_ns = CONTROL_DEFAULT_DURATION_NS,
        .frequency_hz = CONTROL_DEFAULT_FREQUENCY_HZ,
};

static void help(void) {
        printf("Usage: cprof ctl [--socket PATH] [--json] status\n"
               "       cprof ctl [--socket PATH] snapshot --target NAME [--last DURATION] [-o FILE]\n"
               "       cprof ctl [--socket PATH] record --pid PID [--duration SEC] [-F HZ] [-o FILE]\n\n"
               "Ask the running profiling daemon (cprofd) for its status, for a flame graph of a\n"
               "target's last minutes (merged from the windows it wrote), or for an on-demand\n"
               "recording of one process at its own frequency, beside the continuous one.\n\n"
               "Who may ask: root and members of the daemon's group (group = in cprofd.conf,\n"
               "'cprof' by default) for everything; any other user may record only processes\n"
               "of their own (every uid and gid theirs, not setuid: what ptrace would allow).\n\n"
               "Commands:\n"
               "  status                 targets, processes, samples, lost, the daemon's CPU,\n"
               "                         memory and disk use\n"
               "  snapshot               merge a target's recent windows into one profile\n"
               "  record                 record one process now and wait for the result\n\n"
               "Options:\n"
               "      --socket PATH      the daemon's socket (default %s)\n"
               "      --json             print the daemon's reply as it is (JSON) instead, and\n"
               "                         write no file\n"
               "  -t, --target NAME      snapshot: the target, as named in [target NAME]\n"
               "      --last DURATION    snapshot: how far back, e.g. 90s, 5m, 2h, 1d (default 5m,\n"
               "                         at most 30d)\n"
               "  -p, --pid PID          record: the process\n"
               "  -d, --duration SEC     record: how long (default 30; also 2m; 1 s to 1 h; the\n"
               "                         daemon may allow less)\n"
               "  -F, --frequency HZ     record: samples per second (default %d, at most %d)\n"
               "  -o, --output FILE      where to write (default out.folded, \"-\" for standard\n"
               "                         output); the extension picks the format: .folded .svg\n"
               "                         .pb.gz .speedscope.json .json\n"
               "      --format FMT       folded, svg, pprof, speedscope or json, whatever the name\n"
               "  -q, --quiet            no summary line\n"
               "  -h, --help             show this help\n\n"
               "Examples:\n"
               "  cprof ctl status\n"
               "  cprof ctl snapshot --target api --last 5m -o graph.svg\n"
               "  cprof ctl record --pid 1234 --duration 30 -F 199 -o out.folded\n",
               DEFAULT_SOCKET, CONTROL_DEFAULT_FREQUENCY_HZ, CONTROL_MAX_FREQUENCY_HZ);
}

/* "90", "2.5", "90s", "5m", "2h", "1d" as nanoseconds. */
static int parse_duration(const char *s, uint64_t *ret_ns) {
        size_t len = strlen(s);
        uint64_t mult = 1;
        if (len == 0)
                return -EINVAL;
        switch (s[len - 1]) {
        case 's':
                mult = 1;
                break;
        case 'm':
                mult = 60;
                break;
        case 'h':
                mult = 3600;
                break;
        case 'd':
                mult = 86400;
                break;
        default:
                return parse_seconds(s, ret_ns);
        }
        _cleanup_free_ char *num = strndup(s, len - 1);
        uint64_t ns;
        if (!num)
                return -ENOMEM;
        int r = parse_seconds(num, &ns);
        if (r < 0)
                return r;
        if (ns > UINT64_MAX / mult)
                return -ERANGE;
        *ret_ns = ns * mult;
        return 0;
}

enum {
        OPT_SOCKET = 0x100,
        OPT_JSON,
        OPT_LAST,
        OPT_FORMAT,
};

/* <0 error, 0 done (--help), >0 go on */
static int parse_argv(int argc, char **argv) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, OPT_SOCKET },
                { "json", no_argument, NULL, OPT_JSON },
                { "target", required_argument, NULL, 't' },
                { "last", required_argument, NULL, OPT_LAST },
                { "pid", required_argument, NULL, 'p' },
                { "duration", required_argument, NULL, 'd' },
                { "frequency", required_argument, NULL, 'F' },
                { "output", required_argument, NULL, 'o' },
                { "format", required_argument, NULL, OPT_FORMAT },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *target = NULL, *seen_snapshot = NULL, *seen_record = NULL, *seen_output = NULL;
        bool have_pid = false;
        int c;

        opterr = 0;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":t:p:d:F:o:qh", options, NULL)) >= 0) {
                switch (c) {
                case OPT_SOCKET:
                        if (!*optarg)
                                return log_error("invalid socket path ''"), -EINVAL;
                        arg_socket = optarg;
                        break;
                case OPT_JSON:
                        arg_json = true;
                        break;
                case 't':
                        target = optarg;
                        seen_snapshot = "--target";
                        break;
                case OPT_LAST: {
                        int r = parse_duration(optarg, &arg_req.last_ns);
                        if (r < 0 || arg_req.last_ns < CONTROL_MIN_LAST_NS || arg_req.last_ns > CONTROL_MAX_LAST_NS)
                                return log_error("invalid duration '%s': expected 1s to 30d, like 90s, 5m or 2h",
                                                 optarg), -EINVAL;
                        seen_snapshot = "--last";
                        break;
                }
                case 'p':
                        if (parse_pid(optarg, &arg_req.pid) < 0)
                                return log_error("invalid PID '%s'", optarg), -EINVAL;
                        have_pid = true;
                        seen_record = "--pid";
                        break;
                case 'd': {
                        int r = parse_duration(optarg, &arg_req.duration_ns);
                        if (r < 0 || arg_req.duration_ns < CONTROL_MIN_DURATION_NS ||
                            arg_req.duration_ns > CONTROL_MAX_DURATION_NS)
                                return log_error("invalid duration '%s': expected 1 to 3600 seconds, like 30 or 2m",
                                                 optarg), -EINVAL;
                        seen_record = "--duration";
                        break;
                }
                case 'F':
                        if (parse_uint(optarg, 1, CONTROL_MAX_FREQUENCY_HZ, &arg_req.frequency_hz) < 0)
                                return log_error("invalid frequency '%s': expected 1 to %d Hz", optarg,
                                                 CONTROL_MAX_FREQUENCY_HZ), -EINVAL;
                        seen_record = "--frequency";
                        break;
                case 'o':
                        if (!*optarg)
                                return log_error("invalid output file ''"), -EINVAL;
                        arg_output = optarg;
                        seen_output = "--output";
                        break;
                case OPT_FORMAT:
                        arg_format = optarg;
                        seen_output = "--format";
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return cli_bad_option(c, argv, "ctl", options);
                }
        }
        if (optind >= argc)
                return log_error("missing command: status, snapshot or record (see 'cprof ctl --help')"), -EINVAL;
        if (optind + 1 < argc)
                return log_error("unexpected argument '%s' (see 'cprof ctl --help')", argv[optind + 1]), -EINVAL;
        const char *cmd = argv[optind];
        if (strcmp(cmd, "status") == 0)
                arg_req.command = CONTROL_STATUS;
        else if (strcmp(cmd, "snapshot") == 0)
                arg_req.command = CONTROL_SNAPSHOT;
        else if (strcmp(cmd, "record") == 0)
                arg_req.command = CONTROL_RECORD;
        else {
                static const char *const names[] = { "status", "snapshot", "record" };
                const char *hint = cli_closest_name(cmd, strlen(cmd), names, ELEMENTSOF(names));
                if (hint)
                        return log_error("unknown command '%s', did you mean '%s'? (see 'cprof ctl --help')", cmd,
                                         hint), -EINVAL;
                return log_error("unknown command '%s': expected status, snapshot or record", cmd), -EINVAL;
        }

        if (arg_req.command != CONTROL_SNAPSHOT && seen_snapshot)
                return log_error("%s is for 'snapshot'", seen_snapshot), -EINVAL;
        if (arg_req.command != CONTROL_RECORD && seen_record)
                return log_error("%s is for 'record'", seen_record), -EINVAL;
        if ((arg_req.command == CONTROL_STATUS || arg_json) && seen_output)
                return log_error("%s is for 'snapshot' and 'record' without --json", seen_output), -EINVAL;
        if (arg_req.command == CONTROL_SNAPSHOT) {
                if (!target)
                        return log_error("snapshot needs --target NAME (see 'cprof ctl status' for the names)"),
                               -EINVAL;
                if (!control_target_name_valid(target, strlen(target)))
                        return log_error("invalid target name '%s': expected 1 to %d characters of "
                                         "A-Z a-z 0-9 . _ -", target, CONTROL_TARGET_NAME_MAX), -EINVAL;
                snprintf(arg_req.target, sizeof(arg_req.target), "%s", target);
        }
        if (arg_req.command == CONTROL_RECORD && !have_pid)
                return log_error("record needs --pid PID"), -EINVAL;
        return 1;
}

static int pick_format(enum output_format *ret) {
        if (arg_format) {
                if (output_format_from_name(arg_format, ret) < 0)
                        return log_error("invalid format '%s': expected folded, svg, pprof, speedscope or json",
                                         arg_format), -EINVAL;
                return 0;
        }
        if (strcmp(arg_output, "-") == 0) {
                *ret = OUTPUT_FORMAT_FOLDED;
                return 0;
        }
        if (output_format_from_path(arg_output, ret) < 0)
                return log_error("cannot tell the format of '%s' from its extension (use --format)", arg_output),
                       -EINVAL;
        return 0;
}

static int remaining_ms(uint64_t deadline) {
        uint64_t now = now_ns();
        if (now >= deadline)
                return 0;
        return (int) MIN((deadline - now) / 1000000ULL + 1, (uint64_t) INT32_MAX);
}

static int connect_socket(uint64_t timeout_ns) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(arg_socket) >= sizeof(sa.sun_path))
                return log_error("cannot connect to '%s': the path is too long", arg_socket), -ENAMETOOLONG;
        memcpy(sa.sun_path, arg_socket, strlen(arg_socket) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "cannot create a socket: %s", strerror(errno));
        /* connect() on a unix socket waits for room in the daemon's backlog
         * this long at most */
        struct timeval tv = { .tv_sec = (time_t) (timeout_ns / 1000000000ULL) };
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                if (e == ENOENT || e == ECONNREFUSED)
                        return log_error("cannot connect to '%s': %s (is cprofd running?)", arg_socket,
                                         strerror(e)), -e;
                return log_error("cannot connect to '%s': %s", arg_socket, strerror(e)), -e;
        }
        return fd;
}

/* Sends the request, shuts down the write side and reads the reply to
 * its end, all before deadline. */
static int exchange(int fd, const char *req, size_t req_len, uint64_t deadline, struct charvec *ret) {
        size_t sent = 0;

        while (sent < req_len) {
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                int n = poll(&p, 1, remaining_ms(deadline));
                if (n == 0)
                        return -ETIMEDOUT;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                ssize_t k = send(fd, req + sent, req_len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        /* the daemon may have answered (and closed) already,
                         * e.g. with "too many connections": read that */
                        if (errno == EPIPE || errno == ECONNRESET)
                                break;
                        return -errno;
                }
                sent += (size_t) k;
        }
        (void) shutdown(fd, SHUT_WR);

        for (;;) {
                if (vec_reserve(ret, ret->n + 65536 + 1) < 0)
                        return -ENOMEM;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int n = poll(&p, 1, remaining_ms(deadline));
                if (n == 0)
                        return -ETIMEDOUT;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                ssize_t k = recv(fd, ret->v + ret->n, 65536, MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        /* a reset after a whole reply line still is the reply */
                        if (errno == ECONNRESET && ret->n && ret->v[ret->n - 1] == '\n')
                                break;
                        return -errno;
                }
                if (k == 0)
                        break;
                ret->n += (size_t) k;
                if (ret->n > MAX_REPLY)
                        return -EFBIG;
        }
        ret->v[ret->n] = '\0';
        return 0;
}

static const char *json_str(json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

static bool json_num(json_t *o, const char *key, double *ret) {
        json_t *v = json_object_get(o, key);
        if (!json_is_number(v))
                return false;
        *ret = json_number_value(v);
        return true;
}

static void print_bytes(const char *label, double b) {
        if (b >= 1024.0 * 1024 * 1024)
                printf("%s%.1f GiB", label, b / (1024.0 * 1024 * 1024));
        else if (b >= 1024.0 * 1024)
                printf("%s%.1f MiB", label, b / (1024.0 * 1024));
        else if (b >= 1024.0)
                printf("%s%.1f KiB", label, b / 1024.0);
        else
                printf("%s%.0f B", label, b);
}

static void print_status(json_t *reply) {
        json_t *targets = json_object_get(reply, "targets");
        double v, w;

        if (json_is_array(targets)) {
                size_t i, width = 6;
                json_t *t;
                json_array_foreach(targets, i, t) {
                        const char *name = json_str(t, "name");
                        if (name && strlen(name) > width)
                                width = strlen(name);
                }
                printf("%-*s %10s %12s %10s %8s\n", (int) width, "TARGET", "PROCESSES", "SAMPLES", "LOST",
                       "WINDOWS");
                json_array_foreach(targets, i, t) {
                        const char *name = json_str(t, "name");
                        printf("%-*s", (int) width, name ? name : "?");
                        static const char *const keys[] = { "processes", "samples", "lost", "windows" };
                        static const int widths[] = { 10, 12, 10, 8 };
                        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                                if (json_num(t, keys[k], &v))
                                        printf(" %*.0f", widths[k], v);
                                else
                                        printf(" %*s", widths[k], "-");
                        }
                        printf("\n");
                }
                if (json_array_size(targets) == 0)
                        printf("(no targets configured)\n");
                printf("\n");
        }
        if (json_num(reply, "samples", &v)) {
                printf("samples:    %.0f", v);
                if (json_num(reply, "lost", &w))
                        printf(", %.0f lost", w);
                printf("\n");
        }
        bool cpu = json_num(reply, "cpu_s", &v), rss = json_num(reply, "rss_bytes", &w);
        if (cpu || rss) {
                printf("daemon:     ");
                if (cpu)
                        printf("%.2f s of CPU%s", v, rss ? ", " : "");
                if (rss)
                        print_bytes("RSS ", w);
                if (json_num(reply, "heap_in_use_bytes", &v))
                        print_bytes(", heap ", v);
                if (json_num(reply, "heap_free_bytes", &v)) {
                        print_bytes(" (+", v);
                        printf(" held free)");
                }
                printf("\n");
        }
        if (json_num(reply, "disk_bytes", &v)) {
                print_bytes("disk:       ", v);
                if (json_num(reply, "disk_files", &w))
                        printf(" in %.0f files", w);
                printf("\n");
        }
        if (json_num(reply, "ondemand", &v)) {
                printf("on demand:  %.0f recording%s running", v, v == 1 ? "" : "s");
                if (json_num(reply, "ondemand_starting", &w) && w > 0)
                        printf(" (%.0f starting)", w);
                printf("\n");
        }
        json_t *push = json_object_get(reply, "push");
        if (json_is_object(push) && json_object_size(push)) {
                const char *key;
                json_t *pv;
                printf("push:      ");
                json_object_foreach(push, key, pv) {
                        if (json_is_number(pv))
                                printf(" %s %g", key, json_number_value(pv));
                        else if (json_is_string(pv))
                                printf(" %s %s", key, json_string_value(pv));
                        else if (json_is_boolean(pv))
                                printf(" %s %s", key, json_is_true(pv) ? "yes" : "no");
                }
                printf("\n");
        }
}

struct bad_lines {
        unsigned n;
        char reason[600];
};

static void on_bad_line(void *userdata, const char *file, unsigned line, const char *reason) {
        struct bad_lines *b = userdata;
        if (line == 0) {
                snprintf(b->reason, sizeof(b->reason), "%s", reason);
                return;
        }
        if (++b->n <= 10)
                log_warning("%s:%u: %s, skipping", file, line, reason);
}

static int write_profile(json_t *reply, enum output_format format) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        json_t *folded = json_object_get(reply, "folded");
        struct bad_lines bad = {};
        struct folded_read_options o = { .on_bad_line = on_bad_line, .userdata = &bad };
        int r;

        if (!json_is_string(folded))
                return log_error("malformed reply from cprofd: no folded stacks"), -EBADMSG;
        r = profile_new(&p);
        if (r < 0)
                return log_error_errno(r, "out of memory");
        profile_set_keep_samples(p, false);
        r = folded_read_buffer(p, "reply", json_string_value(folded), json_string_length(folded), &o);
        if (r < 0)
                return log_error("malformed reply from cprofd: %s", bad.reason[0] ? bad.reason : strerror(-r)), r;
        if (r == 0 || profile_total(p, 0) == 0) {
                if (arg_req.command == CONTROL_SNAPSHOT)
                        return log_error("no samples of target '%s' in the last %" PRIu64 " s: nothing was written",
                                         arg_req.target, (uint64_t) (arg_req.last_ns / 1000000000ULL)), -ENODATA;
                return log_error("no samples of process %d (did it use CPU?): nothing was written",
                                 (int) arg_req.pid), -ENODATA;
        }

        struct atomic_file af = {};
        bool to_stdout = strcmp(arg_output, "-") == 0;
        if (!to_stdout) {
                r = atomic_file_open(arg_output, &af);
                if (r < 0)
                        return log_error("cannot write '%s': %s", arg_output, atomic_file_strerror(r)), r;
        }
        r = output_write(p, format, to_stdout ? stdout : af.f);
        if (r >= 0 && to_stdout && fflush(stdout) != 0)
                r = stdio_write_error();
        if (r >= 0 && !to_stdout)
                r = atomic_file_commit(&af);
        else if (!to_stdout)
                atomic_file_abort(&af);
        if (r < 0)
                return log_error("cannot write '%s': %s", to_stdout ? "<stdout>" : arg_output,
                                 atomic_file_strerror(r)), r;
        if (!arg_quiet && !to_stdout)
                fprintf(stderr, "cprof: wrote '%s': %.0f samples, %zu stacks\n", arg_output,
                        profile_total(p, 0), profile_stack_count(p));
        return 0;
}

static int run(void) {
        enum output_format format = OUTPUT_FORMAT_FOLDED;
        bool writes_file = arg_req.command != CONTROL_STATUS && !arg_json;
        int r;

        if (writes_file) {
                if (pick_format(&format) < 0)
                        return -EINVAL;
                /* an unwritable output is found before a recording of
                 * minutes, not after (the probe leaves nothing behind) */
                if (strcmp(arg_output, "-") != 0 && !atomic_file_in_place(arg_output)) {
                        struct atomic_file probe = {};
                        r = atomic_file_open(arg_output, &probe);
                        if (r < 0)
                                return log_error("cannot write '%s': %s", arg_output, atomic_file_strerror(r)), r;
                        atomic_file_abort(&probe);
                }
        }

        json_auto_t *req = NULL;
        if (control_request_to_json(&arg_req, &req) < 0)
                return log_error_errno(ENOMEM, "out of memory");
        _cleanup_free_ char *text = json_dumps(req, JSON_COMPACT);
        if (!text)
                return log_error_errno(ENOMEM, "out of memory");
        size_t len = strlen(text);
        _cleanup_free_ char *line = malloc(len + 2);
        if (!line)
                return log_error_errno(ENOMEM, "out of memory");
        memcpy(line, text, len);
        line[len++] = '\n';

        uint64_t timeout_ns = (uint64_t) REPLY_SLACK_S * 1000000000ULL;
        if (arg_req.command == CONTROL_RECORD)
                timeout_ns += arg_req.duration_ns;
        uint64_t deadline = now_ns() + timeout_ns;
        _cleanup_close_ int fd = connect_socket(timeout_ns);
        if (fd < 0)
                return fd;
        if (arg_req.command == CONTROL_RECORD && !arg_quiet && isatty(STDERR_FILENO))
                fprintf(stderr, "cprof: recording process %d for %.0f s...\n", (int) arg_req.pid,
                        (double) arg_req.duration_ns / 1e9);

        struct charvec buf = {};
        r = exchange(fd, line, len, deadline, &buf);
        if (r == -ETIMEDOUT) {
                vec_free(&buf);
                return log_error("no reply from cprofd on '%s' within %" PRIu64 " s", arg_socket,
                                 (uint64_t) (timeout_ns / 1000000000ULL)), r;
        }
        if (r < 0) {
                vec_free(&buf);
                return log_error("cannot talk to cprofd on '%s': %s", arg_socket, strerror(-r)), r;
        }
        json_error_t jerr;
        json_auto_t *reply = json_loadb(buf.v, buf.n, 0, &jerr);
        if (!reply || !json_is_object(reply)) {
                log_error("malformed reply from cprofd: %s", buf.n ? (reply ? "not an object" : jerr.text)
                                                                    : "it closed the connection without one");
                vec_free(&buf);
                return -EBADMSG;
        }
        bool ok = json_is_true(json_object_get(reply, "ok"));
        if (arg_json) {
                fwrite(buf.v, 1, buf.n, stdout);
                if (buf.n && buf.v[buf.n - 1] != '\n')
                        putchar('\n');
                vec_free(&buf);
                if (fflush(stdout) != 0)
                        return log_error("cannot write standard output: %s", strerror(errno)), -EIO;
                return ok ? 0 : -EPERM;
        }
        vec_free(&buf);
        if (!ok) {
                const char *e = json_str(reply, "error");
                return log_error("%s", e ? e : "cprofd refused the request without saying why"), -EPERM;
        }
        if (arg_req.command == CONTROL_STATUS) {
                print_status(reply);
                if (fflush(stdout) != 0)
                        return log_error("cannot write standard output: %s", strerror(errno)), -EIO;
                return 0;
        }
        return write_profile(reply, format);
}

int cmd_ctl(int argc, char **argv) {
        int r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        r = run();
        if (r == -EINVAL)
                return 2;
        return r < 0 ? 1 : 0;
}
