/* cprof flamegraph: folded stacks in, an interactive SVG flame graph out,
 * with flamegraph.pl's options. Several files are merged into one
 * profile; nothing is written unless all of them were read. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-flamegraph.h"
#include "input.h"
#include "commands.h"
#include "util/atomic-file.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/parse.h"

DEFINE_FREEP(struct profile, profile_free);

/* Bad lines are reported one by one up to this many per run, then
 * counted: a wrong input would otherwise flood the terminal. */

enum {
        ARG_TITLE = 0x200,
        ARG_SUBTITLE,
        ARG_WIDTH,
        ARG_HEIGHT,
        ARG_MINWIDTH,
        ARG_FONTTYPE,
        ARG_FONTSIZE,
        ARG_FONTWIDTH,
        ARG_COUNTNAME,
        ARG_NAMETYPE,
        ARG_COLORS,
        ARG_BGCOLORS,
        ARG_REVERSE,
        ARG_INVERTED,
        ARG_NEGATE,
        ARG_NOTES,
};

const struct option flamegraph_common_options[] = {
        { "title", required_argument, NULL, ARG_TITLE },
        { "subtitle", required_argument, NULL, ARG_SUBTITLE },
        { "width", required_argument, NULL, ARG_WIDTH },
        { "height", required_argument, NULL, ARG_HEIGHT },
        { "minwidth", required_argument, NULL, ARG_MINWIDTH },
        { "fonttype", required_argument, NULL, ARG_FONTTYPE },
        { "fontsize", required_argument, NULL, ARG_FONTSIZE },
        { "fontwidth", required_argument, NULL, ARG_FONTWIDTH },
        { "countname", required_argument, NULL, ARG_COUNTNAME },
        { "nametype", required_argument, NULL, ARG_NAMETYPE },
        { "colors", required_argument, NULL, ARG_COLORS },
        { "bgcolors", required_argument, NULL, ARG_BGCOLORS },
        { "reverse", no_argument, NULL, ARG_REVERSE },
        { "inverted", no_argument, NULL, ARG_INVERTED },
        { "negate", no_argument, NULL, ARG_NEGATE },
        { "notes", required_argument, NULL, ARG_NOTES },
        {}
};

static const char *const color_names[] = {
        [FLAMEGRAPH_COLORS_HOT] = "hot",       [FLAMEGRAPH_COLORS_MEM] = "mem",
        [FLAMEGRAPH_COLORS_IO] = "io",         [FLAMEGRAPH_COLORS_WAKEUP] = "wakeup",
        [FLAMEGRAPH_COLORS_CHAIN] = "chain",   [FLAMEGRAPH_COLORS_JAVA] = "java",
        [FLAMEGRAPH_COLORS_JS] = "js",         [FLAMEGRAPH_COLORS_PERL] = "perl",
        [FLAMEGRAPH_COLORS_RED] = "red",       [FLAMEGRAPH_COLORS_GREEN] = "green",
        [FLAMEGRAPH_COLORS_BLUE] = "blue",     [FLAMEGRAPH_COLORS_AQUA] = "aqua",
        [FLAMEGRAPH_COLORS_YELLOW] = "yellow", [FLAMEGRAPH_COLORS_PURPLE] = "purple",
        [FLAMEGRAPH_COLORS_ORANGE] = "orange",
};

/* A finite number >= min filling all of num; errors name the value as
 * the user typed it (shown), which may carry a suffix num lacks. */
static int parse_number(const char *opt, const char *num, const char *shown, double min,
                        const char *expected, double *ret) {
        char *end;
        errno = 0;
        double v = strtod(num, &end);
        if (errno || end == num || *end || !isfinite(v) || v < min) {
                log_error("invalid --%s '%s': expected %s", opt, shown, expected);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static bool valid_bgcolors(const char *s) {
        static const char *const names[] = { "yellow", "blue", "green", "grey", "gray" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i]) == 0)
                        return true;
        size_t n = strlen(s);
        if ((n != 7 && n != 4) || s[0] != '#')
                return false;
        return strspn(s + 1, "0123456789abcdefABCDEF") == n - 1;
}

