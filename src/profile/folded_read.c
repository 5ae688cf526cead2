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
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profile-internal.h"
#include "util/cleanup.h"
#include "util/read-file.h"

/* Bad lines seen before the first good one are held back: when a later
 * line shows the input is another format, the one line saying so replaces
 * them (perf script text would give thousands). */
#define HELD_BAD_LINES 64

struct reader {
        struct profile *p;
        const char *name;
        const struct folded_read_options *o;
        unsigned lineno;
        bool decided, two; /* whether this input is differential, from its first line */
        bool any_good, first_seen;
        /* the previous accepted stack, for prefix reuse; it must be the line
         * just before (the stream keeps only that one) */
        const char *prev;
        size_t prev_len;
        VEC(uint32_t) ids;
        VEC(size_t) ends; /* end offset of each frame of prev */
        unsigned n_held;
        struct { unsigned line; const char *reason; } held[HELD_BAD_LINES];
        unsigned held_dropped;
        char reason[512]; /* a whole-input refusal, formatted */
};

static void report(struct reader *rd, unsigned line, const char *reason) {
        if (rd->o && rd->o->on_bad_line)
                rd->o->on_bad_line(rd->o->userdata, rd->name, line, reason);
}

static void flush_held(struct reader *rd) {
        for (unsigned i = 0; i < rd->n_held; i++)
                report(rd, rd->held[i].line, rd->held[i].reason);
        /* past the first few, the caller only counts them anyway */
        for (unsigned i = 0; i < rd->held_dropped; i++)
                report(rd, rd->lineno, "skipped");
        rd->n_held = rd->held_dropped = 0;
}

