#!/usr/bin/env bash
# Prints the library's version, as tg_version() returns it (capi/status.cc): the
# one place tools/wheel.sh and tools/install.sh read it from.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/.*tg_version(void) { return "\(.*\)"; }/\1/p' capi/status.cc)
[[ -n "$version" ]] || { echo "version: no tg_version in capi/status.cc" >&2; exit 1; }
echo "$version"
