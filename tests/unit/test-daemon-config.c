/* daemon/config: cprofd.conf as Debian's libinih reads it, and every
 * check cprofd adds, each error with its line number. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/config.h"
#include "util/cleanup.h"
#include "tap.h"

#define NS 1000000000ull

static char err[512];

/* Parses from an exact-size copy, so that a read past the end (the text
 * need not be NUL-terminated) is an ASan error. */
static int parse_len(const char *text, size_t len, struct cprofd_config **ret) {
        char *copy = malloc(len ? len : 1);
        memcpy(copy, text, len);
        int r = cprofd_config_parse("t.conf", copy, len, ret, err, sizeof(err));
        free(copy);
        return r;
}

static struct cprofd_config *parse_ok(const char *text, const char *what) {
        struct cprofd_config *c = NULL;
        int r = parse_len(text, strlen(text), &c);
        CHECK(r == 0 && c, "%s parses", what);
        if (r < 0)
                printf("# %s\n", err);
        return c;
}

static void expect_error(const char *text, const char *message, const char *what) {
        struct cprofd_config *c = NULL;
        int r = parse_len(text, strlen(text), &c);
        CHECK(r == -EINVAL && !c, "%s is refused", what);
        CHECK_STREQ(err, message, "%s: the message", what);
        cprofd_config_free(c);
}

static bool is_defaults(const struct cprofd_config *c) {
        return c && c->frequency_hz == 19 && c->window_ns == 60 * NS && strcmp(c->output_dir, "/var/lib/cprof") == 0 &&
               strcmp(c->socket_path, "/run/cprof/cprofd.sock") == 0 && c->max_age_ns == 7 * 86400 * NS &&
               c->max_size == 2ull << 30 && c->outputs == CPROFD_OUTPUT_SVG && !c->pyroscope_url && !c->pyroscope_app &&
               c->pyroscope_format == CPROFD_PUSH_FOLDED && c->pyroscope_queue == 64 && strcmp(c->group, "cprof") == 0 &&
               c->max_ondemand == 2 && c->ondemand_max_duration_s == 300 && strcmp(c->unwind, "auto") == 0 &&
               c->kernel_stacks && c->n_debug_dirs == 0 && c->n_targets == 0;
}

/* "[cprofd]\n" + key = value: the one value as parsed */
static struct cprofd_config *one(const char *line) {
        char text[512];
        snprintf(text, sizeof(text), "[cprofd]\n%s\n", line);
        struct cprofd_config *c = NULL;
        if (parse_len(text, strlen(text), &c) < 0)
                printf("# %s: %s\n", line, err);
        return c;
}

static void test_defaults(void) {
        struct cprofd_config *c = NULL;
        CHECK(cprofd_config_defaults(&c) == 0 && is_defaults(c), "the built-in defaults");
        cprofd_config_free(c);

        c = parse_ok("", "an empty file");
        CHECK(is_defaults(c), "an empty file gives the defaults");
        cprofd_config_free(c);

        c = parse_ok("; nothing\n\n# at all\n[cprofd]\n", "comments and an empty section");
        CHECK(is_defaults(c), "comments and an empty [cprofd] give the defaults");
        cprofd_config_free(c);

        c = NULL;
        int r = cprofd_config_load(TEST_DATA_DIR "/../../packaging/cprofd.conf", &c, err, sizeof(err));
        CHECK(r == 0, "packaging/cprofd.conf parses");
        if (r < 0)
                printf("# %s\n", err);
        CHECK(is_defaults(c), "packaging/cprofd.conf is exactly the defaults");
        cprofd_config_free(c);
}

