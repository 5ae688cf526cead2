/* `perf script` reader: the rules of FlameGraph's stackcollapse-perf.pl.
 *
 * The script is a line loop around three Perl regexes. They are matched
 * here by hand, with the same backtracking outcome (which capture wins,
 * and where), because byte-identical output depends on the corner cases:
 *  - header:  ^(\S.+?)\s+(\d+)\/{0,}(\d+)*\s+   lazy comm, so "V8 Worker 12"
 *    keeps its space; a header needs a comm of two characters or more;
 *  - event:   :\s*(\d+)*\s+(\S+):\s*$        period and event name;
 *  - stack:   ^\s*(\w+)\s*(.+) \((.*)\)      the last " (" before the last
 *    ")" starts the module.
 * The script's state also survives between samples exactly as in Perl: a
 * header of a filtered event does not reset the comm, a sample without a
 * blank line after it is never counted, stack lines before any header are
 * ignored.
 *
 * A frame is interned by its final text only (no module), split on ';' as
 * the folded line will be, so two stacks are equal exactly when the
 * script's hash keys are equal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profile-internal.h"
#include "util/cleanup.h"
#include "util/read-file.h"

/* Perl's \s, \d, \w on byte strings: ASCII only. */
static inline bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static inline bool is_word(char c) {
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

struct span {
        const char *s;
        size_t n;
};

static bool span_eq(struct span a, const char *b) {
        size_t n = strlen(b);
        return a.n == n && memcmp(a.s, b, n) == 0;
}

static bool contains(const char *s, size_t n, const char *needle) {
        return memmem(s, n, needle, strlen(needle)) != NULL;
}

struct reader {
        struct profile *p;
        const char *name;
        const struct perf_script_options *o;
        /* lines come from memory (cur, end) or from a stream (lr) */
        const char *cur, *end;
        struct line_reader *lr;
        unsigned lineno;
        bool too_long;

        /* the script's state between lines */
        bool have_pname;
        struct charvec pname;
        bool pname_java;
        double period;
        uint32_t tid;
        struct span event_filter;
        struct charvec event_buf; /* the defaulted filter's text: lines do not last */
        bool event_defaulted, event_warned;
        VEC(uint32_t) stack; /* frame ids, leaf first */

        /* the process frames of the last pname, reused while it repeats */
        struct charvec prev_pname;
        VEC(uint32_t) pname_ids;

        /* scratch, reused for every line */
        struct charvec func;
        struct charvec tmp;
        VEC(uint32_t) group;
        VEC(uint32_t) frames;
        struct charvec line_copy; /* a stack line, kept while -F+srcline reads on */
        int samples;

        /* what the input looked like, to say why it gave no samples */
        bool seen_text, first_folded, first_json;
        unsigned headers, filtered, out_of_range;
        char reason[512];
};

static void reader_release(struct reader *rd) {
        vec_free(&rd->pname);
        vec_free(&rd->stack);
        vec_free(&rd->prev_pname);
        vec_free(&rd->pname_ids);
        vec_free(&rd->func);
        vec_free(&rd->tmp);
        vec_free(&rd->group);
        vec_free(&rd->frames);
        vec_free(&rd->event_buf);
        vec_free(&rd->line_copy);
}

static void bad_line_at(struct reader *rd, unsigned line, const char *reason) {
        if (rd->o && rd->o->on_bad_line)
                rd->o->on_bad_line(rd->o->userdata, rd->name, line, reason);
}

static void bad_line(struct reader *rd, const char *reason) {
        bad_line_at(rd, rd->lineno, reason);
}

/* The next line, a CR before its LF removed (a file written on Windows
 * reads as the same file with LF line ends). Returns 1, 0 at the end, or
 * -errno. An overlong line comes back empty with too_long set. */
static int next_line(struct reader *rd, struct span *ret) {
        rd->too_long = false;
        if (rd->lr) {
                const char *s;
                size_t n;
                int r = line_reader_next(rd->lr, &s, &n);
                if (r == -E2BIG) {
                        rd->too_long = true;
                        s = "";
                        n = 0;
                        r = 1;
                }
                if (r <= 0)
                        return r;
                *ret = (struct span) { s, n };
        } else {
                if (rd->cur >= rd->end)
                        return 0;
                const char *nl = memchr(rd->cur, '\n', (size_t) (rd->end - rd->cur));
                const char *e = nl ? nl : rd->end;
                *ret = (struct span) { rd->cur, (size_t) (e - rd->cur) };
                rd->cur = nl ? nl + 1 : rd->end;
        }
        if (rd->lineno < UINT32_MAX)
                rd->lineno++;
        if (ret->n > 0 && ret->s[ret->n - 1] == '\r')
                ret->n--;
        if (memchr(ret->s, '\0', ret->n))
                return -EBADMSG;
        return 1;
}

/* ---- the event header ---- */

struct header {
        struct span comm, pid, tid; /* tid.s NULL when absent */
};

/* ^(\S.+?)\s+(\d+)\/{0,}(\d+)*\s+ : the comm is the shortest prefix (two
 * characters at least) after which white space, digits, optional slashes
 * and digits, and white space follow. */
static bool match_header(const char *s, size_t n, struct header *h) {
        if (n < 3 || is_space(s[0]))
                return false;
        for (size_t i = 2; i < n; i++) {
                /* inside a run of white space the outcome is that of the
                 * run's first position, which was tried already */
                if (!is_space(s[i]) || (i > 2 && is_space(s[i - 1])))
                        continue;
                size_t j = i;
                while (j < n && is_space(s[j]))
                        j++;
                if (j == n || !is_digit(s[j]))
                        continue;
                size_t k = j;
                while (k < n && is_digit(s[k]))
                        k++;
                *h = (struct header) { .comm = { s, i }, .pid = { s + j, k - j } };
                if (k < n && is_space(s[k]))
                        return true;
                if (k < n && s[k] == '/') {
                        size_t m = k;
                        while (m < n && s[m] == '/')
                                m++;
                        if (m < n && is_space(s[m]))
                                return true;
                        size_t r = m;
                        while (r < n && is_digit(s[r]))
                                r++;
                        if (r > m && r < n && is_space(s[r])) {
                                h->tid = (struct span) { s + m, r - m };
                                return true;
                        }
                }
        }
        return false;
}

/* :\s*(\d+)*\s+(\S+):\s*$ : the last token ends in ':' and is the event;
 * before it, white space, maybe digits (the period), white space and a
 * ':'. Only one ':' can start such a match, so no search is needed. */
static bool match_event(const char *s, size_t n, struct span *ret_event, struct span *ret_period) {
        size_t t = n;
        while (t > 0 && is_space(s[t - 1]))
                t--;
        size_t q = t;
        while (q > 0 && !is_space(s[q - 1]))
                q--;
        if (q == 0 || t - q < 2 || s[t - 1] != ':')
                return false;
        size_t i = q;
        while (i > 0 && is_space(s[i - 1]))
                i--;
        size_t dend = i;
        while (i > 0 && is_digit(s[i - 1]))
                i--;
        size_t dstart = i;
        if (dstart < dend)
                while (i > 0 && is_space(s[i - 1]))
                        i--;
        if (i == 0 || s[i - 1] != ':')
                return false;
        *ret_event = (struct span) { s + q, t - q - 1 };
        *ret_period = (struct span) { s + dstart, dend - dstart };
        return true;
}

static uint32_t parse_u32(struct span d) {
        uint64_t v = 0;
        for (size_t i = 0; i < d.n; i++) {
                v = v * 10 + (uint64_t) (d.s[i] - '0');
                if (v > UINT32_MAX)
                        return 0;
        }
        return (uint32_t) v;
}

static void handle_header(struct reader *rd, const char *s, size_t n, const struct header *h) {
        struct span event, period = {};
        const struct perf_script_options *o = rd->o;

        if (match_event(s, n, &event, &period)) {
                rd->headers++;
                if (rd->event_filter.n == 0) {
                        /* the first event seen decides, as mixing event
                         * types would give meaningless shares */
                        rd->event_buf.n = 0;
                        if (charvec_append(&rd->event_buf, event.s, event.n) < 0) {
                                rd->have_pname = false;
                                return;
                        }
                        rd->event_filter = (struct span) { rd->event_buf.v, event.n };
                        rd->event_defaulted = true;
                } else if (event.n != rd->event_filter.n ||
                           memcmp(event.s, rd->event_filter.s, event.n) != 0) {
                        if (rd->event_defaulted && !rd->event_warned) {
                                rd->event_warned = true;
                                if (o && o->on_event_filtered) {
                                        char kept[256], dropped[256];
                                        snprintf(kept, sizeof(kept), "%.*s",
                                                 (int) MIN(rd->event_filter.n, 255), rd->event_filter.s);
                                        snprintf(dropped, sizeof(dropped), "%.*s",
                                                 (int) MIN(event.n, 255), event.s);
                                        o->on_event_filtered(o->userdata, kept, dropped);
                                }
                        }
                        if (rd->filtered++ == 0 && !rd->event_defaulted) {
                                /* the first other event, to name when nothing matched */
                                rd->event_buf.n = 0;
                                (void) charvec_append(&rd->event_buf, event.s, event.n);
                        }
                        return;
                }
        }

        /* Perl's truth: a missing period and "0" both count 1; "00" is a
         * true string and counts 0, as in the script */
        if (period.n == 0 || span_eq(period, "0"))
                rd->period = 1;
        else {
                double v = 0;
                for (size_t i = 0; i < period.n && v <= 1e300; i++)
                        v = v * 10 + (period.s[i] - '0');
                if (v > 1e300) {
                        /* the folded reader refuses such counts: never
                         * write one (nor "inf") */
                        bad_line(rd, "period out of range");
                        rd->out_of_range++;
                        rd->have_pname = false;
                        return;
                }
                rd->period = v;
        }

        struct span pid = h->pid, tid = h->tid;
        if (!tid.s || span_eq(tid, "0")) {
                tid = pid;
                pid = (struct span) { "?", 1 };
        }
        rd->tid = parse_u32(tid);

        rd->pname.n = 0;
        int r = charvec_append(&rd->pname, h->comm.s, h->comm.n);
        if (r >= 0 && o && (o->include_tid || o->include_pid)) {
                r = charvec_append_str(&rd->pname, "-");
                if (r >= 0)
                        r = charvec_append(&rd->pname, pid.s, pid.n);
                if (r >= 0 && o->include_tid) {
                        r = charvec_append_str(&rd->pname, "/");
                        if (r >= 0)
                                r = charvec_append(&rd->pname, tid.s, tid.n);
                }
        }
        if (r < 0) {
                /* keep going without this sample rather than half a name */
                rd->have_pname = false;
                return;
        }
        for (size_t i = 0; i < rd->pname.n; i++)
                if (rd->pname.v[i] == ' ')
                        rd->pname.v[i] = '_';
        rd->pname_java = rd->pname.n >= 4 && memcmp(rd->pname.v, "java", 4) == 0;
        rd->have_pname = true;
}

/* ---- frames ---- */

/* Interns the pieces of a frame text split on ';' (as the folded line will
 * be split), appending their ids to *out. The first piece of a process
 * name is the FRAME_PROCESS root; other pieces take their kind from a
 * _[k] _[i] _[j] suffix, as the folded reader does. */
static int intern_pieces(struct profile *p, const char *s, size_t n, bool process, void *out) {
        VEC(uint32_t) *ids = out;
        size_t pos = 0;
        for (;;) {
                const char *semi = memchr(s + pos, ';', n - pos);
                size_t end = semi ? (size_t) (semi - s) : n;
                const char *f = s + pos;
                size_t len = end - pos;
                enum frame_kind kind;
                uint32_t id;
                int r;

                if (process)
                        kind = FRAME_PROCESS;
                else
                        kind = frame_kind_from_suffix(f, &len);
                process = false;
                r = profile_intern_named_frame(p, f, len, kind, &id);
                if (r < 0)
                        return r;
                r = vec_push(ids, id);
                if (r < 0)
                        return r;
                if (!semi)
                        return 0;
                pos = end + 1;
        }
}

/* m/\.\(.*\)\./ : a Go method such as "net/http.(*Client).Do". */
static bool is_go_method(const char *s, size_t n) {
        const char *a = memmem(s, n, ".(", 2);
        if (!a)
                return false;
        for (size_t j = n; j >= 2; j--)
                if (s[j - 2] == ')' && s[j - 1] == '.')
                        return j - 2 >= (size_t) (a - s) + 2;
        return false;
}

/* m:/tmp/perf-\d+\.map: */
static bool is_perf_map(const char *s, size_t n) {
        static const char pre[] = "/tmp/perf-";
        const char *end = s + n;
        for (const char *m = s; (m = memmem(m, (size_t) (end - m), pre, sizeof(pre) - 1)); m++) {
                const char *d = m + sizeof(pre) - 1, *e = d;
                while (e < end && is_digit(*e))
                        e++;
                if (e > d && end - e >= 4 && memcmp(e, ".map", 4) == 0)
                        return true;
        }
        return false;
}

/* The script's cleanup of one symbol (one part of an inline chain). */
static int tidy_func(struct reader *rd, struct span field, struct span pc, struct span mod,
                     bool *is_unknown) {
        typeof(rd->func) *f = &rd->func;
        int r;

        f->n = 0;
        if (span_eq(field, "[unknown]")) {
                r = charvec_append_str(f, "[");
                if (r >= 0 && !span_eq(mod, "[unknown]")) {
                        /* s/.*\/// : the module's base name */
                        const char *slash = memrchr(mod.s, '/', mod.n);
                        const char *b = slash ? slash + 1 : mod.s;
                        r = charvec_append(f, b, (size_t) (mod.s + mod.n - b));
                } else if (r >= 0) {
                        r = charvec_append_str(f, "unknown");
                        *is_unknown = true;
                }
                if (r >= 0 && rd->o && rd->o->include_addrs) {
                        r = charvec_append_str(f, " <");
                        if (r >= 0)
                                r = charvec_append(f, pc.s, pc.n);
                        if (r >= 0)
                                r = charvec_append_str(f, ">");
                }
                if (r >= 0)
                        r = charvec_append_str(f, "]");
        } else
                r = charvec_append(f, field.s, field.n);
        if (r < 0)
                return r;

        /* tidy_generic */
        for (size_t i = 0; i < f->n; i++)
                if (f->v[i] == ';')
                        f->v[i] = ':';
        if (!is_go_method(f->v, f->n)) {
                /* the arguments (from the first '(' that does not open
                 * "(anonymous namespace)") are noise */
                static const char anon[] = "anonymous namespace)";
                for (size_t i = 0; i < f->n; i++)
                        if (f->v[i] == '(' &&
                            !(f->n - i - 1 >= sizeof(anon) - 1 &&
                              memcmp(f->v + i + 1, anon, sizeof(anon) - 1) == 0)) {
                                f->n = i;
                                break;
                        }
        }
        size_t w = 0;
        for (size_t i = 0; i < f->n; i++)
                if (f->v[i] != '"' && f->v[i] != '\'')
                        f->v[w++] = f->v[i];
        f->n = w;

        /* tidy_java: "Lorg/foo/Bar;.call" -> "org/foo/Bar:.call" */
        if (rd->pname_java && f->n > 0 && f->v[0] == 'L' && memchr(f->v, '/', f->n)) {
                memmove(f->v, f->v + 1, f->n - 1);
                f->n--;
        }
        return 0;
}

/* The source line that -F+srcline prints after a frame: brackets removed,
 * trimmed, appended as ":file.c:12". */
static int append_srcline(struct reader *rd) {
        struct span l;
        int r = next_line(rd, &l);
        if (r <= 0)
                return r;
        typeof(rd->tmp) *t = &rd->tmp;
        t->n = 0;
        r = vec_reserve(t, l.n + 1);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n; i++) {
                if (l.s[i] == '[') {
                        const char *close = memchr(l.s + i + 1, ']', l.n - i - 1);
                        if (close) {
                                i = (size_t) (close - l.s);
                                continue;
                        }
                }
                t->v[t->n++] = l.s[i];
        }
        size_t a = 0, b = t->n;
        while (a < b && is_space(t->v[a]))
                a++;
        while (b > a && is_space(t->v[b - 1]))
                b--;
        if (a == b)
                return 0;
        r = charvec_append_str(&rd->func, ":");
        if (r < 0)
                return r;
        return charvec_append(&rd->func, t->v + a, b - a);
}

