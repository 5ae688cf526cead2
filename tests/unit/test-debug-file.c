/* symbolize/debug-file: the search order for separate debug files and the
 * checks that reject decoys, on binaries this test builds with gcc -g and
 * splits with objcopy (--only-keep-debug, --strip-debug,
 * --add-gnu-debuglink), as distributions do. A scratch "container root"
 * stands for /proc/PID/root.
 *
 * Also symbolize/minidebuginfo: a binary given a .gnu_debugdata the way
 * Fedora makes it (symtab-only ELF of the functions .dynsym lacks, xz'ed,
 * added with objcopy) after its own .symtab was stripped; its static
 * functions must be in the decompressed .symtab. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "symbolize/debug-file.h"
#include "image/elf-module.h"
#include "symbolize/minidebuginfo.h"
#include "tap.h"
#include "util/cleanup.h"

static char T[] = "/tmp/cprof-debugfile-XXXXXX";

static int sh(const char *fmt, ...) {
        char cmd[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        int r = system(cmd);
        if (r != 0)
                printf("# command failed (%d): %s\n", r, cmd);
        return r;
}

static const char *P(const char *fmt, ...) {
        static char bufs[8][1024];
        static int k;
        char *b = bufs[k++ % 8];
        char rel[900];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rel, sizeof(rel), fmt, ap);
        va_end(ap);
        snprintf(b, 1024, "%s%s", T, rel);
        return b;
}

static const char prog_c[] =
        "#include <stdio.h>\n"
        "__attribute__((noinline)) static int local_helper(int x) { return x * VARIANT + 1; }\n"
        "__attribute__((noinline)) static int local_second(int x) { return local_helper(x) ^ 5; }\n"
        "int main(int argc, char **argv) { (void) argv; printf(\"%d\\n\", local_second(argc)); return 0; }\n";

/* Builds T/NAME from prog.c with -DVARIANT=v; extra gcc args. */
static int build(const char *name, int variant, const char *extra) {
        return sh("gcc -g -O1 -DVARIANT=%d %s -o %s/%s %s/prog.c", variant, extra, T, name, T);
}

static size_t read_build_id(const char *path, uint8_t *out) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct elf_module *m = NULL;
        size_t len = 0;
        if (fd < 0 || elf_module_open_fd(fd, &m) < 0)
                return 0;
        const uint8_t *b = elf_module_build_id(m, &len);
        if (b)
                memcpy(out, b, len);
        elf_module_free(m);
        return len;
}

static int read_link(const char *path, char *name, size_t name_size, uint32_t *crc) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        Elf *e = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
        const char *n = NULL;
        int r = e ? debug_file_read_debuglink(e, &n, crc) : -EIO;
        if (r == 0)
                snprintf(name, name_size, "%s", n);
        if (e)
                elf_end(e);
        return r;
}

static uint32_t file_crc(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        uint8_t buf[4096];
        uLong c = crc32(0, Z_NULL, 0);
        ssize_t n;
        while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
                c = crc32(c, buf, (uInt) n);
        return (uint32_t) c;
}

/* The found path, or an errno name; the fd is checked to be a readable
 * file and closed. */
static const char *find(const struct debug_dirs *dirs, const struct debug_query *q) {
        static char out[1024];
        int fd = -1;
        char *path = NULL;
        int r = debug_file_find(dirs, q, &fd, &path);
        if (r < 0) {
                snprintf(out, sizeof(out), "error %s", strerror(-r));
                return out;
        }
        int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
        if ((fl & O_ACCMODE) != O_RDONLY || (fl & O_NONBLOCK) || !(fdfl & FD_CLOEXEC))
                snprintf(out, sizeof(out), "bad fd flags %#x/%#x", fl, fdfl);
        else
                snprintf(out, sizeof(out), "%s", path);
        close(fd);
        free(path);
        return out;
}