void flamegraph_merge_options(const struct option *own, size_t n_own, struct option *out, size_t n) {
        size_t k = 0;
        for (size_t i = 0; i < n_own && k + 1 < n; i++)
                out[k++] = own[i];
        for (size_t i = 0; flamegraph_common_options[i].name && k + 1 < n; i++)
                out[k++] = flamegraph_common_options[i];
        out[k] = (struct option) {};
}

int flamegraph_common_option(int c, const char *arg, struct flamegraph_options *o) {
        double v;
        int r;

        switch (c) {
        case ARG_TITLE:
                o->title = arg;
                return 1;
        case ARG_SUBTITLE:
                o->subtitle = arg;
                return 1;
        case ARG_WIDTH:
                r = parse_uint(arg, 21, 1000000, &o->width);
                if (r < 0)
                        return log_error("invalid --width '%s': expected 21 to 1000000 pixels", arg), -EINVAL;
                return 1;
        case ARG_HEIGHT:
                r = parse_uint(arg, 1, 10000, &o->frame_height);
                if (r < 0)
                        return log_error("invalid --height '%s': expected 1 to 10000 pixels", arg), -EINVAL;
                return 1;
        case ARG_MINWIDTH: {
                size_t n = strlen(arg);
                bool pct = n > 0 && arg[n - 1] == '%';
                _cleanup_free_ char *num = strndup(arg, pct ? n - 1 : n);
                if (!num)
                        return log_error("out of memory"), -ENOMEM;
                r = parse_number("minwidth", num, arg, 0, "pixels or a percentage of the total (0.5, 1%)",
                                 &o->minwidth);
                if (r < 0)
                        return r;
                o->minwidth_percent = pct;
                return 1;
        }
        case ARG_FONTTYPE:
                o->fonttype = arg;
                return 1;
        case ARG_FONTSIZE:
                r = parse_number("fontsize", arg, arg, 0.1, "a size of at least 0.1", &v);
                if (r < 0)
                        return r;
                o->fontsize = v;
                return 1;
        case ARG_FONTWIDTH:
                r = parse_number("fontwidth", arg, arg, 0.01, "a ratio of at least 0.01", &v);
                if (r < 0)
                        return r;
                o->fontwidth = v;
                return 1;
        case ARG_COUNTNAME:
                o->countname = arg;
                return 1;
        case ARG_NAMETYPE:
                o->nametype = arg;
                return 1;
        case ARG_COLORS:
                for (size_t i = 0; i < ELEMENTSOF(color_names); i++)
                        if (strcmp(arg, color_names[i]) == 0) {
                                o->colors = (enum flamegraph_colors) i;
                                return 1;
                        }
                log_error("unknown palette '%s' (hot, mem, io, wakeup, chain, java, js, perl, "
                          "red, green, blue, aqua, yellow, purple, orange)", arg);
                return -EINVAL;
        case ARG_BGCOLORS:
                if (!valid_bgcolors(arg)) {
                        log_error("unknown background '%s' (yellow, blue, green, grey or #rrggbb)", arg);
                        return -EINVAL;
                }
                o->bgcolors = arg;
                return 1;
        case ARG_REVERSE:
                o->reverse = true;
                return 1;
        case ARG_INVERTED:
                o->inverted = true;
                return 1;
        case ARG_NEGATE:
                o->negate = true;
                return 1;
        case ARG_NOTES:
                o->notes = arg;
                return 1;
        }
        return 0;
}

