#!/usr/bin/env bash
# The harness's tapegrad side runs at small sizes and prints finite figures and
# checksums.
set -euo pipefail
out=$("$1" --quick)
echo "${out}"
grep -q '^w1_checksum_3000 ' <<<"${out}"
grep -q '^w2_checksum ' <<<"${out}"
if grep -qiE ' (nan|inf|-nan|-inf)$' <<<"${out}"; then
  echo "smoke: a figure is not finite" >&2
  exit 1
fi