static void bad_line(struct reader *rd, const char *reason) {
        if (rd->any_good) {
                report(rd, rd->lineno, reason);
                return;
        }
        if (rd->n_held < HELD_BAD_LINES)
                rd->held[rd->n_held++] = (typeof(rd->held[0])) { rd->lineno, reason };
        else
                rd->held_dropped++;
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
        const char *digits = c;
        while (c < e && is_digit(*c))
                v = v * 10 + (*c++ - '0');
        if (c - digits > 15 && c - digits < 400 && (c == e || *c != '.')) {
                /* past 2^53 the sum above rounds at every step: let strtod
                 * round once (1 and a hundred zeros is 1e100 exactly) */
                char buf[400];
                memcpy(buf, digits, (size_t) (c - digits));
                buf[c - digits] = '\0';
                v = strtod(buf, NULL);
        }
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

/* "comm-TID" as `cprof record --threads` writes it: a thread name of at
 * most 15 bytes (the kernel's TASK_COMM_LEN), '-', a thread id. */
static bool is_thread_name(const char *s, size_t n) {
        size_t d = n;
        while (d > 0 && is_digit(s[d - 1]))
                d--;
        return d >= 2 && d < n && n - d <= 10 && s[d] != '0' && s[d - 1] == '-' && d - 1 <= 15;
}

/* "name (file.c:42)", as `cprof record --lines` writes frames: the
 * length of the name and the file and line, or false. */
static bool split_source_line(const char *s, size_t len, size_t *ret_name_len, const char **ret_file,
                              size_t *ret_file_len, uint32_t *ret_line) {
        size_t i = len, digits = 0;
        uint64_t line = 0, scale = 1;

        if (len < 6 || s[len - 1] != ')')
                return false;
        for (i = len - 1; i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9' && digits < 9; i--, digits++) {
                line += (uint64_t) (s[i - 1] - '0') * scale;
                scale *= 10;
        }
        if (digits == 0 || i < 4 || s[i - 1] != ':' || line == 0)
                return false;
        size_t colon = i - 1, open = colon;
        while (open > 0 && s[open - 1] != '(' && s[open - 1] != ';')
                open--;
        /* " (" before the file, a file that is not empty, a name before it */
        if (open < 3 || s[open - 1] != '(' || s[open - 2] != ' ' || open == colon)
                return false;
        *ret_name_len = open - 2;
        *ret_file = s + open;
        *ret_file_len = colon - open;
        *ret_line = (uint32_t) line;
        return true;
}

/* The frame at position `depth` of a stack. The first frame is the
 * process name; "comm-TID" after it is the thread frame that `cprof
 * record --threads` adds. A frame with a kind suffix keeps its kind, and
 * one with a source line (--lines) keeps its file and line. */
static int intern_frame(struct profile *p, const char *s, size_t len, size_t depth, uint32_t *ret_id) {
        enum frame_kind kind = frame_kind_from_suffix(s, &len);
        struct profile_frame f = {};
        const char *file;
        size_t name_len, file_len;
        int r;

        if (kind == FRAME_USER && depth == 0)
                kind = FRAME_PROCESS;
        else if (kind == FRAME_USER && depth == 1 && is_thread_name(s, len))
                kind = FRAME_THREAD;
        if (depth == 0 || !split_source_line(s, len, &name_len, &file, &file_len, &f.line))
                return profile_intern_named_frame(p, s, len, kind, ret_id);
        f.kind = kind;
        r = profile_intern_string(p, s, name_len, &f.name);
        if (r >= 0)
                r = profile_intern_string(p, file, file_len, &f.file);
        if (r < 0)
                return r;
        return profile_intern_frame(p, &f, ret_id);
}

bool folded_line_is_valid(const char *s, size_t len) {
        double v;
        size_t start;
        while (len > 0 && s[len - 1] == '\r')
                len--;
        if (parse_count(s, len, &v, &start))
                return false;
        size_t slen = start - 1;
        while (slen > 0 && s[slen - 1] == ';')
                slen--;
        return slen > 0;
}

/* '{', or '[' opening an array (not "[unknown]", a common root frame). */
static bool looks_like_json(const char *s, size_t n) {
        if (s[0] == '{')
                return true;
        if (s[0] != '[')
                return false;
        size_t i = 1;
        while (i < n && is_space(s[i]))
                i++;
        return i == n || strchr("{[\"]-0123456789tfn", s[i]) != NULL;
}

/* A bad line before any good one may show which format the input really
 * is: then the whole input is refused with one line. JSON opens with its
 * first line; perf script text may open with '#' comments before its
 * first event header. */
static bool wrong_format(struct reader *rd, const char *s, size_t len, size_t blank, bool first) {
        if (first && looks_like_json(s + blank, len - blank)) {
                snprintf(rd->reason, sizeof(rd->reason),
                         "JSON (such as 'cprof report --json' output), not folded stacks");
                return true;
        }
        if (perf_script_is_header(s, len)) {
                snprintf(rd->reason, sizeof(rd->reason),
                         "perf script output, not folded stacks: run 'perf script | cprof collapse' first");
                return true;
        }
        return false;
}

static int read_line(struct reader *rd, const char *s, size_t len) {
        double values[PROFILE_MAX_VALUES] = {};
        const char *reason;
        size_t start;
        int r;

        while (len > 0 && s[len - 1] == '\r')
                len--;
        size_t blank = 0;
        while (blank < len && is_space(s[blank]))
                blank++;
        if (blank == len)
                return 0; /* blank lines are not an error anywhere */
        if (memchr(s, '\0', len)) {
                snprintf(rd->reason, sizeof(rd->reason), "binary data (a NUL byte), not folded stacks");
                return -EBADMSG;
        }

        reason = parse_count(s, len, &values[0], &start);
        if (reason && !rd->any_good && wrong_format(rd, s, len, blank, !rd->first_seen))
                return -EMEDIUMTYPE;
        rd->first_seen = true;
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

                r = intern_frame(rd->p, s + pos, end - pos, rd->ids.n, &id);
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
        if (r == -ERANGE) {
                bad_line(rd, "count out of range (the total would overflow)");
                rd->prev = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        if (!rd->any_good) {
                rd->any_good = true;
                flush_held(rd);
        }
        return 1;
}

static int read_one(struct reader *rd, const char *s, size_t len, int *good) {
        int r = read_line(rd, s, len);
        if (r < 0)
                return r;
        if (r == 0)
                rd->prev = NULL; /* prefix reuse only from the line just before */
        if (*good < INT32_MAX)
                *good += r;
        return 0;
}

int input_sniff(const char *name, const char *data, size_t len, const char *expected,
                char *reason, size_t reason_size) {
        if (len >= 8 && memcmp(data, "PERFILE2", 8) == 0) {
                bool is_stdin = strcmp(name, "<stdin>") == 0;
                snprintf(reason, reason_size, "perf.data file: run 'perf script -i %s | cprof collapse'",
                         is_stdin ? "FILE" : name);
                return -EMEDIUMTYPE;
        }
        if (memchr(data, '\0', MIN(len, (size_t) FOLDED_SNIFF_BYTES))) {
                snprintf(reason, reason_size, "binary data, not %s", expected);
                return -EBADMSG;
        }
        return 0;
}

static int sniff(struct reader *rd, const char *data, size_t len) {
        return input_sniff(rd->name, data, len, "folded stacks", rd->reason, sizeof(rd->reason));
}

static int finish(struct reader *rd, int r, int good) {
        if (r < 0 && rd->reason[0])
                report(rd, 0, rd->reason);
        else
                flush_held(rd);
        vec_free(&rd->ids);
        vec_free(&rd->ends);
        return r < 0 ? r : good;
}

int folded_read_buffer(struct profile *p, const char *name, const char *data, size_t len,
                       const struct folded_read_options *o) {
        struct reader rd = { .p = p, .name = name, .o = o };
        int good = 0, r;

        r = sniff(&rd, data, len);
        const char *s = data, *end = data + len;
        while (r >= 0 && s < end) {
                const char *nl = memchr(s, '\n', (size_t) (end - s));
                const char *e = nl ? nl : end;

                rd.lineno++;
                r = read_one(&rd, s, (size_t) (e - s), &good);
                s = e + 1;
        }
        return finish(&rd, r, good);
}

int folded_read_fd(struct profile *p, const char *name, int fd, const struct folded_read_options *o) {
        struct reader rd = { .p = p, .name = name, .o = o };
        struct line_reader lr;
        const char *data;
        size_t len;
        int good = 0, r;

        line_reader_init(&lr, fd, 0);
        r = line_reader_peek(&lr, FOLDED_SNIFF_BYTES, &data, &len);
        if (r >= 0)
                r = sniff(&rd, data, len);
        while (r >= 0) {
                r = line_reader_next(&lr, &data, &len);
                rd.lineno = (unsigned) MIN(lr.lineno + (r == -E2BIG), (uint64_t) UINT_MAX);
                if (r == -E2BIG) {
                        bad_line(&rd, "line too long (over 16 MiB)");
                        rd.prev = NULL;
                        r = 1;
                        continue;
                }
                if (r <= 0)
                        break;
                r = read_one(&rd, data, len, &good);
        }
        line_reader_release(&lr);
        return finish(&rd, r, good);
}

int folded_read_file(struct profile *p, const char *path, const struct folded_read_options *o) {
        bool is_stdin = strcmp(path, "-") == 0;
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (is_stdin)
                return folded_read_fd(p, "<stdin>", STDIN_FILENO, o);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        return folded_read_fd(p, path, fd, o);
}
