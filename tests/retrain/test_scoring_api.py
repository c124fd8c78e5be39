"""Scoring through the API: the deployed version predicts, inputs are checked, rows are captured."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from lineage.schemas import ColumnSpec, ColumnType, Signature, TaskType
from steward.api.deps import Services
from steward.demo.data import load_adult
from tests.builders import World
from tests.retrain.test_artifacts_api import CATEGORICAL, NUMERIC, _pipeline, _skops

P = "/api/v1/projects/alpha"
SCORE = f"{P}/endpoints/income/score"
CLASSES = ["<=50K", ">50K"]


def _signature() -> Signature:
    inputs = [ColumnSpec(name=n, type=ColumnType.int) for n in NUMERIC] + [
        ColumnSpec(name=n, type=ColumnType.str) for n in CATEGORICAL
    ]
    outputs = [ColumnSpec(name="prediction", type=ColumnType.str)]
    return Signature(
        inputs=inputs, outputs=outputs, task=TaskType.binary, probabilities=True, classes=CLASSES
    )


def register_version(
    client: TestClient, world: World, model: Any, signature: Signature | None = None, **extra: Any
) -> int:
    """Register and upload ``model`` as the next version of 'income' (not deployed)."""
    data = _skops(model)
    eng = world.headers("ml-engineer")
    body = {
        "sha256": hashlib.sha256(data).hexdigest(), "flavor": "sklearn",
        "signature": (signature or _signature()).model_dump(mode="json"), **extra,
    }  # fmt: skip
    r = client.post(f"{P}/models/income/versions", json=body, headers=eng)
    assert r.status_code == 201, r.text
    version = int(r.json()["version"])
    url = f"{P}/models/income/versions/{version}/artifact"
    headers = {**eng, "Content-Type": "application/octet-stream"}
    put = client.put(url, content=data, headers=headers)
    assert put.status_code == 201, put.text
    return version


def _publish(
    client: TestClient, world: World, model: Any, signature: Signature | None = None
) -> int:
    """Register, upload and deploy ``model`` to endpoint 'income'; its version number."""
    version = register_version(client, world, model, signature)
    eng = world.headers("ml-engineer")
    if client.get(f"{P}/endpoints/income", headers=eng).status_code == 404:
        created = client.post(f"{P}/endpoints", json={"name": "income"}, headers=eng)
        assert created.status_code == 201, created.text
    deploy = {"model": "income", "version": version}
    r = client.post(f"{P}/endpoints/income/deployments", json=deploy, headers=eng)
    assert r.status_code in (200, 201), r.text
    return version


def _records(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.select([*NUMERIC, *CATEGORICAL]).to_pylist()
    return [{"features": row} for row in rows]


@pytest.fixture
def adult() -> pa.Table:
    return load_adult().slice(0, 2400)


def test_the_deployed_version_scores_and_every_row_is_captured(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    model = _pipeline(adult.slice(0, 2000))
    version = _publish(client, world, model)
    rows = adult.slice(2000, 50)
    records = _records(rows)
    records[0]["correlation_id"] = "req-0"
    app = world.headers("app-developer")
    r = client.post(SCORE, json={"records": records}, headers=app)
    assert r.status_code == 200, r.text
    answer = r.json()
    frame = rows.select([*NUMERIC, *CATEGORICAL]).to_pandas()
    assert (answer["model"], answer["version"]) == ("income", version)
    assert answer["predictions"] == model.predict(frame).tolist()
    np.testing.assert_allclose(answer["probabilities"], model.predict_proba(frame), rtol=1e-12)
    ids = answer["correlation_ids"]
    assert ids[0] == "req-0" and len(set(ids)) == 50 and answer["classes"] == CLASSES

    assert services.scorer is not None
    services.scorer.capture.flush()
    window = {"start": "2000-01-01T00:00:00Z", "end": "2200-01-01T00:00:00Z"}
    url = f"{P}/endpoints/income/inferences"
    logged = client.get(url, params=window, headers=world.headers("ml-engineer"))
    assert logged.status_code == 200, logged.text
    stored = {row["correlation_id"]: row for row in logged.json()["rows"]}
    assert set(stored) == set(ids)
    assert stored["req-0"]["prediction"] == answer["predictions"][0]
    assert stored["req-0"]["probabilities"] == answer["probabilities"][0]
    labels = {"labels": [{"correlation_id": i, "label": ">50K"} for i in ids[:5]]}
    r = client.post(f"{P}/endpoints/income/labels", json=labels, headers=app)
    assert r.status_code == 201, r.text  # labels follow the scored rows by their ids


def test_arrow_requests_score_like_json_and_the_model_is_loaded_once_per_version(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    first = _pipeline(adult.slice(0, 1000))
    _publish(client, world, first)
    rows = adult.slice(2000, 20).select([*NUMERIC, *CATEGORICAL])
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, rows.schema) as stream:
        stream.write_table(rows)
    arrow = {
        **world.headers("app-developer"),
        "Content-Type": "application/vnd.apache.arrow.stream",
    }
    by_arrow = client.post(SCORE, content=sink.getvalue(), headers=arrow).json()
    by_json = client.post(
        SCORE, json={"records": _records(rows)}, headers=world.headers("app-developer")
    ).json()
    assert (
        by_arrow["predictions"]
        == by_json["predictions"]
        == first.predict(rows.to_pandas()).tolist()
    )
    answer = client.post(
        SCORE, content=sink.getvalue(), headers=arrow | {"Accept": arrow["Content-Type"]}
    )
    assert answer.headers["content-type"] == arrow["Content-Type"]
    table = pa.ipc.open_stream(answer.content).read_all()
    assert table.column("prediction").to_pylist() == by_json["predictions"]
    assert table.column("probabilities").to_pylist() == by_json["probabilities"]
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    assert (meta["model"], meta["version"]) == ("income", str(by_json["version"]))
    assert services.scorer is not None and services.scorer.cache.builds == 1
    second = _pipeline(adult.slice(1000, 1000))
    version = _publish(client, world, second)
    again = client.post(
        SCORE, json={"records": _records(rows)}, headers=world.headers("app-developer")
    ).json()
    assert again["version"] == version and services.scorer.cache.builds == 2
    assert again["probabilities"] == second.predict_proba(rows.to_pandas()).tolist()


def test_inputs_are_checked_against_the_signature(
    client: TestClient, world: World, adult: pa.Table
) -> None:
    _publish(client, world, _pipeline(adult.slice(0, 500)))
    app = world.headers("app-developer")
    good = _records(adult.slice(600, 1))[0]["features"]
    cases = [
        ({**good, "age": "old"}, "age"),
        ({k: v for k, v in good.items() if k != "sex"} | {"colour": "red"}, "colour"),
        ({**good, "extra": 1}, "extra"),
    ]
    for features, named in cases:
        r = client.post(SCORE, json={"records": [{"features": features}]}, headers=app)
        assert r.status_code == 422 and named in r.text, r.text
    r = client.post(SCORE, json={"records": []}, headers=app)
    assert r.status_code == 422
    dup = [{"features": good, "correlation_id": "x"}] * 2
    assert client.post(SCORE, json={"records": dup}, headers=app).status_code == 422


def test_who_may_score_and_what_scoring_needs(
    client: TestClient, world: World, adult: pa.Table
) -> None:
    body = {"records": _records(adult.slice(0, 1))}
    eng = world.headers("ml-engineer")
    r = client.post(SCORE, json=body, headers=world.headers("app-developer"))
    assert r.status_code == 404  # no such endpoint yet
    client.post(f"{P}/endpoints", json={"name": "income"}, headers=eng)
    r = client.post(SCORE, json=body, headers=world.headers("app-developer"))
    assert r.status_code == 409 and r.json()["code"] == "not_deployed"
    _publish(client, world, _pipeline(adult.slice(0, 500)))
    assert client.post(SCORE, json=body, headers=world.headers("viewer")).status_code == 403
    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    assert client.post(SCORE, json=body, headers=outsider).status_code == 404
    app = world.headers("app-developer")
    deploy = {"model": "income", "version": 1}
    assert (
        client.post(f"{P}/endpoints/income/deployments", json=deploy, headers=app).status_code
        == 403
    )
    assert client.post(SCORE, json=body, headers=app).status_code == 200


def test_concurrent_first_requests_share_one_scorer(services: Services) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from steward.api.routes.scoring import scorer

    with ThreadPoolExecutor(8) as pool:
        built = list(pool.map(lambda _: scorer(services), range(8)))
    assert all(b is built[0] for b in built) and services.scorer is built[0]


def test_context_columns_are_captured_but_never_reach_the_model(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    """Sex and race come with each request for the fairness monitors; the model sees neither."""
    from sklearn.linear_model import LogisticRegression

    train = adult.slice(0, 2000)
    model = LogisticRegression(max_iter=500).fit(
        train.select(list(NUMERIC)).to_pandas(), train.column("income").to_pylist()
    )
    signature = _signature().model_copy(
        update={
            "inputs": [ColumnSpec(name=n, type=ColumnType.int) for n in NUMERIC],
            "context": [ColumnSpec(name=n, type=ColumnType.str) for n in CATEGORICAL],
        }
    )
    eng = world.headers("ml-engineer")
    clash = signature.model_dump(mode="json")
    clash["context"].append({"name": NUMERIC[0], "type": "int"})
    body = {"sha256": "0" * 64, "flavor": "sklearn", "signature": clash}
    refused = client.post(f"{P}/models/income/versions", json=body, headers=eng)
    assert refused.status_code == 422 and "already inputs or outputs" in refused.text

    version = _publish(client, world, model, signature=signature)
    rows = adult.slice(2000, 40)
    r = client.post(SCORE, json={"records": _records(rows)}, headers=world.headers("app-developer"))
    assert r.status_code == 200, r.text
    assert r.json()["version"] == version
    assert r.json()["predictions"] == model.predict(rows.select(list(NUMERIC)).to_pandas()).tolist()
    flipped = [{"features": rec["features"] | {"sex": "Other", "race": None}}
               for rec in _records(rows)]  # fmt: skip
    again = client.post(SCORE, json={"records": flipped}, headers=world.headers("app-developer"))
    assert again.json()["probabilities"] == r.json()["probabilities"]  # the model never saw them

    assert services.scorer is not None
    services.scorer.capture.flush()
    window = {"start": "2000-01-01T00:00:00Z", "end": "2200-01-01T00:00:00Z"}
    logged = client.get(f"{P}/endpoints/income/inferences", params=window, headers=eng).json()
    sexes = sorted(row["sex"] for row in logged["rows"])
    assert sexes == sorted([*rows.column("sex").to_pylist(), *["Other"] * rows.num_rows])
