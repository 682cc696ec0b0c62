"""Horizontal bar charts as plain SVG (no plotting library needed): one bar per
row, a dashed tick at each row's target, blue when the target is met, red when not.
Used by the plot_*_bench.py scripts.
"""


def draw(dst, title, bars, limit, fmt, higher_is_better=True):
    """bars: (label, value, target) rows; limit: the value at the right edge;
    fmt: formats a value for the label next to its bar."""
    width, left, top, bar_h, gap = 700, 210, 40, 22, 8
    height = top + len(bars) * (bar_h + gap) + 10
    scale = (width - left - 80) / float(limit)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="13">',
           f'<text x="{left}" y="22" font-weight="bold">{title}</text>']
    for i, (label, value, target) in enumerate(bars):
        y = top + i * (bar_h + gap)
        w = scale * min(value, limit)
        met = value >= target if higher_is_better else value <= target
        color = "#3b6ea5" if met else "#c0504d"
        out.append(f'<text x="{left - 8}" y="{y + bar_h / 2 + 5}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>')
        tx = left + scale * min(target, limit)
        out.append(f'<line x1="{tx:.1f}" y1="{y - 2}" x2="{tx:.1f}" y2="{y + bar_h + 2}" '
                   'stroke="black" stroke-dasharray="3,2"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + bar_h / 2 + 5}">{fmt(value)}</text>')
    out.append("</svg>")
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")
