/* perf maps: the line format, order, overlaps (a later line replaces what
 * it overlaps, checked against a line-by-line model on random input),
 * partial last lines, a file that grows, shrinks or is replaced, files
 * that are not regular, and NSpid parsing on fixed text and on a real
 * process in a new PID namespace. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "symbolize/perf-map.h"
#include "tap.h"

static struct perf_map *parse_all(const char *text, size_t *ret_used) {
        struct perf_map *m;
        if (perf_map_new(&m) < 0)
                abort();
        size_t used = perf_map_parse(m, text, strlen(text));
        if (ret_used)
                *ret_used = used;
        return m;
}

static const char *at(struct perf_map *m, uint64_t addr) {
        return perf_map_lookup(m, addr, NULL);
}

static void test_format(void) {
        static const char text[] =
                "3000 10 LazyCompile:*hot /app/jit.js:3:14\n" /* out of order, spaces in name */
                "0x1000 0x20 Function:~main\n"
                "2000 8 py::f:/x.py\r\n"
                "0X4000\t0x4\tLFoo;bar()V  \n"
                "\n"
                "5000 0 empty_code\n"     /* size 0: names nothing, not malformed */
                "zz00 10 bad_start\n"
                "6000 10\n"               /* no name */
                "6000 10   \n"            /* blank name */
                "6000 q0 bad_size\n"
                "6000 10x bad_size2\n"
                "12345678901234567 1 too_long\n"
                "ffffffffffffff00 100 wraps\n"  /* end 2^64 is past every address */
                "0x 10 no_digits\n"
                "7000\n"
                "8000 10 last";                       /* partial: not taken */
        size_t used;
        struct perf_map *m = parse_all(text, &used);
        uint64_t start = 0;

        CHECK(used == strlen(text) - strlen("8000 10 last"), "partial last line left (%zu)", used);
        CHECK_STREQ(perf_map_lookup(m, 0x3005, &start), "LazyCompile:*hot /app/jit.js:3:14", "name with spaces");
        CHECK(start == 0x3000, "start returned");
        CHECK_STREQ(at(m, 0x1000), "Function:~main", "0x prefix, first byte");
        CHECK_STREQ(at(m, 0x101f), "Function:~main", "last byte");
        CHECK(at(m, 0x1020) == NULL, "end is exclusive");
        CHECK(at(m, 0xfff) == NULL, "before");
        CHECK_STREQ(at(m, 0x2007), "py::f:/x.py", "CRLF line end");
        CHECK_STREQ(at(m, 0x4003), "LFoo;bar()V", "tabs, 0X, trailing blanks");
        CHECK(at(m, 0x5000) == NULL, "size 0 names nothing");
        CHECK(at(m, 0x6005) == NULL && at(m, 0x7000) == NULL, "malformed lines add nothing");
        CHECK(at(m, UINT64_MAX) == NULL, "a symbol ending at 2^64 is malformed");
        CHECK(at(m, 0x8005) == NULL, "partial line not taken");
        CHECK(perf_map_malformed(m) == 9, "malformed counted (%zu)", perf_map_malformed(m));
        CHECK(perf_map_count(m) == 4, "count (%zu)", perf_map_count(m));

        /* the partial line, offered again once complete */
        static const char rest[] = "8000 10 last\n";
        CHECK(perf_map_parse(m, rest, strlen(rest)) == strlen(rest), "completed line consumed");
        CHECK_STREQ(at(m, 0x8005), "last", "completed line taken");

        static const char overflow[] = "ffffffffffffff01 100 wraps\n0 ffffffffffffffff all_but_last\n";
        struct perf_map *o = parse_all(overflow, NULL);
        CHECK(perf_map_malformed(o) == 1 && at(o, UINT64_MAX) == NULL, "start + size past 2^64 is malformed");
        CHECK_STREQ(at(o, UINT64_MAX - 1), "all_but_last", "largest size");
        perf_map_free(o);

        CHECK(perf_map_parse(m, NULL, 0) == 0 && perf_map_count(m) == 5, "nothing to parse");

        static const char nul[] = "1000 10 a\0b\n2000 10 ok\n";
        perf_map_new(&o);
        CHECK(perf_map_parse(o, nul, sizeof(nul) - 1) == sizeof(nul) - 1, "NUL line consumed");
        CHECK(perf_map_malformed(o) == 1 && at(o, 0x1000) == NULL, "NUL in a name is malformed");
        CHECK_STREQ(at(o, 0x2000), "ok", "line after it");
        perf_map_free(o);
        perf_map_free(m);
}

