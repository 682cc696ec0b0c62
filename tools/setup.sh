#!/usr/bin/env bash
# Installs every Debian package that tapegrad's build, tests, examples and
# benchmarks need. Idempotent: quiet and quick when everything is present.
set -euo pipefail

packages=(
  bazel-bootstrap bazel-platforms bazel-rules-java   # Bazel 4.2.3, WORKSPACE mode
  g++ make cmake pkg-config libabsl-dev python3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-dev zlib1g-dev python3 python3-pytest python3-numpy clang-format
  libdnnl-dev                                         # oneDNN: f32 convolutions
  python3-sklearn dataset-fashion-mnist               # the digits and Fashion-MNIST data
  libdlpack-dev                                      # the C ABI's tensor exchange format
  nlohmann-json3-dev                                 # safetensors checkpoint headers, the server's JSON
  libcpp-httplib-dev                                 # examples/server
  libopenmpi-dev openmpi-bin                          # //dist: MPI process groups, mpirun
  libboost-context-dev                                # the CUDA simulator's fibers (--config=cudasim)
  graphviz python3-graphviz python3-matplotlib        # tapegrad.draw_dot, the Python example's plot
  clang-14 libclang-rt-14-dev                         # tests/fuzz: libFuzzer, FuzzedDataProvider.h
  python3-pip python3-setuptools python3-wheel python3-venv  # tools/wheel.sh, CI's installed-package test
  python3-torch                                       # the ops' reference in python/tests/torch_parity_test.py
)

# --peers: also libtorch, the peer that bench/libtorch_peers.cc measures against
# (about 165 packages; not needed to build or test tapegrad).
if [[ "${1:-}" == "--peers" ]]; then
  packages+=(libtorch-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
