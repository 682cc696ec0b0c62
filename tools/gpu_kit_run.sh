#!/usr/bin/env bash
# Runs the GPU kit that tools/gpu_kit.sh builds: bash run.sh [REPORT_DIR]
#
# Needs an NVIDIA driver and the CUDA 13 toolkit's cudart, NVRTC and cuBLAS
# (found through ldconfig, /usr/local/cuda or Python's nvidia-* wheels); python3
# with PyTorch for the PyTorch peer. Everything else comes in the kit. Writes one
# file, REPORT_DIR/gpu_report.txt (default: the current directory), and prints
# the same. Each step has a time limit; the whole run stays under 8 minutes.
#
# Without a GPU it runs what needs none (NVRTC compiles every kernel module, the
# no-device tests), says that the GPU steps were skipped, and exits 0. With one,
# a test skipped for want of a device is a failure: the driver or toolkit did
# not answer. Exit status: 0 when every step that ran passed.
set -uo pipefail
kit=$(cd "$(dirname "$0")" && pwd)
mkdir -p "${1:-.}"
report=$(cd "${1:-.}" && pwd)/gpu_report.txt
: >"$report"
work=$(mktemp -d -t tapegrad-gpu-kit.XXXXXX)
trap 'rm -rf "$work"' EXIT
say() { echo "$*" | tee -a "$report"; }
section() { say ""; say "=== $*"; }

# --- The kit and the machine ---------------------------------------------------
say "tapegrad GPU kit, run $(date -u +%FT%TZ) on $(hostname)"
sed 's/^/kit: /' "$kit/VERSION" | tee -a "$report"
say "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p')"
if command -v xz >/dev/null; then
  tar -C "$work" -xJf "$kit/payload.tar.xz"
else
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
    "$kit/payload.tar.xz" "$work"
fi || {
  say "FAILED: could not unpack $kit/payload.tar.xz"
  exit 1
}

gpus=0
section "nvidia-smi"
if command -v nvidia-smi >/dev/null && nvidia-smi >"$work/smi" 2>&1; then
  tee -a "$report" <"$work/smi"
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
else
  say "no nvidia-smi answered: $(head -c 300 "$work/smi" 2>/dev/null)"
fi

# CUDA's own libraries must match the driver, so they come from this machine.
cuda_dirs=()
find_cuda_lib() {
  local name=$1 path d
  path=$(ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n { print $NF; exit }')
  if [[ -z $path ]]; then
    for d in "${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64 \
      /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64; do
      if [[ -e $d/$name ]]; then path=$d/$name; break; fi
    done
  fi
  if [[ -z $path ]] && command -v python3 >/dev/null; then
    path=$(python3 - "$name" <<'EOF' 2>/dev/null
import glob, site, sys
for d in site.getsitepackages():
    for p in sorted(glob.glob(d + "/nvidia/**/lib/" + sys.argv[1], recursive=True)):
        print(p)
        raise SystemExit
EOF
)
  fi
  [[ -n $path ]] || return 1
  say "$name: $path"
  cuda_dirs+=("$(dirname "$path")")
}
section "CUDA libraries"
missing=()
for lib in libcudart.so.13 libnvrtc.so.13 libcublas.so.13 libcublasLt.so.13; do
  find_cuda_lib "$lib" || missing+=("$lib")
done
if ((${#missing[@]} > 0)); then say "not found: ${missing[*]}"; fi
lib_path=$work/lib
for d in $(printf '%s\n' "${cuda_dirs[@]}" | awk '!seen[$0]++'); do lib_path+=:$d; done
# Only the kit's binaries see its libraries: its libstdc++ may be older than the
# one this machine's PyTorch needs.
kit_env=(env "LD_LIBRARY_PATH=$lib_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  "TAPEGRAD_CUDA_CACHE_DIR=$work/nvrtc_cache")
mkdir -p "$work/nvrtc_cache"

section "shared libraries the binaries load"
unresolved=0
for b in "$work"/bin/*_test "$work"/bin/*_benchmark; do
  "${kit_env[@]}" ldd "$b" | awk -v kit="$work/lib/" -v b="${b##*/}" '
    $2 == "=>" { where = index($3, kit) == 1 ? "kit" : $3; print b ": " $1 " -> " where }'
done >"$work/ldd"
tee -a "$report" <"$work/ldd"
if grep -q 'not found' "$work/ldd"; then unresolved=1; fi

# --- Steps -----------------------------------------------------------------------
results=()
failed=0
# step NAME SECONDS COMMAND...: runs COMMAND with a time limit, its output in the report.
step() {
  local name=$1 limit=$2 start=$SECONDS rc
  shift 2
  section "$name (limit ${limit} s): $*"
  (cd "$work" && timeout --kill-after=10 "$limit" "$@") >"$work/out" 2>&1
  rc=$?
  tee -a "$report" <"$work/out"
  local verdict=passed
  if ((rc == 124 || rc == 137)); then
    verdict="FAILED (over ${limit} s)"
  elif ((rc != 0)); then
    verdict="FAILED (exit ${rc})"
  elif ((gpus > 0)) && [[ $name == cuda_ops_test || $name == nvrtc_test ]] && grep -q '^\[  SKIPPED \]' "$work/out"; then
    verdict="FAILED (skipped cases on a machine with a GPU)"
  elif ((gpus > 0)) && grep -q 'nothing to measure' "$work/out"; then
    verdict="FAILED (no device answered the benchmark)"
  fi
  [[ $verdict == passed ]] || failed=1
  results+=("$(printf '%-22s %-48s %4d s' "$name" "$verdict" $((SECONDS - start)))")
}
skip() { results+=("$(printf '%-22s %s' "$1" "skipped: $2")"); }

if ((${#missing[@]} > 0 || unresolved)); then
  say ""
  say "FAILED: libraries missing (above); nothing can run"
  exit 1
fi
step nvrtc_test 120 "${kit_env[@]}" bin/nvrtc_test
step cuda_unavailable_test 30 "${kit_env[@]}" bin/cuda_unavailable_test
step cuda_ops_test 150 "${kit_env[@]}" bin/cuda_ops_test
if ((gpus > 0)); then
  step cuda_benchmark 120 "${kit_env[@]}" bin/cuda_benchmark --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true
  if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    step torch_gpu_step 60 python3 bin/torch_gpu_step.py
  else
    skip torch_gpu_step "python3 has no PyTorch that sees a GPU"
  fi
else
  skip cuda_benchmark "no GPU"
  skip torch_gpu_step "no GPU"
fi

section "summary"
for r in "${results[@]}"; do say "$r"; done
if ((gpus == 0)); then
  say "NO GPU on this machine: the GPU cases of cuda_ops_test skipped, the benchmarks did not run"
fi
if ((failed)); then say "gpu kit: FAILED"; else say "gpu kit: all steps that ran passed"; fi
say "report: $report"
exit $failed
