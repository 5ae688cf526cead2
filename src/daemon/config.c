/* cprofd.conf: libinih splits the lines, and everything it would get
 * silently wrong on Debian's build (long lines, indented lines, long
 * section names, NUL bytes) is caught here first, by a reader that hands
 * libinih one checked line at a time. Knowing which line libinih is on
 * is also what puts a line number on every error of ours. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/closest.h"
#include "util/parse.h"

#define NS_PER_SEC 1000000000ull
#define TARGET_NAME_MAX 64
#define PYROSCOPE_APP_MAX 100
#define GROUP_NAME_MAX 32
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

DEFINE_FREEP(struct cprofd_config, cprofd_config_free)

enum section { SECTION_NONE, SECTION_CPROFD, SECTION_TARGET };

struct parser {
        const char *name;
        const char *text;
        size_t len, pos;         /* pos: start of the next line */
        unsigned lineno;         /* of the line handed to libinih last */
        struct cprofd_config *c;
        enum section section;
        unsigned section_line;   /* of the current target's header */
        bool section_has_keys;   /* the current target section has a key line */
        unsigned *target_lines;  /* header line of each target, for duplicates */
        unsigned key_line[32];   /* [cprofd] keys: the line each was given on, or 0 */
        int error;               /* the first error: -EINVAL or -ENOMEM */
        unsigned error_line;
        char *err;
        size_t errsize;
};

/* Records the first error only, and returns 0: what a libinih handler
 * returns for "this line is wrong". */
__attribute__((format(printf, 3, 4)))
static int fail(struct parser *p, unsigned line, const char *fmt, ...) {
        if (p->error)
                return 0;
        p->error = -EINVAL;
        p->error_line = line;
        if (p->err && p->errsize > 0) {
                int k = snprintf(p->err, p->errsize, "%s:%u: ", p->name, line);
                if (k >= 0 && (size_t) k < p->errsize) {
                        va_list ap;
                        va_start(ap, fmt);
                        vsnprintf(p->err + k, p->errsize - (size_t) k, fmt, ap);
                        va_end(ap);
                }
        }
        return 0;
}

static int fail_oom(struct parser *p) {
        if (!p->error || p->error == -EINVAL) {
                p->error = -ENOMEM;
                p->error_line = p->lineno;
                if (p->err && p->errsize > 0)
                        snprintf(p->err, p->errsize, "%s: out of memory", p->name);
        }
        return 0;
}

static bool is_blank(char ch) {
        return ch == ' ' || ch == '\t';
}

/* Grows an array by one element (configs are small: no spare capacity). */
static void *grow(void *v, size_t n, size_t elsize) {
        if (n >= SIZE_MAX / elsize - 1)
                return NULL;
        return realloc(v, (n + 1) * elsize);
}

/* ---- values ---- */

static int parse_bool(const char *v, bool *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0)
                        return *ret = true, 0;
                if (strcasecmp(v, no[i]) == 0)
                        return *ret = false, 0;
        }
        return -EINVAL;
}

/* A whole number with an optional unit: s, m, h or d (no unit: seconds). */
static int parse_duration(const char *v, uint64_t *ret_ns) {
        uint64_t n, unit = 1;
        size_t digits = strspn(v, "0123456789");
        char num[24];

        if (digits == 0 || digits >= sizeof(num))
                return digits ? -ERANGE : -EINVAL;
        memcpy(num, v, digits);
        num[digits] = '\0';
        int r = parse_uint64(num, &n);
        if (r < 0)
                return r;
        const char *suffix = v + digits;
        if (strcmp(suffix, "") == 0 || strcmp(suffix, "s") == 0)
                unit = 1;
        else if (strcmp(suffix, "m") == 0)
                unit = 60;
        else if (strcmp(suffix, "h") == 0)
                unit = 3600;
        else if (strcmp(suffix, "d") == 0)
                unit = 86400;
        else
                return -EINVAL;
        if (n > UINT64_MAX / (unit * NS_PER_SEC))
                return -ERANGE;
        *ret_ns = n * unit * NS_PER_SEC;
        return 0;
}

