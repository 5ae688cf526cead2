/* Writers: each reads a profile (never changes it) and writes one format
 * to a FILE. They return 0 or -errno (-EIO when the stream failed); the
 * caller owns the FILE and its atomic replacement (util/atomic-file.h). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "cprof/profile.h"

/* ---- folded stacks (src/output/folded.c) ---- */

/* One line per stack, "frame;...;leaf COUNT", root first, frames suffixed
 * by kind (_[k], _[i], _[j]), lines in byte order (the order of Perl's
 * sort, so the output of `cprof collapse` matches stackcollapse-perf.pl).
 * A differential profile writes "stack BEFORE AFTER". Stacks whose values
 * are all zero are left out. */
int folded_write(const struct profile *p, FILE *f);

struct charvec; /* util/vec.h */

/* Appends the folded form of frame `id` (name, " (file.c:42)" when
 * with_line and the frame has a line, kind suffix) to buf, keeping it NUL
 * terminated; shared by writers that print folded names. 0 or -ENOMEM. */
int folded_frame_name(const struct profile *p, uint32_t id, bool with_line, struct charvec *buf);



/* ---- SVG flame graph (src/output/flamegraph.c) ---- */

enum flamegraph_colors {
        FLAMEGRAPH_COLORS_HOT, FLAMEGRAPH_COLORS_MEM, FLAMEGRAPH_COLORS_IO,
        FLAMEGRAPH_COLORS_WAKEUP, FLAMEGRAPH_COLORS_CHAIN, FLAMEGRAPH_COLORS_JAVA,
        FLAMEGRAPH_COLORS_JS, FLAMEGRAPH_COLORS_PERL, FLAMEGRAPH_COLORS_RED,
        FLAMEGRAPH_COLORS_GREEN, FLAMEGRAPH_COLORS_BLUE, FLAMEGRAPH_COLORS_AQUA,
        FLAMEGRAPH_COLORS_YELLOW, FLAMEGRAPH_COLORS_PURPLE, FLAMEGRAPH_COLORS_ORANGE,
};

/* The options of flamegraph.pl, same names and meanings. Strings are
 * borrowed. flamegraph_options_init() sets flamegraph.pl's defaults. */
struct flamegraph_options {
        const char *title;     /* NULL: "Flame Graph", "Icicle Graph", "Differential ..." */
        const char *subtitle;  /* NULL: none */
        unsigned width;        /* 1200 */
        unsigned frame_height; /* 16 */
        double minwidth;       /* 0.1 */
        bool minwidth_percent; /* minwidth is a percentage of the total */
        const char *fonttype;  /* "Verdana" */
        double fontsize;       /* 12 */
        double fontwidth;      /* 0.59: average character width relative to fontsize */
        const char *countname; /* "samples" */
        const char *nametype;  /* "Function:" */
        enum flamegraph_colors colors;
        const char *bgcolors;  /* NULL: from colors; "yellow", "blue", "green", "grey", "#rrggbb" */
        bool hash;             /* colour by name hash, stable across graphs */
        const char *palette_file; /* --cp: consistent palette kept in this file */
        bool reverse;          /* reverse stacks (leaf becomes root) */
        bool inverted;         /* icicle graph */
        bool flamechart;       /* samples in input order, no sorting */
        bool negate;           /* differential: swap what counts as growth */
        const char *notes;     /* text for the notes element */
};

void flamegraph_options_init(struct flamegraph_options *o);
int flamegraph_write(const struct profile *p, FILE *f, const struct flamegraph_options *o);

/* ---- pprof, speedscope, JSON report (src/output/pprof.c, speedscope.c, report.c) ---- */

int pprof_write(const struct profile *p, FILE *f);      /* gzipped profile.proto */
int speedscope_write(const struct profile *p, FILE *f); /* speedscope file format JSON */

struct report_options {
        unsigned top; /* rows per table, 0 for all */
};
int report_write_text(const struct profile *p, FILE *f, const struct report_options *o);
int report_write_json(const struct profile *p, FILE *f, const struct report_options *o);

/* ---- choosing a writer (src/output/writer.c) ---- */

enum output_format {
        OUTPUT_FORMAT_FOLDED,
        OUTPUT_FORMAT_SVG,
        OUTPUT_FORMAT_PPROF,
        OUTPUT_FORMAT_SPEEDSCOPE,
        OUTPUT_FORMAT_JSON, /* the JSON report */
        _OUTPUT_FORMAT_MAX,
};

/* By name ("folded", "svg", "pprof", "speedscope", "json"): -EINVAL. */
int output_format_from_name(const char *name, enum output_format *ret);
/* By file name: .folded (also .txt, .collapsed), .svg, .pb.gz/.pprof,
 * .speedscope.json, .json. -EINVAL when the extension is unknown. */
int output_format_from_path(const char *path, enum output_format *ret);
const char *output_format_name(enum output_format f);
/* Writes p in format f with default options. */
int output_write(const struct profile *p, enum output_format f, FILE *out);
