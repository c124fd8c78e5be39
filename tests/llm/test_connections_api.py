"""The judge-connection and evaluate routes, through the real app, as callers use them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from governance.core.settings import Settings
from steward.api.deps import Services
from tests.builders import World
from tests.conftest import make_settings
from tests.llm.fakellm import FakeLLM, fake_llm, judge_by_rules

P = "/api/v1/projects/alpha"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Judges may call the fake server on the loopback, nothing else internal."""
    return make_settings(tmp_path / "home", db_url, webhook_allowlist=["127.0.0.1"])


@pytest.fixture
def llm() -> Any:
    with fake_llm(judge_by_rules(lambda text: 4 if "Paris" in text else 2)) as server:
        yield server


def put(client: TestClient, world: World, llm: FakeLLM, role: str = "owner", **extra: Any) -> Any:
    body = {"base_url": llm.url, "model": "judge-1", "api_key": llm.key, **extra}
    return client.put(f"{P}/connections/judge", json=body, headers=world.headers(role))


def test_the_key_is_sealed_and_never_echoed(
    client: TestClient, world: World, llm: FakeLLM, services: Services
) -> None:
    """PUT, GET and list never show the key; the audit entry does not carry it either."""
    made = put(client, world, llm, daily_budget=50)
    assert made.status_code == 200, made.text
    shown = client.get(f"{P}/connections/judge", headers=world.headers("viewer"))
    listed = client.get(f"{P}/connections", headers=world.headers("auditor"))
    for response in (made, shown, listed):
        assert llm.key not in response.text
    assert shown.json()["key_source"] == "sealed" and shown.json()["daily_budget"] == 50
    assert [c["name"] for c in listed.json()] == ["judge"]
    entries = list_audit(services.db, flt=AuditFilter(project="alpha"), cursor=None, limit=500)
    sets = [e for e in entries.items if e.action == "llm_connection.set"]
    assert len(sets) == 1 and llm.key not in json.dumps(sets[0].model_dump(mode="json"))


def test_evaluate_with_judges_and_metrics(client: TestClient, world: World, llm: FakeLLM) -> None:
    """One request scores every case with metrics and judges, in request order."""
    assert put(client, world, llm).status_code == 200
    cases = [
        {"query": "Capital of France?", "response": "Paris.", "ground_truth": "Paris is."},
        {"query": "Capital of France?", "response": "Lyon.", "ground_truth": "Paris is."},
    ]
    body = {
        "evaluators": ["relevance", "f1_score", "meteor"],
        "cases": cases,
        "connection": "judge",
    }
    found = client.post(f"{P}/evaluate", json=body, headers=world.headers("data-scientist"))
    assert found.status_code == 200, found.text
    rows = found.json()["scores"]
    assert [[s["evaluator"] for s in row] for row in rows] == [
        ["relevance", "f1_score", "meteor"]
    ] * 2
    assert [row[0]["value"] for row in rows] == [4.0, 2.0]
    assert rows[0][1]["value"] == pytest.approx(2 / 3) and rows[1][1]["value"] == 0.0
    assert 0 < rows[0][2]["value"] <= 1


def test_a_private_or_metadata_url_is_refused_without_allowlist(
    client: TestClient, world: World
) -> None:
    """Internal addresses need the allowlist; metadata services are refused by name too."""
    for url in (
        "http://169.254.169.254/v1",
        "http://10.0.0.5:8000/v1",
        "http://metadata.google.internal/v1",
    ):
        body = {"base_url": url, "model": "m"}
        refused = client.put(f"{P}/connections/x", json=body, headers=world.headers("owner"))
        assert refused.status_code == 422, url
        assert refused.json()["code"] == "url_refused"


def test_roles_and_projects(client: TestClient, world: World, llm: FakeLLM) -> None:
    """Viewers read but may not write or run; another project's caller gets 404."""
    assert put(client, world, llm, role="viewer").status_code == 403
    assert put(client, world, llm, role="ml-engineer").status_code == 200
    denied = client.delete(f"{P}/connections/judge", headers=world.headers("data-scientist"))
    assert denied.status_code == 403
    run = {"evaluators": ["fluency"], "cases": [{"response": "Hi."}], "connection": "judge"}
    assert (
        client.post(f"{P}/evaluate", json=run, headers=world.headers("viewer")).status_code == 403
    )
    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    assert client.get(f"{P}/connections/judge", headers=outsider).status_code == 404
    beta = client.get("/api/v1/projects/beta/connections/judge", headers=outsider)
    assert beta.status_code == 404  # connections are per project
    run_beta = client.post("/api/v1/projects/beta/evaluate", json=run, headers=outsider)
    assert run_beta.status_code == 404 and run_beta.json()["code"] == "not_found"
    gone = client.delete(f"{P}/connections/judge", headers=world.headers("owner"))
    assert gone.status_code == 204
    assert client.get(f"{P}/connections/judge", headers=world.headers("owner")).status_code == 404


def test_malformed_and_oversized_requests(client: TestClient, world: World) -> None:
    """Unknown evaluators, duplicates, too many cases or too long fields are 422."""
    owner = world.headers("owner")
    case = {"response": "a", "ground_truth": "a"}
    bad: list[dict[str, Any]] = [
        {"evaluators": ["nonsense"], "cases": [case]},
        {"evaluators": ["bleu", "bleu"], "cases": [case]},
        {"evaluators": ["bleu"], "cases": [case] * 101},
        {"evaluators": ["bleu"], "cases": [{"response": "x" * 20_001, "ground_truth": "a"}]},
        {"evaluators": ["bleu"], "cases": []},
        {"evaluators": ["bleu"], "cases": [{"response": "a"}]},
    ]
    for body in bad:
        found = client.post(f"{P}/evaluate", json=body, headers=owner)
        assert found.status_code == 422, body
    bad_name = client.put(
        f"{P}/connections/Bad Name", json={"base_url": "x", "model": "m"}, headers=owner
    )
    assert bad_name.status_code == 422


def test_meteor_is_refused_when_no_wordnet_is_configured(
    tmp_path: Path, db_url: str, world: World
) -> None:
    """Without WordNet, asking for METEOR is 503 evaluator_unavailable, never a score of 0."""
    from steward.api.app import build_services, create_app

    home = tmp_path / "home"  # the audit key of the world lives there
    svc = build_services(make_settings(home, db_url, wordnet_dirs=[tmp_path / "none"]))
    try:
        with TestClient(create_app(services=svc, seal_in_background=False)) as local:
            body = {"evaluators": ["meteor"], "cases": [{"response": "a", "ground_truth": "a"}]}
            found = local.post(f"{P}/evaluate", json=body, headers=world.headers("owner"))
    finally:
        svc.db.dispose()
    assert found.status_code == 503 and found.json()["code"] == "evaluator_unavailable"
