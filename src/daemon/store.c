/* The window store (see store.h). Names carry everything: a window's
 * start, its place among windows of the same second, and which output a
 * file is, so retention and reading need nothing but a directory listing
 * and never trust mtimes, which a copy or a clock step would change. */
#include "daemon/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cprof/output.h"
#include "util/atomic-file.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/vec.h"

#define NSEC_PER_SEC 1000000000ULL
/* a temporary this old was left by a kill: a live write keeps its mtime
 * fresh, and no window takes a minute to write */
#define STALE_TEMPORARY_NS (60 * NSEC_PER_SEC)
/* "-N" suffixes tried before giving up: a thousand restarts in a second */
#define MAX_SEQ 999
#define STAMP_LEN 16 /* YYYYMMDDTHHMMSSZ */

/* ---- error text ---- */

static _Thread_local char error_text[PATH_MAX + 256];
static _Thread_local int error_code;

const char *store_strerror(int r) {
        if (r < 0 && r == error_code)
                return error_text;
        return strerror(-r);
}

static void error_reset(void) {
        error_code = 0;
}

/* Keeps the first error of a call, returns r. */
__attribute__((format(printf, 2, 3))) static int error_set(int r, const char *fmt, ...) {
        va_list ap;

        if (error_code != 0)
                return r;
        va_start(ap, fmt);
        vsnprintf(error_text, sizeof(error_text), fmt, ap);
        va_end(ap);
        error_code = r;
        return r;
}

/* ---- names ---- */

enum window_ext { EXT_FOLDED, EXT_SVG, EXT_PPROF, _EXT_MAX };

static const char *const ext_suffix[_EXT_MAX] = {
        [EXT_FOLDED] = ".folded.gz",
        [EXT_SVG] = ".svg",
        [EXT_PPROF] = ".pb.gz",
};

struct window_name {
        uint64_t start_s;
        unsigned seq; /* 0: no "-N" */
        enum window_ext ext;
};

static bool target_valid(const char *target) {
        size_t len = strlen(target);
        return len > 0 && len <= NAME_MAX && target[0] != '.' && !strchr(target, '/');
}

static void format_base(uint64_t start_s, unsigned seq, char *buf, size_t size) {
        struct tm tm;
        time_t t = (time_t) start_s;
        char stamp[32];

        /* start_s comes from ns in a uint64_t: years before 2555, always
         * 16 characters */
        if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) != STAMP_LEN)
                snprintf(stamp, sizeof(stamp), "19700101T000000Z");
        if (seq)
                snprintf(buf, size, "%s-%u", stamp, seq);
        else
                snprintf(buf, size, "%s", stamp);
}

static bool parse_digits(const char *s, size_t n, int *ret) {
        int v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (s[i] - '0');
        }
        *ret = v;
        return true;
}

/* Parses "BASE" + suffix of len bytes. Only names that format_base()
 * could have written are windows: a stamp that does not round-trip
 * (month 13, "-01") is somebody else's file. */
static bool parse_window_name(const char *name, size_t len, struct window_name *ret) {
        struct tm tm = {};
        int year, mon, mday, hour, min, sec;
        size_t i;

        if (len < STAMP_LEN || name[8] != 'T' || name[15] != 'Z' || !parse_digits(name, 4, &year) ||
            !parse_digits(name + 4, 2, &mon) || !parse_digits(name + 6, 2, &mday) ||
            !parse_digits(name + 9, 2, &hour) || !parse_digits(name + 11, 2, &min) ||
            !parse_digits(name + 13, 2, &sec) || year < 1970)
                return false;
        tm = (struct tm) { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = mday,
                           .tm_hour = hour, .tm_min = min, .tm_sec = sec };
        time_t t = timegm(&tm);
        /* past 2554 the start in ns would not fit the API's uint64_t */
        if (t < 0 || (uint64_t) t > UINT64_MAX / NSEC_PER_SEC || tm.tm_year != year - 1900 || tm.tm_mon != mon - 1 || tm.tm_mday != mday ||
            tm.tm_hour != hour || tm.tm_min != min || tm.tm_sec != sec)
                return false;

        unsigned seq = 0;
        i = STAMP_LEN;
        if (i < len && name[i] == '-') {
                i++;
                if (i >= len || name[i] < '1' || name[i] > '9')
                        return false;
                for (; i < len && name[i] >= '0' && name[i] <= '9'; i++) {
                        seq = seq * 10 + (unsigned) (name[i] - '0');
                        if (seq > MAX_SEQ)
                                return false;
                }
        }
        for (int e = 0; e < _EXT_MAX; e++) {
                size_t n = strlen(ext_suffix[e]);
                if (len - i == n && memcmp(name + i, ext_suffix[e], n) == 0) {
                        *ret = (struct window_name) { .start_s = (uint64_t) t, .seq = seq, .ext = e };
                        return true;
                }
        }
        return false;
}