static void test_every_key(void) {
        struct cprofd_config *c = parse_ok("[cprofd]\n"
                                           "frequency = 99\n"
                                           "window = 2m\n"
                                           "output-dir = /srv/prof\n"
                                           "socket = /run/x.sock\n"
                                           "max-age = 12h\n"
                                           "max-size = 500M\n"
                                           "outputs = svg, pprof\n"
                                           "mode = cpu\n"
                                           "pyroscope-url = http://127.0.0.1:4040\n"
                                           "pyroscope-app = shop.api\n"
                                           "pyroscope-format = pprof\n"
                                           "pyroscope-queue = 5\n"
                                           "group = wheel\n"
                                           "ondemand-max = 0\n"
                                           "ondemand-max-duration = 5m\n"
                                           "unwind = fp\n"
                                           "kernel-stacks = no\n"
                                           "debug-dir = /usr/lib/debug\n"
                                           "debug-dir = /opt/debug\n",
                                           "every [cprofd] key");
        if (!c)
                return;
        CHECK(c->frequency_hz == 99, "frequency");
        CHECK(c->window_ns == 120 * NS, "window 2m");
        CHECK_STREQ(c->output_dir, "/srv/prof", "output-dir");
        CHECK_STREQ(c->socket_path, "/run/x.sock", "socket");
        CHECK(c->max_age_ns == 12 * 3600 * NS, "max-age 12h");
        CHECK(c->max_size == 500ull << 20, "max-size 500M");
        CHECK(c->outputs == (CPROFD_OUTPUT_SVG | CPROFD_OUTPUT_PPROF), "outputs svg, pprof");
        CHECK_STREQ(c->pyroscope_url, "http://127.0.0.1:4040", "pyroscope-url");
        CHECK_STREQ(c->pyroscope_app, "shop.api", "pyroscope-app");
        CHECK(c->pyroscope_format == CPROFD_PUSH_PPROF, "pyroscope-format");
        CHECK(c->pyroscope_queue == 5, "pyroscope-queue");
        CHECK_STREQ(c->group, "wheel", "group");
        CHECK(c->max_ondemand == 0, "ondemand-max 0");
        CHECK(c->ondemand_max_duration_s == 300, "ondemand-max-duration 5m");
        CHECK_STREQ(c->unwind, "fp", "unwind");
        CHECK(!c->kernel_stacks, "kernel-stacks no");
        CHECK(c->n_debug_dirs == 2 && strcmp(c->debug_dirs[0], "/usr/lib/debug") == 0 &&
              strcmp(c->debug_dirs[1], "/opt/debug") == 0, "debug-dir twice: two directories in order");
        cprofd_config_free(c);
}