static void test_search_order(void) {
        uint8_t bid[64];
        char name[256];
        uint32_t crc = 0;

        if (build("prog", 3, "-Wl,--build-id=sha1") || build("other", 4, "-Wl,--build-id=sha1") ||
            sh("objcopy --only-keep-debug %s/prog %s/prog.debug", T, T) ||
            sh("objcopy --only-keep-debug %s/other %s/other.debug", T, T) ||
            sh("objcopy --strip-debug --add-gnu-debuglink=%s/prog.debug %s/prog %s/prog.stripped", T, T, T)) {
                CHECK(false, "building the test binaries");
                return;
        }
        size_t bid_len = read_build_id(P("/prog.stripped"), bid);
        CHECK(bid_len == 20, "stripped binary has a 20-byte build-id");
        CHECK(read_link(P("/prog.stripped"), name, sizeof(name), &crc) == 0, "debuglink read");
        CHECK_STREQ(name, "prog.debug", "debuglink name");
        CHECK(crc == file_crc(P("/prog.debug")), "debuglink CRC is the CRC32 of the debug file");
        CHECK(read_link(P("/prog"), name, sizeof(name), &crc) == -ENOENT, "no debuglink: -ENOENT");
        _cleanup_close_ int dfd = open(P("/prog.debug"), O_RDONLY | O_CLOEXEC);
        uint32_t c2 = 0;
        CHECK(dfd >= 0 && debug_file_crc32(dfd, &c2) == 0 && c2 == crc, "debug_file_crc32 agrees with objcopy");

        char hex[130];
        size_t n = (size_t) snprintf(hex, sizeof(hex), "%02x/", bid[0]);
        for (size_t i = 1; i < bid_len; i++)
                n += (size_t) snprintf(hex + n, sizeof(hex) - n, "%02x", bid[i]);

        sh("mkdir -p %s/root/usr/bin/.debug %s/root/usr/lib/debug/.build-id/%.2s %s/root/usr/lib/debug/usr/bin "
           "%s/hostA/.build-id/%.2s %s/hostB/.build-id/%.2s %s/hostA/usr/bin %s/hostB/usr/bin",
           T, T, hex, T, T, hex, T, hex, T, T);
        sh("cp %s/prog.stripped %s/root/usr/bin/prog", T, T);

        /* gdb's order, with this module's placement of the directories */
        const char *order[] = {
                P("/root/usr/lib/debug/.build-id/%s.debug", hex),
                P("/hostA/.build-id/%s.debug", hex),
                P("/hostB/.build-id/%s.debug", hex),
                P("/root/usr/bin/prog.debug"),
                P("/root/usr/bin/.debug/prog.debug"),
                P("/root/usr/lib/debug/usr/bin/prog.debug"),
                P("/hostA/usr/bin/prog.debug"),
                P("/hostB/usr/bin/prog.debug"),
        };
        char order_copy[8][1024];
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                snprintf(order_copy[i], sizeof(order_copy[i]), "%s", order[i]);
                sh("cp %s/prog.debug %s", T, order_copy[i]);
        }
        char hostA[1024], hostB[1024];
        snprintf(hostA, sizeof(hostA), "%s/hostA", T);
        snprintf(hostB, sizeof(hostB), "%s/hostB/", T); /* a trailing slash is fine */
        const char *dv[] = { hostA, "/usr/lib/debug", hostB };
        struct debug_dirs dirs = { dv, 3 };
        char root[1024];
        snprintf(root, sizeof(root), "%s/root", T);
        struct debug_query q = {
                .root = root, .binary_path = "/usr/bin/prog", .build_id = bid, .build_id_len = bid_len,
                .debuglink = "prog.debug", .debuglink_crc = crc,
        };

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                CHECK_STREQ(find(&dirs, &q), order_copy[i], "candidate %zu found first", i);
                /* a wrong-build-id decoy in its place is passed over */
                sh("cp %s/other.debug %s", T, order_copy[i]);
        }
        CHECK_STREQ(find(&dirs, &q), "error No such file or directory", "only decoys left: -ENOENT");

        /* --debug-dir is a host path: not searched under the root */
        sh("mkdir -p %s/root%s/.build-id/%.2s && cp %s/prog.debug %s/root%s/.build-id/%s.debug", T, hostA, hex, T,
           T, hostA, hex);
        CHECK_STREQ(find(&dirs, &q), "error No such file or directory", "--debug-dir not looked up under root");

        /* without a build-id in the query only the debuglink is used, and
         * then the decoys are rejected by CRC */
        sh("cp %s/prog.debug %s", T, order_copy[7]);
        struct debug_query nobid = q;
        nobid.build_id = NULL;
        nobid.build_id_len = 0;
        CHECK_STREQ(find(&dirs, &nobid), order_copy[7], "no build-id: by debuglink, decoys rejected by CRC");
        nobid.debuglink_crc = crc ^ 1;
        CHECK_STREQ(find(&dirs, &nobid), "error No such file or directory", "wrong CRC: rejected");
        nobid.debuglink = "../prog.debug";
        nobid.debuglink_crc = crc;
        CHECK_STREQ(find(&dirs, &nobid), "error No such file or directory", "a debuglink with a '/' is refused");

        /* an absolute symlink in the root resolves inside the root */
        sh("rm -f %s && mkdir -p %s/root/usr/lib/debug/real && cp %s/prog.debug %s/root/usr/lib/debug/real/p.debug "
           "&& ln -s /usr/lib/debug/real/p.debug %s",
           order_copy[0], T, T, T, order_copy[0]);
        CHECK_STREQ(find(&dirs, &q), order_copy[0], "absolute symlink under root resolved in the root");

        /* a FIFO at a candidate path neither blocks nor is accepted */
        sh("rm -f %s && mkfifo %s", order_copy[0], order_copy[0]);
        alarm(20);
        CHECK_STREQ(find(&dirs, &q), order_copy[7], "FIFO skipped without blocking");
        alarm(0);

        /* without a root, every path is cprof's own */
        struct debug_query host = q;
        char host_bin[1024];
        snprintf(host_bin, sizeof(host_bin), "%s/root/usr/bin/prog", T);
        host.root = NULL;
        host.binary_path = host_bin;
        sh("cp %s/prog.debug %s/root/usr/bin/.debug/prog.debug", T, T);
        CHECK_STREQ(find(&dirs, &host), P("/root/usr/bin/.debug/prog.debug"), "no root: BINDIR/.debug on the host");
}