/* atomic-file.c's named fallback: "." NAME "." and six of [A-Za-z0-9];
 * only those of window names are ours to remove. */
static bool is_window_temporary(const char *name) {
        size_t len = strlen(name);
        struct window_name w;

        if (len < 1 + STAMP_LEN + 7 || name[0] != '.' || name[len - 7] != '.')
                return false;
        for (size_t i = len - 6; i < len; i++)
                if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
                      (name[i] >= '0' && name[i] <= '9')))
                        return false;
        return parse_window_name(name + 1, len - 8, &w);
}

/* ---- writing ---- */

/* mkdir -p, mode for what it creates. */
static int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        size_t len = strlen(p);
        while (len > 1 && p[len - 1] == '/')
                p[--len] = '\0';
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char saved = *s;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = saved;
                if (!saved)
                        return 0;
        }
}

static int sync_path(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

/* A FILE whose bytes are gzipped into another FILE, so that folded_write()
 * streams into the file without the text being held whole in memory. */
struct gz_writer {
        z_stream zs;
        FILE *out;
        int error;
        unsigned char buf[64 * 1024];
};

static int gz_pump(struct gz_writer *gz, int flush) {
        int zr;
        do {
                gz->zs.next_out = gz->buf;
                gz->zs.avail_out = sizeof(gz->buf);
                zr = deflate(&gz->zs, flush);
                if (zr == Z_STREAM_ERROR)
                        return -EIO;
                size_t have = sizeof(gz->buf) - gz->zs.avail_out;
                if (have > 0 && fwrite(gz->buf, 1, have, gz->out) != have)
                        return stdio_write_error();
        } while (gz->zs.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
        return 0;
}

static ssize_t gz_cookie_write(void *cookie, const char *data, size_t n) {
        struct gz_writer *gz = cookie;

        if (gz->error)
                goto fail;
        gz->zs.next_in = (unsigned char *) data;
        gz->zs.avail_in = (uInt) MIN(n, (size_t) UINT_MAX);
        size_t taken = gz->zs.avail_in;
        gz->error = gz_pump(gz, Z_NO_FLUSH);
        if (gz->error)
                goto fail;
        return (ssize_t) taken;
fail:
        errno = -gz->error;
        return 0; /* fopencookie: 0 is the error */
}

/* Writes the gzip of folded_write(p) to out. */
static int write_folded_gz(const struct profile *p, FILE *out) {
        _cleanup_free_ struct gz_writer *gz = calloc(1, sizeof(*gz));
        int r;

        if (!gz)
                return -ENOMEM;
        gz->out = out;
        /* 15 + 16: a gzip header and trailer, what `zcat` reads */
        if (deflateInit2(&gz->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        FILE *f = fopencookie(gz, "w", (cookie_io_functions_t) { .write = gz_cookie_write });
        if (!f) {
                deflateEnd(&gz->zs);
                return -ENOMEM;
        }
        r = folded_write(p, f);
        if (fflush(f) != 0 && r >= 0)
                r = gz->error ? gz->error : -EIO;
        fclose(f);
        if (r >= 0)
                r = gz->error ? gz->error : gz_pump(gz, Z_FINISH);
        deflateEnd(&gz->zs);
        return r < 0 ? r : 0;
}

static int write_one(const char *path, enum window_ext ext, const struct profile *p, const char *title) {
        struct atomic_file af;
        int r;

        r = atomic_file_open_flags(path, ATOMIC_FILE_SYNC, &af);
        if (r < 0)
                return error_set(r, "cannot create '%s': %s", path, atomic_file_strerror(r));
        switch (ext) {
        case EXT_FOLDED:
                r = write_folded_gz(p, af.f);
                break;
        case EXT_SVG: {
                struct flamegraph_options o;
                flamegraph_options_init(&o);
                o.title = title;
                r = flamegraph_write(p, af.f, &o);
                if (r == -ENODATA) {
                        atomic_file_abort(&af);
                        return 0;
                }
                break;
        }
        case EXT_PPROF:
                r = pprof_write(p, af.f);
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0) {
                atomic_file_abort(&af);
                return error_set(r, "cannot write '%s': %s", path, strerror(-r));
        }
        r = atomic_file_commit(&af);
        if (r < 0)
                return error_set(r, "cannot write '%s': %s", path, strerror(-r));
        return 0;
}

/* The first BASE of that second of which no file exists. Single writer:
 * nothing else creates names here between this look and the commit. */
static int pick_base(const char *tdir, uint64_t start_s, char *buf, size_t size) {
        _cleanup_close_ int fd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return error_set(-errno, "cannot open '%s': %s", tdir, strerror(errno));
        for (unsigned seq = 0; seq <= MAX_SEQ; seq++) {
                bool taken = false;
                format_base(start_s, seq, buf, size);
                for (int e = 0; e < _EXT_MAX && !taken; e++) {
                        char name[NAME_MAX + 1];
                        struct stat st;
                        snprintf(name, sizeof(name), "%s%s", buf, ext_suffix[e]);
                        if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                                taken = true;
                        else if (errno != ENOENT)
                                return error_set(-errno, "cannot look at '%s/%s': %s", tdir, name,
                                                 strerror(errno));
                }
                if (!taken)
                        return 0;
        }
        return error_set(-EEXIST, "cannot name a window in '%s': %u windows of that second exist", tdir,
                         MAX_SEQ + 1);
}

int store_write_window(const char *dir, const char *target, uint64_t start_unix_ns,
                       const struct profile *p, unsigned outputs, const char *title) {
        _cleanup_free_ char *tdir = NULL;
        char base[64];
        int r;

        error_reset();
        if (!target_valid(target))
                return error_set(-EINVAL, "invalid target name '%s'", target);
        r = mkdir_parents(dir, 0750);
        if (r < 0)
                return error_set(r, "cannot create directory '%s': %s", dir, strerror(-r));
        if (asprintf(&tdir, "%s/%s", dir, target) < 0) {
                tdir = NULL;
                return -ENOMEM;
        }
        if (mkdir(tdir, 0750) == 0) {
                /* the new directory's entry must survive a power loss too,
                 * or the fsync'd windows inside it are lost with it */
                r = sync_path(dir);
                if (r < 0)
                        return error_set(r, "cannot sync directory '%s': %s", dir, strerror(-r));
        } else if (errno != EEXIST)
                return error_set(-errno, "cannot create directory '%s': %s", tdir, strerror(errno));

        r = pick_base(tdir, start_unix_ns / NSEC_PER_SEC, base, sizeof(base));
        if (r < 0)
                return r;

        static const struct {
                enum window_ext ext;
                unsigned bit; /* 0: always */
        } files[] = {
                { EXT_FOLDED, 0 },
                { EXT_SVG, STORE_OUTPUT_SVG },
                { EXT_PPROF, STORE_OUTPUT_PPROF },
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *path = NULL;
                if (files[i].bit && !(outputs & files[i].bit))
                        continue;
                if (asprintf(&path, "%s/%s%s", tdir, base, ext_suffix[files[i].ext]) < 0) {
                        path = NULL;
                        return -ENOMEM;
                }
                r = write_one(path, files[i].ext, p, title);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- listing ---- */

struct window_file {
        uint32_t target; /* index into the listing's targets */
        struct window_name w;
        uint64_t size;
};

struct listing {
        VEC(char *) targets;
        VEC(struct window_file) files;
};

static void listing_release(struct listing *l) {
        for (size_t i = 0; i < l->targets.n; i++)
                free(l->targets.v[i]);
        vec_free(&l->targets);
        vec_free(&l->files);
}

static int window_file_cmp(const void *a, const void *b) {
        const struct window_file *x = a, *y = b;
        if (x->w.start_s != y->w.start_s)
                return x->w.start_s < y->w.start_s ? -1 : 1;
        if (x->w.seq != y->w.seq)
                return x->w.seq < y->w.seq ? -1 : 1;
        if (x->target != y->target)
                return x->target < y->target ? -1 : 1;
        return (int) x->w.ext - (int) y->w.ext;
}

static bool same_set(const struct window_file *x, const struct window_file *y) {
        return x->target == y->target && x->w.start_s == y->w.start_s && x->w.seq == y->w.seq;
}

/* Lists the window files of one target directory into l; removes stale
 * temporaries when sweep (their age measured at now_unix_ns). */
static int list_target(int dir_fd, const char *dir, const char *target, struct listing *l, bool sweep,
                       uint64_t now_unix_ns) {
        int fd = openat(dir_fd, target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return error_set(-errno, "cannot open '%s/%s': %s", dir, target, strerror(errno));
        _cleanup_(closedirp) DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return error_set(r, "cannot open '%s/%s': %s", dir, target, strerror(-r));
        }

        char *name = strdup(target);
        if (!name || vec_push(&l->targets, name) < 0) {
                free(name);
                return -ENOMEM;
        }
        uint32_t index = (uint32_t) (l->targets.n - 1);

        for (;;) {
                struct window_name w;
                struct stat st;

                errno = 0;
                struct dirent *e = readdir(d);
                if (!e) {
                        if (errno)
                                return error_set(-errno, "cannot read '%s/%s': %s", dir, target, strerror(errno));
                        return 0;
                }
                if (e->d_name[0] == '.') {
                        if (!sweep || !is_window_temporary(e->d_name))
                                continue;
                        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                                continue;
                        uint64_t mtime = (uint64_t) st.st_mtim.tv_sec * NSEC_PER_SEC + (uint64_t) st.st_mtim.tv_nsec;
                        if (st.st_mtim.tv_sec < 0 || mtime + STALE_TEMPORARY_NS >= now_unix_ns)
                                continue;
                        if (unlinkat(fd, e->d_name, 0) < 0 && errno != ENOENT)
                                error_set(-errno, "cannot remove '%s/%s/%s': %s", dir, target, e->d_name,
                                          strerror(errno));
                        else
                                log_debug("removed stale temporary '%s/%s/%s'", dir, target, e->d_name);
                        continue;
                }
                if (!parse_window_name(e->d_name, strlen(e->d_name), &w))
                        continue;
                if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return error_set(-errno, "cannot look at '%s/%s/%s': %s", dir, target, e->d_name,
                                         strerror(errno));
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                struct window_file wf = { .target = index, .w = w, .size = (uint64_t) st.st_size };
                if (vec_push(&l->files, wf) < 0)
                        return -ENOMEM;
        }
}

/* Lists every target directory of dir (plain names, real directories,
 * not symlinks), sorted oldest first. A missing dir lists nothing. */
static int list_store(const char *dir, struct listing *l, bool sweep, uint64_t now_unix_ns) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        int r, first = 0;

        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return error_set(-errno, "cannot open '%s': %s", dir, strerror(errno));
        }
        for (;;) {
                struct stat st;

                errno = 0;
                struct dirent *e = readdir(d);
                if (!e) {
                        if (errno) {
                                r = error_set(-errno, "cannot read '%s': %s", dir, strerror(errno));
                                return first ? first : r;
                        }
                        break;
                }
                if (e->d_name[0] == '.' ||
                    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                r = list_target(dirfd(d), dir, e->d_name, l, sweep, now_unix_ns);
                if (r == -ENOMEM)
                        return r;
                /* one unreadable directory does not stop the others' budget */
                if (r < 0 && !first)
                        first = r;
        }
        if (l->files.n > 1)
                qsort(l->files.v, l->files.n, sizeof(l->files.v[0]), window_file_cmp);
        return first;
}

static void usage_of(const struct listing *l, const bool *deleted, struct store_usage *ret) {
        *ret = (struct store_usage) {};
        for (size_t i = 0; i < l->files.n; i++) {
                if (deleted && deleted[i])
                        continue;
                if (ret->files == 0)
                        ret->oldest_unix_ns = l->files.v[i].w.start_s * NSEC_PER_SEC;
                ret->bytes += l->files.v[i].size;
                ret->files++;
        }
}

int store_usage(const char *dir, struct store_usage *ret) {
        _cleanup_(listing_release) struct listing l = {};
        int r;

        error_reset();
        r = list_store(dir, &l, false, 0);
        if (r == -ENOMEM)
                return r;
        usage_of(&l, NULL, ret);
        return r;
}

/* ---- retention ---- */

static bool over_limits(uint64_t start_s, uint64_t bytes, uint64_t max_age_ns, uint64_t max_size,
                        uint64_t now_unix_ns) {
        uint64_t start_ns = start_s * NSEC_PER_SEC;
        if (max_age_ns && now_unix_ns > start_ns && now_unix_ns - start_ns > max_age_ns)
                return true;
        return max_size && bytes > max_size;
}

int store_apply_retention(const char *dir, uint64_t max_age_ns, uint64_t max_size,
                          uint64_t now_unix_ns, struct store_usage *ret) {
        _cleanup_(listing_release) struct listing l = {};
        _cleanup_free_ bool *deleted = NULL;
        int r, first;

        error_reset();
        first = list_store(dir, &l, true, now_unix_ns);
        if (first == -ENOMEM)
                return first;
        deleted = calloc(l.files.n ? l.files.n : 1, sizeof(bool));
        if (!deleted)
                return -ENOMEM;

        uint64_t bytes = 0;
        for (size_t i = 0; i < l.files.n; i++)
                bytes += l.files.v[i].size;

        _cleanup_close_ int dir_fd = -1;
        for (size_t i = 0; i < l.files.n;) {
                size_t end = i + 1;
                while (end < l.files.n && same_set(&l.files.v[i], &l.files.v[end]))
                        end++;
                if (!over_limits(l.files.v[i].w.start_s, bytes, max_age_ns, max_size, now_unix_ns))
                        break;
                if (dir_fd < 0) {
                        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (dir_fd < 0) {
                                r = error_set(-errno, "cannot open '%s': %s", dir, strerror(errno));
                                first = first ? first : r;
                                break;
                        }
                }
                const char *target = l.targets.v[l.files.v[i].target];
                _cleanup_close_ int tfd = openat(dir_fd, target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                for (size_t j = i; j < end; j++) {
                        char name[64];
                        format_base(l.files.v[j].w.start_s, l.files.v[j].w.seq, name, sizeof(name));
                        strcat(name, ext_suffix[l.files.v[j].w.ext]);
                        if (tfd < 0 || (unlinkat(tfd, name, 0) < 0 && errno != ENOENT)) {
                                r = error_set(-errno, "cannot remove '%s/%s/%s': %s", dir, target, name,
                                              strerror(errno));
                                first = first ? first : r;
                                continue;
                        }
                        log_debug("retention removed '%s/%s/%s'", dir, target, name);
                        deleted[j] = true;
                        bytes -= l.files.v[j].size;
                }
                i = end;
        }

        if (ret)
                usage_of(&l, deleted, ret);
        return first;
}

/* ---- reading ---- */

/* Gunzips the whole of fd into *buf (NUL terminated), at most limit bytes:
 * -EFBIG past it, -EBADMSG for anything but one whole gzip stream. */
static int gunzip_fd(int fd, uint64_t limit, struct charvec *buf) {
        z_stream zs = {};
        unsigned char in[64 * 1024];
        int zr = Z_OK, r = 0;

        if (inflateInit2(&zs, 15 + 16) != Z_OK)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, in, sizeof(in));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (n == 0) {
                        r = zr == Z_STREAM_END ? 0 : -EBADMSG; /* cut short */
                        break;
                }
                if (zr == Z_STREAM_END) {
                        r = -EBADMSG; /* bytes after the stream's end */
                        break;
                }
                zs.next_in = in;
                zs.avail_in = (uInt) n;
                while (zs.avail_in > 0 && zr != Z_STREAM_END) {
                        /* room for one byte past the limit, how a text of
                         * exactly limit bytes differs from a longer one, plus
                         * the NUL; grown by doubling, but never past that */
                        if (buf->cap < buf->n + 2) {
                                size_t ncap = MIN(MAX(buf->cap * 2, (size_t) 256 * 1024), (size_t) limit + 2);
                                char *nv = realloc(buf->v, ncap);
                                if (!nv) {
                                        r = -ENOMEM;
                                        goto done;
                                }
                                buf->v = nv;
                                buf->cap = ncap;
                        }
                        size_t room = buf->cap - 1 - buf->n;
                        zs.next_out = (unsigned char *) buf->v + buf->n;
                        zs.avail_out = (uInt) MIN(room, (size_t) UINT_MAX);
                        zr = inflate(&zs, Z_NO_FLUSH);
                        buf->n = (char *) zs.next_out - buf->v;
                        if (zr == Z_MEM_ERROR) {
                                r = -ENOMEM;
                                goto done;
                        }
                        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
                                r = -EBADMSG;
                                goto done;
                        }
                        if (buf->n > limit) {
                                r = -EFBIG;
                                goto done;
                        }
                }
                if (zr == Z_STREAM_END && zs.avail_in > 0) {
                        r = -EBADMSG;
                        break;
                }
        }
done:
        inflateEnd(&zs);
        if (r >= 0 && !buf->v) {
                /* an empty text */
                buf->v = malloc(1);
                buf->cap = buf->v ? 1 : 0;
                if (!buf->v)
                        r = -ENOMEM;
        }
        if (r >= 0)
                buf->v[buf->n] = '\0';
        return r;
}

static void on_bad_line(void *userdata, const char *file, unsigned line, const char *reason) {
        (void) userdata;
        log_debug("%s:%u: %s", file, line, reason);
}

static const char *read_error_text(int r) {
        switch (r) {
        case -EBADMSG:
                return "not a whole gzip file";
        case -EFBIG:
                return "larger than 256 MiB once gunzipped";
        case -EILSEQ:
                return "a NUL byte: not folded stacks";
        default:
                return strerror(-r);
        }
}

int store_read_since(const char *dir, const char *target, uint64_t since_unix_ns, struct profile *p) {
        _cleanup_(listing_release) struct listing l = {};
        _cleanup_free_ char *tdir = NULL;
        int r, n = 0;

        error_reset();
        if (!target_valid(target))
                return error_set(-EINVAL, "invalid target name '%s'", target);
        if (asprintf(&tdir, "%s/%s", dir, target) < 0) {
                tdir = NULL;
                return -ENOMEM;
        }
        _cleanup_close_ int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return error_set(-errno, "cannot open '%s': %s", dir, strerror(errno));
        }
        r = list_target(dir_fd, dir, target, &l, false, 0);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        qsort(l.files.v, l.files.n, sizeof(l.files.v[0]), window_file_cmp);
        _cleanup_close_ int tfd = openat(dir_fd, target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tfd < 0)
                return error_set(-errno, "cannot open '%s': %s", tdir, strerror(errno));

        struct folded_read_options o = { .on_bad_line = on_bad_line };
        for (size_t i = 0; i < l.files.n; i++) {
                const struct window_file *wf = &l.files.v[i];
                _cleanup_(vec_freep) struct charvec text = {};
                char name[64];

                if (wf->w.ext != EXT_FOLDED || wf->w.start_s * NSEC_PER_SEC < since_unix_ns)
                        continue;
                format_base(wf->w.start_s, wf->w.seq, name, sizeof(name));
                strcat(name, ext_suffix[EXT_FOLDED]);
                _cleanup_close_ int fd = openat(tfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        int e = errno;
                        if (e != ENOENT) /* gone since the listing: retention */
                                log_warning("cannot open window '%s/%s': %s, skipping", tdir, name, strerror(e));
                        continue;
                }
                r = gunzip_fd(fd, STORE_MAX_FOLDED_BYTES, &text);
                if (r == -ENOMEM)
                        return r;
                /* folded_read_buffer finds a NUL only line by line, after
                 * adding the lines before it: a window goes in whole or not */
                if (r >= 0 && memchr(text.v, '\0', text.n))
                        r = -EILSEQ;
                if (r < 0) {
                        log_warning("cannot read window '%s/%s': %s, skipping", tdir, name, read_error_text(r));
                        continue;
                }
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/%s", tdir, name);
                r = folded_read_buffer(p, path, text.v, text.n, &o);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_warning("cannot read window '%s': %s, skipping", path,
                                    r == -EMEDIUMTYPE ? "not folded stacks" : strerror(-r));
                        continue;
                }
                n++;
        }
        return n;
}
