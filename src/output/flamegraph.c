/* SVG flame graph writer, flamegraph.pl compatible.
 *
 * The profile's stacks are merged into a tree of nodes kept in one array
 * (no allocation per frame): a node is (parent, label), a label is a
 * displayed name (frame name plus kind suffix), so frames that differ only
 * in module or line merge as they do in flamegraph.pl. Nodes are created
 * parent first, which lets totals, layout and pruning run as plain loops
 * over the array. The stacks are walked in sorted order (by label rank,
 * the order flamegraph.pl's sorted lines give), so the children of a node
 * are made one after the other and a node's subtree is complete when the
 * walk leaves it: a subtree narrower than minwidth is cut off right then,
 * and the array holds about what is drawn, not every frame of the input
 * (a 500k-stack profile has millions). Each run of cut siblings leaves one
 * placeholder node that is never drawn but keeps their width (so the
 * siblings after it stay in place) and their largest delta (the scale of
 * differential colours).
 *
 * Then siblings are ordered by name (flamegraph.pl sorts its input lines),
 * or kept in input order for a flame chart, nodes narrower than minwidth
 * are pruned with their subtrees, and the SVG is rendered into one memory
 * buffer with hand-written number formatting and written out in one go.
 *
 * Colours follow flamegraph.pl's palettes. Where flamegraph.pl draws random
 * colours, ours come from a hash of the name: the same input gives the same
 * bytes, and a function keeps its colour across graphs. In the default
 * "hot" palette kernel frames are orange, inlined frames aqua and JIT
 * frames green (the colours flamegraph.pl's java palette gives _[k], _[i]
 * and _[j]), so user and kernel time tell apart at a glance. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cprof/output.h"
#include "output/flamegraph-assets.h"
#include "util/atomic-file.h"
#include "util/cleanup.h"
#include "util/hash.h"
#include "util/strpool.h"
#include "util/vec.h"

#define XPAD 10          /* left and right padding, pixels */
#define FRAMEPAD 1       /* vertical gap between frames */
#define NO_LABEL UINT32_MAX
#define SEARCH_COLOR "rgb(230,0,230)"

void flamegraph_options_init(struct flamegraph_options *o) {
        *o = (struct flamegraph_options) {
                .width = 1200,
                .frame_height = 16,
                .minwidth = 0.1,
                .fonttype = "Verdana",
                .fontsize = 12,
                .fontwidth = 0.59,
                .countname = "samples",
                .nametype = "Function:",
                .colors = FLAMEGRAPH_COLORS_HOT,
        };
}

/* ---- output buffer: errors are sticky and checked once at the end ---- */

/* The renderer makes thousands of small appends: the first failure is
 * remembered instead of checked at each of them. */
struct buf {
        struct charvec t;
        bool oom;
};

static void buf_release(struct buf *b) {
        vec_free(&b->t);
}

static void put(struct buf *b, const char *s, size_t n) {
        if (!b->oom && vec_append(&b->t, s, n) < 0)
                b->oom = true;
}

#define PUTS(b, lit) put((b), (lit), sizeof(lit) - 1)

static void puts_(struct buf *b, const char *s) {
        put(b, s, strlen(s));
}

static void put_uint(struct buf *b, uint64_t v) {
        char tmp[24];
        int i = sizeof(tmp);
        do {
                tmp[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        put(b, tmp + i, sizeof(tmp) - (size_t) i);
}

/* The digits of an integral v >= 0 of any size a double holds: exact
 * below 2^53, above it the shortest digits that read back as v followed
 * by zeros (1e100 is a one and a hundred zeros, not the double's binary
 * expansion 10000000000000000159...). With commas, grouped by three. */
static void put_integer(struct buf *b, double v, bool commas) {
        char digits[400];
        size_t n;
        if (!isfinite(v) || v < 1) {
                digits[0] = '0';
                n = 1;
        } else if (v < 9007199254740992.0) {
                n = (size_t) snprintf(digits, sizeof(digits), "%" PRIu64, (uint64_t) v);
        } else {
                char e[32];
                int prec = 1;
                for (; prec < 17; prec++) {
                        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
                        if (strtod(e, NULL) == v)
                                break;
                }
                snprintf(e, sizeof(e), "%.*e", prec - 1, v);
                /* "d.ddde+XX": the mantissa digits, then zeros up to the exponent */
                const char *x = strchr(e, 'e');
                int exp10 = atoi(x + 1);
                n = 0;
                for (const char *c = e; c < x; c++)
                        if (*c != '.')
                                digits[n++] = *c;
                while (n < (size_t) exp10 + 1 && n < sizeof(digits))
                        digits[n++] = '0';
        }
        for (size_t i = 0; i < n; i++) {
                if (commas && i > 0 && (n - i) % 3 == 0)
                        PUTS(b, ",");
                put(b, digits + i, 1);
        }
}

/* v with exactly `decimals` digits after the point (printf's %.Nf, but
 * rounding half away from zero). */
static void put_fixed(struct buf *b, double v, unsigned decimals) {
        static const double scale[] = { 1, 10, 100, 1000 };
        if (!isfinite(v)) {
                PUTS(b, "0");
                return;
        }
        if (fabs(v) > 1e15) { /* no fraction left to show at this size */
                if (v < 0)
                        PUTS(b, "-");
                put_integer(b, round(fabs(v)), false);
                return;
        }
        double s = round(fabs(v) * scale[decimals]);
        uint64_t x = (uint64_t) s, unit = (uint64_t) scale[decimals];
        if (v < 0 && x != 0)
                PUTS(b, "-");
        put_uint(b, x / unit);
        if (decimals > 0) {
                char frac[4];
                uint64_t f = x % unit;
                for (unsigned i = decimals; i > 0; i--) {
                        frac[i - 1] = (char) ('0' + f % 10);
                        f /= 10;
                }
                PUTS(b, ".");
                put(b, frac, decimals);
        }
}

/* A coordinate with at most two decimals, none when integral: 24, 313.5 */
static void put_num(struct buf *b, double v) {
        if (isfinite(v) && v == floor(v) && fabs(v) < 1e15) {
                if (v < 0)
                        PUTS(b, "-");
                put_uint(b, (uint64_t) fabs(v));
                return;
        }
        double h = round(v * 100);
        if (fmod(h, 10) == 0)
                put_fixed(b, v, 1);
        else
                put_fixed(b, v, 2);
}

/* A count with thousands separators as flamegraph.pl prints it, at any
 * size a double holds; a fractional one (folded files may have them)
 * keeps up to two decimals. The search in flamegraph.js reads these back
 * from the titles. */
static void put_count(struct buf *b, double v) {
        if (!isfinite(v) || v <= 0) {
                PUTS(b, "0");
                return;
        }
        double cents = round(v * 100);
        if (v < 1e15 && fmod(cents, 100) != 0) {
                put_integer(b, floor(cents / 100), true);
                int c = (int) fmod(cents, 100);
                char d[3] = { '.', (char) ('0' + c / 10), (char) ('0' + c % 10) };
                put(b, d, d[2] == '0' ? 2 : 3);
                return;
        }
        put_integer(b, round(v), true);
}

/* XML text or attribute content; the input is already valid UTF-8. */
static void put_escaped(struct buf *b, const char *s, size_t n) {
        size_t start = 0;
        for (size_t i = 0; i < n; i++) {
                const char *rep;
                switch (s[i]) {
                case '&':
                        rep = "&amp;";
                        break;
                case '<':
                        rep = "&lt;";
                        break;
                case '>':
                        rep = "&gt;";
                        break;
                case '"':
                        rep = "&quot;";
                        break;
                default:
                        continue;
                }
                put(b, s + start, i - start);
                puts_(b, rep);
                start = i + 1;
        }
        put(b, s + start, n - start);
}

/* ---- making arbitrary bytes safe for XML ---- */

/* Length of the valid UTF-8 sequence at s that XML 1.0 allows as a
 * character, or 0. Control characters other than tab, surrogates,
 * overlong forms and U+FFFE/U+FFFF are refused. */
static size_t xml_char_len(const unsigned char *s, size_t n) {
        unsigned c = s[0];
        if (c < 0x80)
                return c >= 0x20 || c == '\t' ? 1 : 0;
        if (c >= 0xc2 && c <= 0xdf)
                return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
        if (c >= 0xe0 && c <= 0xef) {
                if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
                        return 0;
                if (c == 0xe0 && s[1] < 0xa0)
                        return 0; /* overlong */
                if (c == 0xed && s[1] >= 0xa0)
                        return 0; /* surrogate */
                if (c == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf))
                        return 0; /* U+FFFE, U+FFFF */
                return 3;
        }
        if (c >= 0xf0 && c <= 0xf4) {
                if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
                    (s[3] & 0xc0) != 0x80)
                        return 0;
                if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
                        return 0;
                return 4;
        }
        return 0;
}

