#!/usr/bin/env bash
# Installs tapegrad for builds outside this workspace: tools/install.sh PREFIX
#
#   PREFIX/include/tapegrad/       tapegrad.h, core/, nn/, kernels/, capi/ headers
#   PREFIX/lib/libtapegrad-cpp.a   the C++ library (link it whole)
#   PREFIX/lib/libtapegrad.so      the C ABI
#   PREFIX/lib/cmake/tapegrad/     find_package(tapegrad): tapegrad::tapegrad, tapegrad::c
#   PREFIX/lib/pkgconfig/          tapegrad.pc (C++), tapegrad-c.pc (C)
#
# Built with -c opt; extra arguments go to bazel build (for example --config=portable).
# Consumers need Debian's libabsl-dev, libdnnl-dev, libopenblas-dev, zlib1g-dev
# and libdlpack-dev (tools/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { echo "usage: tools/install.sh PREFIX [bazel build flags]" >&2; exit 2; }
prefix=$(realpath -m "$1")
shift
tools/setup.sh

bazel build -c opt "$@" //tools/install:tapegrad_cpp //capi:libtapegrad.so
bin=$(bazel info -c opt "$@" bazel-bin)
version=$(tools/version.sh)

include="$prefix/include/tapegrad"
mkdir -p "$include" "$prefix/lib/cmake/tapegrad" "$prefix/lib/pkgconfig"
# The C++ headers (those the archive's targets expose) and the C ABI's public ones.
while read -r header; do
  install -D -m 0644 "$header" "$include/$header"
done < "$bin/tools/install/tapegrad_cpp.headers"
for header in capi/tapegrad.h capi/tapegrad_image.h capi/tapegrad_nn.h capi/tapegrad_tensor.h; do
  install -D -m 0644 "$header" "$include/$header"
done
install -m 0644 "$bin/tools/install/libtapegrad-cpp.a" "$prefix/lib/"
install -m 0755 "$bin/capi/libtapegrad.so" "$prefix/lib/"

fill() {
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|${version%%.*}|g" "$1" > "$2"
}
fill tools/install/tapegradConfig.cmake.in "$prefix/lib/cmake/tapegrad/tapegradConfig.cmake"
fill tools/install/tapegradConfigVersion.cmake.in \
  "$prefix/lib/cmake/tapegrad/tapegradConfigVersion.cmake"
fill tools/install/tapegrad.pc.in "$prefix/lib/pkgconfig/tapegrad.pc"
fill tools/install/tapegrad-c.pc.in "$prefix/lib/pkgconfig/tapegrad-c.pc"
echo "install: tapegrad $version in $prefix"