/* The binary is never its own debug file, though its build-id matches. */
static void test_not_itself(void) {
        uint8_t bid[64];
        char name[256];
        uint32_t crc = 0;

        sh("mkdir -p %s/self %s/sroot/usr/bin/.debug %s/sroot/usr/lib/debug/usr/bin", T, T, T);
        if (sh("objcopy --only-keep-debug %s/prog %s/self/prog", T, T) ||
            sh("objcopy --strip-debug --add-gnu-debuglink=%s/self/prog %s/prog %s/sroot/usr/bin/prog", T, T, T)) {
                CHECK(false, "building the self-named binary");
                return;
        }
        size_t bid_len = read_build_id(P("/sroot/usr/bin/prog"), bid);
        CHECK(read_link(P("/sroot/usr/bin/prog"), name, sizeof(name), &crc) == 0 && strcmp(name, "prog") == 0,
              "debuglink names the binary's own file name");
        char root[1024];
        snprintf(root, sizeof(root), "%s/sroot", T);
        struct debug_query q = {
                .root = root, .binary_path = "/usr/bin/prog", .build_id = bid, .build_id_len = bid_len,
                .debuglink = "prog", .debuglink_crc = crc,
        };
        CHECK_STREQ(find(NULL, &q), "error No such file or directory", "BINDIR/prog (the binary) is not accepted");
        /* a hard link of the binary elsewhere is the same file */
        sh("ln %s/sroot/usr/bin/prog %s/sroot/usr/bin/.debug/prog", T, T);
        sh("cp %s/self/prog %s/sroot/usr/lib/debug/usr/bin/prog", T, T);
        CHECK_STREQ(find(NULL, &q), P("/sroot/usr/lib/debug/usr/bin/prog"), "hard link of the binary skipped");
        struct stat st;
        CHECK(stat(P("/sroot/usr/bin/prog"), &st) == 0, "stat binary");
        q.binary_st = &st;
        q.binary_path = "/usr/bin/prog";
        CHECK_STREQ(find(NULL, &q), P("/sroot/usr/lib/debug/usr/bin/prog"), "identity from binary_st");
}