static bool is_no_limit(const char *v) {
        return strcmp(v, "0") == 0 || strcmp(v, "none") == 0 || strcmp(v, "off") == 0;
}

/* Says why a value is wrong when the likely cause is a '#' comment, which
 * libinih keeps as part of the value. */
static const char *hash_hint(const char *v) {
        const char *h = strchr(v, '#');
        return h && h > v && is_blank(h[-1]) ? " ('#' starts a comment only at the start of a line)" : "";
}

static int set_string(struct parser *p, char **field, const char *v) {
        char *s = NULL;
        if (v) {
                s = strdup(v);
                if (!s)
                        return fail_oom(p);
        }
        free(*field);
        *field = s;
        return 1;
}

static int check_absolute(struct parser *p, const char *key, const char *v) {
        if (v[0] != '/')
                return fail(p, p->lineno, "%s '%s' is not an absolute path%s", key, v, hash_hint(v));
        return 1;
}

static int set_frequency(struct parser *p, const char *key, const char *v) {
        if (parse_uint(v, 1, 100000, &p->c->frequency_hz) < 0)
                return fail(p, p->lineno, "invalid %s '%s': expected 1 to 100000 (Hz)%s", key, v, hash_hint(v));
        return 1;
}

static int set_window(struct parser *p, const char *key, const char *v) {
        uint64_t ns;
        if (parse_duration(v, &ns) < 0 || ns < NS_PER_SEC || ns > 86400 * NS_PER_SEC)
                return fail(p, p->lineno, "invalid %s '%s': expected 1s to 1d (60, 90s, 2m)%s", key, v,
                            hash_hint(v));
        p->c->window_ns = ns;
        return 1;
}

static int set_output_dir(struct parser *p, const char *key, const char *v) {
        if (!check_absolute(p, key, v))
                return 0;
        return set_string(p, &p->c->output_dir, v);
}