struct stack_line {
        struct span pc, rawfunc, mod;
};

/* ^\s*(\w+)\s*(.+) \((.*)\) */
static bool match_stack(const char *s, size_t n, struct stack_line *sl) {
        size_t lead = 0;
        while (lead < n && is_space(s[lead]))
                lead++;
        if (lead == n || !is_word(s[lead]))
                return false;
        size_t endw = lead;
        while (endw < n && is_word(s[endw]))
                endw++;
        size_t s0 = endw;
        while (s0 < n && is_space(s[s0]))
                s0++;
        const char *rp = memrchr(s, ')', n);
        if (!rp)
                return false;
        size_t lp = (size_t) (rp - s);
        /* the greedy (.+) ends at the last " (" that a ')' follows */
        size_t e = lp < 2 ? 0 : lp - 2;
        while (e >= lead + 2 && !(s[e] == ' ' && s[e + 1] == '('))
                e--;
        if (e < lead + 2)
                return false;
        /* (.+) needs one character: backtracking into \s* and \w+ gives
         * it the characters it needs */
        size_t st = MIN(s0, e - 1);
        sl->pc = (struct span) { s + lead, MIN(st, endw) - lead };
        sl->rawfunc = (struct span) { s + st, e - st };
        sl->mod = (struct span) { s + e + 2, lp - e - 2 };
        return true;
}

