/* daemon/store: window files named by their start (and "-N" for a second
 * written twice), the folded text read back byte for byte, the optional
 * SVG and pprof, retention by age and size on windows of known sizes
 * (sets together, oldest first, unknown files untouched, stale
 * temporaries swept), store_read_since picking windows and skipping
 * corrupt ones, and SIGKILL in the middle of a write leaving no partial
 * window visible, with O_TMPFILE and with the named fallback (a seccomp
 * filter fails O_TMPFILE, as on vfat). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cprof/output.h"
#include "daemon/store.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/time-util.h"

#define NS 1000000000ULL

static char root[] = "/tmp/cprof-store-XXXXXX";

static uint64_t utc(int year, int mon, int mday, int hour, int min, int sec) {
        struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = mday,
                         .tm_hour = hour, .tm_min = min, .tm_sec = sec };
        return (uint64_t) timegm(&tm) * NS;
}

/* YYYYMMDDTHHMMSSZ of unix_ns, in a static buffer */
static const char *stamp(uint64_t unix_ns) {
        static char buf[32];
        struct tm tm;
        time_t t = (time_t) (unix_ns / NS);
        gmtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
        return buf;
}

static uint64_t wall_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * NS + (uint64_t) ts.tv_nsec;
}

static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_of(const char *fmt, ...) {
        /* A path for one use, not to keep; names kept go in local arrays. */
/* short-lived: the pointer is valid for the next 15 calls */
        static char buf[16][512];
        static int next;
        char *b = buf[next++ % 16];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b, sizeof(buf[0]), fmt, ap);
        va_end(ap);
        return b;
}

static bool exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}

static long size_of(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0 ? (long) st.st_size : -1;
}

static void put(const char *path, const void *data, size_t len) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, data, len) != (ssize_t) len)
                perror(path);
        if (fd >= 0)
                close(fd);
}

static void put_size(const char *path, size_t len) {
        char *data = calloc(1, len + 1);
        memset(data, 'x', len);
        put(path, data, len);
        free(data);
}

static void set_mtime(const char *path, uint64_t unix_ns) {
        struct timespec ts[2] = {
                { .tv_sec = (time_t) (unix_ns / NS), .tv_nsec = (long) (unix_ns % NS) },
                { .tv_sec = (time_t) (unix_ns / NS), .tv_nsec = (long) (unix_ns % NS) },
        };
        if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
                perror(path);
}

static void clear(const char *d) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
        if (system(cmd) != 0)
                fprintf(stderr, "# cannot remove %s\n", d);
}

/* The names in d, sorted, joined by spaces. */
static char *listing(const char *d) {
        static char out[4096];
        char *names[256];
        int n = 0;
        DIR *dp = opendir(d);

        out[0] = '\0';
        if (!dp)
                return strcpy(out, "(none)");
        for (struct dirent *e; (e = readdir(dp)) && n < 256;)
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                        names[n++] = strdup(e->d_name);
        closedir(dp);
        for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                        if (strcmp(names[j], names[i]) < 0) {
                                char *t = names[i];
                                names[i] = names[j];
                                names[j] = t;
                        }
        for (int i = 0; i < n; i++) {
                if (i)
                        strcat(out, " ");
                strncat(out, names[i], sizeof(out) - strlen(out) - 2);
                free(names[i]);
        }
        return out;
}

/* "proc;main;fn_K;leaf_J" stacks, count K * J + 1, and one kernel frame:
 * deterministic text for any size. */
static struct profile *make_profile(unsigned k_max, unsigned j_max, const char *tag) {
        struct profile *p;
        if (profile_new(&p) < 0)
                return NULL;
        for (unsigned k = 0; k < k_max; k++)
                for (unsigned j = 0; j < j_max; j++) {
                        char fn[64], leaf[64];
                        uint32_t ids[5];
                        size_t depth = 0;
                        snprintf(fn, sizeof(fn), "%s_fn_%u", tag, k);
                        snprintf(leaf, sizeof(leaf), "leaf_%u", j);
                        profile_intern_named_frame(p, "app", 3, FRAME_PROCESS, &ids[depth++]);
                        profile_intern_named_frame(p, "main", 4, FRAME_USER, &ids[depth++]);
                        profile_intern_named_frame(p, fn, strlen(fn), FRAME_USER, &ids[depth++]);
                        profile_intern_named_frame(p, leaf, strlen(leaf), FRAME_USER, &ids[depth++]);
                        if (j == 0)
                                profile_intern_named_frame(p, "do_syscall_64", 13, FRAME_KERNEL, &ids[depth++]);
                        double v = (double) (k * j + 1);
                        if (profile_add_sample(p, ids, depth, &v, 0, 0) < 0) {
                                profile_free(p);
                                return NULL;
                        }
                }
        return p;
}

