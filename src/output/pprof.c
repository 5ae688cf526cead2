/* pprof writer: a gzipped perftools.profiles.Profile (google/pprof
 * proto/profile.proto), the format of Google's pprof, Pyroscope and Parca.
 *
 * Mapping of the model:
 *  - one value type: {samples, count}, or {cpu, nanoseconds} for a
 *    nanosecond profile; a differential profile writes its second value
 *    (after), since pprof compares two files itself (pprof -diff_base);
 *  - one Function and one Location (with one Line) per frame: Location id
 *    and Function id are the frame id + 1 (pprof reserves id 0). Function
 *    name is the folded name with its kind suffix (_[k] ...), so kernel and
 *    user frames of the same name stay apart as they do in flame graphs;
 *    system_name is the bare name; filename and line come from the frame;
 *  - one Sample per stack with a non-zero value, location ids leaf first
 *    as pprof wants; fractional values from folded files are rounded;
 *  - one Mapping per module that frames name (file name, build-id when
 *    the recording knew it, memory 0 to the top of the address space),
 *    referred to by the frames' Locations. Named frames keep no address.
 *    A frame the recording could not name keeps its address in the
 *    module (the ELF virtual address) and gets no Function or Line, so a
 *    symbolizer can name it later from the build-id; has_functions is set
 *    on a Mapping only when all its frames are named;
 *  - period_type {cpu, nanoseconds} and period 1e9/Hz when the sampling
 *    frequency is known, duration_nanos when the duration is.
 * Strings are made valid UTF-8 (proto3 requires it; see utf8.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cprof/output.h"
#include "output/protobuf.h"
#include "output/utf8.h"
#include "util/atomic-file.h"
#include "util/cleanup.h"
#include "util/hash.h"

/* profile.proto field numbers */
enum {
        PROFILE_SAMPLE_TYPE = 1,
        PROFILE_SAMPLE = 2,
        PROFILE_MAPPING = 3,
        PROFILE_LOCATION = 4,
        PROFILE_FUNCTION = 5,
        PROFILE_STRING_TABLE = 6,
        PROFILE_DURATION_NANOS = 10,
        PROFILE_PERIOD_TYPE = 11,
        PROFILE_PERIOD = 12,

        VALUE_TYPE_TYPE = 1,
        VALUE_TYPE_UNIT = 2,

        SAMPLE_LOCATION_ID = 1,
        SAMPLE_VALUE = 2,

        LOCATION_ID = 1,
        LOCATION_MAPPING_ID = 2,
        LOCATION_ADDRESS = 3,
        LOCATION_LINE = 4,

        MAPPING_ID = 1,
        MAPPING_MEMORY_LIMIT = 3,
        MAPPING_FILENAME = 5,
        MAPPING_BUILD_ID = 6,
        MAPPING_HAS_FUNCTIONS = 7,
        MAPPING_HAS_FILENAMES = 8,
        MAPPING_HAS_LINE_NUMBERS = 9,

        LINE_FUNCTION_ID = 1,
        LINE_LINE = 2,

        FUNCTION_ID = 1,
        FUNCTION_NAME = 2,
        FUNCTION_SYSTEM_NAME = 3,
        FUNCTION_FILENAME = 4,
};

/* The string table under construction: entries are written to `table`
 * as they get their index; `index` dedups them by a key (see below). */
struct strings {
        struct pb_buf table;
        struct u64map index;
        uint64_t n;
        struct charvec tmp, clean; /* scratch: one string at a time */
};

static void strings_release(struct strings *s) {
        pb_buf_release(&s->table);
        u64map_release(&s->index);
        vec_free(&s->tmp);
        vec_free(&s->clean);
}

static int strings_add_literal(struct strings *s, const char *str, uint64_t *ret) {
        int r = pb_bytes(&s->table, PROFILE_STRING_TABLE, str, strlen(str));
        if (r < 0)
                return r;
        *ret = s->n++;
        return 0;
}

/* Keys: profile string id << 8 | kind for a folded frame name, and
 * id << 8 | 0xff for a bare profile string. A kind without a suffix
 * names the same text as the bare string, so it shares that key. */