/* Appends s with every byte that is not part of an allowed character
 * replaced by U+FFFD; returns the number of characters written. */
static size_t sanitize(struct buf *b, const char *s, size_t n) {
        const unsigned char *u = (const unsigned char *) s;
        size_t chars = 0, i = 0, start = 0;
        while (i < n) {
                size_t k = u[i] < 0x80 && u[i] >= 0x20 ? 1 : xml_char_len(u + i, n - i);
                if (k == 0) {
                        put(b, s + start, i - start);
                        PUTS(b, "\xef\xbf\xbd");
                        i++;
                        start = i;
                } else {
                        i += k;
                }
                chars++;
        }
        put(b, s + start, n - start);
        return chars;
}

/* Byte length of the first `chars` characters of valid UTF-8. */
static size_t utf8_prefix(const char *s, size_t n, size_t chars) {
        size_t i = 0;
        while (i < n && chars > 0) {
                i++;
                while (i < n && ((unsigned char) s[i] & 0xc0) == 0x80)
                        i++;
                chars--;
        }
        return i;
}

/* ---- colours ---- */

struct rgb {
        uint8_t r, g, b;
};

enum hue { HUE_HOT, HUE_MEM, HUE_IO, HUE_RED, HUE_GREEN, HUE_BLUE, HUE_AQUA,
           HUE_YELLOW, HUE_PURPLE, HUE_ORANGE };

/* flamegraph.pl's namehash: a value in [0, 1] weighted towards the first
 * characters, so similar names get similar colours. A "module`" prefix
 * is skipped. */
static double namehash(const char *s, size_t n, bool reversed) {
        double vector = 0, weight = 1, max = 1;
        unsigned mod = 10;
        const char *tick = memchr(s, '`', n);
        if (tick && tick > s) {
                n -= (size_t) (tick + 1 - s);
                s = tick + 1;
        }
        for (size_t i = 0; i < n && mod <= 12; i++) {
                unsigned char c = (unsigned char) (reversed ? s[n - 1 - i] : s[i]);
                vector += (double) (c % mod) / (mod - 1) * weight;
                mod++;
                max += weight;
                weight *= 0.70;
        }
        return 1 - vector / max;
}

static struct rgb hue_color(enum hue h, double v1, double v2, double v3) {
        switch (h) {
        case HUE_HOT:
                return (struct rgb) { (uint8_t) (205 + (int) (50 * v3)), (uint8_t) (230 * v1),
                                      (uint8_t) (55 * v2) };
        case HUE_MEM:
                return (struct rgb) { 0, (uint8_t) (190 + (int) (50 * v2)), (uint8_t) (210 * v1) };
        case HUE_IO: {
                uint8_t x = (uint8_t) (80 + (int) (60 * v1));
                return (struct rgb) { x, x, (uint8_t) (190 + (int) (55 * v2)) };
        }
        case HUE_RED: {
                uint8_t x = (uint8_t) (50 + (int) (80 * v1));
                return (struct rgb) { (uint8_t) (200 + (int) (55 * v1)), x, x };
        }
        case HUE_GREEN: {
                uint8_t x = (uint8_t) (50 + (int) (60 * v1));
                return (struct rgb) { x, (uint8_t) (200 + (int) (55 * v1)), x };
        }
        case HUE_BLUE: {
                uint8_t x = (uint8_t) (80 + (int) (60 * v1));
                return (struct rgb) { x, x, (uint8_t) (205 + (int) (50 * v1)) };
        }
        case HUE_AQUA:
                return (struct rgb) { (uint8_t) (50 + (int) (60 * v1)), (uint8_t) (165 + (int) (55 * v1)),
                                      (uint8_t) (165 + (int) (55 * v1)) };
        case HUE_YELLOW: {
                uint8_t x = (uint8_t) (175 + (int) (55 * v1));
                return (struct rgb) { x, x, (uint8_t) (50 + (int) (20 * v1)) };
        }
        case HUE_PURPLE: {
                uint8_t x = (uint8_t) (190 + (int) (65 * v1));
                return (struct rgb) { x, (uint8_t) (80 + (int) (60 * v1)), x };
        }
        case HUE_ORANGE:
                return (struct rgb) { (uint8_t) (190 + (int) (65 * v1)), (uint8_t) (90 + (int) (65 * v1)), 0 };
        }
        return (struct rgb) { 0, 0, 0 };
}

static bool contains(const char *s, size_t n, const char *needle) {
        return memmem(s, n, needle, strlen(needle)) != NULL;
}

static bool java_path(const char *s, size_t n) {
        static const char *const prefixes[] = { "java/", "org/", "com/", "io/", "sun/" };
        if (n > 0 && s[0] == 'L') {
                s++;
                n--;
        }
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t k = strlen(prefixes[i]);
                if (n >= k && memcmp(s, prefixes[i], k) == 0)
                        return true;
        }
        return false;
}

/* "/" followed later by ".js", as flamegraph.pl's m:/.*\.js: */
static bool js_path(const char *s, size_t n) {
        const char *slash = memchr(s, '/', n);
        return slash && contains(slash, n - (size_t) (slash - s), ".js");
}

/* Which hue a frame gets: flamegraph.pl's multi palettes look at the name
 * (with its suffix) and the kind annotation. */
