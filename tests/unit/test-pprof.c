/* pprof writer: gunzips what pprof_write produced and decodes the
 * protobuf by hand (field numbers of perftools.profiles.Profile), then
 * checks the string table, value types, samples, locations and functions. */
#include <stdbool.h>
#include <stdint.h>
#include <zlib.h>

#include "cprof/output.h"
#include "cprof/profile.h"
#include "tap.h"

#define MAXN 64

struct msg { const uint8_t *p; size_t len; };

struct decoded {
        bool ok;
        char *strings[MAXN];
        size_t nstrings;
        struct { uint64_t locs[MAXN]; size_t nlocs; int64_t values[4]; size_t nvalues; } samples[MAXN];
        size_t nsamples;
        struct { uint64_t id, mapping, address, function, line; } locations[MAXN];
        struct { uint64_t id, memory_limit, filename, build_id, has_functions, has_filenames, has_lines; } mappings[MAXN];
        size_t nmappings;
        size_t nlocations;
        struct { uint64_t id, name, system_name, filename; } functions[MAXN];
        size_t nfunctions;
        uint64_t sample_type[4][2];
        size_t nsample_types;
        uint64_t period_type[2];
        int64_t period, duration;
};

static bool varint(struct msg *m, uint64_t *v) {
        *v = 0;
        for (unsigned shift = 0; shift < 64; shift += 7) {
                if (m->len == 0)
                        return false;
                uint8_t b = *m->p++;
                m->len--;
                *v |= (uint64_t) (b & 0x7f) << shift;
                if (!(b & 0x80))
                        return true;
        }
        return false;
}

/* Next field: *field, *wire, and either *v (varint) or *sub (bytes). */
static bool field(struct msg *m, uint32_t *fieldno, unsigned *wire, uint64_t *v, struct msg *sub) {
        uint64_t key;
        if (!varint(m, &key))
                return false;
        *fieldno = (uint32_t) (key >> 3);
        *wire = key & 7;
        if (*wire == 0)
                return varint(m, v);
        if (*wire == 2) {
                uint64_t len;
                if (!varint(m, &len) || len > m->len)
                        return false;
                *sub = (struct msg) { m->p, len };
                m->p += len;
                m->len -= len;
                return true;
        }
        return false; /* we never write other wire types */
}

/* Repeated varints: packed (wire 2) or not (wire 0). */
static bool repeated(unsigned wire, uint64_t v, struct msg *sub, uint64_t *out, size_t *n, size_t max) {
        if (wire == 0) {
                if (*n >= max)
                        return false;
                out[(*n)++] = v;
                return true;
        }
        while (sub->len > 0) {
                if (*n >= max || !varint(sub, &out[*n]))
                        return false;
                (*n)++;
        }
        return true;
}

static bool decode_pair(struct msg m, uint64_t out[2]) {
        uint32_t f; unsigned w; uint64_t v; struct msg s;
        out[0] = out[1] = 0;
        while (m.len > 0) {
                if (!field(&m, &f, &w, &v, &s) || w != 0)
                        return false;
                if (f == 1 || f == 2)
                        out[f - 1] = v;
        }
        return true;
}