static bool is_kernel_module(struct span mod) {
        bool k = (mod.n > 0 && mod.s[0] == '[') ||
                 (mod.n >= 7 && memcmp(mod.s + mod.n - 7, "vmlinux", 7) == 0);
        return k && !contains(mod.s, mod.n, "unknown");
}

static int handle_stack_line(struct reader *rd, const struct stack_line *line) {
        const struct perf_script_options *o = rd->o;
        struct stack_line copy;
        const struct stack_line *sl = line;
        int r;

        if (o && o->srcline && rd->lr) {
                /* each source line read below replaces a line of the
                 * stream: keep this one's text */
                const char *lo = MIN(MIN(line->pc.s, line->rawfunc.s), line->mod.s);
                const char *hi = MAX(MAX(line->pc.s + line->pc.n, line->rawfunc.s + line->rawfunc.n),
                                     line->mod.s + line->mod.n);
                rd->line_copy.n = 0;
                r = charvec_append(&rd->line_copy, lo, (size_t) (hi - lo));
                if (r < 0)
                        return r;
                const char *b = rd->line_copy.v;
                copy = (struct stack_line) {
                        { b + (line->pc.s - lo), line->pc.n },
                        { b + (line->rawfunc.s - lo), line->rawfunc.n },
                        { b + (line->mod.s - lo), line->mod.n },
                };
                sl = &copy;
        }
        struct span raw = sl->rawfunc;

        /* s/\+0x[\da-f]+$// : perf's symbol offsets */
        size_t h = raw.n;
        while (h > 0 && (is_digit(raw.s[h - 1]) || (raw.s[h - 1] >= 'a' && raw.s[h - 1] <= 'f')))
                h--;
        if (h < raw.n && h >= 3 && raw.s[h - 1] == 'x' && raw.s[h - 2] == '0' && raw.s[h - 3] == '+')
                raw.n = h - 3;

        if (raw.n > 0 && raw.s[0] == '(')
                return 0; /* a process name, not a frame */

        /* split /->/ , which drops trailing empty fields */
        size_t nfields = 0;
        rd->group.n = 0;
        bool is_unknown = false;
        size_t pos = 0;
        while (pos < raw.n) {
                const char *arrow = memmem(raw.s + pos, raw.n - pos, "->", 2);
                size_t end = arrow ? (size_t) (arrow - raw.s) : raw.n;
                struct span field = { raw.s + pos, end - pos };
                pos = arrow ? end + 2 : raw.n;
                /* trailing empty fields are dropped: stop at the first empty
                 * field after which only separators follow */
                if (field.n == 0) {
                        size_t k = end;
                        while (k + 1 < raw.n && raw.s[k] == '-' && raw.s[k + 1] == '>')
                                k += 2;
                        if (k >= raw.n)
                                break;
                }

                r = tidy_func(rd, field, sl->pc, sl->mod, &is_unknown);
                if (r < 0)
                        return r;
                typeof(rd->func) *f = &rd->func;
                if (nfields > 0) {
                        if (!contains(f->v, f->n, "_[i]"))
                                r = charvec_append_str(f, "_[i]");
                } else if (o && o->annotate_kernel && is_kernel_module(sl->mod))
                        r = charvec_append_str(f, "_[k]");
                else if (o && o->annotate_jit && is_perf_map(sl->mod.s, sl->mod.n)) {
                        if (!contains(f->v, f->n, "_[j]"))
                                r = charvec_append_str(f, "_[j]");
                }
                if (r < 0)
                        return r;
                if (o && o->srcline && !is_unknown) {
                        r = append_srcline(rd);
                        if (r < 0)
                                return r;
                }
                r = intern_pieces(rd->p, f->v, f->n, false, &rd->group);
                if (r < 0)
                        return r;
                nfields++;
        }

        /* the stack is kept leaf first; a line's frames go in root first
         * order, so push them reversed */
        r = vec_reserve(&rd->stack, rd->stack.n + rd->group.n);
        if (r < 0)
                return r;
        for (size_t i = rd->group.n; i > 0; i--)
                rd->stack.v[rd->stack.n++] = rd->group.v[i - 1];
        return 0;
}

