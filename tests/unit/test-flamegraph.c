/* SVG flame graph writer: flamegraph.pl's element structure, escaping of
 * hostile names, minwidth pruning, merging and sibling order, icicle and
 * reversed graphs, flame charts, differential colours, kind colours and
 * the consistent palette file. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cprof/output.h"
#include "cprof/profile.h"
#include "tap.h"

static char *render(const char *folded, const struct flamegraph_options *o, int *ret) {
        struct profile *p;
        char *out = NULL;
        size_t len = 0;
        if (profile_new(&p) < 0)
                abort();
        if (folded_read_buffer(p, "t", folded, strlen(folded), NULL) <= 0)
                abort();
        FILE *f = open_memstream(&out, &len);
        if (!f)
                abort();
        *ret = flamegraph_write(p, f, o);
        fclose(f);
        profile_free(p);
        return out;
}

struct frame {
        bool found;
        int count; /* how many frames have this title name */
        double x, y, w;
        int r, g, b;
        char text[512];
        char title[512];
};

/* The first frame whose title starts with "NAME (". */
static struct frame find(const char *svg, const char *name) {
        struct frame fr = {};
        char key[600];
        snprintf(key, sizeof(key), "<title>%s (", name);
        const char *s = strstr(svg, key);
        for (const char *t = s; t; t = strstr(t + 1, key))
                fr.count++;
        if (!s)
                return fr;
        const char *te = strstr(s, "</title>");
        size_t tl = (size_t) (te - s - 7);
        snprintf(fr.title, sizeof(fr.title), "%.*s", (int) (tl < 511 ? tl : 511), s + 7);
        if (sscanf(te, "</title><rect x=\"%lf\" y=\"%lf\" width=\"%lf\"", &fr.x, &fr.y, &fr.w) != 3)
                return fr;
        const char *fill = strstr(te, "fill=\"rgb(");
        if (!fill || sscanf(fill, "fill=\"rgb(%d,%d,%d)", &fr.r, &fr.g, &fr.b) != 3)
                return fr;
        const char *text = strstr(te, "<text");
        const char *gt = text ? strchr(text, '>') : NULL;
        const char *end = gt ? strstr(gt, "</text>") : NULL;
        if (!end)
                return fr;
        snprintf(fr.text, sizeof(fr.text), "%.*s", (int) (end - gt - 1), gt + 1);
        fr.found = true;
        return fr;
}

static int count_str(const char *s, const char *needle) {
        int n = 0;
        for (const char *t = strstr(s, needle); t; t = strstr(t + 1, needle))
                n++;
        return n;
}

/* Every frame group is exactly <g >, <title>, <rect .../>, <text>, </g>. */
static bool structure_ok(const char *svg, int *ret_frames) {
        const char *s = strstr(svg, "<g id=\"frames\">\n");
        int n = 0;
        if (!s)
                return false;
        s += strlen("<g id=\"frames\">\n");
        while (strncmp(s, "<g >\n<title>", 12) == 0) {
                const char *t = strstr(s, "</title><rect ");
                const char *r = t ? strstr(t, " />\n<text ") : NULL;
                const char *e = r ? strstr(r, "</text>\n</g>\n") : NULL;
                const char *next_g = strstr(s + 1, "<g >");
                if (!e || (next_g && next_g < e))
                        return false;
                n++;
                s = e + strlen("</text>\n</g>\n");
        }
        *ret_frames = n;
        return strcmp(s, "</g>\n</svg>\n") == 0;
}

/* The SVG's height attribute, or -1. */
static double svg_height(const char *svg) {
        const char *h = svg ? strstr(svg, "<svg version=\"1.1\" width=\"") : NULL;
        h = h ? strstr(h, "height=\"") : NULL;
        return h ? atof(h + strlen("height=\"")) : -1;
}

