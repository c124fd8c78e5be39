"""The console's files over HTTP (headers, policy, 404s) and the caller's permissions route."""

from __future__ import annotations

from fastapi.testclient import TestClient

from governance.access.schemas import ROLES, SYSTEM_PROJECT
from steward.api.deps import Services
from tests.builders import World

P = "/api/v1/projects/alpha"


def test_the_page_and_its_scripts_are_served_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and 'type="module" src="/console/app.js"' in page.text
    script = client.get("/console/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/console/console.css").headers["content-type"].startswith("text/css")
    assert client.get("/console/logo.svg").headers["content-type"] == "image/svg+xml"
    again = client.get("/console/app.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_unknown_paths_keep_the_api_json_404(client: TestClient) -> None:
    for path in ("/api/v1/no-such-route", "/api/v1/projects/alpha/nothing", "/console/x.js",
                 "/console/../steward.db", "/console/__init__.py"):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/json" and r.json()["code"] == "not_found"
    # no route, so no page, for anything else either: the console routes by fragment
    assert client.get("/alerts").status_code == 404


def test_permissions_agree_with_the_enforcer_for_every_role(
    client: TestClient, world: World, services: Services
) -> None:
    pairs = {(o, a) for o, a, _ in services.policy.policy_lines()}
    for role in [*ROLES, "admin"]:
        got = client.get(f"{P}/permissions", headers=world.headers(role)).json()
        name = "admin" if role == "admin" else world.principals[role].name
        for project, key in (("alpha", "allowed"), (SYSTEM_PROJECT, "system")):
            expected = {f"{o}.{a}" for o, a in pairs
                        if services.policy.enforce(name, project, o, a)}  # fmt: skip
            assert set(got[key]) == expected, (role, project)


def test_permissions_say_what_each_role_may_do(client: TestClient, world: World) -> None:
    owner = client.get(f"{P}/permissions", headers=world.headers("owner")).json()
    assert owner["roles"] == ["owner"] and "approval.decide" in owner["allowed"]
    viewer = client.get(f"{P}/permissions", headers=world.headers("viewer")).json()
    assert "alert.read" in viewer["allowed"] and "alert.write" not in viewer["allowed"]
    assert "approval.decide" not in viewer["allowed"] and viewer["system"] == []
    engineer = client.get(f"{P}/permissions", headers=world.headers("ml-engineer")).json()
    assert {"alert.write", "model.deploy"} <= set(engineer["allowed"])
    admin = client.get(f"{P}/permissions", headers=world.headers("admin")).json()
    assert "audit.verify" in admin["system"]
    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    hidden = client.get(f"{P}/permissions", headers=outsider)
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert client.get(f"{P}/permissions").status_code == 401
