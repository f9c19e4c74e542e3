"""Charts as server-rendered SVG (pure): bars with their values written on them, so a chart reads the same on screen,
printed in black and white, and to a screen reader (role img, a title, and the table beside it)."""
from __future__ import annotations

from html import escape

WIDTH, BAR, GAP, LABEL, PAD = 520, 22, 8, 150, 10
INK, FILL, GRID = "#111", "#0b4f6c", "#999"


def _number(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.0f} %"
    text = f"{value:.1f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


def bars(title: str, items: list[tuple[str, float | None]], unit: str = "", top: float | None = None,
         target: float | None = None) -> str:
    """A horizontal bar chart: one bar a row, its value at its end; `target` draws a dashed line (e.g. 60 min)."""
    values = [v for _, v in items if v is not None]
    top = top or max(values + ([target] if target else []) + [1])
    span = WIDTH - LABEL - 2 * PAD - 60
    height = PAD * 2 + len(items) * (BAR + GAP) + 16
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
           f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fff"/>']
    for i, (label, value) in enumerate(items):
        y = PAD + i * (BAR + GAP)
        out.append(f'<text x="{LABEL - 6}" y="{y + BAR * 0.7:.1f}" text-anchor="end" font-size="12" '
                   f'fill="{INK}">{escape(label)}</text>')
        if value is None:
            out.append(f'<text x="{LABEL + 4}" y="{y + BAR * 0.7:.1f}" font-size="12" fill="{INK}">no data</text>')
            continue
        w = max(0.0, span * value / top)
        out.append(f'<rect x="{LABEL}" y="{y}" width="{w:.1f}" height="{BAR}" fill="{FILL}" stroke="{INK}" '
                   'stroke-width="0.5"/>')
        out.append(f'<text x="{LABEL + w + 4:.1f}" y="{y + BAR * 0.7:.1f}" font-size="12" '
                   f'fill="{INK}">{escape(_number(value, unit))}</text>')
    axis_y = PAD + len(items) * (BAR + GAP)
    out.append(f'<line x1="{LABEL}" y1="{PAD - 2}" x2="{LABEL}" y2="{axis_y}" stroke="{INK}"/>')
    if target:
        x = LABEL + span * target / top
        out.append(f'<line x1="{x:.1f}" y1="{PAD - 2}" x2="{x:.1f}" y2="{axis_y}" stroke="{INK}" '
                   'stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x:.1f}" y="{axis_y + 13}" text-anchor="middle" font-size="11" fill="{INK}">'
                   f'target {escape(_number(target, unit))}</text>')
    out.append("</svg>")
    return "".join(out)
