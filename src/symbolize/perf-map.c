#include "symbolize/perf-map.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/parse.h"
#include "util/read-file.h"
#include "util/vec.h"

struct pm_sym {
        uint64_t start, end; /* end > start */
        size_t name;         /* offset in pool */
};

typedef VEC(struct pm_sym) pm_sym_vec;

struct perf_map {
        pm_sym_vec syms;         /* sorted by start, never overlapping */
        VEC(char) pool;          /* names, NUL terminated, dead ones included */
        size_t dead;             /* bytes of the pool that no kept symbol names */
        size_t malformed;

        bool check_owner;
        uid_t owner;

        /* the file last read, for perf_map_update() */
        bool known;
        dev_t dev;
        ino_t ino;
        uint64_t offset; /* start of the first line not taken in */
        uint64_t size;   /* bytes of the file seen so far */
};

int perf_map_new(struct perf_map **ret) {
        struct perf_map *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        *ret = m;
        return 0;
}

struct perf_map *perf_map_free(struct perf_map *m) {
        if (!m)
                return NULL;
        vec_free(&m->syms);
        vec_free(&m->pool);
        free(m);
        return NULL;
}

void perf_map_set_owner(struct perf_map *m, uid_t uid) {
        m->check_owner = true;
        m->owner = uid;
}

size_t perf_map_count(const struct perf_map *m) {
        return m->syms.n;
}

