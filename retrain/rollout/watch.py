"""The leader's watch over active rollouts: a monitor breach after the start rolls back."""

from __future__ import annotations

import logging
from typing import Final

from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.errors import StewardError
from governance.core.settings import Settings
from monitors.alerts import service as alerts
from monitors.runs import service as runs
from monitors.scheduler.daemon import LeaderJob
from monitors.specs import service as specs
from monitors.specs.schemas import TargetKind
from retrain.rollout import service
from retrain.rollout.schemas import Rollout, RolloutState

log = logging.getLogger(__name__)
EVERY_SECONDS: Final = 30.0
_RECENT: Final = 50  # newest alerts and runs looked at per monitor


def breached_monitor(db: Database, rollout: Rollout) -> str | None:
    """A monitor of the rollout's endpoint (or its shadow) with a signal that breached anew
    after the start."""
    watched = {rollout.endpoint, rollout.shadow_endpoint}
    for monitor in specs.list_monitors(db, project=rollout.project, skip_refused=True):
        target = monitor.spec.target
        if target.kind is not TargetKind.endpoint or target.name not in watched:
            continue
        if _breached_since(db, rollout, monitor.name):
            return monitor.name
    return None


def _breached_since(db: Database, rollout: Rollout, monitor: str) -> bool:
    """Whether a signal of ``monitor`` breached after the start that was not already in breach.

    A signal whose alert was open when the rollout started is the condition the release was
    brought in to fix (a retrain launched by that very alert), or one no model can cause (the
    inputs drifting): it breaching on would roll back every such release at its first window.
    """
    start = rollout.started_at
    found = alerts.list_alerts(db, project=rollout.project, monitor=monitor, limit=_RECENT)
    standing = {
        a.signal
        for a in found
        if a.opened_at <= start and (a.resolved_at is None or a.resolved_at > start)
    }
    if any(a.last_breach_at > start and a.signal not in standing for a in found):
        return True
    # a window that ends after the start holds traffic the candidate took part in
    page = runs.list_results(db, project=rollout.project, name=monitor, since=start)
    return any(p.breached and p.window_end > start and p.signal not in standing for p in page.items)


def check_rollouts(db: Database, *, settings: Settings, clock: Clock) -> list[Rollout]:
    """Roll back every active rollout a monitor breached on, or whose failures pass the limit."""
    ended = []
    for rollout in service.list_active_rollouts(db):
        try:
            reason = _reason(db, rollout, settings)
            if reason is None:
                continue
            done = service.roll_back_automatically(
                db, settings=settings, rollout=rollout, reason=reason, clock=clock
            )
        except StewardError as exc:  # one rollout's trouble must not stop the others' watch
            log.error("watch of rollout %s failed: %s", rollout.id, exc)
            continue
        if done.state is RolloutState.rolled_back:
            ended.append(done)
    return ended


def _reason(db: Database, rollout: Rollout, settings: Settings) -> str | None:
    if service.failing(rollout.requests, rollout.errors, settings):
        return f"automatic: {rollout.errors} of {rollout.requests} scoring requests failed"
    monitor = breached_monitor(db, rollout)
    if monitor is not None:
        return f"automatic: monitor {monitor!r} breached after the rollout started"
    return None


def rollout_leader_job(db: Database, settings: Settings, clock: Clock) -> LeaderJob:
    """The daemon leader's periodic watch over active rollouts."""
    return LeaderJob(
        name="rollout-watch",
        every=EVERY_SECONDS,
        run=lambda: check_rollouts(db, settings=settings, clock=clock),
    )
