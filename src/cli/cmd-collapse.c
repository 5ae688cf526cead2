/* cprof collapse: `perf script` text in, folded stacks out, with the
 * options and the output of FlameGraph's stackcollapse-perf.pl. */
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

/* Unrecognized lines are reported one by one up to this many, then
 * counted: a wrong input would otherwise flood the terminal. */
#define MAX_REPORTED_LINES 10

struct collapse_state {
        unsigned bad_lines;
        char reason[600]; /* the reader's whole-input refusal */
};

static void help(void) {
        printf("Usage: cprof collapse [OPTIONS] [FILE...]\n\n"
               "Fold the output of `perf script` (FILE, or standard input) into folded\n"
               "stacks on standard output, as FlameGraph's stackcollapse-perf.pl does.\n\n"
               "Options:\n"
               "  --pid                 include the PID with process names [1]\n"
               "  --tid                 include the PID and TID with process names [1]\n"
               "  --kernel              annotate kernel functions with _[k]\n"
               "  --jit                 annotate JIT functions (/tmp/perf-PID.map) with _[j]\n"
               "  --all                 all annotations (--kernel --jit)\n"
               "  --addrs               include raw addresses where symbols are unknown\n"
               "  --srcline             read `perf script -F+srcline` and add source lines\n"
               "  --event-filter=EVENT  keep only samples of EVENT (default: the first seen)\n"
               "  -h, --help            show this help\n\n"
               "[1] perf script must print both PID and TID for these, e.g.:\n"
               "    perf script -F comm,pid,tid,cpu,time,event,ip,sym,dso,trace\n\n"
               "Example: perf script | cprof collapse > out.folded\n");
}

static void on_bad_line(void *userdata, const char *file, unsigned line, const char *reason) {
        struct collapse_state *st = userdata;
        if (line == 0) { /* whole-input errors: the caller says them once */
                snprintf(st->reason, sizeof(st->reason), "%s", reason);
                return;
        }
        if (++st->bad_lines <= MAX_REPORTED_LINES)
                log_warning("%s:%u: %s, skipping", file, line, reason);
}

static void on_event_filtered(void *userdata, const char *kept, const char *dropped) {
        (void) userdata;
        log_warning("keeping only events of type '%s', skipping '%s' (see --event-filter)", kept, dropped);
}

int cmd_collapse(int argc, char **argv) {
        enum {
                ARG_PID = 0x100,
                ARG_TID,
                ARG_KERNEL,
                ARG_JIT,
                ARG_ALL,
                ARG_ADDRS,
                ARG_SRCLINE,
                ARG_EVENT_FILTER,
                ARG_INLINE,
                ARG_CONTEXT,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "pid", no_argument, NULL, ARG_PID },
                { "tid", no_argument, NULL, ARG_TID },
                { "kernel", no_argument, NULL, ARG_KERNEL },
                { "jit", no_argument, NULL, ARG_JIT },
                { "all", no_argument, NULL, ARG_ALL },
                { "addrs", no_argument, NULL, ARG_ADDRS },
                { "srcline", no_argument, NULL, ARG_SRCLINE },
                { "event-filter", required_argument, NULL, ARG_EVENT_FILTER },
                { "inline", no_argument, NULL, ARG_INLINE },
                { "context", no_argument, NULL, ARG_CONTEXT },
                {}
        };
        struct collapse_state st = {};
        struct perf_script_options o = {
                .on_bad_line = on_bad_line,
                .on_event_filtered = on_event_filtered,
                .userdata = &st,
        };
        struct profile *p = NULL;
        int c, r;

        optind = 0;
        /* Perl's Getopt::Long also takes -pid and --pi: getopt_long_only
         * gives the same single-dash forms and unambiguous prefixes */
        opterr = 0;
        while ((c = getopt_long_only(argc, argv, ":h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_PID:
                        o.include_pid = true;
                        break;
                case ARG_TID:
                        o.include_tid = true;
                        break;
                case ARG_KERNEL:
                        o.annotate_kernel = true;
                        break;
                case ARG_JIT:
                        o.annotate_jit = true;
                        break;
                case ARG_ALL:
                        o.annotate_kernel = o.annotate_jit = true;
                        break;
                case ARG_ADDRS:
                        o.include_addrs = true;
                        break;
                case ARG_SRCLINE:
                        o.srcline = true;
                        break;
                case ARG_EVENT_FILTER:
                        o.event_filter = optarg;
                        break;
                case ARG_INLINE:
                case ARG_CONTEXT:
                        log_error("--inline and --context are not supported: they run addr2line on "
                                  "every frame; use `perf script --inline` instead");
                        return 2;
                default:
                        cli_bad_option(c, argv, "collapse", options);
                        return 2;
                }

        char *stdin_only[] = { (char *) "-" };
        char *const *paths = optind < argc ? argv + optind : stdin_only;
        size_t n = optind < argc ? (size_t) (argc - optind) : 1;

        r = profile_new(&p);
        if (r < 0) {
                log_error_errno(r, "cannot allocate a profile: %s", strerror(-r));
                return 1;
        }
        const char *bad_path = NULL;
        r = perf_script_read_files(p, paths, n, &o, &bad_path);
        if (st.bad_lines > MAX_REPORTED_LINES)
                log_warning("%u more unrecognized lines skipped", st.bad_lines - MAX_REPORTED_LINES);
        if (r < 0) {
                const char *what = bad_path ? bad_path : "the input";
                if (strcmp(what, "-") == 0)
                        what = "<stdin>";
                if (st.reason[0])
                        log_error("%s: %s", what, st.reason);
                else
                        log_error("cannot read '%s': %s", what, strerror(-r));
                profile_free(p);
                return 1;
        }
        /* empty input: nothing to collapse is a failed step in a pipeline
         * (perf script found no samples), as in every other command */
        if (profile_stack_count(p) == 0) {
                const char *what = n == 1 && strcmp(paths[0], "-") != 0 ? paths[0] : "<stdin>";
                log_error("no samples in '%s': the input is empty", n > 1 ? "the input" : what);
                profile_free(p);
                return 1;
        }

        r = folded_write(p, stdout);
        profile_free(p);
        if (r < 0) {
                log_error("cannot write the folded stacks: %s", strerror(-r));
                return 1;
        }
        return 0;
}