static int end_sample(struct reader *rd) {
        int r;

        if (!rd->have_pname)
                return 0;
        if (rd->pname.n != rd->prev_pname.n || memcmp(rd->pname.v, rd->prev_pname.v, rd->pname.n) != 0) {
                rd->prev_pname.n = 0;
                rd->pname_ids.n = 0;
                r = charvec_append(&rd->prev_pname, rd->pname.v, rd->pname.n);
                if (r >= 0)
                        r = intern_pieces(rd->p, rd->pname.v, rd->pname.n, true, &rd->pname_ids);
                if (r < 0) {
                        rd->prev_pname.n = 0;
                        rd->pname_ids.n = 0;
                        return r;
                }
        }
        rd->frames.n = 0;
        r = vec_reserve(&rd->frames, rd->pname_ids.n + rd->stack.n);
        if (r < 0)
                return r;
        memcpy(rd->frames.v, rd->pname_ids.v, rd->pname_ids.n * sizeof(uint32_t));
        rd->frames.n = rd->pname_ids.n;
        for (size_t i = rd->stack.n; i > 0; i--)
                rd->frames.v[rd->frames.n++] = rd->stack.v[i - 1];

        double values[PROFILE_MAX_VALUES] = { rd->period };
        r = profile_add_sample(rd->p, rd->frames.v, rd->frames.n, values, rd->tid, 0);
        if (r == -ERANGE)
                bad_line(rd, "period out of range (the total would overflow)");
        else if (r < 0)
                return r;
        rd->stack.n = 0;
        rd->have_pname = false;
        if (r >= 0 && rd->samples < INT32_MAX)
                rd->samples++;
        return 0;
}

