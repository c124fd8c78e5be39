"""Evaluation runs through the REST API: prompt variants against a local fake LLM, compared.

The scenario (``tests.evaluations.scenario``) scripts who answers what. Runs execute on the
app's pipeline worker with the local runner (a process per step), as in production.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import World
from tests.evaluations.scenario import ROWS, SLOW, P, request


def _run(client: TestClient, world: World, body: dict[str, Any]) -> dict[str, Any]:
    headers = world.headers("data-scientist")
    launched = client.post(f"{P}/evaluations", headers=headers, json=body)
    assert launched.status_code == 202, launched.text
    url = f"{P}/evaluations/{launched.json()['id']}"
    deadline = time.monotonic() + 180
    while True:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        found = response.json()
        if found["state"] in ("succeeded", "failed", "cancelled"):
            return dict(found)
        assert time.monotonic() < deadline, found
        time.sleep(0.5)


def _comparison(found: dict[str, Any], evaluator: str) -> dict[str, Any]:
    return next(c for c in found["comparisons"] if c["evaluator"] == evaluator)


def _aggregate(found: dict[str, Any], variant: str, evaluator: str) -> dict[str, Any]:
    return next(a for a in found["aggregates"]
                if a["variant"] == variant and a["evaluator"] == evaluator)  # fmt: skip


def test_the_better_variant_wins_significantly(client: TestClient, setup: World) -> None:
    found = _run(client, setup, request("terse", "careful"))
    assert found["state"] == "succeeded", found["error"]
    assert [(v["name"], v["prompt"], v["prompt_version"]) for v in found["variants"]] == [
        ("A", "terse", 1),
        ("B", "careful", 1),
    ]
    for evaluator in ("relevance", "f1_score"):
        comparison = _comparison(found, evaluator)
        assert comparison["winner"] == "B" and comparison["significant"], comparison
        assert comparison["n"] == ROWS and comparison["mean_difference"] < 0
        assert comparison["t_p"] < 0.001 and comparison["wilcoxon_p"] < 0.001
    best = _aggregate(found, "B", "f1_score")
    assert (best["n"], best["failures"], best["mean"]) == (ROWS, 0, pytest.approx(1.0))
    relevance = _aggregate(found, "B", "relevance")
    assert relevance["ci_low"] < relevance["mean"] < relevance["ci_high"]
    assert relevance["bootstrap_low"] <= relevance["mean"] <= relevance["bootstrap_high"]
    # the run is a pipeline run of the project, with the dataset and results as inputs
    headers = setup.headers("data-scientist")
    run = client.get(f"{P}/pipeline-runs/{found['pipeline_run_id']}", headers=headers).json()
    assert run["pipeline"] == "llm-evaluation" and run["state"] == "succeeded"
    assert run["inputs"]["dataset"]["dataset"] == "qa"
    assert run["inputs"]["rows"]["dataset"] == found["rows_dataset"]
    assert run["inputs"]["evaluation"]["value"]["prompts"] == {"A": "terse@1", "B": "careful@1"}


def test_rows_hold_prompt_completion_usage_and_scores(client: TestClient, setup: World) -> None:
    found = _run(client, setup, request("terse", "careful"))
    headers = setup.headers("viewer")
    url = f"{P}/evaluations/{found['id']}/rows"
    page = client.get(url, params={"limit": 10, "variant": "B"}, headers=headers).json()
    assert page["total"] == ROWS and page["next_offset"] == 10 and len(page["items"]) == 10
    row = page["items"][0]
    assert row["variant"] == "B" and row["prompt"] == "careful@1"
    assert "What is question 0?" in row["rendered"]
    assert row["completion"] == "the correct answer to question 0 is 0"
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] == 8
    assert row["latency_ms"] > 0 and row["score_relevance"] == 4.0
    assert row["score_f1_score"] == pytest.approx(1.0)


def test_identical_variants_differ_in_nothing(client: TestClient, setup: World) -> None:
    found = _run(client, setup, request("careful", "careful@1"))
    assert found["state"] == "succeeded", found["error"]
    assert found["comparisons"] and not any(c["significant"] for c in found["comparisons"])
    assert all(c["winner"] is None for c in found["comparisons"])


def test_judge_timeouts_are_counted_failures_not_zeros(client: TestClient, setup: World) -> None:
    found = _run(client, setup, request("terse", "careful", judge="slow"))
    assert found["state"] == "succeeded", found["error"]
    for variant in ("A", "B"):
        relevance = _aggregate(found, variant, "relevance")
        assert (relevance["n"], relevance["failures"]) == (ROWS - len(SLOW), len(SLOW))
    comparison = _comparison(found, "relevance")
    assert comparison["n"] == ROWS - len(SLOW) and comparison["winner"] == "B"
    page = client.get(f"{P}/evaluations/{found['id']}/rows", params={"limit": 500},
                      headers=setup.headers("viewer")).json()  # fmt: skip
    slow = [r for r in page["items"] if r["row"] in SLOW]
    assert slow and all(r["score_relevance"] is None for r in slow)
    assert all(r["error_relevance"] == "judge_timeout" for r in slow)


def _audit(client: TestClient, world: World, target: str) -> list[dict[str, Any]]:
    admin = {"Authorization": f"Bearer {world.admin_token}"}
    page = client.get("/api/v1/audit", params={"target": target, "limit": 100}, headers=admin)
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


def test_the_launch_and_the_results_are_audited(client: TestClient, setup: World) -> None:
    found = _run(client, setup, request("terse", "careful"))
    entries = _audit(client, setup, f"evaluation:{found['id']}")
    actions = [e["action"] for e in entries]
    assert actions == ["evaluation.run", "evaluation.generate", "evaluation.generated",
                       "evaluation.complete"]  # fmt: skip
    launch = entries[0]
    assert launch["actor"] == "user:data-scientist-user"
    assert launch["details"]["variants"][1]["prompt_version"] == 1
    decided = entries[-1]["details"]["comparisons"]
    assert {(c["evaluator"], c["winner"], c["significant"]) for c in decided} == {
        ("relevance", "B", True),
        ("f1_score", "B", True),
    }


def test_a_cancelled_evaluation_cancels_its_pipeline_run(client: TestClient, setup: World) -> None:
    headers = setup.headers("ml-engineer")
    app = client.app
    app.state.pipelines.stop()  # type: ignore[attr-defined]  # keep the run queued
    launched = client.post(f"{P}/evaluations", headers=headers, json=request("terse", "careful"))
    url = f"{P}/evaluations/{launched.json()['id']}"
    assert client.get(url, headers=headers).json()["state"] == "running"
    cancelled = client.post(url + "/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    run_id = cancelled.json()["pipeline_run_id"]
    run = client.get(f"{P}/pipeline-runs/{run_id}", headers=headers).json()
    assert run["state"] == "cancelled"
    again = client.post(url + "/cancel", headers=headers)
    assert again.status_code == 200 and again.json()["state"] == "cancelled"
    listed = client.get(f"{P}/evaluations", headers=setup.headers("viewer")).json()
    assert [e["state"] for e in listed["items"]] == ["cancelled"]


def test_failed_generations_are_counted_failures(client: TestClient, setup: World) -> None:
    body = request("terse", "careful")
    body["variants"][1] |= {"connection": "flaky", "model": "gen-flaky"}
    found = _run(client, setup, body)
    assert found["state"] == "succeeded", found["error"]
    assert found["variants"][1]["model"] == "gen-flaky"  # the override, not the prompt's model
    failed = len(range(0, ROWS, 6))
    for evaluator in ("relevance", "f1_score"):
        flaky = _aggregate(found, "B", evaluator)
        assert (flaky["n"], flaky["failures"]) == (ROWS - failed, failed)
        assert _comparison(found, evaluator)["n"] == ROWS - failed
    page = client.get(f"{P}/evaluations/{found['id']}/rows", params={"variant": "B"},
                      headers=setup.headers("viewer")).json()  # fmt: skip
    errors = {r["row"]: r["generation_error"] for r in page["items"] if r["generation_error"]}
    assert errors == dict.fromkeys(range(0, ROWS, 6), "server_error")
