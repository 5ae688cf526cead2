/* cprofd: the continuous profiler as a service. Reads its config, then
 * runs the daemon loop (daemon.c) until SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "util/log.h"

#define DEFAULT_CONFIG "/etc/cprof/cprofd.conf"

static void help(void) {
        printf("Usage: cprofd [OPTIONS]\n\n"
               "Profile the targets of the config continuously: a flame graph of each target\n"
               "for every window (a minute by default), kept within a disk budget, and a\n"
               "control socket for `cprof ctl`. Runs in the foreground, as a systemd service.\n\n"
               "Options:\n"
               "  -c, --config PATH   the config file (default " DEFAULT_CONFIG ")\n"
               "      --check-config  check the config, print what it sets, and exit\n"
               "  -v, --verbose       debug messages\n"
               "  -h, --help          this help\n"
               "  -V, --version       the version\n\n"
               "Signals: SIGHUP reloads the config (a config with errors is reported and the\n"
               "old one stays in force); SIGTERM or SIGINT write the current window and exit.\n"
               "See cprofd(8) and cprofd.conf(5).\n");
}

static void print_config(const char *path, const struct cprofd_config *c) {
        printf("%s: ok\n", path);
        printf("  frequency %u Hz, windows of %.0f s in %s\n", c->frequency_hz, (double) c->window_ns / 1e9,
               c->output_dir);
        printf("  socket %s (group %s)\n", c->socket_path, c->group ? c->group : "-");
        printf("  %zu target%s", c->n_targets, c->n_targets == 1 ? "" : "s");
        for (size_t i = 0; i < c->n_targets; i++)
                printf("%s%s", i ? ", " : ": ", c->targets[i].name);
        printf("\n");
        if (c->pyroscope_url)
                printf("  pushing to %s\n", c->pyroscope_url);
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, 'C' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        const char *path = DEFAULT_CONFIG;
        bool check = false;
        int c;

        log_set_program("cprofd");
        while ((c = getopt_long(argc, argv, "c:vhV", opts, NULL)) != -1)
                switch (c) {
                case 'c':
                        path = optarg;
                        break;
                case 'C':
                        check = true;
                        break;
                case 'v':
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("cprofd %s\n", CPROF_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'cprofd --help'.\n");
                        return 2;
                }
        if (optind < argc) {
                log_error("unexpected argument '%s'", argv[optind]);
                return 2;
        }
        /* under systemd, stderr goes to the journal, which reads priorities */
        if (getenv("JOURNAL_STREAM"))
                log_set_syslog_prefix(true);

        char err[512];
        struct cprofd_config *cfg;
        int k = cprofd_config_load(path, &cfg, err, sizeof(err));
        if (k < 0) {
                log_error("%s", err);
                return 1;
        }
        if (check) {
                print_config(path, cfg);
                cprofd_config_free(cfg);
                return 0;
        }

        /* taken from a signalfd by the loop */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        struct daemon *d;
        k = daemon_new(cfg, path, &d);
        if (k < 0) {
                log_error("cannot start: %s", strerror(-k));
                return 1;
        }
        k = daemon_run(d);
        daemon_free(d);
        return k < 0 ? 1 : 0;
}
