"""Use cases of monitor definitions: create, apply from YAML, change, delete, read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from governance.access.service import get_project
from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput, NotFound
from governance.core.principal import Principal
from monitors.alerts.service import list_channels
from monitors.specs.schemas import Monitor, MonitorSpec, MonitorUpdate
from monitors.specs.store import MonitorStore, SqlMonitorStore, StoredSpecRefused

_WALL = SystemClock()


class ApplyAction(StrEnum):
    """What ``apply_monitors`` did to one monitor."""

    created = "created"
    updated = "updated"
    unchanged = "unchanged"


@dataclass(frozen=True, kw_only=True, slots=True)
class Applied:
    """One monitor after ``apply_monitors``."""

    monitor: Monitor
    action: ApplyAction


def _insert(
    session: Session, *, project: str, spec: MonitorSpec, actor: Principal, clock: Clock
) -> Monitor:
    store: MonitorStore = SqlMonitorStore(session)
    monitor = store.add(project, spec, created_by=actor.ref, when=clock.now())
    _audit(session, actor, "monitor.create", monitor)
    return monitor


def _check_channels(db: Database, project: str, specs: list[MonitorSpec]) -> None:
    """Refuse monitors that name alert channels the project does not have."""
    named = {c for spec in specs for c in spec.channels or ()}
    if not named:
        return
    known = {c.name for c in list_channels(db, project=project)}
    unknown = sorted(named - known)
    if unknown:
        raise InvalidInput(f"unknown alert channels {unknown}", field="channels")


def _audit(session: Session, actor: Principal, action: str, monitor: Monitor) -> None:
    record_audit(
        session,
        actor=actor,
        action=action,
        project=monitor.project,
        target=f"monitor:{monitor.name}",
        details={"revision": monitor.revision, "spec": monitor.spec.model_dump(mode="json")},
    )


def check_specs(db: Database, *, project: str, specs: list[MonitorSpec]) -> None:
    """The checks apply makes beyond a spec's own fields: the project exists, its channels do."""
    get_project(db, name=project)
    _check_channels(db, project, specs)


def create_monitor(
    db: Database, *, project: str, spec: MonitorSpec, actor: Principal, clock: Clock = _WALL
) -> Monitor:
    """Create a monitor; a name already taken in the project is a conflict."""
    get_project(db, name=project)
    _check_channels(db, project, [spec])
    with db.transaction() as session:
        try:
            taken = SqlMonitorStore(session).get(project, spec.name) is not None
        except StoredSpecRefused:
            taken = True
        if taken:
            raise Conflict(f"monitor {spec.name!r} already exists", field="name")
        return _insert(session, project=project, spec=spec, actor=actor, clock=clock)


def apply_monitors(
    db: Database,
    *,
    project: str,
    specs: list[MonitorSpec],
    actor: Principal,
    clock: Clock = _WALL,
) -> list[Applied]:
    """Create or replace monitors by name, all in one transaction (``monitor apply -f``)."""
    get_project(db, name=project)
    _check_channels(db, project, specs)
    applied = []
    with db.transaction() as session:
        store = SqlMonitorStore(session)
        for spec in specs:
            try:
                current = store.get(project, spec.name)
            except StoredSpecRefused as refused:
                # The repair of a monitor stored before a rule existed: replace it whole.
                monitor = store.replace(refused.monitor_id, spec, when=clock.now())
                _audit(session, actor, "monitor.update", monitor)
                applied.append(Applied(monitor=monitor, action=ApplyAction.updated))
                continue
            if current is None:
                monitor = _insert(session, project=project, spec=spec, actor=actor, clock=clock)
                applied.append(Applied(monitor=monitor, action=ApplyAction.created))
            elif current.spec == spec:
                applied.append(Applied(monitor=current, action=ApplyAction.unchanged))
            else:
                monitor = store.replace(current.id, spec, when=clock.now())
                _audit(session, actor, "monitor.update", monitor)
                applied.append(Applied(monitor=monitor, action=ApplyAction.updated))
    return applied


def update_monitor(
    db: Database,
    *,
    project: str,
    name: str,
    data: MonitorUpdate,
    actor: Principal,
    clock: Clock = _WALL,
) -> Monitor:
    """Change some fields of a monitor."""
    with db.transaction() as session:
        store = SqlMonitorStore(session)
        current = _existing(store, project, name)
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        merged = current.spec.model_dump() | {k: getattr(data, k) for k in changes}
        spec = MonitorSpec.model_validate(merged)
        _check_channels(db, project, [spec])
        if spec == current.spec:
            return current
        monitor = store.replace(current.id, spec, when=clock.now())
        _audit(session, actor, "monitor.update", monitor)
        return monitor


def delete_monitor(db: Database, *, project: str, name: str, actor: Principal) -> None:
    """Delete a monitor with its runs and results (alerts and lineage nodes stay)."""
    with db.transaction() as session:
        store = SqlMonitorStore(session)
        try:
            monitor = _existing(store, project, name)
        except StoredSpecRefused as refused:  # deleting is one way to repair it
            store.remove(refused.monitor_id)
            record_audit(
                session,
                actor=actor,
                action="monitor.delete",
                project=project,
                target=f"monitor:{name}",
                details={"revision": refused.revision, "refused": refused.extra["errors"][:5]},
            )
            return
        store.remove(monitor.id)
        _audit(session, actor, "monitor.delete", monitor)


def _existing(store: MonitorStore, project: str, name: str) -> Monitor:
    monitor = store.get(project, name)
    if monitor is None:
        raise NotFound(f"monitor {name!r} not found")
    return monitor


def get_monitor(db: Database, *, project: str, name: str) -> Monitor:
    """The monitor called ``name`` in ``project``."""
    with db.read() as session:
        return _existing(SqlMonitorStore(session), project, name)


def find_monitor(db: Database, *, project: str, name: str) -> Monitor | None:
    """The monitor called ``name`` in ``project``, or None."""
    with db.read() as session:
        return SqlMonitorStore(session).get(project, name)


def list_monitors(
    db: Database,
    *,
    project: str | None = None,
    enabled_only: bool = False,
    skip_refused: bool = False,
) -> list[Monitor]:
    """Monitors of a project, or of every project (the daemon).

    A stored definition this version refuses raises ``StoredSpecRefused`` naming the monitor;
    with ``skip_refused`` (the daemon, which must keep running every other monitor) it is
    logged and left out.
    """
    with db.read() as session:
        return SqlMonitorStore(session).list(
            project, enabled_only=enabled_only, skip_refused=skip_refused
        )