static void note_first_line(struct reader *rd, struct span l) {
        size_t b = 0;
        while (b < l.n && is_space(l.s[b]))
                b++;
        if (b == l.n || l.s[0] == '#' || rd->seen_text)
                return;
        rd->seen_text = true;
        rd->first_json = l.s[b] == '{' || (l.s[b] == '[' && (b + 1 == l.n || strchr("{[\"]", l.s[b + 1])));
        rd->first_folded = !rd->first_json && folded_line_is_valid(l.s, l.n);
}

static int read_lines(struct reader *rd) {
        struct span l;
        int r;

        while ((r = next_line(rd, &l)) > 0) {
                if (rd->too_long) {
                        bad_line(rd, "line too long (over 16 MiB)");
                        continue;
                }
                note_first_line(rd, l);
                if (l.n > 0 && l.s[0] == '#')
                        continue;
                if (l.n == 0) {
                        r = end_sample(rd);
                        if (r < 0)
                                return r;
                        continue;
                }
                struct header h = {};
                if (match_header(l.s, l.n, &h)) {
                        handle_header(rd, l.s, l.n, &h);
                        continue;
                }
                struct stack_line sl;
                if (match_stack(l.s, l.n, &sl)) {
                        if (!rd->have_pname)
                                continue;
                        r = handle_stack_line(rd, &sl);
                        if (r < 0)
                                return r;
                        continue;
                }
                bad_line(rd, "unrecognized line");
        }
        return r < 0 ? r : rd->samples;
}