static char *folded_text(const struct profile *p) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        folded_write(p, f);
        fclose(f);
        return buf;
}

/* The whole gunzipped content of path, by zlib's own reader (not the
 * store's); NULL unless it is one whole gzip stream. */
static char *gunzip_file(const char *path, size_t *ret_len) {
        gzFile g = gzopen(path, "rb");
        size_t len = 0, cap = 1 << 16;
        char *buf = malloc(cap + 1);
        int n, err;

        if (!g) {
                free(buf);
                return NULL;
        }
        while ((n = gzread(g, buf + len, (unsigned) (cap - len))) > 0) {
                len += (size_t) n;
                if (len == cap)
                        buf = realloc(buf, (cap *= 2) + 1);
        }
        gzerror(g, &err);
        bool whole = n == 0 && err == Z_OK && gzeof(g);
        gzclose(g);
        if (!whole) {
                free(buf);
                return NULL;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return buf;
}

static void test_write_and_names(void) {
        char dir[256];
        snprintf(dir, sizeof(dir), "%s/w/store", root); /* a parent that does not exist yet */
        uint64_t t0 = utc(2026, 12, 2, 5, 31, 0);
        struct profile *p = make_profile(4, 3, "a");
        _cleanup_free_ char *expect = folded_text(p);
        struct stat st;
        int r;

        r = store_write_window(dir, "api", t0 + 250000000, p, STORE_OUTPUT_SVG | STORE_OUTPUT_PPROF,
                               "cpu: api, 2026-12-02 05:31:00Z, 60 s");
        CHECK(r == 0, "store_write_window: %s", r < 0 ? store_strerror(r) : "ok");
        CHECK_STREQ(listing(path_of("%s/api", dir)),
                    "20261202T053100Z.folded.gz 20261202T053100Z.pb.gz 20261202T053100Z.svg",
                    "the window's files are named by its start second in UTC");
        CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0750, "DIR is created with mode 0750");
        CHECK(stat(path_of("%s/api", dir), &st) == 0 && (st.st_mode & 0777) == 0750,
              "DIR/target is created with mode 0750");

        size_t len = 0;
        _cleanup_free_ char *got = gunzip_file(path_of("%s/api/20261202T053100Z.folded.gz", dir), &len);
        CHECK(got && expect && len == strlen(expect) && strcmp(got, expect) == 0,
              "the .folded.gz is the gzip of exactly folded_write()'s text (%zu bytes)", len);
        CHECK(got && strstr(got, "app;main;a_fn_0;leaf_0;do_syscall_64_[k] 1\n"),
              "with frame kinds' suffixes");

        FILE *f = fopen(path_of("%s/api/20261202T053100Z.svg", dir), "r");
        char head[16384] = "";
        if (f) {
                head[fread(head, 1, sizeof(head) - 1, f)] = '\0';
                fclose(f);
        }
        CHECK(strncmp(head, "<?xml", 5) == 0 && strstr(head, "cpu: api, 2026-12-02 05:31:00Z, 60 s"),
              "the SVG is a flame graph with the title");

        _cleanup_free_ char *pb = gunzip_file(path_of("%s/api/20261202T053100Z.pb.gz", dir), &len);
        CHECK(pb && len > 0, "the .pb.gz is whole gzip (%zu bytes of profile.proto)", len);

        /* the same second again (a restart), twice: new names, nothing replaced */
        long before = size_of(path_of("%s/api/20261202T053100Z.folded.gz", dir));
        struct profile *q = make_profile(2, 2, "b");
        _cleanup_free_ char *expect_q = folded_text(q);
        r = store_write_window(dir, "api", t0 + 900000000, q, 0, NULL);
        CHECK(r == 0, "a second window of the same second");
        r = store_write_window(dir, "api", t0, q, STORE_OUTPUT_SVG, NULL);
        CHECK(r == 0, "a third one");
        CHECK_STREQ(listing(path_of("%s/api", dir)),
                    "20261202T053100Z-1.folded.gz 20261202T053100Z-2.folded.gz 20261202T053100Z-2.svg "
                    "20261202T053100Z.folded.gz 20261202T053100Z.pb.gz 20261202T053100Z.svg",
                    "windows of one second get -1, -2 before the extension");
        _cleanup_free_ char *first = gunzip_file(path_of("%s/api/20261202T053100Z.folded.gz", dir), NULL);
        _cleanup_free_ char *second = gunzip_file(path_of("%s/api/20261202T053100Z-1.folded.gz", dir), NULL);
        CHECK(first && expect && strcmp(first, expect) == 0 &&
              size_of(path_of("%s/api/20261202T053100Z.folded.gz", dir)) == before,
              "the first window is untouched");
        CHECK(second && expect_q && strcmp(second, expect_q) == 0, "the second holds its own profile");

        /* a name taken by a lone .svg (a set half deleted by hand) is taken */
        put(path_of("%s/api/20261202T053200Z.svg", dir), "x", 1);
        r = store_write_window(dir, "api", t0 + 60 * NS, q, 0, NULL);
        CHECK(r == 0 && exists(path_of("%s/api/20261202T053200Z-1.folded.gz", dir)) &&
              !exists(path_of("%s/api/20261202T053200Z.folded.gz", dir)),
              "any file of a set reserves its name");

        /* other targets, other dirs; bad target names */
        r = store_write_window(dir, "db", t0, q, 0, NULL);
        CHECK(r == 0 && exists(path_of("%s/db/20261202T053100Z.folded.gz", dir)), "a second target");
        static const char *const bad[] = { "", ".", "..", ".hidden", "a/b", "/abs" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                r = store_write_window(dir, bad[i], t0, q, 0, NULL);
                CHECK(r == -EINVAL && strstr(store_strerror(r), "invalid target name"),
                      "target name '%s' is refused: %s", bad[i], store_strerror(r));
        }

        /* an empty window: an empty .folded.gz, no SVG */
        struct profile *empty;
        profile_new(&empty);
        r = store_write_window(dir, "idle", t0, empty, STORE_OUTPUT_SVG | STORE_OUTPUT_PPROF, "t");
        _cleanup_free_ char *nothing = gunzip_file(path_of("%s/idle/20261202T053100Z.folded.gz", dir), &len);
        CHECK(r == 0 && nothing && len == 0, "an empty window writes an empty .folded.gz");
        CHECK(!exists(path_of("%s/idle/20261202T053100Z.svg", dir)) &&
              exists(path_of("%s/idle/20261202T053100Z.pb.gz", dir)),
              "and no SVG: %s", listing(path_of("%s/idle", dir)));
        profile_free(empty);

        /* errors name the file */
        char blocked[256];
        snprintf(blocked, sizeof(blocked), "%s/w/blocked", root);
        put(blocked, "x", 1);
        r = store_write_window(blocked, "api", t0, q, 0, NULL);
        CHECK(r == -ENOTDIR && strstr(store_strerror(r), "blocked"), "a DIR that is a file: %s",
              store_strerror(r));
        profile_free(q);
        profile_free(p);
}

