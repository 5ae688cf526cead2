/* speedscope writer: the speedscope file format
 * (https://www.speedscope.app/file-format-schema.json), one "sampled"
 * profile over shared frames.
 *
 *  - frames: one per profile frame, in frame id order, but frames that
 *    differ only by the address pprof keeps for unnamed frames are one;
 *    the name is the folded name with its kind suffix, as in flame graphs;
 *    file and line when known;
 *  - samples: the profile's samples in input order (speedscope's "time
 *    order" view shows them left to right), root first, with their values
 *    as weights; consecutive samples of the same stack are merged and
 *    samples whose value is zero are left out;
 *  - unit "none" for sample counts, "nanoseconds" for time profiles;
 *  - a differential profile writes its second value (after).
 * Names are made valid UTF-8 (see utf8.h); jansson escapes the rest. */
#include <errno.h>
#include <string.h>

#include "cprof/output.h"
#include "output/json-util.h"
#include "util/atomic-file.h"
#include "util/cleanup.h"
#include "util/hash.h"
#include "util/vec.h"

#define SPEEDSCOPE_SCHEMA "https://www.speedscope.app/file-format-schema.json"


/* Frames equal but for their address are shown as one. */
static uint32_t shown_hash(const struct profile_frame *f) {
        return (uint32_t) hash_u64(((uint64_t) f->name << 32 | f->module) ^ hash_u64((uint64_t) f->file << 32 | f->line) ^
                                   f->kind);
}

struct shown_ctx {
        const struct profile *p;
        const uint32_t *first; /* speedscope index -> its first frame id */
};

static bool shown_eq(const void *ctx, uint32_t idx, const void *key) {
        const struct shown_ctx *c = ctx;
        const struct profile_frame *a = profile_frame(c->p, c->first[idx]), *b = key;
        return a->name == b->name && a->module == b->module && a->file == b->file &&
               a->line == b->line && a->kind == b->kind;
}

static int add_frame(const struct profile *p, uint32_t id, json_t *frames, struct charvec *name) {
        const struct profile_frame *fr = profile_frame(p, id);
        json_t *o;
        int r;

        name->n = 0;
        r = folded_frame_name(p, id, false, name);
        if (r < 0)
                return r;
        o = json_object();
        r = json_append_new(frames, o);
        if (r < 0)
                return r;
        r = json_set_new(o, "name", json_bytes_new(name->v, name->n));
        if (r >= 0 && fr->file != 0)
                r = json_set_new(o, "file", json_bytes_new(profile_string(p, fr->file),
                                                      profile_string_length(p, fr->file)));
        if (r >= 0 && fr->line != 0)
                r = json_set_new(o, "line", json_integer(fr->line));
        return r;
}

/* Writes the frames and sets index[frame id] to each one's place in them. */
static int add_frames(const struct profile *p, json_t *frames, uint32_t *index) {
        _cleanup_(vec_freep) struct charvec name = {};
        _cleanup_free_ uint32_t *first = calloc(profile_frame_count(p) + 1, sizeof(*first));
        struct idindex shown = {};
        struct shown_ctx ctx = { p, first };
        uint32_t n = 0;
        int r = first ? 0 : -ENOMEM;

        for (uint32_t id = 0; r >= 0 && id < profile_frame_count(p); id++) {
                const struct profile_frame *fr = profile_frame(p, id);
                uint32_t h = shown_hash(fr);
                if (idindex_find(&shown, h, shown_eq, &ctx, fr, &index[id]))
                        continue;
                r = idindex_insert(&shown, h, n);
                if (r >= 0)
                        r = add_frame(p, id, frames, &name);
                first[n] = id;
                index[id] = n++;
        }
        idindex_release(&shown);
        return r;
}

static int add_sample(const struct profile *p, const uint32_t *index, json_t *samples, json_t *weights,
                      uint32_t stack, double weight) {
        json_t *ids = json_array();
        size_t depth;
        const uint32_t *frames = profile_stack_frames(p, stack, &depth);
        int r;

        r = json_append_new(samples, ids);
        for (size_t i = 0; r >= 0 && i < depth; i++)
                r = json_append_new(ids, json_integer(index[frames[i]]));
        if (r >= 0)
                r = json_append_new(weights, json_number_new(weight));
        return r;
}

static int add_samples(const struct profile *p, const uint32_t *index, json_t *samples, json_t *weights,
                       double *ret_total) {
        unsigned vi = profile_value_count(p) - 1;
        size_t n = profile_sample_count(p);
        bool have = false;
        uint32_t cur = 0;
        double acc = 0, total = 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                const struct profile_sample *s = profile_sample(p, i);
                double v = s->value[vi];
                if (v == 0)
                        continue;
                if (have && s->stack == cur) {
                        acc += v;
                        continue;
                }
                if (have) {
                        r = add_sample(p, index, samples, weights, cur, acc);
                        if (r < 0)
                                return r;
                        total += acc;
                }
                have = true;
                cur = s->stack;
                acc = v;
        }
        if (have) {
                r = add_sample(p, index, samples, weights, cur, acc);
                if (r < 0)
                        return r;
                total += acc;
        }
        *ret_total = total;
        return 0;
}

int speedscope_write(const struct profile *p, FILE *f) {
        json_auto_t *root = json_object();
        json_t *shared, *frames, *profiles, *prof, *samples, *weights;
        bool ns = profile_unit(p) == PROFILE_UNIT_NANOSECONDS;
        bool diff = profile_value_count(p) > 1;
        double total = 0;
        int r;

        if (!root)
                return -ENOMEM;
        r = json_set_new(root, "$schema", json_string(SPEEDSCOPE_SCHEMA));
        if (r >= 0)
                r = json_set_new(root, "exporter", json_string("cprof " CPROF_VERSION));
        if (r >= 0)
                r = json_set_new(root, "name", json_string("cprof profile"));
        if (r >= 0)
                r = json_set_new(root, "activeProfileIndex", json_integer(0));
        if (r >= 0)
                r = json_set_new(root, "shared", shared = json_object());
        if (r >= 0)
                r = json_set_new(shared, "frames", frames = json_array());
        if (r >= 0)
                r = json_set_new(root, "profiles", profiles = json_array());
        if (r >= 0)
                r = json_append_new(profiles, prof = json_object());
        if (r >= 0)
                r = json_set_new(prof, "type", json_string("sampled"));
        if (r >= 0)
                r = json_set_new(prof, "name", json_string(diff ? "after" : ns ? "nanoseconds" : "samples"));
        if (r >= 0)
                r = json_set_new(prof, "unit", json_string(ns ? "nanoseconds" : "none"));
        if (r >= 0)
                r = json_set_new(prof, "startValue", json_integer(0));
        if (r >= 0)
                r = json_set_new(prof, "samples", samples = json_array());
        if (r >= 0)
                r = json_set_new(prof, "weights", weights = json_array());
        if (r < 0)
                return r;

        _cleanup_free_ uint32_t *index = calloc(profile_frame_count(p) + 1, sizeof(*index));
        if (!index)
                return -ENOMEM;
        r = add_frames(p, frames, index);
        if (r < 0)
                return r;
        r = add_samples(p, index, samples, weights, &total);
        if (r < 0)
                return r;
        r = json_set_new(prof, "endValue", json_number_new(total));
        if (r < 0)
                return r;

        if (json_dumpf(root, f, JSON_COMPACT) < 0 || fputc('\n', f) == EOF)
                return stdio_write_error();
        if (fflush(f) != 0 || ferror(f))
                return stdio_write_error();
        return 0;
}
