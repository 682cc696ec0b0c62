#!/usr/bin/env bash
# The library's dynamic symbol table must be exactly the committed golden lists
# together: a symbol that appears or disappears is an ABI change that a review must
# see.
#   exported_symbols_test.sh LIBRARY GOLDEN...
# To accept a change: nm -D --defined-only --extern-only libtapegrad.so | awk '{print $3}' | sort
set -euo pipefail
lib="$1"
shift
actual="$(nm -D --defined-only --extern-only "$lib" | awk '{print $3}' | sort)"
if ! diff <(sort "$@") <(echo "$actual"); then
  echo "exported symbols of $lib differ from $* (< golden, > library)" >&2
  exit 1
fi
echo "$(echo "$actual" | wc -l) symbols, as in $*"