static int set_socket(struct parser *p, const char *key, const char *v) {
        if (!check_absolute(p, key, v))
                return 0;
        if (strlen(v) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return fail(p, p->lineno, "%s '%s' is longer than a socket path may be (%zu bytes)", key, v,
                            sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1);
        return set_string(p, &p->c->socket_path, v);
}

static int set_max_age(struct parser *p, const char *key, const char *v) {
        uint64_t ns;
        if (is_no_limit(v))
                ns = 0;
        else if (parse_duration(v, &ns) < 0)
                return fail(p, p->lineno, "invalid %s '%s': expected a duration (7d, 12h, 30m) or none%s", key,
                            v, hash_hint(v));
        p->c->max_age_ns = ns;
        return 1;
}

static int set_max_size(struct parser *p, const char *key, const char *v) {
        uint64_t size;
        if (is_no_limit(v))
                size = 0;
        else if (parse_size(v, &size) < 0)
                return fail(p, p->lineno, "invalid %s '%s': expected a size (2G, 500M) or none%s", key, v,
                            hash_hint(v));
        p->c->max_size = size;
        return 1;
}

static int set_outputs(struct parser *p, const char *key, const char *v) {
        unsigned outputs = 0;
        bool none = false;
        size_t words = 0;

        for (const char *s = v;;) {
                s += strspn(s, ", \t");
                if (!*s)
                        break;
                size_t n = strcspn(s, ", \t");
                words++;
                if (n == 3 && memcmp(s, "svg", 3) == 0)
                        outputs |= CPROFD_OUTPUT_SVG;
                else if (n == 5 && memcmp(s, "pprof", 5) == 0)
                        outputs |= CPROFD_OUTPUT_PPROF;
                else if (n == 4 && memcmp(s, "none", 4) == 0)
                        none = true;
                else
                        return fail(p, p->lineno, "unknown output '%.*s' in %s: expected svg, pprof or none", (int) n,
                                    s, key);
                s += n;
        }
        if (words == 0)
                return fail(p, p->lineno, "%s is empty: give svg, pprof or none (.folded.gz is always written)",
                            key);
        if (none && words > 1)
                return fail(p, p->lineno, "%s 'none' cannot be combined with other outputs", key);
        p->c->outputs = outputs;
        return 1;
}

static int set_mode(struct parser *p, const char *key, const char *v) {
        (void) key;
        if (strcmp(v, "cpu") != 0)
                return fail(p, p->lineno, "unknown mode '%s': the only mode is cpu", v);
        return 1;
}

static int set_pyroscope_url(struct parser *p, const char *key, const char *v) {
        if (!*v)
                return set_string(p, &p->c->pyroscope_url, NULL);
        size_t scheme = strncmp(v, "http://", 7) == 0 ? 7 : strncmp(v, "https://", 8) == 0 ? 8 : 0;
        if (scheme == 0)
                return fail(p, p->lineno, "%s '%s' must start with http:// or https://", key, v);
        if (!v[scheme] || v[scheme] == '/')
                return fail(p, p->lineno, "%s '%s' has no host", key, v);
        for (const char *s = v; *s; s++)
                if (is_blank(*s))
                        return fail(p, p->lineno, "%s '%s' contains a blank%s", key, v, hash_hint(v));
        return set_string(p, &p->c->pyroscope_url, v);
}

static int set_pyroscope_app(struct parser *p, const char *key, const char *v) {
        if (!*v)
                return set_string(p, &p->c->pyroscope_app, NULL);
        /* it goes into "APP.cpu{labels}": braces, commas or '=' would
         * change what the server reads */
        size_t n = strlen(v);
        if (n > PYROSCOPE_APP_MAX || strspn(v, NAME_CHARS) != n)
                return fail(p, p->lineno, "invalid %s '%s': expected 1 to %d of A-Z a-z 0-9 . _ -", key, v,
                            PYROSCOPE_APP_MAX);
        return set_string(p, &p->c->pyroscope_app, v);
}

static int set_pyroscope_format(struct parser *p, const char *key, const char *v) {
        if (strcmp(v, "folded") == 0)
                p->c->pyroscope_format = CPROFD_PUSH_FOLDED;
        else if (strcmp(v, "pprof") == 0)
                p->c->pyroscope_format = CPROFD_PUSH_PPROF;
        else
                return fail(p, p->lineno, "invalid %s '%s': expected folded or pprof", key, v);
        return 1;
}

static int set_pyroscope_queue(struct parser *p, const char *key, const char *v) {
        if (parse_uint(v, 1, 100000, &p->c->pyroscope_queue) < 0)
                return fail(p, p->lineno, "invalid %s '%s': expected 1 to 100000 (windows)%s", key, v, hash_hint(v));
        return 1;
}

static int set_group(struct parser *p, const char *key, const char *v) {
        size_t n = strlen(v);
        if (n == 0 || n > GROUP_NAME_MAX || strcspn(v, " \t:,/") != n)
                return fail(p, p->lineno, "invalid %s '%s': expected a group name", key, v);
        return set_string(p, &p->c->group, v);
}

static int set_ondemand_max(struct parser *p, const char *key, const char *v) {
        if (parse_uint(v, 0, 64, &p->c->max_ondemand) < 0)
                return fail(p, p->lineno, "invalid %s '%s': expected 0 to 64 (recordings at a time)%s", key, v,
                            hash_hint(v));
        return 1;
}

static int set_ondemand_max_duration(struct parser *p, const char *key, const char *v) {
        uint64_t ns;
        if (parse_duration(v, &ns) < 0 || ns < NS_PER_SEC || ns > 86400 * NS_PER_SEC)
                return fail(p, p->lineno, "invalid %s '%s': expected 1s to 1d (300, 5m)%s", key, v, hash_hint(v));
        p->c->ondemand_max_duration_s = (unsigned) (ns / NS_PER_SEC);
        return 1;
}

static int set_unwind(struct parser *p, const char *key, const char *v) {
        if (strcmp(v, "auto") != 0 && strcmp(v, "dwarf") != 0 && strcmp(v, "fp") != 0)
                return fail(p, p->lineno, "invalid %s mode '%s': expected auto, dwarf or fp", key, v);
        return set_string(p, &p->c->unwind, v);
}

static int set_kernel_stacks(struct parser *p, const char *key, const char *v) {
        if (parse_bool(v, &p->c->kernel_stacks) < 0)
                return fail(p, p->lineno, "invalid %s '%s': expected yes or no", key, v);
        return 1;
}

static int set_debug_dir(struct parser *p, const char *key, const char *v) {
        struct cprofd_config *c = p->c;
        if (!check_absolute(p, key, v))
                return 0;
        char **dirs = grow(c->debug_dirs, c->n_debug_dirs, sizeof(*dirs));
        if (!dirs)
                return fail_oom(p);
        c->debug_dirs = dirs;
        if (!(dirs[c->n_debug_dirs] = strdup(v)))
                return fail_oom(p);
        c->n_debug_dirs++;
        return 1;
}

struct key {
        const char *name;
        int (*set)(struct parser *p, const char *key, const char *v);
        bool repeat;
};

static const struct key cprofd_keys[] = {
        { "frequency", set_frequency, false },
        { "window", set_window, false },
        { "output-dir", set_output_dir, false },
        { "socket", set_socket, false },
        { "max-age", set_max_age, false },
        { "max-size", set_max_size, false },
        { "outputs", set_outputs, false },
        { "mode", set_mode, false },
        { "pyroscope-url", set_pyroscope_url, false },
        { "pyroscope-app", set_pyroscope_app, false },
        { "pyroscope-format", set_pyroscope_format, false },
        { "pyroscope-queue", set_pyroscope_queue, false },
        { "group", set_group, false },
        { "ondemand-max", set_ondemand_max, false },
        { "ondemand-max-duration", set_ondemand_max_duration, false },
        { "unwind", set_unwind, false },
        { "kernel-stacks", set_kernel_stacks, false },
        { "debug-dir", set_debug_dir, true },
};
_Static_assert(ELEMENTSOF(cprofd_keys) <= ELEMENTSOF(((struct parser *) NULL)->key_line), "key_line too small");

/* ---- target sections ---- */

static int add_match(struct parser *p, enum target_match_kind kind, const char *value, pid_t pid) {
        struct cprofd_target_config *t = &p->c->targets[p->c->n_targets - 1];
        _cleanup_free_ char *copy = NULL;

        if (value && !(copy = strdup(value)))
                return fail_oom(p);
        struct target_match *m = grow(t->matches, t->n_matches, sizeof(*m));
        if (!m)
                return fail_oom(p);
        t->matches = m;
        m[t->n_matches++] = (struct target_match) { .kind = kind, .value = TAKE_PTR(copy), .pid = pid };
        return 1;
}

static int set_comm(struct parser *p, const char *key, const char *v) {
        size_t n = strlen(v);
        if (n == 0)
                return fail(p, p->lineno, "%s is empty", key);
        if (n > 15)
                return fail(p, p->lineno, "%s '%s' is longer than 15 bytes, the most a process name has", key, v);
        return add_match(p, TARGET_MATCH_COMM, v, 0);
}

static int set_pid(struct parser *p, const char *key, const char *v) {
        int pid;
        if (parse_pid(v, &pid) < 0)
                return fail(p, p->lineno, "invalid %s '%s': expected a process id above 0%s", key, v, hash_hint(v));
        return add_match(p, TARGET_MATCH_PID, NULL, pid);
}

static int set_pidfile(struct parser *p, const char *key, const char *v) {
        if (!check_absolute(p, key, v))
                return 0;
        return add_match(p, TARGET_MATCH_PIDFILE, v, 0);
}

static int set_exe(struct parser *p, const char *key, const char *v) {
        if (!check_absolute(p, key, v))
                return 0;
        return add_match(p, TARGET_MATCH_EXE, v, 0);
}

static int set_cgroup(struct parser *p, const char *key, const char *v) {
        if (v[0] != '/')
                return fail(p, p->lineno, "%s '%s' is not an absolute cgroup path (\"/system.slice/x.service\")", key,
                            v);
        /* the mount point is not part of a cgroup's path: a common slip */
        if (strncmp(v, "/sys/fs/cgroup", 14) == 0 && (v[14] == '/' || v[14] == '\0'))
                return fail(p, p->lineno,
                            "%s '%s' includes the mount point: give the path inside the cgroup2 hierarchy "
                            "(\"/system.slice/x.service\")",
                            key, v);
        _cleanup_free_ char *norm = malloc(strlen(v) + 1);
        if (!norm)
                return fail_oom(p);
        size_t n = 0;
        for (const char *s = v; *s;) {
                s += strspn(s, "/");
                size_t k = strcspn(s, "/");
                if (k == 0)
                        break;
                if ((k == 1 && s[0] == '.') || (k == 2 && s[0] == '.' && s[1] == '.'))
                        return fail(p, p->lineno, "%s '%s' contains '%.*s': give the cgroup's own path", key, v,
                                    (int) k, s);
                norm[n++] = '/';
                memcpy(norm + n, s, k);
                n += k;
                s += k;
        }
        if (n == 0)
                norm[n++] = '/';
        norm[n] = '\0';
        return add_match(p, TARGET_MATCH_CGROUP, norm, 0);
}

static int set_systemd_unit(struct parser *p, const char *key, const char *v) {
        /* only these unit types have a cgroup, and so processes */
        static const char *const suffixes[] = { ".service", ".socket", ".mount", ".swap", ".slice", ".scope" };
        size_t n = strlen(v);
        const char *dot = strrchr(v, '.');

        if (!dot || dot == v)
                return fail(p, p->lineno,
                            "%s '%s' has no unit suffix: expected NAME.service, .socket, .mount, .swap, .slice or "
                            ".scope",
                            key, v);
        bool known = false;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                known |= strcmp(dot, suffixes[i]) == 0;
        if (!known)
                return fail(p, p->lineno,
                            "%s '%s' is not a unit with processes: expected .service, .socket, .mount, .swap, .slice "
                            "or .scope",
                            key, v);
        /* systemd's unit name alphabet and length limit */
        if (n > 255 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:-_.\\@") != n)
                return fail(p, p->lineno, "%s '%s' is not a valid unit name", key, v);
        if (dot[-1] == '@')
                return fail(p, p->lineno, "%s '%s' is a template: name an instance (\"x@1.service\")", key, v);
        return add_match(p, TARGET_MATCH_SYSTEMD_UNIT, v, 0);
}

static int set_all(struct parser *p, const char *key, const char *v) {
        bool b;
        if (parse_bool(v, &b) < 0)
                return fail(p, p->lineno, "invalid %s '%s': expected yes", key, v);
        if (!b)
                return fail(p, p->lineno, "'%s = %s' matches nothing: leave the line out", key, v);
        return add_match(p, TARGET_MATCH_ALL, NULL, 0);
}

static const struct key target_keys[] = {
        { "comm", set_comm, true },
        { "pid", set_pid, true },
        { "pidfile", set_pidfile, true },
        { "exe", set_exe, true },
        { "cgroup", set_cgroup, true },
        { "systemd-unit", set_systemd_unit, true },
        { "all", set_all, true },
};

static const struct key *find_key(const struct key *keys, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(keys[i].name, name) == 0)
                        return &keys[i];
        return NULL;
}

static const char *key_hint(const struct key *keys, size_t n, const char *name) {
        const char *names[32];
        if (n > ELEMENTSOF(names))
                n = ELEMENTSOF(names);
        for (size_t i = 0; i < n; i++)
                names[i] = keys[i].name;
        return closest_name(name, strlen(name), names, n);
}

static int unknown_key(struct parser *p, const struct key *keys, size_t n, const char *name) {
        const char *where = p->section == SECTION_CPROFD ? "[cprofd]" : "a target section";
        if (p->section == SECTION_CPROFD && find_key(target_keys, ELEMENTSOF(target_keys), name))
                return fail(p, p->lineno, "'%s' belongs in a [target NAME] section, not in [cprofd]", name);
        if (p->section == SECTION_TARGET && find_key(cprofd_keys, ELEMENTSOF(cprofd_keys), name))
                return fail(p, p->lineno, "'%s' belongs in [cprofd], not in a target section", name);
        const char *hint = key_hint(keys, n, name);
        if (hint)
                return fail(p, p->lineno, "unknown key '%s' in %s, did you mean '%s'?", name, where, hint);
        return fail(p, p->lineno, "unknown key '%s' in %s", name, where);
}

/* libinih's handler. Its section argument is not used: libinih cuts long
 * names, so the reader keeps the section itself. */
static int on_key(void *userdata, const char *section, const char *name, const char *value) {
        struct parser *p = userdata;
        (void) section;

        if (p->error)
                return 0;
        if (!*name)
                return fail(p, p->lineno, "missing key before '='");
        if (p->section == SECTION_NONE)
                return fail(p, p->lineno, "'%s' before any section: keys go under [cprofd] or [target NAME]", name);
        if (p->section == SECTION_TARGET) {
                const struct key *k = find_key(target_keys, ELEMENTSOF(target_keys), name);
                if (!k)
                        return unknown_key(p, target_keys, ELEMENTSOF(target_keys), name);
                return k->set(p, name, value);
        }
        const struct key *k = find_key(cprofd_keys, ELEMENTSOF(cprofd_keys), name);
        if (!k)
                return unknown_key(p, cprofd_keys, ELEMENTSOF(cprofd_keys), name);
        unsigned *first = &p->key_line[k - cprofd_keys];
        if (*first && !k->repeat)
                return fail(p, p->lineno, "'%s' given twice (first on line %u)", name, *first);
        *first = p->lineno;
        return k->set(p, name, value);
}

/* ---- lines and sections ---- */

/* s is not NUL-terminated: it points into the text. */
static bool valid_target_name(const char *s, size_t n) {
        if (n < 1 || n > TARGET_NAME_MAX || s[0] == '.')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
                        return false;
        return true;
}

/* The end of the section just left: a target needs a match. */
static int end_section(struct parser *p) {
        if (p->section == SECTION_TARGET && !p->section_has_keys)
                return fail(p, p->section_line, "[target %s] has no keys: give comm, pid, pidfile, exe, cgroup, "
                            "systemd-unit or all", p->c->targets[p->c->n_targets - 1].name);
        return 1;
}

static int start_target(struct parser *p, const char *name, size_t n) {
        struct cprofd_config *c = p->c;

        if (n == 0)
                return fail(p, p->lineno, "missing target name: [target NAME]");
        if (!valid_target_name(name, n))
                return fail(p, p->lineno,
                            "invalid target name '%.*s': expected 1 to %d of A-Z a-z 0-9 . _ -, not starting with '.'",
                            (int) n, name, TARGET_NAME_MAX);
        for (size_t i = 0; i < c->n_targets; i++)
                if (strlen(c->targets[i].name) == n && memcmp(c->targets[i].name, name, n) == 0)
                        return fail(p, p->lineno, "duplicate target '%.*s' (first on line %u)", (int) n, name,
                                    p->target_lines[i]);
        unsigned *lines = grow(p->target_lines, c->n_targets, sizeof(*lines));
        if (!lines)
                return fail_oom(p);
        p->target_lines = lines;
        struct cprofd_target_config *t = grow(c->targets, c->n_targets, sizeof(*t));
        if (!t)
                return fail_oom(p);
        c->targets = t;
        char *copy = strndup(name, n);
        if (!copy)
                return fail_oom(p);
        lines[c->n_targets] = p->lineno;
        t[c->n_targets++] = (struct cprofd_target_config) { .name = copy };
        p->section = SECTION_TARGET;
        p->section_line = p->lineno;
        p->section_has_keys = false;
        return 1;
}

/* "[cprofd]" or "[target NAME]"; line is the stripped line, from '['. */
static int start_section(struct parser *p, const char *line, size_t len) {
        const char *close = memchr(line, ']', len);
        if (!close)
                return fail(p, p->lineno, "missing ']' in section header");
        const char *after = close + 1, *end = line + len;
        while (after < end && is_blank(*after))
                after++;
        if (after < end && *after != ';' && *after != '#')
                return fail(p, p->lineno, "unexpected text after ']'");
        if (!end_section(p))
                return 0;

        const char *s = line + 1, *e = close;
        while (s < e && is_blank(*s))
                s++;
        while (e > s && is_blank(e[-1]))
                e--;
        size_t n = (size_t) (e - s);
        if (memchr(s, '[', n) || memchr(s, ';', n))
                return fail(p, p->lineno, "invalid section header");
        if (n == 6 && memcmp(s, "cprofd", 6) == 0) {
                p->section = SECTION_CPROFD;
                return 1;
        }
        size_t word = 0;
        while (word < n && !is_blank(s[word]))
                word++;
        if (word == 6 && memcmp(s, "target", 6) == 0) {
                const char *name = s + word;
                while (name < e && is_blank(*name))
                        name++;
                return start_target(p, name, (size_t) (e - name));
        }
        static const char *const sections[] = { "cprofd", "target" };
        const char *hint = closest_name(s, word, sections, ELEMENTSOF(sections));
        if (hint && strcmp(hint, "target") == 0)
                return fail(p, p->lineno, "unknown section '[%.*s]', did you mean '[target%.*s]'?", (int) n, s,
                            (int) (n - word), s + word);
        if (hint && word == n)
                return fail(p, p->lineno, "unknown section '[%.*s]', did you mean '[%s]'?", (int) n, s, hint);
        return fail(p, p->lineno, "unknown section '[%.*s]': expected [cprofd] or [target NAME]", (int) n, s);
}

/* libinih's reader: one line per call, checked, without its line break
 * and its indentation. Returns NULL at the end or after an error, which
 * ends libinih's loop. */
static char *read_line(char *buf, int size, void *stream) {
        struct parser *p = stream;

        if (p->error || p->pos >= p->len)
                return NULL;
        const char *line = p->text + p->pos;
        const char *nl = memchr(line, '\n', p->len - p->pos);
        size_t len = nl ? (size_t) (nl - line) : p->len - p->pos;
        p->pos += len + (nl ? 1 : 0);
        p->lineno++;

        /* the line break counts, "\r\n" as two; a last line without one
         * as if it had "\n" */
        if (len + 1 > CPROFD_CONFIG_MAX_LINE || len + 1 > (size_t) size) {
                fail(p, p->lineno, "line longer than %d bytes", CPROFD_CONFIG_MAX_LINE);
                return NULL;
        }
        if (len > 0 && line[len - 1] == '\r')
                len--;
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char) line[i];
                if (ch == '\0') {
                        fail(p, p->lineno, "NUL byte in the text");
                        return NULL;
                }
                if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                        fail(p, p->lineno, "control character 0x%02x in the text", ch);
                        return NULL;
                }
        }
        while (len > 0 && is_blank(*line))
                line++, len--;

        if (len > 0 && line[0] == '[') {
                if (!start_section(p, line, len))
                        return NULL;
        } else if (len > 0 && line[0] != ';' && line[0] != '#')
                p->section_has_keys = true;

        memcpy(buf, line, len);
        buf[len] = '\0';
        return buf;
}

