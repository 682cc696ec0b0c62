#!/usr/bin/env bash
# Runs a test binary (dist_test, nccl_test) as 2 and then 3 MPI ranks on this
# machine (mpirun from Debian's openmpi-bin). --oversubscribe: more ranks than
# cores; --allow-run-as-root: CI runs as root. A hung job is killed by `timeout`,
# and mpirun's exit status is the test's. Then, unless --ranks-only follows the
# binary, a job whose rank 1 dies (dist_test's ARankThatDiesEndsTheJob): it must
# end, every rank with it, within seconds and not hang.
set -euo pipefail
test_binary="$1"
ranks_only="${2:-}"
# Bazel's per-test files are this script's: ranks must not race to write them.
unset XML_OUTPUT_FILE TEST_PREMATURE_EXIT_FILE
# A session directory of this run's own: Bazel runs tests in PID namespaces,
# where two mpiruns can have the same PID, hence the same job id and, in a shared
# TMPDIR, the same session directory (their ranks then fail to reach each
# other). Short, as Open MPI puts sockets in it.
session_dir=$(mktemp -d /tmp/tg-mpi.XXXXXX)
export TMPDIR="$session_dir"
trap 'rm -rf "$session_dir"' EXIT
mpirun=(mpirun --allow-run-as-root --oversubscribe --mca btl self,tcp)
for ranks in 2 3; do
  echo "== mpirun -np $ranks"
  timeout --kill-after=10 180 "${mpirun[@]}" -np "$ranks" "$test_binary"
done
if [[ $ranks_only == --ranks-only ]]; then exit 0; fi

fail() {
  echo "mpi_test: $*" >&2
  exit 1
}
# Whether a rank of the dying-rank job still runs.
ranks_left() { pgrep -f -- "--gtest_filter=\*ARankThatDiesEndsTheJob" >/dev/null; }
log=$(mktemp)
for how in abort exit; do
  echo "== mpirun -np 2, rank 1 dies ($how)"
  start=$SECONDS
  rc=0
  TAPEGRAD_DIST_TEST_EXIT=$how timeout --kill-after=10 60 "${mpirun[@]}" -np 2 \
    -x TAPEGRAD_DIST_TEST_EXIT "$test_binary" --gtest_color=no \
    --gtest_filter='*ARankThatDiesEndsTheJob' >"$log" 2>&1 || rc=$?
  elapsed=$((SECONDS - start))
  cat "$log"
  # 124/137: timeout had to end it.
  if ((rc == 0 || rc == 124 || rc == 137)); then fail "$how: exit status $rc"; fi
  if ((elapsed > 30)); then fail "$how: the job took ${elapsed} s to end"; fi
  case "$how" in
    abort) grep -q 'exited on signal 6' "$log" || fail "abort: mpirun did not name the crash" ;;
    # Rank 0's barrier failed with DeadlineExceeded, as its test expects.
    exit) grep -q '^\[       OK \] ProcessGroup.ARankThatDiesEndsTheJob' "$log" ||
      fail "exit: rank 0 did not see its barrier time out" ;;
  esac
  if grep -q 'outlived a crashed rank' "$log"; then fail "$how: a rank outlived the crash"; fi
  # Every rank is gone (mpirun may return while it still reaps them).
  for _ in $(seq 20); do
    ranks_left || break
    sleep 0.5
  done
  if ranks_left; then fail "$how: ranks left behind"; fi
done
echo "mpi_test: every job ended as it should"