static enum hue pick_hue(enum flamegraph_colors c, enum frame_kind kind, const char *s, size_t n,
                         bool waker) {
        switch (c) {
        case FLAMEGRAPH_COLORS_HOT:
                return kind == FRAME_KERNEL ? HUE_ORANGE :
                       kind == FRAME_INLINE ? HUE_AQUA :
                       kind == FRAME_JIT    ? HUE_GREEN : HUE_HOT;
        case FLAMEGRAPH_COLORS_MEM:
                return HUE_MEM;
        case FLAMEGRAPH_COLORS_IO:
                return HUE_IO;
        case FLAMEGRAPH_COLORS_WAKEUP:
                return HUE_AQUA;
        case FLAMEGRAPH_COLORS_CHAIN:
                return waker ? HUE_AQUA : HUE_BLUE;
        case FLAMEGRAPH_COLORS_JAVA:
                return kind == FRAME_JIT      ? HUE_GREEN :
                       kind == FRAME_INLINE   ? HUE_AQUA :
                       java_path(s, n)        ? HUE_GREEN :
                       contains(s, n, "::")   ? HUE_YELLOW :
                       kind == FRAME_KERNEL   ? HUE_ORANGE : HUE_RED;
        case FLAMEGRAPH_COLORS_JS:
                if (kind == FRAME_JIT)
                        return memchr(s, '/', n) ? HUE_GREEN : HUE_AQUA;
                return contains(s, n, "::")            ? HUE_YELLOW :
                       js_path(s, n)                   ? HUE_GREEN :
                       memchr(s, ':', n)               ? HUE_AQUA :
                       (n == 1 && s[0] == ' ')         ? HUE_GREEN :
                       kind == FRAME_KERNEL            ? HUE_ORANGE : HUE_RED;
        case FLAMEGRAPH_COLORS_PERL:
                return contains(s, n, "::")                              ? HUE_YELLOW :
                       contains(s, n, "Perl") || contains(s, n, ".pl")   ? HUE_GREEN :
                       kind == FRAME_KERNEL                              ? HUE_ORANGE : HUE_RED;
        case FLAMEGRAPH_COLORS_RED:
                return HUE_RED;
        case FLAMEGRAPH_COLORS_GREEN:
                return HUE_GREEN;
        case FLAMEGRAPH_COLORS_BLUE:
                return HUE_BLUE;
        case FLAMEGRAPH_COLORS_AQUA:
                return HUE_AQUA;
        case FLAMEGRAPH_COLORS_YELLOW:
                return HUE_YELLOW;
        case FLAMEGRAPH_COLORS_PURPLE:
                return HUE_PURPLE;
        case FLAMEGRAPH_COLORS_ORANGE:
                return HUE_ORANGE;
        }
        return HUE_HOT;
}

static struct rgb frame_color(const struct flamegraph_options *o, enum frame_kind kind,
                              const char *s, size_t n, bool waker) {
        double v1, v2, v3;
        if (o->hash) {
                v1 = namehash(s, n, false);
                v2 = v3 = namehash(s, n, true);
        } else {
                uint64_t h = hash_bytes(s, n, 0x5eed);
                v1 = (double) (h & 0x1fffff) / 0x200000;
                v2 = (double) ((h >> 21) & 0x1fffff) / 0x200000;
                v3 = (double) ((h >> 42) & 0x1fffff) / 0x200000;
        }
        return hue_color(pick_hue(o->colors, kind, s, n, waker), v1, v2, v3);
}

/* flamegraph.pl's color_scale: red where samples grew, blue where they
 * shrank, white where nothing changed; the deeper, the larger the change
 * relative to the largest one. */
static struct rgb diff_color(double delta, double maxdelta, bool negate) {
        struct rgb c = { 255, 255, 255 };
        if (negate)
                delta = -delta;
        if (delta > 0)
                c.g = c.b = (uint8_t) (210 * (maxdelta - delta) / maxdelta);
        else if (delta < 0)
                c.r = c.g = (uint8_t) (210 * (maxdelta + delta) / maxdelta);
        return c;
}

static void put_rgb(struct buf *b, struct rgb c) {
        PUTS(b, "rgb(");
        put_uint(b, c.r);
        PUTS(b, ",");
        put_uint(b, c.g);
        PUTS(b, ",");
        put_uint(b, c.b);
        PUTS(b, ")");
}

/* ---- consistent palette file (--cp): "name->rgb(r,g,b)" lines ---- */

/* The keys are interned in a string pool; every pool id is an entry except
 * id 0, the empty string, which is one only once a line named it. */
struct palette {
        struct strpool keys;
        VEC(struct rgb) color; /* by key id */
        bool has_empty, dirty;
};

static void palette_release(struct palette *pal) {
        strpool_release(&pal->keys);
        vec_free(&pal->color);
}

/* Sets (adding when absent) the colour of key; a present entry wins. */
static int palette_get(struct palette *pal, const char *key, size_t len, struct rgb *c) {
        size_t known = pal->color.n;
        uint32_t id;
        int r = strpool_add(&pal->keys, key, len, &id);
        if (r < 0)
                return r;
        if (id < known && (id != 0 || pal->has_empty)) {
                *c = pal->color.v[id];
                return 0;
        }
        r = vec_reserve(&pal->color, strpool_count(&pal->keys));
        if (r < 0)
                return r;
        while (pal->color.n < strpool_count(&pal->keys))
                pal->color.v[pal->color.n++] = (struct rgb) {};
        pal->color.v[id] = *c;
        pal->has_empty |= id == 0;
        pal->dirty = true;
        return 0;
}

static bool parse_rgb(const char *s, size_t n, struct rgb *ret) {
        unsigned v[3];
        size_t i = 4;
        if (n < 10 || memcmp(s, "rgb(", 4) != 0 || s[n - 1] != ')')
                return false;
        for (int k = 0; k < 3; k++) {
                if (i >= n || s[i] < '0' || s[i] > '9')
                        return false;
                v[k] = 0;
                while (i < n && s[i] >= '0' && s[i] <= '9' && v[k] <= 255)
                        v[k] = v[k] * 10 + (unsigned) (s[i++] - '0');
                if (v[k] > 255 || i >= n || s[i] != (k < 2 ? ',' : ')'))
                        return false;
                i++;
        }
        if (i != n)
                return false;
        *ret = (struct rgb) { (uint8_t) v[0], (uint8_t) v[1], (uint8_t) v[2] };
        return true;
}

/* A missing file is an empty palette; lines that are not "key->rgb(...)"
 * are dropped (and so disappear when the palette is written back). */
static int palette_load(struct palette *pal, const char *path) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        /* the symlink rule of util/atomic-file.h, for reading too */
        int r = atomic_file_open_read(path, &f);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        while ((n = getline(&line, &cap, f)) > 0) {
                size_t len = (size_t) n;
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                        len--;
                /* the last "->": names such as "operator->" contain one too */
                const char *arrow = NULL;
                for (size_t i = 0; i + 1 < len; i++)
                        if (line[i] == '-' && line[i + 1] == '>')
                                arrow = line + i;
                struct rgb c;
                if (!arrow || !parse_rgb(arrow + 2, len - (size_t) (arrow + 2 - line), &c))
                        continue;
                r = palette_get(pal, line, (size_t) (arrow - line), &c);
                if (r < 0)
                        return r;
        }
        if (ferror(f))
                return -EIO;
        pal->dirty = false;
        return 0;
}

static int key_cmp(const void *a, const void *b, void *ctx) {
        const struct strpool *keys = ctx;
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        size_t lx = strpool_len(keys, x), ly = strpool_len(keys, y);
        int c = memcmp(strpool_get(keys, x), strpool_get(keys, y), MIN(lx, ly));
        return c ? c : (lx > ly) - (lx < ly);
}

