"""Scoring during rollouts: a canary takes its share (sticky by key), a shadow is never returned."""

from __future__ import annotations

import pyarrow as pa
from fastapi.testclient import TestClient

from retrain.rollout.routing import canary_takes
from steward.api.deps import Services
from tests.builders import World
from tests.retrain.rollout.support import (
    CATEGORICAL,
    NUMERIC,
    E,
    P,
    _pipeline,
    _publish,
    _records,
    flipped,
    register,
    score_one,
    start,
)


def test_a_canary_takes_its_share_of_keys_and_each_key_stays_on_one_version(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    champion = _publish(client, world, _pipeline(adult.slice(0, 1000)))
    candidate = register(client, world, _pipeline(adult.slice(1000, 1000)))
    rollout = start(client, world, candidate, "canary", percent=30)
    assert rollout["state"] == "active" and rollout["previous_version"] == champion
    row = _records(adult.slice(2500, 1))[0]
    served = {}
    for i in range(120):
        r = score_one(client, world, row, key=f"user-{i}")
        assert r.status_code == 200, r.text
        served[f"user-{i}"] = r.json()["version"]
    to_candidate = [k for k, v in served.items() if v == candidate]
    assert set(served.values()) == {champion, candidate}
    assert 0.2 <= len(to_candidate) / 120 <= 0.4  # about 30%
    # the split is the hash's, so it is known in advance, and repeats are sticky
    assert to_candidate == [k for k in served if canary_takes(k, 30)]
    for key in list(served)[:20]:
        assert score_one(client, world, row, key=key).json()["version"] == served[key]

    assert services.scorer is not None and services.scorer.rollouts is not None
    services.scorer.rollouts.flush_all()
    listed = client.get(f"{E}/rollouts", headers=world.headers("viewer"))
    assert listed.status_code == 200, listed.text
    first = listed.json()[0]
    expected = len(to_candidate) + sum(served[k] == candidate for k in list(served)[:20])
    assert (first["requests"], first["errors"]) == (expected, 0)


def test_a_shadow_scores_a_copy_into_its_own_stream_and_is_never_returned(
    client: TestClient, world: World, services: Services, adult: pa.Table
) -> None:
    champion_model = _pipeline(adult.slice(0, 1000))
    shadow_model = flipped(adult.slice(0, 1000))
    champion = _publish(client, world, champion_model)
    candidate = register(client, world, shadow_model)
    rollout = start(client, world, candidate, "shadow")
    assert rollout["shadow_endpoint"] == "income.shadow"
    rows = adult.slice(2000, 30)
    frame = rows.select([*NUMERIC, *CATEGORICAL]).to_pandas()
    mine, theirs = champion_model.predict(frame).tolist(), shadow_model.predict(frame).tolist()
    assert sum(a != b for a, b in zip(mine, theirs, strict=True)) >= 10  # they disagree

    app = world.headers("app-developer")
    r = client.post(f"{E}/score", json={"records": _records(rows)}, headers=app)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["version"], answer["predictions"]) == (champion, mine)

    assert services.scorer is not None
    services.scorer.capture.flush()
    window = {"start": "2000-01-01T00:00:00Z", "end": "2200-01-01T00:00:00Z"}
    eng = world.headers("ml-engineer")
    live = client.get(f"{E}/inferences", params=window, headers=eng).json()["rows"]
    shadow = client.get(f"{P}/endpoints/income.shadow/inferences", params=window, headers=eng)
    assert shadow.status_code == 200, shadow.text
    by_id = {row["correlation_id"]: row["prediction"] for row in shadow.json()["rows"]}
    ids = answer["correlation_ids"]
    assert [by_id[i] for i in ids] == theirs  # the same rows, the candidate's predictions
    assert [row["prediction"] for row in live] == mine


def test_an_app_developer_scores_but_may_not_roll_out_or_back(
    client: TestClient, world: World, adult: pa.Table
) -> None:
    _publish(client, world, _pipeline(adult.slice(0, 800)))
    candidate = register(client, world, _pipeline(adult.slice(800, 800)))
    app = world.headers("app-developer")
    assert score_one(client, world, _records(adult.slice(2000, 1))[0]).status_code == 200
    body = {"model": "income", "version": candidate, "strategy": "canary", "percent": 10}
    assert client.post(f"{E}/rollouts", json=body, headers=app).status_code == 403
    assert client.post(f"{E}/rollback", json={"reason": "no"}, headers=app).status_code == 403
    hook = {"url": "http://127.0.0.1:9/x", "secret": "s" * 20}
    assert client.put(f"{P}/deploy-webhook", json=hook, headers=app).status_code == 403
    assert client.get(f"{E}/rollouts", headers=app).json() == []
