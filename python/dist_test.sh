#!/usr/bin/env bash
# Runs python/tests/dist_test.py as 2 and then 3 MPI ranks (mpirun from Debian's
# openmpi-bin; --oversubscribe: more ranks than cores; --allow-run-as-root: CI
# runs as root), with the package and libtapegrad_dist.so from this test's
# runfiles. A hung job is killed by `timeout`; mpirun's exit status is the test's.
set -euo pipefail
root="${TEST_SRCDIR}/${TEST_WORKSPACE}"
export PYTHONPATH="${root}/python"
export TAPEGRAD_LIBRARY="${root}/capi/libtapegrad_dist.so"
# Bazel's per-test files are this script's: ranks must not race to write them.
unset XML_OUTPUT_FILE TEST_PREMATURE_EXIT_FILE
# A session directory of this run's own: Bazel runs tests in PID namespaces,
# where two mpiruns can have the same PID, hence the same job id and, in a shared
# TMPDIR, the same session directory (their ranks then fail to reach each
# other). Short, as Open MPI puts sockets in it.
session_dir=$(mktemp -d /tmp/tg-mpi.XXXXXX)
export TMPDIR="$session_dir"
trap 'rm -rf "$session_dir"' EXIT
mpirun=(mpirun --allow-run-as-root --oversubscribe --mca btl self,tcp
  -x PYTHONPATH -x TAPEGRAD_LIBRARY)
for ranks in 2 3; do
  echo "== mpirun -np $ranks"
  timeout --kill-after=10 180 "${mpirun[@]}" -np "$ranks" /usr/bin/python3 -m pytest -q \
    -p no:cacheprovider "${root}/python/tests/dist_test.py"
done
