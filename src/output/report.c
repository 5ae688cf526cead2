/* Report writer: the functions with the most samples, like
 * `perf report --no-children` (self) and pprof's `top` (flat and cum).
 *
 *  - a function is a frame name plus its kind: frames that differ only in
 *    file, line or module are one function, while `read` in user space and
 *    `read_[k]` in the kernel stay two;
 *  - self: the value of the stacks whose leaf is the function;
 *    total: the value of the stacks that hold the function anywhere,
 *    counted once per stack, so recursion cannot push it past 100%;
 *  - frames of kind FRAME_PROCESS and FRAME_THREAD (the process name at a
 *    stack's root, and the thread under it; the folded reader marks them
 *    too) are not code: they are left out of both function tables (their
 *    stacks still count in the totals) and listed in a third table of
 *    processes and threads, by total;
 *  - a differential profile is reported on its second value (after);
 *  - rows are sorted by value, largest first, then by name bytewise, so
 *    the output is deterministic; rows whose value is zero are left out.
 *
 * In JSON, "samples" is a value in the profile's unit ("unit"), which is
 * "samples" or "nanoseconds". */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cprof/output.h"
#include "output/json-util.h"
#include "util/atomic-file.h"
#include "util/cleanup.h"
#include "util/hash.h"
#include "util/vec.h"

#define NO_FUNCTION UINT32_MAX

struct function {
        uint32_t name; /* string id */
        enum frame_kind kind;
        uint32_t frame; /* one frame of this function, to print its name */
        double self, total;
        uint32_t seen; /* last stack id + 1 counted in total */
        bool process;  /* a process or thread frame, not a function */
};

struct report {
        VEC(struct function) fn;
        uint32_t *frame_fn; /* frame id -> index in fn, or NO_FUNCTION */
        uint32_t *by_self, *by_total; /* indices in fn, sorted, zero rows dropped */
        uint32_t *by_process; /* the process and thread rows, by total */
        size_t n_self, n_total, n_process;
        double total;
        size_t unique_stacks;
};

static void report_release(struct report *r) {
        vec_free(&r->fn);
        free(r->frame_fn);
        free(r->by_self);
        free(r->by_total);
        free(r->by_process);
}

static const char *kind_name(enum frame_kind k) {
        static const char *const names[_FRAME_KIND_MAX] = {
                [FRAME_USER] = "user",           [FRAME_KERNEL] = "kernel",
                [FRAME_INLINE] = "inline",       [FRAME_JIT] = "jit",
                [FRAME_INTERPRETED] = "interpreted", [FRAME_PROCESS] = "process",
                [FRAME_THREAD] = "thread",
        };
        return (unsigned) k < _FRAME_KIND_MAX ? names[k] : "unknown";
}

/* qsort has no context argument */
static const struct profile *sort_profile;
static const struct function *sort_fn;
static bool sort_by_self;

static int row_cmp(const void *a, const void *b) {
        const struct function *x = &sort_fn[*(const uint32_t *) a], *y = &sort_fn[*(const uint32_t *) b];
        double vx = sort_by_self ? x->self : x->total, vy = sort_by_self ? y->self : y->total;
        if (vx != vy)
                return vx > vy ? -1 : 1;
        size_t lx = profile_string_length(sort_profile, x->name);
        size_t ly = profile_string_length(sort_profile, y->name);
        int c = memcmp(profile_string(sort_profile, x->name), profile_string(sort_profile, y->name), MIN(lx, ly));
        if (c)
                return c;
        if (lx != ly)
                return lx < ly ? -1 : 1;
        return x->kind < y->kind ? -1 : x->kind > y->kind;
}

static int sorted_rows(const struct profile *p, const struct report *rep, bool self, bool process,
                       uint32_t **ret, size_t *ret_n) {
        uint32_t *rows = calloc(rep->fn.n ? rep->fn.n : 1, sizeof(*rows));
        size_t n = 0;

        if (!rows)
                return -ENOMEM;
        for (uint32_t i = 0; i < rep->fn.n; i++)
                if (rep->fn.v[i].process == process &&
                    (self ? rep->fn.v[i].self : rep->fn.v[i].total) != 0)
                        rows[n++] = i;
        sort_profile = p;
        sort_fn = rep->fn.v;
        sort_by_self = self;
        qsort(rows, n, sizeof(*rows), row_cmp);
        *ret = rows;
        *ret_n = n;
        return 0;
}

