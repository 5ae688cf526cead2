/* Folded stack reader.
 *
 * Accepts what flamegraph.pl accepts: "STACK COUNT" where COUNT matches
 * \d+(\.\d*)? and is preceded by white space; frames are split on ';' and,
 * as Perl's split does, trailing empty frames are dropped. Anything else is
 * reported and skipped. Sorted folded files share long prefixes between
 * neighbouring lines, so the frame ids of the previous line are reused for
 * the common prefix: most frames are never hashed at all. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profile-internal.h"
#include "util/cleanup.h"
#include "util/read-file.h"

struct reader {
        struct profile *p;
        const char *name;
        const struct folded_read_options *o;
        unsigned lineno;
        bool decided, two; /* whether this input is differential, from its first line */
        /* the previous accepted stack, for prefix reuse */
        const char *prev;
        size_t prev_len;
        VEC(uint32_t) ids;
        VEC(size_t) ends; /* end offset of each frame of prev */
};

static void bad_line(struct reader *rd, const char *reason) {
        if (rd->o && rd->o->on_bad_line)
                rd->o->on_bad_line(rd->o->userdata, rd->name, rd->lineno, reason);
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Parses the count that ends [s, s+len): sets *ret_start to where it
 * begins (just after the white space before it). Returns 0, or a reason. */
static const char *parse_count(const char *s, size_t len, double *ret, size_t *ret_start) {
        size_t i = len;

        while (i > 0 && !is_space(s[i - 1]))
                i--;
        if (i == 0)
                return len == 0 ? "empty line" : "missing count";
        if (i == len)
                return "missing count";

        const char *c = s + i, *e = s + len;
        if (*c == '-')
                return "negative count";
        if (!is_digit(*c))
                return "count is not a number";

        double v = 0;
        while (c < e && is_digit(*c))
                v = v * 10 + (*c++ - '0');
        if (c < e && *c == '.') {
                /* rare: let strtod round it exactly, so the same text always
                 * gives the same double and writers can print it back */
                const char *dot = c;
                for (c++; c < e && is_digit(*c); c++)
                        ;
                if (c == e) {
                        char buf[64];
                        size_t len = (size_t) (e - (s + i));
                        if (len < sizeof(buf)) {
                                memcpy(buf, s + i, len);
                                buf[len] = '\0';
                                v = strtod(buf, NULL);
                        } else {
                                double scale = 0.1;
                                for (const char *d = dot + 1; d < e; d++, scale /= 10)
                                        v += (*d - '0') * scale;
                        }
                }
        }
        if (c != e)
                return "count is not a number";
        if (!isfinite(v) || v > 1e300)
                return "count out of range";

        *ret = v;
        *ret_start = i;
        return NULL;
}

static size_t common_prefix(const char *a, const char *b, size_t n) {
        size_t i = 0;
        while (i + 8 <= n) {
                uint64_t x, y;
                memcpy(&x, a + i, 8);
                memcpy(&y, b + i, 8);
                if (x != y)
                        return i + (size_t) (__builtin_ctzll(x ^ y) / 8);
                i += 8;
        }
        while (i < n && a[i] == b[i])
                i++;
        return i;
}

static int intern_frame(struct profile *p, const char *s, size_t len, uint32_t *ret_id) {
        enum frame_kind kind = frame_kind_from_suffix(s, &len);
        return profile_intern_named_frame(p, s, len, kind, ret_id);
}

static int read_line(struct reader *rd, const char *s, size_t len) {
        double values[PROFILE_MAX_VALUES] = {};
        const char *reason;
        size_t start;
        int r;

        while (len > 0 && is_space(s[len - 1]) && s[len - 1] == '\r')
                len--;
        size_t blank = 0;
        while (blank < len && is_space(s[blank]))
                blank++;
        if (blank == len)
                return 0; /* blank lines are not an error anywhere */

        reason = parse_count(s, len, &values[0], &start);
        if (reason) {
                bad_line(rd, reason);
                return 0;
        }
        size_t slen = start - 1; /* drop the one white space before COUNT */

        /* A second count makes a differential line: "STACK BEFORE AFTER".
         * Like flamegraph.pl, the first line decides. */
        double before;
        size_t bstart;
        bool two = !parse_count(s, slen, &before, &bstart);
        if (!rd->decided) {
                /* a file's first line says whether it is differential */
                rd->decided = true;
                rd->two = two;
                if (two && rd->p->n_values == 1 && rd->p->samples.n == 0)
                        rd->p->n_values = 2;
        }
        if (rd->two && two && rd->p->n_values == 1) {
                bad_line(rd, "two counts (a differential file) cannot merge with single-count input");
                return 0;
        }
        if (rd->p->n_values == 2) {
                if (!two) {
                        bad_line(rd, "expected two counts (before and after)");
                        return 0;
                }
                values[1] = values[0];
                values[0] = before;
                slen = bstart - 1;
        }

        /* Perl's split drops trailing empty fields. */
        while (slen > 0 && s[slen - 1] == ';')
                slen--;
        if (slen == 0) {
                bad_line(rd, "empty stack");
                return 0;
        }

        /* Reuse the frames the previous line shares with this one. */
        size_t keep = 0;
        if (rd->prev) {
                size_t lcp = common_prefix(rd->prev, s, MIN(rd->prev_len, slen));
                while (keep < rd->ends.n && rd->ends.v[keep] < lcp)
                        keep++;
        }
        rd->ids.n = keep;
        rd->ends.n = keep;

        size_t pos = keep ? rd->ends.v[keep - 1] + 1 : 0;
        while (pos <= slen) {
                const char *semi = memchr(s + pos, ';', slen - pos);
                size_t end = semi ? (size_t) (semi - s) : slen;
                uint32_t id;

                r = intern_frame(rd->p, s + pos, end - pos, &id);
                if (r < 0)
                        return r;
                r = vec_push(&rd->ids, id);
                if (r < 0)
                        return r;
                r = vec_push(&rd->ends, end);
                if (r < 0)
                        return r;
                pos = end + 1;
        }
        rd->prev = s;
        rd->prev_len = slen;

        r = profile_add_sample(rd->p, rd->ids.v, rd->ids.n, values, 0, 0);
        if (r < 0)
                return r;
        return 1;
}

int folded_read_buffer(struct profile *p, const char *name, const char *data, size_t len,
                       const struct folded_read_options *o) {
        struct reader rd = { .p = p, .name = name, .o = o };
        int good = 0, r = 0;

        if (memchr(data, '\0', len)) {
                rd.lineno = 0;
                bad_line(&rd, "not a text file");
                return -EBADMSG;
        }

        const char *s = data, *end = data + len;
        while (s < end) {
                const char *nl = memchr(s, '\n', (size_t) (end - s));
                const char *e = nl ? nl : end;

                rd.lineno++;
                r = read_line(&rd, s, (size_t) (e - s));
                if (r < 0)
                        break;
                good += r;
                if (good == INT32_MAX)
                        break;
                s = e + 1;
        }
        vec_free(&rd.ids);
        vec_free(&rd.ends);
        return r < 0 ? r : good;
}

int folded_read_file(struct profile *p, const char *path, const struct folded_read_options *o) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        bool is_stdin = strcmp(path, "-") == 0;
        int r;

        r = is_stdin ? read_full_fd(STDIN_FILENO, &data, &len) : read_full_file(path, &data, &len);
        if (r < 0)
                return r;
        return folded_read_buffer(p, is_stdin ? "<stdin>" : path, data, len, o);
}
