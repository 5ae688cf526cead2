#include "image/maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/parse.h"

/* Hex field ending at a delimiter: at most 16 digits, so no overflow. */
static bool parse_hex(const char **p, const char *end, char delim, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;
        int n = 0;

        while (s < end && *s != delim) {
                int d = hex_digit(*s);
                if (d < 0)
                        return false;
                if (++n > 16)
                        return false;
                v = v << 4 | (unsigned) d;
                s++;
        }
        if (n == 0 || s == end)
                return false;
        *p = s + 1; /* past the delimiter */
        *ret = v;
        return true;
}

static bool parse_dec(const char **p, const char *end, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;
        int n = 0;

        while (s < end && *s >= '0' && *s <= '9') {
                if (v > (UINT64_MAX - 9) / 10)
                        return false;
                v = v * 10 + (uint64_t) (*s - '0');
                s++;
                n++;
        }
        if (n == 0)
                return false;
        *p = s;
        *ret = v;
        return true;
}

/* "start-end perms offset major:minor inode   path" */
static bool parse_line(const char *s, const char *end, struct maps_entry *e) {
        uint64_t maj, min;
        static const char deleted[] = " (deleted)";
        const size_t dlen = sizeof(deleted) - 1;

        *e = (struct maps_entry) {};
        if (memchr(s, '\0', (size_t) (end - s)))
                return false;
        if (!parse_hex(&s, end, '-', &e->start) || !parse_hex(&s, end, ' ', &e->end))
                return false;
        if (e->start >= e->end)
                return false;
        if (end - s < 5 || s[4] != ' ')
                return false;
        e->read = s[0] == 'r';
        e->write = s[1] == 'w';
        e->exec = s[2] == 'x';
        e->shared = s[3] == 's';
        s += 5;
        if (!parse_hex(&s, end, ' ', &e->pgoff))
                return false;
        if (!parse_hex(&s, end, ':', &maj) || !parse_hex(&s, end, ' ', &min))
                return false;
        if (maj > UINT32_MAX || min > UINT32_MAX)
                return false;
        e->dev_major = (uint32_t) maj;
        e->dev_minor = (uint32_t) min;
        if (!parse_dec(&s, end, &e->inode))
                return false;
        if (s < end && *s != ' ')
                return false;
        while (s < end && *s == ' ')
                s++;
        if (s == end)
                return true; /* anonymous */
        /* The kernel escapes newlines in paths (as \012), so the rest of
         * the line is the path, spaces included. */
        size_t len = (size_t) (end - s);
        if (len > dlen && memcmp(s + len - dlen, deleted, dlen) == 0) {
                e->deleted = true;
                len -= dlen;
        }
        e->path = s;
        e->path_len = len;
        return true;
}

int maps_parse(const char *buf, size_t len, maps_entry_fn fn, void *userdata) {
        const char *p = buf, *end = buf + len;
        int n = 0;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *eol = nl ? nl : end;
                struct maps_entry e;

                if (parse_line(p, eol, &e)) {
                        int r = fn(userdata, &e);
                        if (r < 0)
                                return r;
                        if (n < INT32_MAX)
                                n++;
                }
                p = nl ? nl + 1 : end;
        }
        return n;
}

/* Index of the first mapping with end > addr (n if none). */
static size_t first_ending_after(const struct mapping *m, size_t n, uint64_t addr) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (m[mid].end > addr)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

const struct mapping *mapping_list_find(const struct mapping_list *l, uint64_t addr) {
        size_t i = first_ending_after(l->m.v, l->m.n, addr);
        if (i < l->m.n && l->m.v[i].start <= addr)
                return &l->m.v[i];
        return NULL;
}

static int mapping_cmp(const void *a, const void *b) {
        const struct mapping *x = a, *y = b;
        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        return 0;
}

/* Pushes the parts of o that no mapping in add[] (sorted, disjoint)
 * covers. */
static void push_uncovered(struct mapping *out, size_t *n_out, const struct mapping *o,
                           const struct mapping *add, size_t n_add) {
        uint64_t pos = o->start;

        for (size_t i = first_ending_after(add, n_add, o->start); i < n_add && add[i].start < o->end;
             i++) {
                if (add[i].start > pos) {
                        struct mapping piece = *o;
                        piece.start = pos;
                        piece.end = add[i].start;
                        piece.pgoff = o->pgoff + (pos - o->start);
                        out[(*n_out)++] = piece;
                }
                pos = MAX(pos, add[i].end);
        }
        if (pos < o->end) {
                struct mapping piece = *o;
                piece.start = pos;
                piece.pgoff = o->pgoff + (pos - o->start);
                out[(*n_out)++] = piece;
        }
}

int mapping_list_add(struct mapping_list *l, const struct mapping *add, size_t n) {
        _cleanup_free_ struct mapping *fresh = NULL, *out = NULL;
        size_t n_fresh = 0, n_out = 0;

        if (n == 0)
                return 0;
        if (n > SIZE_MAX / sizeof(*fresh) / 4 || l->m.n > SIZE_MAX / sizeof(*fresh) / 4)
                return -ENOMEM;
        fresh = malloc(n * sizeof(*fresh));
        if (!fresh)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (add[i].start < add[i].end)
                        fresh[n_fresh++] = add[i];
        qsort(fresh, n_fresh, sizeof(*fresh), mapping_cmp);
        /* make the new ones disjoint: keep the first of overlapping ones */
        size_t k = 0;
        for (size_t i = 0; i < n_fresh; i++)
                if (k == 0 || fresh[i].start >= fresh[k - 1].end)
                        fresh[k++] = fresh[i];
        n_fresh = k;

        /* Each old mapping yields at most one piece more than the number of
         * new ones it overlaps, so old*2 + new*2 bounds the output. */
        size_t cap = 2 * l->m.n + 2 * n_fresh;
        out = malloc(MAX(cap, (size_t) 1) * sizeof(*out));
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < l->m.n; i++)
                push_uncovered(out, &n_out, &l->m.v[i], fresh, n_fresh);
        memcpy(out + n_out, fresh, n_fresh * sizeof(*fresh));
        n_out += n_fresh;
        qsort(out, n_out, sizeof(*out), mapping_cmp);

        free(l->m.v);
        l->m.v = TAKE_PTR(out);
        l->m.n = n_out;
        l->m.cap = cap ? cap : 1;
        return 0;
}

void mapping_list_release(struct mapping_list *l) {
        vec_free(&l->m);
}
