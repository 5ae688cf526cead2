/* kallsyms parsing on fixed text: types kept and dropped, modules,
 * aliases, extents, all-zero addresses, odd lines. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize/kallsyms.h"
#include "tap.h"

static const char sample[] =
        "ffffffff81000000 T _stext\n"
        "ffffffff81000000 T _text\n"
        "ffffffff81001000 t helper_local\n"
        "ffffffff81001100 T do_syscall_64\n"
        "ffffffff81001100 t __do_syscall_alias\n"
        "ffffffff81001200 W weak_fn\n"
        "ffffffff81001300 D some_data\n"
        "ffffffff81001400 r rodata_thing\n"
        "ffffffff81001500 T last_core\n"
        "garbage line\n"
        "ffffffffzz001600 T bad_addr\n"
        "ffffffff81001700 T\n"
        "ffffffffc0000000 t mod_fn1\t[mymod]\n"
        "ffffffffc0000100 T mod_fn2\t[mymod]\n"
        "ffffffffc0001000 t other_fn\t[other]\n"
        "ffffffffc0002000 t broken_mod\t[nobracket\n";

static const char *name_at(struct kallsyms *k, uint64_t addr, const char **mod) {
        const char *name = NULL;
        *mod = NULL;
        if (kallsyms_lookup(k, addr, &name, mod, NULL) < 0)
                return NULL;
        return name;
}

/* kallsyms_load reads line by line: a line too long for a symbol is
 * skipped, the lines after it still count, and the same text loaded and
 * parsed gives the same table, also when it is out of order. */
static void test_stream(void) {
        char path[] = "/tmp/test-kallsyms-XXXXXX";
        int fd = mkstemp(path);
        struct kallsyms *k;
        const char *mod;

        CHECK(fd >= 0, "temp file");
        if (fd < 0)
                return;
        FILE *f = fdopen(fd, "w");
        CHECK(f != NULL, "open the temp file as a stream");
        if (!f) {
                close(fd);
                unlink(path);
                return;
        }
        fputs("ffffffffc0000000 t mod_fn\t[m]\n", f); /* a module before the kernel */
        fputs("ffffffff81000000 T first\n", f);
        for (int i = 0; i < 10000; i++)
                fputc('x', f);
        fputs("\nffffffff81000100 T after_long_line\n", f);
        fputs("ffffffff81000200 T no_newline_at_end", f);
        fclose(f);
        CHECK(kallsyms_load(path, &k) == 0, "load");
        CHECK(kallsyms_count(k) == 4, "four symbols (got %zu)", kallsyms_count(k));
        const char *name = name_at(k, 0xffffffff81000150, &mod);
        CHECK(name && !strcmp(name, "after_long_line") && !mod, "the line after a 10 KB line");
        name = name_at(k, 0xffffffff81000010, &mod);
        CHECK(name && !strcmp(name, "first"), "first");
        name = name_at(k, 0xffffffff81000210, &mod);
        CHECK(name && !strcmp(name, "no_newline_at_end"), "a last line without a newline");
        name = name_at(k, 0xffffffffc0000010, &mod);
        CHECK(name && !strcmp(name, "mod_fn") && mod && !strcmp(mod, "[m]"),
              "the module listed first, sorted in");
        kallsyms_free(k);
        unlink(path);
}

