#!/usr/bin/env bash
# Builds the GPU kit: tools/gpu_kit.sh [OUTDIR [BAZEL_FLAG...]] (default gpu_kit/;
# extra flags follow the kit's own, so `-c fastbuild` makes a quicker kit).
#
# The kit is a folder that runs the CUDA backend's tests and benchmarks on a
# machine with an NVIDIA GPU and the CUDA 13 driver and toolkit, but no Bazel,
# abseil, OpenBLAS or oneDNN and no package access:
#
#   tools/gpu_kit.sh                  # here: build with --config=cuda -c opt
#   scp -r gpu_kit gpu-host:          # or any other way of carrying the folder
#   ssh gpu-host bash gpu_kit/run.sh REPORT_DIR
#
# It holds cuda_ops_test (every op against the CPU, large sizes, Adam, a training
# loop), nvrtc_test (every kernel module compiled), cuda_unavailable_test,
# cuda_benchmark and bench/torch_gpu_step.py, with every shared library they
# need except glibc's and CUDA's own (cudart, NVRTC, cuBLAS come from the GPU
# machine's toolkit), packed with xz. run.sh writes one file, gpu_report.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-gpu_kit}")
flags=(-c opt --config=cuda "${@:2}")
binaries=(tests/cuda/cuda_ops_test tests/cuda/nvrtc_test tests/cuda/cuda_unavailable_test
  bench/cuda_benchmark)

labels=()
for b in "${binaries[@]}"; do labels+=("//${b%/*}:${b##*/}"); done
bazel build "${flags[@]}" "${labels[@]}"
bin=$(bazel info "${flags[@]}" bazel-bin 2>/dev/null)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
for b in "${binaries[@]}"; do install -m 0755 "$bin/$b" "$stage/bin/"; done
cp bench/torch_gpu_step.py "$stage/bin/"

# Every library the binaries load, except the C library's own and CUDA's, which
# must match the GPU machine's driver: those come from its toolkit.
system='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libcuda|libcudart|libnvrtc|libcublas|libcublasLt)\.so'
for b in "$stage"/bin/*_test "$stage"/bin/*_benchmark; do
  ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r name path; do
  if [[ ! $name =~ $system ]]; then install -m 0644 "$(readlink -f "$path")" "$stage/lib/$name"; fi
done
strip --strip-unneeded "$stage"/bin/*_test "$stage"/bin/*_benchmark "$stage"/lib/*.so*

{
  echo "tapegrad $(tools/version.sh)"
  echo "commit $(git rev-parse HEAD)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built $(date -u +%FT%TZ) on $(lscpu | sed -n 's/^Model name: *//p')"
  echo "flags ${flags[*]}"
  echo "CUDA toolkit $(/usr/local/cuda/bin/nvcc --version | sed -n 's/.*release \([^,]*\).*/\1/p')"
} >"$stage/VERSION"

rm -rf "$out"
mkdir -p "$out"
tar -C "$stage" -cf - bin lib VERSION | xz -T0 -6 >"$out/payload.tar.xz"
install -m 0755 tools/gpu_kit_run.sh "$out/run.sh"
cp "$stage/VERSION" "$out/"
size=$(du -sm "$out" | cut -f1)
if ((size > 60)); then
  echo "gpu_kit: ${out} is ${size} MiB, over the 60 MiB a kit may take" >&2
  exit 1
fi
echo "gpu_kit: ${out} (${size} MiB); run it with: bash ${out}/run.sh REPORT_DIR"
