#!/usr/bin/env bash
# Installs tapegrad into a temporary prefix and builds and runs the three consumers
# under examples/consumers against it: CMake (find_package), a Makefile
# (pkg-config), and another Bazel workspace (local_repository + tapegrad_deps()).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tools/install.sh "$work/prefix"

echo "=== CMake consumer"
cmake -S examples/consumers/cmake -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/train_linear"
"$work/cmake/scalar_c"

echo "=== Makefile consumer (pkg-config)"
cp -r examples/consumers/make "$work/make"
make -s -C "$work/make" PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" run

echo "=== Bazel consumer (local_repository + tapegrad_deps())"
cd "$src/examples/consumers/bazel"
status=0
bazel run //:moons 2>/dev/null || status=$?
bazel shutdown 2>/dev/null || true  # its server would hold a few GB until idle
exit "$status"