/* What libinih itself refused on line lineno (no '=', no ']'). */
static void syntax_error(struct parser *p, unsigned lineno) {
        const char *line = p->text, *end = p->text + p->len;
        for (unsigned i = 1; i < lineno && line < end; i++) {
                const char *nl = memchr(line, '\n', (size_t) (end - line));
                line = nl ? nl + 1 : end;
        }
        while (line < end && is_blank(*line))
                line++;
        if (line < end && *line == '[')
                fail(p, lineno, "missing ']' in section header");
        else
                fail(p, lineno, "expected 'key = value'");
}

/* ---- the config ---- */

struct cprofd_config *cprofd_config_free(struct cprofd_config *c) {
        if (!c)
                return NULL;
        free(c->output_dir);
        free(c->socket_path);
        free(c->pyroscope_url);
        free(c->pyroscope_app);
        free(c->group);
        free(c->unwind);
        for (size_t i = 0; i < c->n_debug_dirs; i++)
                free(c->debug_dirs[i]);
        free(c->debug_dirs);
        for (size_t i = 0; i < c->n_targets; i++) {
                struct cprofd_target_config *t = &c->targets[i];
                for (size_t j = 0; j < t->n_matches; j++)
                        free((char *) t->matches[j].value);
                free(t->matches);
                free(t->name);
        }
        free(c->targets);
        free(c);
        return NULL;
}

