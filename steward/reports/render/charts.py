"""Hand-built, deterministic SVG charts: the same chart gives the same bytes.

Line charts pad the data range to round ticks (never forced to start at zero); bars start at zero
(a bar's length is its value). Each SVG carries a <title> and a <desc> text alternative.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from steward.reports.blocks import Bar, BarChart, LineChart, Series
from steward.reports.render.text import AXIS, BAND, GRID, INK, MUTED, PALETTE, THRESHOLD, number
from steward.reports.render.text import escape as esc

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 70, 110, 34, 48
Scale = Callable[[float], float]
SUMMARY_COLUMNS = ["Series", "Points", "From", "To", "Min", "Max", "Mean", "Last"]


def f(value: float) -> str:
    """A coordinate: one decimal, no negative zero."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (about ``count`` of them)."""
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step + 1e-9) * step
    ticks = [first]
    while ticks[-1] < hi - 1e-9 * step:
        ticks.append(first + len(ticks) * step)
    return [round(t, 12) for t in ticks]


def parse_time(value: str) -> datetime | None:
    """An ISO-8601 time (naive means UTC), or None if ``value`` is a category label."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def time_ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Calendar-aligned ticks (months, days or hours) with their labels, at most ~8."""
    span = end - start
    if span >= timedelta(days=90):
        months = (end.year - start.year) * 12 + end.month - start.month
        every = next(k for k in (1, 2, 3, 6, 12, 24) if months / k <= 7)
        moment = datetime(start.year, start.month, 1, tzinfo=UTC)
        out = []
        while moment <= end:
            if moment >= start and (moment.month - 1) % every == 0:
                out.append((moment, moment.strftime("%Y-%m")))
            year, month = divmod(moment.month, 12)
            moment = moment.replace(year=moment.year + year, month=month + 1)
        return out
    if span >= timedelta(days=2):
        every = next(k for k in (1, 2, 7, 14, 28) if span.days / k <= 7)
        unit, fmt = timedelta(days=every), "%Y-%m-%d"
        moment = datetime(start.year, start.month, start.day, tzinfo=UTC)
    else:
        hours = span.total_seconds() / 3600
        every = next((k for k in (1, 2, 3, 6, 12) if hours / k <= 7), 24)
        unit, fmt = timedelta(hours=every), "%m-%d %H:%M"
        moment = start.replace(minute=0, second=0, microsecond=0)
    out = []
    while moment <= end:
        if moment >= start:
            out.append((moment, moment.strftime(fmt)))
        moment += unit
    return out


@dataclass(frozen=True, slots=True)
class _XAxis:
    """Maps a point's x (time or category) to a fraction of the plot width."""

    times: tuple[datetime, datetime] | None
    categories: tuple[str, ...]

    def fraction(self, x: str) -> float:
        if self.times is not None:
            start, end = self.times
            moment = parse_time(x) or start
            span = (end - start).total_seconds() or 1.0
            return (moment - start).total_seconds() / span
        if len(self.categories) == 1:
            return 0.5
        return self.categories.index(x) / (len(self.categories) - 1)

    def ticks(self) -> list[tuple[float, str]]:
        if self.times is not None:
            start, end = self.times
            span = (end - start).total_seconds() or 1.0
            return [((t - start).total_seconds() / span, lab) for t, lab in time_ticks(start, end)]
        step = max(1, math.ceil(len(self.categories) / 8))
        return [(self.fraction(c), c) for c in self.categories[::step]]


def _x_axis(series: list[Series]) -> _XAxis:
    xs = [p.x for s in series for p in s.points]
    times = [parse_time(x) for x in xs]
    if xs and all(t is not None for t in times):
        known = [t for t in times if t is not None]
        return _XAxis(times=(min(known), max(known)), categories=())
    return _XAxis(times=None, categories=tuple(dict.fromkeys(xs)))


def y_ticks(chart: LineChart) -> list[float]:
    """The y-axis ticks: the data, thresholds and band, padded a little, rounded outwards."""
    values = [p.y for s in chart.series for p in s.points if p.y is not None]
    values += [t.value for t in chart.thresholds] + list(chart.band or ())
    if not values:
        return [0.0, 1.0]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.03
    # padding keeps the line off the frame but never crosses zero on its own
    low = lo - pad if lo - pad >= 0 or lo < 0 else 0.0
    high = hi + pad if hi + pad <= 0 or hi > 0 else 0.0
    return nice_ticks(low, high, count=6)


def _path(points: list[tuple[float, float] | None]) -> str:
    """An SVG path through the points; a None (no value) breaks the line."""
    parts: list[str] = []
    pen_up = True
    for point in points:
        if point is None:
            pen_up = True
            continue
        parts.append(("M" if pen_up else "L") + f"{f(point[0])} {f(point[1])}")
        pen_up = False
    return "".join(parts)


