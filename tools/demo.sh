#!/usr/bin/env bash
# The README's demo command: set up, then train micrograd's moons classifier.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
exec bazel run -c opt //examples:moons "$@"
