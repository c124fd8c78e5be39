"""Prompt versions in the graph: the model version they call, the endpoints they served."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from steward.api.deps import Services
from tests.builders import World
from tests.lineage.test_registry import model_create
from tests.prompts.support import audit, chat, push, url

P = "/api/v1/projects/alpha"


def _model_version(world: World, client: TestClient) -> dict[str, Any]:
    body = model_create(0).model_dump(mode="json")
    resp = client.post(f"{P}/models/llm/versions", json=body, headers=world.headers("owner"))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def _endpoint(world: World, client: TestClient, name: str = "assistant") -> None:
    resp = client.post(f"{P}/endpoints", json={"name": name}, headers=world.headers("owner"))
    assert resp.status_code == 201, resp.text


def _graph(client: TestClient, world: World, node: str, way: str) -> dict[str, Any]:
    resp = client.get(f"{P}/lineage/nodes/{node}/{way}", params={"history": "true"},
                      headers=world.headers("viewer"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_a_version_calling_a_registered_model_version_is_linked_to_it(
    world: World, client: TestClient
) -> None:
    model = _model_version(world, client)
    version = push(client, world, chat(model="llm", model_version_id=model["id"]))
    assert version["model_version_id"] == model["id"]
    down = _graph(client, world, version["id"], "downstream")
    kinds = {(n["kind"], n["name"]) for n in down["nodes"]}
    assert ("model_version", "llm") in kinds and ("prompt_version", "qa") in kinds
    assert [(e["src"], e["dst"], e["kind"]) for e in down["edges"]] == [
        (version["id"], model["id"], "calls")]  # fmt: skip
    up = _graph(client, world, model["id"], "upstream")
    assert version["id"] in {n["id"] for n in up["nodes"]}


def test_an_unknown_or_foreign_model_version_is_not_found(world: World, client: TestClient) -> None:
    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    body = model_create(1).model_dump(mode="json")
    foreign = client.post("/api/v1/projects/beta/models/m/versions", json=body, headers=outsider)
    assert foreign.status_code == 201, foreign.text
    for ref in (foreign.json()["id"], "00000000-0000-0000-0000-000000000001"):
        resp = client.post(url(), json=chat(model_version_id=ref), headers=world.headers("owner"))
        assert resp.status_code == 404, resp.text
    assert client.get(url(rest="/qa"), headers=world.headers("owner")).status_code == 404


def test_deployments_answer_which_prompt_served_an_endpoint_when(
    world: World, client: TestClient, services: Services
) -> None:
    _endpoint(world, client)
    v1 = push(client, world, chat())
    v2 = push(client, world, chat(system="v2 about {{ product }}"))
    client.put(
        url(rest="/qa/aliases/production"), json={"version": 2}, headers=world.headers("owner")
    )
    first = client.post(url(rest="/qa/versions/1/deploy"), json={"endpoint": "assistant"},
                        headers=world.headers("ml-engineer"))  # fmt: skip
    assert first.status_code == 201, first.text
    second = client.post(url(rest="/qa/aliases/production/deploy"),
                         json={"endpoint": "assistant", "note": "better answers"},
                         headers=world.headers("ml-engineer"))  # fmt: skip
    assert second.status_code == 201 and second.json()["version"] == 2
    history = client.get(f"{P}/endpoints/assistant/prompts", headers=world.headers("viewer")).json()
    assert [(d["version"], d["ended_at"] is None) for d in history] == [(1, False), (2, True)]
    assert history[0]["ended_at"] == history[1]["started_at"]
    start = history[1]["started_at"]
    now = client.get(f"{P}/endpoints/assistant/prompt", headers=world.headers("viewer")).json()
    assert now["deployment"]["version"] == 2
    before = _before(start)
    then = client.get(f"{P}/endpoints/assistant/prompt", params={"at": before},
                      headers=world.headers("viewer")).json()  # fmt: skip
    assert then["deployment"]["version"] == 1
    # The graph tells the same story: prompt versions upstream of the endpoint, with their times.
    up = _graph(client, world, _endpoint_id(client, world), "upstream")
    edges = {(e["src"], e["kind"]) for e in up["edges"]}
    assert edges == {(v1["id"], "prompt_deployed"), (v2["id"], "prompt_deployed")}
    live = client.get(f"{P}/lineage/nodes/{_endpoint_id(client, world)}/upstream",
                      headers=world.headers("viewer")).json()  # fmt: skip
    assert {n["id"] for n in live["nodes"]} >= {v2["id"]} and v1["id"] not in {
        n["id"] for n in live["nodes"]}  # fmt: skip
    node = client.get(f"{P}/lineage/nodes/{_endpoint_id(client, world)}",
                      headers=world.headers("viewer")).json()  # fmt: skip
    assert node["attrs"]["prompt"]["version"] == 2  # the endpoint names its current prompt
    deployed = audit(services, "prompt.deploy")
    assert [(e["target"], e["details"]["prompt"], e["details"]["alias"]) for e in deployed] == [
        ("endpoint:assistant", "qa@1", None),
        ("endpoint:assistant", "qa@2", "production"),
    ]
    assert deployed[1]["details"]["content_hash"] == v2["content_hash"]


def test_deploying_needs_write_and_a_known_endpoint(world: World, client: TestClient) -> None:
    push(client, world, chat())
    deploy = url(rest="/qa/versions/1/deploy")
    assert client.post(deploy, json={"endpoint": "nowhere"},
                       headers=world.headers("owner")).status_code == 404  # fmt: skip
    _endpoint(world, client)
    assert client.post(deploy, json={"endpoint": "assistant"},
                       headers=world.headers("viewer")).status_code == 403  # fmt: skip
    assert client.get(f"{P}/endpoints/assistant/prompt",
                      headers=world.headers("viewer")).json()["deployment"] is None  # fmt: skip


def _before(stamp: str) -> str:
    from datetime import datetime

    return (datetime.fromisoformat(stamp) - timedelta(microseconds=1)).isoformat()


def _endpoint_id(client: TestClient, world: World) -> str:
    resp = client.get(f"{P}/endpoints/assistant", headers=world.headers("viewer"))
    return str(resp.json()["id"])