/* A forked child as nobody: its own function, so that the child holds
 * no heap block of a caller that valgrind would count as lost at _exit. */
static void test_write_error(void) {
        uint64_t t0 = utc(2026, 12, 2, 5, 31, 0);
        struct profile *q = make_profile(2, 2, "b");
        /* a target directory nobody may write to: as nobody (root may) */
        char ro[256];
        snprintf(ro, sizeof(ro), "%s/w/ro", root);
        mkdir(ro, 0755);
        mkdir(path_of("%s/api", ro), 0755);
        chmod(root, 0755);
        chmod(path_of("%s/w", root), 0755);
        pid_t pid = fork();
        if (pid == 0) {
                if (setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(3);
                int cr = store_write_window(ro, "api", t0, q, 0, NULL);
                const char *text = store_strerror(cr);
                printf("# as nobody: %s\n", text);
                fflush(stdout);
                profile_free(q);
                _exit(cr == -EACCES && strstr(text, "cannot create '") &&
                      strstr(text, "/w/ro/api/20261202T053100Z.folded.gz': Permission denied") ? 0 : 1);
        }
        int status = -1;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a failed write names its file (%d)", status);
        profile_free(q);
}

static int count_windows_read(const char *dir, const char *target, uint64_t since, char **ret_text) {
        struct profile *p;
        profile_new(&p);
        int r = store_read_since(dir, target, since, p);
        if (ret_text)
                *ret_text = folded_text(p);
        profile_free(p);
        return r;
}

static void test_read_since(void) {
        char dir[256];
        snprintf(dir, sizeof(dir), "%s/r", root);
        uint64_t t0 = utc(2026, 12, 2, 6, 0, 0);
        struct profile *w[4];
        int r;

        for (int i = 0; i < 4; i++) {
                char tag[8];
                snprintf(tag, sizeof(tag), "w%d", i);
                w[i] = make_profile(3, 2, tag);
                r = store_write_window(dir, "api", t0 + (uint64_t) i * 60 * NS, w[i], 0, NULL);
                CHECK(r == 0, "window %d written", i);
        }
        /* the merge that windows 2 and 3 should make */
        struct profile *expect_p;
        profile_new(&expect_p);
        for (int i = 2; i < 4; i++) {
                _cleanup_free_ char *t = folded_text(w[i]);
                folded_read_buffer(expect_p, "expect", t, strlen(t), NULL);
        }
        _cleanup_free_ char *expect = folded_text(expect_p);
        profile_free(expect_p);

        _cleanup_free_ char *got = NULL;
        r = count_windows_read(dir, "api", t0 + 120 * NS, &got);
        CHECK(r == 2, "since the third window's start: 2 windows (%d)", r);
        CHECK(got && expect && strcmp(got, expect) == 0, "merged into the profile, stack for stack");
        r = count_windows_read(dir, "api", t0 + 120 * NS + 1, NULL);
        CHECK(r == 1, "a window that started before since is left out (%d)", r);
        r = count_windows_read(dir, "api", 0, NULL);
        CHECK(r == 4, "since 0: all four (%d)", r);
        r = count_windows_read(dir, "nosuch", 0, NULL);
        CHECK(r == 0, "a target without windows: 0 (%d)", r);
        r = count_windows_read(path_of("%s/none", root), "api", 0, NULL);
        CHECK(r == 0, "a DIR that does not exist: 0 (%d)", r);
        r = count_windows_read(dir, "../r", 0, NULL);
        CHECK(r == -EINVAL, "a target name with '/' is refused (%d)", r);

        /* corrupt windows after them: cut short, not gzip, gzip of NUL
         * bytes, gzip with trailing junk, a perf.data; plus unknown names */
        _cleanup_free_ char *full = NULL;
        char src[300];
        snprintf(src, sizeof(src), "%s/api/20261202T060000Z.folded.gz", dir);
        long n = size_of(src);
        FILE *f = fopen(src, "r");
        full = malloc((size_t) n);
        if (f) {
                if (fread(full, 1, (size_t) n, f) != (size_t) n)
                        perror(src);
                fclose(f);
        }
        put(path_of("%s/api/20261202T061000Z.folded.gz", dir), full, (size_t) n - 5);
        put(path_of("%s/api/20261202T061100Z.folded.gz", dir), "app;main 1\n", 11);
        gzFile g = gzopen(path_of("%s/api/20261202T061200Z.folded.gz", dir), "wb");
        gzwrite(g, "app;main 1\n\0\0app;x 2\n", 21);
        gzclose(g);
        put(path_of("%s/api/20261202T061300Z.folded.gz", dir), full, (size_t) n);
        f = fopen(path_of("%s/api/20261202T061300Z.folded.gz", dir), "a");
        fputs("junk", f);
        fclose(f);
        g = gzopen(path_of("%s/api/20261202T061400Z.folded.gz", dir), "wb");
        gzwrite(g, "PERFILE2", 8);
        gzclose(g);
        put(path_of("%s/api/notes.folded.gz", dir), full, (size_t) n);
        put(path_of("%s/api/20261202T060000Z.folded", dir), "app;main 1\n", 11);
        put(path_of("%s/api/20261202T999999Z.folded.gz", dir), full, (size_t) n);

        /* one byte past the bound once gunzipped (newlines: folded text) */
        g = gzopen(path_of("%s/api/20261202T061600Z.folded.gz", dir), "wb1");
        static char lines[1 << 20];
        memset(lines, '\n', sizeof(lines));
        for (uint64_t left = STORE_MAX_FOLDED_BYTES + 1; left > 0;) {
                unsigned k = (unsigned) MIN(left, (uint64_t) sizeof(lines));
                gzwrite(g, lines, k);
                left -= k;
        }
        gzclose(g);

        /* the warnings, on stderr as the daemon logs them */
        char errpath[300];
        snprintf(errpath, sizeof(errpath), "%s/stderr", root);
        fflush(stderr);
        int saved = dup(2), errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(errfd, 2);
        close(errfd);
        log_set_max_level(LOG_LEVEL_WARNING);
        char *after = NULL;
        uint64_t start = now_ns();
        r = count_windows_read(dir, "api", t0 + 120 * NS, &after);
        uint64_t took = now_ns() - start;
        log_set_max_level(LOG_LEVEL_ERROR);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        CHECK(r == 2, "corrupt windows are skipped, not fatal (%d, %.2f s)", r, took / 1e9);
        CHECK(after && expect && strcmp(after, expect) == 0, "and add nothing, not even their first lines");
        free(after);
        FILE *ef = fopen(errpath, "r");
        char warnings[8192] = "";
        if (ef) {
                warnings[fread(warnings, 1, sizeof(warnings) - 1, ef)] = '\0';
                fclose(ef);
        }
        static const char *const expected_warnings[] = {
                "20261202T061000Z.folded.gz': not a whole gzip file, skipping\n",
                "20261202T061100Z.folded.gz': not a whole gzip file, skipping\n",
                "20261202T061200Z.folded.gz': a NUL byte: not folded stacks, skipping\n",
                "20261202T061300Z.folded.gz': not a whole gzip file, skipping\n",
                "20261202T061400Z.folded.gz': not folded stacks, skipping\n",
                "20261202T061600Z.folded.gz': larger than 256 MiB once gunzipped, skipping\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(expected_warnings); i++)
                CHECK(strstr(warnings, expected_warnings[i]), "warning: ...%.*s",
                      (int) strlen(expected_warnings[i]) - 1, expected_warnings[i]);
        CHECK(strncmp(warnings, "cprof: warning: cannot read window '", 36) == 0, "one line each: %.80s", warnings);
        remove(path_of("%s/api/20261202T061600Z.folded.gz", dir));
        /* the good window's copy in a new name is read */
        put(path_of("%s/api/20261202T061500Z.folded.gz", dir), full, (size_t) n);
        r = count_windows_read(dir, "api", t0 + 120 * NS, NULL);
        CHECK(r == 3, "a whole copy is read (%d)", r);

        for (int i = 0; i < 4; i++)
                profile_free(w[i]);
}

/* ---- retention ---- */

struct fake {
        const char *target;
        const char *name;
        size_t size;
};

static void test_retention(void) {
        char dir[256];
        snprintf(dir, sizeof(dir), "%s/ret", root);
        uint64_t t0 = utc(2026, 12, 1, 0, 0, 0);
        uint64_t now = t0 + 3600 * NS;
        struct store_usage u;
        int r;

        /* target a: 00:00 (folded 100 + svg 1000), 00:10 (100 + pb 50),
         * 00:20 (100), 00:20-1 (100 + svg 1000); target b: 00:05 (200),
         * 00:15 (200 + svg 500); sizes sum to 3350 */
        static const struct fake fakes[] = {
                { "a", "20261201T000000Z.folded.gz", 100 },   { "a", "20261201T000000Z.svg", 1000 },
                { "a", "20261201T001000Z.folded.gz", 100 },   { "a", "20261201T001000Z.pb.gz", 50 },
                { "a", "20261201T002000Z.folded.gz", 100 },   { "a", "20261201T002000Z-1.folded.gz", 100 },
                { "a", "20261201T002000Z-1.svg", 1000 },      { "b", "20261201T000500Z.folded.gz", 200 },
                { "b", "20261201T001500Z.folded.gz", 200 },   { "b", "20261201T001500Z.svg", 500 },
        };
        mkdir(dir, 0750);
        mkdir(path_of("%s/a", dir), 0750);
        mkdir(path_of("%s/b", dir), 0750);
        mkdir(path_of("%s/lost+found", dir), 0750);
        mkdir(path_of("%s/.hidden", dir), 0750);
        for (size_t i = 0; i < ELEMENTSOF(fakes); i++)
                put_size(path_of("%s/%s/%s", dir, fakes[i].target, fakes[i].name), fakes[i].size);
        /* files that are not windows: never deleted nor counted */
        static const char *const keep_names[] = {
                "a/notes.txt",
                "a/19991231T235959Z.folded.gz.bak",
                "a/20261301T000000Z.folded.gz", /* month 13 */
                "a/20261201T000000Z-0.folded.gz",
                "a/20261201T000000Z.folded",
                "a/20261201T000000Z.folded.gz~",
                "a/25550101T000000Z.folded.gz", /* past what ns in a uint64_t hold */
                ".hidden/20261201T000000Z.folded.gz",
                "20261201T000000Z.folded.gz",
        };
        char keep[ELEMENTSOF(keep_names)][300];
        for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
                snprintf(keep[i], sizeof(keep[i]), "%s/%s", dir, keep_names[i]);
                put_size(keep[i], 7);
        }
        /* a window of a target named lost+found: only hidden directories
         * and files directly in DIR are not targets */
        put_size(path_of("%s/lost+found/20261201T000000Z.folded.gz", dir), 7);
        if (symlink("a", path_of("%s/link", dir)) < 0)
                perror("symlink");

        /* temporaries: stale (2 min) and fresh, of window names and not */
        char stale[300], stale_svg[300], fresh[300], edge[300], foreign[300], foreign2[300];
        snprintf(stale, sizeof(stale), "%s/a/.20261201T003000Z.folded.gz.Ab3dE9", dir);
        snprintf(stale_svg, sizeof(stale_svg), "%s/b/.20261201T003000Z-1.svg.zzzzzz", dir);
        snprintf(fresh, sizeof(fresh), "%s/a/.20261201T003100Z.folded.gz.Qw12Er", dir);
        snprintf(edge, sizeof(edge), "%s/a/.20261201T003200Z.pb.gz.000000", dir);
        snprintf(foreign, sizeof(foreign), "%s/a/.notes.txt.Ab3dE9", dir);
        snprintf(foreign2, sizeof(foreign2), "%s/a/.20261201T003000Z.folded.gz.Ab3d", dir);
        put_size(stale, 3000);
        put_size(stale_svg, 30);
        put_size(fresh, 30);
        put_size(edge, 30);
        put_size(foreign, 30);
        put_size(foreign2, 30);
        set_mtime(stale, now - 120 * NS);
        set_mtime(stale_svg, now - 61 * NS);
        set_mtime(fresh, now - 5 * NS);
        set_mtime(edge, now - 60 * NS);
        set_mtime(foreign, now - 3600 * NS);
        set_mtime(foreign2, now - 3600 * NS);

        r = store_usage(dir, &u);
        /* 3350 + the lost+found window (7) */
        CHECK(r == 0 && u.bytes == 3357 && u.files == 11 && u.oldest_unix_ns == t0,
              "usage: %d, %llu bytes, %llu files, oldest %llu", r, (unsigned long long) u.bytes,
              (unsigned long long) u.files, (unsigned long long) u.oldest_unix_ns);
        r = store_apply_retention(dir, 0, 0, now, &u);
        CHECK(r == 0 && u.bytes == 3357 && u.files == 11, "no limits: nothing deleted");
        CHECK(!exists(stale) && !exists(stale_svg), "stale temporaries of window names are swept");
        CHECK(exists(fresh) && exists(edge), "temporaries a minute old or less stay");
        CHECK(exists(foreign) && exists(foreign2), "temporaries of other names stay");
        remove(path_of("%s/lost+found/20261201T000000Z.folded.gz", dir));

        /* age: at 00:26, 15 min keeps what started after 00:11 */
        r = store_apply_retention(dir, 15 * 60 * NS, 0, t0 + 26 * 60 * NS, &u);
        CHECK(r == 0, "retention by age: %s", r < 0 ? store_strerror(r) : "ok");
        CHECK_STREQ(listing(path_of("%s/a", dir)),
                    ".20261201T003000Z.folded.gz.Ab3d .20261201T003100Z.folded.gz.Qw12Er "
                    ".20261201T003200Z.pb.gz.000000 .notes.txt.Ab3dE9 "
                    "19991231T235959Z.folded.gz.bak 20261201T000000Z-0.folded.gz 20261201T000000Z.folded "
                    "20261201T000000Z.folded.gz~ "
                    "20261201T002000Z-1.folded.gz 20261201T002000Z-1.svg 20261201T002000Z.folded.gz "
                    "20261301T000000Z.folded.gz 25550101T000000Z.folded.gz notes.txt",
                    "by age: 00:00 and 00:10 of a go, with their .svg and .pb.gz");
        CHECK_STREQ(listing(path_of("%s/b", dir)), "20261201T001500Z.folded.gz 20261201T001500Z.svg",
                    "by age: 00:05 of b goes, 00:15 (11 min old) stays");
        CHECK(u.bytes == 1900 && u.files == 5 && u.oldest_unix_ns == t0 + 15 * 60 * NS,
              "usage after: %llu bytes, %llu files", (unsigned long long) u.bytes, (unsigned long long) u.files);

        /* size: 1900 bytes; at most 1150 deletes b's 00:15 set (700), then
         * 00:20 (100) is enough: 1100 */
        r = store_apply_retention(dir, 0, 1150, now, &u);
        CHECK(r == 0 && u.bytes == 1100 && u.files == 2, "retention by size: %llu bytes, %llu files",
              (unsigned long long) u.bytes, (unsigned long long) u.files);
        CHECK_STREQ(listing(path_of("%s/b", dir)), "", "by size: b's older set went first, whole");
        CHECK(!exists(path_of("%s/a/20261201T002000Z.folded.gz", dir)) &&
              exists(path_of("%s/a/20261201T002000Z-1.folded.gz", dir)) &&
              exists(path_of("%s/a/20261201T002000Z-1.svg", dir)),
              "then 00:20 before 00:20-1, which stays whole");
        CHECK(exists(path_of("%s/b", dir)), "an emptied target directory stays");
        r = store_apply_retention(dir, 0, 1100, now, &u);
        CHECK(r == 0 && u.bytes == 1100, "exactly at the limit: nothing more goes");
        r = store_apply_retention(dir, 0, 1, now, &u);
        CHECK(r == 0 && u.bytes == 0 && u.files == 0 && u.oldest_unix_ns == 0, "a tiny limit empties the store");
        for (size_t i = 0; i < ELEMENTSOF(keep); i++)
                CHECK(exists(keep[i]) && size_of(keep[i]) == 7, "left alone: %s", keep_names[i]);
        CHECK(exists(foreign) && exists(foreign2) && exists(fresh), "and the other temporaries");

        /* a file that cannot be deleted still counts and is reported */
        mkdir(path_of("%s/c", dir), 0750);
        put_size(path_of("%s/c/20261201T000000Z.folded.gz", dir), 10);
        put_size(path_of("%s/c/20261201T000100Z.folded.gz", dir), 10);
        /* nobody may list every directory, but not delete in c */
        chmod(dir, 0755);
        chmod(path_of("%s/a", dir), 0755);
        chmod(path_of("%s/b", dir), 0755);
        chmod(path_of("%s/lost+found", dir), 0755);
        chmod(path_of("%s/c", dir), 0555);
        pid_t pid = fork();
        if (pid == 0) {
                /* as nobody, so the directory's mode counts (root ignores it) */
                if (setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(3);
                struct store_usage cu;
                int cr = store_apply_retention(dir, 0, 5, now, &cu);
                _exit(cr == -EACCES && strstr(store_strerror(cr), "/c/20261201T000000Z.folded.gz") &&
                      cu.bytes == 20 && cu.files == 2 ? 0 : 1);
        }
        int status = -1;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "an undeletable window is an error naming it, and still counted (%d)", status);
        chmod(path_of("%s/c", dir), 0750);

        r = store_apply_retention(path_of("%s/none", root), 1, 1, now, &u);
        CHECK(r == 0 && u.bytes == 0 && u.files == 0, "a missing DIR is an empty store");
}

/* ---- SIGKILL in the middle of a write ---- */

static int no_tmpfile(void) {
        struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 3),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
                BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 020000000 /* __O_TMPFILE */, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EOPNOTSUPP),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(f), .filter = f };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 ? -errno : 0;
}

