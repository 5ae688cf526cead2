#!/bin/bash
# Quick start: install build dependencies, build cprof, profile the bundled
# demo program for 5 seconds and write demo.folded and demo.svg.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-deps.sh --build-only
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

./build/src/cli/cprof record -F 999 -d 10 -o demo.folded -- ./build/demo/cprof-demo 5
./build/src/cli/cprof flamegraph --title "cprof-demo" demo.folded > demo.svg
./build/src/cli/cprof report --top 8 demo.folded
echo "wrote demo.folded and demo.svg (open it in a browser)"
