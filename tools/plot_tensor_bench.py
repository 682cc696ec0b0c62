#!/usr/bin/env python3
"""Draws docs/tensor_bench.svg from Google Benchmark JSON (bench/tensor_benchmark).

    bazel run -c opt //bench:tensor_benchmark -- --benchmark_repetitions=3 \
        --benchmark_report_aggregates_only=true --benchmark_out=/tmp/t.json
    tools/plot_tensor_bench.py /tmp/t.json docs/tensor_bench.svg

Each bar is tapegrad's throughput as a percentage of its ceiling measured in the
same run: two two-thread memcpys for elementwise ops (bytes per second; one of n
floats, one of the op's bytes through the op's footprint), oneDNN's
dnnl_sgemm called directly for matmul (flops). The dashed line marks the issue's target.
"""
import json
import sys

import svg_bars


def load(path):
    rows = {}
    for b in json.load(open(path))["benchmarks"]:
        if b.get("aggregate_name", "mean") == "mean":
            rows[b["run_name"].replace("/real_time", "")] = b
    return rows


def main(src, dst):
    r = load(src)
    bars = []
    for op in ("Add", "Mul"):
        for n, label in ((1 << 20, "1M"), (1 << 22, "4M"), (1 << 24, "16M")):
            ours = r[f"BM_{op}/{n}"]["bytes_per_second"]
            for copy, kind in (("BM_Copy", "n"), ("BM_CopyFootprint", "same bytes")):
                ceiling = r[f"{copy}/{n}"]["bytes_per_second"]
                bars.append((f"{op.lower()} {label} / copy {kind}", 100 * ours / ceiling, 80))
    for m, k, n in ((64, 784, 256), (256, 784, 256), (64, 256, 10), (256, 256, 256),
                    (512, 512, 512), (1024, 1024, 1024)):
        shape = f"m:{m}/k:{k}/n:{n}"
        ours = r[f"BM_MatMul_Tapegrad/{shape}"]["GFLOPS"]
        ceiling = r[f"BM_MatMul_DnnlSgemm/{shape}"]["GFLOPS"]
        bars.append((f"matmul {m}x{k}x{n}", 100 * ours / ceiling, 90))
    svg_bars.draw(dst, "tapegrad f32 kernels, % of the ceiling measured in the same run",
                  bars, 130, lambda v: f"{v:.0f}%")


if __name__ == "__main__":
    main(*sys.argv[1:3])
