"""The gate end to end: real models, real labelled traffic, decisions stored and served."""

from __future__ import annotations

import hashlib
import io
import uuid
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fairlearn.metrics import demographic_parity_difference
from fastapi.testclient import TestClient
from sklearn.metrics import accuracy_score

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from retrain.gate.schemas import GateDecision, GateSpec, ModelRef
from retrain.gate.service import evaluate_release
from steward.api.deps import Services
from steward.demo.data import load_adult
from tests.builders import World
from tests.retrain.test_artifacts_api import CATEGORICAL, NUMERIC, _pipeline
from tests.retrain.test_scoring_api import (
    SCORE,
    P,
    _publish,
    _records,
    _signature,
    register_version,
)

FEATURES = [*NUMERIC, *CATEGORICAL]
FAIRNESS = {"metric": "demographic_parity_difference", "sensitive_feature": "sex",
            "max_difference": 0.12}  # fmt: skip


@pytest.fixture(scope="module")
def adult() -> pa.Table:
    return load_adult().slice(0, 6000)


def _numeric_only(table: pa.Table) -> Any:
    """A model that takes the signature's columns but ignores sex and race."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        make_column_transformer((StandardScaler(), list(NUMERIC))),
        LogisticRegression(max_iter=500),
    )
    return model.fit(table.select(FEATURES).to_pandas(), table.column("income").to_pylist())


def _upload(client: TestClient, world: World, model: Any, **extra: Any) -> int:
    """Register and upload ``model`` as the next version of 'income', without deploying it."""
    return register_version(client, world, model, **extra)


def _serve_and_label(client: TestClient, world: World, services: Services, rows: pa.Table) -> None:
    """Score ``rows`` through the endpoint, then send their true incomes as labels."""
    app = world.headers("app-developer")
    r = client.post(SCORE, json={"records": _records(rows)}, headers=app)
    assert r.status_code == 200, r.text
    assert services.scorer is not None
    services.scorer.capture.flush()
    truth = rows.column("income").to_pylist()
    labels = [{"correlation_id": i, "label": y}
              for i, y in zip(r.json()["correlation_ids"], truth, strict=True)]  # fmt: skip
    r = client.post(f"{P}/endpoints/income/labels", json={"labels": labels}, headers=app)
    assert r.status_code == 201, r.text


def _evaluate(services: Services, world: World, challenger: int, champion: int | None,
              spec: GateSpec, run_id: uuid.UUID | None = None) -> GateDecision:  # fmt: skip
    return evaluate_release(
        services.db, settings=services.settings, project="alpha", endpoint="income",
        challenger=ModelRef(model="income", version=challenger),
        champion=None if champion is None else ModelRef(model="income", version=champion),
        spec=spec, run_id=run_id, actor=world.principals["ml-engineer"], clock=services.clock,
    )  # fmt: skip


def test_a_more_accurate_but_less_fair_challenger_fails_and_the_api_shows_why(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    train, served = adult.slice(0, 3000), adult.slice(3000, 2000)
    fair, sharp = _numeric_only(train), _pipeline(train)
    champion = _publish(client, world, fair)
    challenger = _upload(client, world, sharp)
    _serve_and_label(client, world, services, served)
    spec = GateSpec.model_validate({
        "metrics": [{"metric": "accuracy", "threshold": 0.7, "min_absolute_change": 0.001},
                    {"metric": "roc_auc", "min_relative_change": 0.0}],
        "fairness": [FAIRNESS], "reference_fraction": 0, "min_rows": 1000,
    })  # fmt: skip
    run = uuid.uuid4()
    decision = _evaluate(services, world, challenger, champion, spec, run)

    frame = served.select(FEATURES).to_pandas()
    truth = np.array(served.column("income").to_pylist())
    accuracy = {"challenger": accuracy_score(truth, sharp.predict(frame)),
                "champion": accuracy_score(truth, fair.predict(frame))}  # fmt: skip
    assert accuracy["challenger"] > accuracy["champion"]
    assert not decision.passed
    assert len(decision.reasons) == 1 and "demographic_parity_difference" in decision.reasons[0]
    details = decision.details
    assert details["holdout"]["rows"] == 2000 and details["holdout"]["window"]["rows"] == 2000
    by_metric = {m["metric"]: m for m in details["metrics"]}
    assert by_metric["accuracy"]["passed"] and by_metric["roc_auc"]["passed"]
    for role in ("challenger", "champion"):
        assert by_metric["accuracy"][role] == pytest.approx(accuracy[role], abs=1e-12)
    assert by_metric["accuracy"]["checks"]["min_absolute_change"]["passed"]
    (limit,) = details["fairness"]
    for role, model in (("challenger", sharp), ("champion", fair)):
        expected = demographic_parity_difference(
            truth == ">50K", model.predict(frame) == ">50K", sensitive_features=frame["sex"]
        )
        assert limit[role]["value"] == pytest.approx(expected, abs=1e-12)
        assert limit[role]["standard_error"] > 0
    assert limit["limit"] == 0.12 and not limit["passed"]
    assert limit["challenger"]["upper_bound"] > 0.12 >= limit["champion"]["upper_bound"]

    viewer = world.headers("viewer")
    listed = client.get(f"{P}/gates", params={"run": str(run)}, headers=viewer)
    assert listed.status_code == 200 and [d["id"] for d in listed.json()] == [str(decision.id)]
    one = client.get(f"{P}/gates/{decision.id}", headers=viewer)
    assert one.status_code == 200
    assert GateDecision.model_validate(one.json()) == decision
    assert client.get(f"{P}/gates", params={"run": str(uuid.uuid4())}, headers=viewer).json() == []
    assert client.get(f"{P}/gates/{uuid.uuid4()}", headers=viewer).status_code == 404
    assert client.get(f"{P}/gates", headers=world.headers("app-developer")).status_code == 403
    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    assert client.get(f"{P}/gates/{decision.id}", headers=outsider).status_code == 404

    # the fair model, judged alone, passes the same gate; its relative checks say they were skipped
    alone = _evaluate(services, world, champion, None, spec)
    assert alone.passed, alone.reasons
    assert alone.details["relative_checks"].startswith("no champion")
    skipped = alone.details["metrics"][0]["checks"]["min_absolute_change"]
    assert skipped["skipped"] == "no champion" and alone.details["scores"]["champion"] is None
    audited = list_audit(services.db, flt=AuditFilter(action="gate.decide"), cursor=None, limit=10)
    assert [(e.target, e.details["passed"]) for e in audited.items] == [
        (f"model:income@{challenger}", False),
        (f"model:income@{champion}", True),
    ]


def test_the_reference_share_joins_the_window_and_relative_thresholds_bite(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    train = adult.slice(0, 2000)
    sink = io.BytesIO()
    pq.write_table(adult.slice(4000, 1000), sink)
    url = f"{P}/datasets/adult-holdout/versions/v1/file"
    headers = {**world.headers("data-scientist"), "Content-Type": "application/vnd.apache.parquet"}
    uploaded = client.put(url, content=sink.getvalue(), headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    champion = _publish(client, world, _numeric_only(train))
    challenger_model = _pipeline(train)
    challenger = _upload(client, world, challenger_model, training_data=[uploaded.json()["id"]])
    _serve_and_label(client, world, services, adult.slice(2000, 300))
    spec = GateSpec.model_validate({
        "metrics": [{"metric": "accuracy", "threshold": 0.5, "min_relative_change": 0.5},
                    {"metric": "log_loss", "min_absolute_change": 0.001}],
        "reference_fraction": 0.4, "reference_label": "income", "seed": 11, "min_rows": 500,
    })  # fmt: skip
    decision = _evaluate(services, world, challenger, champion, spec)

    reference = decision.details["holdout"]["reference"]
    assert (reference["dataset"], reference["version"], reference["rows_total"]) == (
        "adult-holdout", "v1", 1000)  # fmt: skip
    assert reference["rows"] == 400 and reference["seed"] == 11
    assert decision.details["holdout"]["rows"] == 700
    picked = np.sort(np.random.default_rng(11).choice(1000, size=400, replace=False))
    rows = pa.concat_tables([adult.slice(2000, 300), adult.slice(4000, 1000).take(picked)])
    expected = accuracy_score(
        rows.column("income").to_pylist(),
        challenger_model.predict(rows.select(FEATURES).to_pandas()),
    )
    accuracy, log_loss = decision.details["metrics"]
    assert accuracy["challenger"] == pytest.approx(expected, abs=1e-12)
    assert accuracy["checks"]["threshold"]["passed"]
    assert not accuracy["checks"]["min_relative_change"]["passed"]  # 50% better is too much
    assert log_loss["passed"] and log_loss["challenger"] < log_loss["champion"]
    assert not decision.passed
    assert decision.reasons == [r for r in decision.reasons if "min_relative_change" in r]


def test_too_few_rows_never_pass(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    model = _pipeline(adult.slice(0, 1000))
    version = _publish(client, world, model)
    spec = GateSpec.model_validate({"metrics": [{"metric": "accuracy", "threshold": 0.0}],
                                    "reference_fraction": 0, "min_rows": 200})  # fmt: skip
    empty = _evaluate(services, world, version, None, spec)
    assert not empty.passed and empty.reasons == [
        "too few rows: the holdout has 0 labelled rows, at least 200 are needed"
    ]
    _serve_and_label_logged(client, world, model, adult.slice(1000, 50))
    few = _evaluate(services, world, version, None, spec)
    assert not few.passed and "has 50 labelled rows" in few.reasons[0]
    assert few.details["holdout"]["window"]["rows"] == 50
    stored = client.get(f"{P}/gates/{few.id}", headers=world.headers("viewer")).json()
    assert stored["passed"] is False and stored["reasons"] == few.reasons


def test_a_challenger_that_cannot_score_fails_with_the_reason(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    champion = _publish(client, world, _pipeline(adult.slice(0, 1000)))
    _serve_and_label(client, world, services, adult.slice(1000, 300))
    data = b"never uploaded"
    body = {"sha256": hashlib.sha256(data).hexdigest(), "flavor": "sklearn",
            "signature": _signature().model_dump(mode="json")}  # fmt: skip
    r = client.post(f"{P}/models/income/versions", json=body, headers=world.headers("ml-engineer"))
    spec = GateSpec(reference_fraction=0)
    decision = _evaluate(services, world, int(r.json()["version"]), champion, spec)
    assert not decision.passed
    assert decision.reasons[0].startswith("the challenger cannot score the holdout: no artifact")
    unlogged = GateSpec.model_validate({
        "fairness": [{**FAIRNESS, "sensitive_feature": "workclass"}], "reference_fraction": 0,
    })  # fmt: skip
    missing = _evaluate(services, world, champion, None, unlogged)
    assert not missing.passed
    assert missing.reasons == ["the endpoint's window lacks the column(s) workclass"]


def test_a_linked_reference_without_labels_is_left_out_but_a_named_one_fails(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    sink = io.BytesIO()
    pq.write_table(adult.slice(4000, 500), sink)
    url = f"{P}/datasets/adult-train/versions/v1/file"
    headers = {**world.headers("data-scientist"), "Content-Type": "application/vnd.apache.parquet"}
    uploaded = client.put(url, content=sink.getvalue(), headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    model = _pipeline(adult.slice(0, 1000))
    version = _upload(client, world, model, training_data=[uploaded.json()["id"]])
    eng = world.headers("ml-engineer")
    assert client.post(f"{P}/endpoints", json={"name": "income"}, headers=eng).status_code == 201
    deploy = {"model": "income", "version": version}
    assert client.post(f"{P}/endpoints/income/deployments", json=deploy, headers=eng).is_success
    _serve_and_label_logged(client, world, model, adult.slice(1000, 250))
    implicit = _evaluate(services, world, version, None, GateSpec())  # label column: "label"
    reference = implicit.details["holdout"]["reference"]
    assert reference["dataset"] == "adult-train" and reference["rows"] == 0
    assert reference["skipped"] == "the reference lacks the column(s) label"
    assert implicit.passed and implicit.details["holdout"]["rows"] == 250
    named = _evaluate(services, world, version, None, GateSpec(reference_dataset="adult-train@v1"))
    assert not named.passed and named.reasons == ["the reference lacks the column(s) label"]


def _serve_and_label_logged(client: TestClient, world: World, model: Any, rows: pa.Table) -> None:
    """Log ``rows`` as inferences the application scored itself, then label them."""
    frame = rows.select(FEATURES).to_pandas()
    pairs = zip(frame.to_dict("records"), model.predict(frame).tolist(), strict=True)
    records = [
        {"correlation_id": f"r{i}", "features": f, "prediction": p}
        for i, (f, p) in enumerate(pairs)
    ]
    app = world.headers("app-developer")
    r = client.post(f"{P}/endpoints/income/inferences", json={"records": records}, headers=app)
    assert r.status_code == 201, r.text
    labels = [{"correlation_id": f"r{i}", "label": y}
              for i, y in enumerate(rows.column("income").to_pylist())]  # fmt: skip
    r = client.post(f"{P}/endpoints/income/labels", json={"labels": labels}, headers=app)
    assert r.status_code == 201, r.text