static int palette_save(struct palette *pal, const char *path) {
        _cleanup_(vec_freep) VEC(uint32_t) order = {};
        struct atomic_file af;
        int r;

        if (!pal->dirty)
                return 0;
        /* written sorted by key, as flamegraph.pl writes it */
        r = vec_reserve(&order, pal->color.n);
        if (r < 0)
                return r;
        for (uint32_t id = pal->has_empty ? 0 : 1; id < pal->color.n; id++)
                order.v[order.n++] = id;
        qsort_r(order.v, order.n, sizeof(*order.v), key_cmp, &pal->keys);
        r = atomic_file_open(path, &af);
        if (r < 0)
                return r;
        for (size_t i = 0; i < order.n; i++) {
                uint32_t id = order.v[i];
                struct rgb c = pal->color.v[id];
                fwrite(strpool_get(&pal->keys, id), 1, strpool_len(&pal->keys, id), af.f);
                fprintf(af.f, "->rgb(%u,%u,%u)\n", c.r, c.g, c.b);
        }
        if (ferror(af.f)) {
                atomic_file_abort(&af);
                return stdio_write_error();
        }
        return atomic_file_commit(&af);
}

/* ---- the merged tree ---- */

struct label {
        uint32_t frame;    /* a frame with this name and kind */
        uint32_t name_off; /* folded name (raw bytes) in graph.names */
        uint32_t name_len;
        uint32_t rank;     /* position in byte order of names */
        uint32_t text_off; /* XML-safe name in graph.texts, once drawn */
        uint32_t text_len;
        uint32_t text_chars;
        bool has_text, has_color;
        struct rgb color;
};

struct node {
        uint32_t parent;
        uint32_t label;
        uint32_t depth;
        uint32_t first_child; /* into graph.children */
        uint32_t n_children;
        bool drawn, waker;
        bool placeholder; /* cut-off siblings: width only, never drawn */
        double value; /* the width: samples, or samples after for a differential */
        double self;  /* the part of value spent in this frame itself */
        double delta; /* self delta (after - before), differential only */
        double start; /* flame chart: the time the frame was entered */
        double x;     /* start, in value units */
};

struct graph {
        const struct profile *p;
        const struct flamegraph_options *o;
        VEC(struct label) labels;
        uint32_t *frame_label; /* per profile frame id, NO_LABEL until seen */
        struct charvec label_buf; /* one frame's folded name */
        struct buf names;  /* folded names of labels */
        struct buf texts;  /* sanitized names of drawn labels */
        VEC(struct node) nodes;
        uint32_t *children;
        VEC(uint32_t) path;
        unsigned nv;
        double total, maxdelta;
        double time; /* flame chart: samples so far, the x axis */
        uint32_t depthmax;
};

static void graph_release(struct graph *g) {
        vec_free(&g->labels);
        free(g->frame_label);
        vec_free(&g->label_buf);
        buf_release(&g->names);
        buf_release(&g->texts);
        vec_free(&g->nodes);
        free(g->children);
        vec_free(&g->path);
}

static int label_of_frame(struct graph *g, uint32_t frame, uint32_t *ret) {
        if (g->frame_label[frame] != NO_LABEL) {
                *ret = g->frame_label[frame];
                return 0;
        }
        /* a frame's label is its folded name, line and suffix included */
        size_t start = g->names.t.n;
        g->label_buf.n = 0;
        int r = folded_frame_name(g->p, frame, true, &g->label_buf);
        if (r < 0)
                return r;
        put(&g->names, g->label_buf.v, g->label_buf.n);
        if (g->names.oom || g->names.t.n > UINT32_MAX)
                return -ENOMEM;
        r = vec_push(&g->labels, ((struct label) {
                .frame = frame,
                .name_off = (uint32_t) start,
                .name_len = (uint32_t) (g->names.t.n - start),
        }));
        if (r < 0)
                return r;
        *ret = g->frame_label[frame] = (uint32_t) g->labels.n - 1;
        return 0;
}

static int add_node(struct graph *g, uint32_t parent, uint32_t label, uint32_t *ret) {
        if (g->nodes.n >= UINT32_MAX - 1)
                return -E2BIG;
        int r = vec_push(&g->nodes, ((struct node) {
                .parent = parent,
                .label = label,
                .depth = parent == NO_LABEL ? 0 : g->nodes.v[parent].depth + 1,
        }));
        if (r < 0)
                return r;
        *ret = (uint32_t) g->nodes.n - 1;
        return 0;
}

static uint32_t frame_at(const uint32_t *frames, size_t depth, size_t i, bool reverse) {
        return reverse ? frames[depth - 1 - i] : frames[i];
}

/* A flame chart's stack: merged only into the nodes of the previous stack
 * it shares. */
static int add_stack(struct graph *g, const uint32_t *frames, size_t depth, const double *values,
                     const uint32_t *prev, size_t prev_depth) {
        bool rev = g->o->reverse;
        size_t keep = 0;
        int r;

        r = vec_reserve(&g->path, depth + 1);
        if (r < 0)
                return r;
        /* Equal frame ids mean equal labels: reuse the previous path; equal
         * labels are enough too (adjacent frames merge). */
        if (prev) {
                size_t n = MIN(depth, prev_depth);
                while (keep < n && frame_at(frames, depth, keep, rev) == frame_at(prev, prev_depth, keep, rev))
                        keep++;
                while (keep < n && g->nodes.v[g->path.v[keep + 1]].label ==
                                           g->frame_label[frame_at(frames, depth, keep, rev)])
                        keep++;
        }
        uint32_t parent = g->path.v[keep];
        for (size_t i = keep; i < depth; i++) {
                uint32_t label, node;
                r = label_of_frame(g, frame_at(frames, depth, i, rev), &label);
                if (r < 0)
                        return r;
                r = add_node(g, parent, label, &node);
                if (r < 0)
                        return r;
                g->nodes.v[node].start = g->time;
                g->path.v[i + 1] = node;
                parent = node;
        }
        g->path.n = depth + 1;

        struct node *leaf = &g->nodes.v[parent];
        double w = g->nv == 2 ? values[1] : values[0];
        w = isfinite(w) && w > 0 ? w : 0;
        leaf->value += w;
        g->time += w;
        if (g->nv == 2) {
                double d = values[1] - values[0];
                leaf->delta += isfinite(d) ? d : 0;
        }
        return 0;
}

static double stack_width(const struct graph *g, const struct profile_stack *st) {
        double w = g->nv == 2 ? st->value[1] : st->value[0];
        return isfinite(w) && w > 0 ? w : 0;
}

static int label_cmp(const void *a, const void *b, void *names);

/* Labels in first-seen order (stack by stack, as drawn), ranked by name
 * as flamegraph.pl's sorted lines order them. */
static int rank_labels(struct graph *g) {
        const struct profile *p = g->p;
        bool rev = g->o->reverse;
        uint32_t label;
        int r;

        for (uint32_t id = 0; id < profile_stack_count(p); id++) {
                size_t depth;
                const uint32_t *frames = profile_stack_frames(p, id, &depth);
                for (size_t i = 0; i < depth; i++) {
                        r = label_of_frame(g, frame_at(frames, depth, i, rev), &label);
                        if (r < 0)
                                return r;
                }
        }
        size_t nl = g->labels.n;
        _cleanup_free_ struct label **order = malloc((nl ? nl : 1) * sizeof(*order));
        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < nl; i++)
                order[i] = &g->labels.v[i];
        qsort_r(order, nl, sizeof(*order), label_cmp, g->names.t.v);
        for (size_t i = 0; i < nl; i++)
                order[i]->rank = (uint32_t) i;
        return 0;
}

