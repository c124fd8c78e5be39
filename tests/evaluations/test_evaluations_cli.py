"""``steward eval`` against a running server: launch from YAML, follow, show the comparison."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from governance.core.settings import Settings
from retrain.evaluation.schemas import Evaluation
from tests.builders import World
from tests.cli.runner import CliResult, run_steward
from tests.evaluations.scenario import request


def steward(settings: Settings, *args: str, url: str | None, token: str = "") -> CliResult:
    """``steward ARGS`` against the server at ``url`` as ``token`` (locally when None)."""
    env: dict[str, str | None] = {
        "STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url,
        "STEWARD_PIPELINE_MODULES": json.dumps(settings.pipeline_modules),
        "STEWARD_URL": url, "STEWARD_TOKEN": token if url else None,
    }  # fmt: skip
    return run_steward(*args, env=env)


def test_eval_run_and_show_print_the_comparison(
    settings: Settings, setup: World, server: str, tmp_path: Path
) -> None:
    file = tmp_path / "eval.yaml"
    file.write_text(yaml.safe_dump(request("terse", "careful")))
    token = setup.tokens["data-scientist"]
    ran = steward(settings, "eval", "run", str(file), "-p", "alpha", url=server, token=token)
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert "succeeded" in ran.stdout and "A - B" in ran.stdout and "yes" in ran.stdout
    evaluation_id = re.search(r"evaluation ([0-9a-f-]{36}) succeeded", ran.stdout).group(1)  # type: ignore[union-attr]
    shown = steward(settings, "eval", "show", evaluation_id, "-p", "alpha", "-o", "json",
                    url=server, token=setup.tokens["viewer"])  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    found = Evaluation.model_validate_json(shown.stdout)
    assert found.state == "succeeded"
    assert {c.winner for c in found.comparisons} == {"B"}
    local = steward(settings, "eval", "show", evaluation_id, "-p", "alpha", "-o", "json", url=None)
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout) == json.loads(shown.stdout)  # the same JSON both ways


def test_a_malformed_file_is_a_usage_error(
    settings: Settings, setup: World, tmp_path: Path
) -> None:
    file = tmp_path / "eval.yaml"
    file.write_text(yaml.safe_dump({"dataset": "qa", "variants": []}))
    ran = steward(settings, "eval", "run", str(file), "-p", "alpha", url=None)
    assert ran.returncode == 2 and "variants" in (ran.stderr + ran.stdout)