bool perf_script_is_header(const char *s, size_t n) {
        struct header h;
        struct span event, period;
        return match_header(s, n, &h) && match_event(s, n, &event, &period);
}

static int sniff(struct reader *rd, const char *data, size_t len) {
        return input_sniff(rd->name, data, len, "perf script output", rd->reason, sizeof(rd->reason));
}

/* Non-empty input that gave no sample is an error, with the reason. */
static int no_samples(struct reader *rd) {
        const struct perf_script_options *o = rd->o;
        if (rd->first_folded)
                snprintf(rd->reason, sizeof(rd->reason),
                         "folded stacks, not perf script output: give it to 'cprof flamegraph' as it is");
        else if (rd->first_json)
                snprintf(rd->reason, sizeof(rd->reason), "JSON, not perf script output");
        else if (o && o->event_filter && *o->event_filter && rd->filtered > 0)
                snprintf(rd->reason, sizeof(rd->reason), "no samples of event '%s' (the input has '%.*s')",
                         o->event_filter, (int) MIN(rd->event_buf.n, 200), rd->event_buf.v);
        else if (rd->out_of_range > 0)
                snprintf(rd->reason, sizeof(rd->reason), "no samples left: %u had a period out of range",
                         rd->out_of_range);
        else if (rd->headers == 0)
                snprintf(rd->reason, sizeof(rd->reason), "no perf script event headers: not perf script output");
        else
                snprintf(rd->reason, sizeof(rd->reason), "no samples with stacks (record with 'perf record -g')");
        return -ENODATA;
}