/* A folded text: `body`, then one stack of `depth` frames with `count`. */
static char *with_deep_stack(const char *body, int depth, const char *count) {
        size_t cap = strlen(body) + (size_t) depth * 16 + 64, n;
        char *s = malloc(cap);
        if (!s)
                abort();
        n = (size_t) snprintf(s, cap, "%smain", body);
        for (int i = 1; i < depth; i++)
                n += (size_t) snprintf(s + n, cap - n, ";deep%d", i);
        snprintf(s + n, cap - n, " %s\n", count);
        return s;
}

/* The palette file's text, "" when it cannot be read. */
static void read_palette(const char *path, char *buf, size_t size) {
        FILE *f = fopen(path, "r");
        size_t k = f ? fread(buf, 1, size - 1, f) : 0;
        buf[k] = '\0';
        if (f)
                fclose(f);
}

static void write_palette(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

int main(void) {
        struct flamegraph_options o;
        struct frame a, b, c, m;
        char *svg;
        int r, n;

        /* structure and the elements scripts of flamegraph.pl users rely on */
        flamegraph_options_init(&o);
        svg = render("main;a;b 10\nmain;a;c 5\nmain;d 5\n", &o, &r);
        CHECK(r == 0, "renders (r=%d)", r);
        CHECK(structure_ok(svg, &n), "every frame is <g><title><rect><text></g>");
        CHECK(n == 6, "all, main, a, b, c, d drawn (%d)", n);
        CHECK(strstr(svg, "<title>all (20 samples, 100%)</title>") != NULL, "root frame 'all'");
        CHECK(strstr(svg, "<title>a (15 samples, 75.00%)</title>") != NULL, "title has samples and percent");
        CHECK(strstr(svg, "id=\"unzoom\"") && strstr(svg, "id=\"details\"") && strstr(svg, "id=\"matched\"") &&
                      strstr(svg, "id=\"search\"") && strstr(svg, "function search(") &&
                      strstr(svg, "function init(") && strstr(svg, "onload=\"init(evt)\""),
              "flamegraph.pl's ids and functions are there");
        CHECK(strstr(svg, ">Flame Graph</text>") != NULL, "default title");
        m = find(svg, "main");
        CHECK(m.found && m.x == 10.0 && m.w == 1180.0, "main spans the width (%g %g)", m.x, m.w);
        a = find(svg, "a");
        CHECK(a.found && a.w == 885.0 && a.y < m.y, "a is 75%% wide and above main");
        free(svg);

        /* hostile names: escaped, invalid UTF-8 and controls replaced */
        svg = render("x<y>&\"z'\xff\xfe\x01q;\xc3\xa9t\xc3\xa9 3\n"
                     "w\xed\xa0\x80s\xef\xbf\xbe 1\n", &o, &r);
        CHECK(r == 0, "hostile names render");
        CHECK(strstr(svg, "<title>x&lt;y&gt;&amp;&quot;z'\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdq (3 ") != NULL,
              "<, >, &, \" escaped and bad bytes become U+FFFD");
        CHECK(strstr(svg, "<title>\xc3\xa9t\xc3\xa9 (3") != NULL, "valid UTF-8 kept");
        CHECK(strstr(svg, "\xff") == NULL && strstr(svg, "\x01") == NULL && strstr(svg, "\xed\xa0") == NULL &&
                      strstr(svg, "\xef\xbf\xbe") == NULL,
              "no invalid byte, control, surrogate or U+FFFE left");
        CHECK(strstr(svg, "x<y") == NULL, "no raw markup from names");
        free(svg);

        /* a long name is cut to its frame with ".." */
        {
                char in[5000];
                memset(in, 'L', 3000);
                strcpy(in + 3000, " 1\nshort 1\n");
                svg = render(in, &o, &r);
                in[3000] = '\0';
                struct frame l = find(svg, in);
                size_t tl = strlen(l.text);
                CHECK(l.found && tl > 3 && tl < 100 && strcmp(l.text + tl - 2, "..") == 0,
                      "long name shortened with .. (%zu chars)", tl);
                free(svg);
        }

        /* minwidth: in pixels and in percent; pruned frames take children */
        svg = render("main;big 10000\nmain;tiny;child 1\n", &o, &r);
        CHECK(find(svg, "tiny").found && find(svg, "child").found, "0.118 px frames kept at minwidth 0.1");
        free(svg);
        o.minwidth = 1;
        svg = render("main;big 10000\nmain;tiny;child 1\n", &o, &r);
        CHECK(!find(svg, "tiny").found && !find(svg, "child").found, "minwidth 1 prunes tiny and its child");
        CHECK(structure_ok(svg, &n) && n == 3, "all, main, big left (%d)", n);
        free(svg);
        o.minwidth = 5;
        o.minwidth_percent = true;
        svg = render("main;big 90\nmain;small 6\nmain;smaller 4\n", &o, &r);
        CHECK(find(svg, "small").found && !find(svg, "smaller").found, "minwidth 5%% keeps 6%%, prunes 4%%");
        free(svg);
        flamegraph_options_init(&o);

        /* merging: same name anywhere under the same parent merges; siblings
         * sorted by name; a different kind is a different frame */
        svg = render("m;b;x 1\nm;a 2\nm;b;y 3\nm;f 1\nm;f_[k] 1\n", &o, &r);
        b = find(svg, "b");
        a = find(svg, "a");
        CHECK(b.count == 1 && strstr(b.title, "(4 samples") != NULL, "b merged: 4 samples (%s)", b.title);
        CHECK(a.found && b.found && a.x < b.x, "a left of b (sorted by name)");
        /* f sorts before f_[k] (as the folded lines do): the second "f" is
         * the kernel one, shown without its suffix as flamegraph.pl does */
        CHECK(find(svg, "f").count == 2 && find(svg, "f_[k]").count == 0,
              "f and f_[k] stay apart, both shown as 'f'");
        {
                const char *second = strstr(strstr(svg, "<title>f (") + 1, "<title>f (");
                c = second ? find(second, "f") : (struct frame) {};
        }
        CHECK(c.r >= 190 && c.b == 0 && c.g >= 90 && c.g <= 155, "kernel frame orange in hot (%d,%d,%d)",
              c.r, c.g, c.b);
        free(svg);

        /* a frame's own samples come before its callees (flamegraph.pl) */
        svg = render("m;p 5\nm;p;q 10\n", &o, &r);
        CHECK(find(svg, "q").found && find(svg, "q").x > find(svg, "p").x + 1,
              "callee starts after the caller's own samples (q at %.1f, p at %.1f)",
              find(svg, "q").x, find(svg, "p").x);
        free(svg);

        /* flame chart: a callee starts at the time it was entered */
        o.flamechart = true;
        svg = render("m;w 5\nm;w;s 5\n", &o, &r);
        CHECK(find(svg, "s").found && find(svg, "w").found &&
                      fabs(find(svg, "s").x - (find(svg, "w").x + find(svg, "w").w / 2)) < 1,
              "flamechart: s starts halfway through w (s at %.1f)", find(svg, "s").x);
        free(svg);
        o.flamechart = false;

        /* fractional counts show in titles, for the script to read back */
        svg = render("a;b 0.4\na;c 0.4\n", &o, &r);
        CHECK(strstr(svg, "<title>b (0.4 samples") != NULL, "fractional count in the title");
        free(svg);

        /* icicle: root on top; reverse: leaves become roots */
        o.inverted = true;
        svg = render("m;a 1\n", &o, &r);
        CHECK(find(svg, "all").y < find(svg, "a").y, "inverted: root above its children");
        CHECK(strstr(svg, ">Icicle Graph</text>") != NULL, "icicle title");
        free(svg);
        o.inverted = false;
        o.reverse = true;
        svg = render("m;a;leaf 1\nn;b;leaf 2\n", &o, &r);
        m = find(svg, "leaf");
        CHECK(m.count == 1 && strstr(m.title, "(3 samples") != NULL && m.w == 1180.0,
              "reverse: one 'leaf' root with 3 samples");
        CHECK(find(svg, "m").found && find(svg, "m").y < find(svg, "a").y, "reverse: original roots on top");
        free(svg);
        o.reverse = false;

        /* flame chart: input order, only adjacent frames merge */
        o.flamechart = true;
        svg = render("m;b 1\nm;a 1\nm;b 1\n", &o, &r);
        CHECK(find(svg, "b").count == 2 && find(svg, "m").count == 1, "flamechart: b twice, m once");
        CHECK(find(svg, "b").x < find(svg, "a").x, "flamechart: first b before a (input order)");
        free(svg);
        o.flamechart = false;

        /* differential: widths from the second count, red for growth */
        svg = render("m;grow 1 5\nm;shrink 5 1\nm;same 2 2\n", &o, &r);
        struct frame gr = find(svg, "grow"), sh = find(svg, "shrink"), sa = find(svg, "same");
        CHECK(gr.found && gr.r == 255 && gr.g < 255 && gr.g == gr.b, "grown frame red (%d,%d,%d)", gr.r, gr.g, gr.b);
        CHECK(sh.found && sh.b == 255 && sh.r < 255 && sh.r == sh.g, "shrunk frame blue (%d,%d,%d)", sh.r, sh.g,
              sh.b);
        CHECK(sa.r == 255 && sa.g == 255 && sa.b == 255, "unchanged frame white");
        CHECK(gr.w > sh.w * 4, "widths from the second column");
        CHECK(strstr(gr.title, "; +50.00%)") != NULL, "delta in title (%s)", gr.title);
        CHECK(strstr(svg, ">Differential Flame Graph</text>") != NULL, "differential title");
        free(svg);
        o.negate = true;
        svg = render("m;grow 1 5\nm;shrink 5 1\n", &o, &r);
        gr = find(svg, "grow");
        sh = find(svg, "shrink");
        CHECK(gr.b == 255 && gr.r < 255 && sh.r == 255 && sh.g < 255, "--negate swaps red and blue");
        free(svg);
        o.negate = false;

        /* consistent palette: written, then read back and honoured */
        char path[] = "/tmp/test-flamegraph-palette-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0, "temporary palette");
        close(fd);
        unlink(path);
        o.palette_file = path;
        svg = render("m;a 1\nm;b 1\n", &o, &r);
        CHECK(r == 0, "renders with a new palette file (r=%d)", r);
        a = find(svg, "a");
        free(svg);
        char buf[4096] = "";
        read_palette(path, buf, sizeof(buf));
        char want[100];
        snprintf(want, sizeof(want), "a->rgb(%d,%d,%d)\n", a.r, a.g, a.b);
        CHECK(strncmp(buf, want, strlen(want)) == 0, "palette file starts with a's colour");
        CHECK(strstr(buf, "\nb->rgb(") && strstr(buf, "\nm->rgb("), "b and m written, sorted");
        write_palette(path, "a->rgb(1,2,3)\noperator->()->rgb(4,5,6)\n");
        svg = render("m;a 1\nm;operator->() 1\n", &o, &r);
        a = find(svg, "a");
        b = find(svg, "operator-&gt;()");
        CHECK(a.r == 1 && a.g == 2 && a.b == 3, "palette colour used for a");
        CHECK(b.r == 4 && b.g == 5 && b.b == 6, "a name containing -> round trips");
        free(svg);
        read_palette(path, buf, sizeof(buf));
        CHECK(strncmp(buf, "a->rgb(1,2,3)\nm->rgb(", 20) == 0 && strstr(buf, "operator->()->rgb(4,5,6)\n"),
              "palette keeps old entries and adds new ones");
        /* an empty name is an entry only when a line names it, and a
         * repeated name keeps its first colour */
        write_palette(path, "z->rgb(7,7,7)\n->rgb(9,8,7)\nz->rgb(1,1,1)\n");
        svg = render("m;z 1\n", &o, &r);
        free(svg);
        read_palette(path, buf, sizeof(buf));
        CHECK(r == 0 && strncmp(buf, "->rgb(9,8,7)\nm->rgb(", 20) == 0 && strstr(buf, "\nz->rgb(7,7,7)\n") &&
                      !strstr(buf, "z->rgb(1,1,1)"),
              "empty and repeated palette names written back once, sorted");
        write_palette(path, "z->rgb(7,7,7)\n");
        svg = render("m;z 1\n", &o, &r);
        free(svg);
        read_palette(path, buf, sizeof(buf));
        CHECK(r == 0 && strncmp(buf, "m->rgb(", 7) == 0 && !strstr(buf, "\n->rgb("),
              "no empty entry appears when no line named one");
        unlink(path);
        o.palette_file = NULL;

        /* --hash is flamegraph.pl's namehash: equal names, equal colours */
        o.hash = true;
        svg = render("m;samename 1\nn;samename 1\n", &o, &r);
        const char *s1 = strstr(svg, "<title>samename");
        const char *s2 = s1 ? strstr(s1 + 1, "<title>samename") : NULL;
        struct frame f1 = find(s1 ? s1 : svg, "samename"), f2 = find(s2 ? s2 : svg, "samename");
        CHECK(s2 && f1.r == f2.r && f1.g == f2.g && f1.b == f2.b, "hash colours depend on the name only");
        free(svg);
        o.hash = false;

        /* zero counts and bad options are errors, not output */
        svg = render("m;a 0\n", &o, &r);
        CHECK(r == -ENODATA, "all-zero profile gives -ENODATA (%d)", r);
        free(svg);
        o.width = 10;
        svg = render("m;a 1\n", &o, &r);
        CHECK(r == -EINVAL && (!svg || !*svg), "too narrow a width is refused and nothing written");
        free(svg);
        flamegraph_options_init(&o);
        o.bgcolors = "url(javascript:x)";
        svg = render("m;a 1\n", &o, &r);
        CHECK(r == -EINVAL, "unknown background refused");
        free(svg);
        o.bgcolors = "#123456";
        svg = render("m;a 1\n", &o, &r);
        CHECK(r == 0 && count_str(svg, "stop-color=\"#123456\"") == 2, "flat background colour");
        free(svg);

        /* counts of any size a double holds, as the titles show them and
         * flamegraph.js reads them back (issue 9 item 14: 1.8e19 and above
         * showed as "0 samples") */
        svg = render("m;a 18000000000000000000\n", &o, &r);
        a = find(svg, "a");
        CHECK(r == 0 && strstr(a.title, "(18,000,000,000,000,000,000 samples, 100.00%)") != NULL,
              "1.8e19 in full (%s)", a.title);
        free(svg);
        svg = render("m;a 18446744073709551616\nm;b 18446744073709551616\n", &o, &r);
        a = find(svg, "a");
        m = find(svg, "m");
        CHECK(strstr(a.title, "(18,446,744,073,709,552,000 samples, 50.00%)") != NULL,
              "2^64: the shortest digits that read back as the count (%s)", a.title);
        CHECK(strstr(m.title, "(36,893,488,147,419,103,000 samples, 100.00%)") != NULL,
              "sums above 2^64 (%s)", m.title);
        free(svg);
        svg = render("m;a 9007199254740993\nm;b 9007199254740991\n", &o, &r);
        a = find(svg, "a");
        b = find(svg, "b");
        CHECK(strstr(a.title, "(9,007,199,254,740,992 samples") && strstr(b.title, "(9,007,199,254,740,991 samples"),
              "exact below 2^53, the double's value at it (%s / %s)", a.title, b.title);
        free(svg);
        {
                /* 1e299, near the largest count the reader takes: 300
                 * digits and 99 commas (past the 16th they are the reader's) */
                char *in = malloc(400);
                snprintf(in, 400, "m;a 1%0299d\n", 0);
                svg = render(in, &o, &r);
                a = find(svg, "a");
                const char *want = "(100,000,000,000,000,";
                size_t digits = strspn(a.title + 3, "0123456789,");
                CHECK(r == 0 && strncmp(a.title + 2, want, strlen(want)) == 0 && digits == 300 + 99 &&
                              strstr(a.title, " samples, 100.00%)"),
                      "1e299 in full (%zu chars: %.60s...)", digits, a.title);
                free(svg);
                free(in);
        }
        o.minwidth = 0;
        svg = render("m;a 12345678.25\nm;b 0.5\nm;c 1000000\n", &o, &r);
        a = find(svg, "a");
        b = find(svg, "b");
        c = find(svg, "c");
        CHECK(strstr(a.title, "(12,345,678.25 samples") && strstr(b.title, "(0.5 samples") &&
                      strstr(c.title, "(1,000,000 samples"),
              "fractional and integral counts (%s / %s / %s)", a.title, b.title, c.title);
        free(svg);
        flamegraph_options_init(&o);
        /* differential percentages far above 100% are printed, not "0" */
        svg = render("m;a 100000000000000000000 1\nm;b 1 1\n", &o, &r);
        a = find(svg, "a");
        CHECK(r == 0 && strstr(a.title, "; -5000000000000000000000%)") != NULL,
              "a shrink of 1e20 samples against 2 (%s)", a.title);
        free(svg);

        /* height: from the frames drawn after --minwidth pruning (item
         * 17), as flamegraph.pl sizes it: 36 px of title and 34 px of
         * footer around 16 px per drawn level */
        {
                char *deep = with_deep_stack("main;f;g 20000\n", 127, "1");
                svg = render("main;f;g 20000\n", &o, &r);
                double h0 = svg_height(svg);
                free(svg);
                CHECK(h0 == 4 * 16 + 36 + 34, "height of a 3-frame graph is 134 (%g)", h0);
                svg = render(deep, &o, &r);
                double h1 = svg_height(svg);
                CHECK(h1 == h0 && !find(svg, "deep1").found,
                      "a 1-sample 127-frame stack among 20,000 (0.06 px) is pruned: height %g", h1);
                free(svg);
                free(deep);

                deep = with_deep_stack("main;f;g 5000\n", 127, "1");
                svg = render(deep, &o, &r);
                h1 = svg_height(svg);
                CHECK(h1 == 128 * 16 + 36 + 34 && find(svg, "deep126").found,
                      "among 5,000 it is 0.24 px wide, drawn, and counted: height %g", h1);
                free(svg);
                o.minwidth = 1;
                svg = render(deep, &o, &r);
                h1 = svg_height(svg);
                CHECK(h1 == h0 && !find(svg, "deep1").found, "--minwidth 1 prunes it: height %g", h1);
                free(svg);
                o.minwidth = 0.05;
                o.minwidth_percent = true;
                svg = render(deep, &o, &r);
                h1 = svg_height(svg);
                CHECK(h1 == h0, "--minwidth 0.05%% prunes it: height %g", h1);
                free(svg);
                o.inverted = true;
                svg = render(deep, &o, &r);
                CHECK(svg_height(svg) == h0, "icicle graphs too (%g)", svg_height(svg));
                free(svg);
                flamegraph_options_init(&o);
                o.subtitle = "sub";
                o.minwidth = 1;
                svg = render(deep, &o, &r);
                CHECK(svg_height(svg) == h0 + 24, "a subtitle adds 24 px (%g)", svg_height(svg));
                free(svg);
                free(deep);
                flamegraph_options_init(&o);
        }

        return tap_done();
}
