"""How ``steward monitor`` shows monitors, runs, results and dry runs to a person."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table

from steward.cli.output import table

if TYPE_CHECKING:
    from monitors.runs.dryrun import SpecCheck
    from monitors.runs.schemas import Backfill, MonitorRun, RerunScope, ResultPage, RunReport
    from monitors.specs.schemas import Monitor


def monitors_table(found: list[tuple[Monitor, MonitorRun | None]]) -> Table:
    """Monitors with their schedule and newest run."""
    shown = table("monitor", "target", "schedule", "signals", "enabled", "last window", "status")
    for m, last in found:
        s = m.spec.schedule
        when = s.cron or (str(s.interval) if s.interval else "P1D")
        shown.add_row(
            m.name,
            f"{m.spec.target.kind}:{m.spec.target.name}",
            f"{when} {s.timezone}",
            ",".join(sig.key for sig in m.spec.signals),
            str(m.spec.enabled),
            str(last.window_end) if last else "-",
            str(last.status) if last else "-",
        )
    return shown


def runs_table(found: list[MonitorRun]) -> Table:
    """Runs, newest window first, superseded ones with their rerun."""
    shown = table(
        "window end", "attempt", "status", "trigger", "rows", "breached", "run", "superseded by"
    )
    for run in found:
        shown.add_row(
            str(run.window_end), str(run.attempt), str(run.status), str(run.trigger),
            str(run.row_count), "yes" if run.breached else "", str(run.id),
            str(run.superseded_by or ""),
        )  # fmt: skip
    return shown


def results_table(page: ResultPage, *, features: bool) -> Table:
    """A results time series (per-feature values only with ``features``)."""
    shown = table("window end", "signal", "metric", "feature", "value", "threshold", "breached")
    for p in page.items:
        if p.feature and not features:
            continue
        value = "-" if p.value is None else f"{p.value:.4f}"
        limit = "-" if p.threshold is None else f"{p.threshold:g}"
        shown.add_row(str(p.window_end), p.signal, p.metric, p.feature, value, limit,
                      "yes" if p.breached else "")  # fmt: skip
    return shown


def dry_run_view(project: str, checks: list[SpecCheck]) -> RenderableType:
    """What each spec would compute, one table per monitor."""
    parts: list[RenderableType] = []
    for check in checks:
        parts.append(
            f"dry run {project}/{check.monitor} window {check.window_start} .. "
            f"{check.window_end}: {check.status}, {check.rows} rows, "
            f"reference {check.reference or '-'} ({check.reference_rows} rows), "
            f"breached={check.breached}"
        )
        if check.error:
            parts.append(f"error: {check.error}")
        shown = table("signal", "kind", "status", "columns", "feature", "metric", "value",
                      "threshold", "breached")  # fmt: skip
        for sig in check.signals:
            head = (sig.key, sig.kind, sig.status, ",".join(sig.columns))
            if sig.error:
                shown.add_row(*head, "", f"error: {sig.error}", "", "", "")
            for v in sig.values:
                value = "-" if v.value is None else f"{v.value:.4f}"
                limit = "-" if v.threshold is None else f"{v.threshold:g}"
                shown.add_row(*head, v.feature, v.metric, value, limit,
                              "yes" if v.breached else "")  # fmt: skip
        parts.append(shown)
    return Group(*parts)


def ran(name: str, report: RunReport) -> str:
    """What a run request did, for a person."""
    run = report.run
    verb = "reran" if report.superseded else "ran" if report.created else "already ran"
    lines = [
        f"{verb} {name} window {run.window_start} .. {run.window_end}: {run.status}, "
        f"{run.row_count} rows, breached={run.breached}, alerts={len(report.alerts)}"
    ]
    if report.superseded:
        lines.append(f"run {run.id} supersedes run {report.superseded}")
    if run.error:
        lines.append(f"error: {run.error}")
    return "\n".join(lines)


def backfilled(name: str, job: Backfill, rerun: RerunScope | None) -> str:
    """How a backfill went, for a person."""
    counts = job.counts
    again = f" ({counts.rerun} rerun)" if rerun else ""
    text = (
        f"{name}: {counts.created} windows run{again}, {counts.existing} already done, "
        f"{counts.breached} breached, {counts.failed} failed: backfill {job.id} {job.status}"
    )
    return text + (f"\nerror: {job.error}" if job.error else "")


def set_line(project: str, name: str, monitor: Monitor) -> str:
    """A monitor's alert rule and retention after a change."""
    from steward.cli.project import duration_text

    now = monitor.spec
    return (
        f"{project}/{name} (rev {monitor.revision}): alert {now.alert.breaches} of "
        f"{now.alert.of}, cooldown {duration_text(now.alert.cooldown, 'project default')}, "
        f"retention {duration_text(now.retention, 'project default')}"
    )