/* Whether pid holds a regular file of tdir open that already has data:
 * a write under way, whatever its name (an unnamed "tdir/#123 (deleted)",
 * a named temporary, or the final name of a writer that is not atomic). */
static bool writing_in(pid_t pid, const char *tdir) {
        char fddir[64], link[600], target[600];
        bool found = false;
        snprintf(fddir, sizeof(fddir), "/proc/%d/fd", (int) pid);
        DIR *d = opendir(fddir);
        if (!d)
                return false;
        for (struct dirent *e; !found && (e = readdir(d));) {
                snprintf(link, sizeof(link), "%s/%s", fddir, e->d_name);
                ssize_t n = readlink(link, target, sizeof(target) - 1);
                if (n <= 0)
                        continue;
                target[n] = '\0';
                size_t l = strlen(tdir);
                struct stat st;
                found = strncmp(target, tdir, l) == 0 && target[l] == '/' && stat(link, &st) == 0 &&
                        S_ISREG(st.st_mode) && st.st_size > 0;
        }
        closedir(d);
        return found;
}

static void test_kill_mid_write(bool named) {
        char dir[256], tdir[300];
        snprintf(dir, sizeof(dir), "%s/k%d", root, named);
        snprintf(tdir, sizeof(tdir), "%s/big", dir);
        uint64_t t0 = utc(2026, 12, 2, 7, 0, 0);
        /* 60000 stacks: about 2 MB of folded text, a write that takes a
         * while, so the kill lands inside one */
        struct profile *p = make_profile(300, 200, "k");
        _cleanup_free_ char *expect = folded_text(p);
        int kills_mid_write = 0, rounds = 3;

        for (int round = 0; round < rounds; round++) {
                pid_t pid = fork();
                if (pid == 0) {
                        if (named && no_tmpfile() < 0)
                                _exit(2);
                        for (uint64_t i = 0;; i++)
                                if (store_write_window(dir, "big", t0 + (round * 1000 + i) * 60 * NS, p, 0, NULL) < 0)
                                        _exit(1);
                }
                /* wait for the round's second window to be under way */
                char first[400];
                snprintf(first, sizeof(first), "%s/%s.folded.gz", tdir, stamp(t0 + round * 1000 * 60 * NS));
                uint64_t deadline = now_ns() + 20 * NS;
                bool mid = false;
                while (now_ns() < deadline) {
                        if (exists(first) && writing_in(pid, tdir)) {
                                mid = true;
                                break;
                        }
                        usleep(200);
                }
                kill(pid, SIGKILL);
                int status;
                waitpid(pid, &status, 0);
                kills_mid_write += mid && WIFSIGNALED(status);
        }
        CHECK(kills_mid_write == rounds, "%s: the child was killed while a window file was open (%d of %d)",
              named ? "named temporaries" : "O_TMPFILE", kills_mid_write, rounds);

        /* every visible window is whole and right */
        int whole = 0, windows = 0, hidden = 0;
        DIR *d = opendir(tdir);
        for (struct dirent *e; d && (e = readdir(d));) {
                if (e->d_name[0] == '.') {
                        hidden += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
                        continue;
                }
                windows++;
                _cleanup_free_ char *got = gunzip_file(path_of("%s/%s", tdir, e->d_name), NULL);
                whole += got && expect && strcmp(got, expect) == 0;
        }
        if (d)
                closedir(d);
        CHECK(windows >= rounds && whole == windows, "%d visible windows, %d whole", windows, whole);
        int n = count_windows_read(dir, "big", 0, NULL);
        CHECK(n == windows, "store_read_since reads them all (%d)", n);
        if (!named)
                CHECK(hidden == 0, "O_TMPFILE: no temporary is left (%d)", hidden);
        else {
                /* the kill leaves the named temporary; retention removes it
                 * once it is a minute old */
                CHECK(hidden == rounds, "named: each kill left its hidden temporary (%d)", hidden);
                struct store_usage u;
                int r = store_apply_retention(dir, 0, 0, wall_ns(), &u);
                CHECK(r == 0 && listing(tdir)[0] == '.', "not swept while fresh: %s", listing(tdir));
                r = store_apply_retention(dir, 0, 0, wall_ns() + 61 * NS, &u);
                CHECK(r == 0 && listing(tdir)[0] != '.' && (int) u.files == windows,
                      "swept once a minute old: %s", listing(tdir));
        }
        profile_free(p);
}

int main(void) {
        umask(022);
        /* forked children print too: nothing buffered may be copied into them */
        setvbuf(stdout, NULL, _IOLBF, 0);
        log_set_max_level(LOG_LEVEL_ERROR); /* the skipped windows' warnings are expected */
        if (!mkdtemp(root)) {
                perror("mkdtemp");
                return 1;
        }
        test_write_and_names();
        test_write_error();
        test_read_since();
        test_retention();
        test_kill_mid_write(false);
        test_kill_mid_write(true);
        clear(root);
        return tap_done();
}
