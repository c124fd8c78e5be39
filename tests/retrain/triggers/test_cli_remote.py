"""``steward trigger`` against a running server (STEWARD_URL, STEWARD_TOKEN), as its token."""

from __future__ import annotations

import json
from pathlib import Path

from governance.core.settings import Settings
from monitors.specs.schemas import Monitor
from retrain.pipelines.schemas import Pipeline, PipelineRun
from retrain.triggers.service import get_trigger
from steward.api.deps import Services
from tests.builders import World
from tests.retrain.pipelines.test_cli_remote import _ok, steward
from tests.retrain.triggers.test_api import YAML

MANUAL = "name: by-hand\npipeline: retrain\non: {kind: manual}\n"


def test_the_cli_applies_lists_shows_fires_and_deletes_on_a_server(
    settings: Settings, services: Services, world: World, pipeline: Pipeline, monitor: Monitor,
    server: str, tmp_path: Path,
) -> None:  # fmt: skip
    def cli(*args: str, role: str = "ml-engineer") -> str:
        token = world.tokens[role]
        return _ok(steward(settings, "trigger", *args, "-p", "alpha", url=server, token=token))

    file = tmp_path / "triggers.yaml"
    file.write_text(YAML + "---\n" + MANUAL)
    applied = cli("apply", "-f", str(file))
    assert "created   alpha/on-drift (rev 1)" in applied and "alpha/by-hand (rev 1)" in applied
    again = json.loads(cli("apply", "-f", str(file), "-o", "json"))
    assert [(a["trigger"]["spec"]["name"], a["action"]) for a in again] == [
        ("on-drift", "unchanged"), ("by-hand", "unchanged"),
    ]  # fmt: skip
    stored = get_trigger(services.db, project="alpha", name="on-drift")
    assert stored.owner == "user:ml-engineer-user"  # the token's principal owns it
    listed = cli("list", role="viewer")
    assert "alert drift/data_drift 2 of 3" in listed and "manual" in listed
    local = _ok(steward(settings, "trigger", "list", "-p", "alpha", "-o", "json"))
    assert cli("list", "-o", "json", role="viewer") == local  # the same JSON both ways

    fired = cli("fire", "by-hand", "--request-id", "r-1")
    assert fired.startswith("launched run ") and "of retrain@1: queued" in fired
    run_id = fired.split()[2]
    assert f"already launched run {run_id}" in cli("fire", "by-hand", "--request-id", "r-1")
    as_json = PipelineRun.model_validate_json(cli("fire", "by-hand", "-o", "json"))
    assert str(as_json.id) != run_id and as_json.trigger_owner == "user:ml-engineer-user"
    shown = json.loads(cli("show", "by-hand", "-o", "json", role="viewer"))
    assert shown["trigger"]["revision"] == 1
    assert {launch["run_id"] for launch in shown["launches"]} == {run_id, str(as_json.id)}
    assert run_id in cli("show", "by-hand", role="viewer")

    developer = {"url": server, "token": world.tokens["app-developer"]}
    denied = steward(settings, "trigger", "fire", "by-hand", "-p", "alpha", **developer)
    assert denied.returncode == 4 and denied.stdout == ""
    assert len(denied.stderr.strip().splitlines()) == 1 and "permission_denied" in denied.stderr
    owner = {"url": server, "token": world.tokens["owner"]}
    gone = steward(settings, "trigger", "delete", "by-hand", "-p", "alpha", **owner)
    assert "deleted alpha/by-hand" in _ok(gone)
    missing = steward(settings, "trigger", "show", "by-hand", "-p", "alpha", **owner)
    assert missing.returncode == 3 and "not_found" in missing.stderr
