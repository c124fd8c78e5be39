"""Reading monitor histories: which signal is which kind, the runs made while the version served."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from monitors.runs.schemas import ResultPoint
from steward.reports.model.records import ModelRecords, MonitorHistory, served_between


def signal_kinds(history: MonitorHistory) -> dict[str, str]:
    """Signal key -> its kind, for the monitor's signals."""
    return {s.key: str(s.kind) for s in history.monitor.spec.signals}


def by_run(points: list[ResultPoint]) -> dict[str, list[ResultPoint]]:
    """Values grouped by run id."""
    grouped: dict[str, list[ResultPoint]] = defaultdict(list)
    for p in points:
        grouped[str(p.run_id)].append(p)
    return grouped


def while_served(records: ModelRecords, history: MonitorHistory, at: datetime) -> bool:
    """Whether the version served the monitor's endpoint at ``at`` (a window's last instant)."""
    spans = served_between(records, history.monitor.spec.target.name)
    return any(start < at <= (end or at) for start, end in spans)


def latest_signal_run(
    records: ModelRecords, kind: str
) -> tuple[MonitorHistory, str, list[ResultPoint]] | None:
    """The newest run (of any monitor) with values of a ``kind`` signal while the version served:
    its monitor, the signal's key and its values."""
    best: tuple[datetime, str, MonitorHistory, str, list[ResultPoint]] | None = None
    for history in records.monitors:
        keys = {k for k, v in signal_kinds(history).items() if v == kind}
        for points in by_run(history.points).values():
            mine = [p for p in points if p.signal in keys]
            if not mine or not while_served(records, history, mine[0].window_end):
                continue
            rank = (mine[0].window_end, history.monitor.spec.name)
            if best is None or rank > best[:2]:
                best = (*rank, history, mine[0].signal, mine)
    return None if best is None else (best[2], best[3], best[4])