static int stack_cmp(const void *a, const void *b, void *userdata) {
        const struct graph *g = userdata;
        size_t da, db;
        const uint32_t *fa = profile_stack_frames(g->p, *(const uint32_t *) a, &da);
        const uint32_t *fb = profile_stack_frames(g->p, *(const uint32_t *) b, &db);
        bool rev = g->o->reverse;
        for (size_t i = 0; i < MIN(da, db); i++) {
                uint32_t ra = g->labels.v[g->frame_label[frame_at(fa, da, i, rev)]].rank;
                uint32_t rb = g->labels.v[g->frame_label[frame_at(fb, db, i, rev)]].rank;
                if (ra != rb)
                        return ra < rb ? -1 : 1;
        }
        return da < db ? -1 : da > db;
}

/* The open path of the sorted walk: per level, its node, the width of its
 * subtree so far, and the largest |delta| in that subtree. */
struct walk {
        VEC(uint32_t) node;
        VEC(double) width;
        VEC(double) maxdelta;
};

/* Leaves the deepest open node: a subtree narrower than `cut` is dropped
 * (it is the tail of the array) and its width goes into a placeholder. */
static int walk_close(struct graph *g, struct walk *w, double cut) {
        size_t lv = w->node.n - 1;
        uint32_t id = w->node.v[lv];
        struct node *nd = &g->nodes.v[id];
        double width = w->width.v[lv];
        double md = MAX(w->maxdelta.v[lv], fabs(nd->delta));

        w->node.n--;
        w->width.v[lv - 1] += width;
        w->maxdelta.v[lv - 1] = MAX(w->maxdelta.v[lv - 1], md);
        if (width >= cut && width > 0)
                return 0;

        uint32_t parent = nd->parent, label = nd->label;
        g->nodes.n = id;
        struct node *last = g->nodes.n ? &g->nodes.v[g->nodes.n - 1] : NULL;
        if (last && last->placeholder && last->parent == parent) {
                /* the run of cut siblings goes on */
                last->value += width;
                last->delta = MAX(last->delta, md);
                return 0;
        }
        uint32_t ph;
        int r = add_node(g, parent, label, &ph);
        if (r < 0)
                return r;
        g->nodes.v[ph].placeholder = true;
        g->nodes.v[ph].value = width;
        g->nodes.v[ph].delta = md;
        return 0;
}

static int walk_push(struct walk *w, uint32_t node) {
        int r = vec_push(&w->node, node);
        if (r >= 0)
                r = vec_reserve(&w->width, w->node.n);
        if (r >= 0)
                r = vec_reserve(&w->maxdelta, w->node.n);
        if (r < 0)
                return r;
        w->width.v[w->node.n - 1] = 0;
        w->maxdelta.v[w->node.n - 1] = 0;
        return 0;
}

/* The graph (not a flame chart): stacks merged in sorted order, narrow
 * subtrees cut as soon as they are complete. */
static int build_sorted(struct graph *g) {
        const struct profile *p = g->p;
        size_t nstacks = profile_stack_count(p);
        bool rev = g->o->reverse;
        struct walk w = {};
        double total = 0;
        int r;

        r = rank_labels(g);
        if (r < 0)
                return r;
        _cleanup_free_ uint32_t *order = malloc((nstacks ? nstacks : 1) * sizeof(*order));
        if (!order)
                return -ENOMEM;
        size_t n = 0;
        for (uint32_t id = 0; id < nstacks; id++) {
                const struct profile_stack *st = profile_stack(p, id);
                double sw = stack_width(g, st);
                /* a stack gone from "after" still colours its frames */
                if (sw > 0 || (g->nv == 2 && st->value[1] != st->value[0]))
                        order[n++] = id;
                total += sw;
        }
        qsort_r(order, n, sizeof(*order), stack_cmp, g);

        /* layout() prunes at this width (computed the same way); cut a hair
         * below it, so a rounding difference in the total cannot cut a node
         * that layout() would draw */
        double cut = 0;
        if (total > 0 && isfinite(total)) {
                double widthpertime = (g->o->width - 2.0 * XPAD) / total;
                cut = g->o->minwidth_percent ? g->o->minwidth * total / 100 : g->o->minwidth / widthpertime;
                cut *= 1 - 1e-9;
        }

        r = walk_push(&w, 0);
        for (size_t k = 0; r >= 0 && k < n; k++) {
                const struct profile_stack *st = profile_stack(p, order[k]);
                size_t depth, keep = 0;
                const uint32_t *frames = profile_stack_frames(p, order[k], &depth);

                while (keep < depth && keep + 1 < w.node.n &&
                       g->nodes.v[w.node.v[keep + 1]].label == g->frame_label[frame_at(frames, depth, keep, rev)])
                        keep++;
                while (r >= 0 && w.node.n > keep + 1)
                        r = walk_close(g, &w, cut);
                for (size_t i = keep; r >= 0 && i < depth; i++) {
                        uint32_t node;
                        r = add_node(g, w.node.v[w.node.n - 1], g->frame_label[frame_at(frames, depth, i, rev)], &node);
                        if (r >= 0)
                                r = walk_push(&w, node);
                }
                if (r < 0)
                        break;
                double sw = stack_width(g, st);
                struct node *leaf = &g->nodes.v[w.node.v[w.node.n - 1]];
                leaf->value += sw;
                w.width.v[w.node.n - 1] += sw;
                if (g->nv == 2) {
                        double d = st->value[1] - st->value[0];
                        leaf->delta += isfinite(d) ? d : 0;
                }
        }
        while (r >= 0 && w.node.n > 1)
                r = walk_close(g, &w, cut);
        vec_free(&w.node);
        vec_free(&w.width);
        vec_free(&w.maxdelta);
        return r;
}

static int build_tree(struct graph *g) {
        const struct profile *p = g->p;
        size_t nframes = profile_frame_count(p);
        uint32_t root;
        int r;

        g->frame_label = malloc((nframes ? nframes : 1) * sizeof(uint32_t));
        if (!g->frame_label)
                return -ENOMEM;
        memset(g->frame_label, 0xff, nframes * sizeof(uint32_t));
        r = add_node(g, NO_LABEL, NO_LABEL, &root);
        if (r < 0)
                return r;
        r = vec_push(&g->path, root);
        if (r < 0)
                return r;

        const uint32_t *prev = NULL;
        size_t prev_depth = 0;
        if (g->o->flamechart) {
                /* samples in input order: that order is the x axis */
                for (size_t i = 0; i < profile_sample_count(p); i++) {
                        const struct profile_sample *s = profile_sample(p, i);
                        size_t depth;
                        const uint32_t *frames = profile_stack_frames(p, s->stack, &depth);
                        r = add_stack(g, frames, depth, s->value, prev, prev_depth);
                        if (r < 0)
                                return r;
                        prev = frames;
                        prev_depth = depth;
                }
        } else
                return build_sorted(g);
        return 0;
}