static int strings_add(struct strings *s, const struct profile *p, uint32_t str_id,
                       const struct profile_frame *fr, uint64_t *ret) {
        uint64_t key, val;
        int r;

        if (str_id == 0 && !fr) {
                *ret = 0;
                return 0;
        }
        bool suffixed = fr && frame_kind_suffix(fr->kind)[0] != '\0';
        key = ((uint64_t) str_id << 8) | (suffixed ? (uint64_t) fr->kind : 0xff);
        if (u64map_get(&s->index, key, &val)) {
                *ret = val;
                return 0;
        }

        if (fr) {
                /* the folded name without its line: the same text
                 * folded_frame_name(with_line false) gives */
                s->tmp.n = 0;
                r = charvec_append(&s->tmp, profile_string(p, str_id), profile_string_length(p, str_id));
                if (r >= 0)
                        r = charvec_append_str(&s->tmp, frame_kind_suffix(fr->kind));
                if (r < 0)
                        return r;
        }
        s->clean.n = 0;
        r = utf8_append_sanitized(fr ? s->tmp.v : profile_string(p, str_id),
                                  fr ? s->tmp.n : profile_string_length(p, str_id), &s->clean);
        if (r < 0)
                return r;
        r = u64map_put(&s->index, key, s->n);
        if (r < 0)
                return r;
        r = pb_bytes(&s->table, PROFILE_STRING_TABLE, s->clean.v, s->clean.n);
        if (r < 0)
                return r;
        *ret = s->n++;
        return 0;
}

static int value_type(struct pb_buf *out, uint32_t field, struct strings *s, const char *type,
                      const char *unit) {
        struct pb_buf m = {};
        uint64_t t, u;
        int r;

        r = strings_add_literal(s, type, &t);
        if (r >= 0)
                r = strings_add_literal(s, unit, &u);
        if (r >= 0)
                r = pb_uint64(&m, VALUE_TYPE_TYPE, t);
        if (r >= 0)
                r = pb_uint64(&m, VALUE_TYPE_UNIT, u);
        if (r >= 0)
                r = pb_message(out, field, &m);
        pb_buf_release(&m);
        return r;
}

/* Compresses the concatenation of parts (a message is the concatenation
 * of its encoded fields, so parts can be written in any grouping). */
static int write_gzip(const struct pb_buf *parts, size_t nparts, FILE *f) {
        z_stream zs = {};
        unsigned char out[16384];
        size_t part = 0, off = 0;
        int zr, r = 0;

        /* 15 + 16: a gzip header and trailer instead of zlib's */
        if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;

        do {
                /* avail_in is a uInt: feed large buffers in pieces */
                while (zs.avail_in == 0 && part < nparts) {
                        if (parts[part].bytes.n == 0) {
                                part++;
                                continue;
                        }
                        size_t chunk = MIN(parts[part].bytes.n - off, (size_t) 1 << 30);
                        zs.next_in = parts[part].bytes.v + off;
                        zs.avail_in = (uInt) chunk;
                        off += chunk;
                        if (off == parts[part].bytes.n) {
                                part++;
                                off = 0;
                        }
                }
                zs.next_out = out;
                zs.avail_out = sizeof(out);
                zr = deflate(&zs, part == nparts ? Z_FINISH : Z_NO_FLUSH);
                if (zr == Z_STREAM_ERROR) {
                        r = -EIO;
                        break;
                }
                size_t have = sizeof(out) - zs.avail_out;
                if (have > 0 && fwrite(out, 1, have, f) != have) {
                        r = stdio_write_error();
                        break;
                }
        } while (zr != Z_STREAM_END);
        deflateEnd(&zs);
        if (r < 0)
                return r;
        if (fflush(f) != 0 || ferror(f))
                return stdio_write_error();
        return 0;
}

enum {
        MODULE_HAS_FILES = 1 << 0,
        MODULE_HAS_LINES = 1 << 1,
        MODULE_HAS_ADDRESSES = 1 << 2,
};

/* An unnamed frame: a Location with its address in the module and no
 * Line, which is what symbolizers look for (pprof -symbolize, Parca and
 * Pyroscope by the Mapping's build-id). */
