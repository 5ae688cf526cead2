/* The symbolizer: finds each module's name sources on its first lookup
 * and hangs them on the image module (released with it), and turns
 * addresses into frame chains from them; perf maps per process, kallsyms
 * for the kernel, demangled names pooled once.
 *
 * The order for a module address: DWARF (inline chain, lines) from the
 * separate debug file, else from the binary; the function's own name
 * from the module's symbol table, which also names code DWARF does not
 * cover: a separate debug file's .symtab when one is found, else the
 * MiniDebugInfo .symtab when the binary has one, else the binary's own
 * (.symtab, else .dynsym). */
#include "cprof/symbolize.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/debug-file.h"
#include "symbolize/debuginfod.h"
#include "symbolize/demangle.h"
#include "symbolize/dwarf-lines.h"
#include "image/elf-module.h"
#include "symbolize/kallsyms.h"
#include "symbolize/kernel-names.h"
#include "symbolize/minidebuginfo.h"
#include "symbolize/perf-map.h"
#include "util/cleanup.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/strpool.h"

#define KERNEL_MODULE_NAME "[kernel.kallsyms]"

/* What the symbolizer knows of one module: its name sources. */
struct module_syms {
        bool searched;    /* local debug files were looked for */
        bool has_debug;   /* a separate debug file (or MiniDebugInfo) names it */
        /* MiniDebugInfo kept back while debuginfod may bring the full
         * debug file (a module takes one): used when the fetch fails, or
         * when its addresses are named before the fetch ends */
        bool mini_deferred;
        bool fetching;    /* a debuginfod fetch is in flight */
        bool fetch_considered; /* symbolizer_prepare_module looked at it */
        bool dwarf_opened;
        struct dwarf_lines *dwarf;
};

/* A process's perf map (JIT code). */
struct jit_map {
        pid_t pid;
        struct perf_map *map;
        /* the process's root directory, held open: its /tmp stays
         * reachable after the process is gone */
        int root_fd;
        char path[128];
        bool path_known;
};

struct symbolizer {
        struct symbolizer_options opts;
        struct debug_dirs dirs;
        struct image_store *img;
        struct strpool names;       /* raw names, then demangled ones */
        struct u64map demangled;    /* raw name id -> display name id */
        struct debuginfod_fetcher *debuginfod;
        struct kernel_names *knames; /* the kernel's own lookup, if it allows */
        struct kallsyms *kallsyms;   /* otherwise /proc/kallsyms */
        bool kallsyms_tried;
        VEC(struct jit_map) jit;
        struct u64map jit_index;    /* pid -> index in jit */
};

int symbolizer_new(const struct symbolizer_options *o, struct image_store *img,
                   struct symbolizer **ret) {
        struct symbolizer *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->opts = *o;
        s->dirs = (struct debug_dirs) { o->debug_dirs, o->n_debug_dirs };
        s->img = img;
        /* only with DEBUGINFOD_URLS; its absence is the normal case */
        int r = debuginfod_fetcher_new(&s->debuginfod);
        if (r < 0 && r != -ENOTSUP)
                log_debug_errno(r, "symbolize: no debuginfod client, skipping");
        *ret = s;
        return 0;
}

struct symbolizer *symbolizer_free(struct symbolizer *s) {
        if (!s)
                return NULL;
        debuginfod_fetcher_free(s->debuginfod);
        kernel_names_free(s->knames);
        kallsyms_free(s->kallsyms);
        for (size_t i = 0; i < s->jit.n; i++) {
                perf_map_free(s->jit.v[i].map);
                closep(&s->jit.v[i].root_fd);
        }
        vec_free(&s->jit);
        u64map_release(&s->jit_index);
        u64map_release(&s->demangled);
        strpool_release(&s->names);
        free(s);
        return NULL;
}

void symbolizer_load_kernel(struct symbolizer *s) {
        if (s->kallsyms_tried)
                return;
        s->kallsyms_tried = true;
        int r = kernel_names_new(&s->knames);
        if (r >= 0)
                return;
        log_debug_errno(r, "symbolize: the kernel does not name its addresses for BPF (%s), "
                        "reading /proc/kallsyms", strerror(-r));
        r = kallsyms_load("/proc/kallsyms", &s->kallsyms);
        if (r < 0)
                log_debug_errno(r, "symbolize: cannot read /proc/kallsyms, skipping");
}

