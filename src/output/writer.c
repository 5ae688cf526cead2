/* Choosing a writer by name or by file name, and running it with default
 * options. The JSON report written here lists every function (top 0):
 * a conversion is for machines, which can cut the list themselves. */
#include <errno.h>
#include <string.h>

#include "cprof/output.h"
#include "util/cleanup.h"

static const char *const format_names[_OUTPUT_FORMAT_MAX] = {
        [OUTPUT_FORMAT_FOLDED] = "folded",
        [OUTPUT_FORMAT_SVG] = "svg",
        [OUTPUT_FORMAT_PPROF] = "pprof",
        [OUTPUT_FORMAT_SPEEDSCOPE] = "speedscope",
        [OUTPUT_FORMAT_JSON] = "json",
};

/* Longest suffix first: ".speedscope.json" before ".json". */
static const struct {
        const char *suffix;
        enum output_format format;
} extensions[] = {
        { ".speedscope.json", OUTPUT_FORMAT_SPEEDSCOPE },
        { ".folded", OUTPUT_FORMAT_FOLDED },
        { ".collapsed", OUTPUT_FORMAT_FOLDED },
        { ".txt", OUTPUT_FORMAT_FOLDED },
        { ".svg", OUTPUT_FORMAT_SVG },
        { ".pb.gz", OUTPUT_FORMAT_PPROF },
        { ".pprof", OUTPUT_FORMAT_PPROF },
        { ".json", OUTPUT_FORMAT_JSON },
};

int output_format_from_name(const char *name, enum output_format *ret) {
        for (int i = 0; i < _OUTPUT_FORMAT_MAX; i++)
                if (strcmp(name, format_names[i]) == 0) {
                        *ret = (enum output_format) i;
                        return 0;
                }
        return -EINVAL;
}

int output_format_from_path(const char *path, enum output_format *ret) {
        size_t len = strlen(path);

        for (size_t i = 0; i < ELEMENTSOF(extensions); i++) {
                size_t n = strlen(extensions[i].suffix);
                /* a bare ".svg" is a hidden file's name, not an extension */
                if (len > n && path[len - n - 1] != '/' &&
                    strcasecmp(path + len - n, extensions[i].suffix) == 0) {
                        *ret = extensions[i].format;
                        return 0;
                }
        }
        return -EINVAL;
}

const char *output_format_name(enum output_format f) {
        return (unsigned) f < _OUTPUT_FORMAT_MAX ? format_names[f] : NULL;
}

int output_write(const struct profile *p, enum output_format f, FILE *out) {
        switch (f) {
        case OUTPUT_FORMAT_FOLDED:
                return folded_write(p, out);
        case OUTPUT_FORMAT_SVG: {
                struct flamegraph_options o;
                flamegraph_options_init(&o);
                return flamegraph_write(p, out, &o);
        }
        case OUTPUT_FORMAT_PPROF:
                return pprof_write(p, out);
        case OUTPUT_FORMAT_SPEEDSCOPE:
                return speedscope_write(p, out);
        case OUTPUT_FORMAT_JSON:
                return report_write_json(p, out, &(struct report_options) { .top = 0 });
        default:
                return -EINVAL;
        }
}
