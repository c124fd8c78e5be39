"""Which windows a trigger launches for: N breached of the last M, then the cooldown.

Both are pure functions of stored facts (the monitor's current runs, the launches recorded),
walked oldest first, so every daemon evaluating a trigger reaches the same launches.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from monitors.runs.schemas import MonitorRun


def breached(run: MonitorRun, signal: str | None) -> bool:
    """Whether a run breached: any signal, or the one named (as its summary records it)."""
    if signal is None:
        return run.breached
    item = run.summary.get(signal)
    return isinstance(item, dict) and item.get("breached") is True


def breach_ends(
    runs: Sequence[MonitorRun],
    *,
    signal: str | None,
    breaches: int,
    windows: int,
    after: datetime,
) -> list[datetime]:
    """Ends of the windows after ``after`` that breached and make ``breaches`` of ``windows``.

    The last ``windows`` windows are the monitor's latest current runs up to that window (a
    superseded run does not count; a window that failed or did not run is no breach), as the
    monitors' own alert rule counts them.
    """
    current = sorted((r for r in runs if r.superseded_by is None), key=lambda r: r.window_end)
    flags = [breached(r, signal) for r in current]
    found = []
    for index, run in enumerate(current):
        if run.window_end <= after or not flags[index]:
            continue
        if sum(flags[max(0, index - windows + 1) : index + 1]) >= breaches:
            found.append(run.window_end)
    return found


def due_launches(
    candidates: Sequence[datetime], *, launched: Collection[datetime], cooldown: timedelta
) -> list[datetime]:
    """The candidates to launch for, oldest first: once each, none within the cooldown.

    ``launched`` are the times of the trigger's automatic launches so far (at least those
    within ``cooldown`` before the first candidate). A candidate already launched is not
    launched again; one closer than ``cooldown`` to the launch before it is skipped.
    """
    done = sorted(set(launched))
    due = []
    for at in sorted(set(candidates)):
        index = bisect_left(done, at)
        if index < len(done) and done[index] == at:
            continue
        if index > 0 and at - done[index - 1] < cooldown:
            continue
        due.append(at)
        insort(done, at)
    return due
