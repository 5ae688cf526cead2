/* speedscope writer: parses the output with jansson and checks the file
 * format's structure (schema, shared frames, one sampled profile) and
 * that samples and weights carry the profile's stacks in input order. */
#include <jansson.h>
#include <stdbool.h>

#include "cprof/output.h"
#include "cprof/profile.h"
#include "tap.h"

static json_t *write_parse(const struct profile *p) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                abort();
        int r = speedscope_write(p, f);
        fclose(f);
        json_t *j = r == 0 ? json_loadb(buf, len, 0, NULL) : NULL;
        free(buf);
        return j;
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

static const char *frame_name(json_t *root, json_t *idx) {
        json_t *frames = json_object_get(json_object_get(root, "shared"), "frames");
        return json_string_value(json_object_get(json_array_get(frames, (size_t) json_integer_value(idx)), "name"));
}

/* "name;name;..." of sample i, root first */
static void sample_text(json_t *root, size_t i, char *out, size_t n) {
        json_t *prof = json_array_get(json_object_get(root, "profiles"), 0);
        json_t *s = json_array_get(json_object_get(prof, "samples"), i);
        out[0] = '\0';
        for (size_t k = 0; k < json_array_size(s); k++) {
                const char *name = frame_name(root, json_array_get(s, k));
                if (k)
                        strncat(out, ";", n - strlen(out) - 1);
                strncat(out, name ? name : "(bad)", n - strlen(out) - 1);
        }
}

static double weight(json_t *root, size_t i) {
        json_t *prof = json_array_get(json_object_get(root, "profiles"), 0);
        return json_number_value(json_array_get(json_object_get(prof, "weights"), i));
}