def series_rows(chart: LineChart) -> list[list[str]]:
    """Per series: points, first and last x, min, max, mean and last value (the text
    alternative of the chart, and its Markdown form)."""
    rows = []
    for s in chart.series:
        ys = [p.y for p in s.points if p.y is not None]
        first, last = (s.points[0].x, s.points[-1].x) if s.points else ("—", "—")
        if ys:
            stats = [number(min(ys)), number(max(ys)), number(sum(ys) / len(ys)), number(ys[-1])]
        else:
            stats = ["—"] * 4
        rows.append([s.name, str(len(s.points)), first, last, *stats])
    return rows


def line_description(chart: LineChart) -> str:
    """A sentence-level summary of a line chart (the SVG's <desc>)."""
    parts = []
    for row in series_rows(chart):
        name, n, first, last, lo, hi, _, final = row
        parts.append(f"{name}: {n} points from {first} to {last}, min {lo}, max {hi}, last {final}")
    parts += [f"threshold {t.label} at {number(t.value)}" for t in chart.thresholds]
    if chart.band:
        parts.append(f"reference band {number(chart.band[0])} to {number(chart.band[1])}")
    return "; ".join(parts) or "no data"


def _frame(uid: str, title: str, desc: str, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-labelledby="{uid}-t {uid}-d" '
        f'font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="11">',
        f'<title id="{uid}-t">{esc(title)}</title><desc id="{uid}-d">{esc(desc)}</desc>',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]


def _y_grid(ticks: list[float], y_of: Scale, width: float) -> list[str]:
    out = []
    for t in ticks:
        y = y_of(t)
        out.append(
            f'<line x1="{LEFT}" x2="{f(LEFT + width)}" y1="{f(y)}" y2="{f(y)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{f(y + 4)}" text-anchor="end" fill="{MUTED}">'
            f"{esc(number(t))}</text>"
        )
    return out


def line_chart_svg(chart: LineChart, uid: str) -> str:
    """The chart as an SVG element (ids prefixed by ``uid``, unique within the page)."""
    width, height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    ticks = y_ticks(chart)
    lo, hi = ticks[0], ticks[-1]
    axis = _x_axis(chart.series)

    def y_of(v: float) -> float:
        return TOP + height - (v - lo) / (hi - lo) * height

    def x_of(x: str) -> float:
        return LEFT + axis.fraction(x) * width

    out = _frame(uid, chart.title, line_description(chart), HEIGHT)
    if chart.band:
        top, bottom = y_of(max(chart.band)), y_of(min(chart.band))
        out.append(
            f'<rect x="{LEFT}" y="{f(top)}" width="{width}" height="{f(bottom - top)}" '
            f'fill="{BAND}"><title>reference band</title></rect>'
        )
    out += _y_grid(ticks, y_of, width)
    out += _x_ticks(axis, width, height)
    out += _thresholds(chart, y_of, width)
    for i, s in enumerate(chart.series):
        colour = PALETTE[i % len(PALETTE)]
        pts = [None if p.y is None else (x_of(p.x), y_of(p.y)) for p in s.points]
        out.append(
            f'<path d="{_path(pts)}" fill="none" stroke="{colour}" stroke-width="1.6" '
            f'stroke-linejoin="round"><title>{esc(s.name)}</title></path>'
        )
        if len(pts) <= 60:
            out += [
                f'<circle cx="{f(p[0])}" cy="{f(p[1])}" r="2.5" fill="{colour}"/>'
                for p in pts
                if p is not None
            ]
    out += _legend(chart)
    out += _axis_labels(chart.y_label, "Time (UTC)" if axis.times else "", width, height)
    out.append("</svg>")
    return "".join(out)


def _x_ticks(axis: _XAxis, width: float, height: float) -> list[str]:
    base = TOP + height
    out = [
        f'<line x1="{LEFT}" x2="{f(LEFT + width)}" y1="{f(base)}" y2="{f(base)}" stroke="{AXIS}"/>'
    ]
    for frac, label in axis.ticks():
        x = LEFT + frac * width
        out.append(
            f'<line x1="{f(x)}" x2="{f(x)}" y1="{f(base)}" y2="{f(base + 4)}" stroke="{AXIS}"/>'
        )
        out.append(
            f'<text x="{f(x)}" y="{f(base + 16)}" text-anchor="middle" fill="{MUTED}">'
            f"{esc(label[:16])}</text>"
        )
    return out


def _thresholds(chart: LineChart, y_of: Scale, width: float) -> list[str]:
    out = []
    for t in chart.thresholds:
        y = y_of(t.value)
        out.append(
            f'<line x1="{LEFT}" x2="{f(LEFT + width)}" y1="{f(y)}" y2="{f(y)}" '
            f'stroke="{THRESHOLD}" stroke-width="1.4" stroke-dasharray="6 4">'
            f"<title>{esc(t.label)}: {esc(number(t.value))}</title></line>"
        )
        out.append(
            f'<text x="{f(LEFT + width + 6)}" y="{f(y + 4)}" fill="{THRESHOLD}">'
            f"{esc(t.label[:16])}</text>"
        )
    return out


