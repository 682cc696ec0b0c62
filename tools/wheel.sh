#!/usr/bin/env bash
# Builds the Python wheel: tools/wheel.sh [OUTDIR] (default wheels/). It holds the
# package, its extension module, libtapegrad.so and libtapegrad_dist.so (the same
# plus tapegrad.dist's calls, linking Open MPI; loaded only under mpirun), found
# beside the package once installed: `pip install OUTDIR/tapegrad-*.whl` needs no
# network and no variables.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-wheels}")
tools/setup.sh

bazel build -c opt //python:tapegrad //capi:libtapegrad.so //capi:libtapegrad_dist.so
bin=$(bazel info -c opt bazel-bin)
version=$(tools/version.sh)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/tapegrad" "$out"
cp python/setup.py "$stage/"
cp python/tapegrad/*.py "$stage/tapegrad/"
# Bazel's outputs are read-only; the copies must not be.
install -m 0755 "$bin/python/tapegrad/_engine.so" "$bin/capi/libtapegrad.so" \
  "$bin/capi/libtapegrad_dist.so" "$stage/tapegrad/"
strip --strip-unneeded "$stage/tapegrad/"*.so

# Debian's python3, the one whose headers the extension was built against.
TAPEGRAD_VERSION="$version" /usr/bin/python3 -m pip wheel --quiet --no-deps --no-index \
  --no-build-isolation --wheel-dir "$out" "$stage"
ls "$out"/tapegrad-"$version"-*.whl