int cprofd_config_defaults(struct cprofd_config **ret) {
        _cleanup_(cprofd_config_freep) struct cprofd_config *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->frequency_hz = 19;
        c->window_ns = 60 * NS_PER_SEC;
        c->max_age_ns = 7 * 86400 * NS_PER_SEC;
        c->max_size = 2ull << 30;
        c->outputs = CPROFD_OUTPUT_SVG;
        c->pyroscope_format = CPROFD_PUSH_FOLDED;
        c->pyroscope_queue = 64;
        c->max_ondemand = 2;
        c->ondemand_max_duration_s = 300;
        c->kernel_stacks = true;
        if (!(c->output_dir = strdup("/var/lib/cprof")) || !(c->socket_path = strdup("/run/cprof/cprofd.sock")) ||
            !(c->group = strdup("cprof")) || !(c->unwind = strdup("auto")))
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

int cprofd_config_parse(const char *name, const char *text, size_t len, struct cprofd_config **ret, char *err,
                        size_t errsize) {
        _cleanup_(cprofd_config_freep) struct cprofd_config *c = NULL;
        struct parser p = { .name = name, .text = text, .len = len, .err = err, .errsize = errsize };

        if (err && errsize > 0)
                err[0] = '\0';
        int r = cprofd_config_defaults(&c);
        if (r < 0) {
                if (err && errsize > 0)
                        snprintf(err, errsize, "%s: out of memory", name);
                return r;
        }
        p.c = c;
        /* a byte-order mark, where editors put it */
        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                p.pos = 3;

        int line = ini_parse_stream(read_line, &p, on_key, &p);
        if (p.error == -ENOMEM || line == -2) {
                free(p.target_lines);
                fail_oom(&p);
                return -ENOMEM;
        }
        /* libinih reports the first line it refused, ours included; a line
         * it refused before our first error is its own syntax error */
        if (line > 0 && (!p.error || (unsigned) line < p.error_line)) {
                p.error = 0;
                syntax_error(&p, (unsigned) line);
        }
        if (!p.error)
                end_section(&p);
        free(p.target_lines);
        if (p.error)
                return p.error;
        *ret = TAKE_PTR(c);
        return 0;
}

int cprofd_config_load(const char *path, struct cprofd_config **ret, char *err, size_t errsize) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;
        int r = 0;

        if (fd < 0)
                r = -errno;
        else if (fstat(fd, &st) < 0)
                r = -errno;
        else if (S_ISDIR(st.st_mode))
                r = -EISDIR;
        else if (!(buf = malloc(CPROFD_CONFIG_MAX_FILE + 1)))
                r = -ENOMEM;
        else
                /* one byte more than allowed tells a file that is too big */
                while (len <= CPROFD_CONFIG_MAX_FILE) {
                        ssize_t k = read(fd, buf + len, CPROFD_CONFIG_MAX_FILE + 1 - len);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0) {
                                r = -errno;
                                break;
                        }
                        if (k == 0)
                                break;
                        len += (size_t) k;
                }
        if (r == 0 && len > CPROFD_CONFIG_MAX_FILE) {
                if (err && errsize > 0)
                        snprintf(err, errsize, "cannot read '%s': larger than %u KiB", path,
                                 CPROFD_CONFIG_MAX_FILE >> 10);
                return -EFBIG;
        }
        if (r < 0) {
                if (err && errsize > 0)
                        snprintf(err, errsize, "cannot read '%s': %s", path, strerror(-r));
                return r;
        }
        return cprofd_config_parse(path, buf, len, ret, err, errsize);
}
