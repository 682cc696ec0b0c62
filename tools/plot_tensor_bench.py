#!/usr/bin/env python3
"""Draws docs/tensor_bench.svg from Google Benchmark JSON (bench/tensor_benchmark).

    bazel run -c opt //bench:tensor_benchmark -- --benchmark_repetitions=3 \
        --benchmark_report_aggregates_only=true --benchmark_out=/tmp/t.json
    tools/plot_tensor_bench.py /tmp/t.json docs/tensor_bench.svg

Each bar is tapegrad's throughput as a percentage of its ceiling measured in the
same run: a two-thread memcpy for elementwise ops (bytes per second), OpenBLAS's
sgemm called directly for matmul (flops). The dashed line marks the issue's target.
"""
import json
import sys


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
            ceiling = r[f"BM_Copy/{n}"]["bytes_per_second"]
            bars.append((f"{op.lower()} {label}", 100 * ours / ceiling, 80))
    for n in (256, 512, 1024):
        ours = r[f"BM_MatMul_Tapegrad/{n}"]["GFLOPS"]
        ceiling = r[f"BM_MatMul_OpenBLAS/{n}"]["GFLOPS"]
        bars.append((f"matmul {n}", 100 * ours / ceiling, 90))
    width, left, top, bar_h, gap = 640, 110, 40, 22, 8
    height = top + len(bars) * (bar_h + gap) + 10
    scale = (width - left - 70) / 130.0  # 0..130 %
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="13">',
           f'<text x="{left}" y="22" font-weight="bold">tapegrad f32 kernels, % of the '
           'ceiling measured in the same run</text>']
    for i, (label, pct, target) in enumerate(bars):
        y = top + i * (bar_h + gap)
        w = scale * min(pct, 130)
        color = "#3b6ea5" if pct >= target else "#c0504d"
        out.append(f'<text x="{left - 8}" y="{y + bar_h / 2 + 5}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>')
        tx = left + scale * target
        out.append(f'<line x1="{tx:.1f}" y1="{y - 2}" x2="{tx:.1f}" y2="{y + bar_h + 2}" '
                   'stroke="black" stroke-dasharray="3,2"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + bar_h / 2 + 5}">{pct:.0f}%</text>')
    out.append("</svg>")
    open(dst, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