static void test_overlap(void) {
        struct perf_map *m = parse_all("1000 100 old\n"
                                       "1080 100 new\n"   /* overlaps old's tail: old goes entirely */
                                       "1180 10 next\n"   /* adjacent to new: both stay */
                                       "3000 10 a\n"
                                       "3008 10 b\n"      /* a goes */
                                       "3010 10 c\n"      /* b goes */
                                       "5000 1000 big\n"
                                       "5100 10 inner\n", /* inside big: big goes */
                                       NULL);
        CHECK(at(m, 0x1000) == NULL, "partly overlapped symbol is gone, where nothing replaced it");
        CHECK_STREQ(at(m, 0x1080), "new", "replacement");
        CHECK_STREQ(at(m, 0x117f), "new", "replacement end");
        CHECK_STREQ(at(m, 0x1180), "next", "adjacent symbols both stay");
        CHECK(at(m, 0x3000) == NULL && at(m, 0x3008) == NULL, "a chain: each replaced by the next");
        CHECK_STREQ(at(m, 0x3010), "c", "the chain's last stays");
        CHECK(at(m, 0x5000) == NULL && at(m, 0x5200) == NULL, "enclosing symbol replaced by an inner one");
        CHECK_STREQ(at(m, 0x5105), "inner", "inner one stays");
        CHECK(perf_map_count(m) == 4, "count (%zu)", perf_map_count(m));

        /* across calls: a later parse replaces what an earlier one kept,
         * and a re-used range gets its new name */
        perf_map_parse(m, "1100 10 reused\n", 15);
        CHECK(at(m, 0x1080) == NULL && at(m, 0x1170) == NULL, "older symbol replaced by a later batch");
        CHECK_STREQ(at(m, 0x1105), "reused", "later batch's symbol");
        CHECK_STREQ(at(m, 0x1180), "next", "untouched neighbour stays");
        perf_map_parse(m, "3010 10 c2\n", 11);
        CHECK_STREQ(at(m, 0x3010), "c2", "same range, new name");
        perf_map_free(m);

        /* one byte of overlap at either edge of a later batch is enough */
        m = parse_all("2000 10 low\n3000 10 high\n4000 10 far\n", NULL);
        perf_map_parse(m, "200f 10 edge1\n", 14);
        CHECK(at(m, 0x2000) == NULL, "kept symbol sharing its last byte with a new one: replaced");
        perf_map_parse(m, "2ff1 10 edge2\n", 14);
        CHECK(at(m, 0x3008) == NULL, "kept symbol sharing its first byte with a new one: replaced");
        CHECK_STREQ(at(m, 0x3000), "edge2", "the new one there");
        CHECK_STREQ(at(m, 0x4000), "far", "beyond both: untouched");
        CHECK(perf_map_count(m) == 3, "count (%zu)", perf_map_count(m));
        perf_map_free(m);

        /* the same range rewritten many times keeps memory to what lives
         * (the pool is compacted) and names right */
        perf_map_new(&m);
        char line[128];
        for (int i = 0; i < 20000; i++) {
                int n = snprintf(line, sizeof(line), "%x 40 gen%d_with_a_long_enough_name_to_fill_the_pool\n",
                                 0x10000 + (i % 7) * 0x40, i);
                perf_map_parse(m, line, (size_t) n);
        }
        CHECK(perf_map_count(m) == 7, "rewritten ranges (%zu)", perf_map_count(m));
        CHECK_STREQ(at(m, 0x10000 + 6 * 0x40), "gen19998_with_a_long_enough_name_to_fill_the_pool",
                    "newest name after compactions");
        CHECK_STREQ(at(m, 0x10000 + 5 * 0x40 + 0x3f), "gen19997_with_a_long_enough_name_to_fill_the_pool",
                    "newest name, other range");
        perf_map_free(m);
}

/* Random lines, parsed in random batches, against the definition applied
 * one line at a time: add the line, drop every kept symbol it overlaps. */
