"""``steward prompt``: push, list, show, alias, deploy; remotely with -o json, and locally."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from tests.builders import World
from tests.cli.remote import Remote
from tests.cli.runner import run_steward
from tests.prompts.support import chat


def _file(folder: Path, name: str = "qa.yaml", **change: object) -> str:
    path = folder / name
    path.write_text(yaml.safe_dump(chat(**change)))
    return str(path)


def test_prompt_commands_against_a_server(
    client: TestClient, world: World, server: str, tmp_path: Path
) -> None:
    client.post("/api/v1/projects/alpha/endpoints", json={"name": "assistant"},
                headers=world.headers("owner"))  # fmt: skip
    steward = Remote(server, world.tokens["ml-engineer"])
    p = ["-p", "alpha"]
    first = steward.json("prompt", "push", _file(tmp_path), *p)
    assert (first["name"], first["version"], first["created_by"]) == (
        "qa", 1, "user:ml-engineer-user")  # fmt: skip
    assert steward.json("prompt", "push", _file(tmp_path), *p)["id"] == first["id"]
    second = steward.json("prompt", "push", _file(tmp_path, "v2.yaml", system="{{ product }}?"), *p)
    assert second["version"] == 2
    moved = steward.json("prompt", "alias", "qa", "1", "production", *p)
    assert (moved["version"], moved["previous"]) == (1, None)
    assert steward.json("prompt", "show", "qa@production", *p)["id"] == first["id"]
    assert steward.json("prompt", "show", "qa", *p)["version"] == 2
    assert steward.json("prompt", "show", "qa@2", *p)["content_hash"] == second["content_hash"]
    listed = steward.json("prompt", "list", *p)
    assert [(x["name"], x["versions"], x["aliases"]) for x in listed] == [
        ("qa", 2, {"production": 1})]  # fmt: skip
    deployed = steward.json("prompt", "deploy", "qa@production", "-e", "assistant", *p)
    assert (deployed["endpoint"], deployed["version"]) == ("assistant", 1)
    human = steward("prompt", "push", _file(tmp_path), *p)
    assert human.returncode == 0 and "unchanged, already qa@1" in human.stdout
    viewer = Remote(server, world.tokens["viewer"])
    denied = viewer("prompt", "push", _file(tmp_path, "v3.yaml", system="{{ x }}"), *p)
    assert denied.returncode == 4
    missing = steward("prompt", "show", "qa@9", *p)
    assert missing.returncode == 3


def test_prompt_push_refuses_a_bad_file(world: World, server: str, tmp_path: Path) -> None:
    steward = Remote(server, world.tokens["owner"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: qa\nmessages: [{role: robot, content: hi}]\n")
    result = steward("prompt", "push", str(bad), "-p", "alpha")
    assert result.returncode == 2 and "bad.yaml" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    assert steward("prompt", "push", str(broken), "-p", "alpha").returncode == 2


def test_prompt_commands_on_the_local_home(
    world: World, settings: Settings, db_url: str, tmp_path: Path
) -> None:
    env: dict[str, str | None] = {"STEWARD_HOME": str(settings.home),
                                  "STEWARD_DATABASE_URL": db_url}  # fmt: skip

    def ok(*args: str) -> object:
        result = run_steward("-o", "json", *args, "-p", "alpha", env=env)
        assert result.returncode == 0, result.stderr + result.stdout
        return json.loads(result.stdout)

    pushed = ok("prompt", "push", _file(tmp_path))
    assert isinstance(pushed, dict) and pushed["created_by"].startswith("system:cli@")
    first = ok("prompt", "alias", "qa", "1", "candidate")
    again = ok("prompt", "alias", "qa", "1", "candidate")
    assert isinstance(first, dict) and isinstance(again, dict)
    assert (first["previous"], again["previous"]) == (None, 1)
    shown = ok("prompt", "show", "qa@candidate")
    assert isinstance(shown, dict) and shown["aliases"] == ["candidate"]
