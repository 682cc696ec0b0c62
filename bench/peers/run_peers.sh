#!/usr/bin/env bash
# tapegrad against CoDiPack and Adept-2 on W1 and W2 (bench/peers/peer_workloads.cc),
# side by side in one run, each pinned to one core, alternated over rounds.
#
#   bench/peers/run_peers.sh CODIPACK_DIR ADEPT_DIR [ROUNDS] [CPU]
#
# CODIPACK_DIR and ADEPT_DIR are source folders of the peers' public repositories
# (github.com/SciCompKL/CoDiPack, github.com/rjhogan/Adept-2), cloned outside this
# repository; nothing of theirs is copied here. All three are built with g++ -O3
# -march=native -DNDEBUG. Prints the medians of the per-round figures as a
# Markdown table, with the CPU model and the date. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/../.."

codipack=${1:?usage: run_peers.sh CODIPACK_DIR ADEPT_DIR [ROUNDS] [CPU]}
adept=${2:?usage: run_peers.sh CODIPACK_DIR ADEPT_DIR [ROUNDS] [CPU]}
rounds=${3:-5}
cpu=${4:-1}
work=$(mktemp -d -t tapegrad-peers.XXXXXX)
flags=(-O3 -march=native -DNDEBUG -std=c++17)

echo "peers: building in ${work}" >&2
bazel build -c opt --copt=-O3 --copt=-march=native //bench/peers:tapegrad_w1w2 >&2
cp bazel-bin/bench/peers/tapegrad_w1w2 "${work}/tapegrad"
g++ "${flags[@]}" -DPEER_CODIPACK -I"${codipack}/include" \
  bench/peers/peer_workloads.cc -o "${work}/codipack"
g++ "${flags[@]}" -DPEER_ADEPT -I"${adept}/include" bench/peers/peer_workloads.cc \
  "${adept}"/adept/{Stack,StackStorageOrig,Storage,settings}.cpp -o "${work}/adept"

systems=(tapegrad codipack adept)
for ((r = 0; r < rounds; ++r)); do
  for s in "${systems[@]}"; do
    echo "peers: round $((r + 1))/${rounds}: ${s}" >&2
    taskset -c "${cpu}" "${work}/${s}" > "${work}/${s}.${r}"
  done
done

python3 - "${work}" "${rounds}" "${systems[@]}" <<'PY'
import statistics, subprocess, sys, time
work, rounds, systems = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
runs = {s: [dict(l.split() for l in open(f"{work}/{s}.{r}") if " " in l)
            for r in range(rounds)] for s in systems}
def med(s, key):
    return statistics.median(float(run[key]) for run in runs[s])
for key in ("w1_checksum_1000000", "w1_checksum_20000", "w2_checksum"):
    values = {runs[s][0][key] for s in systems}
    if len(values) != 1:
        sys.exit(f"peers: checksums differ on {key}: {values}")
rows = [
    ("W1 record, chain in its own function, ns/op", "w1_record_function_1000000", "%.2f"),
    ("W1 record, chain inline in a larger function, ns/op", "w1_record_inline_1000000", "%.2f"),
    ("W1 backward, 10^6 steps, ns/op", "w1_backward_1000000", "%.2f"),
    ("W1 backward, 20k steps (in cache), ns/op", "w1_backward_20000", "%.2f"),
    ("W2 as plain scalar code, us/step", "w2_plain_us", "%.0f"),
    ("of which recording (through the loss), us", "w2_plain_record_us", "%.0f"),
]
model = subprocess.run("lscpu | sed -n 's/^Model name: *//p'", shell=True,
                       capture_output=True, text=True).stdout.strip()
print(f"CPU: {model}; {time.strftime('%Y-%m-%d')}; medians of {rounds} rounds, "
      "each the median of 7 runs; checksums equal")
print()
print("| | " + " | ".join(systems) + " |")
print("|---|" + "---:|" * len(systems))
for label, key, fmt in rows:
    print(f"| {label} | " + " | ".join(fmt % med(s, key) for s in systems) + " |")
PY