struct model_sym {
        uint64_t start, end;
        int id;
};

static uint64_t rng_state = 12345;
static uint32_t rnd(void) {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        return (uint32_t) (rng_state >> 33);
}

static void test_model(void) {
        enum { LINES = 3000, SPACE = 0x4000 };
        static struct model_sym model[LINES];
        static char text[LINES * 40];
        size_t nm = 0, len = 0;
        bool ok = true;

        for (int i = 0; i < LINES; i++) {
                uint64_t start = rnd() % SPACE, size = 1 + rnd() % (rnd() % 4 == 0 ? 0x400 : 0x20);
                len += (size_t) sprintf(text + len, "%llx %llx s%d\n", (unsigned long long) start,
                                        (unsigned long long) size, i);
                size_t k = 0;
                for (size_t j = 0; j < nm; j++)
                        if (!(model[j].start < start + size && model[j].end > start))
                                model[k++] = model[j];
                nm = k;
                model[nm++] = (struct model_sym) { start, start + size, i };
        }

        struct perf_map *m;
        perf_map_new(&m);
        size_t off = 0;
        while (off < len) {
                size_t chunk = 1 + rnd() % 4000;
                if (chunk > len - off)
                        chunk = len - off;
                off += perf_map_parse(m, text + off, chunk);
        }
        CHECK(off == len, "all consumed in random chunks");
        CHECK(perf_map_count(m) == nm, "count matches the model (%zu, %zu)", perf_map_count(m), nm);
        for (uint64_t a = 0; a < SPACE + 0x400 && ok; a++) {
                const char *want = NULL;
                char buf[16];
                for (size_t j = 0; j < nm; j++)
                        if (model[j].start <= a && a < model[j].end) {
                                snprintf(buf, sizeof(buf), "s%d", model[j].id);
                                want = buf;
                        }
                const char *got = at(m, a);
                if (!!got != !!want || (got && strcmp(got, want) != 0)) {
                        printf("# at %llx: got %s, want %s\n", (unsigned long long) a, got ? got : "-",
                               want ? want : "-");
                        ok = false;
                }
        }
        CHECK(ok, "every address named as the line-by-line model names it");
        perf_map_free(m);
}

static void write_str(int fd, const char *s) {
        if (write(fd, s, strlen(s)) != (ssize_t) strlen(s))
                abort();
}