static int report_build(const struct profile *p, struct report *rep) {
        struct u64map index = {};
        size_t nframes = profile_frame_count(p);
        unsigned vi = profile_value_count(p) - 1;
        int r = 0;

        *rep = (struct report) {};
        rep->frame_fn = calloc(nframes ? nframes : 1, sizeof(*rep->frame_fn));
        if (!rep->frame_fn)
                return -ENOMEM;

        for (uint32_t id = 0; id < nframes; id++) {
                const struct profile_frame *fr = profile_frame(p, id);
                uint64_t key = ((uint64_t) fr->name << 8) | (uint64_t) fr->kind, val;

                if (u64map_get(&index, key, &val)) {
                        rep->frame_fn[id] = (uint32_t) val;
                        continue;
                }
                struct function fn = { .name = fr->name, .kind = fr->kind, .frame = id,
                                       .process = fr->kind == FRAME_PROCESS || fr->kind == FRAME_THREAD };
                r = vec_push(&rep->fn, fn);
                if (r < 0)
                        goto out;
                r = u64map_put(&index, key, rep->fn.n - 1);
                if (r < 0)
                        goto out;
                rep->frame_fn[id] = (uint32_t) (rep->fn.n - 1);
        }

        for (uint32_t id = 0; id < profile_stack_count(p); id++) {
                double v = profile_stack(p, id)->value[vi];
                size_t depth;
                const uint32_t *frames = profile_stack_frames(p, id, &depth);

                if (v == 0)
                        continue;
                rep->unique_stacks++;
                uint32_t leaf = rep->frame_fn[frames[depth - 1]];
                if (leaf != NO_FUNCTION)
                        rep->fn.v[leaf].self += v;
                for (size_t i = 0; i < depth; i++) {
                        uint32_t f = rep->frame_fn[frames[i]];
                        if (f == NO_FUNCTION || rep->fn.v[f].seen == id + 1)
                                continue;
                        rep->fn.v[f].seen = id + 1;
                        rep->fn.v[f].total += v;
                }
        }
        rep->total = profile_total(p, vi);

        r = sorted_rows(p, rep, true, false, &rep->by_self, &rep->n_self);
        if (r >= 0)
                r = sorted_rows(p, rep, false, false, &rep->by_total, &rep->n_total);
        if (r >= 0)
                r = sorted_rows(p, rep, false, true, &rep->by_process, &rep->n_process);
out:
        u64map_release(&index);
        if (r < 0)
                report_release(rep);
        return r;
}

static double percent(double v, double total) {
        return total != 0 ? 100.0 * v / total : 0.0;
}

/* Exact below 1e15 (integers as integers, fractions to two places);
 * larger values in six significant digits, "1.23457e+20": a double has
 * no more, and a 300-digit column helps nobody. The result always fits
 * the 64 bytes callers give. */
static int format_value(char *out, size_t n, double v) {
        if (!isfinite(v))
                return snprintf(out, n, "%s", "?");
        if (fabs(v) < 1e15)
                return snprintf(out, n, v == floor(v) ? "%.0f" : "%.2f", v);
        return snprintf(out, n, "%.6g", v);
}

static size_t shown(size_t n, const struct report_options *o) {
        return o && o->top && o->top < n ? o->top : n;
}

static void write_table(const struct profile *p, const struct report *rep, FILE *f, bool self, bool process,
                        const char *unit, const struct report_options *o, struct charvec *name) {
        const uint32_t *rows = process ? rep->by_process : self ? rep->by_self : rep->by_total;
        size_t n = process ? rep->n_process : self ? rep->n_self : rep->n_total, k = shown(n, o);
        int width = (int) strlen(unit);
        char num[64];

        for (size_t i = 0; i < k; i++) {
                const struct function *fn = &rep->fn.v[rows[i]];
                width = MAX(width, format_value(num, sizeof(num), self ? fn->self : fn->total));
        }

        if (process) {
                fprintf(f, "processes: %s%zu of %zu processes and threads, by value in their stacks\n",
                        k < n ? "top " : "", k, n);
                fprintf(f, "  %*s  %7s  %-7s  %s\n", width, unit, "percent", "kind", "name");
        } else {
                fprintf(f, "%s: %s%zu of %zu functions, %s\n", self ? "self" : "total",
                        k < n ? "top " : "", k, n,
                        self ? "by value where the function is the leaf"
                             : "by value where the function is anywhere in the stack");
                fprintf(f, "  %*s  %7s  %s\n", width, unit, "percent", "function");
        }
        for (size_t i = 0; i < k; i++) {
                const struct function *fn = &rep->fn.v[rows[i]];
                double v = self ? fn->self : fn->total;

                format_value(num, sizeof(num), v);
                name->n = 0;
                if (folded_frame_name(p, fn->frame, true, name) < 0) {
                        /* only an allocation can fail; mark the row instead of losing it */
                        fprintf(f, "  %*s  %6.2f%%  %s\n", width, num, percent(v, rep->total), "?");
                        continue;
                }
                fprintf(f, "  %*s  %6.2f%%  ", width, num, percent(v, rep->total));
                if (process)
                        fprintf(f, "%-7s  ", kind_name(fn->kind));
                fwrite(name->v, 1, name->n, f);
                fputc('\n', f);
        }
}