/* The host's /usr/lib/debug serves a process under a root too, after the
 * root's own: libc6-dbg (a test dependency) has the host libc's file. */
static void test_host_system_dir(void) {
        const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
        uint8_t bid[64];
        size_t len = read_build_id(libc, bid);
        char want[256], hex[130];
        size_t n = (size_t) snprintf(hex, sizeof(hex), "%02x/", bid[0]);
        for (size_t i = 1; i < len; i++)
                n += (size_t) snprintf(hex + n, sizeof(hex) - n, "%02x", bid[i]);
        snprintf(want, sizeof(want), "/usr/lib/debug/.build-id/%s.debug", hex);
        CHECK(len > 0 && access(want, R_OK) == 0, "host libc's debug file at %s (apt install libc6-dbg)", want);

        /* a decoy in the root's /usr/lib/debug is passed over */
        sh("mkdir -p %s/lroot/usr/lib/debug/.build-id/%.2s && cp %s/other.debug %s/lroot/usr/lib/debug/.build-id/%s.debug",
           T, hex, T, T, hex);
        char root[1024];
        snprintf(root, sizeof(root), "%s/lroot", T);
        struct debug_query q = { .root = root, .binary_path = libc, .build_id = bid, .build_id_len = len };
        CHECK_STREQ(find(NULL, &q), want, "root's decoy skipped, host /usr/lib/debug found");
        /* and the root's own comes first when it matches */
        sh("cp %s %s/lroot/usr/lib/debug/.build-id/%s.debug", want, T, hex);
        char in_root[1400];
        snprintf(in_root, sizeof(in_root), "%s%s", root, want);
        CHECK_STREQ(find(NULL, &q), in_root, "root's /usr/lib/debug before the host's");
}

/* Binaries without a build-id: CRC only. */
static void test_crc_only(void) {
        uint8_t bid[64];
        char name[256];
        uint32_t crc = 0;

        sh("mkdir -p %s/nroot/usr/bin/.debug", T);
        if (build("nb", 5, "-Wl,--build-id=none") || build("nb2", 6, "-Wl,--build-id=none") ||
            sh("objcopy --only-keep-debug %s/nb %s/nb.debug", T, T) ||
            sh("objcopy --only-keep-debug %s/nb2 %s/nb2.debug", T, T) ||
            sh("objcopy --strip-debug --add-gnu-debuglink=%s/nb.debug %s/nb %s/nroot/usr/bin/nb", T, T, T)) {
                CHECK(false, "building the build-id-less binaries");
                return;
        }
        CHECK(read_build_id(P("/nroot/usr/bin/nb"), bid) == 0, "no build-id in the binary");
        CHECK(read_link(P("/nroot/usr/bin/nb"), name, sizeof(name), &crc) == 0, "debuglink read");
        sh("cp %s/nb2.debug %s/nroot/usr/bin/nb.debug", T, T);
        sh("cp %s/nb.debug %s/nroot/usr/bin/.debug/nb.debug && printf x >> %s/nroot/usr/bin/.debug/nb.debug", T, T, T);
        char root[1024];
        snprintf(root, sizeof(root), "%s/nroot", T);
        struct debug_query q = { .root = root, .binary_path = "/usr/bin/nb", .debuglink = name, .debuglink_crc = crc };
        CHECK_STREQ(find(NULL, &q), "error No such file or directory", "other build's file and a modified copy rejected");
        sh("cp %s/nb.debug %s/nroot/usr/bin/.debug/nb.debug", T, T);
        CHECK_STREQ(find(NULL, &q), P("/nroot/usr/bin/.debug/nb.debug"), "the right file is found by CRC");
}