static void open_dwarf(struct module_syms *ms, struct elf_module *elf);

/* Windows a compile unit counts as in use after its last lookup */
#define DWARF_RECENT_WINDOWS 4
/* CUs a module may hold past twice those in use before it is reopened:
 * re-reading the ones in use then costs at most what reading the others
 * did, so the reopens cost no more than the growth they stop */
#define DWARF_SLACK_CUS 16

static void trim_dwarf(void *userdata, struct image_module *m) {
        struct module_syms *ms = image_module_data(m, IMAGE_SLOT_SYMBOLS);
        struct dwarf_lines_usage u;
        (void) userdata;
        if (!ms || !ms->dwarf)
                return;
        dwarf_lines_tick(ms->dwarf, DWARF_RECENT_WINDOWS, &u);
        if (u.cus_indexed <= 2 * u.cus_recent + DWARF_SLACK_CUS)
                return;
        log_debug("symbolize: %s: %zu compile units parsed, %zu in use: reopening its DWARF",
                  image_module_path(m), u.cus_indexed, u.cus_recent);
        open_dwarf(ms, image_module_elf(m));
}

void symbolizer_end_window(struct symbolizer *s) {
        struct strpool fresh;
        /* a pool that cannot be made keeps the old one */
        if (strpool_init(&fresh) >= 0) {
                strpool_release(&s->names);
                s->names = fresh;
                u64map_clear(&s->demangled);
        }
        image_for_each_module(s->img, trim_dwarf, NULL);
}

void symbolizer_reload_kernel(struct symbolizer *s) {
        if (s->knames)
                return; /* it always knows the modules loaded now */
        s->kallsyms = kallsyms_free(s->kallsyms);
        s->kallsyms_tried = false;
        symbolizer_load_kernel(s);
}

/* Module sources. */

static void module_syms_free(void *data) {
        struct module_syms *ms = data;
        if (!ms)
                return;
        dwarf_lines_free(ms->dwarf);
        free(ms);
}

/* Takes over fd's file as the module's debug file. */
static bool attach_debug_fd(struct elf_module *elf, int fd, const char *what) {
        struct elf_module *dbg;
        if (elf_module_open_fd(fd, &dbg) < 0)
                return false;
        int r = elf_module_use_symbols_from(elf, dbg);
        if (r < 0) {
                log_debug_errno(r, "symbolize: %s does not fit, skipping", what);
                elf_module_free(dbg);
                return false;
        }
        return true;
}

static bool attach_minidebuginfo(struct elf_module *elf) {
        Elf *mini;
        void *image;
        size_t size = 0;

        if (minidebuginfo_open(elf_module_elf(elf), &mini, &image) < 0)
                return false;
        const char *raw = elf_rawfile(mini, &size);
        struct elf_module *m = NULL;
        bool ok = raw && size && elf_module_from_memory(raw, size, &m) >= 0;
        elf_end(mini);
        free(image);
        if (ok && elf_module_use_symbols_from(elf, m) < 0) {
                elf_module_free(m);
                ok = false;
        }
        return ok;
}

static void open_dwarf(struct module_syms *ms, struct elf_module *elf) {
        struct elf_module *dbg = elf_module_debug(elf);
        dwarf_lines_free(ms->dwarf);
        ms->dwarf = NULL;
        ms->dwarf_opened = true;
        if (dbg && dwarf_lines_open(elf_module_dwarf_elf(dbg), &ms->dwarf) >= 0)
                return;
        (void) dwarf_lines_open(elf_module_dwarf_elf(elf), &ms->dwarf);
}

/* Separate debug files on disk: build-id, then debuglink; then
 * MiniDebugInfo. Opening is cheap (mapped, headers only); a debuglink
 * without build-ids costs one CRC pass over the candidate. */
