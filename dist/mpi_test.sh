#!/usr/bin/env bash
# Runs dist_test as 2 and then 3 MPI ranks on this machine (mpirun from Debian's
# openmpi-bin). --oversubscribe: more ranks than cores; --allow-run-as-root: CI
# runs as root. A hung job is killed by `timeout`, and mpirun's exit status is
# the test's.
set -euo pipefail
test_binary="$1"
# Bazel's per-test files are this script's: ranks must not race to write them.
unset XML_OUTPUT_FILE TEST_PREMATURE_EXIT_FILE
for ranks in 2 3; do
  echo "== mpirun -np $ranks"
  timeout --kill-after=10 120 mpirun --allow-run-as-root --oversubscribe \
    --mca btl self,tcp -np "$ranks" "$test_binary"
done
