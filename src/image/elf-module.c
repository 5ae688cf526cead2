#include "image/elf-module.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>

#include "image/debug-sections.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/vec.h"

/* A function symbol, compact: a libxul-class table has a million. */
struct elf_sym {
        uint64_t addr;
        uint32_t size; /* sized symbols: st_size; size-0 ones: up to the next */
        uint32_t name; /* offset in the string table */
};

/* A PLT stub named after the symbol its GOT slot is relocated against
 * ("puts@plt"): no symbol table covers .plt, yet unwinding through CFI
 * keeps the frame of a sample taken inside a stub. */
struct elf_plt {
        uint64_t addr;
        uint32_t size;
        uint32_t name; /* offset in plt_names */
};

struct elf_segment {
        uint64_t offset, vaddr, filesz;
};

struct elf_module {
        Elf *elf;
        void *image; /* our copy of an in-memory ELF, NULL for files */
        bool fixed;
        uint8_t build_id[ELF_BUILD_ID_MAX];
        size_t build_id_len;
        VEC(struct elf_segment) loads;

        struct elf_module *debug; /* owned; where symbols come from first */
        bool syms_read;
        VEC(struct elf_sym) syms; /* sorted by addr, one per address */
        const char *strtab;
        size_t strtab_size;
        VEC(struct elf_plt) plt; /* sorted by addr, from m->elf only */
        VEC(char) plt_names;     /* "NAME@plt\0" strings, owned */

        bool dwarf_ready;
        struct debug_sections dsec; /* freed after elf */
};

static bool libelf_ready(void) {
        static int state; /* 0 unknown, 1 ok, -1 failed */
        if (state == 0)
                state = elf_version(EV_CURRENT) == EV_NONE ? -1 : 1;
        return state > 0;
}

/* Looks for NT_GNU_BUILD_ID in a block of notes. */
static bool find_build_id(struct elf_module *m, Elf_Data *data) {
        GElf_Nhdr nh;
        size_t off = 0, name_off, desc_off, next;

        if (!data || !data->d_buf)
                return false;
        while (off < data->d_size &&
               (next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
                if (next <= off)
                        break;
                if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && nh.n_descsz > 0 &&
                    nh.n_descsz <= ELF_BUILD_ID_MAX && name_off + 4 <= data->d_size &&
                    desc_off + nh.n_descsz <= data->d_size &&
                    memcmp((const char *) data->d_buf + name_off, "GNU", 4) == 0) {
                        memcpy(m->build_id, (const char *) data->d_buf + desc_off, nh.n_descsz);
                        m->build_id_len = nh.n_descsz;
                        return true;
                }
                off = next;
        }
        return false;
}

