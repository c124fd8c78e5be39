"""``steward pipeline`` on the local database: apply, run, follow, logs, cancel."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from governance.core.clock import SystemClock
from retrain.pipelines.worker import PipelineWorker
from steward.api.deps import Services
from tests.cli.runner import run_steward
from tests.retrain.pipelines.inline import InlineRunner
from tests.retrain.pipelines.test_pipelines_api import spec


def test_the_cli_applies_launches_shows_logs_and_cancels(
    services: Services, world: object, training: str, tmp_path: Path
) -> None:
    s = services.settings
    env: dict[str, str | None] = {
        "STEWARD_HOME": str(s.home), "STEWARD_DATABASE_URL": s.database_url,
        "STEWARD_PIPELINE_MODULES": json.dumps(s.pipeline_modules),
    }  # fmt: skip

    def ok(*args: str) -> str:
        result = run_steward("pipeline", *args, "--project", "alpha", env=env)
        assert result.returncode == 0, result.stderr + result.stdout
        return result.stdout

    file = tmp_path / "pipeline.yaml"
    file.write_text(yaml.safe_dump(spec()))
    assert "version 1 created" in ok("apply", str(file))
    assert "version 1 unchanged" in ok("apply", str(file))
    python = tmp_path / "pipeline.py"  # the same spec built in Python
    python.write_text(
        "from retrain.pipelines.spec import PipelineSpec\n"
        f"pipeline = PipelineSpec.model_validate({spec()!r})\n"
    )
    assert "version 1 unchanged" in ok("apply", str(python))
    assert "prepare -> train -> evaluate" in ok("list")
    launched = ok("run", "retrain", "--input", "seed=3")
    run_id = launched.split()[1]
    worker = PipelineWorker(services.db, settings=s, runner=InlineRunner(), clock=SystemClock())
    ended = worker.work_once()
    assert ended is not None and str(ended.id) == run_id and ended.state == "succeeded"
    assert ended.inputs["seed"] == {"kind": "parameter", "value": 3}
    shown = json.loads(ok("show", run_id))
    assert shown["state"] == "succeeded" and shown["outputs"]["train.model"]["version"] == 1
    assert "evaluate: accuracy" in ok("logs", run_id, "--step", "evaluate")
    assert "succeeded" in ok("runs")
    queued = ok("run", "retrain").split()[1]
    assert "cancelled" in ok("cancel", queued)
    refused = run_steward("pipeline", "cancel", queued, "--project", "alpha", env=env)
    assert refused.returncode == 0  # cancelling a cancelled run is a no-op