static void test_file(void) {
        char dir[] = "/tmp/test-perf-map.XXXXXX";
        char path[64], other[64];
        struct perf_map *m;

        CHECK(mkdtemp(dir) != NULL, "scratch dir");
        snprintf(path, sizeof(path), "%s/perf-1.map", dir);
        snprintf(other, sizeof(other), "%s/perf-2.map", dir);
        perf_map_new(&m);

        CHECK(perf_map_update(m, path) == -ENOENT, "missing file");
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        write_str(fd, "1000 10 one\n2000 10 tw");
        CHECK(perf_map_update(m, path) == 1, "first read");
        CHECK_STREQ(at(m, 0x1000), "one", "first line");
        CHECK(at(m, 0x2000) == NULL, "partial line not yet");
        CHECK(perf_map_update(m, path) == 0, "nothing new: not read again");

        write_str(fd, "o\n3000 10 three\n");
        CHECK(perf_map_update(m, path) == 1, "grown");
        CHECK_STREQ(at(m, 0x2000), "two", "partial line completed");
        CHECK_STREQ(at(m, 0x3000), "three", "appended line");
        CHECK(perf_map_count(m) == 3 && perf_map_malformed(m) == 0, "only the new part was read (%zu)",
              perf_map_count(m));

        write_str(fd, "1000 10 one_again\n");
        CHECK(perf_map_update(m, path) == 1 && perf_map_count(m) == 3, "appended replacement");
        CHECK_STREQ(at(m, 0x1000), "one_again", "replacement read");

        /* shrunk: read whole again (what was there before is forgotten) */
        CHECK(ftruncate(fd, 0) == 0, "truncate");
        close(fd);
        fd = open(path, O_WRONLY | O_APPEND);
        write_str(fd, "4000 10 four\n");
        CHECK(perf_map_update(m, path) == 1, "shrunk file read");
        CHECK(at(m, 0x1000) == NULL && at(m, 0x3000) == NULL, "old symbols forgotten");
        CHECK_STREQ(at(m, 0x4000), "four", "new content");
        CHECK(perf_map_count(m) == 1, "count after shrink (%zu)", perf_map_count(m));
        close(fd);

        /* replaced by another file, larger than what was seen: identity */
        fd = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        write_str(fd, "5000 10 five\n6000 10 six\n7000 10 seven\n");
        close(fd);
        CHECK(rename(other, path) == 0, "replace");
        CHECK(perf_map_update(m, path) == 1, "replaced file read");
        CHECK(at(m, 0x4000) == NULL, "replaced file's symbols forgotten");
        CHECK_STREQ(at(m, 0x5000), "five", "whole new file read from its start");
        CHECK(perf_map_count(m) == 3, "count after replace (%zu)", perf_map_count(m));

        /* not regular files: refused without blocking */
        CHECK(mkfifo(other, 0600) == 0, "fifo");
        CHECK(perf_map_update(m, other) == -EINVAL, "FIFO refused, not waited on");
        CHECK(perf_map_update(m, "/dev/zero") == -EINVAL, "device refused");
        CHECK(perf_map_update(m, dir) == -EINVAL, "directory refused");
        CHECK(perf_map_count(m) == 3, "refusals keep what was known");
        unlink(other);

        /* owners: root or the process's user only, once asked */
        CHECK(perf_map_update(m, path) == 0, "any owner before perf_map_set_owner()");
        perf_map_set_owner(m, 4242);
        CHECK(perf_map_update(m, path) == 0, "root's file accepted");
        CHECK(chown(path, 4242, 4242) == 0, "chown to the process's user (root)");
        fd = open(path, O_WRONLY | O_APPEND);
        write_str(fd, "8000 10 eight\n");
        close(fd);
        CHECK(perf_map_update(m, path) == 1, "the process's user's file accepted");
        CHECK(chown(path, 4343, 4343) == 0, "chown to another user");
        fd = open(path, O_WRONLY | O_APPEND);
        write_str(fd, "9000 10 nine\n");
        close(fd);
        CHECK(perf_map_update(m, path) == -EPERM, "another user's file refused");
        CHECK(at(m, 0x9000) == NULL && perf_map_count(m) == 4, "and not read");
        unlink(path);
        rmdir(dir);
        perf_map_free(m);
}

