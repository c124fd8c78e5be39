"""Pipelines through the API: apply versions, launch, execute on the worker, outputs and lineage."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any
from uuid import UUID

import yaml
from fastapi.testclient import TestClient

from lineage import service as lineage
from retrain.artifacts.store import find_artifact, load_artifact
from retrain.pipelines.service import launch_run, run_root
from steward.api.deps import Services
from tests.builders import World
from tests.retrain.pipelines.conftest import table
from tests.retrain.pipelines.inline import InlineRunner

P = "/api/v1/projects/alpha"
STEPS = "tests.retrain.pipelines.steps"


def spec(**changes: Any) -> dict[str, Any]:
    """The test pipeline: prepare -> train -> evaluate."""
    body: dict[str, Any] = {
        "name": "retrain",
        "inputs": {
            "training": {"kind": "dataset", "default": "train-data"},
            "seed": {"kind": "parameter", "default": 7},
        },
        "steps": [
            {"name": "prepare", "function": f"{STEPS}:prepare",
             "inputs": {"data": "inputs.training", "fraction": 0.6},
             "outputs": {"train": "dataset", "test": {"kind": "dataset", "name": "retrain-test"}}},
            {"name": "train", "function": f"{STEPS}:train",
             "inputs": {"train": "steps.prepare.train", "seed": "inputs.seed"},
             "outputs": {"model": {"kind": "model", "name": "scorer"}}, "timeout": 60},
            {"name": "evaluate", "function": f"{STEPS}:evaluate",
             "inputs": {"model": "steps.train.model", "test": "steps.prepare.test"},
             "outputs": {"metrics": "metrics"}},
        ],
    }  # fmt: skip
    body.update(changes)
    return body


def apply(client: TestClient, world: World, body: dict[str, Any], *, as_yaml: bool = False) -> Any:
    headers = world.headers("ml-engineer")
    if as_yaml:
        headers = {**headers, "Content-Type": "application/yaml"}
        return client.post(f"{P}/pipelines", content=yaml.safe_dump(body), headers=headers)
    return client.post(f"{P}/pipelines", json=body, headers=headers)


def launch(client: TestClient, world: World, name: str = "retrain", **body: Any) -> dict[str, Any]:
    r = client.post(f"{P}/pipelines/{name}/runs", json=body, headers=world.headers("ml-engineer"))
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def wait_ended(
    client: TestClient, world: World, run_id: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"{P}/pipeline-runs/{run_id}", headers=world.headers("viewer")).json()
        if run["state"] not in ("queued", "running"):
            return run  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end: {run}")


def test_applying_versions_a_pipeline_by_content(client: TestClient, world: World) -> None:
    first = apply(client, world, spec(), as_yaml=True)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1
    again = apply(client, world, spec())  # the same content, as JSON this time
    assert again.status_code == 200 and again.json()["version"] == 1
    changed = apply(client, world, spec(description="more epochs"))
    assert changed.status_code == 201 and changed.json()["version"] == 2
    v1 = client.get(f"{P}/pipelines/retrain?version=1", headers=world.headers("viewer")).json()
    assert v1["spec"]["description"] == "" and v1["digest"] == first.json()["digest"]
    listed = client.get(f"{P}/pipelines", headers=world.headers("viewer")).json()
    assert [(p["name"], p["version"]) for p in listed] == [("retrain", 2)]


def test_a_run_executes_every_step_and_registers_its_outputs(
    client: TestClient, world: World, services: Services, training: str
) -> None:
    assert apply(client, world, spec()).status_code == 201
    queued = launch(client, world)
    assert queued["state"] == "queued"
    assert queued["inputs"]["training"] == {
        "kind": "dataset", "dataset": "train-data", "version": training,
        "sha256": queued["inputs"]["training"]["sha256"],
    }  # fmt: skip
    run = wait_ended(client, world, queued["id"])
    assert run["state"] == "succeeded", run
    assert [s["state"] for s in run["steps"]] == ["succeeded"] * 3
    assert run["launched_by"] == "user:ml-engineer-user" and run["runner"] == "inline"
    out = run["outputs"]
    assert out["train.model"] == {"kind": "model", "model": "scorer", "version": 1}
    assert out["prepare.test"]["dataset"] == "retrain-test"
    assert out["prepare.train"]["dataset"] == "retrain.prepare.train"
    assert out["evaluate.metrics"]["values"]["rows"] == 80.0
    assert out["evaluate.metrics"]["values"]["accuracy"] > 0.8
    # The model version has its artifact and scores; the datasets are versions of 'alpha'.
    root = services.settings.artifact_dir
    assert root is not None
    stored = find_artifact(services.db, project="alpha", model="scorer", version=1, root=root)
    predictions = load_artifact(stored).predict(table(10, seed=3)).predictions
    assert len(predictions) == 10
    test_set = lineage.get_dataset_version(services.db, project="alpha", name="retrain-test")
    assert test_set.row_count == 80 and test_set.version == out["prepare.test"]["version"]
    # Each step is a lineage run, under the pipeline's run, linked to what it read and wrote.
    runs = {
        step["name"]: lineage.get_run(services.db, project="alpha", run_id=step["lineage_run_id"])
        for step in run["steps"]
    }
    assert {r.state.value for r in runs.values()} == {"COMPLETE"}
    assert runs["train"].job == "pipeline.retrain.train"
    assert runs["train"].facets["parent"]["run"]["runId"] == run["id"]
    source = lineage.get_dataset_version(services.db, project="alpha", name="train-data")
    assert runs["prepare"].inputs == [source.id]
    model = lineage.get_model_version(services.db, project="alpha", model="scorer", version=1)
    assert runs["train"].outputs == [model.id] and str(model.run_id) == str(runs["train"].run_id)
    assert runs["evaluate"].inputs and model.id in runs["evaluate"].inputs
    parent = lineage.get_run(services.db, project="alpha", run_id=run["id"])
    assert parent.state.value == "COMPLETE"
    # The outputs were copied in: the steps' scratch folders are gone, the stored files stay.
    steps = run_root(services.settings, UUID(run["id"])) / "steps"
    assert not steps.exists() and steps.parent.exists()
    assert load_artifact(stored).predict(table(2, seed=4)).predictions


def test_logs_are_served_by_offset(client: TestClient, world: World, training: str) -> None:
    apply(client, world, spec())
    run = wait_ended(client, world, launch(client, world)["id"])
    url = f"{P}/pipeline-runs/{run['id']}/logs"
    first = client.get(url, params={"step": "prepare"}, headers=world.headers("viewer")).json()
    assert first["text"].splitlines() == [f"prepare: 200 rows from train-data@{training}",
                                          "prepare: 120 train rows"]  # fmt: skip
    assert first["ended"] is True
    rest = client.get(url, params={"step": "prepare", "offset": len(first["text"]) - 24},
                      headers=world.headers("viewer")).json()  # fmt: skip
    assert rest["text"] == "prepare: 120 train rows\n"
    assert rest["next_offset"] == first["next_offset"]
    unknown = client.get(url, params={"step": "nope"}, headers=world.headers("viewer"))
    assert unknown.status_code == 404


def test_a_launch_key_launches_one_run_even_when_racing(
    client: TestClient, world: World, services: Services, training: str
) -> None:
    apply(client, world, spec())
    first = launch(client, world, launch_key="trigger-1:2026-01-01")
    second = launch(client, world, launch_key="trigger-1:2026-01-01")
    assert second["id"] == first["id"]
    results: list[Any] = []

    def go() -> None:
        results.append(launch_run(
            services.db, settings=services.settings, project="alpha", pipeline="retrain",
            actor=world.principals["ml-engineer"], launch_key="race", clock=services.clock,
        ))  # fmt: skip

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.run.id for r in results}) == 1
    assert sorted(r.created for r in results) == [False, False, False, True]
    page = client.get(f"{P}/pipeline-runs", headers=world.headers("viewer")).json()
    assert len(page["items"]) == 2


def test_a_failing_step_fails_the_run_and_later_steps_never_start(
    client: TestClient, world: World, runner: InlineRunner, training: str
) -> None:
    body = spec()
    body["steps"][0] = {"name": "prepare", "function": f"{STEPS}:explode",
                        "inputs": {"data": "inputs.training"},
                        "outputs": {"train": "dataset", "test": "dataset"}}  # fmt: skip
    apply(client, world, body)
    run = wait_ended(client, world, launch(client, world)["id"])
    assert run["state"] == "failed"
    assert run["error"] == "step prepare: ValueError: the label column is empty"
    assert [s["state"] for s in run["steps"]] == ["failed", "skipped", "skipped"]
    assert runner.calls == [f"{STEPS}:explode"]


def test_a_queued_run_can_be_cancelled(
    client: TestClient, world: World, services: Services, training: str
) -> None:
    apply(client, world, spec())
    client.app.state.pipelines.stop()  # type: ignore[attr-defined]
    run = launch(client, world)
    url = f"{P}/pipeline-runs/{run['id']}/cancel"
    assert client.post(url, headers=world.headers("viewer")).status_code == 403
    cancelled = client.post(url, headers=world.headers("ml-engineer"))
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = client.post(url, headers=world.headers("ml-engineer"))
    assert again.json()["state"] == "cancelled"


def test_a_function_outside_the_allowed_modules_is_refused(
    client: TestClient, world: World
) -> None:
    body = spec()
    body["steps"][0]["function"] = "os:system"
    r = apply(client, world, body)
    assert r.status_code == 422 and r.json()["code"] == "function_not_allowed"
    body["steps"][0]["function"] = "tests.retrain.pipelinesevil.steps:prepare"  # a prefix lookalike
    assert apply(client, world, body).json()["code"] == "function_not_allowed"


def test_malformed_or_oversized_specs_are_refused(client: TestClient, world: World) -> None:
    headers = {**world.headers("ml-engineer"), "Content-Type": "application/yaml"}
    cases = {
        "name: [unclosed": "invalid_spec",
        "a: &x [1]\nb: *x\n": "invalid_spec",
        "name: x\nsteps: []\n": "invalid_spec",
        "name: p\n" + "#" * (300 * 1024): "spec_too_large",
    }
    for text, code in cases.items():
        r = client.post(f"{P}/pipelines", content=text, headers=headers)
        assert r.status_code in (413, 422) and (r.status_code == 413 or r.json()["code"] == code)
    cycle = spec()
    cycle["steps"][0]["inputs"]["data"] = "steps.evaluate.metrics"
    r = apply(client, world, cycle)
    assert r.status_code == 422 and "cycle" in r.json()["detail"]
    dangling = spec()
    dangling["steps"][1]["inputs"]["train"] = "steps.prepare.nothing"
    assert apply(client, world, dangling).status_code == 422


def test_inputs_name_only_this_projects_versions(
    client: TestClient, world: World, training: str
) -> None:
    apply(client, world, spec())
    url = f"{P}/pipelines/retrain/runs"
    headers = world.headers("ml-engineer")
    other = client.post(url, json={"inputs": {"training": "secret-data"}}, headers=headers)
    assert other.status_code == 404  # beta's dataset is not found from alpha
    unknown = client.post(url, json={"inputs": {"nope": 1}}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_input"


def test_a_stored_run_is_launched_again_with_the_same_versions(
    client: TestClient, world: World, services: Services, training: str
) -> None:
    from tests.retrain.pipelines.conftest import register_dataset

    apply(client, world, spec())
    first = launch(client, world)
    register_dataset(services, "alpha", "train-data", table(300, seed=5))  # a newer version
    rerun = launch(client, world, inputs=first["inputs"])
    assert rerun["inputs"] == first["inputs"]
    fresh = launch(client, world)
    assert fresh["inputs"]["training"]["version"] != training


def test_app_developers_cannot_launch_or_apply(
    client: TestClient, world: World, training: str
) -> None:
    apply(client, world, spec())
    app = world.headers("app-developer")
    assert client.post(f"{P}/pipelines/retrain/runs", json={}, headers=app).status_code == 403
    assert client.post(f"{P}/pipelines", json=spec(), headers=app).status_code == 403


def test_an_endpoint_window_input_is_materialised_as_a_dataset_version(
    client: TestClient, world: World, services: Services, training: str
) -> None:
    apply(client, world, spec())
    wait_ended(client, world, launch(client, world)["id"])  # model 'scorer' v1 to deploy
    eng = world.headers("ml-engineer")
    assert client.post(f"{P}/endpoints", json={"name": "income"}, headers=eng).status_code == 201
    deploy = {"model": "scorer", "version": 1}
    assert client.post(f"{P}/endpoints/income/deployments", json=deploy, headers=eng).is_success
    rows = table(120, seed=4).to_pylist()
    now = services.clock.now()
    records = [
        {"correlation_id": f"r{i}", "timestamp": (now - timedelta(hours=1)).isoformat(),
         "features": {"x1": r["x1"], "x2": r["x2"]}, "prediction": r["label"]}
        for i, r in enumerate(rows)
    ]  # fmt: skip
    r = client.post(f"{P}/endpoints/income/inferences", json={"records": records}, headers=eng)
    assert r.status_code in (200, 201, 202), r.text
    labels = [{"correlation_id": f"r{i}", "label": r["label"]} for i, r in enumerate(rows[:100])]
    r = client.post(f"{P}/endpoints/income/labels", json={"labels": labels}, headers=eng)
    assert r.status_code == 201, r.text
    body = spec(name="from-traffic")
    body["inputs"] = {"training": {"kind": "endpoint_window", "endpoint": "income", "days": 2},
                      "seed": {"kind": "parameter", "default": 1}}  # fmt: skip
    assert apply(client, world, body).status_code == 201
    queued = launch(client, world, "from-traffic")
    window = queued["inputs"]["training"]
    assert window["kind"] == "dataset" and window["dataset"] == "income.window"
    stored = lineage.get_dataset_version(
        services.db, project="alpha", name="income.window", version=window["version"]
    )
    assert stored.row_count == 100  # the labelled rows only
    run = wait_ended(client, world, queued["id"])
    assert run["state"] == "succeeded", run
    assert run["outputs"]["train.model"]["version"] == 2


def test_the_plan_is_kept_and_launch_and_end_are_audited(
    client: TestClient, world: World, services: Services, training: str
) -> None:
    from governance.audit.schemas import AuditFilter
    from governance.audit.service import list_audit

    apply(client, world, spec())
    plan = {"endpoint": "income", "rollout": {"strategy": "canary", "percent": 10}}
    queued = launch(client, world, plan=plan)
    assert queued["plan"]["endpoint"] == "income"
    assert queued["plan"]["rollout"] == {"strategy": "canary", "percent": 10}
    wait_ended(client, world, queued["id"])

    def actions(action: str) -> list[Any]:
        flt = AuditFilter(action=action, project="alpha")
        return list_audit(services.db, flt=flt, cursor=None, limit=50).items

    assert [e.actor for e in actions("pipeline.apply")] == ["user:ml-engineer-user"]
    launched = actions("pipeline.run.launch")
    assert len(launched) == 1 and launched[0].details["run_id"] == queued["id"]
    finished = actions("pipeline.run.finish")
    assert len(finished) == 1 and finished[0].details["state"] == "succeeded"


def test_options_that_would_be_ignored_are_refused(client: TestClient, world: World) -> None:
    body = spec()
    body["inputs"]["seed"]["days"] = 3
    assert apply(client, world, body).json()["code"] == "invalid_spec"
    body = spec()
    body["steps"][2]["outputs"] = {"metrics": {"kind": "metrics", "name": "x"}}
    assert apply(client, world, body).json()["code"] == "invalid_spec"
    body = spec()
    body["steps"][1]["outputs"] = {"model": "model"}  # a model is registered under a name
    assert apply(client, world, body).json()["code"] == "invalid_spec"
    body = spec()
    body["inputs"]["window"] = {"kind": "endpoint_window"}
    assert apply(client, world, body).json()["code"] == "invalid_spec"


def test_runs_are_listed_newest_first_in_pages_and_by_state(
    client: TestClient, world: World, training: str
) -> None:
    client.app.state.pipelines.stop()  # type: ignore[attr-defined]
    apply(client, world, spec())
    ids = [launch(client, world)["id"] for _ in range(3)]
    viewer = world.headers("viewer")
    url = f"{P}/pipeline-runs"
    first = client.get(url, params={"limit": 2}, headers=viewer).json()
    assert [r["id"] for r in first["items"]] == ids[::-1][:2] and first["next_cursor"]
    rest = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=viewer)
    assert [r["id"] for r in rest.json()["items"]] == [ids[0]]
    assert rest.json()["next_cursor"] is None
    client.post(f"{url}/{ids[1]}/cancel", headers=world.headers("ml-engineer"))
    cancelled = client.get(url, params={"state": "cancelled"}, headers=viewer).json()["items"]
    assert [r["id"] for r in cancelled] == [ids[1]]
    other = client.get(url, params={"pipeline": "other"}, headers=viewer).json()["items"]
    assert other == []
    bad = client.get(url, params={"cursor": "not-a-cursor"}, headers=viewer)
    assert bad.status_code == 422
