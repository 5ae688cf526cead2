#!/bin/sh
# Google's pprof reads our pprof output: `pprof -top` must show the
# hottest function of the fixture with its self (flat) value and the right
# total, and `pprof -raw` must list one sample per unique stack. Expected
# numbers are computed from the fixture here, with awk, not by cprof.
#
# pprof is built from Debian's Go sources (golang-go,
# golang-github-google-pprof-dev) once per build directory.
# Usage: pprof-go.sh CPROF FIXTURE BUILDDIR
set -eu
cprof=$1 fixture=$2 builddir=$3

fail() { echo "not ok - $*" >&2; exit 1; }

pprof=$builddir/pprof
if [ ! -x "$pprof" ]; then
        command -v go >/dev/null ||
                fail "go not found: apt-get install golang-go golang-github-google-pprof-dev"
        [ -d /usr/share/gocode/src/github.com/google/pprof ] ||
                fail "pprof sources not found: apt-get install golang-github-google-pprof-dev"
        # GOPATH mode: Debian ships pprof and its dependencies as GOPATH sources
        GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$builddir/gocache \
                go build -o "$pprof.tmp" github.com/google/pprof || fail "building pprof"
        mv "$pprof.tmp" "$pprof"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$cprof" convert "$fixture" -o "$tmp/app.pb.gz" || fail "cprof convert"

# Leaf (self) sums per function, the hottest one, the total, unique stacks.
awk '{
        n = $NF; stack = $0; sub(/ [^ ]*$/, "", stack)
        k = split(stack, f, ";"); self[f[k]] += n; total += n; seen[stack] = 1
} END {
        for (s in self) if (self[s] > best) { best = self[s]; hot = s }
        stacks = 0; for (s in seen) stacks++
        printf "%s\n%d\n%d\n%d\n", hot, best, total, stacks
}' "$fixture" > "$tmp/expected"
hot=$(sed -n 1p "$tmp/expected")
flat=$(sed -n 2p "$tmp/expected")
total=$(sed -n 3p "$tmp/expected")
stacks=$(sed -n 4p "$tmp/expected")

"$pprof" -top -nodecount=1000 "$tmp/app.pb.gz" > "$tmp/top" 2> "$tmp/top.err" ||
        { cat "$tmp/top.err" >&2; fail "pprof -top failed"; }
cat "$tmp/top"
grep -q "of $total total" "$tmp/top" || fail "pprof total is not $total"
# rows: flat flat% sum% cum cum% name; the name is the rest of the line
got=$(awk -v hot="$hot" '$1 ~ /^[0-9]+$/ && NF >= 6 {
        name = $0; sub(/^ *[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +/, "", name)
        if (name == hot) print $1 }' "$tmp/top")
[ "$got" = "$flat" ] || fail "pprof -top: $hot flat is '$got', expected $flat"
first=$(awk '$1 ~ /^[0-9]+$/ && NF >= 6 { print $NF; exit }' "$tmp/top")
[ "$first" = "$hot" ] || fail "pprof -top: first row is '$first', expected $hot"

"$pprof" -raw "$tmp/app.pb.gz" > "$tmp/raw" 2> "$tmp/raw.err" ||
        { cat "$tmp/raw.err" >&2; fail "pprof -raw failed"; }
n=$(awk '/^Samples:/ { on = 1; next } /^Locations/ { on = 0 } on && /^ *[0-9]+: / { c++ } END { print c + 0 }' "$tmp/raw")
[ "$n" = "$stacks" ] || fail "pprof -raw lists $n samples, expected $stacks"
echo "ok - pprof reads $stacks samples, total $total, $hot flat $flat"
