"""Monitor YAML is bounded: no anchors or aliases, a cap on nodes and on nesting depth."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from monitors.specs import document
from tests.builders import World
from tests.monitors.specs.test_specs_cli import steward

APPLY = "/api/v1/projects/alpha/monitors/apply"
YAML_TYPE = {"Content-Type": "application/yaml"}
# The classic "billion laughs": nine levels of nine aliases, 9**9 strings once expanded.
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)
GOOD = """
monitors:
  - name: weekly
    target: {name: income}
    schedule: {interval: P7D}
---
name: daily
target: {name: income}
schedule: {interval: P1D}
"""


def _apply(client: TestClient, world: World, text: str) -> tuple[int, dict[str, object]]:
    headers = world.headers("data-scientist") | YAML_TYPE
    r = client.post(APPLY, content=text, headers=headers)
    return r.status_code, r.json()


def _names(client: TestClient, world: World) -> list[str]:
    r = client.get("/api/v1/projects/alpha/monitors", headers=world.headers("viewer"))
    return [m["spec"]["name"] for m in r.json()]


def test_alias_bomb_is_refused_quickly_without_expanding(client: TestClient, world: World) -> None:
    status, body = _apply(client, world, BOMB)
    assert status == 422 and body["code"] == "invalid_input", body
    # Refused at the first anchor (line 1, column 4), before any alias could be expanded; a
    # proof by position rather than by a stopwatch, which a loaded machine would make flaky.
    assert "anchors and aliases are not accepted at line 1, column 4" in str(body["detail"])
    assert _names(client, world) == []


@pytest.mark.parametrize(
    "text",
    [
        "name: weekly\ntarget: &t {name: income}\n",  # an anchor alone is refused too
        "- &m {name: weekly, target: {name: income}}\n- *m\n",
        "monitors:\n  - &m {name: weekly, target: {name: income}}\n  - <<: *m\n    name: other\n",
    ],
)
def test_any_anchor_or_alias_is_refused(client: TestClient, world: World, text: str) -> None:
    status, body = _apply(client, world, text)
    assert status == 422 and "anchors and aliases" in str(body["detail"]), body
    assert _names(client, world) == []


def test_deep_nesting_is_refused(client: TestClient, world: World) -> None:
    deep = "name: weekly\ntarget: {name: income}\ndescription: " + "[" * 5000 + "]" * 5000
    status, body = _apply(client, world, deep)
    assert status == 422 and body["code"] == "invalid_input", body
    assert f"deeper than {document.MAX_DEPTH} levels" in str(body["detail"])
    assert _names(client, world) == []


def test_too_many_nodes_are_refused(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lower cap keeps the test small; the default works the same way.
    monkeypatch.setattr(document, "MAX_NODES", 50)
    many = "monitors:\n" + "".join(
        f"  - {{name: m{i}, target: {{name: income}}}}\n" for i in range(20)
    )
    status, body = _apply(client, world, many)
    assert status == 422 and "more than 50 nodes" in str(body["detail"]), body
    assert _names(client, world) == []
    status, _ = _apply(client, world, GOOD)
    assert status == 200


def test_normal_documents_still_apply(client: TestClient, world: World) -> None:
    status, body = _apply(client, world, GOOD)
    assert status == 200, body
    assert _names(client, world) == ["daily", "weekly"]


def test_cli_apply_refuses_an_alias_bomb(settings: Settings, world: World, tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    done = steward(settings, "monitor", "apply", "-f", str(path), "-p", "alpha")
    assert done.returncode != 0
    assert "invalid_input" in done.stderr and "aliases" in done.stderr, done.stderr
