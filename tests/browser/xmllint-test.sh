#!/bin/sh
# Every SVG cprof draws must be well-formed XML, whatever the frame names
# hold. tests/data/hostile.folded was written by hand (with python3 for the
# raw bytes): <, >, &, quotes, "]]>", "<!--", control characters, invalid
# UTF-8, a surrogate, U+FFFF, a cut-off sequence and a 6000-byte name.
# usage: xmllint-test.sh CPROF HOSTILE.folded BROWSER.folded   (TAP output)
set -u
cprof=$1 hostile=$2 plain=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

check() { # name, cprof args...
        name=$1
        shift
        n=$((n + 1))
        if "$cprof" "$@" > "$tmp/$n.svg" 2> "$tmp/$n.err" && [ -s "$tmp/$n.svg" ] &&
           xmllint --noout "$tmp/$n.svg" 2>> "$tmp/$n.err"; then
                echo "ok $n - $name"
        else
                echo "not ok $n - $name"
                sed 's/^/# /' "$tmp/$n.err" | head -20
                failed=$((failed + 1))
        fi
}

check "hostile names" flamegraph "$hostile"
check "hostile names, icicle, reversed, hashed" flamegraph --inverted --reverse --hash "$hostile"
check "hostile names, flame chart, java colours" flamegraph --flamechart --colors java "$hostile"
check "hostile title, subtitle, notes, count and name types" flamegraph \
        --title 'a<b>&"c"]]>' --subtitle "$(printf 'x\377y<!--')" --notes 'n--o<t>es-' \
        --countname '<b>&' --nametype '"]]></script>' --fonttype 'x;}<style>' "$hostile"
check "hostile names, narrow, no pruning" flamegraph --width 100 --minwidth 0 "$hostile"
check "differential of hostile names" diff "$plain" "$hostile"
check "normalized, negated differential" diff -n --negate "$hostile" "$plain"
awk '{ print $0, NR }' "$hostile" > "$tmp/three.folded"
check "three-column input" flamegraph "$tmp/three.folded"

echo "1..$n"
[ "$failed" -eq 0 ]