int main(void) {
        struct profile *p;
        json_t *root, *prof;
        char text[256];

        profile_new(&p);
        uint32_t proc = frame(p, "app", FRAME_PROCESS), mainf = frame(p, "main", FRAME_USER);
        uint32_t foo = frame(p, "foo", FRAME_USER), k = frame(p, "do_sys\"open\n", FRAME_KERNEL);
        uint32_t withfile;
        {
                struct profile_frame fr = { .kind = FRAME_INLINE, .line = 7 };
                profile_intern_string(p, "inl", 3, &fr.name);
                profile_intern_string(p, "a.c", 3, &fr.file);
                profile_intern_frame(p, &fr, &withfile);
        }
        add(p, (uint32_t[]) { proc, mainf, foo }, 3, 2, 0);
        add(p, (uint32_t[]) { proc, mainf, foo }, 3, 3, 0);   /* merged with the previous */
        add(p, (uint32_t[]) { proc, mainf, k }, 3, 1, 0);
        add(p, (uint32_t[]) { proc, mainf }, 2, 0, 0);        /* zero: left out */
        add(p, (uint32_t[]) { proc, mainf, foo }, 3, 0.5, 0); /* not adjacent: its own sample */
        add(p, (uint32_t[]) { proc, withfile }, 2, 4, 0);

        root = write_parse(p);
        CHECK(root != NULL, "output is JSON");
        CHECK_STREQ(json_string_value(json_object_get(root, "$schema")),
                    "https://www.speedscope.app/file-format-schema.json", "$schema");
        CHECK_STREQ(json_string_value(json_object_get(root, "exporter")), "cprof " CPROF_VERSION, "exporter");
        CHECK(json_is_string(json_object_get(root, "name")), "file name");
        CHECK(json_array_size(json_object_get(json_object_get(root, "shared"), "frames")) == profile_frame_count(p),
              "one shared frame per profile frame");
        prof = json_array_get(json_object_get(root, "profiles"), 0);
        CHECK(json_array_size(json_object_get(root, "profiles")) == 1, "one profile");
        CHECK_STREQ(json_string_value(json_object_get(prof, "type")), "sampled", "sampled profile");
        CHECK_STREQ(json_string_value(json_object_get(prof, "unit")), "none", "unit of sample counts");
        CHECK(json_is_string(json_object_get(prof, "name")), "profile name");
        CHECK(json_number_value(json_object_get(prof, "startValue")) == 0, "startValue");
        CHECK(json_number_value(json_object_get(prof, "endValue")) == 10.5, "endValue is the total");
        CHECK(json_array_size(json_object_get(prof, "samples")) == 4 &&
              json_array_size(json_object_get(prof, "weights")) == 4, "samples and weights: 4 each");
        sample_text(root, 0, text, sizeof(text));
        CHECK_STREQ(text, "app;main;foo", "first sample, root first");
        CHECK(weight(root, 0) == 5, "adjacent equal stacks merged");
        CHECK(json_is_integer(json_array_get(json_object_get(prof, "weights"), 0)), "integral weight is an integer");
        sample_text(root, 1, text, sizeof(text));
        CHECK_STREQ(text, "app;main;do_sys\"open\n_[k]", "kernel suffix, quote and newline round trip");
        CHECK(weight(root, 1) == 1, "second weight");
        sample_text(root, 2, text, sizeof(text));
        CHECK(strcmp(text, "app;main;foo") == 0 && weight(root, 2) == 0.5, "input order kept, fractional weight");
        sample_text(root, 3, text, sizeof(text));
        CHECK_STREQ(text, "app;inl_[i]", "inline suffix");
        {
                json_t *fr = json_array_get(json_object_get(json_object_get(root, "shared"), "frames"), withfile);
                CHECK_STREQ(json_string_value(json_object_get(fr, "file")), "a.c", "frame file");
                CHECK(json_integer_value(json_object_get(fr, "line")) == 7, "frame line");
                fr = json_array_get(json_object_get(json_object_get(root, "shared"), "frames"), foo);
                CHECK(!json_object_get(fr, "file") && !json_object_get(fr, "line"), "no file or line when unknown");
        }
        json_decref(root);
        profile_free(p);

        /* nanoseconds; invalid UTF-8 */
        profile_new(&p);
        profile_set_unit(p, PROFILE_UNIT_NANOSECONDS);
        uint32_t bad = frame(p, "x\xc0\xafy\xed\xa0\x80z", FRAME_USER);
        add(p, &bad, 1, 1000, 0);
        root = write_parse(p);
        CHECK(root != NULL, "non-UTF-8 names still give valid JSON");
        prof = json_array_get(json_object_get(root, "profiles"), 0);
        CHECK_STREQ(json_string_value(json_object_get(prof, "unit")), "nanoseconds", "nanosecond unit");
        sample_text(root, 0, text, sizeof(text));
        /* overlong "\xc0\xaf" and surrogate "\xed\xa0\x80": one U+FFFD per byte */
        CHECK_STREQ(text, "x\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz", "invalid bytes become U+FFFD");
        json_decref(root);
        profile_free(p);

        /* differential: after values */
        profile_new(&p);
        profile_set_value_count(p, 2);
        uint32_t a = frame(p, "a", FRAME_USER), b = frame(p, "b", FRAME_USER);
        add(p, &a, 1, 1, 6);
        add(p, &b, 1, 9, 0);
        root = write_parse(p);
        prof = json_array_get(json_object_get(root, "profiles"), 0);
        CHECK(json_array_size(json_object_get(prof, "weights")) == 1 && weight(root, 0) == 6 &&
              json_number_value(json_object_get(prof, "endValue")) == 6, "differential writes after values");
        json_decref(root);
        profile_free(p);

        /* frames that differ only by the address pprof keeps are one */
        profile_new(&p);
        {
                uint32_t root = frame(p, "main", FRAME_USER), n1, n2;
                struct profile_frame u = { .kind = FRAME_USER, .addr = 0x10 };
                profile_intern_string(p, "[libnone.so]", 12, &u.name);
                profile_intern_frame(p, &u, &n1);
                u.addr = 0x20;
                profile_intern_frame(p, &u, &n2);
                add(p, (uint32_t[]) { root, n1 }, 2, 3, 0);
                add(p, (uint32_t[]) { root, n2 }, 2, 4, 0);
        }
        root = write_parse(p);
        prof = json_array_get(json_object_get(root, "profiles"), 0);
        CHECK(json_array_size(json_object_get(json_object_get(root, "shared"), "frames")) == 2,
              "one speedscope frame for both addresses");
        sample_text(root, 0, text, sizeof(text));
        CHECK_STREQ(text, "main;[libnone.so]", "first address's sample");
        sample_text(root, 1, text, sizeof(text));
        CHECK(!strcmp(text, "main;[libnone.so]") && weight(root, 1) == 4, "second address's sample, same frame");
        CHECK(json_equal(json_array_get(json_array_get(json_object_get(prof, "samples"), 0), 1),
                         json_array_get(json_array_get(json_object_get(prof, "samples"), 1), 1)),
              "both samples name the same frame index");
        json_decref(root);
        profile_free(p);

        /* empty */
        profile_new(&p);
        root = write_parse(p);
        prof = json_array_get(json_object_get(root, "profiles"), 0);
        CHECK(root && json_array_size(json_object_get(prof, "samples")) == 0 &&
              json_number_value(json_object_get(prof, "endValue")) == 0, "empty profile");
        json_decref(root);
        profile_free(p);
        return tap_done();
}
