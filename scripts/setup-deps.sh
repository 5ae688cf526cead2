#!/bin/bash
# Installs everything cprof needs to build, run and test on Debian 12.
# Idempotent: safe to run again. Needs root (apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
        echo "setup-deps: run as root (apt-get install)" >&2
        exit 1
fi

build_only=0
[ "${1:-}" = "--build-only" ] && build_only=1

# g++: the test suite (built by default) has a C++ workload
build_pkgs="gcc g++ libc6-dev meson ninja-build pkg-config clang llvm bpftool
        libbpf-dev libelf-dev libdw-dev libjansson-dev zlib1g-dev libdeflate-dev python3
        liblzma-dev libdebuginfod-dev libiberty-dev
        libinih-dev libsystemd-dev libcurl4-openssl-dev"
# libc6-dbg: libc's local names (stack roots); libstdc++6-12-dbg: a
# libstdc++ build with symtab and DWARF (the C++ name tests run on it)
test_pkgs="linux-perf libxml2-utils valgrind time chromium binutils util-linux
        golang-go golang-github-google-pprof-dev
        debuginfod elfutils xz-utils libc6-dbg libstdc++6-12-dbg"
# pgrep finds a contained workload's host pid (container-names test)
test_pkgs="$test_pkgs procps"
# the deb test: dpkg-buildpackage and dh, man pages rendered with
# warnings, systemd-analyze/-sysusers/-tmpfiles on the unpacked package
test_pkgs="$test_pkgs debhelper dpkg-dev fakeroot man-db systemd"
# These machines may come with Node.js and npm from another repository,
# whose nodejs conflicts with Debian's npm: use what is there.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        test_pkgs="$test_pkgs nodejs npm"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ $build_only -eq 1 ]; then
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $build_pkgs >/dev/null
        exit 0
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $build_pkgs $test_pkgs >/dev/null

# Independent readers and a browser driver for the tests (npm registry).
if [ -f tests/node/package-lock.json ]; then
        (cd tests/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
else
        (cd tests/node && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
