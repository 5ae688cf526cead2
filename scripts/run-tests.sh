#!/bin/bash
# Builds cprof from scratch twice (normal, and ASan+UBSan) and runs the
# whole suite: everything in the normal build, the unit and fuzz suites
# under the sanitizers. Ends with "N passed, N failed"; exits non-zero on
# any failure. A skipped test counts as failed: nothing is skipped in CI.
set -uo pipefail
cd "$(dirname "$0")/.."

rm -rf build-ci build-ci-asan
fail=0

meson setup build-ci --buildtype=debugoptimized >/dev/null || fail=1
[ $fail -eq 0 ] && { ninja -C build-ci >/dev/null || { ninja -C build-ci; fail=1; }; }
[ $fail -eq 0 ] && meson test -C build-ci --print-errorlogs --num-processes 1

meson setup build-ci-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || fail=1
[ $fail -eq 0 ] && { ninja -C build-ci-asan >/dev/null || { ninja -C build-ci-asan; fail=1; }; }
[ $fail -eq 0 ] && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-ci-asan --suite unit --suite fuzz --suite badinput --print-errorlogs

python3 - "$fail" build-ci/meson-logs/testlog.json build-ci-asan/meson-logs/testlog.json <<'PY'
import json, sys
build_failed = sys.argv[1] != "0"
passed = failed = 0
for path in sys.argv[2:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        print(f"missing test log {path}", file=sys.stderr)
        continue
    for line in lines:
        t = json.loads(line)
        if t["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
            print(f"FAILED: {path.split('/')[0]} {t['name']} ({t['result']})", file=sys.stderr)
if build_failed:
    failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
