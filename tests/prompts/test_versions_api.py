"""Prompt versions over REST: immutable, numbered, content-addressed; aliases; audit; access."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lineage import prompts
from steward.api.deps import Services
from tests.builders import World
from tests.prompts.support import audit, chat, push, url


def test_versions_are_numbered_and_identical_content_is_the_same_version(
    world: World, client: TestClient, services: Services
) -> None:
    first = client.post(url(), json=chat(), headers=world.headers("data-scientist"))
    assert first.status_code == 201, first.text
    v1 = first.json()
    assert (v1["version"], v1["kind"], v1["variables"]) == (1, "prompt", ["product", "question"])
    assert v1["created_by"] == "user:data-scientist-user" and len(v1["content_hash"]) == 64
    again = client.post(url(), json=chat(), headers=world.headers("owner"))
    assert again.status_code == 200 and again.json() == v1  # nothing new, not even the author
    v2 = push(client, world, chat(system="You are terse about {{ product }}."))
    v3 = push(client, world, chat(model_parameters={"temperature": 0.9}))
    assert [v2["version"], v3["version"]] == [2, 3]
    assert len({v1["content_hash"], v2["content_hash"], v3["content_hash"]}) == 3
    listed = client.get(url(rest="/qa"), headers=world.headers("viewer")).json()
    assert [v["version"] for v in listed] == [1, 2, 3]
    assert listed[0] == v1  # an old version is unchanged by newer ones
    assert [e["target"] for e in audit(services, "prompt.version.create")] == [
        "prompt:qa@1", "prompt:qa@2", "prompt:qa@3"]  # fmt: skip
    details = audit(services, "prompt.version.create")[0]["details"]
    assert details["content_hash"] == v1["content_hash"]
    assert "messages" not in details and "You answer" not in str(details)  # the hash, not the text


def test_refs_resolve_latest_number_and_alias(
    world: World, client: TestClient, services: Services
) -> None:
    push(client, world, chat())
    push(client, world, chat(system="v2 {{ product }}"))
    resp = client.put(url(rest="/qa/aliases/production"), json={"version": 1},
                      headers=world.headers("ml-engineer"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    db = services.db
    assert prompts.get_prompt_version(db, project="alpha", ref="qa").version == 2
    assert prompts.get_prompt_version(db, project="alpha", ref="qa@1").aliases == ["production"]
    assert prompts.get_prompt_version(db, project="alpha", ref="qa@production").version == 1
    got = client.get(url(rest="/qa/aliases/production"), headers=world.headers("viewer"))
    assert got.json()["version"] == 1
    summary = client.get(url(), headers=world.headers("viewer")).json()
    assert [(p["name"], p["versions"], p["aliases"]) for p in summary] == [
        ("qa", 2, {"production": 1})]  # fmt: skip
    assert [v.version for v in prompts.list_prompt_versions(db, project="alpha", name="qa")] == [
        1,
        2,
    ]


def test_alias_moves_and_deletes_are_audited_with_old_and_new(
    world: World, client: TestClient, services: Services
) -> None:
    push(client, world, chat())
    v2 = push(client, world, chat(system="v2 {{ product }}"))
    alias = url(rest="/qa/aliases/candidate")
    assert client.put(alias, json={"version": 1}, headers=world.headers("owner")).json()[
        "previous"] is None  # fmt: skip
    moved = client.put(alias, json={"version": 2}, headers=world.headers("owner")).json()
    assert (moved["version"], moved["previous"]) == (2, 1)
    assert client.delete(alias, headers=world.headers("owner")).status_code == 204
    assert client.delete(alias, headers=world.headers("owner")).status_code == 404
    assert client.get(alias, headers=world.headers("owner")).status_code == 404
    sets = audit(services, "prompt.alias.set")
    assert [(e["details"]["previous"], e["details"]["version"]) for e in sets] == [
        (None, 1),
        (1, 2),
    ]
    assert sets[-1]["details"]["content_hash"] == v2["content_hash"]
    deleted = audit(services, "prompt.alias.delete")
    assert [(e["target"], e["details"]) for e in deleted] == [
        ("prompt:qa#candidate", {"previous": 2})
    ]
    missing = client.put(alias, json={"version": 9}, headers=world.headers("owner"))
    assert missing.status_code == 404


def test_bad_bodies_are_refused_with_stable_codes(world: World, client: TestClient) -> None:
    h = world.headers("owner")
    cases = [
        chat(name="bad@name"),
        chat(messages=[]),
        chat(messages=[{"role": "tool", "content": "x"}]),
        chat(flow={"nodes": []}),
        {**chat(), "unexpected": 1},
    ]
    for body in cases:
        resp = client.post(url(), json=body, headers=h)
        assert resp.status_code == 422, body
    broken = client.post(url(), json=chat(system="{{ unclosed"), headers=h)
    assert (broken.status_code, broken.json()["code"]) == (422, "prompt_template_invalid")
    huge = client.post(url(), json=chat(system="x" * 70_000), headers=h)
    assert huge.status_code in (413, 422)
    push(client, world, chat())
    wrong_kind = client.post(url(), json={"name": "qa", "kind": "flow", "flow": _flow()}, headers=h)
    assert (wrong_kind.status_code, wrong_kind.json()["code"]) == (422, "prompt_kind_mismatch")


def _flow() -> dict[str, object]:
    from tests.prompts.support import flow

    return flow()


def test_other_projects_prompts_are_not_found(world: World, client: TestClient) -> None:
    push(client, world, chat())
    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    resp = client.get(url("beta", "/qa"), headers=outsider)
    assert resp.status_code == 404
    assert client.get(url("alpha", "/qa"), headers=outsider).status_code in (403, 404)
    render = client.post(url("beta", "/qa/render"), json={"variables": {}}, headers=outsider)
    assert render.status_code == 404


def test_viewers_and_app_developers_read_but_cannot_write(world: World, client: TestClient) -> None:
    push(client, world, chat())
    for role in ("viewer", "app-developer", "auditor"):
        h = world.headers(role)
        assert client.post(url(), json=chat(system="{{ product }}!"), headers=h).status_code == 403
        assert client.put(url(rest="/qa/aliases/production"), json={"version": 1},
                          headers=h).status_code == 403  # fmt: skip
        assert client.get(url(rest="/qa/versions/1"), headers=h).status_code == 200
    render = client.post(url(rest="/qa/render"),
                         json={"variables": {"product": "Steward", "question": "Why?"}},
                         headers=world.headers("app-developer"))  # fmt: skip
    assert render.status_code == 200, render.text


def test_oversized_flows_and_variables_are_refused(world: World, client: TestClient) -> None:
    from tests.prompts.support import flow

    big = flow(description="d" * 3000)
    big["inputs"] = {f"i{n}": {"description": "x" * 999} for n in range(64)}
    resp = client.post(url(), json={"name": "rag", "kind": "flow", "flow": big},
                       headers=world.headers("owner"))  # fmt: skip
    assert resp.status_code == 413, resp.text
    push(client, world, chat())
    variables = {"product": "p" * 140_000, "question": "q"}
    resp = client.post(url(rest="/qa/render"), json={"variables": variables},
                       headers=world.headers("owner"))  # fmt: skip
    assert resp.status_code == 413, resp.text


def test_a_new_version_may_change_the_description(world: World, client: TestClient) -> None:
    push(client, world, chat())
    v2 = push(client, world, chat(system="{{ product }}", description="terse answers"))
    assert v2["description"] == "terse answers"
    listed = client.get(url(), headers=world.headers("viewer")).json()
    assert listed[0]["description"] == "terse answers"