/* A .gnu_debuglink section whose name holds a path. */
static void test_bad_debuglink(void) {
        static const char content[] = "../x\0\0\0\0\1\2\3\4";
        int fd = open(P("/badlink.bin"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        CHECK(fd >= 0 && write(fd, content, sizeof(content) - 1) == (ssize_t) sizeof(content) - 1, "write section");
        if (fd >= 0)
                close(fd);
        sh("objcopy --add-section .gnu_debuglink=%s/badlink.bin %s/prog %s/badlink", T, T, T);
        char name[256];
        uint32_t crc;
        CHECK(read_link(P("/badlink"), name, sizeof(name), &crc) == -EBADMSG, "debuglink with '/': -EBADMSG");
        sh("printf 'abc' > %s/short.bin && objcopy --add-section .gnu_debuglink=%s/short.bin %s/prog %s/shortlink", T,
           T, T, T);
        CHECK(read_link(P("/shortlink"), name, sizeof(name), &crc) == -EBADMSG, "truncated debuglink: -EBADMSG");
}

static bool symtab_has(Elf *e, const char *want, bool *ret_local) {
        Elf_Scn *scn = NULL;
        while ((scn = elf_nextscn(e, scn))) {
                GElf_Shdr sh_;
                if (!gelf_getshdr(scn, &sh_) || sh_.sh_type != SHT_SYMTAB || !sh_.sh_entsize)
                        continue;
                Elf_Data *d = elf_getdata(scn, NULL);
                for (size_t i = 0; d && i < sh_.sh_size / sh_.sh_entsize; i++) {
                        GElf_Sym s;
                        const char *n;
                        if (gelf_getsym(d, (int) i, &s) && (n = elf_strptr(e, sh_.sh_link, s.st_name)) &&
                            strcmp(n, want) == 0) {
                                *ret_local = GELF_ST_BIND(s.st_info) == STB_LOCAL &&
                                             GELF_ST_TYPE(s.st_info) == STT_FUNC;
                                return true;
                        }
                }
        }
        return false;
}

static bool has_section(Elf *e, const char *want) {
        size_t shstrndx;
        Elf_Scn *scn = NULL;
        if (elf_getshdrstrndx(e, &shstrndx) < 0)
                return false;
        while ((scn = elf_nextscn(e, scn))) {
                GElf_Shdr s;
                const char *n;
                if (gelf_getshdr(scn, &s) && (n = elf_strptr(e, shstrndx, s.sh_name)) && strcmp(n, want) == 0)
                        return true;
        }
        return false;
}

static int open_elf(const char *path, int *ret_fd, Elf **ret_elf) {
        *ret_fd = open(path, O_RDONLY | O_CLOEXEC);
        *ret_elf = *ret_fd >= 0 ? elf_begin(*ret_fd, ELF_C_READ, NULL) : NULL;
        return *ret_elf ? 0 : -1;
}

static void close_elf(int fd, Elf *e) {
        if (e)
                elf_end(e);
        if (fd >= 0)
                close(fd);
}

static void test_minidebuginfo(void) {
        /* Fedora's recipe (find-debuginfo's add_minidebug), by hand */
        int r = sh("cd %s && gcc -g -O1 -DVARIANT=7 -o mdi prog.c && "
                   "nm -D mdi --format=posix --defined-only | awk '{ print $1 }' | sort > dynsyms && "
                   "nm mdi --format=posix --defined-only | awk '{ if ($2 == \"T\" || $2 == \"t\") print $1 }' "
                   "| sort > funcsyms && "
                   "comm -13 dynsyms funcsyms > keep_symbols && "
                   "objcopy --only-keep-debug mdi mdi.dbg && "
                   "objcopy -S --remove-section .gdb_index --remove-section .comment "
                   "--keep-symbols=keep_symbols mdi.dbg mini_debuginfo && "
                   "xz -f mini_debuginfo && "
                   "strip --strip-all -o mdi.stripped mdi && "
                   "objcopy --add-section .gnu_debugdata=mini_debuginfo.xz mdi.stripped mdi.final && "
                   "printf 'not xz at all' > junk && objcopy --add-section .gnu_debugdata=junk mdi.stripped mdi.junk && "
                   "printf 'plain text' | xz > notelf.xz && "
                   "objcopy --add-section .gnu_debugdata=notelf.xz mdi.stripped mdi.notelf",
                   T);
        CHECK(r == 0, "MiniDebugInfo binary built");
        if (r)
                return;

        int fd;
        Elf *e, *mini = NULL;
        void *image = NULL;
        bool local = false;

        CHECK(open_elf(P("/mdi.final"), &fd, &e) == 0, "open MiniDebugInfo binary");
        CHECK(!symtab_has(e, "local_helper", &local) && !has_section(e, ".symtab"), "the binary has no .symtab");
        r = minidebuginfo_open(e, &mini, &image);
        CHECK(r == 0, "minidebuginfo_open: %d", r);
        if (r == 0) {
                CHECK(symtab_has(mini, "local_helper", &local) && local, "local_helper is a local function");
                CHECK(symtab_has(mini, "local_second", &local) && local, "local_second is a local function");
                CHECK(!symtab_has(mini, "printf", &local), "imports are not in it");
                elf_end(mini);
                free(image);
        }
        /* an output limit below the image is refused */
        Elf_Scn *scn = NULL;
        size_t shstrndx;
        elf_getshdrstrndx(e, &shstrndx);
        while ((scn = elf_nextscn(e, scn))) {
                GElf_Shdr s;
                gelf_getshdr(scn, &s);
                if (strcmp(elf_strptr(e, shstrndx, s.sh_name), ".gnu_debugdata") == 0)
                        break;
        }
        Elf_Data *d = scn ? elf_rawdata(scn, NULL) : NULL;
        mini = NULL;
        CHECK(d && minidebuginfo_decompress(d->d_buf, d->d_size, 1024, &mini, &image) == -EFBIG && !mini,
              "output over the limit: -EFBIG");
        if (d)
                CHECK(minidebuginfo_decompress(d->d_buf, d->d_size / 2, MINIDEBUGINFO_MAX_IMAGE, &mini, &image) ==
                              -EBADMSG,
                      "truncated xz: -EBADMSG");
        close_elf(fd, e);

        CHECK(open_elf(P("/mdi.stripped"), &fd, &e) == 0, "open stripped binary");
        CHECK(minidebuginfo_open(e, &mini, &image) == -ENOENT, "no .gnu_debugdata: -ENOENT");
        close_elf(fd, e);
        CHECK(open_elf(P("/mdi.junk"), &fd, &e) == 0, "open junk binary");
        CHECK(minidebuginfo_open(e, &mini, &image) == -EBADMSG, "not xz: -EBADMSG");
        close_elf(fd, e);
        CHECK(open_elf(P("/mdi.notelf"), &fd, &e) == 0, "open not-ELF binary");
        CHECK(minidebuginfo_open(e, &mini, &image) == -EBADMSG, "xz of text: -EBADMSG");
        close_elf(fd, e);
}

int main(void) {
        elf_version(EV_CURRENT);
        if (!mkdtemp(T)) {
                CHECK(false, "mkdtemp");
                return tap_done();
        }
        FILE *f = fopen(P("/prog.c"), "w");
        CHECK(f && fputs(prog_c, f) >= 0 && fclose(f) == 0, "write prog.c");

        test_search_order();
        test_not_itself();
        test_host_system_dir();
        test_crc_only();
        test_bad_debuglink();
        test_minidebuginfo();

        sh("rm -rf %s", T);
        return tap_done();
}
