/* cprof report: the top functions of folded stack files, by self and by
 * total value, as text or JSON (src/output/report.c says how they are
 * counted). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "input.h"
#include "cprof/output.h"
#include "cprof/profile.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/parse.h"

DEFINE_FREEP(struct profile, profile_free)

static unsigned arg_top = 20;
static bool arg_json = false;

static void help(void) {
        printf("Usage: cprof report [OPTIONS] FILE...\n\n"
               "Print the functions with the most samples in folded stack files\n"
               "(\"-\" reads standard input): by self samples, where the function is the\n"
               "leaf, and by total samples, where it is anywhere in the stack. The process\n"
               "frame at a stack's root and a thread frame (comm-TID) after it are not\n"
               "functions: they are listed apart, by total.\n\n"
               "Options:\n"
               "  -n, --top N   rows per table (default 20, 0 for all)\n"
               "      --json    write the report as JSON\n"
               "  -h, --help    show this help\n");
}

/* <0 error, 0 done (--help), >0 go on; *ret_first is the first file argument */
static int parse_argv(int argc, char **argv, int *ret_first) {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                { "top", required_argument, NULL, 'n' },
                { "json", no_argument, NULL, ARG_JSON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c, r;

        /* our own messages: getopt would name the program after argv[0] */
        opterr = 0;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":n:h", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        r = parse_uint(optarg, 0, UINT32_MAX, &arg_top);
                        if (r < 0)
                                return log_error_errno(EINVAL, "invalid --top '%s': expected a number of rows", optarg);
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return cli_bad_option(c, argv, "report", options);
                }
        if (optind >= argc)
                return log_error_errno(EINVAL, "missing input file (see 'cprof report --help')");
        *ret_first = optind;
        return 1;
}

int cmd_report(int argc, char **argv) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        int first = 0, r;

        r = parse_argv(argc, argv, &first);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        r = profile_new(&p);
        if (r < 0) {
                log_error("cannot create a profile: %s", strerror(-r));
                return 1;
        }
        profile_set_keep_samples(p, false); /* memory by unique stacks */
        r = cli_read_folded(p, argv + first, (size_t) (argc - first));
        if (r < 0)
                return 1;

        struct report_options o = { .top = arg_top };
        r = arg_json ? report_write_json(p, stdout, &o) : report_write_text(p, stdout, &o);
        if (r < 0) {
                log_error("cannot write the report: %s", strerror(-r));
                return 1;
        }
        return 0;
}
