"""Use cases of monitor definitions: create, apply from YAML, change, delete, read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from governance.access.service import get_project
from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput, NotFound
from governance.core.principal import Principal
from lineage import service as lineage
from lineage.schemas import EndpointKind, Signature
from monitors.alerts.service import list_channels
from monitors.specs.options import LLM_KINDS
from monitors.specs.roles import named_not_features
from monitors.specs.schemas import Monitor, MonitorSpec, MonitorUpdate, TargetKind
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


def _check_features(db: Database, project: str, specs: list[MonitorSpec]) -> None:
    """Refuse signals naming as features columns the deployed model says are not features.

    Only where the signature is known at apply: an endpoint target serving a model.
    """
    problems: list[dict[str, Any]] = []
    for index, spec in enumerate(specs):
        named = any(s.features for s in spec.signals)
        signature = _signature(db, project, spec) if named else None
        if signature is not None:
            found = named_not_features(spec, signature)
            problems += [{"monitor": index, "name": spec.name, **p} for p in found]
    if problems:
        first = problems[0]
        detail = f"monitor {first['name']!r}: {first['loc']}: {first['msg']}"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidInput(detail + more, field="signals", errors=problems)


def _signature(db: Database, project: str, spec: MonitorSpec) -> Signature | None:
    """The signature of the model the spec's endpoint serves, if it serves one."""
    if spec.target.kind is not TargetKind.endpoint:
        return None
    endpoint = lineage.find_endpoint(db, project=project, name=spec.target.name)
    return None if endpoint is None else endpoint.signature


def _check_endpoint_kind(db: Database, project: str, specs: list[MonitorSpec]) -> None:
    """Refuse LLM signals on a model endpoint, and model signals on an LLM endpoint.

    Only where the endpoint exists at apply; a run on the wrong sort fails its signals.
    """
    for spec in specs:
        if spec.target.kind is not TargetKind.endpoint:
            continue
        endpoint = lineage.find_endpoint(db, project=project, name=spec.target.name)
        if endpoint is None:
            continue
        llm = any(s.kind in LLM_KINDS for s in spec.signals)
        if llm == (endpoint.kind is EndpointKind.llm):
            continue
        wanted = "LLM signals (llm_*)" if endpoint.kind is EndpointKind.llm else "model signals"
        raise InvalidInput(
            f"monitor {spec.name!r}: endpoint {spec.target.name!r} is a {endpoint.kind} "
            f"endpoint: its monitors take {wanted} only",
            field="signals",
            code="signal_endpoint_kind",
        )


def _check(db: Database, project: str, specs: list[MonitorSpec]) -> None:
    """The checks of a spec against the project: its channels, its features, its endpoint."""
    _check_channels(db, project, specs)
    _check_features(db, project, specs)
    _check_endpoint_kind(db, project, specs)


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
    """The checks apply makes beyond a spec's own fields: the project, channels and features."""
    get_project(db, name=project)
    _check(db, project, specs)


def create_monitor(
    db: Database, *, project: str, spec: MonitorSpec, actor: Principal, clock: Clock = _WALL
) -> Monitor:
    """Create a monitor; a name already taken in the project is a conflict."""
    get_project(db, name=project)
    _check(db, project, [spec])
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
    _check(db, project, specs)
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
        merged = current.spec.model_dump() | _changes(data)
        spec = MonitorSpec.model_validate(merged)
        _check_channels(db, project, [spec])
        if spec.signals != current.spec.signals:  # the stored signals are not re-judged
            _check_features(db, project, [spec])
            _check_endpoint_kind(db, project, [spec])
        if spec == current.spec:
            return current
        monitor = store.replace(current.id, spec, when=clock.now())
        _audit(session, actor, "monitor.update", monitor)
        return monitor


def _changes(data: MonitorUpdate) -> dict[str, Any]:
    """The fields a change sets; null resets a field whose default is null, else is refused."""
    given = {name: getattr(data, name) for name in data.model_fields_set}
    refused = sorted(
        name for name, value in given.items()
        if value is None and MonitorSpec.model_fields[name].default is not None
    )  # fmt: skip
    if refused:
        errors = [{"loc": ["body", name], "msg": "cannot be null: leave it out to keep it"}
                  for name in refused]  # fmt: skip
        raise InvalidInput(f"{', '.join(refused)} cannot be null", errors=errors)
    return given


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
