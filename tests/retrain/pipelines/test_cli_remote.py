"""``steward pipeline`` against a running server (STEWARD_URL, STEWARD_TOKEN), as its token."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml
from fastapi import FastAPI

from governance.core.settings import Settings
from retrain.pipelines.schemas import Pipeline, PipelineRun
from tests.builders import World
from tests.cli.runner import CliResult, run_steward
from tests.retrain.pipelines.test_pipelines_api import STEPS, spec


def steward(settings: Settings, *args: str, url: str | None = None, token: str = "") -> CliResult:
    """``steward ARGS`` locally (no ``url``) or against the server at ``url`` as ``token``."""
    env: dict[str, str | None] = {
        "STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url,
        "STEWARD_PIPELINE_MODULES": json.dumps(settings.pipeline_modules),
        "STEWARD_URL": url, "STEWARD_TOKEN": token if url else None,
    }  # fmt: skip
    return run_steward(*args, env=env)


def _ok(result: CliResult) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_the_cli_applies_runs_follows_and_reads_logs_on_a_server(
    settings: Settings, world: World, training: str, server: str, tmp_path: Path
) -> None:
    def remote(*args: str, role: str = "ml-engineer") -> str:
        token = world.tokens[role]
        return _ok(steward(settings, "pipeline", *args, "-p", "alpha", url=server, token=token))

    file = tmp_path / "pipeline.yaml"
    file.write_text(yaml.safe_dump(spec()))
    assert "pipeline retrain version 1 created" in remote("apply", str(file))
    assert "pipeline retrain version 1 unchanged" in remote("apply", str(file))
    applied = Pipeline.model_validate_json(remote("apply", str(file), "-o", "json"))
    assert (applied.version, applied.created_by) == (1, "user:ml-engineer-user")
    assert "prepare -> train -> evaluate" in remote("list", role="viewer")
    local_list = _ok(steward(settings, "pipeline", "list", "-p", "alpha", "-o", "json"))
    assert remote("list", "-o", "json", role="viewer") == local_list  # the same JSON both ways

    waited = remote("run", "retrain", "--input", "seed=3", "--wait")
    run_id = waited.split()[1]
    assert f"run {run_id} succeeded" in waited and "3/3" in waited  # steps done of all
    shown = remote("show", run_id, role="viewer")
    assert shown == _ok(steward(settings, "pipeline", "show", run_id, "-p", "alpha"))
    run = PipelineRun.model_validate_json(shown)
    assert run.launched_by == "user:ml-engineer-user" and run.inputs["seed"]["value"] == 3
    assert run.outputs["train.model"]["version"] == 1
    assert "evaluate: accuracy" in remote("logs", run_id, "--step", "evaluate", role="viewer")
    runs = json.loads(remote("runs", "--pipeline", "retrain", "-o", "json", role="viewer"))
    assert [r["id"] for r in runs] == [run_id]
    assert "succeeded" in remote("runs", role="viewer")


def test_the_cli_follows_logs_and_cancels_on_a_server(
    settings: Settings, world: World, training: str, server: str, app: FastAPI, tmp_path: Path
) -> None:
    engineer = {"url": server, "token": world.tokens["ml-engineer"]}
    nap = {"name": "nap", "steps": [{"name": "sleep", "function": f"{STEPS}:wait",
                                     "inputs": {"seconds": 0.5}, "outputs": {}}]}  # fmt: skip
    file = tmp_path / "nap.yaml"
    file.write_text(yaml.safe_dump(nap))
    _ok(steward(settings, "pipeline", "apply", str(file), "-p", "alpha", **engineer))
    run_id = _ok(steward(settings, "pipeline", "run", "nap", "-p", "alpha", **engineer)).split()[1]
    started = time.monotonic()
    logs = steward(settings, "pipeline", "logs", run_id, "-s", "sleep", "-f", "-p", "alpha",
                   **engineer)  # fmt: skip
    assert _ok(logs) == "wait: started\n"  # read until the step ended, then stopped
    assert time.monotonic() - started < 10

    app.state.pipelines.stop()  # nothing executes what is launched now: it stays queued
    queued = PipelineRun.model_validate_json(
        _ok(steward(settings, "pipeline", "run", "nap", "-p", "alpha", "-o", "json", **engineer))
    )
    assert queued.state == "queued"
    developer = {"url": server, "token": world.tokens["app-developer"]}
    denied = steward(settings, "pipeline", "cancel", str(queued.id), "-p", "alpha", **developer)
    assert denied.returncode == 4 and denied.stdout == ""
    assert len(denied.stderr.strip().splitlines()) == 1 and "permission_denied" in denied.stderr
    cancelled = steward(settings, "pipeline", "cancel", str(queued.id), "-p", "alpha", **engineer)
    assert f"run {queued.id} cancelled" in _ok(cancelled)
    refused = steward(settings, "pipeline", "list", "-p", "alpha", **developer)
    assert refused.returncode == 4 and "permission_denied" in refused.stderr
    missing = steward(settings, "pipeline", "show", str(queued.id), "-p", "beta", **engineer)
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1