static void search_debug(struct symbolizer *s, struct image_module *m, struct module_syms *ms) {
        struct elf_module *elf = image_module_elf(m);
        char root[64] = "";
        size_t bid_len = 0;
        const uint8_t *bid = elf_module_build_id(elf, &bid_len);
        const char *link = NULL;
        uint32_t crc = 0;
        _cleanup_close_ int fd = -1;

        ms->searched = true;
        /* a process gone since has no root to look under: then only our
         * own filesystem (right for a process that shared it; a wrong
         * file there fails the build-id or CRC check) */
        if (image_module_pid(m) > 0) {
                snprintf(root, sizeof(root), "/proc/%d/root", (int) image_module_pid(m));
                if (access(root, F_OK) < 0)
                        root[0] = '\0';
        }
        (void) debug_file_read_debuglink(elf_module_elf(elf), &link, &crc);
        struct debug_query q = {
                .root = root[0] ? root : NULL,
                .binary_path = image_module_path(m)[0] == '/' ? image_module_path(m) : NULL,
                .build_id = bid,
                .build_id_len = bid_len,
                .debuglink = link,
                .debuglink_crc = crc,
        };
        if ((q.binary_path || bid_len) && debug_file_find(&s->dirs, &q, &fd, NULL) >= 0 &&
            attach_debug_fd(elf, fd, "debug file"))
                ms->has_debug = true;
        else if (s->debuginfod && bid_len)
                ms->mini_deferred = true;
        else if (attach_minidebuginfo(elf))
                ms->has_debug = true;
}

static struct module_syms *module_syms(struct image_module *m) {
        struct module_syms *ms = image_module_data(m, IMAGE_SLOT_SYMBOLS);
        if (ms)
                return ms;
        ms = calloc(1, sizeof(*ms));
        if (!ms)
                return NULL;
        image_module_set_data(m, IMAGE_SLOT_SYMBOLS, ms, module_syms_free);
        return ms;
}

/* A debuginfod answer that arrived since the last look. */
static void poll_debuginfod(struct symbolizer *s, struct image_module *m, struct module_syms *ms) {
        size_t len;
        const uint8_t *bid = image_module_build_id(m, &len);
        _cleanup_close_ int fd = -1;

        int r = debuginfod_fetcher_poll(s->debuginfod, bid, len, &fd);
        if (r == 0)
                return;
        ms->fetching = false;
        if (r > 0 && !ms->has_debug && attach_debug_fd(image_module_elf(m), fd, "debuginfod's file")) {
                ms->has_debug = true;
                open_dwarf(ms, image_module_elf(m));
        }
}

/* Ready for lookups: debug files found, DWARF opened. */
static struct module_syms *module_ready(struct symbolizer *s, struct image_module *m) {
        struct module_syms *ms = module_syms(m);
        if (!ms || !image_module_elf(m))
                return ms;
        if (!ms->searched)
                search_debug(s, m, ms);
        if (!ms->dwarf_opened)
                open_dwarf(ms, image_module_elf(m));
        if (ms->fetching)
                poll_debuginfod(s, m, ms);
        /* naming now: with what the disk has, if the server brought nothing */
        if (ms->mini_deferred && !ms->has_debug) {
                ms->mini_deferred = false;
                if (attach_minidebuginfo(image_module_elf(m)))
                        ms->has_debug = true;
        }
        return ms;
}

void symbolizer_prepare_module(struct symbolizer *s, uint32_t module) {
        struct image_module *m = image_module(s->img, module);
        struct module_syms *ms;
        size_t len;
        const uint8_t *bid;

        if (!s->debuginfod || !m || !image_module_elf(m) || !(ms = module_syms(m)) || ms->fetch_considered ||
            ms->fetching || !(bid = image_module_build_id(m, &len)))
                return;
        ms->fetch_considered = true;
        /* only what the disk cannot name: the search is cheap, a fetch not */
        if (!ms->searched)
                search_debug(s, m, ms);
        if (!ms->has_debug && debuginfod_fetcher_request(s->debuginfod, bid, len) >= 0)
                ms->fetching = true;
}

void symbolizer_find_debug_file(struct symbolizer *s, uint32_t module) {
        struct image_module *m = image_module(s->img, module);
        struct module_syms *ms = m && image_module_elf(m) ? module_syms(m) : NULL;

        if (ms && !ms->searched)
                search_debug(s, m, ms);
}

bool symbolizer_module_pending(struct symbolizer *s, uint32_t module) {
        struct image_module *m = image_module(s->img, module);
        struct module_syms *ms = m ? image_module_data(m, IMAGE_SLOT_SYMBOLS) : NULL;
        if (!ms || !ms->fetching)
                return false;
        poll_debuginfod(s, m, ms);
        return ms->fetching;
}

/* Names. */

