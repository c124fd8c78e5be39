"""Three daemons and 100 breaches: exactly 100 pipeline runs, no duplicates (every backend)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from governance.audit.service import record_audit, verify_audit
from governance.core.clock import ManualClock
from governance.core.db import Database
from monitors.specs.schemas import Monitor
from retrain.pipelines.models import PipelineRunRow
from retrain.pipelines.schemas import Launch, Pipeline
from retrain.pipelines.service import launch_run
from retrain.triggers import service
from retrain.triggers.launch import TRIGGER_ACTOR, alert_occasion, launch_key
from retrain.triggers.models import TriggerLaunchRow, TriggerProgressRow
from retrain.triggers.schemas import TriggerSpec
from retrain.triggers.store import LaunchCreate, SqlTriggerStore
from steward.api.deps import Services
from tests.builders import OPERATOR
from tests.retrain.triggers.conftest import HOUR, START, store_runs

BREACHES = 100
DAEMONS = 3


def _count(db: Database, column: object) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count(func.distinct(column)))) or 0)


def _trigger_spec() -> TriggerSpec:
    return TriggerSpec.model_validate(
        {"name": "on-drift", "pipeline": "retrain",
         "on": {"kind": "alert", "monitor": "drift", "signal": "data_drift"}}
    )  # fmt: skip


@pytest.mark.slow
def test_three_daemons_and_100_breaches_make_exactly_100_runs(
    services: Services, pipeline: Pipeline, monitor: Monitor, clock: ManualClock
) -> None:
    db, settings = services.db, services.settings
    trigger = service.create_trigger(
        db, project="alpha", spec=_trigger_spec(), actor=OPERATOR, clock=clock
    )
    # 140 hourly windows, 100 of them breached: every fourth is calm, and the last ones
    windows = [(h, h % 4 != 0) for h in range(1, 141)]
    hits = [h for h, hit in windows if hit][:BREACHES]
    windows = [(h, h in hits) for h, _ in windows]
    store_runs(db, monitor, windows)
    clock.set(START + 141 * HOUR)
    barrier = threading.Barrier(DAEMONS)

    def daemon(_: int) -> list[Launch]:
        own = Database(settings.database_url)  # each daemon with its own engine and pool
        try:
            barrier.wait()  # all three start evaluating together
            made = service.evaluate_triggers(own, settings=settings, clock=clock)
            return made + service.evaluate_triggers(own, settings=settings, clock=clock)  # retry
        finally:
            own.dispose()

    with ThreadPoolExecutor(max_workers=DAEMONS) as pool:
        results = [m for made in pool.map(daemon, range(DAEMONS)) for m in made]
    created = [m.run.id for m in results if m.created]
    assert len(created) == BREACHES and len(set(created)) == BREACHES
    with db.read() as session:
        runs = session.scalar(select(func.count()).select_from(PipelineRunRow))
        keys = session.scalars(select(PipelineRunRow.launch_key)).all()
        launches = session.execute(select(TriggerLaunchRow.at, TriggerLaunchRow.run_id)).all()
    assert runs == BREACHES and len(set(keys)) == BREACHES
    assert sorted(at for at, _ in launches) == [START + h * HOUR for h in hits]
    assert {run_id for _, run_id in launches} == set(created)
    # a fourth evaluation finds nothing to do, even with its progress mark lost
    with db.transaction() as session:
        session.execute(delete(TriggerProgressRow))
    assert service.evaluate_triggers(db, settings=settings, clock=clock) == []
    assert _count(db, PipelineRunRow.id) == BREACHES
    assert service.get_trigger(db, project="alpha", name=trigger.name).last_fired_at == (
        START + hits[-1] * HOUR
    )
    assert verify_audit(db).ok


def test_a_daemon_dying_between_launch_and_record_leaves_one_run(
    services: Services, pipeline: Pipeline, monitor: Monitor, clock: ManualClock
) -> None:
    db, settings = services.db, services.settings
    trigger = service.create_trigger(
        db, project="alpha", spec=_trigger_spec(), actor=OPERATOR, clock=clock
    )
    store_runs(db, monitor, [(1, True)])
    # the pipeline run was launched under the window's key, then the daemon died
    first = launch_run(
        db, settings=settings, project="alpha", pipeline="retrain", actor=TRIGGER_ACTOR,
        trigger=trigger.id, trigger_owner=trigger.owner,
        launch_key=launch_key(trigger, alert_occasion(START + HOUR)), clock=clock,
    )  # fmt: skip
    made = service.evaluate_triggers(db, settings=settings, clock=clock)
    assert [(m.run.id, m.created) for m in made] == [(first.run.id, False)]
    (recorded,) = service.list_launches(db, project="alpha", name="on-drift")
    assert recorded.run_id == first.run.id and _count(db, PipelineRunRow.id) == 1


def test_the_launch_table_refuses_a_second_record_of_a_key(
    services: Services, pipeline: Pipeline, monitor: Monitor, clock: ManualClock
) -> None:
    db, settings = services.db, services.settings
    trigger = service.create_trigger(
        db, project="alpha", spec=_trigger_spec(), actor=OPERATOR, clock=clock
    )
    occasion = alert_occasion(START + HOUR)
    fired = service.fire_trigger(
        db, settings=settings, project="alpha", name="on-drift", actor=OPERATOR, clock=clock
    )
    data = LaunchCreate(
        trigger=trigger, kind=occasion.kind, key=occasion.key, at=occasion.at,
        run_id=fired.run.id, launched_by=TRIGGER_ACTOR.ref, now=clock.now(),
    )  # fmt: skip
    with db.transaction() as session:
        SqlTriggerStore(session).add_launch(data)
        record_audit(session, actor=OPERATOR, action="trigger.launch", project="alpha")
    with pytest.raises(IntegrityError), db.transaction() as session:
        SqlTriggerStore(session).add_launch(data)
    assert _count(db, TriggerLaunchRow.id) == 2  # the manual fire and the one alert key
