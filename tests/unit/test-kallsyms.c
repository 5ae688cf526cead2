/* kallsyms parsing on fixed text: types kept and dropped, modules,
 * aliases, extents, all-zero addresses, odd lines. */
#include <errno.h>
#include <stdbool.h>

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
        return tap_done();
}