/* The name to show: pooled, demangled unless asked not to be. */
static const char *display_name(struct symbolizer *s, const char *raw) {
        uint32_t id;
        uint64_t shown;

        /* "clock_gettime@@GLIBC_2.17": the symbol version is no part of
         * the function's name (perf and addr2line show none). "puts@plt"
         * (a PLT stub, named by elf-module.c) is no version: it stays. */
        const char *at = raw ? strchr(raw, '@') : NULL;
        bool plt = at && at > raw && strcmp(at, "@plt") == 0;
        size_t base_len = plt ? (size_t) (at - raw) : 0;
        size_t len = raw ? (at && at > raw && !plt ? (size_t) (at - raw) : strlen(raw)) : 0;
        if (!raw || strpool_add(&s->names, raw, len, &id) < 0)
                return raw;
        raw = strpool_get(&s->names, id);
        if (s->opts.no_demangle)
                return strpool_get(&s->names, id);
        if (u64map_get(&s->demangled, id, &shown))
                return strpool_get(&s->names, (uint32_t) shown);
        _cleanup_free_ char *d = NULL;
        if (plt) {
                /* "_ZdlPv@plt" as perf shows it: "operator delete(void*)@plt" */
                _cleanup_free_ char *base = strndup(raw, base_len);
                _cleanup_free_ char *db = base ? demangle(base) : NULL;
                if (db && asprintf(&d, "%s@plt", db) < 0)
                        d = NULL;
        } else
                d = demangle(raw);
        uint32_t did = id;
        if (d && strpool_add(&s->names, d, strlen(d), &did) < 0)
                did = id;
        (void) u64map_put(&s->demangled, id, did);
        return strpool_get(&s->names, did);
}

int symbolizer_module_addr(struct symbolizer *s, uint32_t module, uint64_t vaddr,
                           struct symbol_frame *out) {
        struct dwarf_frame df[SYMBOL_MAX_CHAIN];
        struct image_module *m = image_module(s->img, module);
        int n = 0;

        out[0] = (struct symbol_frame) { .kind = FRAME_USER };
        if (!m || !image_module_elf(m))
                return 1;
        struct module_syms *ms = module_ready(s, m);
        if (!ms)
                return -ENOMEM;
        const char *sym = elf_module_symbolize(image_module_elf(m), vaddr, NULL);
        if (ms->dwarf) {
                n = dwarf_lines_lookup(ms->dwarf, vaddr, df, SYMBOL_MAX_CHAIN);
                if (n == -ENOMEM)
                        return n;
                if (n < 0)
                        n = 0;
        }
        if (n == 0) {
                out[0].name = display_name(s, sym);
                return 1;
        }
        for (int i = 0; i < n; i++) {
                /* the function itself as its symbol names it (clones such
                 * as foo.cold or foo.constprop.0 keep their suffix) */
                const char *raw = i == 0 && sym ? sym : df[i].name;
                out[i] = (struct symbol_frame) {
                        .name = display_name(s, raw),
                        .kind = i > 0 && df[i].inlined ? FRAME_INLINE : FRAME_USER,
                };
                if (s->opts.lines && df[i].file) {
                        const char *file;
                        if (strpool_add_str(&s->names, df[i].file, strlen(df[i].file), &file) >= 0) {
                                out[i].file = file;
                                out[i].line = df[i].line;
                        }
                }
        }
        return n;
}

bool symbolizer_module_has_symbols(struct symbolizer *s, uint32_t module) {
        struct image_module *m = image_module(s->img, module);
        struct module_syms *ms = m ? module_ready(s, m) : NULL;
        return ms && ((image_module_elf(m) && elf_module_symbol_count(image_module_elf(m)) > 0) || ms->dwarf);
}

/* JIT code. */

static struct jit_map *jit_map(struct symbolizer *s, pid_t pid) {
        uint64_t idx;
        if (u64map_get(&s->jit_index, (uint64_t) pid, &idx))
                return &s->jit.v[idx];
        struct jit_map j = { .pid = pid, .root_fd = -1 };
        if (perf_map_new(&j.map) < 0)
                return NULL;
        if (vec_push(&s->jit, j) < 0 || u64map_put(&s->jit_index, (uint64_t) pid, s->jit.n - 1) < 0) {
                if (s->jit.n && s->jit.v[s->jit.n - 1].map == j.map)
                        s->jit.n--;
                perf_map_free(j.map);
                return NULL;
        }
        return &s->jit.v[s->jit.n - 1];
}

