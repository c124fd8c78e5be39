"""An evaluation's life outside requests: its results land when its pipeline run ends, and a run
whose generating server stopped is failed by the leader's sweep instead of hanging."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient

from governance.audit.service import record_audit
from governance.core.clock import ManualClock
from retrain.evaluation import service
from retrain.evaluation.schemas import EvaluationCreate, EvaluationState
from retrain.evaluation.store import SqlEvaluationStore
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.evaluations.scenario import P, request


def test_results_land_when_the_pipeline_run_ends_without_anyone_reading(
    client: TestClient, services: Services, setup: World
) -> None:
    headers = setup.headers("data-scientist")
    launched = client.post(f"{P}/evaluations", headers=headers, json=request("terse", "careful"))
    assert launched.status_code == 202, launched.text
    evaluation_id = uuid.UUID(launched.json()["id"])
    deadline = time.monotonic() + 180
    # read as stored (no GET, which would also fetch the pipeline run's results)
    while (found := service.read_evaluation(services.db, "alpha", evaluation_id)).state in (
        service.ACTIVE
    ):
        assert time.monotonic() < deadline, found
        time.sleep(0.5)
    assert found.state is EvaluationState.succeeded, found.error
    assert {c.winner for c in found.comparisons} == {"B"} and found.aggregates


def test_a_generating_run_whose_server_went_silent_is_failed_and_audited(
    client: TestClient, services: Services, setup: World
) -> None:
    clock = ManualClock(service._WALL.now())
    data = EvaluationCreate.model_validate(request("terse", "careful"))
    queued = service.launch_evaluation(
        services.db, settings=services.settings, project="alpha", data=data,
        actor=OPERATOR, clock=clock,
    )  # fmt: skip
    with services.db.transaction() as session:  # a server took it, then died
        store = SqlEvaluationStore(session)
        assert store.move(queued.id, frm=(EvaluationState.queued,), to=EvaluationState.generating)
        store.beat(queued.id, at=clock.now())
        record_audit(session, actor=OPERATOR, action="evaluation.generate", project="alpha",
                     target=f"evaluation:{queued.id}")  # fmt: skip
    clock.advance(service.STALE_AFTER - timedelta(seconds=1))
    assert service.detect_interrupted(services.db, clock=clock) == []  # still within its grace
    with services.db.transaction() as session:
        SqlEvaluationStore(session).beat(queued.id, at=clock.now())  # alive after all
    clock.advance(service.STALE_AFTER - timedelta(seconds=1))
    assert service.detect_interrupted(services.db, clock=clock) == []
    clock.advance(timedelta(seconds=2))
    assert service.detect_interrupted(services.db, clock=clock) == [queued.id]
    failed = service.read_evaluation(services.db, "alpha", queued.id)
    assert failed.state is EvaluationState.failed and "interrupted" in (failed.error or "")
    assert service.detect_interrupted(services.db, clock=clock) == []  # once
    admin = {"Authorization": f"Bearer {setup.admin_token}"}
    page = client.get("/api/v1/audit", params={"target": f"evaluation:{queued.id}"}, headers=admin)
    assert page.status_code == 200, page.text
    assert [e["action"] for e in page.json()["items"]][-1] == "evaluation.interrupt"
