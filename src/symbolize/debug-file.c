/* Separate debug files: the search order and the checks are described in
 * debug-file.h. */
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include "symbolize/debug-file.h"
#include "util/cleanup.h"

#define SYSTEM_DEBUG_DIR "/usr/lib/debug"

struct search {
        const struct debug_query *q;
        const char *root; /* NULL when the target's filesystem is cprof's */
        int root_fd;      /* O_PATH of root, or -1 */
        bool have_self;
        dev_t self_dev;
        ino_t self_ino;
        int fd;           /* the accepted file */
        char *path;
};

static void elf_endp(Elf **e) {
        if (*e)
                elf_end(*e);
}
#define _cleanup_elf_ _cleanup_(elf_endp)

static int open_flags(void) {
        /* O_NONBLOCK: a FIFO planted at a candidate path must not block the
         * open; it is rejected as not a regular file right after. */
        return O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
}

/* Opens path (absolute, as seen from root or from cprof when root is
 * NULL) as a regular file. -errno. */
static int open_regular(const struct search *s, const char *path, bool in_root) {
        _cleanup_close_ int fd = -1;

        if (in_root && s->root) {
                if (s->root_fd < 0)
                        return -ENOENT;
                struct open_how how = {
                        .flags = (uint64_t) open_flags(),
                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                };
                fd = (int) syscall(SYS_openat2, s->root_fd, path, &how, sizeof(how));
                if (fd < 0 && errno == ENOSYS) {
                        /* before 5.6: plain concatenation (absolute symlinks
                         * then resolve on cprof's side) */
                        _cleanup_free_ char *full = NULL;
                        if (asprintf(&full, "%s%s", s->root, path) < 0)
                                return -ENOMEM;
                        fd = open(full, open_flags());
                }
        } else
                fd = open(path, open_flags());
        if (fd < 0)
                return -errno;

        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -ENOENT;
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int debug_file_crc32(int fd, uint32_t *ret_crc) {
        uint8_t buf[64 * 1024];
        uLong crc = crc32(0L, Z_NULL, 0);
        off_t off = 0;

        for (;;) {
                ssize_t n = pread(fd, buf, sizeof(buf), off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                crc = crc32(crc, buf, (uInt) n);
                off += n;
        }
        *ret_crc = (uint32_t) crc;
        return 0;
}

/* Does the file behind fd match the binary? See debug-file.h. */
static bool matches(const struct search *s, int fd) {
        const struct debug_query *q = s->q;
        struct stat st;

        if (fstat(fd, &st) < 0)
                return false;
        if (s->have_self && st.st_dev == s->self_dev && st.st_ino == s->self_ino)
                return false;

        _cleanup_elf_ Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
        if (!elf || elf_kind(elf) != ELF_K_ELF)
                return false;

        const void *bid = NULL;
        ssize_t bid_len = dwelf_elf_gnu_build_id(elf, &bid);
        if (q->build_id_len > 0 && bid_len > 0)
                return (size_t) bid_len == q->build_id_len && memcmp(bid, q->build_id, q->build_id_len) == 0;
        if (!q->debuglink)
                return false;
        uint32_t crc;
        return debug_file_crc32(fd, &crc) == 0 && crc == q->debuglink_crc;
}

/* Tries one candidate. 1 when accepted (s->fd, s->path set), 0 when not,
 * -ENOMEM. */
static int try_candidate(struct search *s, const char *path, bool in_root) {
        const struct debug_query *q = s->q;

        /* the binary's own path, whatever its inode says */
        if ((in_root || !s->root) && q->binary_path && strcmp(path, q->binary_path) == 0)
                return 0;

        _cleanup_close_ int fd = open_regular(s, path, in_root);
        if (fd < 0)
                return fd == -ENOMEM ? -ENOMEM : 0;
        if (!matches(s, fd))
                return 0;

        _cleanup_free_ char *full = NULL;
        if (asprintf(&full, "%s%s", in_root && s->root ? s->root : "", path) < 0)
                return -ENOMEM;
        s->fd = TAKE_FD(fd);
        s->path = TAKE_PTR(full);
        return 1;
}

/* Tries DIR + suffix for one debug directory: /usr/lib/debug under the
 * root, then on the host; any other directory on the host only. */
static int try_in_dir(struct search *s, const char *dir, const char *suffix) {
        _cleanup_free_ char *path = NULL;
        size_t dl = strlen(dir);
        int r;

        while (dl > 1 && dir[dl - 1] == '/')
                dl--;
        if (asprintf(&path, "%.*s%s", (int) dl, dir, suffix) < 0)
                return -ENOMEM;
        if (strcmp(dir, SYSTEM_DEBUG_DIR) == 0 && s->root) {
                r = try_candidate(s, path, true);
                if (r != 0)
                        return r;
        }
        return try_candidate(s, path, false);
}

static bool same_dir(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        while (la > 1 && a[la - 1] == '/')
                la--;
        while (lb > 1 && b[lb - 1] == '/')
                lb--;
        return la == lb && memcmp(a, b, la) == 0;
}

/* Calls try_in_dir for /usr/lib/debug and then every extra directory. */
static int try_all_dirs(struct search *s, const struct debug_dirs *dirs, const char *suffix) {
        int r = try_in_dir(s, SYSTEM_DEBUG_DIR, suffix);
        for (size_t i = 0; r == 0 && dirs && i < dirs->n; i++) {
                const char *d = dirs->dirs[i];
                if (!d || d[0] != '/' || same_dir(d, SYSTEM_DEBUG_DIR))
                        continue;
                r = try_in_dir(s, d, suffix);
        }
        return r;
}

static int search_build_id(struct search *s, const struct debug_dirs *dirs) {
        const struct debug_query *q = s->q;
        /* .build-id/NN/REST.debug needs a byte for NN and one for REST */
        if (!q->build_id || q->build_id_len < 2 || q->build_id_len > 64)
                return 0;

        char suffix[sizeof("/.build-id/") + 3 + 2 * 64 + sizeof(".debug")];
        size_t n = (size_t) snprintf(suffix, sizeof(suffix), "/.build-id/%02x/", q->build_id[0]);
        for (size_t i = 1; i < q->build_id_len; i++)
                n += (size_t) snprintf(suffix + n, sizeof(suffix) - n, "%02x", q->build_id[i]);
        snprintf(suffix + n, sizeof(suffix) - n, ".debug");
        return try_all_dirs(s, dirs, suffix);
}

static int search_debuglink(struct search *s, const struct debug_dirs *dirs) {
        const struct debug_query *q = s->q;
        if (!q->debuglink || !q->debuglink[0] || strchr(q->debuglink, '/') || !q->binary_path ||
            q->binary_path[0] != '/')
                return 0;

        const char *slash = strrchr(q->binary_path, '/');
        int bindir_len = (int) (slash - q->binary_path); /* 0 for "/gzip" */
        /* BINDIR/NAME: beside the binary, and the suffix of DIR/BINDIR/NAME */
        _cleanup_free_ char *beside = NULL, *dotdebug = NULL;
        if (asprintf(&beside, "%.*s/%s", bindir_len, q->binary_path, q->debuglink) < 0 ||
            asprintf(&dotdebug, "%.*s/.debug/%s", bindir_len, q->binary_path, q->debuglink) < 0)
                return -ENOMEM;
        int r = try_candidate(s, beside, true);
        if (r != 0)
                return r;
        r = try_candidate(s, dotdebug, true);
        if (r != 0)
                return r;
        return try_all_dirs(s, dirs, beside);
}

int debug_file_find(const struct debug_dirs *dirs, const struct debug_query *q, int *ret_fd, char **ret_path) {
        struct search s = { .q = q, .root_fd = -1, .fd = -1 };
        int r;

        if (elf_version(EV_CURRENT) == EV_NONE)
                return -EINVAL;
        if (q->root && q->root[0] && strcmp(q->root, "/") != 0) {
                s.root = q->root;
                s.root_fd = open(q->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        }

        if (q->binary_st) {
                s.have_self = true;
                s.self_dev = q->binary_st->st_dev;
                s.self_ino = q->binary_st->st_ino;
        } else if (q->binary_path && q->binary_path[0] == '/') {
                int fd = open_regular(&s, q->binary_path, true);
                struct stat st;
                if (fd >= 0 && fstat(fd, &st) == 0) {
                        s.have_self = true;
                        s.self_dev = st.st_dev;
                        s.self_ino = st.st_ino;
                }
                if (fd >= 0)
                        close(fd);
        }

        r = search_build_id(&s, dirs);
        if (r == 0)
                r = search_debuglink(&s, dirs);
        if (s.root_fd >= 0)
                close(s.root_fd);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;

        *ret_fd = s.fd;
        if (ret_path)
                *ret_path = s.path;
        else
                free(s.path);
        return 0;
}

int debug_file_read_debuglink(Elf *elf, const char **ret_name, uint32_t *ret_crc) {
        size_t shstrndx;
        Elf_Scn *scn = NULL;

        if (!elf || elf_getshdrstrndx(elf, &shstrndx) < 0)
                return -EBADMSG;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr shdr;
                if (!gelf_getshdr(scn, &shdr))
                        return -EBADMSG;
                const char *name = elf_strptr(elf, shstrndx, shdr.sh_name);
                if (name && strcmp(name, ".gnu_debuglink") == 0)
                        break;
        }
        if (!scn)
                return -ENOENT;

        Elf_Data *d = elf_getdata(scn, NULL);
        if (!d || !d->d_buf || d->d_size < 8)
                return -EBADMSG;
        /* name, NUL, padding to 4 bytes, then the CRC in the file's byte
         * order (the last 4 bytes) */
        const char *buf = d->d_buf;
        size_t name_max = d->d_size - 4;
        const char *nul = memchr(buf, '\0', name_max);
        if (!nul || nul == buf || memchr(buf, '/', (size_t) (nul - buf)))
                return -EBADMSG;
        size_t crc_off = ((size_t) (nul - buf) + 1 + 3) & ~(size_t) 3;
        if (crc_off + 4 > d->d_size)
                return -EBADMSG;

        uint32_t crc;
        Elf_Data src = { .d_buf = (void *) (buf + crc_off), .d_size = 4, .d_type = ELF_T_WORD,
                         .d_version = EV_CURRENT };
        Elf_Data dst = { .d_buf = &crc, .d_size = 4, .d_type = ELF_T_WORD, .d_version = EV_CURRENT };
        GElf_Ehdr eh;
        if (!gelf_getehdr(elf, &eh) || !gelf_xlatetom(elf, &dst, &src, eh.e_ident[EI_DATA]))
                return -EBADMSG;
        *ret_name = buf;
        *ret_crc = crc;
        return 0;
}
