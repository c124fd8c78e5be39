"""Section ``monitoring``: every signal of every monitor of an endpoint that served the version,
over the period (a line per metric, thresholds drawn, each run a source), and the alerts with
how they were handled."""

from __future__ import annotations

from collections import defaultdict

from monitors.runs.schemas import ResultPoint
from steward.reports.blocks import (
    Block,
    Cell,
    Fact,
    Facts,
    LineChart,
    Paragraph,
    Point,
    Section,
    Series,
    Source,
    Table,
    Threshold,
)
from steward.reports.document import ReportContext
from steward.reports.model.common import cell, section, src, when
from steward.reports.model.history import signal_kinds
from steward.reports.model.records import ModelRecords, MonitorHistory, served_between

# Per-feature lines of one metric drawn at most: more are listed in the monitor's results.
MAX_FEATURE_SERIES = 12
# Metrics that say how long a run took, not what it found.
SKIPPED_SUFFIXES = ("_seconds",)


def monitoring_section(ctx: ReportContext, records: ModelRecords) -> Section:
    """Section ``monitoring``: charts and alerts per monitor."""
    del ctx
    if not records.served:
        return section("monitoring", "Monitoring", [], missing=["the version never served"])
    if not records.monitors:
        why = "no monitor watches an endpoint that served the version"
        return section("monitoring", "Monitoring", [], missing=[why])
    blocks: list[Block] = []
    for history in records.monitors:
        blocks += _monitor_blocks(records, history)
    quiet = not any(h.points for h in records.monitors)
    missing = ["no monitor stored values in the period"] if quiet else []
    return section("monitoring", "Monitoring", blocks, missing=missing)


def _monitor_blocks(records: ModelRecords, history: MonitorHistory) -> list[Block]:
    spec = history.monitor.spec
    endpoint = spec.target.name
    spans = "; ".join(
        f"{when(a)} to {when(b) or 'now'}" for a, b in served_between(records, endpoint)
    )
    me = src("monitor", history.monitor.id)
    blocks: list[Block] = [
        Facts(
            facts=[
                Fact(label="Monitor", value=spec.name, source=me),
                Fact(label="Endpoint", value=endpoint, source=me),
                Fact(label="Reference", value=_reference(history), source=me),
                Fact(
                    label="Signals",
                    value=", ".join(f"{k} ({v})" for k, v in signal_kinds(history).items()),
                    source=me,
                ),
                Fact(label="Runs in the period", value=len(history.runs), source=me),
                Fact(
                    label="The version served this endpoint",
                    value=spans,
                    source=_endpoint(records, endpoint),
                ),
            ]
        )
    ]
    if not history.points:
        blocks.append(Paragraph(text=f"Monitor {spec.name} stored no values in the period."))
    for key in signal_kinds(history):
        chart = _chart(history, key)
        if chart is not None:
            blocks.append(chart)
    blocks.append(_alerts(history))
    return blocks


def _endpoint(records: ModelRecords, name: str) -> Source | None:
    return next((src("endpoint", e.id) for e, _ in records.served if e.name == name), None)


def _reference(history: MonitorHistory) -> str:
    ref = history.monitor.spec.reference
    if ref.dataset is None:
        return str(ref.kind)
    return f"{ref.dataset}@{ref.version}" if ref.version else ref.dataset


def _chart(history: MonitorHistory, key: str) -> LineChart | None:
    """One chart per signal: overall metrics, and per-feature ones while they are few."""
    lines: dict[tuple[str, str], list[ResultPoint]] = defaultdict(list)
    for p in history.points:
        if p.signal == key and not p.metric.endswith(SKIPPED_SUFFIXES):
            lines[(p.metric, p.feature)].append(p)
    if not lines:
        return None
    features: dict[str, set[str]] = defaultdict(set)
    for metric, feature in lines:
        if feature:
            features[metric].add(feature)
    kept = sorted((m, f) for m, f in lines if not f or len(features[m]) <= MAX_FEATURE_SERIES)
    series = [
        Series(
            name=f"{m} [{f}]" if f else m,
            points=[Point(x=when(p.window_end) or "", y=p.value) for p in lines[(m, f)]],
        )
        for m, f in kept
    ]
    thresholds = sorted(
        {(m, p.threshold) for m, f in kept for p in lines[(m, f)][-1:] if p.threshold is not None}
    )
    runs = sorted({(p.window_end, str(p.run_id)) for ps in lines.values() for p in ps})
    return LineChart(
        title=f"{history.monitor.spec.name}: {key}",
        y_label="value",
        series=series,
        thresholds=[Threshold(label=f"{m} threshold", value=v) for m, v in thresholds],
        sources=[Source(kind="monitor_run", id=r) for _, r in runs],
    )


def _alerts(history: MonitorHistory) -> Block:
    name = history.monitor.spec.name
    if not history.alerts:
        return Paragraph(text=f"Monitor {name} opened no alert in the period.")
    rows: list[list[Cell]] = [
        [
            when(a.opened_at),
            a.signal,
            str(a.severity),
            str(a.state),
            cell(a.value),
            cell(a.threshold),
            a.breach_count,
            a.acknowledged_by,
            when(a.acknowledged_at),
            a.resolved_by,
            when(a.resolved_at),
            a.note,
        ]
        for a in history.alerts
    ]
    return Table(
        caption=f"Alerts of monitor {name}",
        columns=[
            "opened",
            "signal",
            "severity",
            "state",
            "value",
            "threshold",
            "breaches",
            "acknowledged by",
            "acknowledged at",
            "resolved by",
            "resolved at",
            "note",
        ],
        rows=rows,
        sources=[src("alert", a.id) for a in history.alerts],
    )
