"""Every command of ``steward --help`` but the admin ones, against a real server, as JSON.

The commands run from a folder of their own with only ``STEWARD_URL`` and ``STEWARD_TOKEN``
set: no home, no database. The walk lists every command, so a command added to the CLI fails
this test until it is walked (or declared an admin command).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from monitors.evaluators import service as evaluators
from monitors.evaluators.schemas import ConnectionSet
from retrain.approvals.service import request_approval
from retrain.gate.schemas import ModelRef
from retrain.loop import LOOP
from retrain.rollout.schemas import RolloutPlan
from steward.api.deps import Services
from steward.cli import ADMIN_COMMANDS
from steward.demo.data import load_adult
from tests.builders import World
from tests.cli.remote import Remote, leaf_commands
from tests.conftest import make_settings
from tests.retrain.pipelines.conftest import register_dataset, table
from tests.retrain.pipelines.test_pipelines_api import spec
from tests.retrain.rollout.support import _pipeline, _publish, register

MONITORS = """
monitors:
  - name: hourly
    target: {name: income}
    schedule: {interval: PT1H, start: "2026-04-01T00:00:00Z"}
"""
TRIGGER = "name: by-hand\npipeline: retrain\non: {kind: manual}\n"
PROMPT = "name: qa\nmessages: [{role: user, content: 'Answer {{ question }}'}]\n"
# Variants of prompt qa over dataset 'questions', generated through connection 'gen' (nothing
# listens there: launched with --no-wait, the run fails at generation, which show reports).
EVALUATION = {
    "dataset": "questions",
    "evaluators": ["f1_score"],
    "query_column": "question",
    "variants": [
        {"name": "A", "prompt": "qa@1", "connection": "gen", "model": "m"},
        {"name": "B", "prompt": "qa@production", "connection": "gen", "model": "m"},
    ],
}
EVENT = {
    "eventType": "COMPLETE", "eventTime": "2026-04-01T00:00:00Z",
    "run": {"runId": str(uuid.UUID(int=7))}, "job": {"namespace": "alpha", "name": "cli-job"},
    "inputs": [{"namespace": "alpha", "name": "raw"}],
    "outputs": [{"namespace": "alpha", "name": "clean"}],
    "producer": "https://example.com/cli-test",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
}  # fmt: skip

Args = Callable[[dict[str, Any]], list[str]]


def _fixed(*args: str) -> Args:
    return lambda _: list(args)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings allowing the test pipeline's steps; no worker runs launched runs (they queue)."""
    return make_settings(
        tmp_path / "home", db_url, pipeline_modules=["tests.retrain.pipelines"],
        pipeline_worker=False, webhook_allowlist=["127.0.0.1"],
    )  # fmt: skip


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder that holds no Steward home, as the working directory."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def _files(folder: Path) -> dict[str, Path]:
    """The documents the walk applies and ingests."""
    files = {
        "monitors": folder / "monitors.yaml",
        "trigger": folder / "trigger.yaml",
        "pipeline": folder / "pipeline.yaml",
        "events": folder / "events.jsonl",
        "prompt": folder / "prompt.yaml",
        "evaluation": folder / "evaluation.yaml",
    }
    files["monitors"].write_text(MONITORS)
    files["trigger"].write_text(TRIGGER)
    files["pipeline"].write_text(yaml.safe_dump(spec()))
    files["events"].write_text(json.dumps(EVENT) + "\n")
    files["prompt"].write_text(PROMPT)
    files["evaluation"].write_text(yaml.safe_dump(EVALUATION))
    return files


