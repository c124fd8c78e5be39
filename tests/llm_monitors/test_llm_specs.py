"""LLM signals at apply: only on LLM endpoints (and only they there), every option checked."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import World

BASE = "/api/v1/projects/alpha"
QUALITY = {"kind": "llm_quality", "options": {"evaluators": ["relevance"], "connection": "judge"}}
PAST = {"kind": "production_window", "lookback": "P3D", "offset": "P1D"}


def _endpoint(client: TestClient, world: World, name: str, kind: str) -> None:
    r = client.post(
        f"{BASE}/endpoints", json={"name": name, "kind": kind}, headers=world.headers("owner")
    )
    assert r.status_code == 201, r.text


def _create(client: TestClient, world: World, spec: dict[str, Any]) -> Any:
    return client.post(f"{BASE}/monitors", json=spec, headers=world.headers("ml-engineer"))


def _spec(target: str, *signals: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "watch", "target": {"name": target}, "reference": PAST,
            "signals": list(signals), **extra}  # fmt: skip


def test_llm_signals_apply_to_llm_endpoints_only(client: TestClient, world: World) -> None:
    _endpoint(client, world, "chat", "llm")
    _endpoint(client, world, "scorer", "model")
    refused = _create(client, world, _spec("scorer", QUALITY))
    assert refused.status_code == 422 and refused.json()["code"] == "signal_endpoint_kind"
    assert "model endpoint" in refused.json()["detail"]
    drift = _create(client, world, _spec("chat", {"kind": "data_drift"}))
    assert drift.status_code == 422 and drift.json()["code"] == "signal_endpoint_kind"
    assert "LLM signals" in drift.json()["detail"]
    # the defaults (data and prediction drift) do not fit an LLM endpoint either
    default = {"name": "watch", "target": {"name": "chat"}}
    assert _create(client, world, default).json()["code"] == "signal_endpoint_kind"
    made = _create(client, world, _spec("chat", QUALITY, {"kind": "llm_latency"}))
    assert made.status_code == 201, made.text
    patched = client.patch(
        f"{BASE}/monitors/watch", json={"signals": [{"kind": "data_quality"}]},
        headers=world.headers("ml-engineer"),
    )  # fmt: skip
    assert patched.status_code == 422 and patched.json()["code"] == "signal_endpoint_kind"


@pytest.mark.parametrize(
    ("signals", "extra", "says"),
    [
        ([QUALITY, {"kind": "data_drift"}], {}, "signals of one sort only"),
        ([QUALITY], {"reference": {"kind": "dataset"}}, "serves no model with training data"),
        ([QUALITY], {"target": {"kind": "dataset", "name": "chat"}}, "target.kind endpoint"),
        ([{"kind": "llm_prompt_drift", "options": {"embeddings": "emb"}}], {},
         "embedding drift is not available"),
        ([{"kind": "llm_quality", "options": {"evaluators": []}}], {}, "at least 1"),
        ([{"kind": "llm_quality", "options": {"evaluators": ["coherence", "f1_score"]}}], {},
         "coherence ask a judge: name its connection"),
        ([{"kind": "llm_quality", "options": {"evaluators": ["f1_score"], "baseline": False}}],
         {}, "nothing to compare with"),
        ([{"kind": "llm_quality", "options": {"evaluators": ["bleu", "bleu"]}}], {},
         "named once each"),
        ([{"kind": "llm_quality", "options": {"evaluators": ["nonsense"]}}], {}, "relevance"),
        ([{"kind": "llm_usage", "options": {"max_cost": 5}}], {}, "needs prices"),
        ([{"kind": "llm_usage", "threshold": 5}], {}, "do not use threshold"),
        ([{"kind": "llm_errors", "options": {"max_error_rate": 2}}], {}, "less than or equal"),
        ([{"kind": "llm_latency", "options": {"p95": 10}}], {}, "unknown option 'p95'"),
    ],
)  # fmt: skip
def test_llm_options_are_refused_at_apply(
    client: TestClient, world: World, signals: list[Any], extra: dict[str, Any], says: str
) -> None:
    r = _create(client, world, _spec("chat", *signals) | extra)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_input"
    assert says in r.text


def test_llm_spec_round_trips_through_yaml(client: TestClient, world: World) -> None:
    _endpoint(client, world, "chat", "llm")
    text = """
monitors:
  - name: chat-quality
    target: {name: chat}
    reference: {kind: production_window, lookback: P7D, offset: P1D}
    schedule: {interval: P1D}
    signals:
      - kind: llm_quality
        threshold: 3.5
        options: {evaluators: [relevance, coherence], connection: judge, sample_size: 30}
      - kind: llm_usage
        options:
          prices: {gpt-small: {input_per_1k: 0.5, output_per_1k: 1.5}}
          max_cost: 20
      - kind: llm_errors
        options: {max_error_rate: 0.05, refusal_phrases: ["cannot comply"]}
"""
    r = client.post(
        f"{BASE}/monitors/apply", content=text, headers=world.headers("ml-engineer") |
        {"Content-Type": "application/yaml"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    (monitor,) = r.json()
    quality = monitor["spec"]["signals"][0]
    assert quality["threshold"] == 3.5 and quality["options"]["sample_size"] == 30
    assert monitor["spec"]["signals"][1]["options"]["prices"]["gpt-small"]["output_per_1k"] == 1.5