def _legend(chart: LineChart) -> list[str]:
    out, x = [], float(LEFT)
    for i, s in enumerate(chart.series):
        colour = PALETTE[i % len(PALETTE)]
        out.append(
            f'<line x1="{f(x)}" x2="{f(x + 18)}" y1="14" y2="14" stroke="{colour}" '
            f'stroke-width="3"/><text x="{f(x + 24)}" y="18" fill="{INK}">'
            f"{esc(s.name[:40])}</text>"
        )
        x += 40 + 7 * min(len(s.name), 40)
    return out


def _axis_labels(y_label: str, x_label: str, width: float, height: float) -> list[str]:
    mid = TOP + height / 2
    out = []
    if y_label:
        out.append(
            f'<text transform="translate(14 {f(mid)}) rotate(-90)" text-anchor="middle" '
            f'fill="{INK}">{esc(y_label)}</text>'
        )
    if x_label:
        out.append(
            f'<text x="{f(LEFT + width / 2)}" y="{HEIGHT - 8}" text-anchor="middle" '
            f'fill="{INK}">{esc(x_label)}</text>'
        )
    return out


def bar_description(chart: BarChart) -> str:
    """A summary of a bar chart (the SVG's <desc>)."""
    parts = [
        f"{b.label}: {number(b.value)}" + (f" ± {number(b.error)}" if b.error is not None else "")
        for b in chart.bars
    ]
    return "; ".join(parts) or "no data"


def bar_chart_svg(chart: BarChart, uid: str) -> str:
    """Horizontal bars from zero, with error bars; ids prefixed by ``uid``."""
    row, label_w, right = 24, 190, 70
    height = TOP + BOTTOM + row * max(len(chart.bars), 1)
    width = WIDTH - label_w - right
    spans = [(b.value - (b.error or 0), b.value + (b.error or 0)) for b in chart.bars]
    ticks = nice_ticks(min([0.0, *(s[0] for s in spans)]), max([0.0, *(s[1] for s in spans)]))
    lo, hi = ticks[0], ticks[-1]

    def x_of(v: float) -> float:
        return label_w + (v - lo) / (hi - lo) * width

    out = _frame(uid, chart.title, bar_description(chart), height)
    base = height - BOTTOM
    for t in ticks:
        out.append(
            f'<line x1="{f(x_of(t))}" x2="{f(x_of(t))}" y1="{TOP}" y2="{base}" '
            f'stroke="{GRID}"/><text x="{f(x_of(t))}" y="{base + 16}" '
            f'text-anchor="middle" fill="{MUTED}">{esc(number(t))}</text>'
        )
    for i, bar in enumerate(chart.bars):
        out += _bar(bar, TOP + i * row, row, x_of, PALETTE[0])
    out.append(
        f'<line x1="{f(x_of(0))}" x2="{f(x_of(0))}" y1="{TOP}" y2="{base}" stroke="{AXIS}"/>'
    )
    if chart.x_label:
        out.append(
            f'<text x="{f(label_w + width / 2)}" y="{height - 8}" text-anchor="middle" '
            f'fill="{INK}">{esc(chart.x_label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _bar(bar: Bar, top: float, row: float, x_of: Scale, colour: str) -> list[str]:
    scale = x_of
    x0, x1 = sorted((scale(0.0), scale(bar.value)))
    mid = top + row / 2
    label = bar.label if len(bar.label) <= 28 else bar.label[:27] + "…"
    out = [
        f'<text x="184" y="{f(mid + 4)}" text-anchor="end" fill="{INK}">{esc(label)}'
        f"<title>{esc(bar.label)}</title></text>",
        f'<rect x="{f(x0)}" y="{f(top + 5)}" width="{f(max(x1 - x0, 0.5))}" '
        f'height="{f(row - 10)}" fill="{colour}"><title>{esc(bar.label)}: '
        f"{esc(number(bar.value))}</title></rect>",
    ]
    end = max(x1, x0)
    if bar.error is not None:
        lo, hi = scale(bar.value - bar.error), scale(bar.value + bar.error)
        end = max(end, hi)
        out.append(
            f'<path d="M{f(lo)} {f(mid)}H{f(hi)}M{f(lo)} {f(mid - 5)}V{f(mid + 5)}'
            f'M{f(hi)} {f(mid - 5)}V{f(mid + 5)}" stroke="{INK}" stroke-width="1.2"/>'
        )
    out.append(
        f'<text x="{f(end + 5)}" y="{f(mid + 4)}" fill="{INK}">{esc(number(bar.value))}</text>'
    )
    return out