/* Where the process writes its map, and who it is: learnt while it
 * lives. A process gone before that has no map we could trust. */
static void jit_locate(struct jit_map *j) {
        char proc[32], full[128];
        struct stat st;

        j->path_known = true;
        j->path[0] = '\0';
        snprintf(proc, sizeof(proc), "/proc/%d", (int) j->pid);
        if (stat(proc, &st) < 0 || perf_map_path(j->pid, full, sizeof(full)) < 0)
                return;
        /* "/proc/PID/root/tmp/perf-NSPID.map" -> the same under our fd of
         * that root, which outlives the process */
        size_t plen = strlen(proc) + strlen("/root");
        snprintf(proc + strlen(proc), sizeof(proc) - strlen(proc), "/root");
        j->root_fd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (j->root_fd >= 0 && strlen(full) > plen)
                snprintf(j->path, sizeof(j->path), "/proc/self/fd/%d%s", j->root_fd, full + plen);
        else
                snprintf(j->path, sizeof(j->path), "%s", full);
        /* a map another user planted in a sticky /tmp is not the JIT's */
        perf_map_set_owner(j->map, st.st_uid);
}

void symbolizer_forget_process(struct symbolizer *s, pid_t pid) {
        uint64_t idx;
        if (!u64map_get(&s->jit_index, (uint64_t) pid, &idx))
                return;
        perf_map_free(s->jit.v[idx].map);
        closep(&s->jit.v[idx].root_fd);
        u64map_remove(&s->jit_index, (uint64_t) pid);
        /* the last one fills the hole */
        if (idx != s->jit.n - 1) {
                s->jit.v[idx] = s->jit.v[s->jit.n - 1];
                (void) u64map_put(&s->jit_index, (uint64_t) s->jit.v[idx].pid, idx);
        }
        s->jit.n--;
}

void symbolizer_prepare_jit(struct symbolizer *s, pid_t pid) {
        struct jit_map *j = jit_map(s, pid);
        if (j && !j->path_known)
                jit_locate(j);
}

int symbolizer_jit_addr(struct symbolizer *s, pid_t pid, uint64_t addr, struct symbol_frame *out) {
        struct jit_map *j = jit_map(s, pid);
        const char *name = NULL;

        out[0] = (struct symbol_frame) { .kind = FRAME_JIT };
        if (!j)
                return -ENOMEM;
        if (!j->path_known)
                jit_locate(j);
        if (!j->path[0])
                return 1;
        name = perf_map_lookup(j->map, addr, NULL);
        /* code the map did not have yet: the JIT appends as it compiles */
        if (!name && perf_map_update(j->map, j->path) > 0)
                name = perf_map_lookup(j->map, addr, NULL);
        if (name) {
                const char *pooled;
                if (strpool_add_str(&s->names, name, strlen(name), &pooled) < 0)
                        return -ENOMEM;
                out[0].name = pooled;
        }
        return 1;
}

/* The kernel. */

int symbolizer_kernel_addr(struct symbolizer *s, uint64_t addr, struct symbol_frame *out,
                           const char **ret_module) {
        const char *name = NULL, *module = NULL;

        symbolizer_load_kernel(s);
        if (s->knames) {
                const char *kname, *kmodule;
                int r = kernel_names_lookup(s->knames, addr, &kname, &kmodule);
                if (r < 0) {
                        log_debug_errno(r, "symbolize: kernel address 0x%" PRIx64 ": %s, skipping",
                                        addr, strerror(-r));
                        r = 0;
                }
                /* the lookup's strings last until the next one */
                if (r > 0 && (r = strpool_add_str(&s->names, kname, strlen(kname), &name)) >= 0 &&
                    kmodule)
                        r = strpool_add_str(&s->names, kmodule, strlen(kmodule), &module);
                if (r < 0)
                        return r;
        } else if (s->kallsyms)
                (void) kallsyms_lookup(s->kallsyms, addr, &name, &module, NULL);
        out[0] = (struct symbol_frame) { .name = name, .kind = FRAME_KERNEL };
        if (ret_module)
                *ret_module = module ? module : KERNEL_MODULE_NAME;
        return 1;
}
