#!/usr/bin/env bash
# The README's test command: set up, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
exec bazel test //... "$@"