def _walk(files: dict[str, Path], approvals: list[str]) -> list[tuple[str, Args]]:
    """Each command with its arguments, in an order where what one needs the ones before made."""
    p = ["-p", "alpha"]
    since = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    return [
        ("project create", _fixed("project", "create", "gamma")),
        ("project list", _fixed("project", "list")),
        ("project show", _fixed("project", "show", "alpha")),
        ("project set", _fixed("project", "set", "alpha", "--retention-days", "30")),
        ("principal create", _fixed("principal", "create", "carol")),
        ("principal list", _fixed("principal", "list")),
        ("role grant", _fixed("role", "grant", "alpha", "carol", "viewer")),
        ("role list", _fixed("role", "list", "alpha")),
        ("role revoke", _fixed("role", "revoke", "alpha", "carol", "viewer")),
        ("token create", _fixed("token", "create", "carol", "--name", "ci")),
        ("token list", _fixed("token", "list", "--principal", "carol")),
        ("token revoke", lambda s: ["token", "revoke", s["token create"]["id"]]),
        ("audit verify", _fixed("audit", "verify")),
        ("audit export", _fixed("audit", "export")),
        ("audit public-key", _fixed("audit", "public-key")),
        ("lineage ingest", _fixed("lineage", "ingest", str(files["events"]), *p)),
        ("lineage show", _fixed("lineage", "show", "model:income@1", *p)),
        ("lineage history", _fixed("lineage", "history", "income", *p)),
        ("lineage export", _fixed("lineage", "export", *p)),
        ("monitor apply", _fixed("monitor", "apply", "-f", str(files["monitors"]), *p)),
        ("monitor list", _fixed("monitor", "list", *p)),
        ("monitor run", _fixed("monitor", "run", "hourly", *p)),
        ("monitor runs", _fixed("monitor", "runs", "hourly", *p)),
        ("monitor results", _fixed("monitor", "results", "hourly", *p)),
        ("monitor export", _fixed("monitor", "export", *p)),
        ("monitor set", _fixed("monitor", "set", "hourly", "--breaches", "1", "--of", "2", *p)),
        ("monitor backfill",
         _fixed("monitor", "backfill", "hourly", "--since", since, "--no-wait", *p)),
        ("pipeline apply", _fixed("pipeline", "apply", str(files["pipeline"]), *p)),
        ("pipeline list", _fixed("pipeline", "list", *p)),
        ("pipeline run", _fixed("pipeline", "run", "retrain", *p)),
        ("pipeline runs", _fixed("pipeline", "runs", *p)),
        ("pipeline show", lambda s: ["pipeline", "show", s["pipeline run"]["id"], *p]),
        ("pipeline logs",
         lambda s: ["pipeline", "logs", s["pipeline run"]["id"], "--step", "prepare", *p]),
        ("pipeline cancel", lambda s: ["pipeline", "cancel", s["pipeline run"]["id"], *p]),
        ("trigger apply", _fixed("trigger", "apply", "-f", str(files["trigger"]), *p)),
        ("trigger list", _fixed("trigger", "list", *p)),
        ("trigger show", _fixed("trigger", "show", "by-hand", *p)),
        ("trigger fire", _fixed("trigger", "fire", "by-hand", *p)),
        ("trigger delete", _fixed("trigger", "delete", "by-hand", *p)),
        ("rollout start",
         _fixed("rollout", "start", "income", "-m", "income", "-v", "2", "-s", "canary",
                "--percent", "10", *p)),
        ("rollout list", _fixed("rollout", "list", "income", *p)),
        ("rollout promote",
         lambda s: ["rollout", "promote", "income", s["rollout start"][0]["id"], *p]),
        ("rollout rollback", _fixed("rollout", "rollback", "income", "--reason", "walk", *p)),
        ("approval list", _fixed("approval", "list", *p)),
        ("approval show", _fixed("approval", "show", approvals[0], *p)),
        ("approval policy", _fixed("approval", "policy", *p)),
        ("approval approve", _fixed("approval", "approve", approvals[0], *p)),
        ("approval reject", _fixed("approval", "reject", approvals[1], *p)),
        ("catalog publish", _fixed("catalog", "publish", "income", "--licence", "MIT", *p)),
        ("catalog search", _fixed("catalog", "search", "income")),
        ("catalog show", lambda s: ["catalog", "show", s["catalog publish"]["id"]]),
        ("catalog use",
         lambda s: ["catalog", "use", s["catalog publish"]["id"], "--model", "income-copy", *p]),
        ("prompt push", _fixed("prompt", "push", str(files["prompt"]), *p)),
        ("prompt list", _fixed("prompt", "list", *p)),
        ("prompt alias", _fixed("prompt", "alias", "qa", "1", "production", *p)),
        ("prompt show", _fixed("prompt", "show", "qa@production", *p)),
        ("prompt deploy", _fixed("prompt", "deploy", "qa@production", "-e", "income", *p)),
        ("eval run", _fixed("eval", "run", str(files["evaluation"]), "--no-wait", *p)),
        ("eval show", lambda s: ["eval", "show", s["eval run"]["id"], *p]),
        ("report model", _fixed("report", "model", "income", "1", *p)),
        ("report project", _fixed("report", "project", "--store", *p)),
        ("report list", _fixed("report", "list", *p)),
        ("report get", lambda s: ["report", "get", s["report list"][0]["id"], *p]),
    ]  # fmt: skip


