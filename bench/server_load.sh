#!/usr/bin/env bash
# Requests/s and latency of examples/server under wrk (Debian's wrk) on loopback,
# at 1, 8 and 64 connections, each for 10 s, one batch-1 FP32 request of 784
# numbers: bench/server_load.sh CHECKPOINT (an MLP checkpoint of 784 inputs, as
# `bazel run -c opt //examples:fashion_mnist -- 5 cpu CHECKPOINT` writes).
set -euo pipefail
cd "$(dirname "$0")/.."
checkpoint=$(realpath "$1")
command -v wrk >/dev/null || { echo "server_load: install wrk (apt-get install wrk)" >&2; exit 1; }
bazel build -c opt //examples/server >/dev/null 2>&1
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
/usr/bin/python3 -c "
import json, math
print(json.dumps({'inputs': [{'name': 'input', 'shape': [1, 784], 'datatype': 'FP32',
                              'data': [round(math.sin(0.01 * i), 4) for i in range(784)]}]}))
" >"$work/body.json"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$work/body.json", "r")
wrk.body = f:read("*a")
f:close()
LUA
"$(bazel info -c opt bazel-bin 2>/dev/null)/examples/server/server" "$checkpoint" 0 fashion \
  >"$work/server.log" &
server=$!
until grep -q "listening on" "$work/server.log" 2>/dev/null; do sleep 0.1; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/server.log")
echo "$(lscpu | sed -n 's/Model name: *//p'), $(date -u +%F)"
printf "%-12s %12s %10s %10s\n" connections requests/s p50 p99
for connections in 1 8 64; do
  out=$(wrk -t 1 -c "$connections" -d 10s --latency -s "$work/post.lua" \
    "http://127.0.0.1:$port/v2/models/fashion/infer")
  printf "%-12s %12s %10s %10s\n" "$connections" \
    "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '$1 == "50%" {print $2}')" \
    "$(echo "$out" | awk '$1 == "99%" {print $2}')"
done
