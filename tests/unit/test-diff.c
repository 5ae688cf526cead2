/* Differential profiles: stacks of both inputs with 0 where missing,
 * difffolded.pl's --normalize arithmetic, kinds kept, bad inputs refused. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof/output.h"
#include "cprof/profile.h"
#include "tap.h"

static struct profile *read_str(const char *s) {
        struct profile *p;
        if (profile_new(&p) < 0 || folded_read_buffer(p, "t", s, strlen(s), NULL) <= 0)
                abort();
        return p;
}

static char *folded(const struct profile *p) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        if (!f || folded_write(p, f) < 0)
                abort();
        fclose(f);
        return out;
}

int main(void) {
        struct profile *before = read_str("a;b 10\na;c 5\na;k_[k] 1\n");
        struct profile *after = read_str("a;b 4\na;d 6\na;k_[k] 2\nx;y 0\n");
        struct profile *d = NULL;
        char *text;
        int r;

        r = profile_diff(before, after, false, &d);
        CHECK(r == 0 && d, "diff of two profiles (r=%d)", r);
        CHECK(profile_value_count(d) == 2, "two values");
        CHECK(profile_total(d, 0) == 16 && profile_total(d, 1) == 12, "totals kept (%g %g)",
              profile_total(d, 0), profile_total(d, 1));
        text = folded(d);
        CHECK_STREQ(text, "a;b 10 4\na;c 5 0\na;d 0 6\na;k_[k] 1 2\n",
                    "every stack, 0 where missing, kinds kept");
        free(text);
        profile_free(d);

        /* -n: before scaled to after's total, int(count * total2 / total1) */
        r = profile_diff(before, after, true, &d);
        CHECK(r == 0, "normalized diff");
        text = folded(d);
        /* 10*12/16 = 7.5 -> 7, 5*12/16 = 3.75 -> 3, 1*12/16 = 0.75 -> 0 */
        CHECK_STREQ(text, "a;b 7 4\na;c 3 0\na;d 0 6\na;k_[k] 0 2\n", "counts scaled and truncated");
        free(text);
        profile_free(d);

        /* equal totals: nothing is scaled */
        struct profile *same = read_str("a;b 3\na;c 13\n");
        r = profile_diff(same, before, true, &d);
        text = folded(d);
        CHECK_STREQ(text, "a;b 3 10\na;c 13 5\na;k_[k] 0 1\n", "equal totals left alone");
        free(text);
        profile_free(d);
        profile_free(same);

        /* 7 * 10 / 3 is 23.33: the product is taken first, as Perl does */
        struct profile *b3 = read_str("s 7\nt 2\nu 1\n"), *a3 = read_str("s 10\n");
        r = profile_diff(b3, a3, true, &d);
        text = folded(d);
        CHECK_STREQ(text, "s 7 10\nt 2 0\nu 1 0\n", "ten to ten: unchanged");
        free(text);
        profile_free(d);
        profile_free(b3);
        profile_free(a3);
        b3 = read_str("s 7\nt 2\n");
        a3 = read_str("s 10\n");
        r = profile_diff(b3, a3, true, &d);
        text = folded(d);
        CHECK_STREQ(text, "s 7 10\nt 2 0\n", "7*10/9 = 7.78 -> 7, 2*10/9 -> 2");
        free(text);
        profile_free(d);
        profile_free(b3);
        profile_free(a3);

        /* the diff can be drawn, and a differential input is refused */
        struct flamegraph_options o;
        flamegraph_options_init(&o);
        r = profile_diff(before, after, false, &d);
        FILE *f = fopen("/dev/null", "w");
        CHECK(flamegraph_write(d, f, &o) == 0, "diff draws");
        fclose(f);
        struct profile *dd = NULL;
        r = profile_diff(d, after, false, &dd);
        CHECK(r == -EINVAL && !dd, "a differential profile as input is refused");
        profile_free(d);

        profile_free(before);
        profile_free(after);
        return tap_done();
}