static void help(void) {
        fputs("Usage: cprof flamegraph [OPTIONS] [FILE...] > graph.svg\n\n"
               "Draw folded stacks (FILE, several merged, or standard input) as an interactive\n"
               "SVG flame graph, with the options of FlameGraph's flamegraph.pl. Three-column\n"
               "input (\"stack BEFORE AFTER\", from `cprof diff --folded` or difffolded.pl)\n"
               "gives a differential flame graph: widths from AFTER, red where samples grew,\n"
               "blue where they shrank.\n\n"
               "Options:\n"
               FLAMEGRAPH_COMMON_OPTIONS_HELP
               "  --hash                colours keyed by a hash of the function name, as\n"
               "                        flamegraph.pl --hash (the default colours are\n"
               "                        stable per name too)\n"
               "  --cp                  consistent palette: reuse and extend the colours kept\n"
               "                        in the palette file\n"
               "  --palette FILE        palette file for --cp (default palette.map)\n"
               "  --flamechart          samples in input order, no merging of non-adjacent\n"
               "                        stacks (a flame chart)\n"
               "  -h, --help            show this help\n\n"
               "In the browser: hover for details, click to zoom, Ctrl-F to search by regular\n"
               "expression, Escape to reset; the URL keeps the view.\n"
               "Kernel frames (_[k]) are orange, inlined (_[i]) aqua, JIT (_[j]) green.\n\n"
               "Example: cprof flamegraph --title \"myapp\" out.folded > graph.svg\n", stdout);
}

int cmd_flamegraph(int argc, char **argv) {
        enum {
                ARG_HASH = 0x100,
                ARG_CP,
                ARG_PALETTE,
                ARG_FLAMECHART,
        };
        static const struct option own[] = {
                { "help", no_argument, NULL, 'h' },
                { "hash", no_argument, NULL, ARG_HASH },
                { "cp", no_argument, NULL, ARG_CP },
                { "palette", required_argument, NULL, ARG_PALETTE },
                { "flamechart", no_argument, NULL, ARG_FLAMECHART },
        };
        struct option options[ELEMENTSOF(own) + 32] = {};
        struct flamegraph_options o;
        _cleanup_(profile_freep) struct profile *p = NULL;
        const char *palette = "palette.map";
        bool cp = false;
        int c, r;

        flamegraph_merge_options(own, ELEMENTSOF(own), options, ELEMENTSOF(options));

        flamegraph_options_init(&o);
        optind = 0;
        /* Perl's Getopt::Long takes -title and unambiguous prefixes
         * (--color): getopt_long_only does the same */
        opterr = 0;
        while ((c = getopt_long_only(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ':':
                case '?':
                        cli_bad_option(c, argv, "flamegraph", options);
                        return 2;
                case ARG_HASH:
                        o.hash = true;
                        continue;
                case ARG_CP:
                        cp = true;
                        continue;
                case ARG_PALETTE:
                        palette = optarg;
                        cp = true;
                        continue;
                case ARG_FLAMECHART:
                        o.flamechart = true;
                        continue;
                }
                r = flamegraph_common_option(c, optarg, &o);
                if (r < 0)
                        return 2;
                if (r == 0)
                        return cli_bad_option('?', argv, "flamegraph", options), 2;
        }
        if (cp)
                o.palette_file = palette;

        char *stdin_only[] = { (char *) "-" };
        char *const *paths = optind < argc ? argv + optind : stdin_only;
        size_t n = optind < argc ? (size_t) (argc - optind) : 1;

        r = profile_new(&p);
        if (r < 0)
                return log_error("out of memory"), 1;
        profile_set_keep_samples(p, o.flamechart); /* only a flame chart needs input order */
        r = cli_read_folded(p, paths, n);
        if (r < 0)
                return 1;

        r = flamegraph_write(p, stdout, &o);
        if (r == -ENODATA)
                return log_error("no stack counts found: every count is zero"), 1;
        if (r < 0 && o.palette_file && !ferror(stdout) && r != -ENOMEM)
                return log_error("cannot use palette file '%s': %s", o.palette_file, atomic_file_strerror(r)), 1;
        if (r < 0)
                return log_error("cannot write the flame graph: %s", strerror(-r)), 1;
        return 0;
}
