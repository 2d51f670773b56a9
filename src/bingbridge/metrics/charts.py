"""Line charts of daily metrics as inline SVG, drawn on the server: no chart library, no script.

The SVG scales with its container (a fixed viewBox, width set by CSS) and is styled by class names only (`line`,
`area`, `grid`, `axis`, `point`), so the page's stylesheet decides colours and a Content-Security-Policy without
inline styles holds. Each chart has a <title> and a <desc> (range, total, highest day) for screen readers, and each
point a <title> tooltip. Coordinates are rounded to 0.1 so the output is stable for tests.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from html import escape

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 64  # room for y labels such as "12.5k"
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 36
# Above this many days, points get no markers (they would merge into a thick line); the line keeps its tooltips
# in the data table the dashboard shows under each chart.
MAX_MARKERS = 93


def compact_number(value: float) -> str:
    """12345 -> '12.3k', 2500000 -> '2.5M', 0.5 -> '0.5': short labels for an axis."""
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if value != int(value) else str(int(value))


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Gridline values from 0 covering `maximum` in about `count` steps of 1, 2, 2.5 or 5 times a power of ten."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude * count >= maximum)
    steps = math.ceil(round(maximum / step, 9))
    return [round(step * i, 10) for i in range(steps + 1)]


def _label_indices(n: int, wanted: int = 6) -> list[int]:
    """About `wanted` evenly spaced indices of n points, first and last included."""
    if n <= wanted:
        return list(range(n))
    return sorted({round(i * (n - 1) / (wanted - 1)) for i in range(wanted)})


def _f(value: float) -> str:
    return f"{value:.1f}"


def line_chart(
    points: Sequence[tuple[dt.date, float]],
    *,
    title: str,
    chart_id: str,
    value_format: Callable[[float], str] = compact_number,
    total: str | None = None,
) -> str:
    """An SVG line chart of one value per day; `chart_id` makes the element ids unique on the page.

    `total` replaces the description's "total <sum>" for values that do not add up (a ratio such as ROAS)."""
    cid = escape(chart_id)
    label = f"{cid}-title {cid}-desc"
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{label}" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{cid}-title">{escape(title)}</title>'
    )
    if not points:
        return (
            f'{head}<desc id="{cid}-desc">No data in this range.</desc>'
            f'<text class="empty" x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle">No data in this range</text>'
            "</svg>"
        )
    values = [v for _, v in points]
    ticks = nice_ticks(max(values))
    top = ticks[-1]
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    bottom = MARGIN_TOP + plot_h
    n = len(points)

    def x(i: int) -> float:
        return MARGIN_LEFT + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def y(v: float) -> float:
        return MARGIN_TOP + plot_h * (1 - v / top)

    best = max(range(n), key=lambda i: (values[i], -i))
    desc = (
        f"{points[0][0].isoformat()} to {points[-1][0].isoformat()}: {total or 'total ' + value_format(sum(values))}, "
        f"highest {value_format(values[best])} on {points[best][0].isoformat()}."
    )
    parts = [head, f'<desc id="{cid}-desc">{escape(desc)}</desc>']
    for tick in ticks:
        ty = _f(y(tick))
        parts.append(f'<line class="grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{ty}" y2="{ty}"/>')
        parts.append(
            f'<text class="axis" x="{MARGIN_LEFT - 8}" y="{ty}" text-anchor="end" dominant-baseline="middle">'
            f"{escape(compact_number(tick))}</text>"
        )
    for i in _label_indices(n):
        day = points[i][0]
        # The last label ends at its point: centred, it would be cut off at the chart's right edge.
        anchor = "end" if i == n - 1 and n > 1 else "middle"
        parts.append(
            f'<text class="axis" x="{_f(x(i))}" y="{bottom + 22}" text-anchor="{anchor}">'
            f"{escape(f'{day:%b} {day.day}')}</text>"
        )
    coords = " ".join(f"{_f(x(i))},{_f(y(v))}" for i, v in enumerate(values))
    if n > 1:
        parts.append(f'<polygon class="area" points="{_f(x(0))},{_f(bottom)} {coords} {_f(x(n - 1))},{_f(bottom)}"/>')
        parts.append(f'<polyline class="line" points="{coords}"/>')
    if n <= MAX_MARKERS:
        for i, (day, value) in enumerate(points):
            tip = escape(f"{day.isoformat()}: {value_format(value)}")
            parts.append(
                f'<circle class="point" cx="{_f(x(i))}" cy="{_f(y(value))}" r="3"><title>{tip}</title></circle>'
            )
    parts.append(
        f'<line class="axis-line" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{bottom}" y2="{bottom}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)
