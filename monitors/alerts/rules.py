"""A monitor's alert rule against the latest windows of a signal (N breached of the last M)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import Uuid, column, select, table
from sqlalchemy.orm import Session

from governance.access.service import find_project_in
from governance.core.db import CanonicalJSON, UTCDateTime
from monitors.alerts.models import AlertRow
from monitors.alerts.schemas import AlertRule, Breach, RuleVerdict

# Read-only views of the runs' and specs' tables: both packages call into alerts, so alerts
# cannot import their models (import-linter's acyclic siblings) and names only what it reads.
_RUNS = table(
    "monitor_runs",
    column("id", Uuid()),
    column("monitor_id", Uuid()),
    column("window_end", UTCDateTime()),
    column("summary", CanonicalJSON()),
    column("superseded_by", Uuid()),
)
_SPECS = table("monitor_specs", column("id", Uuid()), column("spec", CanonicalJSON()))
_RUN_ID = "run_id"  # key of a breach's details naming the run that breached


def _run_of(breach: Breach) -> UUID | None:
    return _run_in(breach.details)


def _run_in(details: Any) -> UUID | None:
    try:
        return UUID(str(details[_RUN_ID]))
    except (KeyError, TypeError, ValueError):
        return None


def open_alert_runs(session: Session, project: str, monitor: str) -> set[UUID]:
    """Runs that the unresolved alerts of a monitor name as their latest breach."""
    details = session.scalars(
        select(AlertRow.details).where(
            AlertRow.project == project,
            AlertRow.monitor == monitor,
            AlertRow.active_key.is_not(None),
        )
    )
    found = (_run_in(d) for d in details)
    return {run_id for run_id in found if run_id is not None}


def monitor_rule(session: Session, breach: Breach) -> AlertRule:
    """The rule of the monitor whose run breached (the default rule without a run)."""
    run_id = _run_of(breach)
    if run_id is None:
        return AlertRule()
    query = (
        select(_SPECS.c.spec)
        .join(_RUNS, _RUNS.c.monitor_id == _SPECS.c.id)
        .where(_RUNS.c.id == run_id)
    )
    spec: Any = session.execute(query).scalar_one_or_none()
    try:
        return AlertRule.model_validate((spec or {}).get("alert") or {})
    except ValidationError:
        return AlertRule()  # a spec stored before the rule was checked: the old behaviour


def cooldown_of(session: Session, project: str, rule: AlertRule, default: timedelta) -> timedelta:
    """How often an open alert may notify: the monitor's cooldown, else the project's, else
    ``default`` (the server's alert policy)."""
    if rule.cooldown is not None:
        return rule.cooldown
    found = find_project_in(session, project)
    return default if found is None or found.alert_cooldown is None else found.alert_cooldown


def evaluate(session: Session, breach: Breach, rule: AlertRule) -> RuleVerdict:
    """How many of the latest ``rule.of`` windows of the breach's signal breached.

    Windows are the monitor's current runs (a superseded run is ignored) up to the breaching
    one; a window where the signal did not breach, failed or did not run is not a breach.
    Without a run (a breach raised directly) only the breach itself is known.
    """
    run_id = _run_of(breach)
    found = None
    if run_id is not None:
        found = session.execute(
            select(_RUNS.c.monitor_id, _RUNS.c.window_end).where(_RUNS.c.id == run_id)
        ).one_or_none()
    if found is None:
        return RuleVerdict(breaches=rule.breaches, of=rule.of, breached=1, windows=1)
    summaries = session.execute(
        select(_RUNS.c.summary)
        .where(
            _RUNS.c.monitor_id == found.monitor_id,
            _RUNS.c.superseded_by.is_(None),
            _RUNS.c.window_end <= found.window_end,
        )
        .order_by(_RUNS.c.window_end.desc())
        .limit(rule.of)
    ).scalars()
    flags = [_breached(summary, breach.signal) for summary in summaries]
    return RuleVerdict(
        breaches=rule.breaches, of=rule.of, breached=sum(flags), windows=max(len(flags), 1)
    )


def _breached(summary: Any, signal: str) -> bool:
    item = summary.get(signal) if isinstance(summary, dict) else None
    return isinstance(item, dict) and item.get("breached") is True
