"""Prometheus text exposition (format 0.0.4) of monitor values, runs, open alerts and ingest."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from governance.core.db import Database
from monitors.alerts.service import count_open_alerts
from monitors.capture.service import ingest_counts
from monitors.runs.store import SqlRunStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(kw_only=True)
class Family:
    """One metric family: its help, type and samples (labels, value)."""

    name: str
    help: str
    kind: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        """Append one sample."""
        self.samples.append((labels, value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def render(families: Iterable[Family]) -> str:
    """The text format: ``# HELP``, ``# TYPE``, then one line per sample."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(
                f"{family.name}{{{text}}} {_number(value)}"
                if text
                else f"{family.name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


def _values(db: Database, projects: Collection[str]) -> tuple[Family, Family]:
    value = Family(
        name="steward_monitor_value",
        help="Latest value of each monitor signal metric (feature empty for signal-level metrics).",
        kind="gauge",
    )
    breached = Family(
        name="steward_monitor_breached",
        help="1 when the latest value of a monitor signal metric breached its threshold.",
        kind="gauge",
    )
    with db.read() as session:
        latest = SqlRunStore(session).latest(None)
    for project, monitor, point in latest:
        if project not in projects or point.value is None:
            continue
        labels = {
            "project": project,
            "monitor": monitor,
            "signal": point.signal,
            "metric": point.metric,
            "feature": point.feature,
        }
        value.add(point.value, **labels)
        breached.add(float(point.breached), **labels)
    return value, breached


def _runs(db: Database, projects: Collection[str]) -> tuple[Family, Family, Family]:
    count = Family(
        name="steward_monitor_runs_total", help="Monitor runs by outcome.", kind="counter"
    )
    seconds = Family(
        name="steward_monitor_run_seconds_total",
        help="Total seconds spent computing monitor runs.",
        kind="counter",
    )
    longest = Family(
        name="steward_monitor_run_seconds_max",
        help="Longest monitor run so far, in seconds.",
        kind="gauge",
    )
    with db.read() as session:
        stats = SqlRunStore(session).run_stats()
    for project, monitor, status, n, total, most in stats:
        if project in projects:
            labels = {"project": project, "monitor": monitor, "status": status}
            count.add(n, **labels)
            seconds.add(total, **labels)
            longest.add(most, **labels)
    return count, seconds, longest


def _alerts(db: Database, projects: Collection[str]) -> Family:
    family = Family(name="steward_alerts_open", help="Unresolved alerts.", kind="gauge")
    for (project, monitor, severity), n in sorted(count_open_alerts(db).items()):
        if project in projects:
            family.add(n, project=project, monitor=monitor, severity=severity)
    return family


def _ingest(db: Database, projects: Collection[str]) -> list[Family]:
    rows = Family(name="steward_ingest_rows_total", help="Rows stored by ingest.", kind="counter")
    batches = Family(name="steward_ingest_batches_total", help="Batches stored.", kind="counter")
    refused = Family(name="steward_ingest_refused_total", help="Batches refused.", kind="counter")
    duplicates = Family(
        name="steward_ingest_duplicates_total",
        help="Retried batches recognised and not stored again.",
        kind="counter",
    )
    for c in ingest_counts(db):
        if c.project in projects:
            labels = {"project": c.project, "endpoint": c.endpoint, "kind": str(c.kind)}
            rows.add(c.rows, **labels)
            batches.add(c.batches, **labels)
            refused.add(c.refused, **labels)
            duplicates.add(c.duplicates, **labels)
    return [rows, batches, refused, duplicates]


def collect(db: Database, *, projects: Collection[str]) -> list[Family]:
    """Every family, restricted to the series of ``projects``."""
    return [
        *_values(db, projects),
        *_runs(db, projects),
        _alerts(db, projects),
        *_ingest(db, projects),
    ]


def exposition(db: Database, *, projects: Collection[str]) -> str:
    """The ``/metrics`` body for a caller allowed to see ``projects``."""
    return render(collect(db, projects=set(projects)))
