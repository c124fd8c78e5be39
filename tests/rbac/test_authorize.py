"""``authorize``, the one decision, as tables: by role, project visible or not, system principal."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from governance.access.authorization import authorize
from governance.access.enforcer import PolicyEngine
from governance.access.schemas import ROLES, SYSTEM_PROJECT
from governance.audit.schemas import AuditEntry, AuditFilter
from governance.audit.service import list_audit
from governance.core.errors import NotFound, PermissionDenied, StewardError
from governance.core.principal import SYSTEM, Principal, PrincipalKind
from steward.api.deps import Services
from tests.builders import OPERATOR, World
from tests.permission_tables.roles import ALLOWED

# A spread of permissions: every role is allowed some of these in 'alpha' and refused others.
PERMISSIONS = [
    ("project", "read"),
    ("member", "write"),
    ("lineage", "write"),
    ("monitor", "run"),
    ("endpoint", "score"),
    ("audit", "read"),
]
# 'beta' exists but no role-holder of 'alpha' has a role there; 'nowhere' does not exist.
INVISIBLE = ("beta", "nowhere")
USER = Principal(id=None, name="nobody", kind=PrincipalKind.user)


def _outcome(
    caller: Principal, project: str, obj: str, act: str, services: Services, *,
    policy: PolicyEngine | None,
) -> type[StewardError] | None:  # fmt: skip
    try:
        authorize(caller, project, obj, act, db=services.db, policy=policy)
    except (NotFound, PermissionDenied) as exc:
        return type(exc)
    return None


def _denials(services: Services, caller: Principal) -> list[AuditEntry]:
    flt = AuditFilter(actor=caller.ref)
    return [
        e
        for e in list_audit(services.db, flt=flt, cursor=None, limit=500).items
        if e.decision == "deny"
    ]


def test_roles_in_a_visible_project_follow_the_policy(services: Services, world: World) -> None:
    for role in ROLES:
        caller = world.principals[role]
        for obj, act in PERMISSIONS:
            got = _outcome(caller, "alpha", obj, act, services, policy=services.policy)
            want = None if role in ALLOWED[(obj, act)] else PermissionDenied
            assert got is want, f"{role} {obj}.{act} in alpha: {got} (want {want})"


def test_an_invisible_project_is_not_found_whatever_the_permission(
    services: Services, world: World
) -> None:
    for role in ROLES:
        for project in INVISIBLE:
            for obj, act in PERMISSIONS:
                got = _outcome(
                    world.principals[role], project, obj, act, services, policy=services.policy
                )
                assert got is NotFound, f"{role} {obj}.{act} in {project}: {got}"


def test_not_found_says_the_same_for_an_unknown_and_a_hidden_project(
    services: Services, world: World
) -> None:
    caller = world.principals["owner"]
    details = []
    for project in INVISIBLE:
        with pytest.raises(NotFound) as caught:
            authorize(caller, project, "dataset", "read", db=services.db, policy=services.policy)
        details.append(caught.value.detail.replace(project, "P"))
    assert details[0] == details[1] == "project 'P' not found"


def test_every_denial_is_audited_and_allowed_calls_are_not(
    services: Services, world: World
) -> None:
    caller = world.principals["viewer"]
    cases = [
        ("alpha", "dataset", "read", None),
        ("alpha", "member", "write", PermissionDenied),
        ("beta", "dataset", "read", NotFound),
        ("nowhere", "dataset", "read", NotFound),
        (SYSTEM_PROJECT, "audit", "read", PermissionDenied),
    ]
    for project, obj, act, want in cases:
        before = len(_denials(services, caller))
        assert _outcome(caller, project, obj, act, services, policy=services.policy) is want
        entries = _denials(services, caller)
        assert len(entries) == before + (want is not None), (project, obj, act)
        if want is None:
            continue
        entry = entries[-1]
        assert (entry.action, entry.target, entry.details) == (
            f"{obj}.{act}",
            f"project:{project}",
            {"reason": "denied by policy"},
        )
        # Denials in the platform project are global entries, like the rest of its log.
        assert entry.project == (None if project == SYSTEM_PROJECT else project)


def test_the_platform_project_is_never_hidden(services: Services, world: World) -> None:
    # 'viewer-user' holds no role in '_system': refused (403), not told it does not exist (404).
    for role in ROLES:
        got = _outcome(
            world.principals[role], SYSTEM_PROJECT, "principal", "write", services,
            policy=services.policy,
        )  # fmt: skip
        assert got is PermissionDenied, role
    admin = Principal(id=None, name="admin", kind=PrincipalKind.user)
    assert (
        _outcome(admin, SYSTEM_PROJECT, "principal", "write", services, policy=services.policy)
        is None
    )


@pytest.mark.parametrize("caller", [SYSTEM, OPERATOR], ids=["daemon", "cli"])
@pytest.mark.parametrize("with_policy", [True, False], ids=["policy", "no-policy"])
def test_system_principals_are_allowed_everywhere_without_an_audit_entry(
    services: Services, world: World, caller: Principal, with_policy: bool
) -> None:
    policy = services.policy if with_policy else None
    for project in ("alpha", *INVISIBLE, SYSTEM_PROJECT):
        for obj, act in [*PERMISSIONS, ("principal", "write")]:
            assert _outcome(caller, project, obj, act, services, policy=policy) is None
    assert _denials(services, caller) == []


def test_without_a_policy_every_other_caller_is_refused(services: Services, world: World) -> None:
    owner = world.principals["owner"]
    assert _outcome(owner, "alpha", "dataset", "read", services, policy=None) is NotFound
    assert _outcome(USER, SYSTEM_PROJECT, "audit", "read", services, policy=None) is (
        PermissionDenied
    )
    assert len(_denials(services, owner)) == 1 and len(_denials(services, USER)) == 1


def _run_event(namespace: str) -> dict[str, object]:
    return {
        "eventType": "START",
        "eventTime": "2026-03-01T10:00:00Z",
        "producer": "https://example.com/steward-tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.UUID(int=7))},
        "job": {"namespace": namespace, "name": "etl"},
        "inputs": [],
        "outputs": [],
    }


def test_openlineage_ingest_for_an_invisible_project_answers_as_for_no_project(
    client: TestClient, world: World
) -> None:
    """An invisible project and one that does not exist get the same 404 (the route's code),
    which says how to map the namespace: the answer tells nothing about what exists."""
    headers = world.headers("ml-engineer")  # may write lineage in 'alpha', sees nothing else
    answers = {}
    for project in INVISIBLE:
        ingest = client.post("/api/v1/lineage", json=_run_event(project), headers=headers)
        route = client.get(f"/api/v1/projects/{project}/lineage/nodes", headers=headers)
        assert ingest.status_code == route.status_code == 404, (ingest.text, route.text)
        body = ingest.json()
        assert body["code"] == route.json()["code"]
        assert "STEWARD_LINEAGE_NAMESPACE_MAP" in body["detail"]
        answers[project] = body["detail"].replace(project, "<name>")
    assert len(set(answers.values())) == 1, answers
