#!/usr/bin/env bash
# Builds the wheel, installs it into a fresh venv with no network, and runs the
# Python suite (tapegrad.dist's under mpirun) and micrograd's demo against the
# installed package, from outside the source tree. The venv sees Debian's site-packages for NumPy, pytest and torch
# (the tests' references), never the checkout's python/.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tools/wheel.sh "$work/dist"
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install --quiet --no-index "$work"/dist/tapegrad-*.whl

cd "$work"  # no tapegrad/ here: python -m puts the working directory on sys.path
unset PYTHONPATH TAPEGRAD_LIBRARY
"$py" - <<'PY'
import os, sys
import tapegrad
from tapegrad import _engine, _lib
where = os.path.dirname(tapegrad.__file__)
assert where.startswith(sys.prefix), "tapegrad imported from %s, not the venv" % where
for module in (_engine.__file__, _lib.lib._name):
    assert os.path.dirname(module) == where, "%s is not in the installed package" % module
print("wheel: tapegrad %s from %s" % (tapegrad.__version__, where))
PY
"$py" -m pytest -q -p no:cacheprovider "$src/python/tests"
# tapegrad.dist as 2 ranks, on the wheel's libtapegrad_dist.so.
timeout --kill-after=10 180 mpirun --allow-run-as-root --oversubscribe --mca btl self,tcp \
  -np 2 "$py" -m pytest -q -p no:cacheprovider "$src/python/tests/dist_test.py"
"$py" "$src/examples/python/moons.py" "$work/moons.png" | tail -n 2
