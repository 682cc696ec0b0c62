#!/usr/bin/env bash
# Fuzzes tapegrad's parsers and its C ABI with libFuzzer, under ASan and UBSan.
#
#   tools/fuzz.sh            # each target for 60 s (what CI runs)
#   tools/fuzz.sh 3600       # each target for an hour
#   tools/fuzz.sh 600 capi_fuzzer   # one target
#
# Targets live in tests/fuzz; each starts from its seed corpus there and works in
# a scratch copy, so the repository is not written to. Any report (a crash, a
# sanitizer error, a hang over 10 s, a leak) fails the run; the input that caused
# it is kept in the scratch directory, whose path is printed. Replay one with
# `bazel-bin/tests/fuzz/<target> <input>` after `bazel build //tests/fuzz:all`, or
# make it a test and add it to tests/fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(capi_fuzzer shape_fuzzer data_fuzzer checkpoint_fuzzer server_request_fuzzer); fi

bazel build --config=fuzz "${targets[@]/#///tests/fuzz:}" 2>&1 | grep -E '^(ERROR|FAIL)' && exit 1
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)/tests/fuzz
scratch=$(mktemp -d -t tapegrad-fuzz.XXXXXX)
echo "fuzz: ${seconds} s per target; scratch in ${scratch}"

failed=0
for target in "${targets[@]}"; do
  work="${scratch}/${target}"
  mkdir -p "${work}/corpus"
  cp tests/fuzz/corpus/"${target}"/* "${work}/corpus/"
  log="${work}/log.txt"
  if (cd "${work}" && "${bin}/${target}" -max_total_time="${seconds}" -timeout=10 \
      -rss_limit_mb=6144 -print_final_stats=1 corpus >"${log}" 2>&1); then
    runs=$(grep -m1 -oP 'stat::number_of_executed_units: *\K[0-9]+' "${log}" || echo '?')
    cover=$(grep 'DONE' "${log}" | grep -oP 'cov: \K[0-9]+' || echo '?')
    echo "fuzz: ${target}: ${runs} executions, ${cover} edges, no report"
  else
    echo "fuzz: ${target}: FAILED (log ${log})"
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "${log}" | grep -v WARNING | head -n 8
    failed=1
  fi
done
exit "${failed}"