static bool decode(const uint8_t *data, size_t len, struct decoded *d) {
        struct msg m = { data, len };
        uint32_t f; unsigned w; uint64_t v; struct msg s;

        memset(d, 0, sizeof(*d));
        while (m.len > 0) {
                if (!field(&m, &f, &w, &v, &s))
                        return false;
                switch (f) {
                case 1:
                        if (w != 2 || d->nsample_types >= 4 || !decode_pair(s, d->sample_type[d->nsample_types++]))
                                return false;
                        break;
                case 2: {
                        if (w != 2 || d->nsamples >= MAXN)
                                return false;
                        __typeof__(d->samples[0]) *smp = &d->samples[d->nsamples++];
                        while (s.len > 0) {
                                uint32_t sf; unsigned sw; uint64_t sv; struct msg ss;
                                if (!field(&s, &sf, &sw, &sv, &ss))
                                        return false;
                                if (sf == 1 && !repeated(sw, sv, &ss, smp->locs, &smp->nlocs, MAXN))
                                        return false;
                                if (sf == 2 && !repeated(sw, sv, &ss, (uint64_t *) smp->values, &smp->nvalues, 4))
                                        return false;
                        }
                        break;
                }
                case 4: {
                        if (w != 2 || d->nlocations >= MAXN)
                                return false;
                        __typeof__(d->locations[0]) *loc = &d->locations[d->nlocations++];
                        while (s.len > 0) {
                                uint32_t sf; unsigned sw; uint64_t sv; struct msg ss;
                                if (!field(&s, &sf, &sw, &sv, &ss))
                                        return false;
                                if (sf == 1)
                                        loc->id = sv;
                                if (sf == 2)
                                        loc->mapping = sv;
                                if (sf == 3)
                                        loc->address = sv;
                                if (sf == 4) {
                                        uint64_t pair[2];
                                        if (sw != 2 || !decode_pair(ss, pair))
                                                return false;
                                        loc->function = pair[0];
                                        loc->line = pair[1];
                                }
                        }
                        break;
                }
                case 5: {
                        if (w != 2 || d->nfunctions >= MAXN)
                                return false;
                        __typeof__(d->functions[0]) *fn = &d->functions[d->nfunctions++];
                        while (s.len > 0) {
                                uint32_t sf; unsigned sw; uint64_t sv; struct msg ss;
                                if (!field(&s, &sf, &sw, &sv, &ss) || sw != 0)
                                        return false;
                                if (sf == 1) fn->id = sv;
                                if (sf == 2) fn->name = sv;
                                if (sf == 3) fn->system_name = sv;
                                if (sf == 4) fn->filename = sv;
                        }
                        break;
                }
                case 3: {
                        if (w != 2 || d->nmappings >= MAXN)
                                return false;
                        __typeof__(d->mappings[0]) *mp = &d->mappings[d->nmappings++];
                        while (s.len > 0) {
                                uint32_t sf; unsigned sw; uint64_t sv; struct msg ss;
                                if (!field(&s, &sf, &sw, &sv, &ss) || sw != 0)
                                        return false;
                                if (sf == 1) mp->id = sv;
                                if (sf == 3) mp->memory_limit = sv;
                                if (sf == 5) mp->filename = sv;
                                if (sf == 6) mp->build_id = sv;
                                if (sf == 7) mp->has_functions = sv;
                                if (sf == 8) mp->has_filenames = sv;
                                if (sf == 9) mp->has_lines = sv;
                        }
                        break;
                }
                case 6:
                        if (w != 2 || d->nstrings >= MAXN)
                                return false;
                        d->strings[d->nstrings++] = strndup((const char *) s.p, s.len);
                        break;
                case 10:
                        d->duration = (int64_t) v;
                        break;
                case 11:
                        if (w != 2 || !decode_pair(s, d->period_type))
                                return false;
                        break;
                case 12:
                        d->period = (int64_t) v;
                        break;
                default:
                        return false; /* a field we do not write */
                }
        }
        d->ok = true;
        return true;
}

static void decoded_free(struct decoded *d) {
        for (size_t i = 0; i < d->nstrings; i++)
                free(d->strings[i]);
}

static const char *str(const struct decoded *d, uint64_t i) {
        return i < d->nstrings ? d->strings[i] : NULL;
}

static bool gunzip(const char *in, size_t inlen, uint8_t **out, size_t *outlen, bool *is_gzip) {
        z_stream zs = {};
        size_t cap = 1 << 16;
        *out = malloc(cap);
        *outlen = 0;
        *is_gzip = inlen >= 2 && (uint8_t) in[0] == 0x1f && (uint8_t) in[1] == 0x8b;
        if (inflateInit2(&zs, 15 + 16) != Z_OK) /* gzip only */
                return false;
        zs.next_in = (Bytef *) in;
        zs.avail_in = (uInt) inlen;
        int r;
        do {
                if (*outlen == cap)
                        *out = realloc(*out, cap *= 2);
                zs.next_out = *out + *outlen;
                zs.avail_out = (uInt) (cap - *outlen);
                r = inflate(&zs, Z_NO_FLUSH);
                *outlen = cap - zs.avail_out;
        } while (r == Z_OK);
        inflateEnd(&zs);
        return r == Z_STREAM_END && zs.avail_in == 0;
}

