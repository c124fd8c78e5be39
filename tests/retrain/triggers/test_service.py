"""Triggers as use cases: define, check against the project, evaluate, fire, cool down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from governance.audit.service import verify_audit
from governance.core.clock import ManualClock
from governance.core.errors import Conflict, InvalidInput, InvalidState, NotFound
from monitors.runs.service import backfill
from monitors.runs.sources import (
    MemoryAlertSink,
    NoLineage,
    ProfileCache,
    RunEnvironment,
    StaticReferenceLoader,
    TableWindowReader,
)
from monitors.specs.schemas import Monitor
from retrain.pipelines.schemas import Pipeline, RunState
from retrain.pipelines.service import list_runs as list_pipeline_runs
from retrain.triggers import service
from retrain.triggers.document import load_triggers
from retrain.triggers.schemas import ApplyAction, TriggerSpec, TriggerUpdate
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.monitors.runs.synthetic import reference_table, traffic
from tests.retrain.triggers.conftest import HOUR, START, store_runs


def _alert(**on: object) -> TriggerSpec:
    condition = {"kind": "alert", "monitor": "drift", "signal": "data_drift"} | on
    return TriggerSpec.model_validate({"name": "on-drift", "pipeline": "retrain", "on": condition})


def _runs_of(services: Services) -> list:  # type: ignore[type-arg]
    return list_pipeline_runs(services.db, project="alpha", limit=500).items


def test_spec_is_checked_against_the_project(
    services: Services, pipeline: Pipeline, monitor: Monitor, clock: ManualClock
) -> None:
    db = services.db
    bad = {
        "pipeline": _alert().model_copy(update={"pipeline": "nope"}),
        "on.monitor": _alert(monitor="nope"),
        "on.signal": _alert(signal="nope"),
        "inputs": _alert().model_copy(update={"inputs": {"lr": 0.1}}),
    }
    for field, spec in bad.items():
        with pytest.raises(InvalidInput) as refused:
            service.create_trigger(db, project="alpha", spec=spec, actor=OPERATOR, clock=clock)
        assert refused.value.extra["field"] == field, field
    with pytest.raises(NotFound):
        service.create_trigger(db, project="nowhere", spec=_alert(), actor=OPERATOR)
    made = service.create_trigger(db, project="alpha", spec=_alert(), actor=OPERATOR, clock=clock)
    assert made.owner == OPERATOR.ref and made.active_since == START and made.revision == 1
    with pytest.raises(Conflict):
        service.create_trigger(db, project="alpha", spec=_alert(), actor=OPERATOR)
    with pytest.raises(ValidationError):
        TriggerSpec.model_validate(
            {"name": "x", "pipeline": "p", "on": {"kind": "alert", "monitor": "m", "breaches": 3,
                                                  "windows": 2}}
        )  # fmt: skip


def test_yaml_on_key_short_cooldown_and_apply_by_name(
    services: Services, pipeline: Pipeline, monitor: Monitor, clock: ManualClock
) -> None:
    text = """
triggers:
  - name: nightly
    pipeline: retrain
    on: {kind: schedule, cron: "0 2 * * *"}
    cooldown: 6h
  - name: by-hand
    pipeline: retrain
    inputs: {epochs: 5}
    on: {kind: manual}
