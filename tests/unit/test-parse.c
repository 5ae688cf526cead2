/* util/parse: numbers from the command line, all or nothing. */
#include <errno.h>
#include <stdint.h>

#include "tap.h"
#include "util/parse.h"

int main(void) {
        unsigned u;
        uint64_t ns;
        int pid;

        CHECK(parse_uint("99", 1, 100, &u) == 0 && u == 99, "plain number");
        CHECK(parse_uint("0", 1, 100, &u) == -ERANGE, "below the range");
        CHECK(parse_uint("101", 1, 100, &u) == -ERANGE, "above the range");
        CHECK(parse_uint("12ab", 1, 100, &u) == -EINVAL, "trailing junk");
        CHECK(parse_uint("-5", 0, 100, &u) == -EINVAL, "negative");
        CHECK(parse_uint(" 5", 0, 100, &u) == -EINVAL, "leading space");
        CHECK(parse_uint("", 0, 100, &u) == -EINVAL, "empty");
        CHECK(parse_uint("99999999999999999999999", 0, 100, &u) == -ERANGE, "overflow");

        CHECK(parse_pid("1234", &pid) == 0 && pid == 1234, "pid");
        CHECK(parse_pid("0", &pid) < 0, "pid 0 is no process");

        CHECK(parse_seconds("30", &ns) == 0 && ns == 30000000000ull, "whole seconds");
        CHECK(parse_seconds("2.5", &ns) == 0 && ns == 2500000000ull, "decimal seconds");
        CHECK(parse_seconds(".5", &ns) == 0 && ns == 500000000ull, "leading dot");
        CHECK(parse_seconds("0", &ns) == -ERANGE, "zero is no duration");
        CHECK(parse_seconds("-1", &ns) == -EINVAL, "negative");
        CHECK(parse_seconds("1e-10", &ns) == -ERANGE, "below a nanosecond is refused, not 'forever'");
        CHECK(parse_seconds("inf", &ns) == -EINVAL, "infinity");
        CHECK(parse_seconds("nan", &ns) == -EINVAL, "nan");
        CHECK(parse_seconds("3s", &ns) == -EINVAL, "unit suffix");
        CHECK(parse_seconds("10000000", &ns) == 0 && ns == 10000000ull * 1000000000ull, "the longest duration");
        CHECK(parse_seconds("1e9", &ns) == -ERANGE, "above the longest duration: out of range, not 'not a number'");
        CHECK(parse_seconds("1e999", &ns) == -ERANGE, "too large for a double: out of range");

        CHECK(hex_digit('0') == 0 && hex_digit('f') == 15 && hex_digit('F') == 15 && hex_digit('g') == -1,
              "hex digits");
        uint64_t sz;
        CHECK(parse_size("4096", &sz) == 0 && sz == 4096, "size in bytes");
        CHECK(parse_size("64K", &sz) == 0 && sz == 65536, "size in KiB");
        CHECK(parse_size("64KiB", &sz) == 0 && sz == 65536, "size with KiB");
        CHECK(parse_size("2m", &sz) == 0 && sz == 2u << 20, "size in MiB");
        CHECK(parse_size("1G", &sz) == 0 && sz == 1u << 30, "size in GiB");
        CHECK(parse_size("2T", &sz) == 0 && sz == 2ull << 40, "size in TiB");
        CHECK(parse_size("16777216T", &sz) == -ERANGE, "size overflowing by the T suffix");
        CHECK(parse_size("12X", &sz) == -EINVAL, "unknown size suffix");
        CHECK(parse_size("K", &sz) == -EINVAL, "suffix without a number");
        CHECK(parse_size("-1K", &sz) == -EINVAL, "negative size");
        CHECK(parse_size("99999999999999999999G", &sz) == -ERANGE, "size too large");
        CHECK(parse_size("17179869184G", &sz) == -ERANGE, "size overflowing by the suffix");
        return tap_done();
}