size_t perf_map_malformed(const struct perf_map *m) {
        return m->malformed;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

/* A hex number of 1 to 16 digits, "0x" allowed, ending at a blank. */
static const char *parse_hex(const char *s, const char *end, uint64_t *ret) {
        uint64_t v = 0;
        int digits = 0;

        if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                s += 2;
        for (; s < end && !is_blank(*s); s++) {
                int d = hex_digit(*s);
                if (d < 0 || ++digits > 16)
                        return NULL;
                v = v << 4 | (unsigned) d;
        }
        if (digits == 0 || s == end)
                return NULL;
        while (s < end && is_blank(*s))
                s++;
        *ret = v;
        return s;
}

/* One line without its '\n'. Returns 1 for a symbol (appended to *batch,
 * its name to the pool), 0 for a line that names nothing (empty, or a
 * symbol of size 0), -EINVAL for a malformed one, -ENOMEM. */
static int parse_line(struct perf_map *m, const char *s, const char *end, pm_sym_vec *batch) {
        uint64_t start, size;

        /* "\r\n" line ends, and blanks a writer left after the name */
        while (end > s && (is_blank(end[-1]) || end[-1] == '\r'))
                end--;
        if (s == end)
                return 0;
        s = parse_hex(s, end, &start);
        if (!s)
                return -EINVAL;
        s = parse_hex(s, end, &size);
        if (!s || s == end || memchr(s, '\0', (size_t) (end - s)))
                return -EINVAL;
        if (size > UINT64_MAX - start)
                return -EINVAL;
        if (size == 0)
                return 0;

        size_t len = (size_t) (end - s);
        int r = vec_reserve(&m->pool, m->pool.n + len + 1);
        if (r < 0)
                return r;
        r = vec_push(batch, ((struct pm_sym) { .start = start, .end = start + size, .name = m->pool.n }));
        if (r < 0)
                return r;
        memcpy(m->pool.v + m->pool.n, s, len);
        m->pool.v[m->pool.n + len] = '\0';
        m->pool.n += len + 1;
        return 1;
}

static int sym_start_cmp(const void *a, const void *b) {
        const struct pm_sym *x = a, *y = b;
        return x->start < y->start ? -1 : x->start > y->start;
}

/* Number of entries of the sorted starts[0..n) below v. */
static size_t count_below(const uint64_t *starts, size_t n, uint64_t v) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (starts[mid] < v)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* A Fenwick tree over positions 1..n holding the largest end inserted at
 * each: "the largest end among the symbols whose start ranks among the
 * first j" in O(log n). */
static void fenwick_raise(uint64_t *f, size_t n, size_t pos, uint64_t v) {
        for (; pos <= n; pos += pos & -pos)
                if (f[pos] < v)
                        f[pos] = v;
}

static uint64_t fenwick_max(const uint64_t *f, size_t j) {
        uint64_t v = 0;
        for (; j > 0; j -= j & -j)
                if (f[j] > v)
                        v = f[j];
        return v;
}

/* The first kept symbol ending above addr (kept symbols do not overlap,
 * so their ends are sorted too). */
static size_t first_ending_above(const struct perf_map *m, uint64_t addr) {
        size_t lo = 0, hi = m->syms.n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (m->syms.v[mid].end <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static size_t name_size(const struct perf_map *m, const struct pm_sym *sym) {
        return strlen(m->pool.v + sym->name) + 1;
}

/* Merges a batch of new symbols (in file order) into the kept ones. A
 * symbol survives while no later one overlaps it, which is what replacing
 * overlapped symbols line by line gives, but in O(n log n) for the batch
 * (a JIT writes hundreds of thousands of lines) instead of a move of the
 * whole table per line. Walking the batch from its last line back, each
 * symbol meets only later ones in the tree: Y overlaps X when
 * Y.start < X.end and Y.end > X.start, so X dies when the largest end
 * among later symbols starting before X.end is above X.start. Every kept
 * symbol is older than the whole batch and meets all of it, but only
 * those between the batch's lowest start and highest end can overlap it:
 * a few lines appended to a large map touch only their neighbourhood. */
static int merge_batch(struct perf_map *m, struct pm_sym *b, size_t n) {
        _cleanup_free_ struct pm_sym *sorted = NULL, *mid = NULL;
        _cleanup_free_ uint64_t *starts = NULL, *fen = NULL;
        _cleanup_free_ size_t *rank = NULL;
        _cleanup_free_ bool *alive = NULL;
        uint64_t lowest = UINT64_MAX, highest = 0;

        if (n == 0)
                return 0;
        sorted = malloc(n * sizeof(*sorted));
        starts = malloc(n * sizeof(*starts));
        fen = calloc(n + 1, sizeof(*fen));
        rank = malloc(n * sizeof(*rank));
        alive = malloc(n * sizeof(*alive));
        if (!sorted || !starts || !fen || !rank || !alive)
                return -ENOMEM;

        /* sort (start, file position) pairs: the position rides in .name,
         * which the sort does not need */
        for (size_t i = 0; i < n; i++) {
                sorted[i] = (struct pm_sym) { .start = b[i].start, .name = i };
                lowest = MIN(lowest, b[i].start);
                highest = MAX(highest, b[i].end);
        }
        qsort(sorted, n, sizeof(*sorted), sym_start_cmp);
        for (size_t k = 0; k < n; k++) {
                starts[k] = sorted[k].start;
                rank[sorted[k].name] = k + 1;
        }

        size_t ns = 0;
        for (size_t i = n; i-- > 0;) {
                uint64_t reach = fenwick_max(fen, count_below(starts, n, b[i].end));
                alive[i] = reach <= b[i].start;
                ns += alive[i];
                fenwick_raise(fen, n, rank[i], b[i].end);
        }

        /* kept symbols [lo, hi) are the only ones the batch may overlap */
        size_t lo = first_ending_above(m, lowest), hi = lo;
        while (hi < m->syms.n && m->syms.v[hi].start < highest)
                hi++;
        if (hi - lo > SIZE_MAX / sizeof(*mid) - ns || m->syms.n > SIZE_MAX / sizeof(*mid) - ns)
                return -ENOMEM;
        mid = malloc((hi - lo + ns) * sizeof(*mid));
        if (!mid || vec_reserve(&m->syms, m->syms.n + ns) < 0)
                return -ENOMEM;

        /* the batch's survivors do not overlap each other: sort them */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                if (alive[i])
                        sorted[k++] = b[i];
                else
                        m->dead += name_size(m, &b[i]);
        }
        qsort(sorted, ns, sizeof(*sorted), sym_start_cmp);

        /* and merge them with the kept symbols the batch did not touch */
        size_t nmid = 0;
        k = 0;
        for (size_t i = lo; i < hi; i++) {
                const struct pm_sym *z = &m->syms.v[i];
                if (fenwick_max(fen, count_below(starts, n, z->end)) > z->start) {
                        m->dead += name_size(m, z);
                        continue;
                }
                while (k < ns && sorted[k].start < z->start)
                        mid[nmid++] = sorted[k++];
                mid[nmid++] = *z;
        }
        while (k < ns)
                mid[nmid++] = sorted[k++];

        size_t tail = m->syms.n - hi;
        memmove(m->syms.v + lo + nmid, m->syms.v + hi, tail * sizeof(*mid));
        memcpy(m->syms.v + lo, mid, nmid * sizeof(*mid));
        m->syms.n = lo + nmid + tail;
        return 0;
}

/* Names of replaced symbols stay in the pool until they are the larger
 * part: a JIT re-using memory for weeks must not grow it forever. */
static void pool_compact(struct perf_map *m) {
        if (m->dead <= m->pool.n / 2 || m->pool.n < 4096)
                return;
        size_t live = m->pool.n - m->dead;
        char *np = malloc(live ? live : 1);
        if (!np)
                return; /* the old pool still works */
        size_t off = 0;
        for (size_t i = 0; i < m->syms.n; i++) {
                const char *s = m->pool.v + m->syms.v[i].name;
                size_t len = strlen(s) + 1;
                memcpy(np + off, s, len);
                m->syms.v[i].name = off;
                off += len;
        }
        free(m->pool.v);
        m->pool.v = np;
        m->pool.cap = live ? live : 1;
        m->pool.n = off;
        m->dead = 0;
}

size_t perf_map_parse(struct perf_map *m, const char *buf, size_t len) {
        pm_sym_vec batch = {};
        const char *p = buf, *end = buf + len;
        size_t lost = 0;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                if (!nl)
                        break;
                int r = parse_line(m, p, nl, &batch);
                if (r == -EINVAL || r == -ENOMEM)
                        m->malformed++;
                p = nl + 1;
        }
        if (merge_batch(m, batch.v, batch.n) < 0) {
                lost = batch.n;
                for (size_t i = 0; i < batch.n; i++)
                        m->dead += name_size(m, &batch.v[i]);
        }
        m->malformed += lost;
        vec_free(&batch);
        pool_compact(m);
        return (size_t) (p - buf);
}

static void forget_file(struct perf_map *m) {
        vec_free(&m->syms);
        vec_free(&m->pool);
        m->dead = 0;
        m->offset = m->size = 0;
        m->known = false;
}

int perf_map_update(struct perf_map *m, const char *path) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;

        /* O_NONBLOCK: opening a FIFO planted in /tmp must not wait for a
         * writer; the type check below then refuses it */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (m->check_owner && st.st_uid != 0 && st.st_uid != m->owner)
                return -EPERM;
        uint64_t fsize = (uint64_t) st.st_size;
        if (m->known && (st.st_dev != m->dev || st.st_ino != m->ino || fsize < m->size))
                forget_file(m);
        else if (m->known && fsize == m->size)
                return 0;

        /* read what fstat saw, not to the end: a process writing faster
         * than this reads must not keep it here */
        uint64_t want64 = fsize - m->offset;
        if (want64 > SIZE_MAX - 1)
                return -EFBIG;
        size_t want = (size_t) want64, got = 0;
        buf = malloc(want + 1);
        if (!buf)
                return -ENOMEM;
        while (got < want) {
                ssize_t k = pread(fd, buf + got, want - got, (off_t) (m->offset + got));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break; /* truncated while reading: seen next time */
                got += (size_t) k;
        }
        size_t used = perf_map_parse(m, buf, got);
        m->known = true;
        m->dev = st.st_dev;
        m->ino = st.st_ino;
        m->size = m->offset + got;
        m->offset += used;
        return 1;
}

