"""Use cases of triggers: define them (JSON or YAML), read, change, delete, fire by hand.

What launches on its own (alerts, schedules) is in ``retrain.triggers.evaluate``; its two
entry points are re-exported here.
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance.access.service import get_project
from governance.audit.service import record_audit
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import Conflict, InvalidInput, InvalidState, NotFound
from governance.core.principal import Principal
from governance.core.settings import Settings
from lineage import service as lineage
from monitors.specs.service import find_monitor
from retrain.pipelines.schemas import Launch
from retrain.pipelines.service import get_pipeline
from retrain.triggers.evaluate import evaluate_triggers, trigger_leader_job
from retrain.triggers.launch import launch, manual_occasion
from retrain.triggers.schemas import (
    AlertCondition,
    Applied,
    ApplyAction,
    Trigger,
    TriggerLaunch,
    TriggerSpec,
    TriggerUpdate,
)
from retrain.triggers.store import SqlTriggerStore

__all__ = [
    "apply_triggers",
    "create_trigger",
    "delete_trigger",
    "evaluate_triggers",
    "fire_trigger",
    "get_trigger",
    "list_launches",
    "list_triggers",
    "trigger_leader_job",
    "update_trigger",
]

_WALL = SystemClock()
MAX_LAUNCHES = 500


def _invalid(field: str, msg: str) -> InvalidInput:
    return InvalidInput(f"{field}: {msg}", field=field, errors=[{"loc": field, "msg": msg}])


def _check_pipeline(db: Database, project: str, spec: TriggerSpec) -> None:
    try:
        pipeline = get_pipeline(
            db, project=project, name=spec.pipeline, version=spec.pipeline_version
        )
    except NotFound as exc:
        raise _invalid("pipeline", exc.detail) from exc
    unknown = sorted(set(spec.inputs) - set(pipeline.spec.inputs))
    if unknown:
        raise _invalid("inputs", f"pipeline {spec.pipeline!r} has no inputs {unknown}")


def _check_alert(db: Database, project: str, on: AlertCondition) -> None:
    monitor = find_monitor(db, project=project, name=on.monitor)
    if monitor is None:
        raise _invalid("on.monitor", f"monitor {on.monitor!r} not found in project {project!r}")
    keys = [s.key for s in monitor.spec.signals]
    if on.signal is not None and on.signal not in keys:
        raise _invalid("on.signal", f"monitor {on.monitor!r} has no signal {on.signal!r} {keys}")


def check_trigger(db: Database, *, project: str, spec: TriggerSpec) -> None:
    """Refuse a spec naming what the project does not have (pipeline, inputs, monitor, signal)."""
    _check_pipeline(db, project, spec)
    if isinstance(spec.on, AlertCondition):
        _check_alert(db, project, spec.on)
    if spec.plan is not None:
        if lineage.find_endpoint(db, project=project, name=spec.plan.endpoint) is None:
            raise _invalid("plan.endpoint", f"endpoint {spec.plan.endpoint!r} not found")


def _audit(session: Session, actor: Principal, action: str, trigger: Trigger) -> None:
    record_audit(
        session, actor=actor, action=action, project=trigger.project,
        target=f"trigger:{trigger.name}",
        details={
            "revision": trigger.revision, "owner": trigger.owner,
            "spec": trigger.spec.model_dump(mode="json"),
        },
    )  # fmt: skip


def _insert(
    session: Session, project: str, spec: TriggerSpec, actor: Principal, clock: Clock
) -> Trigger:
    trigger = SqlTriggerStore(session).add(project, spec, owner=actor.ref, now=clock.now())
    _audit(session, actor, "trigger.create", trigger)
    return trigger


def create_trigger(
    db: Database, *, project: str, spec: TriggerSpec, actor: Principal, clock: Clock = _WALL
) -> Trigger:
    """Create a trigger owned by ``actor``; a name already taken in the project is a conflict."""
    get_project(db, name=project)
    check_trigger(db, project=project, spec=spec)
    try:
        with db.transaction() as session:
            if SqlTriggerStore(session).get(project, spec.name) is not None:
                raise Conflict(f"trigger {spec.name!r} already exists", field="name")
            return _insert(session, project, spec, actor, clock)
    except IntegrityError as exc:
        raise Conflict(f"trigger {spec.name!r} already exists", field="name") from exc


def _reactivates(current: TriggerSpec, spec: TriggerSpec) -> bool:
    """A new condition, or switching back on, counts windows from now (not from the past)."""
    return current.on != spec.on or (spec.enabled and not current.enabled)


def apply_triggers(
    db: Database,
    *,
    project: str,
    specs: list[TriggerSpec],
    actor: Principal,
    clock: Clock = _WALL,
) -> list[Applied]:
    """Create or replace triggers by name, all in one transaction (``trigger apply -f``)."""
    get_project(db, name=project)
    if len({s.name for s in specs}) != len(specs):
        raise InvalidInput("trigger names repeat in the document", field="name")
    for spec in specs:
        check_trigger(db, project=project, spec=spec)
    try:
        with db.transaction() as session:
            return [_apply_one(session, project, spec, actor, clock) for spec in specs]
    except IntegrityError as exc:
        raise Conflict("a trigger of the document was created concurrently; retry") from exc


def _apply_one(
    session: Session, project: str, spec: TriggerSpec, actor: Principal, clock: Clock
) -> Applied:
    store = SqlTriggerStore(session)
    current = store.get(project, spec.name)
    if current is None:
        return Applied(
            trigger=_insert(session, project, spec, actor, clock), action=ApplyAction.created
        )
    if current.spec == spec:
        return Applied(trigger=current, action=ApplyAction.unchanged)
    reactivate = _reactivates(current.spec, spec)
    trigger = store.replace(current.id, spec, now=clock.now(), reactivate=reactivate)
    _audit(session, actor, "trigger.update", trigger)
    return Applied(trigger=trigger, action=ApplyAction.updated)


def _existing(store: SqlTriggerStore, project: str, name: str) -> Trigger:
    found = store.get(project, name)
    if found is None:
        raise NotFound(f"trigger {name!r} not found")
    return found


def get_trigger(db: Database, *, project: str, name: str) -> Trigger:
    """The trigger called ``name`` in ``project``."""
    with db.read() as session:
        return _existing(SqlTriggerStore(session), project, name)


def list_triggers(db: Database, *, project: str) -> list[Trigger]:
    """The triggers of a project by name."""
    with db.read() as session:
        return SqlTriggerStore(session).of_project(project)


def update_trigger(
    db: Database,
    *,
    project: str,
    name: str,
    data: TriggerUpdate,
    actor: Principal,
    clock: Clock = _WALL,
) -> Trigger:
    """Switch a trigger on or off, or change its cooldown (the fields left out keep theirs)."""
    changes = data.model_dump(exclude_none=True)
    with db.transaction() as session:
        store = SqlTriggerStore(session)
        current = _existing(store, project, name)
        spec = TriggerSpec.model_validate(current.spec.model_dump() | changes)
        if spec == current.spec:
            return current
        reactivate = _reactivates(current.spec, spec)
        trigger = store.replace(current.id, spec, now=clock.now(), reactivate=reactivate)
        _audit(session, actor, "trigger.update", trigger)
        return trigger


def delete_trigger(db: Database, *, project: str, name: str, actor: Principal) -> None:
    """Delete a trigger and its launch records (the runs it launched stay)."""
    with db.transaction() as session:
        store = SqlTriggerStore(session)
        trigger = _existing(store, project, name)
        store.remove(trigger.id)
        _audit(session, actor, "trigger.delete", trigger)


def fire_trigger(
    db: Database,
    *,
    settings: Settings,
    project: str,
    name: str,
    actor: Principal,
    request_id: str | None = None,
    clock: Clock = _WALL,
) -> Launch:
    """Launch a trigger's pipeline by hand, as ``actor``; one run per ``request_id``."""
    trigger = get_trigger(db, project=project, name=name)
    if not trigger.spec.enabled:
        raise InvalidState(f"trigger {name!r} is disabled", code="trigger_disabled")
    occasion = manual_occasion(request_id or uuid.uuid4().hex, clock.now())
    made, _ = launch(
        db, settings=settings, trigger=trigger, occasion=occasion, actor=actor, clock=clock
    )
    return made


def list_launches(
    db: Database, *, project: str, name: str, limit: int = 100
) -> list[TriggerLaunch]:
    """A trigger's launches, newest first (at most MAX_LAUNCHES)."""
    with db.read() as session:
        store = SqlTriggerStore(session)
        trigger = _existing(store, project, name)
        return store.launches(trigger.id, limit=min(limit, MAX_LAUNCHES))