static void test_values(void) {
        static const struct { const char *line; uint64_t window_ns; } windows[] = {
                { "window = 1", NS }, { "window = 90s", 90 * NS }, { "window = 1h", 3600 * NS },
                { "window = 1d", 86400 * NS }, { "window = 86400", 86400 * NS },
        };
        for (size_t i = 0; i < ELEMENTSOF(windows); i++) {
                struct cprofd_config *c = one(windows[i].line);
                CHECK(c && c->window_ns == windows[i].window_ns, "%s", windows[i].line);
                cprofd_config_free(c);
        }
        static const char *const no_limit[] = { "0", "none", "off" };
        for (size_t i = 0; i < ELEMENTSOF(no_limit); i++) {
                char line[64];
                snprintf(line, sizeof(line), "max-age = %s", no_limit[i]);
                struct cprofd_config *c = one(line);
                CHECK(c && c->max_age_ns == 0, "%s: no age limit", line);
                cprofd_config_free(c);
                snprintf(line, sizeof(line), "max-size = %s", no_limit[i]);
                c = one(line);
                CHECK(c && c->max_size == 0, "%s: no size limit", line);
                cprofd_config_free(c);
        }
        struct cprofd_config *c = one("max-size = 2T");
        CHECK(c && c->max_size == 2ull << 40, "max-size 2T");
        cprofd_config_free(c);
        c = one("max-size = 123456");
        CHECK(c && c->max_size == 123456, "max-size in bytes");
        cprofd_config_free(c);
        c = one("max-age = 30");
        CHECK(c && c->max_age_ns == 30 * NS, "max-age without a unit is seconds");
        cprofd_config_free(c);
        c = one("frequency = 100000");
        CHECK(c && c->frequency_hz == 100000, "frequency 100000");
        cprofd_config_free(c);
        c = one("frequency = 1");
        CHECK(c && c->frequency_hz == 1, "frequency 1");
        cprofd_config_free(c);

        static const struct { const char *line; unsigned outputs; } outputs[] = {
                { "outputs = pprof", CPROFD_OUTPUT_PPROF },
                { "outputs = none", 0 },
                { "outputs = pprof svg", CPROFD_OUTPUT_SVG | CPROFD_OUTPUT_PPROF },
                { "outputs = svg,pprof,", CPROFD_OUTPUT_SVG | CPROFD_OUTPUT_PPROF },
        };
        for (size_t i = 0; i < ELEMENTSOF(outputs); i++) {
                c = one(outputs[i].line);
                CHECK(c && c->outputs == outputs[i].outputs, "%s", outputs[i].line);
                cprofd_config_free(c);
        }

        static const struct { const char *word; bool value; } bools[] = {
                { "yes", true }, { "no", false }, { "true", true }, { "false", false }, { "on", true },
                { "off", false }, { "1", true }, { "0", false }, { "YES", true }, { "Off", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(bools); i++) {
                char line[64];
                snprintf(line, sizeof(line), "kernel-stacks = %s", bools[i].word);
                c = one(line);
                CHECK(c && c->kernel_stacks == bools[i].value, "%s", line);
                cprofd_config_free(c);
        }

        c = one("pyroscope-url = https://pyroscope.example.com/");
        CHECK(c && c->pyroscope_url && strcmp(c->pyroscope_url, "https://pyroscope.example.com/") == 0, "https url");
        cprofd_config_free(c);
        c = one("pyroscope-url =");
        CHECK(c && !c->pyroscope_url, "an empty pyroscope-url is no push");
        cprofd_config_free(c);
        c = one("unwind = dwarf");
        CHECK(c && strcmp(c->unwind, "dwarf") == 0, "unwind dwarf");
        cprofd_config_free(c);
        c = one("ondemand-max-duration = 1d");
        CHECK(c && c->ondemand_max_duration_s == 86400, "ondemand-max-duration 1d");
        cprofd_config_free(c);
}

/* A match that exists for every index, so that a missing one fails the
 * check instead of crashing the test. */
static const struct target_match *match(const struct cprofd_target_config *t, size_t i) {
        static const struct target_match none = { .kind = (enum target_match_kind) -1 };
        return i < t->n_matches ? &t->matches[i] : &none;
}

static void test_targets(void) {
        struct cprofd_config *c = parse_ok("[cprofd]\n"
                                           "[target api]\n"
                                           "comm = uvicorn\n"
                                           "comm = gunicorn\n"
                                           "pid = 1234\n"
                                           "pidfile = /run/api.pid\n"
                                           "exe = /usr/bin/python3.11\n"
                                           "cgroup = /system.slice//api.service/\n"
                                           "systemd-unit = api@1.service\n"
                                           "[target everything]\n"
                                           "all = yes\n"
                                           "[target web.front-1_x]\n"
                                           "cgroup = /\n"
                                           "cgroup = ///\n"
                                           "systemd-unit = user.slice\n",
                                           "three targets");
        if (!c)
                return;
        CHECK(c->n_targets == 3, "three targets");
        const struct cprofd_target_config *t = &c->targets[0];
        CHECK_STREQ(t->name, "api", "first target's name");
        CHECK(t->n_matches == 7, "every match line kept, repeats too");
        CHECK(match(t, 0)->kind == TARGET_MATCH_COMM && strcmp(match(t, 0)->value, "uvicorn") == 0, "comm");
        CHECK(match(t, 1)->kind == TARGET_MATCH_COMM && strcmp(match(t, 1)->value, "gunicorn") == 0, "comm again");
        CHECK(match(t, 2)->kind == TARGET_MATCH_PID && match(t, 2)->pid == 1234 && !match(t, 2)->value, "pid");
        CHECK(match(t, 3)->kind == TARGET_MATCH_PIDFILE && strcmp(match(t, 3)->value, "/run/api.pid") == 0, "pidfile");
        CHECK(match(t, 4)->kind == TARGET_MATCH_EXE && strcmp(match(t, 4)->value, "/usr/bin/python3.11") == 0, "exe");
        CHECK(match(t, 5)->kind == TARGET_MATCH_CGROUP, "cgroup");
        CHECK_STREQ(match(t, 5)->value, "/system.slice/api.service", "cgroup normalised: no '//', no trailing '/'");
        CHECK(match(t, 6)->kind == TARGET_MATCH_SYSTEMD_UNIT && strcmp(match(t, 6)->value, "api@1.service") == 0,
              "systemd-unit");
        t = &c->targets[1];
        CHECK(strcmp(t->name, "everything") == 0 && t->n_matches == 1 && match(t, 0)->kind == TARGET_MATCH_ALL &&
              !match(t, 0)->value, "all = yes");
        t = &c->targets[2];
        CHECK_STREQ(t->name, "web.front-1_x", "a name with . _ -");
        CHECK(t->n_matches == 3, "third target's matches");
        CHECK_STREQ(match(t, 0)->value, "/", "the root cgroup");
        CHECK_STREQ(match(t, 1)->value, "/", "'///' is the root cgroup");
        CHECK_STREQ(match(t, 2)->value, "user.slice", "a slice");
        cprofd_config_free(c);

        char name64[65];
        memset(name64, 'n', 64);
        name64[64] = '\0';
        char text[256];
        snprintf(text, sizeof(text), "[target %s]\ncomm = x\n", name64);
        c = parse_ok(text, "a 64-byte target name (libinih itself cuts section names at 49)");
        CHECK(c && c->n_targets == 1 && strcmp(c->targets[0].name, name64) == 0, "the 64-byte name is kept whole");
        cprofd_config_free(c);
        snprintf(text, sizeof(text), "[target %sn]\ncomm = x\n", name64);
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "t.conf:1: invalid target name '%sn': expected 1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.'",
                 name64);
        expect_error(text, msg, "a 65-byte target name");

        c = parse_ok("[target a]\ncomm = 123456789012345\n", "a 15-byte comm");
        CHECK(c && strcmp(c->targets[0].matches[0].value, "123456789012345") == 0, "the 15-byte comm");
        cprofd_config_free(c);
}