"""
    specs = load_triggers(text)
    assert specs[0].cooldown == timedelta(hours=6) and specs[0].on.kind == "schedule"
    db = services.db
    first = service.apply_triggers(db, project="alpha", specs=specs, actor=OPERATOR, clock=clock)
    assert [a.action for a in first] == [ApplyAction.created] * 2
    again = service.apply_triggers(db, project="alpha", specs=specs, actor=OPERATOR, clock=clock)
    assert [a.action for a in again] == [ApplyAction.unchanged] * 2
    changed = load_triggers(text.replace("6h", "90m"))
    done = service.apply_triggers(db, project="alpha", specs=changed, actor=OPERATOR)
    assert done[0].action is ApplyAction.updated and done[0].trigger.revision == 2
    assert done[0].trigger.spec.cooldown == timedelta(minutes=90)
    with pytest.raises(InvalidInput):
        load_triggers("name: x\npipeline: p\non: {kind: sometimes}\n")
    assert TriggerUpdate(cooldown="1d2h").cooldown == timedelta(days=1, hours=2)
    for wrong in (float("inf"), -5, "6 hours", True):
        with pytest.raises(ValidationError):
            TriggerUpdate(cooldown=wrong)


def test_alert_launches_once_per_breach_with_owner_and_system_actor(
    services: Services, pipeline: Pipeline, monitor: Monitor, clock: ManualClock, world: World
) -> None:
    db, settings = services.db, services.settings
    owner = world.principals["ml-engineer"]
    trigger = service.create_trigger(db, project="alpha", spec=_alert(), actor=owner, clock=clock)
    store_runs(db, monitor, [(h, h in (3, 5, 6)) for h in range(1, 8)])
    made = service.evaluate_triggers(db, settings=settings, clock=clock)
    assert len(made) == 3 and all(m.created for m in made)
    for launch in made:
        run = launch.run
        assert run.trigger_id == trigger.id and run.trigger_owner == owner.ref
        assert run.launched_by == "system:steward-trigger" and run.state is RunState.queued
        assert run.launch_key is not None and run.launch_key.startswith(f"trigger:{trigger.id}:")
    launches = service.list_launches(db, project="alpha", name="on-drift")
    assert [int((x.at - START) / HOUR) for x in launches] == [6, 5, 3]
    assert {x.run_id for x in launches} == {m.run.id for m in made}
    assert service.evaluate_triggers(db, settings=settings, clock=clock) == []
    store_runs(db, monitor, [(8, True)])
    assert len(service.evaluate_triggers(db, settings=settings, clock=clock)) == 1
    assert len(_runs_of(services)) == 4
    assert (
        service.get_trigger(db, project="alpha", name="on-drift").last_fired_at == START + 8 * HOUR
    )
    assert verify_audit(db).ok


def test_cooldown_and_windows_before_the_trigger_existed(
    services: Services, pipeline: Pipeline, monitor: Monitor, clock: ManualClock
) -> None:
    db, settings = services.db, services.settings
    store_runs(db, monitor, [(1, True), (2, True)])
    clock.set(START + 2 * HOUR)
    spec = _alert().model_copy(update={"cooldown": timedelta(hours=3)})
    service.create_trigger(db, project="alpha", spec=spec, actor=OPERATOR, clock=clock)
    store_runs(db, monitor, [(h, True) for h in range(3, 11)])
    made = service.evaluate_triggers(db, settings=settings, clock=clock)
    # breaches 1-2 came before the trigger; of 3..10, each launch holds the next three hours off
    assert len(made) == 3
    launches = service.list_launches(db, project="alpha", name="on-drift")
    assert sorted(int((x.at - START) / HOUR) for x in launches) == [3, 6, 9]
    service.update_trigger(
        db, project="alpha", name="on-drift", data=TriggerUpdate(cooldown=timedelta(0)),
        actor=OPERATOR, clock=clock,
    )  # fmt: skip
    store_runs(db, monitor, [(11, True)])
    assert len(service.evaluate_triggers(db, settings=settings, clock=clock)) == 1


def test_disabled_triggers_do_nothing_and_reenabling_starts_afresh(
    services: Services, pipeline: Pipeline, monitor: Monitor, clock: ManualClock
) -> None:
    db, settings = services.db, services.settings
    spec = _alert().model_copy(update={"enabled": False})
    service.create_trigger(db, project="alpha", spec=spec, actor=OPERATOR, clock=clock)
    store_runs(db, monitor, [(1, True), (2, True)])
    assert service.evaluate_triggers(db, settings=settings, clock=clock) == []
    with pytest.raises(InvalidState):
        service.fire_trigger(db, settings=settings, project="alpha", name="on-drift",
                             actor=OPERATOR, clock=clock)  # fmt: skip
    clock.set(START + 2 * HOUR)
    on = service.update_trigger(
        db, project="alpha", name="on-drift", data=TriggerUpdate(enabled=True), actor=OPERATOR,
        clock=clock,
    )  # fmt: skip
    assert on.active_since == START + 2 * HOUR and on.revision == 2
    assert service.evaluate_triggers(db, settings=settings, clock=clock) == []
    store_runs(db, monitor, [(3, True)])
    assert len(service.evaluate_triggers(db, settings=settings, clock=clock)) == 1


def test_schedule_fires_once_per_due_time(
    services: Services, pipeline: Pipeline, clock: ManualClock
) -> None:
    db, settings = services.db, services.settings
    spec = TriggerSpec.model_validate(
        {"name": "hourly", "pipeline": "retrain", "on": {"kind": "schedule", "cron": "0 * * * *"}}
    )
    service.create_trigger(db, project="alpha", spec=spec, actor=OPERATOR, clock=clock)
    clock.set(START + 30 * timedelta(minutes=1))
    assert service.evaluate_triggers(db, settings=settings, clock=clock) == []
    fired = []
    for hour in (1, 2, 3):
        clock.set(START + hour * HOUR + timedelta(minutes=5))
        fired += service.evaluate_triggers(db, settings=settings, clock=clock)
        assert service.evaluate_triggers(db, settings=settings, clock=clock) == []
    assert len(fired) == 3
    # a daemon away for five fire times launches once, for the newest
    clock.set(START + 8 * HOUR + timedelta(minutes=1))
    late = service.evaluate_triggers(db, settings=settings, clock=clock)
    assert len(late) == 1
    launches = service.list_launches(db, project="alpha", name="hourly")
    assert [int((x.at - START) / HOUR) for x in launches] == [8, 3, 2, 1]
    assert len(_runs_of(services)) == 4


def test_fire_by_hand_once_per_request_as_the_caller(
    services: Services, pipeline: Pipeline, clock: ManualClock, world: World
) -> None:
    db, settings = services.db, services.settings
    spec = TriggerSpec.model_validate(
        {"name": "manual", "pipeline": "retrain", "inputs": {"epochs": 9}, "on": {"kind": "manual"}}
    )
    service.create_trigger(db, project="alpha", spec=spec, actor=OPERATOR, clock=clock)
    person = world.principals["ml-engineer"]

    def fire(request_id: str | None) -> object:
        return service.fire_trigger(
            db, settings=settings, project="alpha", name="manual", actor=person,
            request_id=request_id, clock=clock,
        )  # fmt: skip

    first, again, other = fire("req-1"), fire("req-1"), fire(None)
    assert first.created and not again.created and other.created  # type: ignore[attr-defined]
    assert again.run.id == first.run.id != other.run.id  # type: ignore[attr-defined]
    run = first.run  # type: ignore[attr-defined]
    assert run.launched_by == person.ref and run.trigger_owner == OPERATOR.ref
    assert run.inputs["epochs"]["value"] == 9
    assert service.evaluate_triggers(db, settings=settings, clock=clock) == []  # manual only
    assert len(service.list_launches(db, project="alpha", name="manual")) == 2
    with pytest.raises(NotFound):
        service.fire_trigger(db, settings=settings, project="alpha", name="nope", actor=person)
    service.delete_trigger(db, project="alpha", name="manual", actor=OPERATOR)
    assert service.list_triggers(db, project="alpha") == []
    assert len(_runs_of(services)) == 2  # the runs it launched stay


def test_computed_monitor_runs_launch_the_leader_jobs_pipeline(
    services: Services, pipeline: Pipeline, monitor: Monitor, clock: ManualClock
) -> None:
    env = RunEnvironment(
        windows=TableWindowReader({"scorer": traffic(START, windows=12, rows=300, shift_from=8)}),
        references=StaticReferenceLoader({"train": reference_table(500)}, default="train"),
        alerts=MemoryAlertSink(), lineage=NoLineage(), profiles=ProfileCache(),
    )  # fmt: skip
    db, settings = services.db, services.settings
    spec = _alert(breaches=2, windows=2)
    service.create_trigger(db, project="alpha", spec=spec, actor=OPERATOR, clock=clock)
    clock.set(START + 12 * HOUR)
    report = backfill(db, project="alpha", name="drift", since=START, until=None, env=env,
                      clock=clock)  # fmt: skip
    breached = [r.run.window_end for r in report.runs if r.run.summary["data_drift"]["breached"]]
    assert breached == [START + h * HOUR for h in range(9, 13)]
    job = service.trigger_leader_job(db, settings, clock)
    assert job.name == "retrain-triggers" and job.every > 0
    assert job.run() == 3  # 2 of 2: windows 10, 11 and 12
    assert job.run() == 0
    launches = service.list_launches(db, project="alpha", name="on-drift")
    assert sorted(x.at for x in launches) == breached[1:]