static bool write_decode(const struct profile *p, struct decoded *d) {
        char *buf = NULL;
        size_t len = 0, rawlen;
        uint8_t *raw = NULL;
        bool is_gzip;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                abort();
        int r = pprof_write(p, f);
        fclose(f);
        bool ok = r == 0 && gunzip(buf, len, &raw, &rawlen, &is_gzip) && is_gzip && decode(raw, rawlen, d);
        free(raw);
        free(buf);
        return ok;
}

static uint32_t frame(struct profile *p, const char *name, enum frame_kind kind) {
        uint32_t id;
        if (profile_intern_named_frame(p, name, strlen(name), kind, &id) < 0)
                abort();
        return id;
}

static void add(struct profile *p, const uint32_t *ids, size_t n, double v0, double v1) {
        double v[2] = { v0, v1 };
        if (profile_add_sample(p, ids, n, v, 0, 0) < 0)
                abort();
}

/* The names of a sample's locations, leaf first, joined by ';'. */
static void sample_names(const struct decoded *d, size_t si, char *out, size_t n) {
        out[0] = '\0';
        for (size_t i = 0; i < d->samples[si].nlocs; i++) {
                const char *name = "?";
                for (size_t l = 0; l < d->nlocations; l++)
                        if (d->locations[l].id == d->samples[si].locs[i])
                                for (size_t fn = 0; fn < d->nfunctions; fn++)
                                        if (d->functions[fn].id == d->locations[l].function)
                                                name = str(d, d->functions[fn].name);
                if (i)
                        strncat(out, ";", n - strlen(out) - 1);
                strncat(out, name ? name : "(bad)", n - strlen(out) - 1);
        }
}

static int64_t sample_value_of(const struct decoded *d, const char *names) {
        char buf[512];
        for (size_t i = 0; i < d->nsamples; i++) {
                sample_names(d, i, buf, sizeof(buf));
                if (strcmp(buf, names) == 0)
                        return d->samples[i].nvalues == 1 ? d->samples[i].values[0] : -1;
        }
        return -1;
}

static const char *function_field(const struct decoded *d, const char *name, int which) {
        for (size_t i = 0; i < d->nfunctions; i++)
                if (str(d, d->functions[i].name) && strcmp(str(d, d->functions[i].name), name) == 0)
                        return str(d, which == 0 ? d->functions[i].system_name : d->functions[i].filename);
        return NULL;
}

