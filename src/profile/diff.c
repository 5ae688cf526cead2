/* Differential profiles: two one-value profiles merged into one with two
 * values (before, after), the model of difffolded.pl's three-column
 * output. Frames are re-interned into the new profile once each (a table
 * per input maps old frame ids to new ones), and each input stack becomes
 * one sample, so a stack present in both ends up with both values. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "profile-internal.h"
#include "util/cleanup.h"

DEFINE_FREEP(struct profile, profile_free);

static int copy_string(struct profile *to, const struct profile *from, uint32_t id, uint32_t *ret) {
        if (id == 0) {
                *ret = 0;
                return 0;
        }
        return profile_intern_string(to, profile_string(from, id), profile_string_length(from, id), ret);
}

/* Copies every frame of `from` into `to`; *ret_map[old id] = new id. */
static int map_frames(struct profile *to, const struct profile *from, uint32_t **ret_map) {
        size_t n = profile_frame_count(from);
        _cleanup_free_ uint32_t *map = malloc((n ? n : 1) * sizeof(uint32_t));
        int r;

        if (!map)
                return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                const struct profile_frame *f = profile_frame(from, i);
                struct profile_frame nf = { .line = f->line, .kind = f->kind };
                r = copy_string(to, from, f->name, &nf.name);
                if (r < 0)
                        return r;
                r = copy_string(to, from, f->module, &nf.module);
                if (r < 0)
                        return r;
                r = copy_string(to, from, f->file, &nf.file);
                if (r < 0)
                        return r;
                r = profile_intern_frame(to, &nf, &map[i]);
                if (r < 0)
                        return r;
        }
        *ret_map = TAKE_PTR(map);
        return 0;
}

static int add_stacks(struct profile *to, const struct profile *from, const uint32_t *map,
                      unsigned slot, double num, double den, bool truncate) {
        VEC(uint32_t) ids = {};
        int r = 0;

        for (uint32_t s = 0; s < profile_stack_count(from); s++) {
                size_t depth;
                const uint32_t *frames = profile_stack_frames(from, s, &depth);
                /* the order of difffolded.pl's count * total2 / total1,
                 * so truncation gives the same integers */
                double v = profile_stack(from, s)->value[0] * num / den;
                double values[PROFILE_MAX_VALUES] = {};

                if (truncate)
                        v = trunc(v);
                values[slot] = v;
                r = vec_reserve(&ids, depth);
                if (r < 0)
                        break;
                for (size_t i = 0; i < depth; i++)
                        ids.v[i] = map[frames[i]];
                r = profile_add_sample(to, ids.v, depth, values, 0, 0);
                if (r < 0)
                        break;
        }
        vec_free(&ids);
        return r;
}

int profile_diff(const struct profile *before, const struct profile *after, bool normalize,
                 struct profile **ret) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        _cleanup_free_ uint32_t *map_before = NULL, *map_after = NULL;
        int r;

        if (profile_value_count(before) != 1 || profile_value_count(after) != 1)
                return -EINVAL;
        r = profile_new(&p);
        if (r < 0)
                return r;
        profile_set_value_count(p, 2);
        profile_set_unit(p, profile_unit(after));

        r = map_frames(p, before, &map_before);
        if (r < 0)
                return r;
        r = map_frames(p, after, &map_after);
        if (r < 0)
                return r;

        /* difffolded.pl -n: int(count * total2 / total1), only when the
         * totals differ */
        double t1 = profile_total(before, 0), t2 = profile_total(after, 0);
        bool scale = normalize && t1 > 0 && t1 != t2;
        r = add_stacks(p, before, map_before, 0, scale ? t2 : 1, scale ? t1 : 1, scale);
        if (r < 0)
                return r;
        r = add_stacks(p, after, map_after, 1, 1, 1, false);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}
