/* cprof convert: folded stack files to any output format, chosen by
 * --format or by the output file's extension. The output appears whole or
 * not at all (util/atomic-file.h). */
#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "input.h"
#include "cprof/output.h"
#include "cprof/profile.h"
#include "util/atomic-file.h"
#include "util/cleanup.h"
#include "util/log.h"

DEFINE_FREEP(struct profile, profile_free)

static const char *arg_output = NULL;
static const char *arg_format = NULL;

static void help(void) {
        printf("Usage: cprof convert [OPTIONS] FILE... -o OUT\n\n"
               "Convert folded stack files (\"-\" reads standard input) to another format.\n\n"
               "Options:\n"
               "  -o, --output OUT     the file to write, \"-\" for standard output\n"
               "  -f, --format FORMAT  folded, svg, pprof, speedscope or json (the report);\n"
               "                       by default from OUT's extension: .folded .txt\n"
               "                       .collapsed, .svg, .pb.gz .pprof, .speedscope.json, .json\n"
               "  -h, --help           show this help\n");
}

static int parse_argv(int argc, char **argv, int *ret_first) {
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },
                { "format", required_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        /* our own messages: getopt would name the program after argv[0] */
        opterr = 0;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":o:f:h", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        arg_output = optarg;
                        break;
                case 'f':
                        arg_format = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return cli_bad_option(c, argv, "convert", options);
                }
        if (optind >= argc)
                return log_error_errno(EINVAL, "missing input file (see 'cprof convert --help')");
        if (!arg_output)
                return log_error_errno(EINVAL, "missing output file: use -o OUT (see 'cprof convert --help')");
        *ret_first = optind;
        return 1;
}

static int pick_format(enum output_format *ret) {
        if (arg_format) {
                if (output_format_from_name(arg_format, ret) < 0)
                        return log_error_errno(EINVAL, "unknown format '%s' (known: folded, svg, pprof, speedscope, json)",
                                         arg_format);
                return 0;
        }
        if (strcmp(arg_output, "-") == 0)
                return log_error_errno(EINVAL, "cannot tell the format of standard output: use --format");
        if (output_format_from_path(arg_output, ret) < 0)
                return log_error_errno(EINVAL, "cannot tell the format of '%s' from its extension: use --format "
                                 "or one of .folded .svg .pb.gz .pprof .speedscope.json .json",
                                 arg_output);
        return 0;
}

static int write_output(const struct profile *p, enum output_format format) {
        struct atomic_file af;
        int r;

        if (strcmp(arg_output, "-") == 0) {
                r = output_write(p, format, stdout);
                if (r < 0)
                        return log_error_errno(r, "cannot write standard output: %s", strerror(-r));
                return 0;
        }

        r = atomic_file_open(arg_output, &af);
        if (r < 0)
                return log_error_errno(r, "cannot create '%s': %s", arg_output, atomic_file_strerror(r));
        r = output_write(p, format, af.f);
        if (r < 0) {
                atomic_file_abort(&af);
                return log_error_errno(r, "cannot write '%s': %s", arg_output, strerror(-r));
        }
        r = atomic_file_commit(&af);
        if (r < 0)
                return log_error_errno(r, "cannot write '%s': %s", arg_output, strerror(-r));
        return 0;
}

static bool has_fractional_counts(const struct profile *p) {
        for (uint32_t id = 0; id < profile_stack_count(p); id++)
                for (unsigned v = 0; v < profile_value_count(p); v++) {
                        double x = profile_stack(p, id)->value[v];
                        if (x != floor(x))
                                return true;
                }
        return false;
}

int cmd_convert(int argc, char **argv) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        enum output_format format;
        int first = 0, r;

        r = parse_argv(argc, argv, &first);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        /* decide everything that can fail cheaply before reading input */
        if (pick_format(&format) < 0)
                return 2;

        r = profile_new(&p);
        if (r < 0) {
                log_error("cannot create a profile: %s", strerror(-r));
                return 1;
        }
        /* speedscope draws the samples in input order; the rest need only
         * the stacks, so memory grows with unique stacks */
        profile_set_keep_samples(p, format == OUTPUT_FORMAT_SPEEDSCOPE);
        r = cli_read_folded(p, argv + first, (size_t) (argc - first));
        if (r < 0)
                return 1;
        if (format == OUTPUT_FORMAT_PPROF && has_fractional_counts(p))
                log_warning("pprof counts are integers: fractional counts are rounded");
        if (write_output(p, format) < 0)
                return 1;
        return 0;
}
