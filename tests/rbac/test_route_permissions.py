"""Every route, every role, own project, other project, no credentials: one permission table."""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import tests.permission_tables as tables
from governance.access import service
from governance.access.schemas import ROLES, SYSTEM_PROJECT
from steward.api.deps import Services, permission_of
from steward.api.routes import iter_api_routes
from tests.builders import OPERATOR, World
from tests.permission_tables.roles import ALLOWED

Key = tuple[str, str]
UNGUARDED = {("GET", "/api/v1/health")}


def _table() -> dict[Key, tuple[str, str, str]]:
    merged: dict[Key, tuple[str, str, str]] = {}
    for info in pkgutil.iter_modules(tables.__path__):
        module = importlib.import_module(f"{tables.__name__}.{info.name}")
        for key, value in getattr(module, "ROUTES", {}).items():
            assert key not in merged, f"{key} is listed twice in the permission tables"
            merged[key] = value
    return merged


def _declared(route: APIRoute) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        perm = permission_of(dep.call)
        if perm is not None:
            found.add(perm)
        stack.extend(dep.dependencies)
    return found


def _routes(app: Any) -> list[tuple[str, APIRoute]]:
    return sorted(
        ((method, r) for r in iter_api_routes(app.routes) for method in r.methods - {"HEAD"}),
        key=lambda item: (item[1].path, item[0]),
    )


def _url(route: APIRoute, project: str) -> str:
    values: dict[str, str] = {}
    for param in route.dependant.path_params:
        annotation = str(param.field_info.annotation)
        if param.name == "project":
            values[param.name] = project
        elif "UUID" in annotation:
            values[param.name] = str(uuid.uuid4())
        elif "int" in annotation:
            values[param.name] = "1"
        else:
            values[param.name] = "no-such-thing"
    return route.path.format(**values)


def _call(client: TestClient, method: str, url: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, url, headers=headers, json=body)


def _project_hidden(response: Any, project: str) -> bool:
    return response.status_code == 404 and f"project '{project}'" in response.json()["detail"]


def test_every_route_is_in_the_permission_table(app: Any) -> None:
    table = _table()
    missing, wrong = [], []
    for method, route in _routes(app):
        key = (method, route.path)
        if key in UNGUARDED:
            assert not _declared(route), f"{key} must stay unauthenticated"
            continue
        if key not in table:
            missing.append(key)
            continue
        declared = _declared(route)
        if declared != {table[key]}:
            wrong.append((key, declared, table[key]))
    assert not missing, f"routes without an entry in tests/permission_tables: {missing}"
    assert not wrong, f"routes whose declared permission differs from the table: {wrong}"
    stale = set(table) - {(m, r.path) for m, r in _routes(app)}
    assert not stale, f"permission table lists routes that do not exist: {stale}"


def test_policy_files_grant_exactly_the_table(services: Services, world: World) -> None:
    policy_lines = set(services.policy.policy_lines())
    granted = {(o, a) for o, a, _ in policy_lines}
    assert granted <= set(ALLOWED), f"policy grants unlisted permissions {granted - set(ALLOWED)}"
    for (obj, act), roles in ALLOWED.items():
        for role in ROLES:
            expected = role in roles
            assert ((obj, act, role) in policy_lines) == expected, (obj, act, role)


def _grant_system_roles(services: Services) -> None:
    for role in ROLES:
        if role != "owner":
            service.grant_role(
                services.db,
                project=SYSTEM_PROJECT,
                principal=f"{role}-user",
                role=role,
                actor=OPERATOR,
            )
    service.grant_role(
        services.db, project=SYSTEM_PROJECT, principal="owner-user", role="owner", actor=OPERATOR
    )


def _expect_role(response: Any, allowed: bool, project: str, label: str) -> None:
    code = response.status_code
    assert code < 500, f"{label}: server error {response.text}"
    if allowed:
        assert code not in (401, 403) and not _project_hidden(response, project), (
            f"{label}: expected allowed, got {code} {response.text}"
        )
    else:
        assert code == 403, f"{label}: expected 403, got {code} {response.text}"
        assert response.json()["code"] == "permission_denied"


@pytest.mark.timeout(600)
def test_every_route_for_every_role(
    app: Any, client: TestClient, services: Services, world: World
) -> None:
    _grant_system_roles(services)
    table = _table()
    routes = _routes(app)
    assert {(m, r.path) for m, r in routes} == set(table) | UNGUARDED  # every route is called
    for method, route in routes:
        key = (method, route.path)
        if key in UNGUARDED:
            assert _call(client, method, _url(route, "alpha"), None).status_code == 200
            continue
        obj, act, scope = table[key]
        own = _url(route, "alpha")
        response = _call(client, method, own, None)
        assert response.status_code == 401, f"{key} without credentials: {response.status_code}"
        assert response.json()["code"] == "unauthenticated"
        for role in ROLES:
            allowed = scope == "self" or role in ALLOWED[(obj, act)]
            response = _call(client, method, own, world.tokens[role])
            _expect_role(response, allowed, "alpha", f"{key} as {role}")
        if scope == "project":
            # The outsider owns 'beta'; 'alpha' must look exactly like a missing project.
            response = _call(client, method, own, world.outsider_token)
            assert _project_hidden(response, "alpha"), f"{key} seen from another project"
            response = _call(client, method, _url(route, "beta"), world.tokens["owner"])
            assert _project_hidden(response, "beta"), f"{key} into another project"
        elif scope == "system":
            response = _call(client, method, own, world.outsider_token)
            assert response.status_code == 403, f"{key} as an outsider: {response.status_code}"


def test_denials_are_audited(client: TestClient, world: World, services: Services) -> None:
    from governance.audit.schemas import AuditFilter
    from governance.audit.service import list_audit

    r = client.post(
        "/api/v1/projects/alpha/roles",
        json={"principal": "viewer-user", "role": "owner"},
        headers=world.headers("viewer"),
    )
    assert r.status_code == 403
    r = client.get("/api/v1/projects/beta", headers=world.headers("viewer"))
    assert r.status_code == 404
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer stw_000000000000_nope"})
    assert r.status_code == 401
    page = list_audit(services.db, flt=AuditFilter(), cursor=None, limit=500)
    denials = [(e.action, e.project, e.actor) for e in page.items if e.decision == "deny"]
    assert ("member.write", "alpha", "user:viewer-user") in denials
    assert ("project.read", "beta", "user:viewer-user") in denials
    assert any(action == "auth.fail" for action, _, _ in denials)
