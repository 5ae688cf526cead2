/* What `cprof flamegraph` and `cprof diff` share: flamegraph.pl's options. */
#pragma once

#include <getopt.h>
#include <stddef.h>

#include "cprof/output.h"
#include "cprof/profile.h"

/* The options both commands take; codes from 0x200 up, so a command's
 * own options can use 0x100..0x1ff. Terminated by a zero entry. */
extern const struct option flamegraph_common_options[];
#define FLAMEGRAPH_COMMON_OPTIONS_HELP                                                          \
        "  --title TEXT          title (default \"Flame Graph\", \"Icicle Graph\", ...)\n"        \
        "  --subtitle TEXT       second-level title\n"                                          \
        "  --width NUM           width of the image in pixels (default 1200)\n"                 \
        "  --height NUM          height of each frame (default 16)\n"                           \
        "  --minwidth NUM[%]     omit frames narrower than NUM pixels, or NUM% of the\n"        \
        "                        total (default 0.1)\n"                                         \
        "  --fonttype FONT       font (default \"Verdana\")\n"                                  \
        "  --fontsize NUM        font size (default 12)\n"                                      \
        "  --fontwidth NUM       average character width relative to the size (0.59)\n"         \
        "  --countname TEXT      what the counts are (default \"samples\")\n"                   \
        "  --nametype TEXT       what the names are (default \"Function:\")\n"                  \
        "  --colors PALETTE      hot (default), mem, io, wakeup, chain, java, js, perl,\n"      \
        "                        red, green, blue, aqua, yellow, purple, orange\n"            \
        "  --bgcolors COLOR      background: yellow, blue, green, grey or #rrggbb\n"           \
        "  --reverse             reverse the stacks (merge at the leaves)\n"                    \
        "  --inverted            icicle graph (roots at the top)\n"                             \
        "  --negate              differential: swap red and blue\n"                             \
        "  --notes TEXT          notes in a comment of the SVG\n"

/* Fills out (room for n) with own[0..n_own) then the common options and
 * a terminating zero entry. */
void flamegraph_merge_options(const struct option *own, size_t n_own, struct option *out, size_t n);

/* Returns 1 when c was a common option (applied to o), 0 when it is not
 * one, or a negative errno after logging why the value is bad. */
int flamegraph_common_option(int c, const char *arg, struct flamegraph_options *o);