static void read_build_id(struct elf_module *m) {
        Elf_Scn *scn = NULL;
        size_t n;

        while ((scn = elf_nextscn(m->elf, scn))) {
                GElf_Shdr sh;
                if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE &&
                    find_build_id(m, elf_getdata(scn, NULL)))
                        return;
        }
        /* without section headers (stripped hard), the program headers */
        if (elf_getphdrnum(m->elf, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                GElf_Phdr ph;
                if (!gelf_getphdr(m->elf, (int) i, &ph) || ph.p_type != PT_NOTE)
                        continue;
                Elf_Data *d = elf_getdata_rawchunk(m->elf, (int64_t) ph.p_offset, ph.p_filesz,
                                                   ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
                if (find_build_id(m, d))
                        return;
        }
}

static int module_init(struct elf_module *m) {
        GElf_Ehdr eh;
        size_t n;

        if (elf_kind(m->elf) != ELF_K_ELF || !gelf_getehdr(m->elf, &eh))
                return -EBADMSG;
        m->fixed = eh.e_type == ET_EXEC;
        if (elf_getphdrnum(m->elf, &n) == 0)
                for (size_t i = 0; i < n && i < 65536; i++) {
                        GElf_Phdr ph;
                        if (!gelf_getphdr(m->elf, (int) i, &ph) || ph.p_type != PT_LOAD ||
                            ph.p_filesz == 0)
                                continue;
                        struct elf_segment seg = { ph.p_offset, ph.p_vaddr, ph.p_filesz };
                        if (vec_push(&m->loads, seg) < 0)
                                return -ENOMEM;
                }
        read_build_id(m);
        return 0;
}

int elf_module_open_fd(int fd, struct elf_module **ret) {
        struct elf_module *m;
        int r;

        if (!libelf_ready())
                return -EINVAL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
        /* Read everything now (a no-op when mapped) and let go of the fd
         * (FDREAD implies FDDONE): a daemon sees thousands of modules. */
        if (!m->elf || elf_cntl(m->elf, ELF_C_FDREAD) < 0) {
                log_debug("elf: cannot read: %s", elf_errmsg(-1));
                elf_module_free(m);
                return -EBADMSG;
        }
        r = module_init(m);
        if (r < 0) {
                elf_module_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

int elf_module_from_memory(const void *data, size_t len, struct elf_module **ret) {
        struct elf_module *m;
        int r;

        if (!libelf_ready())
                return -EINVAL;
        if (len == 0)
                return -EBADMSG;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        /* libelf may convert data in place in a private image; the caller's
         * (the read-only vDSO) must stay untouched */
        m->image = malloc(len);
        if (!m->image) {
                free(m);
                return -ENOMEM;
        }
        memcpy(m->image, data, len);
        m->elf = elf_memory(m->image, len);
        if (!m->elf) {
                elf_module_free(m);
                return -EBADMSG;
        }
        r = module_init(m);
        if (r < 0) {
                elf_module_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

struct elf_module *elf_module_free(struct elf_module *m) {
        if (!m)
                return NULL;
        elf_module_free(m->debug);
        vec_free(&m->syms);
        vec_free(&m->plt);
        vec_free(&m->plt_names);
        vec_free(&m->loads);
        if (m->elf)
                elf_end(m->elf);
        debug_sections_release(&m->dsec);
        free(m->image);
        free(m);
        return NULL;
}

const uint8_t *elf_module_build_id(const struct elf_module *m, size_t *ret_len) {
        *ret_len = m->build_id_len;
        return m->build_id_len ? m->build_id : NULL;
}

bool elf_module_is_fixed(const struct elf_module *m) {
        return m->fixed;
}

int elf_module_offset_to_vaddr(const struct elf_module *m, uint64_t offset, uint64_t *ret_vaddr) {
        for (size_t i = 0; i < m->loads.n; i++) {
                const struct elf_segment *s = &m->loads.v[i];
                if (offset >= s->offset && offset - s->offset < s->filesz) {
                        *ret_vaddr = offset - s->offset + s->vaddr;
                        return 0;
                }
        }
        return -ENOENT;
}

/* Symbol reading. */

struct section_info {
        uint64_t addr, end;
        bool exec;
};

struct sym_tmp {
        uint64_t addr, size, sec_end;
        uint32_t name;
        uint8_t bind;
};

static unsigned leading_underscores(const char *s) {
        unsigned n = 0;
        while (s[n] == '_' && n < 8)
                n++;
        return n;
}

static unsigned bind_rank(uint8_t bind) {
        return bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
}

/* By address; among aliases of one address the name a person would pick
 * first (memcpy over __memcpy_avx_unaligned): sized, global, fewer
 * leading underscores, then by name so the choice is stable. */
static int sym_tmp_cmp(const void *a, const void *b, void *ctx) {
        const struct sym_tmp *x = a, *y = b;
        const char *strtab = ctx;

        if (x->addr != y->addr)
                return x->addr < y->addr ? -1 : 1;
        if ((x->size == 0) != (y->size == 0))
                return x->size == 0 ? 1 : -1;
        if (bind_rank(x->bind) != bind_rank(y->bind))
                return bind_rank(x->bind) < bind_rank(y->bind) ? -1 : 1;
        unsigned ux = leading_underscores(strtab + x->name), uy = leading_underscores(strtab + y->name);
        if (ux != uy)
                return ux < uy ? -1 : 1;
        return strcmp(strtab + x->name, strtab + y->name);
}

static int read_sections(Elf *elf, struct section_info **ret, size_t *ret_n) {
        size_t n;
        Elf_Scn *scn = NULL;

        if (elf_getshdrnum(elf, &n) < 0 || n == 0 || n > (1u << 20))
                return -EBADMSG;
        struct section_info *info = calloc(n, sizeof(*info));
        if (!info)
                return -ENOMEM;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                size_t i = elf_ndxscn(scn);
                if (i >= n || !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC))
                        continue;
                info[i].addr = sh.sh_addr;
                info[i].end = sh.sh_addr + sh.sh_size < sh.sh_addr ? UINT64_MAX : sh.sh_addr + sh.sh_size;
                info[i].exec = sh.sh_flags & SHF_EXECINSTR;
        }
        *ret = info;
        *ret_n = n;
        return 0;
}

/* Reads the function symbols of one symbol table section into m. Returns
 * how many were kept. */
static int read_symtab(struct elf_module *m, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
                       const struct section_info *sec, size_t n_sec) {
        VEC(struct sym_tmp) tmp = {};
        Elf_Data *data, *strdata;
        Elf_Scn *strscn;
        GElf_Shdr strsh;
        size_t entsize, strsize;
        const char *strtab;

        if (sh->sh_link == 0 || sh->sh_link >= n_sec)
                return 0;
        strscn = elf_getscn(elf, sh->sh_link);
        if (!strscn || !gelf_getshdr(strscn, &strsh) || strsh.sh_type != SHT_STRTAB)
                return 0;
        strdata = elf_getdata(strscn, NULL);
        data = elf_getdata(scn, NULL);
        entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
        if (!strdata || !strdata->d_buf || strdata->d_size == 0 || !data || entsize == 0)
                return 0;
        /* Every name must end inside the table: only offsets before the
         * last NUL are accepted. */
        strtab = strdata->d_buf;
        strsize = strdata->d_size;
        while (strsize > 0 && strtab[strsize - 1] != '\0')
                strsize--;
        if (strsize == 0 || strsize > UINT32_MAX)
                return 0;
        GElf_Ehdr eh;
        uint64_t entry = gelf_getehdr(elf, &eh) ? eh.e_entry : 0;

        size_t count = data->d_size / entsize;
        for (size_t i = 0; i < count && i <= INT32_MAX; i++) {
                GElf_Sym s;
                if (!gelf_getsym(data, (int) i, &s))
                        break;
                unsigned type = GELF_ST_TYPE(s.st_info);
                if (s.st_shndx == SHN_UNDEF || s.st_shndx >= n_sec || s.st_name == 0 ||
                    s.st_name >= strsize || strtab[s.st_name] == '\0')
                        continue;
                const struct section_info *si = &sec[s.st_shndx];
                if (type == STT_FUNC || type == STT_GNU_IFUNC)
                        ;
                else if (type == STT_NOTYPE && s.st_size > 0 && si->exec)
                        ; /* assembly without .type, but sized and in code */
                else if (type == STT_NOTYPE && entry && s.st_value == entry && si->exec)
                        ; /* the entry point's label: ld.so's _start, the root
                           * of every stack sampled while it loads a program */
                else
                        continue;
                struct sym_tmp t = {
                        .addr = s.st_value,
                        .size = s.st_size,
                        .sec_end = si->end,
                        .name = (uint32_t) s.st_name,
                        .bind = GELF_ST_BIND(s.st_info),
                };
                if (vec_push(&tmp, t) < 0) {
                        vec_free(&tmp);
                        return -ENOMEM;
                }
        }
        if (tmp.n == 0) {
                vec_free(&tmp);
                return 0;
        }

        qsort_r(tmp.v, tmp.n, sizeof(*tmp.v), sym_tmp_cmp, (void *) strtab);

        /* One symbol per address; size-0 ones reach the next symbol, but
         * not past their section (else _init would swallow the PLT). */
        size_t k = 0;
        for (size_t i = 0; i < tmp.n; i++)
                if (k == 0 || tmp.v[i].addr != tmp.v[k - 1].addr)
                        tmp.v[k++] = tmp.v[i];
        tmp.n = k;
        if (vec_reserve(&m->syms, tmp.n) < 0) {
                vec_free(&tmp);
                return -ENOMEM;
        }
        for (size_t i = 0; i < tmp.n; i++) {
                struct sym_tmp *t = &tmp.v[i];
                uint64_t size = t->size;
                if (size == 0) {
                        uint64_t end = t->sec_end;
                        if (i + 1 < tmp.n && tmp.v[i + 1].addr < end)
                                end = tmp.v[i + 1].addr;
                        size = end > t->addr ? end - t->addr : 0;
                }
                if (size == 0)
                        continue;
                m->syms.v[m->syms.n++] = (struct elf_sym) {
                        .addr = t->addr,
                        .size = size > UINT32_MAX ? UINT32_MAX : (uint32_t) size,
                        .name = t->name,
                };
        }
        vec_free(&tmp);
        m->strtab = strtab;
        m->strtab_size = strsize;
        return (int) MIN(m->syms.n, (size_t) INT32_MAX);
}

/* Reads the symbols of elf (m's own file or its debug file) into m.
 * Returns true when some were found. */
static bool read_symbols_of(struct elf_module *m, Elf *elf) {
        _cleanup_free_ struct section_info *sec = NULL;
        size_t n_sec;

        if (read_sections(elf, &sec, &n_sec) < 0)
                return false;
        /* .symtab holds everything .dynsym does and more; .dynsym is what a
         * stripped binary keeps */
        static const GElf_Word order[] = { SHT_SYMTAB, SHT_DYNSYM };
        for (size_t o = 0; o < ELEMENTSOF(order); o++) {
                Elf_Scn *scn = NULL;
                while ((scn = elf_nextscn(elf, scn))) {
                        GElf_Shdr sh;
                        if (!gelf_getshdr(scn, &sh) || sh.sh_type != order[o])
                                continue;
                        int r = read_symtab(m, elf, scn, &sh, sec, n_sec);
                        if (r < 0)
                                log_debug_errno(r, "elf: cannot read symbols, skipping");
                        if (r > 0)
                                return true;
                        m->syms.n = 0;
                }
        }
        return false;
}

/* PLT entries. */

/* A GOT slot that a relocation fills with a symbol's address. */
struct plt_slot {
        uint64_t got;
        const char *name; /* in the mapped .dynstr */
};

/* VEC(struct plt_slot) with a name, to pass it around */
struct plt_slots {
        struct plt_slot *v;
        size_t n, cap;
};

static int plt_slot_cmp(const void *a, const void *b) {
        const struct plt_slot *x = a, *y = b;
        return x->got < y->got ? -1 : x->got > y->got;
}

static int elf_plt_cmp(const void *a, const void *b) {
        const struct elf_plt *x = a, *y = b;
        return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* A string table section, cut after its last NUL so that any offset
 * below *ret_size names a terminated string. */
static const char *string_table(Elf *elf, size_t ndx, size_t *ret_size) {
        Elf_Scn *scn = ndx ? elf_getscn(elf, ndx) : NULL;
        GElf_Shdr sh;
        Elf_Data *d;

        if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_STRTAB || !(d = elf_getdata(scn, NULL)) ||
            !d->d_buf)
                return NULL;
        const char *s = d->d_buf;
        size_t n = d->d_size;
        while (n > 0 && s[n - 1] != '\0')
                n--;
        *ret_size = n;
        return n ? s : NULL;
}

/* The GOT slots of one SHT_RELA section that relocations of `type` fill,
 * named through the dynamic symbol table its sh_link gives. */
static int read_plt_slots(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, unsigned type, size_t n_sec,
                          struct plt_slots *slots) {
        Elf_Scn *symscn = sh->sh_link && sh->sh_link < n_sec ? elf_getscn(elf, sh->sh_link) : NULL;
        GElf_Shdr symsh;
        Elf_Data *rel, *syms;
        size_t strsize, relsize = gelf_fsize(elf, ELF_T_RELA, 1, EV_CURRENT);
        const char *strtab;

        if (!symscn || !gelf_getshdr(symscn, &symsh) || symsh.sh_type != SHT_DYNSYM ||
            symsh.sh_link >= n_sec || !(strtab = string_table(elf, symsh.sh_link, &strsize)) ||
            !(rel = elf_getdata(scn, NULL)) || !rel->d_buf || !(syms = elf_getdata(symscn, NULL)) ||
            relsize == 0)
                return 0;
        for (size_t i = 0; i < rel->d_size / relsize && i <= INT32_MAX; i++) {
                GElf_Rela r;
                GElf_Sym s;
                if (!gelf_getrela(rel, (int) i, &r))
                        break;
                /* gelf_getsym checks the index against the table's size */
                if (GELF_R_TYPE(r.r_info) != type || GELF_R_SYM(r.r_info) == 0 ||
                    GELF_R_SYM(r.r_info) > INT32_MAX || !gelf_getsym(syms, (int) GELF_R_SYM(r.r_info), &s) ||
                    s.st_name == 0 || s.st_name >= strsize || strtab[s.st_name] == '\0')
                        continue;
                struct plt_slot slot = { r.r_offset, strtab + s.st_name };
                if (vec_push(slots, slot) < 0)
                        return -ENOMEM;
        }
        if (slots->n > 1)
                qsort(slots->v, slots->n, sizeof(*slots->v), plt_slot_cmp);
        return 0;
}

static const char *plt_slot_find(const struct plt_slot *v, size_t n, uint64_t got) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (v[mid].got < got)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < n && v[lo].got == got ? v[lo].name : NULL;
}

/* The GOT slot an x86-64 PLT stub jumps through: `jmp *disp32(%rip)`
 * (ff 25), after an optional endbr64 (IBT) and bnd prefix (MPX). The
 * lazy-binding half of an IBT .plt (push, jmp) does not match. */
static bool plt_stub_slot(const uint8_t *p, size_t len, uint64_t addr, uint64_t *ret_got) {
        static const uint8_t endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
        size_t i = 0;
        int32_t disp;

        if (len >= sizeof(endbr64) && memcmp(p, endbr64, sizeof(endbr64)) == 0)
                i = sizeof(endbr64);
        if (i < len && p[i] == 0xf2)
                i++;
        if (len < i + 6 || p[i] != 0xff || p[i + 1] != 0x25)
                return false;
        memcpy(&disp, p + i + 2, sizeof(disp)); /* x86-64 is little-endian, as is the file */
        *ret_got = addr + i + 6 + (uint64_t) (int64_t) disp;
        return true;
}

/* Names the stubs of one PLT section, entsize bytes each from `first`,
 * after the relocation of the GOT slot each one jumps through. */
static int name_plt_stubs(struct elf_module *m, Elf_Scn *scn, const GElf_Shdr *sh, size_t first, size_t entsize,
                          const struct plt_slot *slots, size_t n_slots) {
        Elf_Data *d = elf_getdata(scn, NULL);

        /* a debug file's .plt is NOBITS: no bytes, no stubs */
        if (!d || !d->d_buf || sh->sh_type != SHT_PROGBITS || n_slots == 0)
                return 0;
        size_t size = MIN(d->d_size, sh->sh_size);
        for (size_t off = first; off <= size && size - off >= entsize; off += entsize) {
                uint64_t got;
                const char *name;
                if (!plt_stub_slot((const uint8_t *) d->d_buf + off, entsize, sh->sh_addr + off, &got) ||
                    !(name = plt_slot_find(slots, n_slots, got)))
                        continue;
                size_t len = strlen(name), at = m->plt_names.n;
                if (len > UINT32_MAX - 8 - at)
                        return -E2BIG;
                if (vec_append(&m->plt_names, name, len) < 0 || vec_append(&m->plt_names, "@plt", 5) < 0)
                        return -ENOMEM;
                struct elf_plt e = { sh->sh_addr + off, (uint32_t) entsize, (uint32_t) at };
                if (vec_push(&m->plt, e) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* The stub of .rela.plt's relocation i sits at .plt.sec + 16 * i, or at
 * .plt + 16 * (i + 1) without .plt.sec; rather than trust that layout,
 * every stub is decoded and named after the relocation of the slot it
 * really jumps through (as objdump does), so a stub that does not match
 * its slot is skipped, never misnamed. */
static int read_plt(struct elf_module *m) {
        _cleanup_(vec_freep) struct plt_slots jump = {};
        _cleanup_(vec_freep) struct plt_slots glob = {};
        Elf *elf = m->elf;
        Elf_Scn *scn = NULL, *plt = NULL, *plt_sec = NULL, *plt_got = NULL;
        GElf_Shdr plt_sh, plt_sec_sh, plt_got_sh;
        GElf_Ehdr eh;
        size_t n_sec, shstrndx;
        int r = 0;

        if (!gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64 || elf_getshdrnum(elf, &n_sec) < 0 ||
            n_sec > (1u << 20) || elf_getshdrstrndx(elf, &shstrndx) < 0)
                return 0;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                const char *name;
                if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
                        continue;
                if (sh.sh_type == SHT_RELA && strcmp(name, ".rela.plt") == 0)
                        r = read_plt_slots(elf, scn, &sh, R_X86_64_JUMP_SLOT, n_sec, &jump);
                else if (sh.sh_type == SHT_RELA && strcmp(name, ".rela.dyn") == 0)
                        r = read_plt_slots(elf, scn, &sh, R_X86_64_GLOB_DAT, n_sec, &glob);
                else {
                        if (strcmp(name, ".plt") == 0 && !plt)
                                plt = scn, plt_sh = sh;
                        else if (strcmp(name, ".plt.sec") == 0 && !plt_sec)
                                plt_sec = scn, plt_sec_sh = sh;
                        else if (strcmp(name, ".plt.got") == 0 && !plt_got)
                                plt_got = scn, plt_got_sh = sh;
                        r = 0;
                }
                if (r < 0)
                        return r;
        }
        /* With IBT the stubs that jump are in .plt.sec and .plt only does
         * lazy binding; without, .plt's entry 0 is the resolver's. */
        if (plt_sec)
                r = name_plt_stubs(m, plt_sec, &plt_sec_sh, 0, 16, jump.v, jump.n);
        else if (plt)
                r = name_plt_stubs(m, plt, &plt_sh, 16, 16, jump.v, jump.n);
        if (r >= 0 && plt_got) {
                /* 8-byte entries (jmp, nop), 16 with IBT (endbr64 first) */
                size_t entsize = plt_got_sh.sh_entsize;
                if (entsize != 8 && entsize != 16) {
                        Elf_Data *d = elf_getdata(plt_got, NULL);
                        entsize = d && d->d_buf && d->d_size >= 4 &&
                                  memcmp(d->d_buf, "\xf3\x0f\x1e\xfa", 4) == 0 ? 16 : 8;
                }
                r = name_plt_stubs(m, plt_got, &plt_got_sh, 0, entsize, glob.v, glob.n);
        }
        if (r < 0)
                return r;
        if (m->plt.n > 1)
                qsort(m->plt.v, m->plt.n, sizeof(*m->plt.v), elf_plt_cmp);
        return 0;
}

static void read_symbols(struct elf_module *m) {
        m->syms_read = true;
        /* the stubs' bytes are only in the binary, never in a debug file */
        int r = read_plt(m);
        if (r < 0) {
                log_debug_errno(r, "elf: cannot read the PLT, skipping");
                vec_free(&m->plt);
                vec_free(&m->plt_names);
        }
        if (m->debug && read_symbols_of(m, m->debug->elf))
                return;
        read_symbols_of(m, m->elf);
}

int elf_module_use_symbols_from(struct elf_module *m, struct elf_module *debug) {
        if (m->debug)
                return -EBUSY;
        if (m->build_id_len > 0 && debug->build_id_len > 0 &&
            (m->build_id_len != debug->build_id_len ||
             memcmp(m->build_id, debug->build_id, m->build_id_len) != 0))
                return -ESTALE;
        m->debug = debug;
        vec_free(&m->syms);
        vec_free(&m->plt);
        vec_free(&m->plt_names);
        m->strtab = NULL;
        m->strtab_size = 0;
        m->syms_read = false;
        return 0;
}

struct elf_module *elf_module_debug(const struct elf_module *m) {
        return m->debug;
}

Elf *elf_module_elf(const struct elf_module *m) {
        return m->elf;
}

bool elf_module_has_section(const struct elf_module *m, const char *name) {
        size_t shstrndx;
        Elf_Scn *scn = NULL;

        if (elf_getshdrstrndx(m->elf, &shstrndx) < 0)
                return false;
        while ((scn = elf_nextscn(m->elf, scn))) {
                GElf_Shdr sh;
                const char *n;
                if (gelf_getshdr(scn, &sh) && sh.sh_type != SHT_NOBITS &&
                    (n = elf_strptr(m->elf, shstrndx, sh.sh_name)) && strcmp(n, name) == 0)
                        return true;
        }
        return false;
}

Elf *elf_module_dwarf_elf(struct elf_module *m) {
        if (!m->dwarf_ready) {
                m->dwarf_ready = true;
                int r = debug_sections_inflate(m->elf, &m->dsec);
                if (r < 0)
                        log_debug_errno(r, "elf: cannot inflate the debug sections: %s", strerror(-r));
        }
        return m->elf;
}

size_t elf_module_symbol_count(struct elf_module *m) {
        if (!m->syms_read)
                read_symbols(m);
        return m->syms.n + m->plt.n;
}

/* The PLT stub covering vaddr: stubs never overlap in a sane file, so
 * the nearest one at or below it decides. */
static const char *plt_symbolize(const struct elf_module *m, uint64_t vaddr, uint64_t *ret_start) {
        size_t lo = 0, hi = m->plt.n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (m->plt.v[mid].addr <= vaddr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == 0)
                return NULL;
        const struct elf_plt *e = &m->plt.v[lo - 1];
        if (vaddr - e->addr >= e->size)
                return NULL;
        if (ret_start)
                *ret_start = e->addr;
        return m->plt_names.v + e->name;
}

/* How far back to look for a symbol that covers an address when the
 * nearest one below it does not (a large function around small ones). */
#define COVER_LOOKBACK 32

const char *elf_module_symbolize(struct elf_module *m, uint64_t vaddr, uint64_t *ret_start) {
        const struct elf_sym *s;
        size_t lo = 0, hi;

        if (!m->syms_read)
                read_symbols(m);
        s = m->syms.v;
        hi = m->syms.n;
        /* first symbol above vaddr */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s[mid].addr <= vaddr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (size_t i = lo, steps = 0; i > 0 && steps < COVER_LOOKBACK; i--, steps++) {
                const struct elf_sym *c = &s[i - 1];
                if (vaddr - c->addr < c->size) {
                        if (ret_start)
                                *ret_start = c->addr;
                        return m->strtab + c->name;
                }
        }
        return plt_symbolize(m, vaddr, ret_start);
}

int elf_module_find_dynamic_symbol(const struct elf_module *m, const char *name, uint64_t *ret_vaddr) {
        Elf_Scn *scn = NULL;
        GElf_Shdr sh;

        while ((scn = elf_nextscn(m->elf, scn)))
                if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_DYNSYM)
                        break;
        Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
        size_t strsize;
        const char *str = d ? string_table(m->elf, sh.sh_link, &strsize) : NULL;
        if (!str || sh.sh_entsize != sizeof(Elf64_Sym))
                return -ENOENT;
        size_t n = d->d_size / sizeof(Elf64_Sym);
        for (size_t i = 1; i < n; i++) {
                GElf_Sym s;
                if (!gelf_getsym(d, (int) i, &s) || s.st_name >= strsize || s.st_shndx == SHN_UNDEF)
                        continue;
                if (strcmp(str + s.st_name, name) == 0) {
                        *ret_vaddr = s.st_value;
                        return 0;
                }
        }
        return -ENOENT;
}

int elf_module_read(const struct elf_module *m, uint64_t vaddr, void *buf, size_t len) {
        size_t file_size;
        const char *file = elf_rawfile(m->elf, &file_size);

        if (!file)
                return -EIO;
        for (size_t i = 0; i < m->loads.n; i++) {
                const struct elf_segment *s = &m->loads.v[i];
                if (vaddr < s->vaddr || vaddr - s->vaddr >= s->filesz || s->filesz - (vaddr - s->vaddr) < len)
                        continue;
                uint64_t off = s->offset + (vaddr - s->vaddr);
                if (off > file_size || file_size - off < len)
                        return -EBADMSG;
                memcpy(buf, file + off, len);
                return 0;
        }
        return -ENOENT;
}
