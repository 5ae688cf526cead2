/* Folded writer: builds every line in one buffer, sorts pointers to the
 * lines bytewise and writes them out. Sorting the joined text (not frame
 * by frame) is what makes the order identical to Perl's `sort keys`. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof/output.h"
#include "util/atomic-file.h"
#include "util/cleanup.h"
#include "util/vec.h"

int folded_frame_name(const struct profile *p, uint32_t id, bool with_line, struct charvec *buf) {
        const struct profile_frame *f = profile_frame(p, id);
        int r = charvec_append(buf, profile_string(p, f->name), profile_string_length(p, f->name));
        if (r < 0)
                return r;
        /* a recording with --lines: "name (file.c:42)", the file's base
         * name, as perf's srcline shows it; the kind suffix stays last,
         * where flamegraph.pl looks for it */
        if (with_line && f->file && f->line) {
                const char *file = profile_string(p, f->file), *base = strrchr(file, '/');
                char tail[64];
                base = base ? base + 1 : file;
                int n = snprintf(tail, sizeof(tail), ":%" PRIu32 ")", f->line);
                r = charvec_append(buf, " (", 2);
                if (r >= 0)
                        r = charvec_append_str(buf, base);
                if (r >= 0)
                        r = charvec_append(buf, tail, (size_t) n);
                if (r < 0)
                        return r;
        }
        return charvec_append_str(buf, frame_kind_suffix(f->kind));
}

static int format_value(char *out, size_t n, double v) {
        /* Integral counts print as integers, as every folded tool writes
         * them, at any size ("1e+18" is no count to flamegraph.pl) */
        if (v >= 0 && v < 1e18 && v == floor(v))
                return snprintf(out, n, "%" PRIu64, (uint64_t) v);
        if (!isfinite(v))
                return -ERANGE; /* "inf" is no count: the caller refuses the line */
        if (v == floor(v))
                return snprintf(out, n, "%.0f", v);
        /* fractional: the shortest decimal that reads back as the same
         * double, in fixed notation (an exponent would not read back as
         * a count), trailing zeros trimmed */
        char tmp[64];
        int prec = 1;
        for (; prec < 17; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
                if (strtod(tmp, NULL) == v)
                        break;
        }
        int exp10 = v > 0 ? (int) floor(log10(v)) : 0;
        int decimals = MAX(0, prec - 1 - exp10);
        int k = snprintf(out, n, "%.*f", MIN(decimals, 340), v);
        if (strchr(out, '.')) {
                while (k > 1 && out[k - 1] == '0')
                        out[--k] = '\0';
                if (k > 1 && out[k - 1] == '.')
                        out[--k] = '\0';
        }
        return k;
}

struct line {
        size_t offset; /* into the text buffer */
        size_t len;
        uint32_t stack;
};

static const char *sort_text;

static int line_cmp(const void *a, const void *b) {
        const struct line *x = a, *y = b;
        int c = memcmp(sort_text + x->offset, sort_text + y->offset, MIN(x->len, y->len));
        if (c)
                return c;
        return x->len < y->len ? -1 : x->len > y->len;
}

static bool same_text(const char *text, const struct line *a, const struct line *b) {
        return a->len == b->len && memcmp(text + a->offset, text + b->offset, a->len) == 0;
}

/* One stack's frames, joined by ';'. */
static int append_stack_text(const struct profile *p, uint32_t id, struct charvec *text) {
        size_t depth;
        const uint32_t *frames = profile_stack_frames(p, id, &depth);
        int r;

        for (size_t i = 0; i < depth; i++) {
                if (i > 0) {
                        r = charvec_append(text, ";", 1);
                        if (r < 0)
                                return r;
                }
                size_t at = text->n;
                r = folded_frame_name(p, frames[i], true, text);
                if (r < 0)
                        return r;
                /* A name from outside (a process renamed with prctl, a
                 * file name) may hold this format's separators: ';'
                 * becomes ':' as in stackcollapse-perf.pl, line breaks
                 * become spaces. */
                for (char *c = text->v + at; c < text->v + text->n; c++)
                        if (*c == ';')
                                *c = ':';
                        else if (*c == '\n' || *c == '\r')
                                *c = ' ';
        }
        return 0;
}

/* Writes lines[0..n), which all have the same text, as one line: their
 * values summed (the profile refuses totals that overflow, so a part of
 * one cannot). */
static int write_line(const struct profile *p, const char *text, const struct line *lines, size_t n, FILE *f) {
        unsigned nv = profile_value_count(p);
        char num[400]; /* %.0f of the largest double: 309 digits */

        if (fwrite(text + lines[0].offset, 1, lines[0].len, f) != lines[0].len)
                return stdio_write_error();
        for (unsigned v = 0; v < nv; v++) {
                double sum = 0;
                for (size_t i = 0; i < n; i++)
                        sum += profile_stack(p, lines[i].stack)->value[v];
                int k = format_value(num, sizeof(num), sum);
                if (k < 0)
                        return k;
                if (fprintf(f, " %s", num) < 0)
                        return stdio_write_error();
        }
        if (fputc('\n', f) == EOF)
                return stdio_write_error();
        return 0;
}

int folded_write(const struct profile *p, FILE *f) {
        _cleanup_(vec_freep) struct charvec text = {};
        _cleanup_free_ struct line *lines = NULL;
        size_t n = 0;
        unsigned nv = profile_value_count(p);
        size_t nstacks = profile_stack_count(p);
        int r;

        lines = calloc(nstacks ? nstacks : 1, sizeof(*lines));
        if (!lines)
                return -ENOMEM;

        for (uint32_t id = 0; id < nstacks; id++) {
                const struct profile_stack *st = profile_stack(p, id);
                bool zero = true;
                for (unsigned v = 0; v < nv; v++)
                        if (st->value[v] != 0)
                                zero = false;
                if (zero)
                        continue;
                size_t start = text.n;
                r = append_stack_text(p, id, &text);
                if (r < 0)
                        return r;
                lines[n++] = (struct line) { .offset = start, .len = text.n - start, .stack = id };
        }

        sort_text = text.v;
        qsort(lines, n, sizeof(*lines), line_cmp);

        /* Stacks of different frames can read the same (unnamed frames
         * that differ only by address, two files of one base name): one
         * line each, as every reader of the format expects */
        for (size_t i = 0, j; i < n; i = j) {
                for (j = i + 1; j < n && same_text(text.v, &lines[i], &lines[j]); j++)
                        ;
                r = write_line(p, text.v, lines + i, j - i, f);
                if (r < 0)
                        return r;
        }
        if (fflush(f) != 0 || ferror(f))
                return stdio_write_error();
        return 0;
}
