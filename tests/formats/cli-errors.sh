#!/bin/sh
# `cprof convert` and `cprof report` errors: one clear line on stderr, a
# non-zero exit, and no output (nor temporary) file left behind. Also that
# every extension picks its format, and that a failing stdout is an error.
# Usage: cli-errors.sh CPROF FIXTURE
set -u
cprof=$1 fixture=$2
# the checks below run in a scratch directory: make the paths absolute
case $cprof in /*) ;; *) cprof=$PWD/$cprof ;; esac
case $fixture in /*) ;; *) fixture=$PWD/$fixture ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

# expect_error NAME PATTERN CMD...: exit != 0, exactly one stderr line
# matching PATTERN, nothing on stdout, the work directory still empty.
expect_error() {
        name=$1 pattern=$2
        shift 2
        mkdir "$tmp/work"
        (cd "$tmp/work" && "$@" > "$tmp/out" 2> "$tmp/err")
        rc=$?
        lines=$(wc -l < "$tmp/err")
        left=$(ls -A "$tmp/work")
        if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && grep -q "$pattern" "$tmp/err" &&
           [ ! -s "$tmp/out" ] && [ -z "$left" ]; then
                ok "$name: $(cat "$tmp/err")"
        else
                notok "$name: rc=$rc, $lines stderr lines, files left: '$left'"
                sed 's/^/# /' "$tmp/err"
        fi
        rm -rf "$tmp/work"
}

expect_error "unknown format" "^cprof: unknown format 'bogus'" \
        "$cprof" convert "$fixture" -o out.svg --format bogus
expect_error "unknown extension" "^cprof: cannot tell the format of 'out.xyz'" \
        "$cprof" convert "$fixture" -o out.xyz
expect_error "missing input" "^cprof: cannot read 'missing.folded': No such file or directory" \
        "$cprof" convert missing.folded -o out.svg
expect_error "missing output directory" "^cprof: cannot create 'nodir/out.svg': No such file or directory" \
        "$cprof" convert "$fixture" -o nodir/out.svg
# root may write anywhere, so use a path whose directory is a regular file
expect_error "output directory is a file" "^cprof: cannot create '.*/fixture-copy/out.svg': Not a directory" \
        sh -c 'cp "$1" "$PWD/../fixture-copy" && "$2" convert "$1" -o "$PWD/../fixture-copy/out.svg"' sh "$fixture" "$cprof"
rm -f "$tmp/fixture-copy"
expect_error "missing -o" "^cprof: missing output file" \
        "$cprof" convert "$fixture"
expect_error "stdout needs --format" "^cprof: cannot tell the format of standard output" \
        "$cprof" convert "$fixture" -o -
expect_error "binary input" "bin.folded: binary data, not folded stacks" \
        sh -c 'printf "a;b 1\0\n" > "$PWD/../bin.folded"; "$1" report "$PWD/../bin.folded"' sh "$cprof"
expect_error "report: missing input" "^cprof: cannot read 'missing.folded'" \
        "$cprof" report missing.folded
expect_error "report: bad --top" "^cprof: invalid --top 'x'" \
        "$cprof" report --top x "$fixture"
expect_error "report: unknown option" "^cprof: unknown option '--bogus'" \
        "$cprof" report --bogus "$fixture"

# a stdout that cannot be written is an error, not a silent success
if [ -w /dev/full ]; then
        if "$cprof" convert "$fixture" -o - --format pprof > /dev/full 2> "$tmp/err"; then
                notok "writing to a full stdout succeeded"
        else
                ok "full stdout: $(cat "$tmp/err")"
        fi
fi

# each extension picks its format: check the first bytes of each file
mkdir "$tmp/ext"
check_ext() {
        file=$1 magic=$2
        if "$cprof" convert "$fixture" -o "$tmp/ext/$file" 2> "$tmp/err" &&
           [ "$(head -c ${#magic} "$tmp/ext/$file")" = "$magic" ]; then
                ok "$file starts with '$magic'"
        else
                notok "$file: $(cat "$tmp/err")"
        fi
}
check_ext out.folded "app;"
check_ext out.txt "app;"
check_ext out.collapsed "app;"
check_ext out.svg "<?xml"
check_ext out.speedscope.json '{"$schema":"https://www.speedscope.app/'
check_ext out.json '{'
grep -q '"total_samples"' "$tmp/ext/out.json" && ! grep -q speedscope "$tmp/ext/out.json" &&
        ok "out.json is the JSON report" || notok "out.json is not the JSON report"
if "$cprof" convert "$fixture" -o "$tmp/ext/out.pb.gz" && "$cprof" convert "$fixture" -o "$tmp/ext/out.pprof" &&
   [ "$(od -An -tx1 -N2 "$tmp/ext/out.pb.gz" | tr -d ' ')" = 1f8b ] &&
   cmp -s "$tmp/ext/out.pb.gz" "$tmp/ext/out.pprof"; then
        ok ".pb.gz and .pprof write the same gzip file"
else
        notok ".pb.gz / .pprof"
fi
left=$(ls -A "$tmp/ext" | grep -v '^out\.' || true)
[ -z "$left" ] && ok "no temporary files left" || notok "temporary files left: $left"

echo "1..$n"
[ $failed -eq 0 ]