/* tests/data/kallsyms/modules.txt: real kernel lines and two modules */
static void test_modules_fixture(void) {
        struct kallsyms *k;
        const char *mod, *name;
        uint64_t start = 0;

        CHECK(kallsyms_load(TEST_DATA_DIR "/kallsyms/modules.txt", &k) == 0, "load the modules fixture");
        if (!k)
                return;
        /* text only: 15 kernel addresses (18 text lines, 4 of them at
         * _stext; 3 data lines), the trampoline, 5 text lines of [foo]
         * and 3 of [bar] */
        CHECK(kallsyms_count(k) == 15 + 1 + 5 + 3, "text symbols (%zu)", kallsyms_count(k));
        CHECK_STREQ(name_at(k, 0xffffffff821ef620 + 0x10, &mod), "do_syscall_64", "kernel symbol");
        CHECK(mod == NULL, "the kernel's own symbols have no module (the frame is [kernel.kallsyms])");
        CHECK_STREQ(name_at(k, 0xffffffff816bb915, &mod), "__x64_sys_read", "64-bit entry named, not its alias");

        CHECK(kallsyms_lookup(k, 0xffffffffc0a01123, &name, &mod, &start) == 0, "module lookup");
        CHECK_STREQ(name, "foo_work", "module symbol name");
        CHECK_STREQ(mod, "[foo]", "its module");
        CHECK(start == 0xffffffffc0a01100, "its start");
        CHECK_STREQ(name_at(k, 0xffffffffc0a01005, &mod), "foo_helper", "local module symbol");
        CHECK_STREQ(name_at(k, 0xffffffffc0a00ff8, &mod), "__pfx_foo_helper", "padding symbol");
        CHECK_STREQ(name_at(k, 0xffffffffc0a01fff, &mod), "foo_exit", "last [foo] function up to [bar]");
        CHECK_STREQ(mod, "[foo]", "still [foo]");
        CHECK_STREQ(name_at(k, 0xffffffffc0a02000, &mod), "__pfx_bar_init", "[bar] starts where [foo] ends");
        CHECK_STREQ(mod, "[bar]", "[bar]'s module");
        CHECK_STREQ(name_at(k, 0xffffffffc0a02150, &mod), "bar_poll", "[bar] function");
        CHECK_STREQ(mod, "[bar]", "[bar] module name");
        /* [bar]'s last function must not reach into [foo]'s data, which
         * the kernel allocated after it */
        CHECK(name_at(k, 0xffffffffc0a03000, &mod) == NULL, "[foo]'s data is not [bar]'s code");
        CHECK(name_at(k, 0xffffffffc0a03180, &mod) == NULL, "nor [foo]'s module struct");
        CHECK(name_at(k, 0xffffffffc0a04010, &mod) == NULL, "nor [foo]'s bss");
        CHECK_STREQ(name_at(k, 0xffffffffc0201000 + 0x100, &mod), "ftrace_trampoline", "ftrace trampoline");
        CHECK_STREQ(mod, "[__builtin__ftrace]", "its pseudo-module");
        CHECK(name_at(k, 0xffffffffc0201000 + KALLSYMS_MAX_EXTENT, &mod) == NULL,
              "a lone symbol stops at the limit");
        kallsyms_free(k);

        /* a module's own data ends its last function too, at the limit */
        static const char own[] = "ffffffffc0000000 t only_fn\t[m]\n"
                                  "ffffffffc0100000 d m_data\t[m]\n";
        CHECK(kallsyms_parse(own, sizeof(own) - 1, &k) == 0 && kallsyms_count(k) == 1, "own data");
        CHECK_STREQ(name_at(k, 0xffffffffc0000000 + KALLSYMS_MAX_EXTENT - 1, &mod), "only_fn", "up to the limit");
        CHECK(name_at(k, 0xffffffffc0000000 + KALLSYMS_MAX_EXTENT, &mod) == NULL,
              "not across its module's data gap");
        kallsyms_free(k);
}

int main(void) {
        struct kallsyms *k;
        const char *mod;

        CHECK(kallsyms_parse(sample, sizeof(sample) - 1, &k) == 0, "parse");
        /* _stext/_text merge; D, r, garbage, bad addr, no name, broken mod dropped */
        CHECK(kallsyms_count(k) == 8, "text symbols kept, one per address (%zu)", kallsyms_count(k));
        CHECK(kallsyms_has_addresses(k), "has addresses");
        CHECK_STREQ(name_at(k, 0xffffffff81001100, &mod), "do_syscall_64", "exact start");
        CHECK(mod == NULL, "core kernel symbol has no module");
        CHECK_STREQ(name_at(k, 0xffffffff810011ff, &mod), "do_syscall_64",
                    "global name wins over local alias, inside the function");
        CHECK_STREQ(name_at(k, 0xffffffff81001050, &mod), "helper_local", "local symbol");
        CHECK_STREQ(name_at(k, 0xffffffff81001250, &mod), "weak_fn", "weak symbol");
        CHECK_STREQ(name_at(k, 0xffffffff81001350, &mod), "weak_fn",
                    "data symbols do not end functions (no sizes in kallsyms)");
        CHECK_STREQ(name_at(k, 0xffffffff81000000, &mod), "_stext", "aliases at one address: deterministic");
        CHECK_STREQ(name_at(k, 0xffffffff81001500 + 0x1000, &mod), "last_core", "last core symbol, near");
        CHECK(name_at(k, 0xffffffff81001500 + KALLSYMS_MAX_EXTENT, &mod) == NULL,
              "the gap before the modules belongs to nobody");
        CHECK(name_at(k, 0xffffffff80000000, &mod) == NULL, "below every symbol");
        CHECK_STREQ(name_at(k, 0xffffffffc0000180, &mod), "mod_fn2", "module symbol");
        CHECK_STREQ(mod, "[mymod]", "module name");
        CHECK_STREQ(name_at(k, 0xffffffffc0001010, &mod), "other_fn", "other module");
        CHECK_STREQ(mod, "[other]", "other module name");
        CHECK(name_at(k, 0xffffffffc0001000 + KALLSYMS_MAX_EXTENT, &mod) == NULL, "past the last symbol");
        kallsyms_free(k);

        static const char zeros[] = "0000000000000000 T _stext\n"
                                    "0000000000000000 T do_syscall_64\n"
                                    "0000000000000000 t x\t[m]\n";
        CHECK(kallsyms_parse(zeros, sizeof(zeros) - 1, &k) == 0, "parse hidden addresses");
        CHECK(!kallsyms_has_addresses(k), "all zero: no addresses");
        CHECK(name_at(k, 0, &mod) == NULL && name_at(k, 0xffffffff81001100, &mod) == NULL,
              "no names from hidden addresses");
        kallsyms_free(k);

        CHECK(kallsyms_parse("", 0, &k) == 0 && kallsyms_count(k) == 0, "empty");
        CHECK(name_at(k, 0x1000, &mod) == NULL, "empty lookup");
        kallsyms_free(k);

        CHECK(kallsyms_load("/nonexistent/kallsyms", &k) == -ENOENT, "missing file");

        test_stream();

        test_modules_fixture();
        return tap_done();
}