def _prepare(client: TestClient, world: World, services: Services) -> list[str]:
    """Model 'income' v1 serving endpoint 'income', v2 registered; two approvals pending."""
    adult = load_adult().slice(0, 600)
    _publish(client, world, _pipeline(adult))
    register(client, world, _pipeline(adult.slice(0, 400)))
    register_dataset(services, "alpha", "train-data", table())
    questions = pa.table({"question": ["What is 2 + 2?"], "ground_truth": ["4"]})
    register_dataset(services, "alpha", "questions", questions)
    connection = ConnectionSet(base_url="http://127.0.0.1:9/v1", model="gen-model")
    evaluators.put_connection(services.db, settings=services.settings, project="alpha",
                              name="gen", data=connection, actor=LOOP)  # fmt: skip
    return [
        str(request_approval(
            services.db, project="alpha", endpoint="income",
            challenger=ModelRef(model="income", version=2), rollout=RolloutPlan(),
            requested_by="user:owner-user", actor=LOOP,
        ).id)
        for _ in range(2)
    ]  # fmt: skip


def test_every_command_but_the_admin_ones_works_remotely_and_prints_json(
    client: TestClient, world: World, services: Services, server: str, elsewhere: Path
) -> None:
    walk = _walk(_files(elsewhere), _prepare(client, world, services))
    walked = [name for name, _ in walk]
    assert set(walked) == leaf_commands() - ADMIN_COMMANDS, "walk every non-admin command"
    assert len(walked) == len(set(walked))
    remote = Remote(server, world.admin_token)
    outputs: dict[str, Any] = {}
    for name, args in walk:
        outputs[name] = remote.json(*args(outputs))
    assert not (elsewhere / ".steward").exists()  # no home was made where the commands ran
    # What the server did is what the commands say, as the token's principal.
    assert outputs["project show"]["name"] == "alpha"
    assert outputs["project set"]["retention_days"] == 30
    assert outputs["token create"]["token"].startswith("stw_")
    assert [t["revoked_at"] for t in outputs["token list"]] == [None]
    assert outputs["token revoke"]["revoked_at"] is not None
    assert outputs["audit verify"]["ok"] is True
    assert outputs["lineage ingest"]["applied"] == 1
    assert [m["spec"]["name"] for m in outputs["monitor list"]] == ["hourly"]
    assert outputs["monitor set"]["spec"]["alert"]["breaches"] == 1
    assert outputs["pipeline run"]["launched_by"] == "user:admin"
    assert outputs["pipeline cancel"]["state"] == "cancelled"
    assert (outputs["rollout start"][0]["state"], outputs["rollout promote"][0]["state"]) == (
        "active", "promoted",
    )  # fmt: skip
    assert outputs["approval approve"]["decided_by"] == "user:admin"
    assert outputs["eval show"]["id"] == outputs["eval run"]["id"]
    assert outputs["eval run"]["variants"][1]["prompt_version"] == 1  # the alias, pinned
    assert outputs["report get"] == outputs["report project"]  # the stored one, downloaded
    assert {"meta", "sections", "signature"} <= set(outputs["report model"])
