#include "profile-internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int profile_new(struct profile **ret) {
        struct profile *p = calloc(1, sizeof(*p));
        int r;

        if (!p)
                return -ENOMEM;
        r = strpool_init(&p->strings);
        if (r < 0) {
                free(p);
                return r;
        }
        p->n_values = 1;
        p->unit = PROFILE_UNIT_SAMPLES;
        *ret = p;
        return 0;
}

struct profile *profile_free(struct profile *p) {
        if (!p)
                return NULL;
        strpool_release(&p->strings);
        vec_free(&p->frames);
        idindex_release(&p->frame_index);
        vec_free(&p->stack_frames);
        vec_free(&p->stacks);
        idindex_release(&p->stack_index);
        vec_free(&p->samples);
        u64map_release(&p->build_ids);
        free(p);
        return NULL;
}

int profile_intern_string(struct profile *p, const char *s, size_t len, uint32_t *ret_id) {
        return strpool_add(&p->strings, s, len, ret_id);
}

static uint32_t frame_hash(const struct profile_frame *f) {
        uint64_t h = hash_u64(((uint64_t) f->name << 32) ^ f->module);
        h = hash_u64(h ^ ((uint64_t) f->file << 32) ^ f->line ^ ((uint64_t) f->kind << 60));
        if (f->addr)
                h = hash_u64(h ^ f->addr);
        return (uint32_t) h;
}

static bool frame_eq(const void *ctx, uint32_t id, const void *key) {
        const struct profile *p = ctx;
        const struct profile_frame *a = &p->frames.v[id], *b = key;
        return a->name == b->name && a->module == b->module && a->file == b->file &&
               a->line == b->line && a->kind == b->kind && a->addr == b->addr;
}

int profile_intern_frame(struct profile *p, const struct profile_frame *f, uint32_t *ret_id) {
        uint32_t h = frame_hash(f);
        int r;

        if (f->kind >= _FRAME_KIND_MAX || f->name >= p->strings.str.n)
                return -EINVAL;
        if (idindex_find(&p->frame_index, h, frame_eq, p, f, ret_id))
                return 0;
        r = vec_reserve(&p->frames, p->frames.n + 1);
        if (r < 0)
                return r;
        r = idindex_insert(&p->frame_index, h, (uint32_t) p->frames.n);
        if (r < 0)
                return r;
        *ret_id = (uint32_t) p->frames.n;
        p->frames.v[p->frames.n++] = *f;
        return 0;
}

int profile_intern_named_frame(struct profile *p, const char *name, size_t len,
                               enum frame_kind kind, uint32_t *ret_id) {
        struct profile_frame f = { .kind = kind };
        int r = profile_intern_string(p, name, len, &f.name);
        if (r < 0)
                return r;
        return profile_intern_frame(p, &f, ret_id);
}

struct stack_key {
        const uint32_t *frames;
        size_t depth;
};

static bool stack_eq(const void *ctx, uint32_t id, const void *key) {
        const struct profile *p = ctx;
        const struct profile_stack *s = &p->stacks.v[id];
        const struct stack_key *k = key;
        return s->depth == k->depth &&
               memcmp(p->stack_frames.v + s->offset, k->frames, k->depth * sizeof(uint32_t)) == 0;
}

int profile_add_sample(struct profile *p, const uint32_t *frames, size_t depth,
                       const double *values, uint32_t tid, uint64_t time_ns) {
        struct stack_key key = { frames, depth };
        uint32_t h = (uint32_t) hash_bytes(frames, depth * sizeof(uint32_t), 1);
        uint32_t id;
        int r;

        if (depth == 0 || depth > UINT32_MAX)
                return -EINVAL;
        for (size_t i = 0; i < depth; i++)
                if (frames[i] >= p->frames.n)
                        return -EINVAL;
        /* a total that overflows to inf would be written as "inf", which no
         * reader takes back: refuse the sample, before anything changes */
        for (unsigned i = 0; i < p->n_values; i++)
                if (!isfinite(values[i]) || !isfinite(p->total[i] + values[i]))
                        return -ERANGE;

        r = vec_reserve(&p->samples, p->samples.n + 1);
        if (r < 0)
                return r;

        if (!idindex_find(&p->stack_index, h, stack_eq, p, &key, &id)) {
                if (p->stack_frames.n + depth > UINT32_MAX)
                        return -E2BIG;
                r = vec_reserve(&p->stack_frames, p->stack_frames.n + depth);
                if (r < 0)
                        return r;
                r = vec_reserve(&p->stacks, p->stacks.n + 1);
                if (r < 0)
                        return r;
                id = (uint32_t) p->stacks.n;
                r = idindex_insert(&p->stack_index, h, id);
                if (r < 0)
                        return r;
                p->stacks.v[p->stacks.n++] = (struct profile_stack) {
                        .offset = (uint32_t) p->stack_frames.n,
                        .depth = (uint32_t) depth,
                };
                memcpy(p->stack_frames.v + p->stack_frames.n, frames, depth * sizeof(uint32_t));
                p->stack_frames.n += depth;
        }

        struct profile_sample *s, *last = p->samples.n ? &p->samples.v[p->samples.n - 1] : NULL;
        if (p->aggregate_samples && id < p->samples.n) {
                s = &p->samples.v[id];
        } else if (!p->aggregate_samples && last && last->stack == id && last->tid == tid &&
                   time_ns == 0 && last->time_ns == 0) {
                /* the same stack again, untimed: one longer sample, so an
                 * endless repetition of one line stays one sample */
                s = last;
        } else {
                s = &p->samples.v[p->samples.n++];
                *s = (struct profile_sample) { .stack = id, .tid = tid, .time_ns = time_ns };
        }
        for (unsigned i = 0; i < p->n_values; i++) {
                s->value[i] += values[i];
                p->stacks.v[id].value[i] += values[i];
                p->total[i] += values[i];
        }
        return 0;
}

