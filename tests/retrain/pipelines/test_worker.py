"""The worker: real subprocess steps (LocalRunner), cancel, orphans, path escapes, the example."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from governance.core.clock import ManualClock, SystemClock
from lineage import service as lineage
from retrain.pipelines.schemas import PipelineRun
from retrain.pipelines.service import claim_run, detect_orphans
from retrain.pipelines.worker import PipelineWorker
from retrain.pipelines.workspace import StepFailure, inside
from retrain.runners.base import StepRunner
from retrain.runners.dask import DaskRunner
from retrain.runners.local import LocalRunner
from steward.api.deps import Services
from steward.demo.data import load_adult
from tests.builders import World
from tests.retrain.pipelines.conftest import register_dataset
from tests.retrain.pipelines.test_pipelines_api import STEPS, P, apply, launch, spec, wait_ended


def _worker(services: Services, runner: StepRunner | None = None, **kw: Any) -> PipelineWorker:
    return PipelineWorker(
        services.db, settings=services.settings, runner=runner or LocalRunner(),
        clock=SystemClock(), poll=0.05, beat_every=0.1, **kw,
    )  # fmt: skip


def _one_step(function: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    return {"name": "single", "inputs": {},
            "steps": [{"name": "only", "function": function, "inputs": inputs,
                       "outputs": outputs}]}  # fmt: skip


def test_a_running_step_is_stopped_when_its_run_is_cancelled(
    client: TestClient, world: World, services: Services
) -> None:
    client.app.state.pipelines.stop()  # type: ignore[attr-defined]
    apply(client, world, _one_step(f"{STEPS}:wait", {"seconds": 60}, {}))
    run = launch(client, world, "single")
    worker = _worker(services)
    ended: list[PipelineRun] = []
    thread = threading.Thread(target=lambda: ended.append(worker.work_once()))  # type: ignore[arg-type]
    thread.start()
    logs = f"{P}/pipeline-runs/{run['id']}/logs"
    deadline = time.monotonic() + 20
    while (
        "started"
        not in client.get(logs, params={"step": "only"}, headers=world.headers("viewer")).json()[
            "text"
        ]
    ):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    r = client.post(f"{P}/pipeline-runs/{run['id']}/cancel", headers=world.headers("ml-engineer"))
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert ended[0].state.value == "cancelled"
    assert [s.state.value for s in ended[0].steps] == ["cancelled"]


def test_a_run_whose_worker_went_silent_is_declared_orphaned(
    client: TestClient, world: World, services: Services, training: str
) -> None:
    client.app.state.pipelines.stop()  # type: ignore[attr-defined]
    apply(client, world, spec())
    run = launch(client, world)
    clock = ManualClock(SystemClock().now())
    claimed = claim_run(services.db, worker="dead-worker", runner="local", clock=clock)
    assert claimed is not None and claimed.state.value == "running"
    assert detect_orphans(services.db, clock=clock, stale_after=timedelta(minutes=2)) == []
    clock.advance(timedelta(minutes=3))
    orphaned = detect_orphans(services.db, clock=clock, stale_after=timedelta(minutes=2))
    assert [o.id for o in orphaned] == [claimed.id]
    shown = client.get(f"{P}/pipeline-runs/{run['id']}", headers=world.headers("viewer")).json()
    assert shown["state"] == "orphaned" and "heartbeats" in shown["error"]
    assert claim_run(services.db, worker="another", runner="local", clock=clock) is None


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_a_returned_path_outside_the_workdir_fails_the_step(
    client: TestClient, world: World, how: str
) -> None:
    apply(client, world, _one_step(f"{STEPS}:escape", {"how": how}, {"out": "dataset"}))
    run = wait_ended(client, world, launch(client, world, "single")["id"])
    assert run["state"] == "failed"
    assert "outside the step's work directory" in run["error"]
    assert run["outputs"] == {}


def test_the_service_refuses_paths_outside_the_workdir_itself(tmp_path: Path) -> None:
    workdir = tmp_path / "run" / "step"
    workdir.mkdir(parents=True)
    (workdir / "ok.parquet").write_bytes(b"x")
    (tmp_path / "secret").write_bytes(b"s")
    (workdir / "link").symlink_to(tmp_path / "secret")
    assert inside(workdir, "ok.parquet", "out") == (workdir / "ok.parquet").resolve()
    assert inside(workdir, str(workdir / "ok.parquet"), "out").name == "ok.parquet"
    for bad in (str(tmp_path / "secret"), "../../secret", "link", "missing", "", None):
        with pytest.raises(StepFailure):
            inside(workdir, bad, "out")


@pytest.mark.slow
@pytest.mark.parametrize("where", ["local", "dask"])
def test_the_adult_example_runs_on_local_processes_and_on_a_dask_cluster(
    client: TestClient, world: World, services: Services, where: str, request: pytest.FixtureRequest
) -> None:
    client.app.state.pipelines.stop()  # type: ignore[attr-defined]
    adult: pa.Table = load_adult().slice(0, 2000)
    register_dataset(services, "alpha", "adult-train", adult)
    body = {
        "name": "adult-retrain",
        "inputs": {"training": {"kind": "dataset", "default": "adult-train"},
                   "epochs": {"kind": "parameter", "default": 1}},
        "steps": [
            {"name": "prepare", "function": "steward.demo.pipeline.steps:prepare",
             "inputs": {"data": "inputs.training"}, "outputs": {"train": "dataset",
                                                                "test": "dataset"}},
            {"name": "train", "function": "steward.demo.pipeline.steps:train",
             "inputs": {"train": "steps.prepare.train", "epochs": "inputs.epochs", "seed": 7,
                        "hidden": 16, "max_rows": 1500},
             "outputs": {"model": {"kind": "model", "name": "income"}}},
            {"name": "evaluate", "function": "steward.demo.pipeline.steps:evaluate",
             "inputs": {"model": "steps.train.model", "test": "steps.prepare.test"},
             "outputs": {"metrics": "metrics", "scored": "dataset"}},
        ],
    }  # fmt: skip
    assert apply(client, world, body).status_code == 201
    run = launch(client, world, "adult-retrain")
    finished: list[PipelineRun] = []
    runner: StepRunner = LocalRunner()
    if where == "dask":  # the LocalCluster of two worker processes
        runner = DaskRunner(client=request.getfixturevalue("dask_client"))
    worker = _worker(services, runner, on_finished=[finished.append, _broken])
    ended = worker.work_once()
    assert ended is not None and ended.state.value == "succeeded", ended
    assert finished == [ended]  # the broken callback changed nothing
    assert ended.runner == where
    assert ended.outputs["train.model"] == {"kind": "model", "model": "income", "version": 1}
    assert ended.outputs["evaluate.metrics"]["values"]["accuracy"] > 0.6
    model = lineage.get_model_version(services.db, project="alpha", model="income", version=1)
    assert model.flavor == "torchscript" and model.tags["pipeline_run"] == run["id"]


def _broken(run: PipelineRun) -> None:
    raise RuntimeError("a callback that fails")


def test_a_function_no_longer_allowed_is_refused_at_execution(
    client: TestClient, world: World, services: Services, training: str
) -> None:
    from tests.retrain.pipelines.inline import InlineRunner

    client.app.state.pipelines.stop()  # type: ignore[attr-defined]
    apply(client, world, spec())
    launch(client, world)
    narrowed = services.settings.model_copy(update={"pipeline_modules": ["somewhere.else"]})
    runner = InlineRunner()
    worker = PipelineWorker(services.db, settings=narrowed, runner=runner, clock=SystemClock())
    ended = worker.work_once()
    assert ended is not None and ended.state.value == "failed"
    assert ended.error is not None and "outside the allowed pipeline modules" in ended.error
    assert runner.calls == []
    r = client.post(f"{P}/pipelines/retrain/runs", json={}, headers=world.headers("ml-engineer"))
    assert r.status_code == 202  # the app's settings still allow it
