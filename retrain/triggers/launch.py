"""Launch a trigger's pipeline once per key, and record the launch.

The pipeline run is keyed (``launch_run``'s unique launch key) and so is the record (unique
trigger and key): a daemon that dies between the two, or several racing for one key, leave one
run and one record, and the next evaluation fills in a missing record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from governance.audit.service import record_audit
from governance.core.clock import Clock
from governance.core.db import Database
from governance.core.principal import Principal, PrincipalKind
from governance.core.settings import Settings
from retrain.pipelines.schemas import Launch
from retrain.pipelines.service import launch_run
from retrain.triggers.schemas import ConditionKind, Trigger, TriggerLaunch
from retrain.triggers.store import LaunchCreate, SqlTriggerStore

# Who launches on a trigger's behalf (alerts and schedules); the trigger's owner is recorded
# beside it on the run, so that an approval can tell them apart.
TRIGGER_ACTOR = Principal(id=None, name="steward-trigger", kind=PrincipalKind.system, via="trigger")


@dataclass(frozen=True, kw_only=True, slots=True)
class Occasion:
    """Why a trigger launches: its kind, the key of this occasion and the time it is for."""

    kind: ConditionKind
    key: str
    at: datetime


def alert_occasion(window_end: datetime) -> Occasion:
    """The occasion of a breaching window."""
    return Occasion(kind=ConditionKind.alert, key=f"alert:{window_end.isoformat()}", at=window_end)


def schedule_occasion(fire_time: datetime) -> Occasion:
    """The occasion of a schedule's fire time."""
    key = f"schedule:{fire_time.isoformat()}"
    return Occasion(kind=ConditionKind.schedule, key=key, at=fire_time)


def manual_occasion(request_id: str, now: datetime) -> Occasion:
    """The occasion of a person's request."""
    return Occasion(kind=ConditionKind.manual, key=f"manual:{request_id}", at=now)


def launch_key(trigger: Trigger, occasion: Occasion) -> str:
    """The pipeline run's launch key: unique across every trigger and occasion."""
    return f"trigger:{trigger.id}:{occasion.key}"


def find_launch(db: Database, trigger: Trigger, key: str) -> TriggerLaunch | None:
    """The launch recorded for (trigger, key), if any."""
    with db.read() as session:
        return SqlTriggerStore(session).find_launch(trigger.id, key)


def launch(
    db: Database,
    *,
    settings: Settings,
    trigger: Trigger,
    occasion: Occasion,
    actor: Principal,
    clock: Clock,
) -> tuple[Launch, TriggerLaunch]:
    """Launch the trigger's pipeline for ``occasion`` (at most once) and record the launch."""
    spec = trigger.spec
    made = launch_run(
        db, settings=settings, project=trigger.project, pipeline=spec.pipeline,
        version=spec.pipeline_version, inputs=dict(spec.inputs) or None, actor=actor,
        trigger=trigger.id, trigger_owner=trigger.owner, launch_key=launch_key(trigger, occasion),
        plan=spec.plan, clock=clock,
    )  # fmt: skip
    return made, _record(db, trigger, occasion, made, actor, clock)


def _record(
    db: Database,
    trigger: Trigger,
    occasion: Occasion,
    made: Launch,
    actor: Principal,
    clock: Clock,
) -> TriggerLaunch:
    data = LaunchCreate(
        trigger=trigger, kind=occasion.kind, key=occasion.key, at=occasion.at,
        run_id=made.run.id, launched_by=actor.ref, now=clock.now(),
    )  # fmt: skip
    try:
        with db.transaction() as session:
            recorded = SqlTriggerStore(session).add_launch(data)
            record_audit(
                session, actor=actor, action="trigger.launch", project=trigger.project,
                target=f"trigger:{trigger.name}",
                details={
                    "key": occasion.key, "at": occasion.at.isoformat(),
                    "run_id": str(made.run.id), "owner": trigger.owner,
                },
            )  # fmt: skip
            return recorded
    except IntegrityError:
        # Another daemon recorded this key first (its record names the same keyed run).
        found = find_launch(db, trigger, occasion.key)
        if found is None:
            raise
        return found