static int label_cmp(const void *a, const void *b, void *names) {
        const struct label *x = *(const struct label *const *) a, *y = *(const struct label *const *) b;
        const char *sx = (const char *) names + x->name_off, *sy = (const char *) names + y->name_off;
        size_t n = MIN(x->name_len, y->name_len);
        int c = memcmp(sx, sy, n);
        if (c)
                return c;
        /* A name that is a prefix of another: in flamegraph.pl's sorted
         * lines it is followed by ';', so compare that with the next byte. */
        if (x->name_len == y->name_len)
                return 0;
        unsigned char cx = x->name_len > n ? (unsigned char) sx[n] : ';';
        unsigned char cy = y->name_len > n ? (unsigned char) sy[n] : ';';
        return cx != cy ? (cx < cy ? -1 : 1) : (x->name_len < y->name_len ? -1 : 1);
}

static int u64_cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return (x > y) - (x < y);
}

/* Totals, sibling order, x positions, pruning, depth. */
static int layout(struct graph *g) {
        size_t n = g->nodes.n, nl = g->labels.n;
        struct node *nodes = g->nodes.v;

        /* children were created after their parents: one backward pass sums */
        for (size_t i = 0; i < n; i++)
                nodes[i].self = nodes[i].value;
        for (size_t i = n - 1; i > 0; i--)
                nodes[nodes[i].parent].value += nodes[i].value;

        g->maxdelta = 1;
        for (size_t i = 0; i < n; i++)
                if (fabs(nodes[i].delta) > g->maxdelta)
                        g->maxdelta = fabs(nodes[i].delta);

        if (!g->o->flamechart && nl > 0) {
                _cleanup_free_ struct label **order = malloc(nl * sizeof(*order));
                if (!order)
                        return -ENOMEM;
                for (size_t i = 0; i < nl; i++)
                        order[i] = &g->labels.v[i];
                qsort_r(order, nl, sizeof(*order), label_cmp, g->names.t.v);
                for (size_t i = 0; i < nl; i++)
                        order[i]->rank = (uint32_t) i;
        }

        /* children lists, in creation order, then by name */
        g->children = malloc(n * sizeof(uint32_t));
        if (!g->children)
                return -ENOMEM;
        for (size_t i = 1; i < n; i++)
                nodes[nodes[i].parent].n_children++;
        uint32_t off = 0;
        for (size_t i = 0; i < n; i++) {
                nodes[i].first_child = off;
                off += nodes[i].n_children;
                nodes[i].n_children = 0;
        }
        for (size_t i = 1; i < n; i++) {
                struct node *par = &nodes[nodes[i].parent];
                g->children[par->first_child + par->n_children++] = (uint32_t) i;
        }
        if (!g->o->flamechart) {
                VEC(uint64_t) tmp = {};
                for (size_t i = 0; i < n; i++) {
                        uint32_t k = nodes[i].n_children;
                        if (k < 2)
                                continue;
                        if (vec_reserve(&tmp, k) < 0) {
                                vec_free(&tmp);
                                return -ENOMEM;
                        }
                        uint32_t *c = g->children + nodes[i].first_child;
                        for (uint32_t j = 0; j < k; j++)
                                tmp.v[j] = (uint64_t) g->labels.v[nodes[c[j]].label].rank << 32 | c[j];
                        qsort(tmp.v, k, sizeof(uint64_t), u64_cmp);
                        for (uint32_t j = 0; j < k; j++)
                                c[j] = (uint32_t) tmp.v[j];
                }
                vec_free(&tmp);
        }

        g->total = nodes[0].value;
        if (!(g->total > 0) || !isfinite(g->total))
                return -ENODATA;
        double widthpertime = (g->o->width - 2.0 * XPAD) / g->total;
        double minw = g->o->minwidth_percent ? g->o->minwidth * g->total / 100
                                             : g->o->minwidth / widthpertime;

        /* parents come first, so one forward pass places and prunes */
        nodes[0].drawn = true;
        g->depthmax = 0;
        bool chain = g->o->colors == FLAMEGRAPH_COLORS_CHAIN;
        for (size_t i = 0; i < n; i++) {
                struct node *nd = &nodes[i];
                if (!nd->drawn)
                        continue;
                if (nd->depth > g->depthmax)
                        g->depthmax = nd->depth;
                /* As in flamegraph.pl: a frame's own samples come first (its
                 * line sorts before its callees'), then the callees; in a
                 * flame chart every frame sits at the time it was entered. */
                double x = nd->x + nd->self;
                const uint32_t *c = g->children + nd->first_child;
                for (uint32_t j = 0; j < nd->n_children; j++) {
                        struct node *ch = &nodes[c[j]];
                        ch->x = g->o->flamechart ? ch->start : x;
                        x += ch->value;
                        ch->drawn = ch->value >= minw && ch->value > 0 && !ch->placeholder;
                        /* chain graphs: after a "--" frame come the wakers' stacks */
                        ch->waker = nd->waker;
                        if (chain && nd->label != NO_LABEL) {
                                const struct label *l = &g->labels.v[nd->label];
                                if (l->name_len == 2 && memcmp(g->names.t.v + l->name_off, "--", 2) == 0)
                                        ch->waker = true;
                        }
                }
        }
        return 0;
}

/* ---- rendering ---- */

