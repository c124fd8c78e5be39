"""``steward catalog``: remotely as a token's principal (sees what it may see) and locally."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from tests.builders import World
from tests.catalog.conftest import Org, register
from tests.cli.remote import NO_HOME, Remote
from tests.cli.runner import run_steward


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that holds no Steward home."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_remote_commands_act_as_the_token(
    org: Org, world: World, server: str, elsewhere: Path, client: TestClient
) -> None:
    viewer = Remote(server, world.tokens["viewer"])
    found = viewer.json("catalog", "search", "churn")
    assert [h["entry"]["name"] for h in found["items"]] == ["alpha/churn"]
    assert (
        viewer.json("catalog", "search", "--source", "external")["items"][0]["entry"]["name"]
        == "gpt-4o-mini"
    )
    shown = viewer.json("catalog", "show", org.entries["alpha"])
    assert shown["licence"] == "Apache-2.0"
    hidden = viewer("catalog", "show", org.entries["beta-secret"])
    assert hidden.returncode != 0 and "not found" in hidden.stderr + hidden.stdout
    refused = viewer("catalog", "use", org.entries["external"], "-p", "alpha")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    engineer = Remote(server, world.tokens["ml-engineer"])
    register(client, world.headers("owner"), "alpha", "uplift", 21)
    entry = engineer.json("catalog", "publish", "uplift", "--licence", "MIT", "--tag", "x",
                          "--visibility", "organisation", "-p", "alpha")  # fmt: skip
    assert entry["visibility"] == "organisation" and entry["tags"] == ["x"]
    link = engineer.json("catalog", "use", org.entries["external"], "-p", "alpha")
    assert (link["model"], link["version"]) == ("gpt-4o-mini", 1)
    table = engineer("catalog", "search", "uplift")
    assert table.returncode == 0 and "alpha/uplift" in table.stdout


def test_local_commands_see_everything(org: Org, settings: Settings) -> None:
    env = {**NO_HOME, "STEWARD_HOME": str(settings.home),
           "STEWARD_DATABASE_URL": settings.database_url}  # fmt: skip
    result = run_steward("-o", "json", "catalog", "search", env=env)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["items"]) == len(org.entries)
    result = run_steward("catalog", "show", org.entries["beta-secret"], env=env)
    assert result.returncode == 0 and "beta/secret" in result.stdout
