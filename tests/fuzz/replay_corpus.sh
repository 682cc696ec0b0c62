#!/usr/bin/env bash
# Runs a fuzz target once over its seed corpus (no fuzzing): a regression test of
# every input in it, with whatever sanitizer the build has.
set -euo pipefail
exec "$1" -runs=0 "$2"
