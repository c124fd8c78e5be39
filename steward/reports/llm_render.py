"""The LLM endpoint report as JSON, or as one self-contained HTML page with its chart: the judge
scores over time with the prompt version changes marked, and a table of every window."""

from __future__ import annotations

import json
from datetime import datetime

from steward.reports.blocks import LineChart, Point, Series
from steward.reports.llm_report import LlmEndpointReport, LlmWindow, PromptChange
from steward.reports.render.charts import (
    BOTTOM,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    f,
    line_chart_svg,
)
from steward.reports.render.css import STYLE
from steward.reports.render.text import MUTED, THRESHOLD, number
from steward.reports.render.text import escape as esc

COLUMNS = (
    "Window end", "Monitor", "Status", "Requests", "Prompt versions", "Judge scores",
    "Baseline", "Tokens in/out", "Cost", "p50/p95/p99 ms", "Errors", "Refusals", "Alerts",
)  # fmt: skip


def render_json(report: LlmEndpointReport) -> bytes:
    """The report as sorted, compact JSON."""
    data = report.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def score_chart(report: LlmEndpointReport) -> LineChart:
    """The judges' mean scores per window, one series per monitor and evaluator."""
    series: dict[str, list[Point]] = {}
    for window in report.windows:
        for evaluator, value in window.scores.items():
            name = f"{evaluator} ({window.monitor})" if len(report.monitors) > 1 else evaluator
            series.setdefault(name, []).append(Point(x=window.window_end.isoformat(), y=value))
    return LineChart(
        title="Judge score over time (prompt version changes marked)",
        y_label="mean score",
        series=[Series(name=name, points=points) for name, points in series.items()],
    )


def _markers(chart: LineChart, changes: list[PromptChange]) -> str:
    """Vertical dashed lines at each prompt version change, labelled ``before → after``."""
    times = [datetime.fromisoformat(p.x) for s in chart.series for p in s.points]
    if not times or not changes:
        return ""
    first, last = min(times), max(times)
    span = (last - first).total_seconds() or 1.0
    width, bottom = WIDTH - LEFT - RIGHT, HEIGHT - BOTTOM
    out = []
    for change in changes:
        x = LEFT + (change.window_end - first).total_seconds() / span * width
        label = f"{change.before} → {change.after}"
        out.append(
            f'<line x1="{f(x)}" x2="{f(x)}" y1="{TOP}" y2="{bottom}" stroke="{THRESHOLD}" '
            f'stroke-width="1.2" stroke-dasharray="4 3" class="prompt-change">'
            f"<title>prompt {esc(label)}</title></line>"
            f'<text x="{f(x + 3)}" y="{TOP + 10}" fill="{THRESHOLD}">{esc(label[:40])}</text>'
        )
    return "".join(out)


def chart_svg(report: LlmEndpointReport) -> str:
    """The score chart with its prompt-change markers (an empty note when nothing was scored)."""
    chart = score_chart(report)
    if not any(p.y is not None for s in chart.series for p in s.points):
        return f'<p style="color:{MUTED}">No judge scores in this period.</p>'
    svg = line_chart_svg(chart, "llm-scores")
    return svg[: -len("</svg>")] + _markers(chart, report.prompt_changes) + "</svg>"


def _value(value: float | None) -> str:
    return "—" if value is None else number(value)


def _pairs(values: dict[str, float | None] | dict[str, int]) -> str:
    return ", ".join(f"{k}: {_value(v)}" for k, v in values.items()) or "—"


def _row(w: LlmWindow) -> list[str]:
    tokens = f"{_value(w.input_tokens)} / {_value(w.output_tokens)}"
    latency = " / ".join(_value(v) for v in (w.latency_p50_ms, w.latency_p95_ms, w.latency_p99_ms))
    cost = _value(w.cost) + (f" ({number(w.unpriced_requests)} unpriced)"
                             if w.unpriced_requests else "")  # fmt: skip
    alerts = ", ".join(f"{a.signal} ({a.severity}, {a.id[:8]})" for a in w.alerts) or "—"
    return [
        w.window_end.isoformat(), w.monitor, w.status, str(w.requests), _pairs(w.prompt_versions),
        _pairs(w.scores), _pairs(w.baseline_scores), tokens, cost, latency,
        _value(w.error_rate), _value(w.refusal_rate), alerts,
    ]  # fmt: skip


def _table(report: LlmEndpointReport) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in _row(w)) + "</tr>"
        for w in report.windows
    )
    return f'<table class="llm-windows"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _changes(report: LlmEndpointReport) -> str:
    if not report.prompt_changes:
        return "<p>No prompt version change in this period.</p>"
    items = "".join(
        f"<li>{esc(c.window_end.isoformat())} ({esc(c.monitor)}): "
        f"{esc(c.before)} → {esc(c.after)}</li>"
        for c in report.prompt_changes
    )
    return f'<ul class="prompt-changes">{items}</ul>'


def render_html(report: LlmEndpointReport) -> bytes:
    """The report as one HTML page (inline style and SVG, no script, nothing fetched)."""
    facts = (
        ("Project", report.project), ("Endpoint", report.endpoint),
        ("Period", f"{report.period_start.isoformat()} to {report.period_end.isoformat()}"),
        ("Monitors", ", ".join(report.monitors) or "none"),
        ("Generated", f"{report.generated_at.isoformat()} by {report.generator}"),
    )  # fmt: skip
    meta = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(report.title)}</title><style>{STYLE}</style></head><body>"
        f'<header class="report-header"><h1>{esc(report.title)}</h1>'
        f'<dl class="meta">{meta}</dl></header>'
        f"<h2>Judge scores</h2><figure>{chart_svg(report)}</figure>"
        f"<h2>Prompt versions</h2>{_changes(report)}"
        f"<h2>Windows</h2>{_table(report)}</body></html>"
    )
    return page.encode()