static const char *unit_name(const struct profile *p) {
        return profile_unit(p) == PROFILE_UNIT_NANOSECONDS ? "nanoseconds" : "samples";
}

int report_write_text(const struct profile *p, FILE *f, const struct report_options *o) {
        _cleanup_(vec_freep) struct charvec name = {};
        struct report rep;
        char num[64];
        int r;

        r = report_build(p, &rep);
        if (r < 0)
                return r;

        format_value(num, sizeof(num), rep.total);
        fprintf(f, "total: %s %s, %zu unique stack%s", num, unit_name(p), rep.unique_stacks,
                rep.unique_stacks == 1 ? "" : "s");
        if (profile_duration_ns(p) != 0)
                fprintf(f, ", duration %.3f s", (double) profile_duration_ns(p) / 1e9);
        if (profile_value_count(p) > 1)
                fputs(" (differential: after)", f);
        fputs("\n\n", f);
        write_table(p, &rep, f, true, false, unit_name(p), o, &name);
        fputc('\n', f);
        write_table(p, &rep, f, false, false, unit_name(p), o, &name);
        if (rep.n_process > 0) {
                fputc('\n', f);
                write_table(p, &rep, f, false, true, unit_name(p), o, &name);
        }

        report_release(&rep);
        if (fflush(f) != 0 || ferror(f))
                return stdio_write_error();
        return 0;
}


static int json_table(const struct profile *p, const struct report *rep, bool self, bool process,
                      const struct report_options *o, json_t **ret) {
        json_auto_t *arr = json_array();
        const uint32_t *rows = process ? rep->by_process : self ? rep->by_self : rep->by_total;
        size_t k = shown(process ? rep->n_process : self ? rep->n_self : rep->n_total, o);
        _cleanup_(vec_freep) struct charvec name = {};
        int r;

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < k; i++) {
                const struct function *fn = &rep->fn.v[rows[i]];
                double v = self ? fn->self : fn->total;
                json_t *row = json_object();

                if (!row || json_array_append_new(arr, row) < 0)
                        return -ENOMEM;
                name.n = 0;
                r = folded_frame_name(p, fn->frame, true, &name);
                if (r < 0)
                        return r;
                r = json_set_new(row, "name", json_bytes_new(name.v, name.n));
                if (r >= 0)
                        r = json_set_new(row, "kind", json_string(kind_name(fn->kind)));
                if (r >= 0)
                        r = json_set_new(row, "samples", json_number_new(v));
                if (r >= 0)
                        r = json_set_new(row, "percent", json_real(percent(v, rep->total)));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(arr);
        return 0;
}

int report_write_json(const struct profile *p, FILE *f, const struct report_options *o) {
        json_auto_t *root = json_object();
        json_t *self = NULL, *total = NULL, *procs = NULL;
        struct report rep;
        int r;

        if (!root)
                return -ENOMEM;
        r = report_build(p, &rep);
        if (r < 0)
                return r;

        r = json_set_new(root, "unit", json_string(unit_name(p)));
        if (r >= 0)
                r = json_set_new(root, "total_samples", json_number_new(rep.total));
        if (r >= 0)
                /* samples taken: the total where values count samples; for
                 * time-valued profiles, the number of sample records */
                r = json_set_new(root, "sample_count",
                                 profile_unit(p) == PROFILE_UNIT_SAMPLES
                                         ? json_number_new(rep.total)
                                         : json_integer((json_int_t) profile_sample_count(p)));
        if (r >= 0)
                r = json_set_new(root, "unique_stacks", json_integer((json_int_t) rep.unique_stacks));
        if (r >= 0 && profile_duration_ns(p) != 0)
                r = json_set_new(root, "duration_ns", json_integer((json_int_t) MIN(profile_duration_ns(p), (uint64_t) INT64_MAX)));
        if (r >= 0)
                r = json_set_new(root, "differential", json_boolean(profile_value_count(p) > 1));
        if (r >= 0)
                r = json_set_new(root, "functions", json_integer((json_int_t) rep.n_total));
        if (r >= 0)
                r = json_table(p, &rep, true, false, o, &self);
        if (r >= 0)
                r = json_set_new(root, "self", self);
        if (r >= 0)
                r = json_table(p, &rep, false, false, o, &total);
        if (r >= 0)
                r = json_set_new(root, "total", total);
        if (r >= 0)
                r = json_table(p, &rep, false, true, o, &procs);
        if (r >= 0)
                r = json_set_new(root, "processes", procs);
        report_release(&rep);
        if (r < 0)
                return r;

        if (json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 || fputc('\n', f) == EOF)
                return stdio_write_error();
        if (fflush(f) != 0 || ferror(f))
                return stdio_write_error();
        return 0;
}