static void test_nspid(void) {
        /* as in /proc/PID/status (trimmed): a process two namespaces deep */
        static const char nested[] = "Name:\tnode\nTgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t4200\n"
                                     "NStgid:\t4242\t17\t1\nNSpid:\t4242\t17\t1\nNSpgid:\t4242\t17\t1\n";
        static const char host[] = "Name:\tbash\nPid:\t77\nNSpid:\t77\nNSpgid:\t77\n";
        static const char old[] = "Name:\tbash\nPid:\t77\nPPid:\t1\n";
        static const char bad[] = "NSpid:\t77\tx\n";
        static const char empty[] = "NSpid:\n";
        static const char huge[] = "NSpid:\t77 99999999999\n";
        static const char last_line[] = "Pid:\t77\nNSpid:\t77 5"; /* no final newline */
        pid_t p = 0;

        CHECK(perf_map_parse_nspid(nested, strlen(nested), 4242, &p) == 0 && p == 1, "innermost pid (%d)", p);
        CHECK(perf_map_parse_nspid(host, strlen(host), 77, &p) == 0 && p == 77, "one namespace");
        p = 0;
        CHECK(perf_map_parse_nspid(old, strlen(old), 77, &p) == 0 && p == 77, "no NSpid line: the pid");
        CHECK(perf_map_parse_nspid(bad, strlen(bad), 77, &p) == -EINVAL, "not a number");
        CHECK(perf_map_parse_nspid(empty, strlen(empty), 77, &p) == -EINVAL, "empty list");
        CHECK(perf_map_parse_nspid(huge, strlen(huge), 77, &p) == -EINVAL, "out of range");
        CHECK(perf_map_parse_nspid(last_line, strlen(last_line), 77, &p) == 0 && p == 5, "last line");

        char buf[128], want[128];
        CHECK(perf_map_path(getpid(), buf, sizeof(buf)) == 0, "path of self");
        snprintf(want, sizeof(want), "/proc/%d/root/tmp/perf-%d.map", (int) getpid(), (int) getpid());
        CHECK_STREQ(buf, want, "self: same pid inside");
        CHECK(perf_map_path(getpid(), buf, 10) == -ENOBUFS, "small buffer");
        CHECK(perf_map_path(0, buf, sizeof(buf)) == -EINVAL, "pid 0");

        /* a real process that is PID 1 of its own namespace. The namespace
         * is made in a helper process: after unshare(CLONE_NEWPID) the
         * caller's next child is that PID 1, and LeakSanitizer's exit-time
         * thread would be it, which it cannot survive */
        int res[2];
        CHECK(pipe(res) == 0, "pipe");
        pid_t helper = fork();
        if (helper == 0) {
                struct { int unshared, pid, r, was_one; char path[128]; } out = { 0 };
                int go[2];
                close(res[0]);
                if (pipe(go) < 0)
                        _exit(1);
                out.unshared = unshare(CLONE_NEWPID) == 0;
                pid_t child = out.unshared ? fork() : -1;
                if (child == 0) {
                        char c;
                        close(go[1]);
                        _exit(read(go[0], &c, 1) == 0 && getpid() == 1 ? 0 : 1);
                }
                close(go[0]);
                out.pid = child;
                if (child > 0) {
                        out.r = perf_map_path(child, out.path, sizeof(out.path));
                        close(go[1]);
                        int st;
                        out.was_one = waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0;
                }
                _exit(write(res[1], &out, sizeof(out)) == sizeof(out) ? 0 : 1);
        }
        close(res[1]);
        struct { int unshared, pid, r, was_one; char path[128]; } got = { 0 };
        CHECK(helper > 0 && read(res[0], &got, sizeof(got)) == sizeof(got), "helper's answer");
        close(res[0]);
        waitpid(helper, NULL, 0);
        CHECK(got.unshared, "new pid namespace (needs root)");
        CHECK(got.pid > 1 && got.r == 0, "path of the child (%d, %d)", got.pid, got.r);
        snprintf(want, sizeof(want), "/proc/%d/root/tmp/perf-1.map", got.pid);
        CHECK_STREQ(got.path, want, "child's own pid in the map name");
        CHECK(got.was_one, "child was pid 1 inside");
}

/* tests/data/perf-map: what Node and Python really write */
static void test_fixtures(void) {
        struct perf_map *m;
        uint64_t start = 0;

        perf_map_new(&m);
        CHECK(perf_map_update(m, TEST_DATA_DIR "/perf-map/node-basic-prof.map") == 1, "node map read");
        CHECK(perf_map_malformed(m) == 0, "node: no malformed line (%zu)", perf_map_malformed(m));
        CHECK(perf_map_count(m) == 316, "node: every line a symbol (%zu)", perf_map_count(m));
        CHECK_STREQ(perf_map_lookup(m, 0x7f8de8006f00 + 0x100, &start),
                    "JS:*hotAdd /app/tests/integration/workloads/jit.js:14:16", "node: optimized hotAdd");
        CHECK(start == 0x7f8de8006f00, "node: its start");
        CHECK_STREQ(perf_map_lookup(m, 0x18c4000 + 0x2ff, NULL), "Builtin:DeoptimizationEntry_Eager",
                    "node: a builtin");
        perf_map_free(m);

        perf_map_new(&m);
        CHECK(perf_map_update(m, TEST_DATA_DIR "/perf-map/python312-x-perf.map") == 1, "python map read");
        CHECK(perf_map_malformed(m) == 0, "python: no malformed line (%zu)", perf_map_malformed(m));
        CHECK(perf_map_count(m) == 183, "python: every line a symbol (%zu)", perf_map_count(m));
        CHECK_STREQ(perf_map_lookup(m, 0x7fcc61ec47bc + 0xa, NULL), "py::hot:/app/pyhot.py",
                    "python: a trampoline's last byte");
        perf_map_free(m);
}

int main(void) {
        test_fixtures();
        test_format();
        test_overlap();
        test_model();
        test_file();
        test_nspid();
        return tap_done();
}
