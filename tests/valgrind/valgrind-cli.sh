#!/bin/bash
# Runs each cprof command once under valgrind memcheck (leaks included) on
# real input: a recording of the demo workload with both backends, then
# every reader and writer on that recording. Any valgrind error fails.
# Usage: valgrind-cli.sh CPROF DEMO SUPPRESSIONS PERF_SCRIPT_FIXTURE
set -u
# valgrind asks debuginfod for its own symbols when this is set: never here
unset DEBUGINFOD_URLS
cprof=$1 demo=$2 supp=$3 perf_script=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

vg() {
        local name=$1
        shift
        n=$((n + 1))
        if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
                --suppressions="$supp" "$@" >"$tmp/out" 2>"$tmp/err"; then
                echo "ok $n - $name"
        else
                failed=$((failed + 1))
                echo "not ok $n - $name (exit $?)"
                grep -v 'unhandled eBPF command' "$tmp/err" | sed 's/^/# /' | head -40
        fi
}

vg "record --backend bpf" "$cprof" record -q --backend bpf -F 499 -o "$tmp/bpf.folded" -- "$demo" 0.5
vg "record --backend perf --threads --lines" "$cprof" record -q --backend perf --threads --lines -F 499 -o "$tmp/perf.folded" -- "$demo" 0.5
vg "flamegraph" "$cprof" flamegraph "$tmp/bpf.folded"
vg "diff" "$cprof" diff "$tmp/bpf.folded" "$tmp/perf.folded"
vg "report --json" "$cprof" report --json "$tmp/bpf.folded"
vg "convert pprof" "$cprof" convert "$tmp/bpf.folded" -o "$tmp/x.pb.gz"
vg "convert speedscope" "$cprof" convert "$tmp/bpf.folded" -o "$tmp/x.speedscope.json"
vg "collapse" "$cprof" collapse "$perf_script"
echo "1..$n"
[ "$failed" -eq 0 ]
