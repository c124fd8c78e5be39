"""Dry runs: what a monitor spec would compute on its reference and one window, storing nothing.

``POST .../monitors/validate`` and ``steward monitor apply --dry-run`` go through the same
computation as a run (``compute_window``: every signal, each failing alone) but write no
monitor, run, result, alert, lineage node or audit entry: it is a read of the project's data.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from governance.core.clock import Clock, SystemClock, to_utc
from governance.core.db import Database
from governance.core.errors import InvalidInput, InvalidState
from monitors.runs.compute import compute_window
from monitors.runs.schemas import RunStatus, SignalOutcome
from monitors.runs.sources import RunEnvironment
from monitors.specs.schemas import Monitor, MonitorSpec
from monitors.specs.service import check_specs
from monitors.specs.windows import latest_window_end, plan_window

_WALL = SystemClock()
# A dry run's monitor is never stored: it has no id of its own.
_UNSTORED = UUID(int=0)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ValueCheck(_Frozen):
    """One value a signal would compute, judged against its threshold."""

    metric: str
    feature: str = ""
    value: float | None
    threshold: float | None = None
    breached: bool = False


class SignalCheck(_Frozen):
    """What one signal would compute: its values, or the error it would hit."""

    key: str
    kind: str
    status: str  # succeeded | failed
    columns: list[str]
    breached: bool
    values: list[ValueCheck]
    error: str | None = None


class SpecCheck(_Frozen):
    """What one monitor spec would compute on its reference and one window."""

    monitor: str
    window_start: datetime
    window_end: datetime
    reference: str
    reference_rows: int
    rows: int
    status: RunStatus
    breached: bool
    error: str | None = None
    signals: list[SignalCheck]


def _signal(outcome: SignalOutcome, listed: tuple[str, ...]) -> SignalCheck:
    # The columns a signal tests are those its values name; a failed one shows its list.
    named = list(dict.fromkeys(m.feature for m in outcome.metrics if m.feature))
    return SignalCheck(
        key=outcome.key,
        kind=outcome.kind,
        status="failed" if outcome.error else "succeeded",
        columns=named or list(listed),
        breached=outcome.breached,
        values=[
            ValueCheck(
                metric=m.metric,
                feature=m.feature,
                value=m.value,
                threshold=m.threshold,
                breached=m.breached,
            )
            for m in outcome.metrics
        ],
        error=outcome.error,
    )


def check_spec(
    *, project: str, spec: MonitorSpec, window_end: datetime, env: RunEnvironment, clock: Clock
) -> SpecCheck:
    """Compute ``spec`` for the window ending at ``window_end`` without storing anything."""
    now = clock.now()
    monitor = Monitor(
        id=_UNSTORED, project=project, spec=spec, created_at=now, updated_at=now,
        created_by="", revision=0,
    )  # fmt: skip
    computed = compute_window(monitor, plan_window(spec, window_end), env)
    listed = {s.key: tuple(s.features or ()) for s in spec.signals}
    return SpecCheck(
        monitor=spec.name,
        window_start=computed.plan.production.start,
        window_end=computed.plan.window_end,
        reference=computed.reference.key,
        reference_rows=computed.reference.table.num_rows,
        rows=computed.rows,
        status=computed.status,
        breached=any(o.breached for o in computed.outcomes),
        error=computed.error,
        signals=[_signal(o, listed.get(o.key, ())) for o in computed.outcomes],
    )


def validate_specs(
    db: Database,
    *,
    project: str,
    specs: list[MonitorSpec],
    env: RunEnvironment,
    window_end: datetime | None = None,
    clock: Clock = _WALL,
) -> list[SpecCheck]:
    """Check specs as apply does, then compute each on ``window_end`` (default: newest ended)."""
    check_specs(db, project=project, specs=specs)
    now = clock.now()
    if window_end is not None and to_utc(window_end) > now:
        raise InvalidInput("window_end is in the future", field="window_end")
    checks = []
    for spec in specs:
        end = window_end or latest_window_end(spec.schedule, now=now)
        if end is None:
            raise InvalidState(f"the schedule of {spec.name!r} has no window that has ended yet")
        checks.append(check_spec(project=project, spec=spec, window_end=end, env=env, clock=clock))
    return checks
