/* cprof diff: two folded profiles in, a differential flame graph out (or,
 * with --folded, difffolded.pl's three-column text). */
#include <errno.h>
#include <string.h>

#include "cmd-flamegraph.h"
#include "input.h"
#include "commands.h"
#include "util/cleanup.h"
#include "util/log.h"

DEFINE_FREEP(struct profile, profile_free);

static void help(void) {
        fputs("Usage: cprof diff [OPTIONS] BEFORE AFTER > diff.svg\n\n"
              "Compare two folded profiles as a differential flame graph: frame widths\n"
              "from AFTER, red where samples grew, blue where they shrank, deeper for\n"
              "larger changes (FlameGraph's difffolded.pl piped into flamegraph.pl).\n"
              "Stacks that vanished in AFTER have no width: swap the files and add\n"
              "--negate to see them (widths from BEFORE, colours still meaning growth).\n\n"
              "Options:\n"
              "  -n, --normalize       scale BEFORE to AFTER's total first (difffolded.pl -n)\n"
              "  --folded              write \"stack BEFORE AFTER\" lines instead of SVG\n"
              FLAMEGRAPH_COMMON_OPTIONS_HELP
              "  -h, --help            show this help\n\n"
              "Example: cprof diff before.folded after.folded > diff.svg\n", stdout);
}

int cmd_diff(int argc, char **argv) {
        enum {
                ARG_FOLDED = 0x100,
        };
        static const struct option own[] = {
                { "help", no_argument, NULL, 'h' },
                { "normalize", no_argument, NULL, 'n' },
                { "folded", no_argument, NULL, ARG_FOLDED },
        };
        struct option options[ELEMENTSOF(own) + 32] = {};
        struct flamegraph_options o;
        _cleanup_(profile_freep) struct profile *before = NULL, *after = NULL, *diff = NULL;
        bool normalize = false, folded = false;
        int c, r;

        flamegraph_merge_options(own, ELEMENTSOF(own), options, ELEMENTSOF(options));

        flamegraph_options_init(&o);
        optind = 0;
        opterr = 0;
        while ((c = getopt_long_only(argc, argv, ":hn", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ':':
                case '?':
                        cli_bad_option(c, argv, "diff", options);
                        return 2;
                case 'n':
                        normalize = true;
                        continue;
                case ARG_FOLDED:
                        folded = true;
                        continue;
                }
                r = flamegraph_common_option(c, optarg, &o);
                if (r == 0)
                        cli_bad_option('?', argv, "diff", options);
                if (r <= 0)
                        return 2;
        }
        if (argc - optind != 2) {
                log_error("expected two folded files, BEFORE and AFTER (see 'cprof diff --help')");
                return 2;
        }

        struct profile **slot[2] = { &before, &after };
        for (int i = 0; i < 2; i++) {
                r = profile_new(slot[i]);
                if (r < 0)
                        return log_error("out of memory"), 1;
                r = cli_read_folded(*slot[i], argv + optind + i, 1);
                if (r < 0)
                        return 1;
                if (profile_value_count(*slot[i]) != 1)
                        return log_error("'%s' is already a differential profile (two counts per line)",
                                         argv[optind + i]), 1;
        }

        r = profile_diff(before, after, normalize, &diff);
        if (r < 0)
                return log_error("cannot compare the profiles: %s", strerror(-r)), 1;

        r = folded ? folded_write(diff, stdout) : flamegraph_write(diff, stdout, &o);
        if (r == -ENODATA)
                return log_error("'%s' has no samples: nothing to draw (swap the files and use --negate)",
                                 argv[optind + 1]), 1;
        if (r < 0)
                return log_error("cannot write the %s: %s", folded ? "folded stacks" : "flame graph",
                                 strerror(-r)), 1;
        return 0;
}