static void test_syntax(void) {
        /* inline comments: after a blank only; '#' only at the start */
        struct cprofd_config *c = parse_ok("# hash comment\n"
                                           "; semicolon comment\n"
                                           "   # indented comment\n"
                                           "[cprofd] ; the daemon\n"
                                           "frequency = 99 ; Hz\n"
                                           "window = 90s\t; tab before\n"
                                           "[target a]\n"
                                           "comm = a;b\n",
                                           "comments");
        CHECK(c && c->frequency_hz == 99 && c->window_ns == 90 * NS, "'; comment' after a value is dropped");
        CHECK(c && c->n_targets == 1 && strcmp(c->targets[0].matches[0].value, "a;b") == 0,
              "';' without a blank before it is part of the value");
        cprofd_config_free(c);
        expect_error("[cprofd]\nfrequency = 99 # Hz\n",
                     "t.conf:2: invalid frequency '99 # Hz': expected 1 to 100000 (Hz) "
                     "('#' starts a comment only at the start of a line)",
                     "a '#' comment after a value");

        /* CRLF, and the Python configparser 'key: value' form */
        c = parse_ok("[cprofd]\r\nfrequency: 7\r\nsocket = /run/a.sock ; c\r\n\r\n[target x]\r\npid = 9\r\n",
                     "CRLF line ends and 'key: value'");
        CHECK(c && c->frequency_hz == 7 && strcmp(c->socket_path, "/run/a.sock") == 0 && c->n_targets == 1 &&
              c->targets[0].matches[0].pid == 9, "CRLF: values without '\\r'");
        cprofd_config_free(c);

        /* a byte-order mark at the start */
        c = parse_ok("\xef\xbb\xbf[cprofd]\nfrequency = 3\n", "a UTF-8 BOM");
        CHECK(c && c->frequency_hz == 3, "BOM skipped");
        cprofd_config_free(c);

        /* indented lines: libinih alone would make the second one a
         * continuation of comm, i.e. a comm "pid = 5" */
        c = parse_ok("[target a]\n    comm = x\n    pid = 5\n\tcgroup = /a\n", "indented keys");
        CHECK(c && c->targets[0].n_matches == 3 && c->targets[0].matches[1].kind == TARGET_MATCH_PID &&
              c->targets[0].matches[1].pid == 5, "an indented line is a line of its own, not a continuation");
        cprofd_config_free(c);
        expect_error("[cprofd]\noutputs = svg,\n    pprof\n", "t.conf:3: expected 'key = value'",
                     "an indented continuation line");

        /* blanks inside the brackets, several [cprofd] sections */
        c = parse_ok("[ cprofd ]\nfrequency = 5\n[  target   b  ]\nall = on\n[cprofd]\nwindow = 5\n",
                     "blanks in headers, [cprofd] twice");
        CHECK(c && c->frequency_hz == 5 && c->window_ns == 5 * NS && c->n_targets == 1 &&
              strcmp(c->targets[0].name, "b") == 0, "both [cprofd] sections count");
        cprofd_config_free(c);
}

