#!/usr/bin/env python3
"""Draws docs/train_bench.svg from Google Benchmark JSON (bench/train_benchmark,
built with --config=peers so that libtorch runs in the same binary).

    bazel run -c opt --config=peers //bench:train_benchmark -- \\
        --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \\
        --benchmark_out=/tmp/train.json
    tools/plot_train_bench.py /tmp/train.json docs/train_bench.svg

Each bar is libtorch's step time divided by tapegrad's (the speed-up; > 1 means
tapegrad is faster), from the medians of one run. The dashed line marks the
target: 1x for the MLP, 1.5x for the CNN, 5x for the moons model.
"""
import json
import sys

import svg_bars


def load(path):
    rows = {}
    for b in json.load(open(path))["benchmarks"]:
        if b.get("aggregate_name", "median") == "median":
            rows[b["run_name"].replace("/real_time", "")] = b["real_time"]
    return rows


def main(src, dst):
    r = load(src)
    bars = []
    for batch in (64, 256):
        for threads in (1, 2):
            key = f"MlpStep/batch:{batch}/threads:{threads}"
            bars.append((f"MLP b{batch} {threads}T",
                         r[f"BM_Libtorch_{key}"] / r[f"BM_{key}"], 1.0))
    for threads in (1, 2):
        key = f"CnnStep/batch:64/threads:{threads}"
        bars.append((f"CNN b64 {threads}T", r[f"BM_Libtorch_{key}"] / r[f"BM_{key}"], 1.5))
    for threads in (1, 2):
        bars.append((f"moons {threads}T",
                     r[f"BM_Libtorch_MoonsStep/threads:{threads}"] /
                     r[f"BM_TensorMoonsStep/threads:{threads}"], 5.0))
    svg_bars.draw(dst, "training step, speed-up over libtorch 1.13 (same run)",
                  bars, max(12.0, max(b[1] for b in bars) * 1.05),
                  lambda v: f"{v:.2f}x")


if __name__ == "__main__":
    main(*sys.argv[1:3])