static void put_js_string(struct buf *b, const char *s) {
        /* inside CDATA: escape everything but plain characters, so that
         * neither "]]>" nor a quote can end anything early */
        PUTS(b, "\"");
        for (const unsigned char *u = (const unsigned char *) s; *u; u++) {
                if ((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') || (*u >= '0' && *u <= '9') ||
                    *u == ' ' || *u == ':' || *u == '.' || *u == ',' || *u == '_' || *u == '-') {
                        put(b, (const char *) u, 1);
                } else if (*u < 0x80) {
                        static const char hex[] = "0123456789abcdef";
                        char e[6] = { '\\', 'u', '0', '0', hex[*u >> 4], hex[*u & 15] };
                        put(b, e, 6);
                } else {
                        put(b, (const char *) u, 1); /* UTF-8 is valid in JS strings */
                }
        }
        PUTS(b, "\"");
}

static void put_sanitized_escaped(struct buf *b, const char *s) {
        _cleanup_(buf_release) struct buf tmp = {};
        sanitize(&tmp, s, strlen(s));
        if (tmp.oom)
                b->oom = true;
        else
                put_escaped(b, tmp.t.v, tmp.t.n);
}

/* Notes go into an XML comment, where "--" may not appear. */
static void put_comment_text(struct buf *b, const char *s) {
        _cleanup_(buf_release) struct buf tmp = {};
        sanitize(&tmp, s, strlen(s));
        for (size_t i = 0; i < tmp.t.n; i++) {
                char c = tmp.t.v[i];
                if (c == '-' && (i + 1 == tmp.t.n || tmp.t.v[i + 1] == '-'))
                        PUTS(b, "- ");
                else
                        put(b, &c, 1);
        }
        if (tmp.oom)
                b->oom = true;
}

static bool valid_hex_color(const char *s) {
        size_t n = strlen(s);
        if ((n != 7 && n != 4) || s[0] != '#')
                return false;
        for (size_t i = 1; i < n; i++)
                if (!strchr("0123456789abcdefABCDEF", s[i]))
                        return false;
        return true;
}

static int background(const struct flamegraph_options *o, const char **c1, const char **c2) {
        const char *bg = o->bgcolors;
        if (!bg) {
                switch (o->colors) {
                case FLAMEGRAPH_COLORS_MEM:
                case FLAMEGRAPH_COLORS_CHAIN:
                        bg = "blue";
                        break;
                case FLAMEGRAPH_COLORS_HOT:
                case FLAMEGRAPH_COLORS_JAVA:
                case FLAMEGRAPH_COLORS_JS:
                case FLAMEGRAPH_COLORS_PERL:
                        bg = "yellow";
                        break;
                default:
                        bg = "grey";
                }
        }
        if (strcmp(bg, "yellow") == 0)
                *c1 = "#eeeeee", *c2 = "#eeeeb0";
        else if (strcmp(bg, "blue") == 0)
                *c1 = "#eeeeee", *c2 = "#e0e0ff";
        else if (strcmp(bg, "green") == 0)
                *c1 = "#eef2ee", *c2 = "#e0ffe0";
        else if (strcmp(bg, "grey") == 0 || strcmp(bg, "gray") == 0)
                *c1 = "#f8f8f8", *c2 = "#e8e8e8";
        else if (valid_hex_color(bg))
                *c1 = *c2 = bg;
        else
                return -EINVAL;
        return 0;
}

/* The label's name made XML-safe, computed once per drawn label. */
static int label_text(struct graph *g, struct label *l) {
        if (l->has_text)
                return 0;
        /* shown without the _[k]/_[i]/_[j] suffix, as flamegraph.pl does:
         * the colour says the kind, and searches match the bare name */
        size_t len = l->name_len;
        (void) frame_kind_from_suffix(g->names.t.v + l->name_off, &len);
        size_t start = g->texts.t.n;
        size_t chars = sanitize(&g->texts, g->names.t.v + l->name_off, len);
        if (g->texts.oom || g->texts.t.n > UINT32_MAX)
                return -ENOMEM;
        l->text_off = (uint32_t) start;
        l->text_len = (uint32_t) (g->texts.t.n - start);
        l->text_chars = (uint32_t) chars;
        l->has_text = true;
        return 0;
}

static int node_color(struct graph *g, struct node *nd, struct palette *pal, struct rgb *ret) {
        if (nd->label == NO_LABEL) {
                if (g->nv == 2) {
                        *ret = diff_color(nd->delta, g->maxdelta, g->o->negate);
                        return 0;
                }
                *ret = frame_color(g->o, FRAME_USER, "all", 3, false);
                return 0;
        }
        struct label *l = &g->labels.v[nd->label];
        const char *s = g->names.t.v + l->name_off;
        enum frame_kind kind = profile_frame(g->p, l->frame)->kind;

        if (l->name_len == 2 && memcmp(s, "--", 2) == 0) {
                *ret = (struct rgb) { 160, 160, 160 };
                return 0;
        }
        if (l->name_len == 1 && s[0] == '-') {
                *ret = (struct rgb) { 200, 200, 200 };
                return 0;
        }
        if (g->nv == 2) {
                *ret = diff_color(nd->delta, g->maxdelta, g->o->negate);
                return 0;
        }
        if (nd->waker) /* chain graphs: not cached, depends on the path */
                return *ret = frame_color(g->o, kind, s, l->name_len, true), 0;
        if (!l->has_color) {
                l->color = frame_color(g->o, kind, s, l->name_len, false);
                if (pal) {
                        int r = palette_get(pal, s, l->name_len, &l->color);
                        if (r < 0)
                                return r;
                }
                l->has_color = true;
        }
        *ret = l->color;
        return 0;
}

static int render(struct graph *g, struct buf *b, struct palette *pal) {
        const struct flamegraph_options *o = g->o;
        double fs = o->fontsize, fh = o->frame_height;
        double ypad1 = fs * 3, ypad2 = fs * 2 + 10, ypad3 = fs * 2;
        bool subtitle = o->subtitle && o->subtitle[0];
        double height = (g->depthmax + 1) * fh + ypad1 + ypad2 + (subtitle ? ypad3 : 0);
        double widthpertime = (o->width - 2.0 * XPAD) / g->total;
        const char *bg1, *bg2;
        int r;

        r = background(o, &bg1, &bg2);
        if (r < 0)
                return r;
        const char *title = o->title && *o->title ? o->title :
                            o->flamechart ? (g->nv == 2 ? "Differential Flame Chart" : "Flame Chart") :
                            o->inverted ? (g->nv == 2 ? "Differential Icicle Graph" : "Icicle Graph") :
                            g->nv == 2 ? "Differential Flame Graph" : "Flame Graph";

        PUTS(b, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
                "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
                "<svg version=\"1.1\" width=\"");
        put_uint(b, o->width);
        PUTS(b, "\" height=\"");
        put_num(b, height);
        PUTS(b, "\" onload=\"init(evt)\" viewBox=\"0 0 ");
        put_uint(b, o->width);
        PUTS(b, " ");
        put_num(b, height);
        PUTS(b, "\" xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n"
                "<!-- Flame graph stack visualization, written by cprof in the format of "
                "https://github.com/brendangregg/FlameGraph -->\n<!-- NOTES: ");
        if (o->notes)
                put_comment_text(b, o->notes);
        PUTS(b, " -->\n<defs>\n\t<linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\" >\n"
                "\t\t<stop stop-color=\"");
        puts_(b, bg1);
        PUTS(b, "\" offset=\"5%\" />\n\t\t<stop stop-color=\"");
        puts_(b, bg2);
        PUTS(b, "\" offset=\"95%\" />\n\t</linearGradient>\n</defs>\n<style type=\"text/css\">\n"
                "\ttext { font-family:");
        /* a font name is CSS inside XML: keep only characters harmless in both */
        for (const char *c = o->fonttype ? o->fonttype : "Verdana"; *c; c++)
                if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                    strchr(" ,-_'", *c))
                        put(b, c, 1);
        PUTS(b, "; font-size:");
        put_num(b, fs);
        PUTS(b, "px; fill:rgb(0,0,0); }\n\t#title { text-anchor:middle; font-size:");
        put_num(b, fs + 5);
        PUTS(b, "px; }\n");
        PUTS(b, FLAMEGRAPH_CSS);
        PUTS(b, "</style>\n<script type=\"text/ecmascript\">\n<![CDATA[\nvar fg = { nametype: ");
        put_js_string(b, o->nametype ? o->nametype : "Function:");
        /* the script reads names and counts back out of the titles: it
         * must know the count name exactly as the titles show it */
        {
                _cleanup_(buf_release) struct buf cn = {};
                const char *c = o->countname ? o->countname : "samples";
                sanitize(&cn, c, strlen(c));
                put(&cn, "", 1);
                if (cn.oom)
                        return -ENOMEM;
                PUTS(b, ", countname: ");
                put_js_string(b, cn.t.v);
        }
        PUTS(b, ", fontsize: ");
        put_num(b, fs);
        PUTS(b, ", fontwidth: ");
        put_fixed(b, o->fontwidth, 3);
        PUTS(b, ", xpad: " "10" ", width: ");
        put_uint(b, o->width);
        PUTS(b, ", inverted: ");
        puts_(b, o->inverted ? "true" : "false");
        PUTS(b, ", rooty: ");
        double rooty = o->inverted ? ypad1 + (subtitle ? ypad3 : 0) : height - ypad2 - fh + FRAMEPAD;
        put_num(b, rooty);
        PUTS(b, ", searchcolor: \"" SEARCH_COLOR "\" };\n");
        PUTS(b, FLAMEGRAPH_JS);
        PUTS(b, "]]>\n</script>\n<rect x=\"0.0\" y=\"0\" width=\"");
        put_fixed(b, o->width, 1);
        PUTS(b, "\" height=\"");
        put_fixed(b, height, 1);
        PUTS(b, "\" fill=\"url(#background)\"  />\n<text id=\"title\" x=\"");
        put_fixed(b, o->width / 2, 2);
        PUTS(b, "\" y=\"");
        put_num(b, fs * 2);
        PUTS(b, "\" >");
        put_sanitized_escaped(b, title);
        PUTS(b, "</text>\n");
        if (subtitle) {
                PUTS(b, "<text id=\"subtitle\" x=\"");
                put_fixed(b, o->width / 2, 2);
                PUTS(b, "\" y=\"");
                put_num(b, fs * 4);
                PUTS(b, "\" >");
                put_sanitized_escaped(b, o->subtitle);
                PUTS(b, "</text>\n");
        }
        PUTS(b, "<text id=\"details\" x=\"10.00\" y=\"");
        put_num(b, height - ypad2 / 2);
        PUTS(b, "\" > </text>\n<text id=\"unzoom\" x=\"10.00\" y=\"");
        put_num(b, fs * 2);
        PUTS(b, "\" class=\"hide\">Reset Zoom</text>\n<text id=\"search\" x=\"");
        put_fixed(b, o->width - XPAD - 100, 2);
        PUTS(b, "\" y=\"");
        put_num(b, fs * 2);
        PUTS(b, "\" >Search</text>\n<text id=\"ignorecase\" x=\"");
        put_fixed(b, o->width - XPAD - 16, 2);
        PUTS(b, "\" y=\"");
        put_num(b, fs * 2);
        PUTS(b, "\" >ic</text>\n<text id=\"matched\" x=\"");
        put_fixed(b, o->width - XPAD - 100, 2);
        PUTS(b, "\" y=\"");
        put_num(b, height - ypad2 / 2);
        PUTS(b, "\" > </text>\n<g id=\"frames\">\n");

        double charw = fs * o->fontwidth;
        _cleanup_(buf_release) struct buf countname = {};
        PUTS(&countname, " ");
        put_sanitized_escaped(&countname, o->countname ? o->countname : "samples");
        PUTS(&countname, ", ");
        if (countname.oom)
                return -ENOMEM;
        for (size_t i = 0; i < g->nodes.n; i++) {
                struct node *nd = &g->nodes.v[i];
                if (!nd->drawn)
                        continue;
                double x1 = XPAD + nd->x * widthpertime;
                double x2 = XPAD + (nd->x + nd->value) * widthpertime;
                double y1, y2;
                if (!o->inverted) {
                        y1 = height - ypad2 - (nd->depth + 1) * fh + FRAMEPAD;
                        y2 = height - ypad2 - nd->depth * fh;
                } else {
                        y1 = ypad1 + (subtitle ? ypad3 : 0) + nd->depth * fh;
                        y2 = y1 + fh - FRAMEPAD;
                }
                const char *text;
                size_t text_len, text_chars;
                if (nd->label == NO_LABEL) {
                        text = "all", text_len = 3, text_chars = 3;
                } else {
                        struct label *l = &g->labels.v[nd->label];
                        r = label_text(g, l);
                        if (r < 0)
                                break;
                        text = g->texts.t.v ? g->texts.t.v + l->text_off : "";
                        text_len = l->text_len;
                        text_chars = l->text_chars;
                }

                PUTS(b, "<g >\n<title>");
                put_escaped(b, text, text_len);
                PUTS(b, " (");
                put_count(b, nd->value);
                put(b, countname.t.v, countname.t.n);
                if (nd->label == NO_LABEL)
                        PUTS(b, "100");
                else
                        put_fixed(b, 100 * nd->value / g->total, 2);
                PUTS(b, "%");
                if (g->nv == 2 && nd->label != NO_LABEL) {
                        double d = o->negate ? -nd->delta : nd->delta;
                        PUTS(b, "; ");
                        if (d > 0)
                                PUTS(b, "+");
                        put_fixed(b, 100 * d / g->total, 2);
                        PUTS(b, "%");
                }
                PUTS(b, ")</title><rect x=\"");
                /* widths from the rounded ends, as flamegraph.pl, so
                 * neighbours tile exactly */
                double rx1 = round(x1 * 10) / 10, rx2 = round(x2 * 10) / 10;
                put_fixed(b, rx1, 1);
                PUTS(b, "\" y=\"");
                put_num(b, y1);
                PUTS(b, "\" width=\"");
                put_fixed(b, rx2 - rx1, 1);
                PUTS(b, "\" height=\"");
                put_fixed(b, y2 - y1, 1);
                PUTS(b, "\" fill=\"");
                struct rgb c;
                r = node_color(g, nd, pal, &c);
                if (r < 0)
                        break;
                put_rgb(b, c);
                PUTS(b, "\" rx=\"2\" ry=\"2\" />\n<text  x=\"");
                put_fixed(b, x1 + 3, 2);
                PUTS(b, "\" y=\"");
                put_num(b, 3 + (y1 + y2) / 2);
                PUTS(b, "\" >");
                double fit = (x2 - x1) / charw;
                size_t chars = fit > 0 && fit < 1e9 ? (size_t) fit : 0;
                if (chars >= 3) {
                        if (text_chars <= chars) {
                                put_escaped(b, text, text_len);
                        } else {
                                put_escaped(b, text, utf8_prefix(text, text_len, chars - 2));
                                PUTS(b, "..");
                        }
                }
                PUTS(b, "</text>\n</g>\n");
        }
        if (r < 0)
                return r;
        PUTS(b, "</g>\n</svg>\n");
        return b->oom ? -ENOMEM : 0;
}

int flamegraph_write(const struct profile *p, FILE *f, const struct flamegraph_options *o) {
        struct graph g = { .p = p, .o = o, .nv = profile_value_count(p) };
        struct palette pal = {};
        _cleanup_(buf_release) struct buf out = {};
        int r;

        if (o->width <= 2 * XPAD || o->frame_height < 1 || !(o->fontsize > 0) ||
            !(o->fontwidth > 0) || !(o->minwidth >= 0) || !isfinite(o->minwidth))
                return -EINVAL;
        if (o->palette_file) {
                r = palette_load(&pal, o->palette_file);
                if (r < 0)
                        goto finish;
        }
        r = build_tree(&g);
        if (r < 0)
                goto finish;
        r = layout(&g);
        if (r < 0)
                goto finish;
        r = render(&g, &out, o->palette_file ? &pal : NULL);
        if (r < 0)
                goto finish;
        if (fwrite(out.t.v, 1, out.t.n, f) != out.t.n || fflush(f) != 0) {
                r = stdio_write_error();
                goto finish;
        }
        if (o->palette_file)
                r = palette_save(&pal, o->palette_file);
finish:
        palette_release(&pal);
        graph_release(&g);
        return r;
}