const char *profile_string(const struct profile *p, uint32_t id) {
        return strpool_get(&p->strings, id);
}

size_t profile_string_length(const struct profile *p, uint32_t id) {
        return strpool_len(&p->strings, id);
}

size_t profile_string_count(const struct profile *p) {
        return p->strings.str.n;
}

size_t profile_frame_count(const struct profile *p) {
        return p->frames.n;
}

const struct profile_frame *profile_frame(const struct profile *p, uint32_t id) {
        return &p->frames.v[id];
}

size_t profile_stack_count(const struct profile *p) {
        return p->stacks.n;
}

const struct profile_stack *profile_stack(const struct profile *p, uint32_t id) {
        return &p->stacks.v[id];
}

const uint32_t *profile_stack_frames(const struct profile *p, uint32_t id, size_t *ret_depth) {
        const struct profile_stack *s = &p->stacks.v[id];
        *ret_depth = s->depth;
        return p->stack_frames.v + s->offset;
}

size_t profile_sample_count(const struct profile *p) {
        return p->samples.n;
}

const struct profile_sample *profile_sample(const struct profile *p, size_t i) {
        return &p->samples.v[i];
}

void profile_set_keep_samples(struct profile *p, bool keep) {
        p->aggregate_samples = !keep;
}

unsigned profile_value_count(const struct profile *p) {
        return p->n_values;
}

void profile_set_value_count(struct profile *p, unsigned n) {
        p->n_values = n >= 1 && n <= PROFILE_MAX_VALUES ? n : 1;
}

double profile_total(const struct profile *p, unsigned value) {
        return value < PROFILE_MAX_VALUES ? p->total[value] : 0;
}

enum profile_unit profile_unit(const struct profile *p) {
        return p->unit;
}

void profile_set_unit(struct profile *p, enum profile_unit unit) {
        p->unit = unit;
}

uint64_t profile_duration_ns(const struct profile *p) {
        return p->duration_ns;
}

void profile_set_duration_ns(struct profile *p, uint64_t ns) {
        p->duration_ns = ns;
}

uint32_t profile_frequency_hz(const struct profile *p) {
        return p->frequency_hz;
}

void profile_set_frequency_hz(struct profile *p, uint32_t hz) {
        p->frequency_hz = hz;
}

int profile_set_build_id(struct profile *p, uint32_t module, const char *hex) {
        uint32_t id;
        if (module == 0 || module >= p->strings.str.n)
                return -EINVAL;
        int r = profile_intern_string(p, hex, strlen(hex), &id);
        if (r < 0)
                return r;
        return u64map_put(&p->build_ids, module, id);
}

uint32_t profile_build_id(const struct profile *p, uint32_t module) {
        uint64_t id = 0;
        (void) u64map_get(&p->build_ids, module, &id);
        return (uint32_t) id;
}

const char *frame_kind_suffix(enum frame_kind kind) {
        switch (kind) {
        case FRAME_KERNEL:
                return "_[k]";
        case FRAME_INLINE:
                return "_[i]";
        case FRAME_JIT:
                return "_[j]";
        default:
                return "";
        }
}

enum frame_kind frame_kind_from_suffix(const char *s, size_t *len) {
        size_t n = *len;
        enum frame_kind kind;

        if (n <= 4 || s[n - 4] != '_' || s[n - 3] != '[' || s[n - 1] != ']')
                return FRAME_USER;
        switch (s[n - 2]) {
        case 'k':
                kind = FRAME_KERNEL;
                break;
        case 'i':
                kind = FRAME_INLINE;
                break;
        case 'j':
                kind = FRAME_JIT;
                break;
        default:
                return FRAME_USER;
        }
        *len = n - 4;
        return kind;
}