static int address_location(const struct profile_frame *fr, uint32_t id, const struct u64map *mappings,
                            struct pb_buf *msg, struct pb_buf *m) {
        uint64_t mid = 0;
        int r;

        pb_buf_clear(m);
        r = pb_uint64(m, LOCATION_ID, (uint64_t) id + 1);
        if (r >= 0 && fr->module && u64map_get(mappings, fr->module, &mid))
                r = pb_uint64(m, LOCATION_MAPPING_ID, mid);
        if (r >= 0)
                r = pb_uint64(m, LOCATION_ADDRESS, fr->addr);
        if (r >= 0)
                r = pb_message(msg, PROFILE_LOCATION, m);
        return r;
}

static int write_profile(const struct profile *p, struct pb_buf *msg, struct strings *s) {
        struct pb_buf m = {}, line = {};
        struct u64map mappings = {};    /* module string id -> mapping id */
        struct u64map module_bits = {}; /* module string id -> MODULE_HAS_* */
        _cleanup_free_ uint64_t *locs = NULL;
        size_t nframes = profile_frame_count(p), nstacks = profile_stack_count(p);
        unsigned vi = profile_value_count(p) - 1;
        bool ns = profile_unit(p) == PROFILE_UNIT_NANOSECONDS;
        size_t max_depth = 1;
        uint64_t idx;
        int r;

        /* string_table[0] must be "" */
        r = strings_add_literal(s, "", &idx);
        if (r < 0)
                goto out;

        r = value_type(msg, PROFILE_SAMPLE_TYPE, s, ns ? "cpu" : "samples", ns ? "nanoseconds" : "count");
        if (r < 0)
                goto out;

        for (uint32_t id = 0; id < nstacks; id++)
                max_depth = MAX(max_depth, (size_t) profile_stack(p, id)->depth);
        locs = calloc(max_depth, sizeof(*locs));
        if (!locs) {
                r = -ENOMEM;
                goto out;
        }

        for (uint32_t id = 0; id < nstacks; id++) {
                const struct profile_stack *st = profile_stack(p, id);
                double v = round(st->value[vi]);
                if (v == 0 || !isfinite(v))
                        continue;
                /* int64 range; clamp rather than wrap */
                int64_t iv = v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t) v;

                size_t depth;
                const uint32_t *frames = profile_stack_frames(p, id, &depth);
                for (size_t i = 0; i < depth; i++)
                        locs[i] = (uint64_t) frames[depth - 1 - i] + 1;

                pb_buf_clear(&m);
                uint64_t uv = (uint64_t) iv;
                r = pb_packed_uint64(&m, SAMPLE_LOCATION_ID, locs, depth);
                if (r >= 0)
                        r = pb_packed_uint64(&m, SAMPLE_VALUE, &uv, 1);
                if (r >= 0)
                        r = pb_message(msg, PROFILE_SAMPLE, &m);
                if (r < 0)
                        goto out;
        }

        /* what any frame of a module has */
        for (uint32_t id = 0; id < nframes; id++) {
                const struct profile_frame *fr = profile_frame(p, id);
                uint64_t bits = 0;
                if (fr->module == 0)
                        continue;
                (void) u64map_get(&module_bits, fr->module, &bits);
                bits |= (fr->file ? MODULE_HAS_FILES : 0) | (fr->line ? MODULE_HAS_LINES : 0) |
                        (fr->addr ? MODULE_HAS_ADDRESSES : 0);
                r = u64map_put(&module_bits, fr->module, bits);
                if (r < 0)
                        goto out;
        }
        /* Mappings: one per module string, numbered in order of first use */
        for (uint32_t id = 0; id < nframes; id++) {
                const struct profile_frame *fr = profile_frame(p, id);
                uint64_t mid, filename, build_id;
                if (fr->module == 0 || u64map_get(&mappings, fr->module, &mid))
                        continue;
                mid = mappings.count + 1;
                r = u64map_put(&mappings, fr->module, mid);
                if (r >= 0)
                        r = strings_add(s, p, fr->module, NULL, &filename);
                if (r >= 0)
                        r = strings_add(s, p, profile_build_id(p, fr->module), NULL, &build_id);
                if (r < 0)
                        goto out;
                pb_buf_clear(&m);
                r = pb_uint64(&m, MAPPING_ID, mid);
                if (r >= 0)
                        r = pb_int64(&m, MAPPING_FILENAME, (int64_t) filename);
                if (r >= 0)
                        r = pb_int64(&m, MAPPING_BUILD_ID, (int64_t) build_id);
                /* the whole address space, from 0: Location addresses are
                 * the module's own (ELF virtual addresses), as pprof reads
                 * a mapping like this one */
                if (r >= 0)
                        r = pb_uint64(&m, MAPPING_MEMORY_LIMIT, UINT64_MAX);
                uint64_t bits = 0;
                (void) u64map_get(&module_bits, fr->module, &bits);
                /* an unnamed Location is left for a symbolizer to name */
                if (r >= 0 && !(bits & MODULE_HAS_ADDRESSES))
                        r = pb_uint64(&m, MAPPING_HAS_FUNCTIONS, 1);
                if (r >= 0 && (bits & MODULE_HAS_FILES))
                        r = pb_uint64(&m, MAPPING_HAS_FILENAMES, 1);
                if (r >= 0 && (bits & MODULE_HAS_LINES))
                        r = pb_uint64(&m, MAPPING_HAS_LINE_NUMBERS, 1);
                if (r >= 0)
                        r = pb_message(msg, PROFILE_MAPPING, &m);
                if (r < 0)
                        goto out;
        }

        for (uint32_t id = 0; id < nframes; id++) {
                const struct profile_frame *fr = profile_frame(p, id);
                uint64_t name, system_name, filename, mid = 0;

                if (fr->addr) {
                        r = address_location(fr, id, &mappings, msg, &m);
                        if (r < 0)
                                goto out;
                        continue;
                }
                r = strings_add(s, p, fr->name, fr, &name);
                if (r >= 0)
                        r = strings_add(s, p, fr->name, NULL, &system_name);
                if (r >= 0)
                        r = strings_add(s, p, fr->file, NULL, &filename);
                if (r < 0)
                        goto out;

                pb_buf_clear(&m);
                r = pb_uint64(&m, FUNCTION_ID, (uint64_t) id + 1);
                if (r >= 0)
                        r = pb_int64(&m, FUNCTION_NAME, (int64_t) name);
                if (r >= 0)
                        r = pb_int64(&m, FUNCTION_SYSTEM_NAME, (int64_t) system_name);
                if (r >= 0)
                        r = pb_int64(&m, FUNCTION_FILENAME, (int64_t) filename);
                if (r >= 0)
                        r = pb_message(msg, PROFILE_FUNCTION, &m);
                if (r < 0)
                        goto out;

                pb_buf_clear(&line);
                pb_buf_clear(&m);
                r = pb_uint64(&line, LINE_FUNCTION_ID, (uint64_t) id + 1);
                if (r >= 0)
                        r = pb_int64(&line, LINE_LINE, fr->line);
                if (r >= 0)
                        r = pb_uint64(&m, LOCATION_ID, (uint64_t) id + 1);
                if (r >= 0 && fr->module && u64map_get(&mappings, fr->module, &mid))
                        r = pb_uint64(&m, LOCATION_MAPPING_ID, mid);
                if (r >= 0)
                        r = pb_message(&m, LOCATION_LINE, &line);
                if (r >= 0)
                        r = pb_message(msg, PROFILE_LOCATION, &m);
                if (r < 0)
                        goto out;
        }

        if (profile_frequency_hz(p) != 0) {
                r = value_type(msg, PROFILE_PERIOD_TYPE, s, "cpu", "nanoseconds");
                if (r >= 0)
                        r = pb_int64(msg, PROFILE_PERIOD, (int64_t) (1000000000 / profile_frequency_hz(p)));
                if (r < 0)
                        goto out;
        }
        if (profile_duration_ns(p) != 0) {
                uint64_t d = profile_duration_ns(p);
                r = pb_int64(msg, PROFILE_DURATION_NANOS, d > INT64_MAX ? INT64_MAX : (int64_t) d);
                if (r < 0)
                        goto out;
        }

        r = 0;
out:
        pb_buf_release(&m);
        pb_buf_release(&line);
        u64map_release(&mappings);
        u64map_release(&module_bits);
        return r;
}

int pprof_write(const struct profile *p, FILE *f) {
        struct pb_buf msg = {};
        struct strings s = {};
        int r;

        r = write_profile(p, &msg, &s);
        if (r >= 0) {
                /* the string table goes last: only now is it complete */
                const struct pb_buf parts[] = { msg, s.table };
                r = write_gzip(parts, ELEMENTSOF(parts), f);
        }
        pb_buf_release(&msg);
        strings_release(&s);
        return r;
}