const char *perf_map_lookup(struct perf_map *m, uint64_t addr, uint64_t *ret_start) {
        const struct pm_sym *s = m->syms.v;
        size_t lo = 0, hi = m->syms.n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s[mid].start <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == 0 || addr >= s[lo - 1].end)
                return NULL;
        if (ret_start)
                *ret_start = s[lo - 1].start;
        return m->pool.v + s[lo - 1].name;
}

int perf_map_parse_nspid(const char *status, size_t len, pid_t pid, pid_t *ret_nspid) {
        const char *p = status, *end = status + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *eol = nl ? nl : end;
                if (eol - p >= 6 && memcmp(p, "NSpid:", 6) == 0) {
                        long long last = -1;
                        const char *s = p + 6;
                        for (;;) {
                                while (s < eol && is_blank(*s))
                                        s++;
                                if (s == eol)
                                        break;
                                long long v = 0;
                                const char *d = s;
                                for (; s < eol && *s >= '0' && *s <= '9'; s++) {
                                        v = v * 10 + (*s - '0');
                                        if (v > INT_MAX)
                                                return -EINVAL;
                                }
                                if (s == d || (s < eol && !is_blank(*s)) || v == 0)
                                        return -EINVAL;
                                last = v;
                        }
                        if (last < 0)
                                return -EINVAL;
                        *ret_nspid = (pid_t) last;
                        return 0;
                }
                p = nl ? nl + 1 : end;
        }
        *ret_nspid = pid;
        return 0;
}

int perf_map_path(pid_t pid, char *buf, size_t len) {
        _cleanup_free_ char *status = NULL;
        char path[64];
        size_t slen;
        pid_t nspid;

        if (pid <= 0)
                return -EINVAL;
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        int r = read_full_file(path, &status, &slen);
        if (r < 0)
                return r;
        r = perf_map_parse_nspid(status, slen, pid, &nspid);
        if (r < 0)
                return r;
        int k = snprintf(buf, len, "/proc/%d/root/tmp/perf-%d.map", (int) pid, (int) nspid);
        if (k < 0 || (size_t) k >= len)
                return -ENOBUFS;
        return 0;
}
