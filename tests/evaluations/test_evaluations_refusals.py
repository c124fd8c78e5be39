"""What an evaluation launch refuses: malformed requests, other projects, missing rights."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from governance.core.settings import Settings
from tests.builders import World
from tests.conftest import make_settings
from tests.evaluations.scenario import P, request

pytestmark = pytest.mark.usefixtures("setup")


def _post(client: TestClient, world: World, body: Any, role: str = "ml-engineer") -> Any:
    return client.post(f"{P}/evaluations", headers=world.headers(role), json=body)


@pytest.mark.parametrize(
    "change",
    [
        {"variants": [{"name": "A", "prompt": "terse", "connection": "gen"}]},  # one variant
        {"evaluators": ["nonsense"]},
        {"evaluators": []},
        {"sample": 1},
        {"alpha": 0.9},
        {"surprise": True},
        {"variants": [{"name": "A", "prompt": "terse", "connection": "gen"}] * 2},
    ],
)
def test_malformed_requests_are_422(
    client: TestClient, setup: World, change: dict[str, Any]
) -> None:
    response = _post(client, setup, request("terse", "careful") | change)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"


def test_judged_evaluators_need_a_judge_connection(client: TestClient, setup: World) -> None:
    body = request("terse", "careful") | {"judge_connection": None}
    response = _post(client, setup, body)
    assert (response.status_code, response.json()["code"]) == (422, "judge_connection_required")


@pytest.mark.parametrize(
    ("change", "code"),
    [({"dataset": "nope"}, 404), ({"dataset": "qa@v9"}, 404),
     ({"variants": [{"name": "A", "prompt": "terse", "connection": "gen"},
                    {"name": "B", "prompt": "absent", "connection": "gen"}]}, 404),
     ({"variants": [{"name": "A", "prompt": "terse", "connection": "gen"},
                    {"name": "B", "prompt": "terse@7", "connection": "gen"}]}, 404),
     ({"variants": [{"name": "A", "prompt": "terse", "connection": "gen"},
                    {"name": "B", "prompt": "terse", "connection": "absent"}]}, 404),
     ({"judge_connection": "absent"}, 404)],
)  # fmt: skip
def test_unknown_datasets_and_prompts_are_404(
    client: TestClient, setup: World, change: dict[str, Any], code: int
) -> None:
    assert _post(client, setup, request("terse", "careful") | change).status_code == code


def test_other_projects_and_roles_without_the_right_are_refused(
    client: TestClient, setup: World
) -> None:
    assert _post(client, setup, request("terse", "careful"), role="viewer").status_code == 403
    other = client.post("/api/v1/projects/beta/evaluations", json=request("terse", "careful"),
                        headers=setup.headers("ml-engineer"))  # fmt: skip
    assert other.status_code == 404  # a project the caller has no role in is not visible
    missing = f"{P}/evaluations/{uuid.uuid4()}"
    assert client.get(missing, headers=setup.headers("viewer")).status_code == 404
    assert client.get(missing + "/rows", headers=setup.headers("viewer")).status_code == 404
    assert client.post(missing + "/cancel", headers=setup.headers("owner")).status_code == 404


def test_a_huge_body_is_413(client: TestClient, setup: World) -> None:
    body = request("terse", "careful") | {"dataset": "x" * 20_000_000}
    response = _post(client, setup, body)
    assert response.status_code == 413


class TestNoPipelineModules:
    """Steward's own evaluation step needs no STEWARD_PIPELINE_MODULES entry."""

    @pytest.fixture
    def settings(self, tmp_path: Any, db_url: str) -> Settings:
        return make_settings(tmp_path / "home", db_url, webhook_allowlist=["127.0.0.1"])

    def test_launch_is_accepted(self, client: TestClient, setup: World) -> None:
        response = _post(client, setup, request("terse", "careful"))
        assert (response.status_code, response.json()["state"]) == (202, "queued"), response.text
