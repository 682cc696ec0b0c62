#!/usr/bin/env python3
"""Draws docs/bench.svg from Google Benchmark JSON (bench/tape_benchmark output).

    bazel run -c opt //bench:tape_benchmark -- --benchmark_out=/tmp/b.json
    tools/plot_bench.py /tmp/b.json docs/bench.svg

Bars are the pointer graph's cost divided by the tape's (higher is better for the
tape), on a log scale, for the three headline figures.
"""
import json
import math
import sys


def load(path):
    rows = {}
    for b in json.load(open(path))["benchmarks"]:
        if b.get("aggregate_name", "median") != "median":
            continue
        name = b["run_name"].split("/")[0]
        rows[name + ("/short" if "/20000/" in b["run_name"] else "")] = b
    return rows


def main(src, dst):
    r = load(src)
    tape, graph = r["BM_W1_Chain_Tape"], r["BM_W1_Chain_PointerGraph"]
    w2t, w2g = r["BM_W2_MicrogradStep_Tape"], r["BM_W2_MicrogradStep_PointerGraph"]
    bars = [
        ("W1 record", graph["record_ns/op"] / tape["record_ns/op"]),
        ("W1 backward", graph["backward_ns/op"] / tape["backward_ns/op"]),
        ("W2 step", w2g["real_time"] / w2t["real_time"]),
    ]
    width, height, left, top, bar_h, gap = 640, 200, 120, 40, 36, 16
    scale = (width - left - 80) / math.log10(1000)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="13">',
           f'<text x="{left}" y="22" font-weight="bold">tapegrad speed-up over a '
           'micrograd-style pointer graph (log scale)</text>']
    for i, (label, ratio) in enumerate(bars):
        y = top + i * (bar_h + gap)
        w = max(2, scale * math.log10(max(ratio, 1)))
        out.append(f'<text x="{left - 8}" y="{y + bar_h / 2 + 5}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#3b6ea5"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + bar_h / 2 + 5}">{ratio:.0f}x</text>')
    out.append("</svg>")
    open(dst, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