static void test_line_limit(void) {
        char text[512];
        struct cprofd_config *c;

        /* "exe = /xxx...": a value that would be cut, not only a comment */
        for (size_t len = 197; len <= 201; len++)
                for (int crlf = 0; crlf <= 2; crlf++) { /* 0: "\n", 1: "\r\n", 2: no line break, at the end */
                        strcpy(text, "[target a]\n");
                        size_t at = strlen(text);
                        memcpy(text + at, "exe = /", 7);
                        memset(text + at + 7, 'x', len - 7);
                        strcpy(text + at + len, crlf == 0 ? "\n" : crlf == 1 ? "\r\n" : "");
                        size_t with_break = len + (crlf == 1 ? 2 : 1);
                        c = NULL;
                        int r = parse_len(text, strlen(text), &c);
                        const char *how = crlf == 0 ? "\\n" : crlf == 1 ? "\\r\\n" : "no line break";
                        if (with_break <= 200) {
                                CHECK(r == 0 && c && strlen(c->targets[0].matches[0].value) == len - 6,
                                      "%zu bytes + %s: accepted, value whole", len, how);
                        } else {
                                CHECK(r == -EINVAL, "%zu bytes + %s: refused", len, how);
                                CHECK_STREQ(err, "t.conf:2: line longer than 200 bytes", "%zu bytes + %s: message",
                                            len, how);
                        }
                        cprofd_config_free(c);
                }

        /* a long comment whose tail has '=': libinih would read the tail as a key */
        memset(text, 0, sizeof(text));
        strcpy(text, "[cprofd]\n; ");
        memset(text + strlen(text), 'c', 200);
        strcat(text, " frequency = 5\n");
        expect_error(text, "t.conf:2: line longer than 200 bytes", "a long comment line");
}

static void test_bad_bytes(void) {
        struct cprofd_config *c = NULL;
        static const char nul[] = "[cprofd]\nfrequency = 1\0 9\n";
        CHECK(parse_len(nul, sizeof(nul) - 1, &c) == -EINVAL && !c, "a NUL byte is refused");
        CHECK_STREQ(err, "t.conf:2: NUL byte in the text", "NUL: file and line");
        static const char nul_comment[] = "[cprofd]\n\n# a\0b\n";
        CHECK(parse_len(nul_comment, sizeof(nul_comment) - 1, &c) == -EINVAL, "a NUL byte in a comment too");
        CHECK_STREQ(err, "t.conf:3: NUL byte in the text", "NUL in a comment: file and line");
        expect_error("[cprofd]\nfrequency = 1\x1b[0m\n", "t.conf:2: control character 0x1b in the text",
                     "a control character");
        expect_error("[cprofd]\nfrequency = 1\rwindow = 5\n", "t.conf:2: control character 0x0d in the text",
                     "a lone carriage return");
        /* not NUL-terminated: parse_len copies to an exact-size buffer */
        static const char unterminated[] = "[cprofd]\nfrequency = 42";
        CHECK(parse_len(unterminated, sizeof(unterminated) - 1, &c) == 0 && c && c->frequency_hz == 42,
              "a text without a final line break or NUL");
        cprofd_config_free(c);
}