int main(void) {
        struct profile *p;
        struct decoded d;

        /* main;foo;bar 3, main;foo 2, main;sys_read_[k] 1.6 (rounds to 2),
         * main;zero 0 (left out) */
        profile_new(&p);
        profile_set_frequency_hz(p, 99);
        profile_set_duration_ns(p, 2500000000ULL);
        uint32_t mainf = frame(p, "main", FRAME_USER), foo = frame(p, "foo", FRAME_USER);
        uint32_t bar = frame(p, "bar", FRAME_USER), kread = frame(p, "sys_read", FRAME_KERNEL);
        uint32_t zero = frame(p, "zero", FRAME_USER);
        {
                struct profile_frame fr = { .kind = FRAME_USER, .line = 42 };
                profile_intern_string(p, "baz", 3, &fr.name);
                profile_intern_string(p, "src/baz.c", 9, &fr.file);
                /* a module with a build-id; its other frame has no line */
                profile_intern_string(p, "/usr/lib/libbaz.so", 18, &fr.module);
                profile_set_build_id(p, fr.module, "00aa11bb");
                uint32_t baz, baz2;
                profile_intern_frame(p, &(struct profile_frame) { .name = fr.name, .module = fr.module,
                                                                  .kind = FRAME_INLINE }, &baz2);
                profile_intern_frame(p, &fr, &baz);
                add(p, (uint32_t[]) { mainf, baz }, 2, 4, 0);
                (void) baz2; /* in no stack: still its module's frame */
        }
        add(p, (uint32_t[]) { mainf, foo, bar }, 3, 1, 0);
        add(p, (uint32_t[]) { mainf, foo }, 2, 2, 0);
        add(p, (uint32_t[]) { mainf, foo, bar }, 3, 2, 0);
        add(p, (uint32_t[]) { mainf, kread }, 2, 1.6, 0);
        add(p, (uint32_t[]) { mainf, zero }, 2, 0, 0);

        CHECK(write_decode(p, &d), "output is gzip and decodes as a Profile");
        CHECK(d.nstrings > 0 && strcmp(d.strings[0], "") == 0, "string_table[0] is empty");
        CHECK(d.nsample_types == 1, "one sample type");
        CHECK_STREQ(str(&d, d.sample_type[0][0]), "samples", "sample type");
        CHECK_STREQ(str(&d, d.sample_type[0][1]), "count", "sample unit");
        CHECK(d.nsamples == 4, "one sample per non-zero stack (got %zu)", d.nsamples);
        CHECK(sample_value_of(&d, "bar;foo;main") == 3, "aggregated stack, leaf first");
        CHECK(sample_value_of(&d, "foo;main") == 2, "inner stack value");
        CHECK(sample_value_of(&d, "sys_read_[k];main") == 2, "kernel suffix, fractional value rounded");
        CHECK(sample_value_of(&d, "baz;main") == 4, "frame with file and line");
        CHECK(d.nmappings == 1, "one Mapping: the one module frames name (got %zu)", d.nmappings);
        CHECK(d.nmappings == 1 && !strcmp(str(&d, d.mappings[0].filename), "/usr/lib/libbaz.so") &&
                      !strcmp(str(&d, d.mappings[0].build_id), "00aa11bb") && d.mappings[0].has_functions &&
                      d.mappings[0].has_filenames && d.mappings[0].has_lines,
              "the Mapping has the module's file name, build-id, and has_* from any of its frames");
        size_t with_mapping = 0;
        for (size_t i = 0; i < d.nlocations; i++)
                with_mapping += d.nmappings && d.locations[i].mapping == d.mappings[0].id;
        CHECK(with_mapping == 2, "the module's two frames point at its Mapping (%zu)", with_mapping);
        CHECK(sample_value_of(&d, "zero;main") == -1, "zero stack left out");
        CHECK_STREQ(function_field(&d, "sys_read_[k]", 0), "sys_read", "system_name is the bare name");
        CHECK_STREQ(function_field(&d, "baz", 1), "src/baz.c", "filename from the frame");
        CHECK_STREQ(function_field(&d, "bar", 1), "", "no filename: empty string");
        {
                bool line_ok = false;
                for (size_t i = 0; i < d.nlocations; i++)
                        for (size_t fn = 0; fn < d.nfunctions; fn++)
                                if (d.functions[fn].id == d.locations[i].function &&
                                    strcmp(str(&d, d.functions[fn].name), "baz") == 0)
                                        line_ok = d.locations[i].line == 42;
                CHECK(line_ok, "location line from the frame");
        }
        CHECK(d.nlocations == profile_frame_count(p) && d.nfunctions == profile_frame_count(p),
              "one location and function per frame");
        {
                bool ids_ok = true;
                for (size_t i = 0; i < d.nsamples; i++)
                        for (size_t k = 0; k < d.samples[i].nlocs; k++)
                                if (d.samples[i].locs[k] == 0 || d.samples[i].locs[k] > d.nlocations)
                                        ids_ok = false;
                CHECK(ids_ok, "location ids are 1..n");
        }
        CHECK_STREQ(str(&d, d.period_type[0]), "cpu", "period type");
        CHECK_STREQ(str(&d, d.period_type[1]), "nanoseconds", "period unit");
        CHECK(d.period == 1000000000 / 99, "period from frequency (got %lld)", (long long) d.period);
        CHECK(d.duration == 2500000000LL, "duration_nanos");
        decoded_free(&d);
        (void) bar;
        profile_free(p);

        /* nanoseconds, no frequency, no duration, a non-UTF-8 name */
        profile_new(&p);
        profile_set_unit(p, PROFILE_UNIT_NANOSECONDS);
        uint32_t bad = frame(p, "bad\xff\xc3(", FRAME_USER);
        add(p, &bad, 1, 1500, 0);
        CHECK(write_decode(p, &d), "nanosecond profile decodes");
        CHECK_STREQ(str(&d, d.sample_type[0][0]), "cpu", "nanosecond sample type");
        CHECK_STREQ(str(&d, d.sample_type[0][1]), "nanoseconds", "nanosecond sample unit");
        CHECK(d.period == 0 && d.period_type[0] == 0 && d.duration == 0, "no period or duration when unknown");
        CHECK(sample_value_of(&d, "bad\xef\xbf\xbd\xef\xbf\xbd(") == 1500,
              "invalid UTF-8 bytes become U+FFFD");
        decoded_free(&d);
        profile_free(p);

        /* differential: the second value is written */
        profile_new(&p);
        profile_set_value_count(p, 2);
        uint32_t a = frame(p, "a", FRAME_USER), b = frame(p, "b", FRAME_USER);
        add(p, &a, 1, 10, 3);
        add(p, &b, 1, 5, 0);
        CHECK(write_decode(p, &d), "differential profile decodes");
        CHECK(d.nsamples == 1 && sample_value_of(&d, "a") == 3, "differential writes the after value");
        decoded_free(&d);
        profile_free(p);

        /* empty profile: still a valid file */
        profile_new(&p);
        CHECK(write_decode(p, &d), "empty profile decodes");
        CHECK(d.nsamples == 0 && d.nstrings >= 1 && strcmp(d.strings[0], "") == 0, "empty profile has only the basics");
        decoded_free(&d);
        profile_free(p);

        /* unnamed frames keep their address in the module: Locations with
         * an address and no Line, in a Mapping without has_functions */
        profile_new(&p);
        {
                uint32_t root = frame(p, "main", FRAME_USER), lib, n1, n2;
                profile_intern_string(p, "/usr/lib/libnone.so", 19, &lib);
                struct profile_frame u = { .module = lib, .kind = FRAME_USER, .addr = 0x1234 };
                profile_intern_string(p, "[libnone.so]", 12, &u.name);
                profile_intern_frame(p, &u, &n1);
                u.addr = 0x5678;
                profile_intern_frame(p, &u, &n2);
                CHECK(n1 != n2, "frames that differ by address are two frames");
                add(p, (uint32_t[]) { root, n1 }, 2, 3, 0);
                add(p, (uint32_t[]) { root, n2 }, 2, 5, 0);
                CHECK(write_decode(p, &d), "profile with addresses decodes");
                CHECK(d.nsamples == 2, "a Sample per address (got %zu)", d.nsamples);
                size_t addressed = 0, lined = 0;
                for (size_t i = 0; i < d.nlocations; i++) {
                        const __typeof__(d.locations[0]) *l = &d.locations[i];
                        bool at1 = l->address == 0x1234 && l->id == n1 + 1, at2 = l->address == 0x5678 && l->id == n2 + 1;
                        addressed += (at1 || at2) && l->function == 0 && d.nmappings == 1 &&
                                     l->mapping == d.mappings[0].id;
                        lined += l->function != 0;
                }
                CHECK(addressed == 2, "both unnamed frames are Locations with their address, no Line, in the "
                                      "module's Mapping (%zu)", addressed);
                CHECK(lined == 1, "the named frame keeps its Line");
                CHECK(d.nmappings == 1 && !d.mappings[0].has_functions && d.mappings[0].memory_limit == UINT64_MAX,
                      "the Mapping spans the address space and is left for a symbolizer (no has_functions)");
                int64_t at[2] = {};
                for (size_t i = 0; i < d.nsamples; i++)
                        for (size_t k = 0; k < d.nlocations; k++)
                                if (d.samples[i].nlocs == 2 && d.samples[i].locs[0] == d.locations[k].id)
                                        at[d.locations[k].address == 0x5678] += d.samples[i].values[0];
                CHECK(at[0] == 3 && at[1] == 5, "each address has its own count (%lld, %lld)",
                      (long long) at[0], (long long) at[1]);
        }
        decoded_free(&d);
        profile_free(p);

        /* many distinct stacks: bigger than one deflate output chunk */
        profile_new(&p);
        uint64_t sum = 0;
        for (unsigned i = 0; i < 50; i++) {
                char name[32];
                snprintf(name, sizeof(name), "fn%u", i);
                uint32_t ids[40];
                for (unsigned k = 0; k < 40; k++)
                        ids[k] = frame(p, k == 39 ? name : "deep", FRAME_USER);
                add(p, ids, 40, i + 1, 0);
                sum += i + 1;
        }
        CHECK(write_decode(p, &d), "larger profile decodes");
        {
                int64_t got = 0;
                for (size_t i = 0; i < d.nsamples; i++)
                        got += d.samples[i].values[0];
                CHECK(d.nsamples == 50 && got == (int64_t) sum, "all values present (%lld of %llu)",
                      (long long) got, (unsigned long long) sum);
        }
        decoded_free(&d);
        profile_free(p);
        return tap_done();
}