static void reader_start(struct reader *rd, struct profile *p, const struct perf_script_options *o) {
        *rd = (struct reader) { .p = p, .o = o };
        if (o && o->event_filter)
                rd->event_filter = (struct span) { o->event_filter, strlen(o->event_filter) };
}

static int reader_finish(struct reader *rd, int r) {
        if (r >= 0 && rd->samples == 0 && rd->lineno > 0 && (rd->seen_text || rd->headers > 0))
                r = no_samples(rd);
        if (r == -EBADMSG && !rd->reason[0])
                snprintf(rd->reason, sizeof(rd->reason), "binary data (a NUL byte), not perf script output");
        if (r < 0 && rd->reason[0])
                bad_line_at(rd, 0, rd->reason);
        reader_release(rd);
        return r;
}

int perf_script_read_buffer(struct profile *p, const char *name, const char *data, size_t len,
                            const struct perf_script_options *o) {
        struct reader rd;

        reader_start(&rd, p, o);
        rd.name = name;
        rd.cur = data;
        rd.end = data + len;
        int r = sniff(&rd, data, len);
        if (r >= 0)
                r = read_lines(&rd);
        return reader_finish(&rd, r);
}

int perf_script_read_files(struct profile *p, char *const *paths, size_t n,
                           const struct perf_script_options *o, const char **reterr_path) {
        struct reader rd;
        int r = 0;

        reader_start(&rd, p, o);
        for (size_t i = 0; i < n && r >= 0; i++) {
                bool is_stdin = strcmp(paths[i], "-") == 0;
                _cleanup_close_ int fd = -1;
                struct line_reader lr;
                struct stat st;
                const char *data;
                size_t len;

                if (!is_stdin) {
                        fd = open(paths[i], O_RDONLY | O_CLOEXEC);
                        if (fd < 0)
                                r = -errno;
                        else if (fstat(fd, &st) < 0)
                                r = -errno;
                        else if (S_ISDIR(st.st_mode))
                                r = -EISDIR;
                }
                if (r < 0) {
                        if (reterr_path)
                                *reterr_path = paths[i];
                        reader_release(&rd);
                        return r;
                }
                /* like Perl's <>, the files are one stream; messages name
                 * the file and its own line numbers */
                rd.name = is_stdin ? "<stdin>" : paths[i];
                rd.lineno = 0;
                line_reader_init(&lr, is_stdin ? STDIN_FILENO : fd, 0);
                rd.lr = &lr;
                r = line_reader_peek(&lr, FOLDED_SNIFF_BYTES, &data, &len);
                if (r >= 0)
                        r = sniff(&rd, data, len);
                if (r >= 0)
                        r = read_lines(&rd);
                rd.lr = NULL;
                line_reader_release(&lr);
                if (r < 0 && reterr_path)
                        *reterr_path = paths[i];
        }
        if (r >= 0 && reterr_path && n == 1)
                *reterr_path = paths[0];
        return reader_finish(&rd, r);
}