static void test_errors(void) {
        static const struct { const char *text, *message; } cases[] = {
                { "frequency = 5\n", "t.conf:1: 'frequency' before any section: keys go under [cprofd] or [target NAME]" },
                { "[cprofd]\nfrequency = 0\n", "t.conf:2: invalid frequency '0': expected 1 to 100000 (Hz)" },
                { "[cprofd]\nfrequency = 100001\n", "t.conf:2: invalid frequency '100001': expected 1 to 100000 (Hz)" },
                { "[cprofd]\nfrequency = fast\n", "t.conf:2: invalid frequency 'fast': expected 1 to 100000 (Hz)" },
                { "[cprofd]\nwindow = 0\n", "t.conf:2: invalid window '0': expected 1s to 1d (60, 90s, 2m)" },
                { "[cprofd]\nwindow = 86401\n", "t.conf:2: invalid window '86401': expected 1s to 1d (60, 90s, 2m)" },
                { "[cprofd]\nwindow = 2d\n", "t.conf:2: invalid window '2d': expected 1s to 1d (60, 90s, 2m)" },
                { "[cprofd]\nwindow = 1.5\n", "t.conf:2: invalid window '1.5': expected 1s to 1d (60, 90s, 2m)" },
                { "[cprofd]\nwindow = 5w\n", "t.conf:2: invalid window '5w': expected 1s to 1d (60, 90s, 2m)" },
                { "[cprofd]\noutput-dir = var/lib\n", "t.conf:2: output-dir 'var/lib' is not an absolute path" },
                { "[cprofd]\nsocket = cprofd.sock\n", "t.conf:2: socket 'cprofd.sock' is not an absolute path" },
                { "[cprofd]\nsocket = /run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
                  "t.conf:2: socket '/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' "
                  "is longer than a socket path may be (107 bytes)" },
                { "[cprofd]\nmax-age = forever\n",
                  "t.conf:2: invalid max-age 'forever': expected a duration (7d, 12h, 30m) or none" },
                { "[cprofd]\nmax-age = 99999999999999d\n",
                  "t.conf:2: invalid max-age '99999999999999d': expected a duration (7d, 12h, 30m) or none" },
                { "[cprofd]\nmax-size = 2X\n", "t.conf:2: invalid max-size '2X': expected a size (2G, 500M) or none" },
                { "[cprofd]\nmax-size = -1\n", "t.conf:2: invalid max-size '-1': expected a size (2G, 500M) or none" },
                { "[cprofd]\noutputs = svg, png\n", "t.conf:2: unknown output 'png' in outputs: expected svg, pprof or none" },
                { "[cprofd]\noutputs =\n",
                  "t.conf:2: outputs is empty: give svg, pprof or none (.folded.gz is always written)" },
                { "[cprofd]\noutputs = none svg\n", "t.conf:2: outputs 'none' cannot be combined with other outputs" },
                { "[cprofd]\nmode = wall\n", "t.conf:2: unknown mode 'wall': the only mode is cpu" },
                { "[cprofd]\npyroscope-url = pyroscope:4040\n",
                  "t.conf:2: pyroscope-url 'pyroscope:4040' must start with http:// or https://" },
                { "[cprofd]\npyroscope-url = ftp://x\n",
                  "t.conf:2: pyroscope-url 'ftp://x' must start with http:// or https://" },
                { "[cprofd]\npyroscope-url = http://\n", "t.conf:2: pyroscope-url 'http://' has no host" },
                { "[cprofd]\npyroscope-url = http://a b\n", "t.conf:2: pyroscope-url 'http://a b' contains a blank" },
                { "[cprofd]\npyroscope-app = my{app}\n",
                  "t.conf:2: invalid pyroscope-app 'my{app}': expected 1 to 100 of A-Z a-z 0-9 . _ -" },
                { "[cprofd]\npyroscope-format = json\n",
                  "t.conf:2: invalid pyroscope-format 'json': expected folded or pprof" },
                { "[cprofd]\npyroscope-queue = 0\n",
                  "t.conf:2: invalid pyroscope-queue '0': expected 1 to 100000 (windows)" },
                { "[cprofd]\ngroup =\n", "t.conf:2: invalid group '': expected a group name" },
                { "[cprofd]\ngroup = a:b\n", "t.conf:2: invalid group 'a:b': expected a group name" },
                { "[cprofd]\nondemand-max = 65\n",
                  "t.conf:2: invalid ondemand-max '65': expected 0 to 64 (recordings at a time)" },
                { "[cprofd]\nondemand-max-duration = 0\n",
                  "t.conf:2: invalid ondemand-max-duration '0': expected 1s to 1d (300, 5m)" },
                { "[cprofd]\nunwind = lbr\n", "t.conf:2: invalid unwind mode 'lbr': expected auto, dwarf or fp" },
                { "[cprofd]\nkernel-stacks = maybe\n", "t.conf:2: invalid kernel-stacks 'maybe': expected yes or no" },
                { "[cprofd]\ndebug-dir = debug\n", "t.conf:2: debug-dir 'debug' is not an absolute path" },
                /* keys */
                { "[cprofd]\nfrequncy = 5\n", "t.conf:2: unknown key 'frequncy' in [cprofd], did you mean 'frequency'?" },
                { "[cprofd]\nFrequency = 5\n", "t.conf:2: unknown key 'Frequency' in [cprofd], did you mean 'frequency'?" },
                { "[cprofd]\noutput dir = /x\n", "t.conf:2: unknown key 'output dir' in [cprofd], did you mean 'output-dir'?" },
                { "[cprofd]\ncolour = red\n", "t.conf:2: unknown key 'colour' in [cprofd]" },
                { "[cprofd]\ncomm = x\n", "t.conf:2: 'comm' belongs in a [target NAME] section, not in [cprofd]" },
                { "[target a]\nfrequency = 5\n", "t.conf:2: 'frequency' belongs in [cprofd], not in a target section" },
                { "[target a]\ncom = x\n", "t.conf:2: unknown key 'com' in a target section, did you mean 'comm'?" },
                { "[cprofd]\n= 5\n", "t.conf:2: missing key before '='" },
                { "[cprofd]\nfrequency = 5\nwindow = 5\nfrequency = 6\n",
                  "t.conf:4: 'frequency' given twice (first on line 2)" },
                { "[cprofd]\nmode = cpu\n[target a]\nall = yes\n[cprofd]\nmode = cpu\n",
                  "t.conf:6: 'mode' given twice (first on line 2)" },
                { "[cprofd]\nfrequency\n", "t.conf:2: expected 'key = value'" },
                { "[cprofd]\nfoo\nbar = 1\n", "t.conf:2: expected 'key = value'" },
                { "[cprofd]\nfrequency = 0\nfoo\n", "t.conf:2: invalid frequency '0': expected 1 to 100000 (Hz)" },
                /* sections */
                { "[cprofd\n", "t.conf:1: missing ']' in section header" },
                { "[cprofd] x\n", "t.conf:1: unexpected text after ']'" },
                { "[cprofdd]\n", "t.conf:1: unknown section '[cprofdd]', did you mean '[cprofd]'?" },
                { "[taget api]\ncomm = x\n", "t.conf:1: unknown section '[taget api]', did you mean '[target api]'?" },
                { "[global]\n", "t.conf:1: unknown section '[global]': expected [cprofd] or [target NAME]" },
                { "[]\n", "t.conf:1: unknown section '[]': expected [cprofd] or [target NAME]" },
                { "[target]\ncomm = x\n", "t.conf:1: missing target name: [target NAME]" },
                { "[target .hidden]\ncomm = x\n",
                  "t.conf:1: invalid target name '.hidden': expected 1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.'" },
                { "[target a/b]\ncomm = x\n",
                  "t.conf:1: invalid target name 'a/b': expected 1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.'" },
                { "[target a b]\ncomm = x\n",
                  "t.conf:1: invalid target name 'a b': expected 1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.'" },
                { "[target a]\ncomm = x\n[target b]\npid = 1\n[target a]\npid = 2\n",
                  "t.conf:5: duplicate target 'a' (first on line 1)" },
                { "[cprofd]\n[target api]\n; nothing\n\n[cprofd]\n",
                  "t.conf:2: [target api] has no keys: give comm, pid, pidfile, exe, cgroup, systemd-unit or all" },
                { "[target api]\n",
                  "t.conf:1: [target api] has no keys: give comm, pid, pidfile, exe, cgroup, systemd-unit or all" },
                /* target keys */
                { "[target a]\ncomm =\n", "t.conf:2: comm is empty" },
                { "[target a]\ncomm = 1234567890123456\n",
                  "t.conf:2: comm '1234567890123456' is longer than 15 bytes, the most a process name has" },
                { "[target a]\npid = 0\n", "t.conf:2: invalid pid '0': expected a process id above 0" },
                { "[target a]\npid = -3\n", "t.conf:2: invalid pid '-3': expected a process id above 0" },
                { "[target a]\npidfile = run/a.pid\n", "t.conf:2: pidfile 'run/a.pid' is not an absolute path" },
                { "[target a]\nexe = python3\n", "t.conf:2: exe 'python3' is not an absolute path" },
                { "[target a]\ncgroup = system.slice\n",
                  "t.conf:2: cgroup 'system.slice' is not an absolute cgroup path (\"/system.slice/x.service\")" },
                { "[target a]\ncgroup = /a/../b\n", "t.conf:2: cgroup '/a/../b' contains '..': give the cgroup's own path" },
                { "[target a]\ncgroup = /a/./b\n", "t.conf:2: cgroup '/a/./b' contains '.': give the cgroup's own path" },
                { "[target a]\ncgroup = /sys/fs/cgroup/unified/system.slice\n",
                  "t.conf:2: cgroup '/sys/fs/cgroup/unified/system.slice' includes the mount point: give the path inside "
                  "the cgroup2 hierarchy (\"/system.slice/x.service\")" },
                { "[target a]\nsystemd-unit = nginx\n",
                  "t.conf:2: systemd-unit 'nginx' has no unit suffix: expected NAME.service, .socket, .mount, .swap, .slice "
                  "or .scope" },
                { "[target a]\nsystemd-unit = multi-user.target\n",
                  "t.conf:2: systemd-unit 'multi-user.target' is not a unit with processes: expected .service, .socket, "
                  ".mount, .swap, .slice or .scope" },
                { "[target a]\nsystemd-unit = a b.service\n", "t.conf:2: systemd-unit 'a b.service' is not a valid unit name" },
                { "[target a]\nsystemd-unit = getty@.service\n",
                  "t.conf:2: systemd-unit 'getty@.service' is a template: name an instance (\"x@1.service\")" },
                { "[target a]\nall = no\n", "t.conf:2: 'all = no' matches nothing: leave the line out" },
                { "[target a]\nall = everything\n", "t.conf:2: invalid all 'everything': expected yes" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                expect_error(cases[i].text, cases[i].message, cases[i].message);
}

static void test_err_buffer(void) {
        struct cprofd_config *c = NULL;
        char small[12];
        int r = cprofd_config_parse("t.conf", "[x]\n", 4, &c, small, sizeof(small));
        CHECK(r == -EINVAL && strcmp(small, "t.conf:1: u") == 0, "a small err buffer gets the message cut, terminated");
        r = cprofd_config_parse("t.conf", "[x]\n", 4, &c, NULL, 0);
        CHECK(r == -EINVAL && !c, "no err buffer at all");
}

static void test_load(void) {
        struct cprofd_config *c = NULL;
        char dir[] = "/tmp/test-daemon-config.XXXXXX";
        if (!mkdtemp(dir)) {
                CHECK(false, "mkdtemp: %s", strerror(errno));
                return;
        }
        char path[256], msg[512];

        snprintf(path, sizeof(path), "%s/missing.conf", dir);
        CHECK(cprofd_config_load(path, &c, err, sizeof(err)) == -ENOENT && !c, "a missing file");
        snprintf(msg, sizeof(msg), "cannot read '%s': No such file or directory", path);
        CHECK_STREQ(err, msg, "a missing file: the message");

        CHECK(cprofd_config_load(dir, &c, err, sizeof(err)) == -EISDIR && !c, "a directory");
        snprintf(msg, sizeof(msg), "cannot read '%s': Is a directory", dir);
        CHECK_STREQ(err, msg, "a directory: the message");

        CHECK(cprofd_config_load("/dev/zero", &c, err, sizeof(err)) == -EFBIG && !c, "an endless file");
        CHECK_STREQ(err, "cannot read '/dev/zero': larger than 1024 KiB", "an endless file: the message");

        snprintf(path, sizeof(path), "%s/cprofd.conf", dir);
        FILE *f = fopen(path, "w");
        fputs("[cprofd]\nfrequency = 77\n[target x]\ncomm = y\n\n[cprofd]\nwindow = soon\n", f);
        fclose(f);
        CHECK(cprofd_config_load(path, &c, err, sizeof(err)) == -EINVAL && !c, "a bad file");
        snprintf(msg, sizeof(msg), "%s:7: invalid window 'soon': expected 1s to 1d (60, 90s, 2m)", path);
        CHECK_STREQ(err, msg, "a bad file: named by its path, with the line");

        f = fopen(path, "w");
        fputs("[cprofd]\nfrequency = 77\n", f);
        fclose(f);
        CHECK(cprofd_config_load(path, &c, err, sizeof(err)) == 0 && c && c->frequency_hz == 77, "a good file");
        c = cprofd_config_free(c);

        /* unreadable: root reads any file, so try as nobody (who may enter
         * the directory but not read the file) */
        chmod(dir, 0755);
        chmod(path, 0600);
        int fds[2];
        if (pipe(fds) < 0)
                return;
        /* the child must not print the parent's buffered lines again (at
         * exit under valgrind, which runs libc's freeres) */
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                close(fds[0]);
                if (geteuid() == 0) {
                        if (setresuid(65534, 65534, 65534) < 0)
                                _exit(2);
                } else if (chmod(path, 0) < 0)
                        _exit(2);
                struct cprofd_config *cc = NULL;
                int r = cprofd_config_load(path, &cc, err, sizeof(err));
                if (write(fds[1], err, strlen(err)) < 0)
                        _exit(2);
                _exit(r == -EACCES && !cc ? 0 : 1);
        }
        close(fds[1]);
        char got[512] = "";
        ssize_t k = read(fds[0], got, sizeof(got) - 1);
        got[k > 0 ? k : 0] = '\0';
        close(fds[0]);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "an unreadable file: -EACCES");
        snprintf(msg, sizeof(msg), "cannot read '%s': Permission denied", path);
        CHECK_STREQ(got, msg, "an unreadable file: the message");

        unlink(path);
        rmdir(dir);
}

int main(void) {
        test_defaults();
        test_every_key();
        test_values();
        test_targets();
        test_syntax();
        test_line_limit();
        test_bad_bytes();
        test_errors();
        test_err_buffer();
        test_load();
        return tap_done();
}
